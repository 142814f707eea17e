//! Truncated Karhunen–Loève (KL) parameterisation of squared-slowness models (FWI.md §1):
//!
//! m(x) = m̄ + σ_m Σ_k z_k λ_k φ_k(x),  m̄ = 1/v_bg²,
//! φ_k(x₁, x₂) = 2 cos(π(i₁+½)x₁) cos(π(i₂+½)x₂),  λ_k = (α + π²((i₁+½)² + (i₂+½)²))^(−s/2),
//!
//! with k = (i₁, i₂), i₁, i₂ ∈ 1..=K flattened as k = (i₁−1)K + (i₂−1), on the cell-centred unit grid
//! x_j = (j+½)/n. On that grid the φ_k are exactly orthogonal with mean square 1 (the discrete
//! cosine transform of type IV is orthogonal), so projection is a scaled inner product and the same
//! z reconstructs on any grid size. Grids are (n_x, n_z), axis 0 horizontal, stored row-major
//! (index ix·n_z + iz).

use memprior_core::ConfigError;
use memprior_core::error::positive;

/// A truncated KL basis of K² modes.
#[derive(Debug, Clone, PartialEq)]
pub struct KlBasis {
    k: usize,
    alpha: f64,
    s: f64,
    v_bg: f64,
    sigma_m: f64,
}

impl Default for KlBasis {
    /// The paper's basis: K = 10 (d = 100), α = 0, s = 1.1, v_bg = 2 km/s, σ_m = 0.02.
    fn default() -> Self {
        Self {
            k: 10,
            alpha: 0.0,
            s: 1.1,
            v_bg: 2.0,
            sigma_m: 0.02,
        }
    }
}

impl KlBasis {
    /// A basis of `k`² modes; errors unless k ≥ 1, α ≥ 0, s > 0, v_bg > 0 and σ_m > 0.
    pub fn new(k: usize, alpha: f64, s: f64, v_bg: f64, sigma_m: f64) -> Result<Self, ConfigError> {
        if k == 0 {
            return Err(ConfigError::new(
                "kl.k",
                "must be ≥ 1 (the basis has k² modes)",
                k,
            ));
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(ConfigError::new(
                "kl.alpha",
                "must be a finite number ≥ 0",
                alpha,
            ));
        }
        positive("kl.s", s)?;
        positive("kl.v_bg", v_bg)?;
        positive("kl.sigma_m", sigma_m)?;
        Ok(Self {
            k,
            alpha,
            s,
            v_bg,
            sigma_m,
        })
    }

    /// Number of coefficients d = K².
    pub fn dim(&self) -> usize {
        self.k * self.k
    }

    /// Background squared slowness m̄ = 1/v_bg².
    pub fn background(&self) -> f64 {
        1.0 / (self.v_bg * self.v_bg)
    }

    /// The mode indices (i₁, i₂) of coefficient k, both in 1..=K.
    pub fn mode(&self, k: usize) -> (usize, usize) {
        (k / self.k + 1, k % self.k + 1)
    }

    /// Eigenvalue factors λ_k (length K²).
    pub fn eigenvalues(&self) -> Vec<f64> {
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        (0..self.dim())
            .map(|k| {
                let (i1, i2) = self.mode(k);
                let (a, b) = (i1 as f64 + 0.5, i2 as f64 + 0.5);
                (self.alpha + pi2 * (a * a + b * b)).powf(-self.s / 2.0)
            })
            .collect()
    }

