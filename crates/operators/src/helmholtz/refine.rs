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
use faer::sparse::SymbolicSparseColMat;
use faer::{MatMut, MatRef, c64};

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

/// A sparse matrix pattern stored by columns together with the index of its transpose, so that
/// both M z and Mᵀ z are gathers (one pass over the output, no scatter), for the values of any
/// matrix of that pattern. Built once per pattern.
#[derive(Debug, Clone)]
pub struct StoredPattern {
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
    /// Columns of Mᵀ (the rows of M): pointers, column indices of M, and the position of each
    /// entry in M's column storage.
    row_ptr: Vec<usize>,
    col_idx: Vec<usize>,
    pos: Vec<usize>,
}

impl StoredPattern {
    /// The pattern of a square matrix stored by columns.
    pub fn new(pattern: &SymbolicSparseColMat<usize>) -> Self {
        let n = pattern.nrows();
        let rows = pattern.row_idx();
        let col_ptr: Vec<usize> = (0..=pattern.ncols())
            .map(|c| {
                if c == pattern.ncols() {
                    rows.len()
                } else {
                    pattern.col_range(c).start
                }
            })
            .collect();
        let mut row_ptr = vec![0usize; n + 1];
        for &r in rows {
            row_ptr[r + 1] += 1;
        }
        for r in 0..n {
            row_ptr[r + 1] += row_ptr[r];
        }
        let mut fill = row_ptr.clone();
        let mut col_idx = vec![0usize; rows.len()];
        let mut pos = vec![0usize; rows.len()];
        for c in 0..pattern.ncols() {
            for p in pattern.col_range(c) {
                let r = rows[p];
                col_idx[fill[r]] = c;
                pos[fill[r]] = p;
                fill[r] += 1;
            }
        }
        Self {
            col_ptr,
            row_idx: rows.to_vec(),
            row_ptr,
            col_idx,
            pos,
        }
    }
}

/// The columns of `m` as slices (copied only when a column is strided).
fn contiguous_columns<'a>(m: MatRef<'a, c64>) -> Vec<std::borrow::Cow<'a, [c64]>> {
    (0..m.ncols())
        .map(|j| match m.col(j).try_as_col_major() {
            Some(c) => std::borrow::Cow::Borrowed(c.as_slice()),
            None => std::borrow::Cow::Owned(m.col(j).iter().copied().collect()),
        })
        .collect()
}

/// R = Y − M Z (or Y − Mᵀ Z when `transpose`) for the matrix of `pattern` with `values` (in its
/// column storage), column by column in one fused pass; returns the largest normwise backward
/// error ‖r_j‖∞ / (‖M‖∞ ‖z_j‖∞ + ‖y_j‖∞) over the columns (infinite when anything is not
/// finite).
pub fn residual(
    pattern: &StoredPattern,
    values: &[c64],
    m_norm: f64,
    transpose: bool,
    y: MatRef<'_, c64>,
    z: MatRef<'_, c64>,
    mut r: MatMut<'_, c64>,
) -> f64 {
    let (n, k) = (y.nrows(), y.ncols());
    // Largest squared moduli per column: one square root per column, not per entry.
    let (mut r2, mut z2, mut y2) = (vec![0.0f64; k], vec![0.0f64; k], vec![0.0f64; k]);
    let sq = |v: c64| v.re * v.re + v.im * v.im;
    // Blocks of rows, every column per block: the block's share of the pattern and values stays
    // in cache across the columns instead of being read once per column.
    const ROWS: usize = 512;
    // Contiguous columns (copies only if a caller passes strided views).
    let (ys, zs) = (contiguous_columns(y), contiguous_columns(z));
    let mut out = vec![c64::new(0.0, 0.0); ROWS];
    for i0 in (0..n).step_by(ROWS) {
        let i1 = (i0 + ROWS).min(n);
        for j in 0..k {
            let (yj, zj) = (&ys[j][..n], &zs[j][..n]);
            let (mut rm, mut zm, mut ym) = (r2[j], z2[j], y2[j]);
            for (i, o) in (i0..i1).zip(out.iter_mut()) {
                let mut acc = yj[i];
                ym = ym.max(sq(acc));
                if transpose {
                    // Row i of Mᵀ is column i of M.
                    let range = pattern.col_ptr[i]..pattern.col_ptr[i + 1];
                    for (&v, &q) in values[range.clone()].iter().zip(&pattern.row_idx[range]) {
                        acc -= v * zj[q];
                    }
                } else {
                    let range = pattern.row_ptr[i]..pattern.row_ptr[i + 1];
                    for (&p, &q) in pattern.pos[range.clone()]
                        .iter()
                        .zip(&pattern.col_idx[range])
                    {
                        acc -= values[p] * zj[q];
                    }
                }
                zm = zm.max(sq(zj[i]));
                rm = rm.max(sq(acc));
                *o = acc;
            }
            let mut rj = r.rb_mut().col_mut(j);
            for (i, &o) in (i0..i1).zip(out.iter()) {
                rj[i] = o;
            }
            (r2[j], z2[j], y2[j]) = (rm, zm, ym);
        }
    }
    let mut worst: f64 = 0.0;
    for j in 0..k {
        let eta = r2[j].sqrt() / (m_norm * z2[j].sqrt() + y2[j].sqrt());
        worst = worst.max(if eta.is_finite() { eta } else { f64::INFINITY });
    }
    worst
}

