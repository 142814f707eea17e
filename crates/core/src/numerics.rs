//! Log-space numerics: log Σ exp, normalised weights from log-weights, entropy.
//!
//! Every mixture weight in the workspace (lookup weights [eq:lookup-table], mixture
//! responsibilities [eq:gmm-score], component weights [eq:gmm-posterior]) is a softmax of
//! log-weights that may be −10⁸ or below; computing them by subtracting the maximum keeps
//! σ = 10⁻⁴ in 100 dimensions finite.

/// log Σᵢ exp(vᵢ), stable for arbitrarily large or small vᵢ.
///
/// Returns −∞ for an empty slice or when every entry is −∞, +∞ if any entry is +∞,
/// and NaN if any entry is NaN.
pub fn logsumexp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    if max.is_infinite() {
        return max;
    }
    let sum: f64 = v.iter().map(|&x| (x - max).exp()).sum();
    max + sum.ln()
}

/// Normalised weights wᵢ = exp(vᵢ − log Σⱼ exp vⱼ).
///
/// The result sums to one (up to rounding) whenever at least one vᵢ is finite.
pub fn softmax(log_weights: &[f64]) -> Vec<f64> {
    // Shift by the maximum and divide by the shifted sum (rather than subtract log Σ): the
    // weights then sum to one within a few ulps even when the log-weights are near ±10⁸, where
    // log Σ itself carries an absolute rounding error of ulp(10⁸).
    let max = log_weights
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let lse = logsumexp(log_weights);
        return log_weights.iter().map(|&v| (v - lse).exp()).collect();
    }
    let shifted: Vec<f64> = log_weights.iter().map(|&v| (v - max).exp()).collect();
    let total: f64 = shifted.iter().sum();
    shifted.into_iter().map(|w| w / total).collect()
}

/// Log of the normalised weights, vᵢ − log Σⱼ exp vⱼ (never underflows to −∞ for finite vᵢ).
pub fn log_softmax(log_weights: &[f64]) -> Vec<f64> {
    let lse = logsumexp(log_weights);
    log_weights.iter().map(|&v| v - lse).collect()
}

/// Shannon entropy H(π) = −Σ πᵢ log πᵢ in nats, with 0 log 0 = 0.
pub fn entropy(weights: &[f64]) -> f64 {
    -weights
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| p * p.ln())
        .sum::<f64>()
}

/// Squared Euclidean distance ‖a − b‖².
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `n` equispaced points from `lo` to `hi` inclusive (NumPy's `linspace`).
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => {
            let step = (hi - lo) / (n - 1) as f64;
            (0..n)
                .map(|i| if i == n - 1 { hi } else { lo + step * i as f64 })
                .collect()
        }
    }
}

/// `n` log-spaced points from `lo` to `hi` inclusive (both > 0).
pub fn logspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    linspace(lo.ln(), hi.ln(), n)
        .into_iter()
        .map(f64::exp)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logsumexp_matches_naive_sum_where_naive_is_safe() {
        let v = [0.1, -2.0, 3.5, 1.0];
        let naive: f64 = v.iter().map(|x: &f64| x.exp()).sum::<f64>().ln();
        // Both are a handful of correctly rounded operations: a few ulps apart.
        assert!((logsumexp(&v) - naive).abs() < 1e-14);
    }

    #[test]
    fn logsumexp_survives_extreme_values() {
        // exp(-1e8) underflows to 0 in the naive sum; the shifted sum does not care.
        let v = [-1e8, -1e8 - 2.0_f64.ln()];
        let expected = -1e8 + (1.5_f64).ln();
        assert!((logsumexp(&v) - expected).abs() <= 1e-8 * 1e-8 * 1e8 + 1e-7);
        assert_eq!(logsumexp(&[]), f64::NEG_INFINITY);
        assert_eq!(logsumexp(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        assert!(logsumexp(&[0.0, f64::NAN]).is_nan());
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let w = softmax(&[-1e6, -1e6 + 1.0, -1e6 + 2.0]);
        // Three terms each rounded once: within 4 ulp(1) of one.
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(w[0] < w[1] && w[1] < w[2]);
        let e = std::f64::consts::E;
        // Log-weights near −10⁶ carry an absolute rounding error of ulp(10⁶) ≈ 1.2e-10 each, so the
        // ratio exp(v₂ − v₁) is good to a few 1e-10 relative: bound 2e-9 ≈ 6 ulp(10⁶)·e.
        assert!((w[2] / w[1] - e).abs() < 2e-9);
    }

    #[test]
    fn entropy_of_uniform_is_log_n() {
        let n = 7;
        let w = vec![1.0 / n as f64; n];
        assert!((entropy(&w) - (n as f64).ln()).abs() < 1e-14);
        assert_eq!(entropy(&[1.0, 0.0]), 0.0);
    }

    #[test]
    fn linspace_hits_both_ends() {
        let g = linspace(-3.5, 3.5, 500);
        assert_eq!(g.len(), 500);
        assert_eq!(g[0], -3.5);
        assert_eq!(g[499], 3.5);
        let l = logspace(0.01, 5.0, 70);
        assert!((l[0] - 0.01).abs() < 1e-15 && (l[69] - 5.0).abs() < 1e-12);
    }
}

/// Least-squares slope of ln y against ln x: the observed order of a remainder or an error that
/// behaves like C xᵖ (Taylor tests, convergence under refinement). Needs two or more positive
/// pairs of equal-length slices.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    assert!(
        x.len() == y.len() && x.len() >= 2,
        "loglog_slope needs two or more (x, y) pairs"
    );
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let cov: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    cov / lx.iter().map(|a| (a - mx).powi(2)).sum::<f64>()
}

#[cfg(test)]
mod slope_tests {
    #[test]
    fn loglog_slope_recovers_the_power() {
        let x = [0.1, 0.2, 0.4, 0.8];
        let y: Vec<f64> = x.iter().map(|v: &f64| 3.0 * v.powi(2)).collect();
        assert!((super::loglog_slope(&x, &y) - 2.0).abs() < 1e-12);
    }
}
