//! `cargo run --release -p memprior-bench --example gradient_loop -- [REPEATS] [SOLVER]`: the
//! misfit gradient of the paper geometry evaluated REPEATS times in one process (the symbolic
//! analysis once, as in DPS), for profiling the steady state with `perf record`. Prints the
//! median time of each phase and a checksum of the bits of every result: two builds (before and
//! after a kernel change) run with the same REPEATS compute the same numbers when they print the
//! same checksum.

use memprior_bench::model;
use operators::helmholtz::{Geometry, GeometryPreset, Helmholtz, Solver};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repeats: usize = args.next().map_or(Ok(20), |a| a.parse())?;
    let solver = match args.next() {
        Some(name) => Solver::parse(&name)?,
        None => Solver::LdltMetis,
    };
    let geometry = Geometry::preset(GeometryPreset::Paper);
    let m = model(&geometry);
    let op = Helmholtz::with_solver(geometry, solver)?;
    let d_obs = op.forward(&m.iter().map(|v| v * 1.02).collect::<Vec<_>>())?;
    let mut times = Vec::with_capacity(repeats);
    let mut phases = Vec::with_capacity(repeats);
    let mut checksum = 0xcbf2_9ce4_8422_2325u64;
    for _ in 0..repeats {
        let t = Instant::now();
        let state = op.solve(&m)?;
        let t_forward = t.elapsed().as_secs_f64();
        let (phi, g) = std::hint::black_box(state.misfit_gradient(&d_obs, 0.01)?);
        let t_all = t.elapsed().as_secs_f64();
        times.push(t_all);
        phases.push([t_forward, t_all - t_forward]);
        // FNV-1a over the bits of Φ and the gradient: two builds that agree print one value.
        for v in std::iter::once(phi).chain(g) {
            checksum = (checksum ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = |i: usize| {
        let mut v: Vec<f64> = phases.iter().map(|p: &[f64; 2]| p[i]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "phases (medians): factorisation and forward solve {:.4} s, adjoint solve and \
         correlation {:.4} s",
        median(0),
        median(1)
    );
    println!(
        "{} gradients with {}: median {:.4} s, min {:.4} s, checksum {checksum:016x}",
        repeats,
        solver.name(),
        times[repeats / 2],
        times[0]
    );
    Ok(())
}
