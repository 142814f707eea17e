//! The trained network as a [`Denoiser`]: ε̂ predicted in f32 with the EMA weights, and the
//! vector–Jacobian product of x̂₀ = (x_t − √(1 − ᾱ) ε̂)/√ᾱ by the network's reverse pass,
//! (∂x̂₀/∂x_t)ᵀ v = (v − √(1 − ᾱ) (∂ε̂/∂x_t)ᵀ v) / √ᾱ.

use memprior_core::diffusion::{
    Batch, Denoiser, DifferentiableDenoiser, NoiseSchedule, Prediction,
};

use crate::mlp::{self, Layout};
use crate::net::{HostParams, MlpConfig, time_embedding};

/// A trained ε-prediction MLP with its schedule.
pub struct LearnedDenoiser {
    config: MlpConfig,
    layout: Layout,
    params: Vec<f32>,
    schedule: NoiseSchedule,
}

impl std::fmt::Debug for LearnedDenoiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnedDenoiser")
            .field("config", &self.config)
            .finish()
    }
}

impl LearnedDenoiser {
    /// The network with `weights` (usually the EMA weights) under `schedule`.
    pub fn new(weights: &HostParams, schedule: NoiseSchedule) -> Self {
        Self {
            config: weights.config,
            layout: Layout::new(weights.config),
            params: weights.tensors.concat(),
            schedule,
        }
    }

    /// Rows [x_t ; e(t)] of the network input.
    fn input(&self, x_t: &Batch, t: usize) -> Vec<f32> {
        assert_eq!(x_t.dim(), self.config.dim, "x_t has the wrong dimension");
        let e = self.config.time_embedding;
        let emb = time_embedding(&[t], e);
        let mut input = Vec::with_capacity(x_t.len() * (self.config.dim + e));
        for row in x_t.as_slice().chunks_exact(self.config.dim) {
            input.extend(row.iter().map(|v| *v as f32));
            input.extend_from_slice(&emb);
        }
        input
    }
}

fn to_batch(values: &[f32], dim: usize) -> Batch {
    Batch::new(dim, values.iter().map(|v| f64::from(*v)).collect()).expect("network output shape")
}

impl Denoiser for LearnedDenoiser {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    fn predict(&self, x_t: &Batch, t: usize) -> Prediction {
        let tape = mlp::forward(&self.layout, &self.params, self.input(x_t, t), x_t.len());
        Prediction::Epsilon(to_batch(&tape.out, self.config.dim))
    }
}

impl DifferentiableDenoiser for LearnedDenoiser {
    fn x0_vjp(&self, x_t: &Batch, t: usize, v: &Batch) -> Batch {
        assert_eq!(
            (x_t.dim(), x_t.len()),
            (v.dim(), v.len()),
            "v must match x_t"
        );
        let tape = mlp::forward(&self.layout, &self.params, self.input(x_t, t), x_t.len());
        let g: Vec<f32> = v.as_slice().iter().map(|a| *a as f32).collect();
        let back = mlp::backward(&self.layout, &self.params, &tape, g, true);
        let jt_v = to_batch(back.d_x.as_deref().unwrap_or_default(), self.config.dim);
        let ab = self.schedule.alpha_bar(t);
        v.axpby(1.0 / ab.sqrt(), &jt_v, -(1.0 - ab).sqrt() / ab.sqrt())
    }
}
