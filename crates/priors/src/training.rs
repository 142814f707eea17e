//! A validated training set: N ≥ 1 finite points of one dimension d ≥ 1, stored row-major.

use memprior_core::ConfigError;

/// N training points x_n ∈ R^d, stored contiguously (row n is `points[n*d..(n+1)*d]`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    dim: usize,
    points: Vec<f64>,
}

impl TrainingSet {
    /// Build from rows; errors if there are no rows, rows differ in length, or a value is not finite.
    pub fn new(rows: &[Vec<f64>]) -> Result<Self, ConfigError> {
        let Some(first) = rows.first() else {
            return Err(ConfigError::new(
                "training_points",
                "must contain at least one point (N ≥ 1)",
                "N = 0",
            ));
        };
        let dim = first.len();
        if dim == 0 {
            return Err(ConfigError::new(
                "training_points",
                "points must have dimension d ≥ 1",
                "d = 0",
            ));
        }
        let mut points = Vec::with_capacity(rows.len() * dim);
        for (n, row) in rows.iter().enumerate() {
            if row.len() != dim {
                return Err(ConfigError::new(
                    format!("training_points[{n}]"),
                    format!("must have the same dimension as the first point (d = {dim})"),
                    format!("d = {}", row.len()),
                ));
            }
            for (k, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(ConfigError::new(
                        format!("training_points[{n}][{k}]"),
                        "must be finite",
                        v,
                    ));
                }
            }
            points.extend_from_slice(row);
        }
        Ok(Self { dim, points })
    }

    /// Build a one-dimensional set from scalars.
    pub fn from_scalars(xs: &[f64]) -> Result<Self, ConfigError> {
        Self::new(&xs.iter().map(|&x| vec![x]).collect::<Vec<_>>())
    }

    /// Number of points N.
    pub fn len(&self) -> usize {
        self.points.len() / self.dim
    }

    /// Always false: a training set has N ≥ 1 by construction.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Point x_n.
    pub fn point(&self, n: usize) -> &[f64] {
        &self.points[n * self.dim..(n + 1) * self.dim]
    }

    /// Iterate over the points in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[f64]> {
        self.points.chunks_exact(self.dim)
    }

    /// A copy with every point multiplied by `scale` (the √ᾱ_t of DDPM coordinates).
    pub fn scaled(&self, scale: f64) -> Self {
        Self {
            dim: self.dim,
            points: self.points.iter().map(|v| v * scale).collect(),
        }
    }
}
