//! Building the operator for a geometry (stencil, PML, symbolic analysis), its accessors, and the
//! model's padding and matrix values.

use super::*;

impl Helmholtz {
    /// Validate the geometry, assemble the stencil and analyse it for the default solver
    /// ([`Solver::LdltMetis`]).
    pub fn new(geometry: Geometry) -> Result<Self, HelmholtzError> {
        Self::with_solver(geometry, Solver::LdltMetis)
    }

    /// Validate the geometry, assemble the stencil and compute the symbolic factorisation of the
    /// chosen solver.
    pub fn with_solver(geometry: Geometry, solver: Solver) -> Result<Self, HelmholtzError> {
        Self::with_solver_and_ordering(geometry, solver, None)
    }

    /// As [`Helmholtz::with_solver`], with the fill-reducing ordering of [`Solver::LdltMetis`]
    /// given (`perm[new] = old` over the padded grid, e.g. [`Helmholtz::ordering`] of an earlier
    /// operator on the same padded grid, cached on disk) instead of computed: METIS is most of
    /// the setup. Ignored by the other solvers. Errors when `ordering` is not a permutation of
    /// the padded grid's unknowns.
    pub fn with_solver_and_ordering(
        geometry: Geometry,
        solver: Solver,
        ordering: Option<Vec<usize>>,
    ) -> Result<Self, HelmholtzError> {
        geometry.validate()?;
        let omega = geometry.omega();
        let (nxp, nzp) = geometry.padded_shape();
        let p = geometry.npml;
        let ax = PmlAxis::new(nxp, p, geometry.pml_max, omega);
        let az = PmlAxis::new(nzp, p, geometry.pml_max, omega);
        let inv_h2 = 1.0 / (geometry.h * geometry.h);
        let n = nxp * nzp;
        let zero = c64::new(0.0, 0.0);

        // Column q = (i, j) holds the coefficient of u_q in each equation that touches it, rows in
        // increasing order: (i−1, j), (i, j−1), (i, j), (i, j+1), (i+1, j).
        let mut col_ptr = Vec::with_capacity(n + 1);
        let mut row_idx = Vec::with_capacity(5 * n);
        let mut laplacian = Vec::with_capacity(5 * n);
        let mut diag_pos = vec![0; n];
        col_ptr.push(0);
        for i in 0..nxp {
            for j in 0..nzp {
                let q = i * nzp + j;
                if i > 0 {
                    row_idx.push(q - nzp);
                    laplacian.push(ax.plus[i - 1] * inv_h2);
                }
                if j > 0 {
                    row_idx.push(q - 1);
                    laplacian.push(az.plus[j - 1] * inv_h2);
                }
                diag_pos[q] = row_idx.len();
                row_idx.push(q);
                let sum = ax.plus[i] + ax.minus[i] + az.plus[j] + az.minus[j];
                laplacian.push(zero - sum * inv_h2);
                if j + 1 < nzp {
                    row_idx.push(q + 1);
                    laplacian.push(az.minus[j + 1] * inv_h2);
                }
                if i + 1 < nxp {
                    row_idx.push(q + nzp);
                    laplacian.push(ax.minus[i + 1] * inv_h2);
                }
                col_ptr.push(row_idx.len());
            }
        }
        let pattern = SymbolicSparseColMat::new_checked(n, n, col_ptr, None, row_idx);
        let analysis = match solver {
            Solver::Lu => Analysis::Lu(SymbolicLu::try_new(pattern.as_ref()).map_err(|e| {
                HelmholtzError::Factorization(format!("symbolic factorisation: {e:?}"))
            })?),
            Solver::SymmetricAmd | Solver::SymmetricNestedDissection | Solver::SymmetricMetis => {
                let ordering = match solver {
                    Solver::SymmetricAmd => symmetric::Ordering::Amd,
                    Solver::SymmetricNestedDissection => symmetric::Ordering::NestedDissection,
                    _ => symmetric::Ordering::Nodes(
                        ordering::metis_nested_dissection(&pattern)
                            .map_err(HelmholtzError::Factorization)?,
                    ),
                };
                let scale = stretch_scale(&ax, &az);
                Analysis::Symmetric(
                    symmetric::SymmetricAnalysis::new(&pattern, scale, (nxp, nzp), ordering)
                        .map_err(HelmholtzError::Factorization)?,
                )
            }
            Solver::LdltMetis
            | Solver::LdltAmd
            | Solver::LdltNestedDissection
            | Solver::LdltMetisF32 => {
                let ord = match solver {
                    Solver::LdltMetis | Solver::LdltMetisF32 => {
                        ldlt::LdltOrdering::Custom(match ordering {
                            Some(perm) => {
                                let mut seen = vec![false; n];
                                let ok = perm.len() == n
                                    && perm
                                        .iter()
                                        .all(|&p| p < n && !std::mem::replace(&mut seen[p], true));
                                if !ok {
                                    return Err(ConfigError::new(
                                        "ordering",
                                        format!(
                                            "must be a permutation of the {n} padded-grid unknowns"
                                        ),
                                        format!("{} entries", perm.len()),
                                    )
                                    .into());
                                }
                                perm
                            }
                            None => ordering::metis_nested_dissection(&pattern)
                                .map_err(HelmholtzError::Factorization)?,
                        })
                    }
                    Solver::LdltNestedDissection => {
                        ldlt::LdltOrdering::Custom(symmetric::nested_dissection(nxp, nzp, 16))
                    }
                    _ => ldlt::LdltOrdering::Amd,
                };
                let symbolic = ldlt::LdltSymbolic::new(&pattern, ord)
                    .map_err(HelmholtzError::Factorization)?;
                Analysis::Ldlt(LdltAnalysis {
                    node_perm: symbolic.perm().to_vec(),
                    scale: stretch_scale(&ax, &az),
                    grid: (nxp, nzp),
                    fallback: std::sync::OnceLock::new(),
                    permuted: refine::PermutedPattern::new(
                        &pattern,
                        symbolic.perm(),
                        symbolic.perm_inv(),
                    ),
                    symbolic,
                })
            }
        };
        let node = |[ix, iz]: [usize; 2]| (ix + p) * nzp + iz + p;
        let sources = geometry.sources.iter().copied().map(node).collect();
        let receivers = geometry.receivers.iter().copied().map(node).collect();
        Ok(Self {
            geometry,
            omega,
            shape: (nxp, nzp),
            pattern,
            laplacian,
            diag_pos,
            solver,
            analysis,
            sources,
            receivers,
            buffers: Buffers::default(),
        })
    }

