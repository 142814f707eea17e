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

mod numeric;
mod solve;
mod substitution;
mod symbolic;
#[cfg(test)]
mod tests;

pub use solve::{backward_error, matrix_inf_norm, probe_vector, sym_matvec};

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
    /// out ← init − Σₑ lₑ vₑ over k values with AVX-512F ([`super::cplx`]; the bits of one
    /// [`Scalar::axpy_neg`] per term).
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `out`, `init` and every vₑ must be valid for k values,
    /// `out` may be `init` but must not overlap any vₑ.
    #[cfg(target_arch = "x86_64")]
    unsafe fn sub_products_avx512<I>(out: *mut Self, init: *const Self, k: usize, terms: I)
    where
        I: Iterator<Item = (Self, *const Self)> + Clone;
    /// rowₑ ← rowₑ − lₑ v over k values for every (lₑ, rowₑ), with AVX-512F ([`super::cplx`];
    /// the bits of one [`Scalar::axpy_neg`] per row).
    ///
    /// # Safety
    /// The CPU must support AVX-512F; v and every rowₑ must be valid for k values, and no rowₑ
    /// may overlap v.
    #[cfg(target_arch = "x86_64")]
    unsafe fn sub_scaled_avx512<I>(rows: I, v: *const Self, k: usize)
    where
        I: Iterator<Item = (Self, *mut Self)> + Clone;
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
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn sub_products_avx512<I>(out: *mut Self, init: *const Self, k: usize, terms: I)
    where
        I: Iterator<Item = (Self, *const Self)> + Clone,
    {
        // SAFETY: the caller's contract is the kernel's.
        unsafe { super::cplx::sub_products_c64_avx512(out, init, k, terms) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn sub_scaled_avx512<I>(rows: I, v: *const Self, k: usize)
    where
        I: Iterator<Item = (Self, *mut Self)> + Clone,
    {
        // SAFETY: the caller's contract is the kernel's.
        unsafe { super::cplx::sub_scaled_c64_avx512(rows, v, k) }
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
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn sub_products_avx512<I>(out: *mut Self, init: *const Self, k: usize, terms: I)
    where
        I: Iterator<Item = (Self, *const Self)> + Clone,
    {
        // SAFETY: the caller's contract is the kernel's.
        unsafe { super::cplx::sub_products_c32_avx512(out, init, k, terms) }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn sub_scaled_avx512<I>(rows: I, v: *const Self, k: usize)
    where
        I: Iterator<Item = (Self, *mut Self)> + Clone,
    {
        // SAFETY: the caller's contract is the kernel's.
        unsafe { super::cplx::sub_scaled_c32_avx512(rows, v, k) }
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
