//! Interruption (issue 6): SIGKILL at random points of a training run; the rerun completes with
//! results identical to an uninterrupted run. (The DPS run's kill test is in `fwi_cli.rs`, the
//! report's in `report.rs`.) The kill times are drawn from a fixed seed
//! ([`testkit::interrupt::kill_times`]) and printed, so a failure can be replayed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::interrupt::{kill_after, kill_times};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memprior"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-interrupt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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

/// SHA-256 of every file below `dir` (relative path → hash), skipping provenance that records
/// wall times, dates and the commit.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    testkit::interrupt::tree_hashes(dir, |_| true).unwrap()
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
    for ms in kill_times(11, 4, whole) {
        let was_killed = kill_after(train(&killed).spawn().unwrap(), ms).unwrap();
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
