//! Exact laws of reverse samplers on Gaussian targets, computed independently of the library.

use memprior_core::diffusion::NoiseSchedule;

/// Output variance of the sampler along an eigen-direction of variance λ (see module doc):
/// DDIM u_{t−1} = (√ᾱ' g + √(1−ᾱ') (1 − √ᾱ g)/√(1−ᾱ)) u_t; DDPM u_{t−1} = (c₀ g + c_t) u_t + √β̃ z;
/// at t = 0 the output is μ + g₀ u₀. g_t = √ᾱ λ / (ᾱ λ + 1 − ᾱ).
pub fn sampler_variance(lambda: f64, s: &NoiseSchedule, ddpm: bool) -> f64 {
    let last = s.steps() - 1;
    let mut v = s.alpha_bar(last) * lambda + 1.0 - s.alpha_bar(last);
    for t in (1..=last).rev() {
        let (ab, abp, beta) = (s.alpha_bar(t), s.alpha_bar_prev(t), s.beta(t));
        let g = ab.sqrt() * lambda / (ab * lambda + 1.0 - ab);
        if ddpm {
            let c0 = abp.sqrt() * beta / (1.0 - ab);
            let ct = (1.0 - beta).sqrt() * (1.0 - abp) / (1.0 - ab);
            v = (c0 * g + ct).powi(2) * v + beta * (1.0 - abp) / (1.0 - ab);
        } else {
            let k = abp.sqrt() * g + (1.0 - abp).sqrt() * (1.0 - ab.sqrt() * g) / (1.0 - ab).sqrt();
            v *= k * k;
        }
    }
    let ab = s.alpha_bar(0);
    let g0 = ab.sqrt() * lambda / (ab * lambda + 1.0 - ab);
    g0 * g0 * v
}
