//! The AVX-512F row kernels: a row of k right-hand-side values held in registers across many
//! terms (the residual and the backward substitution) or many rows (the forward substitution),
//! with the portable loop's operations in its order.

use faer::{c32, c64};

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
/// bits of copying `init` and one [`super::axpy_neg`] per term, each product a separate multiply and
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
/// of one [`super::axpy_neg`] per row. With AVX-512F, v held in four registers (16 values per pass)
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
