//! One point of the recipe frontier: train the learned prior with a given width, depth, step
//! count, learning rate and EMA decay at one N, draw unconditional DDIM samples and measure their
//! memorization ratios against the training set, with the null set as the control. The frontier
//! (`memprior prior frontier`, one row per recipe) is what the default recipe was chosen from.

use crate::fwi::FwiDatasets;
use crate::fwi::prior::{
    PriorConfig, PriorError, PriorKind, normalized_training, sample_raw, sampling_seed,
    train_network,
};
use analysis::memorization::{Neighbours, most_memorized_distinct, ratios};
use learned::LearnedDenoiser;
use memprior_core::ConfigError;
use memprior_core::diffusion::NoiseSchedule;
use priors::KlBasis;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The recipe changes a frontier point makes to a preset's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecipeOverrides {
    /// Hidden width W.
    pub width: Option<usize>,
    /// Residual blocks L.
    pub blocks: Option<usize>,
    /// Adam steps.
    pub steps: Option<usize>,
    /// Learning rate at step 0.
    pub lr_max: Option<f64>,
    /// EMA decay.
    pub ema_decay: Option<f64>,
}

impl RecipeOverrides {
    /// `config` with these changes, validated.
    ///
    /// # Errors
    /// A changed setting out of its range (the error names it).
    pub fn apply(&self, config: &PriorConfig) -> Result<PriorConfig, ConfigError> {
        let mut c = config.clone();
        let r = &mut c.recipe;
        if let Some(w) = self.width {
            r.network.width = w;
        }
        if let Some(l) = self.blocks {
            r.network.blocks = l;
        }
        if let Some(s) = self.steps {
            r.training.steps = s;
        }
        if let Some(lr) = self.lr_max {
            r.training.lr_max = lr;
        }
        if let Some(e) = self.ema_decay {
            r.training.ema_decay = e;
        }
        c.validate()?;
        Ok(c)
    }
}

/// One measured recipe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontierPoint {
    /// Hidden width W.
    pub width: usize,
    /// Residual blocks L.
    pub blocks: usize,
    /// Adam steps.
    pub steps: usize,
    /// Learning rate at step 0.
    pub lr_max: f64,
    /// EMA decay.
    pub ema_decay: f64,
    /// Training-set size.
    pub n_train: usize,
    /// Unconditional samples measured.
    pub samples: usize,
    /// Training wall time on one core (of the run that trained the weights; NaN when they came
    /// from the cache and the time was not recorded).
    pub train_seconds: f64,
    /// r of the three most memorized samples with distinct nearest training models.
    pub best_r: [f64; 3],
    /// Median r of the samples.
    pub median_r: f64,
    /// Mean r of the samples.
    pub mean_r: f64,
    /// Fraction of samples with r ≤ 0.3.
    pub frac_r_le_0_3: f64,
    /// Fraction of the null draws with r ≤ 0.3 against the same training set.
    pub null_frac_r_le_0_3: f64,
}

/// The CSV header of [`FrontierPoint::csv_row`].
pub const CSV_HEADER: &str = "width,blocks,steps,lr_max,ema_decay,n_train,samples,train_seconds,\
     best_r_1,best_r_2,best_r_3,median_r,mean_r,frac_r_le_0_3,null_frac_r_le_0_3";

impl FrontierPoint {
    /// The row of this point under [`CSV_HEADER`].
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{},{:e},{},{},{},{:.1},{:.4},{:.4},{:.4},{:.4},{:.4},{:.3},{:.3}",
            self.width,
            self.blocks,
            self.steps,
            self.lr_max,
            self.ema_decay,
            self.n_train,
            self.samples,
            self.train_seconds,
            self.best_r[0],
            self.best_r[1],
            self.best_r[2],
            self.median_r,
            self.mean_r,
            self.frac_r_le_0_3,
            self.null_frac_r_le_0_3,
        )
    }
}

fn fraction_below(list: &[Neighbours], tau: f64) -> f64 {
    list.iter().filter(|x| x.r <= tau).count() as f64 / list.len().max(1) as f64
}

