//! `cargo xtask report`: the memprior command, the performance measurements, the report and its
//! headless-browser check.

use super::*;

pub(crate) fn memprior_binary() -> PathBuf {
    target_dir().join("debug").join("memprior")
}

/// Build the memprior command (`always`, or when the binary is missing) and return its path.
pub(crate) fn build_memprior(always: bool, what: &str) -> Result<PathBuf> {
    if always || !memprior_binary().is_file() {
        let sh = shell()?;
        run(cmd!(sh, "cargo build --package memprior"), what)?;
    }
    Ok(memprior_binary())
}

/// Measure the Helmholtz solvers (both presets) and the SciPy baseline side by side; returns the
/// directory of the CSV files for the report's performance page. `binary_hash`: SHA-256 of the
/// memprior binary ([`file_hash`]).
pub(crate) fn performance(binary_hash: &str) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let out = target_dir().join("performance");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    // The measurements of the same binary, benchmark scripts and machine are kept (a report with
    // nothing changed reuses them; the performance page shows when they were taken).
    // MEMPRIOR_REMEASURE=1 measures again regardless.
    let mut h = Sha256::new();
    h.update(binary_hash.as_bytes());
    for f in [
        root().join("tools/bench_helmholtz.py"),
        root().join("tools/scipy_helmholtz.py"),
        root().join("tools/requirements.txt"),
    ] {
        let bytes = std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        h.update(&bytes);
    }
    h.update(
        std::fs::read("/proc/cpuinfo")
            .unwrap_or_default()
            .split(|&b| b == b'\n')
            .find(|l| l.starts_with(b"model name"))
            .unwrap_or_default(),
    );
    h.update(std::fs::read("/etc/hostname").unwrap_or_default());
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let stamp = out.join("inputs.sha256");
    let remeasure = std::env::var_os("MEMPRIOR_REMEASURE").is_some_and(|v| v == "1");
    let complete = [
        "helmholtz_solvers_small.csv",
        "helmholtz_solvers_paper.csv",
        "helmholtz_scipy.csv",
    ]
    .iter()
    .all(|f| out.join(f).is_file());
    if !remeasure && complete && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == key) {
        eprintln!(
            "xtask: performance: the measurements of this binary on this machine are kept \
             (MEMPRIOR_REMEASURE=1 measures again)"
        );
        return Ok(out);
    }
    let _ = std::fs::remove_file(&stamp);
    let sh = shell()?;
    let (bin, python) = (memprior_binary(), venv_bin("python"));
    for preset in ["small", "paper"] {
        run(
            cmd!(
                sh,
                "{bin} helmholtz bench --preset {preset} --repeats 3 --out {out}"
            ),
            &format!("time the Helmholtz solvers on the {preset} geometry"),
        )?;
    }
    run(
        cmd!(
            sh,
            "{python} tools/bench_helmholtz.py --memprior {bin} --out {out} --presets small,paper --repeats 3"
        ),
        "time memprior against the SciPy baseline",
    )?;
    std::fs::write(&stamp, key).map_err(|e| e.to_string())?;
    Ok(out)
}

