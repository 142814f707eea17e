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

use memprior_core::diffusion::{Batch, Denoiser};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::time::Instant;

/// One reverse step and the denoiser's clean-point prediction that produced it.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// x_{t−1}.
    pub x_prev: Batch,
    /// x̂₀(x_t, t).
    pub x0: Batch,
}

/// A reverse-diffusion update x_t → x_{t−1}.
pub trait ReverseStep {
    /// The update at level t for every row of `x_t`; `rng` feeds stochastic steps.
    fn step<D: Denoiser + ?Sized, R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        rng: &mut R,
    ) -> StepOutput;
}

/// The deterministic DDIM step (η = 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct DdimStep;

impl ReverseStep for DdimStep {
    fn step<D: Denoiser + ?Sized, R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        _rng: &mut R,
    ) -> StepOutput {
        let (x0, eps) = denoiser.x0_and_epsilon(x_t, t);
        let ab_prev = denoiser.schedule().alpha_bar_prev(t);
        let x_prev = x0.axpby(ab_prev.sqrt(), &eps, (1.0 - ab_prev).sqrt());
        StepOutput { x_prev, x0 }
    }
}

/// The ancestral DDPM step with variance β̃_t.
#[derive(Debug, Clone, Copy, Default)]
pub struct DdpmStep;

impl ReverseStep for DdpmStep {
    fn step<D: Denoiser + ?Sized, R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        rng: &mut R,
    ) -> StepOutput {
        let x0 = denoiser.x0(x_t, t);
        if t == 0 {
            return StepOutput {
                x_prev: x0.clone(),
                x0,
            };
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
        StepOutput { x_prev, x0 }
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

/// Run the reverse process from `x_start` at level T − 1 down to the clean level.
pub fn reverse<D, S, R, O>(
    denoiser: &D,
    step: &S,
    x_start: Batch,
    rng: &mut R,
    observer: &mut O,
) -> Batch
where
    D: Denoiser + ?Sized,
    S: ReverseStep,
    R: Rng + ?Sized,
    O: Observer + ?Sized,
{
    assert_eq!(
        x_start.dim(),
        denoiser.dim(),
        "x_start has the wrong dimension"
    );
    let mut x = x_start;
    for t in (0..denoiser.schedule().steps()).rev() {
        let out = step.step(denoiser, &x, t, rng);
        observer.observe(t, &out);
        x = out.x_prev;
    }
    x
}

/// n rows of independent N(0, I) draws: the starting point of unconditional sampling.
pub fn standard_normal<R: Rng + ?Sized>(n: usize, dim: usize, rng: &mut R) -> Batch {
    let data = (0..n * dim)
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    Batch::new(dim, data).expect("n·dim values")
}
