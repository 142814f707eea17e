//! Plotly figures of the FWI forward model: velocity models, wavefields and the Green's-function
//! comparison. Values are rounded to 4 significant digits (the figure is a picture; `.npy` and
//! CSV files hold the numbers).

use crate::stylized::summary::round_sig;
use plotly::common::{ColorScale, ColorScalePalette, Mode, Title};
use plotly::layout::{Axis, Layout};
use plotly::{HeatMap, Plot, Scatter};

/// An image of a row-major (ix · n_z + iz) field with x across and depth down, in km.
pub fn field_image(
    values: &[f64],
    nx: usize,
    nz: usize,
    h: f64,
    title: &str,
    palette: ColorScalePalette,
    zmid: Option<f64>,
) -> Plot {
    let x: Vec<f64> = (0..nx).map(|i| round_sig(i as f64 * h, 6)).collect();
    let z: Vec<f64> = (0..nz).map(|j| round_sig(j as f64 * h, 6)).collect();
    // Plotly's z is indexed [row = depth][column = x].
    let grid: Vec<Vec<f64>> = (0..nz)
        .map(|j| (0..nx).map(|i| round_sig(values[i * nz + j], 4)).collect())
        .collect();
    let mut trace = HeatMap::new(x, z, grid).color_scale(ColorScale::Palette(palette));
    if let Some(mid) = zmid {
        trace = trace.zmid(mid);
    }
    let mut plot = Plot::new();
    plot.add_trace(trace);
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(Axis::new().title(Title::with_text("x (km)")))
            .y_axis(
                Axis::new()
                    .title(Title::with_text("depth (km)"))
                    .auto_range(false)
                    .range(vec![(nz - 1) as f64 * h, 0.0])
                    .scale_anchor("x"),
            )
            // The width follows the page's container (two or three images share a row); a fixed
            // width clipped the colour bar of the right-hand image.
            .auto_size(true)
            .height(520),
    );
    plot
}

/// Velocity model v = 1/√m (km/s) from squared slowness m.
pub fn velocity_image(m: &[f64], nx: usize, nz: usize, h: f64, title: &str) -> Plot {
    let v: Vec<f64> = m.iter().map(|x| 1.0 / x.sqrt()).collect();
    field_image(&v, nx, nz, h, title, ColorScalePalette::Viridis, None)
}

/// Radial profile of the numerical field against the analytic Green's function.
pub fn greens_profile(r: &[f64], numeric: &[f64], analytic: &[f64], title: &str) -> Plot {
    let mut plot = Plot::new();
    let r4: Vec<f64> = r.iter().map(|v| round_sig(*v, 6)).collect();
    plot.add_trace(
        Scatter::new(
            r4.clone(),
            analytic.iter().map(|v| round_sig(*v, 5)).collect(),
        )
        .mode(Mode::Lines)
        .name("−(i/4) H₀⁽¹⁾(kr), real part"),
    );
    plot.add_trace(
        Scatter::new(r4, numeric.iter().map(|v| round_sig(*v, 5)).collect())
            .mode(Mode::Markers)
            .name("finite differences"),
    );
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(Axis::new().title(Title::with_text("distance from the source r (km)")))
            .y_axis(Axis::new().title(Title::with_text("Re u")))
            .height(420),
    );
    plot
}

/// Histograms of the memorization ratio r: one trace per named set, overlaid, with the τ lines
/// of Table 1 (Figure 3 companion).
pub fn ratio_histograms(sets: &[(&str, Vec<f64>)], title: &str) -> Plot {
    use plotly::Histogram;
    use plotly::histogram::{Bins, HistNorm};
    let mut plot = Plot::new();
    for (name, r) in sets {
        plot.add_trace(
            Histogram::new(r.clone())
                .name(*name)
                .opacity(0.55)
                .hist_norm(HistNorm::Probability)
                .x_bins(Bins::new(0.0, 1.2, 0.025)),
        );
    }
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .bar_mode(plotly::layout::BarMode::Overlay)
            .x_axis(
                Axis::new()
                    .title(Title::with_text("r = d₁ / mean(d₂…d_k)"))
                    .range(vec![0.0, 1.2]),
            )
            .y_axis(Axis::new().title(Title::with_text("fraction")))
            .height(320),
    );
    plot
}

/// Training loss against step, one trace per N (a moving mean over `window` steps).
pub fn training_curves(curves: &[(usize, Vec<f32>)], window: usize, title: &str) -> Plot {
    training_and_validation_curves(curves, &[], window, title)
}

