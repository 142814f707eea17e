//! A diffusion model is a noise schedule, a denoiser and a sampler.
//!
//! The forward (noising) process of DDPM perturbs x₀ by
//!
//! x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε,  ε ~ N(0, I),  ᾱ_t = Π_{s ≤ t} (1 − β_s),  t = 0, …, T − 1,
//!
//! so that step t = 0 is the least noisy level and t = T − 1 the noisiest. A denoiser predicts
//! either the noise ε̂(x_t, t) or the clean point x̂₀(x_t, t) = E[x₀ | x_t]; the two are tied by
//! x_t = √ᾱ_t x̂₀ + √(1 − ᾱ_t) ε̂. Samplers (crate `samplers`) only need this trait.
//!
//! Points travel in a [`Batch`]: rows are samples, stored row-major, so that a network evaluates
//! many points in one call.

use crate::ConfigError;

/// The DDPM variance schedule β_t and its cumulative products ᾱ_t (FWI.md §4).
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    betas: Vec<f64>,
    alpha_bars: Vec<f64>,
}

impl NoiseSchedule {
    /// β linear from `beta_start` to `beta_end` over `steps` levels.
    ///
    /// # Errors
    /// `steps` must be ≥ 1 and 0 < β_start ≤ β_end < 1.
    pub fn linear(steps: usize, beta_start: f64, beta_end: f64) -> Result<Self, ConfigError> {
        if steps == 0 {
            return Err(ConfigError::new("diffusion.steps", "must be ≥ 1", steps));
        }
        if !(beta_start.is_finite() && beta_start > 0.0 && beta_start < 1.0) {
            return Err(ConfigError::new(
                "diffusion.beta_start",
                "must lie in the open interval (0, 1)",
                beta_start,
            ));
        }
        if !(beta_end.is_finite() && beta_end >= beta_start && beta_end < 1.0) {
            return Err(ConfigError::new(
                "diffusion.beta_end",
                format!("must lie in [beta_start = {beta_start}, 1)"),
                beta_end,
            ));
        }
        let betas: Vec<f64> = if steps == 1 {
            vec![beta_start]
        } else {
            (0..steps)
                .map(|t| beta_start + (beta_end - beta_start) * t as f64 / (steps - 1) as f64)
                .collect()
        };
        Self::from_betas(betas)
    }

    /// The paper's schedule: T = 200, β linear from 1e−4 to 0.02 (ᾱ_{T−1} ≈ 0.132).
    pub fn paper() -> Self {
        Self::linear(200, 1e-4, 0.02).expect("the paper's schedule is valid")
    }

    /// A schedule from explicit β_t (each in (0, 1)).
    ///
    /// # Errors
    /// An empty list or a β outside (0, 1).
    pub fn from_betas(betas: Vec<f64>) -> Result<Self, ConfigError> {
        if betas.is_empty() {
            return Err(ConfigError::new("diffusion.betas", "must not be empty", 0));
        }
        if let Some(b) = betas
            .iter()
            .find(|b| !(b.is_finite() && **b > 0.0 && **b < 1.0))
        {
            return Err(ConfigError::new(
                "diffusion.betas",
                "every β must lie in the open interval (0, 1)",
                b,
            ));
        }
        let mut acc = 1.0;
        let alpha_bars = betas
            .iter()
            .map(|b| {
                acc *= 1.0 - b;
                acc
            })
            .collect();
        Ok(Self { betas, alpha_bars })
    }

    /// Number of noise levels T.
    pub fn steps(&self) -> usize {
        self.betas.len()
    }

    /// β_t.
    pub fn beta(&self, t: usize) -> f64 {
        self.betas[t]
    }

    /// ᾱ_t = Π_{s ≤ t}(1 − β_s).
    pub fn alpha_bar(&self, t: usize) -> f64 {
        self.alpha_bars[t]
    }

