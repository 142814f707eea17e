//! `memprior prior …`: diffusion priors on KL coefficients (train, sample, memorization).
//!
//! Trained weights live in a cache directory (`--cache`, else `$MEMPRIOR_CACHE`, else
//! `~/.cache/memprior/weights`) under a hash of everything that determines them; a stopped
//! training run resumes from its last checkpoint there. Outputs are written atomically.

use crate::atomic;
use crate::tables::{Table, write_csv_parquet};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use experiments::fwi::FwiDatasets;
use experiments::fwi::prior::{
    self, PriorConfig, PriorKind, PriorRun, normalized_training, sample_raw, sampling_seed,
};
use experiments::learned::{LearnedDenoiser, Preset};
use experiments::memprior_core::diffusion::NoiseSchedule;
use experiments::memprior_core::npy::{self, Dtype};
use experiments::priors::{GaussianDenoiser, KlBasis, MemorizedDenoiser, TrainingSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod outputs;
mod timing;
pub use outputs::write_outputs;
use timing::bench;

/// The `prior` subcommands.
#[derive(Subcommand, Debug)]
pub enum PriorCommand {
    /// Train (or load from the cache) the ε-prediction network on the first N training models.
    Train {
        /// Recipe: quick, default (CPU) or paper (W = 2048, L = 12, 50,000 steps).
        #[arg(long, default_value = "default")]
        preset: String,
        /// Training-set size N.
        #[arg(long = "n-train")]
        n_train: usize,
        /// Weight cache directory.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Unconditional DDIM samples of one prior, as raw KL coefficients Z.npy (samples, 100).
    Sample {
        /// learned, memorized or gaussian.
        #[arg(long)]
        denoiser: String,
        /// Preset of the datasets and (for learned) the network recipe.
        #[arg(long, default_value = "default")]
        preset: String,
        /// Training-set size N.
        #[arg(long = "n-train")]
        n_train: usize,
        /// Number of samples.
        #[arg(long, default_value_t = 16)]
        samples: usize,
        /// Seed of the starting points (default: the preset's, as in the memorization run).
        #[arg(long)]
        seed: Option<u64>,
        /// Weight cache directory (learned only).
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Output .npy (float64, samples × 100).
        #[arg(long)]
        out: PathBuf,
    },
    /// Time training steps of a preset's recipe on one core: the phases of a step (forward,
    /// backward, gradient norm, fused update) and the steps per second.
    Bench {
        /// quick, default or paper.
        #[arg(long, default_value = "paper")]
        preset: String,
        /// Steps to time (after two warm-up steps).
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Size of the (Gaussian stand-in) training set: the cost of a step does not depend on
        /// its values.
        #[arg(long = "n-train", default_value_t = 50)]
        n_train: usize,
    },
    /// One point of the recipe frontier: train the learned prior with the preset's recipe
    /// changed as given, at one N, draw the preset's number of DDIM samples and append their
    /// memorization statistics (three most memorized r, median, fraction below 0.3, the null's
    /// fraction) as one row to a CSV file.
    Frontier {
        /// The recipe and datasets to start from: quick, default or paper.
        #[arg(long, default_value = "default")]
        preset: String,
        /// Training-set size N.
        #[arg(long = "n-train", default_value_t = 50)]
        n_train: usize,
        /// Hidden width W.
        #[arg(long)]
        width: Option<usize>,
        /// Residual blocks L.
        #[arg(long)]
        blocks: Option<usize>,
        /// Adam steps.
        #[arg(long)]
        steps: Option<usize>,
        /// Learning rate at step 0 (cosine-annealed to the preset's final rate).
        #[arg(long = "lr-max")]
        lr_max: Option<f64>,
        /// EMA decay.
        #[arg(long = "ema-decay")]
        ema_decay: Option<f64>,
        /// Weight cache directory.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// CSV file the row is appended to (created with its header).
        #[arg(long)]
        out: PathBuf,
    },
    /// The memorization experiment: every prior at every N of the preset, with null and
    /// leave-one-out controls → memorization.csv, ratios.csv, training_curves.csv.
    Memorization {
        /// quick, default or paper.
        #[arg(long, default_value = "default")]
        preset: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Weight cache directory.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
}

/// The weight cache: `--cache`, `$MEMPRIOR_CACHE`, or `~/.cache/memprior/weights`.
pub fn cache_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("MEMPRIOR_CACHE") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/memprior/weights")
}

fn check_n(config: &PriorConfig, n: usize) -> Result<()> {
    if n < 3 || n > config.datasets.n_train {
        bail!(
            "invalid `--n-train`: must lie in 3..={} for preset `{}` (got {n})",
            config.datasets.n_train,
            config.preset
        );
    }
    Ok(())
}

/// Run a `prior` subcommand.
pub fn command(cmd: PriorCommand) -> Result<()> {
    match cmd {
        PriorCommand::Bench {
            preset,
            steps,
            n_train,
        } => bench(&preset, steps, n_train)?,
        PriorCommand::Train {
            preset,
            n_train,
            cache,
        } => {
            let config = PriorConfig::preset(Preset::parse(&preset)?);
            check_n(&config, n_train)?;
            let sets = FwiDatasets::generate(&config.datasets, &KlBasis::default())?;
            let root = cache_dir(cache.as_deref());
            let steps = config.recipe.training.steps;
            let every = (steps / 20).max(1);
            let clock = Instant::now();
            let mut first: Option<usize> = None;
            let trained = prior::train_network(&config, &sets, n_train, &root, &mut |k, rec| {
                // ETA from the steps done in this call: a resumed run starts late.
                let k0 = *first.get_or_insert(k.saturating_sub(1));
                if k0 > 0 && k == k0 + 1 {
                    tracing::info!("resumed at step {k0}/{steps}");
                }
                // Early lines give the throughput of slow recipes within minutes.
                if k % every == 0 || k == 1 || k == 10 || k == 100 {
                    let el = clock.elapsed().as_secs_f64();
                    crate::log::line(&experiments::progress::line(
                        "train",
                        k,
                        steps,
                        &format!(
                            "loss {:.4}, |g| {:.3} ({el:.0} s, ETA {:.0} s)",
                            rec.loss,
                            rec.grad_norm,
                            el / (k - k0).max(1) as f64 * (steps - k) as f64
                        ),
                    ));
                }
            })?;
            let dir = experiments::learned::train::run_dir(&root, &trained.key);
            if trained.cached {
                tracing::info!("weights from the cache: {}", dir.display());
            } else {
                tracing::info!(
                    "trained {} steps in {:.1} s ({:.1} steps/s); weights in {}",
                    trained.steps_trained,
                    trained.seconds,
                    trained.steps_trained as f64 / trained.seconds,
                    dir.display()
                );
            }
            crate::log::stdout(&format!("{}\n", trained.key))?;
        }
        PriorCommand::Sample {
            denoiser,
            preset,
            n_train,
            samples,
            seed,
            cache,
            out,
        } => {
            let kind = PriorKind::parse(&denoiser)?;
            let config = PriorConfig::preset(Preset::parse(&preset)?);
            check_n(&config, n_train)?;
            if samples == 0 {
                bail!("invalid `--samples`: must be ≥ 1 (got 0)");
            }
            let sets = FwiDatasets::generate(&config.datasets, &KlBasis::default())?;
            let (zs, rows) = normalized_training(&sets, n_train)?;
            let seed = seed.unwrap_or_else(|| sampling_seed(config.seed, kind, n_train));
            let schedule = NoiseSchedule::paper();
            let z = match kind {
                PriorKind::Learned => {
                    let root = cache_dir(cache.as_deref());
                    let trained =
                        prior::train_network(&config, &sets, n_train, &root, &mut |_, _| {})?;
                    sample_raw(
                        &LearnedDenoiser::new(&trained.ema, schedule),
                        &zs,
                        samples,
                        seed,
                    )
                }
                PriorKind::Memorized => sample_raw(
                    &MemorizedDenoiser::new(TrainingSet::new(&rows)?, schedule),
                    &zs,
                    samples,
                    seed,
                ),
                PriorKind::Gaussian => sample_raw(
                    &GaussianDenoiser::fit(&TrainingSet::new(&rows)?, schedule)?,
                    &zs,
                    samples,
                    seed,
                ),
            };
            let d = z[0].len();
            atomic::write(&out, &npy::encode(Dtype::F64, &[samples, d], &z.concat()))?;
            tracing::info!(
                "wrote {samples} {} samples (seed {seed}) to {}",
                kind.name(),
                out.display()
            );
        }
        PriorCommand::Frontier {
            preset,
            n_train,
            width,
            blocks,
            steps,
            lr_max,
            ema_decay,
            cache,
            out,
        } => {
            let overrides = experiments::fwi::frontier::RecipeOverrides {
                width,
                blocks,
                steps,
                lr_max,
                ema_decay,
            };
            let config = overrides.apply(&PriorConfig::preset(Preset::parse(&preset)?))?;
            check_n(&config, n_train)?;
            let existing = match std::fs::read_to_string(&out) {
                Ok(text) => {
                    let header = experiments::fwi::frontier::CSV_HEADER;
                    if text.lines().next() != Some(header) {
                        bail!(
                            "{} is not a frontier table (its first line is not `{header}`): \
                             choose another `--out` or remove it",
                            out.display()
                        );
                    }
                    text
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    format!("{}\n", experiments::fwi::frontier::CSV_HEADER)
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
            };
            let clock = Instant::now();
            let every = (config.recipe.training.steps / 10).max(1);
            let point = experiments::fwi::frontier::measure(
                &config,
                n_train,
                &cache_dir(cache.as_deref()),
                &mut |k, total| {
                    if k % every == 0 {
                        let el = clock.elapsed().as_secs_f64();
                        crate::log::line(&experiments::progress::line(
                            "train",
                            k,
                            total,
                            &format!("{el:.0} s, ETA {:.0} s", el / k as f64 * (total - k) as f64),
                        ));
                    }
                },
            )?;
            let row = point.csv_row();
            atomic::write(&out, format!("{existing}{row}\n").as_bytes())?;
            crate::log::stdout(&format!("{row}\n"))?;
        }
        PriorCommand::Memorization { preset, out, cache } => {
            let config = PriorConfig::preset(Preset::parse(&preset)?);
            let clock = Instant::now();
            let run = prior::run(&config, &cache_dir(cache.as_deref()), &|s| {
                crate::log::line(s)
            })?;
            write_outputs(&run, &out)?;
            tracing::info!(
                "memorization: wrote {} in {:.1} s",
                out.display(),
                clock.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
