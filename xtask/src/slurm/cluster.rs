//! The single-node cluster of the Slurm test: installing Slurm and munge, a private
//! configuration, starting the daemons and stopping by their pids the ones this run started.

use super::super::{Result, run, shell};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use xshell::{Cmd, Shell, cmd};

pub const PACKAGES: [&str; 5] = ["slurmctld", "slurmd", "slurm-client", "munge", "parallel"];
const CTLD_PORT: u16 = 16817;
const SLURMD_PORT: u16 = 16818;
/// The whole Slurm job (three stages of the quick preset, about a minute) must end within this.
pub(super) const JOB_LIMIT: Duration = Duration::from_secs(15 * 60);

fn find(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

use super::super::read as output;

/// The programs of the test that are not installed.
pub fn missing() -> Vec<&'static str> {
    ["slurmctld", "slurmd", "sbatch", "munged", "parallel"]
        .into_iter()
        .filter(|b| find(b).is_none())
        .collect()
}

pub(super) fn install() -> Result<()> {
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
pub(super) struct Cluster {
    /// The shell of the cluster's commands: `SLURM_CONF` names the private configuration.
    pub(super) sh: Shell,
    pub(super) dir: PathBuf,
    conf: PathBuf,
    munged: Option<u32>,
}

impl Cluster {
    fn command(&self, program: &str) -> Cmd<'_> {
        cmd!(self.sh, "{program}")
    }

    pub(super) fn log_tails(&self) -> String {
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

pub(super) fn start(dir: &Path) -> Result<Cluster> {
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
