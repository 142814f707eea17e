//! Processes sharing one weight cache and one output directory at the same time: two trainers of
//! the same network (one trains, the other waits and reuses its weights, nothing left behind), and
//! two `fwi` shards drawn together into one directory and merged (the tables equal a single
//! run's).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn memprior(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_memprior"));
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn finish(c: Child) -> Output {
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "memprior-concurrency-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

#[test]
fn two_trainers_of_one_key_train_it_once() {
    let d = scratch("train");
    let shared = d.join("shared");
    let alone = d.join("alone");
    let train = |cache: &Path| {
        memprior(&[
            "prior",
            "train",
            "--preset",
            "quick",
            "--n-train",
            "20",
            "--cache",
            cache.to_str().unwrap(),
        ])
    };
    // Started together: both generate the same datasets, then reach the network's lock within
    // moments of each other.
    let a = train(&shared).spawn().unwrap();
    let b = train(&shared).spawn().unwrap();
    let (a, b) = (finish(a), finish(b));
    let log = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();
    let trained = [&a, &b]
        .iter()
        .filter(|o| log(o).contains("trained 3000 steps"))
        .count();
    let reused = [&a, &b]
        .iter()
        .filter(|o| log(o).contains("weights from the cache"))
        .count();
    assert_eq!(
        (trained, reused),
        (1, 1),
        "one process must train and the other reuse:\n--- a\n{}\n--- b\n{}",
        log(&a),
        log(&b)
    );
    assert_eq!(a.stdout, b.stdout, "both report the same key");
    let key = String::from_utf8_lossy(&a.stdout).trim().to_string();
    let dir = format!("mlp-{}", &key[..16]);
    assert_eq!(
        tree(&shared),
        vec![format!("{dir}/weights.bin")],
        "only the weights are left"
    );
    // The same weights, bit for bit, as one process alone.
    finish(train(&alone).spawn().unwrap());
    assert!(
        std::fs::read(shared.join(&dir).join("weights.bin")).unwrap()
            == std::fs::read(alone.join(&dir).join("weights.bin")).unwrap(),
        "the shared weights differ from a lone run's"
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn two_shards_drawn_together_merge_to_the_single_run() {
    let d = scratch("shards");
    let fwi = |out: &Path, cache: &Path, extra: &[&str]| {
        let mut args = vec![
            "fwi",
            "--preset",
            "quick",
            "--priors",
            "learned,memorized",
            "--samples",
            "4",
            "--samples-chung",
            "2",
            "--workers",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        memprior(&args)
    };
    // Both shards start on an empty cache: both need the two networks.
    let together = d.join("together");
    let cache = d.join("weights-shared");
    let s1 = fwi(&together, &cache, &["--shard", "1/2"]).spawn().unwrap();
    let s2 = fwi(&together, &cache, &["--shard", "2/2"]).spawn().unwrap();
    let (o1, o2) = (finish(s1), finish(s2));
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&o1.stderr),
        String::from_utf8_lossy(&o2.stderr)
    );
    // Each of the two networks (N = 20, 50) is trained by one shard and loaded by the other.
    assert_eq!(
        logs.matches("weights from the cache").count(),
        2,
        "each network must be trained once and reused once:\n{logs}"
    );
    finish(fwi(&together, &cache, &["--merge-only"]).spawn().unwrap());
    let single = d.join("single");
    finish(
        fwi(&single, &d.join("weights-single"), &[])
            .spawn()
            .unwrap(),
    );
    for f in [
        "table1.csv",
        "table1_all.csv",
        "lookup_weights.csv",
        "visits.csv",
        "misfit_curves.csv",
        "samples.csv",
    ] {
        assert_eq!(
            std::fs::read_to_string(together.join(f)).unwrap(),
            std::fs::read_to_string(single.join(f)).unwrap(),
            "{f}: the merged concurrent shards differ from the single run"
        );
    }
    // Every sample file is the single run's, byte for byte, and nothing else is left.
    let files = tree(&together.join("samples"));
    assert_eq!(files, tree(&single.join("samples")));
    for f in &files {
        assert!(
            std::fs::read(together.join("samples").join(f)).unwrap()
                == std::fs::read(single.join("samples").join(f)).unwrap(),
            "{f} differs"
        );
    }
    // Pipelined: two processes on N = 20 and one on N = 50, together on a third directory (each
    // loads only its own network, and run.toml collects both). The two on N = 20 share its jobs:
    // every sample is drawn exactly once, and the merge equals the single run.
    let piped = d.join("pipelined");
    let kids = [["--n", "20"], ["--n", "20"], ["--n", "50"]]
        .map(|extra| fwi(&piped, &cache, &extra).spawn().unwrap());
    let logs: String = kids
        .into_iter()
        .map(|k| String::from_utf8_lossy(&finish(k).stderr).into_owned())
        .collect();
    assert_eq!(
        logs.matches("final misfit").count(),
        files.len() - 1,
        "every sample must be drawn exactly once (run.toml aside):\n{logs}"
    );
    assert_eq!(
        logs.matches("weights from the cache").count(),
        3,
        "each process must load only its own network:\n{logs}"
    );
    finish(fwi(&piped, &cache, &["--merge-only"]).spawn().unwrap());
    assert_eq!(tree(&piped.join("samples")), files);
    for f in ["table1_all.csv", "lookup_weights.csv", "samples.csv"] {
        assert_eq!(
            std::fs::read_to_string(piped.join(f)).unwrap(),
            std::fs::read_to_string(single.join(f)).unwrap(),
            "{f}: the merged runs of one N each differ from the single run"
        );
    }
    assert_eq!(
        std::fs::read_to_string(piped.join("samples/run.toml")).unwrap(),
        std::fs::read_to_string(together.join("samples/run.toml")).unwrap(),
        "run.toml must record both networks, as a run over every N does"
    );
    // One weights file per N in the shared cache, and no leftovers.
    let weights: Vec<String> = tree(&cache);
    assert!(
        weights.len() == 2 && weights.iter().all(|w| w.ends_with("/weights.bin")),
        "{weights:?}"
    );
    std::fs::remove_dir_all(d).unwrap();
}
