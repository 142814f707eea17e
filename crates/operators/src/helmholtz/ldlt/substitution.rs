//! The forward and backward substitutions on row-major blocks, pruned to the reach of sparse right-
//! hand sides, with their AVX2 builds.

use super::*;

impl<T: Scalar> LdltFactor<'_, T> {
    /// L Y = B in place (permuted numbering, row-major n × k). With `starts`, column j starts
    /// in the supernodes `starts[j]` and only the supernodes on their paths to the root are
    /// visited; without, every supernode and column.
    pub(super) fn forward(&self, x: &mut [T], k: usize, starts: Option<&[Vec<usize>]>) {
        #[cfg(target_arch = "x86_64")]
        if super::super::cplx::has_avx512() && super::super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            return unsafe { self.forward_avx512(x, k, starts) };
        }
        #[cfg(target_arch = "x86_64")]
        if super::super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            return unsafe { self.forward_avx2(x, k, starts) };
        }
        self.forward_generic::<false, false>(x, k, starts)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward_avx2(&self, x: &mut [T], k: usize, starts: Option<&[Vec<usize>]>) {
        self.forward_generic::<true, false>(x, k, starts)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn forward_avx512(
        &self,
        x: &mut [T],
        k: usize,
        starts: Option<&[Vec<usize>]>,
    ) {
        self.forward_generic::<true, true>(x, k, starts)
    }

    /// The forward elimination; `V3` only from [`Self::forward_avx2`] and
    /// [`Self::forward_avx512`], `V4` only from the latter (the small supernodes' columns by
    /// [`Scalar::sub_scaled_avx512`]: the same bits, the column's values held in registers).
    #[inline(always)]
    pub(super) fn forward_generic<const V3: bool, const V4: bool>(
        &self,
        x: &mut [T],
        k: usize,
        starts: Option<&[Vec<usize>]>,
    ) {
        let sym = self.symbolic;
        let nsup = sym.n_supernodes();
        // active[count[s]..count[s + 1]]: the columns whose reach contains s (CSR), by climbing
        // the supernodal tree from each column's starts.
        let (count, active) = match starts {
            Some(starts) => {
                let mut stamp = vec![usize::MAX; nsup];
                let mut count = vec![0usize; nsup + 1];
                let mut reach: Vec<usize> = Vec::new();
                let mut reach_ptr = vec![0usize];
                for (j, st) in starts.iter().enumerate() {
                    for &s0 in st {
                        let mut s = s0;
                        while s != usize::MAX && stamp[s] != j {
                            stamp[s] = j;
                            reach.push(s);
                            count[s + 1] += 1;
                            s = sym.parent[s];
                        }
                    }
                    reach_ptr.push(reach.len());
                }
                for s in 0..nsup {
                    count[s + 1] += count[s];
                }
                let mut fill = count.clone();
                let mut active = vec![0usize; reach.len()];
                for j in 0..k {
                    for &s in &reach[reach_ptr[j]..reach_ptr[j + 1]] {
                        active[fill[s]] = j;
                        fill[s] += 1;
                    }
                }
                (count, active)
            }
            None => (Vec::new(), Vec::new()),
        };
        let every: Vec<usize> = (0..k).collect();
        let mut v = vec![T::ZERO; k];
        let mut sub: Vec<T> = Vec::new();
        let mut tmp: Vec<T> = Vec::new();
        for s in 0..nsup {
            let cols = match starts {
                Some(_) => &active[count[s]..count[s + 1]],
                None => &every[..],
            };
            if cols.is_empty() {
                continue;
            }
            let (b0, w, np) = sym.panel_dims(s);
            let spat = sym.pattern_of(s);
            let nrows = w + np;
            let start = sym.val_ptr[s];
            let panel = &self.values[start..start + nrows * w];
            let all = cols.len() == k;
            if nrows * w * cols.len() <= SMALL_SOLVE {
                for c in 0..w {
                    let lc = &panel[c * nrows..(c + 1) * nrows];
                    #[cfg(target_arch = "x86_64")]
                    if all && V4 {
                        let xp = x.as_mut_ptr();
                        // SAFETY: V4 only from `forward_avx512`, entered after detection; every
                        // row is of k values inside x, and row b0 + c is none of the updated
                        // rows (b0 + c + 1 .. b0 + w and the pattern's, all below it).
                        unsafe {
                            let rows = lc[c + 1..w]
                                .iter()
                                .enumerate()
                                .map(move |(i, &l)| (l, xp.add((b0 + c + 1 + i) * k)))
                                .chain(
                                    lc[w..]
                                        .iter()
                                        .zip(spat)
                                        .map(move |(&l, &r)| (l, xp.add(r * k))),
                                );
                            T::sub_scaled_avx512(rows, xp.add((b0 + c) * k).cast_const(), k);
                        }
                        continue;
                    }
                    if all {
                        v.copy_from_slice(&x[(b0 + c) * k..(b0 + c + 1) * k]);
                        for (i, &l) in lc[c + 1..w].iter().enumerate() {
                            let row = &mut x[(b0 + c + 1 + i) * k..(b0 + c + 2 + i) * k];
                            // SAFETY: V3 only from `forward_avx2`, entered after detection.
                            unsafe { T::axpy_neg::<V3>(row, l, &v) };
                        }
                        for (&l, &r) in lc[w..].iter().zip(spat) {
                            // SAFETY: as above.
                            unsafe { T::axpy_neg::<V3>(&mut x[r * k..(r + 1) * k], l, &v) };
                        }
                    } else {
                        for &j in cols {
                            let vj = x[(b0 + c) * k + j];
                            for i in c + 1..w {
                                let t = lc[i] * vj;
                                x[(b0 + i) * k + j] -= t;
                            }
                            for (&l, &r) in lc[w..].iter().zip(spat) {
                                let t = l * vj;
                                x[r * k + j] -= t;
                            }
                        }
                    }
                }
                continue;
            }
            let l = MatRef::from_column_major_slice(panel, nrows, w);
            let (l_top, l_bottom) = l.split_at_row(w);
            let kk = cols.len();
            if all {
                // Every column: the supernode's rows are already a row-major w × k block.
                let mut xs = MatMut::from_row_major_slice_mut(&mut x[b0 * k..(b0 + w) * k], w, k);
                solve_unit_lower_triangular_in_place_with_conj(
                    l_top,
                    Conj::No,
                    xs.rb_mut(),
                    Par::Seq,
                );
                sub.clear();
                sub.extend_from_slice(&x[b0 * k..(b0 + w) * k]);
            } else {
                // Gather the active columns of the supernode's rows (row-major w × kk).
                sub.clear();
                for i in 0..w {
                    let row = &x[(b0 + i) * k..(b0 + i + 1) * k];
                    sub.extend(cols.iter().map(|&j| row[j]));
                }
                let mut xs = MatMut::from_row_major_slice_mut(&mut sub[..], w, kk);
                solve_unit_lower_triangular_in_place_with_conj(
                    l_top,
                    Conj::No,
                    xs.rb_mut(),
                    Par::Seq,
                );
                for i in 0..w {
                    let row = &mut x[(b0 + i) * k..(b0 + i + 1) * k];
                    for (jj, &j) in cols.iter().enumerate() {
                        row[j] = sub[i * kk + jj];
                    }
                }
            }
            if np > 0 {
                tmp.clear();
                tmp.resize(np * kk, T::ZERO);
                matmul_with_conj(
                    MatMut::from_row_major_slice_mut(&mut tmp[..], np, kk),
                    Accum::Replace,
                    l_bottom,
                    Conj::No,
                    MatRef::from_row_major_slice(&sub[..], w, kk),
                    Conj::No,
                    T::ONE,
                    Par::Seq,
                );
                for (i, &r) in spat.iter().enumerate() {
                    let row = &mut x[r * k..(r + 1) * k];
                    let t = &tmp[i * kk..(i + 1) * kk];
                    if all {
                        for (a, &b) in row.iter_mut().zip(t) {
                            *a -= b;
                        }
                    } else {
                        for (jj, &j) in cols.iter().enumerate() {
                            row[j] -= t[jj];
                        }
                    }
                }
            }
        }
    }

    /// Lᵀ X = Y in place (permuted numbering, row-major n × k), every supernode.
    pub(super) fn backward(&self, x: &mut [T], k: usize) {
        #[cfg(target_arch = "x86_64")]
        if super::super::cplx::has_avx512() && super::super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            return unsafe { self.backward_avx512(x, k) };
        }
        #[cfg(target_arch = "x86_64")]
        if super::super::cplx::has_avx2() {
            // SAFETY: the CPU supports the features the wrapper is compiled for.
            return unsafe { self.backward_avx2(x, k) };
        }
        self.backward_generic::<false, false>(x, k)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward_avx2(&self, x: &mut [T], k: usize) {
        self.backward_generic::<true, false>(x, k)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn backward_avx512(&self, x: &mut [T], k: usize) {
        self.backward_generic::<true, true>(x, k)
    }

    /// The backward substitution; `V3` only from [`Self::backward_avx2`] and
    /// [`Self::backward_avx512`], `V4` only from the latter (the small supernodes' rows by
    /// [`Scalar::sub_products_avx512`]: the same bits, each row held in registers).
    #[inline(always)]
    pub(super) fn backward_generic<const V3: bool, const V4: bool>(&self, x: &mut [T], k: usize) {
        let sym = self.symbolic;
        let mut acc = vec![T::ZERO; k];
        let mut tmp: Vec<T> = Vec::new();
        for s in (0..sym.n_supernodes()).rev() {
            let (b0, w, np) = sym.panel_dims(s);
            let spat = sym.pattern_of(s);
            let nrows = w + np;
            let start = sym.val_ptr[s];
            let panel = &self.values[start..start + nrows * w];
            if nrows * w * k <= SMALL_SOLVE {
                for c in (0..w).rev() {
                    let lc = &panel[c * nrows..(c + 1) * nrows];
                    #[cfg(target_arch = "x86_64")]
                    if V4 {
                        let xp = x.as_mut_ptr();
                        let base = xp.cast_const();
                        // SAFETY: V4 only from `backward_avx512`, entered after detection; every
                        // row is of k values inside x, and row b0 + c is none of the terms' rows
                        // (b0 + c + 1 .. b0 + w and the pattern's, all below the supernode).
                        unsafe {
                            let terms = lc[c + 1..w]
                                .iter()
                                .enumerate()
                                .map(move |(i, &l)| (l, base.add((b0 + c + 1 + i) * k)))
                                .chain(
                                    lc[w..]
                                        .iter()
                                        .zip(spat)
                                        .map(move |(&l, &r)| (l, base.add(r * k))),
                                );
                            let row = xp.add((b0 + c) * k);
                            T::sub_products_avx512(row, row.cast_const(), k, terms);
                        }
                        continue;
                    }
                    acc.copy_from_slice(&x[(b0 + c) * k..(b0 + c + 1) * k]);
                    for (i, &l) in lc[c + 1..w].iter().enumerate() {
                        let row = &x[(b0 + c + 1 + i) * k..(b0 + c + 2 + i) * k];
                        // SAFETY: V3 only from `backward_avx2`, entered after detection.
                        unsafe { T::axpy_neg::<V3>(&mut acc, l, row) };
                    }
                    for (&l, &r) in lc[w..].iter().zip(spat) {
                        // SAFETY: as above.
                        unsafe { T::axpy_neg::<V3>(&mut acc, l, &x[r * k..(r + 1) * k]) };
                    }
                    x[(b0 + c) * k..(b0 + c + 1) * k].copy_from_slice(&acc);
                }
                continue;
            }
            let l = MatRef::from_column_major_slice(panel, nrows, w);
            let (l_top, l_bottom) = l.split_at_row(w);
            if np > 0 {
                tmp.clear();
                for &r in spat {
                    tmp.extend_from_slice(&x[r * k..(r + 1) * k]);
                }
                matmul_with_conj(
                    MatMut::from_row_major_slice_mut(&mut x[b0 * k..(b0 + w) * k], w, k),
                    Accum::Add,
                    l_bottom.transpose(),
                    Conj::No,
                    MatRef::from_row_major_slice(&tmp[..], np, k),
                    Conj::No,
                    -T::ONE,
                    Par::Seq,
                );
            }
            solve_unit_upper_triangular_in_place_with_conj(
                l_top.transpose(),
                Conj::No,
                MatMut::from_row_major_slice_mut(&mut x[b0 * k..(b0 + w) * k], w, k),
                Par::Seq,
            );
        }
    }
}
