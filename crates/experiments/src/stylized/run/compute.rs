//! Running the stylized experiments: grid posteriors, linearised mixtures, the σ sweep and the KDE
//! comparison.

use super::*;

/// Grid evaluation shared by the 1-D and 2-D problems.
pub(super) struct GridEval {
    log_prior: Vec<f64>,
    log_likelihood: Vec<f64>,
    log_exact: Vec<f64>,
    log_linearized: [Vec<f64>; 2],
    lin: LinearizedPosterior,
    pi: Vec<f64>,
    lookup: Vec<f64>,
    distances: [GridDistances; 2],
}

pub(super) fn evaluate<F: memprior_core::JacobianAction<Error = ConfigError> + Clone>(
    grid: &TensorGrid,
    training: &TrainingSet,
    sigma: f64,
    lik: &GaussianLikelihood<F>,
) -> Result<GridEval, ConfigError> {
    let prior = MemorizedPrior::new(training.clone(), sigma)?;
    let post = GridPosterior::compute(grid, &prior, lik)?;
    let lin = LinearizedPosterior::new(lik, training, sigma)?;
    let nodes: Vec<Vec<f64>> = (0..grid.len()).map(|g| grid.node(g)).collect();
    let log_linearized = Weighting::ALL.map(|w| {
        let raw: Vec<f64> = nodes.iter().map(|x| lin.log_density(x, w)).collect();
        grid.normalize_log_density(&raw)
    });
    let distances = [0, 1].map(|k| {
        GridDistances::between(&post.log_posterior, &log_linearized[k], grid.cell_volume())
    });
    Ok(GridEval {
        log_likelihood: grid.normalize_log_density(&post.log_likelihood),
        pi: post.component_weights(),
        log_prior: post.log_prior,
        log_exact: post.log_posterior,
        log_linearized,
        lookup: lookup_weights(lik, training)?,
        lin,
        distances,
    })
}

pub(super) fn exp_all(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| x.exp()).collect()
}

pub(super) fn distance_rows(problem: &str, sigma: f64, d: &[GridDistances; 2]) -> Vec<DistanceRow> {
    Weighting::ALL
        .iter()
        .zip(d)
        .map(|(w, d)| DistanceRow {
            problem: problem.to_string(),
            sigma,
            weighting: w.name().to_string(),
            total_variation: d.total_variation,
            hellinger: d.hellinger,
            kl_exact_to_linearized: d.kl_exact_to_approx,
        })
        .collect()
}

pub(super) fn one_d_panel(
    cfg: &StylizedConfig,
    sigma: f64,
    training: &TrainingSet,
    lik: &GaussianLikelihood<Cubic1d>,
) -> Result<(OneDPanel, [GridDistances; 2]), ConfigError> {
    let o = &cfg.one_d;
    let grid = TensorGrid::uniform(&[(o.grid_lo, o.grid_hi, o.grid_n)])?;
    let ev = evaluate(&grid, training, sigma, lik)?;
    let (wq, we) = (
        ev.lin.weights(Weighting::QuadraticOnly),
        ev.lin.weights(Weighting::Evidence),
    );
    let components = ev
        .lin
        .components()
        .iter()
        .enumerate()
        .map(|(n, c)| ComponentSummary {
            n,
            x_n: c.center[0],
            mu: c.mean[0],
            std: c.covariance[(0, 0)].sqrt(),
            w_quadratic: wq[n],
            w_evidence: we[n],
            pi_exact: ev.pi[n],
            lookup: ev.lookup[n],
        })
        .collect();
    Ok((
        OneDPanel {
            sigma,
            grid: grid.axes()[0].clone(),
            prior: exp_all(&ev.log_prior),
            likelihood: exp_all(&ev.log_likelihood),
            exact: exp_all(&ev.log_exact),
            linearized_evidence: exp_all(&ev.log_linearized[0]),
            linearized_quadratic: exp_all(&ev.log_linearized[1]),
            components,
            effective_components: effective_components(&ev.pi),
        },
        ev.distances,
    ))
}

pub(super) fn field(grid: &TensorGrid, log_values: &[f64]) -> Field2d {
    let (x1, x2) = (grid.axes()[0].clone(), grid.axes()[1].clone());
    let n2 = x2.len();
    let z = (0..n2)
        .map(|j| {
            (0..x1.len())
                .map(|i| log_values[i * n2 + j].exp())
                .collect()
        })
        .collect();
    Field2d { x1, x2, z }
}

