//! From samples to results: the solver-bound references and the summaries of every group.

use std::time::Instant;

use analysis::memorization::{MemorizationSummary, ratios};
use analysis::stats;
use memprior_core::Misfit;
use operators::helmholtz::Helmholtz;
use operators::reparam::Affine;
use priors::{KlBasis, TrainingSet};
use samplers::GaussianLikelihood;

use crate::fwi::FwiDatasets;
use crate::fwi::posterior::{self};

use super::*;

/// Velocity v = 1/√m (km/s) from squared slowness m (s²/km²).
pub fn velocity(m: &[f64]) -> Vec<f64> {
    m.iter().map(|v| 1.0 / v.sqrt()).collect()
}

/// Compute the references and summarise every group from the loaded samples.
///
/// # Errors
/// The solver rejecting a training model, or a non-positive-definite linearised system.
pub fn analyse(
    setup: &Setup,
    records: Vec<(Job, SampleRecord)>,
    workers: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<DpsResults, DpsError> {
    let refs = references(setup, workers, log)?;
    summarise(&setup.config, &setup.datasets, setup.sigma_d, refs, records)
}

/// The exact and linearised references of every N and the true model's misfit: the solver-bound
/// part of the analysis (N_max Jacobians), which a results bundle stores so that its figures are
/// redrawn without a solve ([`super::bundle`]).
#[derive(Debug, Clone)]
pub struct References {
    /// Φ of the true model.
    pub truth_misfit: f64,
    /// Per N.
    pub references: Vec<Reference>,
    /// Seconds they took.
    pub seconds: f64,
}

/// Compute the [`References`] of a run.
///
/// # Errors
/// The solver rejecting a training model, or a non-positive-definite linearised system.
pub fn references(
    setup: &Setup,
    workers: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<References, DpsError> {
    let cfg = &setup.config;
    let kl = KlBasis::default();
    let g = &cfg.geometry;
    let op = Helmholtz::new(g.clone()).map_err(|source| DpsError::Solver {
        context: "geometry".into(),
        source,
    })?;
    let solver = |context: &str| {
        let context = context.to_string();
        move |source| DpsError::Solver { context, source }
    };
    let y = Helmholtz::data_to_real(&setup.data);
    // Φ of the true model: m̄ + G z, then the forward solves alone.
    let truth = GaussianLikelihood::new(
        Affine::new(&op, kl.on_grid(g.nx, g.nz))?,
        y.clone(),
        setup.sigma_d,
    )?;
    let truth_misfit = truth
        .misfit(&setup.datasets.truth)
        .map_err(solver("true model"))?;
    let clock = Instant::now();
    let n_max = *cfg.prior.n_values.iter().max().expect("validated");
    let lin = posterior::linearize(&op, &kl, &setup.datasets.train[..n_max], workers)
        .map_err(solver("training models"))?;
    log(&format!(
        "Jacobians at {n_max} training models ({:.1} s)",
        clock.elapsed().as_secs_f64()
    ));
    let mut references = Vec::new();
    for &n in &cfg.prior.n_values {
        let raw = setup.datasets.training_set(n)?;
        let (zscore, rows) = &setup.normalized[&n];
        // The data's likelihood at the N training models, from their cached F and J̃: their
        // misfits Φ_n, the lookup weights softmax(−Φ_n) and the linearised mixture.
        let lik = posterior::cached_likelihood(&lin, zscore, y.clone(), setup.sigma_d, rows)?;
        let train = TrainingSet::new(rows)?;
        let misfits = rows
            .iter()
            .map(|x| lik.misfit(x))
            .collect::<Result<Vec<f64>, _>>()?;
        let lookup = samplers::lookup_weights(&lik, &train)?;
        let linearized =
            posterior::linearized_summaries(&lik, &train, &cfg.linearized_sigmas, &lookup)?;
        let null = MemorizationSummary::of(&ratios(&setup.datasets.null, raw)?);
        log(&format!(
            "N = {n}: lookup weights: max {:.3} at model {}, effective count {:.2} ({:.1} s)",
            lookup.iter().cloned().fold(0.0, f64::max),
            lookup
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |p| p.0),
            analysis::effective_components(&lookup),
            clock.elapsed().as_secs_f64()
        ));
        references.push(Reference {
            n,
            misfits,
            lookup,
            null,
            linearized,
        });
    }
    Ok(References {
        truth_misfit,
        references,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// Summarise every group of the loaded samples against the training sets, beside the
/// references: no solve, only KL reconstructions.
///
/// # Errors
/// A sample of another dimension than the KL basis, or an N without a training set.
pub fn summarise(
    cfg: &DpsConfig,
    datasets: &FwiDatasets,
    sigma_d: f64,
    refs: References,
    records: Vec<(Job, SampleRecord)>,
) -> Result<DpsResults, DpsError> {
    let kl = &datasets.kl;
    let g = &cfg.geometry;
    let v_true = velocity(&kl.reconstruct(&datasets.truth, g.nx, g.nz)?);
    let mut groups: Vec<Group> = Vec::new();
    // (prior, variant, N) → its records with their job indices, in job order.
    for ((kind, variant, n), all) in by_group(records, |(job, _)| job.group_key()) {
        let all: Vec<(usize, SampleRecord)> =
            all.into_iter().map(|(job, rec)| (job.index, rec)).collect();
        // Trajectories that left the solver's domain are counted, and left out of every
        // statistic of the posterior.
        let diverged: Vec<(usize, Diverged)> = all
            .iter()
            .filter_map(|(i, r)| r.diverged.map(|d| (*i, d)))
            .collect();
        let (index, recs): (Vec<usize>, Vec<SampleRecord>) = all
            .into_iter()
            .filter(|(_, r)| r.diverged.is_none())
            .unzip();
        let raw = datasets.training_set(n)?;
        let samples: Vec<Vec<f64>> = recs.iter().map(|r| r.z.clone()).collect();
        let neighbours = ratios(&samples, raw)?;
        let summary = MemorizationSummary::of(&neighbours);
        let visits = stats::nearest_counts(neighbours.iter().map(|b| b.nearest), n);
        let velocities: Vec<Vec<f64>> = samples
            .iter()
            .map(|z| kl.reconstruct(z, g.nx, g.nz).map(|m| velocity(&m)))
            .collect::<Result<_, _>>()?;
        let rmse_velocity = velocities.iter().map(|v| stats::rmse(v, &v_true)).collect();
        let (velocity_mean, velocity_std, z_mean, z_std) = if samples.is_empty() {
            // Every trajectory diverged: no posterior to summarise.
            let nan = |len| vec![f64::NAN; len];
            (
                nan(g.nx * g.nz),
                nan(g.nx * g.nz),
                nan(kl.dim()),
                nan(kl.dim()),
            )
        } else {
            let (vm, vs) = posterior::mean_std(&velocities);
            let (zm, zs) = posterior::mean_std(&samples);
            (vm, vs, zm, zs)
        };
        let err_kl: Vec<f64> = z_mean
            .iter()
            .zip(&datasets.truth)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let err_v: Vec<f64> = velocity_mean
            .iter()
            .zip(&v_true)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let levels = cfg.recorded_levels().len();
        // The authors average their trace over the first 4 samples only (of jobs 0–3, those
        // that finished).
        let first_four = index.iter().take_while(|&&i| i < 4).count();
        let traced = match variant {
            Variant::PaperAuthors => &recs[..first_four],
            _ => &recs[..],
        };
        let mean_trace = (0..levels)
            .map(|i| traced.iter().map(|r| r.trace[i]).sum::<f64>() / traced.len() as f64)
            .collect();
        groups.push(Group {
            kind,
            variant,
            n,
            diverged,
            index,
            final_misfit: recs.iter().map(|r| r.final_misfit).collect(),
            mean_trace,
            calibration_kl: posterior::calibration_bins(&z_std, &err_kl, cfg.calibration_bins_kl),
            calibration_velocity: posterior::calibration_bins(
                &velocity_std,
                &err_v,
                cfg.calibration_bins_velocity,
            ),
            samples,
            neighbours,
            summary,
            visits,
            rmse_velocity,
            velocity_mean,
            velocity_std,
            z_mean,
            z_std,
        });
    }
    Ok(DpsResults {
        config: cfg.clone(),
        datasets: datasets.clone(),
        sigma_d,
        truth_misfit: refs.truth_misfit,
        data_count: 2 * g.sources.len() * g.receivers.len(),
        levels: cfg.recorded_levels(),
        groups,
        references: refs.references,
        reference_seconds: refs.seconds,
    })
}
