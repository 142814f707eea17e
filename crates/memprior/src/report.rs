//! `memprior report`: run every experiment, write tables and figures, and assemble an offline
//! HTML report (plotly.js and MathJax served from `assets/`, no request leaves the machine).
//!
//! The report is staged in a hidden sibling directory and moved into place file by file at the
//! end, so an interrupted build leaves the previous report readable.

use crate::atomic::{self, Staging};
use crate::provenance::Provenance;
use crate::stylized;
use anyhow::{Context, Result};
use experiments::stylized::{StylizedConfig, StylizedResults, figures};
use plotly::Plot;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the report is built from.
pub struct ReportInputs {
    /// Report directory.
    pub out: PathBuf,
    /// Stylized configuration.
    pub cfg: StylizedConfig,
    /// Directory of executed notebooks (HTML) to include.
    pub notebooks: Option<PathBuf>,
    /// Extra stage timings (JSON object name → seconds).
    pub timings: Option<PathBuf>,
    /// Directory of performance measurements (CSV) for the performance page.
    pub performance: Option<PathBuf>,
    /// Preset of the diffusion-prior experiment (quick, default, paper).
    pub prior_preset: String,
    /// Results bundle of the paper-scale run (`data/paper/`), shown in its own section.
    pub paper_bundle: PathBuf,
}

