//! `cargo xtask notebooks`: execute the notebooks headless (cached by the hash of their inputs),
//! check their outputs and export HTML.

use super::*;

pub(crate) fn notebook_paths() -> Result<Vec<PathBuf>> {
    let dir = root().join("notebooks");
    let mut nbs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    nbs.sort();
    Ok(nbs)
}

pub(crate) fn stem_of(nb: &Path) -> String {
    nb.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Problems in an executed notebook: error outputs, and panics that evcxr reports on stderr only.
pub(crate) fn notebook_problems(executed: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(executed)
        .map_err(|e| format!("cannot read {}: {e}", executed.display()))?;
    let nb: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", executed.display()))?;
    let mut problems = Vec::new();
    let cells = nb["cells"].as_array().cloned().unwrap_or_default();
    for (i, cell) in cells.iter().enumerate() {
        if cell["cell_type"] != "code" {
            continue;
        }
        if cell["execution_count"].is_null() {
            problems.push(format!("cell {i} was not executed"));
        }
        let mut stderr = String::new();
        for out in cell["outputs"].as_array().cloned().unwrap_or_default() {
            match out["output_type"].as_str() {
                Some("error") => problems.push(format!(
                    "cell {i}: {} {}",
                    out["ename"].as_str().unwrap_or(""),
                    out["evalue"].as_str().unwrap_or("")
                )),
                Some("stream") if out["name"] == "stderr" => {
                    let t = &out["text"];
                    match t {
                        serde_json::Value::Array(parts) => parts
                            .iter()
                            .for_each(|p| stderr.push_str(p.as_str().unwrap_or(""))),
                        other => stderr.push_str(other.as_str().unwrap_or("")),
                    }
                }
                _ => {}
            }
        }
        if stderr.contains("panicked at") || stderr.contains("Child process terminated") {
            let lines: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(8)
                .collect();
            problems.push(format!(
                "cell {i} panicked:\n      {}",
                lines.join("\n      ")
            ));
        }
    }
    Ok(problems)
}

/// Execute every notebook (or those whose names start with one of `only`); returns stage
/// timings. HTML goes to `target/notebooks/html`.
/// Everything a notebook's execution depends on besides the notebook itself: the workspace's
/// crates (sources, manifests, snapshots: the notebooks `:dep` experiments and run the memprior
/// binary), the lock file, the evcxr configuration and HTML template, the pinned Python tools,
/// and the compiler's version. Hashed once per run.
pub(crate) fn notebook_shared_inputs() -> Result<Vec<u8>> {
    use sha2::{Digest, Sha256};
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            if p.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    walk(&p, out);
                }
            } else {
                out.push(p);
            }
        }
    }
    let dirs = ["crates", "notebooks/evcxr", "notebooks/template"];
    // The files git knows or would add (not ignored scratch such as fuzzing corpora); outside a
    // git checkout, every file under the directories.
    let sh = shell()?;
    let listed = cmd!(
        sh,
        "git ls-files --cached --others --exclude-standard -z -- {dirs...}"
    )
    .quiet()
    .ignore_stderr()
    .output()
    .ok();
    let mut files = Vec::new();
    match listed {
        Some(o) => files.extend(
            o.stdout
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| root().join(String::from_utf8_lossy(p).as_ref()))
                .filter(|p| p.is_file()),
        ),
        None => {
            for dir in dirs {
                walk(&root().join(dir), &mut files);
            }
        }
    }
    for f in ["Cargo.toml", "Cargo.lock", "tools/requirements.txt"] {
        files.push(root().join(f));
    }
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        h.update(
            f.strip_prefix(root())
                .unwrap_or(f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    let rustc = cmd!(sh, "rustc -vV")
        .quiet()
        .read()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    h.update(rustc.as_bytes());
    Ok(h.finalize().to_vec())
}

/// The inputs hash of one notebook: its own bytes and the shared inputs. A notebook whose hash
/// equals the stamp of its last successful execution is not executed again, and its executed
/// copy and page are kept (`MEMPRIOR_NOTEBOOK_CACHE=0` executes every notebook regardless).
pub(crate) fn notebook_hash(nb: &Path, shared: &[u8]) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(nb).map_err(|e| format!("cannot read {}: {e}", nb.display()))?;
    let mut h = Sha256::new();
    h.update(shared);
    h.update(&bytes);
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn notebooks(only: &[String]) -> Result<BTreeMap<String, f64>> {
    let out = target_dir().join("notebooks");
    let (executed_dir, html_dir) = (out.join("executed"), out.join("html"));
    std::fs::create_dir_all(&executed_dir).map_err(|e| e.to_string())?;
    // Pages of unchanged notebooks are kept (see `notebook_hash`); pages of notebooks that no
    // longer exist go.
    std::fs::create_dir_all(&html_dir).map_err(|e| e.to_string())?;
    let stems: Vec<String> = notebook_paths()?.iter().map(|p| stem_of(p)).collect();
    for entry in std::fs::read_dir(&html_dir)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let p = entry.path();
        if p.extension().is_some_and(|x| x == "html") && !stems.contains(&stem_of(&p)) {
            std::fs::remove_file(&p).map_err(|e| e.to_string())?;
        }
    }
    let mut timings = BTreeMap::new();
    let mut failures = Vec::new();
    let paths = notebook_paths()?;
    let stamps = out.join("stamps");
    std::fs::create_dir_all(&stamps).map_err(|e| e.to_string())?;
    let caching = std::env::var_os("MEMPRIOR_NOTEBOOK_CACHE").is_none_or(|v| v != "0");
    let shared = if caching {
        Some(notebook_shared_inputs()?)
    } else {
        None
    };
    let unknown: Vec<&String> = only
        .iter()
        .filter(|o| !paths.iter().any(|p| stem_of(p).starts_with(o.as_str())))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "no notebook starts with {unknown:?}: name them by prefix, for example `cargo xtask notebooks 02 07`"
        ));
    }
    for nb in paths {
        let stem = stem_of(&nb);
        if !only.is_empty() && !only.iter().any(|o| stem.starts_with(o.as_str())) {
            continue;
        }
        let t = Instant::now();
        let executed = executed_dir.join(format!("{stem}.ipynb"));
        let page = html_dir.join(format!("{stem}.html"));
        let stamp = stamps.join(format!("{stem}.sha256"));
        let hash = match &shared {
            Some(shared) => Some(notebook_hash(&nb, shared)?),
            None => None,
        };
        if let Some(h) = &hash
            && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == h)
            && executed.is_file()
            && page.is_file()
        {
            eprintln!(
                "xtask: notebook {stem}: unchanged since its last successful run (inputs {}), kept",
                &h[..12]
            );
            timings.insert(
                format!("notebook {stem} (cached)"),
                t.elapsed().as_secs_f64(),
            );
            continue;
        }
        let _ = std::fs::remove_file(&stamp);
        // One evcxr build directory for all notebooks (they run one after another and `:dep`
        // the same crate): the workspace is compiled once per change, not once per notebook.
        // MEMPRIOR_EVCXR_SHARED=0 gives each notebook its own, as before.
        let tmp = if std::env::var_os("MEMPRIOR_EVCXR_SHARED").is_some_and(|v| v == "0") {
            evcxr_tmp_root().join(&stem)
        } else {
            evcxr_tmp_root().join("notebooks")
        };
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        // The build directory is shared by every checkout on this machine (a CI clone beside the
        // work tree): two kernels building in it at once corrupt each other's `:dep` builds, so
        // one notebook run at a time holds it.
        let _lock = lock_dir(&tmp)?;
        let sh = shell()?;
        let jupyter = venv_bin("jupyter");
        // `--allow-errors`: keep going past a failing cell so that the executed copy is written
        // and `notebook_problems` can name the cell and its error (panics included).
        let exec = run(
            cmd!(
                sh,
                "{jupyter} nbconvert --to notebook --execute --allow-errors --log-level=WARN
                 --ExecutePreprocessor.kernel_name=rust --ExecutePreprocessor.timeout=3600
                 --output-dir {executed_dir} {nb}"
            )
            .env("EVCXR_TMPDIR", &tmp)
            .env("EVCXR_CONFIG_DIR", root().join("notebooks/evcxr"))
            // Notebook 06 runs the trained-network experiment through the command line, so
            // that evcxr never compiles the deep-learning stack.
            .env("MEMPRIOR_BIN", memprior_binary()),
            &format!("execute notebook {stem}"),
        );
        let problems = match exec {
            Ok(()) => notebook_problems(&executed)?,
            Err(e) => vec![e],
        };
        if problems.is_empty() {
            let templates = format!(
                "--TemplateExporter.extra_template_basedirs={}",
                root().join("notebooks/template").display()
            );
            run(
                cmd!(
                    sh,
                    "{jupyter} nbconvert --to html --log-level=WARN --template memprior {templates}
                     --output-dir {html_dir} {executed}"
                ),
                &format!("export notebook {stem} to HTML"),
            )?;
            let secs = t.elapsed().as_secs_f64();
            if let Some(h) = &hash {
                std::fs::write(&stamp, h).map_err(|e| e.to_string())?;
            }
            eprintln!("xtask: notebook {stem}: ok in {secs:.1} s");
            timings.insert(format!("notebook {stem}"), secs);
        } else {
            eprintln!(
                "xtask: notebook {stem}: FAILED\n    {}",
                problems.join("\n    ")
            );
            failures.push(stem);
        }
    }
    let json = serde_json::to_string_pretty(&timings).map_err(|e| e.to_string())?;
    std::fs::write(out.join("timings.json"), json).map_err(|e| e.to_string())?;
    if failures.is_empty() {
        Ok(timings)
    } else {
        Err(format!("notebooks failed: {}", failures.join(", ")))
    }
}

/// An exclusive lock on `dir` (a `.xtask.lock` file in it), waiting for another holder; released
/// when the returned file is dropped or the process ends.
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(".xtask.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!(
            "xtask: waiting for another notebook run to release {}",
            dir.display()
        );
        file.lock()
            .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    }
    Ok(file)
}
