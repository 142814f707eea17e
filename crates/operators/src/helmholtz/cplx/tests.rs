//! The vector kernels against the portable loops, bit for bit, at every length.

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

#[test]
fn prefetch_takes_any_alignment_and_length() {
    // Unaligned starts, lengths across line boundaries and zero: no arithmetic overflow (the
    // notebooks build this crate with overflow checks) and no effect on the values.
    let v: Vec<c64> = (0..64).map(|i| c64::new(i as f64, -(i as f64))).collect();
    let before = v.clone();
    for start in 0..8 {
        for len in [0usize, 1, 3, 4, 5, 17, 56 - start] {
            prefetch(v[start..].as_ptr(), len);
        }
    }
    let bytes: Vec<u8> = (0..200).collect();
    for start in 0..70 {
        prefetch(bytes[start..].as_ptr(), 130 - start.min(130));
    }
    assert_eq!(v, before);
}
