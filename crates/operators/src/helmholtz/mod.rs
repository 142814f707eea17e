//! Frequency-domain 2-D Helmholtz operator with a PML and adjoint-state derivatives (`FWI.md` §3).
//!
//! A(m) u_s = b_s with A(m) = ω² diag(m_pad) + L_PML on the interior n_x × n_z grid padded by p
//! PML cells per side; data d_{s,r} = u_s at receiver r. One sparse factorisation of A per model
//! serves every source (one block right-hand side) and every adjoint solve (Aᴴ from the same
//! factors); the symbolic factorisation depends only on the grid and is computed once in
//! [`Helmholtz::new`]. Three factorisations are available ([`Solver`]): the default, a
//! supernodal complex-symmetric LDLᵀ of the equilibrated S A without pivoting under a METIS
//! nested-dissection ordering ([`ldlt`], [`ordering`]), in complex f64 or f32, whose every solve
//! is refined in f64 to a backward error of 4ε ([`refine`]) and whose stability is checked on
//! every model by its first solve, with the pivoted LBLᵀ as fallback; that LBLᵀ of the real form of S A
//! (Bunch–Kaufman pivoting inside supernodes, [`symmetric`]); and faer's sparse LU of A (COLAMD
//! column ordering).
//!
//! Derivatives with respect to the interior squared slowness m (s²/km²), with
//! pad: interior → padded grid (edge copy) and padᵀ its adjoint (sum PML cells into edge pixels):
//!
//! - J δm = −P A⁻¹ (ω² pad(δm) ⊙ u_s), per source;
//! - Jᴴ δd = padᵀ(−ω² Σ_s Re(conj(λ_s) ⊙ u_s)) with Aᴴ λ_s = Pᵀ δd_s;
//! - ∇Φ = Jᴴ r / σ_d² for Φ = ½ Σ_s ‖P u_s − d_s‖² / σ_d², r = P u − d.
//!
//! Complex data enter the real-vector traits as [Re d; Im d] (row-major sources × receivers), so
//! the real adjoint of J is exactly the Jᴴ above.

mod cplx;
mod geometry;
pub mod green;
pub mod ldlt;
pub mod ordering;
mod pages;
pub mod refine;
pub mod symmetric;

pub use geometry::{Geometry, GeometryPreset};
pub use refine::{RefineReport, Refinement};

use faer::sparse::linalg::solvers::{Lu, SymbolicLu};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMat};
use faer::{Mat, c32, c64, linalg::solvers::Solve};
use memprior_core::{ConfigError, ForwardOperator, JacobianAction};

/// Error from building or factorising the operator.
#[derive(Debug)]
pub enum HelmholtzError {
    /// A setting or an input value is out of range.
    Config(ConfigError),
    /// The sparse LU failed (a zero pivot: the model makes A singular at this frequency).
    Factorization(String),
}

impl std::fmt::Display for HelmholtzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(e) => e.fmt(f),
            Self::Factorization(msg) => {
                write!(f, "sparse LU of the Helmholtz matrix failed: {msg}")
            }
        }
    }
}

impl std::error::Error for HelmholtzError {}

impl From<ConfigError> for HelmholtzError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

/// Complex stretch factors s_i = 1 + iσ_i/ω along one padded axis of `len` points, and the
/// neighbour coefficients a⁺_i = 1/(s_i s_{i+½}), a⁻_i = 1/(s_i s_{i−½}) (zero where the
/// neighbour lies outside the padded grid: Neumann behind the PML).
#[derive(Debug, Clone)]
pub struct PmlAxis {
    /// s_i for i = 0..len.
    pub stretch: Vec<c64>,
    /// a⁺_i (zero at i = len − 1).
    pub plus: Vec<c64>,
    /// a⁻_i (zero at i = 0).
    pub minus: Vec<c64>,
}

impl PmlAxis {
    /// σ_i = σ_max ((p − i)/p)² for i < p, mirrored at the far end, zero inside.
    pub fn damping(len: usize, npml: usize, pml_max: f64) -> Vec<f64> {
        let mut sigma = vec![0.0; len];
        for i in 0..npml.min(len) {
            let x = (npml - i) as f64 / npml as f64;
            sigma[i] = pml_max * x * x;
            sigma[len - 1 - i] = sigma[i];
        }
        sigma
    }

    /// Stretch and neighbour coefficients for an axis of `len` padded points.
    pub fn new(len: usize, npml: usize, pml_max: f64, omega: f64) -> Self {
        let stretch: Vec<c64> = Self::damping(len, npml, pml_max)
            .into_iter()
            .map(|s| c64::new(1.0, s / omega))
            .collect();
        let half = |i: usize| (stretch[i] + stretch[i + 1]) * 0.5; // s_{i+½}
        let one = c64::new(1.0, 0.0);
        let plus = (0..len)
            .map(|i| {
                if i + 1 < len {
                    one / (stretch[i] * half(i))
                } else {
                    c64::new(0.0, 0.0)
                }
            })
            .collect();
        let minus = (0..len)
            .map(|i| {
                if i > 0 {
                    one / (stretch[i] * half(i - 1))
                } else {
                    c64::new(0.0, 0.0)
                }
            })
            .collect();
        Self {
            stretch,
            plus,
            minus,
        }
    }
}

