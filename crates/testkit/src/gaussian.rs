//! The exact law of DDPM sampling, with or without DPS guidance, for a scalar linear-Gaussian
//! problem: prior N(m₀, λ), data y = a x + noise of std γ.
//!
//! Every reverse step is affine in x_t: the denoiser of a Gaussian prior is
//! x̂₀ = g_t x_t + h_t with g_t = √ᾱ_t λ / (ᾱ_t λ + 1 − ᾱ_t), h_t = m₀ (1 − g_t √ᾱ_t); the ancestral
//! DDPM step is x_{t−1} = c₀ x̂₀ + c_t x_t + σ_t z; and the guidance κ_t ∇_{x_t} Φ(x̂₀) moves by
//! κ_t g_t (a²/γ²)(x̂₀ − y/a). So a Gaussian start stays Gaussian and its mean and variance
//! follow a scalar recursion, written here from the formulas, not from the samplers. With κ = 0
//! it is the unconditional DDPM law; with κ_t = β_t γ² / (√α_t (γ² + a² v_t)), v_t = Var(x₀ | x_t),
//! it is the DDPM chain of the exact posterior.

use memprior_core::diffusion::NoiseSchedule;

/// Prior N(m₀, λ) and data y = a x + N(0, γ²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalarProblem {
    /// Prior variance λ.
    pub lambda: f64,
    /// Forward gain a.
    pub a: f64,
    /// Noise std γ.
    pub gamma: f64,
    /// Prior mean m₀.
    pub m0: f64,
    /// Observed datum y.
    pub y: f64,
}

impl ScalarProblem {
    /// The data precision a²/γ².
    pub fn precision(&self) -> f64 {
        self.a * self.a / (self.gamma * self.gamma)
    }

    /// The exact posterior (mean, variance).
    pub fn posterior(&self) -> (f64, f64) {
        let vp = 1.0 / (1.0 / self.lambda + self.precision());
        (
            vp * (self.m0 / self.lambda + self.a * self.y / (self.gamma * self.gamma)),
            vp,
        )
    }

    /// v_t = Var(x₀ | x_t) under the prior.
    pub fn v_t(&self, s: &NoiseSchedule, t: usize) -> f64 {
        let ab = s.alpha_bar(t);
        self.lambda * (1.0 - ab) / (ab * self.lambda + 1.0 - ab)
    }

    /// The per-level guidance that makes DPS exact: κ_t = β_t γ² / (√α_t (γ² + a² v_t)).
    pub fn exact_kappa(&self, s: &NoiseSchedule) -> Vec<f64> {
        let g2 = self.gamma * self.gamma;
        (0..s.steps())
            .map(|t| {
                let alpha = 1.0 - s.beta(t);
                s.beta(t) * g2 / (alpha.sqrt() * (g2 + self.a * self.a * self.v_t(s, t)))
            })
            .collect()
    }

    /// Plain DPS's κ_t = β_t/√α_t (it drops a² v_t).
    pub fn plain_kappa(s: &NoiseSchedule) -> Vec<f64> {
        (0..s.steps())
            .map(|t| s.beta(t) / (1.0 - s.beta(t)).sqrt())
            .collect()
    }

    /// The posterior's marginal at the first reverse level T − 1 (mean, variance): the start
    /// under which the exact-κ chain is the posterior's DDPM chain.
    pub fn posterior_start(&self, s: &NoiseSchedule) -> (f64, f64) {
        let (mp, vp) = self.posterior();
        let ab = s.alpha_bar(s.steps() - 1);
        (ab.sqrt() * mp, ab * vp + 1.0 - ab)
    }

    /// The output (mean, variance) of DDPM with per-level guidance `kappa` (all zero: the
    /// unconditional sampler), started from N(start) at level T − 1.
    pub fn law(&self, s: &NoiseSchedule, kappa: &[f64], start: (f64, f64)) -> (f64, f64) {
        let (lam, prec, yp) = (self.lambda, self.precision(), self.y / self.a);
        let (mut mean, mut var) = start;
        for t in (0..s.steps()).rev() {
            let (ab, abp, beta) = (s.alpha_bar(t), s.alpha_bar_prev(t), s.beta(t));
            let g = ab.sqrt() * lam / (ab * lam + 1.0 - ab);
            // x̂₀ = g x + h;  ∇_{x_t} Φ = g · prec · (x̂₀ − y').
            let h = self.m0 * (1.0 - g * ab.sqrt());
            let (c0, ct, sd2) = if t == 0 {
                (1.0, 0.0, 0.0)
            } else {
                (
                    abp.sqrt() * beta / (1.0 - ab),
                    (1.0 - beta).sqrt() * (1.0 - abp) / (1.0 - ab),
                    beta * (1.0 - abp) / (1.0 - ab),
                )
            };
            let k = kappa[t] * g * prec;
            let a_t = c0 * g + ct - k * g;
            let b_t = c0 * h - k * (h - yp);
            mean = a_t * mean + b_t;
            var = a_t * a_t * var + sd2;
        }
        (mean, var)
    }
}
