//! Interruption (issue 6): SIGKILL at random points of a training run and of a report run; the
//! rerun completes with results identical to an uninterrupted run, and the previous report stays
//! readable until the new one is complete. (The DPS run's kill test is in `fwi_cli.rs`.) The kill
//! times are drawn from a fixed seed and printed, so a failure can be replayed.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memprior"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-interrupt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small deterministic stream of kill times (splitmix64): fractions in [0.05, 0.6) of `whole`,
/// the measured duration of an uninterrupted run, so that every kill lands inside the run on a
/// fast machine and on a slow one alike.
fn delays(seed: u64, n: usize, whole: Duration) -> Vec<u64> {
    let mut z = seed;
    (0..n)
        .map(|_| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let f = 0.05 + 0.55 * ((x ^ (x >> 31)) % 10_000) as f64 / 10_000.0;
            (f * whole.as_secs_f64() * 1000.0) as u64
        })
        .collect()
}

/// Run to completion and return the wall time.
fn timed(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    assert!(
        cmd.status().unwrap().success(),
        "an uninterrupted run failed"
    );
    t.elapsed()
}

/// Kill `child` with SIGKILL after `ms` milliseconds unless it has finished; true when it was killed.
fn kill_after(mut child: Child, ms: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// SHA-256 of every file below `dir` (relative path → hash), skipping provenance that records
/// wall times, dates and the commit.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                let h = Sha256::digest(std::fs::read(&p).unwrap());
                out.insert(rel, h.iter().map(|b| format!("{b:02x}")).collect());
            }
        }
    }
    out
}

#[test]
fn training_killed_at_random_points_resumes_to_the_same_weights() {
    let d = scratch("train");
    let train = |cache: &Path| {
        let mut c = bin();
        c.args([
            "prior",
            "train",
            "--preset",
            "quick",
            "--n-train",
            "20",
            "--cache",
        ])
        .arg(cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        c
    };
    let clean = d.join("clean");
    let whole = timed(&mut train(&clean));
    let killed = d.join("killed");
    let mut kills = 0;
    for ms in delays(11, 4, whole) {
        let was_killed = kill_after(train(&killed).spawn().unwrap(), ms);
        eprintln!("training: kill after {ms} ms → killed = {was_killed}");
        kills += usize::from(was_killed);
    }
    assert!(
        kills >= 1,
        "no run was interrupted; the quick recipe finished too fast to test"
    );
    assert!(train(&killed).status().unwrap().success());
    let (a, b) = (hashes(&clean), hashes(&killed));
    assert!(!a.is_empty());
    // Nothing of a killed writer is left in the cache: no temporaries, no stale training state.
    let stray: Vec<&String> = b.keys().filter(|k| !k.ends_with("weights.bin")).collect();
    assert!(
        stray.is_empty(),
        "files left in the weight cache after {kills} kills: {stray:?}"
    );
    assert_eq!(
        a, b,
        "weights after {kills} kills differ from the uninterrupted run"
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn report_killed_at_random_points_keeps_the_old_report_and_reruns_identically() {
    let d = scratch("report");
    let cache = d.join("weights");
    let report = |out: &Path| {
        let mut c = bin();
        c.args([
            "report",
            "--prior-preset",
            "quick",
            "--preset",
            "quick",
            "--out",
        ])
        .arg(out)
        .env("MEMPRIOR_CACHE", &cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        c
    };
    // Uninterrupted reference (it trains the quick networks into the cache), then a second
    // uninterrupted run from the cache: its duration sets the kill times, and its figure data
    // must equal the first run's (two runs, same hashes).
    let clean = d.join("clean");
    timed(&mut report(&clean));
    let second = d.join("second");
    let whole = timed(&mut report(&second));
    let out = d.join("reports");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("index.html"), b"<p>previous report</p>").unwrap();
    let mut kills = 0;
    for ms in delays(12, 4, whole) {
        // Whatever index.html holds before a run must still be there if the run is killed.
        let before = std::fs::read(out.join("index.html")).unwrap();
        let was_killed = kill_after(report(&out).spawn().unwrap(), ms);
        eprintln!(
            "report: kill after {ms} ms of a {:.1} s run → killed = {was_killed}",
            whole.as_secs_f64()
        );
        if was_killed {
            kills += 1;
            assert_eq!(
                std::fs::read(out.join("index.html")).unwrap(),
                before,
                "a killed report replaced the previous one"
            );
        }
    }
    assert!(kills >= 1, "no report run was interrupted");
    assert!(report(&out).status().unwrap().success());
    // Figure data and tables: identical to the uninterrupted run (provenance records times,
    // the report's and each experiment's own provenance.json).
    let keep = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter()
            .filter(|(k, _)| k.starts_with("data/") && !k.ends_with("/provenance.json"))
            .collect()
    };
    let (a, b) = (keep(hashes(&clean)), keep(hashes(&out)));
    assert!(
        a.len() > 20,
        "expected the report's data files, found {}",
        a.len()
    );
    assert_eq!(
        a,
        keep(hashes(&second)),
        "two uninterrupted runs gave different figure data"
    );
    assert_eq!(
        a, b,
        "figure data after {kills} kills differ from the uninterrupted run"
    );
    // No staging directory is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(d).unwrap();
}
