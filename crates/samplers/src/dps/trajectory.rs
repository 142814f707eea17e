//! One DPS trajectory on the reverse loop: the misfit trace observer, the run, and the shorthands
//! of each variant.

use super::*;

/// Records Φ(x̂₀) of the first row at the levels t with t % `every` == 0 and at t = 0, from the
/// steps that report a misfit.
#[derive(Debug, Clone, Default)]
pub struct MisfitTrace {
    /// Recording interval in levels (0: only t = 0).
    pub every: usize,
    /// (t, Φ) in the order run (t = T − 1 first).
    pub trace: Vec<(usize, f64)>,
}

impl MisfitTrace {
    /// A trace of every `every`-th level.
    pub fn new(every: usize) -> Self {
        Self {
            every,
            trace: Vec::new(),
        }
    }
}

impl Observer for MisfitTrace {
    fn observe(&mut self, t: usize, out: &StepOutput) {
        if let Some(phi) = out.misfit.as_ref().and_then(|m| m.first())
            && recorded(self.every, t)
        {
            self.trace.push((t, *phi));
        }
    }
}

/// One DPS trajectory: the final sample and the misfit along the way.
#[derive(Debug, Clone, PartialEq)]
pub struct DpsTrace {
    /// The final sample x₀.
    pub x: Vec<f64>,
    /// (t, Φ(x̂₀)) at every recorded level, in the order run (t = T − 1 first).
    pub misfit_trace: Vec<(usize, f64)>,
    /// Φ at the final sample.
    pub final_misfit: f64,
}

/// Run one DPS trajectory of `step` from `x_start` (at level T − 1) on the reverse loop, with
/// the misfit recorded every `record_every` levels; `final_misfit` gives Φ at the final sample.
///
/// # Errors
/// The first failing misfit evaluation.
pub fn sample<D, S, R, E>(
    denoiser: &D,
    step: &S,
    x_start: &[f64],
    rng: &mut R,
    record_every: usize,
    final_misfit: impl FnOnce(&[f64]) -> Result<f64, E>,
) -> Result<DpsTrace, DpsStepError<E>>
where
    D: Denoiser + ?Sized,
    S: ReverseStep<D, Error = E>,
    R: Rng + ?Sized,
{
    let start = Batch::new(x_start.len(), x_start.to_vec())?;
    if start.dim() != denoiser.dim() {
        return Err(ConfigError::new(
            "x_start",
            format!("must have the denoiser's dimension {}", denoiser.dim()),
            start.dim(),
        )
        .into());
    }
    let mut trace = MisfitTrace::new(record_every);
    let x =
        try_reverse(denoiser, step, start, rng, &mut trace).map_err(|f| DpsStepError::Misfit {
            level: Some(f.t),
            last: f.x.row(0).to_vec(),
            misfit_trace: std::mem::take(&mut trace.trace),
            source: f.source,
        })?;
    let x = x.row(0).to_vec();
    let final_misfit = match final_misfit(&x) {
        Ok(phi) => phi,
        Err(source) => {
            return Err(DpsStepError::Misfit {
                level: None,
                misfit_trace: trace.trace,
                last: x,
                source,
            });
        }
    };
    Ok(DpsTrace {
        x,
        misfit_trace: trace.trace,
        final_misfit,
    })
}

/// [`PaperDps`] from `x_start`, recorded every `record_every` levels (Φ at the final sample by
/// [`Misfit::misfit_gradient`]).
///
/// # Errors
/// An invalid step size, or the misfit's first failure.
pub fn dps_paper<D, M>(
    denoiser: &D,
    misfit: &M,
    step: &StepSize,
    x_start: &[f64],
    record_every: usize,
) -> Result<DpsTrace, DpsStepError<M::Error>>
where
    D: Denoiser + ?Sized,
    M: Misfit + ?Sized,
{
    let s = PaperDps::new(misfit, step.clone(), denoiser.schedule().steps())?;
    sample(denoiser, &s, x_start, &mut quiet_rng(), record_every, |x| {
        Ok(misfit.misfit_gradient(x)?.0)
    })
}

/// [`PaperAuthorsDps`] from `x_start`, recorded every `record_every` levels (Φ at the final
/// sample by [`Misfit::misfit`]).
///
/// # Errors
/// An invalid step size, or the misfit's first failure.
pub fn dps_paper_authors<D, M>(
    denoiser: &D,
    misfit: &M,
    step: &StepSize,
    x_start: &[f64],
    record_every: usize,
) -> Result<DpsTrace, DpsStepError<M::Error>>
where
    D: Denoiser + ?Sized,
    M: Misfit + ?Sized,
{
    let s = PaperAuthorsDps::new(
        misfit,
        step.clone(),
        denoiser.schedule().steps(),
        record_every,
    )?;
    sample(denoiser, &s, x_start, &mut quiet_rng(), record_every, |x| {
        misfit.misfit(x)
    })
}

/// [`ChungDps`] from `x_start` with the ancestral DDPM step (its noise from `rng`), recorded
/// every `record_every` levels (Φ at the final sample by [`Misfit::misfit_gradient`]).
///
/// # Errors
/// An invalid step size, or the misfit's first failure.
pub fn dps_through_denoiser<D, M, R>(
    denoiser: &D,
    misfit: &M,
    _ddpm: &DdpmStep,
    step: &StepSize,
    x_start: &[f64],
    rng: &mut R,
    record_every: usize,
) -> Result<DpsTrace, DpsStepError<M::Error>>
where
    D: DifferentiableDenoiser + ?Sized,
    M: Misfit + ?Sized,
    R: Rng + ?Sized,
{
    let s = ChungDps::new(misfit, step.clone(), denoiser.schedule().steps())?;
    sample(denoiser, &s, x_start, rng, record_every, |x| {
        Ok(misfit.misfit_gradient(x)?.0)
    })
}

/// The random source of the deterministic variants (never drawn from; seeded all the same).
pub(super) fn quiet_rng() -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(0)
}
