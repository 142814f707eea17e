//! `cargo xtask setup`: the venv, the evcxr kernel and Chromium, installed idempotently.

use super::*;

pub(crate) fn setup_venv() -> Result<()> {
    let req_path = root().join("tools/requirements.txt");
    let req = std::fs::read_to_string(&req_path)
        .map_err(|e| format!("cannot read {}: {e}", req_path.display()))?;
    let sh = shell()?;
    if !venv_bin("python").is_file() {
        let python = which("python3")
            .ok_or("python3 not found: install Python 3 (apt-get install python3 python3-venv)")?;
        let venv = venv();
        run(cmd!(sh, "{python} -m venv {venv}"), "create the project venv .venv").map_err(|e| {
            format!("{e}\n  fix: apt-get install python3-venv (Debian's python3 needs it for `python3 -m venv`)")
        })?;
    }
    let stamp = venv().join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(req.as_str()) {
        return Ok(());
    }
    let python = venv_bin("python");
    run(
        cmd!(
            sh,
            "{python} -m pip install --quiet --disable-pip-version-check -r {req_path}"
        ),
        "install notebook and browser-test tools into .venv (tools/requirements.txt)",
    )?;
    std::fs::write(&stamp, req).map_err(|e| e.to_string())
}

pub(crate) fn setup_evcxr() -> Result<()> {
    let sh = shell()?;
    if which("evcxr_jupyter").is_none() {
        run(
            cmd!(
                sh,
                "cargo install evcxr_jupyter --locked --version {EVCXR_VERSION}"
            ),
            "install the evcxr Jupyter kernel (first time only, ~12 min)",
        )?;
    }
    let jupyter = venv_bin("jupyter");
    let specs = cmd!(sh, "{jupyter} kernelspec list --json")
        .quiet()
        .read()
        .map_err(|e| format!("cannot run jupyter kernelspec: {e}"))?;
    if !specs.contains("\"rust\"") {
        run(
            cmd!(sh, "evcxr_jupyter --install"),
            "register the evcxr kernel (kernel name `rust`)",
        )?;
    }
    Ok(())
}

pub(crate) fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|n| which(n))
        .or_else(|| {
            let p = PathBuf::from("/usr/bin/chromium");
            p.is_file().then_some(p)
        })
}

pub(crate) fn setup_browser() -> Result<()> {
    if chromium().is_some() {
        return Ok(());
    }
    let fix = "install Debian's Chromium: apt-get update && apt-get install -y chromium";
    let prefix: Vec<&str> = if is_root() {
        vec![]
    } else if which("sudo").is_some() {
        vec!["sudo", "-n"]
    } else {
        return Err(format!(
            "Chromium is missing and this user cannot install packages\n  fix: {fix} (as root)"
        ));
    };
    let sh = shell()?;
    let apt = |args: &[&str]| {
        let mut full: Vec<&str> = prefix.clone();
        full.push("apt-get");
        full.extend_from_slice(args);
        let (program, rest) = full.split_first().expect("apt-get is listed");
        cmd!(sh, "{program} {rest...}").env("DEBIAN_FRONTEND", "noninteractive")
    };
    run(apt(&["update", "-q"]), "apt-get update").map_err(|e| format!("{e}\n  fix: {fix}"))?;
    run(
        apt(&["install", "-y", "-q", "chromium"]),
        "install Chromium for the browser check",
    )
    .map_err(|e| format!("{e}\n  fix: {fix}"))
}

pub(crate) fn setup(browser: bool) -> Result<()> {
    let t = Instant::now();
    setup_venv()?;
    setup_evcxr()?;
    if browser {
        setup_browser()?;
    }
    eprintln!(
        "xtask: setup complete in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
