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

use faer::c64;
use faer::sparse::SymbolicSparseColMat;

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

impl RefineReport {
    /// The report of an empty block (no unknowns or no columns).
    pub const NOTHING: Self = Self {
        initial: 0.0,
        last: 0.0,
        steps: 0,
    };
}

/// A square sparse matrix's pattern by rows in a symmetric renumbering i = perm_inv[q] (the
/// factor's order), for the rows of M and of Mᵀ, with each entry's position in M's column
/// storage: M z and Mᵀ z on a row-major block in that numbering are gathers of whole rows of z
/// (the k right-hand sides of one unknown, adjacent), for the values of any matrix of the
/// pattern. Within a row the entries keep M's original ascending order. Built once per pattern.
#[derive(Debug, Clone)]
pub struct PermutedPattern {
    /// Rows of M: pointers, permuted column indices, positions in the values.
    ptr: Vec<usize>,
    cols: Vec<usize>,
    pos: Vec<usize>,
    /// Rows of Mᵀ (the columns of M), likewise.
    ptr_t: Vec<usize>,
    cols_t: Vec<usize>,
    pos_t: Vec<usize>,
}

impl PermutedPattern {
    /// The pattern of a square matrix stored by columns, renumbered by `perm` (`perm[new] =
    /// old`) with inverse `perm_inv`.
    pub fn new(pattern: &SymbolicSparseColMat<usize>, perm: &[usize], perm_inv: &[usize]) -> Self {
        let n = pattern.ncols();
        let rows = pattern.row_idx();
        // Rows of M in the original numbering, entries in ascending column order.
        let mut row_ptr = vec![0usize; n + 1];
        for &r in rows {
            row_ptr[r + 1] += 1;
        }
        for r in 0..n {
            row_ptr[r + 1] += row_ptr[r];
        }
        let mut fill = row_ptr.clone();
        let (mut row_col, mut row_pos) = (vec![0usize; rows.len()], vec![0usize; rows.len()]);
        for c in 0..n {
            for p in pattern.col_range(c) {
                let r = rows[p];
                (row_col[fill[r]], row_pos[fill[r]]) = (c, p);
                fill[r] += 1;
            }
        }
        let (mut ptr, mut cols, mut pos) = (vec![0usize], Vec::new(), Vec::new());
        let (mut ptr_t, mut cols_t, mut pos_t) = (vec![0usize], Vec::new(), Vec::new());
        for &q in perm {
            for e in row_ptr[q]..row_ptr[q + 1] {
                cols.push(perm_inv[row_col[e]]);
                pos.push(row_pos[e]);
            }
            ptr.push(cols.len());
            // Row q of Mᵀ is column q of M.
            for p in pattern.col_range(q) {
                cols_t.push(perm_inv[rows[p]]);
                pos_t.push(p);
            }
            ptr_t.push(cols_t.len());
        }
        Self {
            ptr,
            cols,
            pos,
            ptr_t,
            cols_t,
            pos_t,
        }
    }

    /// Number of rows.
    pub fn n(&self) -> usize {
        self.ptr.len() - 1
    }

    /// The values of M (of Mᵀ when `transpose`) in this pattern's row order, from `values` in
    /// M's column storage: what [`residual`] reads, one contiguous pass instead of a gather per
    /// entry. Gathered once per matrix.
    pub fn rows_of(&self, values: &[c64], transpose: bool) -> Vec<c64> {
        let mut out = Vec::new();
        self.rows_of_into(values, transpose, &mut out);
        out
    }

    /// [`PermutedPattern::rows_of`] into `out` (its contents replaced, its allocation reused).
    pub fn rows_of_into(&self, values: &[c64], transpose: bool, out: &mut Vec<c64>) {
        let pos = if transpose { &self.pos_t } else { &self.pos };
        out.clear();
        out.extend(pos.iter().map(|&p| values[p]));
    }
}

