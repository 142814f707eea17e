//! `memprior helmholtz …`: the Helmholtz forward model and misfit gradient on NumPy `.npy` files.
//!
//! Every input is read and checked before any output is written; outputs are written atomically,
//! so a failed run leaves no file and never a partial one.

use crate::atomic;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use experiments::faer::{Mat, c64};
use experiments::fwi::{DatasetConfig, FwiDatasets};
use experiments::memprior_core::npy::{self, Dtype};
use experiments::operators::helmholtz::{Geometry, GeometryPreset, Helmholtz, Solver};
use experiments::priors::KlBasis;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the geometry comes from.
#[derive(Args, Debug, Clone)]
pub struct GeometryArgs {
    /// Geometry TOML: nx, nz, h (km), npml, pml_max, freq (Hz), sources = [[ix, iz], …], receivers = [[ix, iz], …].
    #[arg(long, conflicts_with = "preset")]
    pub geometry: Option<PathBuf>,
    /// Named geometry instead of a file: paper (200², 6 Hz) or small (64², 4 Hz).
    #[arg(long)]
    pub preset: Option<String>,
}

/// The `helmholtz` subcommands.
#[derive(Subcommand, Debug)]
pub enum HelmholtzCommand {
    /// Data D = P A(m)⁻¹ b_s of a velocity model: V.npy (nx, nz) float64 km/s → D.npy (n_sources, n_receivers) complex128.
    Forward {
        /// Velocity model in km/s, float64 of shape (nx, nz).
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        geometry: GeometryArgs,
        /// Output data file (.npy, complex128).
        #[arg(long)]
        out: PathBuf,
        /// Sparse factorisation: ldlt-metis (default), ldlt-metis-f32, ldlt-amd, ldlt-nd,
        /// symmetric-metis, symmetric-amd, symmetric-nd or lu.
        #[arg(long, default_value = "ldlt-metis")]
        solver: String,
    },
    /// Gradient of Φ = ½ Σ‖P u_s − d_s‖²/σ_d² with respect to squared slowness m = 1/v²: G.npy (nx, nz) float64.
    Gradient {
        /// Velocity model in km/s, float64 of shape (nx, nz).
        #[arg(long)]
        model: PathBuf,
        /// Observed data, complex128 of shape (n_sources, n_receivers).
        #[arg(long)]
        data: PathBuf,
        /// Noise standard deviation σ_d (> 0).
        #[arg(long = "sigma-d")]
        sigma_d: f64,
        #[command(flatten)]
        geometry: GeometryArgs,
        /// Output gradient file (.npy, float64).
        #[arg(long)]
        out: PathBuf,
        /// Sparse factorisation: ldlt-metis (default), ldlt-metis-f32, ldlt-amd, ldlt-nd,
        /// symmetric-metis, symmetric-amd, symmetric-nd or lu.
        #[arg(long, default_value = "ldlt-metis")]
        solver: String,
    },
    /// Time every solver on a geometry (ordering and symbolic analysis, numeric factorisation,
    /// block solves, misfit gradient; medians over repeats, solvers alternated within each repeat)
    /// and write helmholtz_solvers_<preset>.csv with fill, flops and GFLOP/s.
    Bench {
        #[command(flatten)]
        geometry: GeometryArgs,
        /// Timed repetitions per solver (the median is reported).
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Time only these solvers (repeatable; default: all): lu, symmetric-amd, symmetric-nd,
        /// symmetric-metis, ldlt-metis, ldlt-amd, ldlt-nd, ldlt-metis-f32.
        #[arg(long = "solver")]
        solvers: Vec<String>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a geometry as TOML (a template to edit).
    Geometry {
        /// Preset to write: paper or small.
        #[arg(long, default_value = "small")]
        preset: String,
        /// Output TOML file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write an example velocity model (km/s) on a geometry's grid: the experiment's
    /// out-of-distribution true model, or training / null draw K, from their KL coefficients.
    Model {
        #[command(flatten)]
        geometry: GeometryArgs,
        /// Which model: true, train:K or null:K (K counts from 0).
        #[arg(long, default_value = "true")]
        kind: String,
        /// Output velocity file (.npy, float64 of shape (nx, nz)).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Resolve --geometry / --preset (default: small).
pub fn load_geometry(args: &GeometryArgs) -> Result<Geometry> {
    match (&args.geometry, &args.preset) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read geometry file {} (pass an existing TOML file or --preset paper|small)", path.display()))?;
            Geometry::from_toml(&text)
                .with_context(|| format!("in geometry file {}", path.display()))
        }
        (None, Some(name)) => Ok(Geometry::preset(GeometryPreset::parse(name)?)),
        (None, None) => bail!("no geometry: pass --geometry FILE.toml or --preset paper|small"),
    }
}

fn read_npy(path: &Path, dtype: Dtype, what: &str) -> Result<npy::Array> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read {what} file {}", path.display()))?;
    npy::decode(&bytes, dtype).with_context(|| format!("{what} file {}", path.display()))
}

/// Read a velocity model, check shape and values against the geometry, return m = 1/v².
fn read_model(path: &Path, geometry: &Geometry) -> Result<Vec<f64>> {
    let a = read_npy(path, Dtype::F64, "model")?;
    if a.shape != [geometry.nx, geometry.nz] {
        bail!(
            "model file {} has shape {:?} but the geometry needs (nx, nz) = ({}, {}); axis 0 is x, axis 1 is depth",
            path.display(),
            a.shape,
            geometry.nx,
            geometry.nz
        );
    }
    if let Some(k) = a.data.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        bail!(
            "model file {}: velocity at [{}, {}] is {} — every velocity must be finite and > 0 km/s",
            path.display(),
            k / geometry.nz,
            k % geometry.nz,
            a.data[k]
        );
    }
    let v_min = a.data.iter().copied().fold(f64::INFINITY, f64::min);
    if let Some(w) = geometry.sampling_warning(v_min) {
        eprintln!("warning: {w}");
    }
    Ok(a.data.iter().map(|v| 1.0 / (v * v)).collect())
}

