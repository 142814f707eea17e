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

mod lab;
mod paper;
mod slurm;

type Result<T> = std::result::Result<T, String>;

const EVCXR_VERSION: &str = "0.22.0";

fn root() -> PathBuf {
    // The runtime value: a target directory shared by several clones may hold a binary built
    // for another checkout, whose compile-time path would point there.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
        .join("bin")
}

/// Per-notebook evcxr build directories. They must lie outside this workspace's directory tree
/// (cargo refuses a package nested in a workspace that does not list it), and they persist so
/// that a rerun's first cell takes seconds instead of minutes.
fn evcxr_tmp_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("memprior/evcxr")
}

fn venv() -> PathBuf {
    root().join(".venv")
}

fn venv_bin(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

/// PATH with the venv and cargo's bin first, so that `jupyter` finds the evcxr kernel binary.
fn path_env() -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!(
        "{}:{}:{old}",
        venv().join("bin").display(),
        cargo_bin_dir().display()
    )
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    cmd.env("PATH", path_env());
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: failed ({status})"))
    }
}

fn which(name: &str) -> Option<PathBuf> {
    path_env()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// setup

fn setup_venv() -> Result<()> {
    let req_path = root().join("tools/requirements.txt");
    let req = std::fs::read_to_string(&req_path)
        .map_err(|e| format!("cannot read {}: {e}", req_path.display()))?;
    if !venv_bin("python").is_file() {
        let python = which("python3")
            .ok_or("python3 not found: install Python 3 (apt-get install python3 python3-venv)")?;
        run(Command::new(python).args(["-m", "venv"]).arg(venv()), "create the project venv .venv").map_err(|e| {
            format!("{e}\n  fix: apt-get install python3-venv (Debian's python3 needs it for `python3 -m venv`)")
        })?;
    }
    let stamp = venv().join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(req.as_str()) {
        return Ok(());
    }
    run(
        Command::new(venv_bin("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&req_path),
        "install notebook and browser-test tools into .venv (tools/requirements.txt)",
    )?;
    std::fs::write(&stamp, req).map_err(|e| e.to_string())
}

fn setup_evcxr() -> Result<()> {
    if which("evcxr_jupyter").is_none() {
        run(
            Command::new("cargo").args([
                "install",
                "evcxr_jupyter",
                "--locked",
                "--version",
                EVCXR_VERSION,
            ]),
            "install the evcxr Jupyter kernel (first time only, ~12 min)",
        )?;
    }
    let specs = Command::new(venv_bin("jupyter"))
        .args(["kernelspec", "list", "--json"])
        .env("PATH", path_env())
        .output()
        .map_err(|e| format!("cannot run jupyter kernelspec: {e}"))?;
    let listed = String::from_utf8_lossy(&specs.stdout).contains("\"rust\"");
    if !listed {
        run(
            Command::new("evcxr_jupyter").arg("--install"),
            "register the evcxr kernel (kernel name `rust`)",
        )?;
    }
    Ok(())
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|n| which(n))
        .or_else(|| {
            let p = PathBuf::from("/usr/bin/chromium");
            p.is_file().then_some(p)
        })
}

fn setup_browser() -> Result<()> {
    if chromium().is_some() {
        return Ok(());
    }
    let fix = "install Debian's Chromium: apt-get update && apt-get install -y chromium";
    let prefix: Vec<&str> = if is_root() {
        vec![]
    } else if which("sudo").is_some() {
        vec!["sudo", "-n"]
    } else {
        return Err(format!(
            "Chromium is missing and this user cannot install packages\n  fix: {fix} (as root)"
        ));
    };
    let apt = |args: &[&str]| {
        let mut full: Vec<&str> = prefix.clone();
        full.push("apt-get");
        full.extend_from_slice(args);
        let mut c = Command::new(full[0]);
        c.args(&full[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-q"]), "apt-get update").map_err(|e| format!("{e}\n  fix: {fix}"))?;
    run(
        &mut apt(&["install", "-y", "-q", "chromium"]),
        "install Chromium for the browser check",
    )
    .map_err(|e| format!("{e}\n  fix: {fix}"))
}

fn setup(browser: bool) -> Result<()> {
    let t = Instant::now();
    setup_venv()?;
    setup_evcxr()?;
    if browser {
        setup_browser()?;
    }
    eprintln!(
        "xtask: setup complete in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// notebooks

fn notebook_paths() -> Result<Vec<PathBuf>> {
    let dir = root().join("notebooks");
    let mut nbs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    nbs.sort();
    Ok(nbs)
}

fn stem_of(nb: &Path) -> String {
    nb.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Problems in an executed notebook: error outputs, and panics that evcxr reports on stderr only.
fn notebook_problems(executed: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(executed)
        .map_err(|e| format!("cannot read {}: {e}", executed.display()))?;
    let nb: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", executed.display()))?;
    let mut problems = Vec::new();
    let cells = nb["cells"].as_array().cloned().unwrap_or_default();
    for (i, cell) in cells.iter().enumerate() {
        if cell["cell_type"] != "code" {
            continue;
        }
        if cell["execution_count"].is_null() {
            problems.push(format!("cell {i} was not executed"));
        }
        let mut stderr = String::new();
        for out in cell["outputs"].as_array().cloned().unwrap_or_default() {
            match out["output_type"].as_str() {
                Some("error") => problems.push(format!(
                    "cell {i}: {} {}",
                    out["ename"].as_str().unwrap_or(""),
                    out["evalue"].as_str().unwrap_or("")
                )),
                Some("stream") if out["name"] == "stderr" => {
                    let t = &out["text"];
                    match t {
                        serde_json::Value::Array(parts) => parts
                            .iter()
                            .for_each(|p| stderr.push_str(p.as_str().unwrap_or(""))),
                        other => stderr.push_str(other.as_str().unwrap_or("")),
                    }
                }
                _ => {}
            }
        }
        if stderr.contains("panicked at") || stderr.contains("Child process terminated") {
            let lines: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(8)
                .collect();
            problems.push(format!(
                "cell {i} panicked:\n      {}",
                lines.join("\n      ")
            ));
        }
    }
    Ok(problems)
}

/// Execute every notebook (or those whose names start with one of `only`); returns stage
/// timings. HTML goes to `target/notebooks/html`.
/// Everything a notebook's execution depends on besides the notebook itself: the workspace's
/// crates (sources, manifests, snapshots: the notebooks `:dep` experiments and run the memprior
/// binary), the lock file, the evcxr configuration and HTML template, the pinned Python tools,
/// and the compiler's version. Hashed once per run.
fn notebook_shared_inputs() -> Result<Vec<u8>> {
    use sha2::{Digest, Sha256};
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            if p.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    walk(&p, out);
                }
            } else {
                out.push(p);
            }
        }
    }
    let dirs = ["crates", "notebooks/evcxr", "notebooks/template"];
    // The files git knows or would add (not ignored scratch such as fuzzing corpora); outside a
    // git checkout, every file under the directories.
    let listed = Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
        ])
        .args(dirs)
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success());
    let mut files = Vec::new();
    match listed {
        Some(o) => files.extend(
            o.stdout
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| root().join(String::from_utf8_lossy(p).as_ref()))
                .filter(|p| p.is_file()),
        ),
        None => {
            for dir in dirs {
                walk(&root().join(dir), &mut files);
            }
        }
    }
    for f in ["Cargo.toml", "Cargo.lock", "tools/requirements.txt"] {
        files.push(root().join(f));
    }
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        h.update(
            f.strip_prefix(root())
                .unwrap_or(f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    let rustc = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    h.update(&rustc.stdout);
    Ok(h.finalize().to_vec())
}

/// The inputs hash of one notebook: its own bytes and the shared inputs. A notebook whose hash
/// equals the stamp of its last successful execution is not executed again, and its executed
/// copy and page are kept (`MEMPRIOR_NOTEBOOK_CACHE=0` executes every notebook regardless).
fn notebook_hash(nb: &Path, shared: &[u8]) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(nb).map_err(|e| format!("cannot read {}: {e}", nb.display()))?;
    let mut h = Sha256::new();
    h.update(shared);
    h.update(&bytes);
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn notebooks(only: &[String]) -> Result<BTreeMap<String, f64>> {
    let out = target_dir().join("notebooks");
    let (executed_dir, html_dir) = (out.join("executed"), out.join("html"));
    std::fs::create_dir_all(&executed_dir).map_err(|e| e.to_string())?;
    // Pages of unchanged notebooks are kept (see `notebook_hash`); pages of notebooks that no
    // longer exist go.
    std::fs::create_dir_all(&html_dir).map_err(|e| e.to_string())?;
    let stems: Vec<String> = notebook_paths()?.iter().map(|p| stem_of(p)).collect();
    for entry in std::fs::read_dir(&html_dir)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let p = entry.path();
        if p.extension().is_some_and(|x| x == "html") && !stems.contains(&stem_of(&p)) {
            std::fs::remove_file(&p).map_err(|e| e.to_string())?;
        }
    }
    let mut timings = BTreeMap::new();
    let mut failures = Vec::new();
    let paths = notebook_paths()?;
    let stamps = out.join("stamps");
    std::fs::create_dir_all(&stamps).map_err(|e| e.to_string())?;
    let caching = std::env::var_os("MEMPRIOR_NOTEBOOK_CACHE").is_none_or(|v| v != "0");
    let shared = if caching {
        Some(notebook_shared_inputs()?)
    } else {
        None
    };
    let unknown: Vec<&String> = only
        .iter()
        .filter(|o| !paths.iter().any(|p| stem_of(p).starts_with(o.as_str())))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "no notebook starts with {unknown:?}: name them by prefix, for example `cargo xtask notebooks 02 07`"
        ));
    }
    for nb in paths {
        let stem = stem_of(&nb);
        if !only.is_empty() && !only.iter().any(|o| stem.starts_with(o.as_str())) {
            continue;
        }
        let t = Instant::now();
        let executed = executed_dir.join(format!("{stem}.ipynb"));
        let page = html_dir.join(format!("{stem}.html"));
        let stamp = stamps.join(format!("{stem}.sha256"));
        let hash = match &shared {
            Some(shared) => Some(notebook_hash(&nb, shared)?),
            None => None,
        };
        if let Some(h) = &hash
            && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == h)
            && executed.is_file()
            && page.is_file()
        {
            eprintln!(
                "xtask: notebook {stem}: unchanged since its last successful run (inputs {}), kept",
                &h[..12]
            );
            timings.insert(
                format!("notebook {stem} (cached)"),
                t.elapsed().as_secs_f64(),
            );
            continue;
        }
        let _ = std::fs::remove_file(&stamp);
        // One evcxr build directory for all notebooks (they run one after another and `:dep`
        // the same crate): the workspace is compiled once per change, not once per notebook.
        // MEMPRIOR_EVCXR_SHARED=0 gives each notebook its own, as before.
        let tmp = if std::env::var_os("MEMPRIOR_EVCXR_SHARED").is_some_and(|v| v == "0") {
            evcxr_tmp_root().join(&stem)
        } else {
            evcxr_tmp_root().join("notebooks")
        };
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        let exec = run(
            Command::new(venv_bin("jupyter"))
                .args([
                    "nbconvert",
                    "--to",
                    "notebook",
                    "--execute",
                    // Keep going past a failing cell so that the executed copy is written and
                    // `notebook_problems` can name the cell and its error (panics included).
                    "--allow-errors",
                    "--log-level=WARN",
                ])
                .args([
                    "--ExecutePreprocessor.kernel_name=rust",
                    "--ExecutePreprocessor.timeout=3600",
                ])
                .arg("--output-dir")
                .arg(&executed_dir)
                .arg(&nb)
                .env("EVCXR_TMPDIR", &tmp)
                .env("EVCXR_CONFIG_DIR", root().join("notebooks/evcxr"))
                // Notebook 06 runs the trained-network experiment through the command line, so
                // that evcxr never compiles the deep-learning stack.
                .env("MEMPRIOR_BIN", memprior_binary()),
            &format!("execute notebook {stem}"),
        );
        let problems = match exec {
            Ok(()) => notebook_problems(&executed)?,
            Err(e) => vec![e],
        };
        if problems.is_empty() {
            run(
                Command::new(venv_bin("jupyter"))
                    .args([
                        "nbconvert",
                        "--to",
                        "html",
                        "--log-level=WARN",
                        "--template",
                        "memprior",
                    ])
                    .arg(format!(
                        "--TemplateExporter.extra_template_basedirs={}",
                        root().join("notebooks/template").display()
                    ))
                    .arg("--output-dir")
                    .arg(&html_dir)
                    .arg(&executed),
                &format!("export notebook {stem} to HTML"),
            )?;
            let secs = t.elapsed().as_secs_f64();
            if let Some(h) = &hash {
                std::fs::write(&stamp, h).map_err(|e| e.to_string())?;
            }
            eprintln!("xtask: notebook {stem}: ok in {secs:.1} s");
            timings.insert(format!("notebook {stem}"), secs);
        } else {
            eprintln!(
                "xtask: notebook {stem}: FAILED\n    {}",
                problems.join("\n    ")
            );
            failures.push(stem);
        }
    }
    let json = serde_json::to_string_pretty(&timings).map_err(|e| e.to_string())?;
    std::fs::write(out.join("timings.json"), json).map_err(|e| e.to_string())?;
    if failures.is_empty() {
        Ok(timings)
    } else {
        Err(format!("notebooks failed: {}", failures.join(", ")))
    }
}

