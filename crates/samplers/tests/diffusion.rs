//! Reverse diffusion against distributions we know exactly.
//!
//! 1. A Gaussian data prior N(μ, C) with its exact denoiser: every DDIM/DDPM step is affine in
//!    x_t, so along each eigenvector of C the sampler's output variance follows a scalar
//!    recursion (computed here independently of the library). That recursion gives the
//!    discretisation bias of T = 200 steps; the Monte Carlo tolerance is derived from the sample
//!    size. Starting point: the exact marginal q(x_{T−1}) = N(√ᾱ μ, ᾱ C + (1 − ᾱ) I), since
//!    ᾱ_{T−1} ≈ 0.132 and N(0, I) is not that marginal.
//! 2. The memorized denoiser: brute-force posterior mean, Tweedie's identity with the mixture
//!    score, and DDIM ending on training points.

use analysis::memorization::ratios;
use faer::Mat;
use memprior_core::diffusion::{Batch, Denoiser, NoiseSchedule};
use priors::{GaussianDenoiser, MemorizedDenoiser, MemorizedPrior, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use samplers::diffusion::{DdimStep, DdpmStep, ReverseStep, reverse, standard_normal};

mod common;
use common::sampler_variance;

const D: usize = 3;

/// A covariance with eigenvalues spread over two decades (small and large relative to 1 − ᾱ).
fn prior() -> (Vec<f64>, Mat<f64>) {
    let mu = vec![0.5, -1.0, 2.0];
    // C = Q diag(4, 0.5, 0.04) Qᵀ with a fixed rotation Q (Householder of (1, 2, 2)/3).
    let v = [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
    let q = Mat::<f64>::from_fn(
        D,
        D,
        |i, j| if i == j { 1.0 } else { 0.0 } - 2.0 * v[i] * v[j],
    );
    let lam = [4.0, 0.5, 0.04];
    let c = Mat::<f64>::from_fn(D, D, |i, j| {
        (0..D).map(|k| q[(i, k)] * lam[k] * q[(j, k)]).sum()
    });
    (mu, c)
}

fn check_gaussian<S: ReverseStep<GaussianDenoiser, Error = std::convert::Infallible>>(
    step: &S,
    ddpm: bool,
    seed: u64,
) {
    let (mu, c) = prior();
    let schedule = NoiseSchedule::paper();
    let den = GaussianDenoiser::new(mu.clone(), &c, schedule.clone()).unwrap();
    let (lam, vecs) = den.eigen();
    let (lam, vecs) = (lam.to_vec(), vecs.clone());
    let n = 4000;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Exact marginal at T − 1: √ᾱ μ + V diag(√(ᾱλ + 1 − ᾱ)) ξ.
    let ab = schedule.alpha_bar(schedule.steps() - 1);
    let xi = standard_normal(n, D, &mut rng);
    let mut x_start = Batch::zeros(n, D);
    for i in 0..n {
        for a in 0..D {
            x_start.row_mut(i)[a] = ab.sqrt() * mu[a]
                + (0..D)
                    .map(|k| vecs[(a, k)] * (ab * lam[k] + 1.0 - ab).sqrt() * xi.row(i)[k])
                    .sum::<f64>();
        }
    }
    let out = reverse(&den, step, x_start, &mut rng, &mut ());
    // Eigen-coordinates of the centred samples.
    let coords: Vec<[f64; D]> = out
        .rows()
        .map(|x| std::array::from_fn(|k| (0..D).map(|a| vecs[(a, k)] * (x[a] - mu[a])).sum()))
        .collect();
    for k in 0..D {
        let mean = coords.iter().map(|u| u[k]).sum::<f64>() / n as f64;
        let var = coords.iter().map(|u| (u[k] - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let exact = sampler_variance(lam[k], &schedule, ddpm);
        let bias = exact - lam[k];
        // The sampler is unbiased in the mean (the recursion keeps E u = 0); MC: 5 σ/√n.
        let tol_mean = 5.0 * (exact / n as f64).sqrt();
        assert!(
            mean.abs() < tol_mean,
            "k={k}: mean {mean} vs tol {tol_mean}"
        );
        // Sample variance of a Gaussian: sd = v √(2/(n−1)); 5 sd plus the discretisation bias.
        let tol_var = 5.0 * exact * (2.0 / (n - 1) as f64).sqrt();
        assert!(
            (var - lam[k]).abs() < tol_var + bias.abs(),
            "k={k} ddpm={ddpm}: var {var} vs λ {} (bias {bias}, tol {tol_var})",
            lam[k]
        );
        // …and against the sampler's own law, without the bias allowance.
        assert!(
            (var - exact).abs() < tol_var,
            "k={k}: var {var} vs sampler law {exact}"
        );
        // T = 200 steps: the bias is small next to λ. Measured (λ = 0.04, 0.5, 4): DDIM −2.9, −0.95,
        // −0.42 %; DDPM −7.1, −2.5, −1.2 % (β̃_t ignores the spread of x₀ given x_t, which
        // matters most when λ is below the noise level).
        eprintln!(
            "ddpm={ddpm} λ={}: bias {:.3e} ({:.2} %)",
            lam[k],
            bias,
            100.0 * bias / lam[k]
        );
        assert!(
            bias.abs() < 0.1 * lam[k],
            "k={k} ddpm={ddpm}: bias {bias} of λ {}",
            lam[k]
        );
    }
    // Cross-covariances in eigen-coordinates vanish: sd √(λ_i λ_j / n).
    for i in 0..D {
        for j in (i + 1)..D {
            let cov = coords.iter().map(|u| u[i] * u[j]).sum::<f64>() / n as f64;
            let tol = 5.0 * (lam[i] * lam[j] / n as f64).sqrt() * 1.05;
            assert!(cov.abs() < tol, "({i},{j}): {cov} vs {tol}");
        }
    }
}

#[test]
fn ddim_matches_gaussian_prior() {
    check_gaussian(&DdimStep, false, 11);
}

#[test]
fn ddpm_matches_gaussian_prior() {
    check_gaussian(&DdpmStep, true, 12);
}

fn training(seed: u64, n: usize, d: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    standard_normal(n, d, &mut rng).to_rows()
}

#[test]
fn memorized_denoiser_is_the_posterior_mean_and_tweedie_holds() {
    let rows = training(3, 7, 5);
    let schedule = NoiseSchedule::paper();
    let den = MemorizedDenoiser::new(TrainingSet::new(&rows).unwrap(), schedule.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = standard_normal(3, 5, &mut rng);
    for t in [0, 50, 150, 199] {
        let ab = schedule.alpha_bar(t);
        let got = den.x0(&x, t);
        for (i, xt) in x.rows().enumerate() {
            // Brute force: Gaussian likelihoods N(x_t; √ᾱ x_n, (1 − ᾱ) I), normalised, no log-sum-exp
            // (the shift by the smallest exponent only keeps t = 0 from underflowing to 0/0).
            let e: Vec<f64> = rows
                .iter()
                .map(|xn| {
                    xt.iter()
                        .zip(xn)
                        .map(|(a, b)| (a - ab.sqrt() * b).powi(2))
                        .sum::<f64>()
                        / (2.0 * (1.0 - ab))
                })
                .collect();
            let e_min = e.iter().cloned().fold(f64::INFINITY, f64::min);
            let p: Vec<f64> = e.iter().map(|v| (-(v - e_min)).exp()).collect();
            let z: f64 = p.iter().sum();
            for k in 0..5 {
                let want: f64 = p.iter().zip(&rows).map(|(pn, xn)| pn * xn[k]).sum::<f64>() / z;
                assert!(
                    (got.row(i)[k] - want).abs() < 1e-12,
                    "t={t}: {} vs {want}",
                    got.row(i)[k]
                );
            }
            // Tweedie: x̂₀ = (x_t + (1 − ᾱ) ∇ log p_t(x_t)) / √ᾱ with p_t the mixture of
            // N(√ᾱ x_n, (1 − ᾱ) I), i.e. the memorized prior of the scaled set at σ = √(1 − ᾱ).
            let scaled = TrainingSet::new(&rows).unwrap().scaled(ab.sqrt());
            let mix = MemorizedPrior::new(scaled, (1.0 - ab).sqrt()).unwrap();
            let score = memprior_core::Score::score(&mix, xt);
            for k in 0..5 {
                let tw = (xt[k] + (1.0 - ab) * score[k]) / ab.sqrt();
                assert!(
                    (got.row(i)[k] - tw).abs() < 1e-10 * (1.0 + tw.abs()),
                    "t={t}: Tweedie"
                );
            }
        }
    }
}

#[test]
fn ddim_with_memorized_denoiser_lands_on_training_points() {
    let rows = training(5, 20, 10);
    let den = MemorizedDenoiser::new(TrainingSet::new(&rows).unwrap(), NoiseSchedule::paper());
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let x_t = standard_normal(64, 10, &mut rng);
    let out = reverse(&den, &DdimStep, x_t, &mut rng, &mut ());
    let r = ratios(&out.to_rows(), &rows).unwrap();
    let worst = r.iter().map(|n| n.r).fold(0.0, f64::max);
    assert!(worst < 1e-3, "worst r = {worst}");
}
