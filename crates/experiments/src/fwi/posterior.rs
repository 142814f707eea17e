//! Posteriors for FWI in the network's coordinates z̃ (z-scored KL coefficients): the misfit that
//! guides DPS, the forward operator with its exact Jacobian for the linearised mixture, the exact
//! lookup posterior under a memorized prior [eq:lookup-table], the linearized Gaussian mixture
//! [eq:linearized-posterior], and the summaries the figures compare them with (visit frequencies,
//! spread, calibration [eq:calibration]).

use faer::{Mat, c64};
use memprior_core::numerics::{log_softmax, softmax};
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
}

/// F(z̃) = [Re d; Im d] of the model m(μ + s ⊙ z̃): the forward map the linearised mixture needs.
/// Its Jacobian comes from one factorisation per point (one block solve per KL direction).
pub struct KlForward<'a> {
    /// The simulator.
    pub op: &'a Helmholtz,
    /// The KL basis.
    pub kl: &'a KlBasis,
    /// The z-scoring of the training set.
    pub zscore: &'a ZScore,
}

impl KlForward<'_> {
    fn model(&self, zt: &[f64]) -> Vec<f64> {
        let g = self.op.geometry();
        self.kl
            .reconstruct(&self.zscore.denormalize(zt), g.nx, g.nz)
            .expect("z̃ has the basis dimension")
    }

    fn direction(&self, k: usize) -> Vec<f64> {
        let g = self.op.geometry();
        let mut e = vec![0.0; self.kl.dim()];
        e[k] = self.zscore.scale[k];
        // G (s ⊙ e_k) = m(e_k s_k) − m̄.
        let m0 = self.kl.background();
        self.kl
            .reconstruct(&e, g.nx, g.nz)
            .expect("basis dimension")
            .into_iter()
            .map(|v| v - m0)
            .collect()
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
        let dz: Vec<f64> = dzt.iter().zip(&self.zscore.scale).map(|(a, s)| a * s).collect();
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
        gz.iter().zip(&self.zscore.scale).map(|(a, s)| a * s).collect()
    }
    /// All d columns from one factorisation.
    fn jacobian(&self, zt: &[f64]) -> Mat<f64> {
        let state = self.op.solve(&self.model(zt)).expect("valid model");
        let cols: Vec<Vec<f64>> = (0..self.kl.dim())
            .map(|k| Helmholtz::data_to_real(&state.jacobian_apply(&self.direction(k))))
            .collect();
        Mat::from_fn(self.output_dim(), cols.len(), |i, k| cols[k][i])
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

/// log w_n of [`lookup_weights`].
pub fn lookup_log_weights(misfits: &[f64]) -> Vec<f64> {
    log_softmax(&misfits.iter().map(|p| -p).collect::<Vec<_>>())
}

/// exp(H(w)): the effective number of components of a weight vector.
pub fn effective_count(w: &[f64]) -> f64 {
    let h: f64 = w.iter().filter(|v| **v > 0.0).map(|v| -v * v.ln()).sum();
    h.exp()
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

/// The linearised Gaussian mixture in z̃ around every training point of `training_zt`, summarised
/// at each bandwidth and both weightings. The Jacobians (one factorisation and d block solves per
/// point) are computed once and reused across bandwidths.
///
/// # Errors
/// Invalid bandwidths or a non-positive-definite system.
pub fn linearized_summaries(
    forward: &KlForward<'_>,
    y: Vec<f64>,
    sigma_d: f64,
    training_zt: &[Vec<f64>],
    sigmas: &[f64],
    lookup: &[f64],
) -> Result<Vec<LinearizedSummary>, ConfigError> {
    let jac: Vec<Mat<f64>> = training_zt.iter().map(|z| forward.jacobian(z)).collect();
    let cached = CachedJacobian { inner: forward, points: training_zt, jac: &jac };
    let lik = GaussianLikelihood::new(cached, y, sigma_d)?;
    let train = TrainingSet::new(training_zt)?;
    let mut out = Vec::new();
    for &sigma in sigmas {
        let post = LinearizedPosterior::new(&lik, &train, sigma)?;
        for weighting in Weighting::ALL {
            let w = post.weights(weighting);
            let d = forward.kl.dim();
            let comps = post.components();
            let s = &forward.zscore.scale;
            let mean_t: Vec<f64> = (0..d)
                .map(|k| comps.iter().zip(&w).map(|(c, wn)| wn * c.mean[k]).sum())
                .collect();
            let std_raw: Vec<f64> = (0..d)
                .map(|k| {
                    let v: f64 = comps
                        .iter()
                        .zip(&w)
                        .map(|(c, wn)| wn * (c.covariance[(k, k)] + (c.mean[k] - mean_t[k]).powi(2)))
                        .sum();
                    v.max(0.0).sqrt() * s[k]
                })
                .collect();
            let tv = w.iter().zip(lookup).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0;
            out.push(LinearizedSummary {
                sigma,
                weighting,
                weights: w,
                std_raw,
                mean_raw: forward.zscore.denormalize(&mean_t),
                tv_to_lookup: tv,
            });
        }
    }
    Ok(out)
}

/// Serves precomputed Jacobians at the training points (the mixture is rebuilt per bandwidth).
struct CachedJacobian<'a> {
    inner: &'a KlForward<'a>,
    points: &'a [Vec<f64>],
    jac: &'a [Mat<f64>],
}

impl ForwardOperator for CachedJacobian<'_> {
    fn input_dim(&self) -> usize {
        self.inner.input_dim()
    }
    fn output_dim(&self) -> usize {
        self.inner.output_dim()
    }
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        self.inner.apply(x)
    }
}

impl JacobianAction for CachedJacobian<'_> {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Vec<f64> {
        self.inner.jacobian_apply(x, dx)
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Vec<f64> {
        self.inner.jacobian_adjoint_apply(x, dy)
    }
    fn jacobian(&self, x: &[f64]) -> Mat<f64> {
        match self.points.iter().position(|p| p.as_slice() == x) {
            Some(i) => self.jac[i].clone(),
            None => self.inner.jacobian(x),
        }
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
