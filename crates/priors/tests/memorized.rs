//! Checks of [eq:gmm-prior], [eq:gmm-score] and [eq:empirical-denoiser] against independent
//! computations: central finite differences, Tweedie's identity, brute-force sums, Monte Carlo.

use memprior_core::{LogDensity, Score};
use priors::{EmpiricalDenoiser, EmpiricalMeasure, GaussianKde, MemorizedPrior, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn random_set(rng: &mut ChaCha8Rng, n: usize, d: usize, scale: f64) -> TrainingSet {
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|_| {
            (0..d)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(rng);
                    scale * z
                })
                .collect::<Vec<f64>>()
        })
        .collect();
    TrainingSet::new(&rows).unwrap()
}

#[test]
fn score_matches_central_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let prior = MemorizedPrior::new(random_set(&mut rng, 6, 3, 1.0), 0.7).unwrap();
    let x = vec![0.3, -0.2, 0.5];
    let g = prior.score(&x);
    let h = 1e-5;
    for k in 0..3 {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[k] += h;
        xm[k] -= h;
        let fd = (prior.log_density(&xp) - prior.log_density(&xm)) / (2.0 * h);
        // Central differences: truncation O(h²·|f'''|) ≈ 1e-10, rounding ε·|f|/h ≈ 1e-11.
        assert!((fd - g[k]).abs() < 1e-7, "k={k}: fd {fd} vs score {}", g[k]);
    }
}

#[test]
fn log_density_matches_brute_force_sum() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let set = random_set(&mut rng, 4, 2, 1.5);
    let sigma = 0.8;
    let prior = MemorizedPrior::new(set.clone(), sigma).unwrap();
    let x = [0.1, 0.4];
    let brute: f64 = set
        .iter()
        .map(|xn| {
            let r2 = (x[0] - xn[0]).powi(2) + (x[1] - xn[1]).powi(2);
            (-r2 / (2.0 * sigma * sigma)).exp() / (2.0 * std::f64::consts::PI * sigma * sigma)
        })
        .sum::<f64>()
        / 4.0;
    assert!((prior.log_density(&x) - brute.ln()).abs() < 1e-13);
}

#[test]
fn denoiser_satisfies_tweedie_with_the_mixture_score() {
    // p_t = (1/N) Σ N(√ᾱ x_n, (1−ᾱ) I) is the memorized prior of the scaled set with σ² = 1 − ᾱ;
    // Tweedie: E[x₀|x_t] = (x_t + (1−ᾱ) ∇log p_t(x_t)) / √ᾱ.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let set = random_set(&mut rng, 8, 4, 1.0);
    let denoiser = EmpiricalDenoiser::new(set.clone());
    for &alpha_bar in &[0.99_f64, 0.5, 0.132] {
        let p_t =
            MemorizedPrior::new(set.scaled(alpha_bar.sqrt()), (1.0 - alpha_bar).sqrt()).unwrap();
        let x_t: Vec<f64> = (0..4).map(|_| StandardNormal.sample(&mut rng)).collect();
        let x0 = denoiser.posterior_mean(&x_t, alpha_bar).unwrap();
        let score = p_t.score(&x_t);
        for k in 0..4 {
            let tweedie = (x_t[k] + (1.0 - alpha_bar) * score[k]) / alpha_bar.sqrt();
            assert!((x0[k] - tweedie).abs() < 1e-12, "ᾱ={alpha_bar}, k={k}");
        }
        // ε̂ and x̂₀ are tied by x_t = √ᾱ x̂₀ + √(1−ᾱ) ε̂.
        let eps = denoiser.epsilon(&x_t, alpha_bar).unwrap();
        for k in 0..4 {
            let back = alpha_bar.sqrt() * x0[k] + (1.0 - alpha_bar).sqrt() * eps[k];
            assert!((back - x_t[k]).abs() < 1e-12);
        }
    }
    assert!(denoiser.posterior_mean(&[0.0; 4], 1.0).is_err());
    assert!(denoiser.posterior_mean(&[0.0; 4], 0.0).is_err());
}

