//! A factorised model with its wavefields: forward data, J, Jᴴ and the misfit gradient, and the
//! real-vector operator traits.

use super::*;

impl Drop for State<'_> {
    fn drop(&mut self) {
        let buffers = &self.op.buffers;
        match std::mem::replace(&mut self.fields, Wavefields::Natural(Mat::new())) {
            Wavefields::Natural(m) => buffers.give_mat(m),
            Wavefields::Factor { rows, natural, .. } => {
                buffers.give_rows(rows);
                if let Some(m) = natural.into_inner() {
                    buffers.give_mat(m);
                }
            }
        }
    }
}

impl State<'_> {
    /// Source wavefields on the padded grid, one column per source (index q = i N_z + j).
    pub fn fields(&self) -> &Mat<c64> {
        match &self.fields {
            Wavefields::Natural(m) => m,
            Wavefields::Factor {
                rows,
                perm_inv,
                k,
                natural,
            } => natural.get_or_init(|| {
                let mut m = self.op.buffers.any(perm_inv.len(), *k);
                buffers::permute_out(rows, perm_inv, *k, &mut m, |_, v| v);
                m
            }),
        }
    }

    /// Number of sources (columns of the wavefields).
    fn n_sources(&self) -> usize {
        self.op.sources.len()
    }

    /// Data at the receivers (n_sources × n_receivers).
    pub fn data(&self) -> Mat<c64> {
        let rec = &self.op.receivers;
        match &self.fields {
            Wavefields::Factor {
                rows, perm_inv, k, ..
            } => Mat::from_fn(*k, rec.len(), |s, r| rows[perm_inv[rec[r]] * k + s]),
            Wavefields::Natural(m) => Mat::from_fn(m.ncols(), rec.len(), |s, r| m[(rec[r], s)]),
        }
    }

    /// Solve Aᴴ λ_s = Pᵀ w_s for receiver-side weights `w` (n_s × n_r); returns λ (N × n_s).
    pub(super) fn adjoint_fields(&self, w: &Mat<c64>) -> Mat<c64> {
        let mut rhs = self.op.buffers.zeros(self.op.n_unknowns(), w.nrows());
        for s in 0..w.nrows() {
            for (r, &q) in self.op.receivers.iter().enumerate() {
                rhs[(q, s)] += w[(s, r)];
            }
        }
        self.lu.solve_adjoint(&mut rhs);
        rhs
    }

    /// padᵀ(−ω² Σ_s Re(conj(λ_s) ⊙ u_s)).
    pub(super) fn correlate(&self, lambda: &Mat<c64>) -> Vec<f64> {
        let w2 = self.op.omega * self.op.omega;
        let mut g_pad = vec![0.0; self.op.n_unknowns()];
        let fields = self.fields();
        for s in 0..fields.ncols() {
            let (u, l) = (fields.col(s), lambda.col(s));
            for (q, g) in g_pad.iter_mut().enumerate() {
                let (a, b) = (l[q], u[q]);
                *g -= w2 * (a.re * b.re + a.im * b.im);
            }
        }
        self.op.pad_adjoint_unchecked(&g_pad)
    }

    /// J δm = −P A⁻¹ (ω² pad(δm) ⊙ u_s) for every source (n_s × n_r).
    ///
    /// # Errors
    /// `dm` without one value per pixel.
    pub fn jacobian_apply(&self, dm: &[f64]) -> Result<Mat<c64>, HelmholtzError> {
        memprior_core::check_len("dm", dm, self.op.geometry.n_pixels())?;
        let w2 = self.op.omega * self.op.omega;
        let dm_pad = self.op.pad_unchecked(dm);
        let fields = self.fields();
        let mut rhs = Mat::from_fn(fields.nrows(), fields.ncols(), |q, s| {
            fields[(q, s)] * (-w2 * dm_pad[q])
        });
        self.lu.solve(&mut rhs);
        let rec = &self.op.receivers;
        Ok(Mat::from_fn(rhs.ncols(), rec.len(), |s, r| {
            rhs[(rec[r], s)]
        }))
    }

    /// The rows of the Jacobian ∂d/∂m, one datum at a time, from n_r adjoint solves:
    /// d_{s,r} = e_rᵀ P A⁻¹ b_s, so ∂d_{s,r}/∂m_pad = −ω² (A⁻ᵀ Pᵀ e_r) ⊙ u_s with A⁻ᵀ e = conj(A⁻ᴴ e)
    /// for a real e, and the padding adjoint maps the row to the interior grid. `f(row, re, im)`
    /// receives row s·n_r + r as real and imaginary parts (length n_x n_z); only one row is held at
    /// a time, so the paper grid (2940 × 40,000) needs no dense matrix. With few receivers this is
    /// far cheaper than one solve per model direction.
    pub fn for_each_jacobian_row(&self, mut f: impl FnMut(usize, &[f64], &[f64])) {
        let (ns, rec) = (self.n_sources(), &self.op.receivers);
        let fields = self.fields();
        let mut lam = Mat::<c64>::zeros(self.op.n_unknowns(), rec.len());
        for (r, &q) in rec.iter().enumerate() {
            lam[(q, r)] = c64::new(1.0, 0.0);
        }
        self.lu.solve_adjoint(&mut lam);
        let w2 = self.op.omega * self.op.omega;
        let (mut re, mut im) = (
            vec![0.0; self.op.n_unknowns()],
            vec![0.0; self.op.n_unknowns()],
        );
        for s in 0..ns {
            for r in 0..rec.len() {
                for q in 0..re.len() {
                    let c = lam[(q, r)].conj() * fields[(q, s)] * (-w2);
                    re[q] = c.re;
                    im[q] = c.im;
                }
                f(
                    s * rec.len() + r,
                    &self.op.pad_adjoint_unchecked(&re),
                    &self.op.pad_adjoint_unchecked(&im),
                );
            }
        }
    }

    /// The dense Jacobian ∂d/∂m (complex, (n_s n_r) × (n_x n_z)) from [`State::for_each_jacobian_row`].
    pub fn jacobian_dense(&self) -> Mat<c64> {
        let n_pix = self.op.geometry.nx * self.op.geometry.nz;
        let mut out = Mat::<c64>::zeros(self.n_sources() * self.op.receivers.len(), n_pix);
        self.for_each_jacobian_row(|row, re, im| {
            for p in 0..n_pix {
                out[(row, p)] = c64::new(re[p], im[p]);
            }
        });
        out
    }

    /// Jᴴ δd (real, length n_x n_z): the adjoint of [`State::jacobian_apply`] in the real inner
    /// product Re⟨·,·⟩.
    ///
    /// # Errors
    /// `dd` not of shape (n_sources, n_receivers).
    pub fn jacobian_adjoint_apply(&self, dd: &Mat<c64>) -> Result<Vec<f64>, HelmholtzError> {
        self.check_data_shape("dd", dd)?;
        Ok(self.adjoint_apply_checked(dd))
    }

    /// [`State::jacobian_adjoint_apply`] for `dd` of the checked shape.
    fn adjoint_apply_checked(&self, dd: &Mat<c64>) -> Vec<f64> {
        if let (Factor::Ldlt(f), Wavefields::Factor { rows: u, .. }) = (&self.lu, &self.fields) {
            // The adjoint sources from their entries, λ kept in the factor's numbering and
            // correlated there with u: no n × k block filled, scanned or permuted (the bits of
            // the general path below).
            let ns = dd.nrows();
            let mut entries = Vec::with_capacity(ns * self.op.receivers.len());
            for s in 0..ns {
                for (r, &q) in self.op.receivers.iter().enumerate() {
                    entries.push((q, s, dd[(s, r)]));
                }
            }
            let z = f.solve_adjoint_entries_z(&entries, ns);
            let w2 = self.op.omega * self.op.omega;
            let g_pad = f.correlate_rows(u, &z, ns, w2);
            self.op.buffers.give_rows(z);
            return self.op.pad_adjoint_unchecked(&g_pad);
        }
        let lambda = self.adjoint_fields(dd);
        let g = self.correlate(&lambda);
        self.op.buffers.give_mat(lambda);
        g
    }

    /// Require `d` to be n_sources × n_receivers.
    fn check_data_shape(&self, field: &str, d: &Mat<c64>) -> Result<(), ConfigError> {
        let shape = (self.n_sources(), self.op.receivers.len());
        if (d.nrows(), d.ncols()) == shape {
            return Ok(());
        }
        Err(ConfigError::new(
            field,
            format!(
                "must have shape (n_sources, n_receivers) = ({}, {})",
                shape.0, shape.1
            ),
            format!("({}, {})", d.nrows(), d.ncols()),
        ))
    }

    /// Φ = ½ Σ‖P u_s − d_s‖²/σ_d² and ∇_m Φ = Jᴴ (P u − d)/σ_d².
    pub fn misfit_gradient(
        &self,
        d_obs: &Mat<c64>,
        sigma_d: f64,
    ) -> Result<(f64, Vec<f64>), HelmholtzError> {
        memprior_core::error::positive("sigma_d", sigma_d)?;
        self.check_data_shape("data", d_obs)?;
        let data = self.data();
        let inv_s2 = 1.0 / (sigma_d * sigma_d);
        // Weighted residual (P u − d)/σ_d²; Φ = ½ σ_d² ‖weighted residual‖².
        let resid = Mat::from_fn(data.nrows(), data.ncols(), |s, r| {
            (data[(s, r)] - d_obs[(s, r)]) * inv_s2
        });
        let mut sum_sq = 0.0;
        for s in 0..resid.nrows() {
            for r in 0..resid.ncols() {
                sum_sq += resid[(s, r)].norm_sqr();
            }
        }
        let phi = 0.5 * sum_sq * sigma_d * sigma_d;
        Ok((phi, self.adjoint_apply_checked(&resid)))
    }
}

