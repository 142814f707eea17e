use experiments::fwi::prior::{PriorConfig, run};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mut c = PriorConfig::preset(&a[1]).unwrap();
    c.recipe.network.width = a[2].parse().unwrap();
    c.recipe.network.blocks = a[3].parse().unwrap();
    c.recipe.training.steps = a[4].parse().unwrap();
    c.recipe.training.lr_max = a[5].parse().unwrap();
    c.n_values = a[6].split(',').map(|s| s.parse().unwrap()).collect();
    c.samples = 64;
    let root = std::path::PathBuf::from("/tmp/diag-cache");
    let r = run(&c, &root, &|s| eprintln!("{s}")).unwrap();
    for p in &r.per_n {
        let s = analysis::memorization::MemorizationSummary::of(&p.null);
        let l = analysis::memorization::MemorizationSummary::of(&p.loo);
        eprintln!("N={} null mean r {:.3} fr {:?} | loo mean {:.3} fr {:?} | train {:.1}s ({:.0} steps/s)", p.n, s.mean_r, s.fractions, l.mean_r, l.fractions, p.train_seconds, p.steps_trained as f64 / p.train_seconds);
    }
}