    /// ᾱ_{t−1}, with ᾱ_{−1} = 1 (the clean level) for t = 0.
    pub fn alpha_bar_prev(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.alpha_bars[t - 1] }
    }

    /// Noise a clean point: √ᾱ_t x₀ + √(1 − ᾱ_t) ε.
    pub fn perturb(&self, x0: &[f64], eps: &[f64], t: usize) -> Vec<f64> {
        let (a, s) = (self.alpha_bar(t).sqrt(), (1.0 - self.alpha_bar(t)).sqrt());
        x0.iter().zip(eps).map(|(x, e)| a * x + s * e).collect()
    }
}

/// Points as rows of a row-major matrix (n × dim).
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    dim: usize,
    data: Vec<f64>,
}

impl Batch {
    /// A batch from row-major `data`; its length must be a multiple of `dim`.
    ///
    /// # Errors
    /// `dim` = 0 or a length that is not a multiple of `dim`.
    pub fn new(dim: usize, data: Vec<f64>) -> Result<Self, ConfigError> {
        if dim == 0 {
            return Err(ConfigError::new("dim", "must be ≥ 1", 0));
        }
        if !data.len().is_multiple_of(dim) {
            return Err(ConfigError::new(
                "batch",
                format!("length must be a multiple of dim = {dim}"),
                data.len(),
            ));
        }
        Ok(Self { dim, data })
    }

    /// A batch from rows of equal length.
    ///
    /// # Errors
    /// No rows, an empty row or rows of different lengths.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self, ConfigError> {
        let dim = rows.first().map_or(0, Vec::len);
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != dim) {
            return Err(ConfigError::new(
                format!("rows[{i}]"),
                format!("must have the length of row 0 ({dim})"),
                r.len(),
            ));
        }
        Self::new(dim, rows.concat())
    }

    /// n zero rows of length `dim` ≥ 1.
    pub fn zeros(n: usize, dim: usize) -> Self {
        assert!(dim >= 1, "a batch needs dim ≥ 1");
        Self {
            dim,
            data: vec![0.0; n * dim],
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Length of a row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row i.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Row i, mutable.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> {
        self.data.chunks_exact(self.dim)
    }

    /// Rows as owned vectors.
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        self.rows().map(<[f64]>::to_vec).collect()
    }

    /// The row-major storage.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The row-major storage, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Element-wise a·self + b·other.
    pub fn axpby(&self, a: f64, other: &Batch, b: f64) -> Batch {
        assert_eq!(
            (self.dim, self.len()),
            (other.dim, other.len()),
            "batch shapes differ"
        );
        Batch {
            dim: self.dim,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(x, y)| a * x + b * y)
                .collect(),
        }
    }
}

/// What a denoiser returns at (x_t, t).
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// The noise ε̂(x_t, t).
    Epsilon(Batch),
    /// The clean point x̂₀(x_t, t).
    X0(Batch),
}

/// A denoiser of a diffusion model: ε̂ or x̂₀ at (x_t, t) under its own noise schedule.
pub trait Denoiser {
    /// Dimension of x.
    fn dim(&self) -> usize;

    /// The schedule whose ᾱ_t this denoiser was built or trained for.
    fn schedule(&self) -> &NoiseSchedule;

    /// The native prediction at (x_t, t) for every row of `x_t` (dim columns; t < T).
    fn predict(&self, x_t: &Batch, t: usize) -> Prediction;

    /// x̂₀(x_t, t) = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t when the native prediction is ε̂.
    fn x0(&self, x_t: &Batch, t: usize) -> Batch {
        let ab = self.schedule().alpha_bar(t);
        match self.predict(x_t, t) {
            Prediction::X0(x0) => x0,
            Prediction::Epsilon(eps) => {
                x_t.axpby(1.0 / ab.sqrt(), &eps, -(1.0 - ab).sqrt() / ab.sqrt())
            }
        }
    }