impl ForwardOperator for Helmholtz {
    type Error = HelmholtzError;
    fn input_dim(&self) -> usize {
        self.geometry.n_pixels()
    }
    fn output_dim(&self) -> usize {
        2 * self.sources.len() * self.receivers.len()
    }
    /// [Re d; Im d].
    fn apply(&self, x: &[f64]) -> Result<Vec<f64>, HelmholtzError> {
        Ok(Self::data_to_real(&self.forward(x)?))
    }
}

impl JacobianAction for Helmholtz {
    fn jacobian_apply(&self, x: &[f64], dx: &[f64]) -> Result<Vec<f64>, HelmholtzError> {
        memprior_core::check_len("dx", dx, self.geometry.n_pixels())?;
        let state = self.solve(x)?;
        Ok(Self::data_to_real(&state.jacobian_apply(dx)?))
    }
    fn jacobian_adjoint_apply(&self, x: &[f64], dy: &[f64]) -> Result<Vec<f64>, HelmholtzError> {
        let dd = self.data_from_real(dy)?;
        self.solve(x)?.jacobian_adjoint_apply(&dd)
    }

    /// One factorisation for Φ and ∇Φ ([`State::misfit_gradient`]: the residual weighted by
    /// 1/γ² before the adjoint, Φ summed source by source).
    fn misfit_gradient_gaussian(
        &self,
        x: &[f64],
        y: &[f64],
        gamma: f64,
    ) -> Result<(f64, Vec<f64>), HelmholtzError> {
        let d_obs = self.data_from_real(y)?;
        self.solve(x)?.misfit_gradient(&d_obs, gamma)
    }