/// A right-hand-side block Y (n × k in a pattern's numbering): dense and row-major, or only its
/// nonzeros as (row, column, value) sorted by row then column (point sources and receiver
/// lines: 15 nonzeros in a million), every other entry +0.
#[derive(Debug, Clone, Copy)]
pub enum Block<'a> {
    /// Every entry, row-major.
    Dense(&'a [c64]),
    /// The nonzeros, sorted by (row, column).
    Sparse(&'a [(usize, usize, c64)]),
}

/// R = Y − M Z (or Y − Mᵀ Z when `transpose`) for row-major n × k blocks in the pattern's
/// numbering and the matrix of `pattern` with `rows` its values in the pattern's row order
/// ([`PermutedPattern::rows_of`] with the same `transpose`); returns the
/// largest normwise backward error ‖r_j‖∞ / (‖M‖∞ ‖z_j‖∞ + ‖y_j‖∞) over the columns (infinite
/// when anything is not finite).
#[allow(clippy::too_many_arguments)]
pub fn residual(
    pattern: &PermutedPattern,
    rows: &[c64],
    m_norm: f64,
    transpose: bool,
    k: usize,
    y: Block<'_>,
    z: &[c64],
    r: &mut [c64],
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if super::cplx::has_avx512() {
        // SAFETY: the CPU supports AVX-512F, the feature the kernel is compiled for.
        return unsafe { avx512::residual(pattern, rows, m_norm, transpose, k, y, z, r) };
    }
    #[cfg(target_arch = "x86_64")]
    if super::cplx::has_avx2() {
        // SAFETY: the CPU supports the features the wrapper is compiled for.
        return unsafe { residual_avx2(pattern, rows, m_norm, transpose, k, y, z, r) };
    }
    residual_generic::<false>(pattern, rows, m_norm, transpose, k, y, z, r)
}

/// The portable residual loop, whatever the CPU (the reference of the vector kernels' tests).
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn residual_portable(
    pattern: &PermutedPattern,
    rows: &[c64],
    m_norm: f64,
    transpose: bool,
    k: usize,
    y: Block<'_>,
    z: &[c64],
    r: &mut [c64],
) -> f64 {
    residual_generic::<false>(pattern, rows, m_norm, transpose, k, y, z, r)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn residual_avx2(
    pattern: &PermutedPattern,
    rows: &[c64],
    m_norm: f64,
    transpose: bool,
    k: usize,
    y: Block<'_>,
    z: &[c64],
    r: &mut [c64],
) -> f64 {
    residual_generic::<true>(pattern, rows, m_norm, transpose, k, y, z, r)
}

/// The residual's loop; `V3` only from [`residual_avx2`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn residual_generic<const V3: bool>(
    pattern: &PermutedPattern,
    rows: &[c64],
    m_norm: f64,
    transpose: bool,
    k: usize,
    y: Block<'_>,
    z: &[c64],
    r: &mut [c64],
) -> f64 {
    let n = pattern.n();
    let (ptr, cols) = if transpose {
        (&pattern.ptr_t, &pattern.cols_t)
    } else {
        (&pattern.ptr, &pattern.cols)
    };
    // Largest squared moduli per column: one square root per column, not per entry.
    let (mut r2, mut z2, mut y2) = (vec![0.0f64; k], vec![0.0f64; k], vec![0.0f64; k]);
    let sq = |v: c64| v.re * v.re + v.im * v.im;
    // A sparse Y is read through one row of zeros and, for its few nonzero rows, a scratch row:
    // no pass over n k zeros, the same arithmetic as a dense Y.
    let zeros = vec![c64::new(0.0, 0.0); k];
    let mut scratch = vec![c64::new(0.0, 0.0); k];
    let mut next = 0;
    for i in 0..n {
        let yi: &[c64] = match y {
            Block::Dense(d) => &d[i * k..(i + 1) * k],
            Block::Sparse(s) if next < s.len() && s[next].0 == i => {
                scratch.fill(c64::new(0.0, 0.0));
                while next < s.len() && s[next].0 == i {
                    scratch[s[next].1] = s[next].2;
                    next += 1;
                }
                &scratch
            }
            Block::Sparse(_) => &zeros,
        };
        let zi = &z[i * k..(i + 1) * k];
        let ri = &mut r[i * k..(i + 1) * k];
        // The first entry writes r_i = y_i − m z_c (no copy of y_i), the others subtract.
        let (e0, e1) = (ptr[i], ptr[i + 1]);
        if e0 == e1 {
            ri.copy_from_slice(yi);
        } else {
            let c = cols[e0];
            // SAFETY: V3 only from `residual_avx2`, entered after detection.
            unsafe {
                super::cplx::axpy_neg_from_c64::<V3>(ri, yi, rows[e0], &z[c * k..(c + 1) * k])
            };
        }
        for e in (e0 + 1).min(e1)..e1 {
            let c = cols[e];
            // SAFETY: as above.
            unsafe { super::cplx::axpy_neg_c64::<V3>(ri, rows[e], &z[c * k..(c + 1) * k]) };
        }
        for j in 0..k {
            r2[j] = r2[j].max(sq(ri[j]));
            z2[j] = z2[j].max(sq(zi[j]));
            y2[j] = y2[j].max(sq(yi[j]));
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
/// `transpose`), row-major n × k blocks in the pattern's numbering, M's values in `rows` as for
/// [`residual`]; `correct(r, z)` adds F⁻¹ r to z (r may be overwritten) and `work` (the size of
/// Y) holds the residuals.
#[allow(clippy::too_many_arguments)]
pub fn refine(
    pattern: &PermutedPattern,
    rows: &[c64],
    m_norm: f64,
    transpose: bool,
    policy: Refinement,
    k: usize,
    y: Block<'_>,
    z: &mut [c64],
    work: &mut [c64],
    mut correct: impl FnMut(&mut [c64], &mut [c64]),
) -> RefineReport {
    let initial = residual(pattern, rows, m_norm, transpose, k, y, z, work);
    let (mut last, mut steps) = (initial, 0);
    while !(last <= policy.tolerance) && steps < policy.max_steps && last.is_finite() {
        correct(work, z);
        let eta = residual(pattern, rows, m_norm, transpose, k, y, z, work);
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

#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests;
