//! Measurements of posteriors: how many components survive, when the collapse sets in, and how
//! far the linearised posterior is from the exact one.
//!
//! - [`effective_components`]: exp(H(π)) for component weights π ([eq:gmm-posterior]);
//! - [`sigma_crit`]: the dominance heuristic σ_crit = √(δ γ / ‖F'‖) of the authors' code
//!   ([eq:linearized-posterior]), with δ the mean nearest-neighbour distance, or the authors'
//!   nominal spacing through [`sigma_crit_with_spacing`] and [`nominal_spacing`];
//! - [`GridDistances`]: total variation, Hellinger and KL(exact ‖ linearised) between two
//!   log-densities on one grid, computed in log space;
//! - [`memorization`]: the memorization ratio r with its null and leave-one-out controls
//!   ([eq:memorization-ratio]);
//! - [`stats`]: posterior sample statistics (mean and std, calibration bins, nearest-model
//!   counts, total variation, RMSE).

pub mod memorization;
pub mod stats;

use memprior_core::numerics::{entropy, logsumexp, squared_distance};
use memprior_core::{ConfigError, JacobianAction};

/// Effective number of components exp(H(π)), H(π) = −Σ π_n log π_n; 1 when one component
/// dominates, N when all are equal.
pub fn effective_components(weights: &[f64]) -> f64 {
    entropy(weights).exp()
}

/// The collapse scale σ_crit = √(δ γ / ‖F'‖), with δ the mean distance from each training point
/// to its nearest neighbour (for an equispaced 1-D set, the spacing).
///
/// ‖F'‖ is the mean spectral norm of the Jacobian over the training points. Below σ_crit one
/// component dominates the posterior. The authors' code takes δ as the nominal spacing of the
/// pool instead: [`sigma_crit_with_spacing`] with [`nominal_spacing`].
///
/// # Errors
/// Fewer than two training points, γ not > 0, or a Jacobian F cannot evaluate.
pub fn sigma_crit<F: JacobianAction>(
    op: &F,
    training: &[Vec<f64>],
    gamma: f64,
) -> Result<f64, F::Error> {
    let delta = mean_nearest_neighbour_distance(training)?;
    sigma_crit_with_spacing(op, training, gamma, delta)
}

/// σ_crit = √(δ γ / ‖F'‖) for a given spacing δ.
///
/// # Errors
/// γ or δ not > 0, no training point, or a Jacobian F cannot evaluate.
pub fn sigma_crit_with_spacing<F: JacobianAction>(
    op: &F,
    training: &[Vec<f64>],
    gamma: f64,
    delta: f64,
) -> Result<f64, F::Error> {
    memprior_core::error::positive("gamma", gamma)?;
    memprior_core::error::positive("delta", delta)?;
    if training.is_empty() {
        return Err(ConfigError::new(
            "training_points",
            "σ_crit needs at least one training point",
            0,
        )
        .into());
    }
    let mut jac_norm = 0.0;
    for x in training {
        jac_norm += spectral_norm(&op.jacobian(x)?);
    }
    let jac_norm = jac_norm / training.len() as f64;
    Ok((delta * gamma / jac_norm).sqrt())
}

/// The mean distance from each point to its nearest neighbour.
pub fn mean_nearest_neighbour_distance(training: &[Vec<f64>]) -> Result<f64, ConfigError> {
    if training.len() < 2 {
        return Err(ConfigError::new(
            "training_points",
            "a nearest-neighbour spacing needs at least two training points",
            training.len(),
        ));
    }
    Ok(training
        .iter()
        .enumerate()
        .map(|(i, a)| {
            training
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, b)| squared_distance(a, b).sqrt())
                .fold(f64::INFINITY, f64::min)
        })
        .sum::<f64>()
        / training.len() as f64)
}

/// The nominal spacing (hi − lo)/(N − 1) of N points spread over [lo, hi], the δ of the authors'
/// code (6/(N − 1) on their pool [−3, 3]).
pub fn nominal_spacing(lo: f64, hi: f64, n: usize) -> Result<f64, ConfigError> {
    if n < 2 {
        return Err(ConfigError::new(
            "n_train",
            "a nominal spacing needs at least two points",
            n,
        ));
    }
    if !(hi > lo) || !lo.is_finite() || !hi.is_finite() {
        return Err(ConfigError::new(
            "pool",
            "needs finite bounds with hi > lo",
            format!("[{lo}, {hi}]"),
        ));
    }
    Ok((hi - lo) / (n - 1) as f64)
}

