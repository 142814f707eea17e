//! `cargo xtask slurm`: the cluster scripts of `tools/slurm/` run for real on a single-node Slurm
//! cluster on this machine, and the merged results must equal a single-process run byte for byte.
//!
//! Phases, each named in its error: **install** (Debian's slurmctld, slurmd, slurm-client, munge
//! and GNU parallel, if missing), **daemon start** (munged unless one answers already, then slurmctld and
//! slurmd on a private configuration under `SLURM_CONF`, on ports of their own, so `/etc/slurm` and
//! any cluster this machine belongs to are left alone), **job** (the quick preset through
//! `tools/slurm/submit.sh --wait` with 2 shards, bounded in time) and **comparison**
//! (`table1_all.csv`, `lookup_weights.csv` and every sample file against `memprior fwi` run alone).
//! The same comparison checks `tools/slurm/parallel.sh`, the GNU parallel recipe of one machine
//! (`just fwi-parallel K`), with 3 shards, and the scheduler of `cargo xtask paper` on 3 slots
//! (per-N sampling processes sharing the samples through their locks).
//! The daemons this command started are stopped by their pids on the way out, whatever happened.

mod cluster;

use super::{Result, run, shell, target_dir};
use cluster::{JOB_LIMIT, install, start};
pub use cluster::{PACKAGES, missing};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use xshell::cmd;

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn compare(single: &Path, cluster: &Path) -> Result<usize> {
    let fail = |e: String| format!("slurm comparison: {e}");
    let samples = files(&single.join("samples"));
    let on_cluster = files(&cluster.join("samples"));
    if samples != on_cluster {
        return Err(fail(format!(
            "the sample files differ: {} alone, {} on Slurm",
            samples.len(),
            on_cluster.len()
        )));
    }
    if samples.is_empty() {
        return Err(fail("the single run wrote no sample files".into()));
    }
    let mut compared = 0;
    for rel in ["table1_all.csv", "lookup_weights.csv"]
        .into_iter()
        .map(PathBuf::from)
        .chain(samples.into_iter().map(|s| Path::new("samples").join(s)))
    {
        let read = |d: &Path| {
            std::fs::read(d.join(&rel))
                .map_err(|e| fail(format!("{}: {e}", d.join(&rel).display())))
        };
        if read(single)? != read(cluster)? {
            return Err(fail(format!(
                "{} differs between the single run and the Slurm run",
                rel.display()
            )));
        }
        compared += 1;
    }
    Ok(compared)
}

/// The test; `build`: build the memprior binary first (false when `cargo test` just built it).
pub fn slurm(build: bool) -> Result<()> {
    let t0 = Instant::now();
    if !super::is_root() {
        return Err(
            "slurm: the Slurm test installs packages and starts slurmctld, slurmd and munged as \
             root; run it as root (CI does), or skip it with MEMPRIOR_SKIP_SLURM=1"
                .into(),
        );
    }
    install()?;
    let bin = super::build_memprior(build, "build the memprior command")?;
    let work = target_dir().join("slurm-test");
    let _ = std::fs::remove_dir_all(work.join("runs"));
    let runs = work.join("runs");
    std::fs::create_dir_all(&runs).map_err(|e| e.to_string())?;
    let single = runs.join("single");
    let sh = shell()?;
    let weights = runs.join("weights-single");
    run(
        cmd!(
            sh,
            "{bin} fwi --preset quick --workers 2 --out {single} --cache {weights}"
        ),
        "slurm: the reference, `memprior fwi --preset quick` in one process",
    )
    .map_err(|e| format!("slurm job (reference run): {e}"))?;

    let para = runs.join("parallel");
    let weights = runs.join("weights-parallel");
    run(
        cmd!(
            sh,
            "bash tools/slurm/parallel.sh --preset quick --shards 3 --memprior {bin}
             --out {para} --cache {weights}"
        ),
        "slurm: the GNU parallel recipe (tools/slurm/parallel.sh, 3 shards)",
    )
    .map_err(|e| format!("slurm job (GNU parallel recipe): {e}"))?;
    let compared_parallel = compare(&single, &para)?;
    eprintln!(
        "xtask: slurm: {compared_parallel} files of the GNU parallel run equal the single run"
    );

    // The one-machine scheduler of `cargo xtask paper`: trainings and per-N sampling processes
    // sharing the samples through their locks, on more slots than the quick preset has networks.
    let piped = runs.join("paper-scheduler");
    super::paper::paper(&[
        "--preset".into(),
        "quick".into(),
        "--bundle".into(),
        piped.display().to_string(),
        "--workers".into(),
        "3".into(),
    ])
    .map_err(|e| format!("slurm job (cargo xtask paper --preset quick): {e}"))?;
    let compared_piped = compare(&single, &piped)?;
    eprintln!(
        "xtask: slurm: {compared_piped} files of `cargo xtask paper --preset quick` equal the single run"
    );

    let cluster = start(&work.join("cluster"))?;
    let out = runs.join("cluster");
    let t = Instant::now();
    let weights = runs.join("weights-cluster");
    let submit = cmd!(
        cluster.sh,
        "bash tools/slurm/submit.sh --preset quick --shards 2 --cpus 1 --mem 2G --time 00:15:00
         --partition debug --wait --memprior {bin} --out {out} --cache {weights}"
    );
    eprintln!("xtask: slurm: submit the quick preset as train → 2 sample shards → merge");
    // Spawned, so that the test can give up on a job that hangs.
    let mut child = Command::from(submit)
        .spawn()
        .map_err(|e| format!("slurm job: cannot start tools/slurm/submit.sh: {e}"))?;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if t.elapsed() > JOB_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "slurm job: not finished after {} s (queue and node state in {})\n{}",
                JOB_LIMIT.as_secs(),
                cluster.dir.display(),
                cluster.log_tails()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if !status.success() {
        return Err(format!(
            "slurm job: tools/slurm/submit.sh failed ({status}); job logs in {}",
            out.join("slurm-logs").display()
        ));
    }
    let job_seconds = t.elapsed().as_secs_f64();
    // The training stage must have trained the very networks the shards use: each shard then
    // loads both from the cache instead of training.
    for shard in 1..=2 {
        let log_file = out.join(format!("slurm-logs/sample-{shard}.out"));
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        if log.matches("weights from the cache").count() != 2 {
            return Err(format!(
                "slurm comparison: shard {shard} did not load both networks that the training \
                 stage trained (see {})",
                log_file.display()
            ));
        }
    }
    let compared = compare(&single, &out)?;
    drop(cluster);
    eprintln!(
        "xtask: slurm: {compared} files of the 2-shard Slurm run equal the single-process run \
         byte for byte (Slurm job {job_seconds:.1} s, total {:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
