//! The HTML report, rendered from results directories: every section is a function from the
//! results an experiment command wrote (and the report's provenance) to HTML, and none of them
//! runs an experiment. `cargo xtask report` runs the commands first (`memprior stylized`,
//! `memprior helmholtz example`, `memprior prior memorization`, `memprior fwi`), then
//! `memprior report --results DIR` calls [`build`].
//!
//! The pages are askama templates (`templates/`) with auto-escaping; plotly.js and MathJax are
//! served from `assets/`, so no request leaves the machine. The report is staged in a hidden
//! sibling directory and moved into place file by file at the end, so an interrupted build
//! leaves the previous report readable.

use anyhow::{Context, Result, bail};
use askama::Template;
use memprior_core::atomic::{self, Staging};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod content;
mod dps;
mod fwi;
pub mod page;
mod paper;
mod prior;
pub mod provenance;
pub mod stylized;

use page::{EquationsPage, IndexPage, NotebookFooter, PerformancePage, Table};
use provenance::Provenance;

/// The report's experiment stages (`stages.tsv`): directory, what it does, `memprior` arguments.
pub const STAGES: &str = include_str!("../stages.tsv");

/// The (directory, description, arguments) lines of [`STAGES`].
fn stage_lines() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    STAGES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, f.next()?, f.next()?))
        })
}

/// The results directories a report is rendered from, one per experiment, each as its command
/// writes it.
#[derive(Debug, Clone)]
pub struct Results {
    /// `memprior stylized --out DIR`.
    pub stylized: PathBuf,
    /// `memprior helmholtz example --out DIR`.
    pub fwi: PathBuf,
    /// `memprior prior memorization --out DIR`.
    pub prior: PathBuf,
    /// `memprior fwi --out DIR`.
    pub dps: PathBuf,
}

impl Results {
    /// The standard layout under one root: `stylized/`, `fwi/`, `prior/`, `dps/`.
    pub fn under(root: &Path) -> Self {
        Self {
            stylized: root.join("stylized"),
            fwi: root.join("fwi"),
            prior: root.join("prior"),
            dps: root.join("dps"),
        }
    }

    /// Each directory with the command that writes it, in the order a report runs them (from
    /// [`STAGES`], which `cargo xtask report` runs as well).
    pub fn stages(&self, preset: &str) -> Vec<(&Path, Vec<String>)> {
        stage_lines()
            .map(|(dir, _, args)| {
                let path = match dir {
                    "stylized" => self.stylized.as_path(),
                    "fwi" => self.fwi.as_path(),
                    "prior" => self.prior.as_path(),
                    _ => self.dps.as_path(),
                };
                let args = args
                    .split_whitespace()
                    .map(|a| {
                        a.replace("{preset}", preset)
                            .replace("{out}", &path.display().to_string())
                    })
                    .collect();
                (path, args)
            })
            .collect()
    }

    /// Fail, naming the command to run, when a directory lacks a file the report reads.
    fn check(&self) -> Result<()> {
        let required: [(&Path, &[&str], &str); 4] = [
            (
                &self.stylized,
                &[stylized::RESULTS, "config.toml", "summary.json"],
                "memprior stylized --out",
            ),
            (
                &self.fwi,
                &[
                    "true_model_velocity_small.npy",
                    "true_model_slowness2_small.npy",
                    "true_model_kl.npy",
                    "wavefield_re_source3_small.npy",
                    "geometry_small.toml",
                    "true_data_small.npy",
                    "datasets.toml",
                    "true_model.json",
                ],
                "memprior helmholtz example --out",
            ),
            (
                &self.prior,
                &[
                    "config.toml",
                    "memorization.csv",
                    "ratios.csv",
                    "training_curves.csv",
                ],
                "memprior prior memorization --out",
            ),
            (
                &self.dps,
                &["config.toml", "references.json", "table1.csv"],
                "memprior fwi --out",
            ),
        ];
        for (dir, files, command) in required {
            if let Some(file) = files.iter().find(|f| !dir.join(f).is_file()) {
                bail!(
                    "no complete results in {}: {file} is missing; run `{command} {}` first (or `cargo xtask report`, which runs every experiment, then renders)",
                    dir.display(),
                    dir.display()
                );
            }
        }
        Ok(())
    }
}

