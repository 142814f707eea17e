//! Checking a stylized configuration, its presets and its TOML form.

use super::*;

pub(super) fn grid(
    field: &str,
    lo: f64,
    hi: f64,
    n: usize,
    min_n: usize,
) -> Result<(), ConfigError> {
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

pub(super) fn sigma_range(field: &str, lo: f64, hi: f64, n: usize) -> Result<(), ConfigError> {
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
