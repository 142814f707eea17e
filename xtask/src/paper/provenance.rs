//! `provenance.json` of a paper-run bundle: sample format, machine, and the binary, its commit and
//! the time of every session, updated as the run goes. The top-level `commit` is that of the
//! latest session's binary ("unknown", with `uncommitted_changes` null, for a binary frozen
//! before binaries carried their commit).

use super::super::{Result, read, shell};
use std::path::Path;
use xshell::cmd;

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

/// The work tree's HEAD commit and whether tracked files have uncommitted changes.
pub(super) fn head() -> (String, bool) {
    let Ok(sh) = shell() else {
        return ("unknown".into(), false);
    };
    let commit = read(cmd!(sh, "git rev-parse HEAD")).unwrap_or_else(|| "unknown".into());
    let dirty = read(cmd!(sh, "git status --porcelain --untracked-files=no"))
        .is_some_and(|s| !s.is_empty());
    (commit, dirty)
}

/// Write `provenance.json` with this session's record (its `id`) added or updated beside the
/// sessions before it; the totals are core seconds (every task runs on one core) summed over
/// sessions. Written as the run goes, so a session that is stopped keeps its record.
pub(super) fn write_provenance(
    bundle: &Path,
    preset: &str,
    session: serde_json::Value,
) -> Result<()> {
    let path = bundle.join("provenance.json");
    let mut sessions: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("sessions")?.as_array().cloned())
        .unwrap_or_default();
    // The commit of this session's binary: "unknown" for a binary frozen before binaries
    // carried their commit (the work tree's HEAD may have moved on since it was built).
    let (commit, dirty) = match session.get("commit").and_then(|c| c.as_str()) {
        Some(c) => (c.to_string(), session["uncommitted_changes"].clone()),
        None => ("unknown".to_string(), serde_json::Value::Null),
    };
    sessions.retain(|s| s.get("id") != session.get("id"));
    sessions.push(session);
    let total = |key: &str| -> f64 { sessions.iter().filter_map(|s| s.get(key)?.as_f64()).sum() };
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
            "sample": total("sample_seconds"),
            "merge": total("merge_seconds"),
            "wall": total("wall_seconds"),
        },
        "sessions": sessions,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n";
    std::fs::create_dir_all(bundle).map_err(|e| format!("{}: {e}", bundle.display()))?;
    // Atomic: a temporary sibling renamed into place.
    let tmp = bundle.join(format!(".provenance.json.tmp{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
}
