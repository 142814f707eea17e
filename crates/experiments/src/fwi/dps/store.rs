//! The sample store of an output directory: its fingerprint (`samples/run.toml`), the claim that
//! guards it, the drawing of the pending jobs through the job store ([`crate::jobs`]), and the
//! loader.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use memprior_core::diffusion::DifferentiableDenoiser;
use operators::helmholtz::Helmholtz;
use priors::KlBasis;
use serde::{Deserialize, Serialize};

use crate::fwi::prior::PriorKind;

use super::*;

/// Bumped whenever the sampler or the sample-file layout changes, so that a resume or merge never
/// mixes samples drawn by different code.
///
/// v2 records a trajectory that leaves the solver's domain as a diverged sample instead of
/// stopping the run ([`SampleRecord::diverged`]); its samplers are v1's.
pub const SAMPLE_FORMAT: &str = "memprior-dps samples v2";

/// Older formats whose directories this code resumes and reads: their samplers are this code's
/// and their files decode unchanged. v1 knew no diverged samples, so its files are all finished
/// samples, laid out as v2 lays them out. A directory of one of them is relabelled
/// [`SAMPLE_FORMAT`] when a run claims it.
pub const UPGRADABLE_FORMATS: &[&str] = &["memprior-dps samples v1"];

/// Whether this code reads samples of `format` ([`SAMPLE_FORMAT`] or an upgradable one).
pub fn reads_format(format: &str) -> bool {
    format == SAMPLE_FORMAT || UPGRADABLE_FORMATS.contains(&format)
}

/// What marks an output directory's samples: the code's sample format, the configuration and a
/// hash of every network the samples were drawn with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    /// [`SAMPLE_FORMAT`] of the code that drew the samples.
    pub format: String,
    /// SHA-256 of each N's EMA weights (key "n50", …), recorded by the first run that draws with
    /// it; empty without the learned prior.
    pub weights: std::collections::BTreeMap<String, String>,
    /// Every setting.
    pub config: DpsConfig,
}

impl Setup {
    /// This run's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        use sha2::{Digest, Sha256};
        let weights = self
            .networks
            .iter()
            .map(|(n, p)| {
                let mut h = Sha256::new();
                for t in &p.tensors {
                    for v in t {
                        h.update(v.to_bits().to_le_bytes());
                    }
                }
                (
                    format!("n{n}"),
                    h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
                )
            })
            .collect();
        Fingerprint {
            format: SAMPLE_FORMAT.into(),
            weights,
            config: self.config.clone(),
        }
    }
}

/// The file that marks an output directory's samples.
fn fingerprint_path(out: &Path) -> PathBuf {
    out.join("samples").join("run.toml")
}

fn has_samples(out: &Path) -> bool {
    let Ok(groups) = fs::read_dir(out.join("samples")) else {
        return false;
    };
    groups.flatten().any(|g| {
        fs::read_dir(g.path())
            .map(|files| {
                files
                    .flatten()
                    .any(|f| f.path().extension().is_some_and(|e| e == "npy"))
            })
            .unwrap_or(false)
    })
}

