//! Statistics of posterior sample sets: per-coordinate mean and standard deviation, calibration
//! bins, how often each training model is the nearest one, the total variation between two
//! discrete laws, and the RMSE of a sample against the truth.

/// Equal-count calibration bins [eq:calibration]: sort by predicted std, split into `bins` groups
/// of (nearly) equal size, return (mean std, mean |error|) per bin.
pub fn calibration_bins(std: &[f64], err: &[f64], bins: usize) -> Vec<(f64, f64)> {
    let mut idx: Vec<usize> = (0..std.len()).collect();
    idx.sort_by(|&a, &b| std[a].total_cmp(&std[b]).then(a.cmp(&b)));
    let bins = bins.clamp(1, std.len().max(1));
    (0..bins)
        .filter_map(|b| {
            let (lo, hi) = (b * idx.len() / bins, (b + 1) * idx.len() / bins);
            (hi > lo).then(|| {
                let n = (hi - lo) as f64;
                (
                    idx[lo..hi].iter().map(|&i| std[i]).sum::<f64>() / n,
                    idx[lo..hi].iter().map(|&i| err[i]).sum::<f64>() / n,
                )
            })
        })
        .collect()
}

/// Per-coordinate sample mean and standard deviation (n − 1 normalisation; 0 for one sample).
pub fn mean_std(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..d)
        .map(|k| rows.iter().map(|r| r[k]).sum::<f64>() / n as f64)
        .collect();
    let std = (0..d)
        .map(|k| {
            if n < 2 {
                0.0
            } else {
                (rows.iter().map(|r| (r[k] - mean[k]).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
            }
        })
        .collect();
    (mean, std)
}

/// How often each of `n` training models is the nearest one: `nearest` lists, per sample, the
/// index of its nearest training model (each below `n`; one beyond is not counted).
pub fn nearest_counts(nearest: impl IntoIterator<Item = usize>, n: usize) -> Vec<usize> {
    let mut counts = vec![0; n];
    for i in nearest {
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    counts
}

/// The total variation ½ Σ |pᵢ − qᵢ| between two discrete laws on the same points (over the
/// common length).
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0
}

/// The root-mean-square difference √(Σ (aᵢ − bᵢ)² / n) of a field `a` from a reference `b` of the
/// same length n (NaN for empty fields).
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::{calibration_bins, mean_std, nearest_counts, rmse, total_variation};

    #[test]
    fn counts_tv_rmse_and_moments_on_small_cases() {
        assert_eq!(nearest_counts([2, 0, 2, 2], 4), vec![1, 0, 3, 0]);
        assert_eq!(
            nearest_counts([5], 2),
            vec![0, 0],
            "an index beyond n is not counted"
        );
        assert_eq!(total_variation(&[0.5, 0.5, 0.0], &[0.0, 0.5, 0.5]), 0.5);
        assert_eq!(total_variation(&[0.2, 0.8], &[0.2, 0.8]), 0.0);
        assert_eq!(rmse(&[1.0, 3.0], &[1.0, 1.0]), 2.0f64.sqrt());
        assert!(rmse(&[], &[]).is_nan());
        let (m, s) = mean_std(&[vec![1.0, 0.0], vec![3.0, 0.0]]);
        assert_eq!(m, vec![2.0, 0.0]);
        assert_eq!(s, vec![2.0f64.sqrt(), 0.0]);
        let (_, one) = mean_std(&[vec![4.0]]);
        assert_eq!(one, vec![0.0], "one sample has no spread");
    }

    #[test]
    fn calibration_bins_are_equal_count_means_in_order_of_std() {
        // 23 points with std 23, 22, …, 1 (so sorting reverses them) and error = 2·std + i.
        let std: Vec<f64> = (0..23).map(|i| (23 - i) as f64).collect();
        let err: Vec<f64> = (0..23).map(|i| 2.0 * std[i] + i as f64).collect();
        let bins = calibration_bins(&std, &err, 5);
        assert_eq!(bins.len(), 5);
        // Boundaries ⌊b·23/5⌋ = 0, 4, 9, 13, 18, 23: bins of 4, 5, 4, 5, 5 points, std 1..4, 5..9, …
        let sizes = [4usize, 5, 4, 5, 5];
        let mut lo = 0usize;
        for (b, &size) in sizes.iter().enumerate() {
            let s: Vec<f64> = (lo + 1..=lo + size).map(|v| v as f64).collect();
            // The point with std v has index 23 − v, so error 2v + 23 − v = v + 23.
            let mean_s = s.iter().sum::<f64>() / size as f64;
            let mean_e = s.iter().map(|v| v + 23.0).sum::<f64>() / size as f64;
            assert!((bins[b].0 - mean_s).abs() < 1e-12, "bin {b}: {:?}", bins[b]);
            assert!((bins[b].1 - mean_e).abs() < 1e-12, "bin {b}: {:?}", bins[b]);
            lo += size;
        }
        // Ties in std keep the input order; more bins than points give one point per bin; no
        // points give no bins.
        let tied = calibration_bins(&[1.0, 1.0, 1.0, 1.0], &[4.0, 3.0, 2.0, 1.0], 2);
        assert_eq!(tied, vec![(1.0, 3.5), (1.0, 1.5)]);
        assert_eq!(calibration_bins(&[2.0, 1.0], &[0.0, 5.0], 9).len(), 2);
        assert!(calibration_bins(&[], &[], 3).is_empty());
    }
}
