//! The ε-prediction MLP of FWI.md §4 as explicit parameter tensors.
//!
//! ε̂(x_t, t) = W_out h_L + b_out, where
//! h_0 = GELU(W_in [x_t ; e(t)] + b_in),  h_l = h_{l−1} + GELU(LayerNorm(W_l h_{l−1} + b_l)),
//! and e(t) is the sinusoidal embedding [sin(t f_i), cos(t f_i)], f_i = 10000^(−i/(E/2 − 1)), i = 0 … E/2 − 1
//! (the authors' spacing: the last frequency is exactly 10⁻⁴).
//!
//! Parameters are kept as a list of row-major f32 tensors (weights [in, out], biases and LayerNorm
//! scales as [1, out]) in the order of [`MlpConfig::shapes`]; [`crate::mlp`] runs the network on
//! them flattened. The network computes in f32: the training loss is a mean of O(1) squares, far
//! above f32 rounding.

use memprior_core::ConfigError;
use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Architecture of the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Dimension of x (100 KL coefficients).
    pub dim: usize,
    /// Width W of the hidden layers.
    pub width: usize,
    /// Number L of residual blocks.
    pub blocks: usize,
    /// Length E of the sinusoidal time embedding (even).
    pub time_embedding: usize,
}

impl MlpConfig {
    /// Check sizes; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dim == 0 {
            return Err(ConfigError::new("network.dim", "must be ≥ 1", self.dim));
        }
        if self.width == 0 {
            return Err(ConfigError::new("network.width", "must be ≥ 1", self.width));
        }
        if self.time_embedding < 2 || !self.time_embedding.is_multiple_of(2) {
            return Err(ConfigError::new(
                "network.time_embedding",
                "must be an even number ≥ 2",
                self.time_embedding,
            ));
        }
        Ok(())
    }

    /// Shapes of the parameter tensors in storage order.
    pub fn shapes(&self) -> Vec<[usize; 2]> {
        let (d, w, e) = (self.dim, self.width, self.time_embedding);
        let mut s = vec![[d + e, w], [1, w]];
        for _ in 0..self.blocks {
            s.extend([[w, w], [1, w], [1, w], [1, w]]);
        }
        s.extend([[w, d], [1, d]]);
        s
    }

    /// Number of scalar parameters, or `None` when it overflows (computed without listing the
    /// shapes, so that a crafted configuration allocates nothing).
    pub fn checked_parameter_count(&self) -> Option<usize> {
        let (d, w, e) = (self.dim, self.width, self.time_embedding);
        let input = d.checked_add(e)?.checked_mul(w)?.checked_add(w)?;
        let block = w.checked_mul(w)?.checked_add(w.checked_mul(3)?)?;
        let output = w.checked_mul(d)?.checked_add(d)?;
        self.blocks
            .checked_mul(block)?
            .checked_add(input)?
            .checked_add(output)
    }

    /// Number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        self.shapes().iter().map(|[a, b]| a * b).sum()
    }
}

/// Parameter values on the host, in the order of [`MlpConfig::shapes`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostParams {
    /// The architecture.
    pub config: MlpConfig,
    /// One row-major f32 buffer per tensor.
    pub tensors: Vec<Vec<f32>>,
}

impl HostParams {
    /// PyTorch's default initialisation, seeded: Linear weights and biases U(−1/√fan_in,
    /// 1/√fan_in); LayerNorm scale 1 and shift 0.
    pub fn init(config: MlpConfig, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shapes = config.shapes();
        let mut tensors = Vec::with_capacity(shapes.len());
        let linear = |fan_in: usize, len: usize, rng: &mut ChaCha8Rng| -> Vec<f32> {
            let b = 1.0 / (fan_in as f64).sqrt();
            (0..len).map(|_| rng.random_range(-b..b) as f32).collect()
        };
        let (d, w, e) = (config.dim, config.width, config.time_embedding);
        tensors.push(linear(d + e, (d + e) * w, &mut rng));
        tensors.push(linear(d + e, w, &mut rng));
        for _ in 0..config.blocks {
            tensors.push(linear(w, w * w, &mut rng));
            tensors.push(linear(w, w, &mut rng));
            tensors.push(vec![1.0; w]);
            tensors.push(vec![0.0; w]);
        }
        tensors.push(linear(w, w * d, &mut rng));
        tensors.push(linear(w, d, &mut rng));
        Self { config, tensors }
    }
}

/// The sinusoidal embedding of the integer levels `ts`, one row each (E columns).
pub fn time_embedding(ts: &[usize], e: usize) -> Vec<f32> {
    let half = e / 2;
    let mut out = Vec::with_capacity(ts.len() * e);
    for &t in ts {
        // The authors' frequencies: f_i = 10000^(−i/(E/2 − 1)), from 1 down to exactly 1/10000.
        let denom = (half.max(2) - 1) as f64;
        let freqs = (0..half).map(|i| (-(10_000f64.ln()) * i as f64 / denom).exp());
        let args: Vec<f64> = freqs.map(|f| t as f64 * f).collect();
        out.extend(args.iter().map(|a| a.sin() as f32));
        out.extend(args.iter().map(|a| a.cos() as f32));
    }
    out
}
