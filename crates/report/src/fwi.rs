//! Report parts of the FWI forward model: the true model and a wavefield on the small grid
//! (index section, from `memprior helmholtz example`'s directory), and the measured tables of the
//! performance page.

use crate::page::{Figure, FigureProvenance, NotebookRef, PerformanceSection, Table};
use anyhow::{Context, Result};
use experiments::fwi::{DatasetConfig, figures};
use experiments::memprior_core::npy::{self, Dtype};
use experiments::operators::helmholtz::Geometry;
use experiments::plotly::common::ColorScalePalette;
use memprior_core::atomic;
use std::path::Path;

fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {}: run `memprior helmholtz example --out DIR`",
            path.display()
        )
    })?;
    let a = npy::decode(&bytes, Dtype::F64).with_context(|| path.display().to_string())?;
    Ok((a.shape, a.data))
}

/// The FWI forward-model section of the index, drawn from what `memprior helmholtz example`
/// wrote into `dir`, without a solve.
///
/// # Errors
/// A missing or unreadable file in `dir`.
pub fn section(dir: &Path, notebooks: &[String]) -> Result<String> {
    let geometry = Geometry::from_toml(&std::fs::read_to_string(dir.join("geometry_small.toml"))?)?;
    let config: DatasetConfig =
        toml::from_str(&std::fs::read_to_string(dir.join("datasets.toml"))?)?;
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("true_model.json"))?)?;
    let distance = truth["distance_to_training"].as_f64().unwrap_or(f64::NAN);
    let (m_shape, m) = read_npy(&dir.join("true_model_slowness2_small.npy"))?;
    if m_shape != [geometry.nx, geometry.nz] {
        anyhow::bail!(
            "true_model_slowness2_small.npy in {}: shape {m_shape:?}, but geometry_small.toml says ({}, {}); rerun `memprior helmholtz example --out {}`",
            dir.display(),
            geometry.nx,
            geometry.nz,
            dir.display()
        );
    }
    let (shape, re_u) = read_npy(&dir.join("wavefield_re_source3_small.npy"))?;
    let [nxp, nzp] = shape[..] else {
        anyhow::bail!("wavefield_re_source3_small.npy: shape {shape:?}, expected 2-D");
    };
    let peak = re_u.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let clipped: Vec<f64> = re_u
        .iter()
        .map(|v| v.clamp(-0.3 * peak, 0.3 * peak))
        .collect();
    let nb = NotebookRef::new("05_helmholtz_adjoint", notebooks);
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
    let nb_html = if nb.executed {
        "<a href=\"notebooks/05_helmholtz_adjoint.html\">05_helmholtz_adjoint</a>"
    } else {
        "05_helmholtz_adjoint (not executed in this build)"
    };
    let figure = Figure {
        id: "fwi-true-model".into(),
        title: "The out-of-distribution true model and a wavefield".into(),
        plots: format!(
            "<div class=\"pair\">{}{}</div>",
            true_plot.to_inline_html(Some("plot-fwi-true-model")),
            wave_plot.to_inline_html(Some("plot-fwi-wavefield"))
        ),
        caption: format!(
            "Left: the true model of FWI.md §5 (the candidate among {} rough GRF draws, α = 1.5, τ = 1, farthest in \
             KL coefficients from the first {} training fields; distance {distance:.3}), reconstructed from its 100 KL \
             coefficients on the small grid (64², h = 31.25 m). Right: real part of the 4 Hz wavefield of the middle \
             source on the padded grid; the outer 10 cells are the PML, where the wave decays without returning.",
            config.n_candidates, config.true_model_reference,
        ),
        provenance: FigureProvenance {
            commands: vec![
                "memprior helmholtz model --preset small --kind true --out V.npy".into(),
                "memprior helmholtz forward --preset small --model V.npy --out D.npy".into(),
            ],
            notebook: Some(nb),
            seeds: vec![
                ("training".into(), config.seed_train),
                ("null".into(), config.seed_null),
                ("true-model candidates".into(), config.seed_true),
            ],
            data: [
                "true_model_velocity_small.npy",
                "true_model_kl.npy",
                "true_data_small.npy",
                "geometry_small.toml",
            ]
            .iter()
            .map(|f| format!("data/fwi/{f}"))
            .collect(),
            ..Default::default()
        },
    };
    Ok(format!(
        "<h2 id=\"fwi\">FWI forward model</h2>\
         <p>Frequency-domain Helmholtz data $d_{{s,r}} = (P A(m)^{{-1}} b_s)_r$ with a PML (FWI.md §3) and its adjoint-state \
         gradient, verified by dot-product, Taylor, finite-difference and Green's-function tests in {nb_html}. \
         Speed against the authors' SciPy path: <a href=\"performance.html\">performance page</a>.</p>{}",
        figure.render()?
    ))
}

/// The machine the performance measurements in `perf` were taken on (`machine.txt`), if recorded.
pub fn machine(perf: &Path) -> Option<String> {
    std::fs::read_to_string(perf.join("machine.txt"))
        .ok()
        .map(|m| m.trim().to_string())
}

/// The measured tables of the performance page, from the files in `perf` (written by `cargo xtask
/// report`): `helmholtz_scipy.csv` and `helmholtz_solvers_<preset>.csv`, each copied to
/// `data/performance/`. Empty when the directory holds none of them.
///
/// # Errors
/// A measurement file that cannot be read, or a copy that cannot be written.
pub fn performance(root: &Path, perf: &Path) -> Result<Vec<PerformanceSection>> {
    let read = |name: &str| -> Result<Option<Table>> {
        let p = perf.join(name);
        if !p.is_file() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        atomic::write(&root.join("data/performance").join(name), text.as_bytes())?;
        Ok(Some(Table::from_csv(&text)))
    };
    let mut sections = Vec::new();
    if let Some(table) = read("helmholtz_scipy.csv")? {
        sections.push(PerformanceSection {
            id: "scipy".into(),
            title: "Whole command against the authors' SciPy path".into(),
            text: "<code>memprior helmholtz gradient</code> (one sparse factorisation per model, all sources as one block \
             right-hand side, adjoint solves from the same factors) against <code>tools/scipy_helmholtz.py gradient</code>: \
             the same discretisation computed as the paper's authors did — SuperLU of $A$ and a second SuperLU of $A^H$, one \
             right-hand side per solve. Both commands read the same <code>.npy</code> model and data and write the gradient; \
             they alternate, and the medians are reported. <em>command</em> times are wall clock of the whole process \
             (start-up, reading, writing); <em>gradient</em> times are what each program reports for the computation alone. \
             <em>rust_per_model_gradient_s</em> is the gradient per model with the setup (ordering, symbolic analysis) amortized, as in DPS, from <code>memprior helmholtz bench --solver S</code> run in the same alternation, and <em>per_model_speedup</em> sets the SciPy gradient against it. The two gradients agree to the last column.".into(),
            table,
        });
    }
    for preset in ["small", "paper"] {
        if let Some(table) = read(&format!("helmholtz_solvers_{preset}.csv"))? {
            sections.push(PerformanceSection {
                id: format!("solvers-{preset}"),
                title: format!("Factorisations, {preset} geometry"),
                text: format!(
                    "<code>memprior helmholtz bench --preset {preset}</code>: faer's sparse LU of $A$ (COLAMD column ordering); \
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
                 unpruned block solves. The solvers alternate within each repeat."
                ),
                table,
            });
        }
    }
    Ok(sections)
}
