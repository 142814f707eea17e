//! Settings of the stylized experiments, with the paper's values as the default preset.

use memprior_core::ConfigError;
use memprior_core::error::{all_finite, all_positive, positive};

use serde::{Deserialize, Serialize};

/// Named presets. `default` is the paper's settings (cheap: seconds on one core); `quick` shrinks
/// the grids for tests and first notebook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The paper's settings (STYLIZED.md).
    Default,
    /// Coarser grids and fewer σ values.
    Quick,
}

impl std::str::FromStr for Preset {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(Preset::Default),
            "quick" => Ok(Preset::Quick),
            other => Err(ConfigError::new(
                "preset",
                "must be one of: default, quick",
                other,
            )),
        }
    }
}

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

fn grid(field: &str, lo: f64, hi: f64, n: usize, min_n: usize) -> Result<(), ConfigError> {
    for (name, v) in [("lo", lo), ("hi", hi)] {
        if !v.is_finite() {
            return Err(ConfigError::new(
                format!("{field}_{name}"),
                "must be a finite number",
                v,
            ));
        }
    }
    if lo >= hi {
        return Err(ConfigError::new(
            format!("{field}_lo"),
            format!("must be < {field}_hi = {hi}"),
            lo,
        ));
    }
    if n < min_n {
        return Err(ConfigError::new(
            format!("{field}_n"),
            format!("must be ≥ {min_n}"),
            n,
        ));
    }
    Ok(())
}

fn sigma_range(field: &str, lo: f64, hi: f64, n: usize) -> Result<(), ConfigError> {
    positive(&format!("{field}.sigma_lo"), lo)?;
    positive(&format!("{field}.sigma_hi"), hi)?;
    if lo >= hi {
        return Err(ConfigError::new(
            format!("{field}.sigma_lo"),
            format!("must be < sigma_hi = {hi}"),
            lo,
        ));
    }
    if n < 2 {
        return Err(ConfigError::new(
            format!("{field}.n_sigma"),
            "must be ≥ 2",
            n,
        ));
    }
    Ok(())
}

impl StylizedConfig {
    /// The settings of a named preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Default => Self::default(),
            Preset::Quick => {
                let mut c = Self::default();
                c.one_d.grid_n = 200;
                c.two_d.grid_n = 60;
                c.two_d.zoom_n = 41;
                c.sweep.n_sigma = 12;
                c.sweep.quad_n = 600;
                c.slider.n_sigma = 8;
                c.kde.grid_n = 200;
                c
            }
        }
    }

    /// Parse TOML (unknown keys are errors) and validate.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| {
            ConfigError::new(
                "config",
                "must be valid TOML with the documented keys (see data/stylized/default.toml)",
                e.message().to_string(),
            )
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check every setting; the error names the first invalid one and its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("gamma", self.gamma)?;
        all_positive("sigmas", &self.sigmas)?;
        let o = &self.one_d;
        if o.training_points.is_empty() {
            return Err(ConfigError::new(
                "one_d.training_points",
                "must contain at least one point (N ≥ 1)",
                "N = 0",
            ));
        }
        all_finite("one_d.training_points", &o.training_points)?;
        all_finite("one_d.y", &[o.y])?;
        grid("one_d.grid", o.grid_lo, o.grid_hi, o.grid_n, 2)?;
        let t = &self.two_d;
        positive("two_d.radius", t.radius)?;
        if t.n_points < 2 {
            return Err(ConfigError::new(
                "two_d.n_points",
                "must be ≥ 2",
                t.n_points,
            ));
        }
        all_finite("two_d.truth_scale", &[t.truth_scale])?;
        positive("two_d.margin", t.margin)?;
        if t.grid_n < 2 || t.zoom_n < 2 {
            return Err(ConfigError::new(
                "two_d.grid_n/zoom_n",
                "must be ≥ 2",
                format!("{}/{}", t.grid_n, t.zoom_n),
            ));
        }
        positive("two_d.zoom_half_width", t.zoom_half_width)?;
        positive("two_d.random_scale", t.random_scale)?;
        let s = &self.sweep;
        grid("sweep.pool", s.pool_lo, s.pool_hi, s.pool_n, 2)?;
        if s.n_train.is_empty() {
            return Err(ConfigError::new(
                "sweep.n_train",
                "must list at least one training-set size",
                "an empty list",
            ));
        }
        for (i, &n) in s.n_train.iter().enumerate() {
            if n < 2 || n > s.pool_n {
                return Err(ConfigError::new(
                    format!("sweep.n_train[{i}]"),
                    format!("must lie in 2..={} (the pool size)", s.pool_n),
                    n,
                ));
            }
        }
        sigma_range("sweep", s.sigma_lo, s.sigma_hi, s.n_sigma)?;
        grid("sweep.quad", s.quad_lo, s.quad_hi, s.quad_n, 2)?;
        all_finite("sweep.y", &[s.y])?;
        positive("sweep.sigma_min_marker", s.sigma_min_marker)?;
        let k = &self.kde;
        if k.modes.is_empty() {
            return Err(ConfigError::new(
                "kde.modes",
                "must list at least one mode",
                "an empty list",
            ));
        }
        all_finite("kde.modes", &k.modes)?;
        positive("kde.mode_std", k.mode_std)?;
        if k.subset_sizes.len() != k.bandwidth_factors.len() || k.subset_sizes.is_empty() {
            return Err(ConfigError::new(
                "kde.bandwidth_factors",
                "must have one factor per entry of kde.subset_sizes (and at least one)",
                format!(
                    "{} factors for {} subsets",
                    k.bandwidth_factors.len(),
                    k.subset_sizes.len()
                ),
            ));
        }
        all_positive("kde.bandwidth_factors", &k.bandwidth_factors)?;
        for (i, &n) in k.subset_sizes.iter().enumerate() {
            if n < 2 || n > k.n_samples {
                return Err(ConfigError::new(
                    format!("kde.subset_sizes[{i}]"),
                    format!("must lie in 2..={} (kde.n_samples)", k.n_samples),
                    n,
                ));
            }
        }
        if k.empirical_n < 1 || k.empirical_n > k.n_samples {
            return Err(ConfigError::new(
                "kde.empirical_n",
                format!("must lie in 1..={} (kde.n_samples)", k.n_samples),
                k.empirical_n,
            ));
        }
        grid("kde.grid", k.grid_lo, k.grid_hi, k.grid_n, 2)?;
        let sl = &self.slider;
        sigma_range("slider", sl.sigma_lo, sl.sigma_hi, sl.n_sigma)?;
        Ok(())
    }
}
