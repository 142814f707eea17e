//! Plotly figures of the stylized experiments, built from [`StylizedResults`] only, so that the
//! report and the notebooks draw exactly the same data.
//!
//! 2-D fields are thinned to at most 100 × 100 nodes and values rounded to 4 significant digits
//! before they go into a page: the figure is a picture of the data, the CSV and Parquet tables
//! hold the numbers.

use super::run::{Field2d, StylizedResults};
use super::summary::round_sig;
use plotly::common::{
    ColorScale, ColorScaleElement, DashType, Fill, Line, Marker, MarkerSymbol, Mode, Title, Visible,
};
use plotly::contour::{Coloring, Contours};
use plotly::layout::{
    Annotation, Axis, AxisType, Layout, Margin, Slider, SliderCurrentValue, SliderMethod,
    SliderStep,
};
use plotly::{Contour, Plot, Scatter};
use serde_json::json;

const POSTERIOR: &str = "rgba(200,30,30,0.35)";
const POSTERIOR_LINE: &str = "rgb(200,30,30)";
const PRIOR: &str = "rgb(120,120,120)";
const LIKELIHOOD: &str = "rgb(40,90,200)";

fn round4(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| round_sig(x, 4)).collect()
}

fn axis_name(prefix: &str, k: usize) -> String {
    if k == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}{}", k + 1)
    }
}

/// Horizontal domains of `n` side-by-side panels with a gap.
fn domains(n: usize, gap: f64) -> Vec<[f64; 2]> {
    let w = (1.0 - gap * (n - 1) as f64) / n as f64;
    (0..n)
        .map(|k| [k as f64 * (w + gap), k as f64 * (w + gap) + w])
        .collect()
}

fn panel_title(text: &str, domain: [f64; 2]) -> Annotation {
    Annotation::new()
        .text(text)
        .x_ref("paper")
        .y_ref("paper")
        .x(0.5 * (domain[0] + domain[1]))
        .y(1.0)
        .y_anchor(plotly::common::Anchor::Bottom)
        .show_arrow(false)
}

fn set_axes(mut layout: Layout, k: usize, x: Axis, y: Axis) -> Layout {
    layout = match k {
        0 => layout.x_axis(x).y_axis(y),
        1 => layout.x_axis2(x).y_axis2(y),
        2 => layout.x_axis3(x).y_axis3(y),
        3 => layout.x_axis4(x).y_axis4(y),
        4 => layout.x_axis5(x).y_axis5(y),
        5 => layout.x_axis6(x).y_axis6(y),
        _ => panic!("at most 6 panels per figure"),
    };
    layout
}

/// A filled density (the exact posterior, a KDE): red area under a thin red line.
fn filled_density(x: Vec<f64>, y: Vec<f64>, name: &str) -> Box<Scatter<f64, f64>> {
    Scatter::new(x, y)
        .name(name)
        .mode(Mode::Lines)
        .fill(Fill::ToZeroY)
        .fill_color(POSTERIOR)
        .line(Line::new().color(POSTERIOR_LINE).width(1.0))
}

/// A marker-only trace (training points, the truth) on axes `xa`/`ya`.
#[allow(clippy::too_many_arguments)]
fn markers(
    x: Vec<f64>,
    y: Vec<f64>,
    name: &str,
    symbol: MarkerSymbol,
    size: usize,
    color: &'static str,
    legend: bool,
    xa: &str,
    ya: &str,
) -> Box<Scatter<f64, f64>> {
    Scatter::new(x, y)
        .name(name)
        .mode(Mode::Markers)
        .marker(Marker::new().symbol(symbol).size(size).color(color))
        .legend_group(name)
        .show_legend(legend)
        .x_axis(xa)
        .y_axis(ya)
}

