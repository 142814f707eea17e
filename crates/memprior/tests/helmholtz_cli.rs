//! `memprior helmholtz`: the `.npy` data contract on a preset and on a user geometry, agreement
//! with the library, and bad input that must end with a clear message, exit code 2, no output
//! file and no change to existing files.

use experiments::memprior_core::npy::{self, Dtype};
use experiments::operators::helmholtz::{Geometry, GeometryPreset, Helmholtz};
use polars::prelude::{CsvReadOptions, DataType, SerReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memprior"))
        .arg("helmholtz")
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-helmholtz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "command failed: {err}");
    err
}

fn velocity(nx: usize, nz: usize) -> Vec<f64> {
    (0..nx * nz)
        .map(|k| 2.0 + 0.5 * ((k / nz) as f64 / nx as f64) + 0.3 * ((k % nz) as f64 / nz as f64))
        .collect()
}

#[test]
fn forward_and_gradient_on_a_preset_and_a_user_geometry_match_the_library() {
    let dir = scratch("contract");
    // A user geometry from TOML, smaller than the presets.
    let geometry = Geometry {
        nx: 30,
        nz: 20,
        h: 0.05,
        npml: 8,
        pml_max: 90.0,
        freq: 3.0,
        sources: vec![[3, 1], [26, 1]],
        receivers: (0..30).map(|ix| [ix, 18]).collect(),
    };
    let gfile = dir.join("g.toml");
    std::fs::write(&gfile, geometry.to_toml()).unwrap();
    let v = velocity(30, 20);
    let (vfile, v2file) = (dir.join("v.npy"), dir.join("v2.npy"));
    std::fs::write(&vfile, npy::encode(Dtype::F64, &[30, 20], &v)).unwrap();
    let v2: Vec<f64> = v.iter().map(|x| x * 1.03).collect();
    std::fs::write(&v2file, npy::encode(Dtype::F64, &[30, 20], &v2)).unwrap();
    let dfile = dir.join("d.npy");
    ok(&run(&[
        args(&["forward", "--model"]),
        vec![s(&v2file)],
        args(&["--geometry"]),
        vec![s(&gfile)],
        args(&["--out"]),
        vec![s(&dfile)],
    ]
    .concat()));
    let d = npy::decode(&std::fs::read(&dfile).unwrap(), Dtype::C128).unwrap();
    assert_eq!(d.shape, vec![2, 30]);
    let gout = dir.join("grad.npy");
    ok(&run(&[
        args(&["gradient", "--model"]),
        vec![s(&vfile)],
        args(&["--data"]),
        vec![s(&dfile)],
        args(&["--sigma-d", "0.02", "--geometry"]),
        vec![s(&gfile)],
        args(&["--out"]),
        vec![s(&gout)],
    ]
    .concat()));
    let g = npy::decode(&std::fs::read(&gout).unwrap(), Dtype::F64).unwrap();
    assert_eq!(g.shape, vec![30, 20]);
    // The same numbers as the library.
    let op = Helmholtz::new(geometry).unwrap();
    let m: Vec<f64> = v.iter().map(|x| 1.0 / (x * x)).collect();
    let d_lib = op
        .forward(&v2.iter().map(|x| 1.0 / (x * x)).collect::<Vec<_>>())
        .unwrap();
    let (_, g_lib) = op.misfit_gradient(&m, &d_lib, 0.02).unwrap();
    let scale = g_lib.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    assert!(
        g.data
            .iter()
            .zip(&g_lib)
            .all(|(a, b)| (a - b).abs() <= 1e-12 * scale)
    );
    // The small preset end to end, with a model written by `helmholtz model`.
    let (vp, dp, gp) = (dir.join("vp.npy"), dir.join("dp.npy"), dir.join("gp.npy"));
    ok(&run(&[
        args(&["model", "--preset", "small", "--kind", "train:3", "--out"]),
        vec![s(&vp)],
    ]
    .concat()));
    ok(&run(&[
        args(&["forward", "--preset", "small", "--model"]),
        vec![s(&vp)],
        args(&["--out"]),
        vec![s(&dp)],
    ]
    .concat()));
    ok(&run(&[
        args(&[
            "gradient",
            "--preset",
            "small",
            "--sigma-d",
            "1e-3",
            "--model",
        ]),
        vec![s(&vp)],
        args(&["--data"]),
        vec![s(&dp)],
        args(&["--out"]),
        vec![s(&gp)],
    ]
    .concat()));
    let small = Geometry::preset(GeometryPreset::Small);
    assert_eq!(
        npy::decode(&std::fs::read(&dp).unwrap(), Dtype::C128)
            .unwrap()
            .shape,
        vec![small.sources.len(), small.receivers.len()]
    );
    // Data of the model itself: zero misfit, zero gradient.
    let gz = npy::decode(&std::fs::read(&gp).unwrap(), Dtype::F64).unwrap();
    assert!(
        gz.data.iter().all(|x| x.abs() < 1e-6),
        "gradient at the data-generating model must vanish"
    );
}

