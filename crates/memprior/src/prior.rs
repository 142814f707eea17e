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
use experiments::learned::LearnedDenoiser;
use experiments::memprior_core::diffusion::NoiseSchedule;
use experiments::memprior_core::npy::{self, Dtype};
use experiments::priors::{GaussianDenoiser, KlBasis, MemorizedDenoiser, TrainingSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
            let config = PriorConfig::preset(&preset)?;
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
                    eprintln!("resumed at step {k0}/{steps}");
                }
                // Early lines give the throughput of slow recipes within minutes.
                if k % every == 0 || k == 1 || k == 10 || k == 100 {
                    let el = clock.elapsed().as_secs_f64();
                    eprintln!(
                        "step {k}/{steps}: loss {:.4}, |g| {:.3} ({el:.0} s, ETA {:.0} s)",
                        rec.loss,
                        rec.grad_norm,
                        el / (k - k0).max(1) as f64 * (steps - k) as f64
                    );
                }
            })?;
            let dir = experiments::learned::train::run_dir(&root, &trained.key);
            if trained.cached {
                eprintln!("weights from the cache: {}", dir.display());
            } else {
                eprintln!(
                    "trained {} steps in {:.1} s ({:.1} steps/s); weights in {}",
                    trained.steps_trained,
                    trained.seconds,
                    trained.steps_trained as f64 / trained.seconds,
                    dir.display()
                );
            }
            println!("{}", trained.key);
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
            let config = PriorConfig::preset(&preset)?;
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
            eprintln!(
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
            let config = overrides.apply(&PriorConfig::preset(&preset)?)?;
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
                        eprintln!(
                            "step {k}/{total} ({el:.0} s, ETA {:.0} s)",
                            el / k as f64 * (total - k) as f64
                        );
                    }
                },
            )?;
            let row = point.csv_row();
            atomic::write(&out, format!("{existing}{row}\n").as_bytes())?;
            println!("{row}");
        }
        PriorCommand::Memorization { preset, out, cache } => {
            let config = PriorConfig::preset(&preset)?;
            let clock = Instant::now();
            let run = prior::run(&config, &cache_dir(cache.as_deref()), &|s| eprintln!("{s}"))?;
            write_outputs(&run, &out)?;
            eprintln!(
                "memorization: wrote {} in {:.1} s",
                out.display(),
                clock.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Write the memorization tables of a run into `dir`.
pub fn write_outputs(run: &PriorRun, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let rows = run.table();
    let mut df = Table::new()
        .str("source", rows.iter().map(|r| r.source.clone()))
        .u64("n_train", rows.iter().map(|r| r.n_train as u64))
        .u64("count", rows.iter().map(|r| r.count as u64))
        .f64("mean_r", rows.iter().map(|r| r.mean_r))
        .f64("frac_r_le_0_3", rows.iter().map(|r| r.fractions[0]))
        .f64("frac_r_le_0_5", rows.iter().map(|r| r.fractions[1]))
        .f64("frac_r_le_0_7", rows.iter().map(|r| r.fractions[2]))
        .u64("unique_nn", rows.iter().map(|r| r.unique_nn as u64))
        .frame()?;
    write_csv_parquet(&mut df, dir, "memorization")?;

    let (mut src, mut nn, mut idx, mut r, mut near) = (vec![], vec![], vec![], vec![], vec![]);
    for p in &run.per_n {
        let mut push = |name: &str, list: &[experiments::analysis::memorization::Neighbours]| {
            for (i, x) in list.iter().enumerate() {
                src.push(name.to_string());
                nn.push(p.n as u64);
                idx.push(i as u64);
                r.push(x.r);
                near.push(x.nearest as u64);
            }
        };
        for s in &p.priors {
            push(s.kind.name(), &s.neighbours);
        }
        push("null", &p.null);
        push("leave_one_out", &p.loo);
    }
    let mut df = Table::new()
        .str("source", src)
        .u64("n_train", nn)
        .u64("index", idx)
        .f64("r", r)
        .u64("nearest", near)
        .frame()?;
    write_csv_parquet(&mut df, dir, "ratios")?;

    let (mut nn, mut step, mut loss, mut gn, mut val) = (vec![], vec![], vec![], vec![], vec![]);
    for p in &run.per_n {
        let mut measured = p.validation.iter().peekable();
        for (k, rec) in p.history.iter().enumerate() {
            nn.push(p.n as u64);
            step.push(k as u64 + 1);
            loss.push(f64::from(rec.loss));
            gn.push(f64::from(rec.grad_norm));
            // The validation loss after this step, NaN where it was not measured.
            val.push(match measured.next_if(|v| v.step == k + 1) {
                Some(v) => f64::from(v.loss),
                None => f64::NAN,
            });
        }
    }
    let mut df = Table::new()
        .u64("n_train", nn)
        .u64("step", step)
        .f64("loss", loss)
        .f64("grad_norm", gn)
        .f64("val_loss", val)
        .frame()?;
    write_csv_parquet(&mut df, dir, "training_curves")?;
    // What reads the run back without training or sampling (the report's section).
    experiments::fwi::prior_io::write(run, dir)?;
    atomic::write(
        &dir.join("config.toml"),
        toml::to_string(&run.config)
            .context("serialising the config")?
            .as_bytes(),
    )?;
    Ok(())
}

/// `memprior prior bench`: median phase times of `steps` training steps.
fn bench(preset: &str, steps: usize, n_train: usize) -> Result<()> {
    use experiments::learned::{StepTimes, Trainer};
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    if steps == 0 {
        bail!("invalid `--steps`: must be ≥ 1 (got 0)");
    }
    if n_train == 0 {
        bail!("invalid `--n-train`: must be ≥ 1 (got 0)");
    }
    let config = PriorConfig::preset(preset)?;
    let recipe = config.recipe;
    let net = recipe.network;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let data: Vec<Vec<f64>> = (0..n_train)
        .map(|_| {
            (0..net.dim)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect()
        })
        .collect();
    let trainer = Trainer::new(recipe, NoiseSchedule::paper(), &data)?;
    let mut state = trainer.init();
    let b = recipe.training.batch;
    // Multiply-adds of a step: forward, the input gradients and the weight gradients (3 × every
    // linear layer), plus the B × B Gram matrices of the norm.
    let (d, w, e, l) = (
        net.dim as f64,
        net.width as f64,
        net.time_embedding as f64,
        net.blocks as f64,
    );
    let macs = b as f64 * ((d + e) * w + l * w * w + w * d);
    let gflop = 2.0 * (3.0 * macs - b as f64 * (d + e) * w) / 1e9;
    eprintln!(
        "prior bench: preset {preset}, W = {}, L = {}, batch {b}, {} parameters, {gflop:.2} GFLOP a step, one thread",
        net.width,
        net.blocks,
        net.parameter_count()
    );
    for _ in 0..2 {
        trainer.step_timed(&mut state)?;
    }
    let mut all: Vec<StepTimes> = Vec::with_capacity(steps);
    for _ in 0..steps {
        all.push(trainer.step_timed(&mut state)?.1);
    }
    let median = |f: &dyn Fn(&StepTimes) -> f64| {
        let mut v: Vec<f64> = all.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let total = median(&|t| t.total());
    let rows: [(&str, f64); 5] = [
        ("batch + embedding", median(&|t| t.batch)),
        ("forward", median(&|t| t.forward)),
        ("backward", median(&|t| t.backward)),
        ("gradient norm", median(&|t| t.norm)),
        (
            "weight gradients + Adam + clip + EMA",
            median(&|t| t.update),
        ),
    ];
    println!("phase,median_ms,share");
    for (name, t) in rows {
        println!("{name},{:.2},{:.3}", 1e3 * t, t / total);
    }
    println!("step,{:.2},1.000", 1e3 * total);
    eprintln!(
        "{:.2} steps/s ({:.1} GFLOP/s over the whole step), median of {steps}",
        1.0 / total,
        gflop / total
    );
    Ok(())
}
