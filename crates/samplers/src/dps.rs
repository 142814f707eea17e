//! Diffusion posterior sampling [eq:dps]: a reverse diffusion whose every step is followed by a
//! move down the data misfit Φ(x) = ½‖F(x) − y‖²/γ² (the negative log-likelihood).
//!
//! Bayes at level t: ∇ log p(x_t | y) = ∇ log p(x_t) + ∇ log p(y | x_t), and
//! p(y | x_t) = ∫ p(y | x₀) p(x₀ | x_t) dx₀. DPS replaces p(x₀ | x_t) by a point mass at the
//! denoiser's x̂₀(x_t) (Tweedie's posterior mean), so ∇ log p(y | x_t) ≈ −(∂x̂₀/∂x_t)ᵀ ∇Φ(x̂₀).
//!
//! Two variants:
//!
//! - [`ChungDps`] (Chung et al. 2023): the ancestral DDPM step, then
//!   x_{t−1} ← x'_{t−1} − κ ∇_{x_t} Φ(x̂₀(x_t)), the gradient taken through the denoiser by its
//!   vector–Jacobian product (one denoiser evaluation per level serves both);
//! - [`PaperDps`] (the paper's FWI runs): a deterministic DDIM step to x_{t−1}, a second
//!   denoising at the updated point, and a move of fixed length ζ along −g/‖g‖ with
//!   g = ∇Φ(x̂₀(x_{t−1})): the denoiser's Jacobian is dropped and only the direction of the data
//!   gradient is kept; [`PaperAuthorsDps`] is the same as the authors' script runs it.
//!
//! Each is a [`ReverseStep`] on the one reverse loop ([`crate::diffusion::try_reverse`]),
//! validated when built; the misfit along the way is an observer ([`MisfitTrace`]). [`sample`]
//! runs one trajectory with both, and [`dps_paper`], [`dps_paper_authors`] and
//! [`dps_through_denoiser`] are its shorthands.
//!
//! With the ancestral DDPM step, x_{t−1} = (x_t + β_t ∇ log p_t(x_t))/√α_t + √β̃_t z, so adding
//! (β_t/√α_t) ∇ log p(y | x_t) turns it into the DDPM chain of the posterior: exact up to the
//! T-step discretisation, when started from the posterior's marginal at the first level. For a linear F = A with a Gaussian
//! prior, p(y | x_t) = N(y; A x̂₀, γ² I + A Σ_{0|t} Aᵀ): when A Σ_{0|t} Aᵀ = a² v_t I the exact
//! guidance is the DPS gradient with the per-level step κ_t = β_t γ² / (√α_t (γ² + a² v_t))
//! ([`StepSize::PerLevel`]). Plain DPS drops a² v_t, which is harmless only once v_t = Var(x₀ | x_t)
//! is small next to γ²/a² (late levels) — the tests measure both.

use memprior_core::diffusion::{Batch, Denoiser, DifferentiableDenoiser};
use memprior_core::{ConfigError, JacobianAction};
use rand::Rng;

use crate::GaussianLikelihood;
use crate::diffusion::{DdimStep, DdpmStep, Observer, ReverseStep, StepOutput, try_reverse};

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

/// Why a DPS trajectory failed: invalid settings (caught before any step), or the misfit.
#[derive(Debug, thiserror::Error)]
pub enum DpsStepError<E> {
    /// A step size that does not fit the schedule.
    #[error("invalid DPS step: {0}")]
    Config(#[from] ConfigError),
    /// The misfit failed at some level.
    #[error(transparent)]
    Misfit(E),
}

/// Move every row of `x` by `step` along the gradients `g` (one per row), in place.
fn apply_move(x: &mut Batch, t: usize, step: &StepSize, phi: &[f64], g: &[Vec<f64>]) {
    let d = x.dim();
    for (i, row) in x.as_mut_slice().chunks_mut(d).enumerate() {
        for (xi, di) in row.iter_mut().zip(step.displacement(t, phi[i], &g[i])) {
            *xi -= di;
        }
    }
}

/// The paper's variant as a reverse step: the DDIM step to x_{t−1}, re-denoising at t − 1 (the
/// sample itself after the last step), then a move by the step size along ∇Φ at that estimate.
/// It reports that estimate as x̂₀ and Φ there.
#[derive(Debug, Clone)]
pub struct PaperDps<'m, M: ?Sized> {
    misfit: &'m M,
    step: StepSize,
}

