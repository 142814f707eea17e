//! The FWI results as one self-describing NetCDF-3 file, `fwi_results.nc`, beside the CSV,
//! Parquet and `.npy` outputs: it opens in xarray (`xr.open_dataset(path)`, SciPy's reader, no C
//! library) with named dimensions, coordinates in km and units on every variable.
//!
//! Layout (CF-1.8 conventions; fields are (x, z) like the `.npy` files, z positive down):
//!
//! | variable | dimensions | what |
//! |---|---|---|
//! | `x`, `z` | (x), (z) | grid coordinates, km |
//! | `velocity_true` | (x, z) | the out-of-distribution true model, km/s |
//! | `velocity_train` | (train, x, z) | the first N_min training models (every training set starts with them) |
//! | `velocity_mean`, `velocity_std` | (group, x, z) | per-pixel posterior mean and std per (prior, variant, N) |
//! | `prior`, `variant`, `n_train` | (group) | what each group is (flag values with their meanings) |
//! | `kl_true`, `kl_train` | (kl), (train_all, kl) | KL coefficients of the truth and of all N_max training models |
//! | `kl_samples`, `sample_group`, `sample_index` | (sample, kl), (sample) | KL coefficients of every posterior sample, its group and job index (absent when every trajectory diverged) |
//!
//! Global attributes carry the provenance: commit, the configuration's hash, the sample-format
//! version, the preset and every seed (as decimal strings: NetCDF-3 has no 64-bit integers).
//! The file holds no time stamp: the same run writes the same bytes (up to the commit).

use anyhow::{Context, Result, anyhow};
use experiments::fwi::dps::{self, DpsResults, Variant, velocity};
use experiments::fwi::prior::PriorKind;
use memprior_core::atomic;
use netcdf3::{DataSet, FileWriter, Version};
use report::provenance;
use std::path::Path;

/// File name of the NetCDF results inside an output directory.
pub const FILE_NAME: &str = "fwi_results.nc";

/// The element type of a variable.
#[derive(Clone, Copy)]
enum Kind {
    F64,
    I32,
}

/// Define the variable `var` of `kind` over `dims`, with its `units` and `long_name`.
fn add_var(
    ds: &mut DataSet,
    kind: Kind,
    var: &str,
    dims: &[&str],
    units: &str,
    long_name: &str,
) -> Result<()> {
    match kind {
        Kind::F64 => ds.add_var_f64(var, dims),
        Kind::I32 => ds.add_var_i32(var, dims),
    }
    .and_then(|()| ds.add_var_attr_string(var, "units", units))
    .and_then(|()| ds.add_var_attr_string(var, "long_name", long_name))
    .map_err(|e| anyhow!("NetCDF variable `{var}`: {e:?}"))
}

