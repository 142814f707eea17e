//! Diffusion posterior sampling [eq:dps]: a reverse diffusion whose every step is followed by a
//! move down the data misfit Φ(x) = ½‖F(x) − y‖²/γ² (the negative log-likelihood).
//!
//! Bayes at level t: ∇ log p(x_t | y) = ∇ log p(x_t) + ∇ log p(y | x_t), and
//! p(y | x_t) = ∫ p(y | x₀) p(x₀ | x_t) dx₀. DPS replaces p(x₀ | x_t) by a point mass at the
//! denoiser's x̂₀(x_t) (Tweedie's posterior mean), so ∇ log p(y | x_t) ≈ −(∂x̂₀/∂x_t)ᵀ ∇Φ(x̂₀).
//!
//! Two variants:
//!
//! - [`dps_through_denoiser`] (Chung et al. 2023): any reverse step (ancestral DDPM in the
//!   original), then x_{t−1} ← x'_{t−1} − κ ∇_{x_t} Φ(x̂₀(x_t)), the gradient taken through the
//!   denoiser by its vector–Jacobian product;
//! - [`dps_paper`] (the paper's FWI runs): a deterministic DDIM step to x_{t−1}, a second
//!   denoising at the updated point, and a move of fixed length ζ along −g/‖g‖ with
//!   g = ∇Φ(x̂₀(x_{t−1})): the denoiser's Jacobian is dropped and only the direction of the data
//!   gradient is kept.
//!
//! With the ancestral DDPM step, x_{t−1} = (x_t + β_t ∇ log p_t(x_t))/√α_t + √β̃_t z, so adding
//! (β_t/√α_t) ∇ log p(y | x_t) turns it into the DDPM chain of the posterior: exact up to the
//! T-step discretisation, when started from the posterior's marginal at the first level. For a linear F = A with a Gaussian
//! prior, p(y | x_t) = N(y; A x̂₀, γ² I + A Σ_{0|t} Aᵀ): when A Σ_{0|t} Aᵀ = a² v_t I the exact
//! guidance is the DPS gradient with the per-level step κ_t = β_t γ² / (√α_t (γ² + a² v_t))
//! ([`StepSize::PerLevel`]). Plain DPS drops a² v_t, which is harmless only once v_t = Var(x₀ | x_t)
//! is small next to γ²/a² (late levels) — the tests measure both.

use memprior_core::diffusion::{Batch, Denoiser, DifferentiableDenoiser};
use rand::Rng;

use crate::GaussianLikelihood;
use crate::diffusion::ReverseStep;
use memprior_core::JacobianAction;

/// The data term Φ(x) = ½‖F(x) − y‖²/γ² and its gradient, in the sampler's coordinates.
pub trait Misfit {
    /// Why an evaluation can fail (e.g. a model outside the solver's domain).
    type Error;
    /// Φ(x) and ∇Φ(x).
    ///
    /// # Errors
    /// When Φ cannot be evaluated at x.
    fn misfit_gradient(&self, x: &[f64]) -> Result<(f64, Vec<f64>), Self::Error>;

    /// Φ(x) alone (by default through [`Misfit::misfit_gradient`]; override when the value is
    /// cheaper than the gradient, as a forward solve is next to forward and adjoint solves).
    ///
    /// # Errors
    /// When Φ cannot be evaluated at x.
    fn misfit(&self, x: &[f64]) -> Result<f64, Self::Error> {
        Ok(self.misfit_gradient(x)?.0)
    }
}

impl<F: JacobianAction> Misfit for GaussianLikelihood<F> {
    type Error = std::convert::Infallible;
    fn misfit_gradient(&self, x: &[f64]) -> Result<(f64, Vec<f64>), Self::Error> {
        let r = self.residual(x);
        let g2 = self.gamma() * self.gamma();
        let phi = 0.5 * r.iter().map(|v| v * v).sum::<f64>() / g2;
        let grad = self
            .operator()
            .jacobian_adjoint_apply(x, &r)
            .into_iter()
            .map(|v| -v / g2)
            .collect();
        Ok((phi, grad))
    }
}

/// How far a DPS step moves along the misfit gradient g (the move is subtracted from x).
#[derive(Debug, Clone, PartialEq)]
pub enum StepSize {
    /// ζ g/‖g‖: a fixed length ζ whatever the gradient's size (the paper's FWI runs).
    Normalized(f64),
    /// Chung et al.'s ζ'/‖y − F(x̂₀)‖ applied to ∇‖y − F(x̂₀)‖², in whitened units
    /// ‖r̃‖² = 2Φ: the move is ζ' · 2g/√(2Φ).
    ResidualScaled(f64),
    /// κ_t g with one κ per level t (index t); exact guidance for linear-Gaussian problems.
    PerLevel(Vec<f64>),
}

