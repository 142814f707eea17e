//! Exact posterior under the memorized prior, evaluated on a tensor grid [eq:gmm-posterior]:
//!
//! p(x | y) ∝ Σ_n N(x; x_n, σ² I) exp(−‖F(x) − y‖² / (2γ²)) = Σ_n π_n p_n(x | y),
//! π_n ∝ ∫ N(x; x_n, σ² I) p(y | x) dx   (by quadrature on the grid).
//!
//! Densities are normalised by the Riemann sum Σ p ΔV; everything is kept in log space.

use crate::GaussianLikelihood;
use memprior_core::numerics::{log_softmax, logsumexp};
use memprior_core::{ConfigError, ForwardOperator, LogDensity};
use priors::MemorizedPrior;

/// A tensor-product grid of equispaced axes; nodes are ordered with the last axis fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorGrid {
    axes: Vec<Vec<f64>>,
}

impl TensorGrid {
    /// Validate each axis: at least two finite, strictly increasing, equispaced nodes.
    pub fn new(axes: Vec<Vec<f64>>) -> Result<Self, ConfigError> {
        if axes.is_empty() {
            return Err(ConfigError::new(
                "grid",
                "must have at least one axis",
                "none",
            ));
        }
        for (a, axis) in axes.iter().enumerate() {
            let field = format!("grid.axis[{a}]");
            if axis.len() < 2 {
                return Err(ConfigError::new(
                    field,
                    "must have at least 2 nodes",
                    axis.len(),
                ));
            }
            memprior_core::error::all_finite(&field, axis)?;
            let h = axis[1] - axis[0];
            if h <= 0.0 {
                return Err(ConfigError::new(
                    field,
                    "must be strictly increasing",
                    format!("step {h}"),
                ));
            }
            for w in axis.windows(2) {
                // Equispaced to rounding: linspace nodes differ from i·h by a few ulps of the range.
                if ((w[1] - w[0]) - h).abs() > 1e-9 * h.abs().max(1.0) {
                    return Err(ConfigError::new(
                        field,
                        "must be equispaced",
                        format!("steps {h} and {}", w[1] - w[0]),
                    ));
                }
            }
        }
        Ok(Self { axes })
    }

    /// Equispaced axis of `n` nodes over [lo, hi] (NumPy's linspace); validated by [`TensorGrid::new`].
    pub fn uniform(bounds: &[(f64, f64, usize)]) -> Result<Self, ConfigError> {
        Self::new(
            bounds
                .iter()
                .map(|&(lo, hi, n)| memprior_core::numerics::linspace(lo, hi, n))
                .collect(),
        )
    }

    /// The axes.
    pub fn axes(&self) -> &[Vec<f64>] {
        &self.axes
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.axes.len()
    }

    /// Number of nodes Π_a n_a.
    pub fn len(&self) -> usize {
        self.axes.iter().map(Vec::len).product()
    }

    /// Always false: every axis has at least two nodes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Cell volume ΔV = Π_a h_a.
    pub fn cell_volume(&self) -> f64 {
        self.axes.iter().map(|a| a[1] - a[0]).product()
    }

    /// Coordinates of node `i` (last axis fastest).
    pub fn node(&self, mut i: usize) -> Vec<f64> {
        let mut x = vec![0.0; self.axes.len()];
        for (a, axis) in self.axes.iter().enumerate().rev() {
            x[a] = axis[i % axis.len()];
            i /= axis.len();
        }
        x
    }

    /// Normalise log-values on this grid to a log-density: v − log(Σ exp(v) ΔV).
    pub fn normalize_log_density(&self, log_values: &[f64]) -> Vec<f64> {
        let log_z = logsumexp(log_values) + self.cell_volume().ln();
        log_values.iter().map(|v| v - log_z).collect()
    }
}

/// The exact posterior of a memorized prior on a grid, with its component weights.
#[derive(Debug, Clone)]
pub struct GridPosterior {
    /// log prior density on the grid, normalised by the Riemann sum.
    pub log_prior: Vec<f64>,
    /// log-likelihood −‖F(x) − y‖²/(2γ²) (unnormalised).
    pub log_likelihood: Vec<f64>,
    /// log posterior density on the grid, normalised by the Riemann sum.
    pub log_posterior: Vec<f64>,
    /// log π_n, normalised component weights by quadrature (length N).
    pub log_component_weights: Vec<f64>,
}

impl GridPosterior {
    /// Evaluate prior, likelihood and posterior on `grid`, and π_n by quadrature.
    ///
    /// # Errors
    /// Dimensions that disagree, or a grid node where F cannot be evaluated.
    pub fn compute<F: ForwardOperator>(
        grid: &TensorGrid,
        prior: &MemorizedPrior,
        lik: &GaussianLikelihood<F>,
    ) -> Result<Self, F::Error> {
        if grid.dim() != prior.dim() || lik.operator().input_dim() != prior.dim() {
            return Err(ConfigError::new(
                "grid",
                format!("must have the prior's dimension d = {}", prior.dim()),
                format!(
                    "d = {} (operator input d = {})",
                    grid.dim(),
                    lik.operator().input_dim()
                ),
            )
            .into());
        }
        let n_comp = prior.training().len();
        let mut log_prior = Vec::with_capacity(grid.len());
        let mut log_likelihood = Vec::with_capacity(grid.len());
        // Per component: log Σ_g N(x_g; x_n, σ²) L(x_g), accumulated as a streaming log-sum-exp.
        let mut run_max = vec![f64::NEG_INFINITY; n_comp];
        let mut run_sum = vec![0.0; n_comp];
        for g in 0..grid.len() {
            let x = grid.node(g);
            let comps = prior.component_log_densities(&x);
            let ll = lik.log_likelihood(&x)?;
            log_prior.push(logsumexp(&comps) - (n_comp as f64).ln());
            log_likelihood.push(ll);
            for (k, c) in comps.iter().enumerate() {
                let v = c + ll;
                if v > run_max[k] {
                    run_sum[k] = run_sum[k] * (run_max[k] - v).exp() + 1.0;
                    run_max[k] = v;
                } else if v > f64::NEG_INFINITY {
                    run_sum[k] += (v - run_max[k]).exp();
                }
            }
        }
        let comp_log_mass: Vec<f64> = run_max
            .iter()
            .zip(&run_sum)
            .map(|(m, s)| m + s.ln())
            .collect();
        let log_post_unnorm: Vec<f64> = log_prior
            .iter()
            .zip(&log_likelihood)
            .map(|(p, l)| p + l)
            .collect();
        Ok(Self {
            log_prior: grid.normalize_log_density(&log_prior),
            log_likelihood,
            log_posterior: grid.normalize_log_density(&log_post_unnorm),
            log_component_weights: log_softmax(&comp_log_mass),
        })
    }

    /// π_n (length N, sums to one).
    pub fn component_weights(&self) -> Vec<f64> {
        self.log_component_weights.iter().map(|v| v.exp()).collect()
    }

    /// Posterior density values p(x_g | y) on the grid.
    pub fn posterior_density(&self) -> Vec<f64> {
        self.log_posterior.iter().map(|v| v.exp()).collect()
    }
}
