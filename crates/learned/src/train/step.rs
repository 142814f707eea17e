//! One training step: a batch, the forward and backward passes, the clipped Adam update and the
//! EMA.

use super::*;

impl Trainer<'_> {
    /// One Adam step on a fresh batch: returns its loss and gradient norm.
    ///
    /// # Errors
    /// A non-finite loss.
    pub fn step(&self, state: &mut TrainState) -> Result<StepRecord, TrainError> {
        self.step_timed(state).map(|(rec, _)| rec)
    }

    /// [`Trainer::step`], with the wall time of each phase (for `memprior prior bench`).
    ///
    /// # Errors
    /// A non-finite loss or gradient norm.
    pub fn step_timed(
        &self,
        state: &mut TrainState,
    ) -> Result<(StepRecord, StepTimes), TrainError> {
        let mut times = StepTimes::default();
        let mut clock = Instant::now();
        let mut lap = |slot: &mut f64| {
            let now = Instant::now();
            *slot += (now - clock).as_secs_f64();
            clock = now;
        };
        let cfg = &self.recipe.training;
        let net = &self.recipe.network;
        let k = state.step;
        let mut rng = step_rng(cfg.seed, k);
        let n = self.data.len();
        let b = cfg.batch;
        // b indices as consecutive random permutations of 0..N: every point appears
        // ⌊b/N⌋ or ⌈b/N⌉ times, never twice more than another (all of them when b = N).
        let mut idx: Vec<usize> = Vec::with_capacity(b + n);
        while idx.len() < b {
            let mut perm: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                let j = rng.random_range(0..=i);
                perm.swap(i, j);
            }
            idx.extend(perm);
        }
        idx.truncate(b);
        let ts: Vec<usize> = (0..b)
            .map(|_| rng.random_range(0..self.schedule.steps()))
            .collect();
        let d = net.dim;
        let mut x_t = Vec::with_capacity(b * d);
        let mut eps = Vec::with_capacity(b * d);
        for (i, &t) in ts.iter().enumerate() {
            let ab = self.schedule.alpha_bar(t);
            for &x0 in &self.data[idx[i]] {
                let e: f64 = StandardNormal.sample(&mut rng);
                x_t.push((ab.sqrt() * x0 + (1.0 - ab).sqrt() * e) as f32);
                eps.push(e as f32);
            }
        }
        let e = net.time_embedding;
        let emb = time_embedding(&ts, e);
        let mut input = Vec::with_capacity(b * (d + e));
        for i in 0..b {
            input.extend_from_slice(&x_t[i * d..(i + 1) * d]);
            input.extend_from_slice(&emb[i * e..(i + 1) * e]);
        }
        lap(&mut times.batch);
        let tape = mlp::forward(&self.layout, &state.params, input, b);
        lap(&mut times.forward);
        // L = mean (ε̂ − ε)², ∂L/∂ε̂ = 2 (ε̂ − ε) / (B d).
        let count = (b * d) as f64;
        let loss: f64 = tape
            .out
            .iter()
            .zip(&eps)
            .map(|(o, t)| f64::from(o - t).powi(2))
            .sum::<f64>()
            / count;
        let loss_value = loss as f32;
        if !loss_value.is_finite() {
            return Err(TrainError::Diverged {
                step: k,
                loss: loss_value,
            });
        }
        let scale = (2.0 / count) as f32;
        let g_out: Vec<f32> = tape
            .out
            .iter()
            .zip(&eps)
            .map(|(o, t)| scale * (o - t))
            .collect();
        let back = mlp::backward(&self.layout, &state.params, &tape, g_out, false);
        lap(&mut times.backward);
        let norm = optim::grad_norm2(&self.layout, &tape, &back).sqrt();
        lap(&mut times.norm);
        if !norm.is_finite() {
            // A NaN would pass the clip test below and poison the weights and the EMA.
            return Err(TrainError::Diverged {
                step: k,
                loss: f32::NAN,
            });
        }
        let clip = if norm > cfg.clip_norm {
            cfg.clip_norm / norm
        } else {
            1.0
        };
        let (b1, b2) = (0.9f64, 0.999f64);
        let step_no = (k + 1) as i32;
        let adam = AdamStep {
            clip: clip as f32,
            beta1: b1 as f32,
            beta2: b2 as f32,
            inv_bias1: (1.0 / (1.0 - b1.powi(step_no))) as f32,
            inv_bias2: (1.0 / (1.0 - b2.powi(step_no))) as f32,
            lr: cfg.learning_rate(k) as f32,
            eps: 1e-8,
            decay: cfg.ema_decay.min((1.0 + k as f64) / (10.0 + k as f64)) as f32,
        };
        optim::apply(
            &self.layout,
            &mut state.params,
            &mut state.opt,
            &tape,
            &back,
            &adam,
        );
        lap(&mut times.update);
        state.step += 1;
        let rec = StepRecord {
            loss: loss_value,
            grad_norm: norm as f32,
        };
        state.history.push(rec);
        Ok((rec, times))
    }
}
