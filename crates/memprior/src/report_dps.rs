//! Report section of the FWI posterior experiment: Figures 2–5 and Table 1, with the exact
//! references (lookup weights, linearised mixture) beside the DPS samples.

use crate::fwi::write_outputs;
use crate::prior::cache_dir;
use anyhow::Result;
use experiments::analysis::effective_components as effective_count;
use experiments::fwi::bundle;
use experiments::fwi::dps::{self, DpsConfig, DpsResults, Variant};
use experiments::fwi::figures::{self, Scale, Series};
use experiments::fwi::prior::PriorKind;
use experiments::operators::helmholtz::Geometry;
use experiments::plotly::common::ColorScalePalette;
use std::fmt::Write as _;
use std::path::Path;

/// The section's HTML and what goes into the provenance.
pub struct DpsSection {
    /// The HTML.
    pub html: String,
    /// Seeds.
    pub seeds: Vec<(String, u64)>,
}

pub(crate) fn table_html(r: &DpsResults) -> String {
    let mut html = String::from(
        "<table><tr><th>prior</th><th>DPS</th><th>N</th><th>samples</th><th>mean r</th><th>r ≤ 0.3 / 0.5 / 0.7</th>\
         <th>null: r ≤ 0.3 / 0.5 / 0.7</th><th>distinct NN</th><th>velocity RMSE (km/s)</th><th>final misfit Φ</th>\
         <th>most visited model: visits · lookup weight</th><th>TV(visits, lookup)</th></tr>",
    );
    for t in r.table() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.2} / {:.2} / {:.2}</td>\
             <td>{:.2} / {:.2} / {:.2}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td><td>#{}: {:.2} · {:.2e}</td><td>{:.2}</td></tr>",
            t.prior,
            t.variant,
            t.n_train,
            t.samples,
            t.mean_r,
            t.frac[0],
            t.frac[1],
            t.frac[2],
            t.null_frac[0],
            t.null_frac[1],
            t.null_frac[2],
            t.unique_nn,
            t.rmse_velocity,
            t.final_misfit,
            t.most_visited,
            t.most_visited_frac,
            t.most_visited_lookup,
            t.tv_to_lookup
        );
    }
    html.push_str("</table>");
    html
}

fn reference_table(r: &DpsResults) -> String {
    let mut html = String::from(
        "<table><tr><th>N</th><th>reference</th><th>σ (z̃)</th><th>effective components</th><th>top model · weight</th>\
         <th>TV to lookup</th><th>mean posterior std (raw z)</th></tr>",
    );
    for rf in &r.references {
        let (top, w) = argmax(&rf.lookup);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>lookup (E2, exact for the memorized prior)</td><td>→ 0</td><td>{:.2}</td><td>#{top} · {w:.3}</td><td>0</td><td>0</td></tr>",
            rf.n,
            effective_count(&rf.lookup)
        );
        for l in &rf.linearized {
            let (top, w) = argmax(&l.weights);
            let _ = write!(
                html,
                "<tr><td>{}</td><td>linearized, {} weights</td><td>{}</td><td>{:.2}</td><td>#{top} · {w:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                rf.n,
                l.weighting.name(),
                l.sigma,
                effective_count(&l.weights),
                l.tv_to_lookup,
                l.std_raw.iter().sum::<f64>() / l.std_raw.len() as f64
            );
        }
    }
    html.push_str("</table>");
    html
}

