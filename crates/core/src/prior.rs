//! Capabilities of a prior density p(x) on R^d.

/// log p(x), normalised.
pub trait LogDensity {
    /// Dimension d of x.
    fn dim(&self) -> usize;
    /// log p(x) for `x` of length d.
    fn log_density(&self, x: &[f64]) -> f64;
}

/// The score ∇ₓ log p(x).
pub trait Score: LogDensity {
    /// ∇ₓ log p(x), length d.
    fn score(&self, x: &[f64]) -> Vec<f64>;
}
