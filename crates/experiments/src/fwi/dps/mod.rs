//! Diffusion posterior sampling for FWI (FWI.md §5–7; Figures 2–5, Table 1) with its exact
//! references.
//!
//! For each training-set size N and each prior (trained network, closed-form memorized denoiser,
//! Gaussian control), DPS draws posterior samples of z̃ given noisy Helmholtz data of the
//! out-of-distribution true model, in two variants: the paper's (DDIM, re-denoise, a move of fixed
//! length ζ along the normalised misfit gradient at x̂₀) and Chung et al.'s (DDPM, gradient through
//! the denoiser, step ζ'/‖r̃‖). Beside them, per N: the exact posterior of the memorized prior
//! (lookup weights over the training set, N misfit evaluations) and the linearised Gaussian
//! mixture around every training model at a few bandwidths, both weightings.
//!
//! Every sample is a job with its own seed (from the run seed, N, prior, variant and index), so
//! jobs can run in any order: `shard` selects every k-th job, each finished job is written
//! atomically as one file, and a rerun skips finished jobs. Assembling the results reads the files
//! in job order, so a sharded run merged afterwards equals a single run bit for bit when the
//! shards run the same binary on the same kind of machine (floating-point kernels may differ
//! across CPUs). `samples/run.toml` records the sample format, the configuration and a hash of
//! each network's weights; a run that differs in any of them is refused.
//!
//! The modules: `config` (variants, settings, presets), `jobs` (a job's seed, selections,
//! the sample codec), `store` (the output directory's fingerprint, claim, worker pool and
//! loader), `summary` (references and group summaries), `results` (the results and Table 1);
//! this file holds the setup, one job's sampling, and the run and merge entry points.

