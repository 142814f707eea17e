//! `memprior-fuzz`: long fuzzing passes of the workspace's parsers, and the seed corpus.
//!
//! ```text
//! memprior-fuzz run [NAME…] [--seconds S] [--seed K]   # default: every target, 60 s each
//! memprior-fuzz seed-corpus                                       # rewrite corpus/ from the encoders
//! ```
//!
//! A run prints one line per target (executions, executions per second, corpus size, crashes) and
//! writes each crash's input to `crashes/<target>/<n>.bin` with its message beside it; move a
//! fixed crash's input to `regressions/<target>/` so that the tests replay it. Exit code 1 when a
//! target crashed.

use std::path::Path;
use std::time::Duration;

use experiments::fwi::dps::{DpsConfig, SampleRecord};
use experiments::learned::checkpoint::{self, Checkpoint};
use experiments::learned::{MlpConfig, Preset, Recipe};
use experiments::memprior_core::npy::{self, Dtype};
use experiments::operators::helmholtz::{Geometry, GeometryPreset};
use memprior_fuzz::{Budget, SEED_CHECKPOINT_KEY, TARGETS, crate_dir, fuzz, read_dir_files};

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The seed corpus: valid files of every parser, written by the workspace's own encoders.
fn seed_corpus() -> Result<(), String> {
    let root = crate_dir().join("corpus");
    let put = |target: &str, name: &str, bytes: &[u8]| write(&root.join(target).join(name), bytes);
    put(
        "npy",
        "f64_2x3.npy",
        &npy::encode(Dtype::F64, &[2, 3], &[1.0, -2.0, 3.5, 0.0, 1e-300, 7.0]),
    )?;
    put(
        "npy",
        "f64_vector.npy",
        &npy::encode(Dtype::F64, &[4], &[0.25; 4]),
    )?;
    put(
        "npy",
        "c128_2x2.npy",
        &npy::encode(
            Dtype::C128,
            &[2, 2],
            &[1.0, 0.5, -1.0, 2.0, 0.0, 0.0, 3.0, -3.0],
        ),
    )?;
    put(
        "npy",
        "f64_scalar.npy",
        &npy::encode(Dtype::F64, &[], &[42.0]),
    )?;
    let record = SampleRecord {
        z: (0..100).map(|k| (k as f64 * 0.37).sin()).collect(),
        final_misfit: 1234.5,
        trace: (0..20).map(|k| 1e4 / (1.0 + k as f64)).collect(),
        diverged: None,
    };
    put("sample", "paper_layout.npy", &record.encode())?;
    let diverged = SampleRecord {
        final_misfit: f64::NAN,
        trace: (0..20)
            .map(|k| {
                if k < 12 {
                    1e4 / (1.0 + k as f64)
                } else {
                    f64::NAN
                }
            })
            .collect(),
        diverged: Some(experiments::fwi::dps::Diverged::Level(88)),
        ..record.clone()
    };
    put("sample", "diverged_layout.npy", &diverged.encode())?;
    let tiny = SampleRecord {
        z: vec![0.5],
        final_misfit: 1.0,
        trace: Vec::new(),
        diverged: None,
    };
    put("sample", "degenerate_layout.npy", &tiny.encode())?;
    // A checkpoint of a tiny network (so that mutants stay small), written by the real writer.
    let mut recipe = Recipe::preset(Preset::Quick, 2);
    recipe.network = MlpConfig {
        dim: 2,
        width: 4,
        blocks: 1,
        time_embedding: 4,
    };
    let shapes = recipe.network.shapes();
    let group: Vec<Vec<f32>> = shapes
        .iter()
        .map(|[a, b]| (0..a * b).map(|i| i as f32 * 0.125).collect())
        .collect();
    let ckpt = Checkpoint {
        key: SEED_CHECKPOINT_KEY.into(),
        recipe,
        step: 3,
        done: false,
        history: Vec::new(),
        validation: Vec::new(),
        groups: vec![group; 4],
    };
    let path = root.join("checkpoint").join("tiny_state.bin");
    checkpoint::write(&path, &ckpt).map_err(|e| e.to_string())?;
    let stylized = std::fs::read(crate_dir().join("../../data/stylized/default.toml"))
        .map_err(|e| format!("data/stylized/default.toml: {e}"))?;
    put("stylized_toml", "default.toml", &stylized)?;
    for preset in [Preset::Quick, Preset::Default] {
        let cfg = DpsConfig::preset(preset);
        let text = toml::to_string(&cfg).map_err(|e| e.to_string())?;
        put(
            "dps_toml",
            &format!("{}.toml", preset.name()),
            text.as_bytes(),
        )?;
    }
    for (name, preset) in [
        ("small", GeometryPreset::Small),
        ("paper", GeometryPreset::Paper),
    ] {
        put(
            "geometry_toml",
            &format!("{name}.toml"),
            Geometry::preset(preset).to_toml().as_bytes(),
        )?;
    }
    println!("memprior-fuzz: seed corpus written to {}", root.display());
    Ok(())
}

fn run(args: &[String]) -> Result<bool, String> {
    let (mut names, mut seconds, mut seed) = (Vec::new(), 60.0f64, 1u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match a.as_str() {
            "--target" => names.push(value("--target")?),
            "--seconds" => {
                let v = value("--seconds")?;
                seconds = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| format!("--seconds must be a positive number (got `{v}`)"))?;
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed must be a non-negative integer (got `{v}`)"))?;
            }
            name if !name.starts_with('-') => names.push(name.to_string()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let targets: Vec<_> = if names.is_empty() {
        TARGETS.to_vec()
    } else {
        names
            .iter()
            .map(|n| {
                memprior_fuzz::target(n).ok_or_else(|| {
                    let all: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
                    format!("unknown target `{n}`: one of {}", all.join(", "))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut clean = true;
    for t in targets {
        let seeds: Vec<Vec<u8>> = read_dir_files(&crate_dir().join("corpus").join(t.name))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        let report = fuzz(
            t,
            &seeds,
            seed,
            Budget::Time(Duration::from_secs_f64(seconds)),
        );
        println!(
            "{}: {} executions in {seconds} s ({:.0}/s), corpus {}, crashes {}",
            t.name,
            report.executions,
            report.executions as f64 / seconds,
            report.corpus,
            report.crashes.len()
        );
        for (i, c) in report.crashes.iter().enumerate() {
            clean = false;
            let dir = crate_dir().join("crashes").join(t.name);
            write(&dir.join(format!("{i}.bin")), &c.input)?;
            write(&dir.join(format!("{i}.txt")), c.message.as_bytes())?;
            println!("  crash {i}: {}", c.message);
        }
    }
    Ok(clean)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("seed-corpus") => seed_corpus().map(|()| true),
        Some("run") => run(&args[1..]),
        _ => Err("usage: memprior-fuzz run [TARGET…] [--seconds S] [--seed K] | memprior-fuzz seed-corpus".into()),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("memprior-fuzz: {e}");
            std::process::exit(2);
        }
    }
}
