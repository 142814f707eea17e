//! The reparameterised operators: the KL map and its composition with the Helmholtz simulator,
//! and the z-scored map, pass the dot-product and Taylor tests; the misfit gradient is −J̃ᵀ r/γ²
//! without an offset and (s + offset) ⊙ ∇_z Φ with one; the dense Jacobian agrees with its
//! action; bad dimensions are errors.

use memprior_core::{ForwardOperator, JacobianAction};
use operators::helmholtz::{Geometry, GeometryPreset, Helmholtz};
use operators::reparam::{Affine, ZScore, ZScored};
use priors::KlBasis;

fn direction(d: usize, a: f64) -> Vec<f64> {
    (0..d).map(|k| ((k as f64) * a).cos()).collect()
}

fn setup() -> (KlBasis, Geometry, Helmholtz, ZScore) {
    let kl = KlBasis::default();
    let g = Geometry::preset(GeometryPreset::Small);
    let op = Helmholtz::new(g.clone()).unwrap();
    let d = kl.dim();
    let zscore = ZScore {
        mean: direction(d, 0.31).iter().map(|v| 0.5 * v).collect(),
        scale: direction(d, 0.7)
            .iter()
            .map(|v| 0.5 + 0.4 * v.abs())
            .collect(),
    };
    (kl, g, op, zscore)
}

/// The dot-product test and the Taylor test of an operator at x along dx.
fn check<F: JacobianAction>(name: &str, f: &F, x: &[f64], dx: &[f64]) {
    let jv = f.jacobian_apply(x, dx).unwrap();
    let w = direction(jv.len(), 0.37);
    let jtw = f.jacobian_adjoint_apply(x, &w).unwrap();
    let dot = testkit::dot_test(&jv, &w, dx, &jtw);
    assert!(dot.rel < 1e-10, "{name}: {dot:?}");
    let eps = [0.1, 0.05, 0.025, 0.0125];
    let t = testkit::taylor_test_map(|p| f.apply(p), x, &jv, dx, &eps).unwrap();
    assert!(t.is_second_order(0.1), "{name}: slope {}", t.slope1);
}

#[test]
fn the_kl_map_and_the_composed_maps_pass_the_dot_product_and_taylor_tests() {
    let (kl, g, op, zscore) = setup();
    let map = kl.on_grid(g.nx, g.nz);
    let z0 = zscore.mean.clone();
    let dx = direction(kl.dim(), 0.9);
    // The KL map is affine: its adjoint is exact and F(z + dz) = F(z) + G dz to rounding.
    let dm = direction(g.nx * g.nz, 0.13);
    let dot = testkit::dot_test_operator(&map, &z0, &dx, &dm).unwrap();
    assert!(dot.rel < 1e-12, "KL map: {dot:?}");
    let shifted: Vec<f64> = z0.iter().zip(&dx).map(|(a, b)| a + b).collect();
    let lin: Vec<f64> = map
        .apply(&z0)
        .unwrap()
        .iter()
        .zip(map.jacobian_apply(&z0, &dx).unwrap())
        .map(|(a, b)| a + b)
        .collect();
    for (a, b) in map.apply(&shifted).unwrap().iter().zip(&lin) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    let affine = Affine::new(&op, map).unwrap();
    check("F ∘ (m̄ + G z)", &affine, &z0, &dx);
    let zscored = ZScored::new(Affine::new(&op, map).unwrap(), zscore).unwrap();
    check("F(μ + s ⊙ z̃)", &zscored, &vec![0.1; kl.dim()], &dx);
    // The dense Jacobian (rows of one simulation) against the action.
    let x = vec![0.1; kl.dim()];
    let j = zscored.jacobian(&x).unwrap();
    let jv = zscored.jacobian_apply(&x, &dx).unwrap();
    let scale = jv.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    for (i, v) in jv.iter().enumerate() {
        let dense: f64 = (0..j.ncols()).map(|k| j[(i, k)] * dx[k]).sum();
        assert!((dense - v).abs() < 1e-10 * scale, "row {i}: {dense} vs {v}");
    }
}

#[test]
fn the_misfit_gradient_is_the_adjoint_of_the_residual_and_the_offset_scales_it() {
    let (kl, g, op, zscore) = setup();
    let map = kl.on_grid(g.nx, g.nz);
    let plain = ZScored::new(Affine::new(&op, map).unwrap(), zscore.clone()).unwrap();
    let offset = ZScored::new(Affine::new(&op, map).unwrap(), zscore.clone())
        .unwrap()
        .with_gradient_offset(1e-5)
        .unwrap();
    let x = vec![-0.2; kl.dim()];
    let y: Vec<f64> = plain
        .apply(&vec![0.3; kl.dim()])
        .unwrap()
        .iter()
        .map(|v| v * 1.01)
        .collect();
    let gamma = 0.05;
    let (phi, grad) = plain.misfit_gradient_gaussian(&x, &y, gamma).unwrap();
    let r: Vec<f64> = plain
        .apply(&x)
        .unwrap()
        .iter()
        .zip(&y)
        .map(|(f, y)| y - f)
        .collect();
    let phi_r = 0.5 * r.iter().map(|v| v * v).sum::<f64>() / (gamma * gamma);
    assert!((phi - phi_r).abs() < 1e-12 * phi, "{phi} vs {phi_r}");
    assert!((plain.misfit_gaussian(&x, &y, gamma).unwrap() - phi).abs() < 1e-12 * phi);
    let adj = plain.jacobian_adjoint_apply(&x, &r).unwrap();
    let scale = grad.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    for (gk, ak) in grad.iter().zip(&adj) {
        assert!(
            (gk + ak / (gamma * gamma)).abs() < 1e-9 * scale,
            "{gk} vs {ak}"
        );
    }
    // With the offset: (s + 10⁻⁵) ⊙ ∇_z Φ, the same Φ.
    let (phi_o, grad_o) = offset.misfit_gradient_gaussian(&x, &y, gamma).unwrap();
    assert_eq!(phi_o.to_bits(), phi.to_bits());
    for ((go, gk), s) in grad_o.iter().zip(&grad).zip(&zscore.scale) {
        let want = gk / s * (s + 1e-5);
        assert!((go - want).abs() < 1e-12 * scale, "{go} vs {want}");
    }
}

#[test]
fn wrong_dimensions_are_errors() {
    let (kl, g, op, zscore) = setup();
    let map = kl.on_grid(g.nx + 1, g.nz);
    assert!(Affine::new(&op, map).is_err(), "a map onto another grid");
    let map = kl.on_grid(g.nx, g.nz);
    let mut short = zscore.clone();
    short.scale.pop();
    assert!(ZScored::new(Affine::new(&op, map).unwrap(), short).is_err());
    let zs = ZScored::new(Affine::new(&op, map).unwrap(), zscore).unwrap();
    assert!(zs.apply(&[0.0; 3]).is_err());
    assert!(zs.jacobian_apply(&vec![0.0; kl.dim()], &[1.0]).is_err());
    assert!(zs.clone().with_gradient_offset(-1.0).is_err());
    assert!(zs.with_gradient_offset(f64::NAN).is_err());
}
