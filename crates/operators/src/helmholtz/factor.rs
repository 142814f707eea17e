//! The numeric factorisations of one model: the LDLᵀ factors with their refined solves, and the
//! three kinds of [`Factor`] behind one solve interface.

use super::*;

impl<'a> LdltValues<'a> {
    /// The single-precision factors the corrections are solved with.
    pub(super) fn single(&self) -> &ldlt::LdltFactor<'a, c32> {
        match self {
            Self::F64 { single, .. } | Self::F32(single) => single,
        }
    }
}

impl LdltFactor<'_> {
    /// Z ← M⁻¹ Y for row-major blocks in the factor's numbering, with the factors of E M E:
    /// M⁻¹ = E (E M E)⁻¹ E (the scalings fused into the passes in and out of the factors' own
    /// precision).
    pub(super) fn solve_into(
        &self,
        y: refine::Block<'_>,
        z: &mut [c64],
        k: usize,
        starts: Option<&[Vec<usize>]>,
    ) {
        let e = &self.equilibration[..];
        match &self.factor {
            LdltValues::F64 { double, .. } => {
                scale_in(y, z, k, e, |v| v);
                double.solve_rows(z, k, starts);
                for (zi, &ei) in z.chunks_exact_mut(k).zip(e) {
                    for a in zi.iter_mut() {
                        *a *= ei;
                    }
                }
            }
            LdltValues::F32(single) => self.solve_single(single, y, z, k, starts, false),
        }
    }

    /// Z ← M⁻¹ Y (or Z += M⁻¹ Y when `add`) with single-precision factors of E M E.
    pub(super) fn solve_single(
        &self,
        single: &ldlt::LdltFactor<'_, c32>,
        y: refine::Block<'_>,
        z: &mut [c64],
        k: usize,
        starts: Option<&[Vec<usize>]>,
        add: bool,
    ) {
        use ldlt::Scalar;
        let e = &self.equilibration[..];
        let mut x = self.buffers.rows32(z.len());
        scale_in(y, &mut x, k, e, c32::from_c64);
        single.solve_rows(&mut x, k, starts);
        for ((zi, xi), &ei) in z.chunks_exact_mut(k).zip(x.chunks_exact(k)).zip(e) {
            for (a, &b) in zi.iter_mut().zip(xi) {
                if add {
                    *a += b.to_c64() * ei;
                } else {
                    *a = b.to_c64() * ei;
                }
            }
        }
        self.buffers.give_rows32(x);
    }

    /// Z += M⁻¹ R, a refinement step's correction, with the single-precision factors.
    pub(super) fn correct(&self, r: &[c64], z: &mut [c64], k: usize) {
        let single = self.factor.single();
        self.solve_single(single, refine::Block::Dense(r), z, k, None, true)
    }

    /// Solve M Z = Y (Mᵀ Z = Y when `transpose`) with the factors and refine in f64, for
    /// Y = input(q, B) of the columns B of `rhs`, which is overwritten with output(q, Z).
    pub(super) fn solve_m(
        &self,
        rhs: &mut Mat<c64>,
        transpose: bool,
        input: impl Fn(usize, c64) -> c64,
        output: impl Fn(usize, c64) -> c64,
    ) -> RefineReport {
        let (n, k) = (rhs.nrows(), rhs.ncols());
        if k == 0 || n == 0 {
            return RefineReport {
                initial: 0.0,
                last: 0.0,
                steps: 0,
            };
        }
        let (perm, perm_inv) = (self.symbolic.perm(), self.symbolic.perm_inv());
        // Point sources and receiver lines are sparse: gather their nonzeros (no n × k block)
        // and prune the forward elimination to their reach; more than n k / 16 nonzeros count
        // as dense.
        let limit = n * k / 16;
        let mut nonzeros: Vec<(usize, usize, c64)> = Vec::new();
        let mut dense = false;
        'scan: for j in 0..k {
            let col = rhs.col(j);
            for q in 0..n {
                let b = col[q];
                if b.re == 0.0 && b.im == 0.0 {
                    continue;
                }
                let v = input(q, b);
                if v.re != 0.0 || v.im != 0.0 {
                    if nonzeros.len() == limit {
                        dense = true;
                        break 'scan;
                    }
                    nonzeros.push((perm_inv[q], j, v));
                }
            }
        }
        let mut y_dense = Vec::new();
        let (y, starts) = if dense {
            y_dense = self.buffers.rows_any(n * k);
            for (i, yi) in y_dense.chunks_exact_mut(k).enumerate() {
                let q = perm[i];
                for (j, v) in yi.iter_mut().enumerate() {
                    *v = input(q, rhs[(q, j)]);
                }
            }
            (refine::Block::Dense(&y_dense), None)
        } else {
            nonzeros.sort_unstable_by_key(|&(i, j, _)| (i, j));
            let mut starts = vec![Vec::new(); k];
            for &(i, j, _) in &nonzeros {
                starts[j].push(self.symbolic.supernode_of(i));
            }
            (refine::Block::Sparse(&nonzeros), Some(starts))
        };
        let mut z = self.buffers.rows_any(n * k);
        self.solve_into(y, &mut z, k, starts.as_deref());
        let mut work = self.buffers.rows_any(n * k);
        let rows = if transpose {
            self.m_rows_t
                .get_or_init(|| self.buffers.rows_of(self.permuted, &self.m_values, true))
        } else {
            self.m_rows
                .get_or_init(|| self.buffers.rows_of(self.permuted, &self.m_values, false))
        };
        let report = refine::refine(
            self.permuted,
            rows,
            self.m_norm,
            transpose,
            self.refinement,
            k,
            y,
            &mut z,
            &mut work,
            |r, z| self.correct(r, z, k),
        );
        // Out of the factor's numbering, a block of unknowns at a time: the block's rows of z
        // stay in cache while every column is written.
        const ROWS: usize = 64;
        for q0 in (0..n).step_by(ROWS) {
            let q1 = (q0 + ROWS).min(n);
            for j in 0..k {
                let mut col = rhs.col_mut(j);
                for q in q0..q1 {
                    col[q] = output(q, z[perm_inv[q] * k + j]);
                }
            }
        }
        for v in [y_dense, z, work] {
            if !v.is_empty() {
                self.buffers.give_rows(v);
            }
        }
        report
    }

    /// A x = b ⇔ M x = S b, refined.
    pub(super) fn solve(&self, rhs: &mut Mat<c64>) -> RefineReport {
        self.solve_m(rhs, false, |q, v| self.scale[q] * v, |_, v| v)
    }

    /// Aᴴ λ = r ⇔ Mᵀ z = conj(r), λ = conj(S z), refined.
    pub(super) fn solve_adjoint(&self, rhs: &mut Mat<c64>) -> RefineReport {
        self.solve_m(
            rhs,
            true,
            |_, v| v.conj(),
            |q, v| (self.scale[q] * v).conj(),
        )
    }

    /// The stability probe: solve M x = M x₀ for a fixed x₀ and record the backward errors.
    pub(super) fn run_probe(&mut self) {
        let n = self.scale.len();
        let y = ldlt::sym_matvec(self.pattern, &self.m_values, &ldlt::probe_vector(n));
        let mut z = Mat::from_fn(n, 1, |q, _| y[q]);
        let report = self.solve_m(&mut z, false, |_, v| v, |_, v| v);
        self.probe = report.initial;
        self.refined = report.last;
    }
}

