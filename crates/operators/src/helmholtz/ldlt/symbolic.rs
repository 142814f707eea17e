//! The symbolic analysis: ordering, supernodes and the pattern of L, with its sizes, flop counts
//! and statistics.

use super::*;

impl LdltSymbolic {
    /// Analyse `pattern` (square, structurally symmetric, sorted rows) under `ordering`.
    pub fn new(
        pattern: &SymbolicSparseColMat<usize>,
        ordering: LdltOrdering,
    ) -> Result<Self, String> {
        let n = pattern.ncols();
        if pattern.nrows() != n {
            return Err("the LDLᵀ pattern must be square".into());
        }
        let perm_given = match &ordering {
            LdltOrdering::Custom(p) => {
                if p.len() != n {
                    return Err(format!("ordering has {} entries for {n} unknowns", p.len()));
                }
                let p = super::super::ordering::postordered(pattern, p);
                let inv = super::super::ordering::inverse(&p);
                Some((p, inv))
            }
            LdltOrdering::Amd => None,
        };
        let ord = match &perm_given {
            Some((fwd, inv)) => SymmetricOrdering::Custom(PermRef::new_checked(fwd, inv, n)),
            None => SymmetricOrdering::Amd,
        };
        let params = CholeskySymbolicParams {
            supernodal_flop_ratio_threshold: SupernodalThreshold::FORCE_SUPERNODAL,
            ..Default::default()
        };
        let symbolic = factorize_symbolic_cholesky(pattern.as_ref(), Side::Lower, ord, params)
            .map_err(|e| format!("symbolic analysis: {e:?}"))?;
        let (perm, perm_inv) = match symbolic.perm() {
            Some(p) => {
                let (fwd, inv) = p.arrays();
                (fwd.to_vec(), inv.to_vec())
            }
            None => ((0..n).collect(), (0..n).collect()),
        };
        let SymbolicCholeskyRaw::Supernodal(sn) = symbolic.raw() else {
            return Err("faer chose a simplicial analysis although supernodal was forced".into());
        };
        let nsup = sn.n_supernodes();
        let mut sn_begin = sn.supernode_begin().to_vec();
        sn_begin.push(n);
        let mut pat_ptr = Vec::with_capacity(nsup + 1);
        let mut pat = Vec::new();
        let mut val_ptr = Vec::with_capacity(nsup + 1);
        let mut sn_of_col = vec![0; n];
        let mut sum_c2 = 0.0;
        pat_ptr.push(0);
        val_ptr.push(0);
        for s in 0..nsup {
            let (b0, b1) = (sn_begin[s], sn_begin[s + 1]);
            let w = b1 - b0;
            let sp = sn.supernode(s).pattern();
            pat.extend(sp.iter().copied());
            pat_ptr.push(pat.len());
            val_ptr.push(val_ptr[s] + (w + sp.len()) * w);
            sn_of_col[b0..b1].fill(s);
            for k in 0..w {
                let c = (w - k - 1 + sp.len()) as f64;
                sum_c2 += c * c;
            }
        }
        let parent: Vec<usize> = (0..nsup)
            .map(|s| {
                if pat_ptr[s] < pat_ptr[s + 1] {
                    sn_of_col[pat[pat_ptr[s]]]
                } else {
                    usize::MAX
                }
            })
            .collect();
        // Descendant lists: d updates every supernode that owns one of its pattern rows.
        let mut counts = vec![0usize; nsup + 1];
        let mut targets: Vec<Vec<usize>> = Vec::with_capacity(nsup);
        for d in 0..nsup {
            let mut t: Vec<usize> = Vec::new();
            for &r in &pat[pat_ptr[d]..pat_ptr[d + 1]] {
                let s = sn_of_col[r];
                if t.last() != Some(&s) {
                    t.push(s);
                }
            }
            for &s in &t {
                counts[s + 1] += 1;
            }
            targets.push(t);
        }
        for s in 0..nsup {
            counts[s + 1] += counts[s];
        }
        let upd_ptr = counts.clone();
        let mut fill = counts;
        let mut upd = vec![0; upd_ptr[nsup]];
        for (d, t) in targets.iter().enumerate() {
            for &s in t {
                upd[fill[s]] = d;
                fill[s] += 1;
            }
        }
        // Where each stored entry of the (permuted) lower triangle lands in L.
        let rows = pattern.row_idx();
        let mut assembly = Vec::with_capacity(rows.len() / 2 + n);
        for c in 0..n {
            for p in pattern.col_range(c) {
                let (i, j) = (perm_inv[rows[p]], perm_inv[c]);
                if i < j {
                    continue;
                }
                let s = sn_of_col[j];
                let (b0, b1) = (sn_begin[s], sn_begin[s + 1]);
                let w = b1 - b0;
                let sp = &pat[pat_ptr[s]..pat_ptr[s + 1]];
                let local_row = if i < b1 {
                    i - b0
                } else {
                    w + sp
                        .binary_search(&i)
                        .map_err(|_| "an entry of the matrix is missing from the pattern of L")?
                };
                let nrows = w + sp.len();
                assembly.push((val_ptr[s] + (j - b0) * nrows + local_row, p));
            }
        }
        assembly.sort_unstable();
        let asm_ptr = val_ptr
            .iter()
            .map(|&v| assembly.partition_point(|&(d, _)| d < v))
            .collect();
        Ok(Self {
            n,
            perm,
            perm_inv,
            sn_begin,
            pat_ptr,
            pattern: pat,
            val_ptr,
            sn_of_col,
            parent,
            upd_ptr,
            upd,
            assembly,
            asm_ptr,
            sum_c2,
            pool: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Number of unknowns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of supernodes.
    pub fn n_supernodes(&self) -> usize {
        self.sn_begin.len() - 1
    }

    /// The ordering, `perm[new] = old`.
    pub fn perm(&self) -> &[usize] {
        &self.perm
    }

    /// The inverse ordering, `perm_inv[old] = new`.
    pub fn perm_inv(&self) -> &[usize] {
        &self.perm_inv
    }

    /// The supernode holding unknown `i` of the factor's numbering (the start of its
    /// elimination-tree reach, for [`LdltFactor::solve_rows`]).
    pub fn supernode_of(&self, i: usize) -> usize {
        self.sn_of_col[i]
    }

    /// Stored entries of L (complex), diagonal and relaxation zeros included.
    pub fn factor_len(&self) -> usize {
        *self
            .val_ptr
            .last()
            .expect("val_ptr has n_supernodes + 1 entries")
    }

    /// Σ_j c_j² over the columns of L, c_j its off-diagonal count (relaxation zeros included).
    pub fn sum_c2(&self) -> f64 {
        self.sum_c2
    }

    /// Real flops of the numeric factorisation: 4 Σ c_j² (c²/2 complex multiply–adds of 8 flops).
    pub fn flops(&self) -> f64 {
        4.0 * self.sum_c2
    }

    /// Real flops of one forward-and-backward solve with one dense right-hand side:
    /// two passes over L at one complex multiply–add (8 flops) per stored off-diagonal entry.
    pub fn solve_flops(&self) -> f64 {
        let mut offdiag = 0.0;
        for s in 0..self.n_supernodes() {
            let w = (self.sn_begin[s + 1] - self.sn_begin[s]) as f64;
            let p = (self.pat_ptr[s + 1] - self.pat_ptr[s]) as f64;
            offdiag += w * (w - 1.0) / 2.0 + w * p;
        }
        16.0 * offdiag
    }

    pub(super) fn panel_dims(&self, s: usize) -> (usize, usize, usize) {
        let w = self.sn_begin[s + 1] - self.sn_begin[s];
        let p = self.pat_ptr[s + 1] - self.pat_ptr[s];
        (self.sn_begin[s], w, p)
    }

    pub(super) fn pattern_of(&self, s: usize) -> &[usize] {
        &self.pattern[self.pat_ptr[s]..self.pat_ptr[s + 1]]
    }
}

impl LdltSymbolic {
    /// (supernodes, descendant updates, supernodes of width 1, of width ≤ 4).
    pub fn stats(&self) -> (usize, usize, usize, usize) {
        let nsup = self.n_supernodes();
        let w = |s: usize| self.sn_begin[s + 1] - self.sn_begin[s];
        (
            nsup,
            self.upd.len(),
            (0..nsup).filter(|&s| w(s) == 1).count(),
            (0..nsup).filter(|&s| w(s) <= 4).count(),
        )
    }
}