    /// The geometry this operator was built for.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// ω = 2πf.
    pub fn omega(&self) -> f64 {
        self.omega
    }

    /// Padded grid shape (N_x, N_z).
    pub fn padded_shape(&self) -> (usize, usize) {
        self.shape
    }

    /// Number of unknowns N_x N_z.
    pub fn n_unknowns(&self) -> usize {
        self.shape.0 * self.shape.1
    }

    /// Number of structural nonzeros of A.
    pub fn nnz(&self) -> usize {
        self.laplacian.len()
    }

    /// Padded-grid indices of the sources.
    pub fn source_nodes(&self) -> &[usize] {
        &self.sources
    }

    /// Padded-grid indices of the receivers.
    pub fn receiver_nodes(&self) -> &[usize] {
        &self.receivers
    }

    /// The factorisation this operator uses.
    pub fn solver(&self) -> Solver {
        self.solver
    }

    /// Fill of the symmetric factorisation (stored reals of L: two per complex entry for the
    /// LDLᵀ) and its real flop count, or `None` for the LU solver (faer does not expose its LU
    /// fill).
    pub fn symmetric_fill_and_flops(&self) -> Option<(usize, f64)> {
        match &self.analysis {
            Analysis::Symmetric(a) => Some((a.factor_len(), a.flops())),
            Analysis::Ldlt(a) => Some((2 * a.symbolic.factor_len(), a.symbolic.flops())),
            Analysis::Lu(_) => None,
        }
    }

    /// The elimination order of the LDLᵀ solvers (`perm[new] = old`, postordered), to be cached
    /// and passed to [`Helmholtz::with_solver_and_ordering`]; `None` for the other solvers.
    pub fn ordering(&self) -> Option<&[usize]> {
        self.ldlt_symbolic().map(|s| s.perm())
    }

    /// The complex LDLᵀ analysis (`None` for the other solvers).
    pub fn ldlt_symbolic(&self) -> Option<&ldlt::LdltSymbolic> {
        match &self.analysis {
            Analysis::Ldlt(a) => Some(&a.symbolic),
            _ => None,
        }
    }