#[test]
fn bad_input_is_reported_and_leaves_no_output() {
    let dir = scratch("bad");
    let good_v = dir.join("v.npy");
    std::fs::write(
        &good_v,
        npy::encode(Dtype::F64, &[64, 64], &velocity(64, 64)),
    )
    .unwrap();
    let data = dir.join("d.npy");
    ok(&run(&[
        args(&["forward", "--preset", "small", "--model"]),
        vec![s(&good_v)],
        args(&["--out"]),
        vec![s(&data)],
    ]
    .concat()));
    let out = dir.join("out.npy");
    std::fs::write(&out, b"previous result").unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        s(&p)
    };
    let mut f32_file = npy::encode(Dtype::F64, &[64, 64], &velocity(64, 64));
    let at = f32_file.windows(3).position(|w| w == b"<f8").unwrap();
    f32_file[at + 2] = b'4';
    let f32_model = write("f32.npy", f32_file);
    let wrong_shape = write(
        "shape.npy",
        npy::encode(Dtype::F64, &[64, 63], &velocity(64, 63)),
    );
    let mut neg = velocity(64, 64);
    neg[5 * 64 + 7] = -1.5;
    let negative = write("neg.npy", npy::encode(Dtype::F64, &[64, 64], &neg));
    let mut nan = velocity(64, 64);
    nan[63 * 64 + 63] = f64::NAN;
    let nan_model = write("nan.npy", npy::encode(Dtype::F64, &[64, 64], &nan));
    let not_npy = write("text.npy", b"1.0 2.0 3.0".to_vec());
    let small = Geometry::preset(GeometryPreset::Small);
    let mut g = small.clone();
    g.sources.push([64, 0]);
    let outside = write("outside.toml", g.to_toml().into_bytes());
    let mut g = small.clone();
    g.npml = 0;
    let no_pml = write("nopml.toml", g.to_toml().into_bytes());
    let unknown_key = write(
        "unknown.toml",
        format!("{}\nfrequency = 5.0\n", small.to_toml()).into_bytes(),
    );
    let wrong_data = write("wd.npy", npy::encode(Dtype::C128, &[2, 2], &[0.0; 8]));
    let real_data = write("rd.npy", npy::encode(Dtype::F64, &[5, 40], &[0.0; 200]));
    let gv = s(&good_v);
    let d = s(&data);
    let o = s(&out);
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "missing model",
            args(&[
                "forward",
                "--preset",
                "small",
                "--model",
                "/nonexistent/v.npy",
                "--out",
                &o,
            ]),
            "cannot read model file",
        ),
        (
            "float32 model",
            args(&[
                "forward", "--preset", "small", "--model", &f32_model, "--out", &o,
            ]),
            "astype(np.float64)",
        ),
        (
            "wrong shape",
            args(&[
                "forward",
                "--preset",
                "small",
                "--model",
                &wrong_shape,
                "--out",
                &o,
            ]),
            "(nx, nz) = (64, 64)",
        ),
        (
            "negative velocity",
            args(&[
                "forward", "--preset", "small", "--model", &negative, "--out", &o,
            ]),
            "[5, 7]",
        ),
        (
            "NaN velocity",
            args(&[
                "forward", "--preset", "small", "--model", &nan_model, "--out", &o,
            ]),
            "[63, 63]",
        ),
        (
            "not a .npy file",
            args(&[
                "forward", "--preset", "small", "--model", &not_npy, "--out", &o,
            ]),
            "numpy.save",
        ),
        (
            "source outside",
            args(&[
                "forward",
                "--geometry",
                &outside,
                "--model",
                &gv,
                "--out",
                &o,
            ]),
            "sources[5]",
        ),
        (
            "npml = 0",
            args(&[
                "forward",
                "--geometry",
                &no_pml,
                "--model",
                &gv,
                "--out",
                &o,
            ]),
            "`npml`",
        ),
        (
            "unknown key",
            args(&[
                "forward",
                "--geometry",
                &unknown_key,
                "--model",
                &gv,
                "--out",
                &o,
            ]),
            "frequency",
        ),
        (
            "missing geometry",
            args(&[
                "forward",
                "--geometry",
                "/nonexistent/g.toml",
                "--model",
                &gv,
                "--out",
                &o,
            ]),
            "cannot read geometry file",
        ),
        (
            "unknown preset",
            args(&["forward", "--preset", "huge", "--model", &gv, "--out", &o]),
            "paper, small",
        ),
        (
            "no geometry",
            args(&["forward", "--model", &gv, "--out", &o]),
            "--preset paper|small",
        ),
        (
            "sigma = 0",
            args(&[
                "gradient",
                "--preset",
                "small",
                "--model",
                &gv,
                "--data",
                &d,
                "--sigma-d",
                "0",
                "--out",
                &o,
            ]),
            "--sigma-d",
        ),
        (
            "sigma NaN",
            args(&[
                "gradient",
                "--preset",
                "small",
                "--model",
                &gv,
                "--data",
                &d,
                "--sigma-d",
                "nan",
                "--out",
                &o,
            ]),
            "--sigma-d",
        ),
        (
            "data shape",
            args(&[
                "gradient",
                "--preset",
                "small",
                "--model",
                &gv,
                "--data",
                &wrong_data,
                "--sigma-d",
                "1",
                "--out",
                &o,
            ]),
            "(5, 40)",
        ),
        (
            "real data",
            args(&[
                "gradient",
                "--preset",
                "small",
                "--model",
                &gv,
                "--data",
                &real_data,
                "--sigma-d",
                "1",
                "--out",
                &o,
            ]),
            "complex128",
        ),
        (
            "bad kind",
            args(&[
                "model", "--preset", "small", "--kind", "train:x", "--out", &o,
            ]),
            "train:K",
        ),
        (
            "kind out of range",
            args(&[
                "model", "--preset", "small", "--kind", "null:100", "--out", &o,
            ]),
            "K < 100",
        ),
    ];
    for (what, argv, needle) in cases {
        let st = run(&argv);
        let err = String::from_utf8_lossy(&st.stderr);
        assert_eq!(st.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains(needle),
            "{what}: message must mention {needle:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(
            std::fs::read(&out).unwrap(),
            b"previous result",
            "{what}: existing output was touched"
        );
    }
    assert!(std::fs::read_dir(&dir).unwrap().flatten().all(|e| {
        !e.file_name()
            .to_string_lossy()
            .starts_with(memprior_core::atomic::TMP_PREFIX)
    }));
}

