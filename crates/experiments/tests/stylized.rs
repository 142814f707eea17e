//! The stylized experiments at the paper's settings: snapshots pin the data behind every figure
//! (rounded to 6 significant digits), and the qualitative claims of `STYLIZED.md` are asserted.

use experiments::stylized::{Preset, StylizedConfig, StylizedResults, pool_indices, run};
use std::sync::OnceLock;

fn results() -> &'static StylizedResults {
    static RES: OnceLock<StylizedResults> = OnceLock::new();
    RES.get_or_init(|| run(&StylizedConfig::preset(Preset::Default)).expect("default preset runs"))
}

#[test]
fn snapshot_figure1_top() {
    insta::assert_yaml_snapshot!("figure1_top", results().summary_figure1_top());
}

#[test]
fn snapshot_figure1_bottom() {
    insta::assert_yaml_snapshot!("figure1_bottom", results().summary_figure1_bottom());
}

#[test]
fn snapshot_effective_components() {
    insta::assert_yaml_snapshot!(
        "effective_components",
        results().summary_effective_components()
    );
}

#[test]
fn snapshot_kde() {
    insta::assert_yaml_snapshot!("kde", results().summary_kde());
}

#[test]
fn snapshot_sigma_slider() {
    insta::assert_yaml_snapshot!("sigma_slider", results().summary_slider());
}

#[test]
fn snapshot_distances() {
    insta::assert_yaml_snapshot!("distances", results().summary_distances());
}

#[test]
fn one_d_posterior_collapses_onto_the_two_training_points_around_the_truth() {
    let res = results();
    let small = res.one_d.iter().find(|p| p.sigma == 0.05).unwrap();
    // Two spikes just inside ±0.4 (the likelihood pulls each towards x_true = 0).
    let modes: Vec<f64> = (1..small.grid.len() - 1)
        .filter(|&i| {
            small.exact[i] > small.exact[i - 1]
                && small.exact[i] >= small.exact[i + 1]
                && small.exact[i] > 0.01 * 4.0
        })
        .map(|i| small.grid[i])
        .collect();
    assert_eq!(modes.len(), 2, "modes {modes:?}");
    assert!(
        modes[0] > -0.4 && modes[0] < -0.35 && modes[1] < 0.4 && modes[1] > 0.35,
        "modes {modes:?}"
    );
    // At σ = 0.5 and 0.3 one smooth bump near 0.
    for p in res.one_d.iter().filter(|p| p.sigma > 0.1) {
        let imax = (0..p.exact.len())
            .max_by(|&a, &b| p.exact[a].total_cmp(&p.exact[b]))
            .unwrap();
        assert!(
            p.grid[imax].abs() < 0.1,
            "σ = {}: mode at {}",
            p.sigma,
            p.grid[imax]
        );
    }
    // The linearised mixture lies on the exact posterior at σ = 0.05.
    let tv = res
        .distances
        .iter()
        .find(|d| d.problem == "1d" && d.sigma == 0.05 && d.weighting == "evidence")
        .unwrap();
    assert!(tv.total_variation < 0.01, "TV {}", tv.total_variation);
}

#[test]
fn two_d_posterior_ends_on_the_training_point_not_the_truth() {
    let res = results();
    let means: Vec<[f64; 2]> = res.two_d.iter().map(|p| p.components[0].mu).collect();
    // As σ shrinks the dominant component's centre moves from near x_true = (1.4, 0) onto x_0 = (2, 0).
    let dist_to_x0: Vec<f64> = means
        .iter()
        .map(|m| ((m[0] - 2.0).powi(2) + m[1].powi(2)).sqrt())
        .collect();
    assert!(dist_to_x0.windows(2).all(|w| w[1] < w[0]), "{dist_to_x0:?}");
    assert!(dist_to_x0[2] < 0.05);
    for p in &res.two_d {
        assert!(
            p.components[0].pi_exact > 0.98,
            "σ = {}: π₀ = {}",
            p.sigma,
            p.components[0].pi_exact
        );
    }
}

