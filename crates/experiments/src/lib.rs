//! The paper's experiments as typed configurations, deterministic runs and figure data.
//!
//! Each experiment has a TOML configuration that validates itself (naming the setting and the
//! allowed range when invalid), named presets, a `run` that returns plain data, table rows that
//! form the data contract of the command line, and plotly figures built from the same data for
//! the report and the notebooks.

pub mod checks;
pub mod fwi;
pub mod html;
pub mod jobs;
pub mod progress;
pub mod stylized;

#[cfg(feature = "learned")]
pub use learned;

// Re-exported so that notebooks `:dep` one workspace crate and get matching versions of all.
pub use {
    analysis, faer, memprior_core, operators, plotly, priors, rand, rand_chacha, rand_distr,
    samplers,
};
