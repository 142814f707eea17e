//! `memprior helmholtz example`: the worked example that the report's forward-model section
//! shows — the out-of-distribution true model of the FWI experiment and the real part of one
//! wavefield u_s = A(m)⁻¹ b_s on the `small` geometry, with the data and the settings the
//! section's text quotes.

use super::data_npy;
use crate::atomic::{self, Staging};
use anyhow::Result;
use experiments::fwi::{DatasetConfig, FwiDatasets};
use experiments::memprior_core::npy::{self, Dtype};
use experiments::operators::helmholtz::{Geometry, GeometryPreset, Helmholtz};
use experiments::priors::KlBasis;
use std::path::Path;

/// The source whose wavefield is written (0-based; the section says "source 3", counting from 1).
const SOURCE: usize = 2;

/// Compute the example and write it into `out` as a whole: staged, then moved into place.
///
/// # Errors
/// A failed solve, or a directory that cannot be written.
pub fn write(out: &Path) -> Result<()> {
    let kl = KlBasis::default();
    let config = DatasetConfig::default();
    let sets = FwiDatasets::generate(&config, &kl)?;
    let geometry = Geometry::preset(GeometryPreset::Small);
    let m = kl.reconstruct(&sets.truth, geometry.nx, geometry.nz)?;
    let op = Helmholtz::new(geometry.clone())?;
    let state = op.solve(&m)?;
    let (nxp, nzp) = op.padded_shape();
    let re_u: Vec<f64> = (0..nxp * nzp)
        .map(|q| state.fields()[(q, SOURCE)].re)
        .collect();
    let v: Vec<f64> = m.iter().map(|x| 1.0 / x.sqrt()).collect();

    let staging = Staging::new(out)?;
    let dir = staging.path();
    let npy = |name: &str, shape: &[usize], data: &[f64]| {
        atomic::write(&dir.join(name), &npy::encode(Dtype::F64, shape, data))
    };
    let grid = [geometry.nx, geometry.nz];
    npy("true_model_velocity_small.npy", &grid, &v)?;
    npy("true_model_slowness2_small.npy", &grid, &m)?;
    npy("true_model_kl.npy", &[sets.truth.len()], &sets.truth)?;
    npy("wavefield_re_source3_small.npy", &[nxp, nzp], &re_u)?;
    atomic::write(
        &dir.join("geometry_small.toml"),
        geometry.to_toml().as_bytes(),
    )?;
    atomic::write(&dir.join("true_data_small.npy"), &data_npy(&state.data()))?;
    atomic::write(
        &dir.join("datasets.toml"),
        toml::to_string(&config)?.as_bytes(),
    )?;
    atomic::write(
        &dir.join("true_model.json"),
        serde_json::json!({ "distance_to_training": sets.truth_distance })
            .to_string()
            .as_bytes(),
    )?;
    staging.commit()?;
    Ok(())
}
