//! `docs/equations.md` must index every equation label of the theory, and every Rust item,
//! notebook and test it names must exist.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    // The runtime value: a target directory shared by several clones may hold a binary built
    // for another checkout, whose compile-time path would point there.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Labels of `../shared/spec/THEORY.md` when the shared folder sits beside the clone (as on the
/// developers' machines and in CI); otherwise the labels as of this writing.
fn theory_labels() -> Vec<String> {
    let theory = root().join("../shared/spec/THEORY.md");
    match std::fs::read_to_string(&theory) {
        Ok(text) => {
            let mut labels: Vec<String> = text
                .split("[eq:")
                .skip(1)
                .filter_map(|s| s.split(']').next())
                .map(|s| format!("eq:{s}"))
                .filter(|s| !s.contains(' ') && !s.contains('\''))
                .collect();
            labels.sort();
            labels.dedup();
            labels
        }
        Err(_) => [
            "eq:calibration",
            "eq:dps",
            "eq:empirical-denoiser",
            "eq:empirical-prior",
            "eq:gmm-posterior",
            "eq:gmm-prior",
            "eq:gmm-score",
            "eq:linearized-posterior",
            "eq:lookup-table",
            "eq:memorization-ratio",
        ]
        .map(String::from)
        .to_vec(),
    }
}

fn rows() -> Vec<Vec<String>> {
    let md = std::fs::read_to_string(root().join("docs/equations.md"))
        .expect("docs/equations.md exists");
    md.lines()
        .filter(|l| l.starts_with("| `eq:") || l.starts_with("| Figure") || l.starts_with("| FWI"))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

#[test]
fn every_theory_label_is_indexed_or_listed_as_pending() {
    let md = std::fs::read_to_string(root().join("docs/equations.md")).unwrap();
    let (indexed, pending) = md
        .split_once("Not yet implemented")
        .expect("a pending list");
    let labels = theory_labels();
    assert!(
        labels.len() >= 10,
        "expected the ten labels of THEORY.md, found {labels:?}"
    );
    for label in labels {
        let in_table = indexed.contains(&format!("`{label}`"));
        let listed = pending.contains(&format!("`{label}`"));
        assert!(
            in_table ^ listed,
            "{label}: must appear exactly once, in the table or in the pending list"
        );
    }
}

#[test]
fn every_indexed_item_notebook_and_test_exists() {
    let rows = rows();
    assert!(rows.len() >= 8, "{rows:?}");
    for row in rows {
        assert_eq!(row.len(), 5, "row {row:?} must have 5 columns");
        for item in backticked(&row[2]) {
            let mut parts = item.split("::");
            let krate = parts.next().unwrap();
            let names: Vec<&str> = parts.collect();
            // The crate `memprior_core` lives in crates/core.
            let dir = if krate == "memprior_core" {
                "core"
            } else {
                krate
            };
            let src = root().join("crates").join(dir).join("src");
            assert!(src.is_dir(), "{item}: crate {krate} not found");
            let all = read_tree(&src);
            let last = names.last().copied().unwrap_or(krate);
            let defined = ["struct", "enum", "fn", "trait", "mod", "type"]
                .iter()
                .any(|kw| all.contains(&format!("pub {kw} {last}")))
                || all.contains(&format!("fn {last}("))
                || all.contains(&format!("pub use {last}"))
                || all.contains(&format!("{last},"))
                || all.contains(&format!("{last}}}"));
            assert!(
                defined,
                "{item}: `{last}` is not defined in crates/{krate}/src"
            );
        }
        for path in backticked(&row[3]).into_iter().chain(backticked(&row[4])) {
            assert!(root().join(&path).is_file(), "{path} does not exist");
        }
    }
}

fn read_tree(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&read_tree(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    out
}
