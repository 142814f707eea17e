//! A DPS results bundle, read back without a solve: the output directory of `memprior fwi`
//! (`config.toml`, `samples/`, `references.json`) becomes [`DpsResults`] again, so a report draws
//! the figures of a run made elsewhere (the paper-scale run of `data/paper/`, hours of sampling
//! and N_max Jacobians) in seconds.
//!
//! `references.json` holds what only the solver gives: the true model's misfit, each N's lookup
//! misfits and weights, the null summary and the linearised mixtures. Everything else (the
//! memorization ratios, visits, fields, calibration) is summarised again from the sample files,
//! by the same code as the run's own analysis ([`dps::summarise`]), so a bundle read back gives
//! the tables of the run that wrote it.

use std::fs;
use std::path::Path;

use analysis::memorization::MemorizationSummary;
use priors::KlBasis;
use samplers::Weighting;
use serde::{Deserialize, Serialize};

use super::FwiDatasets;
use super::dps::{self, DpsConfig, DpsError, DpsResults, Reference, References};
use super::posterior::LinearizedSummary;

/// File name of the references inside a bundle.
pub const REFERENCES: &str = "references.json";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NullRecord {
    count: usize,
    mean_r: f64,
    fractions: [f64; 3],
    unique_nn: usize,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearizedRecord {
    sigma: f64,
    weighting: String,
    weights: Vec<f64>,
    std_raw: Vec<f64>,
    mean_raw: Vec<f64>,
    tv_to_lookup: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceRecord {
    n: usize,
    misfits: Vec<f64>,
    lookup: Vec<f64>,
    null: NullRecord,
    linearized: Vec<LinearizedRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferencesFile {
    /// [`dps::SAMPLE_FORMAT`] of the code that wrote it.
    format: String,
    truth_misfit: f64,
    sigma_d: f64,
    references: Vec<ReferenceRecord>,
}

/// The bytes of `references.json` for `r` (JSON; floats round-trip exactly). It holds no
/// timing, so a run writes the same bytes every time.
pub fn references_json(r: &DpsResults) -> String {
    let file = ReferencesFile {
        format: dps::SAMPLE_FORMAT.into(),
        truth_misfit: r.truth_misfit,
        sigma_d: r.sigma_d,
        references: r
            .references
            .iter()
            .map(|rf| ReferenceRecord {
                n: rf.n,
                misfits: rf.misfits.clone(),
                lookup: rf.lookup.clone(),
                null: NullRecord {
                    count: rf.null.count,
                    mean_r: rf.null.mean_r,
                    fractions: rf.null.fractions,
                    unique_nn: rf.null.unique_nn,
                },
                linearized: rf
                    .linearized
                    .iter()
                    .map(|l| LinearizedRecord {
                        sigma: l.sigma,
                        weighting: l.weighting.name().into(),
                        weights: l.weights.clone(),
                        std_raw: l.std_raw.clone(),
                        mean_raw: l.mean_raw.clone(),
                        tv_to_lookup: l.tv_to_lookup,
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string(&file).expect("plain data serialises") + "\n"
}

fn state(msg: String) -> DpsError {
    DpsError::State(msg)
}

fn read(path: &Path) -> Result<String, DpsError> {
    fs::read_to_string(path).map_err(|source| DpsError::Io {
        context: format!("cannot read {}", path.display()),
        source,
    })
}

/// The sample format a bundle's samples were drawn with (`samples/run.toml`).
///
/// # Errors
/// No readable `samples/run.toml`.
pub fn sample_format(dir: &Path) -> Result<String, DpsError> {
    let path = dir.join("samples").join("run.toml");
    let text = read(&path)?;
    let v: toml::Value =
        toml::from_str(&text).map_err(|e| state(format!("{} is not TOML: {e}", path.display())))?;
    v.get("format")
        .and_then(|f| f.as_str())
        .map(String::from)
        .ok_or_else(|| state(format!("{} names no sample format", path.display())))
}

/// Read the bundle in `dir` back into [`DpsResults`]: its configuration, every sample file and
/// the stored references; the training sets are regenerated from their seeds.
///
/// # Errors
/// A bundle of another sample format (the message says what to rerun), a missing or corrupt
/// file, or references that do not match the configuration.
pub fn load(dir: &Path) -> Result<DpsResults, DpsError> {
    let format = sample_format(dir)?;
    if !dps::reads_format(&format) {
        return Err(state(format!(
            "{} holds samples of `{format}`, and this code draws `{}`: its numbers are not this code's. \
             Rerun the experiment into it (`cargo xtask paper` for data/paper/, after deleting its samples/), \
             or check out the commit its provenance.json names",
            dir.display(),
            dps::SAMPLE_FORMAT
        )));
    }
    let config_path = dir.join("config.toml");
    let config: DpsConfig = toml::from_str(&read(&config_path)?)
        .map_err(|e| state(format!("{}: {e}", config_path.display())))?;
    config.validate()?;
    let refs_path = dir.join(REFERENCES);
    let file: ReferencesFile = serde_json::from_str(&read(&refs_path)?)
        .map_err(|e| state(format!("{}: {e}", refs_path.display())))?;
    if !dps::reads_format(&file.format) {
        return Err(state(format!(
            "{} was written by `{}`, this code writes `{}`: merge the bundle again (`memprior fwi --merge-only`)",
            refs_path.display(),
            file.format,
            dps::SAMPLE_FORMAT
        )));
    }
    let ns: Vec<usize> = file.references.iter().map(|r| r.n).collect();
    if ns != config.prior.n_values {
        return Err(state(format!(
            "{} has references for N = {ns:?}, its config.toml trains N = {:?}: merge the bundle again",
            refs_path.display(),
            config.prior.n_values
        )));
    }
    let references = file
        .references
        .into_iter()
        .map(|r| {
            let linearized = r
                .linearized
                .into_iter()
                .map(|l| {
                    let weighting = Weighting::ALL
                        .into_iter()
                        .find(|w| w.name() == l.weighting)
                        .ok_or_else(|| {
                            state(format!(
                                "{}: unknown weighting `{}` (evidence or quadratic)",
                                refs_path.display(),
                                l.weighting
                            ))
                        })?;
                    Ok(LinearizedSummary {
                        sigma: l.sigma,
                        weighting,
                        weights: l.weights,
                        std_raw: l.std_raw,
                        mean_raw: l.mean_raw,
                        tv_to_lookup: l.tv_to_lookup,
                    })
                })
                .collect::<Result<Vec<_>, DpsError>>()?;
            Ok(Reference {
                n: r.n,
                misfits: r.misfits,
                lookup: r.lookup,
                null: MemorizationSummary {
                    count: r.null.count,
                    mean_r: r.null.mean_r,
                    fractions: r.null.fractions,
                    unique_nn: r.null.unique_nn,
                },
                linearized,
            })
        })
        .collect::<Result<Vec<_>, DpsError>>()?;
    let datasets = FwiDatasets::generate(&config.prior.datasets, &KlBasis::default())?;
    let records = dps::load(&config, dir)?;
    dps::summarise(
        &config,
        &datasets,
        file.sigma_d,
        References {
            truth_misfit: file.truth_misfit,
            references,
            // Not stored: the file holds results only, so the same run writes the same bytes.
            seconds: 0.0,
        },
        records,
    )
}

/// The memorization of a group whose samples are all drawn (see [`progress`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMemorization {
    /// Over the finished samples.
    pub summary: MemorizationSummary,
    /// The null at this N: held-out prior draws against the training set.
    pub null: MemorizationSummary,
    /// r of the three most memorized samples with distinct nearest training models.
    pub smallest_r: Vec<f64>,
    /// Trajectories that left the solver's domain (not in `summary`).
    pub diverged: usize,
}

/// One group's progress (see [`progress`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupProgress {
    /// The group's directory name (prior-variant-N).
    pub group: String,
    /// Sample files on disk.
    pub drawn: usize,
    /// Samples the run draws.
    pub total: usize,
    /// Its memorization, once every sample is drawn.
    pub memorization: Option<GroupMemorization>,
}

/// How far the sampling into `dir` has come, group by group, with the memorization ratios of
/// every group whose samples are all on disk: what a report shows while a long run is under way.
/// The configuration is the one `samples/run.toml` records; `None` when there is none.
///
/// # Errors
/// An unreadable `samples/run.toml` or sample file, or invalid settings in it.
pub fn progress(dir: &Path) -> Result<Option<Vec<GroupProgress>>, DpsError> {
    use analysis::memorization::{most_memorized_distinct, ratios};
    let Some(fp) = dps::read_fingerprint(dir)? else {
        return Ok(None);
    };
    let config = fp.config;
    config.validate()?;
    let datasets = FwiDatasets::generate(&config.prior.datasets, &KlBasis::default())?;
    let levels = config.recorded_levels().len();
    let d = datasets.kl.dim();
    let mut out: Vec<GroupProgress> = Vec::new();
    for (_, group_jobs) in dps::by_group(config.jobs(), dps::Job::group_key) {
        let group = group_jobs[0].group();
        let present: Vec<_> = group_jobs
            .iter()
            .filter(|j| j.path(dir).is_file())
            .collect();
        let memorization = if present.len() == group_jobs.len() {
            let mut samples = Vec::new();
            let mut diverged = 0;
            for job in &group_jobs {
                let rec = dps::read_record(job, dir, levels, d)?;
                match rec.diverged {
                    Some(_) => diverged += 1,
                    None => samples.push(rec.z),
                }
            }
            let n = group_jobs[0].n;
            let raw = datasets.training_set(n)?;
            let nb = ratios(&samples, raw)?;
            let smallest_r = most_memorized_distinct(&nb, 3)
                .into_iter()
                .map(|i| nb[i].r)
                .collect();
            Some(GroupMemorization {
                summary: MemorizationSummary::of(&nb),
                null: MemorizationSummary::of(&ratios(&datasets.null, raw)?),
                smallest_r,
                diverged,
            })
        } else {
            None
        };
        out.push(GroupProgress {
            group,
            drawn: present.len(),
            total: group_jobs.len(),
            memorization,
        });
    }
    Ok(Some(out))
}
