//! The numeric factorisation: supernodes left-looking, each dense panel factored in blocks.

use super::*;

impl LdltSymbolic {
    /// Numeric factorisation of the matrix with stored values `values` (in `pattern` order).
    ///
    /// Errors with the (original) index of the unknown whose pivot is zero or not finite.
    pub fn factorize<T: Scalar>(&self, values: &[c64]) -> Result<LdltFactor<'_, T>, LdltError> {
        let mut l = self.take_buffer::<T>();
        let result = self.factorize_dispatch(values, &mut l, None);
        // Built even on failure, so that dropping it returns the buffer to the pool.
        let factor = self.finish(l);
        result.map(|()| factor)
    }

    /// [`LdltSymbolic::factorize`] in f64 together with the same factors rounded to f32 (what
    /// [`LdltFactor::to_single`] gives, bit for bit), each panel rounded as soon as it is
    /// factored, while it is still in cache.
    pub fn factorize_with_single(
        &self,
        values: &[c64],
    ) -> Result<(LdltFactor<'_, c64>, LdltFactor<'_, c32>), LdltError> {
        let mut l = self.take_buffer::<c64>();
        let mut l32 = self.take_buffer::<c32>();
        let result = self.factorize_dispatch(values, &mut l, Some(&mut l32));
        let double = self.finish(l);
        let single = LdltFactor {
            symbolic: self,
            values: l32,
            dinv: double.dinv.iter().map(|&d| c32::from_c64(d)).collect(),
        };
        result.map(|()| (double, single))
    }

    /// The factorisation loop with the instruction set of this CPU; `single`, when given,
    /// receives each factored panel rounded to f32.
    fn factorize_dispatch<T: Scalar>(
        &self,
        values: &[c64],
        l: &mut [T],
        single: Option<&mut [c32]>,
    ) -> Result<(), LdltError> {
        #[cfg(target_arch = "x86_64")]
        if super::super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            return unsafe { self.factorize_avx2(values, l, single) };
        }
        self.factorize_generic(values, l, single)
    }

    /// A buffer for the values of L: one returned by a dropped factor if any (its contents are
    /// overwritten panel by panel), else a new one. Reuse saves the page faults of 40 MB.
    pub(super) fn take_buffer<T: Scalar>(&self) -> Vec<T> {
        let v: FactorValues<T> = self.take();
        if v.0.len() == self.factor_len() {
            v.0
        } else {
            super::super::pages::filled(self.factor_len(), T::ZERO)
        }
    }

    /// A pooled workspace of type V (or a new, empty one).
    pub(super) fn take<V: Default + Send + 'static>(&self) -> V {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = pool.iter().position(|b| b.is::<V>())
            && let Ok(v) = pool.swap_remove(i).downcast::<V>()
        {
            return *v;
        }
        V::default()
    }

    /// Return a workspace to the pool (a few are kept: the buffers of L and of the solves).
    pub(super) fn give<V: Send + 'static>(&self, v: V) {
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < 6
        {
            pool.push(Box::new(v));
        }
    }

    pub(super) fn finish<T: Scalar>(&self, l: Vec<T>) -> LdltFactor<'_, T> {
        let mut dinv = vec![T::ZERO; self.n];
        for s in 0..self.n_supernodes() {
            let (b0, w, np) = self.panel_dims(s);
            let nrows = w + np;
            for k in 0..w {
                dinv[b0 + k] = T::ONE / l[self.val_ptr[s] + k * nrows + k];
            }
        }
        LdltFactor {
            symbolic: self,
            values: l,
            dinv,
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn factorize_avx2<T: Scalar>(
        &self,
        values: &[c64],
        l: &mut [T],
        single: Option<&mut [c32]>,
    ) -> Result<(), LdltError> {
        self.factorize_generic(values, l, single)
    }

    /// The left-looking loop, compiled once per instruction set (runtime dispatch above).
    #[inline(always)]
    pub(super) fn factorize_generic<T: Scalar>(
        &self,
        values: &[c64],
        l: &mut [T],
        mut single: Option<&mut [c32]>,
    ) -> Result<(), LdltError> {
        let nsup = self.n_supernodes();
        let mut map = vec![0usize; self.n];
        let mut work: Vec<T> = Vec::new();
        let mut scaled: Vec<T> = Vec::new();
        let mut rows_local: Vec<usize> = Vec::new();
        for s in 0..nsup {
            let (b0, w, np) = self.panel_dims(s);
            let b1 = b0 + w;
            let nrows = w + np;
            let spat = self.pattern_of(s);
            for (k, m) in map[b0..b1].iter_mut().enumerate() {
                *m = k;
            }
            for (k, &r) in spat.iter().enumerate() {
                map[r] = w + k;
            }
            // The next supernode's matrix values, scattered in `values`, requested now: this
            // supernode's updates leave them time to arrive.
            if s + 2 <= nsup {
                for &(_, p) in &self.assembly[self.asm_ptr[s + 1]..self.asm_ptr[s + 2]] {
                    super::super::cplx::prefetch(values[p..].as_ptr(), 1);
                }
            }
            let (head, tail) = l.split_at_mut(self.val_ptr[s]);
            let panel = &mut tail[..nrows * w];
            panel.fill(T::ZERO);
            for &(dest, p) in &self.assembly[self.asm_ptr[s]..self.asm_ptr[s + 1]] {
                panel[dest - self.val_ptr[s]] += T::from_c64(values[p]);
            }
            for &d in &self.upd[self.upd_ptr[s]..self.upd_ptr[s + 1]] {
                let (_, wd, npd) = self.panel_dims(d);
                let nrd = wd + npd;
                let dpat = self.pattern_of(d);
                let a = dpat.partition_point(|&r| r < b0);
                let mid = a + dpat[a..].partition_point(|&r| r < b1);
                let (nc, nr) = (mid - a, npd - a);
                let ld = &head[self.val_ptr[d]..self.val_ptr[d] + nrd * wd];
                rows_local.clear();
                rows_local.extend(dpat[a..].iter().map(|&r| map[r]));
                if nr * nc * wd <= SMALL_UPDATE {
                    // Small: fused multiply and scatter, no temporary.
                    for jj in 0..nc {
                        let col = dpat[a + jj] - b0;
                        let dst = &mut panel[col * nrows..(col + 1) * nrows];
                        for k in 0..wd {
                            let lk = &ld[k * nrd + wd + a..(k + 1) * nrd];
                            let f = lk[jj] * ld[k * nrd + k];
                            for ii in jj..nr {
                                dst[rows_local[ii]] -= lk[ii] * f;
                            }
                        }
                    }
                    continue;
                }
                // scaled = L_cols D_d (nc × wd), from the columns of the panel slice.
                scaled.clear();
                scaled.reserve(nc * wd);
                for k in 0..wd {
                    let dk = ld[k * nrd + k];
                    let col = &ld[k * nrd + wd + a..k * nrd + wd + a + nc];
                    scaled.extend(col.iter().map(|&v| v * dk));
                }
                let ld = MatRef::from_column_major_slice(ld, nrd, wd);
                let l_rows = ld.subrows(wd + a, nr);
                let scaled_ref = MatRef::from_column_major_slice(&scaled[..nc * wd], nc, wd);
                // Overwritten whole by the product (Accum::Replace): grown, never cleared.
                if work.len() < nr * nc {
                    work.resize(nr * nc, T::ZERO);
                }
                matmul_with_conj(
                    MatMut::from_column_major_slice_mut(&mut work[..nr * nc], nr, nc),
                    Accum::Replace,
                    l_rows,
                    Conj::No,
                    scaled_ref.transpose(),
                    Conj::No,
                    T::ONE,
                    Par::Seq,
                );
                for jj in 0..nc {
                    let col = dpat[a + jj] - b0;
                    let dst = &mut panel[col * nrows..(col + 1) * nrows];
                    let src = &work[jj * nr..(jj + 1) * nr];
                    for ii in jj..nr {
                        dst[rows_local[ii]] -= src[ii];
                    }
                }
            }
            factor_panel(panel, nrows, w, &mut work).map_err(|k| LdltError {
                index: self.perm[b0 + k],
            })?;
            if let Some(l32) = single.as_deref_mut() {
                let start = self.val_ptr[s];
                for (d, &v) in l32[start..start + nrows * w].iter_mut().zip(panel.iter()) {
                    *d = c32::from_c64(v.to_c64());
                }
            }
        }
        Ok(())
    }
}

