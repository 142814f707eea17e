//! What a training run records per step and per validation, kept in its checkpoints.

use serde::{Deserialize, Serialize};

/// Per-step record of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Mean squared ε error of the step's batch.
    pub loss: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
}

/// The denoising loss on held-out points at one step of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    /// Steps done when it was measured.
    pub step: usize,
    /// Mean squared ε error over the fixed validation draws, with the current (raw) weights.
    pub loss: f32,
}
