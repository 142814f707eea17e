//! `memprior prior`: sampling from the command line, the memorization data contract at the quick
//! preset, and bad input that ends with a message naming the setting, exit code 2 and no output.

use experiments::memprior_core::npy;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memprior"))
        .arg("prior")
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-prior-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_denoiser_samples_and_memorization_writes_its_tables() {
    let d = scratch("ok");
    let cache = d.join("weights");
    for den in ["memorized", "gaussian", "learned"] {
        let out = d.join(format!("{den}.npy"));
        let o = run(&[
            "sample",
            "--denoiser",
            den,
            "--preset",
            "quick",
            "--n-train",
            "20",
            "--samples",
            "4",
            "--cache",
            cache.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{den}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let arr = npy::decode(&std::fs::read(&out).unwrap(), npy::Dtype::F64).unwrap();
        assert_eq!(arr.shape, vec![4, 100], "{den}");
        assert!(arr.data.iter().all(|v| v.is_finite()));
    }
    let table = d.join("table");
    let o = run(&[
        "memorization",
        "--preset",
        "quick",
        "--out",
        table.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(table.join("memorization.csv")).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "source,n_train,count,mean_r,frac_r_le_0_3,frac_r_le_0_5,frac_r_le_0_7,unique_nn"
    );
    // 2 values of N × (3 priors + null + leave-one-out).
    assert_eq!(csv.lines().count(), 1 + 2 * 5);
    for f in [
        "ratios.csv",
        "training_curves.csv",
        "config.toml",
        "memorization.parquet",
    ] {
        assert!(table.join(f).is_file(), "{f}");
    }
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn bad_input_is_named_and_writes_nothing() {
    let d = scratch("bad");
    let out = d.join("z.npy");
    std::fs::write(&out, b"keep me").unwrap();
    let o_str = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "sample",
                "--denoiser",
                "vae",
                "--n-train",
                "20",
                "--preset",
                "quick",
                "--out",
                o_str,
            ],
            "denoiser",
        ),
        (
            &[
                "sample",
                "--denoiser",
                "memorized",
                "--n-train",
                "2",
                "--preset",
                "quick",
                "--out",
                o_str,
            ],
            "--n-train",
        ),
        (
            &[
                "sample",
                "--denoiser",
                "memorized",
                "--n-train",
                "999",
                "--preset",
                "quick",
                "--out",
                o_str,
            ],
            "--n-train",
        ),
        (
            &[
                "sample",
                "--denoiser",
                "memorized",
                "--n-train",
                "20",
                "--preset",
                "huge",
                "--out",
                o_str,
            ],
            "preset",
        ),
        (
            &[
                "sample",
                "--denoiser",
                "memorized",
                "--n-train",
                "20",
                "--samples",
                "0",
                "--preset",
                "quick",
                "--out",
                o_str,
            ],
            "--samples",
        ),
    ];
    for (args, field) in cases {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(field),
            "{args:?}: message should name {field}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            std::fs::read(&out).unwrap(),
            b"keep me",
            "existing output changed"
        );
    }
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn frontier_appends_one_row_per_recipe_and_refuses_a_foreign_table() {
    let d = scratch("frontier");
    let cache = d.join("weights");
    let csv = d.join("frontier.csv");
    for steps in ["40", "60"] {
        let o = run(&[
            "frontier",
            "--preset",
            "quick",
            "--n-train",
            "20",
            "--steps",
            steps,
            "--width",
            "32",
            "--cache",
            cache.to_str().unwrap(),
            "--out",
            csv.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("width,blocks,steps,"));
    assert!(
        lines[1].starts_with("32,2,40,") && lines[2].starts_with("32,2,60,"),
        "{text}"
    );
    // A file that is not a frontier table is left alone.
    let foreign = d.join("notes.csv");
    std::fs::write(&foreign, "a,b\n1,2\n").unwrap();
    let o = run(&[
        "frontier",
        "--preset",
        "quick",
        "--n-train",
        "20",
        "--steps",
        "40",
        "--width",
        "32",
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        foreign.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a frontier table"));
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "a,b\n1,2\n");
    // Out-of-range settings name the key.
    let o = run(&[
        "frontier",
        "--preset",
        "quick",
        "--ema-decay",
        "2",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("ema_decay"));
    let _ = std::fs::remove_dir_all(&d);
}
