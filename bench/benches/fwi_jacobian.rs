//! The Jacobian of the FWI data with respect to the 100 z-scored KL coefficients, two ways at the
//! same model (the report's 32² geometry), each with its factorisation: one forward-sensitivity
//! block solve per KL direction (d = 100 solves of n_s right-hand sides) against the z-scored
//! map's dense Jacobian, one adjoint solve per receiver (n_r = 30) and the KL adjoint of each data
//! row. Run: `cargo bench -p memprior-bench --bench fwi_jacobian`.

use criterion::{Criterion, criterion_group, criterion_main};
use experiments::fwi::posterior::fwi_map;
use experiments::fwi::report_geometry;
use experiments::fwi::{DatasetConfig, FwiDatasets, ZScore};
use experiments::memprior_core::JacobianAction;
use experiments::priors::KlBasis;
use operators::helmholtz::Helmholtz;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let kl = KlBasis::default();
    let cfg = DatasetConfig {
        n_train: 50,
        n_candidates: 10,
        true_model_reference: 50,
        ..DatasetConfig::default()
    };
    let sets = FwiDatasets::generate(&cfg, &kl).unwrap();
    let g = report_geometry();
    let op = Helmholtz::new(g.clone()).unwrap();
    let zs = ZScore::fit(&sets.train).unwrap();
    let f = fwi_map(&op, &kl, &zs, false).unwrap();
    let z = &sets.train[3];
    let zt = zs.normalize(z);
    let m = kl.reconstruct(z, g.nx, g.nz).unwrap();
    let m0 = kl.background();
    let directions: Vec<Vec<f64>> = (0..kl.dim())
        .map(|k| {
            let mut e = vec![0.0; kl.dim()];
            e[k] = zs.scale[k];
            kl.reconstruct(&e, g.nx, g.nz)
                .unwrap()
                .into_iter()
                .map(|v| v - m0)
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("fwi_kl_jacobian_32x32");
    group.sample_size(20);
    group.bench_function("forward_sensitivities_100_directions", |b| {
        b.iter(|| {
            let state = op.solve(&m).unwrap();
            let cols: Vec<_> = directions.iter().map(|d| state.jacobian_apply(d)).collect();
            black_box(cols)
        })
    });
    group.bench_function("receiver_adjoints_30_solves", |b| {
        b.iter(|| black_box(f.jacobian(&zt)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
