//! `memprior fwi`: the data contract, a run killed with SIGKILL and resumed giving the same
//! tables as an uninterrupted run, shards merged on the command line, and bad input that ends
//! with a message naming the setting, exit code 2 and the previous outputs untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_memprior"));
    c.arg("fwi");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-fwi-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The closed-form priors only (no training): fast, and what the kill test needs.
const FAST: [&str; 8] = [
    "--preset",
    "quick",
    "--priors",
    "memorized,gaussian",
    "--samples",
    "6",
    "--samples-chung",
    "3",
];

fn tables(dir: &Path) -> Vec<(String, String)> {
    [
        "table1.csv",
        "table1_all.csv",
        "lookup_weights.csv",
        "visits.csv",
        "misfit_curves.csv",
        "calibration.csv",
        "samples.csv",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).unwrap()))
    .collect()
}

fn count_samples(dir: &Path) -> usize {
    let Ok(groups) = std::fs::read_dir(dir.join("samples")) else {
        return 0;
    };
    groups
        .flatten()
        .filter(|g| g.path().is_dir())
        .map(|g| {
            std::fs::read_dir(g.path())
                .unwrap()
                .flatten()
                .filter(|f| f.path().extension().is_some_and(|e| e == "npy"))
                .count()
        })
        .sum()
}

#[test]
fn contract_kill_and_resume_and_shards() {
    let d = scratch("ok");
    let cache = d.join("weights");
    let cache = cache.to_str().unwrap();
    // Uninterrupted reference.
    let clean = d.join("clean");
    let o = run(&[
        &FAST[..],
        &[
            "--out",
            clean.to_str().unwrap(),
            "--cache",
            cache,
            "--workers",
            "2",
        ],
    ]
    .concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let header = std::fs::read_to_string(clean.join("table1.csv")).unwrap();
    assert_eq!(
        header.lines().next().unwrap(),
        "prior,n_train,samples,diverged,mean_r,frac_r_le_0_3,frac_r_le_0_5,frac_r_le_0_7,null_frac_r_le_0_3,null_frac_r_le_0_5,null_frac_r_le_0_7,unique_nn,rmse_velocity,final_misfit"
    );
    // 2 N × 2 priors, paper variant only.
    assert_eq!(header.lines().count(), 1 + 4);
    let lw = std::fs::read_to_string(clean.join("lookup_weights.csv")).unwrap();
    assert_eq!(
        lw.lines().next().unwrap(),
        "n_train,train_index,misfit,weight"
    );
    assert_eq!(lw.lines().count(), 1 + 20 + 50);
    for f in [
        "table1.parquet",
        "config.toml",
        "fields/velocity_mean_memorized-paper-n20.npy",
    ] {
        assert!(clean.join(f).is_file(), "{f}");
    }
    let total = count_samples(&clean);
    assert_eq!(total, 2 * 2 * (6 + 3));
    // `--progress`: every group complete, its mean r that of table1_all.csv.
    let o = run(&["--progress", "--out", clean.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("group\tdrawn\ttotal\tdiverged\tmean_r"),
        "{text}"
    );
    assert_eq!(lines.len(), 1 + 2 * 2 * 2, "{text}");
    let all = std::fs::read_to_string(clean.join("table1_all.csv")).unwrap();
    let row = all
        .lines()
        .find(|l| l.starts_with("gaussian,paper,50,"))
        .unwrap();
    let mean_r: f64 = row.split(',').nth(5).unwrap().parse().unwrap();
    let line = lines
        .iter()
        .find(|l| l.starts_with("gaussian-paper-n50\t"))
        .unwrap();
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(&f[1..4], ["6", "6", "0"], "{line}");
    assert_eq!(f[4], format!("{mean_r:.4}"), "{line}");
    let empty = d.join("empty");
    let o = run(&["--progress", "--out", empty.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing has been drawn"));

    // Kill -9 once a few samples are on disk, then resume.
    let killed = d.join("killed");
    let mut child = bin()
        .args(FAST)
        .args([
            "--out",
            killed.to_str().unwrap(),
            "--cache",
            cache,
            "--workers",
            "1",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while count_samples(&killed) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no samples appeared"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = count_samples(&killed);
    assert!(
        before < total,
        "the run finished before it could be killed ({before} samples)"
    );
    let o = run(&[
        &FAST[..],
        &["--out", killed.to_str().unwrap(), "--cache", cache],
    ]
    .concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("already on disk: resuming"), "{log}");
    assert_eq!(
        tables(&killed),
        tables(&clean),
        "resumed run differs from the uninterrupted one"
    );

    // Two shards on the command line, then the merge.
    let sharded = d.join("sharded");
    for s in ["2/2", "1/2"] {
        let o = run(&[
            &FAST[..],
            &[
                "--out",
                sharded.to_str().unwrap(),
                "--cache",
                cache,
                "--shard",
                s,
            ],
        ]
        .concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            !sharded.join("table1.csv").exists(),
            "a shard writes no tables"
        );
    }
    let o = run(&[
        &FAST[..],
        &["--out", sharded.to_str().unwrap(), "--merge-only"],
    ]
    .concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        tables(&sharded),
        tables(&clean),
        "merged shards differ from the single run"
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn bad_input_is_named_and_leaves_outputs_untouched() {
    let d = scratch("bad");
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("table1.csv"), b"keep me").unwrap();
    let o_str = out.to_str().unwrap();
    let bad_toml = d.join("bad.toml");
    std::fs::write(&bad_toml, "preset = \"quick\"\nbogus_key = 1\n").unwrap();
    let missing = d.join("missing.toml");
    let empty = d.join("empty");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--preset", "huge", "--out", o_str], "--preset"),
        (
            vec!["--preset", "quick", "--shard", "0/3", "--out", o_str],
            "--shard",
        ),
        (
            vec!["--preset", "quick", "--shard", "4/3", "--out", o_str],
            "--shard",
        ),
        (
            vec!["--preset", "quick", "--shard", "a/b", "--out", o_str],
            "--shard",
        ),
        (
            vec![
                "--preset",
                "quick",
                "--shard",
                "1/2",
                "--merge-only",
                "--out",
                o_str,
            ],
            "--merge-only",
        ),
        (
            vec!["--preset", "quick", "--priors", "vae", "--out", o_str],
            "--priors",
        ),
        (
            vec!["--preset", "quick", "--variants", "euler", "--out", o_str],
            "--variants",
        ),
        (
            vec![
                "--preset",
                "quick",
                "--priors",
                "memorized,memorized",
                "--out",
                o_str,
            ],
            "priors",
        ),
        (
            vec!["--preset", "quick", "--samples", "0", "--out", o_str],
            "samples",
        ),
        (
            vec!["--preset", "quick", "--zeta=-1", "--out", o_str],
            "zeta",
        ),
        (
            vec!["--preset", "quick", "--workers", "0", "--out", o_str],
            "--workers",
        ),
        (
            vec!["--config", bad_toml.to_str().unwrap(), "--out", o_str],
            "bogus_key",
        ),
        (
            vec!["--config", missing.to_str().unwrap(), "--out", o_str],
            "--config",
        ),
        (
            vec![
                "--preset",
                "quick",
                "--merge-only",
                "--out",
                empty.to_str().unwrap(),
            ],
            "no samples",
        ),
    ];
    for (args, needle) in cases {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: message does not name `{needle}`: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read(out.join("table1.csv")).unwrap(),
            b"keep me",
            "{args:?} touched the output"
        );
        assert!(!out.join("samples").exists(), "{args:?} wrote samples");
    }
    std::fs::remove_dir_all(d).unwrap();
}
