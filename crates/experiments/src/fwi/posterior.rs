//! Posteriors for FWI in the network's coordinates z̃ (z-scored KL coefficients): the misfit that
//! guides DPS, the forward operator with its exact Jacobian for the linearised mixture, the exact
//! lookup posterior under a memorized prior [eq:lookup-table], the linearized Gaussian mixture
//! [eq:linearized-posterior], and the summaries the figures compare them with (visit frequencies,
//! spread, calibration [eq:calibration]).

use faer::{Mat, c64};
use memprior_core::numerics::softmax;
use memprior_core::{ConfigError, ForwardOperator, JacobianAction};
use operators::helmholtz::{Helmholtz, HelmholtzError};
use priors::{KlBasis, TrainingSet};
use samplers::dps::Misfit;
use samplers::{GaussianLikelihood, LinearizedPosterior, Weighting};

use super::{KlMisfit, ZScore};

/// The offset the paper adds to the z-score scales in its DPS gradient, g = (s + 1e−5) ⊙ ∇_z Φ.
pub const SCALE_OFFSET: f64 = 1e-5;

/// The Helmholtz misfit as a function of z̃, with the paper's DPS gradient (s + 1e−5) ⊙ ∇_z Φ.
pub struct NormalizedMisfit<'a> {
    /// Φ(z) and ∇_z Φ.
    pub misfit: KlMisfit<'a>,
    /// z = μ + s ⊙ z̃.
    pub zscore: &'a ZScore,
}

impl Misfit for NormalizedMisfit<'_> {
    type Error = HelmholtzError;
    fn misfit_gradient(&self, zt: &[f64]) -> Result<(f64, Vec<f64>), HelmholtzError> {
        let (phi, gz) = self.misfit.misfit_gradient(&self.zscore.denormalize(zt))?;
        let g = gz
            .iter()
            .zip(&self.zscore.scale)
            .map(|(g, s)| g * (s + SCALE_OFFSET))
            .collect();
        Ok((phi, g))
    }

    fn misfit(&self, zt: &[f64]) -> Result<f64, HelmholtzError> {
        self.misfit.misfit(&self.zscore.denormalize(zt))
    }
}

/// F(z̃) = [Re d; Im d] of the model m(μ + s ⊙ z̃): the forward map the linearised mixture needs.
/// Its Jacobian comes from one factorisation and n_r adjoint solves per point.
///
/// # Panics
/// The trait methods panic on a z̃ whose model the solver rejects (e.g. negative squared
/// slowness); [`linearize`] is the fallible entry point.
pub struct KlForward<'a> {
    /// The simulator.
    pub op: &'a Helmholtz,
    /// The KL basis.
    pub kl: &'a KlBasis,
    /// The z-scoring of the training set.
    pub zscore: &'a ZScore,
}

impl<'a> KlForward<'a> {
    /// The map for a simulator, basis and z-scoring.
    pub fn new(op: &'a Helmholtz, kl: &'a KlBasis, zscore: &'a ZScore) -> Self {
        Self { op, kl, zscore }
    }

    fn model(&self, zt: &[f64]) -> Vec<f64> {
        let g = self.op.geometry();
        self.kl
            .reconstruct(&self.zscore.denormalize(zt), g.nx, g.nz)
            .expect("z̃ has the basis dimension")
    }
}

impl ForwardOperator for KlForward<'_> {
    fn input_dim(&self) -> usize {
        self.kl.dim()
    }
    fn output_dim(&self) -> usize {
        let g = self.op.geometry();
        2 * g.sources.len() * g.receivers.len()
    }
    fn apply(&self, zt: &[f64]) -> Vec<f64> {
        let d = self
            .op
            .forward(&self.model(zt))
            .expect("a training model is a valid slowness field");
        Helmholtz::data_to_real(&d)
    }
}

impl JacobianAction for KlForward<'_> {
    fn jacobian_apply(&self, zt: &[f64], dzt: &[f64]) -> Vec<f64> {
        let g = self.op.geometry();
        let dz: Vec<f64> = dzt
            .iter()
            .zip(&self.zscore.scale)
            .map(|(a, s)| a * s)
            .collect();
        let m0 = self.kl.background();
        let dm: Vec<f64> = self
            .kl
            .reconstruct(&dz, g.nx, g.nz)
            .expect("basis dimension")
            .into_iter()
            .map(|v| v - m0)
            .collect();
        let state = self.op.solve(&self.model(zt)).expect("valid model");
        Helmholtz::data_to_real(&state.jacobian_apply(&dm))
    }
    fn jacobian_adjoint_apply(&self, zt: &[f64], dy: &[f64]) -> Vec<f64> {
        let g = self.op.geometry();
        let state = self.op.solve(&self.model(zt)).expect("valid model");
        let gm = state.jacobian_adjoint_apply(&self.op.data_from_real(dy));
        let gz = self.kl.adjoint(&gm, g.nx, g.nz).expect("grid");
        gz.iter()
            .zip(&self.zscore.scale)
            .map(|(a, s)| a * s)
            .collect()
    }
    /// All d columns from one factorisation and n_r adjoint solves ([`operators::helmholtz::State::jacobian_dense`]),
    /// then Gᵀ and the scales: J̃ = [Re; Im](∂d/∂m) G diag(s).
    fn jacobian(&self, zt: &[f64]) -> Mat<f64> {
        self.jacobian_of(&self.op.solve(&self.model(zt)).expect("valid model"))
    }
}