// ---------------------------------------------------------------------------------------------
// report and test

fn memprior_binary() -> PathBuf {
    target_dir().join("debug").join("memprior")
}

/// Build the memprior command (`always`, or when the binary is missing) and return its path.
fn build_memprior(always: bool, what: &str) -> Result<PathBuf> {
    if always || !memprior_binary().is_file() {
        run(
            Command::new("cargo")
                .args(["build", "--package", "memprior"])
                .current_dir(root()),
            what,
        )?;
    }
    Ok(memprior_binary())
}

/// Measure the Helmholtz solvers (both presets) and the SciPy baseline side by side; returns the
/// directory of the CSV files for the report's performance page.
fn performance() -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let out = target_dir().join("performance");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    // The measurements of the same binary, benchmark scripts and machine are kept (a report with
    // nothing changed reuses them; the performance page shows when they were taken).
    // MEMPRIOR_REMEASURE=1 measures again regardless.
    let mut h = Sha256::new();
    for f in [
        memprior_binary(),
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
    for preset in ["small", "paper"] {
        run(
            Command::new(memprior_binary())
                .args([
                    "helmholtz",
                    "bench",
                    "--preset",
                    preset,
                    "--repeats",
                    "3",
                    "--out",
                ])
                .arg(&out),
            &format!("time the Helmholtz solvers on the {preset} geometry"),
        )?;
    }
    run(
        Command::new(venv_bin("python"))
            .arg(root().join("tools/bench_helmholtz.py"))
            .arg("--memprior")
            .arg(memprior_binary())
            .arg("--out")
            .arg(&out)
            .args(["--presets", "small,paper", "--repeats", "3"]),
        "time memprior against the SciPy baseline",
    )?;
    std::fs::write(&stamp, key).map_err(|e| e.to_string())?;
    Ok(out)
}

