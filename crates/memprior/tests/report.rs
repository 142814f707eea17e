//! The report is rendered from results directories and runs no experiment: the four experiment
//! commands write the quick preset's results, `memprior report --results` renders them. A report
//! killed at random points leaves the previous one readable and reruns to the same data; a report
//! without results refuses with the command to run; the rendered page's outline (sections,
//! figures, captions, provenance lines, table headers) is pinned by an insta snapshot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use testkit::interrupt::{kill_after, kill_times};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memprior"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run the experiments of a quick report into `root` through the command line, as `cargo xtask
/// report` does, with the networks trained into (or loaded from) `cache`.
fn experiments(root: &Path, cache: &Path) {
    let results = report::Results::under(root);
    for (_, args) in results.stages("quick") {
        let o = bin()
            .args(&args)
            .env("MEMPRIOR_CACHE", cache)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "memprior {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// `memprior report` of the results in `results` into `out`, with no paper bundle.
fn render(results: &Path, out: &Path) -> Command {
    let mut c = bin();
    c.arg("report")
        .arg("--results")
        .arg(results)
        .arg("--out")
        .arg(out)
        .arg("--paper-bundle")
        .arg(results.join("no-paper-bundle"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// SHA-256 of every file below `dir` whose relative path starts with `data/` (the figure data and
/// tables), except provenance files, which record times and the commit.
fn data_hashes(dir: &Path) -> BTreeMap<String, String> {
    testkit::interrupt::tree_hashes(dir, |rel| {
        rel.starts_with("data/") && !rel.ends_with("/provenance.json")
    })
    .unwrap()
}

/// The text between `open` and `close` after `from`, and the position after it.
fn between<'a>(s: &'a str, from: usize, open: &str, close: &str) -> Option<(&'a str, usize)> {
    let a = s[from..].find(open)? + from + open.len();
    let b = s[a..].find(close)? + a;
    Some((&s[a..b], b + close.len()))
}

/// `html` without tags, with whitespace collapsed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` with the measured training times ("3000 steps in 2 s (1563.2 steps/s)") replaced by "…".
fn without_timings(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(" steps in ") {
        let Some(j) = rest[i..].find(" steps/s)") else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str(" steps in … s (… steps/s)");
        rest = &rest[i + j + " steps/s)".len()..];
    }
    out.push_str(rest);
    out
}

/// The outline of a rendered index page: the section headings, each figure with its title, plot
/// ids, caption and provenance line, and the column names of each table. The plot data and the
/// report's own provenance (commit, date, machine, timings) are left out.
fn outline(html: &str) -> String {
    let body = &html[..html.find("<h2 id=\"provenance\">").unwrap_or(html.len())];
    let mut out = String::new();
    let mut at = 0;
    while let Some(i) = body[at..].find('<').map(|i| i + at) {
        let rest = &body[i..];
        if rest.starts_with("<h2") {
            let (h, end) = between(body, i, ">", "</h2>").unwrap();
            out.push_str(&format!("\n## {}\n", text(h)));
            at = end;
        } else if rest.starts_with("<figure id=\"") {
            let (id, _) = between(body, i, "<figure id=\"", "\"").unwrap();
            let (_, end) = between(body, i, "<figure", "</figure>").unwrap();
            let fig = &body[i..end];
            let title = between(fig, 0, "<h3>", "</h3>").map_or("", |x| x.0);
            let mut plots = Vec::new();
            let mut p = 0;
            while let Some((pid, next)) = between(fig, p, "<div id=\"", "\"") {
                plots.push(pid.to_string());
                p = next;
            }
            out.push_str(&format!(
                "figure {id}: {}\n  plots: {}\n",
                text(title),
                plots.join(" ")
            ));
            if let Some((c, _)) = between(fig, 0, "<figcaption>", "</figcaption>") {
                out.push_str(&format!("  caption: {}\n", without_timings(&text(c))));
            }
            if let Some((m, _)) = between(fig, 0, "<p class=\"meta\">", "</p>") {
                out.push_str(&format!("  meta: {}\n", text(m)));
            }
            at = end;
        } else if rest.starts_with("<table") {
            let (head, _) = between(body, i, "<tr>", "</tr>").unwrap_or(("", 0));
            let (_, end) = between(body, i, "<table", "</table>").unwrap();
            let rows = body[i..end].matches("<tr").count();
            out.push_str(&format!(
                "table: {} ({} rows)\n",
                text(&head.replace("</th>", " |")),
                rows
            ));
            at = end;
        } else {
            at = i + 1;
        }
    }
    out
}

#[test]
fn a_report_renders_results_and_a_killed_one_keeps_the_old_report_and_reruns_identically() {
    let d = scratch("render");
    let cache = d.join("weights");
    // The experiments twice (the second loads the networks from the cache): their figure data
    // must agree.
    let (results_a, results_b) = (d.join("results-a"), d.join("results-b"));
    experiments(&results_a, &cache);
    experiments(&results_b, &cache);
    let (clean, second) = (d.join("clean"), d.join("second"));
    assert!(render(&results_a, &clean).status().unwrap().success());
    let t = Instant::now();
    assert!(render(&results_b, &second).status().unwrap().success());
    let whole = t.elapsed();
    let a = data_hashes(&clean);
    assert!(
        a.len() > 20,
        "expected the report's data files, found {}",
        a.len()
    );
    assert_eq!(
        a,
        data_hashes(&second),
        "two experiment runs gave different figure data"
    );

    // The rendered page's outline is pinned, and every data file it links to is in the report.
    let index = std::fs::read_to_string(clean.join("index.html")).unwrap();
    let mut at = 0;
    let mut links = 0;
    while let Some((href, next)) = between(&index, at, "href=\"", "\"") {
        if href.starts_with("data/") {
            assert!(
                clean.join(href).is_file(),
                "the report links to {href}, which it lacks"
            );
            links += 1;
        }
        at = next;
    }
    assert!(links > 20, "only {links} data links");
    insta::assert_snapshot!("report_outline_quick", outline(&index));

    // Killed renders leave the previous report in place; the rerun gives the same data.
    let out = d.join("reports");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("index.html"), b"<p>previous report</p>").unwrap();
    let mut kills = 0;
    for ms in kill_times(12, 6, whole) {
        let before = std::fs::read(out.join("index.html")).unwrap();
        let was_killed = kill_after(render(&results_a, &out).spawn().unwrap(), ms).unwrap();
        eprintln!(
            "report: kill after {ms} ms of a {:.2} s render → killed = {was_killed}",
            whole.as_secs_f64()
        );
        if was_killed {
            kills += 1;
            assert_eq!(
                std::fs::read(out.join("index.html")).unwrap(),
                before,
                "a killed report replaced the previous one"
            );
        }
    }
    assert!(kills >= 1, "no report run was interrupted");
    assert!(render(&results_a, &out).status().unwrap().success());
    assert_eq!(
        a,
        data_hashes(&out),
        "figure data after {kills} kills differ"
    );
    let leftovers: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_report_without_results_refuses_with_the_command_to_run_and_keeps_the_previous_report() {
    let d = scratch("missing");
    let reports = d.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join("index.html"), b"<p>previous report</p>").unwrap();
    let o = bin()
        .args(["report", "--results"])
        .arg(d.join("nothing"))
        .arg("--out")
        .arg(&reports)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("memprior stylized --out") && err.contains("cargo xtask report"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(reports.join("index.html")).unwrap(),
        b"<p>previous report</p>"
    );
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        1,
        "a refused report left staging directories behind"
    );
    std::fs::remove_dir_all(d).unwrap();
}
