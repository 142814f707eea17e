//! `memprior fwi` writes `fwi_results.nc`: read back with an independent NetCDF-3 reader, it has
//! the documented dimensions, km coordinates (z positive down), units and long names on every
//! variable, the provenance attributes, and the same bits as the `.npy` fields and the KL
//! coefficient table. (The test command also opens it with xarray: `tools/check_netcdf.py`.)

use memprior_core::npy;
use netcdf3::FileReader;
use polars::prelude::{CsvReadOptions, SerReader};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-netcdf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `memprior fwi ARGS --cache D/weights --out OUT`, asserted to succeed.
fn fwi(args: &[&str], d: &Path, out: &Path) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_memprior"))
        .arg("fwi")
        .args(args)
        .arg("--cache")
        .arg(d.join("weights"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn the_fwi_results_read_back_as_netcdf_with_units_coordinates_and_the_npy_values() {
    let d = scratch("quick");
    let out = d.join("out");
    // The closed-form priors only: no network to train, a few seconds.
    fwi(
        &[
            "--preset",
            "quick",
            "--priors",
            "memorized,gaussian",
            "--samples",
            "3",
            "--samples-chung",
            "2",
            "--workers",
            "2",
        ],
        &d,
        &out,
    );
    let config: toml::Table = std::fs::read_to_string(out.join("config.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let geometry = config["geometry"].as_table().unwrap();
    let (nx, nz) = (
        geometry["nx"].as_integer().unwrap() as usize,
        geometry["nz"].as_integer().unwrap() as usize,
    );
    let h = geometry["h"].as_float().unwrap();

    let mut reader = FileReader::open(out.join("fwi_results.nc")).unwrap();
    let vars = reader.read_all_vars().unwrap();
    let f64s = |name: &str| vars[name].get_f64().unwrap().to_vec();
    let i32s = |name: &str| vars[name].get_i32().unwrap().to_vec();
    let ds = reader.data_set();
    assert_eq!(ds.dim_size("x"), Some(nx));
    assert_eq!(ds.dim_size("z"), Some(nz));
    for var in ds.get_vars() {
        let name = var.name();
        for attr in ["units", "long_name"] {
            assert!(
                ds.get_var_attr_as_string(name, attr)
                    .is_some_and(|s| !s.is_empty()),
                "{name} has no {attr}"
            );
        }
    }
    assert_eq!(ds.get_var_attr_as_string("x", "units").unwrap(), "km");
    assert_eq!(ds.get_var_attr_as_string("z", "units").unwrap(), "km");
    assert_eq!(ds.get_var_attr_as_string("z", "positive").unwrap(), "down");
    assert_eq!(
        ds.get_var_attr_as_string("velocity_mean", "units").unwrap(),
        "km/s"
    );
    for attr in [
        "commit",
        "config_hash",
        "sample_format",
        "seed_dps",
        "seed_noise",
        "seed_train",
    ] {
        assert!(ds.get_global_attr_as_string(attr).is_some(), "{attr}");
    }
    assert_eq!(
        ds.get_global_attr_as_string("seed_dps").unwrap(),
        config["seed"].as_integer().unwrap().to_string()
    );
    let x = f64s("x");
    let z = f64s("z");
    assert_eq!(x.len(), nx);
    assert!(x.iter().enumerate().all(|(i, &v)| v == i as f64 * h));
    assert!(z.iter().enumerate().all(|(j, &v)| v == j as f64 * h));

    // Posterior mean and std per group: the same bits as the .npy fields.
    let prior_names = ds.get_var_attr_as_string("prior", "flag_meanings").unwrap();
    let variant_names = ds
        .get_var_attr_as_string("variant", "flag_meanings")
        .unwrap();
    let prior_names: Vec<&str> = prior_names.split(' ').collect();
    let variant_names: Vec<&str> = variant_names.split(' ').collect();
    let prior = i32s("prior");
    let variant = i32s("variant");
    let n_train = i32s("n_train");
    let mean = f64s("velocity_mean");
    let std = f64s("velocity_std");
    // 2 N × 2 priors × 2 variants.
    assert_eq!(prior.len(), 8);
    let cell = nx * nz;
    let mut stems = Vec::new();
    for g in 0..prior.len() {
        let stem = format!(
            "{}-{}-n{}",
            prior_names[prior[g] as usize], variant_names[variant[g] as usize], n_train[g]
        );
        for (what, all) in [("mean", &mean), ("std", &std)] {
            let path = out
                .join("fields")
                .join(format!("velocity_{what}_{stem}.npy"));
            let bytes = std::fs::read(&path).unwrap();
            let arr = npy::decode(&bytes, npy::Dtype::F64).unwrap();
            assert_eq!(arr.shape, vec![nx, nz], "{}", path.display());
            assert_eq!(
                &arr.data[..],
                &all[g * cell..(g + 1) * cell],
                "{what} of {stem}"
            );
        }
        stems.push(format!(
            "{}/{}",
            prior_names[prior[g] as usize], variant_names[variant[g] as usize]
        ));
    }

    // Every sample's first two KL coefficients as in kl_coefficients.csv, in the same order.
    let d_kl = ds.dim_size("kl").unwrap();
    let samples = f64s("kl_samples");
    let group = i32s("sample_group");
    let index = i32s("sample_index");
    // The table read with polars, as a user would; the posterior samples' rows are the ones whose
    // source is prior/variant.
    let table = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(out.join("kl_coefficients.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let column = |name: &str| table.column(name).unwrap();
    let source = column("source").str().unwrap();
    let (n_col, index_col) = (
        column("n_train").i64().unwrap(),
        column("index").i64().unwrap(),
    );
    let z = [column("z0").f64().unwrap(), column("z1").f64().unwrap()];
    let rows: Vec<usize> = (0..table.height())
        .filter(|&i| source.get(i).is_some_and(|s| s.contains('/')))
        .collect();
    assert_eq!(rows.len(), group.len());
    assert_eq!(samples.len(), group.len() * d_kl);
    for (s, &row) in rows.iter().enumerate() {
        let g = group[s] as usize;
        assert_eq!(source.get(row), Some(stems[g].as_str()));
        assert_eq!(n_col.get(row), Some(i64::from(n_train[g])));
        assert_eq!(index_col.get(row), Some(i64::from(index[s])));
        for (c, zc) in z.iter().enumerate() {
            assert_eq!(
                Some(samples[s * d_kl + c]),
                zc.get(row),
                "sample {s}, coefficient {c}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn diverged_trajectories_are_listed_and_a_run_where_all_diverge_still_writes_its_netcdf() {
    // Chung's step at 60 times its tuned ζ′: of 6 Gaussian-prior trajectories, 1 leaves the
    // solver's domain at N = 20 and all 6 at N = 50.
    let d = scratch("diverged");
    let out = d.join("out");
    fwi(
        &[
            "--preset",
            "quick",
            "--priors",
            "gaussian",
            "--variants",
            "chung",
            "--samples-chung",
            "6",
            "--zeta-chung",
            "3",
            "--workers",
            "2",
            "--quiet",
        ],
        &d,
        &out,
    );
    let diverged = std::fs::read_to_string(out.join("diverged.csv")).unwrap();
    let rows: Vec<&str> = diverged.lines().skip(1).collect();
    assert_eq!(
        diverged.lines().next().unwrap(),
        "prior,variant,n_train,index,level"
    );
    assert_eq!(rows.len(), 7, "{diverged}");
    assert_eq!(rows.iter().filter(|r| r.contains(",20,")).count(), 1);
    let table = std::fs::read_to_string(out.join("table1_all.csv")).unwrap();
    let counts: Vec<(String, String)> = table
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[3].to_string(), f[4].to_string())
        })
        .collect();
    assert_eq!(
        counts,
        [("5".into(), "1".into()), ("0".into(), "6".into())],
        "{table}"
    );
    // The finished samples keep their job indices; the NetCDF file has the 5 of them.
    let samples = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let (n20_index, _) = rows[0].rsplit_once(',').unwrap();
    let skipped = n20_index.rsplit(',').next().unwrap();
    assert!(
        !samples
            .lines()
            .any(|l| l.starts_with("gaussian,chung,20,") && l.split(',').nth(3) == Some(skipped)),
        "{samples}"
    );
    let mut reader = FileReader::open(out.join("fwi_results.nc")).unwrap();
    assert_eq!(reader.data_set().dim_size("sample"), Some(5));
    let vars = reader.read_all_vars().unwrap();
    assert_eq!(vars["kl_samples"].get_f64().unwrap().len(), 5 * 100);

    // Only N = 50's trajectories, all diverged: no sample dimension, and the run still succeeds.
    let mut cfg: toml::Table = std::fs::read_to_string(out.join("config.toml"))
        .unwrap()
        .parse()
        .unwrap();
    cfg["prior"].as_table_mut().unwrap()["n_values"] = toml::Value::Array(vec![50.into()]);
    let all = d.join("all");
    let cfg_path = d.join("n50.toml");
    std::fs::write(&cfg_path, toml::to_string(&cfg).unwrap()).unwrap();
    let cfg_arg = cfg_path.to_string_lossy();
    fwi(
        &["--quiet", "--workers", "2", "--config", &cfg_arg],
        &d,
        &all,
    );
    let reader = FileReader::open(all.join("fwi_results.nc")).unwrap();
    assert_eq!(reader.data_set().dim_size("sample"), None);
    assert!(reader.data_set().get_var("kl_samples").is_none());
    let _ = std::fs::remove_dir_all(d);
}
