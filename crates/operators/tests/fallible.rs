//! The operator traits report bad input as errors, never as panics: the Helmholtz operator fed a
//! NaN, a negative and a wrong-length model (and wrong-length directions and data) through
//! `ForwardOperator` and `JacobianAction`, and the analytic operators fed vectors of the wrong
//! length.

use memprior_core::{ForwardOperator, JacobianAction};
use operators::helmholtz::{Geometry, Helmholtz, HelmholtzError};
use operators::{Cubic1d, LinearOperator, Quadratic2d};

fn geometry() -> Geometry {
    Geometry {
        nx: 12,
        nz: 9,
        h: 0.05,
        npml: 5,
        pml_max: 80.0,
        freq: 3.0,
        sources: vec![[0, 0], [6, 1]],
        receivers: (0..12).map(|ix| [ix, 8]).collect(),
    }
}

/// The error's message, which must name the offending input.
fn message<T: std::fmt::Debug>(r: Result<T, HelmholtzError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn helmholtz_rejects_nan_negative_and_wrong_length_models() {
    let op = Helmholtz::new(geometry()).unwrap();
    let n = op.input_dim();
    let good = vec![0.25; n];
    let mut nan = good.clone();
    nan[17] = f64::NAN;
    let mut negative = good.clone();
    negative[3] = -0.1;
    let short = vec![0.25; n - 1];
    for (name, m) in [("NaN", &nan), ("negative", &negative), ("short", &short)] {
        let e = message(op.apply(m));
        assert!(e.contains("model"), "{name}: {e}");
        let dm = vec![1.0; n];
        message(op.jacobian_apply(m, &dm));
        message(op.jacobian_adjoint_apply(m, &vec![1.0; op.output_dim()]));
        message(op.jacobian(m));
    }
    assert!(message(op.apply(&nan)).contains("finite and > 0"));
    // A finite non-positive value lies outside the operator's domain (where a sampler may lead
    // a model); a NaN or a wrong length is invalid input.
    assert!(matches!(
        op.solve(&negative).err(),
        Some(HelmholtzError::OutsideDomain(_))
    ));
    assert!(matches!(
        op.solve(&nan).err(),
        Some(HelmholtzError::Config(_))
    ));
    assert!(matches!(
        op.solve(&short).err(),
        Some(HelmholtzError::Config(_))
    ));
    assert!(message(op.apply(&short)).contains(&format!("{n} values")));
    // A valid model with directions or data of the wrong length.
    assert!(message(op.jacobian_apply(&good, &[1.0; 5])).contains("`dx`"));
    assert!(message(op.jacobian_adjoint_apply(&good, &[1.0; 5])).contains("data"));
    // And the valid calls succeed.
    assert_eq!(op.apply(&good).unwrap().len(), op.output_dim());
    let state = op.solve(&good).unwrap();
    assert!(state.jacobian_apply(&[0.0; 3]).is_err());
    assert!(
        state
            .jacobian_adjoint_apply(&faer::Mat::zeros(1, 1))
            .is_err()
    );
}

#[test]
fn analytic_operators_reject_wrong_lengths() {
    assert!(Cubic1d::default().apply(&[1.0, 2.0]).is_err());
    assert!(Cubic1d::default().jacobian_apply(&[1.0], &[]).is_err());
    assert!(Quadratic2d::default().apply(&[1.0]).is_err());
    assert!(
        Quadratic2d::default()
            .jacobian_adjoint_apply(&[1.0, 2.0], &[1.0])
            .is_err()
    );
    let lin = LinearOperator::new(faer::Mat::from_fn(3, 2, |i, j| (i + j) as f64));
    assert!(lin.apply(&[1.0; 3]).is_err());
    assert!(lin.jacobian_adjoint_apply(&[1.0; 2], &[1.0; 2]).is_err());
    assert_eq!(lin.apply(&[1.0, 1.0]).unwrap(), vec![1.0, 3.0, 5.0]);
}
