//! The committed notebooks: valid nbformat 4 JSON for the `rust` kernel, stripped of outputs,
//! depending on workspace crates only, and each one asserting its checks.

use std::path::PathBuf;

fn notebooks() -> Vec<PathBuf> {
    let dir = // The runtime value: a target directory shared by several clones may hold a binary built
    // for another checkout, whose compile-time path would point there.
    std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .unwrap()
        .join("notebooks");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    v.sort();
    v
}

#[test]
fn notebooks_are_stripped_and_assert_their_checks() {
    let nbs = notebooks();
    assert!(
        nbs.len() >= 4,
        "expected one notebook per equation group, found {nbs:?}"
    );
    for p in nbs {
        let nb: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(nb["nbformat"], 4, "{p:?}");
        assert_eq!(
            nb["metadata"]["kernelspec"]["name"], "rust",
            "{p:?}: kernel must be evcxr's `rust`"
        );
        let mut source = String::new();
        for cell in nb["cells"].as_array().unwrap() {
            if cell["cell_type"] == "code" {
                assert!(
                    cell["outputs"].as_array().is_none_or(|o| o.is_empty()),
                    "{p:?}: commit notebooks without outputs"
                );
                assert!(
                    cell["execution_count"].is_null(),
                    "{p:?}: execution counts must be cleared"
                );
            }
            for line in cell["source"].as_array().unwrap() {
                source.push_str(line.as_str().unwrap());
            }
        }
        for dep in source.lines().filter(|l| l.starts_with(":dep")) {
            assert!(
                dep.contains("path = \"../crates/"),
                "{p:?}: `{dep}` — depend on workspace crates only"
            );
        }
        assert!(
            source.contains("show_and_assert") || source.contains("assert!"),
            "{p:?} asserts nothing"
        );
    }
}

/// Each `Checks` table has the property it tests written as a display equation (`$$…$$`) in the
/// markdown since the previous table, and every notebook ends with its references.
#[test]
fn every_check_has_its_display_equation_and_every_notebook_its_references() {
    for p in notebooks() {
        let nb: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let cells = nb["cells"].as_array().unwrap();
        let text = |c: &serde_json::Value| -> String {
            c["source"]
                .as_array()
                .map(|l| l.iter().filter_map(|s| s.as_str()).collect())
                .unwrap_or_default()
        };
        let mut equation_since_last_check = false;
        for (i, cell) in cells.iter().enumerate() {
            let src = text(cell);
            if cell["cell_type"] == "markdown" && src.matches("$$").count() >= 2 {
                equation_since_last_check = true;
            }
            if cell["cell_type"] == "code" && src.contains("Checks::new") {
                assert!(
                    equation_since_last_check,
                    "{p:?} cell {i}: write the property this Checks table tests as a display equation ($$…$$) in the markdown above it"
                );
                equation_since_last_check = false;
            }
        }
        let last = cells.last().map(text).unwrap_or_default();
        assert!(
            last.starts_with("## References") && last.contains("Siahkoohi"),
            "{p:?}: end with a `## References` cell that cites the paper"
        );
    }
}
