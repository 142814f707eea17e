//! The report's fixed content: style, the stylized figures with their captions and provenance, the
//! equations table and the README's differences section.

use crate::page::{EquationRow, Figure, FigureProvenance, NotebookRef, Table};
use experiments::stylized::{StylizedConfig, StylizedResults, figures};
use std::path::Path;

pub(super) const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.pair, .triple { display: flex; gap: 0.5em; } .pair > div, .triple > div { flex: 1; min-width: 0; }
figure { margin: 1.5em 0; border: 1px solid #e3e3e3; border-radius: 6px; padding: 0.8em; }
figcaption { font-size: 0.95em; color: #333; margin-top: 0.5em; }
.meta { font-size: 0.85em; color: #555; } .meta code { background: #f4f4f4; padding: 0 0.25em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
nav a { margin-right: 1em; }
"#;

/// The stylized tables, each as CSV and Parquet in `data/stylized/`.
pub(super) const STYLIZED_TABLES: [&str; 5] = [
    "linearized_1d",
    "linearized_2d",
    "effective_components",
    "distances",
    "lookup_weights",
];

/// A stylized figure before its provenance is attached.
struct Entry {
    id: &'static str,
    title: &'static str,
    caption: String,
    plot: plotly::Plot,
    notebook: &'static str,
    snapshot: &'static str,
    tables: &'static [&'static str],
}

/// The stylized figures with their provenance: the command and configuration hash, the notebook
/// (linked when executed in this build), the snapshot and the tables.
pub(super) fn figures(
    res: &StylizedResults,
    cfg: &StylizedConfig,
    notebooks: &[String],
    config_hash: &str,
) -> Vec<Figure> {
    entries(res, cfg)
        .into_iter()
        .map(|e| Figure {
            id: e.id.to_string(),
            title: e.title.to_string(),
            plots: e.plot.to_inline_html(Some(&format!("plot-{}", e.id))),
            caption: crate::page::escape(&e.caption),
            provenance: FigureProvenance {
                commands: vec![
                    "memprior stylized --config reports/data/stylized/config.toml --out DIR".into(),
                ],
                config_hash: Some(config_hash.to_string()),
                notebook: Some(NotebookRef::new(e.notebook, notebooks)),
                snapshot: Some(e.snapshot.to_string()),
                data: e
                    .tables
                    .iter()
                    .map(|t| format!("data/stylized/{t}.csv"))
                    .collect(),
                ..Default::default()
            },
        })
        .collect()
}

fn entries(res: &StylizedResults, cfg: &StylizedConfig) -> Vec<Entry> {
    let sig = cfg
        .sigmas
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        Entry {
            id: "figure1-top",
            title: "Figure 1 (top): 1-D posterior collapse",
            caption: format!(
                "Exact posterior under the memorized prior (red, filled; eq:gmm-posterior) and its linearized Gaussian mixture \
                 (black dashed, evidence weights; eq:linearized-posterior) at σ = {sig}, with the prior (grey), the likelihood \
                 normalised over the grid (blue dotted) and the training points (×). F(x) = x + 0.3x³, y = 0, γ = {}. \
                 As σ decreases the posterior collapses from one smooth bump near the truth x = 0 to two spikes just inside the \
                 training points ±0.4 (eq:lookup-table). The quadratic-only weighting of the authors' code is in the legend.",
                cfg.gamma
            ),
            plot: figures::figure1_top(res),
            notebook: "04_stylized_figures",
            snapshot: "crates/experiments/tests/snapshots/stylized__figure1_top.snap",
            tables: &["linearized_1d", "lookup_weights", "distances"],
        },
        Entry {
            id: "figure1-bottom",
            title: "Figure 1 (bottom): 2-D posterior collapse on the pentagon",
            caption: format!(
                "Exact posterior (red shades) and linearized mixture (black contours) for F(x) = (x₁ + 0.3x₁x₂, x₂ + 0.2x₁²), \
                 training points on a pentagon of radius 2, x_true = 0.7·x₀ (star), γ = {}, σ = {sig}; prior (grey) and \
                 likelihood (blue dotted) contours. One component dominates; as σ shrinks its centre moves from near x_true \
                 onto the training point x₀: the posterior ends on a training example although the truth is not one. \
                 Last panel: zoom around x₀ at the smallest σ.",
                cfg.gamma
            ),
            plot: figures::figure1_bottom(res),
            notebook: "04_stylized_figures",
            snapshot: "crates/experiments/tests/snapshots/stylized__figure1_bottom.snap",
            tables: &["linearized_2d", "lookup_weights", "distances"],
        },
        Entry {
            id: "figure1-random",
            title: "Companion: 2-D collapse on a random training set",
            caption: format!(
                "The same construction on five points x_n = {}·N(0, I) drawn with seed {} and y = F(0).",
                cfg.two_d.random_scale, cfg.seed
            ),
            plot: figures::figure1_bottom_random(res),
            notebook: "04_stylized_figures",
            snapshot: "crates/experiments/tests/snapshots/stylized__figure1_bottom.snap",
            tables: &["lookup_weights", "distances"],
        },
        Entry {
            id: "effective-components",
            title: "Effective number of posterior components against σ",
            caption: format!(
                "exp(H(π)) of the exact component weights π (eq:gmm-posterior, by quadrature) for N ∈ {:?} points of an \
                 equispaced pool on [{}, {}], y = {}, γ = {}; σ decreases to the right. Dotted lines: y = N. Diamonds: the \
                 dominance heuristic σ_crit = √(δγ/‖F'‖), filled with δ the mean nearest-neighbour distance of the N chosen \
                 points (ours), open with δ the nominal spacing (hi − lo)/(N − 1) (the authors'); the two differ by at most \
                 2 % because floor(linspace) spaces the chosen points unevenly. Dashed: a typical σ_min = {} of a diffusion schedule — far into \
                 the lookup regime for every N.",
                cfg.sweep.n_train, cfg.sweep.pool_lo, cfg.sweep.pool_hi, cfg.sweep.y, cfg.gamma, cfg.sweep.sigma_min_marker
            ),
            plot: figures::effective_components(res, cfg.sweep.sigma_min_marker),
            notebook: "02_lookup_and_exact_posterior",
            snapshot: "crates/experiments/tests/snapshots/stylized__effective_components.snap",
            tables: &["effective_components"],
        },
        Entry {
            id: "kde",
            title: "Memorization illustration: kernel density estimates against the empirical measure",
            caption: format!(
                "A bimodal truth ½N(−3, 0.85²) + ½N(3, 0.85²) (dashed); Gaussian KDEs of the first {:?} of {} seeded samples \
                 with bandwidth factors {:?}. As N shrinks the learned density breaks into spikes at the training points; \
                 the last panel is the empirical measure (eq:empirical-prior) of the first {} samples.",
                cfg.kde.subset_sizes, cfg.kde.n_samples, cfg.kde.bandwidth_factors, cfg.kde.empirical_n
            ),
            plot: figures::kde(res),
            notebook: "01_memorized_prior",
            snapshot: "crates/experiments/tests/snapshots/stylized__kde.snap",
            tables: &[],
        },
        Entry {
            id: "sigma-slider",
            title: "Beyond the paper: the 1-D collapse on a σ slider",
            caption: format!(
                "Move the slider to change σ continuously over {} log-spaced values in [{}, {}]: the exact posterior (red) \
                 and the linearized mixture (black dashed) of the top row of Figure 1.",
                cfg.slider.n_sigma, cfg.slider.sigma_lo, cfg.slider.sigma_hi
            ),
            plot: figures::sigma_slider(res),
            notebook: "03_linearized_posterior",
            snapshot: "crates/experiments/tests/snapshots/stylized__sigma_slider.snap",
            tables: &["distances"],
        },
        Entry {
            id: "linearization-error",
            title: "Beyond the paper: the linearization becomes exact as σ → 0",
            caption: "Total variation and Hellinger distance between the exact posterior and the linearized mixture on the 1-D \
                      grid, for both weightings, computed in log space. Both vanish with σ; the quadratic-only weighting is \
                      worse where σ is large and the Jacobian varies between training points."
                .to_string(),
            plot: figures::linearization_error(res),
            notebook: "03_linearized_posterior",
            snapshot: "crates/experiments/tests/snapshots/stylized__distances.snap",
            tables: &["distances"],
        },
    ]
}

/// `docs/equations.md`, embedded at build time (a binary may run from another checkout than the
/// one it was built in).
pub(super) const EQUATIONS: &str = include_str!("../../../docs/equations.md");

/// The README, embedded at build time for its section "Differences from the authors' code".
const README: &str = include_str!("../../../README.md");

/// The README's section "Differences from the authors' code": its paragraph (plain text) and its
/// table.
pub(super) fn differences() -> (String, Table) {
    let Some(start) = README.find("## Differences from the authors' code") else {
        return (
            "The README has no section on the differences from the authors' code.".into(),
            Table::default(),
        );
    };
    let section = &README[start..];
    let body = section.find("\n## ").map_or(section, |end| &section[..end]);
    let intro: Vec<&str> = body
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('|'))
        .collect();
    (
        intro.join(" ").trim().replace('`', ""),
        Table::from_markdown(body),
    )
}

