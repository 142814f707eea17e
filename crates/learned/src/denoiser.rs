//! The trained network as a [`Denoiser`]: ε̂ predicted in f32 with the EMA weights, and the
//! vector–Jacobian product of x̂₀ = (x_t − √(1 − ᾱ) ε̂)/√ᾱ by reverse-mode autodiff,
//! (∂x̂₀/∂x_t)ᵀ v = (v − √(1 − ᾱ) (∂ε̂/∂x_t)ᵀ v) / √ᾱ.

use burn::tensor::{Device, Tensor};
use memprior_core::diffusion::{Batch, Denoiser, DifferentiableDenoiser, NoiseSchedule, Prediction};

use crate::net::{HostParams, MlpConfig, batch_tensor, forward, time_embedding, to_host};

/// A trained ε-prediction MLP with its schedule.
pub struct LearnedDenoiser {
    config: MlpConfig,
    params: Vec<Tensor<2>>,
    schedule: NoiseSchedule,
    device: Device,
}

impl std::fmt::Debug for LearnedDenoiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnedDenoiser").field("config", &self.config).finish()
    }
}

impl LearnedDenoiser {
    /// The network with `weights` (usually the EMA weights) under `schedule`.
    pub fn new(weights: &HostParams, schedule: NoiseSchedule) -> Self {
        let device = Device::flex();
        Self {
            config: weights.config,
            params: weights.to_device(&device),
            schedule,
            device,
        }
    }

    fn inputs(&self, x_t: &Batch, t: usize) -> (Tensor<2>, Tensor<2>) {
        assert_eq!(x_t.dim(), self.config.dim, "x_t has the wrong dimension");
        let (b, d, e) = (x_t.len(), self.config.dim, self.config.time_embedding);
        let x = batch_tensor(x_t.as_slice().iter().map(|v| *v as f32).collect(), b, d, &self.device);
        let emb = batch_tensor(time_embedding(&vec![t; b], e), b, e, &self.device);
        (x, emb)
    }
}

fn to_batch(t: &Tensor<2>, dim: usize) -> Batch {
    Batch::new(dim, to_host(t).into_iter().map(f64::from).collect()).expect("network output shape")
}

impl Denoiser for LearnedDenoiser {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    fn predict(&self, x_t: &Batch, t: usize) -> Prediction {
        let (x, emb) = self.inputs(x_t, t);
        let eps = forward(&self.config, &self.params, x, emb);
        Prediction::Epsilon(to_batch(&eps, self.config.dim))
    }
}

impl DifferentiableDenoiser for LearnedDenoiser {
    fn x0_vjp(&self, x_t: &Batch, t: usize, v: &Batch) -> Batch {
        assert_eq!((x_t.dim(), x_t.len()), (v.dim(), v.len()), "v must match x_t");
        let (x, emb) = self.inputs(x_t, t);
        let x = x.autodiff().require_grad();
        let eps = forward(&self.config, &self.params, x.clone(), emb);
        let vt = batch_tensor(v.as_slice().iter().map(|a| *a as f32).collect(), v.len(), v.dim(), &self.device);
        let grads = (eps * vt).sum().backward();
        let jt_v = to_batch(&x.grad(&grads).expect("x requires grad"), self.config.dim);
        let ab = self.schedule.alpha_bar(t);
        v.axpby(1.0 / ab.sqrt(), &jt_v, -(1.0 - ab).sqrt() / ab.sqrt())
    }
}