/// `build`: false when `cargo test --workspace` has just built the binary (its integration tests
/// need it); building again with `cargo build -p memprior` would resolve features differently and
/// recompile part of the tree (measured: 64 s on 2 cores).
fn report(preset: &str, build: bool) -> Result<()> {
    let t0 = Instant::now();
    setup(false)?;
    let t = Instant::now();
    build_memprior(build, "build the memprior command")?;
    let build_secs = t.elapsed().as_secs_f64();
    let mut timings = notebooks(&[])?;
    timings.insert("build memprior".into(), build_secs);
    let t = Instant::now();
    let perf = performance()?;
    timings.insert("performance measurements".into(), t.elapsed().as_secs_f64());
    let timings_path = target_dir().join("notebooks/report-timings.json");
    std::fs::write(
        &timings_path,
        serde_json::to_string_pretty(&timings).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    run(
        Command::new(memprior_binary())
            .args(["report", "--out"])
            .arg(root().join("reports"))
            .args(["--preset", preset, "--prior-preset", preset, "--notebooks"])
            .arg(target_dir().join("notebooks/html"))
            .arg("--timings")
            .arg(&timings_path)
            .arg("--performance")
            .arg(&perf)
            .arg("--paper-bundle")
            .arg(root().join("data/paper"))
            .current_dir(root()),
        "run the experiments and assemble the report",
    )?;
    // Static copies for papers and talks: every figure as SVG and PNG, the index as PDF.
    match chromium() {
        Some(chrome) => run(
            Command::new(venv_bin("python"))
                .arg(root().join("tools/export_figures.py"))
                .arg(root().join("reports"))
                .arg("--chromium")
                .arg(chrome),
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
fn browser_check() -> Result<usize> {
    let chrome = chromium().ok_or("Chromium not found: run `cargo xtask setup --browser`")?;
    run(
        Command::new(venv_bin("python"))
            .arg(root().join("tools/check_report.py"))
            .arg(root().join("reports"))
            .arg("--chromium")
            .arg(chrome),
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

/// Run `cargo test --workspace`, echoing its output, and add up its "test result" lines.
fn cargo_test(counts: &mut (usize, usize)) -> Result<()> {
    use std::io::{BufRead, BufReader};
    eprintln!("xtask: cargo test --workspace");
    let mut child = Command::new("cargo")
        // Every test binary runs even after one fails, so that one run lists every failure.
        .args([
            "test",
            "--workspace",
            "--exclude",
            "memprior-bench",
            "--no-fail-fast",
        ])
        .current_dir(root())
        .env("PATH", path_env())
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
struct Gate(&'static [&'static str]);

impl Gate {
    fn into_command(self) -> Command {
        let mut c = Command::new("cargo");
        c.args(self.0).current_dir(root());
        c
    }
}

/// The static gates of `cargo xtask test`: formatting, and clippy with every warning an error
/// (the lint levels are `[workspace.lints]` in Cargo.toml).
fn gates() -> Vec<(&'static str, Gate)> {
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

fn test() -> Result<()> {
    let t0 = Instant::now();
    setup(true)?;
    // (passed, failed) over cargo tests, notebooks and report pages.
    let mut counts = (0, 0);
    let mut failures = Vec::new();
    for (what, cmd) in gates() {
        match run(&mut cmd.into_command(), what) {
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
            match run(
                Command::new(venv_bin("python"))
                    .arg(root().join("tools/check_netcdf.py"))
                    .arg(root().join("reports/data/fwi_dps")),
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

/// One line of the setup doctor: what a README command needs, whether it is there, the fix.
struct Finding {
    need: &'static str,
    ok: bool,
    detail: String,
    fix: String,
}

fn version_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}

/// Check what `cargo xtask report` and `cargo xtask test` need, without installing anything.
fn doctor_findings() -> Vec<Finding> {
    let mut f = Vec::new();
    let rustc = version_of(Command::new("rustc").arg("--version"));
    f.push(Finding {
        need: "Rust toolchain (rustc, cargo)",
        ok: rustc.is_some(),
        detail: rustc.unwrap_or_else(|| "rustc not found".into()),
        fix: "install rustup: https://rustup.rs (the README's commands need only cargo)".into(),
    });
    let python = which("python3").and_then(|p| version_of(Command::new(p).arg("--version")));
    f.push(Finding {
        need: "Python 3 (creates the project venv)",
        ok: python.is_some(),
        detail: python.unwrap_or_else(|| "python3 not found".into()),
        fix: "apt-get install python3 python3-venv".into(),
    });
    let venv_ok = venv_bin("python").is_file();
    let req = std::fs::read_to_string(root().join("tools/requirements.txt")).ok();
    let stamp = std::fs::read_to_string(venv().join("requirements.installed")).ok();
    let tools_ok = venv_ok && req.is_some() && req == stamp;
    f.push(Finding {
        need: "project venv .venv with tools/requirements.txt (nbconvert, nbclient, playwright, just)",
        ok: tools_ok,
        detail: if !venv_ok {
            "no .venv".into()
        } else if tools_ok {
            format!("{}", venv().display())
        } else {
            "installed requirements differ from tools/requirements.txt".into()
        },
        fix: "cargo xtask setup (creates .venv and pip-installs tools/requirements.txt)".into(),
    });
    // evcxr_jupyter has no --version: its presence is the check.
    let evcxr = which("evcxr_jupyter");
    f.push(Finding {
        need: "evcxr Jupyter kernel binary",
        ok: evcxr.is_some(),
        detail: evcxr.map_or_else(
            || format!("evcxr_jupyter not on PATH or in {}", cargo_bin_dir().display()),
            |p| p.display().to_string(),
        ),
        fix: format!("cargo install evcxr_jupyter --locked --version {EVCXR_VERSION} (or cargo xtask setup; ~12 min)"),
    });
    let kernel = venv_bin("jupyter").is_file()
        && Command::new(venv_bin("jupyter"))
            .args(["kernelspec", "list", "--json"])
            .env("PATH", path_env())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("\"rust\""))
            .unwrap_or(false);
    f.push(Finding {
        need: "Jupyter kernel `rust` registered",
        ok: kernel,
        detail: if kernel {
            "listed by jupyter kernelspec".into()
        } else {
            "not registered".into()
        },
        fix: "evcxr_jupyter --install (or cargo xtask setup)".into(),
    });
    let sysroot_lib = version_of(Command::new("rustc").args(["--print", "sysroot"]))
        .map(|s| PathBuf::from(s).join("lib/rustlib"))
        .filter(|p| p.is_dir());
    f.push(Finding {
        need: "Rust standard library sources for evcxr (rust-src is not needed; the sysroot libs are)",
        ok: sysroot_lib.is_some(),
        detail: sysroot_lib.map_or_else(|| "sysroot not found".into(), |p| p.display().to_string()),
        fix: "rustup toolchain install stable".into(),
    });
    let chrome = chromium();
    f.push(Finding {
        need: "Chromium for the browser check (cargo xtask test only)",
        ok: chrome.is_some(),
        detail: chrome.map_or_else(|| "chromium not found".into(), |p| p.display().to_string()),
        fix: "cargo xtask setup --browser (runs apt-get install -y chromium; needs root or sudo)"
            .into(),
    });
    let slurm_missing = slurm::missing();
    f.push(Finding {
        need: "Slurm, munge and GNU parallel for the Slurm test (cargo xtask test only)",
        ok: slurm_missing.is_empty(),
        detail: if slurm_missing.is_empty() {
            "slurmctld, slurmd, sbatch, munged, parallel found".into()
        } else {
            format!("{} not found", slurm_missing.join(", "))
        },
        fix: format!(
            "cargo xtask slurm installs them (apt-get install -y {}; needs root), or skip the \
             test with MEMPRIOR_SKIP_SLURM=1",
            slurm::PACKAGES.join(" ")
        ),
    });
    let weights = std::env::var_os("MEMPRIOR_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/memprior/weights"))
        });
    let cached = weights
        .as_ref()
        .and_then(|w| std::fs::read_dir(w).ok())
        .map_or(0, |d| d.count());
    f.push(Finding {
        need: "trained prior weights (optional: the report trains them, ≈ 5 min on 2 cores)",
        ok: true,
        detail: format!(
            "{} cached run(s) in {}",
            cached,
            weights.map_or_else(|| "(no HOME)".into(), |w| w.display().to_string())
        ),
        fix: String::new(),
    });
    f
}

fn doctor() -> Result<()> {
    let findings = doctor_findings();
    let missing = findings.iter().filter(|x| !x.ok).count();
    for x in &findings {
        println!(
            "{} {:<74} {}",
            if x.ok { "ok     " } else { "MISSING" },
            x.need,
            x.detail
        );
        if !x.ok {
            println!("        fix: {}", x.fix);
        }
    }
    if missing == 0 {
        println!("doctor: everything `cargo xtask report` and `cargo xtask test` need is present");
        Ok(())
    } else {
        Err(format!(
            "{missing} missing; `cargo xtask report` and `cargo xtask test` install them themselves (except the Rust toolchain and Python), or apply the fixes above"
        ))
    }
}

fn usage() -> String {
    "usage: cargo xtask <setup [--browser] | doctor | lab [--port P] [--check] | notebooks [NN…] | report [--preset default|quick] | slurm | paper [--preset paper|default|quick] [--bundle DIR] [--workers W] | test>"
        .into()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(args.iter().any(|a| a == "--browser")),
        Some("notebooks") => setup(false)
            .and_then(|_| {
                run(
                    Command::new("cargo")
                        .args(["build", "--package", "memprior"])
                        .current_dir(root()),
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
