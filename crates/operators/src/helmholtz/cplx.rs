//! The one inner kernel of the LDLᵀ solves and the refinement residuals: y ← y − l v for a
//! complex scalar l and complex vectors y, v (the k right-hand sides of one unknown).
//!
//! The portable loop and the x86-64 AVX2 loop compute the same IEEE operations in the same order
//! (l v = (l_re v_re − l_im v_im, l_re v_im + l_im v_re), a separate multiply and add, no fused
//! multiply–add), so every path gives the same bits; the AVX2 path only does two (f64) or four
//! (f32) of them per instruction. The AVX2 versions are `#[inline(always)]`: they reach full
//! speed inside the solve loops compiled with `#[target_feature(enable = "avx2,fma")]`, which is
//! also the only place they may be called from.

use faer::{c32, c64};

/// y ← y − l v over the common length, portable.
#[inline(always)]
pub(crate) fn axpy_neg<T>(y: &mut [T], l: T, v: &[T])
where
    T: Copy + std::ops::Mul<Output = T> + std::ops::SubAssign,
{
    for (yi, &vi) in y.iter_mut().zip(v) {
        *yi -= l * vi;
    }
}

/// out ← y − l v over the common length (the bits of copying y and [`axpy_neg`]), portable.
#[inline(always)]
pub(crate) fn axpy_neg_from<T>(out: &mut [T], y: &[T], l: T, v: &[T])
where
    T: Copy + std::ops::Mul<Output = T> + std::ops::Sub<Output = T>,
{
    for ((o, &yi), &vi) in out.iter_mut().zip(y).zip(v) {
        *o = yi - l * vi;
    }
}

/// out[i] ← y[i] − l v[i] for i < n in complex f64, two values per AVX2 instruction; `out` may
/// be `y`.
///
/// # Safety
/// The CPU must support AVX2; `out`, `y` and `v` must be valid for n values.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn kernel_c64_avx2(out: *mut c64, y: *const c64, l: c64, v: *const c64, n: usize) {
    use std::arch::x86_64::*;
    let (op, yp, vp) = (out.cast::<f64>(), y.cast::<f64>(), v.cast::<f64>());
    let mut i = 0;
    // SAFETY: every access is at complex index < n (16 bytes each, re then im), unaligned.
    unsafe {
        let (lr, li) = (_mm256_set1_pd(l.re), _mm256_set1_pd(l.im));
        while i + 2 <= n {
            let vv = _mm256_loadu_pd(vp.add(2 * i));
            // [v_re l_re, v_im l_re] and [v_im l_im, v_re l_im].
            let p = _mm256_mul_pd(vv, lr);
            let t = _mm256_mul_pd(_mm256_permute_pd(vv, 0b0101), li);
            let prod = _mm256_addsub_pd(p, t);
            let yv = _mm256_loadu_pd(yp.add(2 * i));
            _mm256_storeu_pd(op.add(2 * i), _mm256_sub_pd(yv, prod));
            i += 2;
        }
        if i < n {
            *out.add(i) = *y.add(i) - l * *v.add(i);
        }
    }
}

/// As [`kernel_c64_avx2`] in complex f32, four values per AVX2 instruction.
///
/// # Safety
/// As [`kernel_c64_avx2`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn kernel_c32_avx2(out: *mut c32, y: *const c32, l: c32, v: *const c32, n: usize) {
    use std::arch::x86_64::*;
    let (op, yp, vp) = (out.cast::<f32>(), y.cast::<f32>(), v.cast::<f32>());
    let mut i = 0;
    // SAFETY: as in the f64 kernel, at 8 bytes per value.
    unsafe {
        let (lr, li) = (_mm256_set1_ps(l.re), _mm256_set1_ps(l.im));
        while i + 4 <= n {
            let vv = _mm256_loadu_ps(vp.add(2 * i));
            let p = _mm256_mul_ps(vv, lr);
            let t = _mm256_mul_ps(_mm256_permute_ps(vv, 0b1011_0001), li);
            let prod = _mm256_addsub_ps(p, t);
            let yv = _mm256_loadu_ps(yp.add(2 * i));
            _mm256_storeu_ps(op.add(2 * i), _mm256_sub_ps(yv, prod));
            i += 4;
        }
        let (lr, li) = (_mm_set1_ps(l.re), _mm_set1_ps(l.im));
        while i + 2 <= n {
            let vv = _mm_loadu_ps(vp.add(2 * i));
            let p = _mm_mul_ps(vv, lr);
            let t = _mm_mul_ps(_mm_permute_ps(vv, 0b1011_0001), li);
            let prod = _mm_addsub_ps(p, t);
            let yv = _mm_loadu_ps(yp.add(2 * i));
            _mm_storeu_ps(op.add(2 * i), _mm_sub_ps(yv, prod));
            i += 2;
        }
        if i < n {
            *out.add(i) = *y.add(i) - l * *v.add(i);
        }
    }
}

