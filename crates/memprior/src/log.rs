//! Log lines and progress bars of the command line.
//!
//! Messages go through `tracing`: one line each on stderr, with a UTC timestamp and a level.
//! `RUST_LOG` filters them (`RUST_LOG=warn`, `RUST_LOG=debug`); `--quiet` keeps only warnings
//! and errors. The library's progress lines ([`experiments::progress`]: training steps, DPS
//! samples) become one indicatif bar per task when stderr is a terminal, and stay plain log lines
//! otherwise, so the logs of batch jobs, Slurm arrays and `cargo xtask paper` read as before.

use experiments::progress;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::EnvFilter;

/// The progress bars, when stderr is a terminal and the run is not quiet.
struct Bars {
    multi: MultiProgress,
    by_task: Mutex<HashMap<String, ProgressBar>>,
}

static BARS: OnceLock<Option<Bars>> = OnceLock::new();

fn bars() -> Option<&'static Bars> {
    BARS.get().and_then(Option::as_ref)
}

/// stderr, with the progress bars cleared while a line is written.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match bars() {
            Some(b) => b.multi.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Install the subscriber and decide whether progress is drawn as bars. Call once, first.
pub fn init(quiet: bool) {
    let terminal = std::io::stderr().is_terminal();
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::new(v),
        _ => EnvFilter::new(if quiet { "warn" } else { "info" }),
    };
    let _ = BARS.set((terminal && !quiet).then(|| Bars {
        multi: MultiProgress::new(),
        by_task: Mutex::new(HashMap::new()),
    }));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Stderr)
        .with_ansi(terminal)
        .with_target(false)
        .try_init();
}

/// One line from the library: a progress line moves its task's bar on a terminal; every other
/// line (and progress in a log file) is logged at level info.
pub fn line(text: &str) {
    if let (Some(b), Some((task, done, total, message))) = (bars(), progress::parse(text)) {
        let mut by_task = b.by_task.lock().unwrap_or_else(|e| e.into_inner());
        let bar = by_task.entry(task.to_string()).or_insert_with(|| {
            let bar = b.multi.add(ProgressBar::new(total as u64));
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(task.to_string());
            bar
        });
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(message.to_string());
        if done >= total {
            bar.finish();
        }
        return;
    }
    tracing::info!("{text}");
}

/// Write `text` to standard output (the results of a command that prints them, as opposed to the
/// log on stderr). A reader that stops early (`| head`) is not an error.
///
/// # Errors
/// Any other write failure.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
