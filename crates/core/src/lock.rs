//! An exclusive lock on a path, shared by every process (and host, on a file system with working
//! `flock`) that opens the same directory: the guard of work that must happen once, such as
//! training the network of one cache key while several shards start at the same time.
//!
//! The lock is the operating system's advisory file lock (`flock` on Linux, through
//! [`std::fs::File::lock`]) on a small file named by the caller. The kernel releases it when the
//! holder's file is closed, so a process that dies, even by SIGKILL, frees it at once and never
//! leaves a stale lock for the next one to guess about.
//!
//! Nothing is left behind: the holder removes the lock file while it still holds the lock, and
//! a waiter that wakes up on a file that has since been removed (or replaced) starts over on the
//! current one, so two processes can never both believe they hold the lock. The file holds the
//! holder's host and process id, for the message of a waiter.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held lock; dropping it removes the lock file and releases the lock.
#[derive(Debug)]
pub struct PathLock {
    file: File,
    path: PathBuf,
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Whether `path` still names the file `file` has open (the holder that released the lock
/// before us removed it, and a third process may have created a new one).
#[cfg(unix)]
fn still_named(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn still_named(_file: &File, path: &Path) -> io::Result<bool> {
    Ok(path.exists())
}

impl PathLock {
    /// Take the lock on `path` (created if missing, with its directory), waiting as long as
    /// another process holds it. `on_wait` is called once, with the holder's description
    /// (`host <h>, pid <p>`, or `another process`), before the first wait.
    ///
    /// # Errors
    /// The lock file cannot be created, opened or locked (a read-only directory, or a file system
    /// without locks).
    pub fn acquire(path: &Path, on_wait: &mut dyn FnMut(&str)) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| with_path(e, "cannot create directory", dir))?;
        }
        let mut waited = false;
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| with_path(e, "cannot open lock file", path))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    if !waited {
                        waited = true;
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        let holder = holder.trim();
                        on_wait(if holder.is_empty() {
                            "another process"
                        } else {
                            holder
                        });
                    }
                    file.lock().map_err(|e| with_path(e, "cannot lock", path))?;
                }
                Err(TryLockError::Error(e)) => return Err(with_path(e, "cannot lock", path)),
            }
            if still_named(&file, path).map_err(|e| with_path(e, "cannot inspect", path))? {
                return Ok(Self::held(file, path));
            }
            // The previous holder removed this file on release: start over on the current one.
        }
    }

    /// Take the lock on `path` if no other process holds it; `None` when one does (it is never
    /// waited for): the claim of one piece of work among processes that share a directory.
    ///
    /// # Errors
    /// The lock file cannot be created, opened or locked.
    pub fn try_acquire(path: &Path) -> io::Result<Option<Self>> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| with_path(e, "cannot create directory", dir))?;
        }
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| with_path(e, "cannot open lock file", path))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(with_path(e, "cannot lock", path)),
            }
            if still_named(&file, path).map_err(|e| with_path(e, "cannot inspect", path))? {
                return Ok(Some(Self::held(file, path)));
            }
            // Locked a file its holder removed on release: try the current one.
        }
    }

    fn held(mut file: File, path: &Path) -> Self {
        // Say who holds it, for the next waiter's message (best effort).
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(
            file,
            "host {}, pid {}",
            crate::atomic::host_tag(),
            std::process::id()
        );
        let _ = file.flush();
        Self {
            file,
            path: path.to_path_buf(),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PathLock {
    fn drop(&mut self) {
        // Remove the name while still holding the lock: a waiter on this file then sees that the
        // name is gone and retries on a fresh file, so exactly one process holds the lock at any
        // time. Closing the file (after this) releases the lock.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}
