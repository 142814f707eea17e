//! Posteriors against independent computations: brute-force lookup weights, closed-form
//! Gaussian evidence for a linear operator, direct d × d and m × m formulas, and the σ → 0 limit.

use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;
use memprior_core::ForwardOperator;
use operators::{Cubic1d, LinearOperator, Quadratic2d};
use priors::{MemorizedPrior, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use samplers::{
    GaussianLikelihood, GridPosterior, LinearizedPosterior, TensorGrid, Weighting, lookup_weights,
};

fn normal_mat(rng: &mut ChaCha8Rng, r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| StandardNormal.sample(rng))
}

#[test]
fn lookup_weights_match_brute_force() {
    let pts = [-1.5, -0.4, 0.4, 1.2, 2.5];
    let set = TrainingSet::from_scalars(&pts).unwrap();
    let op = Cubic1d::default();
    let lik = GaussianLikelihood::new(op, vec![0.0], 0.3).unwrap();
    let w = lookup_weights(&lik, &set).unwrap();
    let raw: Vec<f64> = pts
        .iter()
        .map(|&x| (-(x + 0.3 * x * x * x).powi(2) / (2.0 * 0.09)).exp())
        .collect();
    let z: f64 = raw.iter().sum();
    for (a, b) in w.iter().zip(&raw) {
        assert!((a - b / z).abs() < 1e-15);
    }
    // Symmetric pair ±0.4 gets equal weight and takes almost everything.
    assert!((w[1] - w[2]).abs() < 1e-15 && w[1] + w[2] > 0.99);
}

#[test]
fn linear_operator_component_weights_equal_closed_form_evidence() {
    // F(x) = a x: π_n ∝ N(y; a x_n, a²σ² + γ²) exactly; the grid quadrature must reproduce it.
    let a = 1.7;
    let op = LinearOperator::new(Mat::from_fn(1, 1, |_, _| a));
    let pts = [-1.0, -0.2, 0.5, 1.4];
    let set = TrainingSet::from_scalars(&pts).unwrap();
    let (sigma, gamma, y) = (0.3, 0.4, 0.35);
    let lik = GaussianLikelihood::new(op.clone(), vec![y], gamma).unwrap();
    let prior = MemorizedPrior::new(set.clone(), sigma).unwrap();
    let grid = TensorGrid::uniform(&[(-6.0, 6.0, 4001)]).unwrap();
    let post = GridPosterior::compute(&grid, &prior, &lik).unwrap();
    let v = a * a * sigma * sigma + gamma * gamma;
    let raw: Vec<f64> = pts
        .iter()
        .map(|&x| (-(y - a * x).powi(2) / (2.0 * v)).exp())
        .collect();
    let z: f64 = raw.iter().sum();
    let pi = post.component_weights();
    for (p, r) in pi.iter().zip(&raw) {
        // Riemann sums of Gaussians of width ≥ 0.17 at spacing 0.003 are exact to ~1e-12.
        assert!((p - r / z).abs() < 1e-10, "{p} vs {}", r / z);
    }
    // For a linear F the linearised posterior is exact, weights included (evidence weighting).
    let lin = LinearizedPosterior::new(&lik, &set, sigma).unwrap();
    for (p, w) in pi.iter().zip(lin.weights(Weighting::Evidence)) {
        assert!((p - w).abs() < 1e-10);
    }
    let dv = grid.cell_volume();
    let mut tv = 0.0;
    for (g, lp) in post.log_posterior.iter().enumerate() {
        tv +=
            0.5 * (lp.exp() - lin.log_density(&grid.node(g), Weighting::Evidence).exp()).abs() * dv;
    }
    assert!(
        tv < 1e-9,
        "TV between exact and linearised for linear F: {tv}"
    );
}

fn direct_component(
    j: &Mat<f64>,
    r: &[f64],
    sigma: f64,
    gamma: f64,
) -> (Mat<f64>, Vec<f64>, f64, f64) {
    let (m, d) = (j.nrows(), j.ncols());
    let a = Mat::from_fn(d, d, |p, q| {
        (j.transpose() * j)[(p, q)] / (gamma * gamma)
            + if p == q { 1.0 / (sigma * sigma) } else { 0.0 }
    });
    let cov = a.llt(faer::Side::Lower).unwrap().inverse();
    let rc = Mat::from_fn(m, 1, |i, _| r[i]);
    let shift = &cov * j.transpose() * &rc;
    let c = Mat::from_fn(m, m, |p, q| {
        sigma * sigma * (j * j.transpose())[(p, q)] + if p == q { gamma * gamma } else { 0.0 }
    });
    let cinv = c.llt(faer::Side::Lower).unwrap().inverse();
    let quad = (rc.transpose() * &cinv * &rc)[(0, 0)];
    let llt = c.llt(faer::Side::Lower).unwrap();
    let logdet = (0..m).map(|i| 2.0 * llt.L()[(i, i)].ln()).sum();
    (
        cov,
        (0..d).map(|i| shift[(i, 0)] / (gamma * gamma)).collect(),
        quad,
        logdet,
    )
}

