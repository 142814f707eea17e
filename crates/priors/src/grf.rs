//! Periodic Gaussian random fields by spectral synthesis (FWI.md §2).
//!
//! On an n × n periodic unit square, a field is f = F⁻¹(a ⊙ F w) with w white noise N(0, 1) per
//! pixel, F the 2-D DFT and the amplitude a_k = (4π²|k|² + τ²)^(−α/2) on integer wavenumbers
//! k ∈ {−n/2, …, n/2 − 1}², a₀ = 0 (zero mean mode). The map w ↦ f is a circulant
//! convolution, so f is stationary with pixel variance Σ_k a_k² / n² and power spectrum
//! E|F f|_k² = n² a_k². Fields are rescaled to a chosen mean and *expected* pixel std
//! (the scale is a constant, not a per-sample normalisation, so samples stay Gaussian).
//! The default parameters reproduce the paper's training fields in squared slowness: α = 3,
//! τ = 5, mean (1/3² + 1/1.5²)/2, pixel std 0.039 s²/km².

use memprior_core::ConfigError;
use memprior_core::error::positive;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rustfft::{FftPlanner, num_complex::Complex64};

/// The spectral GRF sampler with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianRandomField {
    n: usize,
    alpha: f64,
    tau: f64,
    mean: f64,
    std: f64,
    /// a_k in FFT order, row-major (k₁ · n + k₂).
    amplitude: Vec<f64>,
    /// std / (pixel std of the unscaled field).
    scale: f64,
}

/// Mean squared slowness of the paper's fields: (1/3² + 1/1.5²)/2 s²/km².
pub const PAPER_MEAN: f64 = (1.0 / 9.0 + 1.0 / 2.25) / 2.0;
/// Realised pixel std of the paper's training fields (s²/km²).
pub const PAPER_STD: f64 = 0.039;

impl GaussianRandomField {
    /// The paper's training-field sampler on an n × n grid (α = 3, τ = 5, mean and std above).
    pub fn paper(n: usize) -> Result<Self, ConfigError> {
        Self::new(n, 3.0, 5.0, PAPER_MEAN, PAPER_STD)
    }

    /// A sampler on an n × n periodic grid; errors unless n ≥ 2, α ≥ 0, τ > 0, std > 0 and the
    /// mean is finite.
    pub fn new(n: usize, alpha: f64, tau: f64, mean: f64, std: f64) -> Result<Self, ConfigError> {
        if n < 2 {
            return Err(ConfigError::new(
                "grf.n",
                "must be ≥ 2 grid points per side",
                n,
            ));
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(ConfigError::new(
                "grf.alpha",
                "must be a finite number ≥ 0",
                alpha,
            ));
        }
        positive("grf.tau", tau)?;
        positive("grf.std", std)?;
        if !mean.is_finite() {
            return Err(ConfigError::new(
                "grf.mean",
                "must be a finite number",
                mean,
            ));
        }
        let freq = |i: usize| {
            if i < n.div_ceil(2) {
                i as f64
            } else {
                i as f64 - n as f64
            }
        };
        let four_pi2 = 4.0 * std::f64::consts::PI.powi(2);
        let mut amplitude = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                let k2 = freq(i).powi(2) + freq(j).powi(2);
                amplitude.push(if i == 0 && j == 0 {
                    0.0
                } else {
                    (four_pi2 * k2 + tau * tau).powf(-alpha / 2.0)
                });
            }
        }
        let raw_var = amplitude.iter().map(|a| a * a).sum::<f64>() / (n * n) as f64;
        Ok(Self {
            n,
            alpha,
            tau,
            mean,
            std,
            amplitude,
            scale: std / raw_var.sqrt(),
        })
    }

    /// Grid points per side.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Field mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Expected pixel standard deviation.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// Spectral amplitude a_k (unscaled) at FFT indices (i, j).
    pub fn amplitude(&self, i: usize, j: usize) -> f64 {
        self.amplitude[i * self.n + j]
    }

    /// Expected power E|F(f − mean)|² at FFT indices (i, j): n² (scale · a_k)².
    pub fn expected_power(&self, i: usize, j: usize) -> f64 {
        let a = self.scale * self.amplitude(i, j);
        (self.n * self.n) as f64 * a * a
    }

    /// Draw one field (row-major n × n, index ix·n + iz) from `rng`: n² standard normals in order.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let n = self.n;
        let mut planner = FftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let mut buf: Vec<Complex64> = (0..n * n)
            .map(|_| Complex64::new(StandardNormal.sample(rng), 0.0))
            .collect();
        fft2(&mut buf, n, &*fwd);
        for (b, a) in buf.iter_mut().zip(&self.amplitude) {
            *b *= *a;
        }
        fft2(&mut buf, n, &*inv);
        let norm = self.scale / (n * n) as f64;
        buf.iter().map(|c| self.mean + norm * c.re).collect()
    }

    /// Draw `count` fields in sequence from one stream.
    pub fn sample_n<R: Rng + ?Sized>(&self, rng: &mut R, count: usize) -> Vec<Vec<f64>> {
        (0..count).map(|_| self.sample(rng)).collect()
    }
}

