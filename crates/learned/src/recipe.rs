//! The network and training recipe: the optimiser settings of one run ([`TrainConfig`]) and a
//! named architecture with its settings ([`Recipe`]: the paper's, a CPU default, a quick test
//! recipe).

use memprior_core::ConfigError;
use serde::{Deserialize, Serialize};

use crate::net::MlpConfig;

/// The named scales of the experiments: `quick` (tests: a tiny network, few samples), `default`
/// (the report: the CPU network) and `paper` (the paper's network and sample counts). One value
/// picks the recipe here and, in the experiments, the datasets and sample counts that go with it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum Preset {
    /// Tests and first runs: seconds.
    Quick,
    /// The report's scale.
    Default,
    /// The paper's scale.
    Paper,
}

memprior_core::named_enum!(Preset, "preset", all);

/// Optimiser settings of one training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Adam steps.
    pub steps: usize,
    /// Training points per step, drawn as consecutive random permutations of the set.
    pub batch: usize,
    /// Learning rate at step 0.
    pub lr_max: f64,
    /// Learning rate at the last step (cosine annealing).
    pub lr_min: f64,
    /// Global gradient-norm clip.
    pub clip_norm: f64,
    /// EMA decay (warmed up, see the module doc).
    pub ema_decay: f64,
    /// Seed of the initialisation and of every step's draws.
    pub seed: u64,
    /// Write a resumable checkpoint every this many steps.
    pub checkpoint_every: usize,
}

impl TrainConfig {
    /// Check ranges; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.steps == 0 {
            return Err(ConfigError::new(
                "training.steps",
                "must be ≥ 1",
                self.steps,
            ));
        }
        if self.batch == 0 {
            return Err(ConfigError::new(
                "training.batch",
                "must be ≥ 1",
                self.batch,
            ));
        }
        memprior_core::error::positive("training.lr_max", self.lr_max)?;
        if !(self.lr_min.is_finite() && self.lr_min >= 0.0 && self.lr_min <= self.lr_max) {
            return Err(ConfigError::new(
                "training.lr_min",
                format!("must lie in [0, lr_max = {}]", self.lr_max),
                self.lr_min,
            ));
        }
        memprior_core::error::positive("training.clip_norm", self.clip_norm)?;
        if !(self.ema_decay.is_finite() && (0.0..1.0).contains(&self.ema_decay)) {
            return Err(ConfigError::new(
                "training.ema_decay",
                "must lie in [0, 1)",
                self.ema_decay,
            ));
        }
        if self.checkpoint_every == 0 {
            return Err(ConfigError::new(
                "training.checkpoint_every",
                "must be ≥ 1",
                0,
            ));
        }
        Ok(())
    }

    /// Cosine-annealed learning rate at step k: lr_max at k = 0, falling towards lr_min, which the
    /// last step (k = steps − 1) misses by O(1/steps²).
    pub fn learning_rate(&self, k: usize) -> f64 {
        let frac = k as f64 / self.steps.max(1) as f64;
        self.lr_min
            + 0.5 * (self.lr_max - self.lr_min) * (1.0 + (std::f64::consts::PI * frac).cos())
    }
}

/// A named network and training recipe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Architecture.
    pub network: MlpConfig,
    /// Optimiser.
    pub training: TrainConfig,
}

impl Recipe {
    /// The paper's recipe (FWI.md §4): W = 2048, L = 12, 50,000 steps, batch 50, lr 5e−4 → 5e−5,
    /// clip 1, EMA 0.9999. About 51 M parameters: hours per N on 2 cores, on demand only.
    pub fn paper(dim: usize) -> Self {
        Self {
            network: MlpConfig {
                dim,
                width: 2048,
                blocks: 12,
                time_embedding: 256,
            },
            training: TrainConfig {
                steps: 50_000,
                batch: 50,
                lr_max: 5e-4,
                lr_min: 5e-5,
                clip_norm: 1.0,
                ema_decay: 0.9999,
                seed: 20_240_610,
                checkpoint_every: 1000,
            },
        }
    }

    /// The CPU default of the report: the paper's recipe at W = 512, L = 3, 60,000 steps, lr
    /// 1e−3 → 5e−5 and EMA 0.999 (≈ 1.3 M parameters), about 6 minutes per N on one core
    /// (≈ 176 steps/s). Chosen on the recipe frontier at N = 50 (`memprior prior frontier`,
    /// `data/prior/recipe_frontier.csv`: 100 DDIM samples, the three most memorized with
    /// distinct nearest training models, and the fraction below r = 0.3, where the null has
    /// none): 8000 steps gave best r 0.081, 0.086, 0.181 and 16 % below 0.3; 30,000 steps
    /// 0.010, 0.030, 0.045 and 38 %; 60,000 steps 0.006, 0.006, 0.007 and 58 %, which meets the
    /// paper's r ≈ 0.01. Earlier, at 2000–16,000 steps, W = 256 stayed far behind W = 512 (mean r
    /// 0.51–0.59 against 0.43): steps matter more than width here.
    pub fn cpu_default(dim: usize) -> Self {
        let mut r = Self::paper(dim);
        r.network.width = 512;
        r.network.blocks = 3;
        r.training.steps = 60_000;
        r.training.lr_max = 1e-3;
        r.training.ema_decay = 0.999;
        r.training.checkpoint_every = 2000;
        r
    }

    /// A tiny recipe for tests: W = 64, L = 2, time embedding 32, 3000 steps, lr 2e−3 → 1e−4,
    /// EMA 0.99.
    pub fn quick(dim: usize) -> Self {
        let mut r = Self::paper(dim);
        r.network = MlpConfig {
            dim,
            width: 64,
            blocks: 2,
            time_embedding: 32,
        };
        r.training.steps = 3000;
        r.training.lr_max = 2e-3;
        r.training.lr_min = 1e-4;
        r.training.ema_decay = 0.99;
        r.training.checkpoint_every = 200;
        r
    }

    /// The recipe of a preset for `dim` coefficients.
    pub fn preset(preset: Preset, dim: usize) -> Self {
        match preset {
            Preset::Quick => Self::quick(dim),
            Preset::Default => Self::cpu_default(dim),
            Preset::Paper => Self::paper(dim),
        }
    }

    /// Check both parts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.network.validate()?;
        self.training.validate()
    }
}
