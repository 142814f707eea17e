//! Posteriors for FWI in the network's coordinates z̃ (z-scored KL coefficients): the forward map
//! ([`fwi_map`], whose Gaussian likelihood guides DPS), the linearisation at the training models
//! with the likelihood it caches, the exact lookup posterior under a memorized prior
//! [eq:lookup-table], the linearized Gaussian mixture [eq:linearized-posterior], and the summaries
//! the figures compare them with (visit frequencies, spread, calibration [eq:calibration]).

use faer::Mat;
use memprior_core::{ConfigError, ForwardOperator, JacobianAction, apply_and_jacobian};
use operators::helmholtz::{Helmholtz, HelmholtzError};
use operators::reparam::{Affine, ZScored};
use priors::{KlBasis, KlMap, TrainingSet};
use samplers::{GaussianLikelihood, LinearizedPosterior, Weighting};

use super::ZScore;

mod linearized;
pub use analysis::stats::{calibration_bins, mean_std};
pub use linearized::{
    CachedLinearization, Linearization, LinearizedSummary, cached_likelihood, linearize,
    linearized_summaries,
};

/// The offset the paper adds to the z-score scales in its DPS gradient, g = (s + 1e−5) ⊙ ∇_z Φ.
pub const SCALE_OFFSET: f64 = 1e-5;

/// The FWI forward map in the network's coordinates: z̃ ↦ z = μ + s ⊙ z̃ ↦ m = m̄ + G z on the
/// simulation grid ↦ [Re d; Im d]. With `guided`, its misfit gradient is the paper's DPS
/// gradient (s + [`SCALE_OFFSET`]) ⊙ ∇_z Φ; its Jacobian and adjoint are exact either way.
///
/// # Errors
/// A z-scoring of another dimension than the basis.
pub fn fwi_map<'a>(
    op: &'a Helmholtz,
    kl: &'a KlBasis,
    zscore: &ZScore,
    guided: bool,
) -> Result<ZScored<Affine<&'a Helmholtz, KlMap<'a>>>, ConfigError> {
    let g = op.geometry();
    let map = ZScored::new(Affine::new(op, kl.on_grid(g.nx, g.nz))?, zscore.clone())?;
    if guided {
        map.with_gradient_offset(SCALE_OFFSET)
    } else {
        Ok(map)
    }
}
