//! Posteriors for FWI in the network's coordinates z̃ (z-scored KL coefficients): the misfit that
//! guides DPS, the forward operator with its exact Jacobian for the linearised mixture, the exact
//! lookup posterior under a memorized prior [eq:lookup-table], the linearized Gaussian mixture
//! [eq:linearized-posterior], and the summaries the figures compare them with (visit frequencies,
//! spread, calibration [eq:calibration]).

use faer::Mat;
use memprior_core::Misfit;
use memprior_core::{ConfigError, ForwardOperator, JacobianAction};
use operators::helmholtz::{Helmholtz, HelmholtzError};
use priors::{KlBasis, TrainingSet};
use samplers::{GaussianLikelihood, LinearizedPosterior, Weighting};

use super::{KlMisfit, ZScore};

mod linearized;
pub use analysis::stats::{calibration_bins, mean_std};
pub use linearized::{Linearization, LinearizedSummary, linearize, linearized_summaries};

/// The offset the paper adds to the z-score scales in its DPS gradient, g = (s + 1e−5) ⊙ ∇_z Φ.
pub const SCALE_OFFSET: f64 = 1e-5;

/// The Helmholtz misfit as a function of z̃, with the paper's DPS gradient (s + 1e−5) ⊙ ∇_z Φ.
pub struct NormalizedMisfit<'a> {
    /// Φ(z) and ∇_z Φ.
    pub misfit: KlMisfit<'a>,
    /// z = μ + s ⊙ z̃.
    pub zscore: &'a ZScore,
}

impl Misfit for NormalizedMisfit<'_> {
    type Error = HelmholtzError;
    fn misfit_gradient(&self, zt: &[f64]) -> Result<(f64, Vec<f64>), HelmholtzError> {
        let (phi, gz) = self.misfit.misfit_gradient(&self.zscore.denormalize(zt))?;
        let g = gz
            .iter()
            .zip(&self.zscore.scale)
            .map(|(g, s)| g * (s + SCALE_OFFSET))
            .collect();
        Ok((phi, g))
    }

    fn misfit(&self, zt: &[f64]) -> Result<f64, HelmholtzError> {
        self.misfit.misfit(&self.zscore.denormalize(zt))
    }
}

/// F(z̃) = [Re d; Im d] of the model m(μ + s ⊙ z̃): the forward map the linearised mixture needs.
/// Its Jacobian comes from one factorisation and n_r adjoint solves per point.
pub struct KlForward<'a> {
    /// The simulator.
    pub op: &'a Helmholtz,
    /// The KL basis.
    pub kl: &'a KlBasis,
    /// The z-scoring of the training set.
    pub zscore: &'a ZScore,
}

impl<'a> KlForward<'a> {
    /// The map for a simulator, basis and z-scoring.
    pub fn new(op: &'a Helmholtz, kl: &'a KlBasis, zscore: &'a ZScore) -> Self {
        Self { op, kl, zscore }
    }

    /// The model m(μ + s ⊙ z̃) on the simulation grid.
    ///
    /// # Errors
    /// z̃ without the basis dimension.
    pub fn model(&self, zt: &[f64]) -> Result<Vec<f64>, ConfigError> {
        memprior_core::check_len("z̃", zt, self.kl.dim())?;
        let g = self.op.geometry();
        self.kl
            .reconstruct(&self.zscore.denormalize(zt), g.nx, g.nz)
    }
}

impl ForwardOperator for KlForward<'_> {
    type Error = HelmholtzError;
    fn input_dim(&self) -> usize {
        self.kl.dim()
    }
    fn output_dim(&self) -> usize {
        let g = self.op.geometry();
        2 * g.sources.len() * g.receivers.len()
    }
    fn apply(&self, zt: &[f64]) -> Result<Vec<f64>, HelmholtzError> {
        Ok(Helmholtz::data_to_real(&self.op.forward(&self.model(zt)?)?))
    }
}

impl JacobianAction for KlForward<'_> {
    fn jacobian_apply(&self, zt: &[f64], dzt: &[f64]) -> Result<Vec<f64>, HelmholtzError> {
        memprior_core::check_len("dz̃", dzt, self.kl.dim())?;
        let g = self.op.geometry();
        let dz: Vec<f64> = dzt
            .iter()
            .zip(&self.zscore.scale)
            .map(|(a, s)| a * s)
            .collect();
        let m0 = self.kl.background();
        let dm: Vec<f64> = self
            .kl
            .reconstruct(&dz, g.nx, g.nz)?
            .into_iter()
            .map(|v| v - m0)
            .collect();
        let state = self.op.solve(&self.model(zt)?)?;
        Ok(Helmholtz::data_to_real(&state.jacobian_apply(&dm)?))
    }
    fn jacobian_adjoint_apply(&self, zt: &[f64], dy: &[f64]) -> Result<Vec<f64>, HelmholtzError> {
        let g = self.op.geometry();
        let dd = self.op.data_from_real(dy)?;
        let state = self.op.solve(&self.model(zt)?)?;
        let gm = state.jacobian_adjoint_apply(&dd)?;
        let gz = self.kl.adjoint(&gm, g.nx, g.nz)?;
        Ok(gz
            .iter()
            .zip(&self.zscore.scale)
            .map(|(a, s)| a * s)
            .collect())
    }
    /// All d columns from one factorisation and n_r adjoint solves ([`operators::helmholtz::State::jacobian_dense`]),
    /// then Gᵀ and the scales: J̃ = [Re; Im](∂d/∂m) G diag(s).
    fn jacobian(&self, zt: &[f64]) -> Result<Mat<f64>, HelmholtzError> {
        Ok(self.jacobian_of(&self.op.solve(&self.model(zt)?)?)?)
    }
}

impl KlForward<'_> {
    /// J̃ from a factorised model.
    ///
    /// # Errors
    /// A basis whose grid differs from the simulator's.
    pub fn jacobian_of(
        &self,
        state: &operators::helmholtz::State<'_>,
    ) -> Result<Mat<f64>, ConfigError> {
        let g = self.op.geometry();
        let g2 = g.sources.len() * g.receivers.len();
        let mut out = Mat::<f64>::zeros(2 * g2, self.kl.dim());
        let mut failed = None;
        state.for_each_jacobian_row(|row, re, im| {
            for (part, v) in [re, im].into_iter().enumerate() {
                match self.kl.adjoint(v, g.nx, g.nz) {
                    Ok(gz) => {
                        for (k, x) in gz.iter().enumerate() {
                            out[(part * g2 + row, k)] = x * self.zscore.scale[k];
                        }
                    }
                    Err(e) => failed = Some(e),
                }
            }
        });
        failed.map_or(Ok(out), Err)
    }
}
