//! The FWI datasets and the misfit in KL coordinates: nesting, determinism, the true model's
//! selection, Taylor tests of ∇_z Φ and ∇_z̃ Φ, the Jacobian of the z-scored map, and the bits of
//! every map pinned.

use experiments::fwi::posterior::fwi_map;
use experiments::fwi::{DatasetConfig, FwiDatasets, ZScore, add_noise};
use memprior_core::{ForwardOperator, JacobianAction, Misfit};
use operators::helmholtz::{Geometry, GeometryPreset, Helmholtz};
use operators::reparam::Affine;
use priors::KlBasis;
use samplers::GaussianLikelihood;

fn small_config() -> DatasetConfig {
    DatasetConfig {
        grid_n: 32,
        n_train: 60,
        n_null: 20,
        n_candidates: 40,
        true_model_reference: 50,
        ..Default::default()
    }
}

#[test]
fn datasets_are_nested_deterministic_and_the_truth_is_far_from_training() {
    let kl = KlBasis::default();
    let a = FwiDatasets::generate(&small_config(), &kl).unwrap();
    let b = FwiDatasets::generate(&small_config(), &kl).unwrap();
    assert_eq!(a, b);
    // A larger N draws more from the same stream: the smaller set is its prefix.
    let bigger = FwiDatasets::generate(
        &DatasetConfig {
            n_train: 80,
            ..small_config()
        },
        &kl,
    )
    .unwrap();
    assert_eq!(&bigger.train[..60], &a.train[..]);
    assert_eq!(bigger.null, a.null);
    let dist = |x: &[f64], y: &[f64]| {
        x.iter()
            .zip(y)
            .map(|(p, q)| (p - q).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    // The truth's distance is the max over candidates of the min distance: larger than the
    // typical nearest-neighbour distance of a fresh in-distribution draw.
    let nn_null: Vec<f64> = a
        .null
        .iter()
        .map(|z| {
            a.train[..50]
                .iter()
                .map(|t| dist(z, t))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let median = {
        let mut v = nn_null.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(
        a.truth_distance > median,
        "truth {} vs null median {median}",
        a.truth_distance
    );
    assert!(
        FwiDatasets::generate(
            &DatasetConfig {
                n_train: 0,
                ..small_config()
            },
            &kl
        )
        .is_err()
    );
    assert!(a.training_set(61).is_err());
}

#[test]
fn taylor_tests_in_z_and_in_normalised_z_have_slope_two() {
    let kl = KlBasis::default();
    let sets = FwiDatasets::generate(&small_config(), &kl).unwrap();
    let op = Helmholtz::new(Geometry::preset(GeometryPreset::Small)).unwrap();
    let g = op.geometry().clone();
    let clean = op
        .forward(&kl.reconstruct(&sets.truth, g.nx, g.nz).unwrap())
        .unwrap();
    let (data, eta) = add_noise(&clean, 0.05, 7).unwrap();
    let y = Helmholtz::data_to_real(&data);
    let zscore = ZScore::fit(sets.training_set(50).unwrap()).unwrap();
    // Φ(z) through m̄ + G z, and Φ(z̃) through the z-scoring as well (no gradient offset).
    let in_z = GaussianLikelihood::new(
        Affine::new(&op, kl.on_grid(g.nx, g.nz)).unwrap(),
        y.clone(),
        eta,
    )
    .unwrap();
    let in_zt =
        GaussianLikelihood::new(fwi_map(&op, &kl, &zscore, false).unwrap(), y, eta).unwrap();
    let z0 = sets.train[3].clone();
    let zt0 = zscore.normalize(&z0);
    let dir: Vec<f64> = (0..kl.dim()).map(|k| ((k as f64) * 1.7).sin()).collect();
    let eps = [0.2, 0.1, 0.05, 0.025, 0.0125];
    for normalised in [false, true] {
        let eval = |x: &[f64]| {
            if normalised {
                in_zt.misfit_gradient(x)
            } else {
                in_z.misfit_gradient(x)
            }
        };
        let x0 = if normalised { zt0.clone() } else { z0.clone() };
        let grad = eval(&x0).unwrap().1;
        let report =
            testkit::taylor_test(|x| eval(x).map(|r| r.0), &x0, &grad, &dir, &eps).unwrap();
        assert!(
            report.is_second_order(0.1),
            "normalised = {normalised}: slope {}, remainders {:?}",
            report.slope1,
            report.r1
        );
    }
}

#[test]
fn kl_jacobian_from_receiver_adjoints_passes_taylor_and_dot_product_tests() {
    use experiments::fwi::posterior::linearize;
    let kl = KlBasis::default();
    let sets = FwiDatasets::generate(&small_config(), &kl).unwrap();
    let op = Helmholtz::new(Geometry::preset(GeometryPreset::Small)).unwrap();
    let zscore = ZScore::fit(sets.training_set(50).unwrap()).unwrap();
    let f = fwi_map(&op, &kl, &zscore, false).unwrap();
    let zt0 = zscore.normalize(&sets.train[5]);
    let j = f.jacobian(&zt0).unwrap();
    assert_eq!((j.nrows(), j.ncols()), (f.output_dim(), kl.dim()));
    let dir: Vec<f64> = (0..kl.dim()).map(|k| ((k as f64) * 0.9).cos()).collect();
    let jd: Vec<f64> = (0..j.nrows())
        .map(|i| (0..j.ncols()).map(|k| j[(i, k)] * dir[k]).sum())
        .collect();
    // The dense Jacobian against one forward-sensitivity solve and against its adjoint.
    let jv = f.jacobian_apply(&zt0, &dir).unwrap();
    let err = jv
        .iter()
        .zip(&jd)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let scale = jd.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    assert!(
        err < 1e-10 * scale,
        "dense J vs J·v: {err:e} (scale {scale:e})"
    );
    let w: Vec<f64> = (0..j.nrows()).map(|i| ((i as f64) * 0.37).sin()).collect();
    let jtw = f.jacobian_adjoint_apply(&zt0, &w).unwrap();
    let dot = testkit::dot_test(&jd, &w, &dir, &jtw);
    assert!(
        dot.rel < 1e-10,
        "⟨Jv, w⟩ {} vs ⟨v, Jᵀw⟩ {}",
        dot.lhs,
        dot.rhs
    );
    // Taylor: ‖F(z̃ + εv) − F(z̃) − εJv‖ = O(ε²).
    let f0 = f.apply(&zt0).unwrap();
    let eps = [0.1, 0.05, 0.025, 0.0125];
    let taylor = testkit::taylor_test_map(|x| f.apply(x), &zt0, &jd, &dir, &eps).unwrap();
    assert!(
        taylor.is_second_order(0.1),
        "Taylor slope {}: {:?}",
        taylor.slope1,
        taylor.r1
    );
    // The raw-coefficient linearization (threads) equals the z-scored map up to the scales.
    let lin = linearize(&op, &kl, &sets.train[4..7], 2).unwrap();
    let jz = &lin.jacobian[1];
    let mut worst: f64 = 0.0;
    for i in 0..j.nrows() {
        for k in 0..j.ncols() {
            worst = worst.max((jz[(i, k)] * zscore.scale[k] - j[(i, k)]).abs());
        }
    }
    assert!(
        worst <= 1e-12 * scale.max(1.0),
        "raw vs z-scored Jacobian {worst:e}"
    );
    let fe = lin.forward[1]
        .iter()
        .zip(&f0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        fe < 1e-12 * f0.iter().fold(0.0f64, |a, b| a.max(b.abs())),
        "forward data differ by {fe:e}"
    );
}

/// The bits of every FWI map in KL coordinates, per solver, pinned by digests (for x86-64 with
/// AVX-512; see `dps_bits.rs`): the misfit with the paper's DPS gradient, its value, the
/// z-scored forward map with its Jacobian, its action and its adjoint, and the raw-coefficient
/// linearisation. A refactoring that claims to leave the arithmetic alone must keep them.
#[test]
fn the_kl_maps_compute_the_pinned_bits_with_every_solver() {
    use experiments::fwi::posterior::linearize;
    use operators::helmholtz::Solver;
    use sha2::{Digest, Sha256};
    let kl = KlBasis::default();
    let sets = FwiDatasets::generate(&small_config(), &kl).unwrap();
    let zscore = ZScore::fit(sets.training_set(50).unwrap()).unwrap();
    let zt0 = zscore.normalize(&sets.train[5]);
    let dir: Vec<f64> = (0..kl.dim()).map(|k| ((k as f64) * 0.9).cos()).collect();
    let mut digests = Vec::new();
    for solver in Solver::ALL {
        let op = Helmholtz::with_solver(Geometry::preset(GeometryPreset::Small), *solver).unwrap();
        let g = op.geometry();
        let truth = kl.reconstruct(&sets.truth, g.nx, g.nz).unwrap();
        let (data, _) = add_noise(&op.forward(&truth).unwrap(), 0.01, 3).unwrap();
        let (y, sigma_d) = (Helmholtz::data_to_real(&data), 0.05);
        // The DPS likelihood (the paper's gradient offset), the likelihood in raw coefficients,
        // and the z-scored map.
        let guided = GaussianLikelihood::new(
            fwi_map(&op, &kl, &zscore, true).unwrap(),
            y.clone(),
            sigma_d,
        )
        .unwrap();
        let raw = GaussianLikelihood::new(
            Affine::new(&op, kl.on_grid(g.nx, g.nz)).unwrap(),
            y,
            sigma_d,
        )
        .unwrap();
        let f = fwi_map(&op, &kl, &zscore, false).unwrap();
        let mut h = Sha256::new();
        let mut feed = |values: &[f64]| {
            h.update((values.len() as u64).to_le_bytes());
            for v in values {
                h.update(v.to_bits().to_le_bytes());
            }
        };
        let (phi, grad) = guided.misfit_gradient(&zt0).unwrap();
        feed(&[
            phi,
            guided.misfit(&zt0).unwrap(),
            raw.misfit(&sets.train[5]).unwrap(),
        ]);
        feed(&grad);
        let y = f.apply(&zt0).unwrap();
        feed(&y);
        let j = f.jacobian(&zt0).unwrap();
        feed(
            &(0..j.ncols())
                .flat_map(|k| j.col(k).iter().copied().collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        );
        feed(&f.jacobian_apply(&zt0, &dir).unwrap());
        let w: Vec<f64> = (0..y.len()).map(|i| ((i as f64) * 0.37).sin()).collect();
        feed(&f.jacobian_adjoint_apply(&zt0, &w).unwrap());
        let lin = linearize(&op, &kl, &sets.train[4..6], 2).unwrap();
        for (fw, jz) in lin.forward.iter().zip(&lin.jacobian) {
            feed(fw);
            feed(
                &(0..jz.ncols())
                    .flat_map(|k| jz.col(k).iter().copied().collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
            );
        }
        let digest: String = h
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        digests.push(format!("{}={digest}", solver.name()));
    }
    let digests = digests.join(" ");
    let avx512 = {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    };
    if !avx512 {
        eprintln!("digests {digests}: pinned for AVX-512 only, not compared on this CPU");
        return;
    }
    assert_eq!(
        digests,
        "lu=c50137612b8e7ec4 symmetric-amd=4a371461dcdfb38f symmetric-nd=06012a48a4a1b09c \
         symmetric-metis=0e91d8d422c31a07 ldlt-metis=dba98a29d52c9ef0 ldlt-amd=78b4d9c0e179455a \
         ldlt-nd=78383ff31924e231 ldlt-metis-f32=844b386c98705fd7",
        "the bits of the KL maps changed"
    );
}
