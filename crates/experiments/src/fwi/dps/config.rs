//! The run's settings: the DPS variants and the configuration with its presets.

use memprior_core::ConfigError;
use memprior_core::diffusion::NoiseSchedule;
use operators::helmholtz::{Geometry, GeometryPreset};
use serde::{Deserialize, Serialize};

use crate::fwi::prior::{PriorConfig, PriorKind};
use learned::Preset;

use super::*;

/// The DPS variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::EnumString, strum::IntoStaticStr, strum::VariantArray, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Variant {
    /// DDIM step, re-denoise, fixed-length move along ∇Φ(x̂₀)/‖∇Φ(x̂₀)‖ (the paper's runs).
    Paper,
    /// DDPM step, gradient through the denoiser, step ζ'/‖r̃‖ (Chung et al. 2023). The data
    /// gradient it pulls back is the same (s + 1e−5) ⊙ ∇_z Φ as the paper's (the offset is
    /// negligible next to the z-score scales).
    Chung,
    /// The paper's variant exactly as the authors' script runs it
    /// ([`samplers::dps::dps_paper_authors`]): re-denoise with ε at the old level and ᾱ of the
    /// new one (also at t = 0), misfit trace taken before the step over the first 4 samples.
    PaperAuthors,
}

memprior_core::named_enum!(Variant, "variants");

impl Variant {
    /// The presets' variants, the paper's first.
    pub const ALL: [Variant; 2] = [Variant::Paper, Variant::Chung];
    /// Every variant (`--variants` accepts each).
    pub const EVERY: &'static [Variant] = <Self as strum::VariantArray>::VARIANTS;
}

/// Settings of the DPS experiment; every random stream is seeded here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpsConfig {
    /// Preset the settings came from.
    pub preset: String,
    /// Training sets, N values and the network recipe (shared with `memprior prior`, so the
    /// trained weights come from the same cache; its `samples`, the unconditional sample count,
    /// is not used here).
    pub prior: PriorConfig,
    /// The simulation geometry.
    pub geometry: Geometry,
    /// Noise std relative to max |d|.
    pub noise_rel: f64,
    /// Seed of the data noise.
    pub noise_seed: u64,
    /// Priors to sample.
    pub priors: Vec<PriorKind>,
    /// DPS variants to run.
    pub variants: Vec<Variant>,
    /// Posterior samples per (prior, N) with the paper's variant.
    pub samples: usize,
    /// Posterior samples per N with the paper's variant for the closed-form controls (memorized
    /// and Gaussian priors); absent: `samples`. The paper preset draws fewer controls than
    /// learned-prior samples, to fit its budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_controls: Option<usize>,
    /// Posterior samples per (prior, N) with Chung's variant.
    pub samples_chung: usize,
    /// Step length ζ of the paper's variant (z̃ units); the paper's run used 0.07 (its
    /// authors' configuration also lists 0.035).
    pub zeta: f64,
    /// Step ζ' of Chung's variant (multiplies ∇‖r̃‖²/‖r̃‖). 0.05 gave the lowest final misfit
    /// of the learned and Gaussian priors at N = 50 (default geometry, 8 samples) among 0.01, 0.02,
    /// 0.05, 0.1, 0.2; 0.1 and above overshoot (final Φ 2351 and 3811 against 430 for the learned prior).
    pub zeta_chung: f64,
    /// Record the mean misfit every this many reverse steps.
    pub record_every: usize,
    /// Seed of the starting points and DDPM noise (combined with N, prior, variant, index).
    pub seed: u64,
    /// Bandwidths σ (z̃ units) of the linearised mixture.
    pub linearized_sigmas: Vec<f64>,
    /// Equal-count calibration bins over the KL coefficients.
    pub calibration_bins_kl: usize,
    /// Equal-count calibration bins over the velocity pixels.
    pub calibration_bins_velocity: usize,
}

