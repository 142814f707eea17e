//! σ_crit on the 1-D pool of the effective-components sweep, against a hand computation.

use analysis::sigma_crit;
use memprior_core::numerics::linspace;
use operators::Cubic1d;

#[test]
fn sigma_crit_matches_hand_computation_on_an_equispaced_pool() {
    let pool = linspace(-3.0, 3.0, 100);
    let pts: Vec<Vec<f64>> = pool.iter().map(|&x| vec![x]).collect();
    let delta = 6.0 / 99.0;
    let mean_slope = pool.iter().map(|x| 1.0 + 0.9 * x * x).sum::<f64>() / 100.0;
    let expected = (delta * 0.3 / mean_slope).sqrt();
    let got = sigma_crit(&Cubic1d::default(), &pts, 0.3).unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    assert!(sigma_crit(&Cubic1d::default(), &pts[..1], 0.3).is_err());
}