/// What the report is built from.
pub struct ReportInputs {
    /// Report directory.
    pub out: PathBuf,
    /// The experiments' results.
    pub results: Results,
    /// Directory of executed notebooks (HTML) to include.
    pub notebooks: Option<PathBuf>,
    /// Extra stage timings (JSON object name → seconds).
    pub timings: Option<PathBuf>,
    /// Directory of performance measurements (CSV) for the performance page.
    pub performance: Option<PathBuf>,
    /// Results bundle of the paper-scale run (`data/paper/`), shown in its own section.
    pub paper_bundle: PathBuf,
}

const TITLE: &str = "Memorization in learned priors — report";

/// One row of Figure 3: the KL coefficients `sample` beside `nearest`, its nearest training model,
/// as velocity images on `g`, titled and with plot ids `{id}-sample-{rank}` and
/// `{id}-nearest-{rank}`.
pub(crate) fn sample_beside_nearest(
    kl: &experiments::priors::KlBasis,
    g: &experiments::operators::helmholtz::Geometry,
    (sample, sample_title): (&[f64], &str),
    (nearest, index): (&[f64], usize),
    (id, rank): (&str, usize),
) -> Result<String> {
    use experiments::fwi::figures::velocity_image;
    let a = velocity_image(
        &kl.reconstruct(sample, g.nx, g.nz)?,
        g.nx,
        g.nz,
        g.h,
        sample_title,
    );
    let b = velocity_image(
        &kl.reconstruct(nearest, g.nx, g.nz)?,
        g.nx,
        g.nz,
        g.h,
        &format!("nearest training model {index}"),
    );
    Ok(format!(
        "<div class=\"pair\">{}{}</div>",
        a.to_inline_html(Some(&format!("{id}-sample-{rank}"))),
        b.to_inline_html(Some(&format!("{id}-nearest-{rank}")))
    ))
}

/// Copy the files below `from` into `to` (subdirectories too), atomically each, except the
/// entries named in `skip` (files or directories, at any depth).
pub(crate) fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    let entries =
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("cannot read {}", from.display()))?;
        let (src, name) = (e.path(), e.file_name());
        if skip.iter().any(|s| name == **s) {
            continue;
        }
        if src.is_dir() {
            copy_tree(&src, &to.join(&name), skip)?;
        } else {
            let bytes =
                std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
            atomic::write(&to.join(&name), &bytes)?;
        }
    }
    Ok(())
}

/// The executed notebooks of `dir` (file names, sorted), copied into `root/notebooks/`.
fn copy_notebooks(dir: Option<&Path>, root: &Path) -> Result<Vec<String>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read notebooks directory {}", dir.display()))?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    for n in &names {
        atomic::write(
            &root.join("notebooks").join(n),
            &std::fs::read(dir.join(n))?,
        )?;
    }
    Ok(names)
}

/// The extra stage timings of a JSON object file (name → seconds).
fn read_timings(path: &Path) -> Result<Vec<(String, f64)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read timings file {}", path.display()))?;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| {
            format!(
                "timings file {} must be a JSON object of seconds",
                path.display()
            )
        })?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.as_f64().unwrap_or(f64::NAN)))
        .collect())
}

