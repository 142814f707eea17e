//! The residual kernels against dense products, and refinement converging to its tolerance.

use super::*;

/// A 3 × 3 complex symmetric tridiagonal matrix, stored by columns.
fn tridiagonal() -> (SymbolicSparseColMat<usize>, Vec<c64>) {
    let pattern =
        SymbolicSparseColMat::new_checked(3, 3, vec![0, 2, 5, 7], None, vec![0, 1, 0, 1, 2, 1, 2]);
    let d = c64::new(8.0, 1.0);
    let o = c64::new(-1.0, 0.5);
    (pattern, vec![d, o, o, d, o, o, d])
}

fn identity(n: usize) -> PermutedPattern {
    let perm: Vec<usize> = (0..n).collect();
    PermutedPattern::new(&tridiagonal().0, &perm, &perm)
}

#[test]
fn the_residual_of_the_exact_solution_is_zero_and_of_zero_is_the_right_hand_side() {
    let (pattern, values) = tridiagonal();
    let m_norm = super::super::ldlt::matrix_inf_norm(&pattern, &values);
    let stored = identity(3);
    let z: Vec<c64> = (0..3)
        .map(|i| c64::new(1.0 + i as f64, -(i as f64)))
        .collect();
    let y: Vec<c64> = (0..3)
        .map(|i| {
            (0..3)
                .map(|c| {
                    pattern
                        .col_range(c)
                        .filter(|&p| pattern.row_idx()[p] == i)
                        .map(|p| values[p] * z[c])
                        .sum::<c64>()
                })
                .sum::<c64>()
        })
        .collect();
    let mut r = vec![c64::new(0.0, 0.0); 3];
    for transpose in [false, true] {
        let rows = stored.rows_of(&values, transpose);
        let eta = residual(
            &stored,
            &rows,
            m_norm,
            transpose,
            1,
            Block::Dense(&y),
            &z,
            &mut r,
        );
        assert!(eta < 1e-16, "{eta:e}");
        let zero = vec![c64::new(0.0, 0.0); 3];
        let eta = residual(
            &stored,
            &rows,
            m_norm,
            transpose,
            1,
            Block::Dense(&y),
            &zero,
            &mut r,
        );
        assert!((eta - 1.0).abs() < 1e-15, "η(0) = ‖y‖/‖y‖ = 1, got {eta:e}");
        assert_eq!(r, y);
    }
}

#[test]
fn the_permuted_residual_of_a_nonsymmetric_matrix_and_of_its_transpose_match_dense_products() {
    // A 4 × 4 nonsymmetric pattern (row 3 has no entry in column 0, column 3 has one in
    // row 0), three right-hand sides (an odd count: the vector kernels' tails), renumbered.
    let pattern = SymbolicSparseColMat::new_checked(
        4,
        4,
        vec![0, 2, 4, 6, 9],
        None,
        vec![0, 2, 1, 3, 0, 2, 0, 1, 3],
    );
    let values: Vec<c64> = (0..9)
        .map(|p| c64::new(1.0 + p as f64, 0.5 - 0.25 * p as f64))
        .collect();
    let mut dense = [[c64::new(0.0, 0.0); 4]; 4];
    for c in 0..4 {
        for p in pattern.col_range(c) {
            dense[pattern.row_idx()[p]][c] = values[p];
        }
    }
    let perm = [2usize, 0, 3, 1];
    let mut perm_inv = [0usize; 4];
    for (i, &q) in perm.iter().enumerate() {
        perm_inv[q] = i;
    }
    let stored = PermutedPattern::new(&pattern, &perm, &perm_inv);
    let k = 3;
    // Natural-order values, stored row-major in the permuted numbering.
    let zf = |q: usize, j: usize| c64::new(q as f64 - 1.5, 0.3 * j as f64 + 0.1);
    let yf = |q: usize, j: usize| c64::new(0.2 * j as f64, q as f64);
    let z: Vec<c64> = (0..4 * k).map(|e| zf(perm[e / k], e % k)).collect();
    let y: Vec<c64> = (0..4 * k).map(|e| yf(perm[e / k], e % k)).collect();
    let mut r = vec![c64::new(0.0, 0.0); 4 * k];
    for transpose in [false, true] {
        let m = stored.rows_of(&values, transpose);
        residual(&stored, &m, 1.0, transpose, k, Block::Dense(&y), &z, &mut r);
        // The same Y given by its nonzeros gives the same bits.
        let mut sparse: Vec<(usize, usize, c64)> = (0..4 * k)
            .filter(|&e| e % 2 == 0)
            .map(|e| (e / k, e % k, y[e]))
            .collect();
        sparse.sort_by_key(|&(i, j, _)| (i, j));
        let dense_y: Vec<c64> = (0..4 * k)
            .map(|e| if e % 2 == 0 { y[e] } else { c64::new(0.0, 0.0) })
            .collect();
        let mut r_dense = vec![c64::new(0.0, 0.0); 4 * k];
        let mut r_sparse = r_dense.clone();
        let eta_dense = residual(
            &stored,
            &m,
            1.0,
            transpose,
            k,
            Block::Dense(&dense_y),
            &z,
            &mut r_dense,
        );
        let eta_sparse = residual(
            &stored,
            &m,
            1.0,
            transpose,
            k,
            Block::Sparse(&sparse),
            &z,
            &mut r_sparse,
        );
        assert_eq!(r_dense, r_sparse);
        assert_eq!(eta_dense, eta_sparse);
        for j in 0..k {
            for q in 0..4 {
                let mz: c64 = (0..4)
                    .map(|c| {
                        let a = if transpose { dense[c][q] } else { dense[q][c] };
                        a * zf(c, j)
                    })
                    .sum();
                let want = yf(q, j) - mz;
                assert!(
                    (r[perm_inv[q] * k + j] - want).norm() < 1e-13,
                    "transpose {transpose}: ({q}, {j})"
                );
            }
        }
    }
}

