//! The memorization ratio [eq:memorization-ratio] and the summaries of Table 1.
//!
//! For a point q with sorted distances d₁ ≤ d₂ ≤ … to the training set and k = min(50, N),
//! r(q) = d₁ / mean(d₂, …, d_k). A point counts as memorized when r ≤ τ (inclusive, as
//! in the authors' code). Distances are Euclidean
//! in whatever coordinates the caller passes (raw KL coefficients for the FWI experiment).
//!
//! The same numbers for held-out draws of the data-generating prior (the null) and for the
//! training points themselves (leave-one-out, the point excluded from its own set) say how much
//! of a rate is chance: at N = 50 in 100 dimensions most fresh draws already have r ≤ 0.7.

use memprior_core::ConfigError;
use memprior_core::numerics::squared_distance;

/// The thresholds τ of Table 1.
pub const THRESHOLDS: [f64; 3] = [0.3, 0.5, 0.7];

/// The paper's cap on the neighbours averaged in the denominator.
pub const MAX_NEIGHBOURS: usize = 50;

/// The ratio of one point and its nearest training point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbours {
    /// r = d₁ / mean(d₂ … d_k); 0 when d₁ = 0.
    pub r: f64,
    /// Index of the nearest training point.
    pub nearest: usize,
    /// d₁.
    pub d1: f64,
}

/// r(q) against `training`, optionally leaving out training point `exclude`.
///
/// # Errors
/// Fewer than two training points remain, or q's dimension differs from the training points'.
pub fn memorization_ratio(
    q: &[f64],
    training: &[Vec<f64>],
    exclude: Option<usize>,
) -> Result<Neighbours, ConfigError> {
    let mut d: Vec<(f64, usize)> = training
        .iter()
        .enumerate()
        .filter(|(n, _)| Some(*n) != exclude)
        .map(|(n, x)| {
            if x.len() != q.len() {
                Err(ConfigError::new(
                    format!("training[{n}]"),
                    format!("must have the query's dimension {}", q.len()),
                    x.len(),
                ))
            } else {
                Ok((squared_distance(q, x).sqrt(), n))
            }
        })
        .collect::<Result<_, _>>()?;
    if d.len() < 2 {
        return Err(ConfigError::new(
            "training",
            "the memorization ratio needs at least two training points besides the query",
            d.len(),
        ));
    }
    let k = d.len().min(MAX_NEIGHBOURS);
    // Ties broken by index so that the nearest neighbour is deterministic.
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (d1, nearest) = d[0];
    let rest = d[1..k].iter().map(|p| p.0).sum::<f64>() / (k - 1) as f64;
    let r = if d1 == 0.0 { 0.0 } else { d1 / rest };
    Ok(Neighbours { r, nearest, d1 })
}

/// r for every query.
///
/// # Errors
/// As [`memorization_ratio`].
pub fn ratios(queries: &[Vec<f64>], training: &[Vec<f64>]) -> Result<Vec<Neighbours>, ConfigError> {
    queries
        .iter()
        .map(|q| memorization_ratio(q, training, None))
        .collect()
}

/// r of every training point against the others (leave-one-out).
///
/// # Errors
/// Fewer than three training points.
pub fn leave_one_out(training: &[Vec<f64>]) -> Result<Vec<Neighbours>, ConfigError> {
    (0..training.len())
        .map(|n| memorization_ratio(&training[n], training, Some(n)))
        .collect()
}

/// Indices of the `count` points with the smallest r whose nearest training points are all
/// different (ties by index), as the authors' panel of the most memorized samples picks them: a
/// second sample on an already shown training model is skipped. Fewer when fewer distinct nearest
/// models exist.
pub fn most_memorized_distinct(neighbours: &[Neighbours], count: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..neighbours.len()).collect();
    idx.sort_by(|&a, &b| neighbours[a].r.total_cmp(&neighbours[b].r).then(a.cmp(&b)));
    let mut seen = std::collections::HashSet::new();
    idx.into_iter()
        .filter(|&i| seen.insert(neighbours[i].nearest))
        .take(count)
        .collect()
}

/// Table-1 summary of a set of ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorizationSummary {
    /// Number of points.
    pub count: usize,
    /// Mean r.
    pub mean_r: f64,
    /// Fraction with r ≤ τ for each τ in [`THRESHOLDS`].
    pub fractions: [f64; 3],
    /// Number of distinct nearest training points.
    pub unique_nn: usize,
}

