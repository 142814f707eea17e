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

impl<'a> Trainer<'a> {
    /// A trainer of `recipe` on `data` (N rows of `recipe.network.dim` values).
    ///
    /// # Errors
    /// Invalid recipe, no data, rows of the wrong length or non-finite values.
    pub fn new(
        recipe: Recipe,
        schedule: NoiseSchedule,
        data: &'a [Vec<f64>],
    ) -> Result<Self, ConfigError> {
        recipe.validate()?;
        if data.is_empty() {
            return Err(ConfigError::new(
                "training_points",
                "must contain at least one point",
                0,
            ));
        }
        for (n, row) in data.iter().enumerate() {
            if row.len() != recipe.network.dim {
                return Err(ConfigError::new(
                    format!("training_points[{n}]"),
                    format!("must have network.dim = {} values", recipe.network.dim),
                    row.len(),
                ));
            }
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(ConfigError::new(
                    format!("training_points[{n}]"),
                    "must be finite",
                    v,
                ));
            }
        }
        let key = weights_key(&recipe, &schedule, data);
        Ok(Self {
            recipe,
            schedule,
            data,
            layout: Layout::new(recipe.network),
            key,
            validation: None,
        })
    }

    /// Also measure the denoising loss on held-out points `rows` (normalised like the training
    /// data) after every `every` steps and after the last, with [`VALIDATION_DRAWS`] fixed draws
    /// of (t, ε) per point from a stream seeded by the recipe's seed. The measurements do not
    /// touch the weights, but they are part of the run's record: the cache key covers them.
    ///
    /// # Errors
    /// No points, rows of the wrong length or non-finite values, or `every` = 0.
    pub fn with_validation(mut self, rows: &[Vec<f64>], every: usize) -> Result<Self, ConfigError> {
        if every == 0 {
            return Err(ConfigError::new("validation.every", "must be ≥ 1", 0));
        }
        if rows.is_empty() {
            return Err(ConfigError::new(
                "validation_points",
                "must contain at least one point",
                0,
            ));
        }
        let net = &self.recipe.network;
        let (d, e) = (net.dim, net.time_embedding);
        let mut digest = Sha256::new();
        digest.update(b"validation v1\n");
        digest.update((every as u64).to_le_bytes());
        digest.update((VALIDATION_DRAWS as u64).to_le_bytes());
        for (n, row) in rows.iter().enumerate() {
            if row.len() != d {
                return Err(ConfigError::new(
                    format!("validation_points[{n}]"),
                    format!("must have network.dim = {d} values"),
                    row.len(),
                ));
            }
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(ConfigError::new(
                    format!("validation_points[{n}]"),
                    "must be finite",
                    v,
                ));
            }
            for v in row {
                digest.update(v.to_le_bytes());
            }
        }
        // Stream 0 of the recipe's seed: the steps use streams 1, 2, ….
        let mut rng = step_rng(self.recipe.training.seed ^ 0x5641_4C49_4441_5445, 0);
        let batch = rows.len() * VALIDATION_DRAWS;
        let mut ts = Vec::with_capacity(batch);
        let (mut x_t, mut eps) = (Vec::with_capacity(batch * d), Vec::with_capacity(batch * d));
        for row in rows {
            for _ in 0..VALIDATION_DRAWS {
                let t = rng.random_range(0..self.schedule.steps());
                let ab = self.schedule.alpha_bar(t);
                for &x0 in row {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    x_t.push((ab.sqrt() * x0 + (1.0 - ab).sqrt() * z) as f32);
                    eps.push(z as f32);
                }
                ts.push(t);
            }
        }
        let emb = time_embedding(&ts, e);
        let mut input = Vec::with_capacity(batch * (d + e));
        for i in 0..batch {
            input.extend_from_slice(&x_t[i * d..(i + 1) * d]);
            input.extend_from_slice(&emb[i * e..(i + 1) * e]);
        }
        let digest = digest.finalize().to_vec();
        let mut h = Sha256::new();
        h.update(self.key.as_bytes());
        h.update(&digest);
        self.key = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.validation = Some(Validation {
            every,
            input,
            eps,
            batch,
        });
        Ok(self)
    }

    /// The validation loss of `params` (flat), in chunks of at most 256 rows.
    fn validation_loss(&self, v: &Validation, params: &[f32]) -> f32 {
        let d = self.recipe.network.dim;
        let width = d + self.recipe.network.time_embedding;
        let mut sum = 0.0f64;
        let mut at = 0;
        while at < v.batch {
            let rows = (v.batch - at).min(256);
            let input = v.input[at * width..(at + rows) * width].to_vec();
            let tape = mlp::forward(&self.layout, params, input, rows);
            sum += tape
                .out
                .iter()
                .zip(&v.eps[at * d..(at + rows) * d])
                .map(|(o, t)| f64::from(o - t).powi(2))
                .sum::<f64>();
            at += rows;
        }
        (sum / (v.batch * d) as f64) as f32
    }

    /// The cache key of this run's weights.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// A fresh state: seeded initialisation, zero moments, EMA = initial weights.
    pub fn init(&self) -> TrainState {
        let host = HostParams::init(self.recipe.network, self.recipe.training.seed);
        let params: Vec<f32> = host.tensors.concat();
        let n = params.len();
        TrainState {
            step: 0,
            opt: OptimState {
                m: vec![0.0; n],
                v: vec![0.0; n],
                ema: params.clone(),
            },
            params,
            history: Vec::new(),
            validation: Vec::new(),
        }
    }

    /// One Adam step on a fresh batch: returns its loss and gradient norm.
    ///
    /// # Errors
    /// A non-finite loss.
    pub fn step(&self, state: &mut TrainState) -> Result<StepRecord, TrainError> {
        self.step_timed(state).map(|(rec, _)| rec)
    }

    /// [`Trainer::step`], with the wall time of each phase (for `memprior prior bench`).
    ///
    /// # Errors
    /// A non-finite loss or gradient norm.
    pub fn step_timed(
        &self,
        state: &mut TrainState,
    ) -> Result<(StepRecord, StepTimes), TrainError> {
        let mut times = StepTimes::default();
        let mut clock = Instant::now();
        let mut lap = |slot: &mut f64| {
            let now = Instant::now();
            *slot += (now - clock).as_secs_f64();
            clock = now;
        };
        let cfg = &self.recipe.training;
        let net = &self.recipe.network;
        let k = state.step;
        let mut rng = step_rng(cfg.seed, k);
        let n = self.data.len();
        let b = cfg.batch;
        // b indices as consecutive random permutations of 0..N: every point appears
        // ⌊b/N⌋ or ⌈b/N⌉ times, never twice more than another (all of them when b = N).
        let mut idx: Vec<usize> = Vec::with_capacity(b + n);
        while idx.len() < b {
            let mut perm: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                let j = rng.random_range(0..=i);
                perm.swap(i, j);
            }
            idx.extend(perm);
        }
        idx.truncate(b);
        let ts: Vec<usize> = (0..b)
            .map(|_| rng.random_range(0..self.schedule.steps()))
            .collect();
        let d = net.dim;
        let mut x_t = Vec::with_capacity(b * d);
        let mut eps = Vec::with_capacity(b * d);
        for (i, &t) in ts.iter().enumerate() {
            let ab = self.schedule.alpha_bar(t);
            for &x0 in &self.data[idx[i]] {
                let e: f64 = StandardNormal.sample(&mut rng);
                x_t.push((ab.sqrt() * x0 + (1.0 - ab).sqrt() * e) as f32);
                eps.push(e as f32);
            }
        }
        let e = net.time_embedding;
        let emb = time_embedding(&ts, e);
        let mut input = Vec::with_capacity(b * (d + e));
        for i in 0..b {
            input.extend_from_slice(&x_t[i * d..(i + 1) * d]);
            input.extend_from_slice(&emb[i * e..(i + 1) * e]);
        }
        lap(&mut times.batch);
        let tape = mlp::forward(&self.layout, &state.params, input, b);
        lap(&mut times.forward);
        // L = mean (ε̂ − ε)², ∂L/∂ε̂ = 2 (ε̂ − ε) / (B d).
        let count = (b * d) as f64;
        let loss: f64 = tape
            .out
            .iter()
            .zip(&eps)
            .map(|(o, t)| f64::from(o - t).powi(2))
            .sum::<f64>()
            / count;
        let loss_value = loss as f32;
        if !loss_value.is_finite() {
            return Err(TrainError::Diverged {
                step: k,
                loss: loss_value,
            });
        }
        let scale = (2.0 / count) as f32;
        let g_out: Vec<f32> = tape
            .out
            .iter()
            .zip(&eps)
            .map(|(o, t)| scale * (o - t))
            .collect();
        let back = mlp::backward(&self.layout, &state.params, &tape, g_out, false);
        lap(&mut times.backward);
        let norm = optim::grad_norm2(&self.layout, &tape, &back).sqrt();
        lap(&mut times.norm);
        if !norm.is_finite() {
            // A NaN would pass the clip test below and poison the weights and the EMA.
            return Err(TrainError::Diverged {
                step: k,
                loss: f32::NAN,
            });
        }
        let clip = if norm > cfg.clip_norm {
            cfg.clip_norm / norm
        } else {
            1.0
        };
        let (b1, b2) = (0.9f64, 0.999f64);
        let step_no = (k + 1) as i32;
        let adam = AdamStep {
            clip: clip as f32,
            beta1: b1 as f32,
            beta2: b2 as f32,
            inv_bias1: (1.0 / (1.0 - b1.powi(step_no))) as f32,
            inv_bias2: (1.0 / (1.0 - b2.powi(step_no))) as f32,
            lr: cfg.learning_rate(k) as f32,
            eps: 1e-8,
            decay: cfg.ema_decay.min((1.0 + k as f64) / (10.0 + k as f64)) as f32,
        };
        optim::apply(
            &self.layout,
            &mut state.params,
            &mut state.opt,
            &tape,
            &back,
            &adam,
        );
        lap(&mut times.update);
        state.step += 1;
        let rec = StepRecord {
            loss: loss_value,
            grad_norm: norm as f32,
        };
        state.history.push(rec);
        Ok((rec, times))
    }

    /// The outcome of a run from its final checkpoint (raw and EMA weights, history).
    fn trained(
        &self,
        mut c: Checkpoint,
        cached: bool,
        steps_trained: usize,
        seconds: f64,
    ) -> Trained {
        let host = |tensors| HostParams {
            config: self.recipe.network,
            tensors,
        };
        let ema = host(c.groups.swap_remove(1));
        Trained {
            params: host(c.groups.swap_remove(0)),
            ema,
            history: c.history,
            validation: c.validation,
            key: self.key.clone(),
            cached,
            steps_trained,
            seconds,
        }
    }

    fn to_checkpoint(&self, state: &TrainState, done: bool) -> Checkpoint {
        let split = |flat: &[f32]| self.layout.split(flat);
        Checkpoint {
            key: self.key.clone(),
            recipe: self.recipe,
            step: state.step,
            done,
            history: state.history.clone(),
            validation: state.validation.clone(),
            groups: if done {
                vec![split(&state.params), split(&state.opt.ema)]
            } else {
                vec![
                    split(&state.params),
                    split(&state.opt.ema),
                    split(&state.opt.m),
                    split(&state.opt.v),
                ]
            },
        }
    }

    fn state_from_checkpoint(&self, c: Checkpoint) -> Result<TrainState, CheckpointError> {
        // `checkpoint::read` has checked every tensor's length.
        if c.groups.len() < 4 {
            return Err(CheckpointError::Corrupt(
                PathBuf::from("state.bin"),
                "a resumable state needs weights, EMA and both Adam moments".into(),
            ));
        }
        let flat = |g: &[Vec<f32>]| g.concat();
        Ok(TrainState {
            step: c.step,
            params: flat(&c.groups[0]),
            opt: OptimState {
                ema: flat(&c.groups[1]),
                m: flat(&c.groups[2]),
                v: flat(&c.groups[3]),
            },
            history: c.history,
            validation: c.validation,
        })
    }

    /// Directory of this run's files under `cache_root`.
    pub fn run_dir(&self, cache_root: &Path) -> PathBuf {
        run_dir(cache_root, &self.key)
    }

    /// Train to the end, or return cached weights.
    ///
    /// Under `cache_root/mlp-<key>/`: `weights.bin` (final, EMA and raw) short-circuits the run;
    /// otherwise `state.bin` (written atomically every `checkpoint_every` steps) is resumed.
    /// `train.lock` there admits one process at a time (see [`memprior_core::lock`]): a second
    /// process for the same key waits for the first and then loads its weights.
    /// `stop_after` ends the call after that many steps in total (a simulated interruption) with
    /// [`TrainError::Stopped`]. `progress` sees (step, record) after every step.
    ///
    /// # Errors
    /// Unreadable or mismatched files, I/O failures, divergence, or a requested stop.
    pub fn run(
        &self,
        cache_root: &Path,
        stop_after: Option<usize>,
        progress: &mut dyn FnMut(usize, &StepRecord),
    ) -> Result<Trained, TrainError> {
        let dir = self.run_dir(cache_root);
        // One trainer per key across processes (shards started together on one cache): the
        // others wait here, then find `weights.bin` and load it. The lock dies with its holder.
        let lock_path = dir.join("train.lock");
        let _lock = memprior_core::lock::PathLock::acquire(&lock_path, &mut |holder| {
            eprintln!(
                "mlp-{}: another process trains this network ({holder}); waiting to use its weights",
                &self.key[..16.min(self.key.len())]
            );
        })
        .map_err(|e| CheckpointError::Io(lock_path.clone(), e))?;
        // A run killed mid-checkpoint left its temporary here: remove it before anything else.
        memprior_core::atomic::clean_dir(&dir).map_err(|e| CheckpointError::Io(dir.clone(), e))?;
        let weights = dir.join("weights.bin");
        let state_file = dir.join("state.bin");
        if weights.exists() {
            return Ok(self.trained(checkpoint::read(&weights, &self.key)?, true, 0, 0.0));
        }
        let mut state = if state_file.exists() {
            self.state_from_checkpoint(checkpoint::read(&state_file, &self.key)?)?
        } else {
            self.init()
        };
        let cfg = self.recipe.training;
        let start_step = state.step;
        let clock = Instant::now();
        while state.step < cfg.steps {
            if stop_after.is_some_and(|s| state.step >= s) {
                checkpoint::write(&state_file, &self.to_checkpoint(&state, false))?;
                return Err(TrainError::Stopped(state.step));
            }
            let rec = self.step(&mut state)?;
            if let Some(v) = &self.validation
                && (state.step % v.every == 0 || state.step == cfg.steps)
            {
                let loss = self.validation_loss(v, &state.params);
                state.validation.push(ValidationRecord {
                    step: state.step,
                    loss,
                });
            }
            progress(state.step, &rec);
            if state.step % cfg.checkpoint_every == 0 && state.step < cfg.steps {
                checkpoint::write(&state_file, &self.to_checkpoint(&state, false))?;
            }
        }
        let seconds = clock.elapsed().as_secs_f64();
        let done = self.to_checkpoint(&state, true);
        checkpoint::write(&weights, &done)?;
        if state_file.exists() {
            std::fs::remove_file(&state_file)
                .map_err(|e| CheckpointError::Io(state_file.clone(), e))?;
        }
        Ok(self.trained(done, false, cfg.steps - start_step, seconds))
    }
}
