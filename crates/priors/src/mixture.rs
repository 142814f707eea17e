//! The memorized prior: the empirical measure smoothed by an isotropic Gaussian,
//!
//! p_σ^N(x) = (1/N) Σ_n N(x; x_n, σ² I)                                   [eq:gmm-prior]
//! ∇ₓ log p_σ^N(x) = Σ_n w_n(x) (x_n − x) / σ²,
//! w_n(x) = softmax_n(−‖x − x_n‖² / (2σ²))                                [eq:gmm-score]

use crate::TrainingSet;
use memprior_core::numerics::{logsumexp, softmax, squared_distance};
use memprior_core::{ConfigError, LogDensity, Score, error::positive};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

/// Gaussian mixture with one component N(x_n, σ² I) per training point and equal weights 1/N.
#[derive(Debug, Clone)]
pub struct MemorizedPrior {
    training: TrainingSet,
    sigma: f64,
}

impl MemorizedPrior {
    /// Mixture of bandwidth σ over `training`; errors unless σ is finite and > 0.
    pub fn new(training: TrainingSet, sigma: f64) -> Result<Self, ConfigError> {
        positive("sigma", sigma)?;
        Ok(Self { training, sigma })
    }

    /// The bandwidth σ.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The training set {x_n}.
    pub fn training(&self) -> &TrainingSet {
        &self.training
    }

    /// log N(x; x_n, σ² I) for every n (length N).
    pub fn component_log_densities(&self, x: &[f64]) -> Vec<f64> {
        let d = self.training.dim() as f64;
        let s2 = self.sigma * self.sigma;
        let norm = -0.5 * d * (2.0 * std::f64::consts::PI * s2).ln();
        self.training
            .iter()
            .map(|xn| norm - squared_distance(x, xn) / (2.0 * s2))
            .collect()
    }

    /// Responsibilities w_n(x) = softmax_n(−‖x − x_n‖² / (2σ²)) of [eq:gmm-score].
    pub fn responsibilities(&self, x: &[f64]) -> Vec<f64> {
        softmax(&self.component_log_densities(x))
    }

    /// Draw `n` samples: pick a training point uniformly, add σ·N(0, I).
    pub fn sample_n<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Vec<Vec<f64>> {
        let big_n = self.training.len();
        (0..n)
            .map(|_| {
                let k = rng.random_range(0..big_n);
                self.training
                    .point(k)
                    .iter()
                    .map(|&c| {
                        let z: f64 = StandardNormal.sample(rng);
                        c + self.sigma * z
                    })
                    .collect()
            })
            .collect()
    }
}

impl LogDensity for MemorizedPrior {
    fn dim(&self) -> usize {
        self.training.dim()
    }

    /// log p_σ^N(x) = log Σ_n N(x; x_n, σ² I) − log N, by log-sum-exp.
    fn log_density(&self, x: &[f64]) -> f64 {
        logsumexp(&self.component_log_densities(x)) - (self.training.len() as f64).ln()
    }
}

impl Score for MemorizedPrior {
    /// Σ_n w_n(x) (x_n − x) / σ² [eq:gmm-score].
    fn score(&self, x: &[f64]) -> Vec<f64> {
        let w = self.responsibilities(x);
        let s2 = self.sigma * self.sigma;
        let mut g = vec![0.0; x.len()];
        for (wn, xn) in w.iter().zip(self.training.iter()) {
            for k in 0..x.len() {
                g[k] += wn * (xn[k] - x[k]) / s2;
            }
        }
        g
    }
}