impl StepSize {
    /// The displacement to subtract at level t, given Φ and its gradient g.
    pub fn displacement(&self, t: usize, phi: f64, g: &[f64]) -> Vec<f64> {
        let scale = match self {
            StepSize::Normalized(zeta) => {
                let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 0.0 { zeta / norm } else { 0.0 }
            }
            StepSize::ResidualScaled(zeta) => {
                let r = (2.0 * phi).sqrt();
                if r > 0.0 { 2.0 * zeta / r } else { 0.0 }
            }
            StepSize::PerLevel(kappa) => kappa[t],
        };
        g.iter().map(|v| scale * v).collect()
    }

    /// Check the step against the schedule length; the error names what is wrong.
    ///
    /// # Errors
    /// A non-finite or negative size, or a per-level list of the wrong length.
    pub fn validate(&self, steps: usize) -> Result<(), memprior_core::ConfigError> {
        use memprior_core::ConfigError;
        match self {
            StepSize::Normalized(z) | StepSize::ResidualScaled(z) => {
                if !(z.is_finite() && *z >= 0.0) {
                    return Err(ConfigError::new("zeta", "must be a finite number ≥ 0", z));
                }
            }
            StepSize::PerLevel(k) => {
                if k.len() != steps {
                    return Err(ConfigError::new(
                        "kappa",
                        format!("must list one step per level (T = {steps})"),
                        format!("{} values", k.len()),
                    ));
                }
                if let Some(v) = k.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                    return Err(ConfigError::new("kappa", "must be finite numbers ≥ 0", v));
                }
            }
        }
        Ok(())
    }
}

fn check_step(step: &StepSize, steps: usize) {
    if let Err(e) = step.validate(steps) {
        panic!("invalid DPS step: {e}");
    }
}

/// One DPS trajectory: the final sample and the misfit along the way.
#[derive(Debug, Clone, PartialEq)]
pub struct DpsTrace {
    /// The final sample x₀.
    pub x: Vec<f64>,
    /// (t, Φ(x̂₀)) at every recorded level, in the order run (t = T − 1 first).
    pub misfit_trace: Vec<(usize, f64)>,
    /// Φ at the final sample.
    pub final_misfit: f64,
}

fn record(every: usize, t: usize) -> bool {
    t == 0 || (every > 0 && t.is_multiple_of(every))
}

fn single(x: &[f64]) -> Batch {
    Batch::new(x.len(), x.to_vec()).expect("one row")
}

/// The deterministic DDIM step of one point (the same update as [`crate::diffusion::DdimStep`]).
fn ddim<D: Denoiser + ?Sized>(denoiser: &D, x: &[f64], t: usize) -> Vec<f64> {
    let (x0, eps) = denoiser.x0_and_epsilon(&single(x), t);
    ddim_from(denoiser, &x0, &eps, t)
}

/// The DDIM step from level t given the denoiser's x̂₀ and ε there.
fn ddim_from<D: Denoiser + ?Sized>(denoiser: &D, x0: &Batch, eps: &Batch, t: usize) -> Vec<f64> {
    let ab_prev = denoiser.schedule().alpha_bar_prev(t);
    x0.axpby(ab_prev.sqrt(), eps, (1.0 - ab_prev).sqrt())
        .row(0)
        .to_vec()
}

/// The paper's variant from `x_start` (at level T − 1): DDIM step, re-denoise at t − 1 (the
/// sample itself after the last step), then move by `step` along ∇Φ(x̂₀). Φ(x̂₀) is recorded at
/// levels t with t % `record_every` == 0 and at t = 0.
///
/// # Errors
/// The misfit's error, at the first evaluation that fails.
///
/// # Panics
/// When `step` fails [`StepSize::validate`] (e.g. a per-level list shorter than T).
pub fn dps_paper<D, M>(
    denoiser: &D,
    misfit: &M,
    step: &StepSize,
    x_start: &[f64],
    record_every: usize,
) -> Result<DpsTrace, M::Error>
where
    D: Denoiser + ?Sized,
    M: Misfit + ?Sized,
{
    check_step(step, denoiser.schedule().steps());
    let mut x = x_start.to_vec();
    let mut trace = Vec::new();
    for t in (0..denoiser.schedule().steps()).rev() {
        x = ddim(denoiser, &x, t);
        let x0 = if t > 0 {
            denoiser.x0(&single(&x), t - 1).row(0).to_vec()
        } else {
            x.clone()
        };
        let (phi, g) = misfit.misfit_gradient(&x0)?;
        if record(record_every, t) {
            trace.push((t, phi));
        }
        for (xi, di) in x.iter_mut().zip(step.displacement(t, phi, &g)) {
            *xi -= di;
        }
    }
    let final_misfit = misfit.misfit_gradient(&x)?.0;
    Ok(DpsTrace {
        x,
        misfit_trace: trace,
        final_misfit,
    })
}

