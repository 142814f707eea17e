//! A symmetric factorisation of the Helmholtz matrix with a nested-dissection ordering.
//!
//! A = ω² diag(m) + L_PML is not symmetric inside the PML, but M = S A with
//! S = diag(s_{x,i} s_{z,j}) is *complex symmetric* (Mᵀ = M; checked in the tests). Writing
//! M = B + iC (B, C real symmetric), M (x + iy) = f + ig is the real symmetric indefinite system
//!
//!   K [x; −y] = [f; g],   K = [[B, C], [C, −B]],
//!
//! which faer factors as K = P L B Lᵀ Pᵀ (supernodal Bunch–Kaufman with pivoting inside
//! supernodes) under a *symmetric* fill-reducing ordering we choose. The real and imaginary
//! unknowns of a grid node stay adjacent, and the nodes are ordered by METIS (see
//! [`super::ordering`]), approximate minimum degree, or the line nested dissection of
//! the padded grid: each rectangle is split by a grid line across its longer side, both halves are
//! ordered recursively, the separator line comes last — the ordering whose fill is O(n log n)
//! and flops O(n^{3/2}) on a 2-D grid, with no graph partitioner needed.
//!
//! One factorisation serves both solves: A u = b is M u = S b, and Aᴴ λ = r is
//! M v = conj(r), λ = conj(S v) (because Aᴴ = conj(M) conj(S)⁻¹).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::lblt::factor::LbltParams;
use faer::perm::PermRef;
use faer::sparse::linalg::cholesky::{
    CholeskySymbolicParams, IntranodeLbltRef, SymbolicCholesky, SymbolicCholeskyRaw,
    SymmetricOrdering, factorize_symbolic_cholesky,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMat};
use faer::{Conj, Mat, Par, Side, c64};

/// Node elimination order of an n_x × n_z grid (index i·n_z + j) by nested dissection:
/// rectangles with at most `leaf` nodes are ordered naturally.
pub fn nested_dissection(nx: usize, nz: usize, leaf: usize) -> Vec<usize> {
    fn rec(
        x0: usize,
        x1: usize,
        z0: usize,
        z1: usize,
        nz: usize,
        leaf: usize,
        out: &mut Vec<usize>,
    ) {
        let (w, h) = (x1 - x0, z1 - z0);
        if w == 0 || h == 0 {
            return;
        }
        if w * h <= leaf || (w < 3 && h < 3) {
            for i in x0..x1 {
                for j in z0..z1 {
                    out.push(i * nz + j);
                }
            }
            return;
        }
        if w >= h {
            let m = x0 + w / 2;
            rec(x0, m, z0, z1, nz, leaf, out);
            rec(m + 1, x1, z0, z1, nz, leaf, out);
            out.extend((z0..z1).map(|j| m * nz + j));
        } else {
            let m = z0 + h / 2;
            rec(x0, x1, z0, m, nz, leaf, out);
            rec(x0, x1, m + 1, z1, nz, leaf, out);
            out.extend((x0..x1).map(|i| i * nz + m));
        }
    }
    let mut out = Vec::with_capacity(nx * nz);
    rec(0, nx, 0, nz, nz, leaf, &mut out);
    out
}

/// Which fill-reducing ordering the symmetric factorisation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ordering {
    /// Line nested dissection of the padded grid ([`nested_dissection`], leaves of 16 nodes).
    NestedDissection,
    /// faer's approximate minimum degree on K.
    Amd,
    /// A given node order `perm[new] = old` (METIS): both unknowns of a node stay adjacent.
    Nodes(Vec<usize>),
}

/// Symbolic analysis of K for one grid: lower-triangle pattern, where each K value comes from,
/// and the symbolic LBLᵀ factorisation.
pub struct SymmetricAnalysis {
    n: usize,
    pattern: SymbolicSparseColMat<usize>,
    /// For each stored K value: (index into A's values, which part) — 0: Re, 1: Im, 2: −Re.
    source: Vec<(usize, u8)>,
    /// S on the padded grid.
    scale: Vec<c64>,
    symbolic: SymbolicCholesky<usize>,
}

