//! `memprior stylized`: run the stylized experiments and write the data contract.
//!
//! Files (each as CSV and Parquet, written atomically):
//! - `linearized_1d`: sigma,n,x_n,mu,std,w_quadratic,w_evidence,pi_exact
//! - `linearized_2d`: sigma,n,mu_1,mu_2,cov_11,cov_12,cov_22,w_quadratic,w_evidence
//! - `effective_components`: n_train,sigma,effective_components,sigma_crit,sigma_crit_nominal
//! - `distances`: problem,sigma,weighting,total_variation,hellinger,kl_exact_to_linearized
//! - `lookup_weights`: problem,n,weight
//!
//! plus `config.toml` (the resolved configuration), `summary.json` (the figure summaries that
//! the snapshot tests pin) and `results.json` (every result, from which `report::stylized::load_results` gives
//! them back: the report's figures are drawn from it).

use crate::atomic;
use crate::tables::{Table, write_csv_parquet};
use anyhow::{Context, Result};
use experiments::stylized::{Preset, StylizedConfig, StylizedResults, run};
use std::path::Path;

/// Resolve the configuration from `--config FILE` or `--preset NAME` (default: `default`).
pub fn load_config(config: Option<&Path>, preset: Option<&str>) -> Result<StylizedConfig> {
    match (config, preset) {
        (Some(_), Some(_)) => anyhow::bail!("give either --config FILE or --preset NAME, not both"),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read config file {} (check the path and permissions)",
                    path.display()
                )
            })?;
            Ok(StylizedConfig::from_toml(&text)
                .with_context(|| format!("in config file {}", path.display()))?)
        }
        (None, p) => {
            let preset = Preset::parse(p.unwrap_or("default"))?;
            Ok(StylizedConfig::preset(preset))
        }
    }
}

/// Write every table of `res` into `dir`.
pub fn write_tables(res: &StylizedResults, cfg: &StylizedConfig, dir: &Path) -> Result<()> {
    let r1 = res.linearized_1d_rows();
    let mut t = Table::new()
        .f64("sigma", r1.iter().map(|r| r.sigma))
        .u64("n", r1.iter().map(|r| r.n as u64))
        .f64("x_n", r1.iter().map(|r| r.x_n))
        .f64("mu", r1.iter().map(|r| r.mu))
        .f64("std", r1.iter().map(|r| r.std))
        .f64("w_quadratic", r1.iter().map(|r| r.w_quadratic))
        .f64("w_evidence", r1.iter().map(|r| r.w_evidence))
        .f64("pi_exact", r1.iter().map(|r| r.pi_exact))
        .frame()?;
    write_csv_parquet(&mut t, dir, "linearized_1d")?;

    let r2 = res.linearized_2d_rows();
    let mut t = Table::new()
        .f64("sigma", r2.iter().map(|r| r.sigma))
        .u64("n", r2.iter().map(|r| r.n as u64))
        .f64("mu_1", r2.iter().map(|r| r.mu_1))
        .f64("mu_2", r2.iter().map(|r| r.mu_2))
        .f64("cov_11", r2.iter().map(|r| r.cov_11))
        .f64("cov_12", r2.iter().map(|r| r.cov_12))
        .f64("cov_22", r2.iter().map(|r| r.cov_22))
        .f64("w_quadratic", r2.iter().map(|r| r.w_quadratic))
        .f64("w_evidence", r2.iter().map(|r| r.w_evidence))
        .frame()?;
    write_csv_parquet(&mut t, dir, "linearized_2d")?;

    let re = res.effective_components_rows();
    let mut t = Table::new()
        .u64("n_train", re.iter().map(|r| r.n_train as u64))
        .f64("sigma", re.iter().map(|r| r.sigma))
        .f64(
            "effective_components",
            re.iter().map(|r| r.effective_components),
        )
        .f64("sigma_crit", re.iter().map(|r| r.sigma_crit))
        .f64(
            "sigma_crit_nominal",
            re.iter().map(|r| r.sigma_crit_nominal),
        )
        .frame()?;
    write_csv_parquet(&mut t, dir, "effective_components")?;

    let d = &res.distances;
    let mut t = Table::new()
        .str("problem", d.iter().map(|r| r.problem.clone()))
        .f64("sigma", d.iter().map(|r| r.sigma))
        .str("weighting", d.iter().map(|r| r.weighting.clone()))
        .f64("total_variation", d.iter().map(|r| r.total_variation))
        .f64("hellinger", d.iter().map(|r| r.hellinger))
        .f64(
            "kl_exact_to_linearized",
            d.iter().map(|r| r.kl_exact_to_linearized),
        )
        .frame()?;
    write_csv_parquet(&mut t, dir, "distances")?;

    let mut lookup: Vec<(String, u64, f64)> = Vec::new();
    for (problem, comps) in [
        (
            "1d",
            res.one_d[0]
                .components
                .iter()
                .map(|c| c.lookup)
                .collect::<Vec<_>>(),
        ),
        (
            "2d_pentagon",
            res.two_d[0].components.iter().map(|c| c.lookup).collect(),
        ),
        (
            "2d_random",
            res.two_d_random[0]
                .components
                .iter()
                .map(|c| c.lookup)
                .collect(),
        ),
    ] {
        lookup.extend(
            comps
                .into_iter()
                .enumerate()
                .map(|(n, w)| (problem.to_string(), n as u64, w)),
        );
    }
    let mut t = Table::new()
        .str("problem", lookup.iter().map(|r| r.0.clone()))
        .u64("n", lookup.iter().map(|r| r.1))
        .f64("weight", lookup.iter().map(|r| r.2))
        .frame()?;
    write_csv_parquet(&mut t, dir, "lookup_weights")?;

    atomic::write(
        &dir.join("config.toml"),
        toml::to_string_pretty(cfg)?.as_bytes(),
    )?;
    let summary = serde_json::json!({
        "figure1_top": res.summary_figure1_top(),
        "figure1_bottom": res.summary_figure1_bottom(),
        "effective_components": res.summary_effective_components(),
        "kde": res.summary_kde(),
        "sigma_slider": res.summary_slider(),
        "distances": res.summary_distances(),
    });
    atomic::write(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    atomic::write(
        &dir.join(RESULTS),
        (serde_json::to_string(res)? + "\n").as_bytes(),
    )?;
    Ok(())
}

use report::stylized::RESULTS;

/// Run the experiments and write the tables into `out` (staged, then moved into place).
pub fn command(cfg: &StylizedConfig, out: &Path) -> Result<StylizedResults> {
    let res = run(cfg)?;
    let staging = crate::atomic::Staging::new(out)?;
    write_tables(&res, cfg, staging.path())?;
    staging.commit()?;
    Ok(res)
}
