//! Progress lines: how the long loops (network training, DPS sampling) say how far they are
//! through their `log` callbacks. A progress line is `[task done/total] message`; the command line
//! turns these into progress bars on a terminal and keeps them as plain lines in logs.

/// The progress line of `task` after `done` of `total` units.
pub fn line(task: &str, done: usize, total: usize, message: &str) -> String {
    format!("[{task} {done}/{total}] {message}")
}

/// A progress line taken apart: (task, done, total, message); `None` for any other line.
pub fn parse(line: &str) -> Option<(&str, usize, usize, &str)> {
    let inner = line.strip_prefix('[')?;
    let (head, message) = inner.split_once("] ")?;
    let (task, counts) = head.rsplit_once(' ')?;
    let (done, total) = counts.split_once('/')?;
    Some((task, done.parse().ok()?, total.parse().ok()?, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_reads_back_and_other_lines_do_not() {
        let l = line("sample N = 50", 3, 345, "learned #3: final misfit 1.0");
        assert_eq!(l, "[sample N = 50 3/345] learned #3: final misfit 1.0");
        assert_eq!(
            parse(&l),
            Some(("sample N = 50", 3, 345, "learned #3: final misfit 1.0"))
        );
        for other in [
            "weights from the cache: /x",
            "[no counts] x",
            "[task 3/x] y",
            "[task 3/4]no space",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
