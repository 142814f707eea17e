//! Shared vocabulary of the workspace: *a prior, a forward operator and a sampler give a
//! posterior; analysis measures it.*
//!
//! A forward operator is a map F: R^d → R^m (complex data count as two real numbers each).
//! Solvers ask only for the capabilities they need, as trait bounds:
//!
//! - [`ForwardOperator`]: y = F(x);
//! - [`JacobianAction`]: δy = J(x) δx and δx = J(x)ᵀ δy (the linearisation of [eq:linearized-posterior]);
//! - [`LogDensity`] and [`Score`]: log p(x) and ∇ log p(x) of a prior.
//!
//! Numerics shared by every crate (log-sum-exp, softmax of log-weights, entropy) live in
//! [`numerics`]; invalid settings are reported through [`ConfigError`].

pub mod atomic;
pub mod diffusion;
pub mod error;
pub mod lock;
pub mod npy;
pub mod numerics;
pub mod operator;
pub mod prior;

pub use diffusion::{Batch, Denoiser, DifferentiableDenoiser, NoiseSchedule, Prediction};
pub use error::ConfigError;
pub use operator::{
    ForwardOperator, JacobianAction, Misfit, apply_and_jacobian, check_len, dense_jacobian,
};
pub use prior::{LogDensity, Score};
/// strum, for the expansion of [`named_enum!`] in other crates.
pub use strum;