#[test]
fn under_resolved_geometry_gets_a_warning() {
    let dir = scratch("warn");
    let mut g = Geometry::preset(GeometryPreset::Small);
    g.freq = 20.0; // 1.5 km/s / (20 Hz · 31.25 m) = 2.4 points per wavelength
    let gfile = dir.join("g.toml");
    std::fs::write(&gfile, g.to_toml()).unwrap();
    let v = dir.join("v.npy");
    std::fs::write(&v, npy::encode(Dtype::F64, &[64, 64], &vec![1.5; 64 * 64])).unwrap();
    let err = ok(&run(&[
        args(&["forward", "--geometry"]),
        vec![s(&gfile)],
        args(&["--model"]),
        vec![s(&v)],
        args(&["--out"]),
        vec![s(&dir.join("d.npy"))],
    ]
    .concat()));
    assert!(
        err.contains("WARN") && err.contains("2.40 grid points per wavelength"),
        "{err}"
    );
}

#[test]
fn bench_times_the_chosen_solvers_and_reports_fill_flops_and_ordering() {
    let dir = scratch("bench");
    let out = run(&args(&[
        "bench",
        "--preset",
        "small",
        "--solver",
        "ldlt-metis",
        "--solver",
        "lu",
        "--repeats",
        "1",
        "--out",
        &s(&dir),
    ]));
    ok(&out);
    let table = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(dir.join("helmholtz_solvers_small.csv")))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(table.height(), 2, "{table}");
    for column in [
        "solver",
        "ordering",
        "ordering_s",
        "factor_gflop",
        "factor_gflops_per_s",
        "l_entries",
        "gradient_s",
    ] {
        assert!(
            table.column(column).is_ok(),
            "missing column {column}: {:?}",
            table.get_column_names()
        );
    }
    let text = |name: &str, row: usize| table.column(name).unwrap().str().unwrap().get(row);
    let number = |name: &str, row: usize| {
        let c = table
            .column(name)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap();
        c.f64().unwrap().get(row)
    };
    assert_eq!(text("solver", 0), Some("ldlt-metis"));
    assert_eq!(text("ordering", 0), Some("metis"));
    assert!(number("factor_gflop", 0).unwrap() > 0.0);
    assert!(number("probe_backward_error", 0).unwrap() < 1e-12);
    assert_eq!(text("solver", 1), Some("lu"));
    // faer does not expose its LU fill: the cell is empty.
    assert_eq!(number("l_entries", 1), None);
    // An unknown solver is a usage error naming the choices, and writes nothing.
    let dir2 = scratch("bench-bad");
    let out = run(&args(&[
        "bench",
        "--preset",
        "small",
        "--solver",
        "cholesky",
        "--out",
        &s(&dir2),
    ]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ldlt-metis"));
    assert!(!dir2.join("helmholtz_solvers_small.csv").exists());
}

#[test]
fn the_metis_ordering_is_cached_per_padded_grid_and_a_corrupt_entry_is_recomputed() {
    let dir = scratch("ordering-cache");
    let cache = dir.join("orderings");
    let g = Geometry::preset(GeometryPreset::Small);
    let v = velocity(g.nx, g.nz);
    let model = dir.join("v.npy");
    std::fs::write(&model, npy::encode(Dtype::F64, &[g.nx, g.nz], &v)).unwrap();
    let with_cache = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_memprior"))
            .env("MEMPRIOR_ORDERING_CACHE", &cache)
            .args([
                "helmholtz",
                "forward",
                "--preset",
                "small",
                "--model",
                &s(&model),
                "--out",
                &s(out),
            ])
            .output()
            .unwrap()
    };
    ok(&with_cache(&dir.join("d1.npy")));
    let (nxp, nzp) = g.padded_shape();
    let entry = cache.join(format!("metis-nd-postordered-v1-{nxp}x{nzp}.u32"));
    assert_eq!(
        std::fs::metadata(&entry).unwrap().len() as usize,
        4 * nxp * nzp
    );
    ok(&with_cache(&dir.join("d2.npy")));
    // A corrupt entry (not a permutation) is ignored and rewritten; the data do not change.
    std::fs::write(&entry, vec![0u8; 4 * nxp * nzp]).unwrap();
    ok(&with_cache(&dir.join("d3.npy")));
    let d1 = std::fs::read(dir.join("d1.npy")).unwrap();
    assert_eq!(d1, std::fs::read(dir.join("d2.npy")).unwrap());
    assert_eq!(d1, std::fs::read(dir.join("d3.npy")).unwrap());
    let rewritten = std::fs::read(&entry).unwrap();
    assert!(
        rewritten.iter().any(|&b| b != 0),
        "the corrupt entry was replaced"
    );
}
