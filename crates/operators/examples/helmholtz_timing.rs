//! Per-phase timing of the Helmholtz solvers at a geometry preset (default `paper`):
//! `cargo run --release -p operators --example helmholtz_timing [-- paper|small [solver …]]`.

use faer::{Mat, c64};
use operators::helmholtz::{Geometry, GeometryPreset, Helmholtz, Solver};

/// The minimum: the least disturbed of the repeats on a shared machine.
fn median(v: Vec<f64>) -> f64 {
    v.into_iter().fold(f64::INFINITY, f64::min)
}

/// CPU time of this thread (s), from /proc/thread-self/schedstat: on a shared machine it does
/// not count the time other processes hold the core.
struct Clock(f64);

fn cpu_now() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok())
        })
        .map(|ns| ns * 1e-9)
        .unwrap_or(f64::NAN)
}

impl Clock {
    fn now() -> Self {
        Clock(cpu_now())
    }
    fn elapsed(&self) -> Secs {
        Secs(cpu_now() - self.0)
    }
}

struct Secs(f64);

impl Secs {
    fn as_secs_f64(&self) -> f64 {
        self.0
    }
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
        Solver::ALL.to_vec()
    };
    let m = operators::helmholtz::smooth_test_model(g.nx, g.nz);
    for solver in solvers {
        let t = Clock::now();
        let op = Helmholtz::with_solver(g.clone(), solver).unwrap();
        let setup = t.elapsed().as_secs_f64();
        let d_obs: Mat<c64> = op
            .forward(&m.iter().map(|v| v * 1.02).collect::<Vec<_>>())
            .unwrap();
        if std::env::var_os("GRADIENT_LOOP").is_some() {
            for _ in 0..20 {
                std::hint::black_box(op.misfit_gradient(&m, &d_obs, 0.01).unwrap());
            }
            continue;
        }
        let (mut fac, mut grad, mut sol, mut adj, mut one) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut info = String::new();
        for _ in 0..9 {
            let t = Clock::now();
            let f = op.factorize(&m).unwrap();
            fac.push(t.elapsed().as_secs_f64());
            info = format!(
                "pivoted={} probe={:?}",
                f.is_pivoted_symmetric(),
                f.probe_backward_error()
            );
            drop(f);
            let t = Clock::now();
            std::hint::black_box(op.misfit_gradient(&m, &d_obs, 0.01).unwrap());
            grad.push(t.elapsed().as_secs_f64());
            let f = op.factorize(&m).unwrap();
            let mut b = Mat::<c64>::zeros(op.n_unknowns(), op.source_nodes().len());
            for (s, &q) in op.source_nodes().iter().enumerate() {
                b[(q, s)] = c64::new(1.0, 0.0);
            }
            let t = Clock::now();
            f.solve(&mut b);
            sol.push(t.elapsed().as_secs_f64());
            let mut b = Mat::<c64>::zeros(op.n_unknowns(), op.source_nodes().len());
            for s in 0..op.source_nodes().len() {
                for &q in op.receiver_nodes() {
                    b[(q, s)] = c64::new(1.0, 0.5);
                }
            }
            let t = Clock::now();
            f.solve_adjoint(&mut b);
            adj.push(t.elapsed().as_secs_f64());
            let mut b = Mat::<c64>::from_fn(op.n_unknowns(), 1, |i, _| {
                c64::new(1.0 + (i % 3) as f64, 0.5)
            });
            let t = Clock::now();
            f.solve(&mut b);
            one.push(t.elapsed().as_secs_f64());
        }
        if let Some(s) = op.ldlt_symbolic() {
            println!("stats {:?}", s.stats());
        }
        let (fill, flops) = op.symmetric_fill_and_flops().unwrap_or((0, 0.0));
        let f = median(fac);
        println!(
            "{:16} setup {:.3} s  factorize {:.4} s  solve {:.4} adjoint {:.4} one dense column {:.4} gradient {:.4} s  fill {} reals  {:.3} GFLOP  {:.2} GFLOP/s  {}",
            solver.name(),
            setup,
            f,
            median(sol),
            median(adj),
            median(one),
            median(grad),
            fill,
            flops / 1e9,
            flops / 1e9 / f,
            info
        );
    }
}
