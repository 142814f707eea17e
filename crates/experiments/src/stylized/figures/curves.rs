//! The σ sweep of effective components, the KDE panels, the σ slider and the linearisation error.

use super::*;

/// Effective number of posterior components exp(H(π)) against σ (log-log, σ decreasing to the
/// right), with y = N lines, σ_crit markers and the "typical σ_min" line.
pub fn effective_components(res: &StylizedResults, sigma_min_marker: f64) -> Plot {
    let mut plot = Plot::new();
    let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    ];
    let (mut smin, mut smax) = (f64::INFINITY, 0.0_f64);
    for (k, c) in res.sweep.iter().enumerate() {
        let color = palette[k % palette.len()];
        smin = smin.min(c.sigmas[0]);
        smax = smax.max(*c.sigmas.last().unwrap_or(&1.0));
        plot.add_trace(
            Scatter::new(round4(&c.sigmas), round4(&c.effective))
                .name(format!("N = {}", c.n_train))
                .mode(Mode::Lines)
                .line(Line::new().color(color).width(2.0))
                .legend_group(format!("n{}", c.n_train)),
        );
        plot.add_trace(
            Scatter::new(
                vec![c.sigmas[0], *c.sigmas.last().unwrap_or(&1.0)],
                vec![c.n_train as f64; 2],
            )
            .name(format!("y = {}", c.n_train))
            .mode(Mode::Lines)
            .line(Line::new().color(color).dash(DashType::Dot).width(1.0))
            .legend_group(format!("n{}", c.n_train))
            .show_legend(false),
        );
        // Markers on the curve (log-log interpolation) at σ_crit: filled with our δ, open with
        // the authors' nominal spacing.
        for (sigma, symbol, size, name) in [
            (c.sigma_crit, MarkerSymbol::Diamond, 10, "σ_crit"),
            (
                c.sigma_crit_nominal,
                MarkerSymbol::DiamondOpen,
                12,
                "σ_crit, nominal δ",
            ),
        ] {
            let e = interp_loglog(&c.sigmas, &c.effective, sigma);
            plot.add_trace(
                Scatter::new(vec![round_sig(sigma, 6)], vec![round_sig(e, 6)])
                    .name(format!("{name} (N = {})", c.n_train))
                    .mode(Mode::Markers)
                    .marker(Marker::new().symbol(symbol).size(size).color(color))
                    .legend_group(format!("n{}", c.n_train))
                    .show_legend(false),
            );
        }
    }
    let ymax = res.sweep.iter().map(|c| c.n_train).max().unwrap_or(1) as f64 * 1.5;
    plot.add_trace(
        Scatter::new(vec![sigma_min_marker; 2], vec![0.8, ymax])
            .name(format!("typical σ_min = {sigma_min_marker}"))
            .mode(Mode::Lines)
            .line(Line::new().color("black").dash(DashType::Dash).width(1.0)),
    );
    plot.set_layout(
        Layout::new()
            .height(450)
            .x_axis(
                Axis::new()
                    .type_(AxisType::Log)
                    .range(vec![smax.log10(), smin.log10()])
                    .title(Title::with_text("σ (prior bandwidth, decreasing →)")),
            )
            .y_axis(
                Axis::new()
                    .type_(AxisType::Log)
                    .title(Title::with_text("effective components exp H(π)")),
            ),
    );
    plot
}

pub(super) fn interp_loglog(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let lx = x.ln();
    for w in 0..xs.len().saturating_sub(1) {
        let (a, b) = (xs[w].ln(), xs[w + 1].ln());
        if lx >= a && lx <= b {
            let t = (lx - a) / (b - a);
            return ((1.0 - t) * ys[w].ln() + t * ys[w + 1].ln()).exp();
        }
    }
    if lx < xs[0].ln() {
        ys[0]
    } else {
        *ys.last().unwrap_or(&1.0)
    }
}