/// Which sparse factorisation solves A u = b and Aᴴ λ = r.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Solver {
    /// faer's sparse LU of A with partial pivoting (COLAMD ordering), one LU for A and Aᴴ.
    Lu,
    /// LBLᵀ of the real symmetric form of S A, approximate-minimum-degree ordering.
    SymmetricAmd,
    /// LBLᵀ of the real symmetric form of S A, line nested dissection of the padded grid.
    SymmetricNestedDissection,
    /// LBLᵀ of the real symmetric form of S A, METIS nested dissection.
    SymmetricMetis,
    /// Complex-symmetric supernodal LDLᵀ of S A without pivoting, METIS nested dissection,
    /// solves refined in f64 ([`Refinement::F64`]), the pivoted [`Solver::SymmetricMetis`] as
    /// fallback when the first solve's refined backward error exceeds [`LDLT_PROBE_TOLERANCE`]
    /// (default).
    LdltMetis,
    /// As [`Solver::LdltMetis`] under approximate minimum degree.
    LdltAmd,
    /// As [`Solver::LdltMetis`] under the line nested dissection.
    LdltNestedDissection,
    /// As [`Solver::LdltMetis`] with the factors in complex f32 (half the memory, twice the
    /// SIMD width) and every solve refined in f64 to the backward error of an f64 solve; falls
    /// back to the f64 factors when the refinement does not converge.
    LdltMetisF32,
}

impl Solver {
    /// Every solver with its name.
    pub const ALL: [(&'static str, Solver); 8] = [
        ("lu", Self::Lu),
        ("symmetric-amd", Self::SymmetricAmd),
        ("symmetric-nd", Self::SymmetricNestedDissection),
        ("symmetric-metis", Self::SymmetricMetis),
        ("ldlt-metis", Self::LdltMetis),
        ("ldlt-amd", Self::LdltAmd),
        ("ldlt-nd", Self::LdltNestedDissection),
        ("ldlt-metis-f32", Self::LdltMetisF32),
    ];

    /// The solver's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map(|(n, _)| *n)
            .expect("listed")
    }

    /// Parse a solver name (see [`Solver::ALL`]).
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                ConfigError::new(
                    "solver",
                    format!("must be one of: {}", names.join(", ")),
                    format!("`{name}`"),
                )
            })
    }

    /// The fill-reducing ordering the solver uses (`colamd` for the LU).
    pub fn ordering_name(self) -> &'static str {
        match self {
            Self::Lu => "colamd",
            Self::SymmetricAmd | Self::LdltAmd => "amd",
            Self::SymmetricNestedDissection | Self::LdltNestedDissection => "line-nd",
            Self::SymmetricMetis | Self::LdltMetis | Self::LdltMetisF32 => "metis",
        }
    }
}

/// Backward error of the probe solve, after iterative refinement, above which the LDLᵀ without
/// pivoting is rejected and the pivoted LBLᵀ used instead (for the f32 factors: the f64 ones
/// first). Refinement brings a stable factorisation to about 1e−16; 1e−10 only trips when a
/// pivot nearly vanished and the growth was too large for refinement to recover.
pub const LDLT_PROBE_TOLERANCE: f64 = 1e-10;

/// The complex LDLᵀ analysis with its fallback.
struct LdltAnalysis {
    symbolic: ldlt::LdltSymbolic,
    /// S on the padded grid.
    scale: Vec<c64>,
    /// Node order of the fallback LBLᵀ (the LDLᵀ's own, so the fill is comparable).
    node_perm: Vec<usize>,
    grid: (usize, usize),
    /// The pivoted LBLᵀ, analysed on first need.
    fallback: std::sync::OnceLock<Result<symmetric::SymmetricAnalysis, String>>,
    /// A's pattern by rows in the factor's numbering, for the refinement's residuals.
    permuted: refine::PermutedPattern,
}

// One per operator (and one `Factor` per model): the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Analysis {
    Lu(SymbolicLu<usize>),
    Symmetric(symmetric::SymmetricAnalysis),
    Ldlt(LdltAnalysis),
}

/// The numeric LDLᵀ factors in double or single precision; the corrections of the refinement
/// are solved in single precision either way.
enum LdltValues<'a> {
    /// f64 factors, and the same rounded to f32 for the corrections.
    F64 {
        double: ldlt::LdltFactor<'a, c64>,
        single: ldlt::LdltFactor<'a, c32>,
    },
    /// f32 factors, which correct with themselves.
    F32(ldlt::LdltFactor<'a, c32>),
}

impl<'a> LdltValues<'a> {
    /// The single-precision factors the corrections are solved with.
    fn single(&self) -> &ldlt::LdltFactor<'a, c32> {
        match self {
            Self::F64 { single, .. } | Self::F32(single) => single,
        }
    }
}

/// Complex LDLᵀ factors of M = S A with S, for A and Aᴴ solves refined in f64.
///
/// A refined solve works on row-major n × k blocks in the factor's numbering from the moment the
/// right-hand sides come in until the solution goes out: the solves with the factors, the
/// residuals and the corrections need no permutation between them (one gather of the nonzeros
/// in, one permutation out).
pub struct LdltFactor<'a> {
    factor: LdltValues<'a>,
    symbolic: &'a ldlt::LdltSymbolic,
    scale: &'a [c64],
    pattern: &'a SymbolicSparseColMat<usize>,
    permuted: &'a refine::PermutedPattern,
    /// Backward error of the probe solve before refinement (NaN until checked).
    probe: f64,
    /// ... and after it.
    refined: f64,
    refinement: Refinement,
    /// M = S A in A's pattern order, and ‖M‖∞.
    m_values: Vec<c64>,
    m_norm: f64,
    /// M's and Mᵀ's values in the rows of `permuted` (for the residuals), gathered on first use.
    m_rows: std::sync::OnceLock<Vec<c64>>,
    m_rows_t: std::sync::OnceLock<Vec<c64>>,
    /// The symmetric equilibration E = diag(|M_qq|^(−1/2)) in the factor's numbering (entry i
    /// for unknown perm[i]): the factors are of E M E.
    equilibration: Vec<f64>,
    buffers: &'a Buffers,
}