/// Figure 1, top row: prior, likelihood, exact posterior (filled), linearised mixture (dashed,
/// both weightings) and training points, one panel per σ.
pub fn figure1_top(res: &StylizedResults) -> Plot {
    let mut plot = Plot::new();
    let doms = domains(res.one_d.len(), 0.05);
    let mut layout = Layout::new()
        .height(380)
        .margin(Margin::new().top(40).bottom(50).left(50).right(20));
    let mut notes = Vec::new();
    for (k, p) in res.one_d.iter().enumerate() {
        let (xa, ya) = (axis_name("x", k), axis_name("y", k));
        let first = k == 0;
        let x = round4(&p.grid);
        plot.add_trace(
            filled_density(x.clone(), round4(&p.exact), "exact posterior")
                .legend_group("exact")
                .show_legend(first)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            Scatter::new(x.clone(), round4(&p.prior))
                .name("memorized prior")
                .mode(Mode::Lines)
                .line(Line::new().color(PRIOR).width(1.0))
                .legend_group("prior")
                .show_legend(first)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            Scatter::new(x.clone(), round4(&p.likelihood))
                .name("likelihood (normalised)")
                .mode(Mode::Lines)
                .line(Line::new().color(LIKELIHOOD).dash(DashType::Dot).width(1.5))
                .legend_group("lik")
                .show_legend(first)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            Scatter::new(x.clone(), round4(&p.linearized_evidence))
                .name("linearized (evidence)")
                .mode(Mode::Lines)
                .line(Line::new().color("black").dash(DashType::Dash).width(1.5))
                .legend_group("lin")
                .show_legend(first)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            Scatter::new(x, round4(&p.linearized_quadratic))
                .name("linearized (quadratic only)")
                .mode(Mode::Lines)
                .line(
                    Line::new()
                        .color("rgb(0,150,100)")
                        .dash(DashType::DashDot)
                        .width(1.0),
                )
                .legend_group("linq")
                .show_legend(first)
                .visible(Visible::LegendOnly)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        let xs: Vec<f64> = p.components.iter().map(|c| c.x_n).collect();
        plot.add_trace(markers(
            xs.clone(),
            vec![0.0; xs.len()],
            "training points",
            MarkerSymbol::X,
            9,
            "black",
            first,
            &xa,
            &ya,
        ));
        layout = set_axes(
            layout,
            k,
            Axis::new()
                .domain(&doms[k])
                .anchor(&ya)
                .title(Title::with_text("x")),
            Axis::new()
                .anchor(&xa)
                .title(Title::with_text(if first { "density" } else { "" })),
        );
        notes.push(panel_title(
            &format!("σ = {} (exp H(π) = {:.2})", p.sigma, p.effective_components),
            doms[k],
        ));
    }
    plot.set_layout(layout.annotations(notes));
    plot
}

/// Thin a field to at most `max` nodes per axis and round its values.
fn thin(f: &Field2d, max: usize) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let s1 = f.x1.len().div_ceil(max).max(1);
    let s2 = f.x2.len().div_ceil(max).max(1);
    let x1 = f.x1.iter().step_by(s1).map(|&v| round_sig(v, 6)).collect();
    let x2 = f.x2.iter().step_by(s2).map(|&v| round_sig(v, 6)).collect();
    let z =
        f.z.iter()
            .step_by(s2)
            .map(|row| row.iter().step_by(s1).map(|&v| round_sig(v, 4)).collect())
            .collect();
    (x1, x2, z)
}

fn filled(
    f: &Field2d,
    name: &str,
    xa: &str,
    ya: &str,
    legend: bool,
) -> Box<Contour<Vec<f64>, f64, f64>> {
    let (x1, x2, z) = thin(f, 100);
    Contour::new(x1, x2, z)
        .name(name)
        .color_scale(ColorScale::Vector(vec![
            ColorScaleElement(0.0, "rgb(255,255,255)".into()),
            ColorScaleElement(0.3, "rgb(252,174,145)".into()),
            ColorScaleElement(1.0, "rgb(165,15,21)".into()),
        ]))
        .contours(
            Contours::new()
                .coloring(Coloring::HeatMap)
                .show_lines(false),
        )
        .n_contours(20)
        .show_scale(false)
        .show_legend(legend)
        .x_axis(xa)
        .y_axis(ya)
}

#[allow(clippy::too_many_arguments)]
fn lines(
    f: &Field2d,
    name: &str,
    color: &'static str,
    dash: DashType,
    n: usize,
    xa: &str,
    ya: &str,
    legend: bool,
) -> Box<Contour<Vec<f64>, f64, f64>> {
    let (x1, x2, z) = thin(f, 100);
    Contour::new(x1, x2, z)
        .name(name)
        .contours(Contours::new().coloring(Coloring::None))
        .line(Line::new().color(color).dash(dash).width(1.0))
        .n_contours(n)
        .show_scale(false)
        .show_legend(legend)
        .x_axis(xa)
        .y_axis(ya)
}