/// Whether the AVX2 kernels may run on this CPU: AVX2 and FMA (detected once by the standard
/// library, then a cached load). The one test the solve and residual loops dispatch on.
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// y ← y − l v in complex f64; with `V3`, the AVX2 kernel.
///
/// # Safety
/// With `V3`, the CPU must support AVX2 and FMA ([`has_avx2`]); such calls belong in loops
/// compiled with `#[target_feature(enable = "avx2,fma")]`, where they inline.
#[inline(always)]
pub(crate) unsafe fn axpy_neg_c64<const V3: bool>(y: &mut [c64], l: c64, v: &[c64]) {
    #[cfg(target_arch = "x86_64")]
    if V3 {
        let n = y.len().min(v.len());
        let p = y.as_mut_ptr();
        // SAFETY: with V3 the caller guarantees AVX2; n values of both slices (y may be written
        // through the same pointer it is read from).
        return unsafe { kernel_c64_avx2(p, p, l, v.as_ptr(), n) };
    }
    axpy_neg(y, l, v)
}

/// out ← y − l v in complex f64; `V3` as for [`axpy_neg_c64`].
///
/// # Safety
/// As [`axpy_neg_c64`].
#[inline(always)]
pub(crate) unsafe fn axpy_neg_from_c64<const V3: bool>(
    out: &mut [c64],
    y: &[c64],
    l: c64,
    v: &[c64],
) {
    #[cfg(target_arch = "x86_64")]
    if V3 {
        let n = out.len().min(y.len()).min(v.len());
        // SAFETY: as in `axpy_neg_c64`, n values of each slice.
        return unsafe { kernel_c64_avx2(out.as_mut_ptr(), y.as_ptr(), l, v.as_ptr(), n) };
    }
    axpy_neg_from(out, y, l, v)
}

/// y ← y − l v in complex f32; `V3` as for [`axpy_neg_c64`].
///
/// # Safety
/// As [`axpy_neg_c64`].
#[inline(always)]
pub(crate) unsafe fn axpy_neg_c32<const V3: bool>(y: &mut [c32], l: c32, v: &[c32]) {
    #[cfg(target_arch = "x86_64")]
    if V3 {
        let n = y.len().min(v.len());
        let p = y.as_mut_ptr();
        // SAFETY: as in `axpy_neg_c64`.
        return unsafe { kernel_c32_avx2(p, p, l, v.as_ptr(), n) };
    }
    axpy_neg(y, l, v)
}

/// A hint to fetch the cache lines of `len` values from `p` (a gather a little ahead of its
/// use; no effect on any value, and none at all off x86-64).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let (start, bytes) = (p.cast::<i8>(), len * size_of::<T>());
        if bytes == 0 {
            return;
        }
        // Every line that [start, start + bytes) touches, the last one included.
        let first = start as usize & !63;
        let last = (start as usize + bytes - 1) & !63;
        for line in (first..=last).step_by(64) {
            // SAFETY: SSE is part of x86-64; a prefetch never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line - start as usize)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

/// Whether the AVX-512 kernels may run on this CPU (AVX-512F, detected once by the standard
/// library, then a cached load).
#[inline]
pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The lanes of register m (of four) in a pass over `values` complex numbers of `lanes_per`
/// reals per register: the load and store masks of the AVX-512 kernels.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lane_masks(values: usize, lanes_per: usize) -> [u16; 4] {
    std::array::from_fn(|m| {
        let lanes = (2 * values).saturating_sub(lanes_per * m).min(lanes_per);
        ((1u32 << lanes) - 1) as u16
    })
}