/// Refine Z, the result of one solve F Z = Y with the factors, towards M Z = Y (Mᵀ Z = Y when
/// `transpose`); `solve` applies F⁻¹ in place and `work` (the shape of Y) holds the residuals.
#[allow(clippy::too_many_arguments)]
pub fn refine(
    pattern: &StoredPattern,
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
        let stored = StoredPattern::new(&pattern);
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
                &stored,
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
                &stored,
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
    fn the_residual_of_a_nonsymmetric_matrix_and_of_its_transpose_match_dense_products() {
        // A 4 × 4 nonsymmetric pattern (row 3 has no entry in column 0, column 3 has one in
        // row 0), two right-hand sides, and every block boundary crossed by neither.
        let pattern = SymbolicSparseColMat::new_checked(
            4,
            4,
            vec![0, 2, 4, 6, 9],
            None,
            vec![0, 2, 1, 3, 0, 2, 0, 1, 3],
        );
        let values: Vec<c64> = (0..9)
            .map(|p| c64::new(1.0 + p as f64, 0.5 - 0.25 * p as f64))
            .collect();
        let mut dense = [[c64::new(0.0, 0.0); 4]; 4];
        for c in 0..4 {
            for p in pattern.col_range(c) {
                dense[pattern.row_idx()[p]][c] = values[p];
            }
        }
        let stored = StoredPattern::new(&pattern);
        let z = Mat::from_fn(4, 2, |i, j| c64::new(i as f64 - 1.5, 0.3 * j as f64 + 0.1));
        let y = Mat::from_fn(4, 2, |i, j| c64::new(0.2 * j as f64, i as f64));
        let mut r = Mat::<c64>::zeros(4, 2);
        for transpose in [false, true] {
            residual(
                &stored,
                &values,
                1.0,
                transpose,
                y.as_ref(),
                z.as_ref(),
                r.as_mut(),
            );
            for j in 0..2 {
                for i in 0..4 {
                    let mz: c64 = (0..4)
                        .map(|c| {
                            let a = if transpose { dense[c][i] } else { dense[i][c] };
                            a * z[(c, j)]
                        })
                        .sum();
                    let want = y[(i, j)] - mz;
                    assert!(
                        (r[(i, j)] - want).norm() < 1e-13,
                        "transpose {transpose}: ({i}, {j})"
                    );
                }
            }
        }
    }

    #[test]
    fn refinement_with_a_perturbed_inverse_converges_to_the_tolerance() {
        let (pattern, values) = tridiagonal();
        let m_norm = super::super::ldlt::matrix_inf_norm(&pattern, &values);
        let stored = StoredPattern::new(&pattern);
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
            &stored,
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
