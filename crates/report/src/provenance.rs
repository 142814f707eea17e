//! Provenance of a run: commit, configuration hash, seeds, date, machine and stage timings.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::process::Command;

/// Everything needed to tell where a report's numbers came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// `git rev-parse HEAD`, with `-dirty` if the work tree has changes; "unknown" outside git.
    pub commit: String,
    /// SHA-256 of the resolved configuration (TOML), first 16 hex digits.
    pub config_hash: String,
    /// Seeds of every random stream.
    pub seeds: Vec<(String, u64)>,
    /// UTC time the report was built (RFC 3339).
    pub date: String,
    /// Host, OS, architecture and core count.
    pub machine: String,
    /// Stage name → wall seconds.
    pub timings: Vec<(String, f64)>,
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// SHA-256 of the running executable (hex): what identifies the code that computes a cached
/// result.
///
/// # Errors
/// The executable cannot be located or read.
pub fn binary_hash() -> anyhow::Result<String> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("cannot locate the running memprior binary")?;
    use std::io::Read;
    let mut file =
        std::fs::File::open(&exe).with_context(|| format!("cannot read {}", exe.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", exe.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Short hash of a configuration's canonical text.
pub fn config_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn utc_now() -> String {
    // Civil date from the Unix epoch (Howard Hinnant's days-from-civil inverse), to avoid a
    // date-time dependency for one timestamp.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Provenance {
    /// Gather provenance for a configuration text and its seeds.
    pub fn collect(config_text: &str, seeds: Vec<(String, u64)>) -> Self {
        let commit = match git(&["rev-parse", "HEAD"]) {
            Some(c) => {
                let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                    .is_some_and(|s| !s.is_empty());
                if dirty { format!("{c}-dirty") } else { c }
            }
            None => "unknown".into(),
        };
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Self {
            commit,
            config_hash: config_hash(config_text),
            seeds,
            date: utc_now(),
            machine: format!(
                "{host} ({} {}, {cores} cores)",
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
            timings: Vec::new(),
        }
    }
}
