//! The numeric factorisations of one model: the LDLᵀ factors with their refined solves, and the
//! three kinds of [`Factor`] behind one solve interface.

use super::*;

mod kinds;

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
        let (report, z) = self.solve_m_z(rhs, transpose, input, output);
        self.buffers.give_rows(z);
        report
    }

    /// [`LdltFactor::solve_m`], also returning Z (row-major n × k in the factor's numbering;
    /// empty when `rhs` is).
    fn solve_m_z(
        &self,
        rhs: &mut Mat<c64>,
        transpose: bool,
        input: impl Fn(usize, c64) -> c64,
        output: impl Fn(usize, c64) -> c64,
    ) -> (RefineReport, Vec<c64>) {
        let (n, k) = (rhs.nrows(), rhs.ncols());
        if k == 0 || n == 0 {
            return (RefineReport::NOTHING, Vec::new());
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
        if !dense {
            return self.solve_sorted(nonzeros, k, Some(rhs), transpose, output);
        }
        let mut y_dense = self.buffers.rows_any(n * k);
        for (i, yi) in y_dense.chunks_exact_mut(k).enumerate() {
            let q = perm[i];
            for (j, v) in yi.iter_mut().enumerate() {
                *v = input(q, rhs[(q, j)]);
            }
        }
        let result = self.solve_block(
            refine::Block::Dense(&y_dense),
            None,
            k,
            Some(rhs),
            transpose,
            output,
        );
        self.buffers.give_rows(y_dense);
        result
    }

    /// As [`LdltFactor::solve_m`] for the n × k block B given by its entries (q, j, b) in the
    /// natural numbering, a repeated (q, j) adding up in order (as assembled into a zero
    /// block): returns the report and Z (row-major in the factor's numbering), and overwrites
    /// `out` (n × k) with output(q, Z) when given. The same bits as `solve_m` on the assembled
    /// block, without filling and scanning n × k values.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn solve_m_entries(
        &self,
        entries: &[(usize, usize, c64)],
        (n, k): (usize, usize),
        out: Option<&mut Mat<c64>>,
        transpose: bool,
        input: impl Fn(usize, c64) -> c64,
        output: impl Fn(usize, c64) -> c64,
    ) -> (RefineReport, Vec<c64>) {
        if k == 0 || n == 0 {
            return (RefineReport::NOTHING, Vec::new());
        }
        let mut sorted = entries.to_vec();
        // Stable: repeated positions keep their order, so their sum rounds as assembly does.
        sorted.sort_by_key(|&(q, j, _)| (j, q));
        let mut nonzeros: Vec<(usize, usize, c64)> = Vec::new();
        let perm_inv = self.symbolic.perm_inv();
        for group in sorted.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (q, j) = (group[0].0, group[0].1);
            let mut b = c64::new(0.0, 0.0);
            for &(_, _, v) in group {
                b += v;
            }
            if b.re == 0.0 && b.im == 0.0 {
                continue;
            }
            let v = input(q, b);
            if v.re != 0.0 || v.im != 0.0 {
                nonzeros.push((perm_inv[q], j, v));
            }
        }
        if nonzeros.len() <= n * k / 16 {
            return self.solve_sorted(nonzeros, k, out, transpose, output);
        }
        // Dense after all: the assembled block through the scanning path.
        let mut own = None;
        let block = match out {
            Some(o) => o,
            None => own.insert(self.buffers.any(n, k)),
        };
        assemble_entries(block, entries);
        let result = self.solve_m_z(block, transpose, input, output);
        if let Some(m) = own {
            self.buffers.give_mat(m);
        }
        result
    }

    /// The sparse block of `nonzeros` (factor numbering, k columns) solved.
    fn solve_sorted(
        &self,
        mut nonzeros: Vec<(usize, usize, c64)>,
        k: usize,
        out: Option<&mut Mat<c64>>,
        transpose: bool,
        output: impl Fn(usize, c64) -> c64,
    ) -> (RefineReport, Vec<c64>) {
        nonzeros.sort_unstable_by_key(|&(i, j, _)| (i, j));
        let mut starts = vec![Vec::new(); k];
        for &(i, j, _) in &nonzeros {
            starts[j].push(self.symbolic.supernode_of(i));
        }
        self.solve_block(
            refine::Block::Sparse(&nonzeros),
            Some(&starts),
            k,
            out,
            transpose,
            output,
        )
    }

    /// Solve and refine for the block `y` (factor numbering, k columns; `starts` as for the
    /// pruned forward elimination); overwrite `out` with output(q, Z) when given; return the
    /// report and Z.
    fn solve_block(
        &self,
        y: refine::Block<'_>,
        starts: Option<&[Vec<usize>]>,
        k: usize,
        out: Option<&mut Mat<c64>>,
        transpose: bool,
        output: impl Fn(usize, c64) -> c64,
    ) -> (RefineReport, Vec<c64>) {
        let perm_inv = self.symbolic.perm_inv();
        let mut z = self.buffers.rows_any(perm_inv.len() * k);
        self.solve_into(y, &mut z, k, starts);
        let mut work = self.buffers.rows_any(perm_inv.len() * k);
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
        self.buffers.give_rows(work);
        if let Some(out) = out {
            buffers::permute_out(&z, perm_inv, k, out, output);
        }
        (report, z)
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

    /// A x = b ⇔ M x = S b, refined, for the n × k block b given by its entries
    /// ([`LdltFactor::solve_m_entries`]): x row-major in the factor's numbering.
    pub(super) fn solve_entries_z(
        &self,
        entries: &[(usize, usize, c64)],
        k: usize,
    ) -> (RefineReport, Vec<c64>) {
        let n = self.scale.len();
        self.solve_m_entries(
            entries,
            (n, k),
            None,
            false,
            |q, v| self.scale[q] * v,
            |_, v| v,
        )
    }

    /// Aᴴ λ = r ⇔ Mᵀ z = conj(r), λ = conj(S z), refined, for the n × k block r given by its
    /// entries: returns z (factor numbering, row-major), from which λ_q = conj(s_q z_{i(q)}).
    pub(super) fn solve_adjoint_entries_z(
        &self,
        entries: &[(usize, usize, c64)],
        k: usize,
    ) -> Vec<c64> {
        let n = self.scale.len();
        let (_, z) = self.solve_m_entries(
            entries,
            (n, k),
            None,
            true,
            |_, v| v.conj(),
            |q, v| (self.scale[q] * v).conj(),
        );
        z
    }

    /// g_q = −ω² Σ_j Re(conj(λ_qj) u_qj) for the wavefields u and the adjoint fields λ given by
    /// their rows in the factor's numbering (`u` row-major n × k, `z` as returned by
    /// [`Self::solve_adjoint_entries_z`]): both read in order, the sum over j for each q in
    /// order (the bits of the column-by-column correlation of the natural-order matrices).
    pub(super) fn correlate_rows(&self, u: &[c64], z: &[c64], k: usize, w2: f64) -> Vec<f64> {
        let perm = self.symbolic.perm();
        let mut g = vec![0.0; perm.len()];
        if k == 0 {
            return g;
        }
        for ((ui, zi), &q) in u.chunks_exact(k).zip(z.chunks_exact(k)).zip(perm) {
            let s = self.scale[q];
            let mut acc = 0.0;
            for (&b, &v) in ui.iter().zip(zi) {
                let a = (s * v).conj();
                acc -= w2 * (a.re * b.re + a.im * b.im);
            }
            g[q] = acc;
        }
        g
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

/// `out` ← the block of the entries (q, j, b): zeros, then each b added at (q, j) in order.
fn assemble_entries(out: &mut Mat<c64>, entries: &[(usize, usize, c64)]) {
    out.fill(c64::new(0.0, 0.0));
    for &(q, j, b) in entries {
        out[(q, j)] += b;
    }
}
