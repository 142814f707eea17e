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

mod example;
mod solvers;
use solvers::{bad_kind, bench, operator};

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
    /// The worked example of the report's forward-model section: the out-of-distribution true
    /// model and one wavefield on the small geometry, with its data and settings, as .npy, TOML
    /// and JSON files in a directory (written as a whole, atomically).
    Example {
        /// Output directory.
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
        tracing::warn!("{w}");
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
            tracing::info!(
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
            tracing::info!(
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
                Solver::ALL.to_vec()
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
        HelmholtzCommand::Example { out } => {
            let t = Instant::now();
            example::write(&out)?;
            tracing::info!(
                "helmholtz: wrote the example into {} in {:.2} s",
                out.display(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
