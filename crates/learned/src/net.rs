//! The ε-prediction MLP of FWI.md §4 as explicit parameter tensors.
//!
//! ε̂(x_t, t) = W_out h_L + b_out, where
//! h_0 = GELU(W_in [x_t ; e(t)] + b_in),  h_l = h_{l−1} + GELU(LayerNorm(W_l h_{l−1} + b_l)),
//! and e(t) is the sinusoidal embedding [sin(t f_i), cos(t f_i)], f_i = 10000^(−i/(E/2)).
//!
//! Parameters are kept as a flat list of burn tensors (weights [in, out], biases and LayerNorm
//! scales as [1, out]) so that the optimiser, the EMA and the checkpoint handle them uniformly.
//! The network computes in f32 (the flex backend's native float): the training loss is a mean of
//! O(1) squares, far above f32 rounding.

use burn::tensor::activation::gelu;
use burn::tensor::module::layer_norm;
use burn::tensor::{Device, Tensor, TensorData};
use memprior_core::ConfigError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand::RngExt;
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
        if self.time_embedding < 2 || self.time_embedding % 2 != 0 {
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

    /// Upload to `device`.
    pub fn to_device(&self, device: &Device) -> Vec<Tensor<2>> {
        self.config
            .shapes()
            .iter()
            .zip(&self.tensors)
            .map(|(s, v)| Tensor::from_data(TensorData::new(v.clone(), *s), device))
            .collect()
    }

    /// Download from tensors.
    pub fn from_tensors(config: MlpConfig, tensors: &[Tensor<2>]) -> Self {
        Self {
            config,
            tensors: tensors.iter().map(to_host).collect(),
        }
    }
}

/// A tensor's values as a host vector.
pub fn to_host(t: &Tensor<2>) -> Vec<f32> {
    t.to_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// The sinusoidal embedding of the integer levels `ts`, one row each (E columns).
pub fn time_embedding(ts: &[usize], e: usize) -> Vec<f32> {
    let half = e / 2;
    let mut out = Vec::with_capacity(ts.len() * e);
    for &t in ts {
        let freqs = (0..half).map(|i| (-(10_000f64.ln()) * i as f64 / half as f64).exp());
        let args: Vec<f64> = freqs.map(|f| t as f64 * f).collect();
        out.extend(args.iter().map(|a| a.sin() as f32));
        out.extend(args.iter().map(|a| a.cos() as f32));
    }
    out
}

/// ε̂ for a batch: `x` is [B, dim], `emb` is [B, E].
pub fn forward(config: &MlpConfig, params: &[Tensor<2>], x: Tensor<2>, emb: Tensor<2>) -> Tensor<2> {
    let w = config.width;
    let input = Tensor::cat(vec![x, emb], 1);
    let mut h = gelu(input.matmul(params[0].clone()).add(params[1].clone()));
    for l in 0..config.blocks {
        let p = &params[2 + 4 * l..6 + 4 * l];
        let a = h.clone().matmul(p[0].clone()).add(p[1].clone());
        let gamma: Tensor<1> = p[2].clone().reshape([w]);
        let beta: Tensor<1> = p[3].clone().reshape([w]);
        h = h + gelu(layer_norm(a, gamma, Some(beta), 1e-5));
    }
    let k = 2 + 4 * config.blocks;
    h.matmul(params[k].clone()).add(params[k + 1].clone())
}

/// Host batch → tensor [rows, cols].
pub fn batch_tensor(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}