impl Drop for LdltFactor<'_> {
    fn drop(&mut self) {
        self.buffers.give_vec(std::mem::take(&mut self.m_values));
        for rows in [self.m_rows.take(), self.m_rows_t.take()]
            .into_iter()
            .flatten()
        {
            self.buffers.give_vec(rows);
        }
    }
}

impl Factor<'_> {
    /// Solve A X = B in place.
    pub fn solve(&self, rhs: &mut Mat<c64>) {
        self.solve_reported(rhs);
    }

    /// Solve A X = B in place; for the LDLᵀ, what its iterative refinement did.
    pub fn solve_reported(&self, rhs: &mut Mat<c64>) -> Option<RefineReport> {
        match self {
            Self::Lu(lu) => lu.solve_in_place(rhs),
            Self::Symmetric(f) => f.solve(rhs),
            Self::Ldlt(f) => return Some(f.solve(rhs)),
        }
        None
    }

    /// Solve Aᴴ X = B in place.
    pub fn solve_adjoint(&self, rhs: &mut Mat<c64>) {
        self.solve_adjoint_reported(rhs);
    }

    /// Solve Aᴴ X = B in place; for the LDLᵀ, what its iterative refinement did.
    pub fn solve_adjoint_reported(&self, rhs: &mut Mat<c64>) -> Option<RefineReport> {
        match self {
            Self::Lu(lu) => lu.solve_adjoint_in_place(rhs),
            Self::Symmetric(f) => f.solve_adjoint(rhs),
            Self::Ldlt(f) => return Some(f.solve_adjoint(rhs)),
        }
        None
    }

    /// Whether these are single-precision LDLᵀ factors (false when the f32 solver fell back).
    pub fn is_single_precision(&self) -> bool {
        matches!(
            self,
            Self::Ldlt(LdltFactor {
                factor: LdltValues::F32(_),
                ..
            })
        )
    }

    /// Whether this is the pivoted LBLᵀ (for an LDLᵀ solver: the fallback was taken).
    pub fn is_pivoted_symmetric(&self) -> bool {
        matches!(self, Self::Symmetric(_))
    }

    /// Backward error of the LDLᵀ probe solve before refinement (`None` for the other
    /// factorisations).
    pub fn probe_backward_error(&self) -> Option<f64> {
        match self {
            Self::Ldlt(f) => Some(f.probe),
            _ => None,
        }
    }

    /// Backward error of the LDLᵀ probe solve after refinement (`None` for the others).
    pub fn refined_backward_error(&self) -> Option<f64> {
        match self {
            Self::Ldlt(f) => Some(f.refined),
            _ => None,
        }
    }
}
