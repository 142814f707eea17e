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

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use analysis::memorization::{MemorizationSummary, Neighbours, ratios};
use learned::LearnedDenoiser;
use memprior_core::ConfigError;
use memprior_core::diffusion::{DifferentiableDenoiser, NoiseSchedule};
use memprior_core::npy::{self, Dtype};
use operators::helmholtz::{Geometry, GeometryPreset, Helmholtz, HelmholtzError};
use priors::{GaussianDenoiser, KlBasis, MemorizedDenoiser, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use samplers::diffusion::{DdpmStep, standard_normal};
use samplers::dps::{StepSize, dps_paper, dps_paper_authors, dps_through_denoiser};
use serde::{Deserialize, Serialize};

use super::posterior::{self, LinearizedSummary, NormalizedMisfit};
use super::prior::{PriorConfig, PriorError, PriorKind, normalized_training, train_all};
use super::{FwiDatasets, KlMisfit, ZScore, add_noise};
pub use super::{quick_geometry, report_geometry};

/// The DPS variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// DDIM step, re-denoise, fixed-length move along ∇Φ(x̂₀)/‖∇Φ(x̂₀)‖ (the paper's runs).
    Paper,
    /// DDPM step, gradient through the denoiser, step ζ'/‖r̃‖ (Chung et al. 2023). The data
    /// gradient it pulls back is the same (s + 1e−5) ⊙ ∇_z Φ as the paper's (the offset is
    /// negligible next to the z-score scales).
    Chung,
    /// The paper's variant exactly as the authors' script runs it
    /// ([`samplers::dps::dps_paper_authors`]): re-denoise with ε at the old level and ᾱ of the
    /// new one (also at t = 0), misfit trace taken before the step over the first 4 samples.
    PaperAuthors,
}

impl Variant {
    /// The presets' variants, the paper's first.
    pub const ALL: [Variant; 2] = [Variant::Paper, Variant::Chung];
    /// Every variant (`--variants` accepts each).
    pub const EVERY: [Variant; 3] = [Variant::Paper, Variant::Chung, Variant::PaperAuthors];

    /// Name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Paper => "paper",
            Variant::Chung => "chung",
            Variant::PaperAuthors => "paper-authors",
        }
    }

    /// Parse a name.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        Self::EVERY
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| ConfigError::new("variants", "must be paper, chung or paper-authors", s))
    }
}

/// Settings of the DPS experiment; every random stream is seeded here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpsConfig {
    /// Preset the settings came from.
    pub preset: String,
    /// Training sets, N values and the network recipe (shared with `memprior prior`, so the
    /// trained weights come from the same cache; its `samples`, the unconditional sample count,
    /// is not used here).
    pub prior: PriorConfig,
    /// The simulation geometry.
    pub geometry: Geometry,
    /// Noise std relative to max |d|.
    pub noise_rel: f64,
    /// Seed of the data noise.
    pub noise_seed: u64,
    /// Priors to sample.
    pub priors: Vec<PriorKind>,
    /// DPS variants to run.
    pub variants: Vec<Variant>,
    /// Posterior samples per (prior, N) with the paper's variant.
    pub samples: usize,
    /// Posterior samples per N with the paper's variant for the closed-form controls (memorized
    /// and Gaussian priors); absent: `samples`. The paper preset draws fewer controls than
    /// learned-prior samples, to fit its budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_controls: Option<usize>,
    /// Posterior samples per (prior, N) with Chung's variant.
    pub samples_chung: usize,
    /// Step length ζ of the paper's variant (z̃ units); the paper's run used 0.07 (its
    /// authors' configuration also lists 0.035).
    pub zeta: f64,
    /// Step ζ' of Chung's variant (multiplies ∇‖r̃‖²/‖r̃‖). 0.05 gave the lowest final misfit
    /// of the learned and Gaussian priors at N = 50 (default geometry, 8 samples) among 0.01, 0.02,
    /// 0.05, 0.1, 0.2; 0.1 and above overshoot (final Φ 2351 and 3811 against 430 for the learned prior).
    pub zeta_chung: f64,
    /// Record the mean misfit every this many reverse steps.
    pub record_every: usize,
    /// Seed of the starting points and DDPM noise (combined with N, prior, variant, index).
    pub seed: u64,
    /// Bandwidths σ (z̃ units) of the linearised mixture.
    pub linearized_sigmas: Vec<f64>,
    /// Equal-count calibration bins over the KL coefficients.
    pub calibration_bins_kl: usize,
    /// Equal-count calibration bins over the velocity pixels.
    pub calibration_bins_velocity: usize,
}

