//! Factorising A(m) (with the probe of the LDLᵀ's stability and the pivoted fallback), solving for
//! the source wavefields, forward data, the misfit gradient and the real data layout.

use super::*;

impl Helmholtz {
    /// Numeric factorisation of A(m) only (reusing the symbolic factorisation).
    pub fn factorize(&self, m: &[f64]) -> Result<Factor<'_>, HelmholtzError> {
        self.check_model_domain(m)?;
        self.factorize_padded(&self.pad_unchecked(m), true)
    }

    /// Numeric factorisation; for the LDLᵀ, `probe` runs the backward-error probe solve now
    /// (else the caller checks the residual of its own first solve, see [`Helmholtz::solve`]).
    pub(super) fn factorize_padded(
        &self,
        m_pad: &[f64],
        probe: bool,
    ) -> Result<Factor<'_>, HelmholtzError> {
        let values = self.matrix_values(m_pad);
        match &self.analysis {
            Analysis::Lu(symbolic) => Lu::try_new_with_symbolic(
                symbolic.clone(),
                SparseColMatRef::new(self.pattern.as_ref(), &values),
            )
            .map(Factor::Lu)
            .map_err(|e| HelmholtzError::Factorization(format!("{e:?}"))),
            Analysis::Symmetric(a) => Ok(Factor::Symmetric(a.factorize(&values, &self.pattern))),
            Analysis::Ldlt(a) => {
                let single = self.solver == Solver::LdltMetisF32;
                match self.ldlt_factor(a, &values, single, probe) {
                    Some(f) => {
                        self.buffers.give_vec(values);
                        Ok(Factor::Ldlt(f))
                    }
                    None => self.pivoted_fallback(a, &values),
                }
            }
        }
    }

    /// The LDLᵀ factors of M = S A (in f32 when `single`, falling back to f64), or `None` when
    /// a pivot vanished or (with `probe`) the refined probe solve missed
    /// [`LDLT_PROBE_TOLERANCE`]. Without `probe` the caller checks its own first solve.
    pub(super) fn ldlt_factor<'a>(
        &'a self,
        a: &'a LdltAnalysis,
        values: &[c64],
        single: bool,
        probe: bool,
    ) -> Option<LdltFactor<'a>> {
        let rows = self.pattern.row_idx();
        let m_values = self
            .buffers
            .map_of(values.iter().zip(rows).map(|(&v, &r)| v * a.scale[r]));
        let equilibration: Vec<f64> = self
            .diag_pos
            .iter()
            .map(|&p| {
                let d = m_values[p].norm();
                if d > 0.0 && d.is_finite() {
                    1.0 / d.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let e_values = self.buffers.map_of((0..self.pattern.ncols()).flat_map(|c| {
            let (m, eq) = (&m_values, &equilibration);
            self.pattern
                .col_range(c)
                .map(move |p| m[p] * (eq[rows[p]] * eq[c]))
        }));
        let numeric = if single {
            a.symbolic.factorize::<c32>(&e_values).map(LdltValues::F32)
        } else {
            a.symbolic
                .factorize_with_single(&e_values)
                .map(|(double, single)| LdltValues::F64 { double, single })
        };
        self.buffers.give_vec(e_values);
        let factor = match numeric {
            Ok(factor) => factor,
            Err(_) => {
                self.buffers.give_vec(m_values);
                return if single {
                    self.ldlt_factor(a, values, false, probe)
                } else {
                    None
                };
            }
        };
        let m_norm = ldlt::matrix_inf_norm(&self.pattern, &m_values);
        let mut f = LdltFactor {
            factor,
            scale: &a.scale,
            pattern: &self.pattern,
            symbolic: &a.symbolic,
            permuted: &a.permuted,
            probe: f64::NAN,
            refined: f64::NAN,
            refinement: if single {
                Refinement::F32
            } else {
                Refinement::F64
            },
            m_values,
            m_norm,
            m_rows: std::sync::OnceLock::new(),
            m_rows_t: std::sync::OnceLock::new(),
            equilibration: a
                .symbolic
                .perm()
                .iter()
                .map(|&q| equilibration[q])
                .collect(),
            buffers: &self.buffers,
        };
        if probe {
            f.run_probe();
            if !(f.refined <= LDLT_PROBE_TOLERANCE) {
                drop(f);
                return if single {
                    self.ldlt_factor(a, values, false, probe)
                } else {
                    None
                };
            }
        }
        Some(f)
    }

    /// The pivoted LBLᵀ of the real form under the LDLᵀ's node order, analysed once.
    pub(super) fn pivoted_fallback<'a>(
        &'a self,
        a: &'a LdltAnalysis,
        values: &[c64],
    ) -> Result<Factor<'a>, HelmholtzError> {
        let analysis = a
            .fallback
            .get_or_init(|| {
                symmetric::SymmetricAnalysis::new(
                    &self.pattern,
                    a.scale.clone(),
                    a.grid,
                    symmetric::Ordering::Nodes(a.node_perm.clone()),
                )
            })
            .as_ref()
            .map_err(|e| HelmholtzError::Factorization(e.clone()))?;
        Ok(Factor::Symmetric(analysis.factorize(values, &self.pattern)))
    }

    /// Factorise A(m) and solve for every source wavefield: the state all derivatives start from.
    pub fn solve(&self, m: &[f64]) -> Result<State<'_>, HelmholtzError> {
        self.check_model_domain(m)?;
        let m_pad = self.pad_unchecked(m);
        let mut lu = self.factorize_padded(&m_pad, false)?;
        let inv_h2 = 1.0 / (self.geometry.h * self.geometry.h);
        let point_sources = || {
            let mut fields = self.buffers.zeros(self.n_unknowns(), self.sources.len());
            for (s, &q) in self.sources.iter().enumerate() {
                fields[(q, s)] = c64::new(inv_h2, 0.0);
            }
            fields
        };
        let entries: Vec<(usize, usize, c64)> = (self.sources.iter().enumerate())
            .map(|(s, &q)| (q, s, c64::new(inv_h2, 0.0)))
            .collect();
        let (report, solved) = lu.solve_entries(&entries, (self.n_unknowns(), self.sources.len()));
        let mut fields = match (solved, &lu) {
            (Ok(rows), Factor::Ldlt(f)) => Wavefields::Factor {
                rows,
                perm_inv: f.symbolic.perm_inv(),
                k: self.sources.len(),
                natural: std::sync::OnceLock::new(),
            },
            (Ok(rows), _) => {
                // Not reached: only the LDLᵀ returns rows in its numbering.
                self.buffers.give_rows(rows);
                let mut m = point_sources();
                lu.solve(&mut m);
                Wavefields::Natural(m)
            }
            (Err(m), _) => Wavefields::Natural(m),
        };
        // The LDLᵀ's stability probe: the backward errors of the sources' solves, M u = S b,
        // before and after refinement (the probe vector's when there are no sources).
        if let (Factor::Ldlt(f), Analysis::Ldlt(a)) = (&mut lu, &self.analysis) {
            match report.filter(|_| !self.sources.is_empty()) {
                Some(r) => (f.probe, f.refined) = (r.initial, r.last),
                None => f.run_probe(),
            }
            if !(f.refined <= LDLT_PROBE_TOLERANCE) {
                let single = matches!(f.factor, LdltValues::F32(_));
                let values = self.matrix_values(&m_pad);
                lu = match single
                    .then(|| self.ldlt_factor(a, &values, false, true))
                    .flatten()
                {
                    Some(f64_factor) => Factor::Ldlt(f64_factor),
                    None => self.pivoted_fallback(a, &values)?,
                };
                if let Wavefields::Factor { rows, .. } = fields {
                    self.buffers.give_rows(rows);
                }
                let mut m = point_sources();
                lu.solve(&mut m);
                fields = Wavefields::Natural(m);
            }
        }
        Ok(State {
            op: self,
            lu,
            fields,
        })
    }

    /// Data d = P A(m)⁻¹ b for every source, as an (n_sources × n_receivers) matrix.
    pub fn forward(&self, m: &[f64]) -> Result<Mat<c64>, HelmholtzError> {
        Ok(self.solve(m)?.data())
    }

    /// Misfit Φ and its gradient with respect to m for observed data `d_obs` (n_s × n_r).
    pub fn misfit_gradient(
        &self,
        m: &[f64],
        d_obs: &Mat<c64>,
        sigma_d: f64,
    ) -> Result<(f64, Vec<f64>), HelmholtzError> {
        self.solve(m)?.misfit_gradient(d_obs, sigma_d)
    }

    /// Stack complex data row-major into [Re d; Im d].
    pub fn data_to_real(d: &Mat<c64>) -> Vec<f64> {
        let mut out = Vec::with_capacity(2 * d.nrows() * d.ncols());
        for part in [0, 1] {
            for s in 0..d.nrows() {
                for r in 0..d.ncols() {
                    out.push(if part == 0 {
                        d[(s, r)].re
                    } else {
                        d[(s, r)].im
                    });
                }
            }
        }
        out
    }

    /// The inverse of [`Helmholtz::data_to_real`] for this geometry's n_s × n_r data.
    ///
    /// # Errors
    /// `y` without 2 · n_sources · n_receivers values.
    pub fn data_from_real(&self, y: &[f64]) -> Result<Mat<c64>, ConfigError> {
        let (ns, nr) = (self.sources.len(), self.receivers.len());
        memprior_core::check_len("data (real form [Re d; Im d])", y, 2 * ns * nr)?;
        Ok(Mat::from_fn(ns, nr, |s, r| {
            c64::new(y[s * nr + r], y[ns * nr + s * nr + r])
        }))
    }
}
