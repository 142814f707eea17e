//! Report section of the paper-scale run: Table 1 and Figures 2–5 drawn from the committed
//! results bundle `data/paper/` (written by `cargo xtask paper`) without a solve, beside the
//! default run, and labelled with the bundle's provenance. While the run is under way the section
//! says how far it is; a bundle of another sample format fails the report with what to rerun.

use crate::dps::{dps_figures, findings, table_html};
use crate::page::{FigureProvenance, Table, escape};
use anyhow::{Result, bail};
use experiments::fwi::bundle;
use experiments::fwi::dps;
use std::fmt::Write as _;
use std::path::Path;

/// The provenance line of the bundle: commit, machine and the core hours of each stage.
fn provenance_line(bundle: &Path) -> String {
    let Some(p) = std::fs::read_to_string(bundle.join("provenance.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return "no provenance.json in the bundle".into();
    };
    // The bundle is user data: every string from it is escaped.
    let s = |v: &serde_json::Value| escape(v.as_str().unwrap_or("?"));
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

/// The unconditional memorization table of `prior/` (every prior, the null and leave-one-out, per
/// N) with the three smallest r of the learned prior's samples, or `None` before it is written.
fn unconditional_html(bundle: &Path) -> Option<String> {
    let table = std::fs::read_to_string(bundle.join("prior/memorization.csv")).ok()?;
    let ratios = std::fs::read_to_string(bundle.join("prior/ratios.csv")).unwrap_or_default();
    let mut smallest: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for l in ratios.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if let [source, n, _, r, ..] = f[..]
            && source == "learned"
            && let Ok(r) = r.parse::<f64>()
        {
            smallest.entry(n.to_string()).or_default().push(r);
        }
    }
    let mut rows = String::new();
    for l in table.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let [source, n, count, mean_r, f3, f5, f7, nn] = f[..] else {
            continue;
        };
        let num = |x: &str| x.parse::<f64>().unwrap_or(f64::NAN);
        let (source, n, count, nn) = (escape(source), escape(n), escape(count), escape(nn));
        let least = if source == "learned" {
            let mut v = smallest.get(&n).cloned().unwrap_or_default();
            v.sort_by(f64::total_cmp);
            v.iter()
                .take(3)
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            String::new()
        };
        let _ = write!(
            rows,
            "<tr><td>{source}</td><td>{n}</td><td>{count}</td><td>{:.3}</td><td>{:.2} / {:.2} / {:.2}</td><td>{nn}</td><td>{least}</td></tr>",
            num(mean_r),
            num(f3),
            num(f5),
            num(f7)
        );
    }
    Some(format!(
        "<div id=\"paper-unconditional\"><h3>Unconditional samples of the paper's networks</h3>\
         <table><tr><th>source</th><th>N</th><th>samples</th><th>mean r</th><th>r ≤ 0.3 / 0.5 / 0.7</th><th>distinct NN</th>\
         <th>three smallest r (learned)</th></tr>{rows}</table>\
         <p class=\"meta\">DDIM samples from N(0, I) of each prior (<code>memprior prior memorization --preset paper</code>), \
         with the null (held-out prior draws) and leave-one-out (each training model against the others) controls. The paper \
         reports r ≈ 0.01 for its most memorized unconditional samples at N = 50 (Figure 3, left). Data: \
         <code>data/paper/prior/memorization.csv</code>, <code>ratios.csv</code>.</p></div>"
    ))
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
            escape(&bundle.display().to_string())
        );
        return Ok(html);
    }
    let format = bundle::sample_format(bundle)?;
    if !dps::reads_format(&format) {
        bail!(
            "the paper-scale bundle {} holds samples of `{format}`, and this code draws `{}`: its numbers are not this \
             code's. Delete {} and rerun `cargo xtask paper`, or build the report at the commit its provenance.json names",
            bundle.display(),
            dps::SAMPLE_FORMAT,
            bundle.join("samples").display()
        );
    }
    let label = provenance_line(bundle);
    let unconditional = unconditional_html(bundle).unwrap_or_default();
    if !bundle.join(bundle::REFERENCES).is_file() {
        // Under way: how many samples of each group are on disk, and the memorization of every
        // group already complete.
        let groups = bundle::progress(bundle)?.unwrap_or_default();
        let (mut done, mut total) = (0, 0);
        let mut table = Table {
            header: [
                "group (prior-variant-N)",
                "samples drawn",
                "diverged",
                "mean r",
                "r ≤ 0.3 / 0.5 / 0.7",
                "null: r ≤ 0.3 / 0.5 / 0.7 (mean r)",
                "three smallest r (distinct nearest models)",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        for g in &groups {
            let drawn = g.drawn.min(g.total);
            done += drawn;
            total += g.total;
            let mut row = vec![g.group.clone(), format!("{drawn} / {}", g.total)];
            match &g.memorization {
                Some(m) => {
                    let (s, null) = (&m.summary, &m.null);
                    let smallest: Vec<String> =
                        m.smallest_r.iter().map(|r| format!("{r:.3}")).collect();
                    row.extend([
                        m.diverged.to_string(),
                        format!("{:.3}", s.mean_r),
                        format!(
                            "{:.2} / {:.2} / {:.2}",
                            s.fractions[0], s.fractions[1], s.fractions[2]
                        ),
                        format!(
                            "{:.2} / {:.2} / {:.2} ({:.3})",
                            null.fractions[0], null.fractions[1], null.fractions[2], null.mean_r
                        ),
                        smallest.join(", "),
                    ]);
                }
                None => row.extend([
                    "drawing".to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]),
            }
            table.rows.push(row);
        }
        let _ = write!(
            html,
            "<p><strong>Under way</strong>: {done} of {total} samples drawn; Table 1 and the figures appear when \
             <code>cargo xtask paper</code> has drawn them all and merged. Resume it with the same command. Each group \
             whose samples are all drawn shows its memorization ratios already (r in raw KL coefficients against the \
             group's training set; the null: held-out prior draws; diverged trajectories left the solver's domain and are \
             not counted).</p>{}<p class=\"meta\">Bundle: {label}</p>{unconditional}",
            table.render()?
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
        "diverged.csv",
        "config.toml",
        "provenance.json",
    ] {
        if let Ok(bytes) = std::fs::read(bundle.join(f)) {
            memprior_core::atomic::write(&out.join(f), &bytes)?;
            links.push(format!("<a href=\"data/paper/{f}\">{f}</a>"));
        }
    }
    let figs: String = dps_figures(&r, &r.config.geometry, "paper-")?
        .into_iter()
        .map(|mut fig| {
            fig.provenance = FigureProvenance {
                commands: vec!["cargo xtask paper".into()],
                data: vec!["data/paper/config.toml".into()],
                ..Default::default()
            };
            fig.render()
        })
        .collect::<Result<_, _>>()?;
    let _ = write!(
        html,
        "<p class=\"meta\">Bundle: {label}. Data: {}.</p>{}{unconditional}\
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
        use experiments::fwi::dps::DpsConfig;
        use experiments::learned::Preset;
        let mut c = DpsConfig::preset(Preset::Quick);
        c.priors = vec![PriorKind::Memorized, PriorKind::Gaussian];
        c.samples = 2;
        c.samples_chung = 1;
        let cache = scratch("cache");
        let (r, _) = dps::run(&c, &bundle, dps::Selection::ALL, &cache, 2, &|_| {}).unwrap();
        // What `memprior fwi` writes besides its tables: the configuration, the references and
        // one table the section copies.
        let r = r.unwrap();
        std::fs::write(
            bundle.join("config.toml"),
            toml::to_string(&r.config).unwrap(),
        )
        .unwrap();
        std::fs::write(bundle.join(bundle::REFERENCES), bundle::references_json(&r)).unwrap();
        std::fs::write(bundle.join("table1.csv"), "prior,n\n").unwrap();
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
        // The unconditional table, from prior/ of the bundle.
        std::fs::create_dir_all(bundle.join("prior")).unwrap();
        std::fs::write(
            bundle.join("prior/memorization.csv"),
            "source,n_train,count,mean_r,frac_r_le_0_3,frac_r_le_0_5,frac_r_le_0_7,unique_nn\n\
             learned,50,4,0.2,0.5,1.0,1.0,3\nnull,50,4,0.6,0.0,0.0,1.0,4\n",
        )
        .unwrap();
        std::fs::write(
            bundle.join("prior/ratios.csv"),
            "source,n_train,index,r,nearest\nlearned,50,0,0.3,1\nlearned,50,1,0.0125,2\nlearned,50,2,0.5,1\n",
        )
        .unwrap();
        let html = section(&root, &bundle).unwrap();
        assert!(
            html.contains("<td>learned</td><td>50</td><td>4</td><td>0.200</td>"),
            "{html}"
        );
        assert!(html.contains("<td>0.013, 0.300, 0.500</td>"), "{html}");

        // Merged but its references gone: under way again, with the counts per group and the
        // memorization of the complete ones; a group with a sample missing is drawing.
        std::fs::rename(bundle.join(bundle::REFERENCES), bundle.join("refs.bak")).unwrap();
        let html = section(&root, &bundle).unwrap();
        assert!(html.contains("Under way"), "{html}");
        let row = |g: &str| {
            let at = html
                .find(&format!("<td>{g}</td>"))
                .unwrap_or_else(|| panic!("{g}: {html}"));
            html[at..at + html[at..].find("</tr>").unwrap()].to_string()
        };
        let table = r.table();
        let t = table
            .iter()
            .find(|t| t.prior == "memorized" && t.variant == "paper" && t.n_train == 20)
            .unwrap();
        let complete = row("memorized-paper-n20");
        assert!(
            complete.contains(&format!("<td>2 / 2</td><td>0</td><td>{:.3}</td>", t.mean_r)),
            "{complete}"
        );
        std::fs::remove_file(bundle.join("samples/memorized-paper-n20/00001.npy")).unwrap();
        let html = section(&root, &bundle).unwrap();
        let at = html.find("<td>memorized-paper-n20</td>").unwrap();
        assert!(
            html[at..].starts_with("<td>memorized-paper-n20</td><td>1 / 2</td><td>drawing</td>")
        );

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