/// A figure of the report with everything a reader needs to reproduce and check it.
struct FigureEntry {
    id: &'static str,
    title: &'static str,
    caption: String,
    plot: Plot,
    notebook: &'static str,
    snapshot: &'static str,
    tables: &'static [&'static str],
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.pair, .triple { display: flex; gap: 0.5em; } .pair > div, .triple > div { flex: 1; min-width: 0; }
figure { margin: 1.5em 0; border: 1px solid #e3e3e3; border-radius: 6px; padding: 0.8em; }
figcaption { font-size: 0.95em; color: #333; margin-top: 0.5em; }
.meta { font-size: 0.85em; color: #555; } .meta code { background: #f4f4f4; padding: 0 0.25em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
nav a { margin-right: 1em; }
"#;

const MATHJAX_CONFIG: &str = r#"<script>window.MathJax = { tex: { inlineMath: [['$', '$'], ['\\(', '\\)']] }, svg: { fontCache: 'global' } };</script>"#;

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn figures(res: &StylizedResults, cfg: &StylizedConfig) -> Vec<FigureEntry> {
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
const EQUATIONS: &str = include_str!("../../../docs/equations.md");

/// Render `docs/equations.md`'s table as HTML.
fn equations_html() -> String {
    let md = EQUATIONS;
    markdown_table_html(md)
}

/// The README's section "Differences from the authors' code" (embedded at build time): its
/// paragraphs and its table, as HTML.
fn differences_html() -> String {
    const README: &str = include_str!("../../../README.md");
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
fn markdown_table_html(md: &str) -> String {
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
fn equations_page_table(notebooks: &[String]) -> String {
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

/// Build the report.
pub fn build(inputs: &ReportInputs) -> Result<()> {
    let cfg = &inputs.cfg;
    let config_text = toml::to_string_pretty(cfg)?;
    let mut prov = Provenance::collect(&config_text, vec![("stylized.seed".into(), cfg.seed)]);
    if let Some(path) = &inputs.timings {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read timings file {}", path.display()))?;
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| {
                format!(
                    "timings file {} must be a JSON object of seconds",
                    path.display()
                )
            })?;
        for (k, v) in map {
            prov.timings.push((k, v.as_f64().unwrap_or(f64::NAN)));
        }
    }
    let staging = Staging::new(&inputs.out)?;
    let root = staging.path().to_path_buf();

    // The experiment stage: the stylized results go to a scratch directory (its results.json,
    // tens of MB, stays out of the report), and the figures are drawn from what it holds.
    let t = Instant::now();
    let scratch = atomic::Staging::new(&inputs.out.with_extension("stylized-results"))?;
    stylized::write_tables(&experiments::stylized::run(cfg)?, cfg, scratch.path())?;
    prov.timings.push((
        "stylized experiments and tables (CSV, Parquet)".into(),
        t.elapsed().as_secs_f64(),
    ));
    let (res, _) = stylized::load_results(scratch.path())?;
    for e in std::fs::read_dir(scratch.path())?.flatten() {
        if e.file_name() != stylized::RESULTS {
            atomic::write(
                &root.join("data/stylized").join(e.file_name()),
                &std::fs::read(e.path())?,
            )?;
        }
    }
    drop(scratch);

    let t = Instant::now();
    let (plotly_js, mathjax_js) = experiments::html::offline_js();
    atomic::write(&root.join("assets/plotly.min.js"), plotly_js.as_bytes())?;
    atomic::write(&root.join("assets/tex-svg.js"), mathjax_js.as_bytes())?;
    atomic::write(&root.join("assets/style.css"), STYLE.as_bytes())?;

    let mut notebooks = Vec::new();
    if let Some(dir) = &inputs.notebooks {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read notebooks directory {}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "html"))
            .collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .expect("listed file")
                .to_string_lossy()
                .to_string();
            atomic::write(&root.join("notebooks").join(&name), &std::fs::read(&p)?)?;
            notebooks.push(name);
        }
    }

    let t_fwi = Instant::now();
    // The experiment stage, then a section that only reads its results directory.
    crate::report_fwi::run_experiment(&root.join("data/fwi"))?;
    let fwi_html = crate::report_fwi::section(
        &root.join("data/fwi"),
        notebooks.iter().any(|n| n.starts_with("05_")),
    )?;
    prov.timings.push((
        "FWI forward model (experiment and section)".into(),
        t_fwi.elapsed().as_secs_f64(),
    ));
    let t_prior = Instant::now();
    // The experiment stage, then a section that only reads its results directory.
    let prior_dir = root.join("data/prior");
    let prior_run_secs = crate::report_prior::run_experiment(&inputs.prior_preset, &prior_dir)?;
    let prior = crate::report_prior::section(
        &root,
        notebooks.iter().any(|n| n.starts_with("06_")),
        &prior_dir,
        prior_run_secs,
    )?;
    let prior_secs = t_prior.elapsed().as_secs_f64();
    prov.timings.extend(prior.timings);
    prov.seeds.extend(prior.seeds);
    let t_dps = Instant::now();
    // The experiment stage, then a section that only reads its results directory.
    let dps_run = crate::report_dps::run_experiment(&inputs.prior_preset)?;
    prov.timings.extend(dps_run.timings);
    let dps = crate::report_dps::section(
        &root,
        notebooks.iter().any(|n| n.starts_with("07_")),
        &dps_run.dir,
    )?;
    let paper_html = crate::report_paper::section(&root, &inputs.paper_bundle)?;
    let dps_secs = t_dps.elapsed().as_secs_f64();
    prov.seeds.extend(dps.seeds);
    let figs = figures(&res, cfg);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>On the role of memorization in learned priors for geophysical inverse problems</h1>\
         <p class=\"meta\">An executable companion to Siahkoohi &amp; Sabeddu (2026). Every number below is recomputed by \
         <code>cargo xtask report</code>; every equation is derived and checked in a notebook.</p>\
         <nav><a href=\"#stylized\">Stylized problem</a><a href=\"#notebooks\">Notebooks</a><a href=\"#equations\">Equations</a><a href=\"#differences\">Differences from the authors' code</a>\
         <a href=\"#fwi\">FWI forward model</a><a href=\"#prior\">Diffusion priors</a><a href=\"#dps\">FWI posteriors</a><a href=\"#paper-scale\">At the paper's scale</a><a href=\"equations.html\">Equations page</a><a href=\"performance.html\">Performance</a>\
         <a href=\"#tables\">Tables</a><a href=\"#provenance\">Provenance</a></nav>\
         <p>The claim: a prior trained on few examples memorizes them, and the posterior then collapses onto the training set, \
         a likelihood-weighted lookup $p(x\\mid y) = \\sum_n w_n \\delta(x - x_n)$ with \
         $w_n = \\mathrm{{softmax}}_n(-\\lVert F(x_n) - y\\rVert^2 / 2\\gamma^2)$ (eq:lookup-table). For a memorized diffusion \
         model the prior at noise level $\\sigma$ is the Gaussian mixture $\\frac1N\\sum_n \\mathcal N(x; x_n, \\sigma^2 I)$, and \
         linearizing $F$ around each $x_n$ gives a Gaussian-mixture posterior (eq:linearized-posterior).</p>\
         <h2 id=\"stylized\">Stylized problem</h2>"
    );
    for f in &figs {
        let nb = if notebooks.iter().any(|n| n.starts_with(f.notebook)) {
            format!(
                "<a href=\"notebooks/{}.html\">{}</a>",
                f.notebook, f.notebook
            )
        } else {
            format!("{} (not executed in this build)", f.notebook)
        };
        let tables = f
            .tables
            .iter()
            .map(|t| format!("<a href=\"data/stylized/{t}.csv\">{t}.csv</a>"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            body,
            "<figure id=\"{id}\"><h3>{title}</h3>{plot}<figcaption>{caption}</figcaption>\
             <p class=\"meta\">Command: <code>memprior stylized --config reports/data/stylized/config.toml --out DIR</code> \
             (config hash <code>{hash}</code>) · Derived in: {nb} · Pinned by: <code>{snap}</code>{tables}</p></figure>",
            id = f.id,
            title = html_escape(f.title),
            plot = f.plot.to_inline_html(Some(&format!("plot-{}", f.id))),
            caption = html_escape(&f.caption),
            hash = prov.config_hash,
            snap = f.snapshot,
            tables = if tables.is_empty() {
                String::new()
            } else {
                format!(" · Data: {tables}")
            },
        );
    }
    // The prior section ran inside this interval and has its own lines.
    prov.timings.push((
        "figures".into(),
        t.elapsed().as_secs_f64() - prior_secs - dps_secs,
    ));

    body.push_str(&fwi_html);
    body.push_str(&prior.html);
    body.push_str(&dps.html);
    body.push_str(&paper_html);
    let _ = write!(body, "<h2 id=\"notebooks\">Notebooks</h2>");
    if notebooks.is_empty() {
        body.push_str("<p>No executed notebooks were supplied to this build (run <code>cargo xtask report</code>).</p>");
    } else {
        body.push_str("<ul>");
        for n in &notebooks {
            let _ = write!(
                body,
                "<li><a href=\"notebooks/{n}\">{}</a></li>",
                n.trim_end_matches(".html")
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<h2 id=\"equations\">Equations</h2>{}",
        equations_html()
    );
    let _ = write!(
        body,
        "<h2 id=\"differences\">Differences from the authors' code</h2>{}",
        differences_html()
    );
    body.push_str("<h2 id=\"tables\">Tables</h2><ul>");
    for t in [
        "linearized_1d",
        "linearized_2d",
        "effective_components",
        "distances",
        "lookup_weights",
    ] {
        let _ = write!(
            body,
            "<li>{t}: <a href=\"data/stylized/{t}.csv\">CSV</a>, <a href=\"data/stylized/{t}.parquet\">Parquet</a></li>"
        );
    }
    body.push_str("<li><a href=\"data/stylized/config.toml\">config.toml</a> · <a href=\"data/stylized/summary.json\">summary.json</a></li></ul>");

    let _ = write!(
        body,
        "<h2 id=\"provenance\">Provenance</h2><table><tr><th>commit</th><td><code>{}</code></td></tr>\
         <tr><th>config hash</th><td><code>{}</code></td></tr><tr><th>seeds</th><td>{}</td></tr>\
         <tr><th>built</th><td>{}</td></tr><tr><th>machine</th><td>{}</td></tr></table>\
         <h3>Stage timings (wall seconds)</h3><table>{}</table>",
        html_escape(&prov.commit),
        prov.config_hash,
        prov.seeds
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        prov.date,
        html_escape(&prov.machine),
        prov.timings
            .iter()
            .map(|(k, v)| format!("<tr><td>{}</td><td>{v:.2}</td></tr>", html_escape(k)))
            .collect::<String>(),
    );
    let head = format!(
        "<link rel=\"stylesheet\" href=\"assets/style.css\">{MATHJAX_CONFIG}<script src=\"assets/tex-svg.js\"></script>\
         <script src=\"assets/plotly.min.js\"></script>"
    );
    let prov_html = format!(
        "<h2>Provenance</h2><table><tr><th>commit</th><td><code>{}</code></td></tr>\
         <tr><th>config hash</th><td><code>{}</code></td></tr><tr><th>seeds</th><td>{}</td></tr>\
         <tr><th>built</th><td>{}</td></tr><tr><th>machine</th><td>{}</td></tr></table>",
        html_escape(&prov.commit),
        prov.config_hash,
        prov.seeds
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        prov.date,
        html_escape(&prov.machine)
    );
    // The equations page, generated from docs/equations.md with links to the executed notebooks.
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Equations — report</title>{head}</head><body>\
         <p><a href=\"index.html\">← report</a></p><h1>Equations</h1><p>Each equation of the paper's theory and each figure \
         with the Rust item that computes it, the notebook that derives it and checks it against numerics, and the test that \
         guards it in CI (generated from <code>docs/equations.md</code>).</p>{}{prov_html}</body></html>",
        equations_page_table(&notebooks)
    );
    atomic::write(&root.join("equations.html"), page.as_bytes())?;
    // Provenance on every notebook page too.
    for n in &notebooks {
        let path = root.join("notebooks").join(n);
        let text = std::fs::read_to_string(&path)?;
        let footer = format!(
            "<div class=\"report-provenance\" style=\"margin:2em;font-size:0.85em\"><p><a href=\"../index.html\">← report</a> · \
             <a href=\"../equations.html\">equations</a></p>{prov_html}</div>"
        );
        let text = match text.rfind("</body>") {
            Some(i) => format!("{}{footer}{}", &text[..i], &text[i..]),
            None => text + &footer,
        };
        atomic::write(&path, text.as_bytes())?;
    }
    if !crate::report_fwi::performance_page(
        &root,
        inputs.performance.as_deref(),
        &head,
        &prov_html,
    )? {
        // Keep the navigation link honest when no measurements were supplied.
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Performance — report</title>{head}</head><body>\
             <p><a href=\"index.html\">← report</a></p><h1>Performance</h1><p>No measurements were supplied to this build: \
             <code>cargo xtask report</code> measures the Helmholtz solver and the SciPy baseline side by side.</p>{prov_html}</body></html>"
        );
        atomic::write(&root.join("performance.html"), page.as_bytes())?;
    }
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Memorization in learned priors — report</title>\
         {head}</head><body>{body}</body></html>"
    );
    atomic::write(&root.join("index.html"), page.as_bytes())?;
    atomic::write(
        &root.join("provenance.json"),
        serde_json::to_string_pretty(&prov)?.as_bytes(),
    )?;
    staging.commit()?;
    eprintln!("report: wrote {}/index.html", inputs.out.display());
    for (k, v) in &prov.timings {
        eprintln!("  {k:<40} {v:8.2} s");
    }
    Ok(())
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
        let readme = include_str!("../../../README.md");
        let section = &readme[readme
            .find("## Differences from the authors' code")
            .unwrap()..];
        let section = &section[..section.find("\n## ").unwrap()];
        let rows = section.lines().filter(|l| l.starts_with('|')).count() - 1;
        assert_eq!(html.matches("<tr>").count(), rows);
        assert!(!html.contains("## Report"));
    }
}
