//! Element-wise kernels of the MLP (GELU and its derivative, the fused optimizer update) written
//! as plain loops that the compiler vectorises, run under runtime dispatch (`dispatched!`) so that a
//! machine with AVX2/FMA (or AVX-512) gets those instructions while the committed build targets
//! baseline x86-64.
//!
//! `exp` and `erf` are evaluated with branch-free polynomial forms (so that the loops vectorise):
//! - exp(x) = 2ⁿ e^r with n = round(x log₂e) and |r| ≤ ln 2 / 2, e^r by its degree-6 Taylor
//!   polynomial (relative error ≤ 2·10⁻⁷);
//! - Φ(x) = ½ (1 + erf(x/√2)) by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5·10⁻⁷ in erf),
//!   which for x < 0 gives the tail ½ erfc(|x|/√2) directly, without cancellation.

/// Defines `pub fn $name(args) $body` with its body compiled (inlined into target-feature
/// wrappers) for AVX-512, for AVX2 + FMA, or for baseline x86-64, whichever is the best
/// this CPU has (detected at run time; the committed build targets baseline x86-64). Each kernel
/// is element-wise IEEE arithmetic without fused multiply–adds (Rust never contracts a·b + c), so
/// every path gives the same bits.
macro_rules! dispatched {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn v4($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has the features `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features `v3` is compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// e^x for x in f32's range (underflows to 0 below −87.3, saturates above 88.7).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Rounds to the nearest integer for |y| < 2²²: adding 1.5·2²³ pushes the fraction out.
    const ROUND: f32 = 12_582_912.0;
    // max/min rather than clamp: the pair vectorises, and NaN maps to a bound instead of
    // propagating (the caller never passes NaN; this keeps the kernel branch-free).
    #[allow(clippy::manual_clamp)]
    let x = x.max(-87.3).min(88.7);
    let shifted = x * LOG2E + ROUND;
    // The low mantissa bits of `shifted` hold round(x log₂e) (no float→int conversion, which
    // would keep the loop from vectorising).
    let ni = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // Wrapping arithmetic: an overflow check (dev builds) would keep the loop scalar.
    let scale = f32::from_bits((ni.wrapping_add(127) as u32) << 23);
    p * scale
}

/// The standard normal CDF Φ(x) and density φ(x).
#[inline(always)]
pub fn normal_cdf_pdf(x: f32) -> (f32, f32) {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152,
        1.061_405_4,
    ];
    const INV_SQRT2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let z = x.abs() * INV_SQRT2;
    let t = 1.0 / (1.0 + P * z);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let e = exp(-z * z);
    // ½ erfc(z) = ½ poly e^{−z²}
    let tail = 0.5 * poly * e;
    let cdf = if x >= 0.0 { 1.0 - tail } else { tail };
    (cdf, INV_SQRT_2PI * e)
}

dispatched! {
    /// GELU(x) = x Φ(x), element-wise into `out`.
    pub fn gelu(x: &[f32], out: &mut [f32]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v * normal_cdf_pdf(v).0;
        }
    }
}

dispatched! {
    /// `acc += GELU(x)` element-wise (the residual block's update).
    pub fn add_gelu(x: &[f32], acc: &mut [f32]) {
        for (o, &v) in acc.iter_mut().zip(x) {
            *o += v * normal_cdf_pdf(v).0;
        }
    }
}

dispatched! {
    /// `out = g ⊙ GELU′(x)`, GELU′(x) = Φ(x) + x φ(x).
    pub fn gelu_backward(x: &[f32], g: &[f32], out: &mut [f32]) {
        for ((o, &v), &gv) in out.iter_mut().zip(x).zip(g) {
            let (c, p) = normal_cdf_pdf(v);
            *o = gv * (c + v * p);
        }
    }
}

/// Per-step scalars of the fused Adam + EMA update.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    /// Factor of the raw gradient (the global-norm clip).
    pub clip: f32,
    /// Adam's β₁ and β₂.
    pub beta1: f32,
    /// Adam's β₂.
    pub beta2: f32,
    /// 1 / (1 − β₁ᵏ).
    pub inv_bias1: f32,
    /// 1 / (1 − β₂ᵏ).
    pub inv_bias2: f32,
    /// Learning rate of the step.
    pub lr: f32,
    /// Adam's ε.
    pub eps: f32,
    /// EMA decay of the step.
    pub decay: f32,
}

dispatched! {
    /// One fused pass of Adam (with the clip factor and bias corrections) and the weight EMA
    /// over a slice of parameters, their moments, their EMA and their raw gradient:
    /// g ← c g; m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g²;
    /// p ← p − lr (m / (1 − β₁ᵏ)) / (√(v / (1 − β₂ᵏ)) + ε); e ← δ e + (1 − δ) p.
    pub fn adam_ema(
        p: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        ema: &mut [f32],
        g: &[f32],
        s: &AdamStep,
    ) {
        let (one_m_b1, one_m_b2, one_m_d) = (1.0 - s.beta1, 1.0 - s.beta2, 1.0 - s.decay);
        let n = p.len();
        let (m, v, ema, g) = (&mut m[..n], &mut v[..n], &mut ema[..n], &g[..n]);
        for i in 0..n {
            let gi = g[i] * s.clip;
            let mi = s.beta1 * m[i] + one_m_b1 * gi;
            let vi = s.beta2 * v[i] + one_m_b2 * (gi * gi);
            let denom = (vi * s.inv_bias2).sqrt() + s.eps;
            let pi = p[i] - s.lr * ((mi * s.inv_bias1) / denom);
            ema[i] = s.decay * ema[i] + one_m_d * pi;
            p[i] = pi;
            m[i] = mi;
            v[i] = vi;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_over_the_range_used() {
        let mut worst = 0f64;
        for i in 0..=20_000 {
            let x = -80.0 + 100.0 * i as f64 / 20_000.0;
            let got = f64::from(exp(x as f32));
            let want = (x as f32 as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 4e-7, "max relative error {worst:e}");
        assert_eq!(exp(-200.0), exp(-87.3));
        assert!(exp(-200.0) < 1e-37);
    }

    #[test]
    fn normal_cdf_matches_erf_to_f32_accuracy() {
        // Reference: statrs's erf in f64 (its own tests hold it to about 1e−15).
        use statrs::function::erf::erf;
        for i in 0..=600 {
            let x = -4.0 + 8.0 * i as f64 / 600.0;
            let (c, p) = normal_cdf_pdf(x as f32);
            let x = x as f32 as f64;
            let want = 0.5 * (1.0 + erf(x / 2f64.sqrt()));
            assert!(
                (f64::from(c) - want).abs() < 2e-7,
                "Φ({x}) = {c}, want {want}"
            );
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!(
                (f64::from(p) - pdf).abs() < 2e-6 * pdf,
                "φ({x}) = {p}, want {pdf}"
            );
        }
        // The far tail stays positive and tiny (Φ(−8) ≈ 6.2·10⁻¹⁶), without cancellation.
        let (c, _) = normal_cdf_pdf(-8.0);
        assert!(c > 0.0 && c < 1e-14, "{c}");
    }
}