/// The equations page's rows: label, statement, Rust item, notebook (linked when executed in this
/// build) and test, one per labelled line of `docs/equations.md`, each with an anchor.
pub(super) fn equation_rows(notebooks: &[String]) -> Vec<EquationRow> {
    let mut rows = Vec::new();
    for line in EQUATIONS.lines().filter(|l| {
        let t = l.trim_start();
        t.starts_with("| `eq:") || t.starts_with("| Figure") || t.starts_with("| FWI")
    }) {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('`', ""))
            .collect();
        let [label, statement, item, notebook, test, ..] = &cells[..] else {
            continue;
        };
        let anchor: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let stem = Path::new(notebook)
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        rows.push(EquationRow {
            anchor,
            label: label.clone(),
            statement: statement.clone(),
            item: item.clone(),
            executed: notebooks.iter().any(|n| *n == format!("{stem}.html")),
            stem,
            notebook: notebook.clone(),
            test: test.clone(),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_differences_section_comes_from_the_readme_with_every_row() {
        let (intro, table) = differences();
        assert!(intro.starts_with("Read side by side"), "{intro}");
        assert_eq!(table.header.first().map(String::as_str), Some("topic"));
        assert!(table.rows.iter().flatten().any(|c| c.contains("conj(A)")));
        // One row per difference; the section ends before the next heading.
        let section = &README[README
            .find("## Differences from the authors' code")
            .unwrap()..];
        let section = &section[..section.find("\n## ").unwrap()];
        let rows = section.lines().filter(|l| l.starts_with('|')).count() - 2;
        assert_eq!(table.rows.len(), rows);
        assert!(!intro.contains("## Report"));
    }

    #[test]
    fn every_labelled_equation_has_a_row_with_an_anchor() {
        let rows = equation_rows(&["02_lookup_and_exact_posterior.html".to_string()]);
        assert!(rows.len() >= 10, "{} rows", rows.len());
        let lookup = rows
            .iter()
            .find(|r| r.label == "eq:lookup-table")
            .expect("eq:lookup-table in docs/equations.md");
        assert_eq!(lookup.anchor, "eq-lookup-table");
        assert!(rows.iter().any(|r| r.executed) && rows.iter().any(|r| !r.executed));
    }
}
