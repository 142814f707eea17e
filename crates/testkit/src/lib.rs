//! Checks shared by the tests and the notebooks, so that each is written once:
//!
//! - [`taylor_test`] and [`taylor_test_map`]: the remainders of a first-order Taylor expansion
//!   and their log–log slopes (1 for the zeroth-order remainder, 2 for the first-order one when
//!   the derivative is right);
//! - [`dot_test`] and [`dot_test_operator`]: ⟨J δx, δy⟩ against ⟨δx, Jᵀ δy⟩;
//! - [`linearity_error`]: J(a u + b w) against a J u + b J w;
//! - [`moments`] and [`moment_check`]: sample mean and variance against a law, within k·σ/√n
//!   and k·σ²·√(2/(n − 1));
//! - [`gaussian`]: the exact law of the DDPM sampler, with or without DPS guidance, on a scalar
//!   linear-Gaussian problem (a recursion written independently of the samplers);
//! - [`smooth_test_model`]: a smooth squared-slowness model for any grid;
//! - [`interrupt`]: seeded kill times and a SIGKILL after a delay, for the interruption tests.
//!
//! Each report renders its rows for a notebook table (`rows`), and the tests assert on its fields.

pub mod gaussian;
pub mod interrupt;

use memprior_core::JacobianAction;
use memprior_core::numerics::loglog_slope;
pub use operators::helmholtz::smooth_test_model;

/// The remainders of a Taylor test at step sizes ε, and their fitted log–log slopes.
#[derive(Debug, Clone, PartialEq)]
pub struct TaylorReport {
    /// The step sizes ε.
    pub eps: Vec<f64>,
    /// R₀(ε) = ‖f(x + εv) − f(x)‖.
    pub r0: Vec<f64>,
    /// R₁(ε) = ‖f(x + εv) − f(x) − ε f′(x)v‖.
    pub r1: Vec<f64>,
    /// The slope of log R₀ against log ε (1 for a smooth f with f′(x)v ≠ 0).
    pub slope0: f64,
    /// The slope of log R₁ against log ε (2 when f′ is right).
    pub slope1: f64,
}

impl TaylorReport {
    fn new(eps: &[f64], r0: Vec<f64>, r1: Vec<f64>) -> Self {
        Self {
            slope0: loglog_slope(eps, &r0),
            slope1: loglog_slope(eps, &r1),
            eps: eps.to_vec(),
            r0,
            r1,
        }
    }

    /// Whether R₁ decays at order 2 ± `tol`.
    pub fn is_second_order(&self, tol: f64) -> bool {
        (self.slope1 - 2.0).abs() < tol
    }

    /// One row per ε: `label`, ε, R₀(ε), R₁(ε), for a notebook table.
    pub fn rows(&self, label: &str) -> Vec<Vec<String>> {
        self.eps
            .iter()
            .zip(&self.r0)
            .zip(&self.r1)
            .map(|((e, a), b)| {
                vec![
                    label.to_string(),
                    format!("{e}"),
                    format!("{a:.4e}"),
                    format!("{b:.4e}"),
                ]
            })
            .collect()
    }
}

fn step(x: &[f64], v: &[f64], e: f64) -> Vec<f64> {
    x.iter().zip(v).map(|(a, b)| a + e * b).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Taylor test of a scalar function f with gradient `grad` at `x` along `v`:
/// R₀(ε) = |f(x + εv) − f(x)|, R₁(ε) = |f(x + εv) − f(x) − ε⟨∇f, v⟩|.
///
/// # Errors
/// The first error of an evaluation of f.
pub fn taylor_test<E>(
    mut f: impl FnMut(&[f64]) -> Result<f64, E>,
    x: &[f64],
    grad: &[f64],
    v: &[f64],
    eps: &[f64],
) -> Result<TaylorReport, E> {
    // The map x ↦ [f(x)] with J v = [⟨∇f, v⟩]: √(d²) = |d| exactly in binary floating point.
    let lin = dot(grad, v);
    taylor_test_map(|p| f(p).map(|y| vec![y]), x, &[lin], v, eps)
}

/// Taylor test of a vector map F with J v = `jv` at `x` along `v`, in the Euclidean norm:
/// R₀(ε) = ‖F(x + εv) − F(x)‖, R₁(ε) = ‖F(x + εv) − F(x) − ε J v‖.
///
/// # Errors
/// The first error of an evaluation of F.
pub fn taylor_test_map<E>(
    mut f: impl FnMut(&[f64]) -> Result<Vec<f64>, E>,
    x: &[f64],
    jv: &[f64],
    v: &[f64],
    eps: &[f64],
) -> Result<TaylorReport, E> {
    let f0 = f(x)?;
    let (mut r0, mut r1) = (Vec::new(), Vec::new());
    for &e in eps {
        let fe = f(&step(x, v, e))?;
        let (mut a, mut b) = (0.0, 0.0);
        for ((p, q), j) in fe.iter().zip(&f0).zip(jv) {
            a += (p - q) * (p - q);
            b += (p - q - e * j) * (p - q - e * j);
        }
        r0.push(a.sqrt());
        r1.push(b.sqrt());
    }
    Ok(TaylorReport::new(eps, r0, r1))
}

/// [`taylor_test_map`] of an operator's forward map against its [`JacobianAction::jacobian_apply`].
///
/// # Errors
/// The operator's first error.
pub fn taylor_test_operator<F: JacobianAction>(
    op: &F,
    x: &[f64],
    v: &[f64],
    eps: &[f64],
) -> Result<TaylorReport, F::Error> {
    let jv = op.jacobian_apply(x, v)?;
    taylor_test_map(|p| op.apply(p), x, &jv, v, eps)
}

/// A dot-product test: ⟨J δx, δy⟩ against ⟨δx, Jᵀ δy⟩.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DotReport {
    /// ⟨J δx, δy⟩.
    pub lhs: f64,
    /// ⟨δx, Jᵀ δy⟩.
    pub rhs: f64,
    /// |lhs − rhs| / max(|lhs|, |rhs|).
    pub rel: f64,
}