impl DpsConfig {
    /// `quick` (tests: tiny grid and network, 4 + 2 samples), `default` (the report: 32² grid,
    /// the CPU network, 32 + 16 samples) or `paper` (200² grid, the paper's network, 256 + 64
    /// samples, ζ = 0.07).
    pub fn preset(preset: Preset) -> Self {
        let prior = PriorConfig::preset(preset);
        // Noise: the paper grid's 0.055, and on the small grids of `quick` and `default` the
        // 0.05 of the authors' own small grid (README, "Differences from the authors' code").
        // The paper preset: the paper's 256 learned-prior samples per N; 64 of each closed-form
        // control and 16 of Chung's variant per (prior, N), which fit its budget (README).
        let (geometry, samples, samples_controls, samples_chung, noise_rel) = match preset {
            Preset::Quick => (quick_geometry(), 4, None, 2, 0.05),
            Preset::Default => (report_geometry(), 32, None, 16, 0.05),
            Preset::Paper => (
                Geometry::preset(GeometryPreset::Paper),
                256,
                Some(64),
                16,
                0.055,
            ),
        };
        Self {
            preset: preset.name().to_string(),
            prior,
            geometry,
            noise_rel,
            noise_seed: 20_240_630,
            priors: PriorKind::ALL.to_vec(),
            variants: Variant::ALL.to_vec(),
            samples,
            samples_controls,
            samples_chung,
            zeta: 0.07,
            zeta_chung: 0.05,
            record_every: 10,
            seed: 20_240_631,
            linearized_sigmas: vec![0.01, 0.1, 0.3],
            calibration_bins_kl: 10,
            calibration_bins_velocity: 16,
        }
    }

    /// Check the settings; the error names the key and what is allowed.
    ///
    /// # Errors
    /// The first invalid setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.prior.validate()?;
        self.geometry.validate()?;
        memprior_core::error::positive("noise_rel", self.noise_rel)?;
        if self.priors.is_empty() {
            return Err(ConfigError::new(
                "priors",
                "must list at least one of learned, memorized, gaussian",
                "[]",
            ));
        }
        if self.variants.is_empty() {
            return Err(ConfigError::new(
                "variants",
                "must list at least one of paper, chung",
                "[]",
            ));
        }
        for (i, k) in self.priors.iter().enumerate() {
            if self.priors[..i].contains(k) {
                return Err(ConfigError::new(
                    "priors",
                    "must not list a prior twice",
                    k.name(),
                ));
            }
        }
        for (i, v) in self.variants.iter().enumerate() {
            if self.variants[..i].contains(v) {
                return Err(ConfigError::new(
                    "variants",
                    "must not list a variant twice",
                    v.name(),
                ));
            }
        }
        for (key, v) in [("zeta", self.zeta), ("zeta_chung", self.zeta_chung)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::new(key, "must be a finite number ≥ 0", v));
            }
        }
        if (self.variants.contains(&Variant::Paper)
            || self.variants.contains(&Variant::PaperAuthors))
            && self.samples == 0
        {
            return Err(ConfigError::new(
                "samples",
                "must be ≥ 1 when the paper (or paper-authors) variant runs",
                0,
            ));
        }
        if self.samples_controls == Some(0)
            && (self.variants.contains(&Variant::Paper)
                || self.variants.contains(&Variant::PaperAuthors))
            && self.priors.iter().any(|&p| p != PriorKind::Learned)
        {
            return Err(ConfigError::new(
                "samples_controls",
                "must be ≥ 1 when a closed-form prior runs the paper (or paper-authors) variant (or leave it out: as `samples`)",
                0,
            ));
        }
        if self.variants.contains(&Variant::Chung) && self.samples_chung == 0 {
            return Err(ConfigError::new(
                "samples_chung",
                "must be ≥ 1 when the chung variant runs",
                0,
            ));
        }
        if self.record_every == 0 {
            return Err(ConfigError::new("record_every", "must be ≥ 1", 0));
        }
        for &s in &self.linearized_sigmas {
            memprior_core::error::positive("linearized_sigmas", s)?;
        }
        if self.calibration_bins_kl == 0 || self.calibration_bins_velocity == 0 {
            return Err(ConfigError::new(
                "calibration_bins_kl / calibration_bins_velocity",
                "must be ≥ 1",
                0,
            ));
        }
        Ok(())
    }

    /// Samples per N of a prior and variant.
    pub fn count(&self, kind: PriorKind, variant: Variant) -> usize {
        match (variant, kind) {
            (Variant::Chung, _) => self.samples_chung,
            (_, PriorKind::Learned) => self.samples,
            _ => self.samples_controls.unwrap_or(self.samples),
        }
    }

    /// The reverse levels at which the misfit is recorded, in the order run.
    pub fn recorded_levels(&self) -> Vec<usize> {
        let steps = NoiseSchedule::paper().steps();
        (0..steps)
            .rev()
            .filter(|&t| t == 0 || t % self.record_every == 0)
            .collect()
    }

    /// Every job in the fixed order that sharding and assembly use.
    pub fn jobs(&self) -> Vec<Job> {
        let mut out = Vec::new();
        for &n in &self.prior.n_values {
            for &kind in &self.priors {
                for &variant in &self.variants {
                    for index in 0..self.count(kind, variant) {
                        out.push(Job {
                            n,
                            kind,
                            variant,
                            index,
                        });
                    }
                }
            }
        }
        out
    }
}