impl KlForward<'_> {
    /// J̃ from a factorised model.
    pub fn jacobian_of(&self, state: &operators::helmholtz::State<'_>) -> Mat<f64> {
        let g = self.op.geometry();
        let g2 = g.sources.len() * g.receivers.len();
        let mut out = Mat::<f64>::zeros(2 * g2, self.kl.dim());
        state.for_each_jacobian_row(|row, re, im| {
            for (part, v) in [re, im].into_iter().enumerate() {
                let gz = self.kl.adjoint(v, g.nx, g.nz).expect("grid");
                for (k, x) in gz.iter().enumerate() {
                    out[(part * g2 + row, k)] = x * self.zscore.scale[k];
                }
            }
        });
        out
    }
}

/// Φ(z_n) = ½‖F(z_n) − y‖²/σ_d² of raw KL coefficient vectors (one factorisation each).
///
/// # Errors
/// A model the solver rejects.
pub fn misfits(misfit: &KlMisfit<'_>, points: &[Vec<f64>]) -> Result<Vec<f64>, HelmholtzError> {
    points
        .iter()
        .map(|z| {
            let m = misfit.model(z)?;
            let d = misfit.op.forward(&m)?;
            let mut s = 0.0;
            for j in 0..d.ncols() {
                for i in 0..d.nrows() {
                    let r: c64 = d[(i, j)] - misfit.data[(i, j)];
                    s += r.re * r.re + r.im * r.im;
                }
            }
            Ok(0.5 * s / (misfit.sigma_d * misfit.sigma_d))
        })
        .collect()
}

/// Lookup weights w_n = softmax(−Φ_n) over the first n misfits [eq:lookup-table].
pub fn lookup_weights(misfits: &[f64]) -> Vec<f64> {
    softmax(&misfits.iter().map(|p| -p).collect::<Vec<_>>())
}

/// Summary of the linearised mixture at one bandwidth and weighting.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearizedSummary {
    /// Prior bandwidth σ in z̃ units.
    pub sigma: f64,
    /// Component weighting.
    pub weighting: Weighting,
    /// Normalised weights w_n.
    pub weights: Vec<f64>,
    /// Per raw KL coefficient: the mixture's standard deviation.
    pub std_raw: Vec<f64>,
    /// The mixture's mean in raw z.
    pub mean_raw: Vec<f64>,
    /// Total-variation distance between these weights and the lookup weights.
    pub tv_to_lookup: f64,
}

/// F(z_n) and the raw-coefficient Jacobian J_z(z_n) = [Re; Im](∂d/∂m) G at a set of models: the
/// expensive part of the linearised mixture, shared by every nested training set and z-scoring.
#[derive(Debug, Clone)]
pub struct Linearization {
    /// [Re d; Im d] at each model.
    pub forward: Vec<Vec<f64>>,
    /// J_z at each model (2 n_s n_r × d).
    pub jacobian: Vec<Mat<f64>>,
}

