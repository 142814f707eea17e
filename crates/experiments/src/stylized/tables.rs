//! Rows of the stylized data contract (`linearized_1d.csv`, `linearized_2d.csv`,
//! `effective_components.csv`), in a fixed column order.

use super::run::StylizedResults;
use serde::Serialize;

/// `linearized_1d.csv`: one row per σ of Figure 1 and training point n.
#[derive(Debug, Clone, Serialize)]
pub struct Linearized1dRow {
    pub sigma: f64,
    pub n: usize,
    pub x_n: f64,
    pub mu: f64,
    pub std: f64,
    pub w_quadratic: f64,
    pub w_evidence: f64,
    pub pi_exact: f64,
}

/// `linearized_2d.csv`: one row per σ and pentagon vertex n.
#[derive(Debug, Clone, Serialize)]
pub struct Linearized2dRow {
    pub sigma: f64,
    pub n: usize,
    pub mu_1: f64,
    pub mu_2: f64,
    pub cov_11: f64,
    pub cov_12: f64,
    pub cov_22: f64,
    pub w_quadratic: f64,
    pub w_evidence: f64,
}

/// `effective_components.csv`: one row per (N, σ) of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveComponentsRow {
    pub n_train: usize,
    pub sigma: f64,
    pub effective_components: f64,
    pub sigma_crit: f64,
    pub sigma_crit_nominal: f64,
}

impl StylizedResults {
    /// Rows of `linearized_1d.csv`.
    pub fn linearized_1d_rows(&self) -> Vec<Linearized1dRow> {
        self.one_d
            .iter()
            .flat_map(|p| {
                p.components.iter().map(move |c| Linearized1dRow {
                    sigma: p.sigma,
                    n: c.n,
                    x_n: c.x_n,
                    mu: c.mu,
                    std: c.std,
                    w_quadratic: c.w_quadratic,
                    w_evidence: c.w_evidence,
                    pi_exact: c.pi_exact,
                })
            })
            .collect()
    }

    /// Rows of `linearized_2d.csv` (pentagon).
    pub fn linearized_2d_rows(&self) -> Vec<Linearized2dRow> {
        self.two_d
            .iter()
            .flat_map(|p| {
                p.components.iter().map(move |c| Linearized2dRow {
                    sigma: p.sigma,
                    n: c.n,
                    mu_1: c.mu[0],
                    mu_2: c.mu[1],
                    cov_11: c.cov[0],
                    cov_12: c.cov[1],
                    cov_22: c.cov[2],
                    w_quadratic: c.w_quadratic,
                    w_evidence: c.w_evidence,
                })
            })
            .collect()
    }

    /// Rows of `effective_components.csv`.
    pub fn effective_components_rows(&self) -> Vec<EffectiveComponentsRow> {
        self.sweep
            .iter()
            .flat_map(|c| {
                c.sigmas
                    .iter()
                    .zip(&c.effective)
                    .map(move |(&sigma, &e)| EffectiveComponentsRow {
                        n_train: c.n_train,
                        sigma,
                        effective_components: e,
                        sigma_crit: c.sigma_crit,
                        sigma_crit_nominal: c.sigma_crit_nominal,
                    })
            })
            .collect()
    }
}
