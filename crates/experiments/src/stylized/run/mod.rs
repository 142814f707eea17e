//! Deterministic run of every stylized experiment; returns plain data for tables and figures.

use super::config::StylizedConfig;
use analysis::{
    GridDistances, effective_components, nominal_spacing, sigma_crit, sigma_crit_with_spacing,
};
use memprior_core::numerics::{linspace, logspace};
use memprior_core::{ConfigError, ForwardOperator};
use operators::{Cubic1d, Quadratic2d};
use priors::{GaussianKde, GaussianMixture1d, MemorizedPrior, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use samplers::{
    GaussianLikelihood, GridPosterior, LinearizedPosterior, TensorGrid, Weighting, lookup_weights,
};
use serde::{Deserialize, Serialize};

mod compute;
pub use compute::{pool_indices, run};

/// One training point's view of the 1-D posterior at one σ (a row of `linearized_1d.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentSummary {
    /// Index n of the training point.
    pub n: usize,
    /// Training point x_n.
    pub x_n: f64,
    /// Linearised mean μ_n.
    pub mu: f64,
    /// Linearised standard deviation √Σ_n.
    pub std: f64,
    /// Weight by the quadratic form only.
    pub w_quadratic: f64,
    /// Weight by the exact evidence.
    pub w_evidence: f64,
    /// Exact component weight π_n by quadrature.
    pub pi_exact: f64,
    /// Lookup weight of the empirical prior.
    pub lookup: f64,
}

/// The 1-D problem at one σ: densities on the grid and per-component summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneDPanel {
    /// Bandwidth σ.
    pub sigma: f64,
    /// Grid nodes.
    pub grid: Vec<f64>,
    /// Memorized prior density.
    pub prior: Vec<f64>,
    /// Likelihood, normalised over the grid to a density for plotting on the same axis.
    pub likelihood: Vec<f64>,
    /// Exact posterior density [eq:gmm-posterior].
    pub exact: Vec<f64>,
    /// Linearised mixture density, evidence weighting.
    pub linearized_evidence: Vec<f64>,
    /// Linearised mixture density, quadratic-form weighting.
    pub linearized_quadratic: Vec<f64>,
    /// One entry per training point.
    pub components: Vec<ComponentSummary>,
    /// exp(H(π)) of the exact component weights.
    pub effective_components: f64,
}

/// One training point's linearised component in 2-D (a row of `linearized_2d.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoDComponent {
    /// Index n.
    pub n: usize,
    /// Training point x_n.
    pub x_n: [f64; 2],
    /// Mean μ_n.
    pub mu: [f64; 2],
    /// Covariance entries Σ₁₁, Σ₁₂, Σ₂₂.
    pub cov: [f64; 3],
    /// Quadratic-form weight.
    pub w_quadratic: f64,
    /// Evidence weight.
    pub w_evidence: f64,
    /// Exact π_n by quadrature.
    pub pi_exact: f64,
    /// Lookup weight.
    pub lookup: f64,
}

/// A 2-D field on a grid, ready for plotly: `z[j][i]` is the value at (x1[i], x2[j]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field2d {
    /// First-axis nodes.
    pub x1: Vec<f64>,
    /// Second-axis nodes.
    pub x2: Vec<f64>,
    /// Values, rows along x2.
    pub z: Vec<Vec<f64>>,
}

/// The 2-D problem at one σ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoDPanel {
    /// Bandwidth σ.
    pub sigma: f64,
    /// Memorized prior density.
    pub prior: Field2d,
    /// Likelihood normalised over the grid.
    pub likelihood: Field2d,
    /// Exact posterior density.
    pub exact: Field2d,
    /// Linearised mixture density (evidence weighting).
    pub linearized: Field2d,
    /// Per-component summaries.
    pub components: Vec<TwoDComponent>,
    /// Exact and linearised posterior on the zoom window around x_0 (smallest σ only).
    pub zoom: Option<(Field2d, Field2d)>,
    /// The true model x_true.
    pub x_true: [f64; 2],
    /// exp(H(π)).
    pub effective_components: f64,
}

/// Effective number of components against σ for one N.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepCurve {
    /// Training-set size N.
    pub n_train: usize,
    /// The σ values (log-spaced, increasing).
    pub sigmas: Vec<f64>,
    /// exp(H(π)) at each σ.
    pub effective: Vec<f64>,
    /// σ_crit of the dominance heuristic, δ = mean nearest-neighbour distance of the N points.
    pub sigma_crit: f64,
    /// σ_crit with the authors' δ, the nominal spacing (pool_hi − pool_lo)/(N − 1). The two
    /// differ because floor(linspace) spaces the chosen pool points unevenly.
    pub sigma_crit_nominal: f64,
}

/// One KDE panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KdePanel {
    /// Subset size.
    pub n: usize,
    /// Bandwidth factor.
    pub factor: f64,
    /// Kernel std h.
    pub bandwidth: f64,
    /// KDE on the grid.
    pub density: Vec<f64>,
}

/// The memorization illustration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KdeResults {
    /// Grid nodes.
    pub grid: Vec<f64>,
    /// True density on the grid.
    pub truth: Vec<f64>,
    /// One panel per subset size.
    pub panels: Vec<KdePanel>,
    /// The samples drawn as spikes in the empirical-measure panel.
    pub empirical_points: Vec<f64>,
}

/// Distance between the exact and the linearised posterior on a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistanceRow {
    /// "1d", "1d_slider", "2d_pentagon" or "2d_random".
    pub problem: String,
    /// Bandwidth σ.
    pub sigma: f64,
    /// "evidence" or "quadratic".
    pub weighting: String,
    /// Total variation.
    pub total_variation: f64,
    /// Hellinger distance.
    pub hellinger: f64,
    /// KL(exact ‖ linearised).
    pub kl_exact_to_linearized: f64,
}

/// Everything the stylized experiments produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StylizedResults {
    /// Figure 1, top row.
    pub one_d: Vec<OneDPanel>,
    /// Figure 1, bottom row (pentagon).
    pub two_d: Vec<TwoDPanel>,
    /// The same on a random 2-D training set.
    pub two_d_random: Vec<TwoDPanel>,
    /// Effective components against σ.
    pub sweep: Vec<SweepCurve>,
    /// KDE against the empirical measure.
    pub kde: KdeResults,
    /// The 1-D problem on the σ slider.
    pub slider: Vec<OneDPanel>,
    /// Exact-versus-linearised distances.
    pub distances: Vec<DistanceRow>,
    /// The random 2-D training set that was drawn.
    pub random_training_points: Vec<[f64; 2]>,
}