#[test]
fn refinement_with_a_perturbed_inverse_converges_to_the_tolerance() {
    let (pattern, values) = tridiagonal();
    let m_norm = super::super::ldlt::matrix_inf_norm(&pattern, &values);
    let stored = identity(3);
    // F⁻¹ ≈ M⁻¹: the diagonal preconditioner D⁻¹ contracts the error of this diagonally
    // dominant M by about ‖I − D⁻¹M‖∞ = 2 |o| / |d| ≈ 0.28 per step.
    let d_inv = c64::new(1.0, 0.0) / values[0];
    let y: Vec<c64> = (0..3).map(|i| c64::new(1.0, i as f64)).collect();
    let mut z: Vec<c64> = y.iter().map(|&v| v * d_inv).collect();
    let mut work = vec![c64::new(0.0, 0.0); 3];
    let policy = Refinement {
        tolerance: 1e-14,
        max_steps: 200,
    };
    let report = refine(
        &stored,
        &stored.rows_of(&values, false),
        m_norm,
        false,
        policy,
        1,
        Block::Dense(&y),
        &mut z,
        &mut work,
        |r, z| {
            for (zi, &ri) in z.iter_mut().zip(r.iter()) {
                *zi += ri * d_inv;
            }
        },
    );
    assert!(report.initial > 1e-3, "{report:?}");
    assert!(report.last <= 1e-14, "{report:?}");
    assert!(report.steps > 5 && report.steps < 200, "{report:?}");
}

/// A pseudo-random value in [−1, 1) from a 64-bit state (xorshift).
fn next(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

#[test]
fn the_dispatched_residual_gives_the_portable_loops_bits_for_every_block_width() {
    // A five-point pattern on a 7 × 6 grid, renumbered by a fixed shuffle, random values; block
    // widths around the vector kernels' register and pass boundaries (4 and 16 values).
    let (nx, nz) = (7usize, 6usize);
    let n = nx * nz;
    let mut col_ptr = vec![0usize];
    let mut row_idx = Vec::new();
    for c in 0..n {
        let (x, z) = ((c % nx) as i64, (c / nx) as i64);
        let mut rows: Vec<usize> = [(0, -1), (-1, 0), (0, 0), (1, 0), (0, 1)]
            .iter()
            .map(|&(dx, dz)| (x + dx, z + dz))
            .filter(|&(x, z)| x >= 0 && z >= 0 && x < nx as i64 && z < nz as i64)
            .map(|(x, z)| (z * nx as i64 + x) as usize)
            .collect();
        rows.sort_unstable();
        row_idx.extend(rows);
        col_ptr.push(row_idx.len());
    }
    let pattern = SymbolicSparseColMat::new_checked(n, n, col_ptr, None, row_idx);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let values: Vec<c64> = (0..pattern.row_idx().len())
        .map(|_| c64::new(next(&mut state), next(&mut state)))
        .collect();
    let perm: Vec<usize> = (0..n).map(|i| (i * 11) % n).collect();
    let mut perm_inv = vec![0usize; n];
    for (i, &q) in perm.iter().enumerate() {
        perm_inv[q] = i;
    }
    let stored = PermutedPattern::new(&pattern, &perm, &perm_inv);
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for k in [1usize, 2, 3, 4, 5, 15, 16, 17, 33] {
        let mut z: Vec<c64> = (0..n * k)
            .map(|_| c64::new(next(&mut state), next(&mut state)))
            .collect();
        let y: Vec<c64> = (0..n * k)
            .map(|_| c64::new(next(&mut state), next(&mut state)))
            .collect();
        let sparse: Vec<(usize, usize, c64)> = (0..n * k)
            .step_by(7)
            .map(|e| (e / k, e % k, y[e]))
            .collect();
        for poison in [false, true] {
            if poison {
                // A NaN in Z: the maxima skip it in every path, the residual carries it.
                z[3 * k] = c64::new(f64::NAN, 0.0);
            }
            for transpose in [false, true] {
                let m = stored.rows_of(&values, transpose);
                for block in [Block::Dense(&y), Block::Sparse(&sparse)] {
                    let mut r_want = vec![c64::new(0.0, 0.0); n * k];
                    let mut r_got = r_want.clone();
                    let want =
                        residual_portable(&stored, &m, 2.5, transpose, k, block, &z, &mut r_want);
                    let got = residual(&stored, &m, 2.5, transpose, k, block, &z, &mut r_got);
                    assert!(same(want, got), "k {k}: η {want:e} against {got:e}");
                    for (e, (a, b)) in r_want.iter().zip(&r_got).enumerate() {
                        assert!(
                            same(a.re, b.re) && same(a.im, b.im),
                            "k {k}, transpose {transpose}, value {e}: {a} against {b}"
                        );
                    }
                }
            }
        }
    }
}
