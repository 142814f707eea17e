//! Training of the ε-prediction MLP on the denoising loss
//!
//! L(θ) = E_{n, t, ε} ‖ε̂_θ(√ᾱ_t x_n + √(1 − ᾱ_t) ε, t) − ε‖²,
//!
//! with Adam (β = 0.9, 0.999, ε = 1e−8), a cosine learning rate from `lr_max` to `lr_min`,
//! clipping of the global gradient norm, and an exponential moving average (EMA) of the weights
//! that is used for sampling. Its decay is warmed up, min(decay, (1 + k)/(10 + k)) at step k, so
//! that a short CPU run is not dominated by the random initialisation.
//!
//! Every random draw of step k (batch indices, levels t, noise ε) comes from a ChaCha stream
//! seeded by (seed, k): a run resumed from a checkpoint at step k draws exactly what the
//! uninterrupted run drew, and the two end bit-for-bit equal.

use std::path::{Path, PathBuf};
use std::time::Instant;

use memprior_core::ConfigError;
use memprior_core::diffusion::NoiseSchedule;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use sha2::{Digest, Sha256};

pub use crate::cache::{run_dir, weights_key};
use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::mlp::{self, Layout};
use crate::net::{HostParams, time_embedding};
use crate::optim::{self, OptimState};
pub use crate::recipe::{Recipe, TrainConfig};
pub use crate::records::{StepRecord, ValidationRecord};
use crate::simd::AdamStep;

mod run;
mod setup;
mod step;

/// Draws of (t, ε) per validation point: fixed for the whole run, so the curve moves only with
/// the weights.
pub const VALIDATION_DRAWS: usize = 4;

/// The validation set of a run and its fixed draws: network inputs (x_t and the time embedding)
/// and the noise to predict, made once from a seeded stream of their own.
struct Validation {
    every: usize,
    /// Rows of (x_t, embedding), batch-major.
    input: Vec<f32>,
    eps: Vec<f32>,
    batch: usize,
}

/// Wall time of the phases of one training step, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimes {
    /// Drawing the batch, levels and noise; the time embedding.
    pub batch: f64,
    /// The forward pass (and the loss).
    pub forward: f64,
    /// The backward pass to every layer's output gradient.
    pub backward: f64,
    /// The global gradient norm (Gram matrices).
    pub norm: f64,
    /// Weight gradients tile by tile, fused with Adam, the clip and the EMA.
    pub update: f64,
}

impl StepTimes {
    /// The whole step.
    pub fn total(&self) -> f64 {
        self.batch + self.forward + self.backward + self.norm + self.update
    }
}

/// The full optimiser state: enough to resume bit-for-bit.
pub struct TrainState {
    /// Steps done.
    pub step: usize,
    /// Flat parameters in the layout of [`MlpConfig::shapes`].
    params: Vec<f32>,
    /// Adam's moments and the EMA, in the same layout.
    opt: OptimState,
    /// One record per step done.
    pub history: Vec<StepRecord>,
    /// The validation losses measured so far.
    pub validation: Vec<ValidationRecord>,
}

/// The outcome of [`Trainer::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// EMA weights.
    pub ema: HostParams,
    /// Raw (last-iterate) weights.
    pub params: HostParams,
    /// One record per step.
    pub history: Vec<StepRecord>,
    /// Validation losses (empty without [`Trainer::with_validation`]).
    pub validation: Vec<ValidationRecord>,
    /// Cache key of the weights.
    pub key: String,
    /// Whether the weights came from the cache without training.
    pub cached: bool,
    /// Steps trained in this call (0 when cached).
    pub steps_trained: usize,
    /// Wall time of the steps trained in this call.
    pub seconds: f64,
}

/// Why a run stopped without weights.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Invalid settings or data.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The loss or the gradient norm became NaN or infinite.
    #[error(
        "training diverged at step {step}: loss {loss} or a non-finite gradient (lower training.lr_max)"
    )]
    Diverged {
        /// The step.
        step: usize,
        /// The loss.
        loss: f32,
    },
    /// The run was asked to stop early (a simulated interruption); its checkpoint is on disk.
    #[error("stopped after {0} steps as requested; rerun to resume")]
    Stopped(usize),
}

/// Trains one network on one training set (rows already normalised).
pub struct Trainer<'a> {
    recipe: Recipe,
    schedule: NoiseSchedule,
    data: &'a [Vec<f64>],
    layout: Layout,
    key: String,
    validation: Option<Validation>,
}

fn step_rng(seed: u64, step: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step as u64 + 1);
    rng
}
