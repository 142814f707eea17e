//! Figures 2-5 and the reference comparison of a DPS run.

use super::*;
use crate::page::{Figure, FigureProvenance};

/// A figure of a DPS run; the caller attaches its provenance.
fn figure(id: String, title: &str, plots: String, caption: String) -> Figure {
    Figure {
        id,
        title: title.to_string(),
        plots,
        caption,
        provenance: FigureProvenance::default(),
    }
}

/// Figures 2–5 and the reference comparison of `r`, in that order, without provenance; every
/// element id starts with `prefix`, so two runs (the default and the paper-scale one) share a
/// page.
pub(crate) fn dps_figures(r: &DpsResults, g: &Geometry, prefix: &str) -> Result<Vec<Figure>> {
    let kl = &r.datasets.kl;
    let ns = &r.config.prior.n_values;
    let n0 = *ns.iter().min().expect("validated");
    let mut figs = Vec::new();
    // Figure 2.
    let m_true = kl.reconstruct(&r.datasets.truth, g.nx, g.nz)?;
    let truth = figures::velocity_image(&m_true, g.nx, g.nz, g.h, "True model (velocity, km/s)");
    let last = experiments::memprior_core::diffusion::NoiseSchedule::paper().steps() - 1;
    let steps: Vec<f64> = r.levels.iter().map(|t| (last - t) as f64).collect();
    let mut misfit_plots = String::new();
    for &variant in Variant::EVERY {
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
    figs.push(figure(
        format!("{prefix}fig2"),
        "Figure 2: the true model and the data misfit during DPS",
        format!("{}{}", truth.to_inline_html(Some(&format!("{prefix}plot-fig2-truth"))), misfit_plots),
        format!(
            "(a) The out-of-distribution true model (FWI.md §5) on the simulation grid. (b) Mean misfit \
         Φ = ½‖F(m(x̂₀)) − d‖²/σ_d² of the denoised estimate, recorded every {} reverse steps, for each prior and N, one \
         panel per DPS variant. The dashed line is Φ of the true model ({:.0}; about {} real data / 2 at the noise level).",
            r.config.record_every, r.truth_misfit, r.data_count
        ),
    ));
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
            pairs.push_str(&crate::sample_beside_nearest(
                kl,
                g,
                (
                    &grp.samples[i],
                    &format!("posterior sample {}: r = {:.3}", grp.index[i], nb.r),
                ),
                (&r.datasets.train[nb.nearest], nb.nearest),
                (&format!("{prefix}plot-fig3r"), rank),
            )?);
        }
    }
    figs.push(figure(
        format!("{prefix}fig3-right"),
        &format!("Figure 3 (right): the most memorized posterior samples, N = {n0}"),
        pairs,
        format!(
            "The three DPS posterior samples (learned prior, paper's variant) with the smallest memorization ratio \
         and distinct nearest training models, beside those models. Measured here: r = {}; the paper reports r ≈ 0.2–0.34 for \
         these: the memorized structure with likelihood-induced perturbations.",
            if shown_r.is_empty() {
            "— (no learned-prior samples in this run)".to_string()
        } else {
            shown_r.join(", ")
        }
        ),
    ));
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
    let diverged: usize = r
        .groups
        .iter()
        .filter(|g| g.kind == PriorKind::Learned && g.variant == Variant::Paper)
        .map(|g| g.diverged.len())
        .sum();
    let left_out = if diverged > 0 {
        format!(" ({diverged} trajectories that left the solver's domain are left out)")
    } else {
        String::new()
    };
    figs.push(figure(
        format!("{prefix}fig4"),
        "Figure 4: posterior mean, pointwise standard deviation and the first two KL coefficients",
        fig4,
        format!(
            "Learned prior, the paper's DPS variant, {} samples per N{left_out}. Below each pair: the first two KL coefficients of the \
         posterior samples of each prior, the N training models and the true model. Under memorization the samples sit on \
         the training models. Every KL mode is largest at the top and left edges and vanishes at the \
         bottom and right ones, so any spread of KL samples fades towards those edges.",
            r.config.samples
        ),
    ));
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
    figs.push(figure(
        format!("{prefix}fig5"),
        "Figure 5: calibration",
        fig5,
        format!(
            "Pointwise error of the posterior mean against the posterior standard deviation, in {} equal-count \
         bins over the 100 KL coefficients (top) and {} over the velocity pixels (bottom), paper's variant (eq:calibration). \
         A calibrated posterior follows the dashed line; points above it are over-confident.",
            r.config.calibration_bins_kl, r.config.calibration_bins_velocity
        ),
    ));
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
    figs.push(figure(
        format!("{prefix}fwi-references"),
        "DPS against the exact references",
        format!("{}{}", refs, spread_plot.to_inline_html(Some(&format!("{prefix}plot-spread")))),
        format!(
            "Top: for each N, the lookup weights $w_n = \\mathrm{{softmax}}_n(-\\Phi(z_n))$ — the exact posterior \
         under the memorized prior, N misfit evaluations (eq:lookup-table) — and the fraction of each DPS sample set whose \
         nearest training model is n. Bottom: the standard deviation of the DPS samples per KL coefficient against the \
         linearized Gaussian mixture around every training model (eq:linearized-posterior), built from the exact Jacobian \
         with respect to the 100 coefficients (one factorisation and one adjoint solve per receiver for each model), at bandwidths σ in z̃ units. \
         {}",
            reference_table(r)
        ),
    ));
    Ok(figs)
}