impl<'m, M: Misfit + ?Sized> PaperDps<'m, M> {
    /// The step for a schedule of `levels` levels.
    ///
    /// # Errors
    /// A step size that fails [`StepSize::validate`].
    pub fn new(misfit: &'m M, step: StepSize, levels: usize) -> Result<Self, ConfigError> {
        step.validate(levels)?;
        Ok(Self { misfit, step })
    }
}

impl<D: Denoiser + ?Sized, M: Misfit + ?Sized> ReverseStep<D> for PaperDps<'_, M> {
    type Error = M::Error;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        _rng: &mut R,
    ) -> Result<StepOutput, M::Error> {
        let (x0, eps) = denoiser.x0_and_epsilon(x_t, t);
        let mut x = DdimStep::from_prediction(denoiser, &x0, &eps, t);
        let x0 = if t > 0 {
            denoiser.x0(&x, t - 1)
        } else {
            x.clone()
        };
        let (phi, g): (Vec<f64>, Vec<Vec<f64>>) = x0
            .rows()
            .map(|r| self.misfit.misfit_gradient(r))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        apply_move(&mut x, t, &self.step, &phi, &g);
        Ok(StepOutput {
            x_prev: x,
            x0,
            misfit: Some(phi),
        })
    }
}

/// The paper's variant exactly as the authors' script runs it (luqigroup/mempost,
/// `helmholtz_dps_comparison_c64.py`). Per level t:
///
/// 1. x̂₀ and ε at (x, t); at recorded levels Φ(x̂₀) of this estimate, taken *before* the step
///    (and reported as the step's misfit, with this x̂₀);
/// 2. the DDIM step to level t − 1 (x̂₀ itself at t = 0);
/// 3. re-denoise with the network's ε at the *old* level t but ᾱ of level max(t − 1, 0):
///    x̂₀′ = (x − √(1 − ᾱ) ε(x, t)) / √ᾱ — also after the last step;
/// 4. move by the step size along ∇Φ(x̂₀′).
///
/// [`PaperDps`] differs in steps 1 and 3: it records Φ after the step, and re-denoises at level
/// t − 1 with that level's own ε (the sample itself after the last step).
#[derive(Debug, Clone)]
pub struct PaperAuthorsDps<'m, M: ?Sized> {
    misfit: &'m M,
    step: StepSize,
    record_every: usize,
}

impl<'m, M: Misfit + ?Sized> PaperAuthorsDps<'m, M> {
    /// The step for a schedule of `levels` levels; Φ(x̂₀) before the step is evaluated (a
    /// forward solve) only at the levels [`MisfitTrace`] records with the same `record_every`.
    ///
    /// # Errors
    /// A step size that fails [`StepSize::validate`].
    pub fn new(
        misfit: &'m M,
        step: StepSize,
        levels: usize,
        record_every: usize,
    ) -> Result<Self, ConfigError> {
        step.validate(levels)?;
        Ok(Self {
            misfit,
            step,
            record_every,
        })
    }
}

