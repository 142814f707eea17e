//! The FWI experiment's data and forward model (FWI.md §1–3, §5): nested training sets of KL
//! coefficients from periodic Gaussian random fields, a separately seeded null set, the
//! out-of-distribution true model and noisy Helmholtz data. The forward map in KL coefficients
//! and their z-scored form is [`posterior::fwi_map`] (operators composed in
//! `operators::reparam`).

use faer::{Mat, c64};
#[cfg(feature = "learned")]
pub mod bundle;
#[cfg(feature = "learned")]
pub mod dps;
pub mod figures;
#[cfg(feature = "learned")]
pub mod frontier;
pub mod posterior;
#[cfg(feature = "learned")]
pub mod prior;
#[cfg(feature = "learned")]
pub mod prior_io;

use memprior_core::ConfigError;
use operators::helmholtz::Geometry;
use priors::{GaussianRandomField, KlBasis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Settings of the field datasets (FWI.md §2, §5). Every stream is seeded and recorded here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Side of the periodic training grid (64 in the paper).
    pub grid_n: usize,
    /// Size of the largest training set; smaller sets are its prefixes (N = 50 ⊂ 200 ⊂ 1000).
    pub n_train: usize,
    /// Held-out draws of the data-generating prior (validation and memorization null).
    pub n_null: usize,
    /// Candidates drawn for the out-of-distribution true model.
    pub n_candidates: usize,
    /// The true model is the candidate farthest (min raw-z distance) from the first
    /// `true_model_reference` training points.
    pub true_model_reference: usize,
    /// Seed of the training stream.
    pub seed_train: u64,
    /// Seed of the null / validation stream.
    pub seed_null: u64,
    /// Seed of the true-model candidate stream.
    pub seed_true: u64,
}

impl Default for DatasetConfig {
    /// The paper's sizes: 64² fields, N up to 1000, 100 null draws, 2000 candidates against N = 50.
    fn default() -> Self {
        Self {
            grid_n: 64,
            n_train: 1000,
            n_null: 100,
            n_candidates: 2000,
            true_model_reference: 50,
            seed_train: 20_240_601,
            seed_null: 20_240_602,
            seed_true: 20_240_603,
        }
    }
}

impl DatasetConfig {
    /// Check sizes; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.grid_n < 4 {
            return Err(ConfigError::new(
                "datasets.grid_n",
                "must be ≥ 4",
                self.grid_n,
            ));
        }
        if self.n_train == 0 {
            return Err(ConfigError::new(
                "datasets.n_train",
                "must be ≥ 1 (an empty training set has no prior)",
                0,
            ));
        }
        if self.n_candidates == 0 {
            return Err(ConfigError::new("datasets.n_candidates", "must be ≥ 1", 0));
        }
        if self.true_model_reference == 0 || self.true_model_reference > self.n_train {
            return Err(ConfigError::new(
                "datasets.true_model_reference",
                format!("must lie in 1..=n_train = {}", self.n_train),
                self.true_model_reference,
            ));
        }
        Ok(())
    }
}

/// Training, null and true-model coefficients in raw KL coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct FwiDatasets {
    /// The settings that produced them.
    pub config: DatasetConfig,
    /// The KL basis used for projection.
    pub kl: KlBasis,
    /// Training coefficients, N_max × d; the first N rows are the N-sample set.
    pub train: Vec<Vec<f64>>,
    /// Held-out draws of the same prior.
    pub null: Vec<Vec<f64>>,
    /// The out-of-distribution true model's coefficients.
    pub truth: Vec<f64>,
    /// Its index among the candidates, and its min distance to the reference training set.
    pub truth_index: usize,
    /// min_n ‖z_true − z_n‖ over the reference training set.
    pub truth_distance: f64,
}