/// Largest singular value of a dense matrix.
pub fn spectral_norm(a: &faer::Mat<f64>) -> f64 {
    if a.nrows() == 0 || a.ncols() == 0 {
        return 0.0;
    }
    a.singular_values()
        .map(|s| s.first().copied().unwrap_or(0.0))
        .unwrap_or(f64::NAN)
}

/// Distances between two densities p (exact) and q (approximate) given as log-values on one grid
/// of cell volume ΔV; both are renormalised on the grid first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridDistances {
    /// Total variation ½ Σ |p − q| ΔV ∈ [0, 1].
    pub total_variation: f64,
    /// Hellinger distance √(1 − Σ √(p q) ΔV) ∈ [0, 1].
    pub hellinger: f64,
    /// KL(p ‖ q) = Σ p (log p − log q) ΔV, with log q used directly so that a far component of q
    /// underflowing to 0 does not make the divergence infinite.
    pub kl_exact_to_approx: f64,
}

impl GridDistances {
    /// Compare log p and log q (same length, same grid, cell volume `cell_volume`).
    pub fn between(log_p: &[f64], log_q: &[f64], cell_volume: f64) -> Self {
        assert_eq!(
            log_p.len(),
            log_q.len(),
            "densities must live on the same grid"
        );
        let ldv = cell_volume.ln();
        let (zp, zq) = (logsumexp(log_p) + ldv, logsumexp(log_q) + ldv);
        let mut tv = 0.0;
        let mut bc_terms = Vec::with_capacity(log_p.len());
        let mut kl = 0.0;
        for (&lp, &lq) in log_p.iter().zip(log_q) {
            let (lp, lq) = (lp - zp, lq - zq);
            let (p, q) = (lp.exp(), lq.exp());
            tv += (p - q).abs();
            bc_terms.push(0.5 * (lp + lq) + ldv);
            if p > 0.0 {
                kl += p * (lp - lq);
            }
        }
        let bc = logsumexp(&bc_terms).exp();
        Self {
            total_variation: 0.5 * tv * cell_volume,
            hellinger: (1.0 - bc).max(0.0).sqrt(),
            kl_exact_to_approx: (kl * cell_volume).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memprior_core::numerics::linspace;

    fn log_normal(x: f64, m: f64, s: f64) -> f64 {
        -0.5 * ((x - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    }

    #[test]
    fn distances_between_gaussians_match_closed_forms() {
        // N(0,1) vs N(μ,1): TV = 2Φ(μ/2) − 1, H² = 1 − exp(−μ²/8), KL = μ²/2.
        let mu: f64 = 0.5;
        let g = linspace(-12.0, 12.0, 24001);
        let dx = g[1] - g[0];
        let lp: Vec<f64> = g.iter().map(|&x| log_normal(x, 0.0, 1.0)).collect();
        let lq: Vec<f64> = g.iter().map(|&x| log_normal(x, mu, 1.0)).collect();
        let d = GridDistances::between(&lp, &lq, dx);
        let tv = statrs_free_erf(mu / (2.0 * 2f64.sqrt()));
        assert!(
            (d.total_variation - tv).abs() < 1e-6,
            "{} vs {tv}",
            d.total_variation
        );
        assert!((d.hellinger - (1.0 - (-mu * mu / 8.0).exp()).sqrt()).abs() < 1e-9);
        assert!((d.kl_exact_to_approx - mu * mu / 2.0).abs() < 1e-9);
        // Far approximations: q's mass is all 1e3 away; log-space KL stays finite.
        let lfar: Vec<f64> = g.iter().map(|&x| log_normal(x, 40.0, 1.0)).collect();
        let far = GridDistances::between(&lp, &lfar, dx);
        assert!(far.kl_exact_to_approx.is_finite() && far.kl_exact_to_approx > 100.0);
    }

    /// erf by its Maclaurin series (|x| < 1): an independent check of TV = erf(μ / 2√2).
    fn statrs_free_erf(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..60 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    }

    #[test]
    fn effective_components_counts_equal_weights() {
        assert!((effective_components(&[0.25; 4]) - 4.0).abs() < 1e-12);
        assert_eq!(effective_components(&[1.0, 0.0, 0.0]), 1.0);
    }
}
