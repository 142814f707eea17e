//! The memorization experiment: train (or load) every network, sample every prior at every N, and
//! the controls.

use super::*;

/// DDIM samples of `denoiser` from N(0, I) in z̃, returned in raw z.
pub fn sample_raw<D: Denoiser + ?Sized>(
    denoiser: &D,
    zscore: &ZScore,
    count: usize,
    seed: u64,
) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start: Batch = standard_normal(count, denoiser.dim(), &mut rng);
    let out = reverse(denoiser, &DdimStep, start, &mut rng, &mut ());
    out.rows().map(|r| zscore.denormalize(r)).collect()
}

/// Train (or load) the network of every N, at most `available_parallelism` at a time (each
/// training run is single-threaded and independent, so the weights do not depend on the order).
pub fn train_all(
    config: &PriorConfig,
    sets: &FwiDatasets,
    cache_root: &Path,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Vec<learned::Trained>, PriorError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let steps = config.recipe.training.steps;
    let every = (steps / 10).max(1);
    let mut out: Vec<Option<Result<learned::Trained, PriorError>>> =
        (0..config.n_values.len()).map(|_| None).collect();
    for chunk in (0..config.n_values.len())
        .collect::<Vec<_>>()
        .chunks(workers)
    {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let n = config.n_values[i];
                    scope.spawn(move || {
                        let clock = Instant::now();
                        let mut first: Option<usize> = None;
                        let mut progress = |k: usize, rec: &StepRecord| {
                            // ETA from the steps done in this call (a resumed run starts late).
                            let k0 = *first.get_or_insert(k - 1);
                            if k.is_multiple_of(every) {
                                let el = clock.elapsed().as_secs_f64();
                                log(&crate::progress::line(
                                    &format!("train N = {n}"),
                                    k,
                                    steps,
                                    &format!(
                                        "loss {:.4} ({el:.0} s, ETA {:.0} s)",
                                        rec.loss,
                                        el / (k - k0) as f64 * (steps - k) as f64
                                    ),
                                ));
                            }
                        };
                        train_network(config, sets, n, cache_root, &mut progress)
                    })
                })
                .collect();
            for (&i, h) in chunk.iter().zip(handles) {
                out[i] = Some(h.join().expect("training thread panicked"));
            }
        });
    }
    out.into_iter()
        .map(|r| r.expect("every N trained"))
        .collect()
}

/// Run the experiment; `cache_root` holds the trained weights, `log` receives progress lines.
///
/// # Errors
/// Invalid settings or a failed training run.
pub fn run(
    config: &PriorConfig,
    cache_root: &Path,
    log: &(dyn Fn(&str) + Sync),
) -> Result<PriorRun, PriorError> {
    config.validate()?;
    let sets = FwiDatasets::generate(&config.datasets, &KlBasis::default())?;
    let schedule = NoiseSchedule::paper();
    let trained_all = train_all(config, &sets, cache_root, log)?;
    let mut per_n = Vec::new();
    for (&n, trained) in config.n_values.iter().zip(trained_all) {
        let raw = sets.training_set(n)?.to_vec();
        let (zs, rows) = normalized_training(&sets, n)?;
        if trained.cached {
            log(&format!(
                "N = {n}: weights from the cache (mlp-{})",
                &trained.key[..16]
            ));
        }
        let mut priors = Vec::new();
        for &kind in PriorKind::ALL {
            let clock = Instant::now();
            let seed = sampling_seed(config.seed, kind, n);
            let samples = match kind {
                PriorKind::Learned => {
                    let den = LearnedDenoiser::new(&trained.ema, schedule.clone());
                    sample_raw(&den, &zs, config.samples, seed)
                }
                PriorKind::Memorized => {
                    let den = MemorizedDenoiser::new(TrainingSet::new(&rows)?, schedule.clone());
                    sample_raw(&den, &zs, config.samples, seed)
                }
                PriorKind::Gaussian => {
                    let den = GaussianDenoiser::fit(&TrainingSet::new(&rows)?, schedule.clone())?;
                    sample_raw(&den, &zs, config.samples, seed)
                }
            };
            let neighbours = ratios(&samples, &raw)?;
            let summary = MemorizationSummary::of(&neighbours);
            let seconds = clock.elapsed().as_secs_f64();
            log(&format!(
                "N = {n}, {}: mean r {:.3}, r ≤ 0.3 / 0.5 / 0.7: {:.2} / {:.2} / {:.2} ({seconds:.1} s)",
                kind.name(),
                summary.mean_r,
                summary.fractions[0],
                summary.fractions[1],
                summary.fractions[2]
            ));
            priors.push(PriorSamples {
                kind,
                samples,
                neighbours,
                summary,
                seconds,
            });
        }
        per_n.push(PerN {
            n,
            zscore: zs,
            null: ratios(&sets.null, &raw)?,
            loo: leave_one_out(&raw)?,
            priors,
            history: trained.history,
            validation: trained.validation,
            cached: trained.cached,
            train_seconds: trained.seconds,
            steps_trained: trained.steps_trained,
        });
    }
    Ok(PriorRun {
        config: config.clone(),
        datasets: sets,
        per_n,
    })
}

/// One row of the memorization table: a prior's samples, the null or the training points
/// themselves (leave-one-out), at one N.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorizationRow {
    /// `learned`, `memorized`, `gaussian`, `null` or `leave_one_out`.
    pub source: String,
    /// Training-set size.
    pub n_train: usize,
    /// Points measured.
    pub count: usize,
    /// Mean r.
    pub mean_r: f64,
    /// Fractions with r ≤ 0.3, 0.5, 0.7.
    pub fractions: [f64; 3],
    /// Distinct nearest training points.
    pub unique_nn: usize,
}

impl PriorRun {
    /// The memorization table: per N, each prior, then the null and leave-one-out rows.
    pub fn table(&self) -> Vec<MemorizationRow> {
        let row = |source: &str, n: usize, s: MemorizationSummary| MemorizationRow {
            source: source.to_string(),
            n_train: n,
            count: s.count,
            mean_r: s.mean_r,
            fractions: s.fractions,
            unique_nn: s.unique_nn,
        };
        let mut rows = Vec::new();
        for p in &self.per_n {
            for s in &p.priors {
                rows.push(row(s.kind.name(), p.n, s.summary.clone()));
            }
            rows.push(row("null", p.n, MemorizationSummary::of(&p.null)));
            rows.push(row("leave_one_out", p.n, MemorizationSummary::of(&p.loo)));
        }
        rows
    }

    /// The samples of `kind` at N = n.
    pub fn samples(&self, kind: PriorKind, n: usize) -> Option<&PriorSamples> {
        self.per_n
            .iter()
            .find(|p| p.n == n)
            .and_then(|p| p.priors.iter().find(|s| s.kind == kind))
    }

    /// Indices of the `count` most memorized samples (smallest r) of `kind` at N = n, each on a
    /// different nearest training model.
    pub fn most_memorized(&self, kind: PriorKind, n: usize, count: usize) -> Vec<usize> {
        let Some(s) = self.samples(kind, n) else {
            return Vec::new();
        };
        analysis::memorization::most_memorized_distinct(&s.neighbours, count)
    }
}