fn read_data(path: &Path, op: &Helmholtz) -> Result<Mat<c64>> {
    let a = read_npy(path, Dtype::C128, "data")?;
    let (ns, nr) = (op.source_nodes().len(), op.receiver_nodes().len());
    if a.shape != [ns, nr] {
        bail!(
            "data file {} has shape {:?} but the geometry has (n_sources, n_receivers) = ({ns}, {nr})",
            path.display(),
            a.shape
        );
    }
    if let Some(k) = a.data.iter().position(|v| !v.is_finite()) {
        bail!(
            "data file {}: entry [{}, {}] is not finite",
            path.display(),
            k / 2 / nr,
            (k / 2) % nr
        );
    }
    Ok(Mat::from_fn(ns, nr, |s, r| {
        c64::new(a.data[2 * (s * nr + r)], a.data[2 * (s * nr + r) + 1])
    }))
}

/// Data (n_sources × n_receivers) as a complex128 `.npy` file.
pub fn data_npy(d: &Mat<c64>) -> Vec<u8> {
    let mut flat = Vec::with_capacity(2 * d.nrows() * d.ncols());
    for s in 0..d.nrows() {
        for r in 0..d.ncols() {
            flat.extend([d[(s, r)].re, d[(s, r)].im]);
        }
    }
    npy::encode(Dtype::C128, &[d.nrows(), d.ncols()], &flat)
}

