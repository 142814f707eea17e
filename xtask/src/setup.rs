//! `cargo xtask setup`: the venv, the evcxr kernel and Chromium, installed idempotently.

use super::*;

pub(crate) fn setup_venv() -> Result<()> {
    let req_path = root().join("tools/requirements.txt");
    let req = std::fs::read_to_string(&req_path)
        .map_err(|e| format!("cannot read {}: {e}", req_path.display()))?;
    if !venv_bin("python").is_file() {
        let python = which("python3")
            .ok_or("python3 not found: install Python 3 (apt-get install python3 python3-venv)")?;
        run(Command::new(python).args(["-m", "venv"]).arg(venv()), "create the project venv .venv").map_err(|e| {
            format!("{e}\n  fix: apt-get install python3-venv (Debian's python3 needs it for `python3 -m venv`)")
        })?;
    }
    let stamp = venv().join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(req.as_str()) {
        return Ok(());
    }
    run(
        Command::new(venv_bin("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&req_path),
        "install notebook and browser-test tools into .venv (tools/requirements.txt)",
    )?;
    std::fs::write(&stamp, req).map_err(|e| e.to_string())
}

pub(crate) fn setup_evcxr() -> Result<()> {
    if which("evcxr_jupyter").is_none() {
        run(
            Command::new("cargo").args([
                "install",
                "evcxr_jupyter",
                "--locked",
                "--version",
                EVCXR_VERSION,
            ]),
            "install the evcxr Jupyter kernel (first time only, ~12 min)",
        )?;
    }
    let specs = Command::new(venv_bin("jupyter"))
        .args(["kernelspec", "list", "--json"])
        .env("PATH", path_env())
        .output()
        .map_err(|e| format!("cannot run jupyter kernelspec: {e}"))?;
    let listed = String::from_utf8_lossy(&specs.stdout).contains("\"rust\"");
    if !listed {
        run(
            Command::new("evcxr_jupyter").arg("--install"),
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
    let apt = |args: &[&str]| {
        let mut full: Vec<&str> = prefix.clone();
        full.push("apt-get");
        full.extend_from_slice(args);
        let mut c = Command::new(full[0]);
        c.args(&full[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-q"]), "apt-get update").map_err(|e| format!("{e}\n  fix: {fix}"))?;
    run(
        &mut apt(&["install", "-y", "-q", "chromium"]),
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