/// Kernel density estimates of shrinking subsets against the truth, and the empirical measure.
pub fn kde(res: &StylizedResults) -> Plot {
    let k = &res.kde;
    let mut plot = Plot::new();
    let doms = domains(k.panels.len() + 1, 0.03);
    let mut layout = Layout::new()
        .height(320)
        .margin(Margin::new().top(40).bottom(50).left(50).right(20));
    let mut notes = Vec::new();
    let grid = round4(&k.grid);
    for (i, p) in k.panels.iter().enumerate() {
        let (xa, ya) = (axis_name("x", i), axis_name("y", i));
        plot.add_trace(
            Scatter::new(grid.clone(), round4(&k.truth))
                .name("truth")
                .mode(Mode::Lines)
                .line(Line::new().color(PRIOR).dash(DashType::Dash))
                .show_legend(i == 0)
                .legend_group("truth")
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            filled_density(grid.clone(), round4(&p.density), "kernel density estimate")
                .show_legend(i == 0)
                .legend_group("kde")
                .x_axis(&xa)
                .y_axis(&ya),
        );
        layout = set_axes(
            layout,
            i,
            Axis::new().domain(&doms[i]).anchor(&ya),
            Axis::new().anchor(&xa),
        );
        notes.push(panel_title(
            &format!("N = {}, h = {:.3}", p.n, p.bandwidth),
            doms[i],
        ));
    }
    let i = k.panels.len();
    let (xa, ya) = (axis_name("x", i), axis_name("y", i));
    plot.add_trace(
        Scatter::new(grid, round4(&k.truth))
            .name("truth")
            .mode(Mode::Lines)
            .line(Line::new().color(PRIOR).dash(DashType::Dash))
            .show_legend(false)
            .legend_group("truth")
            .x_axis(&xa)
            .y_axis(&ya),
    );
    let (mut sx, mut sy) = (Vec::new(), Vec::new());
    for &x in &k.empirical_points {
        sx.extend([x, x, f64::NAN]);
        sy.extend([0.0, 1.0 / k.empirical_points.len() as f64, f64::NAN]);
    }
    plot.add_trace(
        Scatter::new(sx, sy)
            .name("empirical measure (spikes of mass 1/N)")
            .mode(Mode::Lines)
            .line(Line::new().color(POSTERIOR_LINE).width(3.0))
            .connect_gaps(false)
            .x_axis(&xa)
            .y_axis(&ya),
    );
    layout = set_axes(
        layout,
        i,
        Axis::new().domain(&doms[i]).anchor(&ya),
        Axis::new().anchor(&xa),
    );
    notes.push(panel_title(
        &format!("empirical measure, N = {}", k.empirical_points.len()),
        doms[i],
    ));
    plot.set_layout(layout.annotations(notes));
    plot
}

/// The 1-D posterior on a σ slider: the collapse seen continuously (beyond the paper).
pub fn sigma_slider(res: &StylizedResults) -> Plot {
    let mut plot = Plot::new();
    let n = res.slider.len();
    let start = n - 1;
    for (k, p) in res.slider.iter().enumerate() {
        let vis = if k == start {
            Visible::True
        } else {
            Visible::False
        };
        let x = round4(&p.grid);
        plot.add_trace(
            filled_density(x.clone(), round4(&p.exact), "exact posterior").visible(vis.clone()),
        );
        plot.add_trace(
            Scatter::new(x, round4(&p.linearized_evidence))
                .name("linearized (evidence)")
                .mode(Mode::Lines)
                .line(Line::new().color("black").dash(DashType::Dash).width(1.5))
                .visible(vis),
        );
    }
    let xs: Vec<f64> = res.slider[0].components.iter().map(|c| c.x_n).collect();
    plot.add_trace(markers(
        xs.clone(),
        vec![0.0; xs.len()],
        "training points",
        MarkerSymbol::X,
        9,
        "black",
        true,
        "x",
        "y",
    ));
    let steps: Vec<SliderStep> = res
        .slider
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let mut visible: Vec<bool> = (0..n).flat_map(|j| [j == k, j == k]).collect();
            visible.push(true);
            SliderStep::new()
                .label(format!("{:.3}", p.sigma))
                .method(SliderMethod::Restyle)
                .args(json!([{ "visible": visible }]))
        })
        .collect();
    let slider = Slider::new()
        .active(start as i32)
        .steps(steps)
        .current_value(SliderCurrentValue::new().prefix("σ = "))
        // Below the x-axis title, not on top of it.
        .y(-0.22)
        .y_anchor(plotly::common::Anchor::Top);
    plot.set_layout(
        Layout::new()
            .height(520)
            .margin(Margin::new().bottom(150))
            .x_axis(Axis::new().title(Title::with_text("x")))
            .y_axis(Axis::new().title(Title::with_text("posterior density")))
            .sliders(vec![slider]),
    );
    plot
}

/// Distance between the exact and the linearised posterior against σ on the slider's σ values.
pub fn linearization_error(res: &StylizedResults) -> Plot {
    let mut plot = Plot::new();
    for (weighting, dash) in [("evidence", DashType::Solid), ("quadratic", DashType::Dash)] {
        for (metric, color) in [("TV", "rgb(200,30,30)"), ("Hellinger", "rgb(40,90,200)")] {
            let rows: Vec<_> = res
                .distances
                .iter()
                .filter(|d| d.problem == "1d_slider" && d.weighting == weighting)
                .collect();
            let y: Vec<f64> = rows
                .iter()
                .map(|d| {
                    if metric == "TV" {
                        d.total_variation
                    } else {
                        d.hellinger
                    }
                })
                .collect();
            plot.add_trace(
                Scatter::new(
                    rows.iter()
                        .map(|d| round_sig(d.sigma, 6))
                        .collect::<Vec<_>>(),
                    round4(&y),
                )
                .name(format!("{metric}, {weighting} weights"))
                .mode(Mode::LinesMarkers)
                .line(Line::new().color(color).dash(dash.clone())),
            );
        }
    }
    plot.set_layout(
        Layout::new()
            .height(400)
            .x_axis(
                Axis::new()
                    .type_(AxisType::Log)
                    .title(Title::with_text("σ")),
            )
            .y_axis(
                Axis::new()
                    .type_(AxisType::Log)
                    .title(Title::with_text("distance(exact, linearized)")),
            ),
    );
    plot
}
