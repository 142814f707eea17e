//! Figure 1, bottom row: the 2-D exact and linearised posteriors, on the pentagon and on a random
//! training set.

use super::*;

/// Thin a field to at most `max` nodes per axis and round its values.
pub(super) fn thin(f: &Field2d, max: usize) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
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

pub(super) fn filled(
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
pub(super) fn lines(
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

pub(super) fn two_d_figure(panels: &[super::super::run::TwoDPanel]) -> Plot {
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
