//! The results directory of `memprior stylized`: its tables and `results.json`, every result of
//! the run, from which the report draws the stylized figures without running anything.

use anyhow::{Context, Result};
use experiments::stylized::{StylizedConfig, StylizedResults};
use std::path::Path;

/// The file of every result in an output directory of `memprior stylized`.
pub const RESULTS: &str = "results.json";

/// The results and configuration of an output directory of `memprior stylized`, read back
/// without running anything.
///
/// # Errors
/// A missing or unreadable `results.json` or `config.toml`.
pub fn load_results(dir: &Path) -> Result<(StylizedResults, StylizedConfig)> {
    let path = dir.join(RESULTS);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: run `memprior stylized --out {}` first",
            path.display(),
            dir.display()
        )
    })?;
    let res = serde_json::from_str(&text).with_context(|| format!("in {}", path.display()))?;
    let config = dir.join("config.toml");
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let cfg = StylizedConfig::from_toml(&text)
        .with_context(|| format!("in config file {}", config.display()))?;
    Ok((res, cfg))
}
