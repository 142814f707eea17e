//! Jacobian checks of the analytic operators: Taylor remainder slope, dot-product identity,
//! closed form against the column-by-column assembly, and the non-injectivity of the 2-D map.

use memprior_core::{ForwardOperator, JacobianAction, dense_jacobian};
use operators::{Cubic1d, Quadratic2d};

/// Fitted slope of log ‖F(x + h v) − F(x) − h J v‖ against log h, h = 0.1 · 2⁻ᵏ.
fn taylor_slope<F: JacobianAction>(op: &F, x: &[f64], v: &[f64]) -> f64 {
    let hs: Vec<f64> = (0..6).map(|k| 0.1 * 0.5_f64.powi(k)).collect();
    testkit::taylor_test_operator(op, x, v, &hs).unwrap().slope1
}

#[test]
fn taylor_remainder_is_second_order() {
    let cubic = Cubic1d::default();
    for &x in &[-1.5, 0.4, 2.5] {
        let s = taylor_slope(&cubic, &[x], &[1.0]);
        assert!((s - 2.0).abs() < 0.1, "cubic at {x}: slope {s}");
    }
    let quad = Quadratic2d::default();
    for x in [[2.0, 0.0], [0.618, 1.902], [-1.618, -1.176]] {
        let s = taylor_slope(&quad, &x, &[0.6, -0.8]);
        assert!((s - 2.0).abs() < 0.1, "quadratic at {x:?}: slope {s}");
    }
}

#[test]
fn adjoint_passes_the_dot_product_test() {
    let quad = Quadratic2d::default();
    let x = [0.7, -1.3];
    let (dx, dy) = ([0.3, -0.9], [1.1, 0.25]);
    let lhs: f64 = quad
        .jacobian_apply(&x, &dx)
        .unwrap()
        .iter()
        .zip(&dy)
        .map(|(a, b)| a * b)
        .sum();
    let rhs: f64 = quad
        .jacobian_adjoint_apply(&x, &dy)
        .unwrap()
        .iter()
        .zip(&dx)
        .map(|(a, b)| a * b)
        .sum();
    assert!((lhs - rhs).abs() <= 1e-14 * lhs.abs().max(1.0));
    let cubic = Cubic1d::default();
    assert_eq!(
        cubic.jacobian_apply(&[0.5], &[2.0]).unwrap(),
        cubic.jacobian_adjoint_apply(&[0.5], &[2.0]).unwrap()
    );
}

#[test]
fn closed_form_jacobian_equals_assembled_columns() {
    let quad = Quadratic2d::default();
    let x = [1.2, -0.4];
    let (a, b) = (
        quad.jacobian(&x).unwrap(),
        dense_jacobian(&quad, &x).unwrap(),
    );
    for r in 0..2 {
        for c in 0..2 {
            assert_eq!(a[(r, c)], b[(r, c)]);
        }
    }
    assert_eq!(
        Cubic1d::default().jacobian(&[2.0]).unwrap()[(0, 0)],
        1.0 + 0.9 * 4.0
    );
}

#[test]
fn quadratic_map_has_the_three_stated_preimages() {
    // STYLIZED.md: F(x) = (1.4, 0.392) has preimages (1.4, 0), (3.4421, −1.9776), (−4.8421, −4.2971).
    let quad = Quadratic2d::default();
    for p in [[1.4, 0.0], [3.4421, -1.9776], [-4.8421, -4.2971]] {
        let y = quad.apply(&p).unwrap();
        // The stated preimages carry 4 decimals: |∂F| ≲ 3 so the image is good to ~3e-4.
        assert!(
            (y[0] - 1.4).abs() < 5e-4 && (y[1] - 0.392).abs() < 5e-4,
            "{p:?} -> {y:?}"
        );
    }
}
