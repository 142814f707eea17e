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

mod curves;
mod two_d;
pub use curves::{effective_components, kde, linearization_error, sigma_slider};
pub use two_d::{figure1_bottom, figure1_bottom_random};

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
