//! The path lock excludes other processes, is released by a holder killed with SIGKILL, and
//! leaves no file behind.
//!
//! The test re-runs its own binary as the competing processes (selected by an environment
//! variable), so the exclusion is between real processes, not threads.

use memprior_core::lock::PathLock;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHILD: &str = "MEMPRIOR_PATH_LOCK_CHILD";

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-lock-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn child(test: &str, job: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, job);
    c
}

/// A read–sleep–write increment of a counter file: two processes inside it at once lose an
/// increment.
fn increment(counter: &Path) {
    let n: u64 = std::fs::read_to_string(counter)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(15));
    std::fs::write(counter, (n + 1).to_string()).unwrap();
}

#[test]
fn processes_take_turns_and_leave_nothing() {
    if let Ok(job) = std::env::var(CHILD) {
        if let Some(dir) = job.strip_prefix("count:") {
            let dir = Path::new(dir);
            for _ in 0..10 {
                let _held = PathLock::acquire(&dir.join("work.lock"), &mut |_| {}).unwrap();
                increment(&dir.join("counter"));
            }
        }
        return;
    }
    let d = scratch("turns");
    let kids: Vec<_> = (0..4)
        .map(|_| {
            child(
                "processes_take_turns_and_leave_nothing",
                &format!("count:{}", d.display()),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut k in kids {
        assert!(k.wait().unwrap().success());
    }
    let n = std::fs::read_to_string(d.join("counter")).unwrap();
    assert_eq!(
        n, "40",
        "an increment was lost: two processes held the lock at once"
    );
    let left: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("counter")],
        "the lock file stayed"
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_killed_holder_releases_the_lock() {
    if let Ok(job) = std::env::var(CHILD) {
        if let Some(path) = job.strip_prefix("hold:") {
            let _held = PathLock::acquire(Path::new(path), &mut |_| {}).unwrap();
            std::thread::sleep(Duration::from_secs(600));
        }
        return;
    }
    let d = scratch("killed");
    let path = d.join("work.lock");
    let mut holder = child(
        "a_killed_holder_releases_the_lock",
        &format!("hold:{}", path.display()),
    )
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let tag = format!("pid {}", holder.id());
    let start = Instant::now();
    while !std::fs::read_to_string(&path).is_ok_and(|s| s.ends_with(&tag)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the holder never took the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Held: a second taker waits and is told who holds it.
    let waiter = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut seen = String::new();
            let lock = PathLock::acquire(&path, &mut |h| seen = h.to_string()).unwrap();
            (lock, seen)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "the lock was taken while its holder lived"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let (lock, seen) = waiter.join().unwrap();
    assert!(seen.ends_with(&tag), "the waiter was told `{seen}`");
    assert_eq!(lock.path(), path);
    drop(lock);
    assert!(!path.exists(), "the lock file stayed");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn try_acquire_never_waits_and_takes_a_free_lock() {
    let d = scratch("try");
    let path = d.join("job.lock");
    let held = PathLock::acquire(&path, &mut |_| {}).unwrap();
    // flock locks belong to the open file, so a second open in this process competes like
    // another process would.
    assert!(
        PathLock::try_acquire(&path).unwrap().is_none(),
        "took a lock another holder has"
    );
    drop(held);
    let again = PathLock::try_acquire(&path).unwrap();
    assert!(again.is_some(), "a free lock was not taken");
    assert!(
        PathLock::try_acquire(&path).unwrap().is_none(),
        "took a lock another holder has"
    );
    drop(again);
    assert!(!path.exists(), "the lock file stayed");
    std::fs::remove_dir_all(&d).unwrap();
}