    /// cos(π(i+½)(j+½)/n) for i in 1..=K, j in 0..n: row i−1 holds mode i.
    fn cosines(&self, n: usize) -> Vec<Vec<f64>> {
        (1..=self.k)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        (std::f64::consts::PI * (i as f64 + 0.5) * (j as f64 + 0.5) / n as f64)
                            .cos()
                    })
                    .collect()
            })
            .collect()
    }

    fn check_grid(nx: usize, nz: usize) -> Result<(), ConfigError> {
        if nx == 0 || nz == 0 {
            return Err(ConfigError::new(
                "grid",
                "must have nx ≥ 1 and nz ≥ 1",
                format!("{nx} × {nz}"),
            ));
        }
        Ok(())
    }

    /// m = m̄ + G z on an n_x × n_z grid (row-major), G[:, k] = σ_m λ_k vec(φ_k).
    pub fn reconstruct(&self, z: &[f64], nx: usize, nz: usize) -> Result<Vec<f64>, ConfigError> {
        Self::check_grid(nx, nz)?;
        if z.len() != self.dim() {
            return Err(ConfigError::new(
                "z",
                format!("must have K² = {} coefficients", self.dim()),
                z.len(),
            ));
        }
        let (cx, cz, lam) = (self.cosines(nx), self.cosines(nz), self.eigenvalues());
        // Separable sum: for each i₁, first contract over i₂ along z, then accumulate along x.
        let mut m = vec![self.background(); nx * nz];
        for i1 in 0..self.k {
            let col: Vec<f64> = (0..nz)
                .map(|iz| {
                    (0..self.k)
                        .map(|i2| z[i1 * self.k + i2] * lam[i1 * self.k + i2] * cz[i2][iz])
                        .sum::<f64>()
                })
                .collect();
            for ix in 0..nx {
                let f = 2.0 * self.sigma_m * cx[i1][ix];
                for iz in 0..nz {
                    m[ix * nz + iz] += f * col[iz];
                }
            }
        }
        Ok(m)
    }

    /// Gᵀ g: the chain rule from a gradient with respect to m (grid, row-major) to one with respect
    /// to z (length K²).
    pub fn adjoint(&self, g: &[f64], nx: usize, nz: usize) -> Result<Vec<f64>, ConfigError> {
        Self::check_grid(nx, nz)?;
        if g.len() != nx * nz {
            return Err(ConfigError::new(
                "gradient",
                format!("must have nx·nz = {} values", nx * nz),
                g.len(),
            ));
        }
        let (cx, cz, lam) = (self.cosines(nx), self.cosines(nz), self.eigenvalues());
        let mut out = vec![0.0; self.dim()];
        for (i1, cos_x) in cx.iter().enumerate() {
            // Contract over x first: row[iz] = Σ_ix cos_x(i₁, ix) g[ix, iz].
            let mut row = vec![0.0; nz];
            for (c, g_row) in cos_x.iter().zip(g.chunks_exact(nz)) {
                for (r, v) in row.iter_mut().zip(g_row) {
                    *r += c * v;
                }
            }
            for (i2, cos_z) in cz.iter().enumerate() {
                let k = i1 * self.k + i2;
                out[k] = 2.0
                    * self.sigma_m
                    * lam[k]
                    * row.iter().zip(cos_z).map(|(a, b)| a * b).sum::<f64>();
            }
        }
        Ok(out)
    }

    /// The basis as the affine map z ↦ m = m̄ + G z onto an n_x × n_z grid, an operator with
    /// its Jacobian G and adjoint Gᵀ (for composing with a simulator: `operators::reparam`).
    pub fn on_grid(&self, nx: usize, nz: usize) -> KlMap<'_> {
        KlMap { kl: self, nx, nz }
    }

    /// z_k = ⟨φ_k, m − m̄⟩ / (n_x n_z σ_m λ_k): the least-squares projection of a field onto the basis.
    pub fn project(&self, m: &[f64], nx: usize, nz: usize) -> Result<Vec<f64>, ConfigError> {
        let anomaly: Vec<f64> = m.iter().map(|v| v - self.background()).collect();
        let gt = self.adjoint(&anomaly, nx, nz)?;
        let lam = self.eigenvalues();
        let scale = (nx * nz) as f64;
        // Gᵀ(m − m̄) = σ_m λ_k ⟨φ_k, m − m̄⟩, so divide by (σ_m λ_k)² n_x n_z.
        Ok(gt
            .iter()
            .zip(&lam)
            .map(|(g, l)| g / (self.sigma_m * l * self.sigma_m * l * scale))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// φ_k on the grid by the formula, with no separable tricks.
    fn phi(b: &KlBasis, k: usize, nx: usize, nz: usize) -> Vec<f64> {
        let (i1, i2) = b.mode(k);
        let pi = std::f64::consts::PI;
        let mut v = Vec::with_capacity(nx * nz);
        for ix in 0..nx {
            for iz in 0..nz {
                let (x1, x2) = ((ix as f64 + 0.5) / nx as f64, (iz as f64 + 0.5) / nz as f64);
                v.push(
                    2.0 * (pi * (i1 as f64 + 0.5) * x1).cos() * (pi * (i2 as f64 + 0.5) * x2).cos(),
                );
            }
        }
        v
    }

    #[test]
    fn modes_are_orthogonal_with_mean_square_one_on_square_and_rectangular_grids() {
        let b = KlBasis::default();
        for (nx, nz) in [(64, 64), (37, 50)] {
            let phis: Vec<Vec<f64>> = (0..b.dim()).map(|k| phi(&b, k, nx, nz)).collect();
            let n = (nx * nz) as f64;
            for a in (0..b.dim()).step_by(7) {
                for c in 0..b.dim() {
                    let dot: f64 = phis[a]
                        .iter()
                        .zip(&phis[c])
                        .map(|(p, q)| p * q)
                        .sum::<f64>()
                        / n;
                    let expected = if a == c { 1.0 } else { 0.0 };
                    // n·ε-level sums of O(1) terms.
                    assert!(
                        (dot - expected).abs() < 1e-12,
                        "({nx},{nz}) <φ_{a}, φ_{c}>/n = {dot}"
                    );
                }
            }
        }
    }

    #[test]
    fn reconstruct_matches_the_formula_and_projection_inverts_it() {
        let b = KlBasis::default();
        let (nx, nz) = (40, 33);
        let z: Vec<f64> = (0..b.dim())
            .map(|k| ((k * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let m = b.reconstruct(&z, nx, nz).unwrap();
        let lam = b.eigenvalues();
        let mut direct = vec![b.background(); nx * nz];
        for k in 0..b.dim() {
            for (d, p) in direct.iter_mut().zip(phi(&b, k, nx, nz)) {
                *d += b.sigma_m * z[k] * lam[k] * p;
            }
        }
        assert!(m.iter().zip(&direct).all(|(a, c)| (a - c).abs() < 1e-14));
        let back = b.project(&m, nx, nz).unwrap();
        for (a, c) in back.iter().zip(&z) {
            // Division by σ_m λ_k ≥ 0.02·0.05 amplifies rounding of m (ε·0.25) by ~10³.
            assert!((a - c).abs() < 1e-10, "{a} vs {c}");
        }
    }

    #[test]
    fn adjoint_passes_the_dot_product_test() {
        let b = KlBasis::default();
        let (nx, nz) = (29, 31);
        let z: Vec<f64> = (0..b.dim()).map(|k| (k as f64 * 0.37).sin()).collect();
        let g: Vec<f64> = (0..nx * nz).map(|i| (i as f64 * 0.011).cos()).collect();
        let gz: Vec<f64> = b
            .reconstruct(&z, nx, nz)
            .unwrap()
            .iter()
            .map(|v| v - b.background())
            .collect();
        let lhs: f64 = gz.iter().zip(&g).map(|(a, c)| a * c).sum();
        let rhs: f64 = b
            .adjoint(&g, nx, nz)
            .unwrap()
            .iter()
            .zip(&z)
            .map(|(a, c)| a * c)
            .sum();
        assert!(
            (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn invalid_settings_are_rejected() {
        assert!(
            KlBasis::new(0, 0.0, 1.1, 2.0, 0.02)
                .unwrap_err()
                .to_string()
                .contains("`kl.k`")
        );
        assert!(KlBasis::new(10, -1.0, 1.1, 2.0, 0.02).is_err());
        let b = KlBasis::default();
        assert!(
            b.reconstruct(&[0.0; 3], 8, 8)
                .unwrap_err()
                .to_string()
                .contains("`z`")
        );
        assert!(
            b.adjoint(&[0.0; 3], 8, 8)
                .unwrap_err()
                .to_string()
                .contains("`gradient`")
        );
        assert!(b.reconstruct(&[0.0; 100], 0, 8).is_err());
        assert_eq!(b.mode(0), (1, 1));
        assert_eq!(b.mode(99), (10, 10));
    }
}

/// z ↦ m = m̄ + G z on one grid ([`KlBasis::on_grid`]): [`KlBasis::reconstruct`] as an operator,
/// J = G (the same at every z) and Jᵀ = [`KlBasis::adjoint`].
#[derive(Debug, Clone, Copy)]
pub struct KlMap<'a> {
    kl: &'a KlBasis,
    nx: usize,
    nz: usize,
}

impl KlMap<'_> {
    /// The grid (n_x, n_z).
    pub fn grid(&self) -> (usize, usize) {
        (self.nx, self.nz)
    }
}

impl memprior_core::ForwardOperator for KlMap<'_> {
    type Error = ConfigError;
    fn input_dim(&self) -> usize {
        self.kl.dim()
    }
    fn output_dim(&self) -> usize {
        self.nx * self.nz
    }
    fn apply(&self, z: &[f64]) -> Result<Vec<f64>, ConfigError> {
        self.kl.reconstruct(z, self.nx, self.nz)
    }
}

impl memprior_core::JacobianAction for KlMap<'_> {
    /// G δz = m(δz) − m̄.
    fn jacobian_apply(&self, _z: &[f64], dz: &[f64]) -> Result<Vec<f64>, ConfigError> {
        let m0 = self.kl.background();
        Ok(self
            .kl
            .reconstruct(dz, self.nx, self.nz)?
            .into_iter()
            .map(|v| v - m0)
            .collect())
    }
    fn jacobian_adjoint_apply(&self, _z: &[f64], dm: &[f64]) -> Result<Vec<f64>, ConfigError> {
        self.kl.adjoint(dm, self.nx, self.nz)
    }
}