/// Dense LDLᵀ (no pivoting, no conjugation) of an (nrows × w) column-major panel whose top w × w
/// block is the symmetric diagonal block (lower triangle used) and whose bottom rows are the
/// sub-diagonal block: on return D is on the diagonal, unit-L below it. Errors with the local
/// column of a zero or non-finite pivot.
///
/// Blocked by columns: each block's diagonal part is factored by plain loops
/// ([`factor_unblocked`]), the rows below it by a triangular solve W L₁₁ᵀ = A₂₁ (W = L₂₁ D₁),
/// and the trailing columns by one matmul A₂₂ −= L₂₁ Wᵀ.
pub(super) fn factor_panel<T: Scalar>(
    panel: &mut [T],
    nrows: usize,
    w: usize,
    work: &mut Vec<T>,
) -> Result<(), usize> {
    if w <= SMALL_PANEL {
        return factor_unblocked(panel, nrows, 0, w, nrows);
    }
    let mut k0 = 0;
    while k0 < w {
        let k1 = (k0 + BLOCK).min(w);
        let nb = k1 - k0;
        factor_unblocked(panel, nrows, k0, k1, k1)?;
        if k1 == nrows {
            break;
        }
        let (done, rest) = panel.split_at_mut(k1 * nrows);
        let mut blk = MatMut::from_column_major_slice_mut(&mut done[k0 * nrows..], nrows, nb);
        let (l11, mut below) = blk.rb_mut().split_at_row_mut(k1);
        let l11 = l11.rb().subrows(k0, nb);
        // W L₁₁ᵀ = A₂₁  ⇔  L₁₁ Wᵀ = A₂₁ᵀ.
        solve_unit_lower_triangular_in_place_with_conj(
            l11,
            Conj::No,
            below.rb_mut().transpose_mut(),
            Par::Seq,
        );
        // Keep W's rows of the trailing columns, then scale W to L₂₁ = W D₁⁻¹.
        let nt = w - k1;
        work.clear();
        work.reserve(nt * nb);
        for t in 0..nb {
            work.extend((0..nt).map(|i| below[(i, t)]));
        }
        for t in 0..nb {
            let inv = T::ONE / l11[(t, t)];
            for v in below.rb_mut().col_mut(t).iter_mut() {
                *v *= inv;
            }
        }
        if nt > 0 {
            let w_top = MatRef::from_column_major_slice(&work[..nt * nb], nt, nb);
            let trailing = MatMut::from_column_major_slice_mut(&mut rest[..nt * nrows], nrows, nt);
            let (_, trailing) = trailing.split_at_row_mut(k1);
            let (top, bottom) = trailing.split_at_row_mut(nt);
            let (l21_top, l21_bottom) = below.rb().split_at_row(nt);
            triangular::matmul_with_conj(
                top,
                BlockStructure::TriangularLower,
                Accum::Add,
                l21_top,
                BlockStructure::Rectangular,
                Conj::No,
                w_top.transpose(),
                BlockStructure::Rectangular,
                Conj::No,
                -T::ONE,
                Par::Seq,
            );
            matmul_with_conj(
                bottom,
                Accum::Add,
                l21_bottom,
                Conj::No,
                w_top.transpose(),
                Conj::No,
                -T::ONE,
                Par::Seq,
            );
        }
        k0 = k1;
    }
    Ok(())
}

/// Plain-loop LDLᵀ of columns k0..k1 of a panel over rows up to `row_end` (columns k0..k1 must
/// already hold every update from columns before k0).
pub(super) fn factor_unblocked<T: Scalar>(
    panel: &mut [T],
    nrows: usize,
    k0: usize,
    k1: usize,
    row_end: usize,
) -> Result<(), usize> {
    for j in k0..k1 {
        let d = panel[j * nrows + j];
        if !d.is_usable_pivot() {
            return Err(j);
        }
        let inv = T::ONE / d;
        let (left, right) = panel.split_at_mut((j + 1) * nrows);
        let cj = &mut left[j * nrows..];
        // Columns j+1..k1: a_{i,jj} −= a_{i,j} a_{jj,j} / d (a unscaled).
        for jj in j + 1..k1 {
            let f = cj[jj] * inv;
            let cjj = &mut right[(jj - j - 1) * nrows..(jj - j) * nrows];
            for i in jj..row_end {
                cjj[i] -= f * cj[i];
            }
        }
        for v in &mut cj[j + 1..row_end] {
            *v *= inv;
        }
    }
    Ok(())
}
