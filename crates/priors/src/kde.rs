//! Kernel density estimates and the bimodal truth of the memorization illustration.
//!
//! A Gaussian KDE with kernel std h is the memorized prior [eq:gmm-prior] with σ = h: as
//! h → 0 it tends to the empirical measure [eq:empirical-prior].

use memprior_core::numerics::logsumexp;
use memprior_core::{ConfigError, error::positive};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};
use statrs::distribution::{Continuous, Normal};

/// A one-dimensional mixture Σ_k a_k N(μ_k, s_k²).
#[derive(Debug, Clone)]
pub struct GaussianMixture1d {
    weights: Vec<f64>,
    components: Vec<Normal>,
}

impl GaussianMixture1d {
    /// Mixture with weights (normalised here), means and standard deviations.
    pub fn new(weights: &[f64], means: &[f64], stds: &[f64]) -> Result<Self, ConfigError> {
        if weights.is_empty() || weights.len() != means.len() || means.len() != stds.len() {
            return Err(ConfigError::new(
                "mixture",
                "weights, means and stds must be non-empty and of equal length",
                format!("{}, {}, {}", weights.len(), means.len(), stds.len()),
            ));
        }
        memprior_core::error::all_positive("weights", weights)?;
        memprior_core::error::all_finite("means", means)?;
        memprior_core::error::all_positive("stds", stds)?;
        let total: f64 = weights.iter().sum();
        let components = means
            .iter()
            .zip(stds)
            .map(|(&m, &s)| Normal::new(m, s).expect("validated above"))
            .collect();
        Ok(Self {
            weights: weights.iter().map(|w| w / total).collect(),
            components,
        })
    }

    /// Density at x.
    pub fn pdf(&self, x: f64) -> f64 {
        self.weights
            .iter()
            .zip(&self.components)
            .map(|(a, c)| a * c.pdf(x))
            .sum()
    }

    /// Draw `n` samples.
    pub fn sample_n<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let mut k = self.weights.len() - 1;
                for (i, a) in self.weights.iter().enumerate() {
                    acc += a;
                    if u < acc {
                        k = i;
                        break;
                    }
                }
                let z: f64 = StandardNormal.sample(rng);
                self.components[k].mean().unwrap_or(0.0)
                    + self.components[k].std_dev().unwrap_or(1.0) * z
            })
            .collect()
    }
}

use statrs::statistics::Distribution as _;

/// Gaussian kernel density estimate (1/N) Σ_n N(x; x_n, h²).
#[derive(Debug, Clone)]
pub struct GaussianKde {
    points: Vec<f64>,
    bandwidth: f64,
}

impl GaussianKde {
    /// KDE with explicit kernel std `bandwidth`.
    pub fn new(points: &[f64], bandwidth: f64) -> Result<Self, ConfigError> {
        if points.is_empty() {
            return Err(ConfigError::new(
                "points",
                "must contain at least one sample",
                "none",
            ));
        }
        memprior_core::error::all_finite("points", points)?;
        positive("bandwidth", bandwidth)?;
        Ok(Self {
            points: points.to_vec(),
            bandwidth,
        })
    }

    /// KDE whose kernel std is `factor` × the sample standard deviation (ddof = 1), as SciPy's
    /// `gaussian_kde(points, bw_method=factor)` does in one dimension.
    pub fn with_factor(points: &[f64], factor: f64) -> Result<Self, ConfigError> {
        positive("bandwidth_factor", factor)?;
        if points.len() < 2 {
            return Err(ConfigError::new(
                "points",
                "need at least two samples for a sample std",
                points.len(),
            ));
        }
        let n = points.len() as f64;
        let mean = points.iter().sum::<f64>() / n;
        let var = points.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Self::new(points, factor * var.sqrt())
    }

    /// The kernel standard deviation h.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// log density at x.
    pub fn log_pdf(&self, x: f64) -> f64 {
        let h = self.bandwidth;
        let norm = -0.5 * (2.0 * std::f64::consts::PI * h * h).ln();
        let terms: Vec<f64> = self
            .points
            .iter()
            .map(|&p| norm - (x - p).powi(2) / (2.0 * h * h))
            .collect();
        logsumexp(&terms) - (self.points.len() as f64).ln()
    }

    /// Density at x.
    pub fn pdf(&self, x: f64) -> f64 {
        self.log_pdf(x).exp()
    }
}
