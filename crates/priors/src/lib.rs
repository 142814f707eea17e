//! Priors on R^d built from a finite training set {x_n}, n = 1..N.
//!
//! - [`EmpiricalMeasure`]: p̂_N = (1/N) Σ δ(x − x_n), what maximum likelihood on N examples
//!   converges to ([eq:empirical-prior]);
//! - [`MemorizedPrior`]: p̂_N smoothed by N(0, σ² I), the Gaussian mixture a memorized diffusion
//!   model has learned at noise level σ ([eq:gmm-prior], score [eq:gmm-score]);
//! - [`EmpiricalDenoiser`]: the same statement in DDPM coordinates, the minimiser of the
//!   denoising loss over the training set ([eq:empirical-denoiser]);
//! - [`MemorizedDenoiser`] and [`GaussianDenoiser`]: the closed-form diffusion denoisers of a
//!   training set (fully memorized, and the Gaussian control that cannot memorize);
//! - [`GaussianKde`] and [`GaussianMixture1d`]: the kernel-density illustration;
//! - [`KlBasis`]: the truncated Karhunen–Loève parameterisation of velocity models (FWI.md §1);
//! - [`GaussianRandomField`]: the periodic spectral sampler of the training fields (FWI.md §2).

pub mod diffusion;
mod empirical;
pub mod grf;
mod kde;
pub mod kl;
mod mixture;
mod training;

pub use diffusion::{GaussianDenoiser, MemorizedDenoiser};
pub use empirical::{EmpiricalDenoiser, EmpiricalMeasure};
pub use grf::GaussianRandomField;
pub use kde::{GaussianKde, GaussianMixture1d};
pub use kl::{KlBasis, KlMap};
pub use mixture::MemorizedPrior;
pub use training::TrainingSet;
