//! `cargo xtask`: the project's own commands, runnable on a machine that has only the Rust
//! toolchain, Python 3 with pip, and apt.
//!
//! ```text
//! cargo xtask setup [--browser]   install what is missing (venv, evcxr kernel, Chromium), idempotently
//! cargo xtask notebooks [NN…]     execute every notebook (or those named by prefix) headless, fail on any error or panic, export HTML
//! cargo xtask report              setup + build + notebooks + experiments → reports/index.html
//! cargo xtask test                setup + fmt/clippy gates + cargo test + Slurm test + notebooks + report + headless-browser check
//! cargo xtask slurm               tools/slurm/ on a real single-node Slurm cluster, against a single run
//! cargo xtask paper [--preset P]  the FWI experiment end to end into a committed bundle (data/paper/), resumable
//! cargo xtask lab [--port P]     JupyterLab on notebooks/ with the rust kernel and the notebooks' environment
//! cargo xtask doctor              what the two commands need and what is missing, each with its fix
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use xshell::{Cmd, Shell, cmd};

mod doctor;
mod env;
mod lab;
mod notebooks;
mod paper;
mod report;
mod setup;
mod slurm;
mod test;

pub(crate) use doctor::*;
pub(crate) use env::*;
pub(crate) use notebooks::*;
pub(crate) use report::*;
pub(crate) use setup::*;
pub(crate) use test::*;

pub(crate) type Result<T> = std::result::Result<T, String>;

fn usage() -> String {
    "usage: cargo xtask <setup [--browser] | doctor | lab [--port P] [--check] | notebooks [NN…] | report [--preset default|quick] | slurm | paper [--preset paper|default|quick] [--bundle DIR] [--workers W] [--binary memprior-<hash>] | test>"
        .into()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(args.iter().any(|a| a == "--browser")),
        Some("notebooks") => setup(false)
            .and_then(|_| {
                let sh = shell()?;
                run(
                    cmd!(sh, "cargo build --package memprior"),
                    "build the memprior command (notebook 06 runs it)",
                )
            })
            .and_then(|_| notebooks(&args[1..]))
            .map(|_| ()),
        Some("report") => {
            let preset = args
                .iter()
                .position(|a| a == "--preset")
                .and_then(|i| args.get(i + 1))
                .map(String::as_str)
                .unwrap_or("default");
            report(preset, true)
        }
        Some("test") => test(),
        Some("slurm") => slurm::slurm(true),
        Some("paper") => paper::paper(&args[1..]),
        Some("doctor") => doctor(),
        Some("lab") => lab::lab(&args[1..]),
        _ => Err(usage()),
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e}");
        std::process::exit(1);
    }
}
