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

use super::{Result, run, shell, target_dir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use xshell::{Cmd, Shell, cmd};

pub const PACKAGES: [&str; 5] = ["slurmctld", "slurmd", "slurm-client", "munge", "parallel"];
const CTLD_PORT: u16 = 16817;
const SLURMD_PORT: u16 = 16818;
/// The whole Slurm job (three stages of the quick preset, about a minute) must end within this.
const JOB_LIMIT: Duration = Duration::from_secs(15 * 60);

fn find(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

use super::read as output;

/// The programs of the test that are not installed.
pub fn missing() -> Vec<&'static str> {
    ["slurmctld", "slurmd", "sbatch", "munged", "parallel"]
        .into_iter()
        .filter(|b| find(b).is_none())
        .collect()
}

fn install() -> Result<()> {
    let missing = missing();
    if missing.is_empty() {
        return Ok(());
    }
    let fix = format!(
        "apt-get update && apt-get install -y {}",
        PACKAGES.join(" ")
    );
    let sh = shell()?;
    let apt =
        |args: &[&str]| cmd!(sh, "apt-get {args...}").env("DEBIAN_FRONTEND", "noninteractive");
    let what = format!("install Slurm and munge ({} missing)", missing.join(", "));
    let mut args = vec!["install", "-y", "-q"];
    args.extend(PACKAGES);
    if run(apt(&args), &what).is_err() {
        // A fresh machine may have no package lists yet.
        run(apt(&["update", "-q"]), "apt-get update")
            .map_err(|e| format!("slurm install: {e}\n  fix: {fix}"))?;
        run(apt(&args), &what).map_err(|e| format!("slurm install: {e}\n  fix: {fix}"))?;
    }
    Ok(())
}

/// Whether `pid` is a running (not zombie) process named `comm`.
fn alive(pid: u32, comm: &str) -> bool {
    let named =
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm);
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    });
    named && !zombie
}

fn read_pid(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// SIGTERM, then SIGKILL after 10 s, to `pid` if it is still the process named `comm`.
fn stop(pid: u32, comm: &str) {
    if !alive(pid, comm) {
        return;
    }
    let Ok(sh) = shell() else { return };
    let pid_s = pid.to_string();
    let _ = cmd!(sh, "kill {pid_s}").quiet().ignore_stderr().run();
    let t = Instant::now();
    while alive(pid, comm) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(pid, comm) {
        let _ = cmd!(sh, "kill -9 {pid_s}").quiet().ignore_stderr().run();
    }
}

/// The daemons this run started; dropping it cancels the jobs and stops them.
struct Cluster {
    /// The shell of the cluster's commands: `SLURM_CONF` names the private configuration.
    sh: Shell,
    dir: PathBuf,
    conf: PathBuf,
    munged: Option<u32>,
}

impl Cluster {
    fn command(&self, program: &str) -> Cmd<'_> {
        cmd!(self.sh, "{program}")
    }

    fn log_tails(&self) -> String {
        ["slurmctld.log", "slurmd.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "--- {f} (last lines)\n{}",
                    lines[lines.len().saturating_sub(8)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("scancel")
            .args(["--full", "--partition=debug"])
            .quiet()
            .ignore_stderr()
            .run();
        for (file, comm) in [("slurmd.pid", "slurmd"), ("slurmctld.pid", "slurmctld")] {
            if let Some(pid) = read_pid(&self.dir.join(file)) {
                stop(pid, comm);
            }
        }
        if let Some(pid) = self.munged {
            stop(pid, "munged");
        }
        eprintln!("xtask: slurm: daemons stopped");
    }
}

/// Whether `munge -n | unmunge` succeeds.
fn munge_answers(sh: &Shell) -> bool {
    let Some(cred) = output(cmd!(sh, "munge -n")) else {
        return false;
    };
    cmd!(sh, "unmunge")
        .stdin(cred)
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
}

/// Start munged if none answers; returns its pid if this call started it.
fn start_munge(sh: &Shell) -> Result<Option<u32>> {
    if munge_answers(sh) {
        return Ok(None);
    }
    let fail = |e: String| format!("slurm daemon start (munged): {e}");
    let key = Path::new("/etc/munge/munge.key");
    if !key.is_file() {
        run(
            cmd!(sh, "mungekey --create --keyfile {key}"),
            "create the munge key",
        )
        .map_err(fail)?;
        run(
            cmd!(sh, "chown munge:munge {key}"),
            "give the munge key to munge",
        )
        .map_err(fail)?;
    }
    std::fs::create_dir_all("/run/munge").map_err(|e| fail(e.to_string()))?;
    run(
        cmd!(sh, "chown munge:munge /run/munge"),
        "give /run/munge to munge",
    )
    .map_err(fail)?;
    run(cmd!(sh, "runuser -u munge -- munged"), "start munged").map_err(fail)?;
    let pid = read_pid(Path::new("/run/munge/munged.pid"));
    let t = Instant::now();
    while !munge_answers(sh) {
        if t.elapsed() > Duration::from_secs(20) {
            return Err(fail(
                "munged started but does not answer `munge -n | unmunge`".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(pid)
}

fn slurm_conf(sh: &Shell, dir: &Path) -> Result<String> {
    let host = output(cmd!(sh, "hostname -s"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .ok_or("slurm daemon start: `hostname -s` gave no name")?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // `slurmd -C` reports what the node has; leave a tenth (at least 1 GiB) for the system.
    let real = output(cmd!(sh, "slurmd -C"))
        .and_then(|s| {
            s.split_whitespace()
                .find_map(|w| w.strip_prefix("RealMemory=")?.parse::<u64>().ok())
        })
        .ok_or("slurm daemon start: `slurmd -C` reported no RealMemory")?;
    let memory = real.saturating_sub((real / 10).max(1024)).max(1024);
    let d = dir.display();
    Ok(format!(
        "# Written by `cargo xtask slurm`: a private single-node cluster for the test.
ClusterName=memprior-test
SlurmctldHost={host}
SlurmctldPort={CTLD_PORT}
SlurmdPort={SLURMD_PORT}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"
    ))
}

fn start(dir: &Path) -> Result<Cluster> {
    // Daemons of an earlier run that died before stopping them.
    for (file, comm) in [("slurmd.pid", "slurmd"), ("slurmctld.pid", "slurmctld")] {
        if let Some(pid) = read_pid(&dir.join(file)) {
            stop(pid, comm);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    for sub in ["state", "spool"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("slurm daemon start: {e}"))?;
    }
    let conf = dir.join("slurm.conf");
    let sh = shell()?;
    std::fs::write(&conf, slurm_conf(&sh, dir)?).map_err(|e| format!("slurm daemon start: {e}"))?;
    let munged = start_munge(&sh)?;
    sh.set_var("SLURM_CONF", &conf);
    let cluster = Cluster {
        sh,
        dir: dir.to_path_buf(),
        conf,
        munged,
    };
    let t = Instant::now();
    for daemon in ["slurmctld", "slurmd"] {
        run(cluster.command(daemon), &format!("start {daemon}"))
            .map_err(|e| format!("slurm daemon start: {e}\n{}", cluster.log_tails()))?;
    }
    loop {
        let state = output(cluster.command("sinfo").args(["-h", "-o", "%T"])).unwrap_or_default();
        if state.trim() == "idle" {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "slurm daemon start: the node is `{}` after 60 s, not idle\n{}",
                state.trim(),
                cluster.log_tails()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "xtask: slurm: single-node cluster up in {:.1} s ({})",
        t.elapsed().as_secs_f64(),
        cluster.conf.display()
    );
    Ok(cluster)
}

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