impl MemorizationSummary {
    /// Summarise; an empty list gives count 0 and NaN mean.
    pub fn of(neighbours: &[Neighbours]) -> Self {
        let n = neighbours.len();
        let mean_r = neighbours.iter().map(|x| x.r).sum::<f64>() / n as f64;
        let fractions = THRESHOLDS
            .map(|tau| neighbours.iter().filter(|x| x.r <= tau).count() as f64 / n as f64);
        let mut nn: Vec<usize> = neighbours.iter().map(|x| x.nearest).collect();
        nn.sort_unstable();
        nn.dedup();
        Self {
            count: n,
            mean_r,
            fractions,
            unique_nn: nn.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_memorized_skips_repeated_nearest_models() {
        let nb = |r: f64, nearest: usize| Neighbours { r, nearest, d1: r };
        let set = [
            nb(0.5, 2),
            nb(0.01, 7),
            nb(0.02, 7),
            nb(0.3, 1),
            nb(0.02, 4),
        ];
        // By r: 1 (7), 2 (7, skipped), 4 (4), 3 (1), 0 (2).
        assert_eq!(most_memorized_distinct(&set, 3), vec![1, 4, 3]);
        assert_eq!(most_memorized_distinct(&set, 10), vec![1, 4, 3, 0]);
        assert!(most_memorized_distinct(&[], 3).is_empty());
    }

    #[test]
    fn ratio_by_hand() {
        // Distances from the origin: 1, 2, 4 → r = 1 / mean(2, 4) = 1/3.
        let train = vec![vec![0.0, 2.0], vec![1.0, 0.0], vec![0.0, -4.0]];
        let nb = memorization_ratio(&[0.0, 0.0], &train, None).unwrap();
        assert_eq!(nb.nearest, 1);
        assert!((nb.r - 1.0 / 3.0).abs() < 1e-15);
        // Leaving out point 1: distances 2, 4 → r = 0.5.
        let nb = memorization_ratio(&[0.0, 0.0], &train, Some(1)).unwrap();
        assert!((nb.r - 0.5).abs() < 1e-15 && nb.nearest == 0);
    }

    #[test]
    fn duplicates_and_cap() {
        let mut train: Vec<Vec<f64>> = (0..80).map(|i| vec![i as f64 + 1.0]).collect();
        train.push(vec![1.0]);
        // A query on two identical members: d₁ = 0 gives r = 0, finite.
        let nb = memorization_ratio(&[1.0], &train, None).unwrap();
        assert_eq!((nb.r, nb.nearest), (0.0, 0));
        // k = 50: from q = 0 the distances are 1, 1, 2, …, 49 → mean of d₂..d₅₀ = (1 + Σ_{2}^{49} j)/49.
        let nb = memorization_ratio(&[0.0], &train, None).unwrap();
        let mean = (1.0 + (2..=49).sum::<i32>() as f64) / 49.0;
        assert!((nb.r - 1.0 / mean).abs() < 1e-15);
        let loo = leave_one_out(&train).unwrap();
        assert_eq!(loo[80].r, 0.0);
        let s = MemorizationSummary::of(&loo);
        assert_eq!(s.count, 81);
        assert!(s.fractions[0] <= s.fractions[1] && s.fractions[1] <= s.fractions[2]);
    }

    #[test]
    fn a_ratio_at_the_threshold_counts_as_memorized() {
        // r = 0.5 exactly (d = 1, then 2 and 2) sits on τ = 0.5: it counts, as in the authors'
        // `r <= threshold`.
        let train = vec![vec![1.0], vec![-2.0], vec![2.0]];
        let nb = memorization_ratio(&[0.0], &train, None).unwrap();
        assert_eq!(nb.r, 0.5);
        let s = MemorizationSummary::of(&[nb]);
        assert_eq!(s.fractions, [0.0, 1.0, 1.0]);
    }

    #[test]
    fn too_few_points_is_an_error() {
        let err = memorization_ratio(&[0.0], &[vec![1.0]], None).unwrap_err();
        assert_eq!(err.field, "training");
        assert!(memorization_ratio(&[0.0], &[vec![1.0], vec![1.0, 2.0]], None).is_err());
    }
}
