//! memprior prior bench: the phases of a training step, timed on one core.

use super::*;

/// `memprior prior bench`: median phase times of `steps` training steps.
pub(super) fn bench(preset: &str, steps: usize, n_train: usize) -> Result<()> {
    use experiments::learned::{StepTimes, Trainer};
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    if steps == 0 {
        bail!("invalid `--steps`: must be ≥ 1 (got 0)");
    }
    if n_train == 0 {
        bail!("invalid `--n-train`: must be ≥ 1 (got 0)");
    }
    let config = PriorConfig::preset(Preset::parse(preset)?);
    let recipe = config.recipe;
    let net = recipe.network;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let data: Vec<Vec<f64>> = (0..n_train)
        .map(|_| {
            (0..net.dim)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect()
        })
        .collect();
    let trainer = Trainer::new(recipe, NoiseSchedule::paper(), &data)?;
    let mut state = trainer.init();
    let b = recipe.training.batch;
    // Multiply-adds of a step: forward, the input gradients and the weight gradients (3 × every
    // linear layer), plus the B × B Gram matrices of the norm.
    let (d, w, e, l) = (
        net.dim as f64,
        net.width as f64,
        net.time_embedding as f64,
        net.blocks as f64,
    );
    let macs = b as f64 * ((d + e) * w + l * w * w + w * d);
    let gflop = 2.0 * (3.0 * macs - b as f64 * (d + e) * w) / 1e9;
    eprintln!(
        "prior bench: preset {preset}, W = {}, L = {}, batch {b}, {} parameters, {gflop:.2} GFLOP a step, one thread",
        net.width,
        net.blocks,
        net.parameter_count()
    );
    for _ in 0..2 {
        trainer.step_timed(&mut state)?;
    }
    let mut all: Vec<StepTimes> = Vec::with_capacity(steps);
    for _ in 0..steps {
        all.push(trainer.step_timed(&mut state)?.1);
    }
    let median = |f: &dyn Fn(&StepTimes) -> f64| {
        let mut v: Vec<f64> = all.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let total = median(&|t| t.total());
    let rows: [(&str, f64); 5] = [
        ("batch + embedding", median(&|t| t.batch)),
        ("forward", median(&|t| t.forward)),
        ("backward", median(&|t| t.backward)),
        ("gradient norm", median(&|t| t.norm)),
        (
            "weight gradients + Adam + clip + EMA",
            median(&|t| t.update),
        ),
    ];
    let mut text = String::from("phase,median_ms,share\n");
    for (name, t) in rows {
        text.push_str(&format!("{name},{:.2},{:.3}\n", 1e3 * t, t / total));
    }
    text.push_str(&format!("step,{:.2},1.000\n", 1e3 * total));
    crate::log::stdout(&text)?;
    eprintln!(
        "{:.2} steps/s ({:.1} GFLOP/s over the whole step), median of {steps}",
        1.0 / total,
        gflop / total
    );
    Ok(())
}