fn project_all(kl: &KlBasis, fields: &[Vec<f64>], n: usize) -> Vec<Vec<f64>> {
    fields
        .iter()
        .map(|f| kl.project(f, n, n).expect("grid checked"))
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

impl FwiDatasets {
    /// Draw and project every dataset (deterministic in the seeds).
    pub fn generate(config: &DatasetConfig, kl: &KlBasis) -> Result<Self, ConfigError> {
        config.validate()?;
        let n = config.grid_n;
        let grf = GaussianRandomField::paper(n)?;
        let train = project_all(
            kl,
            &grf.sample_n(
                &mut ChaCha8Rng::seed_from_u64(config.seed_train),
                config.n_train,
            ),
            n,
        );
        let null = project_all(
            kl,
            &grf.sample_n(
                &mut ChaCha8Rng::seed_from_u64(config.seed_null),
                config.n_null,
            ),
            n,
        );
        // Out of distribution: rougher spectrum (α = 1.5, τ = 1), same rescaling.
        let ood = GaussianRandomField::new(n, 1.5, 1.0, grf.mean(), grf.std())?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed_true);
        let reference = &train[..config.true_model_reference];
        let (mut best, mut best_d, mut best_z) = (0, f64::NEG_INFINITY, Vec::new());
        for c in 0..config.n_candidates {
            let z = kl.project(&ood.sample(&mut rng), n, n)?;
            let d = reference
                .iter()
                .map(|t| distance(&z, t))
                .fold(f64::INFINITY, f64::min);
            if d > best_d {
                (best, best_d, best_z) = (c, d, z);
            }
        }
        Ok(Self {
            config: config.clone(),
            kl: kl.clone(),
            train,
            null,
            truth: best_z,
            truth_index: best,
            truth_distance: best_d,
        })
    }

    /// The first `n` training coefficients (the nested N-sample set).
    pub fn training_set(&self, n: usize) -> Result<&[Vec<f64>], ConfigError> {
        if n == 0 || n > self.train.len() {
            return Err(ConfigError::new(
                "n_train",
                format!("must lie in 1..={}", self.train.len()),
                n,
            ));
        }
        Ok(&self.train[..n])
    }
}

pub use operators::reparam::ZScore;

/// Add complex Gaussian noise with std η = noise_rel · max|d| to each real and imaginary part
/// (so Φ = ½‖r‖²/η² is the negative log-likelihood); returns (noisy data, η).
pub fn add_noise(
    clean: &Mat<c64>,
    noise_rel: f64,
    seed: u64,
) -> Result<(Mat<c64>, f64), ConfigError> {
    memprior_core::error::positive("noise_rel", noise_rel)?;
    let mut peak: f64 = 0.0;
    for j in 0..clean.ncols() {
        for i in 0..clean.nrows() {
            peak = peak.max(clean[(i, j)].norm());
        }
    }
    let eta = noise_rel * peak;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noisy = Mat::from_fn(clean.nrows(), clean.ncols(), |i, j| {
        let (a, b): (f64, f64) = (
            StandardNormal.sample(&mut rng),
            StandardNormal.sample(&mut rng),
        );
        clean[(i, j)] + c64::new(eta * a, eta * b)
    });
    Ok((noisy, eta))
}

pub use operators::helmholtz::smooth_test_model;

/// A scaled geometry for the report: 32² cells of 62.5 m (the same 2 km square as the paper's
/// grid), 3 Hz (8 cells per wavelength at 1.5 km/s), 8 PML cells, 5 sources and 30 receivers.
pub fn report_geometry() -> Geometry {
    Geometry {
        nx: 32,
        nz: 32,
        h: 0.0625,
        npml: 8,
        pml_max: 100.0,
        freq: 3.0,
        sources: [2usize, 8, 15, 22, 29].iter().map(|&ix| [ix, 2]).collect(),
        receivers: (1..=30).map(|ix| [ix, 29]).collect(),
    }
}

/// A tiny geometry for tests: 16² cells of 125 m, 2 Hz, 3 sources, 14 receivers.
pub fn quick_geometry() -> Geometry {
    Geometry {
        nx: 16,
        nz: 16,
        h: 0.125,
        npml: 5,
        pml_max: 60.0,
        freq: 2.0,
        sources: [2usize, 8, 13].iter().map(|&ix| [ix, 1]).collect(),
        receivers: (1..=14).map(|ix| [ix, 14]).collect(),
    }
}
