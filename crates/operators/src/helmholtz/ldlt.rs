//! Supernodal LDLᵀ of a complex symmetric matrix, without pivoting and without conjugation.
//!
//! For M = Mᵀ ∈ ℂⁿˣⁿ (here M = S A, the symmetrised Helmholtz matrix) and a fill-reducing
//! permutation P, P M Pᵀ = L D Lᵀ with L unit lower triangular and D diagonal — the transpose,
//! not the conjugate transpose: faer's sparse LLᴴ/LDLᴴ/LBLᴴ are Hermitian and do not apply.
//! faer supplies the symbolic analysis (elimination tree, supernodes, the pattern of L) and the
//! dense kernels (matmul and triangular solves with `Conj::No`); this module does the numeric
//! work: a left-looking supernodal factorisation in which each supernode gathers the updates of
//! its descendants, L_s ← M_s − Σ_d L_{d,s} D_d L_{d,s}ᵀ, then factors its dense panel.
//!
//! Without pivoting the factorisation is stable only when the pivots stay away from zero, which
//! holds for the PML-damped Helmholtz matrix in practice but is not guaranteed: callers check the
//! backward error with [`LdltFactor::probe_backward_error`] and fall back to a pivoted
//! factorisation when it is large (see `Solver::Ldlt` in the parent module).
//!
//! Solves exploit sparse right-hand sides: the forward elimination L y = b touches only the
//! supernodes on the elimination-tree paths from b's nonzeros to the root (Gilbert's reach),
//! so point sources and receiver adjoint sources skip most of L.
//!
//! The scalar type is generic ([`Scalar`]): complex f64, or complex f32 factors whose solves are
//! refined in f64 by the caller.

use faer::linalg::matmul::matmul_with_conj;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::triangular_solve::{
    solve_unit_lower_triangular_in_place_with_conj, solve_unit_upper_triangular_in_place_with_conj,
};
use faer::perm::PermRef;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::sparse::SymbolicSparseColMat;
use faer::sparse::linalg::SupernodalThreshold;
use faer::sparse::linalg::cholesky::{
    CholeskySymbolicParams, SymbolicCholeskyRaw, SymmetricOrdering, factorize_symbolic_cholesky,
};
use faer::{Accum, Conj, MatMut, MatRef, Par, Side, c32, c64};
use std::ops::{AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A complex scalar the factorisation can be computed in.
pub trait Scalar:
    faer::traits::ComplexField
    + Copy
    + Send
    + Sync
    + 'static
    + PartialEq
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Round a complex f64 to this type.
    fn from_c64(z: c64) -> Self;
    /// Widen to complex f64.
    fn to_c64(self) -> c64;
    /// True when both parts are finite and not both zero.
    fn is_usable_pivot(self) -> bool;
    /// y ← y − l v ([`super::cplx`]); with `V3`, the AVX2 kernel.
    ///
    /// # Safety
    /// With `V3`, the CPU must support AVX2 and FMA (the solve loops request it only from their
    /// wrappers compiled for those features, entered after run-time detection).
    #[inline(always)]
    unsafe fn axpy_neg<const V3: bool>(y: &mut [Self], l: Self, v: &[Self]) {
        super::cplx::axpy_neg(y, l, v)
    }
}

impl Scalar for c64 {
    const ZERO: Self = c64::new(0.0, 0.0);
    const ONE: Self = c64::new(1.0, 0.0);
    #[inline]
    fn from_c64(z: c64) -> Self {
        z
    }
    #[inline]
    fn to_c64(self) -> c64 {
        self
    }
    #[inline]
    fn is_usable_pivot(self) -> bool {
        self.re.is_finite() && self.im.is_finite() && (self.re != 0.0 || self.im != 0.0)
    }
    #[inline(always)]
    unsafe fn axpy_neg<const V3: bool>(y: &mut [Self], l: Self, v: &[Self]) {
        // SAFETY: the caller's contract is the kernel's.
        unsafe { super::cplx::axpy_neg_c64::<V3>(y, l, v) }
    }
}

