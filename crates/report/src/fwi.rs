//! Report parts of the FWI forward model: the true model and a wavefield on the small grid
//! (index section), and the performance page of the Helmholtz solver (side-by-side timings).

use crate::atomic;
use anyhow::{Context, Result};
use experiments::fwi::{DatasetConfig, FwiDatasets, figures};
use experiments::memprior_core::npy::{self, Dtype};
use experiments::operators::helmholtz::{Geometry, GeometryPreset, Helmholtz};
use experiments::plotly::common::ColorScalePalette;
use experiments::priors::KlBasis;
use std::fmt::Write as _;
use std::path::Path;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The FWI forward model of the index section, computed into `dir` (the report's experiment
/// stage): the true model and one wavefield on the `small` geometry, with the data and the
/// settings the section's text quotes.
///
/// # Errors
/// A failed solve or a file that cannot be written.
pub fn run_experiment(dir: &Path) -> Result<()> {
    let kl = KlBasis::default();
    let config = DatasetConfig::default();
    let sets = FwiDatasets::generate(&config, &kl)?;
    let geometry = Geometry::preset(GeometryPreset::Small);
    let m = kl.reconstruct(&sets.truth, geometry.nx, geometry.nz)?;
    let op = Helmholtz::new(geometry.clone())?;
    let state = op.solve(&m)?;
    let (nxp, nzp) = op.padded_shape();
    let re_u: Vec<f64> = (0..nxp * nzp).map(|q| state.fields()[(q, 2)].re).collect();
    let v: Vec<f64> = m.iter().map(|x| 1.0 / x.sqrt()).collect();
    let npy = |name: &str, shape: &[usize], data: &[f64]| {
        atomic::write(&dir.join(name), &npy::encode(Dtype::F64, shape, data))
    };
    npy(
        "true_model_velocity_small.npy",
        &[geometry.nx, geometry.nz],
        &v,
    )?;
    npy(
        "true_model_slowness2_small.npy",
        &[geometry.nx, geometry.nz],
        &m,
    )?;
    npy("true_model_kl.npy", &[sets.truth.len()], &sets.truth)?;
    npy("wavefield_re_source3_small.npy", &[nxp, nzp], &re_u)?;
    atomic::write(
        &dir.join("geometry_small.toml"),
        geometry.to_toml().as_bytes(),
    )?;
    atomic::write(
        &dir.join("true_data_small.npy"),
        &crate::helmholtz::data_npy(&state.data()),
    )?;
    atomic::write(
        &dir.join("datasets.toml"),
        toml::to_string(&config)?.as_bytes(),
    )?;
    atomic::write(
        &dir.join("true_model.json"),
        serde_json::json!({ "distance_to_training": sets.truth_distance })
            .to_string()
            .as_bytes(),
    )?;
    Ok(())
}

fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {}: run the report's experiment stage",
            path.display()
        )
    })?;
    let a = npy::decode(&bytes, Dtype::F64).with_context(|| path.display().to_string())?;
    Ok((a.shape, a.data))
}

