//! The empirical measure p̂_N = (1/N) Σ_n δ(x − x_n) [eq:empirical-prior] and its
//! empirical-optimal denoiser in DDPM coordinates [eq:empirical-denoiser]:
//!
//! E[x₀ | x_t] = Σ_n softmax_n(−‖x_t − √ᾱ_t x_n‖² / (2(1 − ᾱ_t))) x_n,
//! ε̂(x_t, t) = (x_t − √ᾱ_t E[x₀ | x_t]) / √(1 − ᾱ_t).

use crate::TrainingSet;
use memprior_core::ConfigError;
use memprior_core::numerics::softmax;
use rand::{Rng, RngExt};

/// The empirical measure of a training set: sampling returns training points.
#[derive(Debug, Clone)]
pub struct EmpiricalMeasure {
    training: TrainingSet,
}

impl EmpiricalMeasure {
    /// The measure (1/N) Σ δ(x − x_n).
    pub fn new(training: TrainingSet) -> Self {
        Self { training }
    }

    /// The training set.
    pub fn training(&self) -> &TrainingSet {
        &self.training
    }

    /// E[f(x)] = (1/N) Σ_n f(x_n).
    pub fn expectation(&self, f: impl Fn(&[f64]) -> f64) -> f64 {
        self.training.iter().map(f).sum::<f64>() / self.training.len() as f64
    }

    /// Draw `n` samples, each a uniformly chosen training point.
    pub fn sample_n<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                self.training
                    .point(rng.random_range(0..self.training.len()))
                    .to_vec()
            })
            .collect()
    }
}

/// The minimiser of the denoising loss E‖x₀ − D(√ᾱ x₀ + √(1−ᾱ) ε)‖² over p̂_N: the posterior mean
/// of x₀ under the empirical measure, the denoiser a fully memorized network converges to.
#[derive(Debug, Clone)]
pub struct EmpiricalDenoiser {
    training: TrainingSet,
}

impl EmpiricalDenoiser {
    /// The empirical-optimal denoiser of `training`.
    pub fn new(training: TrainingSet) -> Self {
        Self { training }
    }

    fn check_alpha_bar(alpha_bar: f64) -> Result<(), ConfigError> {
        if alpha_bar.is_finite() && alpha_bar > 0.0 && alpha_bar < 1.0 {
            Ok(())
        } else {
            Err(ConfigError::new(
                "alpha_bar",
                "must lie in the open interval (0, 1)",
                alpha_bar,
            ))
        }
    }

    /// The training set.
    pub fn training(&self) -> &TrainingSet {
        &self.training
    }

    /// Posterior weights softmax_n(−‖x_t − √ᾱ x_n‖² / (2(1 − ᾱ))).
    pub fn weights(&self, x_t: &[f64], alpha_bar: f64) -> Result<Vec<f64>, ConfigError> {
        Self::check_alpha_bar(alpha_bar)?;
        let (a, two_var) = (alpha_bar.sqrt(), 2.0 * (1.0 - alpha_bar));
        let logits: Vec<f64> = self
            .training
            .iter()
            .map(|xn| {
                -x_t.iter()
                    .zip(xn)
                    .map(|(x, v)| (x - a * v).powi(2))
                    .sum::<f64>()
                    / two_var
            })
            .collect();
        Ok(softmax(&logits))
    }

    /// Σ_n w_n x_n for weights `w` over the training points.
    pub fn weighted_mean(&self, w: &[f64]) -> Vec<f64> {
        let mut mean = vec![0.0; self.training.dim()];
        for (wn, xn) in w.iter().zip(self.training.iter()) {
            if *wn == 0.0 {
                continue;
            }
            for (m, v) in mean.iter_mut().zip(xn) {
                *m += wn * v;
            }
        }
        mean
    }

    /// x̂₀ = E[x₀ | x_t] [eq:empirical-denoiser].
    pub fn posterior_mean(&self, x_t: &[f64], alpha_bar: f64) -> Result<Vec<f64>, ConfigError> {
        Ok(self.weighted_mean(&self.weights(x_t, alpha_bar)?))
    }

    /// ε̂(x_t) = (x_t − √ᾱ x̂₀) / √(1 − ᾱ).
    pub fn epsilon(&self, x_t: &[f64], alpha_bar: f64) -> Result<Vec<f64>, ConfigError> {
        let x0 = self.posterior_mean(x_t, alpha_bar)?;
        let (sa, s1) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        Ok(x_t
            .iter()
            .zip(&x0)
            .map(|(xt, x0)| (xt - sa * x0) / s1)
            .collect())
    }
}