/// [`training_curves`] with, per N, the validation loss `(N, [(step, loss)])` on held-out
/// points as a dashed trace with markers.
pub fn training_and_validation_curves(
    curves: &[(usize, Vec<f32>)],
    validation: &[(usize, Vec<(usize, f32)>)],
    window: usize,
    title: &str,
) -> Plot {
    let mut plot = Plot::new();
    for (n, points) in validation {
        if points.is_empty() {
            continue;
        }
        let (xs, ys): (Vec<usize>, Vec<f64>) =
            points.iter().map(|&(k, l)| (k, f64::from(l))).unzip();
        plot.add_trace(
            Scatter::new(xs, ys)
                .name(format!("N = {n}, validation (held-out draws)"))
                .mode(plotly::common::Mode::LinesMarkers)
                .line(plotly::common::Line::new().dash(plotly::common::DashType::Dash)),
        );
    }
    for (n, loss) in curves {
        let w = window.max(1);
        let (xs, ys): (Vec<usize>, Vec<f64>) = loss
            .chunks(w)
            .enumerate()
            .map(|(i, c)| {
                (
                    (i + 1) * w,
                    c.iter().map(|v| *v as f64).sum::<f64>() / c.len() as f64,
                )
            })
            .unzip();
        plot.add_trace(Scatter::new(xs, ys).name(format!("N = {n}, training")));
    }
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(Axis::new().title(Title::with_text("Adam step")))
            .y_axis(
                Axis::new()
                    .title(Title::with_text("denoising loss (mean over a window)"))
                    .type_(plotly::layout::AxisType::Log),
            )
            .height(320),
    );
    plot
}

/// One named series of a line or marker plot.
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates.
    pub y: Vec<f64>,
    /// Markers instead of lines.
    pub markers: bool,
    /// Dashed line (references such as e = s or the noise level).
    pub dashed: bool,
    /// A large outlined star drawn above every other series (the true model among samples).
    pub highlight: bool,
}

impl Series {
    /// A solid line.
    pub fn line(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            x,
            y,
            markers: false,
            dashed: false,
            highlight: false,
        }
    }
    /// Markers only.
    pub fn points(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            x,
            y,
            markers: true,
            dashed: false,
            highlight: false,
        }
    }
    /// Markers as large outlined stars, drawn last (above the other series).
    pub fn highlight(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            x,
            y,
            markers: true,
            dashed: false,
            highlight: true,
        }
    }
    /// A dashed reference line.
    pub fn reference(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            x,
            y,
            markers: false,
            dashed: true,
            highlight: false,
        }
    }
}

/// Axis scale of [`series_plot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Linear.
    Linear,
    /// Logarithmic.
    Log,
}

/// Lines and markers on shared axes (values rounded to 5 significant digits).
pub fn series_plot(
    series: Vec<Series>,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_scale: Scale,
    y_scale: Scale,
) -> Plot {
    use plotly::common::{DashType, Line, Marker, MarkerSymbol};
    let mut plot = Plot::new();
    // Highlighted series last: plotly draws later traces on top.
    let (mut series, highlighted): (Vec<Series>, Vec<Series>) =
        series.into_iter().partition(|s| !s.highlight);
    series.extend(highlighted);
    for s in series {
        let x: Vec<f64> = s.x.iter().map(|v| round_sig(*v, 5)).collect();
        let y: Vec<f64> = s.y.iter().map(|v| round_sig(*v, 5)).collect();
        let mut tr = Scatter::new(x, y).name(s.name);
        tr = if s.highlight {
            tr.mode(Mode::Markers).marker(
                Marker::new()
                    .size(16)
                    .symbol(MarkerSymbol::Star)
                    .color("#d62728")
                    .line(Line::new().color("black").width(1.5)),
            )
        } else if s.markers {
            tr.mode(Mode::Markers)
                .marker(Marker::new().size(6).opacity(0.7))
        } else if s.dashed {
            tr.mode(Mode::Lines)
                .line(Line::new().dash(DashType::Dash).color("#555"))
        } else {
            tr.mode(Mode::Lines)
        };
        plot.add_trace(tr);
    }
    let axis = |label: &str, scale: Scale| {
        let a = Axis::new().title(Title::with_text(label));
        match scale {
            Scale::Linear => a,
            Scale::Log => a.type_(plotly::layout::AxisType::Log),
        }
    };
    plot.set_layout(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(axis(x_label, x_scale))
            .y_axis(axis(y_label, y_scale))
            .height(360),
    );
    plot
}
