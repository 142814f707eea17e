//! Closed-form diffusion denoisers: the two controls that need no training (FWI.md §4).
//!
//! - [`MemorizedDenoiser`]: the empirical-optimal denoiser over a training set {x_n}, the
//!   fully memorized limit [eq:empirical-denoiser]:
//!   x̂₀(x_t) = Σ_n w_n x_n,  w_n = softmax_n(−‖x_t − √ᾱ_t x_n‖² / (2(1 − ᾱ_t))).
//!   Its Jacobian is (√ᾱ_t / (1 − ᾱ_t)) Cov_w(x_n), the weighted covariance of the training
//!   points, so the vector–Jacobian product is closed form as well.
//! - [`GaussianDenoiser`]: the posterior mean of x₀ under N(μ, C) (the training mean and
//!   covariance), x̂₀ = μ + √ᾱ C (ᾱ C + (1 − ᾱ) I)⁻¹ (x_t − √ᾱ μ); a linear map, which
//!   cannot memorize. With C = V Λ Vᵀ the gain is V diag(√ᾱ λ_k / (ᾱ λ_k + 1 − ᾱ)) Vᵀ.

use faer::{Mat, Side};
use memprior_core::ConfigError;
use memprior_core::diffusion::{
    Batch, Denoiser, DifferentiableDenoiser, NoiseSchedule, Prediction,
};

use crate::{EmpiricalDenoiser, TrainingSet};

/// The empirical-optimal (memorized) denoiser over a training set [eq:empirical-denoiser]:
/// [`EmpiricalDenoiser`] evaluated at the ᾱ_t of a schedule.
#[derive(Debug, Clone)]
pub struct MemorizedDenoiser {
    inner: EmpiricalDenoiser,
    schedule: NoiseSchedule,
}

impl MemorizedDenoiser {
    /// The denoiser of `training` under `schedule`.
    pub fn new(training: TrainingSet, schedule: NoiseSchedule) -> Self {
        Self {
            inner: EmpiricalDenoiser::new(training),
            schedule,
        }
    }

    /// The training set.
    pub fn training(&self) -> &TrainingSet {
        self.inner.training()
    }

    /// Weights w_n(x_t) = softmax_n(−‖x_t − √ᾱ_t x_n‖² / (2(1 − ᾱ_t))).
    pub fn weights(&self, x_t: &[f64], t: usize) -> Vec<f64> {
        self.inner
            .weights(x_t, self.schedule.alpha_bar(t))
            .expect("a schedule's ᾱ_t lies in (0, 1)")
    }

    fn weighted_mean(&self, w: &[f64]) -> Vec<f64> {
        self.inner.weighted_mean(w)
    }
}

impl Denoiser for MemorizedDenoiser {
    fn dim(&self) -> usize {
        self.training().dim()
    }

    fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    fn predict(&self, x_t: &Batch, t: usize) -> Prediction {
        assert_eq!(x_t.dim(), self.dim(), "x_t has the wrong dimension");
        let mut out = Batch::zeros(x_t.len(), self.dim());
        for (i, row) in x_t.rows().enumerate() {
            let mean = self.weighted_mean(&self.weights(row, t));
            out.row_mut(i).copy_from_slice(&mean);
        }
        Prediction::X0(out)
    }
}

impl DifferentiableDenoiser for MemorizedDenoiser {
    /// (∂x̂₀/∂x_t)ᵀ v = (√ᾱ/(1 − ᾱ)) Σ_n w_n (x_n − x̂₀) ⟨x_n − x̂₀, v⟩ (the Jacobian is symmetric).
    fn x0_vjp(&self, x_t: &Batch, t: usize, v: &Batch) -> Batch {
        assert_eq!(
            (x_t.dim(), x_t.len()),
            (v.dim(), v.len()),
            "v must match x_t"
        );
        let ab = self.schedule.alpha_bar(t);
        let scale = ab.sqrt() / (1.0 - ab);
        let mut out = Batch::zeros(x_t.len(), self.dim());
        for (i, row) in x_t.rows().enumerate() {
            let w = self.weights(row, t);
            let mean = self.weighted_mean(&w);
            let vi = v.row(i);
            let o = out.row_mut(i);
            for (wn, xn) in w.iter().zip(self.training().iter()) {
                if *wn == 0.0 {
                    continue;
                }
                let proj: f64 = xn
                    .iter()
                    .zip(&mean)
                    .zip(vi)
                    .map(|((x, m), vk)| (x - m) * vk)
                    .sum();
                let c = scale * wn * proj;
                for ((ok, x), m) in o.iter_mut().zip(xn).zip(&mean) {
                    *ok += c * (x - m);
                }
            }
        }
        out
    }
}