/// The paper's variant exactly as the authors' script runs it (luqigroup/mempost,
/// `helmholtz_dps_comparison_c64.py`), from `x_start` at level T − 1. Per level t:
///
/// 1. x̂₀ and ε at (x, t); at recorded levels Φ(x̂₀) of this estimate, taken *before* the step;
/// 2. the DDIM step to level t − 1 (x̂₀ itself at t = 0);
/// 3. re-denoise with the network's ε at the *old* level t but ᾱ of level max(t − 1, 0):
///    x̂₀′ = (x − √(1 − ᾱ) ε(x, t)) / √ᾱ — also after the last step;
/// 4. move by `step` along ∇Φ(x̂₀′).
///
/// [`dps_paper`] differs in steps 1 and 3: it records Φ after the step, and re-denoises at level
/// t − 1 with that level's own ε (the sample itself after the last step).
///
/// # Errors
/// The misfit's error, at the first evaluation that fails.
///
/// # Panics
/// When `step` fails [`StepSize::validate`] (e.g. a per-level list shorter than T).
pub fn dps_paper_authors<D, M>(
    denoiser: &D,
    misfit: &M,
    step: &StepSize,
    x_start: &[f64],
    record_every: usize,
) -> Result<DpsTrace, M::Error>
where
    D: Denoiser + ?Sized,
    M: Misfit + ?Sized,
{
    let schedule = denoiser.schedule();
    check_step(step, schedule.steps());
    let mut x = x_start.to_vec();
    let mut trace = Vec::new();
    for t in (0..schedule.steps()).rev() {
        let (x0, eps) = denoiser.x0_and_epsilon(&single(&x), t);
        if record(record_every, t) {
            trace.push((t, misfit.misfit(x0.row(0))?));
        }
        // At t = 0, ᾱ_{−1} = 1 and the step returns x̂₀ itself.
        x = ddim_from(denoiser, &x0, &eps, t);
        let (_, eps_now) = denoiser.x0_and_epsilon(&single(&x), t);
        let ab = schedule.alpha_bar(t.saturating_sub(1));
        let (a, b) = (ab.sqrt(), (1.0 - ab).sqrt());
        let x0_now: Vec<f64> = x
            .iter()
            .zip(eps_now.row(0))
            .map(|(xi, ei)| (xi - b * ei) / a)
            .collect();
        let (phi, g) = misfit.misfit_gradient(&x0_now)?;
        for (xi, di) in x.iter_mut().zip(step.displacement(t, phi, &g)) {
            *xi -= di;
        }
    }
    let final_misfit = misfit.misfit(&x)?;
    Ok(DpsTrace {
        x,
        misfit_trace: trace,
        final_misfit,
    })
}

/// Chung et al.'s DPS from `x_start`: at each level, Φ and its gradient at x̂₀(x_t), pulled back
/// through the denoiser (vector–Jacobian product), then the reverse step `reverse_step` and the
/// move by `step`. Φ(x̂₀) is recorded as in [`dps_paper`].
///
/// # Errors
/// The misfit's error, at the first evaluation that fails.
///
/// # Panics
/// When `step` fails [`StepSize::validate`] (e.g. a per-level list shorter than T).
pub fn dps_through_denoiser<D, M, S, R>(
    denoiser: &D,
    misfit: &M,
    reverse_step: &S,
    step: &StepSize,
    x_start: &[f64],
    rng: &mut R,
    record_every: usize,
) -> Result<DpsTrace, M::Error>
where
    D: DifferentiableDenoiser + ?Sized,
    M: Misfit + ?Sized,
    S: ReverseStep,
    R: Rng + ?Sized,
{
    check_step(step, denoiser.schedule().steps());
    let mut x = x_start.to_vec();
    let mut trace = Vec::new();
    for t in (0..denoiser.schedule().steps()).rev() {
        let xb = single(&x);
        let x0 = denoiser.x0(&xb, t);
        let (phi, g) = misfit.misfit_gradient(x0.row(0))?;
        if record(record_every, t) {
            trace.push((t, phi));
        }
        let gt = denoiser.x0_vjp(&xb, t, &single(&g));
        let out = reverse_step.step(denoiser, &xb, t, rng);
        x = out.x_prev.row(0).to_vec();
        for (xi, di) in x.iter_mut().zip(step.displacement(t, phi, gt.row(0))) {
            *xi -= di;
        }
    }
    let final_misfit = misfit.misfit_gradient(&x)?.0;
    Ok(DpsTrace {
        x,
        misfit_trace: trace,
        final_misfit,
    })
}