    /// [`Helmholtz::check_model`], with a finite value ≤ 0 reported as
    /// [`HelmholtzError::OutsideDomain`].
    ///
    /// # Errors
    /// As [`Helmholtz::check_model`].
    pub fn check_model_domain(&self, m: &[f64]) -> Result<(), HelmholtzError> {
        self.check_model(m).map_err(|e| {
            let outside = m.len() == self.geometry.n_pixels()
                && m.iter().all(|v| v.is_finite())
                && m.iter().any(|v| *v <= 0.0);
            if outside {
                HelmholtzError::OutsideDomain(e)
            } else {
                HelmholtzError::Config(e)
            }
        })
    }

    /// Check that `m` is a finite, positive squared-slowness model of the interior grid.
    ///
    /// # Errors
    /// A model of another length, or a value that is not finite and > 0 (the first named).
    pub fn check_model(&self, m: &[f64]) -> Result<(), ConfigError> {
        let g = &self.geometry;
        if m.len() != g.n_pixels() {
            return Err(ConfigError::new(
                "model",
                format!(
                    "must have nx · nz = {} · {} = {} values",
                    g.nx,
                    g.nz,
                    g.n_pixels()
                ),
                m.len(),
            ));
        }
        if let Some(k) = m.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(ConfigError::new(
                format!("model[{}, {}]", k / g.nz, k % g.nz),
                "squared slowness must be finite and > 0",
                m[k],
            ));
        }
        Ok(())
    }

    /// Extend an interior field to the padded grid by copying edge values into the PML.
    ///
    /// # Errors
    /// `m` without one value per interior pixel.
    pub fn pad(&self, m: &[f64]) -> Result<Vec<f64>, ConfigError> {
        memprior_core::check_len("model", m, self.geometry.n_pixels())?;
        Ok(self.pad_unchecked(m))
    }

    /// [`Helmholtz::pad`] of a field whose length the caller has checked.
    pub(super) fn pad_unchecked(&self, m: &[f64]) -> Vec<f64> {
        let (nxp, nzp) = self.shape;
        let (nx, nz, p) = (self.geometry.nx, self.geometry.nz, self.geometry.npml);
        let mut out = Vec::with_capacity(nxp * nzp);
        for i in 0..nxp {
            let ii = i.saturating_sub(p).min(nx - 1);
            for j in 0..nzp {
                let jj = j.saturating_sub(p).min(nz - 1);
                out.push(m[ii * nz + jj]);
            }
        }
        out
    }

    /// The adjoint of [`Helmholtz::pad`]: each interior pixel collects the padded values copied
    /// from it (edge pixels gather their PML strip, corners their PML corner block).
    ///
    /// # Errors
    /// `g_pad` without one value per unknown of the padded grid.
    pub fn pad_adjoint(&self, g_pad: &[f64]) -> Result<Vec<f64>, ConfigError> {
        memprior_core::check_len("padded field", g_pad, self.shape.0 * self.shape.1)?;
        Ok(self.pad_adjoint_unchecked(g_pad))
    }

    /// [`Helmholtz::pad_adjoint`] of a field whose length the caller has checked.
    pub(super) fn pad_adjoint_unchecked(&self, g_pad: &[f64]) -> Vec<f64> {
        let (nxp, nzp) = self.shape;
        let (nx, nz, p) = (self.geometry.nx, self.geometry.nz, self.geometry.npml);
        let mut out = vec![0.0; nx * nz];
        for i in 0..nxp {
            let ii = i.saturating_sub(p).min(nx - 1);
            for j in 0..nzp {
                let jj = j.saturating_sub(p).min(nz - 1);
                out[ii * nz + jj] += g_pad[i * nzp + j];
            }
        }
        out
    }

    /// Values of A(m) in pattern order for a padded squared-slowness field.
    pub(super) fn matrix_values(&self, m_pad: &[f64]) -> Vec<c64> {
        let w2 = self.omega * self.omega;
        let mut values = self.buffers.copy_of(&self.laplacian);
        for (q, &pos) in self.diag_pos.iter().enumerate() {
            values[pos].re += w2 * m_pad[q];
        }
        values
    }

    /// A(m) as a sparse matrix (pattern, values), for inspection and tests.
    ///
    /// # Errors
    /// An invalid model (see [`Helmholtz::check_model`]).
    pub fn matrix(
        &self,
        m: &[f64],
    ) -> Result<(SymbolicSparseColMat<usize>, Vec<c64>), ConfigError> {
        self.check_model(m)?;
        Ok((
            self.pattern.clone(),
            self.matrix_values(&self.pad_unchecked(m)),
        ))
    }
}