impl DpsConfig {
    /// `quick` (tests: tiny grid and network, 4 + 2 samples), `default` (the report: 32² grid,
    /// the CPU network, 32 + 16 samples) or `paper` (200² grid, the paper's network, 256 + 64
    /// samples, ζ = 0.07).
    ///
    /// # Errors
    /// An unknown preset.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        let prior = PriorConfig::preset(name)?;
        // Noise: the paper grid's 0.055, and on the small grids of `quick` and `default` the
        // 0.05 of the authors' own small grid (README, "Differences from the authors' code").
        // The paper preset: the paper's 256 learned-prior samples per N; 64 of each closed-form
        // control and 16 of Chung's variant per (prior, N), which fit its budget (README).
        let (geometry, samples, samples_controls, samples_chung, noise_rel) = match name {
            "quick" => (quick_geometry(), 4, None, 2, 0.05),
            "default" => (report_geometry(), 32, None, 16, 0.05),
            _ => (
                Geometry::preset(GeometryPreset::Paper),
                256,
                Some(64),
                16,
                0.055,
            ),
        };
        Ok(Self {
            preset: name.to_string(),
            prior,
            geometry,
            noise_rel,
            noise_seed: 20_240_630,
            priors: PriorKind::ALL.to_vec(),
            variants: Variant::ALL.to_vec(),
            samples,
            samples_controls,
            samples_chung,
            zeta: 0.07,
            zeta_chung: 0.05,
            record_every: 10,
            seed: 20_240_631,
            linearized_sigmas: vec![0.01, 0.1, 0.3],
            calibration_bins_kl: 10,
            calibration_bins_velocity: 16,
        })
    }

    /// Check the settings; the error names the key and what is allowed.
    ///
    /// # Errors
    /// The first invalid setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.prior.validate()?;
        self.geometry.validate()?;
        memprior_core::error::positive("noise_rel", self.noise_rel)?;
        if self.priors.is_empty() {
            return Err(ConfigError::new(
                "priors",
                "must list at least one of learned, memorized, gaussian",
                "[]",
            ));
        }
        if self.variants.is_empty() {
            return Err(ConfigError::new(
                "variants",
                "must list at least one of paper, chung",
                "[]",
            ));
        }
        for (i, k) in self.priors.iter().enumerate() {
            if self.priors[..i].contains(k) {
                return Err(ConfigError::new(
                    "priors",
                    "must not list a prior twice",
                    k.name(),
                ));
            }
        }
        for (i, v) in self.variants.iter().enumerate() {
            if self.variants[..i].contains(v) {
                return Err(ConfigError::new(
                    "variants",
                    "must not list a variant twice",
                    v.name(),
                ));
            }
        }
        for (key, v) in [("zeta", self.zeta), ("zeta_chung", self.zeta_chung)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::new(key, "must be a finite number ≥ 0", v));
            }
        }
        if (self.variants.contains(&Variant::Paper)
            || self.variants.contains(&Variant::PaperAuthors))
            && self.samples == 0
        {
            return Err(ConfigError::new(
                "samples",
                "must be ≥ 1 when the paper (or paper-authors) variant runs",
                0,
            ));
        }
        if self.samples_controls == Some(0)
            && (self.variants.contains(&Variant::Paper)
                || self.variants.contains(&Variant::PaperAuthors))
            && self.priors.iter().any(|&p| p != PriorKind::Learned)
        {
            return Err(ConfigError::new(
                "samples_controls",
                "must be ≥ 1 when a closed-form prior runs the paper (or paper-authors) variant (or leave it out: as `samples`)",
                0,
            ));
        }
        if self.variants.contains(&Variant::Chung) && self.samples_chung == 0 {
            return Err(ConfigError::new(
                "samples_chung",
                "must be ≥ 1 when the chung variant runs",
                0,
            ));
        }
        if self.record_every == 0 {
            return Err(ConfigError::new("record_every", "must be ≥ 1", 0));
        }
        for &s in &self.linearized_sigmas {
            memprior_core::error::positive("linearized_sigmas", s)?;
        }
        if self.calibration_bins_kl == 0 || self.calibration_bins_velocity == 0 {
            return Err(ConfigError::new(
                "calibration_bins_kl / calibration_bins_velocity",
                "must be ≥ 1",
                0,
            ));
        }
        Ok(())
    }

    /// Samples per N of a prior and variant.
    pub fn count(&self, kind: PriorKind, variant: Variant) -> usize {
        match (variant, kind) {
            (Variant::Chung, _) => self.samples_chung,
            (_, PriorKind::Learned) => self.samples,
            _ => self.samples_controls.unwrap_or(self.samples),
        }
    }

    /// The reverse levels at which the misfit is recorded, in the order run.
    pub fn recorded_levels(&self) -> Vec<usize> {
        let steps = NoiseSchedule::paper().steps();
        (0..steps)
            .rev()
            .filter(|&t| t == 0 || t % self.record_every == 0)
            .collect()
    }

    /// Every job in the fixed order that sharding and assembly use.
    pub fn jobs(&self) -> Vec<Job> {
        let mut out = Vec::new();
        for &n in &self.prior.n_values {
            for &kind in &self.priors {
                for &variant in &self.variants {
                    for index in 0..self.count(kind, variant) {
                        out.push(Job {
                            n,
                            kind,
                            variant,
                            index,
                        });
                    }
                }
            }
        }
        out
    }
}