/// Figure 1, bottom row: exact posterior (filled), linearised mixture (black contours), prior and
/// likelihood contours on the pentagon, one panel per σ, and a zoom around x_0 at the smallest σ.
pub fn figure1_bottom(res: &StylizedResults) -> Plot {
    two_d_figure(&res.two_d)
}

/// The same figure on the random 2-D training set.
pub fn figure1_bottom_random(res: &StylizedResults) -> Plot {
    two_d_figure(&res.two_d_random)
}

fn two_d_figure(panels: &[super::run::TwoDPanel]) -> Plot {
    let mut plot = Plot::new();
    let has_zoom = panels.iter().any(|p| p.zoom.is_some());
    let doms = domains(panels.len() + usize::from(has_zoom), 0.04);
    let mut layout = Layout::new()
        .height(400)
        .margin(Margin::new().top(40).bottom(50).left(50).right(20));
    let mut notes = Vec::new();
    for (k, p) in panels.iter().enumerate() {
        let (xa, ya) = (axis_name("x", k), axis_name("y", k));
        let first = k == 0;
        plot.add_trace(filled(&p.exact, "exact posterior", &xa, &ya, false));
        plot.add_trace(lines(
            &p.prior,
            "memorized prior",
            PRIOR,
            DashType::Solid,
            5,
            &xa,
            &ya,
            first,
        ));
        plot.add_trace(lines(
            &p.likelihood,
            "likelihood",
            LIKELIHOOD,
            DashType::Dot,
            5,
            &xa,
            &ya,
            first,
        ));
        plot.add_trace(lines(
            &p.linearized,
            "linearized (evidence)",
            "black",
            DashType::Solid,
            8,
            &xa,
            &ya,
            first,
        ));
        let (px, py): (Vec<f64>, Vec<f64>) =
            p.components.iter().map(|c| (c.x_n[0], c.x_n[1])).unzip();
        plot.add_trace(markers(
            px,
            py,
            "training points",
            MarkerSymbol::X,
            9,
            "black",
            first,
            &xa,
            &ya,
        ));
        plot.add_trace(markers(
            vec![p.x_true[0]],
            vec![p.x_true[1]],
            "x_true",
            MarkerSymbol::Star,
            12,
            "gold",
            first,
            &xa,
            &ya,
        ));
        layout = set_axes(
            layout,
            k,
            Axis::new()
                .domain(&doms[k])
                .anchor(&ya)
                .title(Title::with_text("x₁")),
            Axis::new()
                .anchor(&xa)
                .title(Title::with_text(if first { "x₂" } else { "" })),
        );
        notes.push(panel_title(
            &format!("σ = {}, exp H(π) = {:.2}", p.sigma, p.effective_components),
            doms[k],
        ));
    }
    if let Some(p) = panels.iter().find(|p| p.zoom.is_some()) {
        let k = panels.len();
        let (xa, ya) = (axis_name("x", k), axis_name("y", k));
        let (exact, lin) = p.zoom.as_ref().expect("found above");
        plot.add_trace(filled(exact, "exact posterior (zoom)", &xa, &ya, false));
        plot.add_trace(lines(
            lin,
            "linearized (zoom)",
            "black",
            DashType::Solid,
            8,
            &xa,
            &ya,
            false,
        ));
        let x0 = p.components[0].x_n;
        plot.add_trace(markers(
            vec![x0[0]],
            vec![x0[1]],
            "x_0",
            MarkerSymbol::X,
            12,
            "black",
            false,
            &xa,
            &ya,
        ));
        layout = set_axes(
            layout,
            k,
            Axis::new()
                .domain(&doms[k])
                .anchor(&ya)
                .title(Title::with_text("x₁")),
            Axis::new().anchor(&xa),
        );
        notes.push(panel_title(
            &format!("zoom at x_0, σ = {}", p.sigma),
            doms[k],
        ));
    }
    plot.set_layout(layout.annotations(notes));
    plot
}

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

fn interp_loglog(xs: &[f64], ys: &[f64], x: f64) -> f64 {
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
