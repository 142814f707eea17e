//! The three DPS variants as reverse steps, each validated when built.

use super::*;

/// The paper's variant as a reverse step: the DDIM step to x_{t−1}, re-denoising at t − 1 (the
/// sample itself after the last step), then a move by the step size along ∇Φ at that estimate.
/// It reports that estimate as x̂₀ and Φ there.
#[derive(Debug, Clone)]
pub struct PaperDps<'m, M: ?Sized> {
    misfit: &'m M,
    step: StepSize,
}

impl<'m, M: Misfit + ?Sized> PaperDps<'m, M> {
    /// The step for a schedule of `levels` levels.
    ///
    /// # Errors
    /// A step size that fails [`StepSize::validate`].
    pub fn new(misfit: &'m M, step: StepSize, levels: usize) -> Result<Self, ConfigError> {
        step.validate(levels)?;
        Ok(Self { misfit, step })
    }
}

impl<D: Denoiser + ?Sized, M: Misfit + ?Sized> ReverseStep<D> for PaperDps<'_, M> {
    type Error = M::Error;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        _rng: &mut R,
    ) -> Result<StepOutput, M::Error> {
        let (x0, eps) = denoiser.x0_and_epsilon(x_t, t);
        let mut x = DdimStep::from_prediction(denoiser, &x0, &eps, t);
        let x0 = if t > 0 {
            denoiser.x0(&x, t - 1)
        } else {
            x.clone()
        };
        let (phi, g): (Vec<f64>, Vec<Vec<f64>>) = x0
            .rows()
            .map(|r| self.misfit.misfit_gradient(r))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        apply_move(&mut x, t, &self.step, &phi, &g);
        Ok(StepOutput {
            x_prev: x,
            x0,
            misfit: Some(phi),
        })
    }
}

/// The paper's variant exactly as the authors' script runs it (luqigroup/mempost,
/// `helmholtz_dps_comparison_c64.py`). Per level t:
///
/// 1. x̂₀ and ε at (x, t); at recorded levels Φ(x̂₀) of this estimate, taken *before* the step
///    (and reported as the step's misfit, with this x̂₀);
/// 2. the DDIM step to level t − 1 (x̂₀ itself at t = 0);
/// 3. re-denoise with the network's ε at the *old* level t but ᾱ of level max(t − 1, 0):
///    x̂₀′ = (x − √(1 − ᾱ) ε(x, t)) / √ᾱ — also after the last step;
/// 4. move by the step size along ∇Φ(x̂₀′).
///
/// [`PaperDps`] differs in steps 1 and 3: it records Φ after the step, and re-denoises at level
/// t − 1 with that level's own ε (the sample itself after the last step).
#[derive(Debug, Clone)]
pub struct PaperAuthorsDps<'m, M: ?Sized> {
    misfit: &'m M,
    step: StepSize,
    record_every: usize,
}

impl<'m, M: Misfit + ?Sized> PaperAuthorsDps<'m, M> {
    /// The step for a schedule of `levels` levels; Φ(x̂₀) before the step is evaluated (a
    /// forward solve) only at the levels [`MisfitTrace`] records with the same `record_every`.
    ///
    /// # Errors
    /// A step size that fails [`StepSize::validate`].
    pub fn new(
        misfit: &'m M,
        step: StepSize,
        levels: usize,
        record_every: usize,
    ) -> Result<Self, ConfigError> {
        step.validate(levels)?;
        Ok(Self {
            misfit,
            step,
            record_every,
        })
    }
}

impl<D: Denoiser + ?Sized, M: Misfit + ?Sized> ReverseStep<D> for PaperAuthorsDps<'_, M> {
    type Error = M::Error;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        _rng: &mut R,
    ) -> Result<StepOutput, M::Error> {
        let (x0, eps) = denoiser.x0_and_epsilon(x_t, t);
        let before = if recorded(self.record_every, t) {
            Some(
                x0.rows()
                    .map(|r| self.misfit.misfit(r))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        // At t = 0, ᾱ_{−1} = 1 and the step returns x̂₀ itself.
        let mut x = DdimStep::from_prediction(denoiser, &x0, &eps, t);
        let (_, eps_now) = denoiser.x0_and_epsilon(&x, t);
        let ab = denoiser.schedule().alpha_bar(t.saturating_sub(1));
        let (a, b) = (ab.sqrt(), (1.0 - ab).sqrt());
        let (phi, g): (Vec<f64>, Vec<Vec<f64>>) = x
            .rows()
            .zip(eps_now.rows())
            .map(|(xr, er)| {
                let x0_now: Vec<f64> = xr
                    .iter()
                    .zip(er)
                    .map(|(xi, ei)| (xi - b * ei) / a)
                    .collect();
                self.misfit.misfit_gradient(&x0_now)
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        apply_move(&mut x, t, &self.step, &phi, &g);
        Ok(StepOutput {
            x_prev: x,
            x0,
            misfit: before,
        })
    }
}

/// Chung et al.'s DPS as a reverse step: x̂₀(x_t) and Φ with its gradient there, pulled back
/// through the denoiser (vector–Jacobian product), the ancestral DDPM step from that x̂₀, then
/// the move by the step size. One denoiser evaluation per level serves the guidance and the step.
#[derive(Debug, Clone)]
pub struct ChungDps<'m, M: ?Sized> {
    misfit: &'m M,
    step: StepSize,
}

impl<'m, M: Misfit + ?Sized> ChungDps<'m, M> {
    /// The step for a schedule of `levels` levels.
    ///
    /// # Errors
    /// A step size that fails [`StepSize::validate`].
    pub fn new(misfit: &'m M, step: StepSize, levels: usize) -> Result<Self, ConfigError> {
        step.validate(levels)?;
        Ok(Self { misfit, step })
    }
}

impl<D: DifferentiableDenoiser + ?Sized, M: Misfit + ?Sized> ReverseStep<D> for ChungDps<'_, M> {
    type Error = M::Error;
    fn step<R: Rng + ?Sized>(
        &self,
        denoiser: &D,
        x_t: &Batch,
        t: usize,
        rng: &mut R,
    ) -> Result<StepOutput, M::Error> {
        let x0 = denoiser.x0(x_t, t);
        let mut phi = Vec::with_capacity(x0.len());
        let mut g = Vec::with_capacity(x0.len() * x0.dim());
        for r in x0.rows() {
            let (p, gr) = self.misfit.misfit_gradient(r)?;
            assert_eq!(
                gr.len(),
                r.len(),
                "Misfit::misfit_gradient returned a gradient of another dimension than its point"
            );
            phi.push(p);
            g.extend(gr);
        }
        let g = Batch::new(x0.dim(), g).expect("rows of the point's dimension");
        let gt = denoiser.x0_vjp(x_t, t, &g);
        let mut x = DdpmStep::from_x0(denoiser, x_t, &x0, t, rng);
        let gt: Vec<Vec<f64>> = gt.to_rows();
        apply_move(&mut x, t, &self.step, &phi, &gt);
        Ok(StepOutput {
            x_prev: x,
            x0,
            misfit: Some(phi),
        })
    }
}