impl<D: Denoiser + ?Sized, M: Misfit + ?Sized> ReverseStep<D> for PaperAuthorsDps<'_, M> {
    type Error = M::Error;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        _rng: &mut R,
    ) -> Result<StepOutput, M::Error> {
        let (x0, eps) = denoiser.x0_and_epsilon(x_t, t);
        let before = if recorded(self.record_every, t) {
            Some(
                x0.rows()
                    .map(|r| self.misfit.misfit(r))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        // At t = 0, ᾱ_{−1} = 1 and the step returns x̂₀ itself.
        let mut x = DdimStep::from_prediction(denoiser, &x0, &eps, t);
        let (_, eps_now) = denoiser.x0_and_epsilon(&x, t);
        let ab = denoiser.schedule().alpha_bar(t.saturating_sub(1));
        let (a, b) = (ab.sqrt(), (1.0 - ab).sqrt());
        let (phi, g): (Vec<f64>, Vec<Vec<f64>>) = x
            .rows()
            .zip(eps_now.rows())
            .map(|(xr, er)| {
                let x0_now: Vec<f64> = xr
                    .iter()
                    .zip(er)
                    .map(|(xi, ei)| (xi - b * ei) / a)
                    .collect();
                self.misfit.misfit_gradient(&x0_now)
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        apply_move(&mut x, t, &self.step, &phi, &g);
        Ok(StepOutput {
            x_prev: x,
            x0,
            misfit: before,
        })
    }
}

/// Chung et al.'s DPS as a reverse step: x̂₀(x_t) and Φ with its gradient there, pulled back
/// through the denoiser (vector–Jacobian product), the ancestral DDPM step from that x̂₀, then
/// the move by the step size. One denoiser evaluation per level serves the guidance and the step.
#[derive(Debug, Clone)]
pub struct ChungDps<'m, M: ?Sized> {
    misfit: &'m M,
    step: StepSize,
}

impl<'m, M: Misfit + ?Sized> ChungDps<'m, M> {
    /// The step for a schedule of `levels` levels.
    ///
    /// # Errors
    /// A step size that fails [`StepSize::validate`].
    pub fn new(misfit: &'m M, step: StepSize, levels: usize) -> Result<Self, ConfigError> {
        step.validate(levels)?;
        Ok(Self { misfit, step })
    }
}

impl<D: DifferentiableDenoiser + ?Sized, M: Misfit + ?Sized> ReverseStep<D> for ChungDps<'_, M> {
    type Error = M::Error;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        rng: &mut R,
    ) -> Result<StepOutput, M::Error> {
        let x0 = denoiser.x0(x_t, t);
        let mut phi = Vec::with_capacity(x0.len());
        let mut g = Vec::with_capacity(x0.len() * x0.dim());
        for r in x0.rows() {
            let (p, gr) = self.misfit.misfit_gradient(r)?;
            assert_eq!(
                gr.len(),
                r.len(),
                "Misfit::misfit_gradient returned a gradient of another dimension than its point"
            );
            phi.push(p);
            g.extend(gr);
        }
        let g = Batch::new(x0.dim(), g).expect("rows of the point's dimension");
        let gt = denoiser.x0_vjp(x_t, t, &g);
        let mut x = DdpmStep::from_x0(denoiser, x_t, &x0, t, rng);
        let gt: Vec<Vec<f64>> = gt.to_rows();
        apply_move(&mut x, t, &self.step, &phi, &gt);
        Ok(StepOutput {
            x_prev: x,
            x0,
            misfit: Some(phi),
        })
    }
}

fn recorded(every: usize, t: usize) -> bool {
    t == 0 || (every > 0 && t.is_multiple_of(every))
}

/// Records Φ(x̂₀) of the first row at the levels t with t % `every` == 0 and at t = 0, from the
/// steps that report a misfit.
#[derive(Debug, Clone, Default)]
pub struct MisfitTrace {
    /// Recording interval in levels (0: only t = 0).
    pub every: usize,
    /// (t, Φ) in the order run (t = T − 1 first).
    pub trace: Vec<(usize, f64)>,
}

impl MisfitTrace {
    /// A trace of every `every`-th level.
    pub fn new(every: usize) -> Self {
        Self {
            every,
            trace: Vec::new(),
        }
    }
}

