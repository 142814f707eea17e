//! Forward operators F: R^d → R^m and their linearisation J(x) = ∂F/∂x.
//!
//! Every evaluation is fallible, as argmin's `Operator::apply → Result` is: a simulator rejects a
//! model outside its domain (a NaN or negative squared slowness, a singular system) with its own
//! error type instead of panicking, and every operator rejects a vector of the wrong length. The
//! error type converts from [`ConfigError`], so generic code (likelihoods, lookup weights,
//! linearised posteriors) reports its own validation failures and the operator's in one type.

use crate::ConfigError;
use faer::Mat;

/// A forward operator y = F(x) from models x ∈ R^d to data y ∈ R^m.
pub trait ForwardOperator {
    /// Why an evaluation failed. [`ConfigError`] for the analytic operators, which reject only
    /// malformed input; a simulator's own error (which also wraps a `ConfigError`) otherwise.
    type Error: std::error::Error + From<ConfigError> + Send + Sync + 'static;
    /// Model dimension d.
    fn input_dim(&self) -> usize;
    /// Data dimension m (complex data count as two real numbers each).
    fn output_dim(&self) -> usize;
    /// y = F(x); `x` has length d, the result length m.
    ///
    /// # Errors
    /// `x` of the wrong length, or a model the operator cannot evaluate.
    fn apply(&self, x: &[f64]) -> Result<Vec<f64>, Self::Error>;
}

/// Require `v.len() == len`: the check every operator makes of its vector arguments.
///
/// # Errors
/// Names `field` and both lengths.
pub fn check_len(field: &str, v: &[f64], len: usize) -> Result<(), ConfigError> {
    if v.len() == len {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must have length {len}"),
            format!("length {}", v.len()),
        ))
    }
}

/// The Jacobian J(x) = ∂F/∂x as an action and its adjoint.
///
/// Implementations must satisfy the dot-product identity ⟨J δx, δy⟩ = ⟨δx, Jᵀ δy⟩.
pub trait JacobianAction: ForwardOperator {
    /// δy = J(x) δx (length m).
    ///
    /// # Errors
    /// As [`ForwardOperator::apply`], and `dx` of the wrong length.
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Result<Vec<f64>, Self::Error>;
    /// δx = J(x)ᵀ δy (length d).
    ///
    /// # Errors
    /// As [`ForwardOperator::apply`], and `dy` of the wrong length.
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Result<Vec<f64>, Self::Error>;

    /// The dense m × d Jacobian. The default applies J to the d unit vectors; operators with a
    /// closed form override it.
    ///
    /// # Errors
    /// As [`ForwardOperator::apply`].
    fn jacobian(&self, x: &[f64]) -> Result<Mat<f64>, Self::Error> {
        dense_jacobian(self, x)
    }

    /// The Gaussian data misfit Φ(x) = ½‖y − F(x)‖²/γ² and its gradient −J(x)ᵀ(y − F(x))/γ²:
    /// what `samplers::GaussianLikelihood` evaluates. The default computes exactly that from
    /// [`ForwardOperator::apply`] and [`JacobianAction::jacobian_adjoint_apply`]; a simulator
    /// overrides it to share one factorisation between the two (and sums in its own order).
    ///
    /// # Errors
    /// As [`ForwardOperator::apply`], and F(x) of the wrong length.
    fn misfit_gradient_gaussian(
        &self,
        x: &[f64],
        y: &[f64],
        gamma: f64,
    ) -> Result<(f64, Vec<f64>), Self::Error> {
        let f = self.apply(x)?;
        check_len("F(x)", &f, y.len())?;
        let r: Vec<f64> = f.iter().zip(y).map(|(f, y)| y - f).collect();
        let g2 = gamma * gamma;
        let phi = 0.5 * r.iter().map(|v| v * v).sum::<f64>() / g2;
        let grad = self
            .jacobian_adjoint_apply(x, &r)?
            .into_iter()
            .map(|v| -v / g2)
            .collect();
        Ok((phi, grad))
    }

    /// Φ(x) of [`JacobianAction::misfit_gradient_gaussian`] alone; override when the value is
    /// cheaper than the gradient (a forward solve next to forward and adjoint solves).
    ///
    /// # Errors
    /// As [`JacobianAction::misfit_gradient_gaussian`].
    fn misfit_gaussian(&self, x: &[f64], y: &[f64], gamma: f64) -> Result<f64, Self::Error> {
        Ok(self.misfit_gradient_gaussian(x, y, gamma)?.0)
    }

    /// F(x), with each row i of J(x) handed to `row(i, J_i)` on the way: what a linearisation
    /// needs at a point. The default applies F and then [`JacobianAction::jacobian`]; a
    /// simulator overrides it to get both from one factorisation.
    ///
    /// # Errors
    /// As [`ForwardOperator::apply`].
    fn apply_and_jacobian_rows(
        &self,
        x: &[f64],
        row: &mut dyn FnMut(usize, &[f64]),
    ) -> Result<Vec<f64>, Self::Error> {
        let y = self.apply(x)?;
        let j = self.jacobian(x)?;
        let mut buf = vec![0.0; j.ncols()];
        for i in 0..j.nrows() {
            for (k, b) in buf.iter_mut().enumerate() {
                *b = j[(i, k)];
            }
            row(i, &buf);
        }
        Ok(y)
    }
}

