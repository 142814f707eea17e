//! The posterior under the empirical measure is a likelihood-weighted lookup [eq:lookup-table]:
//!
//! p(x | y) = Σ_n w_n δ(x − x_n),  w_n = softmax_n(−‖F(x_n) − y‖² / (2γ²)).

use crate::GaussianLikelihood;
use memprior_core::ForwardOperator;
use memprior_core::numerics::{log_softmax, softmax};
use priors::TrainingSet;

/// Normalised log lookup weights log w_n (length N), one forward evaluation per training point.
pub fn lookup_log_weights<F: ForwardOperator>(
    lik: &GaussianLikelihood<F>,
    training: &TrainingSet,
) -> Vec<f64> {
    log_softmax(
        &training
            .iter()
            .map(|xn| lik.log_likelihood(xn))
            .collect::<Vec<_>>(),
    )
}

/// Lookup weights w_n [eq:lookup-table].
pub fn lookup_weights<F: ForwardOperator>(
    lik: &GaussianLikelihood<F>,
    training: &TrainingSet,
) -> Vec<f64> {
    softmax(
        &training
            .iter()
            .map(|xn| lik.log_likelihood(xn))
            .collect::<Vec<_>>(),
    )
}
