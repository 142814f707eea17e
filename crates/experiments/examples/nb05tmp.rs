#![allow(unused)]
fn main() {
    use experiments::checks::{Checks, table_html};
    use experiments::faer::{Mat, c64};
    use experiments::fwi::figures::{Scale, Series};
    use experiments::fwi::{
        DatasetConfig, FwiDatasets, KlMisfit, ZScore, add_noise, figures, smooth_test_model,
    };
    use experiments::html::{display_html, notebook_init, notebook_show};
    use experiments::memprior_core::numerics::loglog_slope;
    use experiments::operators::helmholtz::green::free_space_green;
    use experiments::operators::helmholtz::{Geometry, GeometryPreset, Helmholtz, Solver};
    use experiments::priors::KlBasis;
    use experiments::rand::SeedableRng;
    use experiments::rand_chacha::ChaCha8Rng;
    use experiments::rand_distr::{Distribution, StandardNormal};

    let tiny = Geometry {
        nx: 12,
        nz: 9,
        h: 0.08,
        npml: 5,
        pml_max: 60.0,
        freq: 2.0,
        sources: vec![[0, 0], [11, 8]],
        receivers: (0..12).map(|ix| [ix, 8]).chain([[0, 4]]).collect(),
    };
    let op_tiny = Helmholtz::new(tiny.clone()).unwrap();
    let m_tiny = smooth_test_model(tiny.nx, tiny.nz);
    let m_obs: Vec<f64> = m_tiny
        .iter()
        .enumerate()
        .map(|(k, v)| v * (1.0 + 0.04 * ((k as f64) * 0.7).cos()))
        .collect();
    let d_tiny: Mat<c64> = op_tiny.forward(&m_obs).unwrap();
    let sigma_tiny = 0.01;
    let (_, grad_tiny) = op_tiny
        .misfit_gradient(&m_tiny, &d_tiny, sigma_tiny)
        .unwrap();
    let gmax = grad_tiny.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let mut worst = (0.0f64, 0usize);
    let mut corner_rows = Vec::new();
    let mut fd_all = vec![0.0; tiny.n_pixels()];
    for k in 0..tiny.n_pixels() {
        let h = 1e-4 * m_tiny[k];
        let mut mp = m_tiny.clone();
        mp[k] += h;
        let fp = op_tiny.misfit_gradient(&mp, &d_tiny, sigma_tiny).unwrap().0;
        mp[k] -= 2.0 * h;
        let fm = op_tiny.misfit_gradient(&mp, &d_tiny, sigma_tiny).unwrap().0;
        let fd = (fp - fm) / (2.0 * h);
        fd_all[k] = fd;
        let err = (fd - grad_tiny[k]).abs() / gmax;
        if err > worst.0 {
            worst = (err, k);
        }
        let (ix, iz) = (k / tiny.nz, k % tiny.nz);
        if (ix == 0 || ix == tiny.nx - 1) && (iz == 0 || iz == tiny.nz - 1) || (ix == 6 && iz == 4)
        {
            corner_rows.push(vec![
                format!("({ix}, {iz})"),
                format!("{fd:.8e}"),
                format!("{:.8e}", grad_tiny[k]),
                format!("{err:.1e}"),
            ]);
        }
    }
    display_html(&table_html(
        &[
            "pixel",
            "central difference",
            "adjoint state",
            "|diff| / max|∇Φ|",
        ],
        &corner_rows,
    ));
    // J^H applied to the weighted residual is the gradient (the same adjoint machinery, steps 5–7).
    let jh_gap = {
        let state = op_tiny.solve(&m_tiny).unwrap();
        let data = state.data();
        let w = 1.0 / (sigma_tiny * sigma_tiny);
        let resid = Mat::from_fn(data.nrows(), data.ncols(), |s, r| {
            (data[(s, r)] - d_tiny[(s, r)]) * w
        });
        state
            .jacobian_adjoint_apply(&resid)
            .iter()
            .zip(&grad_tiny)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / gmax
    };
    let mut checks = Checks::new("Adjoint-state gradient against central differences (tiny grid)");
    checks.add(
        format!(
            "[fwi:forward-model] worst |FD − adjoint| / max|∇Φ| over all {} pixels (at pixel {})",
            tiny.n_pixels(),
            worst.1
        ),
        0.0,
        worst.0,
        1e-6,
    );
    checks.add(
        "[fwi:forward-model] J^H r/σ² equals the misfit gradient",
        0.0,
        jh_gap,
        1e-13,
    );
    checks.show_and_assert();
    let (shortcut_rows, edge_series) = {
        let f = op_tiny.factorize(&m_tiny).unwrap();
        let state = op_tiny.solve(&m_tiny).unwrap();
        let u = state.fields();
        let data = state.data();
        let (nxp, nzp) = op_tiny.padded_shape();
        let p = tiny.npml;
        let w = 1.0 / (sigma_tiny * sigma_tiny);
        // Pᵀ r / σ²: residuals placed at the receiver nodes, one column per source.
        let mut rhs = Mat::<c64>::zeros(nxp * nzp, tiny.sources.len());
        for s in 0..tiny.sources.len() {
            for (r, &node) in op_tiny.receiver_nodes().iter().enumerate() {
                rhs[(node, s)] += (data[(s, r)] - d_tiny[(s, r)]) * w;
            }
        }
        let mut lam_exact = rhs.clone();
        f.solve_adjoint(&mut lam_exact);
        // conj(A) λ = f  ⇔  λ = conj(A⁻¹ conj f).
        let mut lam_conj = Mat::from_fn(rhs.nrows(), rhs.ncols(), |i, j| rhs[(i, j)].conj());
        f.solve(&mut lam_conj);
        let lam_conj = Mat::from_fn(rhs.nrows(), rhs.ncols(), |i, j| lam_conj[(i, j)].conj());
        let w2 = op_tiny.omega() * op_tiny.omega();
        let g_pad = |lam: &Mat<c64>| -> Vec<f64> {
            (0..nxp * nzp)
                .map(|q| {
                    -w2 * (0..tiny.sources.len())
                        .map(|s| (lam[(q, s)].conj() * u[(q, s)]).re)
                        .sum::<f64>()
                })
                .collect()
        };
        let interior_only = |g: &[f64]| -> Vec<f64> {
            (0..tiny.nx)
                .flat_map(|i| (0..tiny.nz).map(move |j| (i, j)))
                .map(|(i, j)| g[(i + p) * nzp + j + p])
                .collect()
        };
        let (gp_exact, gp_conj) = (g_pad(&lam_exact), g_pad(&lam_conj));
        let variants: Vec<(&str, Vec<f64>)> = vec![
            (
                "Aᴴ solve, padding adjoint (ours)",
                op_tiny.pad_adjoint(&gp_exact),
            ),
            (
                "conj(A) solve, padding adjoint",
                op_tiny.pad_adjoint(&gp_conj),
            ),
            ("Aᴴ solve, no padding adjoint", interior_only(&gp_exact)),
            (
                "conj(A) solve, no padding adjoint (authors')",
                interior_only(&gp_conj),
            ),
        ];
        let is_edge = |k: usize| {
            let (ix, iz) = (k / tiny.nz, k % tiny.nz);
            ix == 0 || iz == 0 || ix == tiny.nx - 1 || iz == tiny.nz - 1
        };
        let edges: Vec<usize> = (0..tiny.n_pixels()).filter(|&k| is_edge(k)).collect();
        let mut rows = Vec::new();
        let mut series = vec![Series::points(
            "central differences",
            (0..edges.len()).map(|i| i as f64).collect(),
            edges.iter().map(|&k| fd_all[k]).collect(),
        )];
        for (name, g) in &variants {
            let mut rel: Vec<f64> = edges
                .iter()
                .map(|&k| (g[k] - fd_all[k]).abs() / fd_all[k].abs())
                .collect();
            rel.sort_by(f64::total_cmp);
            let median = rel[rel.len() / 2];
            let wrong_sign = edges
                .iter()
                .filter(|&&k| g[k].signum() != fd_all[k].signum())
                .count();
            let interior = (0..tiny.n_pixels())
                .filter(|&k| !is_edge(k))
                .map(|k| (g[k] - fd_all[k]).abs() / gmax)
                .fold(0.0, f64::max);
            let lib_gap = g
                .iter()
                .zip(&grad_tiny)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
                / gmax;
            rows.push((name.to_string(), median, wrong_sign, interior, lib_gap));
            series.push(Series::line(
                name.to_string(),
                (0..edges.len()).map(|i| i as f64).collect(),
                edges.iter().map(|&k| g[k]).collect(),
            ));
        }
        (rows, series)
    };
    display_html(&table_html(
        &[
            "gradient",
            "edge pixels: median |g − FD| / |FD|",
            "edge pixels with the wrong sign (of 38)",
            "interior: max |g − FD| / max|∇Φ|",
            "max |g − library| / max|∇Φ|",
        ],
        &shortcut_rows
            .iter()
            .map(|(n, m, s, i, l)| {
                vec![
                    n.clone(),
                    format!("{:.1} %", 100.0 * m),
                    s.to_string(),
                    format!("{i:.1e}"),
                    format!("{l:.1e}"),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    let mut checks = Checks::new("The two shortcuts against central differences (tiny grid)");
    let (exact, conj_only, nopad_only, both) = (
        &shortcut_rows[0],
        &shortcut_rows[1],
        &shortcut_rows[2],
        &shortcut_rows[3],
    );
    checks.add(
        "[fwi:forward-model] our assembly from the factorisation vs the library's gradient",
        0.0,
        exact.4,
        1e-12,
    );
    checks.at_most("[fwi:forward-model] ours: median edge error", exact.1, 1e-6);
    checks.at_most(
        "[fwi:forward-model] no padding adjoint: interior error (unchanged there)",
        nopad_only.3,
        1e-6,
    );
    checks.at_least(
        "[fwi:forward-model] no padding adjoint: median edge error (wrong)",
        nopad_only.1,
        0.1,
    );
    checks.at_least(
        "[fwi:forward-model] both shortcuts (authors'): median edge error (wrong)",
        both.1,
        0.1,
    );
    checks.show_and_assert();
    println!(
        "conj(A) alone: median edge error {:.1} %, interior {:.1e}",
        100.0 * conj_only.1,
        conj_only.3
    );
    let _ = (
        &figures::series_plot(
            edge_series,
            "Gradient at the 38 edge pixels: central differences, ours and the shortcuts",
            "edge pixel (row-major order)",
            "∂Φ/∂m",
            Scale::Linear,
            Scale::Linear,
        ),
        "nb05-shortcuts",
    );
}