pub(super) fn two_d_panel(
    cfg: &StylizedConfig,
    sigma: f64,
    training: &TrainingSet,
    lik: &GaussianLikelihood<Quadratic2d>,
    x_true: [f64; 2],
    zoom_center: Option<&[f64]>,
) -> Result<(TwoDPanel, [GridDistances; 2]), ConfigError> {
    let t = &cfg.two_d;
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in training.iter() {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let grid = TensorGrid::uniform(&[
        (lo[0] - t.margin, hi[0] + t.margin, t.grid_n),
        (lo[1] - t.margin, hi[1] + t.margin, t.grid_n),
    ])?;
    let ev = evaluate(&grid, training, sigma, lik)?;
    let (wq, we) = (
        ev.lin.weights(Weighting::QuadraticOnly),
        ev.lin.weights(Weighting::Evidence),
    );
    let components = ev
        .lin
        .components()
        .iter()
        .enumerate()
        .map(|(n, c)| TwoDComponent {
            n,
            x_n: [c.center[0], c.center[1]],
            mu: [c.mean[0], c.mean[1]],
            cov: [
                c.covariance[(0, 0)],
                c.covariance[(0, 1)],
                c.covariance[(1, 1)],
            ],
            w_quadratic: wq[n],
            w_evidence: we[n],
            pi_exact: ev.pi[n],
            lookup: ev.lookup[n],
        })
        .collect();
    let zoom = match zoom_center {
        Some(c) => {
            let h = t.zoom_half_width;
            let zg = TensorGrid::uniform(&[
                (c[0] - h, c[0] + h, t.zoom_n),
                (c[1] - h, c[1] + h, t.zoom_n),
            ])?;
            let zev = evaluate(&zg, training, sigma, lik)?;
            Some((
                field(&zg, &zev.log_exact),
                field(&zg, &zev.log_linearized[0]),
            ))
        }
        None => None,
    };
    Ok((
        TwoDPanel {
            sigma,
            prior: field(&grid, &ev.log_prior),
            likelihood: field(&grid, &ev.log_likelihood),
            exact: field(&grid, &ev.log_exact),
            linearized: field(&grid, &ev.log_linearized[0]),
            components,
            zoom,
            x_true,
            effective_components: effective_components(&ev.pi),
        },
        ev.distances,
    ))
}

/// Indices floor(linspace(0, pool_n − 1, N)) (truncation, as NumPy's `astype(int)`).
pub fn pool_indices(pool_n: usize, n: usize) -> Vec<usize> {
    linspace(0.0, (pool_n - 1) as f64, n)
        .into_iter()
        .map(|v| v.floor() as usize)
        .collect()
}

pub(super) fn sweep(cfg: &StylizedConfig) -> Result<Vec<SweepCurve>, ConfigError> {
    let s = &cfg.sweep;
    let op = Cubic1d::default();
    let lik = GaussianLikelihood::new(op, vec![s.y], cfg.gamma)?;
    let pool = linspace(s.pool_lo, s.pool_hi, s.pool_n);
    let grid = TensorGrid::uniform(&[(s.quad_lo, s.quad_hi, s.quad_n)])?;
    let sigmas = logspace(s.sigma_lo, s.sigma_hi, s.n_sigma);
    s.n_train
        .iter()
        .map(|&n| {
            let pts: Vec<f64> = pool_indices(s.pool_n, n)
                .into_iter()
                .map(|i| pool[i])
                .collect();
            let training = TrainingSet::from_scalars(&pts)?;
            let effective = sigmas
                .iter()
                .map(|&sigma| {
                    let prior = MemorizedPrior::new(training.clone(), sigma)?;
                    Ok(effective_components(
                        &GridPosterior::compute(&grid, &prior, &lik)?.component_weights(),
                    ))
                })
                .collect::<Result<Vec<_>, ConfigError>>()?;
            let rows: Vec<Vec<f64>> = pts.iter().map(|&x| vec![x]).collect();
            Ok(SweepCurve {
                n_train: n,
                sigmas: sigmas.clone(),
                effective,
                sigma_crit: sigma_crit(&op, &rows, cfg.gamma)?,
                sigma_crit_nominal: sigma_crit_with_spacing(
                    &op,
                    &rows,
                    cfg.gamma,
                    nominal_spacing(s.pool_lo, s.pool_hi, n)?,
                )?,
            })
        })
        .collect()
}

pub(super) fn kde(cfg: &StylizedConfig, rng: &mut ChaCha8Rng) -> Result<KdeResults, ConfigError> {
    let k = &cfg.kde;
    let weights = vec![1.0; k.modes.len()];
    let truth = GaussianMixture1d::new(&weights, &k.modes, &vec![k.mode_std; k.modes.len()])?;
    let samples = truth.sample_n(rng, k.n_samples);
    let grid = linspace(k.grid_lo, k.grid_hi, k.grid_n);
    let panels = k
        .subset_sizes
        .iter()
        .zip(&k.bandwidth_factors)
        .map(|(&n, &factor)| {
            let kde = GaussianKde::with_factor(&samples[..n], factor)?;
            Ok(KdePanel {
                n,
                factor,
                bandwidth: kde.bandwidth(),
                density: grid.iter().map(|&x| kde.pdf(x)).collect(),
            })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(KdeResults {
        truth: grid.iter().map(|&x| truth.pdf(x)).collect(),
        grid,
        panels,
        empirical_points: samples[..k.empirical_n].to_vec(),
    })
}

/// Run every stylized experiment for `cfg` (validated first). Deterministic: the only random
/// stream is `ChaCha8Rng::seed_from_u64(cfg.seed)`, used first for the random 2-D training set,
/// then for the KDE samples.
pub fn run(cfg: &StylizedConfig) -> Result<StylizedResults, ConfigError> {
    cfg.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut distances = Vec::new();

    // 1-D collapse.
    let training_1d = TrainingSet::from_scalars(&cfg.one_d.training_points)?;
    let lik_1d = GaussianLikelihood::new(Cubic1d::default(), vec![cfg.one_d.y], cfg.gamma)?;
    let mut one_d = Vec::new();
    for &sigma in &cfg.sigmas {
        let (panel, d) = one_d_panel(cfg, sigma, &training_1d, &lik_1d)?;
        distances.extend(distance_rows("1d", sigma, &d));
        one_d.push(panel);
    }
    let mut slider = Vec::new();
    for sigma in logspace(cfg.slider.sigma_lo, cfg.slider.sigma_hi, cfg.slider.n_sigma) {
        let (panel, d) = one_d_panel(cfg, sigma, &training_1d, &lik_1d)?;
        distances.extend(distance_rows("1d_slider", sigma, &d));
        slider.push(panel);
    }

    // 2-D collapse on the pentagon, zoomed at the smallest σ around x_0.
    let t = &cfg.two_d;
    let pentagon: Vec<Vec<f64>> = (0..t.n_points)
        .map(|n| {
            let theta = 2.0 * std::f64::consts::PI * n as f64 / t.n_points as f64;
            vec![t.radius * theta.cos(), t.radius * theta.sin()]
        })
        .collect();
    let training_2d = TrainingSet::new(&pentagon)?;
    let op2 = Quadratic2d::default();
    let x_true = [
        t.truth_scale * pentagon[0][0],
        t.truth_scale * pentagon[0][1],
    ];
    let lik_2d = GaussianLikelihood::new(op2, op2.apply(&x_true)?, cfg.gamma)?;
    let sigma_min = cfg.sigmas.iter().copied().fold(f64::INFINITY, f64::min);
    let mut two_d = Vec::new();
    for &sigma in &cfg.sigmas {
        let zoom = (sigma == sigma_min).then_some(pentagon[0].as_slice());
        let (panel, d) = two_d_panel(cfg, sigma, &training_2d, &lik_2d, x_true, zoom)?;
        distances.extend(distance_rows("2d_pentagon", sigma, &d));
        two_d.push(panel);
    }

    // The second 2-D set: x_n = scale · N(0, I), y = F(0).
    let random_pts: Vec<Vec<f64>> = (0..t.n_points)
        .map(|_| {
            (0..2)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    t.random_scale * z
                })
                .collect()
        })
        .collect();
    let training_rand = TrainingSet::new(&random_pts)?;
    let lik_rand = GaussianLikelihood::new(op2, op2.apply(&[0.0, 0.0])?, cfg.gamma)?;
    let mut two_d_random = Vec::new();
    for &sigma in &cfg.sigmas {
        let (panel, d) = two_d_panel(cfg, sigma, &training_rand, &lik_rand, [0.0, 0.0], None)?;
        distances.extend(distance_rows("2d_random", sigma, &d));
        two_d_random.push(panel);
    }

    Ok(StylizedResults {
        one_d,
        two_d,
        two_d_random,
        sweep: sweep(cfg)?,
        kde: kde(cfg, &mut rng)?,
        slider,
        distances,
        random_training_points: random_pts.iter().map(|p| [p[0], p[1]]).collect(),
    })
}
