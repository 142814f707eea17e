//! Diffusion posterior sampling [eq:dps]: a reverse diffusion whose every step is followed by a
//! move down the data misfit Φ(x) = ½‖F(x) − y‖²/γ² (the negative log-likelihood).
//!
//! Bayes at level t: ∇ log p(x_t | y) = ∇ log p(x_t) + ∇ log p(y | x_t), and
//! p(y | x_t) = ∫ p(y | x₀) p(x₀ | x_t) dx₀. DPS replaces p(x₀ | x_t) by a point mass at the
//! denoiser's x̂₀(x_t) (Tweedie's posterior mean), so ∇ log p(y | x_t) ≈ −(∂x̂₀/∂x_t)ᵀ ∇Φ(x̂₀).
//!
//! Two variants:
//!
//! - [`ChungDps`] (Chung et al. 2023): the ancestral DDPM step, then
//!   x_{t−1} ← x'_{t−1} − κ ∇_{x_t} Φ(x̂₀(x_t)), the gradient taken through the denoiser by its
//!   vector–Jacobian product (one denoiser evaluation per level serves both);
//! - [`PaperDps`] (the paper's FWI runs): a deterministic DDIM step to x_{t−1}, a second
//!   denoising at the updated point, and a move of fixed length ζ along −g/‖g‖ with
//!   g = ∇Φ(x̂₀(x_{t−1})): the denoiser's Jacobian is dropped and only the direction of the data
//!   gradient is kept; [`PaperAuthorsDps`] is the same as the authors' script runs it.
//!
//! Each is a [`ReverseStep`] on the one reverse loop ([`crate::diffusion::try_reverse`]),
//! validated when built; the misfit along the way is an observer ([`MisfitTrace`]). [`sample`]
//! runs one trajectory with both, and [`dps_paper`], [`dps_paper_authors`] and
//! [`dps_through_denoiser`] are its shorthands.
//!
//! With the ancestral DDPM step, x_{t−1} = (x_t + β_t ∇ log p_t(x_t))/√α_t + √β̃_t z, so adding
//! (β_t/√α_t) ∇ log p(y | x_t) turns it into the DDPM chain of the posterior: exact up to the
//! T-step discretisation, when started from the posterior's marginal at the first level. For a linear F = A with a Gaussian
//! prior, p(y | x_t) = N(y; A x̂₀, γ² I + A Σ_{0|t} Aᵀ): when A Σ_{0|t} Aᵀ = a² v_t I the exact
//! guidance is the DPS gradient with the per-level step κ_t = β_t γ² / (√α_t (γ² + a² v_t))
//! ([`StepSize::PerLevel`]). Plain DPS drops a² v_t, which is harmless only once v_t = Var(x₀ | x_t)
//! is small next to γ²/a² (late levels) — the tests measure both.

use memprior_core::ConfigError;
use memprior_core::Misfit;
use memprior_core::diffusion::{Batch, Denoiser, DifferentiableDenoiser};
use rand::Rng;

use crate::diffusion::{DdimStep, DdpmStep, Observer, ReverseStep, StepOutput, try_reverse};

mod steps;
mod trajectory;
pub use steps::{ChungDps, PaperAuthorsDps, PaperDps};
pub use trajectory::{
    DpsTrace, MisfitTrace, dps_paper, dps_paper_authors, dps_through_denoiser, sample,
};

/// How far a DPS step moves along the misfit gradient g (the move is subtracted from x).
#[derive(Debug, Clone, PartialEq)]
pub enum StepSize {
    /// ζ g/‖g‖: a fixed length ζ whatever the gradient's size (the paper's FWI runs).
    Normalized(f64),
    /// Chung et al.'s ζ'/‖y − F(x̂₀)‖ applied to ∇‖y − F(x̂₀)‖², in whitened units
    /// ‖r̃‖² = 2Φ: the move is ζ' · 2g/√(2Φ).
    ResidualScaled(f64),
    /// κ_t g with one κ per level t (index t); exact guidance for linear-Gaussian problems.
    PerLevel(Vec<f64>),
}

impl StepSize {
    /// The displacement to subtract at level t, given Φ and its gradient g.
    pub fn displacement(&self, t: usize, phi: f64, g: &[f64]) -> Vec<f64> {
        let scale = match self {
            StepSize::Normalized(zeta) => {
                let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 0.0 { zeta / norm } else { 0.0 }
            }
            StepSize::ResidualScaled(zeta) => {
                let r = (2.0 * phi).sqrt();
                if r > 0.0 { 2.0 * zeta / r } else { 0.0 }
            }
            StepSize::PerLevel(kappa) => kappa[t],
        };
        g.iter().map(|v| scale * v).collect()
    }

    /// Check the step against the schedule length; the error names what is wrong.
    ///
    /// # Errors
    /// A non-finite or negative size, or a per-level list of the wrong length.
    pub fn validate(&self, steps: usize) -> Result<(), memprior_core::ConfigError> {
        use memprior_core::ConfigError;
        match self {
            StepSize::Normalized(z) | StepSize::ResidualScaled(z) => {
                if !(z.is_finite() && *z >= 0.0) {
                    return Err(ConfigError::new("zeta", "must be a finite number ≥ 0", z));
                }
            }
            StepSize::PerLevel(k) => {
                if k.len() != steps {
                    return Err(ConfigError::new(
                        "kappa",
                        format!("must list one step per level (T = {steps})"),
                        format!("{} values", k.len()),
                    ));
                }
                if let Some(v) = k.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                    return Err(ConfigError::new("kappa", "must be finite numbers ≥ 0", v));
                }
            }
        }
        Ok(())
    }
}

/// Why a DPS trajectory failed: invalid settings (caught before any step), or the misfit.
#[derive(Debug, thiserror::Error)]
pub enum DpsStepError<E> {
    /// A step size that does not fit the schedule.
    #[error("invalid DPS step")]
    Config(#[from] ConfigError),
    /// The misfit failed on the way: the iterate left the misfit's domain (for the Helmholtz
    /// operator, a model whose squared slowness is not positive), or its solver failed.
    #[error("{}", match .level {
        Some(t) => format!("the misfit failed in the reverse step at level {t}"),
        None => "the misfit failed at the final sample".to_string(),
    })]
    Misfit {
        /// Level t of the failing step; `None` when Φ of the final sample failed.
        level: Option<usize>,
        /// The last iterate the sampler accepted (x_t entering the failing step, or the final
        /// sample), first row.
        last: Vec<f64>,
        /// (t, Φ(x̂₀)) recorded before the failure.
        misfit_trace: Vec<(usize, f64)>,
        /// The misfit's error.
        #[source]
        source: E,
    },
}

/// Move every row of `x` by `step` along the gradients `g` (one per row), in place.
fn apply_move(x: &mut Batch, t: usize, step: &StepSize, phi: &[f64], g: &[Vec<f64>]) {
    let d = x.dim();
    for (i, row) in x.as_mut_slice().chunks_mut(d).enumerate() {
        for (xi, di) in row.iter_mut().zip(step.displacement(t, phi[i], &g[i])) {
            *xi -= di;
        }
    }
}

fn recorded(every: usize, t: usize) -> bool {
    t == 0 || (every > 0 && t.is_multiple_of(every))
}
