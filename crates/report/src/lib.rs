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

mod content;
use content::{
    MATHJAX_CONFIG, STYLE, differences_html, equations_html, equations_page_table, figures,
    html_escape,
};

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