/// In-place 2-D transform of a row-major n × n array: rows, then columns.
fn fft2(buf: &mut [Complex64], n: usize, plan: &dyn rustfft::Fft<f64>) {
    for row in buf.chunks_exact_mut(n) {
        plan.process(row);
    }
    let mut col = vec![Complex64::new(0.0, 0.0); n];
    for j in 0..n {
        for i in 0..n {
            col[i] = buf[i * n + j];
        }
        plan.process(&mut col);
        for i in 0..n {
            buf[i * n + j] = col[i];
        }
    }
}

/// The 2-D DFT of a real row-major n × n field (for spectrum checks).
pub fn dft2(field: &[f64], n: usize) -> Vec<Complex64> {
    let mut buf: Vec<Complex64> = field.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    let plan = FftPlanner::<f64>::new().plan_fft_forward(n);
    fft2(&mut buf, n, &*plan);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pixel_mean_and_variance_match_the_parameters() {
        let grf = GaussianRandomField::paper(32).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let draws = 400;
        // Pool one pixel per draw at a fixed location: independent draws, so the standard errors
        // are the textbook ones.
        let (mut s1, mut s2) = (0.0, 0.0);
        let mut field_mean = 0.0;
        for _ in 0..draws {
            let f = grf.sample(&mut rng);
            let v = f[5 * 32 + 17] - grf.mean();
            s1 += v;
            s2 += v * v;
            field_mean += f.iter().sum::<f64>() / f.len() as f64;
        }
        let var = s2 / draws as f64;
        let target = grf.std().powi(2);
        // Var of the sample variance of a Gaussian: 2σ⁴/n → 4 standard errors ≈ 28 %.
        assert!(
            (var / target - 1.0).abs() < 4.0 * (2.0 / draws as f64).sqrt(),
            "var {var} vs {target}"
        );
        assert!((s1 / draws as f64).abs() < 4.0 * grf.std() / (draws as f64).sqrt());
        // The zero mode is removed: every field has exactly the prescribed mean.
        assert!((field_mean / draws as f64 - grf.mean()).abs() < 1e-12);
    }

    #[test]
    fn power_spectrum_matches_the_amplitude_law() {
        let n = 32;
        let grf = GaussianRandomField::new(n, 3.0, 5.0, 0.0, 1.0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let draws = 200;
        let mut power = vec![0.0; n * n];
        for _ in 0..draws {
            let f = grf.sample(&mut rng);
            for (p, c) in power.iter_mut().zip(dft2(&f, n)) {
                *p += c.norm_sqr() / draws as f64;
            }
        }
        // Each |F f|_k² / E|F f|_k² is χ²₂/2 (or χ²₁ on the self-conjugate modes): pooling the
        // modes of one radial shell k ∈ [r, r+1) averages many of them.
        for shell in [1usize, 2, 4, 8, 12] {
            let (mut ratio, mut count) = (0.0, 0.0);
            for i in 0..n {
                for j in 0..n {
                    let fi = if i < n / 2 {
                        i as f64
                    } else {
                        i as f64 - n as f64
                    };
                    let fj = if j < n / 2 {
                        j as f64
                    } else {
                        j as f64 - n as f64
                    };
                    let r = (fi * fi + fj * fj).sqrt();
                    if r >= shell as f64 && r < shell as f64 + 1.0 {
                        ratio += power[i * n + j] / grf.expected_power(i, j);
                        count += 1.0;
                    }
                }
            }
            let mean_ratio = ratio / count;
            // Per mode the ratio over 200 draws has relative sd ≈ 1/√200; the shell pools ≥ 4
            // modes (half of them conjugate pairs): 5 sd of one mode is a loose, honest bound.
            assert!(
                (mean_ratio - 1.0).abs() < 5.0 / (draws as f64).sqrt(),
                "shell {shell}: {mean_ratio}"
            );
        }
        assert!(power[0] < 1e-20, "zero mode carries power {}", power[0]);
    }

    #[test]
    fn same_seed_same_fields_and_parameters_are_validated() {
        let grf = GaussianRandomField::paper(16).unwrap();
        let a = grf.sample_n(&mut ChaCha8Rng::seed_from_u64(5), 3);
        let b = grf.sample_n(&mut ChaCha8Rng::seed_from_u64(5), 3);
        assert_eq!(a, b);
        assert!(
            GaussianRandomField::new(16, 3.0, 0.0, 0.0, 1.0)
                .unwrap_err()
                .to_string()
                .contains("grf.tau")
        );
        assert!(GaussianRandomField::new(1, 3.0, 5.0, 0.0, 1.0).is_err());
    }
}
