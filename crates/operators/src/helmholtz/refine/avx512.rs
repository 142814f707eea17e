//! The refinement residual with AVX-512F.

use super::{Block, PermutedPattern};
use faer::c64;

/// The residual with AVX-512F, the same IEEE operations in the same order as
/// [`super::residual_generic`] (so the same bits): each row by
/// [`super::super::cplx::sub_products_c64_avx512`] (its k values held in registers across its
/// entries), the rows of Z it gathers prefetched a few rows ahead, and the per-column maxima
/// kept in registers.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn residual(
    pattern: &PermutedPattern,
    rows: &[c64],
    m_norm: f64,
    transpose: bool,
    k: usize,
    y: Block<'_>,
    z: &[c64],
    r: &mut [c64],
) -> f64 {
    use std::arch::x86_64::*;
    /// Complex values per pass: four registers of four.
    const CHUNK: usize = 16;
    /// Rows between a prefetch of a row's gathers and the row's own pass.
    const AHEAD: usize = 4;
    let n = pattern.n();
    let (ptr, cols) = if transpose {
        (&pattern.ptr_t, &pattern.cols_t)
    } else {
        (&pattern.ptr, &pattern.cols)
    };
    assert!(
        z.len() >= n * k && r.len() >= n * k,
        "blocks of n × k values"
    );
    if let Block::Dense(d) = y {
        assert!(d.len() >= n * k, "a dense block of n × k values");
    }
    let passes = k.div_ceil(CHUNK);
    // The lanes of register m of a pass starting at column c0: 2 (k − c0) reals, 8 per register.
    let masks: Vec<[__mmask8; 4]> = (0..passes)
        .map(|p| {
            let reals = 2 * (k - p * CHUNK).min(CHUNK);
            std::array::from_fn(|m| {
                let lanes = reals.saturating_sub(8 * m).min(8);
                ((1u16 << lanes) - 1) as __mmask8
            })
        })
        .collect();
    // Squared moduli |v|² = v_re² + v_im², in both lanes of each value (the sum is exact in
    // either order, so both lanes hold the scalar loop's bits).
    let sq = |v: __m512d| {
        let s = _mm512_mul_pd(v, v);
        _mm512_add_pd(s, _mm512_permute_pd::<0b0101_0101>(s))
    };
    // Running maxima per pass and register. `_mm512_max_pd(new, old)` returns `old` when `new`
    // is NaN, as f64::max does in the scalar loop (the maxima start at 0 and are never NaN).
    let zero = _mm512_setzero_pd();
    let (mut r2, mut z2, mut y2) = (
        vec![[zero; 4]; passes],
        vec![[zero; 4]; passes],
        vec![[zero; 4]; passes],
    );
    let zeros = vec![c64::new(0.0, 0.0); k];
    let mut scratch = vec![c64::new(0.0, 0.0); k];
    let mut next = 0;
    let zp = z.as_ptr().cast::<f64>();
    let rp = r.as_mut_ptr().cast::<f64>();
    for i in 0..n {
        let yi: &[c64] = match y {
            Block::Dense(d) => &d[i * k..(i + 1) * k],
            Block::Sparse(s) if next < s.len() && s[next].0 == i => {
                scratch.fill(c64::new(0.0, 0.0));
                while next < s.len() && s[next].0 == i {
                    scratch[s[next].1] = s[next].2;
                    next += 1;
                }
                &scratch
            }
            Block::Sparse(_) => &zeros,
        };
        let yp = yi.as_ptr().cast::<f64>();
        let (e0, e1) = (ptr[i], ptr[i + 1]);
        // The rows of Z that row i + AHEAD gathers, fetched into cache now: in the factor's
        // numbering they are scattered, and the gathers' latency, not the arithmetic, bounds
        // this loop. (A hint only: no effect on the values.)
        if i + AHEAD < n {
            for &c in &cols[ptr[i + AHEAD]..ptr[i + AHEAD + 1]] {
                super::super::cplx::prefetch(zp.wrapping_add(c * 2 * k), 2 * k);
            }
        }
        // SAFETY: AVX-512F is enabled here; row i of r and rows cols[e] < n of z hold k values
        // (checked above), yi holds k, and r does not overlap z.
        unsafe {
            let terms = (e0..e1).map(|e| (rows[e], zp.add(cols[e] * 2 * k).cast::<c64>()));
            super::super::cplx::sub_products_c64_avx512(
                rp.add(i * 2 * k).cast(),
                yi.as_ptr(),
                k,
                terms,
            );
        }
        for (p, mask) in masks.iter().enumerate() {
            let c0 = 2 * p * CHUNK;
            // SAFETY: masked loads of the 2 k reals of row i of r and z and of yi.
            unsafe {
                let (rrow, zrow) = (rp.add(i * 2 * k + c0), zp.add(i * 2 * k + c0));
                for m in 0..4 {
                    if mask[m] != 0 {
                        let rv = _mm512_maskz_loadu_pd(mask[m], rrow.add(8 * m));
                        let zv = _mm512_maskz_loadu_pd(mask[m], zrow.add(8 * m));
                        let yv = _mm512_maskz_loadu_pd(mask[m], yp.add(c0 + 8 * m));
                        r2[p][m] = _mm512_max_pd(sq(rv), r2[p][m]);
                        z2[p][m] = _mm512_max_pd(sq(zv), z2[p][m]);
                        y2[p][m] = _mm512_max_pd(sq(yv), y2[p][m]);
                    }
                }
            }
        }
    }
    // Column j's maxima: the even lane of its value in its pass and register.
    let lane = |v: &[[__m512d; 4]], j: usize| {
        let (p, o) = (j / CHUNK, 2 * (j % CHUNK));
        let mut out = [0.0f64; 8];
        // SAFETY: eight f64 into an array of eight.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), v[p][o / 8]) };
        out[o % 8]
    };
    let mut worst: f64 = 0.0;
    for j in 0..k {
        let eta = lane(&r2, j).sqrt() / (m_norm * lane(&z2, j).sqrt() + lane(&y2, j).sqrt());
        worst = worst.max(if eta.is_finite() { eta } else { f64::INFINITY });
    }
    worst
}