#[test]
fn both_factorisation_paths_match_direct_formulas() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (m, d) in [(3, 6), (6, 3), (4, 4)] {
        let op = LinearOperator::new(normal_mat(&mut rng, m, d));
        let y: Vec<f64> = (0..m).map(|_| StandardNormal.sample(&mut rng)).collect();
        let set = TrainingSet::new(&[(0..d)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect::<Vec<f64>>()])
        .unwrap();
        let (sigma, gamma) = (0.7, 0.4);
        let lik = GaussianLikelihood::new(op.clone(), y.clone(), gamma).unwrap();
        let lin = LinearizedPosterior::new(&lik, &set, sigma).unwrap();
        let c = &lin.components()[0];
        let (cov, shift, quad, logdet) = direct_component(
            op.matrix(),
            &lik.residual(set.point(0)).unwrap(),
            sigma,
            gamma,
        );
        // All quantities are O(1) and come from well-conditioned factorizations: 1e-12 is ~1e4 ε.
        for p in 0..d {
            assert!(
                (c.mean[p] - set.point(0)[p] - shift[p]).abs() < 1e-12,
                "({m},{d}) mean"
            );
            for q in 0..d {
                assert!(
                    (c.covariance[(p, q)] - cov[(p, q)]).abs() < 1e-12,
                    "({m},{d}) cov"
                );
            }
        }
        assert!(
            (c.quadratic_form - quad).abs() < 1e-11 * quad.max(1.0),
            "({m},{d}) quad"
        );
        assert!(
            (c.log_det_data_covariance - logdet).abs() < 1e-11,
            "({m},{d}) logdet"
        );
    }
}

#[test]
fn vanishing_bandwidth_collapses_onto_the_lookup_table() {
    // σ → 0: Σ_n → 0, μ_n → x_n, and both weightings → the lookup weights [eq:lookup-table].
    let rows: Vec<Vec<f64>> = (0..5)
        .map(|n| {
            let t = 2.0 * std::f64::consts::PI * n as f64 / 5.0;
            vec![2.0 * t.cos(), 2.0 * t.sin()]
        })
        .collect();
    let set = TrainingSet::new(&rows).unwrap();
    let op = Quadratic2d::default();
    let y = op.apply(&[1.4, 0.0]).unwrap();
    let lik = GaussianLikelihood::new(op, y, 0.3).unwrap();
    let lookup = lookup_weights(&lik, &set).unwrap();
    let sigma = 1e-6;
    let lin = LinearizedPosterior::new(&lik, &set, sigma).unwrap();
    for w in Weighting::ALL {
        for (a, b) in lin.weights(w).iter().zip(&lookup) {
            // Weights move by O(σ² ‖J‖²/γ²) ≈ 1e-10 relative.
            assert!((a - b).abs() < 1e-8, "{w:?}: {a} vs {b}");
        }
    }
    for c in lin.components() {
        for k in 0..2 {
            assert!((c.mean[k] - c.center[k]).abs() < 1e-10);
            assert!(c.covariance[(k, k)] <= sigma * sigma * (1.0 + 1e-9));
        }
    }
}

#[test]
fn invalid_settings_name_the_field() {
    let op = Cubic1d::default();
    assert!(
        GaussianLikelihood::new(op, vec![0.0], 0.0)
            .unwrap_err()
            .to_string()
            .contains("`gamma`")
    );
    assert!(
        GaussianLikelihood::new(op, vec![0.0, 1.0], 0.3)
            .unwrap_err()
            .to_string()
            .contains("`y`")
    );
    assert!(
        TensorGrid::new(vec![vec![0.0]])
            .unwrap_err()
            .to_string()
            .contains("at least 2")
    );
    assert!(TensorGrid::new(vec![vec![0.0, f64::NAN]]).is_err());
    assert!(
        TensorGrid::new(vec![vec![0.0, 1.0, 3.0]])
            .unwrap_err()
            .to_string()
            .contains("equispaced")
    );
    let lik = GaussianLikelihood::new(op, vec![0.0], 0.3).unwrap();
    let set = TrainingSet::from_scalars(&[0.0]).unwrap();
    assert!(
        LinearizedPosterior::new(&lik, &set, -1.0)
            .unwrap_err()
            .to_string()
            .contains("`sigma`")
    );
}
