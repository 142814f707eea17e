//! The diffusion-prior experiment at the quick preset: the memorization table is pinned, the
//! closed-form memorized denoiser lands on training points, the null and leave-one-out rows are
//! the controls the paper's τ = 0.7 needs, and bad settings are named.

use experiments::fwi::prior::{PriorConfig, PriorKind, run};
use experiments::learned::Preset;
use experiments::stylized::summary::round_sig;

#[test]
fn quick_memorization_table() {
    let config = PriorConfig::preset(Preset::Quick);
    let cache = std::env::temp_dir().join(format!("memprior-prior-test-{}", std::process::id()));
    let run1 = run(&config, &cache, &|_| {}).unwrap();
    // Same config, weights now from the cache: identical numbers.
    let run2 = run(&config, &cache, &|_| {}).unwrap();
    assert!(run2.per_n.iter().all(|p| p.cached));
    assert_eq!(run1.table(), run2.table());
    std::fs::remove_dir_all(&cache).unwrap();

    // The results directory reads back into the run that wrote it, without training or sampling.
    let dir = std::env::temp_dir().join(format!("memprior-prior-io-{}", std::process::id()));
    experiments::fwi::prior_io::write(&run1, &dir).unwrap();
    std::fs::write(dir.join("config.toml"), toml::to_string(&config).unwrap()).unwrap();
    let back = experiments::fwi::prior_io::load(&dir).unwrap();
    assert_eq!(back.table(), run1.table());
    for (a, b) in back.per_n.iter().zip(&run1.per_n) {
        assert_eq!(a.n, b.n);
        assert_eq!(a.null, b.null);
        assert_eq!(a.loo, b.loo);
        assert_eq!(a.history, b.history);
        assert_eq!(a.validation, b.validation);
        assert_eq!(
            (a.cached, a.steps_trained, a.train_seconds.to_bits()),
            (b.cached, b.steps_trained, b.train_seconds.to_bits())
        );
        for (x, y) in a.priors.iter().zip(&b.priors) {
            assert_eq!(
                (x.kind, &x.samples, &x.neighbours),
                (y.kind, &y.samples, &y.neighbours)
            );
        }
    }
    // Another layout version is refused with what to do.
    let run_json = dir.join("run.json");
    let text = std::fs::read_to_string(&run_json).unwrap();
    std::fs::write(&run_json, text.replace("results v1", "results v0")).unwrap();
    let e = experiments::fwi::prior_io::load(&dir)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("v0") && e.contains("run the prior experiment again"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    for p in &run1.per_n {
        let mem = p
            .priors
            .iter()
            .find(|s| s.kind == PriorKind::Memorized)
            .unwrap();
        // DDIM with the empirical-optimal denoiser ends on training points.
        assert!(
            mem.summary.mean_r < 1e-3,
            "N = {}: memorized mean r {}",
            p.n,
            mem.summary.mean_r
        );
        // The null is far from memorized: no fresh draw has r ≤ 0.3.
        let null = analysis_summary(&p.null);
        assert_eq!(null.0, 0.0, "N = {}", p.n);
    }
    let rows: Vec<String> = run1
        .table()
        .iter()
        .map(|r| {
            format!(
                "{:>14} N={:<3} n={:<3} mean_r={} fr={}/{}/{} unique_nn={}",
                r.source,
                r.n_train,
                r.count,
                if r.mean_r < 1e-6 {
                    "<1e-6".to_string()
                } else {
                    round_sig(r.mean_r, 3).to_string()
                },
                r.fractions[0],
                r.fractions[1],
                r.fractions[2],
                r.unique_nn
            )
        })
        .collect();
    insta::assert_yaml_snapshot!("memorization_quick", rows);
}

fn analysis_summary(n: &[experiments::analysis::memorization::Neighbours]) -> (f64, f64) {
    let s = experiments::analysis::memorization::MemorizationSummary::of(n);
    (s.fractions[0], s.mean_r)
}

#[test]
fn invalid_settings_are_named() {
    let mut c = PriorConfig::preset(Preset::Quick);
    c.n_values = vec![2];
    assert_eq!(c.validate().unwrap_err().field, "n_values");
    let mut c = PriorConfig::preset(Preset::Quick);
    c.n_values = vec![20, 50, 20];
    let e = c.validate().unwrap_err();
    assert!(
        e.field == "n_values" && e.requirement.contains("twice"),
        "{e}"
    );
    let mut c = PriorConfig::preset(Preset::Quick);
    c.samples = 0;
    assert_eq!(c.validate().unwrap_err().field, "samples");
    assert_eq!(Preset::parse("huge").unwrap_err().field, "preset");
    assert_eq!(PriorKind::parse("vae").unwrap_err().field, "denoiser");
}
