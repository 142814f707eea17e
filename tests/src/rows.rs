//! The notebook and test claims of the equations index, checked from the files themselves.

use crate::index::Row;
use std::path::Path;

/// The markdown and the code of a notebook, each cell's lines joined, or why it cannot be read.
fn notebook_source(path: &Path) -> Result<(String, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let nb: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let cells = nb["cells"]
        .as_array()
        .ok_or("no `cells` array (expected nbformat 4)")?;
    let (mut markdown, mut code) = (String::new(), String::new());
    for cell in cells {
        let buf = match cell["cell_type"].as_str() {
            Some("markdown") => &mut markdown,
            Some("code") => &mut code,
            _ => continue,
        };
        match &cell["source"] {
            serde_json::Value::String(s) => buf.push_str(s),
            serde_json::Value::Array(lines) => {
                for l in lines {
                    buf.push_str(l.as_str().unwrap_or_default());
                }
            }
            _ => {}
        }
        buf.push('\n');
    }
    Ok((markdown, code))
}

/// The `Checks` rows of notebook code tagged with `tag`: the text from each `.add(`,
/// `.at_most(` or `.at_least(` to the end of its first argument (the quantity) must contain the tag.
fn tagged_checks(code: &str, tag: &str) -> usize {
    [".add(", ".at_most(", ".at_least("]
        .iter()
        .flat_map(|pat| code.match_indices(pat))
        .filter(|(i, pat)| {
            let rest = &code[i + pat.len()..];
            // The quantity ends at the first comma outside a string or a call: good enough for
            // `"…"` and `format!("…", …)` arguments.
            let mut depth = 0i32;
            let mut in_str = false;
            let mut end = rest.len();
            for (j, ch) in rest.char_indices() {
                match ch {
                    '"' => in_str = !in_str,
                    '(' if !in_str => depth += 1,
                    ')' if !in_str => {
                        if depth == 0 {
                            end = j;
                            break;
                        }
                        depth -= 1;
                    }
                    ',' if !in_str && depth == 0 => {
                        end = j;
                        break;
                    }
                    _ => {}
                }
            }
            rest[..end].contains(tag)
        })
        .count()
}

/// Whether `file` (Rust source) has a `#[test]` function called `name`.
fn has_test_fn(source: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    lines.iter().enumerate().any(|(i, l)| {
        (l.starts_with(&format!("fn {name}(")) || l.starts_with(&format!("pub fn {name}(")))
            && lines[..i]
                .iter()
                .rev()
                .take_while(|p| p.starts_with("#[") || p.starts_with("//"))
                .any(|p| p.starts_with("#[test]"))
    })
}

/// Everything wrong with the notebooks and tests the rows name, relative to `root`.
pub fn problems(root: &Path, rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows {
        let tag = format!("[{}]", row.label);
        for nb in &row.notebooks {
            match notebook_source(&root.join(nb)) {
                Err(e) => out.push(format!("{}: {nb}: {e}", row.label)),
                Ok((markdown, code)) => {
                    if !markdown.contains(&tag) {
                        out.push(format!(
                            "{}: {nb} never states `{tag}` in its text: derive the equation there",
                            row.label
                        ));
                    }
                    if tagged_checks(&code, &tag) == 0 {
                        out.push(format!(
                            "{}: {nb} has no Checks row for it: add `checks.add(\"{tag} …\", independent, library, tol)`",
                            row.label
                        ));
                    }
                }
            }
        }
        for test in &row.tests {
            let Some((file, name)) = test.rsplit_once("::") else {
                out.push(format!(
                    "{}: `{test}` must be `path/to/file.rs::test_function`",
                    row.label
                ));
                continue;
            };
            match std::fs::read_to_string(root.join(file)) {
                Err(e) => out.push(format!("{}: {file}: {e}", row.label)),
                Ok(src) if !has_test_fn(&src, name) => {
                    out.push(format!("{}: {file} has no #[test] fn {name}", row.label))
                }
                Ok(_) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_count_only_in_the_quantity() {
        let code = "c.add(\"[eq:a] w\", 1.0, 1.0, 0.0);\nc.add(format!(\"x {}\", n), v, \"[eq:a]\".len() as f64, 0.0);";
        assert_eq!(tagged_checks(code, "[eq:a]"), 1);
        assert!(has_test_fn("#[test]\n// why\nfn a_works() {}", "a_works"));
        assert!(!has_test_fn("fn a_works() {}", "a_works"));
    }

    /// A sample index with one good row and one row broken in each of the ways the checks catch.
    #[test]
    fn a_broken_sample_index_is_caught_row_by_row() {
        let dir = std::env::temp_dir().join(format!("index-sample-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let nb = |md: &str, code: &str| {
            serde_json::json!({"nbformat": 4, "cells": [
                {"cell_type": "markdown", "source": [md]},
                {"cell_type": "code", "source": [code]},
            ]})
            .to_string()
        };
        std::fs::write(
            dir.join("good.ipynb"),
            nb(
                "derive `[eq:a]`",
                "checks.add(\"[eq:a] w_0\", 1.0, 1.0, 0.0);",
            ),
        )
        .unwrap();
        // Mentions the label but checks something else; never states eq:b.
        std::fs::write(
            dir.join("bad.ipynb"),
            nb(
                "derive `[eq:a]`",
                "checks.add(\"w_0\", 1.0, 1.0, 0.0); // [eq:b]",
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("t.rs"),
            "#[test]\nfn a_works() {}\nfn b_helper() {}\n",
        )
        .unwrap();
        let md = "| label | statement | Rust item | notebook | test |\n|---|---|---|---|---|\n\
            | `eq:a` | x | `k::A` | `good.ipynb` | `t.rs::a_works` |\n\
            | `eq:b` | x | `k::B` | `bad.ipynb`, `gone.ipynb` | `t.rs::b_helper`, `t.rs::b_missing`, `t.rs` |\n";
        let rows = crate::index::parse(md).unwrap();
        let found = problems(&dir, &rows);
        std::fs::remove_dir_all(&dir).unwrap();
        let expect = [
            "eq:b: bad.ipynb never states `[eq:b]`",
            "eq:b: bad.ipynb has no Checks row",
            "eq:b: gone.ipynb: cannot read",
            "eq:b: t.rs has no #[test] fn b_helper",
            "eq:b: t.rs has no #[test] fn b_missing",
            "eq:b: `t.rs` must be `path/to/file.rs::test_function`",
        ];
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        for (f, e) in found.iter().zip(expect) {
            assert!(f.starts_with(e), "{f} should start with {e}");
        }
        assert!(!found.iter().any(|f| f.starts_with("eq:a")), "{found:#?}");
    }
}
