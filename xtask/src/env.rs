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

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
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

pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<()> {
    cmd.env("PATH", path_env());
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: failed ({status})"))
    }
}

pub(crate) fn which(name: &str) -> Option<PathBuf> {
    path_env()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
