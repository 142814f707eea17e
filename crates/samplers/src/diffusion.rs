//! Reverse diffusion: a step maps x_t to x_{t−1} given a denoiser; the loop, progress and
//! trajectory recording live outside the step.
//!
//! With x̂₀ and ε̂ the denoiser's predictions at (x_t, t) and ᾱ_{−1} = 1:
//!
//! - DDIM (deterministic, η = 0): x_{t−1} = √ᾱ_{t−1} x̂₀ + √(1 − ᾱ_{t−1}) ε̂;
//! - DDPM (ancestral): x_{t−1} = μ̃_t + √β̃_t z, z ~ N(0, I), with
//!   μ̃_t = (√ᾱ_{t−1} β_t x̂₀ + √α_t (1 − ᾱ_{t−1}) x_t) / (1 − ᾱ_t),
//!   β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), the posterior q(x_{t−1} | x_t, x₀) at x₀ = x̂₀.
//!
//! At t = 0 both return x̂₀.

#[cfg(doc)]
use memprior_core::diffusion::DifferentiableDenoiser;
use memprior_core::diffusion::{Batch, Denoiser};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::convert::Infallible;
use std::time::Instant;

/// One reverse step and the denoiser's clean-point prediction that produced it.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// x_{t−1}.
    pub x_prev: Batch,
    /// x̂₀(x_t, t) (a guided step reports the estimate its guidance was taken at).
    pub x0: Batch,
    /// The data misfit Φ(x̂₀) of each row, when the step evaluated it (the DPS steps of
    /// [`crate::dps`]); `None` for the unguided steps.
    pub misfit: Option<Vec<f64>>,
}

/// A reverse-diffusion update x_t → x_{t−1} with a denoiser of type `D` (any [`Denoiser`] for
/// the unguided steps; a [`DifferentiableDenoiser`] for guidance through the denoiser).
pub trait ReverseStep<D: Denoiser + ?Sized> {
    /// Why a step can fail: [`Infallible`] for the unguided steps, the misfit's error for the
    /// guided ones.
    type Error;

    /// The update at level t for every row of `x_t`; `rng` feeds stochastic steps.
    ///
    /// # Errors
    /// What the step's own evaluations (a data misfit) return.
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        rng: &mut R,
    ) -> Result<StepOutput, Self::Error>;
}

/// The deterministic DDIM step (η = 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct DdimStep;

impl DdimStep {
    /// x_{t−1} from the denoiser's x̂₀ and ε̂ at level t.
    pub fn from_prediction<D: Denoiser + ?Sized>(
        denoiser: &D,
        x0: &Batch,
        eps: &Batch,
        t: usize,
    ) -> Batch {
        let ab_prev = denoiser.schedule().alpha_bar_prev(t);
        x0.axpby(ab_prev.sqrt(), eps, (1.0 - ab_prev).sqrt())
    }
}

impl<D: Denoiser + ?Sized> ReverseStep<D> for DdimStep {
    type Error = Infallible;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        _rng: &mut R,
    ) -> Result<StepOutput, Infallible> {
        let (x0, eps) = denoiser.x0_and_epsilon(x_t, t);
        let x_prev = Self::from_prediction(denoiser, &x0, &eps, t);
        Ok(StepOutput {
            x_prev,
            x0,
            misfit: None,
        })
    }
}

/// The ancestral DDPM step with variance β̃_t.
#[derive(Debug, Clone, Copy, Default)]
pub struct DdpmStep;

impl DdpmStep {
    /// x_{t−1} from x_t and the denoiser's x̂₀ at level t (x̂₀ itself at t = 0); draws the noise
    /// from `rng` for t > 0.
    pub fn from_x0<D: Denoiser + ?Sized, R: Rng + ?Sized>(
        denoiser: &D,
        x_t: &Batch,
        x0: &Batch,
        t: usize,
        rng: &mut R,
    ) -> Batch {
        if t == 0 {
            return x0.clone();
        }
        let s = denoiser.schedule();
        let (ab, ab_prev, beta) = (s.alpha_bar(t), s.alpha_bar_prev(t), s.beta(t));
        let c0 = ab_prev.sqrt() * beta / (1.0 - ab);
        let ct = (1.0 - beta).sqrt() * (1.0 - ab_prev) / (1.0 - ab);
        let sd = (beta * (1.0 - ab_prev) / (1.0 - ab)).sqrt();
        let mut x_prev = x0.axpby(c0, x_t, ct);
        for v in x_prev.as_mut_slice() {
            let z: f64 = StandardNormal.sample(rng);
            *v += sd * z;
        }
        x_prev
    }
}

