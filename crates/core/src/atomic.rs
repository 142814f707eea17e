//! The one atomic writer of the workspace: every output file is written to a temporary sibling
//! and renamed into place, so a reader sees either the old file or the complete new one, never a
//! partial write; a directory of outputs is staged beside its destination and moved in whole.
//!
//! Temporary names carry a recognisable prefix and the writer's host, process and thread
//! (`.memprior-tmp.<host>.<pid>.<thread>.<nonce>.<name>`), so two threads of one process, two
//! processes, or two hosts sharing a directory never collide. A writer killed mid-write leaves its
//! temporary behind; the first writer to open that directory afterwards (or [`clean_dir`]) removes
//! every temporary whose process is gone from this host.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Prefix of every temporary file of [`write`].
pub const TMP_PREFIX: &str = ".memprior-tmp.";
/// Prefix of every staging directory of [`Staging`].
pub const STAGING_PREFIX: &str = ".memprior-staging.";

/// This host's name as it appears in temporary and staging names (characters other than ASCII
/// letters, digits and `-` replaced by `_`).
pub fn host_tag() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| fs::read_to_string("/etc/hostname"))
            .unwrap_or_default();
        let h: String = raw
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if h.is_empty() { "host".into() } else { h }
    })
}

/// A number unique to the calling thread within this process.
fn thread_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local!(static TAG: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    TAG.with(|t| *t)
}

/// A number unique to each call within this process.
fn nonce() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Whether a temporary or staging entry of this host belongs to a process that is gone.
/// Entries of other hosts are left alone (their writers may be alive); so are names that do not
/// parse, and entries of this process.
fn is_orphan(rest: &str) -> bool {
    let mut parts = rest.splitn(3, '.');
    let (Some(h), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    h == host_tag()
        && pid != std::process::id()
        && !Path::new("/proc").join(pid.to_string()).exists()
}

/// Remove the temporaries and staging directories that dead writers of this host left in `dir`.
/// Returns how many entries were removed. A missing directory has none.
///
/// # Errors
/// A directory that exists but cannot be read.
pub fn clean_dir(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(with_path(e, "cannot read directory", dir)),
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(rest) = name.strip_prefix(TMP_PREFIX)
            && is_orphan(rest)
            && fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        } else if let Some(rest) = name.strip_prefix(STAGING_PREFIX)
            && is_orphan(rest)
            && fs::remove_dir_all(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// [`clean_dir`] once per directory and process: the first write into a directory cleans it.
fn clean_once(dir: &Path) {
    static SEEN: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| Mutex::new(HashSet::new()));
    let key = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let first = seen.lock().map(|mut s| s.insert(key)).unwrap_or(true);
    if first {
        // Cleaning is best effort: a directory we cannot list will fail the write itself.
        let _ = clean_dir(dir);
    }
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The temporary sibling that [`write`] uses for `path` in this thread.
fn tmp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(
        "{TMP_PREFIX}{}.{}.{}.{}.{name}",
        host_tag(),
        std::process::id(),
        thread_tag(),
        nonce()
    ))
}

