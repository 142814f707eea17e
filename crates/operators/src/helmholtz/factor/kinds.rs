//! One solve interface over the three kinds of [`Factor`]: LU, pivoted LBLᵀ and LDLᵀ.

use super::*;

impl Factor<'_> {
    /// Solve A X = B in place.
    pub fn solve(&self, rhs: &mut Mat<c64>) {
        self.solve_reported(rhs);
    }

    /// Solve A X = B in place; for the LDLᵀ, what its iterative refinement did.
    pub fn solve_reported(&self, rhs: &mut Mat<c64>) -> Option<RefineReport> {
        match self {
            Self::Lu(lu) => lu.solve_in_place(rhs),
            Self::Symmetric(f) => f.solve(rhs),
            Self::Ldlt(f) => return Some(f.solve(rhs)),
        }
        None
    }

    /// Solve A X = B for the n × k block B given by its entries (q, j, b), a repeated (q, j)
    /// adding up in order: the bits of [`Factor::solve_reported`] on the assembled block. The
    /// LDLᵀ returns X row-major in its numbering, with no n × k block filled, scanned or
    /// permuted; the others the natural-order matrix.
    pub(in crate::helmholtz) fn solve_entries(
        &self,
        entries: &[(usize, usize, c64)],
        (n, k): (usize, usize),
    ) -> (Option<RefineReport>, Result<Vec<c64>, Mat<c64>>) {
        if let Self::Ldlt(f) = self {
            let (report, z) = f.solve_entries_z(entries, k);
            return (Some(report), Ok(z));
        }
        let mut out = Mat::zeros(n, k);
        assemble_entries(&mut out, entries);
        (self.solve_reported(&mut out), Err(out))
    }

    /// Solve Aᴴ X = B in place.
    pub fn solve_adjoint(&self, rhs: &mut Mat<c64>) {
        self.solve_adjoint_reported(rhs);
    }

    /// Solve Aᴴ X = B in place; for the LDLᵀ, what its iterative refinement did.
    pub fn solve_adjoint_reported(&self, rhs: &mut Mat<c64>) -> Option<RefineReport> {
        match self {
            Self::Lu(lu) => lu.solve_adjoint_in_place(rhs),
            Self::Symmetric(f) => f.solve_adjoint(rhs),
            Self::Ldlt(f) => return Some(f.solve_adjoint(rhs)),
        }
        None
    }

    /// Whether these are single-precision LDLᵀ factors (false when the f32 solver fell back).
    pub fn is_single_precision(&self) -> bool {
        matches!(
            self,
            Self::Ldlt(LdltFactor {
                factor: LdltValues::F32(_),
                ..
            })
        )
    }

    /// Whether this is the pivoted LBLᵀ (for an LDLᵀ solver: the fallback was taken).
    pub fn is_pivoted_symmetric(&self) -> bool {
        matches!(self, Self::Symmetric(_))
    }

    /// Backward error of the LDLᵀ probe solve before refinement (`None` for the other
    /// factorisations).
    pub fn probe_backward_error(&self) -> Option<f64> {
        match self {
            Self::Ldlt(f) => Some(f.probe),
            _ => None,
        }
    }

    /// Backward error of the LDLᵀ probe solve after refinement (`None` for the others).
    pub fn refined_backward_error(&self) -> Option<f64> {
        match self {
            Self::Ldlt(f) => Some(f.refined),
            _ => None,
        }
    }
}