/// out[j] ← init[j] − Σₑ lₑ vₑ[j] for j < k in complex f64, the terms (lₑ, vₑ) in order: the
/// bits of copying `init` and one [`axpy_neg`] per term, each product a separate multiply and
/// add. With AVX-512F, 16 values per pass held in four registers across every term, instead of
/// a load and a store of `out` per term.
///
/// # Safety
/// The CPU must support AVX-512F; `out`, `init` and every vₑ must be valid for k values; `out`
/// may be `init` but must not overlap any vₑ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sub_products_c64_avx512<I>(out: *mut c64, init: *const c64, k: usize, terms: I)
where
    I: Iterator<Item = (c64, *const c64)> + Clone,
{
    use std::arch::x86_64::*;
    let (op, ip) = (out.cast::<f64>(), init.cast::<f64>());
    for c0 in (0..k).step_by(16) {
        let masks = lane_masks((k - c0).min(16), 8).map(|m| m as __mmask8);
        // SAFETY: every load and store is masked to the k values of its row (from c0).
        unsafe {
            let mut acc = [_mm512_setzero_pd(); 4];
            for m in 0..4 {
                if masks[m] != 0 {
                    acc[m] = _mm512_maskz_loadu_pd(masks[m], ip.add(2 * c0 + 8 * m));
                }
            }
            for (l, v) in terms.clone() {
                let (lr, li) = (_mm512_set1_pd(l.re), _mm512_set1_pd(l.im));
                let vp = v.cast::<f64>().add(2 * c0);
                for m in 0..4 {
                    if masks[m] != 0 {
                        let vv = _mm512_maskz_loadu_pd(masks[m], vp.add(8 * m));
                        // [v_re l_re, v_im l_re] and [v_im l_im, v_re l_im]; even lanes
                        // subtract, odd lanes add (AVX2's addsub).
                        let a = _mm512_mul_pd(vv, lr);
                        let b = _mm512_mul_pd(_mm512_permute_pd::<0b0101_0101>(vv), li);
                        let prod = _mm512_mask_sub_pd(_mm512_add_pd(a, b), 0b0101_0101, a, b);
                        acc[m] = _mm512_sub_pd(acc[m], prod);
                    }
                }
            }
            for m in 0..4 {
                if masks[m] != 0 {
                    _mm512_mask_storeu_pd(op.add(2 * c0 + 8 * m), masks[m], acc[m]);
                }
            }
        }
    }
}

/// rowₑ[j] ← rowₑ[j] − lₑ v[j] for j < k and every (lₑ, rowₑ) in order, complex f64: the bits
/// of one [`axpy_neg`] per row. With AVX-512F, v held in four registers (16 values per pass)
/// across the rows.
///
/// # Safety
/// The CPU must support AVX-512F; v and every rowₑ must be valid for k values, and no rowₑ may
/// overlap v.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sub_scaled_c64_avx512<I>(rows: I, v: *const c64, k: usize)
where
    I: Iterator<Item = (c64, *mut c64)> + Clone,
{
    use std::arch::x86_64::*;
    let vp = v.cast::<f64>();
    for c0 in (0..k).step_by(16) {
        let masks = lane_masks((k - c0).min(16), 8).map(|m| m as __mmask8);
        // SAFETY: every load and store is masked to the k values of its row (from c0).
        unsafe {
            let mut vv = [_mm512_setzero_pd(); 4];
            let mut vs = [_mm512_setzero_pd(); 4];
            for m in 0..4 {
                if masks[m] != 0 {
                    vv[m] = _mm512_maskz_loadu_pd(masks[m], vp.add(2 * c0 + 8 * m));
                    vs[m] = _mm512_permute_pd::<0b0101_0101>(vv[m]);
                }
            }
            for (l, row) in rows.clone() {
                let (lr, li) = (_mm512_set1_pd(l.re), _mm512_set1_pd(l.im));
                let rp = row.cast::<f64>().add(2 * c0);
                for m in 0..4 {
                    if masks[m] != 0 {
                        let a = _mm512_mul_pd(vv[m], lr);
                        let b = _mm512_mul_pd(vs[m], li);
                        let prod = _mm512_mask_sub_pd(_mm512_add_pd(a, b), 0b0101_0101, a, b);
                        let y = _mm512_maskz_loadu_pd(masks[m], rp.add(8 * m));
                        _mm512_mask_storeu_pd(rp.add(8 * m), masks[m], _mm512_sub_pd(y, prod));
                    }
                }
            }
        }
    }
}