/// Write `dir/fwi_results.nc` for the run `r` (atomically).
///
/// # Errors
/// A KL reconstruction on the run's grid fails, or the file cannot be written.
pub fn write(r: &DpsResults, dir: &Path) -> Result<()> {
    let cfg = &r.config;
    let g = &cfg.geometry;
    let (nx, nz) = (g.nx, g.nz);
    let kl = &r.datasets.kl;
    let d = r.datasets.truth.len();
    let n_min = cfg.prior.n_values.iter().copied().min().unwrap_or(0);
    let n_all = r.datasets.train.len();
    let n_samples: usize = r.groups.iter().map(|grp| grp.samples.len()).sum();
    let field = |z: &[f64]| -> Result<Vec<f64>> { Ok(velocity(&kl.reconstruct(z, nx, nz)?)) };

    let mut ds = DataSet::new();
    let nc = |e: netcdf3::InvalidDataSet| anyhow!("NetCDF definition: {e:?}");
    for (name, len) in [
        ("x", nx),
        ("z", nz),
        ("kl", d),
        ("train", n_min),
        ("train_all", n_all),
        ("group", r.groups.len()),
        ("sample", n_samples),
    ] {
        // NetCDF-3 has no fixed dimension of length 0: a run whose every trajectory diverged has
        // no sample dimension and no sample variables.
        if len > 0 || name != "sample" {
            ds.add_fixed_dim(name, len).map_err(nc)?;
        }
    }
    add_var(&mut ds, Kind::F64, "x", &["x"], "km", "horizontal distance")?;
    ds.add_var_attr_string("x", "axis", "X").map_err(nc)?;
    add_var(&mut ds, Kind::F64, "z", &["z"], "km", "depth")?;
    ds.add_var_attr_string("z", "axis", "Z").map_err(nc)?;
    ds.add_var_attr_string("z", "positive", "down")
        .map_err(nc)?;

    add_var(
        &mut ds,
        Kind::F64,
        "velocity_true",
        &["x", "z"],
        "km/s",
        "true velocity model (out of the training distribution)",
    )?;
    add_var(
        &mut ds,
        Kind::F64,
        "velocity_train",
        &["train", "x", "z"],
        "km/s",
        &format!(
            "training velocity models: the first {n_min}, the smallest training set (every set starts with them)"
        ),
    )?;
    for (var, what) in [
        ("velocity_mean", "posterior mean velocity"),
        ("velocity_std", "posterior standard deviation of velocity"),
    ] {
        add_var(&mut ds, Kind::F64, var, &["group", "x", "z"], "km/s", what)?;
    }

    let priors: Vec<PriorKind> = PriorKind::ALL.to_vec();
    let variants: Vec<Variant> = Variant::ALL.to_vec();
    for (var, what, names) in [
        (
            "prior",
            "prior of the group",
            priors.iter().map(|p| p.name()).collect::<Vec<_>>(),
        ),
        (
            "variant",
            "DPS variant of the group",
            variants.iter().map(|v| v.name()).collect::<Vec<_>>(),
        ),
    ] {
        add_var(&mut ds, Kind::I32, var, &["group"], "1", what)?;
        let values: Vec<i32> = (0..names.len() as i32).collect();
        ds.add_var_attr_i32(var, "flag_values", values)
            .map_err(nc)?;
        ds.add_var_attr_string(var, "flag_meanings", names.join(" "))
            .map_err(nc)?;
    }
    add_var(
        &mut ds,
        Kind::I32,
        "n_train",
        &["group"],
        "1",
        "training-set size N of the group",
    )?;

    add_var(
        &mut ds,
        Kind::F64,
        "kl_true",
        &["kl"],
        "1",
        "Karhunen-Loeve coefficients of the true model",
    )?;
    add_var(
        &mut ds,
        Kind::F64,
        "kl_train",
        &["train_all", "kl"],
        "1",
        "Karhunen-Loeve coefficients of the training models (the first N form the N-sample set)",
    )?;
    if n_samples > 0 {
        add_var(
            &mut ds,
            Kind::F64,
            "kl_samples",
            &["sample", "kl"],
            "1",
            "Karhunen-Loeve coefficients of the posterior samples",
        )?;
        add_var(
            &mut ds,
            Kind::I32,
            "sample_group",
            &["sample"],
            "1",
            "group index of each sample",
        )?;
        add_var(
            &mut ds,
            Kind::I32,
            "sample_index",
            &["sample"],
            "1",
            "job index of each sample in its group (the number of its sample file)",
        )?;
    }

    let config_text = toml::to_string(cfg).context("serialising the config")?;
    let prov = provenance::Provenance::collect(&config_text, Vec::new());
    let seeds = [
        ("seed_dps", cfg.seed),
        ("seed_noise", cfg.noise_seed),
        ("seed_ddim_start", cfg.prior.seed),
        ("seed_train", cfg.prior.datasets.seed_train),
        ("seed_null", cfg.prior.datasets.seed_null),
        ("seed_true", cfg.prior.datasets.seed_true),
    ];
    for (name, value) in [
        ("Conventions", "CF-1.8".to_string()),
        (
            "title",
            "Diffusion posterior sampling for FWI: posterior summaries and samples".to_string(),
        ),
        ("source", "memprior fwi".to_string()),
        ("preset", cfg.preset.clone()),
        ("commit", prov.commit.clone()),
        ("config_hash", prov.config_hash.clone()),
        ("sample_format", dps::SAMPLE_FORMAT.to_string()),
        ("frequency_hz", format!("{}", g.freq)),
    ]
    .into_iter()
    .chain(seeds.iter().map(|(n, v)| (*n, v.to_string())))
    {
        ds.add_global_attr_string(name, value).map_err(nc)?;
    }

    // Values, in the order of the definitions.
    let xs: Vec<f64> = (0..nx).map(|i| i as f64 * g.h).collect();
    let zs: Vec<f64> = (0..nz).map(|j| j as f64 * g.h).collect();
    let v_true = field(&r.datasets.truth)?;
    let mut v_train = Vec::with_capacity(n_min * nx * nz);
    for z in &r.datasets.train[..n_min] {
        v_train.extend(field(z)?);
    }
    let (mut v_mean, mut v_std) = (Vec::new(), Vec::new());
    let (mut prior_idx, mut variant_idx, mut n_train) = (Vec::new(), Vec::new(), Vec::new());
    let (mut kl_samples, mut sample_group, mut sample_index) = (Vec::new(), Vec::new(), Vec::new());
    for (gi, grp) in r.groups.iter().enumerate() {
        v_mean.extend_from_slice(&grp.velocity_mean);
        v_std.extend_from_slice(&grp.velocity_std);
        prior_idx.push(priors.iter().position(|&p| p == grp.kind).unwrap_or(0) as i32);
        variant_idx.push(variants.iter().position(|&v| v == grp.variant).unwrap_or(0) as i32);
        n_train.push(grp.n as i32);
        for (si, z) in grp.samples.iter().enumerate() {
            kl_samples.extend_from_slice(z);
            sample_group.push(gi as i32);
            sample_index.push(grp.index[si] as i32);
        }
    }
    let kl_train: Vec<f64> = r.datasets.train.iter().flatten().copied().collect();

    atomic::write_with(&dir.join(FILE_NAME), |file| {
        let io = |e: netcdf3::WriteError| std::io::Error::other(format!("NetCDF: {e:?}"));
        let handle = file.try_clone()?;
        let mut w = FileWriter::open_seek_write(FILE_NAME, Box::new(handle)).map_err(io)?;
        w.set_def(&ds, Version::Offset64Bit, 0).map_err(io)?;
        for (var, data) in [
            ("x", &xs),
            ("z", &zs),
            ("velocity_true", &v_true),
            ("velocity_train", &v_train),
            ("velocity_mean", &v_mean),
            ("velocity_std", &v_std),
            ("kl_true", &r.datasets.truth),
            ("kl_train", &kl_train),
        ] {
            w.write_var_f64(var, data).map_err(io)?;
        }
        for (var, data) in [
            ("prior", &prior_idx),
            ("variant", &variant_idx),
            ("n_train", &n_train),
        ] {
            w.write_var_i32(var, data).map_err(io)?;
        }
        if n_samples > 0 {
            w.write_var_f64("kl_samples", &kl_samples).map_err(io)?;
            w.write_var_i32("sample_group", &sample_group).map_err(io)?;
            w.write_var_i32("sample_index", &sample_index).map_err(io)?;
        }
        w.close().map_err(io)
    })
    .with_context(|| format!("writing {}", dir.join(FILE_NAME).display()))
}