/// SHA-256 (hex) of a file.
fn file_hash(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The report's experiment stage: each experiment through the command line into
/// `target/results/<stage>/`, timed. Returns the results root and (stage, seconds).
///
/// The DPS samples are kept between reports while the memprior binary is the same (every stream
/// is seeded, so the same binary draws the same samples): `memprior fwi` resumes in the kept
/// directory, and a report with nothing changed draws nothing. A rebuilt binary starts afresh.
/// The other stages take seconds (the networks come from the weight cache) and are rerun.
fn experiments(preset: &str, binary_hash: &str) -> Result<(PathBuf, Vec<(String, f64)>)> {
    let results = target_dir().join("results");
    let bin = memprior_binary();
    let dps = results.join("dps");
    let stamp = results.join("dps.binary.sha256");
    let key = format!("{preset} {binary_hash}");
    if std::fs::read_to_string(&stamp).map_or(true, |s| s.trim() != key) {
        if dps.exists() {
            eprintln!(
                "xtask: report: the memprior binary or the preset changed, so the DPS samples are drawn afresh"
            );
            std::fs::remove_dir_all(&dps).map_err(|e| format!("{}: {e}", dps.display()))?;
        }
        std::fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
        std::fs::write(&stamp, &key).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    // The stages of `crates/report/stages.tsv`, which `report::Results::stages` (and so the
    // report's tests) reads too.
    let table = root().join("crates/report/stages.tsv");
    let text = std::fs::read_to_string(&table)
        .map_err(|e| format!("cannot read {}: {e}", table.display()))?;
    let stages: Vec<(String, Vec<String>)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            match f[..] {
                [dir, what, args] => Ok((
                    what.to_string(),
                    args.split_whitespace()
                        .map(|a| {
                            a.replace("{preset}", preset)
                                .replace("{out}", &results.join(dir).display().to_string())
                        })
                        .collect(),
                )),
                _ => Err(format!(
                    "{}: expected dir<TAB>what<TAB>arguments, got `{l}`",
                    table.display()
                )),
            }
        })
        .collect::<Result<_>>()?;
    // The stages other than DPS take seconds: their directories are rewritten from scratch, so
    // that no file of an earlier preset (another N, say) stays behind and reaches the report.
    for name in ["stylized", "fwi", "prior"] {
        let dir = results.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let mut timings = Vec::new();
    let sh = shell()?;
    for (stage, args) in stages {
        let t = Instant::now();
        let what = format!("run the {stage} (memprior {})", args.join(" "));
        let status = run(cmd!(sh, "{bin}").args(&args), &what);
        if let Err(e) = status {
            // The kept DPS directory may hold samples it cannot adopt (a corrupt file, weights
            // of another run): it is the report's own scratch, so it is drawn once afresh.
            let is_dps = args.first().is_some_and(|a| a == "fwi");
            if !is_dps || !dps.exists() {
                return Err(e);
            }
            eprintln!(
                "xtask: report: {e}; drawing the DPS samples afresh in {}",
                dps.display()
            );
            std::fs::remove_dir_all(&dps).map_err(|e| format!("{}: {e}", dps.display()))?;
            run(cmd!(sh, "{bin}").args(&args), &what)?;
        }
        timings.push((stage.to_string(), t.elapsed().as_secs_f64()));
    }
    Ok((results, timings))
}

/// `build`: false when `cargo test --workspace` has just built the binary (its integration tests
/// need it); building again with `cargo build -p memprior` would resolve features differently and
/// recompile part of the tree (measured: 64 s on 2 cores).
pub(crate) fn report(preset: &str, build: bool) -> Result<()> {
    let t0 = Instant::now();
    setup(false)?;
    let t = Instant::now();
    build_memprior(build, "build the memprior command")?;
    let build_secs = t.elapsed().as_secs_f64();
    let mut timings = notebooks(&[])?;
    timings.insert("build memprior".into(), build_secs);
    let t = Instant::now();
    // The binary's hash keys both the kept measurements and the kept DPS samples.
    let binary_hash = file_hash(&memprior_binary())?;
    let perf = performance(&binary_hash)?;
    timings.insert("performance measurements".into(), t.elapsed().as_secs_f64());
    let (results, stages) = experiments(preset, &binary_hash)?;
    timings.extend(stages);
    let timings_path = target_dir().join("notebooks/report-timings.json");
    std::fs::write(
        &timings_path,
        serde_json::to_string_pretty(&timings).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let sh = shell()?;
    let (bin, python) = (memprior_binary(), venv_bin("python"));
    let html = target_dir().join("notebooks/html");
    run(
        cmd!(
            sh,
            "{bin} report --out reports --results {results} --notebooks {html} --timings {timings_path} --performance {perf} --paper-bundle data/paper"
        ),
        "render the report from the results",
    )?;
    // Static copies for papers and talks: every figure as SVG and PNG, the index as PDF.
    match chromium() {
        Some(chrome) => run(
            cmd!(
                sh,
                "{python} tools/export_figures.py reports --chromium {chrome}"
            ),
            "export the figures (SVG, PNG) and the PDF of the report",
        )?,
        None => eprintln!(
            "xtask: Chromium not found, so no static figures or PDF: `cargo xtask setup --browser` \
             installs it, then rerun the report"
        ),
    }
    eprintln!(
        "xtask: report ready at {} ({:.1} s)",
        root().join("reports/index.html").display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Open every report page in headless Chromium; returns the number of pages checked.
pub(crate) fn browser_check() -> Result<usize> {
    let chrome = chromium().ok_or("Chromium not found: run `cargo xtask setup --browser`")?;
    let sh = shell()?;
    let python = venv_bin("python");
    run(
        cmd!(
            sh,
            "{python} tools/check_report.py reports --chromium {chrome}"
        ),
        "open every report page in headless Chromium",
    )?;
    let count = |dir: PathBuf| {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
                    .count()
            })
            .unwrap_or(0)
    };
    Ok(count(root().join("reports")) + count(root().join("reports/notebooks")))
}
