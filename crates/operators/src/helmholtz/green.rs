//! The free-space Green's function of the 2-D Helmholtz equation, the analytic reference the
//! discrete operator converges to: (Δ + k²) u = δ(x − x_s) has the outgoing solution
//! u = −(i/4) H₀⁽¹⁾(k r), H₀⁽¹⁾ = J₀ + i Y₀ (outgoing for the PML stretch 1 + iσ/ω).

use faer::c64;

/// (J₀(x), Y₀(x)) by their power series, x > 0. Accurate to ~1e-9 for x ≤ 25 (the series
/// cancels terms up to e^x / x in size), enough for comparisons with finite differences.
pub fn bessel_j0_y0(x: f64) -> (f64, f64) {
    let q = x * x / 4.0;
    let (mut term, mut j0, mut y_sum, mut harmonic) = (1.0, 1.0, 0.0, 0.0);
    for k in 1..200 {
        term *= -q / (k as f64 * k as f64);
        harmonic += 1.0 / k as f64;
        j0 += term;
        y_sum -= harmonic * term; // (−1)^{k+1} H_k q^k/(k!)² = −H_k · term
        if k > 10 && term.abs() < 1e-18 * j0.abs().max(1e-3) {
            break;
        }
    }
    let euler_gamma = 0.577_215_664_901_532_9;
    let y0 = 2.0 / std::f64::consts::PI * (((x / 2.0).ln() + euler_gamma) * j0 + y_sum);
    (j0, y0)
}

/// u(r) = −(i/4) H₀⁽¹⁾(k r) for a unit point source (r > 0).
pub fn free_space_green(k: f64, r: f64) -> c64 {
    let (j0, y0) = bessel_j0_y0(k * r);
    c64::new(y0 / 4.0, -j0 / 4.0)
}
