//! `cargo xtask test`: the gates, the workspace tests, the Slurm test, the notebooks and the
//! report, with a summary.

use super::*;

/// Run `cargo test --workspace`, echoing its output, and add up its "test result" lines.
pub(crate) fn cargo_test(counts: &mut (usize, usize)) -> Result<()> {
    use std::io::{BufRead, BufReader};
    eprintln!("xtask: cargo test --workspace");
    let sh = shell()?;
    // Every test binary runs even after one fails, so that one run lists every failure. The
    // output is echoed line by line as it comes, so the command is spawned.
    let mut child = Command::from(cmd!(
        sh,
        "cargo test --workspace --exclude memprior-bench --no-fail-fast"
    ))
    .stdout(std::process::Stdio::piped())
    .spawn()
    .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            let num = |key: &str| {
                rest.split(';').find_map(|part| {
                    part.trim()
                        .strip_suffix(key)
                        .and_then(|n| n.trim().rsplit(' ').next()?.parse::<usize>().ok())
                })
            };
            counts.0 += num("passed").unwrap_or(0);
            counts.1 += num("failed").unwrap_or(0);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo test failed ({status})"))
    }
}

/// A command of the gates, kept as data so that the test command and its doc agree.
pub(crate) struct Gate(&'static [&'static str]);

impl Gate {
    fn command(self, sh: &Shell) -> Cmd<'_> {
        let args = self.0;
        cmd!(sh, "cargo {args...}")
    }
}

/// The static gates of `cargo xtask test`: formatting, and clippy with every warning an error
/// (the lint levels are `[workspace.lints]` in Cargo.toml).
pub(crate) fn gates() -> Vec<(&'static str, Gate)> {
    vec![
        (
            "check formatting (cargo fmt --all --check; fix with cargo fmt --all)",
            Gate(&["fmt", "--all", "--check"]),
        ),
        (
            "clippy on every target, warnings denied",
            Gate(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
    ]
}

pub(crate) fn test() -> Result<()> {
    let t0 = Instant::now();
    setup(true)?;
    // (passed, failed) over cargo tests, notebooks and report pages.
    let mut counts = (0, 0);
    let mut failures = Vec::new();
    let sh = shell()?;
    for (what, gate) in gates() {
        match run(gate.command(&sh), what) {
            Ok(()) => counts.0 += 1,
            Err(e) => {
                counts.1 += 1;
                failures.push(e)
            }
        }
    }
    if let Err(e) = cargo_test(&mut counts) {
        failures.push(e);
    }
    if std::env::var_os("MEMPRIOR_SKIP_SLURM").is_some_and(|v| v == "1") {
        eprintln!("xtask: the Slurm test is skipped (MEMPRIOR_SKIP_SLURM=1)");
    } else {
        match slurm::slurm(false) {
            Ok(()) => counts.0 += 1,
            Err(e) => {
                counts.1 += 1;
                failures.push(e)
            }
        }
    }
    // JupyterLab with the notebooks' kernel and environment gets as far as a running server.
    match lab::lab(&["--check".into(), "--port".into(), "18888".into()]) {
        Ok(()) => counts.0 += 1,
        Err(e) => {
            counts.1 += 1;
            failures.push(e)
        }
    }
    let notebooks_total = notebook_paths()?.len();
    match report("default", false) {
        Ok(()) => {
            counts.0 += notebooks_total;
            // The FWI results open in xarray with coordinates, units and the .npy values.
            let python = venv_bin("python");
            match run(
                cmd!(sh, "{python} tools/check_netcdf.py reports/data/fwi_dps"),
                "open the FWI results (NetCDF) with xarray",
            ) {
                Ok(()) => counts.0 += 1,
                Err(e) => {
                    counts.1 += 1;
                    failures.push(e)
                }
            }
            match browser_check() {
                Ok(pages) => counts.0 += pages,
                Err(e) => {
                    counts.1 += 1;
                    failures.push(e)
                }
            }
        }
        Err(e) => {
            counts.1 += 1;
            failures.push(e)
        }
    }
    eprintln!(
        "xtask: tests, notebooks and browser check finished in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    println!("xtask: {} passed, {} failed", counts.0, counts.1);
    if failures.is_empty() && counts.1 == 0 {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}