impl<D: Denoiser + ?Sized> ReverseStep<D> for DdpmStep {
    type Error = Infallible;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        rng: &mut R,
    ) -> Result<StepOutput, Infallible> {
        let x0 = denoiser.x0(x_t, t);
        let x_prev = Self::from_x0(denoiser, x_t, &x0, t, rng);
        Ok(StepOutput {
            x_prev,
            x0,
            misfit: None,
        })
    }
}

/// Watches the reverse loop: called after every step with t and its output.
pub trait Observer {
    /// Called once per step, from t = T − 1 down to 0.
    fn observe(&mut self, t: usize, out: &StepOutput);
}

impl Observer for () {
    fn observe(&mut self, _t: usize, _out: &StepOutput) {}
}

/// Records x̂₀ and x_{t−1} at chosen levels.
#[derive(Debug, Clone, Default)]
pub struct TrajectoryRecorder {
    /// Keep levels with t % every == 0 (and t = 0 always).
    pub every: usize,
    /// (t, x_{t−1}, x̂₀) in the order seen.
    pub states: Vec<(usize, Batch, Batch)>,
}

impl Observer for TrajectoryRecorder {
    fn observe(&mut self, t: usize, out: &StepOutput) {
        if t == 0 || (self.every > 0 && t.is_multiple_of(self.every)) {
            self.states.push((t, out.x_prev.clone(), out.x0.clone()));
        }
    }
}

/// Prints progress and an ETA to stderr every `every` steps.
#[derive(Debug)]
pub struct Progress {
    label: String,
    every: usize,
    total: usize,
    start: Instant,
    done: usize,
}

impl Progress {
    /// Progress over `total` steps, reported every `every` steps.
    pub fn new(label: impl Into<String>, total: usize, every: usize) -> Self {
        Self {
            label: label.into(),
            every: every.max(1),
            total,
            start: Instant::now(),
            done: 0,
        }
    }
}

impl Observer for Progress {
    fn observe(&mut self, _t: usize, _out: &StepOutput) {
        self.done += 1;
        if self.done.is_multiple_of(self.every) || self.done == self.total {
            let el = self.start.elapsed().as_secs_f64();
            let eta = el / self.done as f64 * self.total.saturating_sub(self.done) as f64;
            eprintln!(
                "{}: step {}/{} ({el:.1} s, ETA {eta:.1} s)",
                self.label, self.done, self.total
            );
        }
    }
}

impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&mut self, t: usize, out: &StepOutput) {
        self.0.observe(t, out);
        self.1.observe(t, out);
    }
}

/// Run the reverse process of an unguided step from `x_start` at level T − 1 down to the clean
/// level.
///
/// # Panics
/// When `x_start` has another dimension than the denoiser.
pub fn reverse<D, S, R, O>(
    denoiser: &D,
    step: &S,
    x_start: Batch,
    rng: &mut R,
    observer: &mut O,
) -> Batch
where
    D: Denoiser + ?Sized,
    S: ReverseStep<D, Error = Infallible>,
    R: Rng + ?Sized,
    O: Observer + ?Sized,
{
    assert_eq!(
        x_start.dim(),
        denoiser.dim(),
        "x_start has the wrong dimension"
    );
    match try_reverse(denoiser, step, x_start, rng, observer) {
        Ok(x) => x,
        Err(failure) => match failure.source {},
    }
}

/// A step of the reverse loop that failed: its level, the iterate it started from (the last
/// state the loop accepted) and the step's error.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFailure<E> {
    /// Level t of the failing step.
    pub t: usize,
    /// The iterate x_t the step started from.
    pub x: Batch,
    /// The step's error.
    pub source: E,
}

/// Run the reverse process of any step, guided ones included, stopping at the first step that
/// fails.
///
/// # Errors
/// The first failing step: its level, the iterate it started from and its error.
pub fn try_reverse<D, S, R, O>(
    denoiser: &D,
    step: &S,
    x_start: Batch,
    rng: &mut R,
    observer: &mut O,
) -> Result<Batch, StepFailure<S::Error>>
where
    D: Denoiser + ?Sized,
    S: ReverseStep<D>,
    R: Rng + ?Sized,
    O: Observer + ?Sized,
{
    let mut x = x_start;
    for t in (0..denoiser.schedule().steps()).rev() {
        let out = match step.step(denoiser, &x, t, rng) {
            Ok(out) => out,
            Err(source) => return Err(StepFailure { t, x, source }),
        };
        observer.observe(t, &out);
        x = out.x_prev;
    }
    Ok(x)
}

/// n rows of independent N(0, I) draws: the starting point of unconditional sampling.
pub fn standard_normal<R: Rng + ?Sized>(n: usize, dim: usize, rng: &mut R) -> Batch {
    let data = (0..n * dim)
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    Batch::new(dim, data).expect("n·dim values")
}