impl SymmetricAnalysis {
    /// Analyse K for A's pattern (`col_ptr`, `row_idx`, CSC with sorted rows) and the stretches.
    pub fn new(
        a_pattern: &SymbolicSparseColMat<usize>,
        scale: Vec<c64>,
        grid: (usize, usize),
        ordering: Ordering,
    ) -> Result<Self, String> {
        let n = a_pattern.nrows();
        let (col_ptr, row_idx) = (a_pattern.col_ptr(), a_pattern.row_idx());
        let mut k_ptr = Vec::with_capacity(2 * n + 1);
        let mut k_rows = Vec::new();
        let mut source = Vec::new();
        k_ptr.push(0);
        for c in 0..n {
            let entries: Vec<(usize, usize)> = (col_ptr[c]..col_ptr[c + 1])
                .map(|p| (row_idx[p], p))
                .filter(|&(r, _)| r >= c)
                .collect();
            // Column 2c: rows 2r (Re M_rc), 2r+1 (Im M_rc).
            for &(r, p) in &entries {
                k_rows.extend([2 * r, 2 * r + 1]);
                source.extend([(p, 0u8), (p, 1u8)]);
            }
            k_ptr.push(k_rows.len());
            // Column 2c+1: rows 2r for r > c (Im M_rc), 2r+1 (−Re M_rc).
            for &(r, p) in &entries {
                if r > c {
                    k_rows.push(2 * r);
                    source.push((p, 1));
                }
                k_rows.push(2 * r + 1);
                source.push((p, 2));
            }
            k_ptr.push(k_rows.len());
        }
        let pattern = SymbolicSparseColMat::new_checked(2 * n, 2 * n, k_ptr, None, k_rows);
        let nodes = match ordering {
            Ordering::NestedDissection => Some(nested_dissection(grid.0, grid.1, 16)),
            Ordering::Nodes(nodes) if nodes.len() == n => Some(nodes),
            Ordering::Nodes(nodes) => {
                return Err(format!(
                    "node ordering has {} entries for {n} nodes",
                    nodes.len()
                ));
            }
            Ordering::Amd => None,
        };
        let order = match nodes {
            Some(nodes) => {
                let fwd: Vec<usize> = nodes.iter().flat_map(|&q| [2 * q, 2 * q + 1]).collect();
                let mut inv = vec![0; 2 * n];
                for (new, &old) in fwd.iter().enumerate() {
                    inv[old] = new;
                }
                Some((fwd, inv))
            }
            None => None,
        };
        let ord = match &order {
            Some((fwd, inv)) => SymmetricOrdering::Custom(PermRef::new_checked(fwd, inv, 2 * n)),
            None => SymmetricOrdering::Amd,
        };
        let symbolic = factorize_symbolic_cholesky(
            pattern.as_ref(),
            Side::Lower,
            ord,
            CholeskySymbolicParams::default(),
        )
        .map_err(|e| format!("symbolic factorisation of K: {e:?}"))?;
        Ok(Self {
            n,
            pattern,
            source,
            scale,
            symbolic,
        })
    }

    /// Stored values of L (the fill of the factorisation, in reals).
    pub fn factor_len(&self) -> usize {
        self.symbolic.len_val()
    }

    /// Real flops of the numeric factorisation, Σ_j c_j² over the columns j of L with c_j
    /// off-diagonal nonzeros (the multiply–adds of the Schur-complement updates).
    pub fn flops(&self) -> f64 {
        match self.symbolic.raw() {
            SymbolicCholeskyRaw::Supernodal(sn) => {
                let mut flops = 0.0;
                for s in 0..sn.n_supernodes() {
                    let width = sn.supernode_end()[s] - sn.supernode_begin()[s];
                    let below = sn.supernode(s).pattern().len();
                    for k in 0..width {
                        let c = (width - k - 1 + below) as f64;
                        flops += c * c;
                    }
                }
                flops
            }
            // Small problems are factored simplicially: count from the factor's column lengths.
            SymbolicCholeskyRaw::Simplicial(sp) => {
                let ptr = sp.col_ptr();
                (0..sp.ncols())
                    .map(|j| ((ptr[j + 1] - ptr[j]) as f64 - 1.0).max(0.0).powi(2))
                    .sum()
            }
        }
    }

