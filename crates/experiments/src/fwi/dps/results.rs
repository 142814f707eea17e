//! The results of a run: sample groups, references per N, Table 1.

use analysis::memorization::{MemorizationSummary, Neighbours};
use serde::Serialize;

use crate::fwi::FwiDatasets;
use crate::fwi::posterior::LinearizedSummary;
use crate::fwi::prior::PriorKind;

use super::*;

/// The samples of one (prior, variant, N) and what they are measured by.
#[derive(Debug, Clone)]
pub struct Group {
    /// Prior.
    pub kind: PriorKind,
    /// Variant.
    pub variant: Variant,
    /// Training-set size.
    pub n: usize,
    /// The trajectories that left the solver's domain: job index and where; they are not in
    /// `samples` nor in any statistic below.
    pub diverged: Vec<(usize, Diverged)>,
    /// Job index of each sample (equal to the position unless trajectories diverged).
    pub index: Vec<usize>,
    /// Raw KL coefficients of the samples.
    pub samples: Vec<Vec<f64>>,
    /// Final misfits.
    pub final_misfit: Vec<f64>,
    /// Mean Φ(x̂₀) at each recorded level.
    pub mean_trace: Vec<f64>,
    /// Memorization ratio of each sample against the raw training set.
    pub neighbours: Vec<Neighbours>,
    /// Its summary.
    pub summary: MemorizationSummary,
    /// Visits of each training model (nearest neighbour counts).
    pub visits: Vec<usize>,
    /// Velocity RMSE of each sample against the true model (km/s) on the simulation grid.
    pub rmse_velocity: Vec<f64>,
    /// Per-pixel posterior mean and std of velocity.
    pub velocity_mean: Vec<f64>,
    /// Per-pixel posterior std of velocity.
    pub velocity_std: Vec<f64>,
    /// Per-coefficient posterior mean and std of raw z.
    pub z_mean: Vec<f64>,
    /// Per-coefficient posterior std of raw z.
    pub z_std: Vec<f64>,
    /// Calibration bins (mean std, mean |error|) over KL coefficients.
    pub calibration_kl: Vec<(f64, f64)>,
    /// Calibration bins over velocity pixels.
    pub calibration_velocity: Vec<(f64, f64)>,
}

impl Group {
    /// The training index visited most often and its count.
    pub fn most_visited(&self) -> (usize, usize) {
        self.visits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or((0, 0), |(i, v)| (i, *v))
    }
}

/// The exact and linearised references at one N.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Training-set size.
    pub n: usize,
    /// Φ(z_n) of each training model.
    pub misfits: Vec<f64>,
    /// Lookup weights [eq:lookup-table].
    pub lookup: Vec<f64>,
    /// The null: r of held-out prior draws against this training set.
    pub null: MemorizationSummary,
    /// The linearised mixture at each bandwidth and weighting.
    pub linearized: Vec<LinearizedSummary>,
}

/// Everything the figures and tables need.
#[derive(Debug, Clone)]
pub struct DpsResults {
    /// The settings.
    pub config: DpsConfig,
    /// Training, null and truth.
    pub datasets: FwiDatasets,
    /// Noise std.
    pub sigma_d: f64,
    /// Φ of the true model (≈ number of real data / 2 at the noise level).
    pub truth_misfit: f64,
    /// Number of real data values.
    pub data_count: usize,
    /// Recorded levels t.
    pub levels: Vec<usize>,
    /// Sample groups in job order.
    pub groups: Vec<Group>,
    /// References per N.
    pub references: Vec<Reference>,
    /// Seconds spent on the references.
    pub reference_seconds: f64,
}

/// One row of Table 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    /// Prior name.
    pub prior: String,
    /// DPS variant.
    pub variant: String,
    /// N.
    pub n_train: usize,
    /// Posterior samples (finished trajectories; every statistic below is over them).
    pub samples: usize,
    /// Trajectories that left the solver's domain (not in `samples`).
    pub diverged: usize,
    /// Mean memorization ratio.
    pub mean_r: f64,
    /// Fractions r ≤ 0.3, 0.5, 0.7.
    pub frac: [f64; 3],
    /// The null's fractions.
    pub null_frac: [f64; 3],
    /// Distinct nearest training models.
    pub unique_nn: usize,
    /// Mean velocity RMSE (km/s).
    pub rmse_velocity: f64,
    /// Mean final misfit.
    pub final_misfit: f64,
    /// The most visited training model, its visit fraction and its lookup weight.
    pub most_visited: usize,
    /// Its visit fraction.
    pub most_visited_frac: f64,
    /// Its lookup weight.
    pub most_visited_lookup: f64,
    /// Total-variation distance between visit frequencies and lookup weights.
    pub tv_to_lookup: f64,
}

impl DpsResults {
    /// The reference at N.
    pub fn reference(&self, n: usize) -> Option<&Reference> {
        self.references.iter().find(|r| r.n == n)
    }

    /// The group of (prior, variant, N).
    pub fn group(&self, kind: PriorKind, variant: Variant, n: usize) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.kind == kind && g.variant == variant && g.n == n)
    }

    /// Table 1, one row per group in job order.
    pub fn table(&self) -> Vec<TableRow> {
        self.groups
            .iter()
            .map(|g| {
                let r = self.reference(g.n).expect("a reference per N");
                let (mv, count) = g.most_visited();
                let s = g.samples.len() as f64;
                let freq: Vec<f64> = g.visits.iter().map(|&v| v as f64 / s).collect();
                let tv = analysis::stats::total_variation(&freq, &r.lookup);
                TableRow {
                    prior: g.kind.name().into(),
                    variant: g.variant.name().into(),
                    n_train: g.n,
                    samples: g.samples.len(),
                    diverged: g.diverged.len(),
                    mean_r: g.summary.mean_r,
                    frac: g.summary.fractions,
                    null_frac: r.null.fractions,
                    unique_nn: g.summary.unique_nn,
                    rmse_velocity: g.rmse_velocity.iter().sum::<f64>() / s,
                    final_misfit: g.final_misfit.iter().sum::<f64>() / s,
                    most_visited: mv,
                    most_visited_frac: count as f64 / s,
                    most_visited_lookup: r.lookup[mv],
                    tv_to_lookup: tv,
                }
            })
            .collect()
    }

    /// Indices of the `count` samples of a group with the smallest r (ties by index), each on a
    /// different nearest training model.
    pub fn most_memorized(
        &self,
        kind: PriorKind,
        variant: Variant,
        n: usize,
        count: usize,
    ) -> Vec<usize> {
        let Some(g) = self.group(kind, variant, n) else {
            return Vec::new();
        };
        analysis::memorization::most_memorized_distinct(&g.neighbours, count)
    }
}
