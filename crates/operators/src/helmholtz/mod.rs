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

mod assemble;
mod buffers;
mod cplx;
mod factor;
mod geometry;
pub mod green;
pub mod ldlt;
pub mod ordering;
mod pages;
pub mod refine;
mod solve;
mod state;
pub mod symmetric;

pub use geometry::{Geometry, GeometryPreset, smooth_test_model};
pub use refine::{RefineReport, Refinement};

use buffers::{scale_in, stretch_scale};

use faer::sparse::linalg::solvers::{Lu, SymbolicLu};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMat};
use faer::{Mat, c32, c64, linalg::solvers::Solve};
use memprior_core::{ConfigError, ForwardOperator, JacobianAction};

/// Error from building or factorising the operator.
#[derive(Debug)]
pub enum HelmholtzError {
    /// A setting or an input value is out of range.
    Config(ConfigError),
    /// A finite model value that is not a squared slowness (≤ 0): the model lies outside the
    /// operator's domain, where an iterative method (a DPS trajectory, say) can lead it.
    OutsideDomain(ConfigError),
    /// The sparse LU failed (a zero pivot: the model makes A singular at this frequency).
    Factorization(String),
}

impl std::fmt::Display for HelmholtzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(e) | Self::OutsideDomain(e) => e.fmt(f),
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
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::VariantNames,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Solver {
    /// faer's sparse LU of A with partial pivoting (COLAMD ordering), one LU for A and Aᴴ.
    Lu,
    /// LBLᵀ of the real symmetric form of S A, approximate-minimum-degree ordering.
    SymmetricAmd,
    /// LBLᵀ of the real symmetric form of S A, line nested dissection of the padded grid.
    #[strum(serialize = "symmetric-nd")]
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
    #[strum(serialize = "ldlt-nd")]
    LdltNestedDissection,
    /// As [`Solver::LdltMetis`] with the factors in complex f32 (half the memory, twice the
    /// SIMD width) and every solve refined in f64 to the backward error of an f64 solve; falls
    /// back to the f64 factors when the refinement does not converge.
    #[strum(serialize = "ldlt-metis-f32")]
    LdltMetisF32,
}

memprior_core::named_enum!(Solver, "solver", all);

impl Solver {
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

/// A factorised model with its source wavefields: forward data, J, Jᴴ and the misfit gradient
/// all reuse the one LU.
pub struct State<'a> {
    op: &'a Helmholtz,
    lu: Factor<'a>,
    fields: Wavefields<'a>,
}

/// The source wavefields of a [`State`].
enum Wavefields<'a> {
    /// N × n_s, one column per source, in the grid's numbering.
    Natural(Mat<c64>),
    /// Row-major N × k in the LDLᵀ factor's numbering (`perm_inv[q]` is the row of unknown q),
    /// as the solve leaves them: the data and the adjoint correlation read them there; the
    /// natural-order matrix is made on first request.
    Factor {
        rows: Vec<c64>,
        perm_inv: &'a [usize],
        k: usize,
        natural: std::sync::OnceLock<Mat<c64>>,
    },
}
