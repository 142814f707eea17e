//! `cargo bench -p memprior-bench`: at 84², 140² and 260² padded grids, for every solver of
//! `Solver::ALL` (faer LU with COLAMD; LBLᵀ of the real symmetric form under AMD, line nested
//! dissection or METIS; the complex-symmetric LDLᵀ under the same three orderings, the default
//! being METIS): the numeric factorisation with the symbolic one reused (for the LDLᵀ including
//! its probe solve), and the full misfit gradient (factorisation, block forward solve, block
//! adjoint solve, correlation). Also faer's LU from scratch (symbolic + numeric), the path
//! without a reused analysis.

use criterion::{Criterion, criterion_group, criterion_main};
use faer::sparse::SparseColMatRef;
use faer::sparse::linalg::solvers::{Lu, SymbolicLu};
use memprior_bench::{geometries, model};
use operators::helmholtz::{Helmholtz, Solver};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    for (name, geometry) in geometries() {
        let m = model(&geometry);
        let mut group = c.benchmark_group(format!("helmholtz/{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(6));
        for &solver in Solver::ALL {
            let solver_name = solver.name();
            let op = Helmholtz::with_solver(geometry.clone(), solver).unwrap();
            let d_obs = op
                .forward(&m.iter().map(|v| v * 1.02).collect::<Vec<_>>())
                .unwrap();
            if solver == Solver::Lu {
                let (pattern, values) = op.matrix(&m).unwrap();
                group.bench_function("lu_symbolic_and_numeric", |b| {
                    b.iter(|| {
                        let sym = SymbolicLu::try_new(pattern.as_ref()).unwrap();
                        black_box(
                            Lu::try_new_with_symbolic(
                                sym,
                                SparseColMatRef::new(pattern.as_ref(), &values),
                            )
                            .unwrap(),
                        )
                    })
                });
            }
            group.bench_function(format!("factorize/{solver_name}"), |b| {
                b.iter(|| black_box(op.factorize(&m).unwrap()))
            });
            group.bench_function(format!("gradient/{solver_name}"), |b| {
                b.iter(|| black_box(op.misfit_gradient(&m, &d_obs, 0.01).unwrap()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
