//! Report section of the paper-scale run: Table 1 and Figures 2–5 drawn from the committed
//! results bundle `data/paper/` (written by `cargo xtask paper`) without a solve, beside the
//! default run, and labelled with the bundle's provenance. While the run is under way the section
//! says how far it is; a bundle of another sample format fails the report with what to rerun.

use crate::report_dps::{figures_html, findings, table_html};
use anyhow::{Result, bail};
use experiments::fwi::bundle;
use experiments::fwi::dps::{self, DpsConfig};
use std::fmt::Write as _;
use std::path::Path;

/// Sample files in `bundle/samples/<group>/`.
fn drawn(bundle: &Path, group: &str) -> usize {
    std::fs::read_dir(bundle.join("samples").join(group)).map_or(0, |f| {
        f.flatten()
            .filter(|f| f.path().extension().is_some_and(|e| e == "npy"))
            .count()
    })
}

/// The provenance line of the bundle: commit, machine and the core hours of each stage.
fn provenance_line(bundle: &Path) -> String {
    let Some(p) = std::fs::read_to_string(bundle.join("provenance.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return "no provenance.json in the bundle".into();
    };
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    let hours = |key: &str| p["total_seconds"][key].as_f64().unwrap_or(0.0) / 3600.0;
    let sessions = p["sessions"].as_array().map_or(0, Vec::len);
    format!(
        "commit <code>{}</code>{}, sample format <code>{}</code>, {} ({} cores); core hours: training {:.1}, sampling {:.1}, \
         merge {:.2}; wall {:.1} h over {sessions} session(s)",
        s(&p["commit"]).chars().take(12).collect::<String>(),
        if p["uncommitted_changes"].as_bool() == Some(true) {
            " (with uncommitted changes)"
        } else {
            ""
        },
        s(&p["sample_format"]),
        s(&p["machine"]["cpu"]),
        p["machine"]["cores"].as_u64().unwrap_or(0),
        hours("train"),
        hours("sample"),
        hours("merge"),
        hours("wall"),
    )
}

/// The section's HTML; copies the bundle's tables into `root/data/paper/` for its links.
///
/// # Errors
/// A bundle of another sample format, or a complete bundle that cannot be read.
pub fn section(root: &Path, bundle: &Path) -> Result<String> {
    let mut html = String::from(
        "<h2 id=\"paper-scale\">At the paper's scale (Table 1, Figures 2–5)</h2>\
         <p>The posterior experiment above at the paper's own scale: the 200² grid at 6 Hz, the paper's 51 M-parameter \
         network trained with the paper's recipe for N = 50, 200 and 1000, 256 samples of the paper's DPS variant per N for \
         the learned prior, and 64 samples of each closed-form control and 16 of Chung et al.'s variant per prior and N. \
         It is drawn from the committed bundle <code>data/paper/</code> (the output of <code>cargo xtask paper</code>), not \
         recomputed by the report.</p>",
    );
    if !bundle.join("samples/run.toml").is_file() {
        let _ = write!(
            html,
            "<p><strong>Not run yet</strong>: no samples in <code>{}</code>. Run <code>cargo xtask paper</code> (resumable; \
             see the README, \"The paper at its own scale\", for its cost), then rebuild the report.</p>",
            bundle.display()
        );
        return Ok(html);
    }
    let format = bundle::sample_format(bundle)?;
    if format != dps::SAMPLE_FORMAT {
        bail!(
            "the paper-scale bundle {} holds samples of `{format}`, and this code draws `{}`: its numbers are not this \
             code's. Delete {} and rerun `cargo xtask paper`, or build the report at the commit its provenance.json names",
            bundle.display(),
            dps::SAMPLE_FORMAT,
            bundle.join("samples").display()
        );
    }
    let label = provenance_line(bundle);
    if !bundle.join(bundle::REFERENCES).is_file() {
        // Under way: how many samples of each group are on disk.
        let config = DpsConfig::preset("paper")?;
        let mut rows = String::new();
        let (mut done, mut total) = (0, 0);
        let jobs = config.jobs();
        let mut groups: Vec<String> = jobs.iter().map(dps::Job::group).collect();
        groups.dedup();
        for g in &groups {
            let want = jobs.iter().filter(|j| &j.group() == g).count();
            let have = drawn(bundle, g).min(want);
            done += have;
            total += want;
            let _ = write!(rows, "<tr><td>{g}</td><td>{have} / {want}</td></tr>");
        }
        let _ = write!(
            html,
            "<p><strong>Under way</strong>: {done} of {total} samples drawn; the tables and figures appear when \
             <code>cargo xtask paper</code> has drawn them all and merged. Resume it with the same command.</p>\
             <table><tr><th>group (prior-variant-N)</th><th>samples drawn</th></tr>{rows}</table>\
             <p class=\"meta\">Bundle: {label}</p>"
        );
        return Ok(html);
    }
    let r = bundle::load(bundle)?;
    let out = root.join("data/paper");
    std::fs::create_dir_all(&out)?;
    let mut links = Vec::new();
    for f in [
        "table1.csv",
        "table1_all.csv",
        "lookup_weights.csv",
        "misfit_curves.csv",
        "calibration.csv",
        "samples.csv",
        "config.toml",
        "provenance.json",
    ] {
        if let Ok(bytes) = std::fs::read(bundle.join(f)) {
            crate::atomic::write(&out.join(f), &bytes)?;
            links.push(format!("<a href=\"data/paper/{f}\">{f}</a>"));
        }
    }
    let figs = figures_html(&r, &r.config.geometry, "paper-")?;
    let _ = write!(
        html,
        "<p class=\"meta\">Bundle: {label}. Data: {}.</p>{}\
         <div id=\"paper-table1\"><h3>Table 1 at the paper's scale</h3>{}</div>{figs}",
        links.join(", "),
        findings(&r),
        table_html(&r)
    );
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use experiments::fwi::prior::PriorKind;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("memprior-paper-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn the_section_follows_the_bundle_from_absent_to_complete_and_refuses_other_formats() {
        let (root, bundle) = (scratch("root"), scratch("bundle"));
        let html = section(&root, &bundle).unwrap();
        assert!(html.contains("Not run yet"), "{html}");

        // A complete bundle: the closed-form priors of the quick preset, as `memprior fwi` writes it.
        let mut c = DpsConfig::preset("quick").unwrap();
        c.priors = vec![PriorKind::Memorized, PriorKind::Gaussian];
        c.samples = 2;
        c.samples_chung = 1;
        let cache = scratch("cache");
        let (r, _) = dps::run(&c, &bundle, dps::Selection::ALL, &cache, 2, &|_| {}).unwrap();
        crate::fwi::write_outputs(&r.unwrap(), &bundle).unwrap();
        let html = section(&root, &bundle).unwrap();
        for id in [
            "id=\"paper-table1\"",
            "id=\"paper-fig2\"",
            "id=\"paper-fig3-right\"",
            "id=\"paper-fig4\"",
            "id=\"paper-fig5\"",
            "paper-plot-fig5-kl",
        ] {
            assert!(html.contains(id), "{id} missing");
        }
        assert!(
            !html.contains("id=\"fig2\""),
            "an id of the default section"
        );
        assert!(root.join("data/paper/table1.csv").is_file());

        // Merged but its references gone: under way again, with the counts per group.
        std::fs::rename(bundle.join(bundle::REFERENCES), bundle.join("refs.bak")).unwrap();
        let html = section(&root, &bundle).unwrap();
        assert!(html.contains("Under way"), "{html}");

        // Samples of another sampler version fail the report, saying what to rerun.
        let run = bundle.join("samples/run.toml");
        let text = std::fs::read_to_string(&run).unwrap();
        std::fs::write(
            &run,
            text.replace(dps::SAMPLE_FORMAT, "memprior-dps samples v0"),
        )
        .unwrap();
        let e = section(&root, &bundle).unwrap_err().to_string();
        assert!(e.contains("v0") && e.contains("cargo xtask paper"), "{e}");
        for d in [root, bundle, cache] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