/// Run one `helmholtz` subcommand.
pub fn command(cmd: HelmholtzCommand) -> Result<()> {
    match cmd {
        HelmholtzCommand::Forward {
            model,
            geometry,
            out,
            solver,
        } => {
            let solver = Solver::parse(&solver)?;
            let geometry = load_geometry(&geometry)?;
            let m = read_model(&model, &geometry)?;
            let t0 = Instant::now();
            let op = operator(geometry, solver)?;
            let t1 = Instant::now();
            let data = op.forward(&m)?;
            let t2 = Instant::now();
            atomic::write(&out, &data_npy(&data))?;
            eprintln!(
                "forward: {} unknowns, {} sources; setup (assembly + symbolic factorisation) {:.3} s, factorisation + solves {:.3} s; wrote {}",
                op.n_unknowns(),
                data.nrows(),
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                out.display()
            );
        }
        HelmholtzCommand::Gradient {
            model,
            data,
            sigma_d,
            geometry,
            out,
            solver,
        } => {
            let solver = Solver::parse(&solver)?;
            if !(sigma_d.is_finite() && sigma_d > 0.0) {
                bail!("invalid `--sigma-d`: must be a finite number > 0 (got {sigma_d})");
            }
            let geometry = load_geometry(&geometry)?;
            let m = read_model(&model, &geometry)?;
            let t0 = Instant::now();
            let op = operator(geometry.clone(), solver)?;
            let d_obs = read_data(&data, &op)?;
            let t1 = Instant::now();
            let (phi, grad) = op.misfit_gradient(&m, &d_obs, sigma_d)?;
            let t2 = Instant::now();
            atomic::write(
                &out,
                &npy::encode(Dtype::F64, &[geometry.nx, geometry.nz], &grad),
            )?;
            eprintln!(
                "gradient: misfit Φ = {phi:.6e}; setup {:.3} s, factorisation + forward/adjoint solves {:.3} s; wrote {}",
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                out.display()
            );
        }
        HelmholtzCommand::Bench {
            geometry,
            repeats,
            solvers,
            out,
        } => {
            if repeats == 0 {
                bail!("invalid `--repeats`: must be ≥ 1 (got 0)");
            }
            let name = match (&geometry.preset, &geometry.geometry) {
                (Some(p), _) => p.clone(),
                (None, Some(f)) => f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "custom".into()),
                _ => "custom".into(),
            };
            let geometry = load_geometry(&geometry)?;
            let solvers = if solvers.is_empty() {
                Solver::ALL.iter().map(|(_, s)| *s).collect()
            } else {
                solvers
                    .iter()
                    .map(|n| Solver::parse(n))
                    .collect::<Result<Vec<_>, _>>()?
            };
            let csv = bench(&geometry, &solvers, repeats)?;
            atomic::write(
                &out.join(format!("helmholtz_solvers_{name}.csv")),
                csv.as_bytes(),
            )?;
            eprint!("{csv}");
        }
        HelmholtzCommand::Geometry { preset, out } => {
            let g = Geometry::preset(GeometryPreset::parse(&preset)?);
            let text = format!(
                "# Helmholtz geometry (FWI.md §3): lengths in km, frequency in Hz, positions [ix, iz] on the interior grid.\n{}",
                g.to_toml()
            );
            atomic::write(&out, text.as_bytes())?;
        }
        HelmholtzCommand::Model {
            geometry,
            kind,
            out,
        } => {
            let geometry = load_geometry(&geometry)?;
            let config = DatasetConfig::default();
            let (set, index) = match kind.split_once(':') {
                None if kind == "true" => ("true", 0),
                Some((set @ ("train" | "null"), k)) => {
                    (set, k.parse::<usize>().map_err(|_| bad_kind(&kind))?)
                }
                _ => return Err(bad_kind(&kind)),
            };
            let limit = if set == "train" {
                config.n_train
            } else {
                config.n_null
            };
            if set != "true" && index >= limit {
                bail!("invalid `--kind`: {set}:K needs K < {limit} (got {index})");
            }
            let kl = KlBasis::default();
            let sets = FwiDatasets::generate(&config, &kl)?;
            let z = match set {
                "true" => &sets.truth,
                "train" => &sets.train[index],
                _ => &sets.null[index],
            };
            let m = kl.reconstruct(z, geometry.nx, geometry.nz)?;
            if let Some(k) = m.iter().position(|v| *v <= 0.0) {
                bail!("the KL reconstruction has non-positive squared slowness at pixel {k}");
            }
            let v: Vec<f64> = m.iter().map(|m| 1.0 / m.sqrt()).collect();
            atomic::write(
                &out,
                &npy::encode(Dtype::F64, &[geometry.nx, geometry.nz], &v),
            )?;
        }
    }
    Ok(())
}

/// Where orderings are cached: `$MEMPRIOR_ORDERING_CACHE`, else `~/.cache/memprior/orderings`.
fn ordering_cache_dir() -> Option<PathBuf> {
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
fn operator(geometry: Geometry, solver: Solver) -> Result<Helmholtz> {
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
            eprintln!(
                "note: could not cache the ordering in {}: {e}",
                path.display()
            );
        }
    }
    Ok(op)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One CSV row per solver: timings (medians), fill, flops and rate of the symmetric
/// factorisations. The solvers alternate within each repeat, so a busy spell of a shared
/// machine spreads over all of them instead of landing on one.
fn bench(geometry: &Geometry, solvers: &[Solver], repeats: usize) -> Result<String> {
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
                let (pattern, _) = op.matrix(&m);
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

fn bad_kind(kind: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "invalid `--kind`: must be true, train:K or null:K with an integer K (got `{kind}`)"
    )
}