/// One posterior sample to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Job {
    /// Training-set size.
    pub n: usize,
    /// Prior.
    pub kind: PriorKind,
    /// DPS variant.
    pub variant: Variant,
    /// Sample index within (N, prior, variant).
    pub index: usize,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Job {
    /// The job's own seed: a hash of the run seed and the job's coordinates.
    pub fn seed(&self, run_seed: u64) -> u64 {
        let k = match self.kind {
            PriorKind::Learned => 1u64,
            PriorKind::Memorized => 2,
            PriorKind::Gaussian => 3,
        };
        let v = match self.variant {
            Variant::Paper => 1u64,
            Variant::Chung => 2,
            Variant::PaperAuthors => 3,
        };
        [self.n as u64, k, v, self.index as u64]
            .into_iter()
            .fold(splitmix(run_seed), |h, x| splitmix(h ^ x))
    }

    /// Directory (below `samples/`) of the job's group.
    pub fn group(&self) -> String {
        format!("{}-{}-n{}", self.kind.name(), self.variant.name(), self.n)
    }

    /// File of the finished job below the output directory.
    pub fn path(&self, out: &Path) -> PathBuf {
        out.join("samples")
            .join(self.group())
            .join(format!("{:05}.npy", self.index))
    }
}

fn check_n(config: &DpsConfig, n: usize) -> Result<(), ConfigError> {
    if config.prior.n_values.contains(&n) {
        return Ok(());
    }
    let sizes: Vec<String> = config
        .prior
        .n_values
        .iter()
        .map(ToString::to_string)
        .collect();
    Err(ConfigError::new(
        "n",
        format!(
            "must be one of the configuration's training-set sizes ({})",
            sizes.join(", ")
        ),
        n,
    ))
}

/// Which of a run's jobs one process draws. Every field `None` draws them all (and assembles
/// the results); anything narrower only draws, for a later merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// Shard i of n (1-based): every n-th job of those selected by `n`.
    pub shard: Option<(usize, usize)>,
    /// Only the jobs of this training-set size; only its network is trained or loaded, so its
    /// samples can be drawn while the networks of the other sizes still train.
    pub n: Option<usize>,
}

impl Selection {
    /// Every job.
    pub const ALL: Self = Self {
        shard: None,
        n: None,
    };

    /// Whether every job is selected.
    pub fn is_all(&self) -> bool {
        *self == Self::ALL
    }