impl DotReport {
    /// The row `label`, lhs, rhs, relative gap, for a notebook table.
    pub fn row(&self, label: &str) -> Vec<String> {
        vec![
            label.to_string(),
            format!("{:.12e}", self.lhs),
            format!("{:.12e}", self.rhs),
            format!("{:.1e}", self.rel),
        ]
    }
}

/// The dot-product test from its four vectors: J δx and δy (data space), δx and Jᵀ δy (model
/// space).
pub fn dot_test(j_dx: &[f64], dy: &[f64], dx: &[f64], jt_dy: &[f64]) -> DotReport {
    let (lhs, rhs) = (dot(j_dx, dy), dot(dx, jt_dy));
    DotReport {
        lhs,
        rhs,
        rel: (lhs - rhs).abs() / lhs.abs().max(rhs.abs()),
    }
}

/// [`dot_test`] of an operator at `x`.
///
/// # Errors
/// The operator's first error.
pub fn dot_test_operator<F: JacobianAction>(
    op: &F,
    x: &[f64],
    dx: &[f64],
    dy: &[f64],
) -> Result<DotReport, F::Error> {
    let j_dx = op.jacobian_apply(x, dx)?;
    let jt_dy = op.jacobian_adjoint_apply(x, dy)?;
    Ok(dot_test(&j_dx, dy, dx, &jt_dy))
}

/// The linearity error max|J(a u + b w) − (a J u + b J w)| / max|J(a u + b w)| from J u, J w and
/// J(a u + b w), entry by entry: `residual_and_norm(ju, jw, jc)` returns |jc − (a ju + b jw)| and
/// |jc| for one entry (absolute values for real data, complex moduli for complex data), so the
/// coefficients a, b live in the closure.
pub fn linearity_error<T: Copy>(
    ju: &[T],
    jw: &[T],
    j_combo: &[T],
    mut residual_and_norm: impl FnMut(T, T, T) -> (f64, f64),
) -> f64 {
    let (mut err, mut scale) = (0.0f64, 0.0f64);
    for ((&u, &w), &c) in ju.iter().zip(jw).zip(j_combo) {
        let (e, s) = residual_and_norm(u, w, c);
        err = err.max(e);
        scale = scale.max(s);
    }
    err / scale
}

/// The sample mean and the unbiased sample variance.
pub fn moments(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

/// Sample moments against a law's mean and variance, with the Monte Carlo tolerances
/// k·σ/√n for the mean and k·σ²·√(2/(n − 1)) for the variance (the standard errors of a Gaussian
/// sample's mean and variance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentCheck {
    /// Sample mean.
    pub mean: f64,
    /// Unbiased sample variance.
    pub var: f64,
    /// The law's mean.
    pub law_mean: f64,
    /// The law's variance.
    pub law_var: f64,
    /// k·σ/√n.
    pub tol_mean: f64,
    /// k·σ²·√(2/(n − 1)).
    pub tol_var: f64,
}

impl MomentCheck {
    /// Whether both moments are within their tolerances.
    pub fn passes(&self) -> bool {
        (self.mean - self.law_mean).abs() < self.tol_mean
            && (self.var - self.law_var).abs() < self.tol_var
    }
}

/// [`MomentCheck`] of `samples` against the law (mean, variance) at `k` standard errors.
pub fn moment_check(samples: &[f64], law: (f64, f64), k: f64) -> MomentCheck {
    let (mean, var) = moments(samples);
    let n = samples.len() as f64;
    MomentCheck {
        mean,
        var,
        law_mean: law.0,
        law_var: law.1,
        tol_mean: k * (law.1 / n).sqrt(),
        tol_var: k * law.1 * (2.0 / (n - 1.0)).sqrt(),
    }
}
