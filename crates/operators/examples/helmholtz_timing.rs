//! Per-phase timing of the Helmholtz solvers at a geometry preset (default `paper`):
//! `cargo run --release -p operators --example helmholtz_timing [-- paper|small [solver …]]`.

use faer::{Mat, c64};
use operators::helmholtz::{Geometry, GeometryPreset, Helmholtz, Solver};
use std::time::Instant;

fn model(nx: usize, nz: usize) -> Vec<f64> {
    let mut m = Vec::with_capacity(nx * nz);
    for i in 0..nx {
        for j in 0..nz {
            let (x, z) = (i as f64 / nx as f64, j as f64 / nz as f64);
            let v = 2.25 + 0.6 * (3.0 * x + 1.0).sin() * (2.0 * z + 0.5).cos() + 0.1 * z;
            m.push(1.0 / (v * v));
        }
    }
    m
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset = args.first().map(String::as_str).unwrap_or("paper");
    let g = Geometry::preset(GeometryPreset::parse(preset).expect("preset"));
    let solvers: Vec<Solver> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|s| Solver::parse(s).expect("solver"))
            .collect()
    } else {
        Solver::ALL.iter().map(|(_, s)| *s).collect()
    };
    let m = model(g.nx, g.nz);
    for solver in solvers {
        let t = Instant::now();
        let op = Helmholtz::with_solver(g.clone(), solver).unwrap();
        let setup = t.elapsed().as_secs_f64();
        let d_obs: Mat<c64> = op
            .forward(&m.iter().map(|v| v * 1.02).collect::<Vec<_>>())
            .unwrap();
        let (mut fac, mut grad) = (Vec::new(), Vec::new());
        let mut info = String::new();
        for _ in 0..5 {
            let t = Instant::now();
            let f = op.factorize(&m).unwrap();
            fac.push(t.elapsed().as_secs_f64());
            info = format!(
                "pivoted={} probe={:?}",
                f.is_pivoted_symmetric(),
                f.probe_backward_error()
            );
            drop(f);
            let t = Instant::now();
            std::hint::black_box(op.misfit_gradient(&m, &d_obs, 0.01).unwrap());
            grad.push(t.elapsed().as_secs_f64());
        }
        let (fill, flops) = op.symmetric_fill_and_flops().unwrap_or((0, 0.0));
        let f = median(fac);
        println!(
            "{:16} setup {:.3} s  factorize {:.4} s  gradient {:.4} s  fill {} reals  {:.3} GFLOP  {:.2} GFLOP/s  {}",
            solver.name(),
            setup,
            f,
            median(grad),
            fill,
            flops / 1e9,
            flops / 1e9 / f,
            info
        );
    }
}
