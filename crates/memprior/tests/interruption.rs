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

/// A small deterministic stream of kill delays (splitmix64), in milliseconds within [lo, hi).
fn delays(seed: u64, n: usize, lo: u64, hi: u64) -> Vec<u64> {
    let mut z = seed;
    (0..n)
        .map(|_| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            lo + (x ^ (x >> 31)) % (hi - lo)
        })
        .collect()
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
        c.args(["prior", "train", "--preset", "quick", "--n-train", "20", "--cache"])
            .arg(cache)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let clean = d.join("clean");
    assert!(train(&clean).status().unwrap().success());
    let killed = d.join("killed");
    let mut kills = 0;
    for ms in delays(11, 3, 300, 2500) {
        let was_killed = kill_after(train(&killed).spawn().unwrap(), ms);
        eprintln!("training: kill after {ms} ms → killed = {was_killed}");
        kills += usize::from(was_killed);
    }
    assert!(kills >= 1, "no run was interrupted; the quick recipe finished too fast to test");
    assert!(train(&killed).status().unwrap().success());
    let (a, b) = (hashes(&clean), hashes(&killed));
    assert!(!a.is_empty());
    assert_eq!(a, b, "weights after {kills} kills differ from the uninterrupted run");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn report_killed_at_random_points_keeps_the_old_report_and_reruns_identically() {
    let d = scratch("report");
    let cache = d.join("weights");
    let report = |out: &Path| {
        let mut c = bin();
        c.args(["report", "--prior-preset", "quick", "--preset", "quick", "--out"])
            .arg(out)
            .env("MEMPRIOR_CACHE", &cache)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    // Uninterrupted reference (its weights are cached for the runs below).
    let clean = d.join("clean");
    assert!(report(&clean).status().unwrap().success());
    let out = d.join("reports");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("index.html"), b"<p>previous report</p>").unwrap();
    let mut kills = 0;
    for ms in delays(12, 3, 200, 6000) {
        let was_killed = kill_after(report(&out).spawn().unwrap(), ms);
        eprintln!("report: kill after {ms} ms → killed = {was_killed}");
        if was_killed {
            kills += 1;
            assert_eq!(
                std::fs::read(out.join("index.html")).unwrap(),
                b"<p>previous report</p>",
                "a killed report replaced the previous one"
            );
        } else {
            break;
        }
    }
    assert!(kills >= 1, "no report run was interrupted");
    assert!(report(&out).status().unwrap().success());
    // Figure data and tables: identical to the uninterrupted run (provenance records times).
    let keep = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter().filter(|(k, _)| k.starts_with("data/")).collect()
    };
    let (a, b) = (keep(hashes(&clean)), keep(hashes(&out)));
    assert!(a.len() > 20, "expected the report's data files, found {}", a.len());
    assert_eq!(a, b, "figure data after {kills} kills differ from the uninterrupted run");
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
