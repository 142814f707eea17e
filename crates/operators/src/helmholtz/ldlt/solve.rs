//! Solves with the factors: the dense and row-major block interfaces, the f32 copy, and the
//! backward-error checks of a factorisation.

use super::*;

impl<'a> LdltFactor<'a, c64> {
    /// The same factors rounded to complex f32: half the memory traffic of a solve, for the
    /// correction solves of iterative refinement, which need only a few correct digits.
    pub fn to_single(&self) -> LdltFactor<'a, c32> {
        let mut values = self.symbolic.take_buffer::<c32>();
        for (d, s) in values.iter_mut().zip(&self.values) {
            *d = c32::from_c64(*s);
        }
        LdltFactor {
            symbolic: self.symbolic,
            values,
            dinv: self.dinv.iter().map(|&d| c32::from_c64(d)).collect(),
        }
    }
}

impl<T: Scalar> LdltFactor<'_, T> {
    /// The symbolic analysis these factors belong to.
    pub fn symbolic(&self) -> &LdltSymbolic {
        self.symbolic
    }

    /// Solve M X = B for the columns of `rhs` (n × k, overwritten), computed in T.
    ///
    /// The forward elimination skips, per column, the supernodes outside the elimination-tree
    /// reach of its nonzeros (exact zeros of `rhs`).
    pub fn solve_in_place(&self, rhs: MatMut<'_, c64>) {
        self.solve_impl(rhs, true);
    }

    /// As [`LdltFactor::solve_in_place`] with every column treated as dense (no pruning): the
    /// reference the pruned solve is tested against.
    pub fn solve_in_place_unpruned(&self, rhs: MatMut<'_, c64>) {
        self.solve_impl(rhs, false);
    }

    pub(super) fn solve_impl(&self, rhs: MatMut<'_, c64>, prune: bool) {
        self.solve_scaled(rhs, None, prune);
    }

    /// Solve M x = y_j for each column r_j of `rhs` and overwrite it with the scaled solution:
    /// y = s ⊙ r, r ← s ⊙ x, with an absent `scale` meaning ones (a symmetric scaling S M S is
    /// solved so: its factors with `s` applied on both sides give M⁻¹). The scaling is fused into
    /// the passes that permute `rhs` in and out of the factor's order. `prune` skips the
    /// supernodes outside the reach of each column's nonzeros in the forward elimination; a
    /// right-hand side with more than n k / 16 nonzeros is solved unpruned (every supernode
    /// visited, no per-entry bookkeeping).
    pub fn solve_scaled(&self, rhs: MatMut<'_, c64>, scale: Option<&[f64]>, prune: bool) {
        let sym = self.symbolic;
        let (n, k) = (sym.n, rhs.ncols());
        if k == 0 || n == 0 {
            return;
        }
        let mut rhs = rhs;
        let SolveWork(mut x) = sym.take::<SolveWork<T>>();
        // A row-major work array in the factor's order: the k values of one unknown are
        // adjacent, so each entry of L is loaded once per block of right-hand sides.
        super::super::pages::refill(&mut x, n * k, T::ZERO);
        const ROWS: usize = 64;
        let sc = |q: usize, v: c64| match scale {
            Some(s) => v * s[q],
            None => v,
        };
        // Point sources and receiver lines are sparse: place their nonzeros directly, and prune.
        let mut nonzeros: Vec<(usize, usize, c64)> = Vec::new();
        let sparse_limit = n * k / 16;
        let mut dense = false;
        'scan: for j in 0..k {
            let col = rhs.rb().col(j);
            for q in 0..n {
                let v = col[q];
                if v.re != 0.0 || v.im != 0.0 {
                    if nonzeros.len() == sparse_limit {
                        dense = true;
                        break 'scan;
                    }
                    nonzeros.push((q, j, v));
                }
            }
        }
        let starts = if dense {
            // Permute and transpose in one pass, a block of rows of every column at a time (the
            // block's rows of x stay in cache while the columns are written into them).
            for q0 in (0..n).step_by(ROWS) {
                let q1 = (q0 + ROWS).min(n);
                for j in 0..k {
                    let col = rhs.rb().col(j);
                    for q in q0..q1 {
                        x[sym.perm_inv[q] * k + j] = T::from_c64(sc(q, col[q]));
                    }
                }
            }
            None
        } else {
            x.fill(T::ZERO);
            let mut starts: Vec<Vec<usize>> = vec![Vec::new(); k];
            for &(q, j, v) in &nonzeros {
                let i = sym.perm_inv[q];
                x[i * k + j] = T::from_c64(sc(q, v));
                starts[j].push(sym.sn_of_col[i]);
            }
            prune.then_some(starts)
        };
        self.solve_rows(&mut x, k, starts.as_deref());
        for q0 in (0..n).step_by(ROWS) {
            let q1 = (q0 + ROWS).min(n);
            for j in 0..k {
                let mut col = rhs.rb_mut().col_mut(j);
                for q in q0..q1 {
                    col[q] = sc(q, x[sym.perm_inv[q] * k + j].to_c64());
                }
            }
        }
        sym.give(SolveWork(x));
    }

    /// Solve (L D Lᵀ) X = B in place for a row-major n × k block `x` in the factor's numbering
    /// (row i holds the k values of unknown `perm()[i]`). With `starts`, column j is zero
    /// outside the elimination-tree reach of the supernodes `starts[j]` (see
    /// [`LdltSymbolic::supernode_of`]) and the forward elimination skips the rest.
    ///
    /// # Panics
    /// When `x.len()` is not n k or `starts` does not have k entries (a caller's bug, not data).
    pub fn solve_rows(&self, x: &mut [T], k: usize, starts: Option<&[Vec<usize>]>) {
        assert_eq!(x.len(), self.symbolic.n * k, "solve_rows: x must be n × k");
        assert!(
            starts.is_none_or(|s| s.len() == k),
            "solve_rows: one start list per column"
        );
        if k == 0 {
            return;
        }
        self.forward(x, k, starts);
        for (row, d) in x.chunks_exact_mut(k).zip(&self.dinv) {
            for v in row {
                *v *= *d;
            }
        }
        self.backward(x, k);
    }

    /// Normwise backward error ‖M x̂ − y‖∞ / (‖M‖∞ ‖x̂‖∞ + ‖y‖∞) of one solve with a fixed
    /// probe x₀ (y = M x₀), M given by its pattern and values: small (≈ n ε) when the
    /// factorisation without pivoting was stable, large when a pivot nearly vanished.
    pub fn probe_backward_error(
        &self,
        pattern: &SymbolicSparseColMat<usize>,
        values: &[c64],
    ) -> f64 {
        let n = self.symbolic.n;
        let y = sym_matvec(pattern, values, &probe_vector(n));
        let mut x = faer::Mat::<c64>::from_fn(n, 1, |i, _| y[i]);
        self.solve_in_place(x.as_mut());
        let xv: Vec<c64> = (0..n).map(|i| x[(i, 0)]).collect();
        backward_error(pattern, values, &xv, &y)
    }
}

