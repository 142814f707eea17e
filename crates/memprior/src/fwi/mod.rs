//! `memprior fwi`: diffusion posterior sampling for FWI with exact references (Figures 2–5,
//! Table 1). Samples are drawn into `OUT/samples/` one file per sample (atomic), so a rerun
//! resumes and `--shard i/n` runs split the work; the unsharded (or `--merge-only`) run then
//! writes the tables.

use crate::atomic;
use crate::tables::{Table, write_csv_parquet};
use anyhow::{Context, Result, bail};
use clap::Args;
use experiments::analysis::effective_components as effective_count;
use experiments::fwi::dps::{self, DpsConfig, DpsResults, Variant};
use experiments::fwi::prior::PriorKind;
use experiments::learned::Preset;
use experiments::memprior_core::npy::{self, Dtype};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod outputs;
pub use outputs::write_outputs;

/// Arguments of `memprior fwi`.
#[derive(Args, Debug)]
pub struct FwiArgs {
    /// quick (tests, seconds), default (the report, minutes) or paper (200² grid, the paper's
    /// network, 256 samples; hours).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// A full configuration TOML (as written to OUT/config.toml); excludes --preset.
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Run only shard i of n (1-based, e.g. 2/4); merge with a later run without --shard.
    #[arg(long)]
    pub shard: Option<String>,
    /// Draw only the samples of training-set size N (training or loading only its network),
    /// e.g. while the other networks still train; merge when every N is drawn. Processes on one
    /// --out share the work: a sample another process is drawing is left to it.
    #[arg(long = "n", value_name = "N")]
    pub only_n: Option<usize>,
    /// Draw nothing: assemble the samples already in OUT/samples (fails if any is missing).
    #[arg(long = "merge-only")]
    pub merge_only: bool,
    /// Comma-separated priors to sample: learned, memorized, gaussian.
    #[arg(long)]
    pub priors: Option<String>,
    /// Comma-separated DPS variants: paper, chung.
    #[arg(long)]
    pub variants: Option<String>,
    /// Samples per N with the paper's variant: of the learned prior, and of the closed-form
    /// priors too unless `--samples-controls` (or the preset) sets theirs.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Samples per (prior, N) with Chung's variant.
    #[arg(long = "samples-chung")]
    pub samples_chung: Option<usize>,
    /// Samples per N with the paper's variant for the memorized and Gaussian priors (default: the
    /// preset's; the paper preset draws 64, the others as many as `--samples`)
    #[arg(long = "samples-controls")]
    pub samples_controls: Option<usize>,
    /// Step length ζ of the paper's variant.
    #[arg(long)]
    pub zeta: Option<f64>,
    /// Step ζ′ of Chung's variant (multiplies ∇‖r̃‖²/‖r̃‖; tuned on the default grid, 0.05).
    #[arg(long = "zeta-chung")]
    pub zeta_chung: Option<f64>,
    /// Worker threads (default: available cores). The numbers do not depend on it.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Weight cache directory.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Print the training-set sizes N of the configuration (space-separated) and exit: what a
    /// cluster script trains before it samples.
    #[arg(long = "print-n-values")]
    pub print_n_values: bool,
    /// Print each training-set size N with its number of samples (`N count` per line) and exit:
    /// what a scheduler needs to track progress.
    #[arg(long = "print-jobs")]
    pub print_jobs: bool,
    /// Print how far the sampling in OUT has come, group by group, with the memorization ratios
    /// of every group whose samples are all drawn (tab-separated, one line per group), and exit;
    /// the configuration is the one OUT/samples/run.toml records.
    #[arg(long)]
    pub progress: bool,
}

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad =
        || anyhow::anyhow!("invalid `--shard`: must be i/n with 1 ≤ i ≤ n, e.g. 2/4 (got `{s}`)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The configuration from `--config` or `--preset` plus overrides, validated.
pub fn config_from(args: &FwiArgs) -> Result<DpsConfig> {
    let mut cfg = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --config {}", p.display()))?;
            toml::from_str::<DpsConfig>(&text)
                .with_context(|| format!("invalid configuration {}", p.display()))?
        }
        None => {
            let preset = Preset::parse(&args.preset)
                .map_err(|e| anyhow::anyhow!("invalid `--preset`: {e}"))?;
            DpsConfig::preset(preset)
        }
    };
    if let Some(p) = &args.priors {
        cfg.priors = p
            .split(',')
            .map(|s| {
                PriorKind::parse(s.trim()).map_err(|e| anyhow::anyhow!("invalid `--priors`: {e}"))
            })
            .collect::<Result<_>>()?;
    }
    if let Some(v) = &args.variants {
        cfg.variants = v
            .split(',')
            .map(|s| {
                Variant::parse(s.trim()).map_err(|e| anyhow::anyhow!("invalid `--variants`: {e}"))
            })
            .collect::<Result<_>>()?;
    }
    if let Some(s) = args.samples {
        cfg.samples = s;
    }
    if let Some(s) = args.samples_controls {
        cfg.samples_controls = Some(s);
    }
    if let Some(s) = args.samples_chung {
        cfg.samples_chung = s;
    }
    if let Some(z) = args.zeta {
        cfg.zeta = z;
    }
    if let Some(z) = args.zeta_chung {
        cfg.zeta_chung = z;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// `--progress`: one tab-separated line per group.
fn print_progress(out: &Path) -> Result<()> {
    let Some(groups) = experiments::fwi::bundle::progress(out)? else {
        bail!(
            "{} holds no samples/run.toml: nothing has been drawn there",
            out.display()
        );
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "group\tdrawn\ttotal\tdiverged\tmean_r\tfrac_r_le_0_3\tfrac_r_le_0_5\tfrac_r_le_0_7\tnull_mean_r\tnull_frac_r_le_0_3\tnull_frac_r_le_0_5\tnull_frac_r_le_0_7\tsmallest_r"
    );
    for g in groups {
        let m = g.memorization.as_ref().map_or_else(
            || "\t".repeat(9),
            |m| {
                let smallest: Vec<String> =
                    m.smallest_r.iter().map(|r| format!("{r:.4}")).collect();
                format!(
                    "{}\t{:.4}\t{:.3}\t{:.3}\t{:.3}\t{:.4}\t{:.3}\t{:.3}\t{:.3}\t{}",
                    m.diverged,
                    m.summary.mean_r,
                    m.summary.fractions[0],
                    m.summary.fractions[1],
                    m.summary.fractions[2],
                    m.null.mean_r,
                    m.null.fractions[0],
                    m.null.fractions[1],
                    m.null.fractions[2],
                    smallest.join(",")
                )
            },
        );
        let _ = writeln!(text, "{}\t{}\t{}\t{m}", g.group, g.drawn, g.total);
    }
    crate::log::stdout(&text)
}

/// Run `memprior fwi`.
pub fn command(args: &FwiArgs) -> Result<()> {
    if args.progress {
        return print_progress(&args.out);
    }
    let cfg = config_from(args)?;
    if args.print_n_values {
        let ns: Vec<String> = cfg.prior.n_values.iter().map(ToString::to_string).collect();
        return crate::log::stdout(&format!("{}\n", ns.join(" ")));
    }
    if args.print_jobs {
        let jobs = cfg.jobs();
        let mut text = String::new();
        for &n in &cfg.prior.n_values {
            let _ = writeln!(text, "{n} {}", jobs.iter().filter(|j| j.n == n).count());
        }
        return crate::log::stdout(&text);
    }
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if shard.is_some() && args.merge_only {
        bail!("`--shard` and `--merge-only` exclude each other: draw a shard, or merge all shards");
    }
    if args.only_n.is_some() && args.merge_only {
        bail!(
            "`--n` and `--merge-only` exclude each other: draw the samples of one N, or merge them all"
        );
    }
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if workers == 0 {
        bail!("invalid `--workers`: must be ≥ 1 (got 0)");
    }
    let cache = crate::prior::cache_dir(args.cache.as_deref());
    let clock = Instant::now();
    let log = |s: &str| crate::log::line(s);
    let results = if args.merge_only {
        Some(dps::merge(&cfg, &args.out, workers, &log)?)
    } else {
        let selection = dps::Selection {
            shard,
            n: args.only_n,
        };
        let (results, stats) = dps::run(&cfg, &args.out, selection, &cache, workers, &log)?;
        tracing::info!(
            "fwi: drew {} samples in {:.1} s (training {:.1} s)",
            stats.drawn,
            stats.sampling_seconds,
            stats.train_seconds
        );
        results
    };
    match results {
        Some(r) => {
            write_outputs(&r, &args.out)?;
            tracing::info!(
                "fwi: wrote {} in {:.1} s",
                args.out.display(),
                clock.elapsed().as_secs_f64()
            );
        }
        None => {
            let what = match (args.shard.as_deref(), args.only_n) {
                (Some(s), Some(n)) => format!("shard {s} of N = {n}"),
                (Some(s), None) => format!("shard {s}"),
                (None, Some(n)) => format!("the samples of N = {n}"),
                (None, None) => "the samples".to_string(),
            };
            tracing::info!(
                "fwi: {what} done in {:.1} s; when every sample is drawn, run `memprior fwi --merge-only` with the same settings",
                clock.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
