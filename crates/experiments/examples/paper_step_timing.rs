//! Timed subset for extrapolating the `paper` preset of `memprior fwi`: the per-step costs of
//! one DPS sample at the paper's scale — the Helmholtz misfit gradient on the 200² grid (15
//! sources, 196 receivers) and the paper network (W = 2048, L = 12) at batch 1, forward and
//! vector–Jacobian product (the weights' values do not change the cost, so an untrained network
//! is timed). Run: `cargo run -p experiments --features learned --example paper_step_timing` (the dev profile the
//! command line is built with; dependencies are optimised).

use experiments::fwi::add_noise;
use experiments::fwi::dps::DpsConfig;
use experiments::learned::{HostParams, LearnedDenoiser, Preset, Recipe};
use experiments::memprior_core::JacobianAction;
use experiments::memprior_core::diffusion::{
    Batch, Denoiser, DifferentiableDenoiser, NoiseSchedule,
};
use experiments::operators::helmholtz::Helmholtz;
use experiments::operators::reparam::Affine;
use experiments::priors::KlBasis;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let cfg = DpsConfig::preset(Preset::Paper);
    let kl = KlBasis::default();
    let g = cfg.geometry.clone();
    let op = Helmholtz::new(g.clone()).unwrap();
    let z: Vec<f64> = (0..kl.dim())
        .map(|k| 0.3 * ((k as f64) * 0.7).sin())
        .collect();
    let m = kl.reconstruct(&z, g.nx, g.nz).unwrap();
    let (data, sigma_d) = add_noise(&op.forward(&m).unwrap(), cfg.noise_rel, 1).unwrap();
    // m̄ + G z, then the simulator: Φ and ∇_z Φ from one factorisation.
    let misfit = Affine::new(&op, kl.on_grid(g.nx, g.nz)).unwrap();
    let y = Helmholtz::data_to_real(&data);
    let grad: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let _ = misfit.misfit_gradient_gaussian(&z, &y, sigma_d).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let recipe = Recipe::preset(Preset::Paper, kl.dim());
    let den = LearnedDenoiser::new(&HostParams::init(recipe.network, 1), NoiseSchedule::paper());
    let x = Batch::new(kl.dim(), z.clone()).unwrap();
    let fwd: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let _ = den.x0(&x, 100);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let vjp: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let _ = den.x0_vjp(&x, 100, &x);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let (g_s, f_s, v_s) = (median(grad), median(fwd), median(vjp));
    // The reference: one raw-coefficient Jacobian (196 adjoint solves, 2940 KL-projected rows).
    let t0 = Instant::now();
    let _ = experiments::fwi::posterior::linearize(&op, &kl, std::slice::from_ref(&z), 1).unwrap();
    let lin_s = t0.elapsed().as_secs_f64();
    println!(
        "KL Jacobian at one model, paper grid: {lin_s:.2} s (1000 training models: {:.1} h on 2 cores)",
        1000.0 * lin_s / 2.0 / 3600.0
    );
    println!("misfit gradient, paper grid: {g_s:.3} s");
    println!("paper network x0, batch 1: {f_s:.4} s; x0 VJP: {v_s:.4} s");
    let t = NoiseSchedule::paper().steps() as f64;
    // Paper variant: two denoiser calls and one gradient per step; Chung: x0, VJP, the step's own
    // denoiser call and one gradient.
    let paper_learned = t * (2.0 * f_s + g_s);
    let paper_closed = t * g_s;
    let chung_learned = t * (2.0 * f_s + v_s + g_s);
    println!(
        "per sample: paper variant {paper_learned:.0} s (learned), {paper_closed:.0} s (closed-form priors); chung (learned) {chung_learned:.0} s"
    );
    let ns = cfg.prior.n_values.len() as f64;
    let controls = cfg.samples_controls.unwrap_or(cfg.samples) as f64;
    let total = ns
        * ((cfg.samples as f64) * paper_learned
            + controls * 2.0 * paper_closed
            + (cfg.samples_chung as f64) * (chung_learned + 2.0 * t * g_s));
    println!(
        "paper preset sampling: {:.1} core-hours ({} N × (learned {} + 2 controls × {} paper-variant samples, 3 priors × {} Chung)); {:.1} h on 2 cores",
        total / 3600.0,
        ns,
        cfg.samples,
        controls,
        cfg.samples_chung,
        total / 2.0 / 3600.0
    );
}