    /// The selected jobs of `config`, in job order.
    ///
    /// # Errors
    /// A shard outside 1..=n, or an N the configuration does not train.
    pub fn jobs(&self, config: &DpsConfig) -> Result<Vec<Job>, ConfigError> {
        if let Some(n) = self.n {
            check_n(config, n)?;
        }
        let of_n: Vec<Job> = config
            .jobs()
            .into_iter()
            .filter(|j| self.n.is_none_or(|n| j.n == n))
            .collect();
        match self.shard {
            Some((i, k)) => shard(&of_n, i, k),
            None => Ok(of_n),
        }
    }
}

/// Select the jobs of shard `i` of `n` (1-based): every n-th job starting at the i-th.
///
/// # Errors
/// A shard outside 1..=n.
pub fn shard(jobs: &[Job], i: usize, n: usize) -> Result<Vec<Job>, ConfigError> {
    if n == 0 || i == 0 || i > n {
        return Err(ConfigError::new(
            "shard",
            "must be i/n with 1 ≤ i ≤ n (e.g. 2/4)",
            format!("{i}/{n}"),
        ));
    }
    Ok(jobs
        .iter()
        .enumerate()
        .filter(|(j, _)| j % n == i - 1)
        .map(|(_, job)| *job)
        .collect())
}

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
    #[error("{context}: {source}")]
    Solver {
        /// Which sample or reference.
        context: String,
        /// The solver's error.
        source: HelmholtzError,
    },
    /// Reading or writing results.
    #[error("{context}: {source}")]
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

/// A finished job: the final sample (raw z), its misfit and the recorded misfit trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRecord {
    /// Raw KL coefficients of the final sample.
    pub z: Vec<f64>,
    /// Φ at the final sample.
    pub final_misfit: f64,
    /// Φ(x̂₀) at the recorded levels.
    pub trace: Vec<f64>,
}

impl SampleRecord {
    /// The sample file's bytes: a float64 `.npy` vector [Φ, trace, z].
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![self.final_misfit];
        v.extend(&self.trace);
        v.extend(&self.z);
        npy::encode(Dtype::F64, &[v.len()], &v)
    }

    /// Decode a sample file of a run with `levels` trace points and `d` coefficients.
    ///
    /// # Errors
    /// Not a float64 `.npy` vector of 1 + `levels` + `d` values.
    pub fn decode(bytes: &[u8], levels: usize, d: usize) -> Result<Self, String> {
        let a = npy::decode(bytes, Dtype::F64).map_err(|e| e.to_string())?;
        if a.data.len() != 1 + levels + d {
            return Err(format!(
                "holds {} values, expected {}",
                a.data.len(),
                1 + levels + d
            ));
        }
        Ok(Self {
            final_misfit: a.data[0],
            trace: a.data[1..=levels].to_vec(),
            z: a.data[1 + levels..].to_vec(),
        })
    }
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
    let misfit = NormalizedMisfit {
        misfit: KlMisfit {
            op,
            kl: &kl,
            data: &setup.data,
            sigma_d: setup.sigma_d,
        },
        zscore,
    };
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
    }
    .map_err(|source| DpsError::Solver {
        context: format!(
            "{} sample {} left the solver's domain",
            job.group(),
            job.index
        ),
        source,
    })?;
    Ok(SampleRecord {
        z: zscore.denormalize(&trace.x),
        final_misfit: trace.final_misfit,
        trace: trace.misfit_trace.iter().map(|(_, p)| *p).collect(),
    })
}

/// Bumped whenever the sampler or the sample-file layout changes, so that a resume or merge never
/// mixes samples drawn by different code.
pub const SAMPLE_FORMAT: &str = "memprior-dps samples v1";

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

