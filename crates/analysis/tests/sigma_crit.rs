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

#[test]
fn the_two_spacings_differ_where_floor_linspace_spaces_the_points_unevenly() {
    use analysis::{mean_nearest_neighbour_distance, nominal_spacing, sigma_crit_with_spacing};
    // N = 20 of a 100-point pool on [−3, 3], chosen as the sweep chooses them.
    let pool = linspace(-3.0, 3.0, 100);
    let idx: Vec<usize> = linspace(0.0, 99.0, 20)
        .iter()
        .map(|v| v.floor() as usize)
        .collect();
    let pts: Vec<Vec<f64>> = idx.iter().map(|&i| vec![pool[i]]).collect();
    // Nearest-neighbour distances by hand: the gaps between consecutive chosen indices, each
    // point taking the smaller of its two gaps.
    let gaps: Vec<f64> = idx
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 * 6.0 / 99.0)
        .collect();
    let nn: f64 = (0..20)
        .map(|i| match i {
            0 => gaps[0],
            19 => gaps[18],
            _ => gaps[i - 1].min(gaps[i]),
        })
        .sum::<f64>()
        / 20.0;
    let ours = mean_nearest_neighbour_distance(&pts).unwrap();
    assert!((ours - nn).abs() < 1e-14, "{ours} vs {nn}");
    let nominal = nominal_spacing(-3.0, 3.0, 20).unwrap();
    assert!((nominal - 6.0 / 19.0).abs() < 1e-15);
    let op = Cubic1d::default();
    let (a, b) = (
        sigma_crit(&op, &pts, 0.3).unwrap(),
        sigma_crit_with_spacing(&op, &pts, 0.3, nominal).unwrap(),
    );
    // σ_crit ∝ √δ, so the ratio is √(δ_ours/δ_nominal): below one (a point's nearest gap is the
    // smaller of two), within a few per cent.
    assert!((a / b - (nn / nominal).sqrt()).abs() < 1e-14);
    assert!(a < b && a / b > 0.97, "{a} vs {b}");
    assert!(nominal_spacing(1.0, 1.0, 5).is_err());
    assert!(nominal_spacing(-3.0, 3.0, 1).is_err());
    assert!(sigma_crit_with_spacing(&op, &pts, 0.3, 0.0).is_err());
}
