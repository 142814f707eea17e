//! Posteriors under a memorized prior, for any forward operator.
//!
//! Likelihood: p(y | x) ∝ exp(−‖F(x) − y‖² / (2γ²)).
//!
//! - [`lookup`]: under the empirical measure the posterior is a likelihood-weighted lookup
//!   among the training points, exact with N forward evaluations ([eq:lookup-table]);
//! - [`grid`]: the exact posterior under the Gaussian-mixture prior on a tensor grid, with its
//!   component weights π_n by quadrature ([eq:gmm-posterior]);
//! - [`linearized`]: linearising F around each training point gives a Gaussian mixture posterior
//!   in closed form ([eq:linearized-posterior]), weighted by the exact evidence or, as in the
//!   authors' code, by the quadratic form alone;
//! - [`diffusion`]: DDIM and DDPM reverse steps, the loop that runs them, and its observers;
//! - [`dps`]: diffusion posterior sampling [eq:dps], the paper's normalised variant and the
//!   original through the denoiser.

pub mod diffusion;
pub mod dps;
pub mod grid;
pub mod likelihood;
pub mod linearized;
pub mod lookup;

pub use grid::{GridPosterior, TensorGrid};
pub use likelihood::GaussianLikelihood;
pub use linearized::{LinearizedComponent, LinearizedPosterior, Weighting};
pub use lookup::{lookup_log_weights, lookup_weights};
