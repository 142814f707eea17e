//! Reparameterisations as operators: a simulator composed with the map from the coordinates a
//! sampler moves in to the model it simulates, each part with its Jacobian and adjoint, so that
//! the chain rule is the operators' composition and not code written again per problem.
//!
//! The FWI map of the paper reads `ZScored<Affine<Helmholtz, KlMap>>`: z̃ ↦ z = μ + s ⊙ z̃ (the
//! z-scoring of the training set, what the network sees), z ↦ m = m̄ + G z (the KL basis on the
//! simulation grid, `priors::KlMap`), m ↦ [Re d; Im d] (the simulator). Its likelihood is the
//! generic `samplers::GaussianLikelihood`; the misfit and linearisation hooks of
//! [`JacobianAction`] pass through both layers, so the simulator's one-factorisation paths are
//! kept.

use memprior_core::{ConfigError, ForwardOperator, JacobianAction, apply_and_jacobian, check_len};
use serde::{Deserialize, Serialize};

/// F ∘ M for an affine map M (m = m̄ + G z): apply M, then F. J = J_F(M z) G, Jᵀ = Gᵀ J_Fᵀ.
#[derive(Debug, Clone)]
pub struct Affine<F, M> {
    inner: F,
    map: M,
}

impl<F: ForwardOperator, M: ForwardOperator> Affine<F, M> {
    /// F ∘ M; M's output dimension must be F's input dimension.
    ///
    /// # Errors
    /// The dimensions do not chain.
    pub fn new(inner: F, map: M) -> Result<Self, ConfigError> {
        if map.output_dim() != inner.input_dim() {
            return Err(ConfigError::new(
                "map",
                format!(
                    "must map onto the operator's {} model values",
                    inner.input_dim()
                ),
                format!("{} values", map.output_dim()),
            ));
        }
        Ok(Self { inner, map })
    }

    /// The outer operator F.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The map M.
    pub fn map(&self) -> &M {
        &self.map
    }
}

impl<F, M> ForwardOperator for Affine<F, M>
where
    F: ForwardOperator,
    M: ForwardOperator,
    F::Error: From<M::Error>,
{
    type Error = F::Error;
    fn input_dim(&self) -> usize {
        self.map.input_dim()
    }
    fn output_dim(&self) -> usize {
        self.inner.output_dim()
    }
    fn apply(&self, z: &[f64]) -> Result<Vec<f64>, F::Error> {
        self.inner.apply(&self.map.apply(z)?)
    }
}

impl<F, M> JacobianAction for Affine<F, M>
where
    F: JacobianAction,
    M: JacobianAction,
    F::Error: From<M::Error>,
{
    fn jacobian_apply(&self, z: &[f64], dz: &[f64]) -> Result<Vec<f64>, F::Error> {
        let dm = self.map.jacobian_apply(z, dz)?;
        self.inner.jacobian_apply(&self.map.apply(z)?, &dm)
    }
    fn jacobian_adjoint_apply(&self, z: &[f64], dy: &[f64]) -> Result<Vec<f64>, F::Error> {
        let gm = self.inner.jacobian_adjoint_apply(&self.map.apply(z)?, dy)?;
        Ok(self.map.jacobian_adjoint_apply(z, &gm)?)
    }
    /// The rows of J_F (one simulation for all of them) through Gᵀ.
    fn jacobian(&self, z: &[f64]) -> Result<faer::Mat<f64>, F::Error> {
        Ok(apply_and_jacobian(self, z)?.1)
    }
    fn misfit_gradient_gaussian(
        &self,
        z: &[f64],
        y: &[f64],
        gamma: f64,
    ) -> Result<(f64, Vec<f64>), F::Error> {
        let (phi, gm) = self
            .inner
            .misfit_gradient_gaussian(&self.map.apply(z)?, y, gamma)?;
        Ok((phi, self.map.jacobian_adjoint_apply(z, &gm)?))
    }
    fn misfit_gaussian(&self, z: &[f64], y: &[f64], gamma: f64) -> Result<f64, F::Error> {
        self.inner.misfit_gaussian(&self.map.apply(z)?, y, gamma)
    }
    fn apply_and_jacobian_rows(
        &self,
        z: &[f64],
        row: &mut dyn FnMut(usize, &[f64]),
    ) -> Result<Vec<f64>, F::Error> {
        let mut failed: Option<M::Error> = None;
        let y = self
            .inner
            .apply_and_jacobian_rows(&self.map.apply(z)?, &mut |i, row_m| {
                if failed.is_some() {
                    return;
                }
                match self.map.jacobian_adjoint_apply(z, row_m) {
                    Ok(row_z) => row(i, &row_z),
                    Err(e) => failed = Some(e),
                }
            })?;
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(y),
        }
    }
}

/// Per-dimension z-scoring z̃ = (z − μ)/s of a training set (what the network sees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    /// Per-dimension mean μ.
    pub mean: Vec<f64>,
    /// Per-dimension standard deviation s (population, floored at 1e-12).
    pub scale: Vec<f64>,
}

impl ZScore {
    /// Fit μ and s to a set of coefficient vectors.
    ///
    /// # Errors
    /// An empty set.
    pub fn fit(set: &[Vec<f64>]) -> Result<Self, ConfigError> {
        if set.is_empty() {
            return Err(ConfigError::new(
                "training set",
                "must hold at least one model",
                "an empty set",
            ));
        }
        let d = set[0].len();
        let n = set.len() as f64;
        let mean: Vec<f64> = (0..d)
            .map(|k| set.iter().map(|z| z[k]).sum::<f64>() / n)
            .collect();
        let scale = (0..d)
            .map(|k| {
                (set.iter().map(|z| (z[k] - mean[k]).powi(2)).sum::<f64>() / n)
                    .sqrt()
                    .max(1e-12)
            })
            .collect();
        Ok(Self { mean, scale })
    }

