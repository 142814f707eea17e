//! A learned diffusion denoiser: the ε-prediction MLP of FWI.md §4, trained on the denoising
//! loss on the CPU by a forward and backward pass written for this architecture ([`mlp`]: faer's
//! f32 matrix multiply with AVX-512 or AVX2 chosen at run time) and an optimizer step fused into
//! one pass over flat buffers ([`optim`]). burn's autodiff of the same network is the tests' oracle.
//!
//! - [`net`]: the architecture (sinusoidal time embedding, width W, L residual blocks
//!   Linear → LayerNorm → GELU) as explicit parameter tensors;
//! - [`train`]: Adam with cosine learning rate, global gradient-norm clipping and a weight EMA;
//!   the paper's recipe, a CPU default and a quick test recipe; seeded, bit-for-bit repeatable,
//!   resumable from atomic checkpoints, with weights cached under a hash of everything that
//!   determines them;
//! - [`recipe`]: the network and training settings (the paper's recipe, a CPU default, a quick
//!   test recipe); [`cache`]: the key of the weight cache; [`records`]: the per-step and
//!   validation records;
//! - [`checkpoint`]: the file format;
//! - [`LearnedDenoiser`]: the trained network as a [`memprior_core::Denoiser`] with its
//!   vector–Jacobian product by the reverse pass.
//!
//! A network that reaches the minimum of the denoising loss on N points *is* the closed-form
//! memorized denoiser of `priors::MemorizedDenoiser`; how close a finite budget gets is what the
//! memorization ratio measures.

pub mod cache;
pub mod checkpoint;
mod denoiser;
pub mod mlp;
pub mod net;
pub mod optim;
pub mod recipe;
pub mod records;
mod simd;
pub mod train;

pub use denoiser::LearnedDenoiser;
pub use net::{HostParams, MlpConfig};
pub use recipe::Preset;
pub use train::{
    Recipe, StepRecord, StepTimes, TrainConfig, TrainError, Trained, Trainer, ValidationRecord,
};