    /// Φ from the forward solves alone (no adjoint), summed receiver by receiver.
    fn misfit_gaussian(&self, x: &[f64], y: &[f64], gamma: f64) -> Result<f64, HelmholtzError> {
        memprior_core::error::positive("gamma", gamma)?;
        let d_obs = self.data_from_real(y)?;
        let d = self.forward(x)?;
        let mut sum = 0.0;
        for j in 0..d.ncols() {
            for i in 0..d.nrows() {
                sum += (d[(i, j)] - d_obs[(i, j)]).norm_sqr();
            }
        }
        Ok(0.5 * sum / (gamma * gamma))
    }

    /// F(x) and the rows of J from one factorisation and one adjoint solve per receiver
    /// ([`State::for_each_jacobian_row`]): for each datum i, its row of Re d (row i), then its
    /// row of Im d (row n_s n_r + i).
    fn apply_and_jacobian_rows(
        &self,
        x: &[f64],
        row: &mut dyn FnMut(usize, &[f64]),
    ) -> Result<Vec<f64>, HelmholtzError> {
        let state = self.solve(x)?;
        let half = self.sources.len() * self.receivers.len();
        state.for_each_jacobian_row(|i, re, im| {
            row(i, re);
            row(half + i, im);
        });
        Ok(Self::data_to_real(&state.data()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ldlt_adjoint_in_factor_order_gives_the_bits_of_the_general_path() {
        let geometry = Geometry::preset(GeometryPreset::Small);
        let m = smooth_test_model(geometry.nx, geometry.nz);
        for solver in [Solver::LdltMetis, Solver::LdltMetisF32] {
            let op = Helmholtz::with_solver(geometry.clone(), solver).unwrap();
            let state = op.solve(&m).unwrap();
            assert!(
                matches!(state.fields, Wavefields::Factor { .. }),
                "{solver:?} keeps its wavefields in its numbering"
            );
            // Receiver weights with no zero entry: every adjoint source is present.
            let (ns, nr) = (op.sources.len(), op.receivers.len());
            let dd = Mat::from_fn(ns, nr, |s, r| {
                c64::new((s as f64 + 0.3 * r as f64).sin(), (r as f64 * 0.7).cos())
            });
            let fast = state.jacobian_adjoint_apply(&dd).unwrap();
            let lambda = state.adjoint_fields(&dd);
            let general = state.correlate(&lambda);
            assert_eq!(fast.len(), general.len());
            for (p, (a, b)) in fast.iter().zip(&general).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{solver:?}, pixel {p}: {a} against {b}"
                );
            }
        }
    }
}