#[test]
fn extreme_bandwidth_stays_finite() {
    // σ = 1e-4 in d = 100 with N = 1000: every exp(−‖x − x_n‖²/2σ²) underflows in a naive sum.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let set = random_set(&mut rng, 1000, 100, 1.0);
    let prior = MemorizedPrior::new(set.clone(), 1e-4).unwrap();
    let x: Vec<f64> = (0..100).map(|_| StandardNormal.sample(&mut rng)).collect();
    let lp = prior.log_density(&x);
    assert!(lp.is_finite() && lp < -1e8, "log density {lp}");
    let g = prior.score(&x);
    assert!(g.iter().all(|v| v.is_finite()));
    let w = prior.responsibilities(&x);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // At a training point the score vanishes up to the far components (all underflow).
    let at = prior.score(set.point(17));
    assert!(at.iter().all(|v| v.abs() < 1e-6));
    let denoiser = EmpiricalDenoiser::new(set.clone());
    let x0 = denoiser.posterior_mean(&x, 1.0 - 1e-8).unwrap();
    assert!(x0.iter().all(|v| v.is_finite()));
}

#[test]
fn sampling_matches_mixture_moments() {
    // Mean of the mixture is the training mean; variance is σ² + spread of the points.
    let set = TrainingSet::from_scalars(&[-1.5, -0.4, 0.4, 1.2, 2.5]).unwrap();
    let sigma = 0.3;
    let prior = MemorizedPrior::new(set.clone(), sigma).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 200_000;
    let s = prior.sample_n(&mut rng, n);
    let mean = s.iter().map(|v| v[0]).sum::<f64>() / n as f64;
    let pts: Vec<f64> = set.iter().map(|p| p[0]).collect();
    let mu = pts.iter().sum::<f64>() / 5.0;
    let var = pts.iter().map(|p| (p - mu).powi(2)).sum::<f64>() / 5.0 + sigma * sigma;
    // 5 Monte-Carlo standard errors: √(var/n) ≈ 0.0030.
    assert!(
        (mean - mu).abs() < 5.0 * (var / n as f64).sqrt(),
        "{mean} vs {mu}"
    );
    let emp = EmpiricalMeasure::new(set);
    let draws = emp.sample_n(&mut rng, 100);
    assert!(draws.iter().all(|d| pts.contains(&d[0])));
    assert!((emp.expectation(|x| x[0]) - mu).abs() < 1e-15);
}

#[test]
fn kde_integrates_to_one_and_matches_factor_rule() {
    let pts = [-3.1, -2.7, 2.9, 3.3, 3.0];
    let kde = GaussianKde::with_factor(&pts, 0.3).unwrap();
    let mean = pts.iter().sum::<f64>() / 5.0;
    let sd = (pts.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
    assert!((kde.bandwidth() - 0.3 * sd).abs() < 1e-14);
    let grid = memprior_core::numerics::linspace(-10.0, 10.0, 20001);
    let dx = grid[1] - grid[0];
    let mass: f64 = grid.iter().map(|&x| kde.pdf(x)).sum::<f64>() * dx;
    // Riemann sum of a smooth density decaying to 0 at both ends: spectrally accurate.
    assert!((mass - 1.0).abs() < 1e-9, "{mass}");
}

#[test]
fn invalid_inputs_are_rejected_with_the_field_name() {
    assert!(
        TrainingSet::new(&[])
            .unwrap_err()
            .to_string()
            .contains("training_points")
    );
    let e = MemorizedPrior::new(TrainingSet::from_scalars(&[0.0]).unwrap(), -0.1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid `sigma`: must be a finite number > 0 (got -0.1)"
    );
    assert!(TrainingSet::new(&[vec![0.0], vec![f64::NAN]]).is_err());
    assert!(TrainingSet::new(&[vec![0.0], vec![1.0, 2.0]]).is_err());
}
