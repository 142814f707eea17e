//! `cargo xtask doctor`: what the README commands need, what is missing, and the fix for each.

use super::*;

/// One line of the setup doctor: what a README command needs, whether it is there, the fix.
pub(crate) struct Finding {
    need: &'static str,
    ok: bool,
    detail: String,
    fix: String,
}

/// The first line of what `cmd` prints (stdout, then stderr), or `None` when it cannot run or
/// fails.
pub(crate) fn version_of(cmd: Cmd<'_>) -> Option<String> {
    let out = cmd.quiet().output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}

/// Check what `cargo xtask report` and `cargo xtask test` need, without installing anything.
pub(crate) fn doctor_findings() -> Vec<Finding> {
    let mut f = Vec::new();
    let sh = match shell() {
        Ok(sh) => sh,
        Err(e) => {
            f.push(Finding {
                need: "a working directory and a shell for the checks",
                ok: false,
                detail: e,
                fix: "run cargo xtask doctor from inside the workspace".into(),
            });
            return f;
        }
    };
    let rustc = version_of(cmd!(sh, "rustc --version"));
    f.push(Finding {
        need: "Rust toolchain (rustc, cargo)",
        ok: rustc.is_some(),
        detail: rustc.unwrap_or_else(|| "rustc not found".into()),
        fix: "install rustup: https://rustup.rs (the README's commands need only cargo)".into(),
    });
    let python = which("python3").and_then(|p| version_of(cmd!(sh, "{p} --version")));
    f.push(Finding {
        need: "Python 3 (creates the project venv)",
        ok: python.is_some(),
        detail: python.unwrap_or_else(|| "python3 not found".into()),
        fix: "apt-get install python3 python3-venv".into(),
    });
    let venv_ok = venv_bin("python").is_file();
    let req = std::fs::read_to_string(root().join("tools/requirements.txt")).ok();
    let stamp = std::fs::read_to_string(venv().join("requirements.installed")).ok();
    let tools_ok = venv_ok && req.is_some() && req == stamp;
    f.push(Finding {
        need: "project venv .venv with tools/requirements.txt (nbconvert, nbclient, playwright, just)",
        ok: tools_ok,
        detail: if !venv_ok {
            "no .venv".into()
        } else if tools_ok {
            format!("{}", venv().display())
        } else {
            "installed requirements differ from tools/requirements.txt".into()
        },
        fix: "cargo xtask setup (creates .venv and pip-installs tools/requirements.txt)".into(),
    });
    // evcxr_jupyter has no --version: its presence is the check.
    let evcxr = which("evcxr_jupyter");
    f.push(Finding {
        need: "evcxr Jupyter kernel binary",
        ok: evcxr.is_some(),
        detail: evcxr.map_or_else(
            || format!("evcxr_jupyter not on PATH or in {}", cargo_bin_dir().display()),
            |p| p.display().to_string(),
        ),
        fix: format!("cargo install evcxr_jupyter --locked --version {EVCXR_VERSION} (or cargo xtask setup; ~12 min)"),
    });
    let kernel = venv_bin("jupyter").is_file() && {
        let jupyter = venv_bin("jupyter");
        read(cmd!(sh, "{jupyter} kernelspec list --json")).is_some_and(|o| o.contains("\"rust\""))
    };
    f.push(Finding {
        need: "Jupyter kernel `rust` registered",
        ok: kernel,
        detail: if kernel {
            "listed by jupyter kernelspec".into()
        } else {
            "not registered".into()
        },
        fix: "evcxr_jupyter --install (or cargo xtask setup)".into(),
    });
    let sysroot_lib = version_of(cmd!(sh, "rustc --print sysroot"))
        .map(|s| PathBuf::from(s).join("lib/rustlib"))
        .filter(|p| p.is_dir());
    f.push(Finding {
        need: "Rust standard library sources for evcxr (rust-src is not needed; the sysroot libs are)",
        ok: sysroot_lib.is_some(),
        detail: sysroot_lib.map_or_else(|| "sysroot not found".into(), |p| p.display().to_string()),
        fix: "rustup toolchain install stable".into(),
    });
    let chrome = chromium();
    f.push(Finding {
        need: "Chromium for the browser check (cargo xtask test only)",
        ok: chrome.is_some(),
        detail: chrome.map_or_else(|| "chromium not found".into(), |p| p.display().to_string()),
        fix: "cargo xtask setup --browser (runs apt-get install -y chromium; needs root or sudo)"
            .into(),
    });
    let slurm_missing = slurm::missing();
    f.push(Finding {
        need: "Slurm, munge and GNU parallel for the Slurm test (cargo xtask test only)",
        ok: slurm_missing.is_empty(),
        detail: if slurm_missing.is_empty() {
            "slurmctld, slurmd, sbatch, munged, parallel found".into()
        } else {
            format!("{} not found", slurm_missing.join(", "))
        },
        fix: format!(
            "cargo xtask slurm installs them (apt-get install -y {}; needs root), or skip the \
             test with MEMPRIOR_SKIP_SLURM=1",
            slurm::PACKAGES.join(" ")
        ),
    });
    let weights = std::env::var_os("MEMPRIOR_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/memprior/weights"))
        });
    let cached = weights
        .as_ref()
        .and_then(|w| std::fs::read_dir(w).ok())
        .map_or(0, |d| d.count());
    f.push(Finding {
        need: "trained prior weights (optional: the report trains them, ≈ 5 min on 2 cores)",
        ok: true,
        detail: format!(
            "{} cached run(s) in {}",
            cached,
            weights.map_or_else(|| "(no HOME)".into(), |w| w.display().to_string())
        ),
        fix: String::new(),
    });
    f
}

pub(crate) fn doctor() -> Result<()> {
    let findings = doctor_findings();
    let missing = findings.iter().filter(|x| !x.ok).count();
    for x in &findings {
        println!(
            "{} {:<74} {}",
            if x.ok { "ok     " } else { "MISSING" },
            x.need,
            x.detail
        );
        if !x.ok {
            println!("        fix: {}", x.fix);
        }
    }
    if missing == 0 {
        println!("doctor: everything `cargo xtask report` and `cargo xtask test` need is present");
        Ok(())
    } else {
        Err(format!(
            "{missing} missing; `cargo xtask report` and `cargo xtask test` install them themselves (except the Rust toolchain and Python), or apply the fixes above"
        ))
    }
}