impl LdltFactor<'_> {
    /// Z ← M⁻¹ Y for row-major blocks in the factor's numbering, with the factors of E M E:
    /// M⁻¹ = E (E M E)⁻¹ E (the scalings fused into the passes in and out of the factors' own
    /// precision).
    fn solve_into(
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
    fn solve_single(
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
    fn correct(&self, r: &[c64], z: &mut [c64], k: usize) {
        let single = self.factor.single();
        self.solve_single(single, refine::Block::Dense(r), z, k, None, true)
    }

    /// Solve M Z = Y (Mᵀ Z = Y when `transpose`) with the factors and refine in f64, for
    /// Y = input(q, B) of the columns B of `rhs`, which is overwritten with output(q, Z).
    fn solve_m(
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
    fn solve(&self, rhs: &mut Mat<c64>) -> RefineReport {
        self.solve_m(rhs, false, |q, v| self.scale[q] * v, |_, v| v)
    }

    /// Aᴴ λ = r ⇔ Mᵀ z = conj(r), λ = conj(S z), refined.
    fn solve_adjoint(&self, rhs: &mut Mat<c64>) -> RefineReport {
        self.solve_m(
            rhs,
            true,
            |_, v| v.conj(),
            |q, v| (self.scale[q] * v).conj(),
        )
    }

    /// The stability probe: solve M x = M x₀ for a fixed x₀ and record the backward errors.
    fn run_probe(&mut self) {
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

/// A numeric factorisation of A(m) for one model.
#[allow(clippy::large_enum_variant)]
pub enum Factor<'a> {
    /// faer sparse LU of A.
    Lu(Lu<usize, c64>),
    /// LBLᵀ of the real form of S A (also the LDLᵀ solvers' fallback).
    Symmetric(symmetric::SymmetricFactor<'a>),
    /// Complex-symmetric LDLᵀ of S A (f64 or f32 factors, solves refined in f64).
    Ldlt(LdltFactor<'a>),
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

/// X ← E Y in the precision of X (`convert`), for a dense or sparse Y.
fn scale_in<T: Copy>(
    y: refine::Block<'_>,
    x: &mut [T],
    k: usize,
    e: &[f64],
    convert: impl Fn(c64) -> T,
) {
    match y {
        refine::Block::Dense(y) => {
            for ((xi, yi), &ei) in x.chunks_exact_mut(k).zip(y.chunks_exact(k)).zip(e) {
                for (a, &b) in xi.iter_mut().zip(yi) {
                    *a = convert(b * ei);
                }
            }
        }
        refine::Block::Sparse(nonzeros) => {
            x.fill(convert(c64::new(0.0, 0.0)));
            for &(i, j, v) in nonzeros {
                x[i * k + j] = convert(v * e[i]);
            }
        }
    }
}

/// Per-model buffers of one operator (wavefields, matrix values), kept between models: a
/// fresh 16 MB block costs its page faults on every gradient.
#[derive(Default)]
struct Buffers {
    mats: std::sync::Mutex<Vec<Mat<c64>>>,
    vecs: std::sync::Mutex<Vec<Vec<c64>>>,
    /// Row-major blocks of the LDLᵀ's refined solves, in f64 and f32.
    rows: std::sync::Mutex<Vec<Vec<c64>>>,
    rows32: std::sync::Mutex<Vec<Vec<c32>>>,
}

/// A block of `len` values from a pool, its contents arbitrary but initialised (every caller
/// writes it whole), or a new one on huge pages.
fn pooled_block<T: Copy>(pool: &std::sync::Mutex<Vec<Vec<T>>>, len: usize, zero: T) -> Vec<T> {
    let mut v = pool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    if v.capacity() < len {
        v = pages::filled(len, zero);
    } else {
        v.resize(len, zero);
    }
    v
}

/// Return a vector to its pool (at most four are kept).
fn pool_return<T>(pool: &std::sync::Mutex<Vec<Vec<T>>>, v: Vec<T>) {
    if let Ok(mut p) = pool.lock()
        && p.len() < 4
    {
        p.push(v);
    }
}

impl Buffers {
    /// A row-major block of `len` values, written whole by the caller ([`pooled_block`]).
    fn rows_any(&self, len: usize) -> Vec<c64> {
        pooled_block(&self.rows, len, c64::new(0.0, 0.0))
    }

    fn give_rows(&self, v: Vec<c64>) {
        pool_return(&self.rows, v);
    }

    /// As [`Buffers::rows_any`] in complex f32.
    fn rows32(&self, len: usize) -> Vec<c32> {
        pooled_block(&self.rows32, len, c32::new(0.0, 0.0))
    }

    fn give_rows32(&self, v: Vec<c32>) {
        pool_return(&self.rows32, v);
    }

    /// A zero matrix of this shape, reusing a returned one if any.
    fn zeros(&self, nrows: usize, ncols: usize) -> Mat<c64> {
        let mut mats = self.mats.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = mats
            .iter()
            .position(|m| m.nrows() == nrows && m.ncols() == ncols)
        {
            let mut m = mats.swap_remove(i);
            m.fill(c64::new(0.0, 0.0));
            return m;
        }
        Mat::zeros(nrows, ncols)
    }

    fn give_mat(&self, m: Mat<c64>) {
        if let Ok(mut mats) = self.mats.lock()
            && mats.len() < 4
        {
            mats.push(m);
        }
    }

    /// A copy of `src`, reusing a returned vector if any.
    fn copy_of(&self, src: &[c64]) -> Vec<c64> {
        let mut vecs = self.vecs.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = vecs.pop().unwrap_or_default();
        drop(vecs);
        v.clear();
        v.extend_from_slice(src);
        v
    }

    /// [`refine::PermutedPattern::rows_of`] into a pooled vector.
    fn rows_of(
        &self,
        pattern: &refine::PermutedPattern,
        values: &[c64],
        transpose: bool,
    ) -> Vec<c64> {
        let mut vecs = self.vecs.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = vecs.pop().unwrap_or_default();
        drop(vecs);
        pattern.rows_of_into(values, transpose, &mut v);
        v
    }

    fn give_vec(&self, v: Vec<c64>) {
        if let Ok(mut vecs) = self.vecs.lock()
            && vecs.len() < 6
        {
            vecs.push(v);
        }
    }
}

/// S = diag(s_{x,i} s_{z,j}) on the padded grid: S A is complex symmetric.
fn stretch_scale(ax: &PmlAxis, az: &PmlAxis) -> Vec<c64> {
    let nzp = az.stretch.len();
    (0..ax.stretch.len() * nzp)
        .map(|q| ax.stretch[q / nzp] * az.stretch[q % nzp])
        .collect()
}

/// The Helmholtz forward operator for one geometry: sparsity pattern, m-independent stencil
/// values, and the symbolic factorisation, all computed once.
pub struct Helmholtz {
    geometry: Geometry,
    omega: f64,
    shape: (usize, usize),
    pattern: SymbolicSparseColMat<usize>,
    /// Values of L_PML in pattern order (the diagonal without ω² m).
    laplacian: Vec<c64>,
    /// Position of each unknown's diagonal entry in the value array.
    diag_pos: Vec<usize>,
    solver: Solver,
    analysis: Analysis,
    sources: Vec<usize>,
    receivers: Vec<usize>,
    buffers: Buffers,
}

impl std::fmt::Debug for Helmholtz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helmholtz")
            .field("geometry", &self.geometry)
            .field("padded", &self.shape)
            .finish()
    }
}

impl Helmholtz {
    /// Validate the geometry, assemble the stencil and analyse it for the default solver
    /// ([`Solver::LdltMetis`]).
    pub fn new(geometry: Geometry) -> Result<Self, HelmholtzError> {
        Self::with_solver(geometry, Solver::LdltMetis)
    }

    /// Validate the geometry, assemble the stencil and compute the symbolic factorisation of the
    /// chosen solver.
    pub fn with_solver(geometry: Geometry, solver: Solver) -> Result<Self, HelmholtzError> {
        Self::with_solver_and_ordering(geometry, solver, None)
    }

    /// As [`Helmholtz::with_solver`], with the fill-reducing ordering of [`Solver::LdltMetis`]
    /// given (`perm[new] = old` over the padded grid, e.g. [`Helmholtz::ordering`] of an earlier
    /// operator on the same padded grid, cached on disk) instead of computed: METIS is most of
    /// the setup. Ignored by the other solvers. Errors when `ordering` is not a permutation of
    /// the padded grid's unknowns.
    pub fn with_solver_and_ordering(
        geometry: Geometry,
        solver: Solver,
        ordering: Option<Vec<usize>>,
    ) -> Result<Self, HelmholtzError> {
        geometry.validate()?;
        let omega = geometry.omega();
        let (nxp, nzp) = geometry.padded_shape();
        let p = geometry.npml;
        let ax = PmlAxis::new(nxp, p, geometry.pml_max, omega);
        let az = PmlAxis::new(nzp, p, geometry.pml_max, omega);
        let inv_h2 = 1.0 / (geometry.h * geometry.h);
        let n = nxp * nzp;
        let zero = c64::new(0.0, 0.0);

        // Column q = (i, j) holds the coefficient of u_q in each equation that touches it, rows in
        // increasing order: (i−1, j), (i, j−1), (i, j), (i, j+1), (i+1, j).
        let mut col_ptr = Vec::with_capacity(n + 1);
        let mut row_idx = Vec::with_capacity(5 * n);
        let mut laplacian = Vec::with_capacity(5 * n);
        let mut diag_pos = vec![0; n];
        col_ptr.push(0);
        for i in 0..nxp {
            for j in 0..nzp {
                let q = i * nzp + j;
                if i > 0 {
                    row_idx.push(q - nzp);
                    laplacian.push(ax.plus[i - 1] * inv_h2);
                }
                if j > 0 {
                    row_idx.push(q - 1);
                    laplacian.push(az.plus[j - 1] * inv_h2);
                }
                diag_pos[q] = row_idx.len();
                row_idx.push(q);
                let sum = ax.plus[i] + ax.minus[i] + az.plus[j] + az.minus[j];
                laplacian.push(zero - sum * inv_h2);
                if j + 1 < nzp {
                    row_idx.push(q + 1);
                    laplacian.push(az.minus[j + 1] * inv_h2);
                }
                if i + 1 < nxp {
                    row_idx.push(q + nzp);
                    laplacian.push(ax.minus[i + 1] * inv_h2);
                }
                col_ptr.push(row_idx.len());
            }
        }
        let pattern = SymbolicSparseColMat::new_checked(n, n, col_ptr, None, row_idx);
        let analysis = match solver {
            Solver::Lu => Analysis::Lu(SymbolicLu::try_new(pattern.as_ref()).map_err(|e| {
                HelmholtzError::Factorization(format!("symbolic factorisation: {e:?}"))
            })?),
            Solver::SymmetricAmd | Solver::SymmetricNestedDissection | Solver::SymmetricMetis => {
                let ordering = match solver {
                    Solver::SymmetricAmd => symmetric::Ordering::Amd,
                    Solver::SymmetricNestedDissection => symmetric::Ordering::NestedDissection,
                    _ => symmetric::Ordering::Nodes(
                        ordering::metis_nested_dissection(&pattern)
                            .map_err(HelmholtzError::Factorization)?,
                    ),
                };
                let scale = stretch_scale(&ax, &az);
                Analysis::Symmetric(
                    symmetric::SymmetricAnalysis::new(&pattern, scale, (nxp, nzp), ordering)
                        .map_err(HelmholtzError::Factorization)?,
                )
            }
            Solver::LdltMetis
            | Solver::LdltAmd
            | Solver::LdltNestedDissection
            | Solver::LdltMetisF32 => {
                let ord = match solver {
                    Solver::LdltMetis | Solver::LdltMetisF32 => {
                        ldlt::LdltOrdering::Custom(match ordering {
                            Some(perm) => {
                                let mut seen = vec![false; n];
                                let ok = perm.len() == n
                                    && perm
                                        .iter()
                                        .all(|&p| p < n && !std::mem::replace(&mut seen[p], true));
                                if !ok {
                                    return Err(ConfigError::new(
                                        "ordering",
                                        format!(
                                            "must be a permutation of the {n} padded-grid unknowns"
                                        ),
                                        format!("{} entries", perm.len()),
                                    )
                                    .into());
                                }
                                perm
                            }
                            None => ordering::metis_nested_dissection(&pattern)
                                .map_err(HelmholtzError::Factorization)?,
                        })
                    }
                    Solver::LdltNestedDissection => {
                        ldlt::LdltOrdering::Custom(symmetric::nested_dissection(nxp, nzp, 16))
                    }
                    _ => ldlt::LdltOrdering::Amd,
                };
                let symbolic = ldlt::LdltSymbolic::new(&pattern, ord)
                    .map_err(HelmholtzError::Factorization)?;
                Analysis::Ldlt(LdltAnalysis {
                    node_perm: symbolic.perm().to_vec(),
                    scale: stretch_scale(&ax, &az),
                    grid: (nxp, nzp),
                    fallback: std::sync::OnceLock::new(),
                    permuted: refine::PermutedPattern::new(
                        &pattern,
                        symbolic.perm(),
                        symbolic.perm_inv(),
                    ),
                    symbolic,
                })
            }
        };
        let node = |[ix, iz]: [usize; 2]| (ix + p) * nzp + iz + p;
        let sources = geometry.sources.iter().copied().map(node).collect();
        let receivers = geometry.receivers.iter().copied().map(node).collect();
        Ok(Self {
            geometry,
            omega,
            shape: (nxp, nzp),
            pattern,
            laplacian,
            diag_pos,
            solver,
            analysis,
            sources,
            receivers,
            buffers: Buffers::default(),
        })
    }

    /// The geometry this operator was built for.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// ω = 2πf.
    pub fn omega(&self) -> f64 {
        self.omega
    }

    /// Padded grid shape (N_x, N_z).
    pub fn padded_shape(&self) -> (usize, usize) {
        self.shape
    }

    /// Number of unknowns N_x N_z.
    pub fn n_unknowns(&self) -> usize {
        self.shape.0 * self.shape.1
    }

    /// Number of structural nonzeros of A.
    pub fn nnz(&self) -> usize {
        self.laplacian.len()
    }

    /// Padded-grid indices of the sources.
    pub fn source_nodes(&self) -> &[usize] {
        &self.sources
    }

    /// Padded-grid indices of the receivers.
    pub fn receiver_nodes(&self) -> &[usize] {
        &self.receivers
    }

    /// The factorisation this operator uses.
    pub fn solver(&self) -> Solver {
        self.solver
    }

    /// Fill of the symmetric factorisation (stored reals of L: two per complex entry for the
    /// LDLᵀ) and its real flop count, or `None` for the LU solver (faer does not expose its LU
    /// fill).
    pub fn symmetric_fill_and_flops(&self) -> Option<(usize, f64)> {
        match &self.analysis {
            Analysis::Symmetric(a) => Some((a.factor_len(), a.flops())),
            Analysis::Ldlt(a) => Some((2 * a.symbolic.factor_len(), a.symbolic.flops())),
            Analysis::Lu(_) => None,
        }
    }

    /// The elimination order of the LDLᵀ solvers (`perm[new] = old`, postordered), to be cached
    /// and passed to [`Helmholtz::with_solver_and_ordering`]; `None` for the other solvers.
    pub fn ordering(&self) -> Option<&[usize]> {
        self.ldlt_symbolic().map(|s| s.perm())
    }

    /// The complex LDLᵀ analysis (`None` for the other solvers).
    pub fn ldlt_symbolic(&self) -> Option<&ldlt::LdltSymbolic> {
        match &self.analysis {
            Analysis::Ldlt(a) => Some(&a.symbolic),
            _ => None,
        }
    }

    /// Check that `m` is a finite, positive squared-slowness model of the interior grid.
    pub fn check_model(&self, m: &[f64]) -> Result<(), ConfigError> {
        let g = &self.geometry;
        if m.len() != g.n_pixels() {
            return Err(ConfigError::new(
                "model",
                format!(
                    "must have nx · nz = {} · {} = {} values",
                    g.nx,
                    g.nz,
                    g.n_pixels()
                ),
                m.len(),
            ));
        }
        if let Some(k) = m.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(ConfigError::new(
                format!("model[{}, {}]", k / g.nz, k % g.nz),
                "squared slowness must be finite and > 0",
                m[k],
            ));
        }
        Ok(())
    }

    /// Extend an interior field to the padded grid by copying edge values into the PML.
    pub fn pad(&self, m: &[f64]) -> Vec<f64> {
        let (nxp, nzp) = self.shape;
        let (nx, nz, p) = (self.geometry.nx, self.geometry.nz, self.geometry.npml);
        let mut out = Vec::with_capacity(nxp * nzp);
        for i in 0..nxp {
            let ii = i.saturating_sub(p).min(nx - 1);
            for j in 0..nzp {
                let jj = j.saturating_sub(p).min(nz - 1);
                out.push(m[ii * nz + jj]);
            }
        }
        out
    }

    /// The adjoint of [`Helmholtz::pad`]: each interior pixel collects the padded values copied
    /// from it (edge pixels gather their PML strip, corners their PML corner block).
    pub fn pad_adjoint(&self, g_pad: &[f64]) -> Vec<f64> {
        let (nxp, nzp) = self.shape;
        let (nx, nz, p) = (self.geometry.nx, self.geometry.nz, self.geometry.npml);
        let mut out = vec![0.0; nx * nz];
        for i in 0..nxp {
            let ii = i.saturating_sub(p).min(nx - 1);
            for j in 0..nzp {
                let jj = j.saturating_sub(p).min(nz - 1);
                out[ii * nz + jj] += g_pad[i * nzp + j];
            }
        }
        out
    }

    /// Values of A(m) in pattern order for a padded squared-slowness field.
    fn matrix_values(&self, m_pad: &[f64]) -> Vec<c64> {
        let w2 = self.omega * self.omega;
        let mut values = self.buffers.copy_of(&self.laplacian);
        for (q, &pos) in self.diag_pos.iter().enumerate() {
            values[pos].re += w2 * m_pad[q];
        }
        values
    }

    /// A(m) as a sparse matrix (pattern, values), for inspection and tests.
    pub fn matrix(&self, m: &[f64]) -> (SymbolicSparseColMat<usize>, Vec<c64>) {
        (self.pattern.clone(), self.matrix_values(&self.pad(m)))
    }

    /// Numeric factorisation of A(m) only (reusing the symbolic factorisation).
    pub fn factorize(&self, m: &[f64]) -> Result<Factor<'_>, HelmholtzError> {
        self.check_model(m)?;
        self.factorize_padded(&self.pad(m), true)
    }

    /// Numeric factorisation; for the LDLᵀ, `probe` runs the backward-error probe solve now
    /// (else the caller checks the residual of its own first solve, see [`Helmholtz::solve`]).
    fn factorize_padded(&self, m_pad: &[f64], probe: bool) -> Result<Factor<'_>, HelmholtzError> {
        let values = self.matrix_values(m_pad);
        match &self.analysis {
            Analysis::Lu(symbolic) => Lu::try_new_with_symbolic(
                symbolic.clone(),
                SparseColMatRef::new(self.pattern.as_ref(), &values),
            )
            .map(Factor::Lu)
            .map_err(|e| HelmholtzError::Factorization(format!("{e:?}"))),
            Analysis::Symmetric(a) => Ok(Factor::Symmetric(a.factorize(&values, &self.pattern))),
            Analysis::Ldlt(a) => {
                let single = self.solver == Solver::LdltMetisF32;
                match self.ldlt_factor(a, &values, single, probe) {
                    Some(f) => {
                        self.buffers.give_vec(values);
                        Ok(Factor::Ldlt(f))
                    }
                    None => self.pivoted_fallback(a, &values),
                }
            }
        }
    }

    /// The LDLᵀ factors of M = S A (in f32 when `single`, falling back to f64), or `None` when
    /// a pivot vanished or (with `probe`) the refined probe solve missed
    /// [`LDLT_PROBE_TOLERANCE`]. Without `probe` the caller checks its own first solve.
    fn ldlt_factor<'a>(
        &'a self,
        a: &'a LdltAnalysis,
        values: &[c64],
        single: bool,
        probe: bool,
    ) -> Option<LdltFactor<'a>> {
        let rows = self.pattern.row_idx();
        let mut m_values = self.buffers.copy_of(values);
        for (v, &r) in m_values.iter_mut().zip(rows) {
            *v *= a.scale[r];
        }
        let equilibration: Vec<f64> = self
            .diag_pos
            .iter()
            .map(|&p| {
                let d = m_values[p].norm();
                if d > 0.0 && d.is_finite() {
                    1.0 / d.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let mut e_values = self.buffers.copy_of(&m_values);
        for c in 0..self.pattern.ncols() {
            for p in self.pattern.col_range(c) {
                e_values[p] *= equilibration[rows[p]] * equilibration[c];
            }
        }
        let numeric = if single {
            a.symbolic.factorize::<c32>(&e_values).map(LdltValues::F32)
        } else {
            a.symbolic
                .factorize::<c64>(&e_values)
                .map(|double| LdltValues::F64 {
                    single: double.to_single(),
                    double,
                })
        };
        self.buffers.give_vec(e_values);
        let factor = match numeric {
            Ok(factor) => factor,
            Err(_) => {
                self.buffers.give_vec(m_values);
                return if single {
                    self.ldlt_factor(a, values, false, probe)
                } else {
                    None
                };
            }
        };
        let m_norm = ldlt::matrix_inf_norm(&self.pattern, &m_values);
        let mut f = LdltFactor {
            factor,
            scale: &a.scale,
            pattern: &self.pattern,
            symbolic: &a.symbolic,
            permuted: &a.permuted,
            probe: f64::NAN,
            refined: f64::NAN,
            refinement: if single {
                Refinement::F32
            } else {
                Refinement::F64
            },
            m_values,
            m_norm,
            m_rows: std::sync::OnceLock::new(),
            m_rows_t: std::sync::OnceLock::new(),
            equilibration: a
                .symbolic
                .perm()
                .iter()
                .map(|&q| equilibration[q])
                .collect(),
            buffers: &self.buffers,
        };
        if probe {
            f.run_probe();
            if !(f.refined <= LDLT_PROBE_TOLERANCE) {
                drop(f);
                return if single {
                    self.ldlt_factor(a, values, false, probe)
                } else {
                    None
                };
            }
        }
        Some(f)
    }

    /// The pivoted LBLᵀ of the real form under the LDLᵀ's node order, analysed once.
    fn pivoted_fallback<'a>(
        &'a self,
        a: &'a LdltAnalysis,
        values: &[c64],
    ) -> Result<Factor<'a>, HelmholtzError> {
        let analysis = a
            .fallback
            .get_or_init(|| {
                symmetric::SymmetricAnalysis::new(
                    &self.pattern,
                    a.scale.clone(),
                    a.grid,
                    symmetric::Ordering::Nodes(a.node_perm.clone()),
                )
            })
            .as_ref()
            .map_err(|e| HelmholtzError::Factorization(e.clone()))?;
        Ok(Factor::Symmetric(analysis.factorize(values, &self.pattern)))
    }

    /// Factorise A(m) and solve for every source wavefield: the state all derivatives start from.
    pub fn solve(&self, m: &[f64]) -> Result<State<'_>, HelmholtzError> {
        self.check_model(m)?;
        let m_pad = self.pad(m);
        let mut lu = self.factorize_padded(&m_pad, false)?;
        let inv_h2 = 1.0 / (self.geometry.h * self.geometry.h);
        let point_sources = || {
            let mut fields = self.buffers.zeros(self.n_unknowns(), self.sources.len());
            for (s, &q) in self.sources.iter().enumerate() {
                fields[(q, s)] = c64::new(inv_h2, 0.0);
            }
            fields
        };
        let mut fields = point_sources();
        let report = lu.solve_reported(&mut fields);
        // The LDLᵀ's stability probe: the backward errors of the sources' solves, M u = S b,
        // before and after refinement (the probe vector's when there are no sources).
        if let (Factor::Ldlt(f), Analysis::Ldlt(a)) = (&mut lu, &self.analysis) {
            match report.filter(|_| !self.sources.is_empty()) {
                Some(r) => (f.probe, f.refined) = (r.initial, r.last),
                None => f.run_probe(),
            }
            if !(f.refined <= LDLT_PROBE_TOLERANCE) {
                let single = matches!(f.factor, LdltValues::F32(_));
                let values = self.matrix_values(&m_pad);
                lu = match single
                    .then(|| self.ldlt_factor(a, &values, false, true))
                    .flatten()
                {
                    Some(f64_factor) => Factor::Ldlt(f64_factor),
                    None => self.pivoted_fallback(a, &values)?,
                };
                fields = point_sources();
                lu.solve(&mut fields);
            }
        }
        Ok(State {
            op: self,
            lu,
            fields,
        })
    }

    /// Data d = P A(m)⁻¹ b for every source, as an (n_sources × n_receivers) matrix.
    pub fn forward(&self, m: &[f64]) -> Result<Mat<c64>, HelmholtzError> {
        Ok(self.solve(m)?.data())
    }

    /// Misfit Φ and its gradient with respect to m for observed data `d_obs` (n_s × n_r).
    pub fn misfit_gradient(
        &self,
        m: &[f64],
        d_obs: &Mat<c64>,
        sigma_d: f64,
    ) -> Result<(f64, Vec<f64>), HelmholtzError> {
        self.solve(m)?.misfit_gradient(d_obs, sigma_d)
    }

    /// Stack complex data row-major into [Re d; Im d].
    pub fn data_to_real(d: &Mat<c64>) -> Vec<f64> {
        let mut out = Vec::with_capacity(2 * d.nrows() * d.ncols());
        for part in [0, 1] {
            for s in 0..d.nrows() {
                for r in 0..d.ncols() {
                    out.push(if part == 0 {
                        d[(s, r)].re
                    } else {
                        d[(s, r)].im
                    });
                }
            }
        }
        out
    }

    /// The inverse of [`Helmholtz::data_to_real`] for this geometry's n_s × n_r data.
    pub fn data_from_real(&self, y: &[f64]) -> Mat<c64> {
        let (ns, nr) = (self.sources.len(), self.receivers.len());
        assert_eq!(
            y.len(),
            2 * ns * nr,
            "real data vector must have 2 · n_sources · n_receivers entries"
        );
        Mat::from_fn(ns, nr, |s, r| {
            c64::new(y[s * nr + r], y[ns * nr + s * nr + r])
        })
    }
}

