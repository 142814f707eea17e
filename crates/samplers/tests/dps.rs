//! Diffusion posterior sampling against posteriors we know exactly.
//!
//! 1. Linear F = a·Q (Q orthogonal) with a Gaussian prior N(m₀, λ I): the posterior is
//!    N(μ_p, v_p I) and, coordinate by coordinate, every DPS step through the denoiser is affine
//!    in x_t, so the sampler's output law (mean and variance) follows a scalar recursion written
//!    here independently of the library. DPS is exact in this problem when its step is
//!    κ_t = β_t γ² / (√α_t (γ² + a² v_t)) (v_t = Var(x₀ | x_t)): then the guided DDPM step is the
//!    DDPM step of the exact posterior, and the only error left is the T = 200 discretisation.
//!    Plain DPS (κ_t = β_t/√α_t) drops a² v_t and is measured against the same posterior.
//! 2. A memorized prior: the paper's DPS variant ends within ζ of a training point, and in the
//!    collapse regime (one lookup weight ≥ 0.999) its visit frequencies agree with the lookup
//!    weights within the binomial error of S samples.

mod common;

use analysis::memorization::ratios;
use faer::Mat;
use memprior_core::Misfit;
use memprior_core::diffusion::{Batch, NoiseSchedule};
use operators::LinearOperator;
use priors::{GaussianDenoiser, MemorizedDenoiser, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use samplers::GaussianLikelihood;
use samplers::diffusion::{DdpmStep, standard_normal};
use samplers::dps::{StepSize, dps_paper, dps_paper_authors, dps_through_denoiser};
use samplers::lookup_weights;
use testkit::gaussian::ScalarProblem;

const D: usize = 3;
const LAMBDA: f64 = 1.0;
const A: f64 = 2.0;
const GAMMA: f64 = 0.5;

fn householder() -> Mat<f64> {
    let v = [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
    Mat::from_fn(
        D,
        D,
        |i, j| if i == j { 1.0 } else { 0.0 } - 2.0 * v[i] * v[j],
    )
}

/// Coordinate k of the rotated problem: prior N(m₀[k], λ), datum a·y'[k] with noise std γ.
fn scalar(m0: f64, yp: f64) -> ScalarProblem {
    ScalarProblem {
        lambda: LAMBDA,
        a: A,
        gamma: GAMMA,
        m0,
        y: A * yp,
    }
}

fn linear_problem() -> (Vec<f64>, GaussianLikelihood<LinearOperator>, Vec<f64>) {
    let q = householder();
    let m0 = vec![0.3, -0.5, 1.0];
    let x_true = [1.2, 0.4, -0.8];
    let a = Mat::from_fn(D, D, |i, j| A * q[(i, j)]);
    let noise = [0.21, -0.37, 0.05];
    let y: Vec<f64> = (0..D)
        .map(|i| (0..D).map(|j| a[(i, j)] * x_true[j]).sum::<f64>() + noise[i])
        .collect();
    // y' = Q y / a (Q is symmetric and orthogonal): ‖A x − y‖ = a ‖x − y'‖.
    let yp: Vec<f64> = (0..D)
        .map(|i| (0..D).map(|j| q[(i, j)] * y[j]).sum::<f64>() / A)
        .collect();
    let lik = GaussianLikelihood::new(LinearOperator::new(a), y, GAMMA).unwrap();
    (m0, lik, yp)
}

fn run_linear(kappa: &[f64], seed: u64, n: usize) -> Vec<Vec<f64>> {
    let (m0, lik, yp) = linear_problem();
    let s = NoiseSchedule::paper();
    let cov = Mat::from_fn(D, D, |i, j| if i == j { LAMBDA } else { 0.0 });
    let den = GaussianDenoiser::new(m0.clone(), &cov, s.clone()).unwrap();
    let prec = A * A / (GAMMA * GAMMA);
    let vp = 1.0 / (1.0 / LAMBDA + prec);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ab = s.alpha_bar(s.steps() - 1);
    let step = StepSize::PerLevel(kappa.to_vec());
    (0..n)
        .map(|_| {
            let xi = standard_normal(1, D, &mut rng);
            // The exact posterior marginal at T − 1.
            let start: Vec<f64> = (0..D)
                .map(|k| {
                    let mp = vp * (m0[k] / LAMBDA + prec * yp[k]);
                    ab.sqrt() * mp + (ab * vp + 1.0 - ab).sqrt() * xi.row(0)[k]
                })
                .collect();
            dps_through_denoiser(&den, &lik, &DdpmStep, &step, &start, &mut rng, 0)
                .unwrap()
                .x
        })
        .collect()
}

/// Compare sample moments with the recursion's law; returns the law per coordinate.
fn check_law(samples: &[Vec<f64>], kappa: &[f64], label: &str) -> Vec<(f64, f64)> {
    let (m0, _, yp) = linear_problem();
    let s = NoiseSchedule::paper();
    (0..D)
        .map(|k| {
            let p = scalar(m0[k], yp[k]);
            let (mp, vp) = p.posterior();
            let law = p.law(&s, kappa, p.posterior_start(&s));
            let coordinate: Vec<f64> = samples.iter().map(|x| x[k]).collect();
            let c = testkit::moment_check(&coordinate, law, 5.0);
            eprintln!(
                "{label} k={k}: mean {:.4} (law {:.4}, posterior {mp:.4}), var {:.5} (law {:.5}, posterior {vp:.5})",
                c.mean, law.0, c.var, law.1
            );
            assert!(c.passes(), "{label} k={k}: {c:?}");
            law
        })
        .collect()
}

#[test]
fn guidance_recursion_without_data_is_the_ddpm_law() {
    // κ = 0: the recursion must reduce to the unconditional DDPM law of the shared helper.
    let s = NoiseSchedule::paper();
    let ab = s.alpha_bar(s.steps() - 1);
    let law = scalar(0.0, 0.0).law(&s, &vec![0.0; s.steps()], (0.0, ab * LAMBDA + 1.0 - ab));
    let reference = common::sampler_variance(LAMBDA, &s, true);
    assert!(
        (law.1 - reference).abs() < 1e-14 * reference,
        "{} vs {reference}",
        law.1
    );
}

#[test]
fn dps_with_exact_guidance_samples_the_linear_gaussian_posterior() {
    let s = NoiseSchedule::paper();
    // v_t does not depend on m₀ or y: one κ serves every coordinate.
    let kappa = scalar(0.0, 0.0).exact_kappa(&s);
    let samples = run_linear(&kappa, 41, 3000);
    let laws = check_law(&samples, &kappa, "exact-step DPS");
    let (m0, _, yp) = linear_problem();
    let prec = A * A / (GAMMA * GAMMA);
    let vp = 1.0 / (1.0 / LAMBDA + prec);
    for (k, (mean, var)) in laws.into_iter().enumerate() {
        let mp = vp * (m0[k] / LAMBDA + prec * yp[k]);
        // The guided chain is the DDPM chain of the posterior: unbiased in the mean, and its
        // variance carries only the DDPM discretisation bias of a Gaussian of variance v_p.
        assert!(
            (mean - mp).abs() < 1e-12,
            "k={k}: law mean {mean} vs posterior {mp}"
        );
        let ddpm = common::sampler_variance(vp, &s, true);
        assert!(
            (var - ddpm).abs() < 1e-12 * ddpm,
            "k={k}: law var {var} vs DDPM law {ddpm}"
        );
        assert!(
            (var - vp).abs() < 0.1 * vp,
            "k={k}: bias {} of v_p {vp}",
            var - vp
        );
    }
}

#[test]
fn plain_dps_is_overconfident_where_var_x0_given_xt_is_not_small() {
    let s = NoiseSchedule::paper();
    let kappa = ScalarProblem::plain_kappa(&s);
    let samples = run_linear(&kappa, 42, 3000);
    let laws = check_law(&samples, &kappa, "plain DPS");
    let prec = A * A / (GAMMA * GAMMA);
    let vp = 1.0 / (1.0 / LAMBDA + prec);
    let exact_ddpm = common::sampler_variance(vp, &s, true);
    for (k, (_, var)) in laws.into_iter().enumerate() {
        // Dropping a² v_t over-weights the data at high noise: the spread shrinks well below
        // what the exact sampler gives, by more than the Monte Carlo error of 3000 samples.
        assert!(
            var < 0.8 * exact_ddpm,
            "k={k}: plain DPS var {var} vs exact-step law {exact_ddpm}"
        );
    }
}

fn memorized_problem(
    y_center: &[f64],
    gamma: f64,
) -> (TrainingSet, GaussianLikelihood<LinearOperator>) {
    let train = vec![
        vec![-1.5, 0.5],
        vec![0.0, 1.2],
        vec![1.4, -0.3],
        vec![-0.6, -1.4],
        vec![0.9, 1.6],
    ];
    let a = Mat::from_fn(2, 2, |i, j| [[1.0, 0.4], [-0.3, 0.8]][i][j]);
    let y: Vec<f64> = (0..2)
        .map(|i| (0..2).map(|j| a[(i, j)] * y_center[j]).sum())
        .collect();
    let lik = GaussianLikelihood::new(LinearOperator::new(a), y, gamma).unwrap();
    (TrainingSet::new(&train).unwrap(), lik)
}

fn paper_dps_visits(
    train: &TrainingSet,
    lik: &GaussianLikelihood<LinearOperator>,
    zeta: f64,
    n: usize,
) -> (Vec<usize>, f64) {
    let den = MemorizedDenoiser::new(train.clone(), NoiseSchedule::paper());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start: Batch = standard_normal(n, 2, &mut rng);
    let rows: Vec<Vec<f64>> = train.iter().map(<[f64]>::to_vec).collect();
    let finals: Vec<Vec<f64>> = start
        .rows()
        .map(|x| {
            dps_paper(&den, lik, &StepSize::Normalized(zeta), x, 10)
                .unwrap()
                .x
        })
        .collect();
    let nb = ratios(&finals, &rows).unwrap();
    let mut visits = vec![0; rows.len()];
    let mut worst: f64 = 0.0;
    for b in &nb {
        visits[b.nearest] += 1;
        worst = worst.max(b.d1);
    }
    (visits, worst)
}

fn total_variation(visits: &[usize], w: &[f64]) -> f64 {
    let s: usize = visits.iter().sum();
    visits
        .iter()
        .zip(w)
        .map(|(&v, wn)| (v as f64 / s as f64 - wn).abs())
        .sum::<f64>()
        / 2.0
}

#[test]
fn paper_dps_with_a_memorized_prior_ends_on_training_points_with_lookup_frequencies() {
    // Regime: collapse (one lookup weight ≥ 0.999) and a step ζ inside the window where the
    // fixed-length moves can steer (ζ T ≈ 7 exceeds the spacing δ ≈ 1.5 of the training points)
    // without overshooting a basin (ζ ≪ δ). ζ = 0.035 is the authors' second setting.
    let zeta = 0.035;
    let (train, lik) = memorized_problem(&[1.3, -0.2], 0.3);
    let w = lookup_weights(&lik, &train).unwrap();
    eprintln!("lookup weights {w:?}");
    assert!(w[2] > 0.999, "the test needs the collapse regime: {w:?}");
    let s = 400;
    let (visits, worst) = paper_dps_visits(&train, &lik, zeta, s);
    eprintln!("visits {visits:?}, farthest final point {worst:.4}");
    // The last move is exactly ζ from x̂₀ at t = 0, itself a training point to rounding.
    assert!(
        worst <= zeta + 1e-6,
        "a sample ends {worst} from every training point"
    );
    for (n, (&v, &wn)) in visits.iter().zip(&w).enumerate() {
        let f = v as f64 / s as f64;
        // Binomial(S, w_n)/S: 5 standard deviations, plus one count for the discreteness.
        let tol = 5.0 * (wn * (1.0 - wn) / s as f64).sqrt() + 1.0 / s as f64;
        assert!(
            (f - wn).abs() <= tol,
            "n={n}: visit frequency {f} vs lookup weight {wn} (tol {tol})"
        );
    }
}

#[test]
fn paper_dps_frequencies_leave_the_lookup_posterior_outside_its_step_window() {
    // The same collapsed posterior: too short a step leaves the prior in charge, too long a step
    // overshoots basins; either way the visit frequencies are set by DPS's dynamics, not Bayes.
    // Measured (S = 400): ζ = 0.005 → 41 % on the right point, ζ = 0.07 → 60 %, ζ = 0.035 → 100 %.
    let (train, lik) = memorized_problem(&[1.3, -0.2], 0.3);
    let w = lookup_weights(&lik, &train).unwrap();
    for zeta in [0.005, 0.07] {
        let (visits, worst) = paper_dps_visits(&train, &lik, zeta, 400);
        let tv = total_variation(&visits, &w);
        eprintln!("ζ = {zeta}: visits {visits:?}, total variation to the lookup posterior {tv:.3}");
        assert!(
            worst <= zeta + 1e-6,
            "ζ = {zeta}: a sample ends {worst} from every training point"
        );
        // 5 binomial σ of the largest weight is below 0.01: a distance of 0.2 is not chance.
        assert!(
            tv > 0.2,
            "ζ = {zeta}: expected DPS to miss the lookup posterior, TV {tv}"
        );
    }
}

#[test]
fn the_authors_paper_variant_is_ddim_with_their_re_denoise_and_a_pre_step_trace() {
    // Without guidance (ζ = 0) both paper variants are plain DDIM, step for step; the authors'
    // trace is Φ of the DDIM estimate x̂₀(x_t, t) taken before the step, recomputed here.
    let (train, lik) = memorized_problem(&[1.3, -0.2], 0.3);
    let den = MemorizedDenoiser::new(train.clone(), NoiseSchedule::paper());
    let x_start = [0.4, -0.9];
    let ours = dps_paper(&den, &lik, &StepSize::Normalized(0.0), &x_start, 10).unwrap();
    let theirs = dps_paper_authors(&den, &lik, &StepSize::Normalized(0.0), &x_start, 10).unwrap();
    assert_eq!(ours.x, theirs.x, "unguided, both are the same DDIM path");
    let mut x = x_start.to_vec();
    let mut expected = Vec::new();
    let s = NoiseSchedule::paper();
    for t in (0..s.steps()).rev() {
        let (x0, eps) = memprior_core::diffusion::Denoiser::x0_and_epsilon(
            &den,
            &Batch::new(2, x.clone()).unwrap(),
            t,
        );
        if t % 10 == 0 {
            expected.push((t, lik.misfit(x0.row(0)).unwrap()));
        }
        let ab = s.alpha_bar_prev(t);
        x = (0..2)
            .map(|i| ab.sqrt() * x0.row(0)[i] + (1.0 - ab).sqrt() * eps.row(0)[i])
            .collect();
    }
    assert_eq!(theirs.misfit_trace.len(), expected.len());
    for ((t, a), (u, b)) in theirs.misfit_trace.iter().zip(&expected) {
        assert_eq!(t, u);
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            "t = {t}: {a} vs {b}"
        );
    }
    // Guided, the re-denoise differs (ε at the old level, ᾱ of the new one), so do the paths,
    // yet with the memorized prior the authors' variant also ends within ζ of a training point.
    let zeta = 0.035;
    let guided_ours = dps_paper(&den, &lik, &StepSize::Normalized(zeta), &x_start, 10).unwrap();
    let guided = dps_paper_authors(&den, &lik, &StepSize::Normalized(zeta), &x_start, 10).unwrap();
    assert_ne!(guided.x, guided_ours.x);
    let rows: Vec<Vec<f64>> = train.iter().map(<[f64]>::to_vec).collect();
    let nb = ratios(std::slice::from_ref(&guided.x), &rows).unwrap();
    assert!(
        nb[0].d1 <= zeta + 1e-6,
        "ends {} from the training set",
        nb[0].d1
    );
}
