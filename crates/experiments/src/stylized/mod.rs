//! The stylized inverse problem of paper Figure 1 and its companions (`STYLIZED.md`).
//!
//! Everything is closed form or quadrature: a memorized prior (Gaussian mixture of bandwidth σ
//! over N training points) meets the 1-D cubic or 2-D quadratic operator with noise level γ,
//! and the exact posterior ([eq:gmm-posterior]) is compared with the lookup table
//! ([eq:lookup-table]) and the linearised mixture ([eq:linearized-posterior]).

mod config;
pub mod figures;
mod run;
pub mod summary;
mod tables;

pub use config::{
    KdeConfig, OneDConfig, Preset, SliderConfig, StylizedConfig, SweepConfig, TwoDConfig,
};
pub use run::{
    ComponentSummary, DistanceRow, Field2d, KdePanel, KdeResults, OneDPanel, StylizedResults,
    SweepCurve, TwoDComponent, TwoDPanel, pool_indices, run,
};
pub use summary::round_sig;
pub use tables::{EffectiveComponentsRow, Linearized1dRow, Linearized2dRow};