/// The section's reading, with the numbers of this run.
pub(crate) fn findings(r: &DpsResults) -> String {
    let rows = r.table();
    let row = |prior: &str, n: usize| {
        rows.iter()
            .find(|t| t.prior == prior && t.variant == "paper" && t.n_train == n)
    };
    let mut trend = Vec::new();
    let mut pairs = Vec::new();
    for &n in &r.config.prior.n_values {
        if let (Some(t), Some(rf)) = (row("learned", n), r.reference(n)) {
            trend.push(format!(
                "{:.3} against the null's {:.3} (N = {n})",
                t.mean_r, rf.null.mean_r
            ));
            pairs.push((n, t.mean_r, rf.null.mean_r));
        }
    }
    let n0 = *r.config.prior.n_values.iter().min().expect("validated");
    let mut html = String::from("<div class=\"findings\"><h3>What this run shows</h3><ul>");
    if !pairs.is_empty() {
        let mut sorted = pairs.clone();
        sorted.sort_by_key(|p| p.0);
        let grows = sorted.len() >= 2
            && sorted.windows(2).all(|w| w[0].1 < w[1].1)
            && sorted[0].1 < sorted[0].2;
        let _ = write!(
            html,
            "<li>Mean memorization ratio of the learned prior's DPS samples: {}{}</li>",
            trend.join("; "),
            if grows {
                " — the samples sit closer to training models as N shrinks, and below the null at the smallest N."
            } else {
                " — no monotone trend with N in this run."
            }
        );
    }
    let ratios: Vec<String> = r
        .groups
        .iter()
        .filter(|g| g.kind == PriorKind::Learned && g.variant == Variant::Paper)
        .map(|g| {
            // Equal-count bins: the mean over bins is the mean over coefficients.
            let (s, e) = g
                .calibration_kl
                .iter()
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            format!("{:.1} (N = {})", e / s, g.n)
        })
        .collect();
    if !ratios.is_empty() {
        let _ = write!(
            html,
            "<li>Calibration in KL coefficients (Figure 5): mean |posterior mean − truth| over mean posterior std, learned \
             prior: {} — 1 for a calibrated posterior; above 1 the posterior is over-confident.</li>",
            ratios.join(", ")
        );
    }
    let eff: Vec<String> = r
        .references
        .iter()
        .map(|rf| format!("{:.2}", effective_count(&rf.lookup)))
        .collect();
    let _ = write!(
        html,
        "<li>Effective number of components of the exact posterior under the memorized prior (lookup weights): {} \
         (1 = collapsed onto one training model).</li>",
        eff.join(", ")
    );
    if let Some(t) = row("memorized", n0) {
        let _ = write!(
            html,
            "<li>DPS with the memorized prior (N = {n0}): mean r {:.3}{}, nearest neighbours spread over {} distinct \
             models; the most visited one has lookup weight {:.1e}, and the total variation between visit frequencies and \
             lookup weights is {:.2}{}</li>",
            t.mean_r,
            if t.mean_r < 0.3 {
                " (the samples end on training models)"
            } else {
                ""
            },
            t.unique_nn,
            t.most_visited_lookup,
            t.tv_to_lookup,
            if t.tv_to_lookup > 0.5 {
                ": DPS does not find the training model the data favour. Its normalised fixed-length step commits \
                 early and cannot cross between training models (notebook 07 shows the step window in which it can)."
            } else {
                "."
            }
        );
    }
    html.push_str("</ul></div>");
    html
}

fn argmax(w: &[f64]) -> (usize, f64) {
    w.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or((0, 0.0), |(i, v)| (i, *v))
}

fn velocity_to_m(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| 1.0 / (x * x)).collect()
}

