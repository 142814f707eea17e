//! Table 1, the reference table and the findings of a DPS run, as HTML.

use super::*;

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
             <td>{:.2} / {:.2} / {:.2}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td><td>{}</td><td>{:.2}</td></tr>",
            t.prior,
            t.variant,
            t.n_train,
            if t.diverged > 0 {
                format!("{} (+ {} diverged)", t.samples, t.diverged)
            } else {
                t.samples.to_string()
            },
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
            if t.samples > 0 {
                format!(
                    "#{}: {:.2} · {:.2e}",
                    t.most_visited, t.most_visited_frac, t.most_visited_lookup
                )
            } else {
                // Every trajectory diverged: no sample visits any model.
                "—".to_string()
            },
            t.tv_to_lookup
        );
    }
    html.push_str("</table>");
    html
}

pub(super) fn reference_table(r: &DpsResults) -> String {
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

pub(super) fn argmax(w: &[f64]) -> (usize, f64) {
    w.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or((0, 0.0), |(i, v)| (i, *v))
}

pub(super) fn velocity_to_m(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| 1.0 / (x * x)).collect()
}
