//! `cargo xtask lab [--port P] [--check]`: JupyterLab on `notebooks/` with the `rust` (evcxr)
//! kernel and the environment the notebooks need: `EVCXR_CONFIG_DIR` (the notebooks' evcxr
//! settings), `MEMPRIOR_BIN` (notebooks 06 and 07 run the command line), a cached evcxr build
//! directory, and a PATH on which the kernel binary is found. JupyterLab is pip-installed into the
//! project venv the first time.
//!
//! `--check` starts the server, waits until its REST API answers, and stops it (SIGTERM, so that
//! it removes its runtime files): the test command runs this.

use super::{Result, build_memprior, evcxr_tmp_root, read, root, run, setup, shell, venv_bin};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use xshell::cmd;

/// The JupyterLab release installed into the venv.
const JUPYTERLAB: &str = "jupyterlab==4.6.6";

fn ensure_jupyterlab() -> Result<()> {
    if venv_bin("jupyter-lab").is_file() {
        return Ok(());
    }
    let sh = shell()?;
    let python = venv_bin("python");
    run(
        cmd!(
            sh,
            "{python} -m pip install --quiet --disable-pip-version-check {JUPYTERLAB}"
        ),
        &format!("install JupyterLab into .venv ({JUPYTERLAB}, first time only)"),
    )
}

/// Whether a Jupyter server answers `GET /api` on `port` with its version.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /api HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200") && reply.contains("\"version\"")
}

fn stop(child: &mut Child) {
    // SIGTERM lets the server delete its runtime files; SIGKILL only if it does not exit.
    let pid = child.id().to_string();
    if let Ok(sh) = shell() {
        let _ = cmd!(sh, "kill -TERM {pid}").quiet().run();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Parse `--port P` and `--check`.
fn parse(args: &[String]) -> Result<(u16, bool)> {
    let mut port = 8888u16;
    let mut check = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--port" => {
                let v = it
                    .next()
                    .ok_or("--port needs a value, for example --port 8890")?;
                port = v.parse().map_err(|_| {
                    format!("--port {v}: not a port number (1–65535), for example --port 8890")
                })?;
                if port == 0 {
                    return Err("--port 0: choose a port in 1–65535".into());
                }
            }
            other => {
                return Err(format!(
                    "lab: unknown argument `{other}`; usage: cargo xtask lab [--port P] [--check]"
                ));
            }
        }
    }
    Ok((port, check))
}

pub fn lab(args: &[String]) -> Result<()> {
    let (port, check) = parse(args)?;
    if answers(port) {
        return Err(format!(
            "port {port} already has a Jupyter server: open http://127.0.0.1:{port}/lab, or pass --port P"
        ));
    }
    setup(false)?;
    ensure_jupyterlab()?;
    let bin = build_memprior(
        false,
        "build the memprior command (notebooks 06 and 07 run it)",
    )?;
    let sh = shell()?;
    let jupyter = venv_bin("jupyter");
    let root_dir = format!(
        "--ServerApp.root_dir={}",
        root().join("notebooks").display()
    );
    // Containers and CI machines run as root; Jupyter refuses that unless told.
    let allow_root = super::is_root().then_some("--allow-root");
    let port_arg = format!("--ServerApp.port={port}");
    // The server runs in the foreground, or in the background for the check: a process.
    let mut cmd = Command::from(
        cmd!(
            sh,
            "{jupyter} lab --no-browser --ip=127.0.0.1 {port_arg}
             --ServerApp.port_retries=0 {root_dir} {allow_root...}"
        )
        .env("EVCXR_CONFIG_DIR", root().join("notebooks/evcxr"))
        .env("EVCXR_TMPDIR", evcxr_tmp_root().join("lab"))
        .env("MEMPRIOR_BIN", &bin),
    );
    if !check {
        eprintln!(
            "xtask: JupyterLab on notebooks/ at http://127.0.0.1:{port}/lab (the token is printed below); Ctrl-C stops it"
        );
        let status = cmd
            .status()
            .map_err(|e| format!("cannot start jupyter lab: {e}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("jupyter lab exited with {status}"))
        };
    }
    let log = super::target_dir().join("lab-check.log");
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| format!("cannot start jupyter lab: {e}"))?;
    let t = Instant::now();
    let limit = Duration::from_secs(120);
    let result = loop {
        if answers(port) {
            break Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!(
                "jupyter lab exited with {status} before answering; see {}",
                log.display()
            ));
        }
        if t.elapsed() > limit {
            break Err(format!(
                "jupyter lab did not answer on port {port} within {} s; see {}",
                limit.as_secs(),
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    stop(&mut child);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    result?;
    // The server listed the kernel the notebooks need.
    let kernels = read(cmd!(sh, "{jupyter} kernelspec list"))
        .ok_or("cannot run jupyter kernelspec list: run cargo xtask setup")?;
    if !kernels
        .lines()
        .any(|l| l.split_whitespace().next() == Some("rust"))
    {
        return Err("the `rust` kernel is not registered: run cargo xtask setup".into());
    }
    if answers(port) {
        return Err(format!("jupyter lab on port {port} did not stop"));
    }
    eprintln!(
        "xtask: lab check: JupyterLab answered on port {port} after {:.1} s and stopped ({} log lines in {})",
        t.elapsed().as_secs_f64(),
        text.lines().count(),
        log.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn arguments_are_parsed_or_named() {
        assert_eq!(parse(&[]).unwrap(), (8888, false));
        let a: Vec<String> = ["--port", "8901", "--check"].map(String::from).to_vec();
        assert_eq!(parse(&a).unwrap(), (8901, true));
        assert!(
            parse(&["--port".into()])
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse(&["--port".into(), "x".into()])
                .unwrap_err()
                .contains("not a port")
        );
        assert!(parse(&["--port".into(), "0".into()]).is_err());
        assert!(parse(&["--nope".into()]).unwrap_err().contains("usage"));
    }
}
