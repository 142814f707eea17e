//! Forward operators F: R^d → R^m and their linearisation J(x) = ∂F/∂x.

use faer::Mat;

/// A forward operator y = F(x) from models x ∈ R^d to data y ∈ R^m.
pub trait ForwardOperator {
    /// Model dimension d.
    fn input_dim(&self) -> usize;
    /// Data dimension m (complex data count as two real numbers each).
    fn output_dim(&self) -> usize;
    /// y = F(x); `x` has length d, the result length m.
    fn apply(&self, x: &[f64]) -> Vec<f64>;
}

/// The Jacobian J(x) = ∂F/∂x as an action and its adjoint.
///
/// Implementations must satisfy the dot-product identity ⟨J δx, δy⟩ = ⟨δx, Jᵀ δy⟩.
pub trait JacobianAction: ForwardOperator {
    /// δy = J(x) δx (length m).
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Vec<f64>;
    /// δx = J(x)ᵀ δy (length d).
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Vec<f64>;

    /// The dense m × d Jacobian. The default applies J to the d unit vectors; operators with a
    /// closed form override it.
    fn jacobian(&self, x: &[f64]) -> Mat<f64> {
        dense_jacobian(self, x)
    }
}

/// Assemble the dense m × d Jacobian column by column from [`JacobianAction::jacobian_apply`].
pub fn dense_jacobian<F: JacobianAction + ?Sized>(op: &F, x: &[f64]) -> Mat<f64> {
    let (d, m) = (op.input_dim(), op.output_dim());
    let mut jac = Mat::zeros(m, d);
    let mut e = vec![0.0; d];
    for k in 0..d {
        e[k] = 1.0;
        let col = op.jacobian_apply(x, &e);
        for (i, v) in col.into_iter().enumerate() {
            jac[(i, k)] = v;
        }
        e[k] = 0.0;
    }
    jac
}
