//! Building the operator for a solver (with the METIS ordering cached per geometry) and `memprior
//! helmholtz bench`.

use super::*;

/// Where orderings are cached: `$MEMPRIOR_ORDERING_CACHE`, else `~/.cache/memprior/orderings`.
pub(super) fn ordering_cache_dir() -> Option<PathBuf> {
    std::env::var_os("MEMPRIOR_ORDERING_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/memprior/orderings"))
        })
}

/// The operator for a geometry, with the METIS ordering of the LDLᵀ read from the cache when
/// present (it depends only on the padded grid, and is most of the setup) and written there
/// after it was computed. The cache is an optimisation: an unreadable, corrupt or unwritable
/// entry is recomputed or skipped, never an error.
pub(super) fn operator(geometry: Geometry, solver: Solver) -> Result<Helmholtz> {
    if !matches!(solver, Solver::LdltMetis | Solver::LdltMetisF32) {
        return Ok(Helmholtz::with_solver(geometry, solver)?);
    }
    let (nxp, nzp) = geometry.padded_shape();
    let path =
        ordering_cache_dir().map(|d| d.join(format!("metis-nd-postordered-v1-{nxp}x{nzp}.u32")));
    let cached = path
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|bytes| {
            (bytes.len() == 4 * nxp * nzp).then(|| {
                bytes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
                    .collect::<Vec<usize>>()
            })
        });
    if let Some(perm) = cached
        && let Ok(op) = Helmholtz::with_solver_and_ordering(geometry.clone(), solver, Some(perm))
    {
        return Ok(op);
    }
    let op = Helmholtz::with_solver(geometry, solver)?;
    if let (Some(path), Some(perm)) = (path, op.ordering()) {
        let bytes: Vec<u8> = perm
            .iter()
            .flat_map(|&p| (p as u32).to_le_bytes())
            .collect();
        // atomic::write creates the directory.
        let written = atomic::write(&path, &bytes);
        if let Err(e) = written {
            tracing::info!(
                "note: could not cache the ordering in {}: {e}",
                path.display()
            );
        }
    }
    Ok(op)
}

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One CSV row per solver: timings (medians), fill, flops and rate of the symmetric
/// factorisations. The solvers alternate within each repeat, so a busy spell of a shared
/// machine spreads over all of them instead of landing on one.
pub(super) fn bench(geometry: &Geometry, solvers: &[Solver], repeats: usize) -> Result<String> {
    use experiments::operators::helmholtz::{ordering, symmetric};
    let m = experiments::fwi::smooth_test_model(geometry.nx, geometry.nz);
    let (nxp, nzp) = geometry.padded_shape();
    let mut csv = String::from(
        "padded_grid,unknowns,sources,solver,symbolic_s,factorize_s,forward_s,gradient_s,factor_reals,factor_gflop,factor_gflops_per_s,\
         ordering,ordering_s,l_entries,solve_s,adjoint_solve_s,solve_gflop,solve_gflops_per_s,probe_backward_error,\
         refined_backward_error,factor_precision\n",
    );
    struct Row {
        op: Helmholtz,
        symbolic: f64,
        ordering: Option<f64>,
        d_obs: Mat<c64>,
        times: [Vec<f64>; 5],
        probe: Option<f64>,
        refined: Option<f64>,
        precision: &'static str,
    }
    let mut rows = Vec::new();
    for &solver in solvers {
        let t = Instant::now();
        let op = Helmholtz::with_solver(geometry.clone(), solver)?;
        let symbolic = t.elapsed().as_secs_f64();
        // The ordering alone, timed again outside the analysis (it is computed once per geometry).
        let ordering = match solver.ordering_name() {
            "metis" => {
                let (pattern, _) = op.matrix(&m)?;
                let t = Instant::now();
                std::hint::black_box(
                    ordering::metis_nested_dissection(&pattern)
                        .map_err(|e| anyhow::anyhow!("METIS: {e}"))?,
                );
                Some(t.elapsed().as_secs_f64())
            }
            "line-nd" => {
                let t = Instant::now();
                std::hint::black_box(symmetric::nested_dissection(nxp, nzp, 16));
                Some(t.elapsed().as_secs_f64())
            }
            _ => None,
        };
        let d_obs = op.forward(&m.iter().map(|v| v * 1.02).collect::<Vec<_>>())?;
        rows.push(Row {
            op,
            symbolic,
            ordering,
            d_obs,
            times: Default::default(),
            probe: None,
            refined: None,
            precision: "f64",
        });
    }
    let (ns, nr) = (geometry.sources.len(), geometry.receivers.len());
    for _ in 0..repeats {
        for row in &mut rows {
            let op = &row.op;
            let t = Instant::now();
            let factor = op.factorize(&m)?;
            row.times[0].push(t.elapsed().as_secs_f64());
            row.probe = factor.probe_backward_error();
            row.refined = factor.refined_backward_error();
            row.precision = if factor.is_single_precision() {
                "f32"
            } else {
                "f64"
            };
            let mut b = Mat::<c64>::zeros(op.n_unknowns(), ns);
            for (s, &q) in op.source_nodes().iter().enumerate() {
                b[(q, s)] = c64::new(1.0, 0.0);
            }
            let t = Instant::now();
            factor.solve(&mut b);
            row.times[3].push(t.elapsed().as_secs_f64());
            let mut b = Mat::<c64>::zeros(op.n_unknowns(), ns);
            for s in 0..ns {
                for (r, &q) in op.receiver_nodes().iter().enumerate() {
                    b[(q, s)] = c64::new(1.0 + r as f64 / nr as f64, 0.5);
                }
            }
            let t = Instant::now();
            factor.solve_adjoint(&mut b);
            row.times[4].push(t.elapsed().as_secs_f64());
            drop(factor);
            let t = Instant::now();
            std::hint::black_box(op.forward(&m)?);
            row.times[1].push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            std::hint::black_box(op.misfit_gradient(&m, &row.d_obs, 0.01)?);
            row.times[2].push(t.elapsed().as_secs_f64());
        }
    }
    for row in rows {
        let op = &row.op;
        let solver = op.solver();
        let [fac, fwd, grad, sol, adj] = row.times;
        let factorize = median(fac);
        let (solve, adjoint) = (median(sol), median(adj));
        let (reals, gflop, rate) = match op.symmetric_fill_and_flops() {
            Some((len, flops)) => (
                len.to_string(),
                format!("{:.3}", flops / 1e9),
                format!("{:.2}", flops / 1e9 / factorize),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        let (entries, solve_gflop, solve_rate) = match op.ldlt_symbolic() {
            // Two block solves (sources, adjoint sources) of n_s columns each, unpruned count.
            Some(sym) => {
                let f = 2.0 * ns as f64 * sym.solve_flops();
                (
                    sym.factor_len().to_string(),
                    format!("{:.3}", f / 1e9),
                    format!("{:.2}", f / 1e9 / (solve + adjoint)),
                )
            }
            None => (String::new(), String::new(), String::new()),
        };
        csv.push_str(&format!(
            "{nxp}x{nzp},{},{ns},{},{:.4},{factorize:.4},{:.4},{:.4},{reals},{gflop},{rate},{},{},{entries},{solve:.4},{adjoint:.4},{solve_gflop},{solve_rate},{},{},{}\n",
            op.n_unknowns(),
            solver.name(),
            row.symbolic,
            median(fwd),
            median(grad),
            solver.ordering_name(),
            row.ordering.map(|t| format!("{t:.4}")).unwrap_or_default(),
            row.probe.map(|e| format!("{e:.1e}")).unwrap_or_default(),
            row.refined.map(|e| format!("{e:.1e}")).unwrap_or_default(),
            row.precision,
        ));
    }
    Ok(csv)
}

pub(super) fn bad_kind(kind: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "invalid `--kind`: must be true, train:K or null:K with an integer K (got `{kind}`)"
    )
}
