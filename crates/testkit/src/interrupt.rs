//! Interrupting a process at seeded random points, for the tests that kill a run mid-way and
//! check that the rerun gives the same results and nothing is left behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// `n` kill times in milliseconds from `seed` (splitmix64): fractions in [0.05, 0.6) of `whole`,
/// the measured duration of an uninterrupted run, so that every kill lands inside the run on a
/// fast machine and on a slow one alike. Printed by the tests, so a failure can be replayed.
pub fn kill_times(seed: u64, n: usize, whole: Duration) -> Vec<u64> {
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

/// Kill `child` with SIGKILL after `ms` milliseconds unless it has finished first, and reap it;
/// true when it was killed.
///
/// # Errors
/// The child cannot be polled, killed or waited for.
pub fn kill_after(mut child: Child, ms: u64) -> std::io::Result<bool> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        if child.try_wait()?.is_some() {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill()?;
    child.wait()?;
    Ok(true)
}

/// SHA-256 (hex) of every file under `dir` whose path relative to `dir` passes `keep`, keyed by
/// that path: what a test compares between an interrupted-and-resumed run and a clean one.
///
/// # Errors
/// A directory or file that cannot be read.
pub fn tree_hashes(
    dir: &Path,
    keep: impl Fn(&str) -> bool,
) -> std::io::Result<BTreeMap<String, String>> {
    use sha2::{Digest, Sha256};
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .to_string();
            if keep(&rel) {
                let h = Sha256::digest(std::fs::read(&p)?);
                out.insert(rel, h.iter().map(|b| format!("{b:02x}")).collect());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_times_fall_inside_the_window_and_repeat_for_a_seed() {
        let whole = Duration::from_secs(10);
        let t = kill_times(12, 50, whole);
        assert!(t.iter().all(|&ms| (500..6000).contains(&ms)), "{t:?}");
        assert_eq!(t, kill_times(12, 50, whole));
        assert_ne!(t, kill_times(13, 50, whole));
    }

    #[test]
    fn a_finished_child_is_not_killed_and_a_running_one_is() {
        let done = std::process::Command::new("true").spawn().unwrap();
        assert!(!kill_after(done, 2_000).unwrap());
        let sleeping = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let t = Instant::now();
        assert!(kill_after(sleeping, 50).unwrap());
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}