/// Figures 2–5 and the reference comparison of `r`; every element id starts with `prefix`, so
/// two runs (the default and the paper-scale one) share a page.
pub(crate) fn figures_html(r: &DpsResults, g: &Geometry, prefix: &str) -> Result<String> {
    let kl = &r.datasets.kl;
    let ns = &r.config.prior.n_values;
    let n0 = *ns.iter().min().expect("validated");
    let mut html = String::new();
    // Figure 2.
    let m_true = kl.reconstruct(&r.datasets.truth, g.nx, g.nz)?;
    let truth = figures::velocity_image(&m_true, g.nx, g.nz, g.h, "True model (velocity, km/s)");
    let last = experiments::memprior_core::diffusion::NoiseSchedule::paper().steps() - 1;
    let steps: Vec<f64> = r.levels.iter().map(|t| (last - t) as f64).collect();
    let mut misfit_plots = String::new();
    for variant in Variant::EVERY {
        let mut curves = Vec::new();
        for grp in r.groups.iter().filter(|g| g.variant == variant) {
            curves.push(Series::line(
                format!("{} / N = {}", grp.kind.name(), grp.n),
                steps.clone(),
                grp.mean_trace.clone(),
            ));
        }
        if curves.is_empty() {
            continue;
        }
        curves.push(Series::reference(
            "true model",
            vec![steps[0], *steps.last().expect("levels")],
            vec![r.truth_misfit; 2],
        ));
        let title = match variant {
            Variant::Paper => "Mean misfit Φ(x̂₀), the paper's DPS variant",
            Variant::Chung => "Mean misfit Φ(x̂₀), Chung et al.'s DPS",
            Variant::PaperAuthors => {
                "Mean misfit Φ(x̂₀) before each step over the first 4 samples, the paper's variant as the authors run it"
            }
        };
        let p = figures::series_plot(
            curves,
            title,
            "reverse step",
            "Φ",
            Scale::Linear,
            Scale::Log,
        );
        misfit_plots.push_str(&p.to_inline_html(Some(&format!(
            "{prefix}plot-fig2-misfit-{}",
            variant.name()
        ))));
    }
    let _ = write!(
        html,
        "<figure id=\"{prefix}fig2\"><h3>Figure 2: the true model and the data misfit during DPS</h3>{}{misfit_plots}\
         <figcaption>(a) The out-of-distribution true model (FWI.md §5) on the simulation grid. (b) Mean misfit \
         Φ = ½‖F(m(x̂₀)) − d‖²/σ_d² of the denoised estimate, recorded every {} reverse steps, for each prior and N, one \
         panel per DPS variant. The dashed line is Φ of the true model ({:.0}; about {} real data / 2 at the noise level).</figcaption></figure>",
        truth.to_inline_html(Some(&format!("{prefix}plot-fig2-truth"))),
        r.config.record_every,
        r.truth_misfit,
        r.data_count
    );
    // Figure 3 (right).
    let mut pairs = String::new();
    let mut shown_r: Vec<String> = Vec::new();
    if let Some(grp) = r.group(PriorKind::Learned, Variant::Paper, n0) {
        for (rank, i) in r
            .most_memorized(PriorKind::Learned, Variant::Paper, n0, 3)
            .into_iter()
            .enumerate()
        {
            let nb = grp.neighbours[i];
            shown_r.push(format!("{:.3}", nb.r));
            let a = figures::velocity_image(
                &kl.reconstruct(&grp.samples[i], g.nx, g.nz)?,
                g.nx,
                g.nz,
                g.h,
                &format!("posterior sample {i}: r = {:.3}", nb.r),
            );
            let b = figures::velocity_image(
                &kl.reconstruct(&r.datasets.train[nb.nearest], g.nx, g.nz)?,
                g.nx,
                g.nz,
                g.h,
                &format!("nearest training model {}", nb.nearest),
            );
            let _ = write!(
                pairs,
                "<div class=\"pair\">{}{}</div>",
                a.to_inline_html(Some(&format!("{prefix}plot-fig3r-sample-{rank}"))),
                b.to_inline_html(Some(&format!("{prefix}plot-fig3r-nearest-{rank}")))
            );
        }
    }
    let _ = write!(
        html,
        "<figure id=\"{prefix}fig3-right\"><h3>Figure 3 (right): the most memorized posterior samples, N = {n0}</h3>{pairs}\
         <figcaption>The three DPS posterior samples (learned prior, paper's variant) with the smallest memorization ratio \
         and distinct nearest training models, beside those models. Measured here: r = {}; the paper reports r ≈ 0.2–0.34 for \
         these: the memorized structure with likelihood-induced perturbations.</figcaption></figure>",
        if shown_r.is_empty() {
            "— (no learned-prior samples in this run)".to_string()
        } else {
            shown_r.join(", ")
        }
    );
    // Figure 4.
    let mut fig4 = String::new();
    for &n in ns {
        let Some(grp) = r.group(PriorKind::Learned, Variant::Paper, n) else {
            continue;
        };
        let mean = figures::velocity_image(
            &velocity_to_m(&grp.velocity_mean),
            g.nx,
            g.nz,
            g.h,
            &format!("posterior mean, N = {n}"),
        );
        let std = figures::field_image(
            &grp.velocity_std,
            g.nx,
            g.nz,
            g.h,
            &format!("pointwise std (km/s), N = {n}"),
            ColorScalePalette::Viridis,
            None,
        );
        let mut pts = vec![Series::points(
            format!("training (N = {n})"),
            r.datasets.train[..n].iter().map(|z| z[0]).collect(),
            r.datasets.train[..n].iter().map(|z| z[1]).collect(),
        )];
        for kind in [
            PriorKind::Learned,
            PriorKind::Memorized,
            PriorKind::Gaussian,
        ] {
            if let Some(s) = r.group(kind, Variant::Paper, n) {
                pts.push(Series::points(
                    format!("DPS samples, {}", kind.name()),
                    s.samples.iter().map(|z| z[0]).collect(),
                    s.samples.iter().map(|z| z[1]).collect(),
                ));
            }
        }
        pts.push(Series::highlight(
            "true model",
            vec![r.datasets.truth[0]],
            vec![r.datasets.truth[1]],
        ));
        let scatter = figures::series_plot(
            pts,
            &format!("First two KL coefficients, N = {n}"),
            "z₁",
            "z₂",
            Scale::Linear,
            Scale::Linear,
        );
        let _ = write!(
            fig4,
            "<div class=\"pair\">{}{}</div>{}",
            mean.to_inline_html(Some(&format!("{prefix}plot-fig4-mean-{n}"))),
            std.to_inline_html(Some(&format!("{prefix}plot-fig4-std-{n}"))),
            scatter.to_inline_html(Some(&format!("{prefix}plot-fig4-kl-{n}")))
        );
    }
    let _ = write!(
        html,
        "<figure id=\"{prefix}fig4\"><h3>Figure 4: posterior mean, pointwise standard deviation and the first two KL coefficients</h3>{fig4}\
         <figcaption>Learned prior, the paper's DPS variant, {} samples per N. Below each pair: the first two KL coefficients of the \
         posterior samples of each prior, the N training models and the true model. Under memorization the samples sit on \
         the training models. Every KL mode is largest at the top and left edges and vanishes at the \
         bottom and right ones, so any spread of KL samples fades towards those edges.</figcaption></figure>",
        r.config.samples
    );
    // Figure 5.
    let mut fig5 = String::new();
    for (space, label) in [("kl", "KL coefficients"), ("velocity", "velocity (km/s)")] {
        let mut series = Vec::new();
        let mut hi: f64 = 0.0;
        for grp in r.groups.iter().filter(|x| x.variant == Variant::Paper) {
            let bins = if space == "kl" {
                &grp.calibration_kl
            } else {
                &grp.calibration_velocity
            };
            hi = bins.iter().fold(hi, |a, (s, e)| a.max(*s).max(*e));
            series.push(Series::line(
                format!("{} / N = {}", grp.kind.name(), grp.n),
                bins.iter().map(|b| b.0).collect(),
                bins.iter().map(|b| b.1).collect(),
            ));
        }
        series.push(Series::reference(
            "error = std",
            vec![0.0, hi],
            vec![0.0, hi],
        ));
        let p = figures::series_plot(
            series,
            &format!("Calibration in {label}"),
            "posterior std (bin mean)",
            "|posterior mean − truth| (bin mean)",
            Scale::Linear,
            Scale::Linear,
        );
        fig5.push_str(&p.to_inline_html(Some(&format!("{prefix}plot-fig5-{space}"))));
    }
    let _ = write!(
        html,
        "<figure id=\"{prefix}fig5\"><h3>Figure 5: calibration</h3>{fig5}\
         <figcaption>Pointwise error of the posterior mean against the posterior standard deviation, in {} equal-count \
         bins over the 100 KL coefficients (top) and {} over the velocity pixels (bottom), paper's variant (eq:calibration). \
         A calibrated posterior follows the dashed line; points above it are over-confident.</figcaption></figure>",
        r.config.calibration_bins_kl, r.config.calibration_bins_velocity
    );
    // References: visits against lookup weights, spread against Σ_n.
    let mut refs = String::new();
    for rf in &r.references {
        let (li, lw): (Vec<f64>, Vec<f64>) = rf
            .lookup
            .iter()
            .enumerate()
            .filter(|(_, w)| **w >= 1e-12)
            .map(|(i, w)| (i as f64, *w))
            .unzip();
        let mut series = vec![Series::points(
            "lookup weight ≥ 1e−12 (exact, memorized prior)",
            li,
            lw,
        )];
        for grp in r.groups.iter().filter(|x| x.n == rf.n) {
            let (idx, fr): (Vec<f64>, Vec<f64>) = grp
                .visits
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0)
                .map(|(i, v)| (i as f64, *v as f64 / grp.samples.len() as f64))
                .unzip();
            series.push(Series::points(
                format!("visits, {} / {}", grp.kind.name(), grp.variant.name()),
                idx,
                fr,
            ));
        }
        let p = figures::series_plot(
            series,
            &format!("Which training models the samples sit near, N = {}", rf.n),
            "training model",
            "visit fraction / lookup weight",
            Scale::Linear,
            Scale::Log,
        );
        refs.push_str(&p.to_inline_html(Some(&format!("{prefix}plot-visits-{}", rf.n))));
    }
    let mut spread = Vec::new();
    let ks: Vec<f64> = (0..kl.dim()).map(|k| k as f64).collect();
    if let Some(rf) = r.reference(n0) {
        for grp in r.groups.iter().filter(|x| x.n == n0) {
            spread.push(Series::line(
                format!("DPS, {} / {}", grp.kind.name(), grp.variant.name()),
                ks.clone(),
                grp.z_std.clone(),
            ));
        }
        for l in rf
            .linearized
            .iter()
            .filter(|l| l.weighting == experiments::samplers::Weighting::Evidence)
        {
            spread.push(Series::reference(
                format!("linearized mixture, σ = {}", l.sigma),
                ks.clone(),
                l.std_raw.clone(),
            ));
        }
    }
    let spread_plot = figures::series_plot(
        spread,
        &format!("Posterior spread per KL coefficient, N = {n0}"),
        "KL coefficient k",
        "std (raw z)",
        Scale::Linear,
        Scale::Log,
    );
    let _ = write!(
        html,
        "<figure id=\"{prefix}fwi-references\"><h3>DPS against the exact references</h3>{refs}{}\
         <figcaption>Top: for each N, the lookup weights $w_n = \\mathrm{{softmax}}_n(-\\Phi(z_n))$ — the exact posterior \
         under the memorized prior, N misfit evaluations (eq:lookup-table) — and the fraction of each DPS sample set whose \
         nearest training model is n. Bottom: the standard deviation of the DPS samples per KL coefficient against the \
         linearized Gaussian mixture around every training model (eq:linearized-posterior), built from the exact Jacobian \
         with respect to the 100 coefficients (one factorisation and one adjoint solve per receiver for each model), at bandwidths σ in z̃ units. \
         {}</figcaption></figure>",
        spread_plot.to_inline_html(Some(&format!("{prefix}plot-spread"))),
        reference_table(r)
    );
    Ok(html)
}