/// The exact denoiser of a Gaussian data prior N(μ, C): the training mean and covariance.
#[derive(Debug, Clone)]
pub struct GaussianDenoiser {
    mean: Vec<f64>,
    /// Eigenvectors of C as columns (d × d).
    vectors: Mat<f64>,
    /// Eigenvalues of C (clipped at 0).
    values: Vec<f64>,
    schedule: NoiseSchedule,
}

impl GaussianDenoiser {
    /// The denoiser of N(`mean`, `cov`); `cov` is d × d, symmetric positive semi-definite.
    ///
    /// # Errors
    /// Shapes that disagree, a non-finite entry, or a clearly indefinite covariance.
    pub fn new(
        mean: Vec<f64>,
        cov: &Mat<f64>,
        schedule: NoiseSchedule,
    ) -> Result<Self, ConfigError> {
        let d = mean.len();
        if d == 0 || cov.nrows() != d || cov.ncols() != d {
            return Err(ConfigError::new(
                "cov",
                format!("must be {d} × {d} to match the mean"),
                format!("{} × {}", cov.nrows(), cov.ncols()),
            ));
        }
        if mean.iter().any(|v| !v.is_finite())
            || (0..d).any(|j| (0..d).any(|i| !cov[(i, j)].is_finite()))
        {
            return Err(ConfigError::new(
                "cov",
                "mean and covariance must be finite",
                "NaN or ∞",
            ));
        }
        let evd = cov.self_adjoint_eigen(Side::Lower).map_err(|e| {
            ConfigError::new(
                "cov",
                "must have a symmetric eigendecomposition",
                format!("{e:?}"),
            )
        })?;
        let raw: Vec<f64> = (0..d).map(|k| evd.S()[k]).collect();
        let top = raw.iter().cloned().fold(0.0_f64, f64::max);
        if let Some(neg) = raw.iter().find(|l| **l < -1e-8 * top.max(1e-300)) {
            return Err(ConfigError::new(
                "cov",
                "must be positive semi-definite",
                format!("eigenvalue {neg}"),
            ));
        }
        Ok(Self {
            mean,
            vectors: evd.U().to_owned(),
            values: raw.into_iter().map(|l| l.max(0.0)).collect(),
            schedule,
        })
    }

    /// The sample mean and covariance (divisor N − 1) of `training`, N ≥ 2.
    ///
    /// # Errors
    /// Fewer than two training points.
    pub fn fit(training: &TrainingSet, schedule: NoiseSchedule) -> Result<Self, ConfigError> {
        let (n, d) = (training.len(), training.dim());
        if n < 2 {
            return Err(ConfigError::new(
                "training_points",
                "the Gaussian control needs N ≥ 2 to estimate a covariance",
                n,
            ));
        }
        let mut mean = vec![0.0; d];
        for x in training.iter() {
            for (m, v) in mean.iter_mut().zip(x) {
                *m += v / n as f64;
            }
        }
        let centred = Mat::<f64>::from_fn(n, d, |i, k| training.point(i)[k] - mean[k]);
        let cov = centred.transpose() * &centred * faer::Scale(1.0 / (n - 1) as f64);
        Self::new(mean, &cov, schedule)
    }

    /// The prior mean μ.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Eigenvalues of C in nondecreasing order, and the eigenvectors as columns.
    pub fn eigen(&self) -> (&[f64], &Mat<f64>) {
        (&self.values, &self.vectors)
    }

    /// y = V diag(g) Vᵀ x for each row.
    fn apply_gain(&self, x: &Batch, gain: &[f64]) -> Batch {
        let d = self.mean.len();
        let xm = Mat::<f64>::from_fn(d, x.len(), |k, i| x.row(i)[k]);
        let mut coef = self.vectors.transpose() * &xm;
        for (k, g) in gain.iter().enumerate() {
            for i in 0..x.len() {
                coef[(k, i)] *= g;
            }
        }
        let y = &self.vectors * &coef;
        let mut out = Batch::zeros(x.len(), d);
        for i in 0..x.len() {
            for (k, o) in out.row_mut(i).iter_mut().enumerate() {
                *o = y[(k, i)];
            }
        }
        out
    }

    fn gain(&self, t: usize) -> Vec<f64> {
        let ab = self.schedule.alpha_bar(t);
        self.values
            .iter()
            .map(|l| ab.sqrt() * l / (ab * l + 1.0 - ab))
            .collect()
    }
}

impl Denoiser for GaussianDenoiser {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    fn predict(&self, x_t: &Batch, t: usize) -> Prediction {
        assert_eq!(x_t.dim(), self.dim(), "x_t has the wrong dimension");
        let a = self.schedule.alpha_bar(t).sqrt();
        let mut centred = x_t.clone();
        for i in 0..centred.len() {
            for (c, m) in centred.row_mut(i).iter_mut().zip(&self.mean) {
                *c -= a * m;
            }
        }
        let mut x0 = self.apply_gain(&centred, &self.gain(t));
        for i in 0..x0.len() {
            for (o, m) in x0.row_mut(i).iter_mut().zip(&self.mean) {
                *o += m;
            }
        }
        Prediction::X0(x0)
    }
}