impl Scalar for c32 {
    const ZERO: Self = c32::new(0.0, 0.0);
    const ONE: Self = c32::new(1.0, 0.0);
    #[inline]
    fn from_c64(z: c64) -> Self {
        c32::new(z.re as f32, z.im as f32)
    }
    #[inline]
    fn to_c64(self) -> c64 {
        c64::new(self.re as f64, self.im as f64)
    }
    #[inline]
    fn is_usable_pivot(self) -> bool {
        self.re.is_finite() && self.im.is_finite() && (self.re != 0.0 || self.im != 0.0)
    }
    #[inline(always)]
    unsafe fn axpy_neg<const V3: bool>(y: &mut [Self], l: Self, v: &[Self]) {
        // SAFETY: the caller's contract is the kernel's.
        unsafe { super::cplx::axpy_neg_c32::<V3>(y, l, v) }
    }
}

/// Which ordering the analysis uses.
#[derive(Debug, Clone)]
pub enum LdltOrdering {
    /// faer's approximate minimum degree.
    Amd,
    /// A given permutation, `perm[new] = old` (METIS, line nested dissection, …).
    Custom(Vec<usize>),
}

/// Symbolic analysis of a structurally symmetric pattern: the supernodes of L (in the permuted
/// numbering), their row patterns, the panel offsets, the descendants that update each
/// supernode, and where each stored entry of the matrix lands in L.
#[derive(Debug)]
pub struct LdltSymbolic {
    n: usize,
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    /// Supernode s holds columns sn_begin[s]..sn_begin[s + 1].
    sn_begin: Vec<usize>,
    /// Row pattern of supernode s below its diagonal block: pattern[pat_ptr[s]..pat_ptr[s + 1]].
    pat_ptr: Vec<usize>,
    pattern: Vec<usize>,
    /// Panel of supernode s (column-major, (w + |pattern|) × w) at values[val_ptr[s]..].
    val_ptr: Vec<usize>,
    /// Supernode that holds each column.
    sn_of_col: Vec<usize>,
    /// Elimination-tree parent of each supernode (`usize::MAX` for a root).
    parent: Vec<usize>,
    /// Descendants d updating s: upd[upd_ptr[s]..upd_ptr[s + 1]], ascending.
    upd_ptr: Vec<usize>,
    upd: Vec<usize>,
    /// For each stored entry p of the input pattern with permuted row ≥ permuted column:
    /// (destination in the values of L, p).
    assembly: Vec<(usize, usize)>,
    /// assembly[asm_ptr[s]..asm_ptr[s + 1]] lands in supernode s.
    asm_ptr: Vec<usize>,
    /// Σ c_j² over the columns of L (off-diagonal counts, relaxation zeros included).
    sum_c2: f64,
    /// Value buffers of dropped factors, for reuse.
    pool: std::sync::Mutex<Vec<Box<dyn std::any::Any + Send>>>,
}

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
                let p = super::ordering::postordered(pattern, p);
                let inv = super::ordering::inverse(&p);
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

    fn panel_dims(&self, s: usize) -> (usize, usize, usize) {
        let w = self.sn_begin[s + 1] - self.sn_begin[s];
        let p = self.pat_ptr[s + 1] - self.pat_ptr[s];
        (self.sn_begin[s], w, p)
    }

    fn pattern_of(&self, s: usize) -> &[usize] {
        &self.pattern[self.pat_ptr[s]..self.pat_ptr[s + 1]]
    }

    /// Numeric factorisation of the matrix with stored values `values` (in `pattern` order).
    ///
    /// Errors with the (original) index of the unknown whose pivot is zero or not finite.
    pub fn factorize<T: Scalar>(&self, values: &[c64]) -> Result<LdltFactor<'_, T>, LdltError> {
        let mut l = self.take_buffer::<T>();
        #[cfg(target_arch = "x86_64")]
        let result = if super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            unsafe { self.factorize_avx2(values, &mut l) }
        } else {
            self.factorize_generic(values, &mut l)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let result = self.factorize_generic(values, &mut l);
        // Built even on failure, so that dropping it returns the buffer to the pool.
        let factor = self.finish(l);
        result.map(|()| factor)
    }

    /// A buffer for the values of L: one returned by a dropped factor if any (its contents are
    /// overwritten panel by panel), else a new one. Reuse saves the page faults of 40 MB.
    fn take_buffer<T: Scalar>(&self) -> Vec<T> {
        let v: FactorValues<T> = self.take();
        if v.0.len() == self.factor_len() {
            v.0
        } else {
            super::pages::filled(self.factor_len(), T::ZERO)
        }
    }

    /// A pooled workspace of type V (or a new, empty one).
    fn take<V: Default + Send + 'static>(&self) -> V {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = pool.iter().position(|b| b.is::<V>())
            && let Ok(v) = pool.swap_remove(i).downcast::<V>()
        {
            return *v;
        }
        V::default()
    }

    /// Return a workspace to the pool (a few are kept: the buffers of L and of the solves).
    fn give<V: Send + 'static>(&self, v: V) {
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < 6
        {
            pool.push(Box::new(v));
        }
    }

    fn finish<T: Scalar>(&self, l: Vec<T>) -> LdltFactor<'_, T> {
        let mut dinv = vec![T::ZERO; self.n];
        for s in 0..self.n_supernodes() {
            let (b0, w, np) = self.panel_dims(s);
            let nrows = w + np;
            for k in 0..w {
                dinv[b0 + k] = T::ONE / l[self.val_ptr[s] + k * nrows + k];
            }
        }
        LdltFactor {
            symbolic: self,
            values: l,
            dinv,
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn factorize_avx2<T: Scalar>(
        &self,
        values: &[c64],
        l: &mut [T],
    ) -> Result<(), LdltError> {
        self.factorize_generic(values, l)
    }

    /// The left-looking loop, compiled once per instruction set (runtime dispatch above).
    #[inline(always)]
    fn factorize_generic<T: Scalar>(&self, values: &[c64], l: &mut [T]) -> Result<(), LdltError> {
        let nsup = self.n_supernodes();
        let mut map = vec![0usize; self.n];
        let mut work: Vec<T> = Vec::new();
        let mut scaled: Vec<T> = Vec::new();
        let mut rows_local: Vec<usize> = Vec::new();
        for s in 0..nsup {
            let (b0, w, np) = self.panel_dims(s);
            let b1 = b0 + w;
            let nrows = w + np;
            let spat = self.pattern_of(s);
            for (k, m) in map[b0..b1].iter_mut().enumerate() {
                *m = k;
            }
            for (k, &r) in spat.iter().enumerate() {
                map[r] = w + k;
            }
            let (head, tail) = l.split_at_mut(self.val_ptr[s]);
            let panel = &mut tail[..nrows * w];
            panel.fill(T::ZERO);
            for &(dest, p) in &self.assembly[self.asm_ptr[s]..self.asm_ptr[s + 1]] {
                panel[dest - self.val_ptr[s]] += T::from_c64(values[p]);
            }
            for &d in &self.upd[self.upd_ptr[s]..self.upd_ptr[s + 1]] {
                let (_, wd, npd) = self.panel_dims(d);
                let nrd = wd + npd;
                let dpat = self.pattern_of(d);
                let a = dpat.partition_point(|&r| r < b0);
                let mid = a + dpat[a..].partition_point(|&r| r < b1);
                let (nc, nr) = (mid - a, npd - a);
                let ld = &head[self.val_ptr[d]..self.val_ptr[d] + nrd * wd];
                rows_local.clear();
                rows_local.extend(dpat[a..].iter().map(|&r| map[r]));
                if nr * nc * wd <= SMALL_UPDATE {
                    // Small: fused multiply and scatter, no temporary.
                    for jj in 0..nc {
                        let col = dpat[a + jj] - b0;
                        let dst = &mut panel[col * nrows..(col + 1) * nrows];
                        for k in 0..wd {
                            let lk = &ld[k * nrd + wd + a..(k + 1) * nrd];
                            let f = lk[jj] * ld[k * nrd + k];
                            for ii in jj..nr {
                                dst[rows_local[ii]] -= lk[ii] * f;
                            }
                        }
                    }
                    continue;
                }
                let ld = MatRef::from_column_major_slice(ld, nrd, wd);
                let l_rows = ld.subrows(wd + a, nr);
                let l_cols = ld.subrows(wd + a, nc);
                // scaled = L_cols D_d (nc × wd).
                scaled.clear();
                scaled.reserve(nc * wd);
                for k in 0..wd {
                    let dk = ld[(k, k)];
                    scaled.extend((0..nc).map(|i| l_cols[(i, k)] * dk));
                }
                let scaled_ref = MatRef::from_column_major_slice(&scaled[..nc * wd], nc, wd);
                work.clear();
                work.resize(nr * nc, T::ZERO);
                matmul_with_conj(
                    MatMut::from_column_major_slice_mut(&mut work[..], nr, nc),
                    Accum::Replace,
                    l_rows,
                    Conj::No,
                    scaled_ref.transpose(),
                    Conj::No,
                    T::ONE,
                    Par::Seq,
                );
                for jj in 0..nc {
                    let col = dpat[a + jj] - b0;
                    let dst = &mut panel[col * nrows..(col + 1) * nrows];
                    let src = &work[jj * nr..(jj + 1) * nr];
                    for ii in jj..nr {
                        dst[rows_local[ii]] -= src[ii];
                    }
                }
            }
            factor_panel(panel, nrows, w, &mut work).map_err(|k| LdltError {
                index: self.perm[b0 + k],
            })?;
        }
        Ok(())
    }
}

