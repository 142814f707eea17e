//! The report's fixed content: style, the stylized figures with their captions and provenance, the
//! equations table and the README's differences section.

use super::*;

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

pub(super) const MATHJAX_CONFIG: &str = r#"<script>window.MathJax = { tex: { inlineMath: [['$', '$'], ['\\(', '\\)']] }, svg: { fontCache: 'global' } };</script>"#;

pub(super) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn figures(res: &StylizedResults, cfg: &StylizedConfig) -> Vec<FigureEntry> {
    let sig = cfg
        .sigmas
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        FigureEntry {
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
        FigureEntry {
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
        FigureEntry {
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
        FigureEntry {
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
        FigureEntry {
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
        FigureEntry {
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
        FigureEntry {
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
pub(super) const EQUATIONS: &str = include_str!("../../../../docs/equations.md");

/// Render `docs/equations.md`'s table as HTML.
pub(super) fn equations_html() -> String {
    let md = EQUATIONS;
    markdown_table_html(md)
}

/// The README's section "Differences from the authors' code" (embedded at build time): its
/// paragraphs and its table, as HTML.
pub(super) fn differences_html() -> String {
    const README: &str = include_str!("../../../../README.md");
    let Some(start) = README.find("## Differences from the authors' code") else {
        return "<p>The README has no section on the differences from the authors' code.</p>"
            .into();
    };
    let section = &README[start..];
    let body = section.find("\n## ").map_or(section, |end| &section[..end]);
    let intro: Vec<&str> = body
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('|'))
        .collect();
    let paragraph = intro.join(" ");
    format!(
        "<p>{}</p>{}",
        html_escape(paragraph.trim()).replace('`', ""),
        markdown_table_html(body)
    )
}

/// The pipe tables of a Markdown text as one HTML table (the first row is the header).
pub(super) fn markdown_table_html(md: &str) -> String {
    let mut html = String::from("<table>");
    let mut header = true;
    for line in md.lines().filter(|l| l.trim_start().starts_with('|')) {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let tag = if header { "th" } else { "td" };
        html.push_str("<tr>");
        for c in cells {
            let _ = write!(html, "<{tag}>{}</{tag}>", html_escape(c).replace('`', ""));
        }
        html.push_str("</tr>");
        header = false;
    }
    html.push_str("</table>");
    html
}

/// The equations page's table: label, statement, Rust item, notebook (linked when executed in
/// this build) and test, one row per line of `docs/equations.md`, each row an anchor.
pub(super) fn equations_page_table(notebooks: &[String]) -> String {
    let md = EQUATIONS;
    let mut html = String::from(
        "<table><tr><th>label</th><th>statement</th><th>Rust item</th><th>notebook</th><th>test</th></tr>",
    );
    for line in md.lines().filter(|l| {
        let t = l.trim_start();
        t.starts_with("| `eq:") || t.starts_with("| Figure") || t.starts_with("| FWI")
    }) {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 5 {
            continue;
        }
        let label = cells[0].replace('`', "");
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
        let notebook = {
            let path = cells[3].replace('`', "");
            let stem = Path::new(&path)
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            if notebooks.iter().any(|n| n == &format!("{stem}.html")) {
                format!(
                    "<a href=\"notebooks/{stem}.html\">{}</a>",
                    html_escape(&path)
                )
            } else {
                format!("{} (not executed in this build)", html_escape(&path))
            }
        };
        let _ = write!(
            html,
            "<tr id=\"{anchor}\"><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{notebook}</td><td><code>{}</code></td></tr>",
            html_escape(&label),
            html_escape(cells[1]),
            html_escape(&cells[2].replace('`', "")),
            html_escape(&cells[4].replace('`', ""))
        );
    }
    html.push_str("</table>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_differences_section_comes_from_the_readme_with_every_row() {
        let html = differences_html();
        assert!(html.starts_with("<p>Read side by side"), "{html}");
        assert!(html.contains("<th>topic</th>") && html.contains("conj(A)"));
        // Header plus one row per difference; the section ends before the next heading.
        let readme = include_str!("../../../../README.md");
        let section = &readme[readme
            .find("## Differences from the authors' code")
            .unwrap()..];
        let section = &section[..section.find("\n## ").unwrap()];
        let rows = section.lines().filter(|l| l.starts_with('|')).count() - 1;
        assert_eq!(html.matches("<tr>").count(), rows);
        assert!(!html.contains("## Report"));
    }
}
