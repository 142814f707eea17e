//! Iterative refinement in f64 of the solves with the LDLᵀ factors (double or single precision).
//!
//! The LDLᵀ factors F ≈ M = S A were computed without pivoting, possibly in complex f32. A solve
//! with F alone is accurate to the factors' backward error (about 1e−13 for the f64 factors here,
//! about 1e−6 for the f32 ones). Classical iterative refinement (Wilkinson; Higham, *Accuracy and
//! Stability*, ch. 12) recovers the accuracy of a backward-stable f64 solve: with residuals
//! computed in f64 against the stored matrix,
//!
//! r_i = y − M z_i,  z_{i+1} = z_i + F⁻¹ r_i,
//!
//! and the error contracts by about κ(M) · η(F) per step (η of the factors the correction is
//! solved with; a step that makes it worse is kept, and the caller's fallback threshold, far
//! above the target, catches a factorisation that refinement cannot rescue). Each solve stops when the normwise
//! backward error η = ‖r‖∞ / (‖M‖∞ ‖z‖∞ + ‖y‖∞) of every column is at most
//! [`Refinement::tolerance`], when a step no longer halves it, or after
//! [`Refinement::max_steps`] steps.
//!
//! The residual is taken against M for A solves and against Mᵀ for Aᴴ solves (the factors are
//! symmetric; the stored S A is symmetric only up to rounding), so refined forward and adjoint
//! solves converge to A⁻¹ and A⁻ᴴ of the one assembled matrix, and the Jacobian and its adjoint
//! agree to rounding.

use faer::reborrow::{Reborrow, ReborrowMut};
use faer::sparse::linalg::matmul::sparse_dense_matmul;
use faer::sparse::{SparseColMatRef, SymbolicSparseColMat};
use faer::{Accum, MatMut, MatRef, Par, c64};

/// When a refined solve stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refinement {
    /// Target normwise backward error of every column.
    pub tolerance: f64,
    /// Refinement steps at most (each one solve with the factors and one residual).
    pub max_steps: usize,
}

impl Refinement {
    /// For f64 factors: the backward error of a pivoted f64 solve, in at most two steps. The
    /// correction solves use an f32 copy of the factors (half the memory traffic): a correction
    /// needs only a few correct digits, since it multiplies a residual already near 1e−14.
    pub const F64: Self = Self {
        tolerance: 4.0 * f64::EPSILON,
        max_steps: 2,
    };
    /// For complex-f32 factors: the same target, in at most eight steps (each gains about the
    /// f32 factors' accuracy, some six digits, less the conditioning).
    pub const F32: Self = Self {
        tolerance: 4.0 * f64::EPSILON,
        max_steps: 8,
    };
}

/// What one refined block solve did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineReport {
    /// Largest backward error over the columns after the solve with the factors alone.
    pub initial: f64,
    /// Largest backward error over the columns when refinement stopped.
    pub last: f64,
    /// Refinement steps taken.
    pub steps: usize,
}

/// R = Y − M Z (or Y − Mᵀ Z when `transpose`) for the matrix stored by columns (`pattern`,
/// `values`), column by column; returns the largest normwise backward error
/// ‖r_j‖∞ / (‖M‖∞ ‖z_j‖∞ + ‖y_j‖∞) over the columns (infinite when anything is not finite).
pub fn residual(
    pattern: &SymbolicSparseColMat<usize>,
    values: &[c64],
    m_norm: f64,
    transpose: bool,
    y: MatRef<'_, c64>,
    z: MatRef<'_, c64>,
    mut r: MatMut<'_, c64>,
) -> f64 {
    let m = SparseColMatRef::new(pattern.as_ref(), values);
    r.copy_from(y);
    let minus_one = c64::new(-1.0, 0.0);
    if transpose {
        sparse_dense_matmul(
            r.rb_mut(),
            Accum::Add,
            m.transpose(),
            z,
            minus_one,
            Par::Seq,
        );
    } else {
        sparse_dense_matmul(r.rb_mut(), Accum::Add, m, z, minus_one, Par::Seq);
    }
    // Largest moduli through their squares: one square root per column, not per entry.
    let max_modulus = |c: faer::ColRef<'_, c64>| {
        let mut best = 0.0f64;
        for i in 0..c.nrows() {
            let v = c[i];
            best = best.max(v.re * v.re + v.im * v.im);
        }
        best.sqrt()
    };
    let mut worst: f64 = 0.0;
    for j in 0..y.ncols() {
        let eta =
            max_modulus(r.rb().col(j)) / (m_norm * max_modulus(z.col(j)) + max_modulus(y.col(j)));
        worst = worst.max(if eta.is_finite() { eta } else { f64::INFINITY });
    }
    worst
}

