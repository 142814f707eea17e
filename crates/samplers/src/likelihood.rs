//! The Gaussian likelihood p(y | x) ∝ exp(−‖F(x) − y‖² / (2γ²)).

use memprior_core::{ConfigError, ForwardOperator, JacobianAction, Misfit, error::positive};

/// Observed data y and noise level γ for an operator F.
#[derive(Debug, Clone)]
pub struct GaussianLikelihood<F> {
    op: F,
    y: Vec<f64>,
    gamma: f64,
}

impl<F: ForwardOperator> GaussianLikelihood<F> {
    /// Validate γ > 0, y finite and of the operator's data dimension.
    pub fn new(op: F, y: Vec<f64>, gamma: f64) -> Result<Self, ConfigError> {
        positive("gamma", gamma)?;
        if y.len() != op.output_dim() {
            return Err(ConfigError::new(
                "y",
                format!(
                    "must have the operator's data dimension m = {}",
                    op.output_dim()
                ),
                format!("length {}", y.len()),
            ));
        }
        memprior_core::error::all_finite("y", &y)?;
        Ok(Self { op, y, gamma })
    }

    /// The forward operator.
    pub fn operator(&self) -> &F {
        &self.op
    }

    /// The observed data y.
    pub fn data(&self) -> &[f64] {
        &self.y
    }

    /// The noise level γ.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// Residual r = y − F(x).
    ///
    /// # Errors
    /// When F cannot be evaluated at x, or returns data of the wrong length.
    pub fn residual(&self, x: &[f64]) -> Result<Vec<f64>, F::Error> {
        let f = self.op.apply(x)?;
        memprior_core::check_len("F(x)", &f, self.y.len())?;
        Ok(f.iter().zip(&self.y).map(|(f, y)| y - f).collect())
    }

    /// Unnormalised log-likelihood −‖F(x) − y‖² / (2γ²).
    ///
    /// # Errors
    /// As [`GaussianLikelihood::residual`].
    pub fn log_likelihood(&self, x: &[f64]) -> Result<f64, F::Error> {
        let r2: f64 = self.residual(x)?.iter().map(|r| r * r).sum();
        Ok(-r2 / (2.0 * self.gamma * self.gamma))
    }
}

/// Φ(x) = ½‖y − F(x)‖²/γ² and its gradient, by the operator's own
/// [`JacobianAction::misfit_gradient_gaussian`] (one factorisation for both, for a simulator).
impl<F: JacobianAction> Misfit for GaussianLikelihood<F> {
    type Error = F::Error;
    fn misfit_gradient(&self, x: &[f64]) -> Result<(f64, Vec<f64>), Self::Error> {
        self.op.misfit_gradient_gaussian(x, &self.y, self.gamma)
    }

    fn misfit(&self, x: &[f64]) -> Result<f64, Self::Error> {
        self.op.misfit_gaussian(x, &self.y, self.gamma)
    }
}
