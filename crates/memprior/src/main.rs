//! `memprior`: run the paper's experiments, write their tables, and build the report.
//!
//! ```text
//! memprior stylized --out DIR [--preset default|quick | --config FILE]
//! memprior report   --results DIR --out reports [--notebooks DIR] [--timings FILE] [--performance DIR]
//! memprior helmholtz forward  --model V.npy (--geometry G.toml | --preset paper|small) --out D.npy
//! memprior helmholtz gradient --model V.npy --data D.npy --sigma-d S (--geometry G.toml | --preset …) --out G.npy
//! memprior helmholtz geometry --preset small --out G.toml
//! memprior helmholtz model    (--geometry G.toml | --preset …) [--kind true|train:K|null:K] --out V.npy
//! memprior helmholtz example  --out DIR
//! memprior prior train        --n-train N [--preset quick|default|paper] [--cache DIR]
//! memprior prior sample       --denoiser learned|memorized|gaussian --n-train N [--samples K] --out Z.npy
//! memprior prior memorization [--preset quick|default|paper] --out DIR [--cache DIR]
//! memprior prior frontier     [--preset …] [--n-train N] [--width W --blocks L --steps S --lr-max LR --ema-decay E] --out F.csv
//! memprior prior bench        [--preset paper|default|quick] [--steps K]
//! memprior fwi --preset quick|default|paper --out DIR [--shard i/n | --merge-only] [--priors …] [--variants …]
//! ```

use memprior_core::atomic;
mod fwi;
mod helmholtz;
mod log;
mod netcdf;
mod prior;
mod stylized;
mod tables;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "memprior",
    version,
    about = "Memorization in learned priors: experiments, tables and report"
)]
struct Cli {
    /// Log only warnings and errors, and draw no progress bars (`RUST_LOG` overrides the level).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the stylized experiments (Figure 1 and companions) and write their tables.
    Stylized {
        /// Output directory (created; existing files of the same names are replaced atomically).
        #[arg(long)]
        out: PathBuf,
        /// Named preset: default (the paper's settings) or quick.
        #[arg(long)]
        preset: Option<String>,
        /// TOML configuration file (see data/stylized/default.toml); excludes --preset.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Render the HTML report from the experiments' results directories (it runs no experiment:
    /// `cargo xtask report` runs them first, then this).
    Report {
        /// Report directory.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Directory of results: stylized/ (`memprior stylized --out`), fwi/ (`memprior helmholtz
        /// example --out`), prior/ (`memprior prior memorization --out`) and dps/ (`memprior fwi
        /// --out`).
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Directory of executed notebooks as HTML, copied into the report.
        #[arg(long)]
        notebooks: Option<PathBuf>,
        /// JSON file of extra stage timings (name → seconds) to list in the provenance.
        #[arg(long)]
        timings: Option<PathBuf>,
        /// Directory of Helmholtz performance measurements (helmholtz_scipy.csv,
        /// helmholtz_solvers_<preset>.csv) for the performance page.
        #[arg(long)]
        performance: Option<PathBuf>,
        /// Results bundle of the paper-scale run shown in its own section (default: data/paper/
        /// of the working directory, as `cargo xtask paper` writes it in the repository).
        #[arg(long = "paper-bundle")]
        paper_bundle: Option<PathBuf>,
    },
    /// The FWI forward model on NumPy .npy files: data, misfit gradient, geometry template, example models.
    #[command(subcommand)]
    Helmholtz(helmholtz::HelmholtzCommand),
    /// Diffusion priors on KL coefficients: train the network, sample, measure memorization.
    #[command(subcommand)]
    Prior(prior::PriorCommand),
    /// Diffusion posterior sampling for FWI with exact references: Figures 2–5 and Table 1
    /// (table1.csv, lookup_weights.csv, …); resumable and shardable.
    Fwi(fwi::FwiArgs),
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    log::init(cli.quiet);
    match cli.command {
        Command::Stylized {
            out,
            preset,
            config,
        } => {
            let cfg = stylized::load_config(config.as_deref(), preset.as_deref())?;
            let t = std::time::Instant::now();
            stylized::command(&cfg, &out)?;
            tracing::info!(
                "stylized: wrote {} in {:.2} s",
                out.display(),
                t.elapsed().as_secs_f64()
            );
        }
        Command::Report {
            out,
            results,
            notebooks,
            timings,
            performance,
            paper_bundle,
        } => {
            report::build(&report::ReportInputs {
                out,
                results: report::Results::under(&results),
                notebooks,
                timings,
                performance,
                paper_bundle: paper_bundle.unwrap_or_else(|| PathBuf::from("data/paper")),
            })?;
        }
        Command::Helmholtz(cmd) => helmholtz::command(cmd)?,
        Command::Prior(cmd) => prior::command(cmd)?,
        Command::Fwi(args) => fwi::command(&args)?,
    }
    Ok(())
}