/// Refine Z, the result of one solve F Z = Y with the factors, towards M Z = Y (Mᵀ Z = Y when
/// `transpose`); `solve` applies F⁻¹ in place and `work` (the shape of Y) holds the residuals.
#[allow(clippy::too_many_arguments)]
pub fn refine(
    pattern: &SymbolicSparseColMat<usize>,
    values: &[c64],
    m_norm: f64,
    transpose: bool,
    policy: Refinement,
    y: MatRef<'_, c64>,
    mut z: MatMut<'_, c64>,
    mut work: MatMut<'_, c64>,
    mut solve: impl FnMut(MatMut<'_, c64>),
) -> RefineReport {
    let initial = residual(pattern, values, m_norm, transpose, y, z.rb(), work.rb_mut());
    let (mut last, mut steps) = (initial, 0);
    while !(last <= policy.tolerance) && steps < policy.max_steps && last.is_finite() {
        solve(work.rb_mut());
        for j in 0..z.ncols() {
            let dz = work.rb().col(j);
            let mut zj = z.rb_mut().col_mut(j);
            for c in 0..zj.nrows() {
                zj[c] += dz[c];
            }
        }
        let eta = residual(pattern, values, m_norm, transpose, y, z.rb(), work.rb_mut());
        steps += 1;
        let stalled = !(eta <= 0.5 * last);
        last = eta;
        if stalled {
            break;
        }
    }
    RefineReport {
        initial,
        last,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// A 3 × 3 complex symmetric tridiagonal matrix, stored by columns.
    fn tridiagonal() -> (SymbolicSparseColMat<usize>, Vec<c64>) {
        let pattern = SymbolicSparseColMat::new_checked(
            3,
            3,
            vec![0, 2, 5, 7],
            None,
            vec![0, 1, 0, 1, 2, 1, 2],
        );
        let d = c64::new(8.0, 1.0);
        let o = c64::new(-1.0, 0.5);
        (pattern, vec![d, o, o, d, o, o, d])
    }

    #[test]
    fn the_residual_of_the_exact_solution_is_zero_and_of_zero_is_the_right_hand_side() {
        let (pattern, values) = tridiagonal();
        let m_norm = super::super::ldlt::matrix_inf_norm(&pattern, &values);
        let z = Mat::from_fn(3, 1, |i, _| c64::new(1.0 + i as f64, -(i as f64)));
        let y = Mat::from_fn(3, 1, |i, _| {
            (0..3)
                .map(|c| {
                    pattern
                        .col_range(c)
                        .filter(|&p| pattern.row_idx()[p] == i)
                        .map(|p| values[p] * z[(c, 0)])
                        .sum::<c64>()
                })
                .sum::<c64>()
        });
        let mut r = Mat::<c64>::zeros(3, 1);
        for transpose in [false, true] {
            let eta = residual(
                &pattern,
                &values,
                m_norm,
                transpose,
                y.as_ref(),
                z.as_ref(),
                r.as_mut(),
            );
            assert!(eta < 1e-16, "{eta:e}");
            let zero = Mat::<c64>::zeros(3, 1);
            let eta = residual(
                &pattern,
                &values,
                m_norm,
                transpose,
                y.as_ref(),
                zero.as_ref(),
                r.as_mut(),
            );
            assert!((eta - 1.0).abs() < 1e-15, "η(0) = ‖y‖/‖y‖ = 1, got {eta:e}");
            for i in 0..3 {
                assert_eq!(r[(i, 0)], y[(i, 0)]);
            }
        }
    }

    #[test]
    fn refinement_with_a_perturbed_inverse_converges_to_the_tolerance() {
        let (pattern, values) = tridiagonal();
        let m_norm = super::super::ldlt::matrix_inf_norm(&pattern, &values);
        // F⁻¹ ≈ M⁻¹: the diagonal preconditioner D⁻¹ contracts the error of this diagonally
        // dominant M by about ‖I − D⁻¹M‖∞ = 2 |o| / |d| ≈ 0.28 per step.
        let d_inv = c64::new(1.0, 0.0) / values[0];
        let y = Mat::from_fn(3, 1, |i, _| c64::new(1.0, i as f64));
        let mut z = Mat::from_fn(3, 1, |i, _| y[(i, 0)] * d_inv);
        let mut work = Mat::<c64>::zeros(3, 1);
        let policy = Refinement {
            tolerance: 1e-14,
            max_steps: 200,
        };
        let report = refine(
            &pattern,
            &values,
            m_norm,
            false,
            policy,
            y.as_ref(),
            z.as_mut(),
            work.as_mut(),
            |mut r| {
                for i in 0..r.nrows() {
                    r[(i, 0)] *= d_inv;
                }
            },
        );
        assert!(report.initial > 1e-3, "{report:?}");
        assert!(report.last <= 1e-14, "{report:?}");
        assert!(report.steps > 5 && report.steps < 200, "{report:?}");
    }
}