/// One row of `data/dps/variant_comparison_default.csv`.
struct VariantRow {
    prior: String,
    variant: String,
    n: usize,
    samples: f64,
    mean_r: f64,
    frac_le_0_5: f64,
    unique_nn: f64,
    tv: f64,
}

fn variant_rows(csv: &str) -> Result<Vec<VariantRow>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| anyhow::anyhow!("variant comparison: no column `{name}`"))
    };
    let (cp, cv, cn, cs, cr, cf, cu, ct) = (
        col("prior")?,
        col("variant")?,
        col("n_train")?,
        col("samples")?,
        col("mean_r")?,
        col("frac_r_le_0_5")?,
        col("unique_nn")?,
        col("tv_to_lookup")?,
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let get = |i: usize| {
                f.get(i)
                    .ok_or_else(|| anyhow::anyhow!("variant comparison: short row `{l}`"))
            };
            let num = |i: usize| -> Result<f64> { Ok(get(i)?.parse::<f64>()?) };
            Ok(VariantRow {
                prior: get(cp)?.to_string(),
                variant: get(cv)?.to_string(),
                n: get(cn)?.parse()?,
                samples: num(cs)?,
                mean_r: num(cr)?,
                frac_le_0_5: num(cf)?,
                unique_nn: num(cu)?,
                tv: num(ct)?,
            })
        })
        .collect()
}

