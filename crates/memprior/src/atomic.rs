//! Atomic outputs: every file is written to a temporary sibling and renamed into place, so a
//! reader sees either the old file or the complete new one, never a partial write.

use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f =
            fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A staging directory whose files are moved into the destination only on [`Staging::commit`];
/// dropping it uncommitted removes it, leaving the destination untouched.
pub struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staging {
    /// Stage outputs for `dest` in a hidden sibling directory.
    pub fn new(dest: &Path) -> Result<Self> {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        // A run killed before it committed leaves its staging directory behind: remove those whose
        // process is gone, so that a rerun restarts cleanly.
        let prefix = format!(".{name}.staging-");
        for e in fs::read_dir(parent)?.flatten() {
            let fname = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = fname.strip_prefix(&prefix)
                && (!Path::new("/proc").join(pid).exists() || pid == std::process::id().to_string())
            {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let dir = parent.join(format!("{prefix}{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write staged files.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Move every staged file into the destination (each move an atomic rename; entries of the
    /// destination that were not staged are kept).
    pub fn commit(mut self) -> Result<()> {
        fs::create_dir_all(&self.dest)
            .with_context(|| format!("cannot create {}", self.dest.display()))?;
        move_tree(&self.dir, &self.dest)?;
        fs::remove_dir_all(&self.dir).ok();
        self.committed = true;
        Ok(())
    }
}

fn move_tree(from: &Path, to: &Path) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            move_tree(&e.path(), &target)?;
        } else {
            fs::rename(e.path(), &target)
                .with_context(|| format!("cannot move {} into place", target.display()))?;
        }
    }
    Ok(())
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