/// A factorised model with its source wavefields: forward data, J, Jᴴ and the misfit gradient
/// all reuse the one LU.
pub struct State<'a> {
    op: &'a Helmholtz,
    lu: Factor<'a>,
    fields: Mat<c64>,
}

impl Drop for State<'_> {
    fn drop(&mut self) {
        self.op
            .buffers
            .give_mat(std::mem::replace(&mut self.fields, Mat::new()));
    }
}

impl State<'_> {
    /// Source wavefields on the padded grid, one column per source (index q = i N_z + j).
    pub fn fields(&self) -> &Mat<c64> {
        &self.fields
    }

    /// Data at the receivers (n_sources × n_receivers).
    pub fn data(&self) -> Mat<c64> {
        let rec = &self.op.receivers;
        Mat::from_fn(self.fields.ncols(), rec.len(), |s, r| {
            self.fields[(rec[r], s)]
        })
    }

    /// Solve Aᴴ λ_s = Pᵀ w_s for receiver-side weights `w` (n_s × n_r); returns λ (N × n_s).
    fn adjoint_fields(&self, w: &Mat<c64>) -> Mat<c64> {
        let mut rhs = self.op.buffers.zeros(self.op.n_unknowns(), w.nrows());
        for s in 0..w.nrows() {
            for (r, &q) in self.op.receivers.iter().enumerate() {
                rhs[(q, s)] += w[(s, r)];
            }
        }
        self.lu.solve_adjoint(&mut rhs);
        rhs
    }

    /// padᵀ(−ω² Σ_s Re(conj(λ_s) ⊙ u_s)).
    fn correlate(&self, lambda: &Mat<c64>) -> Vec<f64> {
        let w2 = self.op.omega * self.op.omega;
        let mut g_pad = vec![0.0; self.op.n_unknowns()];
        for s in 0..self.fields.ncols() {
            let (u, l) = (self.fields.col(s), lambda.col(s));
            for (q, g) in g_pad.iter_mut().enumerate() {
                let (a, b) = (l[q], u[q]);
                *g -= w2 * (a.re * b.re + a.im * b.im);
            }
        }
        self.op.pad_adjoint(&g_pad)
    }

    /// J δm = −P A⁻¹ (ω² pad(δm) ⊙ u_s) for every source (n_s × n_r).
    pub fn jacobian_apply(&self, dm: &[f64]) -> Mat<c64> {
        let w2 = self.op.omega * self.op.omega;
        let dm_pad = self.op.pad(dm);
        let mut rhs = Mat::from_fn(self.fields.nrows(), self.fields.ncols(), |q, s| {
            self.fields[(q, s)] * (-w2 * dm_pad[q])
        });
        self.lu.solve(&mut rhs);
        let rec = &self.op.receivers;
        Mat::from_fn(rhs.ncols(), rec.len(), |s, r| rhs[(rec[r], s)])
    }

    /// The rows of the Jacobian ∂d/∂m, one datum at a time, from n_r adjoint solves:
    /// d_{s,r} = e_rᵀ P A⁻¹ b_s, so ∂d_{s,r}/∂m_pad = −ω² (A⁻ᵀ Pᵀ e_r) ⊙ u_s with A⁻ᵀ e = conj(A⁻ᴴ e)
    /// for a real e, and the padding adjoint maps the row to the interior grid. `f(row, re, im)`
    /// receives row s·n_r + r as real and imaginary parts (length n_x n_z); only one row is held at
    /// a time, so the paper grid (2940 × 40,000) needs no dense matrix. With few receivers this is
    /// far cheaper than one solve per model direction.
    pub fn for_each_jacobian_row(&self, mut f: impl FnMut(usize, &[f64], &[f64])) {
        let (ns, rec) = (self.fields.ncols(), &self.op.receivers);
        let mut lam = Mat::<c64>::zeros(self.op.n_unknowns(), rec.len());
        for (r, &q) in rec.iter().enumerate() {
            lam[(q, r)] = c64::new(1.0, 0.0);
        }
        self.lu.solve_adjoint(&mut lam);
        let w2 = self.op.omega * self.op.omega;
        let (mut re, mut im) = (
            vec![0.0; self.op.n_unknowns()],
            vec![0.0; self.op.n_unknowns()],
        );
        for s in 0..ns {
            for r in 0..rec.len() {
                for q in 0..re.len() {
                    let c = lam[(q, r)].conj() * self.fields[(q, s)] * (-w2);
                    re[q] = c.re;
                    im[q] = c.im;
                }
                f(
                    s * rec.len() + r,
                    &self.op.pad_adjoint(&re),
                    &self.op.pad_adjoint(&im),
                );
            }
        }
    }

    /// The dense Jacobian ∂d/∂m (complex, (n_s n_r) × (n_x n_z)) from [`State::for_each_jacobian_row`].
    pub fn jacobian_dense(&self) -> Mat<c64> {
        let n_pix = self.op.geometry.nx * self.op.geometry.nz;
        let mut out = Mat::<c64>::zeros(self.fields.ncols() * self.op.receivers.len(), n_pix);
        self.for_each_jacobian_row(|row, re, im| {
            for p in 0..n_pix {
                out[(row, p)] = c64::new(re[p], im[p]);
            }
        });
        out
    }

    /// Jᴴ δd (real, length n_x n_z): the adjoint of [`State::jacobian_apply`] in the real inner
    /// product Re⟨·,·⟩.
    pub fn jacobian_adjoint_apply(&self, dd: &Mat<c64>) -> Vec<f64> {
        let lambda = self.adjoint_fields(dd);
        let g = self.correlate(&lambda);
        self.op.buffers.give_mat(lambda);
        g
    }

    /// Φ = ½ Σ‖P u_s − d_s‖²/σ_d² and ∇_m Φ = Jᴴ (P u − d)/σ_d².
    pub fn misfit_gradient(
        &self,
        d_obs: &Mat<c64>,
        sigma_d: f64,
    ) -> Result<(f64, Vec<f64>), HelmholtzError> {
        memprior_core::error::positive("sigma_d", sigma_d)?;
        let data = self.data();
        if (d_obs.nrows(), d_obs.ncols()) != (data.nrows(), data.ncols()) {
            return Err(ConfigError::new(
                "data",
                format!(
                    "must have shape (n_sources, n_receivers) = ({}, {})",
                    data.nrows(),
                    data.ncols()
                ),
                format!("({}, {})", d_obs.nrows(), d_obs.ncols()),
            )
            .into());
        }
        let inv_s2 = 1.0 / (sigma_d * sigma_d);
        // Weighted residual (P u − d)/σ_d²; Φ = ½ σ_d² ‖weighted residual‖².
        let resid = Mat::from_fn(data.nrows(), data.ncols(), |s, r| {
            (data[(s, r)] - d_obs[(s, r)]) * inv_s2
        });
        let mut sum_sq = 0.0;
        for s in 0..resid.nrows() {
            for r in 0..resid.ncols() {
                sum_sq += resid[(s, r)].norm_sqr();
            }
        }
        let phi = 0.5 * sum_sq * sigma_d * sigma_d;
        Ok((phi, self.jacobian_adjoint_apply(&resid)))
    }
}

impl ForwardOperator for Helmholtz {
    fn input_dim(&self) -> usize {
        self.geometry.n_pixels()
    }
    fn output_dim(&self) -> usize {
        2 * self.sources.len() * self.receivers.len()
    }
    /// [Re d; Im d]; panics on an invalid model (use [`Helmholtz::forward`] to get the error).
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        Self::data_to_real(&self.forward(x).unwrap_or_else(|e| panic!("{e}")))
    }
}

impl JacobianAction for Helmholtz {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Vec<f64> {
        let state = self.solve(x).unwrap_or_else(|e| panic!("{e}"));
        Self::data_to_real(&state.jacobian_apply(dx))
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Vec<f64> {
        let state = self.solve(x).unwrap_or_else(|e| panic!("{e}"));
        state.jacobian_adjoint_apply(&self.data_from_real(dy))
    }
}
