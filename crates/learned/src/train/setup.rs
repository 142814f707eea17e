//! Building a trainer (recipe, data, validation draws) and its initial state.

use super::*;

impl<'a> Trainer<'a> {
    /// A trainer of `recipe` on `data` (N rows of `recipe.network.dim` values).
    ///
    /// # Errors
    /// Invalid recipe, no data, rows of the wrong length or non-finite values.
    pub fn new(
        recipe: Recipe,
        schedule: NoiseSchedule,
        data: &'a [Vec<f64>],
    ) -> Result<Self, ConfigError> {
        recipe.validate()?;
        if data.is_empty() {
            return Err(ConfigError::new(
                "training_points",
                "must contain at least one point",
                0,
            ));
        }
        for (n, row) in data.iter().enumerate() {
            if row.len() != recipe.network.dim {
                return Err(ConfigError::new(
                    format!("training_points[{n}]"),
                    format!("must have network.dim = {} values", recipe.network.dim),
                    row.len(),
                ));
            }
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(ConfigError::new(
                    format!("training_points[{n}]"),
                    "must be finite",
                    v,
                ));
            }
        }
        let key = weights_key(&recipe, &schedule, data);
        Ok(Self {
            recipe,
            schedule,
            data,
            layout: Layout::new(recipe.network),
            key,
            validation: None,
        })
    }

    /// Also measure the denoising loss on held-out points `rows` (normalised like the training
    /// data) after every `every` steps and after the last, with [`VALIDATION_DRAWS`] fixed draws
    /// of (t, ε) per point from a stream seeded by the recipe's seed. The measurements do not
    /// touch the weights, but they are part of the run's record: the cache key covers them.
    ///
    /// # Errors
    /// No points, rows of the wrong length or non-finite values, or `every` = 0.
    pub fn with_validation(mut self, rows: &[Vec<f64>], every: usize) -> Result<Self, ConfigError> {
        if every == 0 {
            return Err(ConfigError::new("validation.every", "must be ≥ 1", 0));
        }
        if rows.is_empty() {
            return Err(ConfigError::new(
                "validation_points",
                "must contain at least one point",
                0,
            ));
        }
        let net = &self.recipe.network;
        let (d, e) = (net.dim, net.time_embedding);
        let mut digest = Sha256::new();
        digest.update(b"validation v1\n");
        digest.update((every as u64).to_le_bytes());
        digest.update((VALIDATION_DRAWS as u64).to_le_bytes());
        for (n, row) in rows.iter().enumerate() {
            if row.len() != d {
                return Err(ConfigError::new(
                    format!("validation_points[{n}]"),
                    format!("must have network.dim = {d} values"),
                    row.len(),
                ));
            }
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(ConfigError::new(
                    format!("validation_points[{n}]"),
                    "must be finite",
                    v,
                ));
            }
            for v in row {
                digest.update(v.to_le_bytes());
            }
        }
        // Stream 0 of the recipe's seed: the steps use streams 1, 2, ….
        let mut rng = step_rng(self.recipe.training.seed ^ 0x5641_4C49_4441_5445, 0);
        let batch = rows.len() * VALIDATION_DRAWS;
        let mut ts = Vec::with_capacity(batch);
        let (mut x_t, mut eps) = (Vec::with_capacity(batch * d), Vec::with_capacity(batch * d));
        for row in rows {
            for _ in 0..VALIDATION_DRAWS {
                let t = rng.random_range(0..self.schedule.steps());
                let ab = self.schedule.alpha_bar(t);
                for &x0 in row {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    x_t.push((ab.sqrt() * x0 + (1.0 - ab).sqrt() * z) as f32);
                    eps.push(z as f32);
                }
                ts.push(t);
            }
        }
        let emb = time_embedding(&ts, e);
        let mut input = Vec::with_capacity(batch * (d + e));
        for i in 0..batch {
            input.extend_from_slice(&x_t[i * d..(i + 1) * d]);
            input.extend_from_slice(&emb[i * e..(i + 1) * e]);
        }
        let digest = digest.finalize().to_vec();
        let mut h = Sha256::new();
        h.update(self.key.as_bytes());
        h.update(&digest);
        self.key = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.validation = Some(Validation {
            every,
            input,
            eps,
            batch,
        });
        Ok(self)
    }

    /// The validation loss of `params` (flat), in chunks of at most 256 rows.
    pub(super) fn validation_loss(&self, v: &Validation, params: &[f32]) -> f32 {
        let d = self.recipe.network.dim;
        let width = d + self.recipe.network.time_embedding;
        let mut sum = 0.0f64;
        let mut at = 0;
        while at < v.batch {
            let rows = (v.batch - at).min(256);
            let input = v.input[at * width..(at + rows) * width].to_vec();
            let tape = mlp::forward(&self.layout, params, input, rows);
            sum += tape
                .out
                .iter()
                .zip(&v.eps[at * d..(at + rows) * d])
                .map(|(o, t)| f64::from(o - t).powi(2))
                .sum::<f64>();
            at += rows;
        }
        (sum / (v.batch * d) as f64) as f32
    }

    /// The cache key of this run's weights.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// A fresh state: seeded initialisation, zero moments, EMA = initial weights.
    pub fn init(&self) -> TrainState {
        let host = HostParams::init(self.recipe.network, self.recipe.training.seed);
        let params: Vec<f32> = host.tensors.concat();
        let n = params.len();
        TrainState {
            step: 0,
            opt: OptimState {
                m: vec![0.0; n],
                v: vec![0.0; n],
                ema: params.clone(),
            },
            params,
            history: Vec::new(),
            validation: Vec::new(),
        }
    }
}