/// Write `bytes` to `path` atomically: create the directory, write a temporary sibling, fsync it,
/// rename it into place. On failure the temporary is removed and `path` is as it was.
///
/// # Errors
/// I/O failures, each naming the path.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// Like [`write`], with the contents produced by `fill` into the temporary file (for outputs too
/// large to hold twice in memory).
///
/// # Errors
/// I/O failures of `fill` or of the file system, each naming the path.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = parent_of(path);
    fs::create_dir_all(dir).map_err(|e| with_path(e, "cannot create directory", dir))?;
    clean_once(dir);
    let name = path
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("output path {} has no file name", path.display()),
            )
        })?
        .to_string_lossy()
        .to_string();
    let tmp = tmp_path(dir, &name);
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(|e| with_path(e, "cannot create", &tmp))?;
        fill(&mut f).map_err(|e| with_path(e, "cannot write", &tmp))?;
        f.sync_all()
            .map_err(|e| with_path(e, "cannot sync", &tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| with_path(e, "cannot move into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A staging directory whose files are moved into the destination only on [`Staging::commit`];
/// dropping it uncommitted removes it, leaving the destination untouched. Staging directories of
/// dead processes beside the destination are removed when a new one is opened.
pub struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staging {
    /// Stage outputs for `dest` in a hidden sibling directory.
    ///
    /// # Errors
    /// The parent directory cannot be created or read.
    pub fn new(dest: &Path) -> io::Result<Self> {
        let parent = parent_of(dest);
        fs::create_dir_all(parent).map_err(|e| with_path(e, "cannot create directory", parent))?;
        clean_dir(parent)?;
        let name = dest
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().to_string());
        let dir = parent.join(format!(
            "{STAGING_PREFIX}{}.{}.{}.{}.{name}",
            host_tag(),
            std::process::id(),
            thread_tag(),
            nonce()
        ));
        fs::create_dir_all(&dir).map_err(|e| with_path(e, "cannot create directory", &dir))?;
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
    ///
    /// # Errors
    /// A file that cannot be moved; the files moved before it stay moved.
    pub fn commit(mut self) -> io::Result<()> {
        fs::create_dir_all(&self.dest)
            .map_err(|e| with_path(e, "cannot create directory", &self.dest))?;
        move_tree(&self.dir, &self.dest)?;
        let _ = fs::remove_dir_all(&self.dir);
        self.committed = true;
        Ok(())
    }
}

fn move_tree(from: &Path, to: &Path) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(from)
        .map_err(|e| with_path(e, "cannot read directory", from))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for e in entries {
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            fs::create_dir_all(&target)
                .map_err(|e| with_path(e, "cannot create directory", &target))?;
            move_tree(&e.path(), &target)?;
        } else {
            fs::rename(e.path(), &target)
                .map_err(|e| with_path(e, "cannot move into place", &target))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("memprior-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_replaces_and_leaves_nothing_else() {
        let d = scratch("replace");
        let p = d.join("a.txt");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(entries(&d), ["a.txt"]);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_removes_the_temporary() {
        let d = scratch("fail");
        let p = d.join("a.bin");
        write(&p, b"old").unwrap();
        let err = write_with(&p, |f| {
            f.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(entries(&d), ["a.bin"]);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn temporaries_of_dead_writers_are_removed_and_live_or_foreign_ones_kept() {
        let d = scratch("orphans");
        // A pid that cannot be alive (above the kernel's pid_max limit of 2^22).
        let dead = format!("{TMP_PREFIX}{}.{}.0.0.state.bin", host_tag(), 4_194_400 + 7);
        let mine = format!("{TMP_PREFIX}{}.{}.0.0.x", host_tag(), std::process::id());
        let foreign = format!("{TMP_PREFIX}otherhost.{}.0.0.x", 4_194_400 + 7);
        let dead_stage = format!("{STAGING_PREFIX}{}.{}.0.0.out", host_tag(), 4_194_400 + 8);
        for n in [&dead, &mine, &foreign] {
            fs::write(d.join(n), b"x").unwrap();
        }
        fs::create_dir_all(d.join(&dead_stage).join("sub")).unwrap();
        assert_eq!(clean_dir(&d).unwrap(), 2);
        let mut want = vec![mine.clone(), foreign.clone()];
        want.sort();
        assert_eq!(entries(&d), want);
        assert_eq!(clean_dir(&d.join("missing")).unwrap(), 0);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn two_threads_writing_one_target_never_collide() {
        let d = scratch("threads");
        let p = d.join("same.bin");
        let payload = |k: u8| vec![k; 1 << 16];
        std::thread::scope(|s| {
            for k in 0..4u8 {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..25 {
                        write(p, &payload(k)).unwrap();
                        let got = fs::read(p).unwrap();
                        // Whatever thread won last, the file is one whole payload.
                        assert_eq!(got.len(), 1 << 16);
                        assert!(got.iter().all(|&b| b == got[0]));
                    }
                });
            }
        });
        assert_eq!(entries(&d), ["same.bin"]);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn staging_commits_whole_or_not_at_all() {
        let d = scratch("staging");
        let dest = d.join("out");
        {
            let s = Staging::new(&dest).unwrap();
            write(&s.path().join("a.csv"), b"1").unwrap();
            // Dropped uncommitted.
        }
        assert_eq!(entries(&d), Vec::<String>::new());
        let s = Staging::new(&dest).unwrap();
        write(&s.path().join("sub/b.csv"), b"2").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read(dest.join("sub/b.csv")).unwrap(), b"2");
        assert_eq!(entries(&d), ["out"]);
        fs::remove_dir_all(d).unwrap();
    }
}
