//! The prior experiment's results directory, written and read back: what [`super::prior::run`]
//! measured becomes files (`samples/<prior>-n<N>.npy` in raw KL coefficients,
//! `history_n<N>.npy` with the loss and gradient norm of every training step, `run.json` with
//! the validation losses, and `provenance.json` with the run's timings and cache use, apart so
//! that the other files are the same for every run of one configuration), and [`load`] turns
//! them into the same
//! [`PriorRun`] without training or sampling: the memorization ratios, the null and leave-one-out
//! are recomputed from the samples and the regenerated training sets by the run's own code.

use std::fs;
use std::path::Path;

use analysis::memorization::{MemorizationSummary, leave_one_out, ratios};
use learned::{StepRecord, ValidationRecord};
use memprior_core::ConfigError;
use memprior_core::npy::{self, Dtype};
use priors::KlBasis;
use serde::{Deserialize, Serialize};

use super::FwiDatasets;
use super::prior::{PerN, PriorConfig, PriorKind, PriorRun, PriorSamples, normalized_training};

/// Version of the layout below; [`load`] refuses others.
pub const FORMAT: &str = "memprior-prior results v1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PerNRecord {
    n: usize,
    /// Prior names in the run's order.
    priors: Vec<String>,
    validation: Vec<ValidationRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRecord {
    format: String,
    per_n: Vec<PerNRecord>,
}

/// How one run went rather than what it found (`provenance.json`): whether each network came
/// from the cache, the steps trained and the seconds spent. Kept apart from `run.json`, which
/// is the same for every run of one configuration.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvenanceRecord {
    n: usize,
    cached: bool,
    steps_trained: usize,
    train_seconds: f64,
    /// Sampling seconds of each prior, in the order of `run.json`.
    sampling_seconds: Vec<f64>,
}

/// Why a results directory could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PriorIoError {
    /// Invalid settings in its `config.toml`.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file that cannot be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file of another layout or content.
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PriorIoError + '_ {
    move |source| PriorIoError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn samples_path(dir: &Path, kind: PriorKind, n: usize) -> std::path::PathBuf {
    dir.join("samples")
        .join(format!("{}-n{n}.npy", kind.name()))
}

fn history_path(dir: &Path, n: usize) -> std::path::PathBuf {
    dir.join(format!("history_n{n}.npy"))
}

/// Write the files [`load`] needs beside the tables (each atomically); `config.toml` is the
/// caller's.
///
/// # Errors
/// A file that cannot be written.
pub fn write(run: &PriorRun, dir: &Path) -> Result<(), PriorIoError> {
    let write =
        |path: &Path, bytes: &[u8]| memprior_core::atomic::write(path, bytes).map_err(io(path));
    let d = run.datasets.kl.dim();
    let mut per_n = Vec::new();
    let mut provenance = Vec::new();
    for p in &run.per_n {
        for s in &p.priors {
            let flat: Vec<f64> = s.samples.iter().flatten().copied().collect();
            write(
                &samples_path(dir, s.kind, p.n),
                &npy::encode(Dtype::F64, &[s.samples.len(), d], &flat),
            )?;
        }
        let hist: Vec<f64> = p
            .history
            .iter()
            .flat_map(|h| [f64::from(h.loss), f64::from(h.grad_norm)])
            .collect();
        write(
            &history_path(dir, p.n),
            &npy::encode(Dtype::F64, &[p.history.len(), 2], &hist),
        )?;
        per_n.push(PerNRecord {
            n: p.n,
            priors: p.priors.iter().map(|s| s.kind.name().to_string()).collect(),
            validation: p.validation.clone(),
        });
        provenance.push(ProvenanceRecord {
            n: p.n,
            cached: p.cached,
            steps_trained: p.steps_trained,
            train_seconds: p.train_seconds,
            sampling_seconds: p.priors.iter().map(|s| s.seconds).collect(),
        });
    }
    let record = RunRecord {
        format: FORMAT.into(),
        per_n,
    };
    let json = serde_json::to_string(&record).expect("plain data serialises") + "\n";
    write(&dir.join("run.json"), json.as_bytes())?;
    let json = serde_json::to_string(&provenance).expect("plain data serialises") + "\n";
    write(&dir.join(PROVENANCE), json.as_bytes())
}