/// Pooled values of L.
struct FactorValues<T>(Vec<T>);

impl<T> Default for FactorValues<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

/// Pooled solve workspace: the right-hand sides row-major in the factor's order.
struct SolveWork<T>(Vec<T>);

impl<T> Default for SolveWork<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

/// A zero or non-finite pivot: the matrix needs pivoting (or is singular).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LdltError {
    /// Original index of the unknown whose pivot broke down.
    pub index: usize,
}

impl std::fmt::Display for LdltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "zero or non-finite pivot at unknown {} (LDLᵀ without pivoting)",
            self.index
        )
    }
}

/// Multiply–adds below which a descendant's update is applied by plain loops (a faer matmul
/// call costs more than the arithmetic of such small blocks).
const SMALL_UPDATE: usize = 512;

/// Columns per block of the dense panel factorisation.
const BLOCK: usize = 32;

/// Supernodes whose panel entries times right-hand sides are at most this are solved by plain
/// loops; larger ones through faer's triangular solve and matmul.
const SMALL_SOLVE: usize = 4096;

/// Panels at most this wide are factored by plain loops alone.
const SMALL_PANEL: usize = 8;

/// Dense LDLᵀ (no pivoting, no conjugation) of an (nrows × w) column-major panel whose top w × w
/// block is the symmetric diagonal block (lower triangle used) and whose bottom rows are the
/// sub-diagonal block: on return D is on the diagonal, unit-L below it. Errors with the local
/// column of a zero or non-finite pivot.
///
/// Blocked by columns: each block's diagonal part is factored by plain loops
/// ([`factor_unblocked`]), the rows below it by a triangular solve W L₁₁ᵀ = A₂₁ (W = L₂₁ D₁),
/// and the trailing columns by one matmul A₂₂ −= L₂₁ Wᵀ.
fn factor_panel<T: Scalar>(
    panel: &mut [T],
    nrows: usize,
    w: usize,
    work: &mut Vec<T>,
) -> Result<(), usize> {
    if w <= SMALL_PANEL {
        return factor_unblocked(panel, nrows, 0, w, nrows);
    }
    let mut k0 = 0;
    while k0 < w {
        let k1 = (k0 + BLOCK).min(w);
        let nb = k1 - k0;
        factor_unblocked(panel, nrows, k0, k1, k1)?;
        if k1 == nrows {
            break;
        }
        let (done, rest) = panel.split_at_mut(k1 * nrows);
        let mut blk = MatMut::from_column_major_slice_mut(&mut done[k0 * nrows..], nrows, nb);
        let (l11, mut below) = blk.rb_mut().split_at_row_mut(k1);
        let l11 = l11.rb().subrows(k0, nb);
        // W L₁₁ᵀ = A₂₁  ⇔  L₁₁ Wᵀ = A₂₁ᵀ.
        solve_unit_lower_triangular_in_place_with_conj(
            l11,
            Conj::No,
            below.rb_mut().transpose_mut(),
            Par::Seq,
        );
        // Keep W's rows of the trailing columns, then scale W to L₂₁ = W D₁⁻¹.
        let nt = w - k1;
        work.clear();
        work.reserve(nt * nb);
        for t in 0..nb {
            work.extend((0..nt).map(|i| below[(i, t)]));
        }
        for t in 0..nb {
            let inv = T::ONE / l11[(t, t)];
            for v in below.rb_mut().col_mut(t).iter_mut() {
                *v *= inv;
            }
        }
        if nt > 0 {
            let w_top = MatRef::from_column_major_slice(&work[..nt * nb], nt, nb);
            let trailing = MatMut::from_column_major_slice_mut(&mut rest[..nt * nrows], nrows, nt);
            let (_, trailing) = trailing.split_at_row_mut(k1);
            let (top, bottom) = trailing.split_at_row_mut(nt);
            let (l21_top, l21_bottom) = below.rb().split_at_row(nt);
            triangular::matmul_with_conj(
                top,
                BlockStructure::TriangularLower,
                Accum::Add,
                l21_top,
                BlockStructure::Rectangular,
                Conj::No,
                w_top.transpose(),
                BlockStructure::Rectangular,
                Conj::No,
                -T::ONE,
                Par::Seq,
            );
            matmul_with_conj(
                bottom,
                Accum::Add,
                l21_bottom,
                Conj::No,
                w_top.transpose(),
                Conj::No,
                -T::ONE,
                Par::Seq,
            );
        }
        k0 = k1;
    }
    Ok(())
}