    /// ε̂(x_t, t) = (x_t − √ᾱ_t x̂₀) / √(1 − ᾱ_t) when the native prediction is x̂₀.
    fn epsilon(&self, x_t: &Batch, t: usize) -> Batch {
        let ab = self.schedule().alpha_bar(t);
        match self.predict(x_t, t) {
            Prediction::Epsilon(eps) => eps,
            Prediction::X0(x0) => {
                let s = (1.0 - ab).sqrt();
                x_t.axpby(1.0 / s, &x0, -ab.sqrt() / s)
            }
        }
    }

    /// Both predictions from one evaluation: (x̂₀, ε̂).
    fn x0_and_epsilon(&self, x_t: &Batch, t: usize) -> (Batch, Batch) {
        let ab = self.schedule().alpha_bar(t);
        let (a, s) = (ab.sqrt(), (1.0 - ab).sqrt());
        match self.predict(x_t, t) {
            Prediction::X0(x0) => {
                let eps = x_t.axpby(1.0 / s, &x0, -a / s);
                (x0, eps)
            }
            Prediction::Epsilon(eps) => {
                let x0 = x_t.axpby(1.0 / a, &eps, -s / a);
                (x0, eps)
            }
        }
    }
}

/// A denoiser whose clean-point prediction can be differentiated in x_t: the vector–Jacobian
/// product vᵀ ∂x̂₀/∂x_t, needed by the original DPS of Chung et al.
pub trait DifferentiableDenoiser: Denoiser {
    /// Row i of the result is (∂x̂₀/∂x_t)(x_t,i)ᵀ v_i.
    fn x0_vjp(&self, x_t: &Batch, t: usize, v: &Batch) -> Batch;
}

impl<D: Denoiser + ?Sized> Denoiser for &D {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn schedule(&self) -> &NoiseSchedule {
        (**self).schedule()
    }
    fn predict(&self, x_t: &Batch, t: usize) -> Prediction {
        (**self).predict(x_t, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_schedule_invariants() {
        let s = NoiseSchedule::paper();
        assert_eq!(s.steps(), 200);
        assert!((s.beta(0) - 1e-4).abs() < 1e-18 && (s.beta(199) - 0.02).abs() < 1e-17);
        // ᾱ strictly decreasing in (0, 1), and its last value as FWI.md §4 states.
        for t in 1..200 {
            assert!(s.alpha_bar(t) < s.alpha_bar(t - 1) && s.alpha_bar(t) > 0.0);
        }
        assert!(
            (s.alpha_bar(199) - 0.132).abs() < 5e-4,
            "{}",
            s.alpha_bar(199)
        );
        // ᾱ_t = exp Σ log(1 − β_s), accumulated independently.
        let logsum: f64 = (0..200).map(|t| (1.0 - s.beta(t)).ln()).sum();
        assert!((s.alpha_bar(199) - logsum.exp()).abs() < 1e-14);
        assert_eq!(s.alpha_bar_prev(0), 1.0);
    }

    #[test]
    fn schedule_rejects_bad_settings() {
        assert_eq!(
            NoiseSchedule::linear(0, 1e-4, 0.02).unwrap_err().field,
            "diffusion.steps"
        );
        assert_eq!(
            NoiseSchedule::linear(10, 0.0, 0.02).unwrap_err().field,
            "diffusion.beta_start"
        );
        assert_eq!(
            NoiseSchedule::linear(10, 0.1, 0.01).unwrap_err().field,
            "diffusion.beta_end"
        );
        assert!(NoiseSchedule::from_betas(vec![0.1, 1.0]).is_err());
    }

    #[test]
    fn batch_shapes_are_checked() {
        assert!(Batch::new(3, vec![0.0; 7]).is_err());
        assert!(Batch::from_rows(&[vec![1.0, 2.0], vec![3.0]]).is_err());
        let b = Batch::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
        assert_eq!((b.len(), b.dim(), b.row(1)), (2, 2, &[3.0, 4.0][..]));
    }
}