/// The fixed probe x₀ of the stability checks: O(1) entries in a pattern that no stencil
/// symmetry cancels.
pub fn probe_vector(n: usize) -> Vec<c64> {
    (0..n)
        .map(|q| {
            c64::new(
                1.0 + 0.5 * ((q % 7) as f64 / 7.0),
                0.25 - (q % 5) as f64 / 10.0,
            )
        })
        .collect()
}

/// Normwise backward error ‖M x − y‖∞ / (‖M‖∞ ‖x‖∞ + ‖y‖∞) of an approximate solution x of
/// M x = y (infinite when anything is not finite).
pub fn backward_error(
    pattern: &SymbolicSparseColMat<usize>,
    values: &[c64],
    x: &[c64],
    y: &[c64],
) -> f64 {
    let r = sym_matvec(pattern, values, x);
    let res = r
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).norm())
        .fold(0.0, f64::max);
    let m_norm = matrix_inf_norm(pattern, values);
    let x_norm = x.iter().map(|v| v.norm()).fold(0.0, f64::max);
    let y_norm = y.iter().map(|v| v.norm()).fold(0.0, f64::max);
    let eta = res / (m_norm * x_norm + y_norm);
    if eta.is_finite() { eta } else { f64::INFINITY }
}

/// y = M x for a matrix stored by columns (pattern, values).
pub fn sym_matvec(pattern: &SymbolicSparseColMat<usize>, values: &[c64], x: &[c64]) -> Vec<c64> {
    let mut y = vec![c64::new(0.0, 0.0); pattern.nrows()];
    let rows = pattern.row_idx();
    for c in 0..pattern.ncols() {
        let xc = x[c];
        for p in pattern.col_range(c) {
            y[rows[p]] += values[p] * xc;
        }
    }
    y
}

/// ‖M‖∞ (largest row sum of moduli; M is symmetric, so column sums serve).
pub fn matrix_inf_norm(pattern: &SymbolicSparseColMat<usize>, values: &[c64]) -> f64 {
    let norm = |modulus: fn(&c64) -> f64| {
        (0..pattern.ncols())
            .map(|c| {
                pattern
                    .col_range(c)
                    .map(|p| modulus(&values[p]))
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    };
    // √(re² + im²), a fraction of hypot's cost; hypot's scaling only when the squares left
    // the range of f64 (a result that is not finite, or so small that they may have underflowed).
    let fast = norm(|v| (v.re * v.re + v.im * v.im).sqrt());
    if fast.is_finite() && fast > 1e-150 {
        fast
    } else {
        norm(|v| v.norm())
    }
}