/// The paper's DPS variant as we run it beside the authors' re-denoising (committed data of a
/// default-preset run, `data/dps/`): a bar plot of the fraction with r ≤ 0.5 with binomial error
/// bars, and the Table 1 terms with their difference in standard errors.
fn variant_comparison_html() -> Result<String> {
    use experiments::plotly::common::{ErrorData, ErrorType};
    use experiments::plotly::layout::{Axis, BarMode, Layout};
    use experiments::plotly::{Bar, Plot};
    // Committed data, compiled in (the report renders from a staging directory).
    const CSV: &str = include_str!("../../../data/dps/variant_comparison_default.csv");
    let rows = variant_rows(CSV)?;
    let pairs: Vec<(&VariantRow, &VariantRow)> = rows
        .iter()
        .filter(|a| a.variant == "paper")
        .filter_map(|a| {
            rows.iter()
                .find(|b| b.variant == "paper-authors" && b.prior == a.prior && b.n == a.n)
                .map(|b| (a, b))
        })
        .collect();
    let se = |r: &VariantRow| (r.frac_le_0_5 * (1.0 - r.frac_le_0_5) / r.samples).sqrt();
    let labels: Vec<String> = pairs
        .iter()
        .map(|(a, _)| format!("{} N = {}", a.prior, a.n))
        .collect();
    let mut plot = Plot::new();
    for (name, pick) in [
        ("ours (paper)", 0usize),
        ("the authors' (paper-authors)", 1),
    ] {
        let side: Vec<&VariantRow> = pairs
            .iter()
            .map(|p| if pick == 0 { p.0 } else { p.1 })
            .collect();
        plot.add_trace(
            Bar::new(labels.clone(), side.iter().map(|r| r.frac_le_0_5).collect())
                .name(name)
                .error_y(
                    ErrorData::new(ErrorType::Data).array(side.iter().map(|r| se(r)).collect()),
                ),
        );
    }
    plot.set_layout(
        Layout::new()
            .bar_mode(BarMode::Group)
            .title("Fraction of DPS samples with r ≤ 0.5: our re-denoising against the authors'")
            .y_axis(
                Axis::new()
                    .title("fraction with r ≤ 0.5")
                    .range(vec![0.0, 1.05]),
            )
            .height(340),
    );
    let mut table = String::from(
        "<table><tr><th>prior</th><th>N</th><th>mean r (ours / authors')</th><th>r ≤ 0.5 (ours / authors')</th>\
         <th>difference / se</th><th>distinct NN</th><th>TV to lookup</th></tr>",
    );
    for (a, b) in &pairs {
        let s = (se(a).powi(2) + se(b).powi(2)).sqrt();
        let z = if s > 0.0 {
            format!("{:+.1}", (a.frac_le_0_5 - b.frac_le_0_5) / s)
        } else {
            "— (both 0 or 1)".into()
        };
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{:.3} / {:.3}</td><td>{:.3} / {:.3}</td><td>{z}</td><td>{} / {}</td><td>{:.3} / {:.3}</td></tr>",
            a.prior,
            a.n,
            a.mean_r,
            b.mean_r,
            a.frac_le_0_5,
            b.frac_le_0_5,
            a.unique_nn,
            b.unique_nn,
            a.tv,
            b.tv
        );
    }
    table.push_str("</table>");
    Ok(format!(
        "<figure id=\"variant-comparison\"><h3>The paper's variant: our re-denoising against the authors'</h3>{}{table}\
         <figcaption>Both variants take the deterministic DDIM step and then a move of length ζ along the normalised misfit \
         gradient at a second denoising. Ours (<code>paper</code>, used by every figure and table above) denoises with the \
         network at the level the point has reached, t − 1, and returns the point itself at t = 0; the authors' script \
         (<code>paper-authors</code>) evaluates ε at the old level t with ᾱ of t − 1, also at t = 0. 32 samples per prior, \
         variant and N on the default preset; error bars and \"se\" are binomial standard errors of the fractions. The \
         memorized prior is unaffected (every sample on a training model either way); with the trained network the authors' \
         re-denoising gives more samples below r = 0.5 at N = 50 (1.3 standard errors of the difference: not significant at 32 \
         samples), fewer at N = 200 (1.0 se), \
         none either way at N = 1000. Ours stays the default because it is the denoiser of the level the point is at; the \
         difference does not change what the table shows. Data: <code>data/dps/variant_comparison_default.csv</code> (command \
         in <code>data/dps/README.md</code>).</figcaption></figure>",
        plot.to_inline_html(Some("plot-variant-comparison"))
    ))
}

