//! The linearized posterior: a Gaussian mixture in closed form [eq:linearized-posterior].
//!
//! With F(x) ≈ F(x_n) + J_n (x − x_n) and r_n = y − F(x_n):
//!
//! Σ_n = (σ⁻² I + γ⁻² J_nᵀ J_n)⁻¹,  μ_n = x_n + γ⁻² Σ_n J_nᵀ r_n,
//! C_n = σ² J_n J_nᵀ + γ² I,  w_n ∝ N(y; F(x_n), C_n).
//!
//! Whichever of m × m (C_n) and d × d (A_n = Σ_n⁻¹) is smaller is factorised; the other quantities
//! follow from the Woodbury identity C⁻¹ = γ⁻² I − γ⁻⁴ J A⁻¹ Jᵀ and the determinant lemma
//! det C = γ^{2m} σ^{2d} det A, so nothing larger than min(m, d) is ever inverted.

use crate::GaussianLikelihood;
use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, Side};
use memprior_core::numerics::{logsumexp, softmax};
use memprior_core::{ConfigError, JacobianAction, error::positive};
use priors::TrainingSet;

/// How the mixture components are weighted.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum Weighting {
    /// w_n ∝ exp(−½ r_nᵀ C_n⁻¹ r_n − ½ log det C_n): the exact evidence of the linearised model.
    Evidence,
    /// w_n ∝ exp(−½ r_nᵀ C_n⁻¹ r_n): the quadratic form alone, as in the authors' code.
    #[strum(serialize = "quadratic")]
    QuadraticOnly,
}

memprior_core::named_enum!(Weighting, "weighting");

impl Weighting {
    /// Both weightings, evidence first.
    pub const ALL: [Weighting; 2] = [Weighting::Evidence, Weighting::QuadraticOnly];
}

/// One Gaussian component N(μ_n, Σ_n) of the linearised posterior.
#[derive(Debug, Clone)]
pub struct LinearizedComponent {
    /// Linearisation point x_n.
    pub center: Vec<f64>,
    /// Mean μ_n (a Gauss–Newton step from x_n).
    pub mean: Vec<f64>,
    /// Covariance Σ_n (d × d).
    pub covariance: Mat<f64>,
    /// r_nᵀ C_n⁻¹ r_n.
    pub quadratic_form: f64,
    /// log det C_n.
    pub log_det_data_covariance: f64,
    chol: Mat<f64>,
    log_det_cov: f64,
}

impl LinearizedComponent {
    /// log N(x; μ_n, Σ_n).
    pub fn log_density(&self, x: &[f64]) -> f64 {
        let d = self.mean.len();
        // Forward substitution L z = x − μ.
        let mut z = vec![0.0; d];
        for i in 0..d {
            let s = x[i] - self.mean[i] - (0..i).map(|k| self.chol[(i, k)] * z[k]).sum::<f64>();
            z[i] = s / self.chol[(i, i)];
        }
        let q: f64 = z.iter().map(|v| v * v).sum();
        -0.5 * q - 0.5 * self.log_det_cov - 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln()
    }

    /// Unnormalised log-weight under `weighting` (the common −(m/2) log 2π is dropped).
    pub fn log_weight(&self, weighting: Weighting) -> f64 {
        match weighting {
            Weighting::Evidence => -0.5 * self.quadratic_form - 0.5 * self.log_det_data_covariance,
            Weighting::QuadraticOnly => -0.5 * self.quadratic_form,
        }
    }
}

/// The Gaussian-mixture posterior obtained by linearising F around every training point.
#[derive(Debug, Clone)]
pub struct LinearizedPosterior {
    components: Vec<LinearizedComponent>,
}

fn log_det_from_cholesky(l: faer::MatRef<'_, f64>) -> f64 {
    (0..l.nrows()).map(|i| 2.0 * l[(i, i)].ln()).sum()
}

fn factor(field: &str, a: &Mat<f64>) -> Result<faer::linalg::solvers::Llt<f64>, ConfigError> {
    a.llt(Side::Lower).map_err(|e| {
        ConfigError::new(
            field,
            "must be symmetric positive definite (check sigma, gamma and the Jacobian for NaN)",
            format!("{e:?}"),
        )
    })
}