/// The fingerprint of `out`'s samples (`samples/run.toml`), if there is one.
///
/// # Errors
/// An unreadable or invalid file.
pub fn read_fingerprint(out: &Path) -> Result<Option<Fingerprint>, DpsError> {
    let path = fingerprint_path(out);
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map(Some).map_err(|e| {
            DpsError::State(format!(
                "{} is unreadable ({e}); the samples beside it cannot be attributed to a configuration: delete {} to start over",
                path.display(),
                out.join("samples").display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DpsError::Io { context: format!("cannot read {}", path.display()), source: e }),
    }
}

/// Claim `out/samples` for this run, or check that it already belongs to the same code,
/// configuration and networks.
///
/// # Errors
/// Samples of another configuration, code version or network, or samples without a fingerprint.
pub fn claim(setup: &Setup, out: &Path) -> Result<(), DpsError> {
    let mine = setup.fingerprint();
    // Shards started together on one directory: one at a time reads or writes the fingerprint,
    // so two runs of different settings can never both claim it.
    let lock_path = out.join("samples").join("claim.lock");
    let _lock = memprior_core::lock::PathLock::acquire(&lock_path, &mut |_| {}).map_err(|e| {
        DpsError::Io {
            context: format!("cannot lock {}", lock_path.display()),
            source: e,
        }
    })?;
    match read_fingerprint(out)? {
        Some(existing) => {
            check_fingerprint(&existing, &mine, out, true)?;
            // A run of one N brings only its network: record the ones not yet recorded; and an
            // upgradable format is relabelled as this code's.
            if existing.format != mine.format
                || mine
                    .weights
                    .keys()
                    .any(|k| !existing.weights.contains_key(k))
            {
                let mut both = existing;
                both.format = mine.format;
                both.weights.extend(mine.weights);
                write_atomic(
                    &fingerprint_path(out),
                    toml::to_string(&both)
                        .expect("fingerprint serialises")
                        .as_bytes(),
                )?;
            }
            Ok(())
        }
        None if has_samples(out) => Err(DpsError::State(format!(
            "{} holds samples but no samples/run.toml saying how they were drawn; delete {} to start over",
            out.display(),
            out.join("samples").display()
        ))),
        None => write_atomic(
            &fingerprint_path(out),
            toml::to_string(&mine)
                .expect("fingerprint serialises")
                .as_bytes(),
        ),
    }
}

pub(super) fn check_fingerprint(
    existing: &Fingerprint,
    mine: &Fingerprint,
    out: &Path,
    weights: bool,
) -> Result<(), DpsError> {
    // This code's own samples and those it reads (and relabels) are one run's.
    let what = if existing.format != mine.format
        && !(mine.format == SAMPLE_FORMAT && reads_format(&existing.format))
    {
        Some(format!(
            "another version of the sampler ({}, this binary writes {})",
            existing.format, mine.format
        ))
    } else if existing.config != mine.config {
        Some("a different configuration".to_string())
    } else if weights
        && mine
            .weights
            .iter()
            .any(|(k, h)| existing.weights.get(k).is_some_and(|e| e != h))
    {
        Some("different network weights (a shard trained or loaded other weights: share one weight cache)".to_string())
    } else {
        None
    };
    match what {
        None => Ok(()),
        Some(w) => Err(DpsError::State(format!(
            "{} holds samples of {w}; use another --out, run with the settings in {}, or delete {} to start over",
            out.display(),
            fingerprint_path(out).display(),
            out.join("samples").display()
        ))),
    }
}

impl crate::jobs::JobFile for Job {
    const NOUN: &'static str = "samples";

    fn path(&self, out: &Path) -> PathBuf {
        Job::path(self, out)
    }
}

impl crate::jobs::StoreError for DpsError {
    fn io(context: String, source: std::io::Error) -> Self {
        DpsError::Io { context, source }
    }
}

/// Run `jobs` (skipping those already on disk) on `workers` threads; returns how many ran.
///
/// Processes that share `out` cooperate through the job store ([`crate::jobs::run_pool`]): a
/// job is drawn under a lock on its file, and a job whose lock another process holds is left to
/// it. Any number of processes (shards, or whole runs of the same selection started on several
/// machines) can therefore work on one directory at once, and none draws a sample twice.
///
/// # Errors
/// The first failing job (the others stop after their current sample; finished files stay).
pub fn run_jobs(
    setup: &Setup,
    jobs: &[Job],
    out: &Path,
    workers: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<usize, DpsError> {
    claim(setup, out)?;
    type Denoisers = HashMap<(PriorKind, usize), Box<dyn DifferentiableDenoiser>>;
    crate::jobs::run_pool(
        jobs,
        out,
        workers,
        || {
            let op = Helmholtz::new(setup.config.geometry.clone()).map_err(|source| {
                DpsError::Solver {
                    context: "geometry".into(),
                    source,
                }
            })?;
            Ok((op, Denoisers::new()))
        },
        |(op, dens), job| {
            if let std::collections::hash_map::Entry::Vacant(e) = dens.entry((job.kind, job.n)) {
                e.insert(denoiser(setup, job.kind, job.n)?);
            }
            let rec = run_job(setup, op, dens[&(job.kind, job.n)].as_ref(), job)?;
            Ok(crate::jobs::Done {
                bytes: rec.encode(),
                summary: format!(
                    "{} #{}: {}",
                    job.group(),
                    job.index,
                    match rec.diverged {
                        None => format!("final misfit {:.1}", rec.final_misfit),
                        Some(d) => format!("left the solver's domain {d} (recorded as diverged)"),
                    }
                ),
            })
        },
        log,
    )
}

/// Read every job's file, in job order.
///
/// # Errors
/// Missing or unreadable files (the message says how many and what to run).
pub fn load(config: &DpsConfig, out: &Path) -> Result<Vec<(Job, SampleRecord)>, DpsError> {
    let levels = config.recorded_levels().len();
    let d = KlBasis::default().dim();
    let jobs = config.jobs();
    let missing = jobs.iter().filter(|j| !j.path(out).exists()).count();
    if missing > 0 {
        return Err(DpsError::State(format!(
            "{missing} of {} samples are missing in {}: run the remaining shards (or wait for the processes still drawing), or rerun without --shard and --n to draw them",
            jobs.len(),
            out.join("samples").display()
        )));
    }
    jobs.into_iter()
        .map(|job| Ok((job, read_record(&job, out, levels, d)?)))
        .collect()
}

/// The finished sample of `job` in `out`, with `levels` recorded levels of dimension `d`.
///
/// # Errors
/// The file cannot be read, or it is corrupt (the message says how to redraw it).
pub fn read_record(
    job: &Job,
    out: &Path,
    levels: usize,
    d: usize,
) -> Result<SampleRecord, DpsError> {
    let path = job.path(out);
    let bytes = fs::read(&path).map_err(io(format!("cannot read {}", path.display())))?;
    SampleRecord::decode(&bytes, levels, d).map_err(|e| {
        DpsError::State(format!(
            "{} is corrupt ({e}); delete it and rerun to redraw that sample",
            path.display()
        ))
    })
}
