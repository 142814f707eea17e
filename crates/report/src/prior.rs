//! Report section of the diffusion priors: the memorization table with its null and
//! leave-one-out controls, Figure 3 (left) and the r histograms, and the training curves.

use crate::page::{Figure, FigureProvenance, NotebookRef, Table};
use anyhow::Result;
use experiments::fwi::figures;
use experiments::fwi::prior::{PriorKind, PriorRun};
use experiments::operators::helmholtz::{Geometry, GeometryPreset};
use std::fmt::Write as _;
use std::path::Path;

/// What the section needs from the run besides HTML: its wall time split.
pub struct PriorSection {
    /// The HTML.
    pub html: String,
    /// (stage, seconds) for the provenance.
    pub timings: Vec<(String, f64)>,
    /// Seeds for the provenance.
    pub seeds: Vec<(String, u64)>,
}

fn table(run: &PriorRun) -> Table {
    let header = [
        "N",
        "source",
        "points",
        "mean r",
        "r ≤ 0.3",
        "r ≤ 0.5",
        "r ≤ 0.7",
        "distinct nearest neighbours",
    ];
    Table {
        header: header.iter().map(ToString::to_string).collect(),
        rows: run
            .table()
            .iter()
            .map(|r| {
                vec![
                    r.n_train.to_string(),
                    r.source.to_string(),
                    r.count.to_string(),
                    format!("{:.3}", r.mean_r),
                    format!("{:.2}", r.fractions[0]),
                    format!("{:.2}", r.fractions[1]),
                    format!("{:.2}", r.fractions[2]),
                    r.unique_nn.to_string(),
                ]
            })
            .collect(),
    }
}

/// The recipe frontier measured with `tools/recipe_frontier.sh` (committed with the code).
const FRONTIER_CSV: &str = include_str!("../../../data/prior/recipe_frontier.csv");