mod config;
mod jobs;
mod results;
mod store;
mod summary;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use learned::LearnedDenoiser;
use memprior_core::ConfigError;
use memprior_core::diffusion::{DifferentiableDenoiser, NoiseSchedule};
use operators::helmholtz::{Helmholtz, HelmholtzError};
use priors::{GaussianDenoiser, KlBasis, MemorizedDenoiser, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use samplers::GaussianLikelihood;
use samplers::diffusion::{DdpmStep, standard_normal};
use samplers::dps::{DpsStepError, StepSize, dps_paper, dps_paper_authors, dps_through_denoiser};

use crate::fwi::posterior::fwi_map;
use crate::fwi::prior::{PriorConfig, PriorError, PriorKind, normalized_training, train_all};
use crate::fwi::{FwiDatasets, ZScore, add_noise};
pub use crate::fwi::{quick_geometry, report_geometry};

pub use config::{DpsConfig, Variant};
use jobs::check_n;
pub use jobs::{Diverged, GroupKey, Job, SampleRecord, Selection, by_group, shard};
pub use results::{DpsResults, Group, Reference, TableRow};
use store::check_fingerprint;
pub use store::{
    Fingerprint, SAMPLE_FORMAT, UPGRADABLE_FORMATS, claim, load, read_fingerprint, read_record,
    reads_format, run_jobs,
};
pub use summary::{References, analyse, references, summarise, velocity};

/// Why a DPS run failed.
#[derive(Debug, thiserror::Error)]
pub enum DpsError {
    /// Invalid settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Training or loading a network.
    #[error(transparent)]
    Prior(#[from] PriorError),
    /// The simulator rejected a model.
    #[error("{context}")]
    Solver {
        /// Which sample or reference.
        context: String,
        /// The solver's error.
        source: HelmholtzError,
    },
    /// Reading or writing results.
    #[error("{context}")]
    Io {
        /// The file and what was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The output directory holds results of another configuration, or results are incomplete.
    #[error("{0}")]
    State(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DpsError {
    let context = context.into();
    move |source| DpsError::Io { context, source }
}

/// Write atomically through the workspace's one writer ([`memprior_core::atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DpsError> {
    memprior_core::atomic::write(path, bytes)
        .map_err(io(format!("cannot write {}", path.display())))
}

/// Data, training sets and networks shared by every job.
pub struct Setup {
    /// The settings.
    pub config: DpsConfig,
    /// Training, null and true-model coefficients.
    pub datasets: FwiDatasets,
    /// Noisy observed data.
    pub data: faer::Mat<faer::c64>,
    /// Noise std σ_d.
    pub sigma_d: f64,
    /// Per N: z-scoring and the z-scored training set.
    pub normalized: HashMap<usize, (ZScore, Vec<Vec<f64>>)>,
    /// Per N: trained EMA weights (only when the learned prior is sampled).
    pub networks: HashMap<usize, learned::HostParams>,
    /// Seconds spent training (0 for cached weights).
    pub train_seconds: f64,
}

/// Generate data, z-score the training sets and train (or load) the networks: every N's, or
/// only that of `only_n`.
///
/// # Errors
/// Invalid settings, a failed training run or a rejected true model.
/// With `cache_root` `None` the networks are not loaded (enough to analyse finished samples).
pub fn setup(
    config: &DpsConfig,
    cache_root: Option<&Path>,
    only_n: Option<usize>,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Setup, DpsError> {
    config.validate()?;
    if let Some(n) = only_n {
        check_n(config, n)?;
    }
    let kl = KlBasis::default();
    let datasets = FwiDatasets::generate(&config.prior.datasets, &kl)?;
    let op = Helmholtz::new(config.geometry.clone()).map_err(|source| DpsError::Solver {
        context: "geometry".into(),
        source,
    })?;
    let g = &config.geometry;
    let m_true = kl.reconstruct(&datasets.truth, g.nx, g.nz)?;
    let clean = op.forward(&m_true).map_err(|source| DpsError::Solver {
        context: "true model".into(),
        source,
    })?;
    let (data, sigma_d) = add_noise(&clean, config.noise_rel, config.noise_seed)?;
    let mut normalized = HashMap::new();
    for &n in &config.prior.n_values {
        normalized.insert(n, normalized_training(&datasets, n)?);
    }
    let mut networks = HashMap::new();
    let mut train_seconds = 0.0;
    if let (true, Some(cache_root)) = (config.priors.contains(&PriorKind::Learned), cache_root) {
        // The weight cache's key does not depend on the other sizes, so training one N alone
        // gives the network a run over every N would.
        let prior = match only_n {
            Some(n) => PriorConfig {
                n_values: vec![n],
                ..config.prior.clone()
            },
            None => config.prior.clone(),
        };
        let trained = train_all(&prior, &datasets, cache_root, log)?;
        for (&n, t) in prior.n_values.iter().zip(trained) {
            if t.cached {
                log(&format!(
                    "N = {n}: weights from the cache (mlp-{})",
                    &t.key[..16]
                ));
            }
            train_seconds += t.seconds;
            networks.insert(n, t.ema);
        }
    }
    Ok(Setup {
        config: config.clone(),
        datasets,
        data,
        sigma_d,
        normalized,
        networks,
        train_seconds,
    })
}

fn denoiser(
    setup: &Setup,
    kind: PriorKind,
    n: usize,
) -> Result<Box<dyn DifferentiableDenoiser>, DpsError> {
    let schedule = NoiseSchedule::paper();
    let (_, rows) = &setup.normalized[&n];
    Ok(match kind {
        PriorKind::Learned => Box::new(LearnedDenoiser::new(&setup.networks[&n], schedule)),
        PriorKind::Memorized => Box::new(MemorizedDenoiser::new(TrainingSet::new(rows)?, schedule)),
        PriorKind::Gaussian => Box::new(GaussianDenoiser::fit(&TrainingSet::new(rows)?, schedule)?),
    })
}

/// Draw one posterior sample.
///
/// # Errors
/// The simulator rejecting a model on the way.
pub fn run_job(
    setup: &Setup,
    op: &Helmholtz,
    den: &dyn DifferentiableDenoiser,
    job: &Job,
) -> Result<SampleRecord, DpsError> {
    let cfg = &setup.config;
    let kl = KlBasis::default();
    let (zscore, _) = &setup.normalized[&job.n];
    // Φ(z̃) and the paper's DPS gradient (s + 10⁻⁵) ⊙ ∇_z Φ, one factorisation per evaluation.
    let misfit = GaussianLikelihood::new(
        fwi_map(op, &kl, zscore, true)?,
        Helmholtz::data_to_real(&setup.data),
        setup.sigma_d,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(job.seed(cfg.seed));
    let start = standard_normal(1, den.dim(), &mut rng).row(0).to_vec();
    let trace = match job.variant {
        Variant::Paper => dps_paper(
            den,
            &misfit,
            &StepSize::Normalized(cfg.zeta),
            &start,
            cfg.record_every,
        ),
        Variant::PaperAuthors => dps_paper_authors(
            den,
            &misfit,
            &StepSize::Normalized(cfg.zeta),
            &start,
            cfg.record_every,
        ),
        Variant::Chung => dps_through_denoiser(
            den,
            &misfit,
            &DdpmStep,
            &StepSize::ResidualScaled(cfg.zeta_chung),
            &start,
            &mut rng,
            cfg.record_every,
        ),
    };
    let trace = match trace {
        Ok(trace) => trace,
        Err(DpsStepError::Config(e)) => return Err(DpsError::Config(e)),
        // The iterate left the solver's domain (a finite model with a non-positive squared
        // slowness): an outcome of the sampler, recorded as such. Any other failure (a NaN
        // model, a failed factorisation) stops the run.
        Err(DpsStepError::Misfit {
            level,
            last,
            misfit_trace,
            source: HelmholtzError::OutsideDomain(_),
        }) => {
            let levels = cfg.recorded_levels();
            let trace = levels
                .iter()
                .map(|t| {
                    misfit_trace
                        .iter()
                        .find(|(s, _)| s == t)
                        .map_or(f64::NAN, |p| p.1)
                })
                .collect();
            return Ok(SampleRecord {
                z: zscore.denormalize(&last),
                final_misfit: f64::NAN,
                trace,
                diverged: Some(level.map_or(Diverged::FinalSample, Diverged::Level)),
            });
        }
        Err(DpsStepError::Misfit { level, source, .. }) => {
            return Err(DpsError::Solver {
                context: format!(
                    "{} sample {}: the solver failed {}",
                    job.group(),
                    job.index,
                    level.map_or(Diverged::FinalSample, Diverged::Level)
                ),
                source,
            });
        }
    };
    Ok(SampleRecord {
        z: zscore.denormalize(&trace.x),
        final_misfit: trace.final_misfit,
        trace: trace.misfit_trace.iter().map(|(_, p)| *p).collect(),
        diverged: None,
    })
}

/// What a call to [`run`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunStats {
    /// Samples drawn in this call.
    pub drawn: usize,
    /// Wall time of the sampling.
    pub sampling_seconds: f64,
    /// Wall time spent training networks (0 when cached).
    pub train_seconds: f64,
}

/// Draw the selected samples into `out`, resuming, and — when every job is selected — assemble
/// and analyse the results.
///
/// # Errors
/// Invalid settings, a solver failure, I/O, or samples of another configuration in `out`.
pub fn run(
    config: &DpsConfig,
    out: &Path,
    selection: Selection,
    cache_root: &Path,
    workers: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<(Option<DpsResults>, RunStats), DpsError> {
    let jobs = selection.jobs(config)?;
    let setup = setup(config, Some(cache_root), selection.n, log)?;
    let clock = Instant::now();
    let drawn = run_jobs(&setup, &jobs, out, workers, log)?;
    let stats = RunStats {
        drawn,
        sampling_seconds: clock.elapsed().as_secs_f64(),
        train_seconds: setup.train_seconds,
    };
    if !selection.is_all() {
        return Ok((None, stats));
    }
    let records = load(config, out)?;
    Ok((Some(analyse(&setup, records, workers, log)?), stats))
}

/// Assemble and analyse the samples already in `out` (the merge step after sharded runs).
///
/// # Errors
/// Samples of another configuration, missing or corrupt sample files.
pub fn merge(
    config: &DpsConfig,
    out: &Path,
    workers: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<DpsResults, DpsError> {
    let Some(existing) = read_fingerprint(out)? else {
        return Err(DpsError::State(format!(
            "{} holds no samples (no samples/run.toml): run the shards first",
            out.display()
        )));
    };
    let mine = Fingerprint {
        format: SAMPLE_FORMAT.into(),
        weights: Default::default(),
        config: config.clone(),
    };
    // The networks are not loaded to merge; the shards checked theirs against run.toml.
    check_fingerprint(&existing, &mine, out, false)?;
    let setup = setup(config, None, None, log)?;
    let records = load(config, out)?;
    analyse(&setup, records, workers, log)
}
