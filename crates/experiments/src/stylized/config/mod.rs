//! Settings of the stylized experiments, with the paper's values as the default preset.

use memprior_core::ConfigError;
use memprior_core::error::{all_finite, all_positive, positive};

use serde::{Deserialize, Serialize};

mod validate;

/// Named presets. `default` is the paper's settings (cheap: seconds on one core); `quick` shrinks
/// the grids for tests and first notebook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::EnumString, strum::IntoStaticStr, strum::VariantArray, strum::VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum Preset {
    /// The paper's settings (STYLIZED.md).
    Default,
    /// Coarser grids and fewer σ values.
    Quick,
}

memprior_core::named_enum!(Preset, "preset");

/// All settings of the stylized experiments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StylizedConfig {
    /// Seed of the one random stream (KDE samples, the random 2-D training set).
    pub seed: u64,
    /// Assumed data-noise level γ of the likelihood.
    pub gamma: f64,
    /// Prior bandwidths σ of Figure 1.
    pub sigmas: Vec<f64>,
    /// 1-D collapse (Figure 1, top row).
    pub one_d: OneDConfig,
    /// 2-D collapse (Figure 1, bottom row).
    pub two_d: TwoDConfig,
    /// Effective number of components versus σ.
    pub sweep: SweepConfig,
    /// Kernel density estimate against the empirical measure.
    pub kde: KdeConfig,
    /// The continuous σ slider (beyond the paper).
    pub slider: SliderConfig,
}

/// 1-D collapse settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneDConfig {
    /// Training points x_n.
    pub training_points: Vec<f64>,
    /// Observed datum y (noise-free: y = F(x_true)).
    pub y: f64,
    /// Grid lower end.
    pub grid_lo: f64,
    /// Grid upper end.
    pub grid_hi: f64,
    /// Grid nodes.
    pub grid_n: usize,
}

/// 2-D collapse settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwoDConfig {
    /// Radius of the regular polygon of training points.
    pub radius: f64,
    /// Number of training points (vertices).
    pub n_points: usize,
    /// x_true = truth_scale · x_0.
    pub truth_scale: f64,
    /// Grid margin around the bounding box of the training points.
    pub margin: f64,
    /// Grid nodes per axis.
    pub grid_n: usize,
    /// Half width of the zoom window around x_0 at the smallest σ.
    pub zoom_half_width: f64,
    /// Nodes per axis of the zoom grid.
    pub zoom_n: usize,
    /// Scale of the second, random training set (x_n = scale · N(0, I)).
    pub random_scale: f64,
}

/// Effective-components sweep settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// Pool lower end.
    pub pool_lo: f64,
    /// Pool upper end.
    pub pool_hi: f64,
    /// Pool size (training sets are taken at floor(linspace(0, pool_n − 1, N))).
    pub pool_n: usize,
    /// Training-set sizes N.
    pub n_train: Vec<usize>,
    /// Smallest σ.
    pub sigma_lo: f64,
    /// Largest σ.
    pub sigma_hi: f64,
    /// Number of log-spaced σ values.
    pub n_sigma: usize,
    /// Quadrature grid lower end.
    pub quad_lo: f64,
    /// Quadrature grid upper end.
    pub quad_hi: f64,
    /// Quadrature nodes.
    pub quad_n: usize,
    /// Observed datum y.
    pub y: f64,
    /// The "typical σ_min" marker.
    pub sigma_min_marker: f64,
}

/// KDE illustration settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KdeConfig {
    /// Means of the two equal-weight modes of the truth.
    pub modes: Vec<f64>,
    /// Standard deviation of each mode.
    pub mode_std: f64,
    /// Number of samples drawn (subsets are prefixes).
    pub n_samples: usize,
    /// Subset sizes, one panel each.
    pub subset_sizes: Vec<usize>,
    /// Bandwidth factors (kernel std = factor × subset sample std), one per subset.
    pub bandwidth_factors: Vec<f64>,
    /// Samples drawn as spikes in the empirical-measure panel.
    pub empirical_n: usize,
    /// Grid lower end.
    pub grid_lo: f64,
    /// Grid upper end.
    pub grid_hi: f64,
    /// Grid nodes.
    pub grid_n: usize,
}

/// The σ slider of the 1-D problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SliderConfig {
    /// Smallest σ.
    pub sigma_lo: f64,
    /// Largest σ.
    pub sigma_hi: f64,
    /// Number of log-spaced σ values.
    pub n_sigma: usize,
}

impl Default for StylizedConfig {
    fn default() -> Self {
        Self {
            seed: 20260319,
            gamma: 0.3,
            sigmas: vec![0.5, 0.3, 0.05],
            one_d: OneDConfig::default(),
            two_d: TwoDConfig::default(),
            sweep: SweepConfig::default(),
            kde: KdeConfig::default(),
            slider: SliderConfig::default(),
        }
    }
}

impl Default for OneDConfig {
    fn default() -> Self {
        Self {
            training_points: vec![-1.5, -0.4, 0.4, 1.2, 2.5],
            y: 0.0,
            grid_lo: -3.5,
            grid_hi: 3.5,
            grid_n: 500,
        }
    }
}

impl Default for TwoDConfig {
    fn default() -> Self {
        Self {
            radius: 2.0,
            n_points: 5,
            truth_scale: 0.7,
            margin: 0.8,
            grid_n: 200,
            zoom_half_width: 0.12,
            zoom_n: 121,
            random_scale: 1.8,
        }
    }
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            pool_lo: -3.0,
            pool_hi: 3.0,
            pool_n: 100,
            n_train: vec![3, 5, 10, 20, 100],
            sigma_lo: 0.01,
            sigma_hi: 5.0,
            n_sigma: 70,
            quad_lo: -5.0,
            quad_hi: 5.0,
            quad_n: 2000,
            y: 0.0,
            sigma_min_marker: 0.01,
        }
    }
}

impl Default for KdeConfig {
    fn default() -> Self {
        Self {
            modes: vec![-3.0, 3.0],
            mode_std: 0.85,
            n_samples: 200,
            subset_sizes: vec![200, 50, 10, 5],
            bandwidth_factors: vec![0.3, 0.1, 0.04, 0.02],
            empirical_n: 5,
            grid_lo: -7.0,
            grid_hi: 7.0,
            grid_n: 800,
        }
    }
}

impl Default for SliderConfig {
    fn default() -> Self {
        Self {
            sigma_lo: 0.02,
            sigma_hi: 1.0,
            n_sigma: 40,
        }
    }
}
