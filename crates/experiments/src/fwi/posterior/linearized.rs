//! The linearised Gaussian mixture around every training model: the Jacobians (the expensive part,
//! shared by every nested training set) and the summaries per bandwidth and weighting.

use super::*;

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
    let chunk = points.len().div_ceil(workers.max(1)).max(1);
    let parts: Vec<Result<Linearization, HelmholtzError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = points
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let g = op.geometry();
                    let op = Helmholtz::new(g.clone())?;
                    // m̄ + G z, then the simulator: F and the rows of J from one factorisation.
                    let f = Affine::new(&op, kl.on_grid(g.nx, g.nz))?;
                    let mut out = Linearization {
                        forward: Vec::new(),
                        jacobian: Vec::new(),
                    };
                    for z in part {
                        let (data, jac) = apply_and_jacobian(&f, z)?;
                        out.forward.push(data);
                        out.jacobian.push(jac);
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

/// The likelihood of the data y under the linearised maps of `lin`, in z̃ (F(x_n) and
/// J̃ = J_z diag(s) served at the training points `training_zt`, the first models of `lin`):
/// what the lookup weights, the misfits Φ_n and the linearised mixture evaluate.
///
/// # Errors
/// Data of another length than the cached forward data, or a non-positive σ_d.
pub fn cached_likelihood<'a>(
    lin: &'a Linearization,
    zscore: &'a ZScore,
    y: Vec<f64>,
    sigma_d: f64,
    training_zt: &[Vec<f64>],
) -> Result<GaussianLikelihood<CachedLinearization<'a>>, ConfigError> {
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
    GaussianLikelihood::new(cached, y, sigma_d)
}

/// The linearised Gaussian mixture in z̃ around the training points of `lik`
/// ([`cached_likelihood`]), summarised at each bandwidth (in parallel) and both weightings.
///
/// # Errors
/// Invalid bandwidths or a non-positive-definite system.
pub fn linearized_summaries(
    lik: &GaussianLikelihood<CachedLinearization<'_>>,
    train: &TrainingSet,
    sigmas: &[f64],
    lookup: &[f64],
) -> Result<Vec<LinearizedSummary>, ConfigError> {
    let zscore = lik.operator().zscore;
    let per_sigma: Vec<Result<Vec<LinearizedSummary>, ConfigError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sigmas
            .iter()
            .map(|&sigma| scope.spawn(move || summarise(lik, train, zscore, sigma, lookup)))
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

pub(super) fn summarise<F: JacobianAction<Error = ConfigError>>(
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
            let tv = analysis::stats::total_variation(&w, lookup);
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

/// Serves the precomputed F and J̃ = J_z diag(s) at the training points ([`cached_likelihood`]).
pub struct CachedLinearization<'a> {
    lin: &'a Linearization,
    zscore: &'a ZScore,
    index: std::collections::HashMap<Vec<u64>, usize>,
    n: usize,
}

impl CachedLinearization<'_> {
    /// The index of training point `x` (`lin` holds the first models of the same nested training
    /// stream: index i is x_i).
    pub(super) fn at(&self, x: &[f64]) -> Result<usize, ConfigError> {
        debug_assert!(self.lin.forward.len() >= self.n);
        self.index
            .get(&x.iter().map(|v| v.to_bits()).collect::<Vec<u64>>())
            .copied()
            .ok_or_else(|| {
                ConfigError::new(
                    "x",
                    "must be one of the training points (the cached linearisation holds F and J \
                     only there)",
                    "another point",
                )
            })
    }
}

impl ForwardOperator for CachedLinearization<'_> {
    type Error = ConfigError;
    fn input_dim(&self) -> usize {
        self.zscore.scale.len()
    }
    fn output_dim(&self) -> usize {
        self.lin.forward[0].len()
    }
    fn apply(&self, x: &[f64]) -> Result<Vec<f64>, ConfigError> {
        Ok(self.lin.forward[self.at(x)?].clone())
    }
}

impl JacobianAction for CachedLinearization<'_> {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Result<Vec<f64>, ConfigError> {
        let j = self.jacobian(x)?;
        memprior_core::check_len("dx", dx, j.ncols())?;
        Ok((0..j.nrows())
            .map(|i| (0..j.ncols()).map(|k| j[(i, k)] * dx[k]).sum())
            .collect())
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Result<Vec<f64>, ConfigError> {
        let j = self.jacobian(x)?;
        memprior_core::check_len("dy", dy, j.nrows())?;
        Ok((0..j.ncols())
            .map(|k| (0..j.nrows()).map(|i| j[(i, k)] * dy[i]).sum())
            .collect())
    }
    /// Φ from the cached F alone (the generic formula's value, without its gradient).
    fn misfit_gaussian(&self, x: &[f64], y: &[f64], gamma: f64) -> Result<f64, ConfigError> {
        let f = self.apply(x)?;
        memprior_core::check_len("F(x)", &f, y.len())?;
        let g2 = gamma * gamma;
        Ok(0.5 * f.iter().zip(y).map(|(f, y)| (y - f) * (y - f)).sum::<f64>() / g2)
    }
    fn jacobian(&self, x: &[f64]) -> Result<Mat<f64>, ConfigError> {
        let jz = &self.lin.jacobian[self.at(x)?];
        Ok(Mat::from_fn(jz.nrows(), jz.ncols(), |i, k| {
            jz[(i, k)] * self.zscore.scale[k]
        }))
    }
}
