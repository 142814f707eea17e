//! Forward operators with exact Jacobians.
//!
//! The stylized problem of the paper uses two analytic operators (see `STYLIZED.md`):
//!
//! - [`Cubic1d`]: F(x) = x + a x³, F'(x) = 1 + 3a x² (a = 0.3);
//! - [`Quadratic2d`]: F(x₁, x₂) = (x₁ + b x₁x₂, x₂ + c x₁²) with J = [[1 + b x₂, b x₁], [2c x₁, 1]]
//!   (b = 0.3, c = 0.2), not globally injective.
//!
//! - [`LinearOperator`]: F(x) = A x with a dense matrix, the case where the linearised posterior
//!   is exact (used to test posteriors and samplers against closed forms).
//!
//! - [`helmholtz::Helmholtz`]: the frequency-domain 2-D Helmholtz operator with PML of the FWI
//!   experiment (`FWI.md` §3), with adjoint-state Jacobian actions and misfit gradient.
//!
//! All implement [`ForwardOperator`] and [`JacobianAction`], so every posterior in `samplers`
//! works on either. [`reparam`] composes them with the maps to a sampler's coordinates (an
//! affine map such as the KL basis, a z-scoring).

pub mod helmholtz;
pub mod reparam;

use faer::Mat;
use memprior_core::{ConfigError, ForwardOperator, JacobianAction, check_len};

/// F(x) = x + a x³ on R.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cubic1d {
    /// Cubic coefficient a.
    pub a: f64,
}

impl Default for Cubic1d {
    /// The paper's a = 0.3.
    fn default() -> Self {
        Self { a: 0.3 }
    }
}

impl Cubic1d {
    /// F'(x) = 1 + 3a x².
    pub fn derivative(&self, x: f64) -> f64 {
        1.0 + 3.0 * self.a * x * x
    }
}

impl ForwardOperator for Cubic1d {
    type Error = ConfigError;
    fn input_dim(&self) -> usize {
        1
    }
    fn output_dim(&self) -> usize {
        1
    }
    fn apply(&self, x: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("x", x, 1)?;
        Ok(vec![x[0] + self.a * x[0].powi(3)])
    }
}

impl JacobianAction for Cubic1d {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("x", x, 1)?;
        check_len("dx", dx, 1)?;
        Ok(vec![self.derivative(x[0]) * dx[0]])
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("x", x, 1)?;
        check_len("dy", dy, 1)?;
        Ok(vec![self.derivative(x[0]) * dy[0]])
    }
    fn jacobian(&self, x: &[f64]) -> Result<Mat<f64>, ConfigError> {
        check_len("x", x, 1)?;
        Ok(Mat::from_fn(1, 1, |_, _| self.derivative(x[0])))
    }
}

/// F(x₁, x₂) = (x₁ + b x₁x₂, x₂ + c x₁²) on R².
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quadratic2d {
    /// Coupling b of x₁x₂ in the first output.
    pub b: f64,
    /// Coefficient c of x₁² in the second output.
    pub c: f64,
}

impl Default for Quadratic2d {
    /// The paper's b = 0.3, c = 0.2.
    fn default() -> Self {
        Self { b: 0.3, c: 0.2 }
    }
}

impl Quadratic2d {
    fn jac(&self, x: &[f64]) -> Result<[[f64; 2]; 2], ConfigError> {
        check_len("x", x, 2)?;
        Ok([
            [1.0 + self.b * x[1], self.b * x[0]],
            [2.0 * self.c * x[0], 1.0],
        ])
    }
}

impl ForwardOperator for Quadratic2d {
    type Error = ConfigError;
    fn input_dim(&self) -> usize {
        2
    }
    fn output_dim(&self) -> usize {
        2
    }
    fn apply(&self, x: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("x", x, 2)?;
        Ok(vec![
            x[0] + self.b * x[0] * x[1],
            x[1] + self.c * x[0] * x[0],
        ])
    }
}

impl JacobianAction for Quadratic2d {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("dx", dx, 2)?;
        let j = self.jac(x)?;
        Ok(vec![
            j[0][0] * dx[0] + j[0][1] * dx[1],
            j[1][0] * dx[0] + j[1][1] * dx[1],
        ])
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("dy", dy, 2)?;
        let j = self.jac(x)?;
        Ok(vec![
            j[0][0] * dy[0] + j[1][0] * dy[1],
            j[0][1] * dy[0] + j[1][1] * dy[1],
        ])
    }
    fn jacobian(&self, x: &[f64]) -> Result<Mat<f64>, ConfigError> {
        let j = self.jac(x)?;
        Ok(Mat::from_fn(2, 2, |r, c| j[r][c]))
    }
}

/// F(x) = A x with a dense m × d matrix A.
#[derive(Debug, Clone)]
pub struct LinearOperator {
    matrix: Mat<f64>,
}

impl LinearOperator {
    /// The operator of matrix `a` (m × d).
    pub fn new(a: Mat<f64>) -> Self {
        Self { matrix: a }
    }

    /// The matrix A.
    pub fn matrix(&self) -> &Mat<f64> {
        &self.matrix
    }
}

impl ForwardOperator for LinearOperator {
    type Error = ConfigError;
    fn input_dim(&self) -> usize {
        self.matrix.ncols()
    }
    fn output_dim(&self) -> usize {
        self.matrix.nrows()
    }
    fn apply(&self, x: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("x", x, self.matrix.ncols())?;
        Ok((0..self.matrix.nrows())
            .map(|i| (0..x.len()).map(|k| self.matrix[(i, k)] * x[k]).sum())
            .collect())
    }
}

impl JacobianAction for LinearOperator {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("x", x, self.matrix.ncols())?;
        check_len("dx", dx, self.matrix.ncols())?;
        self.apply(dx)
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Result<Vec<f64>, ConfigError> {
        check_len("x", x, self.matrix.ncols())?;
        check_len("dy", dy, self.matrix.nrows())?;
        Ok((0..self.matrix.ncols())
            .map(|k| (0..dy.len()).map(|i| self.matrix[(i, k)] * dy[i]).sum())
            .collect())
    }
    fn jacobian(&self, x: &[f64]) -> Result<Mat<f64>, ConfigError> {
        check_len("x", x, self.matrix.ncols())?;
        Ok(self.matrix.clone())
    }
}
