//! One training step of the ε-prediction MLP (batch 50, d = 100, Adam + clip + EMA) on one
//! thread at the default width (W 512, L 3) and the paper's (W 2048, L 12). The side-by-side
//! ratio with PyTorch is `memprior prior bench` against `tools/torch_mlp_step.py`.

use criterion::{Criterion, criterion_group, criterion_main};
use experiments::learned::{MlpConfig, Recipe, Trainer};
use experiments::memprior_core::diffusion::NoiseSchedule;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

fn step(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let data: Vec<Vec<f64>> = (0..50)
        .map(|_| (0..100).map(|_| StandardNormal.sample(&mut rng)).collect())
        .collect();
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    for (name, width, blocks) in [("w512_l3", 512, 3), ("w2048_l12", 2048, 12)] {
        let mut recipe = Recipe::paper(100);
        recipe.network = MlpConfig {
            dim: 100,
            width,
            blocks,
            time_embedding: 256,
        };
        let trainer = match Trainer::new(recipe, NoiseSchedule::paper(), &data) {
            Ok(t) => t,
            Err(e) => panic!("bench recipe: {e}"),
        };
        let mut state = trainer.init();
        group.bench_function(name, |b| {
            b.iter(|| trainer.step(&mut state).map(|r| r.loss))
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