    /// z̃ = (z − μ)/s.
    pub fn normalize(&self, z: &[f64]) -> Vec<f64> {
        z.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((v, m), s)| (v - m) / s)
            .collect()
    }

    /// z = μ + s ⊙ z̃.
    pub fn denormalize(&self, zt: &[f64]) -> Vec<f64> {
        zt.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((v, m), s)| m + s * v)
            .collect()
    }
}

/// F(μ + s ⊙ z̃): an operator in z-scored coordinates. J̃ = J_F diag(s), J̃ᵀ = diag(s) J_Fᵀ.
///
/// The paper's DPS gradient is not J̃ᵀ's: it multiplies ∇_z Φ by s + 10⁻⁵, not by s. That offset
/// is [`ZScored::with_gradient_offset`] and enters only
/// [`JacobianAction::misfit_gradient_gaussian`], so the Jacobian and its adjoint stay exact; with
/// an offset the misfit gradient is not −J̃ᵀ r/γ².
#[derive(Debug, Clone)]
pub struct ZScored<F> {
    inner: F,
    zscore: ZScore,
    gradient_offset: f64,
}

impl<F: ForwardOperator> ZScored<F> {
    /// F in the coordinates of `zscore` (one mean and scale per input of F).
    ///
    /// # Errors
    /// A z-scoring of another dimension than F's input.
    pub fn new(inner: F, zscore: ZScore) -> Result<Self, ConfigError> {
        let d = inner.input_dim();
        check_len("z-score mean", &zscore.mean, d)?;
        check_len("z-score scale", &zscore.scale, d)?;
        Ok(Self {
            inner,
            zscore,
            gradient_offset: 0.0,
        })
    }

    /// The misfit gradient multiplied by s + `offset` instead of s (the paper's DPS: 10⁻⁵).
    ///
    /// # Errors
    /// A negative or non-finite offset.
    pub fn with_gradient_offset(mut self, offset: f64) -> Result<Self, ConfigError> {
        if !(offset.is_finite() && offset >= 0.0) {
            return Err(ConfigError::new(
                "gradient offset",
                "must be a finite number ≥ 0",
                offset,
            ));
        }
        self.gradient_offset = offset;
        Ok(self)
    }

    /// The operator in raw coordinates.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The z-scoring.
    pub fn zscore(&self) -> &ZScore {
        &self.zscore
    }

    fn raw(&self, zt: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("z̃", zt, self.zscore.mean.len())?;
        Ok(self.zscore.denormalize(zt))
    }

    fn scaled(&self, v: Vec<f64>) -> Vec<f64> {
        v.iter()
            .zip(&self.zscore.scale)
            .map(|(a, s)| a * s)
            .collect()
    }
}

impl<F: ForwardOperator> ForwardOperator for ZScored<F> {
    type Error = F::Error;
    fn input_dim(&self) -> usize {
        self.inner.input_dim()
    }
    fn output_dim(&self) -> usize {
        self.inner.output_dim()
    }
    fn apply(&self, zt: &[f64]) -> Result<Vec<f64>, F::Error> {
        self.inner.apply(&self.raw(zt)?)
    }
}

impl<F: JacobianAction> JacobianAction for ZScored<F> {
    fn jacobian_apply(&self, zt: &[f64], dzt: &[f64]) -> Result<Vec<f64>, F::Error> {
        check_len("dz̃", dzt, self.zscore.scale.len())?;
        let dz = self.scaled(dzt.to_vec());
        self.inner.jacobian_apply(&self.raw(zt)?, &dz)
    }
    fn jacobian_adjoint_apply(&self, zt: &[f64], dy: &[f64]) -> Result<Vec<f64>, F::Error> {
        let gz = self.inner.jacobian_adjoint_apply(&self.raw(zt)?, dy)?;
        Ok(self.scaled(gz))
    }
    /// The rows of the inner Jacobian (one simulation for all of them) times s.
    fn jacobian(&self, zt: &[f64]) -> Result<faer::Mat<f64>, F::Error> {
        Ok(apply_and_jacobian(self, zt)?.1)
    }
    fn misfit_gradient_gaussian(
        &self,
        zt: &[f64],
        y: &[f64],
        gamma: f64,
    ) -> Result<(f64, Vec<f64>), F::Error> {
        let (phi, gz) = self
            .inner
            .misfit_gradient_gaussian(&self.raw(zt)?, y, gamma)?;
        let g = gz
            .iter()
            .zip(&self.zscore.scale)
            .map(|(g, s)| g * (s + self.gradient_offset))
            .collect();
        Ok((phi, g))
    }
    fn misfit_gaussian(&self, zt: &[f64], y: &[f64], gamma: f64) -> Result<f64, F::Error> {
        self.inner.misfit_gaussian(&self.raw(zt)?, y, gamma)
    }
    fn apply_and_jacobian_rows(
        &self,
        zt: &[f64],
        row: &mut dyn FnMut(usize, &[f64]),
    ) -> Result<Vec<f64>, F::Error> {
        let s = &self.zscore.scale;
        let mut buf = vec![0.0; s.len()];
        self.inner
            .apply_and_jacobian_rows(&self.raw(zt)?, &mut |i, r| {
                for ((b, x), sk) in buf.iter_mut().zip(r).zip(s) {
                    *b = x * sk;
                }
                row(i, &buf);
            })
    }
}