/// The DPS experiment of a report, run before any section renders: its output directory (a
/// results bundle, [`experiments::fwi::bundle`]) and the stage times.
pub struct DpsRun {
    /// `memprior fwi`'s output directory: tables, `config.toml`, `references.json`, `samples/`.
    pub dir: std::path::PathBuf,
    /// (stage, seconds).
    pub timings: Vec<(String, f64)>,
}

/// Run the DPS experiment at `preset` into its kept work directory (the report's experiment
/// stage; [`section`] only reads the result).
///
/// Samples are kept between reports in a directory keyed by the sample format, the settings and
/// this very binary: the same binary with the same settings draws the same samples (every stream
/// is seeded), so a report with nothing changed reuses them, and an interrupted one resumes. A
/// rebuilt binary starts a new directory; the others are removed.
///
/// # Errors
/// An unknown preset, or a failed run.
pub fn run_experiment(preset: &str) -> Result<DpsRun> {
    let config = DpsConfig::preset(preset)?;
    let text = toml::to_string(&config)?;
    let binary = crate::provenance::binary_hash()?;
    let hash = crate::provenance::config_hash(&format!("{}\n{text}\n{binary}", dps::SAMPLE_FORMAT));
    let cache = cache_dir(None);
    let work_root = cache.parent().unwrap_or(Path::new(".")).join("fwi-work");
    let work = work_root.join(&hash[..16]);
    if let Ok(entries) = std::fs::read_dir(&work_root) {
        for e in entries.flatten() {
            if e.path() != work && e.path().is_dir() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = std::time::Instant::now();
    let log = |s: &str| eprintln!("fwi: {s}");
    let (results, stats) =
        match dps::run(&config, &work, dps::Selection::ALL, &cache, workers, &log) {
            // The work directory is the report's own scratch: samples it cannot adopt (other
            // weights, a corrupt file) are discarded and redrawn rather than failing the report.
            Err(dps::DpsError::State(why)) => {
                eprintln!("fwi: discarding {} ({why})", work.display());
                std::fs::remove_dir_all(&work)?;
                dps::run(&config, &work, dps::Selection::ALL, &cache, workers, &log)?
            }
            other => other?,
        };
    let r = results.expect("an unsharded run assembles its results");
    write_outputs(&r, &work)?;
    let total = t.elapsed().as_secs_f64();
    Ok(DpsRun {
        dir: work,
        timings: vec![
            (
                format!("DPS sampling ({} samples)", stats.drawn),
                stats.sampling_seconds,
            ),
            (
                "DPS references, analysis and outputs".into(),
                total - stats.sampling_seconds - stats.train_seconds,
            ),
        ],
    })
}

/// Copy a results directory's files (not its samples) into `out`, atomically each.
fn copy_outputs(results: &Path, out: &Path) -> Result<()> {
    fn walk(from: &Path, to: &Path) -> Result<()> {
        for e in std::fs::read_dir(from)?.flatten() {
            let (src, name) = (e.path(), e.file_name());
            if src.is_dir() {
                if name != "samples" {
                    walk(&src, &to.join(&name))?;
                }
            } else {
                crate::atomic::write(&to.join(&name), &std::fs::read(&src)?)?;
            }
        }
        Ok(())
    }
    walk(results, out)
}

/// Render the DPS section from the results directory `results` (written by `memprior fwi`, or
/// [`run_experiment`]) without running anything; its data files are copied to `data/fwi_dps/`.
///
/// # Errors
/// A results directory that does not read back ([`bundle::load`]).
pub fn section(root: &Path, notebook_present: bool, results: &Path) -> Result<DpsSection> {
    let r = bundle::load(results)?;
    let config = r.config.clone();
    let preset = config.preset.clone();
    let text = toml::to_string(&config)?;
    let out = root.join("data/fwi_dps");
    copy_outputs(results, &out)?;
    let g = config.geometry.clone();
    let nb = if notebook_present {
        "<a href=\"notebooks/07_dps_fwi.html\">07_dps_fwi</a>".to_string()
    } else {
        "07_dps_fwi (not executed in this build)".to_string()
    };
    let mut figs = figures_html(&r, &g, "")?;
    // Each figure's own provenance line: command and config, notebook, snapshot, data.
    let config_hash = &crate::provenance::config_hash(&text)[..16];
    for (id, data, snapshot) in [
        ("fig2", "misfit_curves.csv", "dps__misfit_curves_quick.snap"),
        ("fig3-right", "samples.csv", "dps__table1_quick.snap"),
        (
            "fig4",
            "kl_coefficients.csv, fields/velocity_{mean,std}_*.npy",
            "dps__table1_quick.snap",
        ),
        ("fig5", "calibration.csv", "dps__calibration_kl_quick.snap"),
        (
            "fwi-references",
            "lookup_weights.csv, visits.csv, linearized.csv, spread.csv",
            "dps__lookup_quick.snap",
        ),
    ] {
        let meta = format!(
            "<p class=\"meta\">Command: <code>memprior fwi --config data/fwi_dps/config.toml --out DIR</code> \
             (<a href=\"data/fwi_dps/config.toml\">config.toml</a>, hash <code>{config_hash}</code>; preset <code>{preset}</code>) · \
             Derived in: {nb} · Pinned by: <code>crates/experiments/tests/snapshots/{snapshot}</code> (quick preset) · \
             Data: <code>data/fwi_dps/{data}</code></p>"
        );
        let start = figs.find(&format!("id=\"{id}\"")).expect("figure present");
        let end = start + figs[start..].find("</figure>").expect("figure closed");
        figs.insert_str(end, &meta);
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
         the paper's 200² grid runs with <code>--preset paper</code>. Derived in {nb}.</p>{}{figs}\
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variant_comparison_renders_every_pair_of_the_committed_data() {
        let html = variant_comparison_html().unwrap();
        assert!(html.contains("id=\"variant-comparison\""));
        // learned and memorized at N = 50, 200, 1000.
        assert_eq!(html.matches("<tr><td>").count(), 6, "{html}");
        assert!(html.contains("<td>learned</td><td>50</td><td>0.533 / 0.496</td><td>0.375 / 0.531</td><td>-1.3</td>"), "{html}");
        let bad = variant_rows("prior,variant\nlearned,paper\n");
        assert!(bad.is_err());
    }
}