/// Render the report from `inputs.results` into `inputs.out`.
///
/// # Errors
/// A results directory that is missing or does not read back (the message names the command to
/// run), or a file that cannot be written. The previous report is then left as it was.
pub fn build(inputs: &ReportInputs) -> Result<()> {
    let results = &inputs.results;
    results.check()?;
    let t = Instant::now();
    let (res, cfg) = stylized::load_results(&results.stylized)?;
    let config_text = toml::to_string_pretty(&cfg)?;
    let mut prov = Provenance::collect(&config_text, vec![("stylized.seed".into(), cfg.seed)]);
    if let Some(path) = &inputs.timings {
        prov.timings.extend(read_timings(path)?);
    }
    let staging = Staging::new(&inputs.out)?;
    let root = staging.path().to_path_buf();

    let (plotly_js, mathjax_js) = experiments::html::offline_js();
    atomic::write(&root.join("assets/plotly.min.js"), plotly_js.as_bytes())?;
    atomic::write(&root.join("assets/tex-svg.js"), mathjax_js.as_bytes())?;
    atomic::write(&root.join("assets/style.css"), content::STYLE.as_bytes())?;
    let notebooks = copy_notebooks(inputs.notebooks.as_deref(), &root)?;

    // Each section copies the data it shows into data/ and renders from its results directory.
    copy_tree(
        &results.stylized,
        &root.join("data/stylized"),
        &[stylized::RESULTS],
    )?;
    let stylized = content::figures(&res, &cfg, &notebooks, &prov.config_hash);
    copy_tree(&results.fwi, &root.join("data/fwi"), &[])?;
    let fwi = fwi::section(&results.fwi, &notebooks)?;
    let prior = prior::section(&root, &notebooks, &results.prior)?;
    prov.timings.extend(prior.timings);
    prov.seeds.extend(prior.seeds);
    let dps = dps::section(&root, &notebooks, &results.dps)?;
    prov.seeds.extend(dps.seeds);
    let paper = paper::section(&root, &inputs.paper_bundle)?;
    let (differences_intro, differences) = content::differences();
    prov.timings
        .push(("render the report".into(), t.elapsed().as_secs_f64()));

    let index = IndexPage {
        title: TITLE,
        prov: &prov,
        with_timings: true,
        stylized,
        fwi,
        prior: prior.html,
        dps: dps.html,
        paper,
        notebooks: notebooks.clone(),
        equations: Table::from_markdown(content::EQUATIONS),
        differences_intro,
        differences,
        stylized_tables: content::STYLIZED_TABLES.to_vec(),
    };
    atomic::write(&root.join("index.html"), index.render()?.as_bytes())?;
    let equations = EquationsPage {
        title: "Equations — report",
        prov: &prov,
        with_timings: false,
        rows: content::equation_rows(&notebooks),
    };
    atomic::write(&root.join("equations.html"), equations.render()?.as_bytes())?;
    let performance = PerformancePage {
        title: "Performance — report",
        prov: &prov,
        with_timings: false,
        machine: inputs.performance.as_deref().and_then(fwi::machine),
        sections: match &inputs.performance {
            Some(dir) => fwi::performance(&root, dir)?,
            None => Vec::new(),
        },
    };
    atomic::write(
        &root.join("performance.html"),
        performance.render()?.as_bytes(),
    )?;
    // Provenance on every notebook page too.
    let footer = NotebookFooter {
        prov: &prov,
        with_timings: false,
    }
    .render()?;
    for n in &notebooks {
        let path = root.join("notebooks").join(n);
        let text = std::fs::read_to_string(&path)?;
        let text = match text.rfind("</body>") {
            Some(i) => format!("{}{footer}{}", &text[..i], &text[i..]),
            None => text + &footer,
        };
        atomic::write(&path, text.as_bytes())?;
    }
    atomic::write(
        &root.join("provenance.json"),
        serde_json::to_string_pretty(&prov)?.as_bytes(),
    )?;
    staging.commit()?;
    tracing::info!("report: wrote {}/index.html", inputs.out.display());
    for (k, v) in &prov.timings {
        tracing::info!("  {k:<40} {v:8.2} s");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stages_write_every_results_directory_once() {
        let dirs: Vec<&str> = stage_lines().map(|(d, _, _)| d).collect();
        assert_eq!(dirs, ["stylized", "fwi", "prior", "dps"]);
        let r = Results::under(Path::new("/r"));
        for (path, args) in r.stages("quick") {
            let out = args.iter().position(|a| a == "--out").unwrap();
            assert_eq!(Path::new(&args[out + 1]), path);
            assert!(!args.iter().any(|a| a.contains('{')), "{args:?}");
        }
    }
}