#[test]
fn linearization_error_shrinks_with_sigma() {
    // The quantitative form of "the linearisation becomes exact as the bandwidth vanishes".
    let res = results();
    for w in ["evidence", "quadratic"] {
        let tv: Vec<f64> = res
            .distances
            .iter()
            .filter(|d| d.problem == "1d_slider" && d.weighting == w)
            .map(|d| d.total_variation)
            .collect();
        assert!(
            tv.windows(2).all(|p| p[0] <= p[1] * (1.0 + 1e-9)),
            "{w}: {tv:?}"
        );
        assert!(tv[0] < 1e-3 && *tv.last().unwrap() > 0.1);
    }
}

#[test]
fn effective_components_fall_to_the_lookup_count_and_rise_to_n() {
    // Small σ: the lookup regime (E2): π tends to the lookup weights w_n ∝ exp(−(F(x_n) − y)²/2γ²),
    // so exp H(π) at σ_min must be the lookup table's own effective count, computed here
    // independently of the quadrature. (That count is not "one or two" at every N: at N = 100
    // the points lie 0.06 apart and γ = 0.3 reaches about 18 of them.) Large σ: all N share the
    // mass.
    use experiments::analysis::effective_components;
    use experiments::operators::Cubic1d;
    use experiments::priors::TrainingSet;
    use experiments::samplers::{GaussianLikelihood, lookup_weights};
    let cfg = StylizedConfig::preset(Preset::Default);
    let s = &cfg.sweep;
    let lik = GaussianLikelihood::new(Cubic1d::default(), vec![s.y], cfg.gamma).unwrap();
    let step = (s.pool_hi - s.pool_lo) / (s.pool_n - 1) as f64;
    for c in &results().sweep {
        let points: Vec<f64> = pool_indices(s.pool_n, c.n_train)
            .into_iter()
            .map(|i| s.pool_lo + step * i as f64)
            .collect();
        let lookup = effective_components(
            &lookup_weights(&lik, &TrainingSet::from_scalars(&points).unwrap()).unwrap(),
        );
        let (small, large) = (c.effective[0], *c.effective.last().unwrap());
        assert!(
            // The O(σ²F′²/γ²) correction is below 0.1 % at σ = 0.01.
            (small - lookup).abs() < 2e-3 * lookup,
            "N = {}: exp H(π) = {small} at σ = {}, lookup count {lookup}",
            c.n_train,
            c.sigmas[0]
        );
        assert!(large > 0.9 * c.n_train as f64, "N = {}: {large}", c.n_train);
        assert!(c.sigma_crit > 0.01 && c.sigma_crit < 1.0);
    }
}

#[test]
fn same_config_gives_identical_numbers() {
    let cfg = StylizedConfig::preset(Preset::Quick);
    let (a, b) = (run(&cfg).unwrap(), run(&cfg).unwrap());
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn invalid_configs_name_the_setting() {
    let cases = [
        ("sigmas = [0.5, -0.1]", "sigmas[1]"),
        ("gamma = 0.0", "gamma"),
        ("[one_d]\ntraining_points = []", "one_d.training_points"),
        ("[one_d]\ngrid_lo = 1.0\ngrid_hi = 0.0", "one_d.grid_lo"),
        ("[one_d]\ngrid_n = 1", "one_d.grid_n"),
        ("[sweep]\nn_train = [0]", "sweep.n_train[0]"),
        ("[kde]\nbandwidth_factors = [0.3]", "kde.bandwidth_factors"),
        ("bogus = 1", "config"),
        ("sigmas = \"a\"", "config"),
    ];
    for (toml, field) in cases {
        let err = StylizedConfig::from_toml(toml).unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{field}`")),
            "{toml:?} -> {err}"
        );
    }
    assert!(
        Preset::parse("medium")
            .unwrap_err()
            .to_string()
            .contains("default, quick")
    );
}

#[test]
fn shipped_default_config_is_the_default_preset() {
    // The runtime manifest directory: a shared target directory may hold a binary built for
    // another checkout.
    let dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let text = std::fs::read_to_string(format!("{dir}/../../data/stylized/default.toml")).unwrap();
    assert_eq!(
        StylizedConfig::from_toml(&text).unwrap(),
        StylizedConfig::preset(Preset::Default)
    );
}
