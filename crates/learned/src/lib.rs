//! A learned diffusion denoiser: the ε-prediction MLP of FWI.md §4, trained on the denoising
//! loss with burn's pure-Rust `flex` CPU backend and reverse-mode autodiff.
//!
//! - [`net`]: the architecture (sinusoidal time embedding, width W, L residual blocks
//!   Linear → LayerNorm → GELU) as explicit parameter tensors;
//! - [`train`]: Adam with cosine learning rate, global gradient-norm clipping and a weight EMA;
//!   the paper's recipe, a CPU default and a quick test recipe; seeded, bit-for-bit repeatable,
//!   resumable from atomic checkpoints, with weights cached under a hash of everything that
//!   determines them;
//! - [`checkpoint`]: the file format;
//! - [`LearnedDenoiser`]: the trained network as a [`memprior_core::Denoiser`] with an autodiff
//!   vector–Jacobian product.
//!
//! A network that reaches the minimum of the denoising loss on N points *is* the closed-form
//! memorized denoiser of `priors::MemorizedDenoiser`; how close a finite budget gets is what the
//! memorization ratio measures.

pub mod checkpoint;
mod denoiser;
pub mod net;
pub mod train;

pub use denoiser::LearnedDenoiser;
pub use net::{HostParams, MlpConfig};
pub use train::{Recipe, StepRecord, TrainConfig, TrainError, Trained, Trainer};
