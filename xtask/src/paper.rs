//! `cargo xtask paper [--preset paper] [--bundle DIR] [--workers W]`: the FWI experiment end to
//! end on this machine (train every N, draw every sample, merge), resumable, into a results
//! bundle that is committed with the code.
//!
//! The bundle (`data/paper/` for the paper preset, `target/bundle-<preset>/` otherwise) is the
//! output directory of `memprior fwi`: the tables (CSV and Parquet), `fields/*.npy`,
//! `kl_coefficients.csv` (the KL coefficients of every sample, training model and the truth),
//! `config.toml` and `samples/` (one small file per finished sample, so a new machine resumes
//! from a clone), plus `provenance.json`: commit, sample-format version, machine and the wall
//! time of each stage in every session, appended as sessions resume. Network weights stay in the
//! weight cache (lost weights retrain deterministically, bit for bit).

use super::{Result, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn stdout_of(cmd: &mut Command) -> Option<String> {
    let o = cmd.output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|x| x.1.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `format = "…"` of `samples/run.toml`.
fn sample_format(bundle: &Path) -> Option<String> {
    let text = std::fs::read_to_string(bundle.join("samples/run.toml")).ok()?;
    text.lines().find_map(|l| {
        let v = l
            .strip_prefix("format")?
            .trim_start()
            .strip_prefix('=')?
            .trim();
        Some(v.trim_matches('"').to_string())
    })
}

/// Write `provenance.json`, appending this session to the ones before it.
fn write_provenance(bundle: &Path, preset: &str, session: serde_json::Value) -> Result<()> {
    let path = bundle.join("provenance.json");
    let mut sessions: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("sessions")?.as_array().cloned())
        .unwrap_or_default();
    sessions.push(session);
    let total = |key: &str| -> f64 { sessions.iter().filter_map(|s| s.get(key)?.as_f64()).sum() };
    let commit = stdout_of(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root()),
    )
    .unwrap_or_else(|| "unknown".into());
    let dirty = stdout_of(
        Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .current_dir(root()),
    )
    .is_some_and(|s| !s.is_empty());
    let doc = serde_json::json!({
        "preset": preset,
        "commit": commit,
        "uncommitted_changes": dirty,
        "sample_format": sample_format(bundle),
        "machine": {
            "cpu": cpu_model(),
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        "total_seconds": {
            "train": total("train_seconds"),
            "sample_and_merge": total("sample_seconds"),
        },
        "sessions": sessions,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n";
    // Atomic: a temporary sibling renamed into place.
    let tmp = bundle.join(format!(".provenance.json.tmp{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Run the experiment of `args` (`--preset`, `--bundle`, `--workers`).
pub fn paper(args: &[String]) -> Result<()> {
    let preset = flag(args, "--preset").unwrap_or("paper").to_string();
    let bundle = flag(args, "--bundle").map_or_else(
        || {
            if preset == "paper" {
                root().join("data/paper")
            } else {
                root().join(format!("target/bundle-{preset}"))
            }
        },
        PathBuf::from,
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers: usize = match flag(args, "--workers") {
        Some(w) => w
            .parse()
            .ok()
            .filter(|&w| w > 0)
            .ok_or_else(|| format!("invalid `--workers`: a positive integer (got `{w}`)"))?,
        None => cores,
    };
    let started = Instant::now();
    let bin = super::build_memprior(true, "build the memprior command")?;
    let ns: Vec<String> = stdout_of(
        Command::new(&bin)
            .args(["fwi", "--preset", &preset, "--print-n-values", "--out"])
            .arg(&bundle),
    )
    .ok_or_else(|| {
        format!("memprior does not accept the preset `{preset}` (quick, default or paper)")
    })?
    .split_whitespace()
    .map(String::from)
    .collect();

    // Stage 1: the networks, `cores` at a time (each training run is single-threaded; a cached
    // network returns at once, a stopped one resumes from its checkpoint).
    let t = Instant::now();
    for chunk in ns.chunks(cores.max(1)) {
        let children = chunk
            .iter()
            .map(|n| {
                eprintln!("xtask: paper: train the network of N = {n} (preset {preset})");
                Command::new(&bin)
                    .args(["prior", "train", "--preset", &preset, "--n-train", n])
                    .spawn()
                    .map(|c| (n, c))
                    .map_err(|e| format!("cannot start memprior: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        for (n, mut c) in children {
            let status = c.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!(
                    "paper: training N = {n} failed ({status}); rerun to resume"
                ));
            }
        }
    }
    let train_seconds = t.elapsed().as_secs_f64();

    // Stage 2: every sample (resuming from those in the bundle), then the tables.
    let t = Instant::now();
    let sampled = run(
        Command::new(&bin)
            .args([
                "fwi",
                "--preset",
                &preset,
                "--workers",
                &workers.to_string(),
                "--out",
            ])
            .arg(&bundle),
        &format!("paper: sample and merge into {}", bundle.display()),
    );
    let sample_seconds = t.elapsed().as_secs_f64();
    let session = serde_json::json!({
        "finished": sampled.is_ok(),
        "train_seconds": train_seconds,
        "sample_seconds": sample_seconds,
        "workers": workers,
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    });
    if bundle.is_dir() {
        write_provenance(&bundle, &preset, session)?;
    }
    sampled?;
    eprintln!(
        "xtask: paper: bundle {} complete in {:.1} s (train {train_seconds:.1} s, sample and merge \
         {sample_seconds:.1} s); commit it (its samples/ lets a new machine resume)",
        bundle.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