/// As [`sub_scaled_c64_avx512`] in complex f32: 32 values per pass.
///
/// # Safety
/// As [`sub_scaled_c64_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sub_scaled_c32_avx512<I>(rows: I, v: *const c32, k: usize)
where
    I: Iterator<Item = (c32, *mut c32)> + Clone,
{
    use std::arch::x86_64::*;
    let vp = v.cast::<f32>();
    for c0 in (0..k).step_by(32) {
        let masks = lane_masks((k - c0).min(32), 16);
        // SAFETY: as in the f64 kernel.
        unsafe {
            let mut vv = [_mm512_setzero_ps(); 4];
            let mut vs = [_mm512_setzero_ps(); 4];
            for m in 0..4 {
                if masks[m] != 0 {
                    vv[m] = _mm512_maskz_loadu_ps(masks[m], vp.add(2 * c0 + 16 * m));
                    vs[m] = _mm512_permute_ps::<0b1011_0001>(vv[m]);
                }
            }
            for (l, row) in rows.clone() {
                let (lr, li) = (_mm512_set1_ps(l.re), _mm512_set1_ps(l.im));
                let rp = row.cast::<f32>().add(2 * c0);
                for m in 0..4 {
                    if masks[m] != 0 {
                        let a = _mm512_mul_ps(vv[m], lr);
                        let b = _mm512_mul_ps(vs[m], li);
                        let prod = _mm512_mask_sub_ps(_mm512_add_ps(a, b), 0x5555, a, b);
                        let y = _mm512_maskz_loadu_ps(masks[m], rp.add(16 * m));
                        _mm512_mask_storeu_ps(rp.add(16 * m), masks[m], _mm512_sub_ps(y, prod));
                    }
                }
            }
        }
    }
}

