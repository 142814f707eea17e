//! Tests of the factorisation and substitution kernels against their portable paths.

use super::*;

/// A pseudo-random value in [−1, 1) (xorshift).
fn next(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

#[test]
fn the_dispatched_substitutions_give_the_portable_bits() {
    // A complex symmetric five-point matrix on a 14 × 11 grid (diagonally dominant), AMD.
    let (nx, nz) = (14usize, 11usize);
    let n = nx * nz;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let off: Vec<[c64; 2]> = (0..n)
        .map(|_| std::array::from_fn(|_| c64::new(next(&mut state), next(&mut state))))
        .collect();
    let (mut col_ptr, mut rows, mut values) = (vec![0usize], Vec::new(), Vec::new());
    for q in 0..n {
        let (x, z) = (q % nx, q / nx);
        let mut entries = Vec::new();
        if z > 0 {
            entries.push((q - nx, off[q - nx][1]));
        }
        if x > 0 {
            entries.push((q - 1, off[q - 1][0]));
        }
        entries.push((q, c64::new(6.0, 1.0)));
        if x + 1 < nx {
            entries.push((q + 1, off[q][0]));
        }
        if z + 1 < nz {
            entries.push((q + nx, off[q][1]));
        }
        for (r, v) in entries {
            rows.push(r);
            values.push(v);
        }
        col_ptr.push(rows.len());
    }
    let pattern = SymbolicSparseColMat::new_checked(n, n, col_ptr, None, rows);
    let symbolic = LdltSymbolic::new(&pattern, LdltOrdering::Amd).unwrap();
    let double = symbolic.factorize::<c64>(&values).unwrap();
    let single = double.to_single();
    // The f32 copy rounded panel by panel during the factorisation is the same, bit for bit,
    // and so are the f64 factors.
    let (double2, single2) = symbolic.factorize_with_single(&values).unwrap();
    assert_eq!(double2.values, double.values);
    assert_eq!(double2.dinv, double.dinv);
    assert_eq!(single2.values, single.values);
    assert_eq!(single2.dinv, single.dinv);
    // The norm without hypot agrees with the one with it to rounding.
    let with_hypot = (0..n)
        .map(|c| pattern.col_range(c).map(|p| values[p].norm()).sum::<f64>())
        .fold(0.0, f64::max);
    let norm = matrix_inf_norm(&pattern, &values);
    assert!(
        (norm - with_hypot).abs() <= 1e-14 * with_hypot,
        "{norm} {with_hypot}"
    );
    let tiny: Vec<c64> = values.iter().map(|&v| v * 1e-170).collect();
    let norm = matrix_inf_norm(&pattern, &tiny);
    assert!((norm - with_hypot * 1e-170).abs() <= 1e-14 * with_hypot * 1e-170);
    for k in [1usize, 3, 15, 17, 40] {
        let x: Vec<c64> = (0..n * k)
            .map(|_| c64::new(next(&mut state), next(&mut state)))
            .collect();
        let (mut want, mut got) = (x.clone(), x.clone());
        double.forward_generic::<false, false>(&mut want, k, None);
        double.forward(&mut got, k, None);
        assert_eq!(want, got, "forward, complex f64, k {k}");
        let x32: Vec<c32> = x.iter().map(|&v| c32::from_c64(v)).collect();
        let (mut want32, mut got32) = (x32.clone(), x32);
        single.forward_generic::<false, false>(&mut want32, k, None);
        single.forward(&mut got32, k, None);
        assert_eq!(want32, got32, "forward, complex f32, k {k}");
        let (mut want, mut got) = (x.clone(), x.clone());
        double.backward_generic::<false, false>(&mut want, k);
        double.backward(&mut got, k);
        assert_eq!(want, got, "complex f64, k {k}");
        let x32: Vec<c32> = x.iter().map(|&v| c32::from_c64(v)).collect();
        let (mut want, mut got) = (x32.clone(), x32);
        single.backward_generic::<false, false>(&mut want, k);
        single.backward(&mut got, k);
        assert_eq!(want, got, "complex f32, k {k}");
    }
}