impl<T: ForwardOperator + ?Sized> ForwardOperator for &T {
    type Error = T::Error;
    fn input_dim(&self) -> usize {
        (**self).input_dim()
    }
    fn output_dim(&self) -> usize {
        (**self).output_dim()
    }
    fn apply(&self, x: &[f64]) -> Result<Vec<f64>, Self::Error> {
        (**self).apply(x)
    }
}

/// A borrowed operator is the operator: every method forwards, the provided ones included (an
/// override of the operator's own would otherwise be lost behind the reference).
impl<T: JacobianAction + ?Sized> JacobianAction for &T {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Result<Vec<f64>, Self::Error> {
        (**self).jacobian_apply(x, dx)
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Result<Vec<f64>, Self::Error> {
        (**self).jacobian_adjoint_apply(x, dy)
    }
    fn jacobian(&self, x: &[f64]) -> Result<Mat<f64>, Self::Error> {
        (**self).jacobian(x)
    }
    fn misfit_gradient_gaussian(
        &self,
        x: &[f64],
        y: &[f64],
        gamma: f64,
    ) -> Result<(f64, Vec<f64>), Self::Error> {
        (**self).misfit_gradient_gaussian(x, y, gamma)
    }
    fn misfit_gaussian(&self, x: &[f64], y: &[f64], gamma: f64) -> Result<f64, Self::Error> {
        (**self).misfit_gaussian(x, y, gamma)
    }
    fn apply_and_jacobian_rows(
        &self,
        x: &[f64],
        row: &mut dyn FnMut(usize, &[f64]),
    ) -> Result<Vec<f64>, Self::Error> {
        (**self).apply_and_jacobian_rows(x, row)
    }
}

/// Assemble the dense m × d Jacobian column by column from [`JacobianAction::jacobian_apply`].
///
/// # Errors
/// The first error of a column.
pub fn dense_jacobian<F: JacobianAction + ?Sized>(op: &F, x: &[f64]) -> Result<Mat<f64>, F::Error> {
    let (d, m) = (op.input_dim(), op.output_dim());
    let mut jac = Mat::zeros(m, d);
    let mut e = vec![0.0; d];
    for k in 0..d {
        e[k] = 1.0;
        let col = op.jacobian_apply(x, &e)?;
        check_len("jacobian_apply output", &col, m)?;
        for (i, v) in col.into_iter().enumerate() {
            jac[(i, k)] = v;
        }
        e[k] = 0.0;
    }
    Ok(jac)
}

/// F(x) and the dense m × d Jacobian, the rows gathered from
/// [`JacobianAction::apply_and_jacobian_rows`] (one simulation for a simulator that overrides it).
///
/// # Errors
/// As [`JacobianAction::apply_and_jacobian_rows`].
pub fn apply_and_jacobian<F: JacobianAction + ?Sized>(
    op: &F,
    x: &[f64],
) -> Result<(Vec<f64>, Mat<f64>), F::Error> {
    let mut jac = Mat::zeros(op.output_dim(), op.input_dim());
    let y = op.apply_and_jacobian_rows(x, &mut |i, row| {
        for (k, v) in row.iter().enumerate() {
            jac[(i, k)] = *v;
        }
    })?;
    Ok((y, jac))
}

/// The data term Φ(x) = ½‖F(x) − y‖²/γ² (the negative log-likelihood up to a constant) and its
/// gradient, in whatever coordinates a sampler moves in: the one misfit DPS and the reference
/// posteriors evaluate. `samplers::GaussianLikelihood` implements it for any [`JacobianAction`]
/// through the operator's [`JacobianAction::misfit_gradient_gaussian`], which a simulator
/// overrides to evaluate Φ and ∇Φ from one factorisation (the FWI map in KL coordinates passes it
/// through its reparameterisations).
pub trait Misfit {
    /// Why an evaluation can fail (e.g. a model outside the solver's domain).
    type Error;
    /// Φ(x) and ∇Φ(x).
    ///
    /// # Errors
    /// When Φ cannot be evaluated at x.
    fn misfit_gradient(&self, x: &[f64]) -> Result<(f64, Vec<f64>), Self::Error>;

    /// Φ(x) alone (by default through [`Misfit::misfit_gradient`]; override when the value is
    /// cheaper than the gradient, as a forward solve is next to forward and adjoint solves).
    ///
    /// # Errors
    /// When Φ cannot be evaluated at x.
    fn misfit(&self, x: &[f64]) -> Result<f64, Self::Error> {
        Ok(self.misfit_gradient(x)?.0)
    }
}
