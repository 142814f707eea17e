//! `cargo xtask paper [--preset paper] [--bundle DIR] [--workers W] [--binary memprior-<hash>]`:
//! the FWI experiment end to end on this machine (train every N, draw every sample, merge),
//! resumable, into a results bundle that is committed with the code. `--binary` resumes with the
//! frozen binary of an earlier session instead of building the work tree, so that code changes
//! made while the run is under way never enter it.
//!
//! The work is scheduled as single-core tasks on `--workers` slots (default: every core):
//! training the network of each N comes first, since the trainings are the longest serial
//! chain; a slot with no network left to train draws samples of the smallest N whose network is
//! ready (`memprior fwi --n N --workers 1`). Several of these processes share one N's samples
//! through the per-sample locks, so sampling of N = 50 starts while the larger networks still
//! train, and no core idles while work is left. Every task resumes: a network from its
//! checkpoint, the samples from the files on disk. The merge runs when every sample is drawn.
//!
//! The bundle (`data/paper/` for the paper preset, `target/bundle-<preset>/` otherwise) is the
//! output directory of `memprior fwi`: the tables (CSV and Parquet), `fields/*.npy`,
//! `kl_coefficients.csv` (the KL coefficients of every sample, training model and the truth),
//! `config.toml` and `samples/` (one small file per finished sample, so a new machine resumes
//! from a clone), plus `provenance.json`: sample-format version, machine, and the binary, its
//! commit and the time of each stage of every session, appended as sessions resume. Network weights stay in the
//! weight cache (lost weights retrain deterministically, bit for bit).

mod binary;
mod provenance;

use super::{Result, read, root, run, shell};
use binary::{binary_commit, frozen, pinned};
use provenance::write_provenance;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use xshell::cmd;

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// One single-core task of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    /// Train (or load, or resume) the network of N.
    Train(usize),
    /// Draw samples of N until none is left that another process is not drawing.
    Sample(usize),
    /// The unconditional memorization experiment of every network (`memprior prior
    /// memorization`, into `prior/` of the bundle), once every network is trained.
    Memorization,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Task::Train(n) => write!(f, "train N={n}"),
            Task::Sample(n) => write!(f, "sample N={n}"),
            Task::Memorization => write!(f, "unconditional memorization"),
        }
    }
}

struct Running {
    task: Task,
    child: std::process::Child,
    started: Instant,
    echo: std::thread::JoinHandle<()>,
}

/// Start `cmd` with its standard error echoed line by line, prefixed by the task.
fn spawn(task: Task, cmd: &mut Command) -> Result<Running> {
    use std::io::BufRead;
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("paper: cannot start memprior for {task}: {e}"))?;
    let err = child.stderr.take().expect("stderr is piped");
    let echo = std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(|l| l.ok()) {
            eprintln!("[{task}] {line}");
        }
    });
    eprintln!("xtask: paper: start {task}");
    Ok(Running {
        task,
        child,
        started: Instant::now(),
        echo,
    })
}

/// `(N, sample count)` of every N of the configuration.
fn job_counts(bin: &Path, preset: &str, bundle: &Path) -> Result<Vec<(usize, usize)>> {
    let sh = shell()?;
    let text = read(cmd!(
        sh,
        "{bin} fwi --preset {preset} --print-jobs --out {bundle}"
    ))
    .ok_or_else(|| {
        format!("memprior does not accept the preset `{preset}` (quick, default or paper)")
    })?;
    text.lines()
        .map(|l| {
            let mut w = l.split_whitespace().map(str::parse::<usize>);
            match (w.next(), w.next()) {
                (Some(Ok(n)), Some(Ok(c))) => Ok((n, c)),
                _ => Err(format!(
                    "unexpected line from `memprior fwi --print-jobs`: `{l}`"
                )),
            }
        })
        .collect()
}

