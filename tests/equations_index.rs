//! `docs/equations.md` must index every equation label of the theory, and every row must be
//! true: its Rust items compile (the `use`s below are generated from the index by `build.rs`), its
//! notebooks state the label and assert a `Checks` row tagged with it, and its tests are `#[test]`
//! functions. The checks themselves are unit-tested on a broken sample index in `src/rows.rs`.

use std::path::PathBuf;
use workspace_checks::{index, rows};

include!(concat!(env!("OUT_DIR"), "/index_items.rs"));

fn root() -> PathBuf {
    // The runtime value: a target directory shared by several clones may hold a binary built
    // for another checkout, whose compile-time path would point there.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("the tests package sits inside the workspace")
        .to_path_buf()
}

fn index_text() -> String {
    std::fs::read_to_string(root().join("docs/equations.md")).expect("docs/equations.md exists")
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

#[test]
fn every_theory_label_is_indexed_once_or_listed_as_pending() {
    let md = index_text();
    let (_, pending) = md
        .split_once("Not yet implemented")
        .expect("a pending list");
    let rows = index::parse(&md).unwrap_or_else(|e| panic!("{e:#?}"));
    let labels = theory_labels();
    assert!(
        labels.len() >= 10,
        "expected the ten labels of THEORY.md, found {labels:?}"
    );
    for label in labels {
        let in_table = rows.iter().filter(|r| r.label == label).count();
        let listed = pending.contains(&format!("`{label}`"));
        assert!(
            (in_table == 1) ^ listed,
            "{label}: must appear exactly once, in the table ({in_table} rows) or in the pending list"
        );
    }
    let mut all: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    all.sort_unstable();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "labels must be unique");
}

#[test]
fn every_row_is_true_in_its_notebooks_and_tests() {
    let rows = index::parse(&index_text()).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(rows.len() >= 20, "{rows:?}");
    let problems = rows::problems(&root(), &rows);
    assert!(
        problems.is_empty(),
        "docs/equations.md makes claims that do not hold:\n{}",
        problems.join("\n")
    );
}