/// The FWI forward-model section of the index, drawn from what [`run_experiment`] wrote into
/// `dir` (the report's `data/fwi/`), without a solve.
///
/// # Errors
/// A missing or unreadable file in `dir`.
pub fn section(dir: &Path, notebook_present: bool) -> Result<String> {
    let geometry = Geometry::from_toml(&std::fs::read_to_string(dir.join("geometry_small.toml"))?)?;
    let config: DatasetConfig =
        toml::from_str(&std::fs::read_to_string(dir.join("datasets.toml"))?)?;
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("true_model.json"))?)?;
    let distance = truth["distance_to_training"].as_f64().unwrap_or(f64::NAN);
    let (_, m) = read_npy(&dir.join("true_model_slowness2_small.npy"))?;
    let (shape, re_u) = read_npy(&dir.join("wavefield_re_source3_small.npy"))?;
    let [nxp, nzp] = shape[..] else {
        anyhow::bail!("wavefield_re_source3_small.npy: shape {shape:?}, expected 2-D");
    };
    let peak = re_u.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let clipped: Vec<f64> = re_u
        .iter()
        .map(|v| v.clamp(-0.3 * peak, 0.3 * peak))
        .collect();
    let nb = if notebook_present {
        "<a href=\"notebooks/05_helmholtz_adjoint.html\">05_helmholtz_adjoint</a>".to_string()
    } else {
        "05_helmholtz_adjoint (not executed in this build)".to_string()
    };
    let true_plot = figures::velocity_image(
        &m,
        geometry.nx,
        geometry.nz,
        geometry.h,
        "True model (km/s)",
    );
    let wave_plot = figures::field_image(
        &clipped,
        nxp,
        nzp,
        geometry.h,
        "Re u, source 3, padded grid",
        ColorScalePalette::RdBu,
        Some(0.0),
    );
    let mut html = String::new();
    let _ = write!(
        html,
        "<h2 id=\"fwi\">FWI forward model</h2>\
         <p>Frequency-domain Helmholtz data $d_{{s,r}} = (P A(m)^{{-1}} b_s)_r$ with a PML (FWI.md §3) and its adjoint-state \
         gradient, verified by dot-product, Taylor, finite-difference and Green's-function tests in {nb}. \
         Speed against the authors' SciPy path: <a href=\"performance.html\">performance page</a>.</p>\
         <figure id=\"fwi-true-model\"><h3>The out-of-distribution true model and a wavefield</h3>{}{}\
         <figcaption>Left: the true model of FWI.md §5 (the candidate among {} rough GRF draws, α = 1.5, τ = 1, farthest in \
         KL coefficients from the first {} training fields; distance {:.3}), reconstructed from its 100 KL coefficients on the \
         small grid (64², h = 31.25 m). Right: real part of the 4 Hz wavefield of the middle source on the padded grid; the \
         outer 10 cells are the PML, where the wave decays without returning.</figcaption>\
         <p class=\"meta\">Command: <code>memprior helmholtz model --preset small --kind true --out V.npy</code>, then \
         <code>memprior helmholtz forward --preset small --model V.npy --out D.npy</code> · Seeds: training {}, null {}, \
         true-model candidates {} · Data: <a href=\"data/fwi/true_model_velocity_small.npy\">true_model_velocity_small.npy</a>, \
         <a href=\"data/fwi/true_model_kl.npy\">true_model_kl.npy</a>, <a href=\"data/fwi/true_data_small.npy\">true_data_small.npy</a>, \
         <a href=\"data/fwi/geometry_small.toml\">geometry_small.toml</a></p></figure>",
        true_plot.to_inline_html(Some("plot-fwi-true-model")),
        wave_plot.to_inline_html(Some("plot-fwi-wavefield")),
        config.n_candidates,
        config.true_model_reference,
        distance,
        config.seed_train,
        config.seed_null,
        config.seed_true,
    );
    Ok(html)
}