impl Observer for MisfitTrace {
    fn observe(&mut self, t: usize, out: &StepOutput) {
        if let Some(phi) = out.misfit.as_ref().and_then(|m| m.first())
            && recorded(self.every, t)
        {
            self.trace.push((t, *phi));
        }
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

/// Run one DPS trajectory of `step` from `x_start` (at level T − 1) on the reverse loop, with
/// the misfit recorded every `record_every` levels; `final_misfit` gives Φ at the final sample.
///
/// # Errors
/// The first failing misfit evaluation.
pub fn sample<D, S, R, E>(
    denoiser: &D,
    step: &S,
    x_start: &[f64],
    rng: &mut R,
    record_every: usize,
    final_misfit: impl FnOnce(&[f64]) -> Result<f64, E>,
) -> Result<DpsTrace, DpsStepError<E>>
where
    D: Denoiser + ?Sized,
    S: ReverseStep<D, Error = E>,
    R: Rng + ?Sized,
{
    let start = Batch::new(x_start.len(), x_start.to_vec())?;
    if start.dim() != denoiser.dim() {
        return Err(ConfigError::new(
            "x_start",
            format!("must have the denoiser's dimension {}", denoiser.dim()),
            start.dim(),
        )
        .into());
    }
    let mut trace = MisfitTrace::new(record_every);
    let x = try_reverse(denoiser, step, start, rng, &mut trace).map_err(DpsStepError::Misfit)?;
    let x = x.row(0).to_vec();
    let final_misfit = final_misfit(&x).map_err(DpsStepError::Misfit)?;
    Ok(DpsTrace {
        x,
        misfit_trace: trace.trace,
        final_misfit,
    })
}

/// [`PaperDps`] from `x_start`, recorded every `record_every` levels (Φ at the final sample by
/// [`Misfit::misfit_gradient`]).
///
/// # Errors
/// An invalid step size, or the misfit's first failure.
pub fn dps_paper<D, M>(
    denoiser: &D,
    misfit: &M,
    step: &StepSize,
    x_start: &[f64],
    record_every: usize,
) -> Result<DpsTrace, DpsStepError<M::Error>>
where
    D: Denoiser + ?Sized,
    M: Misfit + ?Sized,
{
    let s = PaperDps::new(misfit, step.clone(), denoiser.schedule().steps())?;
    sample(denoiser, &s, x_start, &mut quiet_rng(), record_every, |x| {
        Ok(misfit.misfit_gradient(x)?.0)
    })
}

/// [`PaperAuthorsDps`] from `x_start`, recorded every `record_every` levels (Φ at the final
/// sample by [`Misfit::misfit`]).
///
/// # Errors
/// An invalid step size, or the misfit's first failure.
pub fn dps_paper_authors<D, M>(
    denoiser: &D,
    misfit: &M,
    step: &StepSize,
    x_start: &[f64],
    record_every: usize,
) -> Result<DpsTrace, DpsStepError<M::Error>>
where
    D: Denoiser + ?Sized,
    M: Misfit + ?Sized,
{
    let s = PaperAuthorsDps::new(
        misfit,
        step.clone(),
        denoiser.schedule().steps(),
        record_every,
    )?;
    sample(denoiser, &s, x_start, &mut quiet_rng(), record_every, |x| {
        misfit.misfit(x)
    })
}

/// [`ChungDps`] from `x_start` with the ancestral DDPM step (its noise from `rng`), recorded
/// every `record_every` levels (Φ at the final sample by [`Misfit::misfit_gradient`]).
///
/// # Errors
/// An invalid step size, or the misfit's first failure.
pub fn dps_through_denoiser<D, M, R>(
    denoiser: &D,
    misfit: &M,
    _ddpm: &DdpmStep,
    step: &StepSize,
    x_start: &[f64],
    rng: &mut R,
    record_every: usize,
) -> Result<DpsTrace, DpsStepError<M::Error>>
where
    D: DifferentiableDenoiser + ?Sized,
    M: Misfit + ?Sized,
    R: Rng + ?Sized,
{
    let s = ChungDps::new(misfit, step.clone(), denoiser.schedule().steps())?;
    sample(denoiser, &s, x_start, rng, record_every, |x| {
        Ok(misfit.misfit_gradient(x)?.0)
    })
}

/// The random source of the deterministic variants (never drawn from; seeded all the same).
fn quiet_rng() -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(0)
}