/// Train (or load from `cache_root`) the network of `config`'s recipe at N = n, draw
/// `config.samples` DDIM samples with the memorization run's seed, and measure them.
///
/// # Errors
/// Invalid settings, N outside the datasets, or a failed training run.
pub fn measure(
    config: &PriorConfig,
    n: usize,
    cache_root: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<FrontierPoint, PriorError> {
    config.validate()?;
    let sets = FwiDatasets::generate(&config.datasets, &KlBasis::default())?;
    let raw = sets.training_set(n)?.to_vec();
    let (zs, _) = normalized_training(&sets, n)?;
    let steps = config.recipe.training.steps;
    let clock = Instant::now();
    let trained = train_network(config, &sets, n, cache_root, &mut |k, _| progress(k, steps))?;
    let train_seconds = if trained.cached {
        f64::NAN
    } else {
        clock.elapsed().as_secs_f64()
    };
    let den = LearnedDenoiser::new(&trained.ema, NoiseSchedule::paper());
    let seed = sampling_seed(config.seed, PriorKind::Learned, n);
    let samples = sample_raw(&den, &zs, config.samples, seed);
    let neighbours = ratios(&samples, &raw)?;
    let null = ratios(&sets.null, &raw)?;
    let mut best = [f64::NAN; 3];
    for (b, i) in best.iter_mut().zip(most_memorized_distinct(&neighbours, 3)) {
        *b = neighbours[i].r;
    }
    let mut rs: Vec<f64> = neighbours.iter().map(|x| x.r).collect();
    rs.sort_by(f64::total_cmp);
    let median_r = match rs.len() {
        0 => f64::NAN,
        k if k % 2 == 1 => rs[k / 2],
        k => 0.5 * (rs[k / 2 - 1] + rs[k / 2]),
    };
    let r = &config.recipe;
    Ok(FrontierPoint {
        width: r.network.width,
        blocks: r.network.blocks,
        steps,
        lr_max: r.training.lr_max,
        ema_decay: r.training.ema_decay,
        n_train: n,
        samples: samples.len(),
        train_seconds,
        best_r: best,
        median_r,
        mean_r: rs.iter().sum::<f64>() / rs.len().max(1) as f64,
        frac_r_le_0_3: fraction_below(&neighbours, 0.3),
        null_frac_r_le_0_3: fraction_below(&null, 0.3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_change_only_what_they_name_and_are_validated() {
        let base = PriorConfig::preset(learned::Preset::Quick);
        let o = RecipeOverrides {
            width: Some(96),
            blocks: None,
            steps: Some(10),
            lr_max: None,
            ema_decay: Some(0.9),
        };
        let c = o.apply(&base).unwrap();
        assert_eq!(c.recipe.network.width, 96);
        assert_eq!(c.recipe.network.blocks, base.recipe.network.blocks);
        assert_eq!(c.recipe.training.steps, 10);
        assert_eq!(c.recipe.training.lr_max, base.recipe.training.lr_max);
        assert_eq!(c.recipe.training.ema_decay, 0.9);
        let bad = RecipeOverrides {
            ema_decay: Some(1.5),
            ..o
        };
        let err = bad.apply(&base).unwrap_err().to_string();
        assert!(err.contains("ema_decay"), "{err}");
    }

    #[test]
    fn a_tiny_frontier_point_is_measured_against_the_null() {
        let base = PriorConfig::preset(learned::Preset::Quick);
        let o = RecipeOverrides {
            width: None,
            blocks: None,
            steps: Some(50),
            lr_max: None,
            ema_decay: None,
        };
        let c = o.apply(&base).unwrap();
        let dir = std::env::temp_dir().join(format!("memprior-frontier-{}", std::process::id()));
        let p = measure(&c, 20, &dir, &mut |_, _| {}).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!((p.steps, p.n_train, p.samples), (50, 20, c.samples));
        assert!(
            p.best_r[0] <= p.best_r[1] && p.best_r[1] <= p.best_r[2],
            "{p:?}"
        );
        assert!(p.best_r[0] <= p.median_r && p.train_seconds > 0.0, "{p:?}");
        assert!((0.0..=1.0).contains(&p.null_frac_r_le_0_3));
        assert_eq!(
            p.csv_row().split(',').count(),
            CSV_HEADER.split(',').count()
        );
    }
}
