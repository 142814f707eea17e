//! A compact, rounded summary of the figure data: what the snapshot tests pin and what the
//! report prints next to each figure. Full fields are summarised (mass, mean, mode), not stored.

use super::run::{Field2d, OneDPanel, StylizedResults, TwoDPanel};
use serde_json::{Value, json};

/// Round to `digits` significant digits (0 and non-finite values pass through).
pub fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // Through decimal formatting, so that the stored value is the shortest decimal of that
    // precision (no 3.0204099999e-125 artefacts of scaling by a power of ten).
    let r: f64 = format!("{:.*e}", (digits - 1).max(0) as usize, x)
        .parse()
        .unwrap_or(x);
    // Normalise -0 so that snapshots do not flip sign on tiny values.
    if r == 0.0 { 0.0 } else { r }
}

fn r(x: f64) -> f64 {
    round_sig(x, 6)
}

fn moments_1d(grid: &[f64], p: &[f64]) -> (f64, f64, f64) {
    let dx = grid[1] - grid[0];
    let mass: f64 = p.iter().sum::<f64>() * dx;
    let mean: f64 = grid.iter().zip(p).map(|(x, v)| x * v).sum::<f64>() * dx / mass;
    let var: f64 = grid
        .iter()
        .zip(p)
        .map(|(x, v)| (x - mean).powi(2) * v)
        .sum::<f64>()
        * dx
        / mass;
    (mass, mean, var.sqrt())
}

/// Grid nodes of local maxima whose density exceeds 1 % of the global maximum.
fn modes(grid: &[f64], p: &[f64]) -> Vec<f64> {
    let max = p.iter().copied().fold(0.0, f64::max);
    (1..p.len() - 1)
        .filter(|&i| p[i] > p[i - 1] && p[i] >= p[i + 1] && p[i] > 0.01 * max)
        .map(|i| r(grid[i]))
        .collect()
}

fn one_d(p: &OneDPanel) -> Value {
    let (mass, mean, std) = moments_1d(&p.grid, &p.exact);
    json!({
        "sigma": r(p.sigma),
        "exact_mass": r(mass), "exact_mean": r(mean), "exact_std": r(std),
        "exact_modes": modes(&p.grid, &p.exact),
        "effective_components": r(p.effective_components),
        "components": p.components.iter().map(|c| json!({
            "n": c.n, "x_n": r(c.x_n), "mu": r(c.mu), "std": r(c.std),
            "w_quadratic": r(c.w_quadratic), "w_evidence": r(c.w_evidence),
            "pi_exact": r(c.pi_exact), "lookup": r(c.lookup),
        })).collect::<Vec<_>>(),
    })
}

fn field_moments(f: &Field2d) -> Value {
    let (d1, d2) = (f.x1[1] - f.x1[0], f.x2[1] - f.x2[0]);
    let (mut mass, mut m1, mut m2) = (0.0, 0.0, 0.0);
    let mut argmax = (0.0, 0.0, f64::NEG_INFINITY);
    for (j, row) in f.z.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            mass += v * d1 * d2;
            m1 += f.x1[i] * v * d1 * d2;
            m2 += f.x2[j] * v * d1 * d2;
            if v > argmax.2 {
                argmax = (f.x1[i], f.x2[j], v);
            }
        }
    }
    json!({ "mass": r(mass), "mean": [r(m1 / mass), r(m2 / mass)], "argmax": [r(argmax.0), r(argmax.1)] })
}

fn two_d(p: &TwoDPanel) -> Value {
    json!({
        "sigma": r(p.sigma),
        "exact": field_moments(&p.exact),
        "linearized": field_moments(&p.linearized),
        "zoom_exact": p.zoom.as_ref().map(|z| field_moments(&z.0)),
        "effective_components": r(p.effective_components),
        "components": p.components.iter().map(|c| json!({
            "n": c.n, "mu": [r(c.mu[0]), r(c.mu[1])], "cov": c.cov.map(r),
            "w_quadratic": r(c.w_quadratic), "w_evidence": r(c.w_evidence),
            "pi_exact": r(c.pi_exact), "lookup": r(c.lookup),
        })).collect::<Vec<_>>(),
    })
}

impl StylizedResults {
    /// Figure 1, top row: per σ, moments and modes of the exact posterior and every component.
    pub fn summary_figure1_top(&self) -> Value {
        Value::Array(self.one_d.iter().map(one_d).collect())
    }

    /// Figure 1, bottom row, and the random 2-D set.
    pub fn summary_figure1_bottom(&self) -> Value {
        json!({
            "pentagon": self.two_d.iter().map(two_d).collect::<Vec<_>>(),
            "random": self.two_d_random.iter().map(two_d).collect::<Vec<_>>(),
            "random_training_points": self.random_training_points.iter().map(|p| [r(p[0]), r(p[1])]).collect::<Vec<_>>(),
        })
    }

    /// Effective components: σ_crit per N and every fifth point of each curve.
    pub fn summary_effective_components(&self) -> Value {
        Value::Array(
            self.sweep
                .iter()
                .map(|c| {
                    json!({
                        "n_train": c.n_train,
                        "sigma_crit": r(c.sigma_crit),
                        "sigma_crit_nominal": r(c.sigma_crit_nominal),
                        "curve": c.sigmas.iter().zip(&c.effective).step_by(5).map(|(s, e)| [r(*s), r(*e)]).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )
    }

    /// KDE panels: bandwidths, peak height, mass, and the empirical points.
    pub fn summary_kde(&self) -> Value {
        let k = &self.kde;
        json!({
            "empirical_points": k.empirical_points.iter().map(|v| r(*v)).collect::<Vec<_>>(),
            "truth_mass": r(moments_1d(&k.grid, &k.truth).0),
            "panels": k.panels.iter().map(|p| {
                let (mass, mean, _) = moments_1d(&k.grid, &p.density);
                json!({ "n": p.n, "factor": p.factor, "bandwidth": r(p.bandwidth), "mass": r(mass), "mean": r(mean),
                        "peak": r(p.density.iter().copied().fold(0.0, f64::max)), "modes": modes(&k.grid, &p.density).len() })
            }).collect::<Vec<_>>(),
        })
    }

    /// The σ slider: effective components and the distances per σ.
    pub fn summary_slider(&self) -> Value {
        Value::Array(self.slider.iter().map(|p| json!({ "sigma": r(p.sigma), "effective_components": r(p.effective_components), "modes": modes(&p.grid, &p.exact) })).collect())
    }

    /// Exact-versus-linearised distances.
    pub fn summary_distances(&self) -> Value {
        Value::Array(
            self.distances
                .iter()
                .map(|d| json!({ "problem": d.problem, "sigma": r(d.sigma), "weighting": d.weighting,
                                 "tv": r(d.total_variation), "hellinger": r(d.hellinger), "kl": r(d.kl_exact_to_linearized) }))
                .collect(),
        )
    }
}
