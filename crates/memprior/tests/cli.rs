//! The command line: the stylized data contract, and bad input that must end with a message
//! naming the setting, a non-zero exit, and no partial or clobbered output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn memprior() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memprior"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn header(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn stylized_writes_the_data_contract() {
    let dir = scratch("contract");
    let out = dir.join("out");
    let st = memprior()
        .args(["stylized", "--preset", "quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        header(&out.join("linearized_1d.csv")),
        "sigma,n,x_n,mu,std,w_quadratic,w_evidence,pi_exact"
    );
    assert_eq!(
        header(&out.join("linearized_2d.csv")),
        "sigma,n,mu_1,mu_2,cov_11,cov_12,cov_22,w_quadratic,w_evidence"
    );
    assert_eq!(
        header(&out.join("effective_components.csv")),
        "n_train,sigma,effective_components,sigma_crit,sigma_crit_nominal"
    );
    // One row per σ of Figure 1 and training point; one per (N, σ) of the sweep.
    assert_eq!(
        std::fs::read_to_string(out.join("linearized_1d.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 3 * 5
    );
    let quick_sigmas =
        experiments::stylized::StylizedConfig::preset(experiments::stylized::Preset::Quick)
            .sweep
            .n_sigma;
    assert_eq!(
        std::fs::read_to_string(out.join("effective_components.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 5 * quick_sigmas
    );
    for f in [
        "linearized_1d.parquet",
        "linearized_2d.parquet",
        "effective_components.parquet",
        "distances.csv",
        "lookup_weights.csv",
        "config.toml",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The written config reproduces the run.
    let again = dir.join("again");
    let st = memprior()
        .args(["stylized", "--config"])
        .arg(out.join("config.toml"))
        .arg("--out")
        .arg(&again)
        .output()
        .unwrap();
    assert!(st.status.success());
    assert_eq!(
        std::fs::read(out.join("linearized_1d.csv")).unwrap(),
        std::fs::read(again.join("linearized_1d.csv")).unwrap()
    );
    // No staging directory is left behind.
    assert!(
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().contains("staging"))
    );
}

#[test]
fn bad_input_names_the_setting_and_leaves_outputs_untouched() {
    let dir = scratch("bad");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("linearized_1d.csv"), "previous results\n").unwrap();
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("sigma <= 0", Some("sigmas = [0.5, 0.0]"), "sigmas[1]"),
        ("gamma <= 0", Some("gamma = -0.3"), "gamma"),
        (
            "N = 0",
            Some("[one_d]\ntraining_points = []"),
            "one_d.training_points",
        ),
        (
            "non-finite grid",
            Some("[one_d]\ngrid_lo = nan"),
            "one_d.grid_lo",
        ),
        ("empty grid", Some("[one_d]\ngrid_n = 0"), "one_d.grid_n"),
        (
            "non-finite training point",
            Some("[one_d]\ntraining_points = [0.1, inf]"),
            "one_d.training_points[1]",
        ),
        ("unknown key", Some("sigma = 0.3"), "config"),
        ("wrong type", Some("gamma = \"high\""), "config"),
        (
            "N above the pool",
            Some("[sweep]\nn_train = [3, 500]"),
            "sweep.n_train[1]",
        ),
    ];
    for (what, toml, field) in cases {
        let cfg = dir.join("cfg.toml");
        std::fs::write(&cfg, toml.unwrap()).unwrap();
        let st = memprior()
            .args(["stylized", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&st.stderr);
        assert_eq!(st.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains(&format!("`{field}`")),
            "{what}: message must name `{field}`: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    let st = memprior()
        .args(["stylized", "--preset", "huge", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(2));
    assert!(
        err.contains("`preset`") && err.contains("default, quick"),
        "{err}"
    );
    let st = memprior()
        .args(["stylized", "--config"])
        .arg(dir.join("missing.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(2));
    assert!(
        err.contains("cannot read config file") && err.contains("missing.toml"),
        "{err}"
    );
    // Existing results were neither clobbered nor joined by partial files.
    assert_eq!(
        std::fs::read_to_string(out.join("linearized_1d.csv")).unwrap(),
        "previous results\n"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    assert!(
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().contains("staging"))
    );
}

#[test]
fn a_killed_runs_staging_directory_is_cleaned_up_by_the_next_run() {
    let dir = scratch("stale");
    // A pid above the kernel's limit (2²²) is never alive: this stands for a run of this host
    // that was killed before committing.
    let stale = dir.join(format!(
        "{}{}.{}.0.0.out",
        memprior_core::atomic::STAGING_PREFIX,
        memprior_core::atomic::host_tag(),
        4_194_400 + 9
    ));
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("linearized_1d.csv"), "partial").unwrap();
    let st = memprior()
        .args(["stylized", "--preset", "quick", "--out"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(!stale.exists(), "stale staging directory must be removed");
    assert!(dir.join("out/linearized_1d.csv").is_file());
}
