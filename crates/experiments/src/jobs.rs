//! A job store on a shared directory: each job writes one file, drawn under a lock on that file
//! and written atomically, so that any number of processes (shards, per-N runs, the same command
//! started twice, on one machine or on several sharing the directory) can work through one list
//! of jobs at once, and a rerun resumes from the files on disk. No job runs twice, and a process
//! killed mid-job leaves neither a partial file nor a held lock behind.
//!
//! The DPS experiment draws its posterior samples through it ([`crate::fwi::dps::run_jobs`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// A job of the store: the file it writes.
pub trait JobFile: Sync {
    /// What the jobs make, plural, for the log ("samples").
    const NOUN: &'static str = "jobs";

    /// The job's file below the output directory.
    fn path(&self, out: &Path) -> PathBuf;
}

/// What a worker reports about a finished job for the progress line.
pub struct Done {
    /// The job's file contents.
    pub bytes: Vec<u8>,
    /// A short description for the log (e.g. "learned-paper-n50 #3: final misfit 12.5").
    pub summary: String,
}

/// Why the store failed, besides the job's own error.
pub trait StoreError: Send {
    /// An I/O failure on `context` (a lock or the job's file).
    fn io(context: String, source: std::io::Error) -> Self;
}

/// The lock a process holds while it runs `job` (beside the job's file).
fn lock_path<J: JobFile>(job: &J, out: &Path) -> PathBuf {
    let mut name = job.path(out).into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// Run the jobs of `jobs` whose files are not in `out` yet on `workers` threads; returns how
/// many this process ran. Each thread builds its own state with `init` (a solver, a cache of
/// networks) and runs a job with `run`; `log` gets a progress line per finished job.
///
/// # Errors
/// The first failing job, `init`, or I/O on a lock or a file (the other threads stop after
/// their current job; finished files stay).
pub fn run_pool<J, W, E>(
    jobs: &[J],
    out: &Path,
    workers: usize,
    init: impl Fn() -> Result<W, E> + Sync,
    run: impl Fn(&mut W, &J) -> Result<Done, E> + Sync,
    log: &(dyn Fn(&str) + Sync),
) -> Result<usize, E>
where
    J: JobFile,
    E: StoreError,
{
    let pending: Vec<&J> = jobs.iter().filter(|j| !j.path(out).exists()).collect();
    if pending.len() < jobs.len() {
        log(&format!(
            "{} of {} {} already on disk: resuming",
            jobs.len() - pending.len(),
            jobs.len(),
            J::NOUN
        ));
    }
    let workers = workers.max(1).min(pending.len().max(1));
    log(&format!(
        "{} {} to make on {workers} threads",
        pending.len(),
        J::NOUN
    ));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<E>> = Mutex::new(None);
    let fail = |e: E| {
        if let Ok(mut slot) = first_error.lock() {
            slot.get_or_insert(e);
        }
        stop.store(true, Ordering::SeqCst);
    };
    let clock = Instant::now();
    let total = pending.len();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut state = match init() {
                    Ok(s) => s,
                    Err(e) => return fail(e),
                };
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = pending.get(i) else { break };
                    let result = (|| {
                        let lock = lock_path(*job, out);
                        let Some(_held) = memprior_core::lock::PathLock::try_acquire(&lock)
                            .map_err(|e| E::io(format!("cannot lock {}", lock.display()), e))?
                        else {
                            // Another process runs it.
                            return Ok(None);
                        };
                        let path = job.path(out);
                        if path.exists() {
                            // Another process ran it since this one listed the pending jobs.
                            return Ok(None);
                        }
                        let finished = run(&mut state, job)?;
                        memprior_core::atomic::write(&path, &finished.bytes)
                            .map_err(|e| E::io(format!("cannot write {}", path.display()), e))?;
                        Ok(Some(finished.summary))
                    })();
                    // The progress counts the jobs other processes took as well, so that a bar
                    // over the pending jobs gets near its total (it is short by the jobs others
                    // take after this process's last one).
                    match result {
                        Ok(None) => {
                            skipped.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Some(summary)) => {
                            let k = done.fetch_add(1, Ordering::SeqCst) + 1;
                            let s = skipped.load(Ordering::SeqCst);
                            let left = total.saturating_sub(k + s);
                            let el = clock.elapsed().as_secs_f64();
                            log(&crate::progress::line(
                                "sample",
                                k + s,
                                total,
                                &format!(
                                    "{summary} ({el:.0} s, ETA {:.0} s)",
                                    el / k as f64 * left as f64
                                ),
                            ));
                        }
                        Err(e) => fail(e),
                    }
                }
            });
        }
    });
    match first_error.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(done.into_inner()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Square(usize);

    impl JobFile for Square {
        fn path(&self, out: &Path) -> PathBuf {
            out.join(format!("{:03}.txt", self.0))
        }
    }

    #[derive(Debug)]
    struct Failure(String);

    impl StoreError for Failure {
        fn io(context: String, source: std::io::Error) -> Self {
            Self(format!("{context}: {source}"))
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("memprior-jobs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn square(_: &mut (), j: &Square) -> Result<Done, Failure> {
        Ok(Done {
            bytes: (j.0 * j.0).to_string().into_bytes(),
            summary: format!("#{}", j.0),
        })
    }

    #[test]
    fn every_job_runs_once_across_runs_and_resumes_past_finished_files() {
        let out = scratch("once");
        let jobs: Vec<Square> = (0..20).map(Square).collect();
        // Two pools at once on one directory, then a rerun: 20 files, each job run once.
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run_pool(&jobs, &out, 2, || Ok(()), square, &|_| {}));
            let b = s.spawn(|| run_pool(&jobs, &out, 2, || Ok(()), square, &|_| {}));
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        assert_eq!(a + b, 20);
        assert_eq!(
            run_pool(&jobs, &out, 2, || Ok(()), square, &|_| {}).unwrap(),
            0
        );
        for j in &jobs {
            let text = std::fs::read_to_string(j.path(&out)).unwrap();
            assert_eq!(text, (j.0 * j.0).to_string());
        }
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !n.ends_with(".txt") && !n.ends_with(".lock"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let _ = std::fs::remove_dir_all(out);
    }

    #[test]
    fn the_first_failure_stops_the_pool_and_keeps_the_finished_files() {
        let out = scratch("fail");
        let jobs: Vec<Square> = (0..10).map(Square).collect();
        let e = run_pool(
            &jobs,
            &out,
            1,
            || Ok(()),
            |s, j| {
                if j.0 == 3 {
                    Err(Failure("job 3 failed".into()))
                } else {
                    square(s, j)
                }
            },
            &|_| {},
        )
        .unwrap_err();
        assert_eq!(e.0, "job 3 failed");
        for i in 0..3 {
            assert!(jobs[i].path(&out).is_file());
        }
        assert!(!jobs[3].path(&out).exists());
        let e = run_pool(
            &jobs,
            &out,
            2,
            || Err::<(), _>(Failure("no solver".into())),
            square,
            &|_| {},
        )
        .unwrap_err();
        assert_eq!(e.0, "no solver");
        let _ = std::fs::remove_dir_all(out);
    }
}
