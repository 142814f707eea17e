//! `cargo bench -p memprior-bench`: sparse LU (symbolic + numeric, and numeric with the symbolic
//! factorisation reused), the forward block solve of all sources, and the full misfit gradient,
//! at 84², 140² and 260² padded grids.

use criterion::{Criterion, criterion_group, criterion_main};
use faer::sparse::SparseColMatRef;
use faer::sparse::linalg::solvers::{Lu, SymbolicLu};
use memprior_bench::{geometries, model};
use operators::helmholtz::Helmholtz;
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    for (name, geometry) in geometries() {
        let op = Helmholtz::new(geometry.clone()).unwrap();
        let m = model(&geometry);
        let d_obs = op
            .forward(&m.iter().map(|v| v * 1.02).collect::<Vec<_>>())
            .unwrap();
        let mut group = c.benchmark_group(format!("helmholtz/{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8));
        let (pattern, values) = op.matrix(&m);
        group.bench_function("lu_symbolic_and_numeric", |b| {
            b.iter(|| {
                let sym = SymbolicLu::try_new(pattern.as_ref()).unwrap();
                black_box(
                    Lu::try_new_with_symbolic(sym, SparseColMatRef::new(pattern.as_ref(), &values))
                        .unwrap(),
                )
            })
        });
        group.bench_function("lu_numeric_reused_symbolic", |b| {
            b.iter(|| black_box(op.factorize(&m).unwrap()))
        });
        group.bench_function("factorize_and_block_solve", |b| {
            b.iter(|| black_box(op.solve(&m).unwrap()))
        });
        group.bench_function("misfit_gradient", |b| {
            b.iter(|| black_box(op.misfit_gradient(&m, &d_obs, 0.01).unwrap()))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
