//! The posterior under the empirical measure is a likelihood-weighted lookup [eq:lookup-table]:
//!
//! p(x | y) = Σ_n w_n δ(x − x_n),  w_n = softmax_n(−‖F(x_n) − y‖² / (2γ²)).

use crate::GaussianLikelihood;
use memprior_core::ForwardOperator;
use memprior_core::numerics::{log_softmax, softmax};
use priors::TrainingSet;

/// Normalised log lookup weights log w_n (length N), one forward evaluation per training point.
///
/// # Errors
/// The first training point where F cannot be evaluated.
pub fn lookup_log_weights<F: ForwardOperator>(
    lik: &GaussianLikelihood<F>,
    training: &TrainingSet,
) -> Result<Vec<f64>, F::Error> {
    Ok(log_softmax(&log_likelihoods(lik, training)?))
}

/// Lookup weights w_n [eq:lookup-table].
///
/// # Errors
/// As [`lookup_log_weights`].
pub fn lookup_weights<F: ForwardOperator>(
    lik: &GaussianLikelihood<F>,
    training: &TrainingSet,
) -> Result<Vec<f64>, F::Error> {
    Ok(softmax(&log_likelihoods(lik, training)?))
}

fn log_likelihoods<F: ForwardOperator>(
    lik: &GaussianLikelihood<F>,
    training: &TrainingSet,
) -> Result<Vec<f64>, F::Error> {
    training.iter().map(|xn| lik.log_likelihood(xn)).collect()
}