/// The file of a run's timings and cache use, beside its results.
pub const PROVENANCE: &str = "provenance.json";

fn read_npy(path: &Path, cols: usize) -> Result<Vec<Vec<f64>>, PriorIoError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let a = npy::decode(&bytes, Dtype::F64)
        .map_err(|e| PriorIoError::Invalid(format!("{}: {e}", path.display())))?;
    if a.shape.len() != 2 || a.shape[1] != cols {
        return Err(PriorIoError::Invalid(format!(
            "{}: shape {:?}, expected (rows, {cols})",
            path.display(),
            a.shape
        )));
    }
    Ok(a.data.chunks(cols).map(<[f64]>::to_vec).collect())
}

/// Read the results directory `dir` (written by `memprior prior memorization --out dir`) back
/// into the run that wrote it.
///
/// # Errors
/// A missing or corrupt file, another layout version, or a `config.toml` that does not match
/// the files.
pub fn load(dir: &Path) -> Result<PriorRun, PriorIoError> {
    let config_path = dir.join("config.toml");
    let text = fs::read_to_string(&config_path).map_err(io(&config_path))?;
    let config: PriorConfig = toml::from_str(&text)
        .map_err(|e| PriorIoError::Invalid(format!("{}: {e}", config_path.display())))?;
    config.validate()?;
    let run_path = dir.join("run.json");
    let text = fs::read_to_string(&run_path).map_err(io(&run_path))?;
    let record: RunRecord = serde_json::from_str(&text)
        .map_err(|e| PriorIoError::Invalid(format!("{}: {e}", run_path.display())))?;
    if record.format != FORMAT {
        return Err(PriorIoError::Invalid(format!(
            "{} is `{}`, this code reads `{FORMAT}`: run the prior experiment again into {}",
            run_path.display(),
            record.format,
            dir.display()
        )));
    }
    let ns: Vec<usize> = record.per_n.iter().map(|p| p.n).collect();
    if ns != config.n_values {
        return Err(PriorIoError::Invalid(format!(
            "{} holds N = {ns:?}, its config.toml N = {:?}: run the prior experiment again into {}",
            run_path.display(),
            config.n_values,
            dir.display()
        )));
    }
    // Optional: without it the run reads back with zero timings and no cache use.
    let provenance: Vec<ProvenanceRecord> = fs::read_to_string(dir.join(PROVENANCE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let datasets = FwiDatasets::generate(&config.datasets, &KlBasis::default())?;
    let d = datasets.kl.dim();
    let mut per_n = Vec::new();
    for p in record.per_n {
        let prov = provenance.iter().find(|q| q.n == p.n);
        let raw = datasets.training_set(p.n)?.to_vec();
        let (zscore, _) = normalized_training(&datasets, p.n)?;
        let mut priors = Vec::new();
        for (k, name) in p.priors.iter().enumerate() {
            let kind = PriorKind::parse(name)?;
            let seconds = prov
                .and_then(|q| q.sampling_seconds.get(k).copied())
                .unwrap_or(0.0);
            let samples = read_npy(&samples_path(dir, kind, p.n), d)?;
            let neighbours = ratios(&samples, &raw)?;
            priors.push(PriorSamples {
                kind,
                summary: MemorizationSummary::of(&neighbours),
                samples,
                neighbours,
                seconds,
            });
        }
        let history = read_npy(&history_path(dir, p.n), 2)?
            .into_iter()
            .map(|h| StepRecord {
                loss: h[0] as f32,
                grad_norm: h[1] as f32,
            })
            .collect();
        per_n.push(PerN {
            n: p.n,
            zscore,
            null: ratios(&datasets.null, &raw)?,
            loo: leave_one_out(&raw)?,
            priors,
            history,
            validation: p.validation,
            cached: prov.is_some_and(|q| q.cached),
            train_seconds: prov.map_or(0.0, |q| q.train_seconds),
            steps_trained: prov.map_or(0, |q| q.steps_trained),
        });
    }
    Ok(PriorRun {
        config,
        datasets,
        per_n,
    })
}
