//! A writer killed in the middle of a large atomic write leaves the old file intact, and the next
//! writer into that directory removes the dead writer's temporary: nothing is left behind.
//!
//! The test re-runs its own binary as the writer (selected by an environment variable), so the
//! kill hits a real process between two chunks of a 64 MiB write.

use memprior_core::atomic;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHILD: &str = "MEMPRIOR_ATOMIC_KILL_CHILD";

fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_writer_killed_mid_write_leaves_nothing_behind() {
    if let Ok(job) = std::env::var(CHILD) {
        if let Some(other) = job.strip_prefix("write:") {
            // The next writer: a fresh process writing another file into the directory.
            atomic::write(Path::new(other), b"x").unwrap();
            return;
        }
        // The killed writer: a slow 64 MiB write that the parent kills part-way.
        let _ = atomic::write_with(Path::new(&job), |f| {
            let block = vec![7u8; 1 << 20];
            for _ in 0..64 {
                f.write_all(&block)?;
                f.flush()?;
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        });
        return;
    }
    let dir: PathBuf =
        std::env::temp_dir().join(format!("memprior-atomic-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("state.bin");
    atomic::write(&target, b"previous state").unwrap();
    let me = || {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args([
            "--exact",
            "a_writer_killed_mid_write_leaves_nothing_behind",
            "--nocapture",
            "--test-threads=1",
        ]);
        c
    };
    let mut child = me().env(CHILD, &target).spawn().unwrap();
    // Wait until the temporary holds at least two chunks, then kill the writer.
    let start = Instant::now();
    let tmp = loop {
        let found = std::fs::read_dir(&dir).unwrap().flatten().find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(atomic::TMP_PREFIX)
                && e.metadata().map(|m| m.len() >= 2 << 20).unwrap_or(false)
        });
        if let Some(e) = found {
            break e.path();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the writer never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // Killed: the old file is whole, and the temporary is still there.
    assert_eq!(std::fs::read(&target).unwrap(), b"previous state");
    assert!(tmp.exists(), "the kill came too late to test anything");
    // The next writer into the directory (a new process) removes it.
    let other = dir.join("other.bin");
    assert!(
        me().env(CHILD, format!("write:{}", other.display()))
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(entries(&dir), ["other.bin", "state.bin"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