/// Plain-loop LDLᵀ of columns k0..k1 of a panel over rows up to `row_end` (columns k0..k1 must
/// already hold every update from columns before k0).
fn factor_unblocked<T: Scalar>(
    panel: &mut [T],
    nrows: usize,
    k0: usize,
    k1: usize,
    row_end: usize,
) -> Result<(), usize> {
    for j in k0..k1 {
        let d = panel[j * nrows + j];
        if !d.is_usable_pivot() {
            return Err(j);
        }
        let inv = T::ONE / d;
        let (left, right) = panel.split_at_mut((j + 1) * nrows);
        let cj = &mut left[j * nrows..];
        // Columns j+1..k1: a_{i,jj} −= a_{i,j} a_{jj,j} / d (a unscaled).
        for jj in j + 1..k1 {
            let f = cj[jj] * inv;
            let cjj = &mut right[(jj - j - 1) * nrows..(jj - j) * nrows];
            for i in jj..row_end {
                cjj[i] -= f * cj[i];
            }
        }
        for v in &mut cj[j + 1..row_end] {
            *v *= inv;
        }
    }
    Ok(())
}

/// Numeric factors P M Pᵀ = L D Lᵀ.
pub struct LdltFactor<'a, T: Scalar> {
    symbolic: &'a LdltSymbolic,
    values: Vec<T>,
    dinv: Vec<T>,
}

