//! Numerical extremes (issue 6): a bandwidth of 1e−4 in d = 100 with N = 1000, misfits of 1e8, and
//! training sets with two identical members give finite results — no NaN, no infinity, weights
//! that still sum to one.

use experiments::analysis::effective_components as effective_count;
use experiments::analysis::memorization::{MemorizationSummary, leave_one_out, ratios};
use experiments::fwi::ZScore;
use experiments::memprior_core::diffusion::{
    Batch, Denoiser, DifferentiableDenoiser, NoiseSchedule,
};
use experiments::memprior_core::{LogDensity, Score};
use experiments::priors::{GaussianDenoiser, MemorizedDenoiser, MemorizedPrior, TrainingSet};
use experiments::rand::SeedableRng;
use experiments::rand_chacha::ChaCha8Rng;
use experiments::samplers::diffusion::{DdimStep, reverse, standard_normal};
use experiments::samplers::dps::{StepSize, dps_paper};
use experiments::samplers::{GaussianLikelihood, LinearizedPosterior, Weighting};

fn finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

#[test]
fn tiny_bandwidth_in_100_dimensions_with_1000_points() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let rows = standard_normal(1000, 100, &mut rng).to_rows();
    let prior = MemorizedPrior::new(TrainingSet::new(&rows).unwrap(), 1e-4).unwrap();
    // A query far from every point (‖x − x_n‖²/2σ² ≈ 1e10) and one on a training point.
    let far = vec![3.0; 100];
    for x in [&far, &rows[17]] {
        let lp = prior.log_density(x);
        let s = prior.score(x);
        assert!(lp.is_finite(), "log density {lp}");
        assert!(finite(&s), "score has non-finite entries");
    }
    // The denoiser at the last level (1 − ᾱ = 1e−4) and DDIM down to the data.
    let den = MemorizedDenoiser::new(TrainingSet::new(&rows).unwrap(), NoiseSchedule::paper());
    let xb = Batch::new(100, far.clone()).unwrap();
    assert!(finite(den.x0(&xb, 0).as_slice()));
    assert!(finite(den.x0_vjp(&xb, 0, &xb).as_slice()));
    let out = reverse(
        &den,
        &DdimStep,
        standard_normal(4, 100, &mut rng),
        &mut rng,
        &mut (),
    );
    assert!(finite(out.as_slice()));
    let s = MemorizationSummary::of(&ratios(&out.to_rows(), &rows).unwrap());
    assert!(
        s.mean_r < 1e-3,
        "DDIM with σ → 1e−2 ends on training points: mean r {}",
        s.mean_r
    );
}

#[test]
fn misfits_of_1e8_give_finite_lookup_and_linearized_weights() {
    // A linear operator whose residuals at the training points are ~1e4 with γ = 1: Φ ≈ 5e7,
    // and Φ differs by ~1e4 between the points.
    let a =
        experiments::faer::Mat::from_fn(3, 2, |i, j| [[1.0, 0.5], [0.0, 2.0], [1.0, -1.0]][i][j]);
    let lik = GaussianLikelihood::new(
        experiments::operators::LinearOperator::new(a),
        vec![1e4, -1e4, 5e3],
        1.0,
    )
    .unwrap();
    let train = TrainingSet::new(&[vec![0.0, 0.0], vec![1.0, 1.0], vec![1.0, 1.0]]).unwrap();
    let w = experiments::samplers::lookup_weights(&lik, &train).unwrap();
    assert!(
        finite(&w) && (w.iter().sum::<f64>() - 1.0).abs() < 1e-12,
        "{w:?}"
    );
    assert!(effective_count(&w).is_finite());
    for sigma in [1e-4, 1.0, 1e3] {
        let post = LinearizedPosterior::new(&lik, &train, sigma).unwrap();
        for wt in Weighting::ALL {
            let w = post.weights(wt);
            assert!(
                finite(&w) && (w.iter().sum::<f64>() - 1.0).abs() < 1e-9,
                "σ = {sigma}: {w:?}"
            );
        }
        assert!(
            post.log_density(&[0.5, 0.5], Weighting::Evidence)
                .is_finite()
        );
    }
    // DPS with that misfit: the normalised step is blind to the scale.
    let den = MemorizedDenoiser::new(train.clone(), NoiseSchedule::paper());
    let trace = dps_paper(&den, &lik, &StepSize::Normalized(0.07), &[0.3, -0.2], 10).unwrap();
    assert!(finite(&trace.x) && trace.final_misfit.is_finite());
    assert!(
        trace
            .misfit_trace
            .iter()
            .all(|(_, p)| p.is_finite() && *p > 1e7)
    );
}

#[test]
fn two_identical_training_members() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut rows = standard_normal(20, 100, &mut rng).to_rows();
    rows[7] = rows[3].clone();
    // Memorization ratio: the duplicate's nearest neighbour is at distance 0, so r = 0, finite.
    let loo = leave_one_out(&rows).unwrap();
    assert_eq!(loo[3].r, 0.0);
    assert!(loo.iter().all(|b| b.r.is_finite()));
    let zs = ZScore::fit(&rows).unwrap();
    assert!(finite(&zs.scale) && zs.scale.iter().all(|s| *s > 0.0));
    // A Gaussian fitted to 20 points in 100 dimensions is singular: the denoiser must stay finite.
    let ts = TrainingSet::new(&rows).unwrap();
    let g = GaussianDenoiser::fit(&ts, NoiseSchedule::paper()).unwrap();
    let m = MemorizedDenoiser::new(ts, NoiseSchedule::paper());
    let x = standard_normal(3, 100, &mut rng);
    for t in [0, 100, 199] {
        assert!(finite(g.x0(&x, t).as_slice()) && finite(m.x0(&x, t).as_slice()));
        assert!(finite(m.x0_vjp(&x, t, &x).as_slice()) && finite(g.x0_vjp(&x, t, &x).as_slice()));
    }
    // Both copies get equal memorized weights.
    let w = m.weights(&rows[3], 150);
    assert!((w[3] - w[7]).abs() < 1e-15 && finite(&w));
}