/// As [`sub_products_c64_avx512`] in complex f32: 32 values per pass.
///
/// # Safety
/// As [`sub_products_c64_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sub_products_c32_avx512<I>(out: *mut c32, init: *const c32, k: usize, terms: I)
where
    I: Iterator<Item = (c32, *const c32)> + Clone,
{
    use std::arch::x86_64::*;
    let (op, ip) = (out.cast::<f32>(), init.cast::<f32>());
    for c0 in (0..k).step_by(32) {
        let masks = lane_masks((k - c0).min(32), 16);
        // SAFETY: as in the f64 kernel.
        unsafe {
            let mut acc = [_mm512_setzero_ps(); 4];
            for m in 0..4 {
                if masks[m] != 0 {
                    acc[m] = _mm512_maskz_loadu_ps(masks[m], ip.add(2 * c0 + 16 * m));
                }
            }
            for (l, v) in terms.clone() {
                let (lr, li) = (_mm512_set1_ps(l.re), _mm512_set1_ps(l.im));
                let vp = v.cast::<f32>().add(2 * c0);
                for m in 0..4 {
                    if masks[m] != 0 {
                        let vv = _mm512_maskz_loadu_ps(masks[m], vp.add(16 * m));
                        let a = _mm512_mul_ps(vv, lr);
                        let b = _mm512_mul_ps(_mm512_permute_ps::<0b1011_0001>(vv), li);
                        let prod = _mm512_mask_sub_ps(_mm512_add_ps(a, b), 0x5555, a, b);
                        acc[m] = _mm512_sub_ps(acc[m], prod);
                    }
                }
            }
            for m in 0..4 {
                if masks[m] != 0 {
                    _mm512_mask_storeu_ps(op.add(2 * c0 + 16 * m), masks[m], acc[m]);
                }
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn c64_avx2(y: &mut [c64], l: c64, v: &[c64]) {
        unsafe { axpy_neg_c64::<true>(y, l, v) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn c64_from_avx2(out: &mut [c64], y: &[c64], l: c64, v: &[c64]) {
        unsafe { axpy_neg_from_c64::<true>(out, y, l, v) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn c32_avx2(y: &mut [c32], l: c32, v: &[c32]) {
        unsafe { axpy_neg_c32::<true>(y, l, v) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn c64_rows_avx512(out: &mut [c64], init: &[c64], terms: &[(c64, Vec<c64>)]) {
        let k = out.len();
        let it = terms.iter().map(|(l, v)| (*l, v.as_ptr()));
        unsafe { sub_products_c64_avx512(out.as_mut_ptr(), init.as_ptr(), k, it) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn c32_rows_avx512(out: &mut [c32], init: &[c32], terms: &[(c32, Vec<c32>)]) {
        let k = out.len();
        let it = terms.iter().map(|(l, v)| (*l, v.as_ptr()));
        unsafe { sub_products_c32_avx512(out.as_mut_ptr(), init.as_ptr(), k, it) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn c64_scaled_avx512(rows: &mut [(c64, Vec<c64>)], v: &[c64]) {
        let it = rows.iter_mut().map(|(l, r)| (*l, r.as_mut_ptr()));
        let it: Vec<(c64, *mut c64)> = it.collect();
        unsafe { sub_scaled_c64_avx512(it.into_iter(), v.as_ptr(), v.len()) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn c32_scaled_avx512(rows: &mut [(c32, Vec<c32>)], v: &[c32]) {
        let it: Vec<(c32, *mut c32)> = rows.iter_mut().map(|(l, r)| (*l, r.as_mut_ptr())).collect();
        unsafe { sub_scaled_c32_avx512(it.into_iter(), v.as_ptr(), v.len()) }
    }

    #[test]
    fn the_avx512_scaled_row_kernels_give_the_bits_of_one_portable_axpy_per_row() {
        if !has_avx512() {
            return;
        }
        let narrow = |z: &c64| c32::new(z.re as f32, z.im as f32);
        for k in [0usize, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 70] {
            for n_rows in [0usize, 1, 5] {
                let v: Vec<c64> = (0..k).map(|i| value(i + 2, 3.0)).collect();
                let rows: Vec<(c64, Vec<c64>)> = (0..n_rows)
                    .map(|t| {
                        let l = value(5 * t + 3, 0.6);
                        (l, (0..k).map(|i| value(i + 13 * t, 0.25)).collect())
                    })
                    .collect();
                let mut want = rows.clone();
                for (l, r) in &mut want {
                    axpy_neg(r, *l, &v);
                }
                let mut got = rows.clone();
                // SAFETY: AVX-512F was detected above.
                unsafe { c64_scaled_avx512(&mut got, &v) };
                assert_eq!(want, got, "complex f64, k {k}, {n_rows} rows");
                let v32: Vec<c32> = v.iter().map(narrow).collect();
                let rows32: Vec<(c32, Vec<c32>)> = rows
                    .iter()
                    .map(|(l, r)| (narrow(l), r.iter().map(narrow).collect()))
                    .collect();
                let mut want32 = rows32.clone();
                for (l, r) in &mut want32 {
                    axpy_neg(r, *l, &v32);
                }
                let mut got32 = rows32;
                // SAFETY: as above.
                unsafe { c32_scaled_avx512(&mut got32, &v32) };
                assert_eq!(want32, got32, "complex f32, k {k}, {n_rows} rows");
            }
        }
    }

    #[test]
    fn the_avx512_row_kernels_give_the_bits_of_one_portable_axpy_per_term() {
        if !has_avx512() {
            return;
        }
        for k in [0usize, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 70] {
            for n_terms in [0usize, 1, 5] {
                let terms: Vec<(c64, Vec<c64>)> = (0..n_terms)
                    .map(|t| {
                        let l = value(3 * t + 1, 1.7);
                        (l, (0..k).map(|i| value(i + 11 * t, 3.0)).collect())
                    })
                    .collect();
                let init: Vec<c64> = (0..k).map(|i| value(i + 5, 0.25)).collect();
                let mut want = init.clone();
                for (l, v) in &terms {
                    axpy_neg(&mut want, *l, v);
                }
                let mut got = vec![c64::new(9.0, 9.0); k];
                // SAFETY: AVX-512F was detected above.
                unsafe { c64_rows_avx512(&mut got, &init, &terms) };
                assert_eq!(want, got, "complex f64, k {k}, {n_terms} terms");
                let narrow = |z: &c64| c32::new(z.re as f32, z.im as f32);
                let terms32: Vec<(c32, Vec<c32>)> = terms
                    .iter()
                    .map(|(l, v)| (narrow(l), v.iter().map(narrow).collect()))
                    .collect();
                let init32: Vec<c32> = init.iter().map(narrow).collect();
                let mut want32 = init32.clone();
                for (l, v) in &terms32 {
                    axpy_neg(&mut want32, *l, v);
                }
                let mut got32 = vec![c32::new(9.0, 9.0); k];
                // SAFETY: as above.
                unsafe { c32_rows_avx512(&mut got32, &init32, &terms32) };
                assert_eq!(want32, got32, "complex f32, k {k}, {n_terms} terms");
            }
        }
    }

    /// Awkward values: products that round, cancel, and differ under a fused multiply–add.
    fn value(i: usize, s: f64) -> c64 {
        c64::new(
            (1.0 + i as f64 * 0.1).sin() * s + 1e-9,
            (0.3 + i as f64 * 0.7).cos() / s,
        )
    }

    #[test]
    fn the_avx2_kernels_give_the_portable_bits_at_every_length() {
        if !has_avx2() {
            return;
        }
        let l = c64::new(0.7310585786300049, -1.3333333333333333);
        for len in 0..20 {
            let v: Vec<c64> = (0..len).map(|i| value(i, 3.0)).collect();
            let y0: Vec<c64> = (0..len).map(|i| value(i + 7, 0.25)).collect();
            let (mut a, mut b) = (y0.clone(), y0.clone());
            axpy_neg(&mut a, l, &v);
            // SAFETY: AVX2 and FMA were detected above.
            unsafe { c64_avx2(&mut b, l, &v) };
            assert_eq!(a, b, "complex f64, length {len}");
            let mut c = vec![c64::new(9.0, 9.0); len];
            // SAFETY: as above.
            unsafe { c64_from_avx2(&mut c, &y0, l, &v) };
            assert_eq!(a, c, "complex f64 out of place, length {len}");
            let mut d = vec![c64::new(9.0, 9.0); len];
            axpy_neg_from(&mut d, &y0, l, &v);
            assert_eq!(a, d, "portable out of place, length {len}");
            let l32 = c32::new(l.re as f32, l.im as f32);
            let v32: Vec<c32> = v
                .iter()
                .map(|z| c32::new(z.re as f32, z.im as f32))
                .collect();
            let y32: Vec<c32> = y0
                .iter()
                .map(|z| c32::new(z.re as f32, z.im as f32))
                .collect();
            let (mut a, mut b) = (y32.clone(), y32);
            axpy_neg(&mut a, l32, &v32);
            // SAFETY: as above.
            unsafe { c32_avx2(&mut b, l32, &v32) };
            assert_eq!(a, b, "complex f32, length {len}");
        }
    }
}