impl<T: Scalar> Drop for LdltFactor<'_, T> {
    fn drop(&mut self) {
        self.symbolic
            .give(FactorValues(std::mem::take(&mut self.values)));
    }
}

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

    fn solve_impl(&self, rhs: MatMut<'_, c64>, prune: bool) {
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
        super::pages::refill(&mut x, n * k, T::ZERO);
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

    /// L Y = B in place (permuted numbering, row-major n × k). With `starts`, column j starts
    /// in the supernodes `starts[j]` and only the supernodes on their paths to the root are
    /// visited; without, every supernode and column.
    fn forward(&self, x: &mut [T], k: usize, starts: Option<&[Vec<usize>]>) {
        #[cfg(target_arch = "x86_64")]
        if super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            return unsafe { self.forward_avx2(x, k, starts) };
        }
        self.forward_generic::<false>(x, k, starts)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(&self, x: &mut [T], k: usize, starts: Option<&[Vec<usize>]>) {
        self.forward_generic::<true>(x, k, starts)
    }

    /// The forward elimination; `V3` only from [`Self::forward_avx2`].
    #[inline(always)]
    fn forward_generic<const V3: bool>(
        &self,
        x: &mut [T],
        k: usize,
        starts: Option<&[Vec<usize>]>,
    ) {
        let sym = self.symbolic;
        let nsup = sym.n_supernodes();
        // active[count[s]..count[s + 1]]: the columns whose reach contains s (CSR), by climbing
        // the supernodal tree from each column's starts.
        let (count, active) = match starts {
            Some(starts) => {
                let mut stamp = vec![usize::MAX; nsup];
                let mut count = vec![0usize; nsup + 1];
                let mut reach: Vec<usize> = Vec::new();
                let mut reach_ptr = vec![0usize];
                for (j, st) in starts.iter().enumerate() {
                    for &s0 in st {
                        let mut s = s0;
                        while s != usize::MAX && stamp[s] != j {
                            stamp[s] = j;
                            reach.push(s);
                            count[s + 1] += 1;
                            s = sym.parent[s];
                        }
                    }
                    reach_ptr.push(reach.len());
                }
                for s in 0..nsup {
                    count[s + 1] += count[s];
                }
                let mut fill = count.clone();
                let mut active = vec![0usize; reach.len()];
                for j in 0..k {
                    for &s in &reach[reach_ptr[j]..reach_ptr[j + 1]] {
                        active[fill[s]] = j;
                        fill[s] += 1;
                    }
                }
                (count, active)
            }
            None => (Vec::new(), Vec::new()),
        };
        let every: Vec<usize> = (0..k).collect();
        let mut v = vec![T::ZERO; k];
        let mut sub: Vec<T> = Vec::new();
        let mut tmp: Vec<T> = Vec::new();
        for s in 0..nsup {
            let cols = match starts {
                Some(_) => &active[count[s]..count[s + 1]],
                None => &every[..],
            };
            if cols.is_empty() {
                continue;
            }
            let (b0, w, np) = sym.panel_dims(s);
            let spat = sym.pattern_of(s);
            let nrows = w + np;
            let start = sym.val_ptr[s];
            let panel = &self.values[start..start + nrows * w];
            let all = cols.len() == k;
            if nrows * w * cols.len() <= SMALL_SOLVE {
                for c in 0..w {
                    let lc = &panel[c * nrows..(c + 1) * nrows];
                    if all {
                        v.copy_from_slice(&x[(b0 + c) * k..(b0 + c + 1) * k]);
                        for (i, &l) in lc[c + 1..w].iter().enumerate() {
                            let row = &mut x[(b0 + c + 1 + i) * k..(b0 + c + 2 + i) * k];
                            // SAFETY: V3 only from `forward_avx2`, entered after detection.
                            unsafe { T::axpy_neg::<V3>(row, l, &v) };
                        }
                        for (&l, &r) in lc[w..].iter().zip(spat) {
                            // SAFETY: as above.
                            unsafe { T::axpy_neg::<V3>(&mut x[r * k..(r + 1) * k], l, &v) };
                        }
                    } else {
                        for &j in cols {
                            let vj = x[(b0 + c) * k + j];
                            for i in c + 1..w {
                                let t = lc[i] * vj;
                                x[(b0 + i) * k + j] -= t;
                            }
                            for (&l, &r) in lc[w..].iter().zip(spat) {
                                let t = l * vj;
                                x[r * k + j] -= t;
                            }
                        }
                    }
                }
                continue;
            }
            let l = MatRef::from_column_major_slice(panel, nrows, w);
            let (l_top, l_bottom) = l.split_at_row(w);
            let kk = cols.len();
            if all {
                // Every column: the supernode's rows are already a row-major w × k block.
                let mut xs = MatMut::from_row_major_slice_mut(&mut x[b0 * k..(b0 + w) * k], w, k);
                solve_unit_lower_triangular_in_place_with_conj(
                    l_top,
                    Conj::No,
                    xs.rb_mut(),
                    Par::Seq,
                );
                sub.clear();
                sub.extend_from_slice(&x[b0 * k..(b0 + w) * k]);
            } else {
                // Gather the active columns of the supernode's rows (row-major w × kk).
                sub.clear();
                for i in 0..w {
                    let row = &x[(b0 + i) * k..(b0 + i + 1) * k];
                    sub.extend(cols.iter().map(|&j| row[j]));
                }
                let mut xs = MatMut::from_row_major_slice_mut(&mut sub[..], w, kk);
                solve_unit_lower_triangular_in_place_with_conj(
                    l_top,
                    Conj::No,
                    xs.rb_mut(),
                    Par::Seq,
                );
                for i in 0..w {
                    let row = &mut x[(b0 + i) * k..(b0 + i + 1) * k];
                    for (jj, &j) in cols.iter().enumerate() {
                        row[j] = sub[i * kk + jj];
                    }
                }
            }
            if np > 0 {
                tmp.clear();
                tmp.resize(np * kk, T::ZERO);
                matmul_with_conj(
                    MatMut::from_row_major_slice_mut(&mut tmp[..], np, kk),
                    Accum::Replace,
                    l_bottom,
                    Conj::No,
                    MatRef::from_row_major_slice(&sub[..], w, kk),
                    Conj::No,
                    T::ONE,
                    Par::Seq,
                );
                for (i, &r) in spat.iter().enumerate() {
                    let row = &mut x[r * k..(r + 1) * k];
                    let t = &tmp[i * kk..(i + 1) * kk];
                    if all {
                        for (a, &b) in row.iter_mut().zip(t) {
                            *a -= b;
                        }
                    } else {
                        for (jj, &j) in cols.iter().enumerate() {
                            row[j] -= t[jj];
                        }
                    }
                }
            }
        }
    }

    /// Lᵀ X = Y in place (permuted numbering, row-major n × k), every supernode.
    fn backward(&self, x: &mut [T], k: usize) {
        #[cfg(target_arch = "x86_64")]
        if super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            return unsafe { self.backward_avx2(x, k) };
        }
        self.backward_generic::<false>(x, k)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn backward_avx2(&self, x: &mut [T], k: usize) {
        self.backward_generic::<true>(x, k)
    }

    /// The backward substitution; `V3` only from [`Self::backward_avx2`].
    #[inline(always)]
    fn backward_generic<const V3: bool>(&self, x: &mut [T], k: usize) {
        let sym = self.symbolic;
        let mut acc = vec![T::ZERO; k];
        let mut tmp: Vec<T> = Vec::new();
        for s in (0..sym.n_supernodes()).rev() {
            let (b0, w, np) = sym.panel_dims(s);
            let spat = sym.pattern_of(s);
            let nrows = w + np;
            let start = sym.val_ptr[s];
            let panel = &self.values[start..start + nrows * w];
            if nrows * w * k <= SMALL_SOLVE {
                for c in (0..w).rev() {
                    let lc = &panel[c * nrows..(c + 1) * nrows];
                    acc.copy_from_slice(&x[(b0 + c) * k..(b0 + c + 1) * k]);
                    for (i, &l) in lc[c + 1..w].iter().enumerate() {
                        let row = &x[(b0 + c + 1 + i) * k..(b0 + c + 2 + i) * k];
                        // SAFETY: V3 only from `backward_avx2`, entered after detection.
                        unsafe { T::axpy_neg::<V3>(&mut acc, l, row) };
                    }
                    for (&l, &r) in lc[w..].iter().zip(spat) {
                        // SAFETY: as above.
                        unsafe { T::axpy_neg::<V3>(&mut acc, l, &x[r * k..(r + 1) * k]) };
                    }
                    x[(b0 + c) * k..(b0 + c + 1) * k].copy_from_slice(&acc);
                }
                continue;
            }
            let l = MatRef::from_column_major_slice(panel, nrows, w);
            let (l_top, l_bottom) = l.split_at_row(w);
            if np > 0 {
                tmp.clear();
                for &r in spat {
                    tmp.extend_from_slice(&x[r * k..(r + 1) * k]);
                }
                matmul_with_conj(
                    MatMut::from_row_major_slice_mut(&mut x[b0 * k..(b0 + w) * k], w, k),
                    Accum::Add,
                    l_bottom.transpose(),
                    Conj::No,
                    MatRef::from_row_major_slice(&tmp[..], np, k),
                    Conj::No,
                    -T::ONE,
                    Par::Seq,
                );
            }
            solve_unit_upper_triangular_in_place_with_conj(
                l_top.transpose(),
                Conj::No,
                MatMut::from_row_major_slice_mut(&mut x[b0 * k..(b0 + w) * k], w, k),
                Par::Seq,
            );
        }
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
    (0..pattern.ncols())
        .map(|c| pattern.col_range(c).map(|p| values[p].norm()).sum::<f64>())
        .fold(0.0, f64::max)
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
