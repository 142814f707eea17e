//! Correctness of the Helmholtz operator: stencil, adjoint identities, Taylor tests at every kind
//! of pixel, the analytic Green's function under refinement, and PML absorption.

use faer::{Mat, c64};
use operators::helmholtz::green::{bessel_j0_y0, free_space_green};
use operators::helmholtz::{Geometry, GeometryPreset, Helmholtz, PmlAxis, Solver};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use testkit::smooth_test_model;

/// A small non-square geometry with sources and receivers on edges and corners.
fn tiny() -> Geometry {
    Geometry {
        nx: 23,
        nz: 17,
        h: 0.05,
        npml: 6,
        pml_max: 80.0,
        freq: 3.0,
        sources: vec![[0, 0], [11, 1], [22, 16]],
        receivers: (0..23)
            .map(|ix| [ix, 16])
            .chain([[0, 8], [22, 0]])
            .collect(),
    }
}

fn gaussian_vec(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

fn gaussian_data(rng: &mut ChaCha8Rng, ns: usize, nr: usize) -> Mat<c64> {
    Mat::from_fn(ns, nr, |_, _| {
        c64::new(rng.sample(StandardNormal), rng.sample(StandardNormal))
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn interior_rows_are_the_five_point_laplacian_and_stretched_rows_are_symmetrisable() {
    let g = tiny();
    let op = Helmholtz::new(g.clone()).unwrap();
    let m = smooth_test_model(g.nx, g.nz);
    let (pattern, values) = op.matrix(&m).unwrap();
    let (nxp, nzp) = op.padded_shape();
    let n = nxp * nzp;
    let mut dense = vec![c64::new(0.0, 0.0); n * n];
    for c in 0..n {
        let range = pattern.col_range(c);
        for (k, &r) in pattern.row_idx()[range.clone()].iter().enumerate() {
            dense[r * n + c] = values[range.start + k];
        }
    }
    let inv_h2 = 1.0 / (g.h * g.h);
    let w2 = op.omega().powi(2);
    let m_pad = op.pad(&m).unwrap();
    // An interior node: ω² m − 4/h² on the diagonal, 1/h² to the four neighbours.
    let q = (g.npml + 5) * nzp + g.npml + 7;
    assert!((dense[q * n + q] - c64::new(w2 * m_pad[q] - 4.0 * inv_h2, 0.0)).norm() < 1e-9);
    for nb in [q - 1, q + 1, q - nzp, q + nzp] {
        assert!((dense[q * n + nb] - c64::new(inv_h2, 0.0)).norm() < 1e-9);
    }
    // diag(s_x,i s_z,j) A is complex symmetric: the stencil's half-point stretches are consistent.
    let sx = PmlAxis::new(nxp, g.npml, g.pml_max, op.omega()).stretch;
    let sz = PmlAxis::new(nzp, g.npml, g.pml_max, op.omega()).stretch;
    let scale = |q: usize| sx[q / nzp] * sz[q % nzp];
    let mut worst: f64 = 0.0;
    for r in 0..n {
        for c in 0..n {
            let (a, b) = (scale(r) * dense[r * n + c], scale(c) * dense[c * n + r]);
            worst = worst.max((a - b).norm() / inv_h2);
        }
    }
    assert!(worst < 1e-12, "S·A is not symmetric: {worst:e}");
}

#[test]
fn pad_adjoint_passes_the_dot_product_test_and_feeds_edges_and_corners() {
    let op = Helmholtz::new(tiny()).unwrap();
    let g = op.geometry().clone();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = gaussian_vec(&mut rng, g.n_pixels());
    let y = gaussian_vec(&mut rng, op.n_unknowns());
    let lhs = dot(&op.pad(&x).unwrap(), &y);
    let rhs = dot(&x, &op.pad_adjoint(&y).unwrap());
    assert!((lhs - rhs).abs() <= 1e-13 * lhs.abs().max(1.0));
    // A corner pixel gathers its (p+1)² block, an edge pixel its p+1 strip, an interior pixel 1.
    let ones = op.pad_adjoint(&vec![1.0; op.n_unknowns()]).unwrap();
    let p1 = (g.npml + 1) as f64;
    assert_eq!(ones[0], p1 * p1);
    assert_eq!(ones[g.n_pixels() - 1], p1 * p1);
    assert_eq!(ones[5 * g.nz], p1);
    assert_eq!(ones[5 * g.nz + 5], 1.0);
    assert_eq!(ones.iter().sum::<f64>(), op.n_unknowns() as f64);
}

#[test]
fn every_solver_gives_the_same_data_and_gradient() {
    for geometry in [tiny(), Geometry::preset(GeometryPreset::Small)] {
        let m = smooth_test_model(geometry.nx, geometry.nz);
        let reference = Helmholtz::with_solver(geometry.clone(), Solver::Lu).unwrap();
        let d_obs = observed(&reference, &m);
        let (phi_ref, g_ref) = reference.misfit_gradient(&m, &d_obs, 0.01).unwrap();
        let d_ref = reference.forward(&m).unwrap();
        let g_scale = g_ref.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        for &solver in Solver::ALL {
            let name = solver.name();
            let op = Helmholtz::with_solver(geometry.clone(), solver).unwrap();
            let d = op.forward(&m).unwrap();
            let mut err: f64 = 0.0;
            let mut scale: f64 = 0.0;
            for s in 0..d.nrows() {
                for r in 0..d.ncols() {
                    err = err.max((d[(s, r)] - d_ref[(s, r)]).norm());
                    scale = scale.max(d_ref[(s, r)].norm());
                }
            }
            assert!(
                err <= 1e-11 * scale,
                "{name}: data differ from LU by {:e}",
                err / scale
            );
            let (phi, g) = op.misfit_gradient(&m, &d_obs, 0.01).unwrap();
            assert!(
                (phi - phi_ref).abs() <= 1e-10 * phi_ref,
                "{name}: misfit {phi} vs {phi_ref}"
            );
            let gerr = g
                .iter()
                .zip(&g_ref)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                gerr <= 1e-10 * g_scale,
                "{name}: gradient differs by {:e}",
                gerr / g_scale
            );
        }
    }
}

#[test]
fn jacobian_is_linear() {
    let op = Helmholtz::new(tiny()).unwrap();
    let g = op.geometry().clone();
    let state = op.solve(&smooth_test_model(g.nx, g.nz)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (x, y) = (
        gaussian_vec(&mut rng, g.n_pixels()),
        gaussian_vec(&mut rng, g.n_pixels()),
    );
    let (a, b) = (0.7, -1.9);
    let combo: Vec<f64> = x.iter().zip(&y).map(|(u, v)| a * u + b * v).collect();
    let (jx, jy, jc) = (
        state.jacobian_apply(&x).unwrap(),
        state.jacobian_apply(&y).unwrap(),
        state.jacobian_apply(&combo).unwrap(),
    );
    let flat = |m: &Mat<c64>| -> Vec<c64> {
        (0..m.ncols())
            .flat_map(|r| (0..m.nrows()).map(move |s| m[(s, r)]))
            .collect()
    };
    let rel = testkit::linearity_error(&flat(&jx), &flat(&jy), &flat(&jc), |u, w, c| {
        ((c - (u * a + w * b)).norm(), c.norm())
    });
    assert!(rel <= 1e-12, "relative linearity error {rel:e}");
}

#[test]
fn dense_jacobian_from_receiver_adjoints_equals_forward_sensitivities() {
    // Rows from n_r adjoint solves against J δm from one forward solve per perturbation, with
    // sources and receivers on edges and corners (where the padding adjoint matters).
    for solver in [Solver::Lu, Solver::SymmetricAmd] {
        let op = Helmholtz::with_solver(tiny(), solver).unwrap();
        let g = op.geometry().clone();
        let state = op.solve(&smooth_test_model(g.nx, g.nz)).unwrap();
        let jd = state.jacobian_dense();
        assert_eq!(
            (jd.nrows(), jd.ncols()),
            (g.sources.len() * g.receivers.len(), g.n_pixels())
        );
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..3 {
            let dm = gaussian_vec(&mut rng, g.n_pixels());
            let jv = state.jacobian_apply(&dm).unwrap();
            let (mut err, mut scale): (f64, f64) = (0.0, 0.0);
            for s in 0..jv.nrows() {
                for r in 0..jv.ncols() {
                    let row = s * jv.ncols() + r;
                    let dense: c64 = (0..dm.len()).map(|p| jd[(row, p)] * dm[p]).sum();
                    err = err.max((dense - jv[(s, r)]).norm());
                    scale = scale.max(jv[(s, r)].norm());
                }
            }
            assert!(
                err <= 1e-11 * scale,
                "{solver:?}: dense vs applied Jacobian {err:e} (scale {scale:e})"
            );
        }
    }
}

#[test]
fn dot_product_test_relative_1e_12_on_tiny_and_small_grids_for_every_solver() {
    let grids = [
        ("tiny", tiny()),
        ("small", Geometry::preset(GeometryPreset::Small)),
    ];
    for ((grid, geometry), solver) in grids
        .into_iter()
        .flat_map(|g| Solver::ALL.iter().map(move |&s| (g.clone(), s)))
    {
        let name = format!("{grid}/{}", solver.name());
        let op = Helmholtz::with_solver(geometry.clone(), solver).unwrap();
        let state = op
            .solve(&smooth_test_model(geometry.nx, geometry.nz))
            .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for trial in 0..3 {
            // δm everywhere, edges and corners included.
            let dm = gaussian_vec(&mut rng, geometry.n_pixels());
            let dd = gaussian_data(&mut rng, geometry.sources.len(), geometry.receivers.len());
            let r = testkit::dot_test(
                &Helmholtz::data_to_real(&state.jacobian_apply(&dm).unwrap()),
                &Helmholtz::data_to_real(&dd),
                &dm,
                &state.jacobian_adjoint_apply(&dd).unwrap(),
            );
            assert!(
                r.rel <= 1e-12,
                "{name} trial {trial}: ⟨Jδm, δd⟩ = {:e}, ⟨δm, Jᴴδd⟩ = {:e}, rel {:e}",
                r.lhs,
                r.rhs,
                r.rel
            );
        }
    }
}

/// Observed data from a perturbed model, so the misfit and its gradient are non-trivial.
fn observed(op: &Helmholtz, m: &[f64]) -> Mat<c64> {
    let m_true: Vec<f64> = m
        .iter()
        .enumerate()
        .map(|(k, v)| v * (1.0 + 0.05 * ((k as f64) * 0.37).sin()))
        .collect();
    op.forward(&m_true).unwrap()
}

#[test]
fn taylor_test_of_the_misfit_has_slope_two() {
    let g = tiny();
    let op = Helmholtz::new(g.clone()).unwrap();
    let m = smooth_test_model(g.nx, g.nz);
    let d_obs = observed(&op, &m);
    let sigma = 0.01;
    let grad = op.misfit_gradient(&m, &d_obs, sigma).unwrap().1;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let dm: Vec<f64> = gaussian_vec(&mut rng, g.n_pixels())
        .iter()
        .map(|v| v * 2e-4)
        .collect();
    let eps = [1.0, 0.5, 0.25, 0.125, 0.0625];
    let report = testkit::taylor_test(
        |mp| op.misfit_gradient(mp, &d_obs, sigma).map(|r| r.0),
        &m,
        &grad,
        &dm,
        &eps,
    )
    .unwrap();
    assert!(
        (report.slope0 - 1.0).abs() < 0.1,
        "zeroth-order remainder slope {}: {:?}",
        report.slope0,
        report.r0
    );
    assert!(
        report.is_second_order(0.1),
        "first-order remainder slope {}: {:?}",
        report.slope1,
        report.r1
    );
}

#[test]
fn gradient_matches_central_differences_at_corners_edges_and_interior() {
    let g = tiny();
    let op = Helmholtz::new(g.clone()).unwrap();
    let m = smooth_test_model(g.nx, g.nz);
    let d_obs = observed(&op, &m);
    let sigma = 0.01;
    let grad = op.misfit_gradient(&m, &d_obs, sigma).unwrap().1;
    let (nx, nz) = (g.nx, g.nz);
    let pixels = [
        (0, 0),
        (0, nz - 1),
        (nx - 1, 0),
        (nx - 1, nz - 1),
        (0, nz / 2),
        (nx - 1, nz / 3),
        (nx / 2, 0),
        (nx / 3, nz - 1),
        (nx / 2, nz / 2),
    ];
    for (ix, iz) in pixels {
        let k = ix * nz + iz;
        let h = 1e-4 * m[k];
        let mut mp = m.clone();
        mp[k] += h;
        let fp = op.misfit_gradient(&mp, &d_obs, sigma).unwrap().0;
        mp[k] -= 2.0 * h;
        let fm = op.misfit_gradient(&mp, &d_obs, sigma).unwrap().0;
        let fd = (fp - fm) / (2.0 * h);
        let rel = (fd - grad[k]).abs() / grad[k].abs();
        assert!(
            rel < 1e-6,
            "pixel ({ix}, {iz}): adjoint {:e} vs central difference {fd:e} (rel {rel:e})",
            grad[k]
        );
    }
}

#[test]
fn invalid_models_and_data_are_rejected_with_the_offending_entry() {
    let g = tiny();
    let op = Helmholtz::new(g.clone()).unwrap();
    let mut m = smooth_test_model(g.nx, g.nz);
    assert!(op.forward(&m[1..]).unwrap_err().to_string().contains("391"));
    m[3 * g.nz + 4] = -1.0;
    let e = op.forward(&m).unwrap_err().to_string();
    assert!(e.contains("model[3, 4]"), "{e}");
    m[3 * g.nz + 4] = f64::NAN;
    assert!(op.forward(&m).is_err());
    let m = smooth_test_model(g.nx, g.nz);
    let wrong = Mat::<c64>::zeros(2, 2);
    assert!(
        op.misfit_gradient(&m, &wrong, 1.0)
            .unwrap_err()
            .to_string()
            .contains("(3, 25)")
    );
    let d = op.forward(&m).unwrap();
    assert!(
        op.misfit_gradient(&m, &d, 0.0)
            .unwrap_err()
            .to_string()
            .contains("sigma_d")
    );
}

// ---------------------------------------------------------------------------------------------
// Analytic Green's function: (Δ + k²) u = δ(x − x_s) in 2-D has the outgoing solution
// u = −(i/4) H₀⁽¹⁾(k r) (the PML's stretch s = 1 + iσ/ω absorbs e^{ikr} waves). Our point
// source e_q / h² is the discrete delta, so the discrete solution must converge to it.

#[test]
fn bessel_series_matches_tabulated_values() {
    // Abramowitz & Stegun, Table 9.1.
    let (j, y) = bessel_j0_y0(1.0);
    assert!((j - 0.765_197_686_6).abs() < 1e-9 && (y - 0.088_256_964_2).abs() < 1e-9);
    let (j, y) = bessel_j0_y0(10.0);
    assert!((j + 0.245_935_764_5).abs() < 1e-9 && (y - 0.055_671_167_3).abs() < 1e-9);
}

/// Relative L² error of the discrete field against −(i/4)H₀⁽¹⁾(kr) on the annulus
/// 0.25 ≤ r ≤ 0.75 km around a centred source, for grid spacing h (2 km square, 0.5 km PML).
fn greens_error(h: f64) -> f64 {
    let (v, freq, side, pml) = (2.0, 4.0, 2.0, 0.5);
    let n = (side / h).round() as usize + 1;
    let c = n / 2;
    let geometry = Geometry {
        nx: n,
        nz: n,
        h,
        npml: (pml / h).round() as usize,
        pml_max: 120.0,
        freq,
        sources: vec![[c, c]],
        receivers: vec![[c, c]],
    };
    let op = Helmholtz::new(geometry.clone()).unwrap();
    let state = op.solve(&vec![1.0 / (v * v); n * n]).unwrap();
    let k = op.omega() / v;
    let (_, nzp) = op.padded_shape();
    let p = geometry.npml;
    let (mut err, mut norm) = (0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            let r = h * (((i as f64 - c as f64).powi(2) + (j as f64 - c as f64).powi(2)).sqrt());
            if !(0.25..=0.75).contains(&r) {
                continue;
            }
            let exact = free_space_green(k, r);
            let u = state.fields()[((i + p) * nzp + j + p, 0)];
            err += (u - exact).norm_sqr();
            norm += exact.norm_sqr();
        }
    }
    (err / norm).sqrt()
}

#[test]
fn greens_function_converges_at_second_order() {
    let hs = [1.0 / 40.0, 1.0 / 80.0, 1.0 / 160.0];
    let errors: Vec<f64> = hs.iter().map(|&h| greens_error(h)).collect();
    let orders: Vec<f64> = errors.windows(2).map(|w| (w[0] / w[1]).log2()).collect();
    eprintln!("Green's function errors {errors:?}, observed orders {orders:?}");
    assert!(errors[0] < 0.1, "coarsest error too large: {errors:?}");
    for o in &orders {
        assert!(
            (o - 2.0).abs() < 0.2,
            "observed order {o} (errors {errors:?})"
        );
    }
}

/// Reflected energy of a PML of `npml` cells: the field inside a 2 km square against the same
/// region embedded in a 4× larger domain with a thick PML (the reflection-free reference).
fn reflected_energy(npml: usize) -> f64 {
    let h = 1.0 / 40.0;
    let n = 81;
    let c = n / 2;
    let make = |n_in: usize, npml: usize| Geometry {
        nx: n_in,
        nz: n_in,
        h,
        npml,
        pml_max: 120.0,
        freq: 4.0,
        sources: vec![[n_in / 2, n_in / 2]],
        receivers: vec![[n_in / 2, n_in / 2]],
    };
    let small = Helmholtz::new(make(n, npml)).unwrap();
    let big_n = 4 * (n - 1) + 1;
    let big = Helmholtz::new(make(big_n, 40)).unwrap();
    let m = 1.0 / 4.0;
    let us = small.solve(&vec![m; n * n]).unwrap();
    let ub = big.solve(&vec![m; big_n * big_n]).unwrap();
    let (nzs, nzb) = (small.padded_shape().1, big.padded_shape().1);
    let off = big_n / 2 - c;
    let (mut diff, mut norm) = (0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            if i.abs_diff(c) + j.abs_diff(c) < 4 {
                continue; // skip the singular source neighbourhood
            }
            let a = us.fields()[((i + npml) * nzs + j + npml, 0)];
            let b = ub.fields()[((i + off + 40) * nzb + j + off + 40, 0)];
            diff += (a - b).norm_sqr();
            norm += b.norm_sqr();
        }
    }
    diff / norm
}

#[test]
fn pml_reflections_are_small_and_decrease_with_thickness() {
    let energies: Vec<f64> = [3, 6, 12, 24]
        .iter()
        .map(|&p| reflected_energy(p))
        .collect();
    eprintln!("reflected energy for 3, 6, 12, 24 PML cells: {energies:?}");
    for w in energies.windows(2) {
        assert!(
            w[1] < 0.5 * w[0],
            "reflection did not decrease: {energies:?}"
        );
    }
    assert!(
        energies[3] < 1e-4,
        "24-cell PML reflects {:.2e}",
        energies[3]
    );
}

/// The operator's own misfit and linearisation hooks (what `GaussianLikelihood` and the
/// linearised posterior call): the misfit with its gradient is `State::misfit_gradient` bit for
/// bit, through a reference too; the value agrees with it and with the generic ½‖y − F‖²/γ²
/// and −Jᵀ r/γ² to rounding; F(x) and the rows of J are `apply` and the dense Jacobian's.
#[test]
fn the_misfit_and_linearisation_hooks_are_the_solver_paths() {
    use memprior_core::{ForwardOperator, JacobianAction};
    let g = tiny();
    let op = Helmholtz::new(g.clone()).unwrap();
    let m = smooth_test_model(g.nx, g.nz);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let d_obs = gaussian_data(
        &mut rng,
        op.geometry().sources.len(),
        op.geometry().receivers.len(),
    );
    let y = Helmholtz::data_to_real(&d_obs);
    let gamma = 0.3;
    let (phi, grad) = op.misfit_gradient_gaussian(&m, &y, gamma).unwrap();
    let (phi_a, grad_a) = op.misfit_gradient(&m, &d_obs, gamma).unwrap();
    assert_eq!(phi.to_bits(), phi_a.to_bits());
    assert_eq!(grad, grad_a);
    // Through the blanket impl for &Helmholtz (a generic caller holding a reference).
    fn through<F: JacobianAction>(f: F, m: &[f64], y: &[f64], gamma: f64) -> (f64, Vec<f64>) {
        f.misfit_gradient_gaussian(m, y, gamma).unwrap()
    }
    let by_ref = through(&op, &m, &y, gamma);
    assert_eq!(by_ref.0.to_bits(), phi.to_bits());
    assert_eq!(by_ref.1, grad);
    // The generic formula: r = y − F(x), Φ = ½‖r‖²/γ², ∇Φ = −Jᵀr/γ².
    let r: Vec<f64> = op
        .apply(&m)
        .unwrap()
        .iter()
        .zip(&y)
        .map(|(f, y)| y - f)
        .collect();
    let phi_e = 0.5 * dot(&r, &r) / (gamma * gamma);
    let grad_e: Vec<f64> = op
        .jacobian_adjoint_apply(&m, &r)
        .unwrap()
        .iter()
        .map(|v| -v / (gamma * gamma))
        .collect();
    let value = op.misfit_gaussian(&m, &y, gamma).unwrap();
    assert!((value - phi).abs() <= 1e-13 * phi, "{value} vs {phi}");
    assert!((phi_e - phi).abs() <= 1e-13 * phi, "{phi_e} vs {phi}");
    let scale = grad.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    for (a, b) in grad.iter().zip(&grad_e) {
        assert!((a - b).abs() <= 1e-10 * scale, "{a} vs {b}");
    }
    let jac = op.jacobian(&m).unwrap();
    let mut seen = vec![false; jac.nrows()];
    let f = op
        .apply_and_jacobian_rows(&m, &mut |i, row| {
            seen[i] = true;
            let jmax = (0..jac.ncols()).fold(0.0f64, |a, k| a.max(jac[(i, k)].abs()));
            for (k, v) in row.iter().enumerate() {
                assert!(
                    (v - jac[(i, k)]).abs() <= 1e-10 * jmax.max(1e-300),
                    "row {i}, {k}"
                );
            }
        })
        .unwrap();
    assert!(seen.iter().all(|&s| s), "every row of J is handed over");
    assert_eq!(f, op.apply(&m).unwrap());
    // A wrong data length is an error, not a panic.
    assert!(op.misfit_gradient_gaussian(&m, &y[1..], gamma).is_err());
    assert!(op.misfit_gaussian(&m, &y[1..], gamma).is_err());
}