    /// Numeric factorisation of K for A's values (in A's pattern order).
    pub fn factorize(
        &self,
        a_values: &[c64],
        a_pattern: &SymbolicSparseColMat<usize>,
    ) -> SymmetricFactor<'_> {
        // M_rc = s_r A_rc for every stored A entry (row r of column c).
        let rows = a_pattern.row_idx();
        let k_values: Vec<f64> = self
            .source
            .iter()
            .map(|&(p, part)| {
                let m = self.scale[rows[p]] * a_values[p];
                match part {
                    0 => m.re,
                    1 => m.im,
                    _ => -m.re,
                }
            })
            .collect();
        let n2 = 2 * self.n;
        let mut values = vec![0.0; self.symbolic.len_val()];
        let mut subdiag = vec![0.0; n2];
        let mut perm_fwd = vec![0usize; n2];
        let mut perm_inv = vec![0usize; n2];
        let params: faer::Spec<LbltParams, f64> = Default::default();
        let mut mem = MemBuffer::new(
            self.symbolic
                .factorize_numeric_intranode_lblt_scratch::<f64>(Par::Seq, params),
        );
        self.symbolic.factorize_numeric_intranode_lblt(
            &mut values,
            &mut subdiag,
            &mut perm_fwd,
            &mut perm_inv,
            SparseColMatRef::new(self.pattern.as_ref(), &k_values),
            Side::Lower,
            Par::Seq,
            MemStack::new(&mut mem),
            params,
        );
        SymmetricFactor {
            analysis: self,
            values,
            subdiag,
            perm_fwd,
            perm_inv,
        }
    }
}

/// A numeric LBLᵀ factorisation of K.
pub struct SymmetricFactor<'a> {
    analysis: &'a SymmetricAnalysis,
    values: Vec<f64>,
    subdiag: Vec<f64>,
    perm_fwd: Vec<usize>,
    perm_inv: Vec<usize>,
}

impl SymmetricFactor<'_> {
    /// Solve M X = R for complex right-hand sides (columns of `rhs`, overwritten).
    fn solve_m(&self, rhs: &mut Mat<c64>) {
        let a = self.analysis;
        let n = a.n;
        let k = rhs.ncols();
        let mut real = Mat::<f64>::from_fn(2 * n, k, |i, j| {
            let v = rhs[(i / 2, j)];
            if i % 2 == 0 { v.re } else { v.im }
        });
        let lblt = IntranodeLbltRef::new(
            &a.symbolic,
            &self.values,
            &self.subdiag,
            PermRef::new_checked(&self.perm_fwd, &self.perm_inv, 2 * n),
        );
        let mut mem = MemBuffer::new(a.symbolic.solve_in_place_scratch::<f64>(k, Par::Seq));
        lblt.solve_in_place_with_conj(Conj::No, real.as_mut(), Par::Seq, MemStack::new(&mut mem));
        for j in 0..k {
            for q in 0..n {
                // The second unknown of each node is −y.
                rhs[(q, j)] = c64::new(real[(2 * q, j)], -real[(2 * q + 1, j)]);
            }
        }
    }

    /// Solve A X = B in place.
    pub fn solve(&self, rhs: &mut Mat<c64>) {
        let s = &self.analysis.scale;
        for j in 0..rhs.ncols() {
            for (q, sq) in s.iter().enumerate() {
                rhs[(q, j)] *= *sq;
            }
        }
        self.solve_m(rhs);
    }

    /// Solve Aᴴ X = B in place.
    pub fn solve_adjoint(&self, rhs: &mut Mat<c64>) {
        for j in 0..rhs.ncols() {
            for q in 0..rhs.nrows() {
                rhs[(q, j)] = rhs[(q, j)].conj();
            }
        }
        self.solve_m(rhs);
        let s = &self.analysis.scale;
        for j in 0..rhs.ncols() {
            for (q, sq) in s.iter().enumerate() {
                rhs[(q, j)] = (*sq * rhs[(q, j)]).conj();
            }
        }
    }
}
