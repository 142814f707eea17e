//! Reliability suite (issue 6): invalid configurations of the FWI experiment (wrong types,
//! out-of-range values, unknown keys, empty training sets, shape mismatches between the network and
//! the data), a corrupt sample file, and a bad report preset. Each ends with exit code 2, a message
//! naming the field, no panic, and the previous outputs untouched. The other commands' invalid
//! inputs are in `cli.rs` (stylized), `helmholtz_cli.rs`, `prior_cli.rs` and `fwi_cli.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn memprior(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memprior"))
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "memprior-reliability-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The quick preset's full configuration, as `memprior fwi` writes it.
fn quick_config(dir: &Path) -> String {
    let out = dir.join("template");
    let o = memprior(&[
        "fwi",
        "--preset",
        "quick",
        "--priors",
        "memorized",
        "--variants",
        "paper",
        "--samples",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out.join("config.toml")).unwrap()
}

fn replace_line(text: &str, key: &str, new: &str) -> String {
    let mut found = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if !found && l.starts_with(&format!("{key} = ")) {
                found = true;
                new.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no line `{key} = …` in the template");
    out.join("\n")
}

fn assert_refused(o: &Output, what: &str, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(
        err.contains(needle),
        "{what}: the message does not name `{needle}`: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn invalid_fwi_configurations_are_named_and_write_nothing() {
    let d = scratch("config");
    let template = quick_config(&d);
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("table1.csv"), b"previous results").unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong type: zeta",
            replace_line(&template, "zeta", "zeta = \"fast\""),
            "zeta",
        ),
        (
            "wrong type: samples",
            replace_line(&template, "samples", "samples = -3"),
            "samples",
        ),
        (
            "no N",
            replace_line(&template, "n_values", "n_values = []"),
            "n_values",
        ),
        (
            "N above the training stream",
            replace_line(&template, "n_values", "n_values = [20, 5000]"),
            "n_values",
        ),
        (
            "empty training set",
            replace_line(&template, "n_train", "n_train = 0"),
            "n_train",
        ),
        (
            "negative noise",
            replace_line(&template, "noise_rel", "noise_rel = -0.1"),
            "noise_rel",
        ),
        (
            "source outside the grid",
            replace_line(&template, "sources", "sources = [[99, 1]]"),
            "sources",
        ),
        (
            "zero grid spacing",
            replace_line(&template, "h", "h = 0.0"),
            "h",
        ),
        (
            "record_every = 0",
            replace_line(&template, "record_every", "record_every = 0"),
            "record_every",
        ),
        (
            "network input ≠ KL dimension",
            replace_line(&template, "dim", "dim = 50"),
            "dim",
        ),
        (
            "no training steps",
            replace_line(&template, "steps", "steps = 0"),
            "steps",
        ),
        (
            "NaN bandwidth",
            replace_line(&template, "linearized_sigmas", "linearized_sigmas = [nan]"),
            "linearized_sigmas",
        ),
        (
            "unknown key",
            template.replace("[geometry]\n", "[geometry]\nfrequency_hz = 3.0\n"),
            "frequency_hz",
        ),
        (
            "no calibration bins",
            replace_line(&template, "calibration_bins_kl", "calibration_bins_kl = 0"),
            "calibration_bins_kl",
        ),
        (
            "negative learning rate",
            replace_line(&template, "lr_max", "lr_max = -0.001"),
            "lr_max",
        ),
        (
            "unknown variant",
            replace_line(&template, "variants", "variants = [\"paper\", \"euler\"]"),
            "euler",
        ),
        (
            "no priors",
            replace_line(&template, "priors", "priors = []"),
            "priors",
        ),
        (
            "EMA decay above 1",
            replace_line(&template, "ema_decay", "ema_decay = 1.5"),
            "ema_decay",
        ),
        (
            "true-model reference 0",
            replace_line(
                &template,
                "true_model_reference",
                "true_model_reference = 0",
            ),
            "true_model_reference",
        ),
        (
            "not TOML",
            "preset = quick\n[[[".to_string(),
            "invalid configuration",
        ),
    ];
    let count = cases.len();
    for (what, text, needle) in cases {
        let cfg = d.join("cfg.toml");
        std::fs::write(&cfg, text).unwrap();
        let o = memprior(&[
            "fwi",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_refused(&o, what, needle);
        assert_eq!(
            std::fs::read(out.join("table1.csv")).unwrap(),
            b"previous results",
            "{what}"
        );
        assert!(!out.join("samples").exists(), "{what} wrote samples");
    }
    assert!(count >= 20);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_corrupt_sample_is_named_and_the_tables_are_kept() {
    let d = scratch("corrupt");
    let out = d.join("run");
    let args = [
        "fwi",
        "--preset",
        "quick",
        "--priors",
        "gaussian",
        "--samples",
        "2",
        "--samples-chung",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = memprior(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = std::fs::read(out.join("table1.csv")).unwrap();
    let victim = out.join("samples/gaussian-paper-n20/00001.npy");
    std::fs::write(&victim, b"\x93NUMPY truncated").unwrap();
    let merge: Vec<&str> = args.iter().copied().chain(["--merge-only"]).collect();
    let o = memprior(&merge);
    assert_refused(&o, "corrupt sample", "00001.npy");
    assert!(String::from_utf8_lossy(&o.stderr).contains("delete it"));
    assert_eq!(
        std::fs::read(out.join("table1.csv")).unwrap(),
        table,
        "a refused merge changed table1.csv"
    );
    // Deleting it, as the message says, redraws that sample and gives the same tables.
    std::fs::remove_file(&victim).unwrap();
    let o = memprior(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("table1.csv")).unwrap(), table);
    std::fs::remove_dir_all(d).unwrap();
}