/// Sample files of N already in the bundle.
fn drawn(bundle: &Path, n: usize) -> usize {
    let suffix = format!("-n{n}");
    std::fs::read_dir(bundle.join("samples"))
        .map(|groups| {
            groups
                .flatten()
                .filter(|g| g.file_name().to_string_lossy().ends_with(&suffix))
                .map(|g| {
                    std::fs::read_dir(g.path()).map_or(0, |f| {
                        f.flatten()
                            .filter(|f| f.path().extension().is_some_and(|e| e == "npy"))
                            .count()
                    })
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Run the experiment of `args` (`--preset`, `--bundle`, `--workers`, `--binary`).
pub fn paper(args: &[String]) -> Result<()> {
    const FLAGS: [&str; 4] = ["--preset", "--bundle", "--workers", "--binary"];
    for pair in args.chunks(2) {
        match pair {
            [f, v] if FLAGS.contains(&f.as_str()) && !v.starts_with("--") => {}
            [f, ..] if FLAGS.contains(&f.as_str()) => {
                return Err(format!("paper: `{f}` needs a value"));
            }
            [f, ..] => {
                return Err(format!(
                    "paper: unknown argument `{f}`; the options are {}",
                    FLAGS.join(", ")
                ));
            }
            [] => {}
        }
    }
    let preset = flag(args, "--preset").unwrap_or("paper").to_string();
    let bundle = flag(args, "--bundle").map_or_else(
        || {
            if preset == "paper" {
                root().join("data/paper")
            } else {
                root().join(format!("target/bundle-{preset}"))
            }
        },
        // Absolute: the memprior processes run in the workspace root, the caller anywhere.
        |b| std::path::absolute(b).unwrap_or_else(|_| PathBuf::from(b)),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots: usize = match flag(args, "--workers") {
        Some(w) => w
            .parse()
            .ok()
            .filter(|&w| w > 0)
            .ok_or_else(|| format!("invalid `--workers`: a positive integer (got `{w}`)"))?,
        None => cores,
    };
    let started = Instant::now();
    let bin = match flag(args, "--binary") {
        Some(name) => pinned(name)?,
        None => frozen(&super::build_memprior(true, "build the memprior command")?)?,
    };
    let built_from = binary_commit(&bin);
    let sh = shell()?;
    let counts = job_counts(&bin, &preset, &bundle)?;
    let total: usize = counts.iter().map(|c| c.1).sum();
    eprintln!(
        "xtask: paper: preset {preset}, {} networks, {total} samples ({} already in {}), {slots} slots",
        counts.len(),
        counts
            .iter()
            .map(|&(n, _)| drawn(&bundle, n))
            .sum::<usize>(),
        bundle.display()
    );

    let mut untrained: std::collections::VecDeque<usize> = counts.iter().map(|c| c.0).collect();
    let mut trained: Vec<usize> = Vec::new();
    // N whose sampling may still take another process (until one of them finds nothing left).
    let mut open: Vec<usize> = counts.iter().map(|c| c.0).collect();
    let mut running: Vec<Running> = Vec::new();
    let mut seconds = std::collections::HashMap::<&str, f64>::new();
    let mut failure: Option<String> = None;
    let mut report_at = Instant::now();
    let drawn_at_start: usize = counts.iter().map(|&(n, _)| drawn(&bundle, n)).sum();
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let id = format!("{}-{}", unix_now(), std::process::id());
    // This session's record: core seconds of finished tasks plus those of running ones so far.
    let record = |seconds: &std::collections::HashMap<&str, f64>,
                  running: &[Running],
                  merge_seconds: f64,
                  finished: bool| {
        let busy = |key: &str| {
            seconds.get(key).copied().unwrap_or(0.0)
                + running
                    .iter()
                    .filter(|r| {
                        matches!(
                            (key, r.task),
                            ("train_seconds", Task::Train(_))
                                | ("sample_seconds", Task::Sample(_) | Task::Memorization)
                        )
                    })
                    .map(|r| r.started.elapsed().as_secs_f64())
                    .sum::<f64>()
        };
        serde_json::json!({
            "id": id,
            "finished": finished,
            "train_seconds": busy("train_seconds"),
            "sample_seconds": busy("sample_seconds"),
            "merge_seconds": merge_seconds,
            "wall_seconds": started.elapsed().as_secs_f64(),
            "slots": slots,
            "binary": bin.file_name().map(|f| f.to_string_lossy().into_owned()),
            "commit": built_from.as_ref().map(|c| c.0.clone()),
            "uncommitted_changes": built_from.as_ref().map(|c| c.1),
            "samples_drawn": counts.iter().map(|&(n, _)| drawn(&bundle, n)).sum::<usize>() - drawn_at_start,
            "unix_time": unix_now(),
        })
    };
    let mut saved_at = Instant::now();
    // config.toml is the last file it writes: present, the experiment is done.
    let mut memorization_pending = !bundle.join("prior/config.toml").is_file();
    loop {
        // Reap.
        let mut i = 0;
        while i < running.len() {
            let Some(status) = running[i].child.try_wait().map_err(|e| e.to_string())? else {
                i += 1;
                continue;
            };
            let r = running.swap_remove(i);
            let _ = r.echo.join();
            let el = r.started.elapsed().as_secs_f64();
            let key = match r.task {
                Task::Train(_) => "train_seconds",
                Task::Sample(_) | Task::Memorization => "sample_seconds",
            };
            *seconds.entry(key).or_default() += el;
            eprintln!("xtask: paper: {} finished in {el:.0} s ({status})", r.task);
            match (r.task, status.success()) {
                (Task::Train(n), true) => trained.push(n),
                (Task::Sample(n), true) => open.retain(|&m| m != n),
                (Task::Memorization, true) => {}
                (task, false) => {
                    failure.get_or_insert(format!(
                        "paper: {task} failed ({status}); rerun `cargo xtask paper` to resume"
                    ));
                }
            }
        }
        // Fill the free slots: networks first, then samples of the smallest ready N.
        while failure.is_none() && running.len() < slots {
            let task = if let Some(n) = untrained.pop_front() {
                Task::Train(n)
            } else if memorization_pending && trained.len() == counts.len() {
                memorization_pending = false;
                Task::Memorization
            } else if let Some(&n) = open.iter().find(|n| trained.contains(n)) {
                Task::Sample(n)
            } else {
                break;
            };
            let n = match task {
                Task::Train(n) | Task::Sample(n) => n.to_string(),
                Task::Memorization => String::new(),
            };
            let prior_out = bundle.join("prior");
            let cmd = match task {
                Task::Memorization => cmd!(
                    sh,
                    "{bin} prior memorization --preset {preset} --out {prior_out}"
                ),
                Task::Train(_) => cmd!(sh, "{bin} prior train --preset {preset} --n-train {n}"),
                Task::Sample(_) => cmd!(
                    sh,
                    "{bin} fwi --preset {preset} --n {n} --workers 1 --out {bundle}"
                ),
            };
            running.push(spawn(task, &mut Command::from(cmd))?);
        }
        if running.is_empty() {
            break;
        }
        if saved_at.elapsed().as_secs() >= 120 {
            saved_at = Instant::now();
            write_provenance(&bundle, &preset, record(&seconds, &running, 0.0, false))?;
        }
        if report_at.elapsed().as_secs() >= 600 {
            report_at = Instant::now();
            let now: usize = counts.iter().map(|&(n, _)| drawn(&bundle, n)).sum();
            let per = seconds.get("sample_seconds").copied().unwrap_or(0.0)
                + running
                    .iter()
                    .filter(|r| matches!(r.task, Task::Sample(_)))
                    .map(|r| r.started.elapsed().as_secs_f64())
                    .sum::<f64>();
            let new = now - drawn_at_start.min(now);
            let eta = if new > 0 {
                format!(
                    ", sampling ETA {:.1} h",
                    per / new as f64 * (total - now) as f64 / slots as f64 / 3600.0
                )
            } else {
                String::new()
            };
            eprintln!(
                "xtask: paper: {now}/{total} samples on disk, networks ready {:?}, running {}{eta} ({:.1} h)",
                trained,
                running
                    .iter()
                    .map(|r| r.task.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                started.elapsed().as_secs_f64() / 3600.0
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }

    // The merge: every table from the samples on disk.
    let merge = Instant::now();
    let merged = match &failure {
        Some(f) => Err(f.clone()),
        None => run(
            {
                let slots = slots.to_string();
                cmd!(
                    sh,
                    "{bin} fwi --preset {preset} --merge-only --workers {slots} --out {bundle}"
                )
            },
            &format!("paper: merge into {}", bundle.display()),
        ),
    };
    let merge_seconds = if failure.is_none() {
        merge.elapsed().as_secs_f64()
    } else {
        0.0
    };
    write_provenance(
        &bundle,
        &preset,
        record(&seconds, &running, merge_seconds, merged.is_ok()),
    )?;
    merged?;
    eprintln!(
        "xtask: paper: bundle {} complete in {:.1} h; commit it (its samples/ lets a new machine resume)",
        bundle.display(),
        started.elapsed().as_secs_f64() / 3600.0
    );
    Ok(())
}