/// A CSV file (no quoting) as an HTML table.
fn csv_table(text: &str) -> String {
    let mut lines = text.lines();
    let mut html = String::from("<table><tr>");
    if let Some(h) = lines.next() {
        for c in h.split(',') {
            let _ = write!(html, "<th>{}</th>", escape(c));
        }
    }
    html.push_str("</tr>");
    for l in lines.filter(|l| !l.trim().is_empty()) {
        html.push_str("<tr>");
        for c in l.split(',') {
            let _ = write!(html, "<td>{}</td>", escape(c));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

/// The performance page from the measurements in `perf` (written by `cargo xtask report`):
/// `helmholtz_scipy.csv` and `helmholtz_solvers_<preset>.csv`. Copies them to
/// `data/performance/` and returns false when no measurements were supplied.
pub fn performance_page(
    root: &Path,
    perf: Option<&Path>,
    head: &str,
    provenance: &str,
) -> Result<bool> {
    let Some(perf) = perf else { return Ok(false) };
    let measured = std::fs::read_to_string(perf.join("machine.txt"))
        .map(|m| format!(" ({})", escape(m.trim())))
        .unwrap_or_default();
    let mut body = format!(
        "<p><a href=\"index.html\">← report</a></p><h1>Performance of the Helmholtz solver</h1>\
         <p>Every number on this page was measured with this report's memprior binary on the machine named below{measured}, \
         with the alternatives run side by side. A later report built with the same binary on the same machine reuses \
         these measurements (<code>MEMPRIOR_REMEASURE=1</code> measures again).</p>",
    );
    let read = |name: &str| -> Result<Option<String>> {
        let p = perf.join(name);
        if !p.is_file() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        atomic::write(&root.join("data/performance").join(name), text.as_bytes())?;
        Ok(Some(text))
    };
    let mut any = false;
    if let Some(text) = read("helmholtz_scipy.csv")? {
        any = true;
        let _ = write!(
            body,
            "<h2 id=\"scipy\">Whole command against the authors' SciPy path</h2>\
             <p><code>memprior helmholtz gradient</code> (one sparse factorisation per model, all sources as one block \
             right-hand side, adjoint solves from the same factors) against <code>tools/scipy_helmholtz.py gradient</code>: \
             the same discretisation computed as the paper's authors did — SuperLU of $A$ and a second SuperLU of $A^H$, one \
             right-hand side per solve. Both commands read the same <code>.npy</code> model and data and write the gradient; \
             they alternate, and the medians are reported. <em>command</em> times are wall clock of the whole process \
             (start-up, reading, writing); <em>gradient</em> times are what each program reports for the computation alone. \
             <em>rust_per_model_gradient_s</em> is the gradient per model with the setup (ordering, symbolic analysis) amortized, as in DPS, from <code>memprior helmholtz bench --solver S</code> run in the same alternation, and <em>per_model_speedup</em> sets the SciPy gradient against it. The two gradients agree to the last column.</p>{}",
            csv_table(&text)
        );
    }
    for preset in ["small", "paper"] {
        if let Some(text) = read(&format!("helmholtz_solvers_{preset}.csv"))? {
            any = true;
            let _ = write!(
                body,
                "<h2 id=\"solvers-{preset}\">Factorisations, {preset} geometry</h2>\
                 <p><code>memprior helmholtz bench --preset {preset}</code>: faer's sparse LU of $A$ (COLAMD column ordering); \
                 the $LBL^\\top$ factorisation (Bunch–Kaufman pivoting) of the real symmetric form of $SA$ under approximate \
                 minimum degree, the line nested dissection of the grid or METIS nested dissection; and the default, a \
                 supernodal complex-symmetric $LDL^\\top$ of $SA$ without pivoting (no conjugation), checked by the backward \
                 error of a probe solve (<em>probe_backward_error</em>) with the pivoted $LBL^\\top$ as fallback, under the same \
                 three orderings. <em>symbolic</em> (ordering and symbolic analysis, <em>ordering</em> the fill-reducing ordering \
                 alone) is computed once per geometry; <em>factorize</em> is the per-model numeric factorisation; \
                 <em>solve</em> and <em>adjoint_solve</em> one block solve of all sources and of all adjoint sources (the \
                 forward elimination skips the supernodes outside the elimination-tree reach of point sources and \
                 receivers); <em>forward</em> is factorisation and source solve; <em>gradient</em> adds the adjoint solve and \
                 the correlation — the per-model cost of a DPS step. Fill (<em>factor_reals</em>: stored reals of $L$; \
                 <em>l_entries</em>: complex entries of the $LDL^\\top$ factor, relaxed supernodes included) and flops are \
                 counted from the symbolic factorisation (faer does not expose its LU fill); <em>solve_gflop</em> counts two \
                 unpruned block solves. The solvers alternate within each repeat.</p>{}",
                csv_table(&text)
            );
        }
    }
    if !any {
        return Ok(false);
    }
    body.push_str(
        "<h2>Reproduce</h2><ul><li><code>just bench-scipy</code> — the whole-command comparison (needs the project venv)</li>\
         <li><code>memprior helmholtz bench --preset paper --out DIR</code> — the factorisation table</li>\
         <li><code>cargo bench -p memprior-bench</code> — criterion micro-benchmarks at 84², 140² and 260² padded grids</li></ul>",
    );
    body.push_str(provenance);
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Performance — report</title>{head}</head><body>{body}</body></html>"
    );
    atomic::write(&root.join("performance.html"), page.as_bytes())?;
    Ok(true)
}
