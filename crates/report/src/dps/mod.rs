//! Report section of the FWI posterior experiment: Figures 2–5 and Table 1, with the exact
//! references (lookup weights, linearised mixture) beside the DPS samples.

use crate::page::{FigureProvenance, NotebookRef};
use anyhow::{Result, bail};
use experiments::analysis::effective_components as effective_count;
use experiments::fwi::bundle;
use experiments::fwi::dps::{DpsResults, Variant};
use experiments::fwi::figures::{self, Scale, Series};
use experiments::fwi::prior::PriorKind;
use experiments::operators::helmholtz::Geometry;
use experiments::plotly::common::ColorScalePalette;
use std::fmt::Write as _;
use std::path::Path;

mod plots;
mod tables;
mod variants;
pub(crate) use plots::dps_figures;
pub(crate) use tables::{findings, table_html};
use tables::{reference_table, velocity_to_m};
use variants::variant_comparison_html;

/// The section's HTML and what goes into the provenance.
pub struct DpsSection {
    /// The HTML.
    pub html: String,
    /// Seeds.
    pub seeds: Vec<(String, u64)>,
}

/// Render the DPS section from the results directory `results` (written by `memprior fwi`)
/// without running anything; its data files are copied to `data/fwi_dps/`.
///
/// # Errors
/// A results directory that does not read back ([`bundle::load`]).
pub fn section(root: &Path, notebooks: &[String], results: &Path) -> Result<DpsSection> {
    let r = bundle::load(results)?;
    let config = r.config.clone();
    let preset = config.preset.clone();
    let text = toml::to_string(&config)?;
    let out = root.join("data/fwi_dps");
    crate::copy_tree(results, &out, &["samples"])?;
    let g = config.geometry.clone();
    let nb = NotebookRef::new("07_dps_fwi", notebooks);
    let nb_html = if nb.executed {
        "<a href=\"notebooks/07_dps_fwi.html\">07_dps_fwi</a>"
    } else {
        "07_dps_fwi (not executed in this build)"
    };
    // Each figure's own provenance line: command and config, notebook, snapshot, data.
    let config_hash = crate::provenance::config_hash(&text);
    // Figure 4's fields: the posterior mean and std of the learned prior with the paper's variant,
    // per N, as .npy.
    let mut fields: Vec<String> = std::fs::read_dir(results.join("fields"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| {
                    n.starts_with("velocity_")
                        && n.contains("_learned-paper-n")
                        && n.ends_with(".npy")
                })
                .map(|n| format!("fields/{n}"))
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    let mut figs = String::new();
    for (mut fig, (id, data, snapshot)) in dps_figures(&r, &g, "")?.into_iter().zip([
        (
            "fig2",
            &["misfit_curves.csv"][..],
            "dps__misfit_curves_quick.snap",
        ),
        ("fig3-right", &["samples.csv"][..], "dps__table1_quick.snap"),
        (
            "fig4",
            &["kl_coefficients.csv"][..],
            "dps__table1_quick.snap",
        ),
        (
            "fig5",
            &["calibration.csv"][..],
            "dps__calibration_kl_quick.snap",
        ),
        (
            "fwi-references",
            &[
                "lookup_weights.csv",
                "visits.csv",
                "linearized.csv",
                "spread.csv",
            ][..],
            "dps__lookup_quick.snap",
        ),
    ]) {
        if fig.id != id {
            bail!(
                "the DPS figures came in another order: {} where {id} was expected",
                fig.id
            );
        }
        fig.provenance = FigureProvenance {
            commands: vec!["memprior fwi --config data/fwi_dps/config.toml --out DIR".into()],
            config_hash: Some(format!("{config_hash}, preset {preset}")),
            notebook: Some(NotebookRef::new("07_dps_fwi", notebooks)),
            snapshot: Some(format!(
                "crates/experiments/tests/snapshots/{snapshot} (quick preset)"
            )),
            data: std::iter::once("config.toml")
                .chain(data.iter().copied())
                .chain(fields.iter().map(String::as_str).filter(|_| id == "fig4"))
                .map(|f| format!("data/fwi_dps/{f}"))
                .collect(),
            ..Default::default()
        };
        figs.push_str(&fig.render()?);
    }
    let mut html = String::new();
    let _ = write!(
        html,
        "<h2 id=\"dps\">Posterior sampling for FWI (Figures 2–5, Table 1)</h2>\
         <p>Diffusion posterior sampling (eq:dps) of the KL coefficients given noisy Helmholtz data of the true model, for \
         priors trained on N = {ns:?} models. Two DPS variants: the paper's (deterministic DDIM step, a second denoising at \
         the updated point, then a move of fixed length ζ = {} along the normalised misfit gradient at x̂₀ — the denoiser's \
         Jacobian is dropped) and Chung et al.'s (ancestral DDPM step, gradient through the denoiser, step ζ' = {} times \
         ∇‖r̃‖²/‖r̃‖). Three priors: the trained network, the closed-form memorized denoiser and the Gaussian control. \
         Geometry of this build: {}² cells of {} m, {} Hz, {} sources, {} receivers, noise {} × max|d| (σ_d = {:.3e}); \
         the paper's 200² grid runs with <code>--preset paper</code>. Derived in {nb_html}.</p>{}{figs}\
         <div id=\"table1\"><h3>Table 1: memorization of the posterior samples</h3>{}\
         <p class=\"meta\">Null: r of {} held-out prior draws against the same training set. \"Most visited\": the training \
         model nearest to the most samples, the fraction of samples there and its exact lookup weight; TV: total variation \
         between visit frequencies and lookup weights (0 = DPS reproduces the exact memorized posterior).</p></div>\
         <p class=\"meta\">Command: <code>memprior fwi --preset {preset} --out DIR</code> (resumable; <code>--shard i/n</code> \
         then <code>--merge-only</code> for a job array) · Seeds: DPS {}, noise {} · Pinned by: \
         <code>crates/experiments/tests/snapshots/dps__table1_quick.snap</code>, <code>dps__misfit_curves_quick.snap</code>, \
         <code>dps__calibration_kl_quick.snap</code>, <code>dps__lookup_quick.snap</code> (quick preset) · Data: \
         <a href=\"data/fwi_dps/table1.csv\">table1.csv</a>, <a href=\"data/fwi_dps/table1_all.csv\">table1_all.csv</a>, \
         <a href=\"data/fwi_dps/lookup_weights.csv\">lookup_weights.csv</a>, <a href=\"data/fwi_dps/visits.csv\">visits.csv</a>, \
         <a href=\"data/fwi_dps/misfit_curves.csv\">misfit_curves.csv</a>, <a href=\"data/fwi_dps/calibration.csv\">calibration.csv</a>, \
         <a href=\"data/fwi_dps/linearized.csv\">linearized.csv</a>, <a href=\"data/fwi_dps/spread.csv\">spread.csv</a>, \
         <a href=\"data/fwi_dps/samples.csv\">samples.csv</a>, <a href=\"data/fwi_dps/kl_coefficients.csv\">kl_coefficients.csv</a>, \
         <a href=\"data/fwi_dps/config.toml\">config.toml</a></p>{}",
        config.zeta,
        config.zeta_chung,
        g.nx,
        g.h * 1000.0,
        g.freq,
        g.sources.len(),
        g.receivers.len(),
        config.noise_rel,
        r.sigma_d,
        findings(&r),
        table_html(&r),
        r.datasets.null.len(),
        config.seed,
        config.noise_seed,
        variant_comparison_html()?,
        ns = config.prior.n_values,
    );
    Ok(DpsSection {
        html,
        seeds: vec![
            ("fwi.dps_seed".into(), config.seed),
            ("fwi.noise_seed".into(), config.noise_seed),
        ],
    })
}