fn read_fingerprint(out: &Path) -> Result<Option<Fingerprint>, DpsError> {
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
            // A run of one N brings only its network: record the ones not yet recorded.
            if mine
                .weights
                .keys()
                .any(|k| !existing.weights.contains_key(k))
            {
                let mut both = existing;
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

fn check_fingerprint(
    existing: &Fingerprint,
    mine: &Fingerprint,
    out: &Path,
    weights: bool,
) -> Result<(), DpsError> {
    let what = if existing.format != mine.format {
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

/// The lock a process holds while it draws `job` (beside the job's file).
fn job_lock_path(job: &Job, out: &Path) -> PathBuf {
    job.path(out).with_extension("npy.lock")
}

/// Run `jobs` (skipping those already on disk) on `workers` threads; returns how many ran.
///
/// Processes that share `out` cooperate: a job is drawn under a lock on its file, and a job whose
/// lock another process holds is left to it. Any number of processes (shards, or whole runs of the
/// same selection started on several machines) can therefore work on one directory at once,
/// and none draws a sample twice.
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
    let pending: Vec<Job> = jobs
        .iter()
        .copied()
        .filter(|j| !j.path(out).exists())
        .collect();
    if pending.len() < jobs.len() {
        log(&format!(
            "{} of {} samples already on disk: resuming",
            jobs.len() - pending.len(),
            jobs.len()
        ));
    }
    let workers = workers.max(1).min(pending.len().max(1));
    log(&format!(
        "{} samples to draw on {workers} threads",
        pending.len()
    ));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<DpsError>> = Mutex::new(None);
    let clock = Instant::now();
    let total = pending.len();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let op = match Helmholtz::new(setup.config.geometry.clone()) {
                    Ok(op) => op,
                    Err(source) => {
                        *first_error.lock().unwrap() = Some(DpsError::Solver {
                            context: "geometry".into(),
                            source,
                        });
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                };
                let mut dens: HashMap<(PriorKind, usize), Box<dyn DifferentiableDenoiser>> =
                    HashMap::new();
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = pending.get(i) else { break };
                    let result = (|| {
                        let lock = job_lock_path(job, out);
                        let Some(_held) = memprior_core::lock::PathLock::try_acquire(&lock)
                            .map_err(io(format!("cannot lock {}", lock.display())))?
                        else {
                            // Another process draws it.
                            return Ok(None);
                        };
                        if job.path(out).exists() {
                            // Another process drew it since this one listed the pending jobs.
                            return Ok(None);
                        }
                        if let std::collections::hash_map::Entry::Vacant(e) =
                            dens.entry((job.kind, job.n))
                        {
                            e.insert(denoiser(setup, job.kind, job.n)?);
                        }
                        let rec = run_job(setup, &op, dens[&(job.kind, job.n)].as_ref(), job)?;
                        write_atomic(&job.path(out), &rec.encode())?;
                        Ok::<_, DpsError>(Some(rec))
                    })();
                    match result {
                        Ok(None) => {
                            skipped.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Some(rec)) => {
                            let k = done.fetch_add(1, Ordering::SeqCst) + 1;
                            let left = total.saturating_sub(k + skipped.load(Ordering::SeqCst));
                            let el = clock.elapsed().as_secs_f64();
                            log(&format!(
                                "[{k}/{total}] {} #{}: final misfit {:.1} ({el:.0} s, ETA {:.0} s)",
                                job.group(),
                                job.index,
                                rec.final_misfit,
                                el / k as f64 * left as f64
                            ));
                        }
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert(e);
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(done.into_inner()),
    }
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
        .map(|job| {
            let path = job.path(out);
            let bytes = fs::read(&path).map_err(io(format!("cannot read {}", path.display())))?;
            let rec = SampleRecord::decode(&bytes, levels, d).map_err(|e| {
                DpsError::State(format!(
                    "{} is corrupt ({e}); delete it and rerun to redraw that sample",
                    path.display()
                ))
            })?;
            Ok((job, rec))
        })
        .collect()
}

/// The samples of one (prior, variant, N) and what they are measured by.
#[derive(Debug, Clone)]
pub struct Group {
    /// Prior.
    pub kind: PriorKind,
    /// Variant.
    pub variant: Variant,
    /// Training-set size.
    pub n: usize,
    /// Raw KL coefficients of the samples.
    pub samples: Vec<Vec<f64>>,
    /// Final misfits.
    pub final_misfit: Vec<f64>,
    /// Mean Φ(x̂₀) at each recorded level.
    pub mean_trace: Vec<f64>,
    /// Memorization ratio of each sample against the raw training set.
    pub neighbours: Vec<Neighbours>,
    /// Its summary.
    pub summary: MemorizationSummary,
    /// Visits of each training model (nearest neighbour counts).
    pub visits: Vec<usize>,
    /// Velocity RMSE of each sample against the true model (km/s) on the simulation grid.
    pub rmse_velocity: Vec<f64>,
    /// Per-pixel posterior mean and std of velocity.
    pub velocity_mean: Vec<f64>,
    /// Per-pixel posterior std of velocity.
    pub velocity_std: Vec<f64>,
    /// Per-coefficient posterior mean and std of raw z.
    pub z_mean: Vec<f64>,
    /// Per-coefficient posterior std of raw z.
    pub z_std: Vec<f64>,
    /// Calibration bins (mean std, mean |error|) over KL coefficients.
    pub calibration_kl: Vec<(f64, f64)>,
    /// Calibration bins over velocity pixels.
    pub calibration_velocity: Vec<(f64, f64)>,
}

impl Group {
    /// The training index visited most often and its count.
    pub fn most_visited(&self) -> (usize, usize) {
        self.visits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or((0, 0), |(i, v)| (i, *v))
    }
}

/// The exact and linearised references at one N.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Training-set size.
    pub n: usize,
    /// Φ(z_n) of each training model.
    pub misfits: Vec<f64>,
    /// Lookup weights [eq:lookup-table].
    pub lookup: Vec<f64>,
    /// The null: r of held-out prior draws against this training set.
    pub null: MemorizationSummary,
    /// The linearised mixture at each bandwidth and weighting.
    pub linearized: Vec<LinearizedSummary>,
}

/// Everything the figures and tables need.
#[derive(Debug, Clone)]
pub struct DpsResults {
    /// The settings.
    pub config: DpsConfig,
    /// Training, null and truth.
    pub datasets: FwiDatasets,
    /// Noise std.
    pub sigma_d: f64,
    /// Φ of the true model (≈ number of real data / 2 at the noise level).
    pub truth_misfit: f64,
    /// Number of real data values.
    pub data_count: usize,
    /// Recorded levels t.
    pub levels: Vec<usize>,
    /// Sample groups in job order.
    pub groups: Vec<Group>,
    /// References per N.
    pub references: Vec<Reference>,
    /// Seconds spent on the references.
    pub reference_seconds: f64,
}

/// Velocity v = 1/√m (km/s) from squared slowness m (s²/km²).
pub fn velocity(m: &[f64]) -> Vec<f64> {
    m.iter().map(|v| 1.0 / v.sqrt()).collect()
}

/// Compute the references and summarise every group from the loaded samples.
///
/// # Errors
/// The solver rejecting a training model, or a non-positive-definite linearised system.
pub fn analyse(
    setup: &Setup,
    records: Vec<(Job, SampleRecord)>,
    workers: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<DpsResults, DpsError> {
    let refs = references(setup, workers, log)?;
    summarise(&setup.config, &setup.datasets, setup.sigma_d, refs, records)
}

/// The exact and linearised references of every N and the true model's misfit: the solver-bound
/// part of the analysis (N_max Jacobians), which a results bundle stores so that its figures are
/// redrawn without a solve ([`super::bundle`]).
#[derive(Debug, Clone)]
pub struct References {
    /// Φ of the true model.
    pub truth_misfit: f64,
    /// Per N.
    pub references: Vec<Reference>,
    /// Seconds they took.
    pub seconds: f64,
}

/// Compute the [`References`] of a run.
///
/// # Errors
/// The solver rejecting a training model, or a non-positive-definite linearised system.
pub fn references(
    setup: &Setup,
    workers: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<References, DpsError> {
    let cfg = &setup.config;
    let kl = KlBasis::default();
    let g = &cfg.geometry;
    let op = Helmholtz::new(g.clone()).map_err(|source| DpsError::Solver {
        context: "geometry".into(),
        source,
    })?;
    let km = KlMisfit {
        op: &op,
        kl: &kl,
        data: &setup.data,
        sigma_d: setup.sigma_d,
    };
    let solver = |context: &str| {
        let context = context.to_string();
        move |source| DpsError::Solver { context, source }
    };
    let truth_misfit = posterior::misfits(&km, std::slice::from_ref(&setup.datasets.truth))
        .map_err(solver("true model"))?[0];
    let clock = Instant::now();
    let n_max = *cfg.prior.n_values.iter().max().expect("validated");
    let lin = posterior::linearize(&op, &kl, &setup.datasets.train[..n_max], workers)
        .map_err(solver("training models"))?;
    let y = Helmholtz::data_to_real(&setup.data);
    let all_misfits: Vec<f64> = lin
        .forward
        .iter()
        .map(|f| {
            0.5 * f.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
                / (setup.sigma_d * setup.sigma_d)
        })
        .collect();
    log(&format!(
        "Jacobians at {n_max} training models ({:.1} s)",
        clock.elapsed().as_secs_f64()
    ));
    let mut references = Vec::new();
    for &n in &cfg.prior.n_values {
        let raw = setup.datasets.training_set(n)?;
        let (zscore, rows) = &setup.normalized[&n];
        let misfits = all_misfits[..n].to_vec();
        let lookup = posterior::lookup_weights(&misfits);
        let linearized = posterior::linearized_summaries(
            &lin,
            zscore,
            y.clone(),
            setup.sigma_d,
            rows,
            &cfg.linearized_sigmas,
            &lookup,
        )?;
        let null = MemorizationSummary::of(&ratios(&setup.datasets.null, raw)?);
        log(&format!(
            "N = {n}: lookup weights: max {:.3} at model {}, effective count {:.2} ({:.1} s)",
            lookup.iter().cloned().fold(0.0, f64::max),
            lookup
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |p| p.0),
            analysis::effective_components(&lookup),
            clock.elapsed().as_secs_f64()
        ));
        references.push(Reference {
            n,
            misfits,
            lookup,
            null,
            linearized,
        });
    }
    Ok(References {
        truth_misfit,
        references,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// Summarise every group of the loaded samples against the training sets, beside the
/// references: no solve, only KL reconstructions.
///
/// # Errors
/// A sample of another dimension than the KL basis, or an N without a training set.
pub fn summarise(
    cfg: &DpsConfig,
    datasets: &FwiDatasets,
    sigma_d: f64,
    refs: References,
    records: Vec<(Job, SampleRecord)>,
) -> Result<DpsResults, DpsError> {
    let kl = &datasets.kl;
    let g = &cfg.geometry;
    let v_true = velocity(&kl.reconstruct(&datasets.truth, g.nx, g.nz)?);
    let mut groups: Vec<Group> = Vec::new();
    let mut by_group: Vec<((PriorKind, Variant, usize), Vec<SampleRecord>)> = Vec::new();
    for (job, rec) in records {
        let key = (job.kind, job.variant, job.n);
        match by_group.last_mut() {
            Some((k, v)) if *k == key => v.push(rec),
            _ => by_group.push((key, vec![rec])),
        }
    }
    for ((kind, variant, n), recs) in by_group {
        let raw = datasets.training_set(n)?;
        let samples: Vec<Vec<f64>> = recs.iter().map(|r| r.z.clone()).collect();
        let neighbours = ratios(&samples, raw)?;
        let summary = MemorizationSummary::of(&neighbours);
        let mut visits = vec![0; n];
        for b in &neighbours {
            visits[b.nearest] += 1;
        }
        let velocities: Vec<Vec<f64>> = samples
            .iter()
            .map(|z| kl.reconstruct(z, g.nx, g.nz).map(|m| velocity(&m)))
            .collect::<Result<_, _>>()?;
        let rmse_velocity = velocities
            .iter()
            .map(|v| {
                (v.iter()
                    .zip(&v_true)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    / v.len() as f64)
                    .sqrt()
            })
            .collect();
        let (velocity_mean, velocity_std) = posterior::mean_std(&velocities);
        let (z_mean, z_std) = posterior::mean_std(&samples);
        let err_kl: Vec<f64> = z_mean
            .iter()
            .zip(&datasets.truth)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let err_v: Vec<f64> = velocity_mean
            .iter()
            .zip(&v_true)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let levels = recs[0].trace.len();
        // The authors average their trace over the first 4 samples only.
        let traced = match variant {
            Variant::PaperAuthors => &recs[..recs.len().min(4)],
            _ => &recs[..],
        };
        let mean_trace = (0..levels)
            .map(|i| traced.iter().map(|r| r.trace[i]).sum::<f64>() / traced.len() as f64)
            .collect();
        groups.push(Group {
            kind,
            variant,
            n,
            final_misfit: recs.iter().map(|r| r.final_misfit).collect(),
            mean_trace,
            calibration_kl: posterior::calibration_bins(&z_std, &err_kl, cfg.calibration_bins_kl),
            calibration_velocity: posterior::calibration_bins(
                &velocity_std,
                &err_v,
                cfg.calibration_bins_velocity,
            ),
            samples,
            neighbours,
            summary,
            visits,
            rmse_velocity,
            velocity_mean,
            velocity_std,
            z_mean,
            z_std,
        });
    }
    Ok(DpsResults {
        config: cfg.clone(),
        datasets: datasets.clone(),
        sigma_d,
        truth_misfit: refs.truth_misfit,
        data_count: 2 * g.sources.len() * g.receivers.len(),
        levels: cfg.recorded_levels(),
        groups,
        references: refs.references,
        reference_seconds: refs.seconds,
    })
}

/// One row of Table 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    /// Prior name.
    pub prior: String,
    /// DPS variant.
    pub variant: String,
    /// N.
    pub n_train: usize,
    /// Posterior samples.
    pub samples: usize,
    /// Mean memorization ratio.
    pub mean_r: f64,
    /// Fractions r ≤ 0.3, 0.5, 0.7.
    pub frac: [f64; 3],
    /// The null's fractions.
    pub null_frac: [f64; 3],
    /// Distinct nearest training models.
    pub unique_nn: usize,
    /// Mean velocity RMSE (km/s).
    pub rmse_velocity: f64,
    /// Mean final misfit.
    pub final_misfit: f64,
    /// The most visited training model, its visit fraction and its lookup weight.
    pub most_visited: usize,
    /// Its visit fraction.
    pub most_visited_frac: f64,
    /// Its lookup weight.
    pub most_visited_lookup: f64,
    /// Total-variation distance between visit frequencies and lookup weights.
    pub tv_to_lookup: f64,
}

impl DpsResults {
    /// The reference at N.
    pub fn reference(&self, n: usize) -> Option<&Reference> {
        self.references.iter().find(|r| r.n == n)
    }

    /// The group of (prior, variant, N).
    pub fn group(&self, kind: PriorKind, variant: Variant, n: usize) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.kind == kind && g.variant == variant && g.n == n)
    }

    /// Table 1, one row per group in job order.
    pub fn table(&self) -> Vec<TableRow> {
        self.groups
            .iter()
            .map(|g| {
                let r = self.reference(g.n).expect("a reference per N");
                let (mv, count) = g.most_visited();
                let s = g.samples.len() as f64;
                let tv = g
                    .visits
                    .iter()
                    .zip(&r.lookup)
                    .map(|(&v, w)| (v as f64 / s - w).abs())
                    .sum::<f64>()
                    / 2.0;
                TableRow {
                    prior: g.kind.name().into(),
                    variant: g.variant.name().into(),
                    n_train: g.n,
                    samples: g.samples.len(),
                    mean_r: g.summary.mean_r,
                    frac: g.summary.fractions,
                    null_frac: r.null.fractions,
                    unique_nn: g.summary.unique_nn,
                    rmse_velocity: g.rmse_velocity.iter().sum::<f64>() / s,
                    final_misfit: g.final_misfit.iter().sum::<f64>() / s,
                    most_visited: mv,
                    most_visited_frac: count as f64 / s,
                    most_visited_lookup: r.lookup[mv],
                    tv_to_lookup: tv,
                }
            })
            .collect()
    }

    /// Indices of the `count` samples of a group with the smallest r (ties by index), each on a
    /// different nearest training model.
    pub fn most_memorized(
        &self,
        kind: PriorKind,
        variant: Variant,
        n: usize,
        count: usize,
    ) -> Vec<usize> {
        let Some(g) = self.group(kind, variant, n) else {
            return Vec::new();
        };
        analysis::memorization::most_memorized_distinct(&g.neighbours, count)
    }
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
