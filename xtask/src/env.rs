//! Paths, the environment of child processes and running them.

use super::*;

pub(crate) const EVCXR_VERSION: &str = "0.22.0";

pub(crate) fn root() -> PathBuf {
    // The runtime value: a target directory shared by several clones may hold a binary built
    // for another checkout, whose compile-time path would point there.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Cargo's target directory; a relative `CARGO_TARGET_DIR` is taken from the workspace root, as
/// cargo takes it when run there (the commands of xtask run in the root).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root().join(d))
        .unwrap_or_else(|| root().join("target"))
}

pub(crate) fn cargo_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
        .join("bin")
}

/// Per-notebook evcxr build directories. They must lie outside this workspace's directory tree
/// (cargo refuses a package nested in a workspace that does not list it), and they persist so
/// that a rerun's first cell takes seconds instead of minutes.
pub(crate) fn evcxr_tmp_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("memprior/evcxr")
}

pub(crate) fn venv() -> PathBuf {
    root().join(".venv")
}

pub(crate) fn venv_bin(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

/// PATH with the venv and cargo's bin first, so that `jupyter` finds the evcxr kernel binary.
pub(crate) fn path_env() -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!(
        "{}:{}:{old}",
        venv().join("bin").display(),
        cargo_bin_dir().display()
    )
}

/// The shell every command of xtask runs in: the workspace root as its directory, and PATH with
/// the venv and cargo's bin first ([`path_env`]).
pub(crate) fn shell() -> Result<Shell> {
    let sh = Shell::new().map_err(|e| format!("cannot start a shell: {e}"))?;
    sh.change_dir(root());
    sh.set_var("PATH", path_env());
    Ok(sh)
}

/// Run `cmd` to completion, saying `what` it does first; an error names `what` and the cause.
pub(crate) fn run(cmd: Cmd<'_>, what: &str) -> Result<()> {
    eprintln!("xtask: {what}");
    cmd.quiet().run().map_err(|e| format!("{what}: {e}"))
}

/// The trimmed standard output of `cmd`, or `None` when it cannot run or fails.
pub(crate) fn read(cmd: Cmd<'_>) -> Option<String> {
    cmd.quiet().ignore_stderr().read().ok()
}

pub(crate) fn which(name: &str) -> Option<PathBuf> {
    path_env()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

pub(crate) fn is_root() -> bool {
    shell()
        .ok()
        .and_then(|sh| read(cmd!(sh, "id -u")))
        .is_some_and(|u| u == "0")
}