impl LinearizedPosterior {
    /// Linearise around every x_n of `training` for a memorized prior of bandwidth `sigma`.
    ///
    /// # Errors
    /// σ not > 0, dimensions that disagree, a Jacobian or residual F cannot evaluate, or a
    /// covariance that is not positive definite.
    pub fn new<F: JacobianAction>(
        lik: &GaussianLikelihood<F>,
        training: &TrainingSet,
        sigma: f64,
    ) -> Result<Self, F::Error> {
        positive("sigma", sigma)?;
        let op = lik.operator();
        if training.dim() != op.input_dim() {
            return Err(ConfigError::new(
                "training_points",
                format!(
                    "must have the operator's model dimension d = {}",
                    op.input_dim()
                ),
                format!("d = {}", training.dim()),
            )
            .into());
        }
        let components = training
            .iter()
            .map(|xn| {
                let (j, r) = (op.jacobian(xn)?, lik.residual(xn)?);
                if (j.nrows(), j.ncols()) != (r.len(), xn.len()) {
                    return Err(ConfigError::new(
                        "jacobian",
                        format!("must be m × d = {} × {}", r.len(), xn.len()),
                        format!("{} × {}", j.nrows(), j.ncols()),
                    )
                    .into());
                }
                Ok(Self::component(xn, &j, &r, sigma, lik.gamma())?)
            })
            .collect::<Result<Vec<_>, F::Error>>()?;
        Ok(Self { components })
    }

    fn component(
        xn: &[f64],
        j: &Mat<f64>,
        r: &[f64],
        sigma: f64,
        gamma: f64,
    ) -> Result<LinearizedComponent, ConfigError> {
        let (m, d) = (j.nrows(), j.ncols());
        let (s2, g2) = (sigma * sigma, gamma * gamma);
        let r_col = Mat::from_fn(m, 1, |i, _| r[i]);
        let (mean_shift, covariance, quadratic_form, log_det_c) = if m < d {
            // Data-space path: C = σ² J Jᵀ + γ² I (m × m).
            let c = Mat::from_fn(m, m, |a, b| {
                s2 * (0..d).map(|k| j[(a, k)] * j[(b, k)]).sum::<f64>()
                    + if a == b { g2 } else { 0.0 }
            });
            let llt = factor("linearized.data_covariance", &c)?;
            let cinv_r = llt.solve(&r_col);
            let quad = (0..m).map(|i| r[i] * cinv_r[(i, 0)]).sum::<f64>();
            let shift = j.transpose() * &cinv_r * faer::Scale(s2);
            let cinv_j = llt.solve(j);
            let jt_cinv_j = j.transpose() * &cinv_j;
            let cov = Mat::from_fn(
                d,
                d,
                |a, b| if a == b { s2 } else { 0.0 } - s2 * s2 * jt_cinv_j[(a, b)],
            );
            (shift, cov, quad, log_det_from_cholesky(llt.L()))
        } else {
            // Model-space path: A = σ⁻² I + γ⁻² JᵀJ (d × d), Woodbury and the determinant lemma.
            let jtj = j.transpose() * j;
            let a = Mat::from_fn(d, d, |p, q| {
                jtj[(p, q)] / g2 + if p == q { 1.0 / s2 } else { 0.0 }
            });
            let llt = factor("linearized.precision", &a)?;
            let jt_r = j.transpose() * &r_col;
            let u = llt.solve(&jt_r);
            let r2: f64 = r.iter().map(|v| v * v).sum();
            let quad = r2 / g2 - (0..d).map(|i| jt_r[(i, 0)] * u[(i, 0)]).sum::<f64>() / (g2 * g2);
            let log_det_c =
                m as f64 * g2.ln() + d as f64 * s2.ln() + log_det_from_cholesky(llt.L());
            (u * faer::Scale(1.0 / g2), llt.inverse(), quad, log_det_c)
        };
        // Symmetrise against rounding before factorising Σ for density evaluation.
        let cov = Mat::from_fn(d, d, |a, b| 0.5 * (covariance[(a, b)] + covariance[(b, a)]));
        let chol_llt = factor("linearized.covariance", &cov)?;
        let chol = chol_llt.L().to_owned();
        let log_det_cov = log_det_from_cholesky(chol.as_ref());
        Ok(LinearizedComponent {
            center: xn.to_vec(),
            mean: (0..d).map(|i| xn[i] + mean_shift[(i, 0)]).collect(),
            covariance: cov,
            quadratic_form,
            log_det_data_covariance: log_det_c,
            chol,
            log_det_cov,
        })
    }

    /// The components, in training-set order.
    pub fn components(&self) -> &[LinearizedComponent] {
        &self.components
    }

    /// Normalised component weights w_n under `weighting`.
    pub fn weights(&self, weighting: Weighting) -> Vec<f64> {
        softmax(
            &self
                .components
                .iter()
                .map(|c| c.log_weight(weighting))
                .collect::<Vec<_>>(),
        )
    }

    /// log p(x | y) ≈ log Σ_n w_n N(x; μ_n, Σ_n).
    pub fn log_density(&self, x: &[f64], weighting: Weighting) -> f64 {
        let lw: Vec<f64> = self
            .components
            .iter()
            .map(|c| c.log_weight(weighting))
            .collect();
        let lse = logsumexp(&lw);
        let terms: Vec<f64> = self
            .components
            .iter()
            .zip(&lw)
            .map(|(c, w)| w - lse + c.log_density(x))
            .collect();
        logsumexp(&terms)
    }
}
