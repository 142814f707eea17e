//! The frozen memprior binaries of paper runs: a copy per build, named by its hash, with the
//! commit it was built from beside it, and the lookup of an earlier session's copy (`--binary`).

use super::super::Result;
use super::provenance;
use std::path::{Path, PathBuf};

/// A copy of `bin` named by its SHA-256, which every task of the run starts: rebuilding the
/// workspace while the run goes on never mixes samples of two binaries. Beside it,
/// `memprior-<hash>.commit` holds the commit the binary was built from (with ` dirty` when the
/// work tree had uncommitted changes), for the provenance of the sessions that run it.
pub(super) fn frozen(bin: &Path) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = frozen_dir();
    let copy = dir.join(format!("memprior-{hash}"));
    if !copy.is_file() {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = dir.join(format!(".memprior.tmp{}", std::process::id()));
        std::fs::copy(bin, &tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
    }
    let sidecar = commit_file(&copy);
    if !sidecar.is_file() {
        // Just built from the work tree: its HEAD and state are the binary's.
        let (commit, dirty) = provenance::head();
        let text = format!("{commit}{}\n", if dirty { " dirty" } else { "" });
        let tmp = dir.join(format!(".commit.tmp{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &sidecar).map_err(|e| format!("{}: {e}", sidecar.display()))?;
    }
    eprintln!("xtask: paper: every task runs {}", copy.display());
    Ok(copy)
}

/// Where the frozen binaries of paper runs are kept.
fn frozen_dir() -> PathBuf {
    super::super::target_dir().join("paper-run")
}

/// The commit file beside a frozen binary.
fn commit_file(bin: &Path) -> PathBuf {
    let mut name = bin.file_name().unwrap_or_default().to_os_string();
    name.push(".commit");
    bin.with_file_name(name)
}

/// `(commit, dirty)` of a frozen binary, from its commit file (`None` when it has none: binaries
/// frozen before the file was written).
pub(super) fn binary_commit(bin: &Path) -> Option<(String, bool)> {
    let text = std::fs::read_to_string(commit_file(bin)).ok()?;
    let mut words = text.split_whitespace();
    let commit = words.next()?.to_string();
    Some((commit, words.next() == Some("dirty")))
}

/// The frozen binary `name` (`memprior-<hash>`, as in `provenance.json`) of an earlier session,
/// for `--binary`: a run resumed with it draws its remaining samples with the same code even
/// after the workspace has moved on.
pub(super) fn pinned(name: &str) -> Result<PathBuf> {
    let dir = frozen_dir();
    let path = dir.join(name);
    if name.contains('/') || name.starts_with('.') || name.ends_with(".commit") || !path.is_file() {
        let known: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|f| f.starts_with("memprior-") && !f.ends_with(".commit"))
                    .collect()
            })
            .unwrap_or_default();
        return Err(format!(
            "paper: no frozen binary `{name}` in {}; pass the name of one of [{}] (the \
             `binary` of a session in provenance.json), or leave out `--binary` to build the \
             work tree",
            dir.display(),
            known.join(", ")
        ));
    }
    eprintln!("xtask: paper: every task runs {} (pinned)", path.display());
    Ok(path)
}