/// The frontier as a table, one row per recipe.
fn frontier() -> Table {
    let mut lines = FRONTIER_CSV.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let names = [
        ("width", "W"),
        ("blocks", "L"),
        ("steps", "steps"),
        ("lr_max", "lr"),
        ("ema_decay", "EMA"),
        ("best_r_1", "best r"),
        ("best_r_2", "2nd"),
        ("best_r_3", "3rd"),
        ("median_r", "median r"),
        ("frac_r_le_0_3", "r ≤ 0.3"),
        ("null_frac_r_le_0_3", "null r ≤ 0.3"),
        ("train_seconds", "training s"),
    ];
    Table {
        header: names.iter().map(|(_, label)| label.to_string()).collect(),
        rows: lines
            .map(|line| {
                let cells: Vec<&str> = line.split(',').collect();
                names
                    .iter()
                    .map(|(name, _)| {
                        col(name)
                            .and_then(|i| cells.get(i))
                            .copied()
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect()
            })
            .collect(),
    }
}

/// Render the prior section from the results directory `dir` (as `memprior prior memorization
/// --out dir` writes it), without training or sampling.
///
/// # Errors
/// A results directory that does not read back.
pub fn section(root: &Path, notebooks: &[String], dir: &Path) -> Result<PriorSection> {
    let run = experiments::fwi::prior_io::load(dir)?;
    let config = run.config.clone();
    let preset = config.preset.clone();
    crate::copy_tree(dir, &root.join("data/prior"), &[])?;
    memprior_core::atomic::write(
        &root.join("data/prior/recipe_frontier.csv"),
        FRONTIER_CSV.as_bytes(),
    )?;

    let g = Geometry::preset(GeometryPreset::Small);
    let kl = &run.datasets.kl;
    let n0 = config.n_values[0];
    let mut pairs = String::new();
    let mut shown_r: Vec<f64> = Vec::new();
    if let Some(s) = run.samples(PriorKind::Learned, n0) {
        for (rank, i) in run
            .most_memorized(PriorKind::Learned, n0, 3)
            .into_iter()
            .enumerate()
        {
            let nb = s.neighbours[i];
            shown_r.push(nb.r);
            pairs.push_str(&crate::sample_beside_nearest(
                kl,
                &g,
                (&s.samples[i], &format!("sample {i}: r = {:.3}", nb.r)),
                (&run.datasets.train[nb.nearest], nb.nearest),
                ("plot-prior", rank),
            )?);
        }
    }
    let mut hists = String::new();
    for p in &run.per_n {
        let mut sets: Vec<(&str, Vec<f64>)> = p
            .priors
            .iter()
            .map(|s| (s.kind.name(), s.neighbours.iter().map(|x| x.r).collect()))
            .collect();
        sets.push((
            "null (held-out prior draws)",
            p.null.iter().map(|x| x.r).collect(),
        ));
        sets.push((
            "leave-one-out (training points)",
            p.loo.iter().map(|x| x.r).collect(),
        ));
        let plot = figures::ratio_histograms(&sets, &format!("Memorization ratio, N = {}", p.n));
        hists.push_str(&plot.to_inline_html(Some(&format!("plot-prior-r-hist-{}", p.n))));
    }
    let curves: Vec<(usize, Vec<f32>)> = run
        .per_n
        .iter()
        .map(|p| (p.n, p.history.iter().map(|h| h.loss).collect()))
        .collect();
    let window = (config.recipe.training.steps / 100).max(1);
    let validation: Vec<(usize, Vec<(usize, f32)>)> = run
        .per_n
        .iter()
        .map(|p| (p.n, p.validation.iter().map(|v| (v.step, v.loss)).collect()))
        .collect();
    let curve_plot = figures::training_and_validation_curves(
        &curves,
        &validation,
        window,
        "Denoising loss of the ε-network: training batches and held-out draws",
    );

    let nb = NotebookRef::new("06_diffusion_prior", notebooks);
    let nb_html = if nb.executed {
        "<a href=\"notebooks/06_diffusion_prior.html\">06_diffusion_prior</a>"
    } else {
        "06_diffusion_prior (not executed in this build)"
    };
    let net = config.recipe.network;
    let tr = config.recipe.training;
    let mut timings = Vec::new();
    let mut train_note = String::new();
    for p in &run.per_n {
        if p.cached {
            let _ = write!(train_note, "N = {}: weights from the cache; ", p.n);
        } else {
            let _ = write!(
                train_note,
                "N = {}: {} steps in {:.0} s ({:.1} steps/s); ",
                p.n,
                p.steps_trained,
                p.train_seconds,
                p.steps_trained as f64 / p.train_seconds
            );
            timings.push((format!("train ε-network, N = {}", p.n), p.train_seconds));
        }
    }
    let shown = shown_r
        .iter()
        .map(|r| format!("{r:.3}"))
        .collect::<Vec<_>>()
        .join(", ");
    let data = |files: &[&str]| -> Vec<String> {
        files.iter().map(|f| format!("data/prior/{f}")).collect()
    };
    let fig3 = Figure {
        id: "fig3-left".into(),
        title: format!("Figure 3 (left): the most memorized unconditional samples, N = {n0}"),
        plots: pairs,
        caption: format!(
            "The three learned-prior samples with the smallest r and distinct nearest training models (left of each \
             pair; a sample on an already shown model is skipped, as in the authors' panel) beside those models (right), \
             as velocity on the small grid. Measured here: r = {shown}. The paper's network (W = 2048, L = 12, 50,000 \
             steps) reaches r ≈ 0.01; this CPU recipe (W = {}, L = {}, {} steps) is compared with it in the table: the \
             closed-form memorized denoiser gives r ≈ 0 and the null's r is what chance gives.",
            net.width, net.blocks, tr.steps
        ),
        provenance: FigureProvenance {
            commands: vec![format!(
                "memprior prior memorization --preset {preset} --out DIR"
            )],
            notebook: Some(nb),
            seeds: vec![
                ("sampling".into(), config.seed),
                ("network".into(), tr.seed),
                ("training fields".into(), config.datasets.seed_train),
                ("null".into(), config.datasets.seed_null),
            ],
            snapshot: Some(
                "crates/experiments/tests/snapshots/prior__memorization_quick.snap (quick preset)"
                    .into(),
            ),
            data: data(&[
                "memorization.csv",
                "ratios.csv",
                "training_curves.csv",
                "config.toml",
            ]),
            ..Default::default()
        },
    };
    let hist_fig = Figure {
        id: "prior-r-histograms".into(),
        title: "Memorization ratio against the null, per N".into(),
        plots: hists,
        caption: format!(
            "Distribution of r for {} DDIM samples of each prior, the null and leave-one-out. At N = 50 the null \
             itself sits mostly below the paper's τ = 0.7, so a rate is only evidence of memorization where it departs \
             from the null.",
            config.samples
        ),
        provenance: FigureProvenance {
            data: data(&["ratios.csv"]),
            ..Default::default()
        },
    };
    let training_fig = Figure {
        id: "prior-training".into(),
        title: "Training curves".into(),
        plots: curve_plot.to_inline_html(Some("plot-prior-training")),
        caption: format!(
            "Denoising loss (mean over windows of {window} steps) on the training batches, and on the {} held-out \
             null draws with 4 fixed (t, ε) each (dashed, the current weights every 1 % of the run): a validation loss \
             that stops falling while the training loss goes on is the network fitting its N points rather than their \
             prior. Adam, cosine learning rate {:.0e} → {:.0e}, batch {}, global-norm clip {}, EMA {} (used for \
             sampling). {train_note}",
            run.datasets.null.len(),
            tr.lr_max,
            tr.lr_min,
            tr.batch,
            tr.clip_norm,
            tr.ema_decay,
        ),
        provenance: FigureProvenance {
            data: data(&["training_curves.csv"]),
            ..Default::default()
        },
    };
    let frontier_fig = Figure {
        id: "prior-frontier".into(),
        title: "The recipe frontier at N = 50".into(),
        plots: frontier().render()?,
        caption: "How the CPU recipe was chosen: the learned prior trained at N = 50 with each width W, depth L, \
             step count, initial learning rate and EMA decay, then 100 unconditional DDIM samples measured as in Figure 3 \
             (best r: the three most memorized with distinct nearest training models). The targets were best three r ≤ 0.02 \
             and at least half the samples below 0.3, where the null has none, within 10 minutes of training per N on one \
             core. Training seconds as measured, on a machine shared with other jobs."
            .into(),
        provenance: FigureProvenance {
            commands: vec!["tools/recipe_frontier.sh".into()],
            data: vec!["data/prior/recipe_frontier.csv".into()],
            ..Default::default()
        },
    };
    let html = format!(
        "<h2 id=\"prior\">Diffusion priors on KL coefficients and memorization</h2>\
         <p>A diffusion model trained on N velocity models (their 100 KL coefficients, z-scored) against two controls that \
         need no training: the closed-form empirical-optimal denoiser, the limit a network reaches when it memorizes \
         (eq:empirical-denoiser), and the exact denoiser of a Gaussian with the training mean and covariance, which cannot \
         memorize (for N ≤ 100 its samples still lie in the affine span of the training points). Unconditional samples by \
         deterministic DDIM over all T = 200 levels from $\\mathcal N(0, I)$, as in the paper; since $\\bar\\alpha_{{T-1}} \\approx 0.132$ \
         that is not the exact marginal at the first level, which shrinks the Gaussian control's spread along its leading \
         directions. \
         Memorization ratio $r = d_1 / \\mathrm{{mean}}(d_2, \\dots, d_k)$, $k = \\min(50, N)$, in raw KL coefficients \
         (eq:memorization-ratio), next to the same ratio for {} held-out draws of the data-generating prior (the null) \
         and for each training point against the others (leave-one-out). Derived in {nb_html}.</p>\
         {}{}<div id=\"prior-table\">{}</div>{}{}",
        run.datasets.null.len(),
        fig3.render()?,
        hist_fig.render()?,
        table(&run).render()?,
        training_fig.render()?,
        frontier_fig.render()?,
    );
    Ok(PriorSection {
        html,
        timings,
        seeds: vec![
            ("prior.sampling_seed".into(), config.seed),
            ("prior.network_seed".into(), tr.seed),
        ],
    })
}
