//! Diffusion priors on KL coefficients and their memorization (FWI.md §2, §4; Figure 3 left).
//!
//! For each N: z-score the first N training coefficient vectors, build the three denoisers
//! (closed-form memorized, Gaussian of the training mean and covariance, the trained MLP), draw
//! unconditional samples with deterministic DDIM over all T levels from N(0, I), map them back
//! to raw KL coefficients and measure the memorization ratio r against the raw training set —
//! next to r of held-out prior draws (the null) and of the training points themselves
//! (leave-one-out).

use std::path::Path;
use std::time::Instant;

use analysis::memorization::{MemorizationSummary, Neighbours, leave_one_out, ratios};
use learned::{LearnedDenoiser, Preset, Recipe, StepRecord, TrainError, Trainer};
use memprior_core::ConfigError;
use memprior_core::diffusion::{Batch, Denoiser, NoiseSchedule};
use priors::{GaussianDenoiser, KlBasis, MemorizedDenoiser, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use samplers::diffusion::{DdimStep, reverse, standard_normal};
use serde::{Deserialize, Serialize};

use super::{DatasetConfig, FwiDatasets, ZScore};

mod experiment;
pub use experiment::{MemorizationRow, run, sample_raw, train_all};

/// The three priors of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::EnumString, strum::IntoStaticStr, strum::VariantArray, strum::VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum PriorKind {
    /// The trained ε-prediction MLP.
    Learned,
    /// The closed-form empirical-optimal denoiser (the fully memorized limit).
    Memorized,
    /// The exact denoiser of N(training mean, training covariance) (cannot memorize).
    Gaussian,
}

memprior_core::named_enum!(PriorKind, "denoiser", all);

/// Settings of the prior experiment; every stream is seeded here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorConfig {
    /// Preset name the settings came from.
    pub preset: String,
    /// Training-set sizes (prefixes of one stream).
    pub n_values: Vec<usize>,
    /// Unconditional samples per prior and N.
    pub samples: usize,
    /// Seed of the DDIM starting points (combined with N and the prior).
    pub seed: u64,
    /// The network and its training recipe.
    pub recipe: Recipe,
    /// The field datasets.
    pub datasets: DatasetConfig,
}

impl PriorConfig {
    /// `quick` (tests: N = 20, 50, tiny network), `default` (the report: N = 50, 200, 1000,
    /// the CPU recipe) or `paper` (the paper's network and 256 samples).
    pub fn preset(preset: Preset) -> Self {
        let kl_dim = KlBasis::default().dim();
        let recipe = Recipe::preset(preset, kl_dim);
        let mut datasets = DatasetConfig::default();
        let (n_values, samples) = match preset {
            Preset::Quick => {
                datasets.n_train = 50;
                datasets.n_null = 50;
                datasets.n_candidates = 10;
                datasets.true_model_reference = 20;
                (vec![20, 50], 16)
            }
            Preset::Default => (vec![50, 200, 1000], 100),
            Preset::Paper => (vec![50, 200, 1000], 256),
        };
        Self {
            preset: preset.name().to_string(),
            n_values,
            samples,
            seed: 20_240_620,
            recipe,
            datasets,
        }
    }

    /// Check the settings; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.datasets.validate()?;
        self.recipe.validate()?;
        let d = KlBasis::default().dim();
        if self.recipe.network.dim != d {
            return Err(ConfigError::new(
                "recipe.network.dim",
                format!("must equal the number of KL coefficients, {d}"),
                self.recipe.network.dim,
            ));
        }
        if self.samples == 0 {
            return Err(ConfigError::new("samples", "must be ≥ 1", 0));
        }
        if self.n_values.is_empty() {
            return Err(ConfigError::new(
                "n_values",
                "must list at least one N",
                "[]",
            ));
        }
        let mut sorted = self.n_values.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::new(
                "n_values",
                "must not list an N twice",
                w[0],
            ));
        }
        for &n in &self.n_values {
            if n < 3 || n > self.datasets.n_train {
                return Err(ConfigError::new(
                    "n_values",
                    format!(
                        "each N must lie in 3..=datasets.n_train = {}",
                        self.datasets.n_train
                    ),
                    n,
                ));
            }
        }
        Ok(())
    }
}

/// Samples of one prior at one N, with their memorization ratios.
#[derive(Debug, Clone)]
pub struct PriorSamples {
    /// Which prior.
    pub kind: PriorKind,
    /// Samples in raw KL coefficients.
    pub samples: Vec<Vec<f64>>,
    /// r and nearest training index of each sample.
    pub neighbours: Vec<Neighbours>,
    /// Table summary.
    pub summary: MemorizationSummary,
    /// Wall time of the sampling.
    pub seconds: f64,
}

/// Everything measured at one N.
#[derive(Debug, Clone)]
pub struct PerN {
    /// Training-set size.
    pub n: usize,
    /// The z-scoring the denoisers work in.
    pub zscore: ZScore,
    /// r of the null draws against this training set.
    pub null: Vec<Neighbours>,
    /// r of each training point against the others.
    pub loo: Vec<Neighbours>,
    /// One entry per prior.
    pub priors: Vec<PriorSamples>,
    /// The network's per-step training record.
    pub history: Vec<StepRecord>,
    /// Its denoising loss on the held-out null draws, every 1 % of the run.
    pub validation: Vec<learned::ValidationRecord>,
    /// Whether the weights came from the cache.
    pub cached: bool,
    /// Training wall time in this run (0 when cached).
    pub train_seconds: f64,
    /// Steps trained in this run.
    pub steps_trained: usize,
}

/// The whole experiment.
#[derive(Debug, Clone)]
pub struct PriorRun {
    /// Settings.
    pub config: PriorConfig,
    /// Datasets (training, null, true model).
    pub datasets: FwiDatasets,
    /// One entry per N.
    pub per_n: Vec<PerN>,
}

/// Why the experiment failed.
#[derive(Debug, thiserror::Error)]
pub enum PriorError {
    /// Invalid settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
}

/// Deterministic seed of the DDIM starting points of (prior, N).
pub fn sampling_seed(seed: u64, kind: PriorKind, n: usize) -> u64 {
    let k = match kind {
        PriorKind::Learned => 1,
        PriorKind::Memorized => 2,
        PriorKind::Gaussian => 3,
    };
    seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k << 56)
}

/// The z-scored training set of size n.
pub fn normalized_training(
    sets: &FwiDatasets,
    n: usize,
) -> Result<(ZScore, Vec<Vec<f64>>), ConfigError> {
    let raw = sets.training_set(n)?;
    let zs = ZScore::fit(raw)?;
    let rows = raw.iter().map(|z| zs.normalize(z)).collect();
    Ok((zs, rows))
}

/// Train (or load) the network of `config.recipe` on the z-scored set of size n.
pub fn train_network(
    config: &PriorConfig,
    sets: &FwiDatasets,
    n: usize,
    cache_root: &Path,
    progress: &mut dyn FnMut(usize, &StepRecord),
) -> Result<learned::Trained, PriorError> {
    let (zs, rows) = normalized_training(sets, n)?;
    // The held-out null draws, z-scored like the training set, as the validation set: the
    // denoising loss on them every 1 % of the run, beside the training loss.
    let validation: Vec<Vec<f64>> = sets.null.iter().map(|z| zs.normalize(z)).collect();
    let every = (config.recipe.training.steps / 100).max(1);
    let trainer = Trainer::new(config.recipe, NoiseSchedule::paper(), &rows)?
        .with_validation(&validation, every)?;
    Ok(trainer.run(cache_root, None, progress)?)
}