impl DifferentiableDenoiser for GaussianDenoiser {
    /// The Jacobian V diag(gain) Vᵀ is symmetric and independent of x_t.
    fn x0_vjp(&self, x_t: &Batch, t: usize, v: &Batch) -> Batch {
        assert_eq!(
            (x_t.dim(), x_t.len()),
            (v.dim(), v.len()),
            "v must match x_t"
        );
        self.apply_gain(v, &self.gain(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::prelude::Solve;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn random_rows(rng: &mut ChaCha8Rng, n: usize, d: usize, scale: f64) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                (0..d)
                    .map(|_| {
                        scale * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng)
                    })
                    .collect::<Vec<f64>>()
            })
            .collect()
    }

    /// Central differences of x̂₀ against the closed-form VJP: error O(h²) ≈ 1e-9 at h = 1e-4.
    fn check_vjp<D: DifferentiableDenoiser>(den: &D, x: &[f64], v: &[f64], t: usize) {
        let xb = Batch::from_rows(&[x.to_vec()]).unwrap();
        let vb = Batch::from_rows(&[v.to_vec()]).unwrap();
        let vjp = den.x0_vjp(&xb, t, &vb);
        let h = 1e-4;
        for k in 0..x.len() {
            let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
            xp[k] += h;
            xm[k] -= h;
            let fp = den.x0(&Batch::from_rows(&[xp]).unwrap(), t);
            let fm = den.x0(&Batch::from_rows(&[xm]).unwrap(), t);
            let fd: f64 = (0..x.len())
                .map(|j| v[j] * (fp.row(0)[j] - fm.row(0)[j]) / (2.0 * h))
                .sum();
            assert!(
                (fd - vjp.row(0)[k]).abs() < 1e-6 * (1.0 + fd.abs()),
                "k={k}: fd {fd} vs {}",
                vjp.row(0)[k]
            );
        }
    }

    #[test]
    fn memorized_vjp_matches_central_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let train = TrainingSet::new(&random_rows(&mut rng, 6, 4, 1.0)).unwrap();
        let den = MemorizedDenoiser::new(train, NoiseSchedule::paper());
        let x = &random_rows(&mut rng, 1, 4, 1.0)[0];
        let v = &random_rows(&mut rng, 1, 4, 1.0)[0];
        for t in [20, 120, 199] {
            check_vjp(&den, x, v, t);
        }
    }

    #[test]
    fn gaussian_matches_dense_formula_and_vjp() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let rows = random_rows(&mut rng, 9, 3, 2.0);
        let train = TrainingSet::new(&rows).unwrap();
        let den = GaussianDenoiser::fit(&train, NoiseSchedule::paper()).unwrap();
        // Dense: μ + √ᾱ C (ᾱC + (1−ᾱ)I)⁻¹ (x − √ᾱ μ), with C from its definition.
        let mu = den.mean().to_vec();
        let c = Mat::<f64>::from_fn(3, 3, |i, j| {
            rows.iter()
                .map(|r| (r[i] - mu[i]) * (r[j] - mu[j]))
                .sum::<f64>()
                / 8.0
        });
        let x = random_rows(&mut rng, 1, 3, 1.0).remove(0);
        let t = 100;
        let ab = NoiseSchedule::paper().alpha_bar(t);
        let m = Mat::<f64>::from_fn(3, 3, |i, j| {
            ab * c[(i, j)] + if i == j { 1.0 - ab } else { 0.0 }
        });
        let rhs = Mat::<f64>::from_fn(3, 1, |i, _| x[i] - ab.sqrt() * mu[i]);
        let sol = m.partial_piv_lu().solve(&rhs);
        let dense = &c * &sol;
        let got = den.x0(&Batch::from_rows(std::slice::from_ref(&x)).unwrap(), t);
        for i in 0..3 {
            let want = mu[i] + ab.sqrt() * dense[(i, 0)];
            assert!((got.row(0)[i] - want).abs() < 1e-12 * (1.0 + want.abs()));
        }
        let v = random_rows(&mut rng, 1, 3, 1.0).remove(0);
        check_vjp(&den, &x, &v, t);
    }

    #[test]
    fn gaussian_needs_two_points() {
        let train = TrainingSet::new(&[vec![1.0, 2.0]]).unwrap();
        let err = GaussianDenoiser::fit(&train, NoiseSchedule::paper()).unwrap_err();
        assert_eq!(err.field, "training_points");
    }
}
