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
        // Every line that [start, start + bytes) touches, the last one included: from the
        // line holding `start` (at or below it), one per 64 bytes.
        let addr = start as usize;
        let lines = ((addr + bytes - 1) / 64 - addr / 64) + 1;
        let first = start.wrapping_sub(addr % 64);
        for i in 0..lines {
            // SAFETY: SSE is part of x86-64; a prefetch never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(64 * i)) };
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

#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::{
    sub_products_c32_avx512, sub_products_c64_avx512, sub_scaled_c32_avx512, sub_scaled_c64_avx512,
};

#[cfg(all(test, target_arch = "x86_64"))]
mod tests;