/// [`Linearization`] of raw KL coefficient vectors, on `workers` threads (each with its own
/// operator; the result does not depend on the number of threads).
///
/// # Errors
/// A model the solver rejects.
pub fn linearize(
    op: &Helmholtz,
    kl: &KlBasis,
    points: &[Vec<f64>],
    workers: usize,
) -> Result<Linearization, HelmholtzError> {
    let identity = ZScore {
        mean: vec![0.0; kl.dim()],
        scale: vec![1.0; kl.dim()],
    };
    let chunk = points.len().div_ceil(workers.max(1)).max(1);
    let parts: Vec<Result<Linearization, HelmholtzError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = points
            .chunks(chunk)
            .map(|part| {
                let identity = &identity;
                scope.spawn(move || {
                    let op = Helmholtz::new(op.geometry().clone())?;
                    let f = KlForward::new(&op, kl, identity);
                    let mut out = Linearization {
                        forward: Vec::new(),
                        jacobian: Vec::new(),
                    };
                    for z in part {
                        let state = op.solve(&f.model(z))?;
                        out.forward.push(Helmholtz::data_to_real(&state.data()));
                        out.jacobian.push(f.jacobian_of(&state));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("linearization thread panicked"))
            .collect()
    });
    let mut all = Linearization {
        forward: Vec::new(),
        jacobian: Vec::new(),
    };
    for p in parts {
        let p = p?;
        all.forward.extend(p.forward);
        all.jacobian.extend(p.jacobian);
    }
    Ok(all)
}

/// The linearised Gaussian mixture in z̃ around the first n = `training_zt.len()` models of `lin`
/// (J̃ = J_z diag(s)), summarised at each bandwidth (in parallel) and both weightings.
///
/// # Errors
/// Invalid bandwidths or a non-positive-definite system.
pub fn linearized_summaries(
    lin: &Linearization,
    zscore: &ZScore,
    y: Vec<f64>,
    sigma_d: f64,
    training_zt: &[Vec<f64>],
    sigmas: &[f64],
    lookup: &[f64],
) -> Result<Vec<LinearizedSummary>, ConfigError> {
    let n = training_zt.len();
    let index = training_zt
        .iter()
        .enumerate()
        .map(|(i, z)| (z.iter().map(|v| v.to_bits()).collect::<Vec<u64>>(), i))
        .collect();
    let cached = CachedLinearization {
        lin,
        zscore,
        index,
        n,
    };
    let lik = GaussianLikelihood::new(cached, y, sigma_d)?;
    let train = TrainingSet::new(training_zt)?;
    let per_sigma: Vec<Result<Vec<LinearizedSummary>, ConfigError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sigmas
            .iter()
            .map(|&sigma| {
                let (lik, train) = (&lik, &train);
                scope.spawn(move || summarise(lik, train, zscore, sigma, lookup))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("linearized thread panicked"))
            .collect()
    });
    let mut out = Vec::new();
    for p in per_sigma {
        out.extend(p?);
    }
    Ok(out)
}

fn summarise<F: JacobianAction>(
    lik: &GaussianLikelihood<F>,
    train: &TrainingSet,
    zscore: &ZScore,
    sigma: f64,
    lookup: &[f64],
) -> Result<Vec<LinearizedSummary>, ConfigError> {
    let post = LinearizedPosterior::new(lik, train, sigma)?;
    let comps = post.components();
    let d = train.dim();
    let s = &zscore.scale;
    Ok(Weighting::ALL
        .into_iter()
        .map(|weighting| {
            let w = post.weights(weighting);
            let mean_t: Vec<f64> = (0..d)
                .map(|k| comps.iter().zip(&w).map(|(c, wn)| wn * c.mean[k]).sum())
                .collect();
            let std_raw: Vec<f64> = (0..d)
                .map(|k| {
                    let v: f64 = comps
                        .iter()
                        .zip(&w)
                        .map(|(c, wn)| {
                            wn * (c.covariance[(k, k)] + (c.mean[k] - mean_t[k]).powi(2))
                        })
                        .sum();
                    v.max(0.0).sqrt() * s[k]
                })
                .collect();
            let tv = w
                .iter()
                .zip(lookup)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / 2.0;
            LinearizedSummary {
                sigma,
                weighting,
                mean_raw: zscore.denormalize(&mean_t),
                weights: w,
                std_raw,
                tv_to_lookup: tv,
            }
        })
        .collect())
}

/// Serves the precomputed F and J̃ = J_z diag(s) at the training points.
struct CachedLinearization<'a> {
    lin: &'a Linearization,
    zscore: &'a ZScore,
    index: std::collections::HashMap<Vec<u64>, usize>,
    n: usize,
}

impl CachedLinearization<'_> {
    fn at(&self, x: &[f64]) -> usize {
        // `lin` holds the first models of the same nested training stream: index i is x_i.
        debug_assert!(self.lin.forward.len() >= self.n);

        *self
            .index
            .get(&x.iter().map(|v| v.to_bits()).collect::<Vec<u64>>())
            .expect("the linearised mixture evaluates F only at its training points")
    }
}

impl ForwardOperator for CachedLinearization<'_> {
    fn input_dim(&self) -> usize {
        self.zscore.scale.len()
    }
    fn output_dim(&self) -> usize {
        self.lin.forward[0].len()
    }
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        self.lin.forward[self.at(x)].clone()
    }
}

impl JacobianAction for CachedLinearization<'_> {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Vec<f64> {
        let j = self.jacobian(x);
        (0..j.nrows())
            .map(|i| (0..j.ncols()).map(|k| j[(i, k)] * dx[k]).sum())
            .collect()
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Vec<f64> {
        let j = self.jacobian(x);
        (0..j.ncols())
            .map(|k| (0..j.nrows()).map(|i| j[(i, k)] * dy[i]).sum())
            .collect()
    }
    fn jacobian(&self, x: &[f64]) -> Mat<f64> {
        let jz = &self.lin.jacobian[self.at(x)];
        Mat::from_fn(jz.nrows(), jz.ncols(), |i, k| {
            jz[(i, k)] * self.zscore.scale[k]
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::calibration_bins;

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
