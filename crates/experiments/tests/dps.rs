//! The FWI posterior-sampling experiment at the quick preset: Table 1 and the figure data are
//! pinned, sharded runs merge to exactly the single run, a resumed run redraws nothing it had,
//! the references are consistent, and bad settings are named.

use experiments::fwi::dps::{self, DpsConfig, Selection, Variant, merge, run, shard};
use experiments::fwi::prior::PriorKind;
use experiments::learned::Preset;
use experiments::stylized::summary::round_sig;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memprior-dps-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Quick preset without the network (no training): the tests of the job machinery.
fn closed_form_quick() -> DpsConfig {
    let mut c = DpsConfig::preset(Preset::Quick);
    c.priors = vec![PriorKind::Memorized, PriorKind::Gaussian];
    c.samples = 3;
    c.samples_chung = 2;
    c
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for g in std::fs::read_dir(dir.join("samples")).unwrap().flatten() {
        if g.path().is_dir() {
            for f in std::fs::read_dir(g.path()).unwrap().flatten() {
                let name = format!(
                    "{}/{}",
                    g.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                );
                out.push((name, std::fs::read(f.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sharded_runs_merge_to_the_single_run_and_resume_skips_finished_samples() {
    let c = closed_form_quick();
    let cache = tmp("cache");
    let (single_dir, sharded_dir) = (tmp("single"), tmp("sharded"));
    let (single, stats) = run(&c, &single_dir, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    let single = single.unwrap();
    assert_eq!(stats.drawn, c.jobs().len());
    // Three shards on one thread each, in reverse order; then the merge step.
    for i in [3, 1, 2] {
        let (r, _) = run(
            &c,
            &sharded_dir,
            Selection {
                shard: Some((i, 3)),
                n: None,
            },
            &cache,
            1,
            &|_| {},
        )
        .unwrap();
        assert!(r.is_none(), "a shard writes samples only");
    }
    let merged = merge(&c, &sharded_dir, 2, &|_| {}).unwrap();
    assert_eq!(
        files(&single_dir),
        files(&sharded_dir),
        "sample files differ byte for byte"
    );
    assert_eq!(single.table(), merged.table());
    for (a, b) in single.groups.iter().zip(&merged.groups) {
        assert_eq!(a.samples, b.samples);
        assert_eq!(a.mean_trace, b.mean_trace);
        assert_eq!(a.calibration_kl, b.calibration_kl);
    }
    // Resume: delete two samples, rerun — only those two are drawn, and they come back identical.
    let jobs = c.jobs();
    let before = files(&single_dir);
    for j in [&jobs[1], &jobs[jobs.len() - 1]] {
        std::fs::remove_file(j.path(&single_dir)).unwrap();
    }
    let (again, stats) = run(&c, &single_dir, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    assert_eq!(stats.drawn, 2);
    assert_eq!(files(&single_dir), before);
    assert_eq!(again.unwrap().table(), single.table());
    // Another configuration may not write into these samples.
    let mut other = c.clone();
    other.zeta = 0.05;
    let e = run(&other, &single_dir, Selection::ALL, &cache, 2, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("different configuration"), "{e}");
    assert_eq!(
        files(&single_dir),
        before,
        "a refused run changed the samples"
    );
    // Samples whose fingerprint is gone are not adopted by whatever configuration comes next.
    let fp = single_dir.join("samples/run.toml");
    let kept = std::fs::read(&fp).unwrap();
    std::fs::remove_file(&fp).unwrap();
    let e = run(&other, &single_dir, Selection::ALL, &cache, 2, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("no samples/run.toml"), "{e}");
    assert_eq!(files(&single_dir), before);
    std::fs::write(&fp, b"not toml").unwrap();
    let e = run(&c, &single_dir, Selection::ALL, &cache, 2, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("unreadable"), "{e}");
    std::fs::write(&fp, kept).unwrap();
    // A merge with missing shards says what to run.
    let partial = tmp("partial");
    run(
        &c,
        &partial,
        Selection {
            shard: Some((1, 2)),
            n: None,
        },
        &cache,
        1,
        &|_| {},
    )
    .unwrap();
    let e = merge(&c, &partial, 1, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("missing") && e.contains("shards"), "{e}");
    for d in [cache, single_dir, sharded_dir, partial] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn selections_by_n_partition_the_jobs_and_refuse_unknown_sizes() {
    let c = DpsConfig::preset(Preset::Default);
    let mut seen = Vec::new();
    for &n in &c.prior.n_values {
        let sel = Selection {
            shard: None,
            n: Some(n),
        };
        let jobs = sel.jobs(&c).unwrap();
        assert!(!jobs.is_empty() && jobs.iter().all(|j| j.n == n));
        // Shards of one N split its jobs without loss.
        let mut halves: Vec<_> = [1, 2]
            .into_iter()
            .flat_map(|i| {
                Selection {
                    shard: Some((i, 2)),
                    n: Some(n),
                }
                .jobs(&c)
                .unwrap()
            })
            .collect();
        halves.sort_by_key(|j| c.jobs().iter().position(|k| k == j));
        assert_eq!(halves, jobs);
        seen.extend(jobs);
    }
    assert_eq!(
        seen,
        c.jobs(),
        "the per-N selections must cover every job once, in order"
    );
    let e = Selection {
        shard: None,
        n: Some(7),
    }
    .jobs(&c)
    .unwrap_err()
    .to_string();
    assert!(e.contains("training-set sizes"), "{e}");
}

#[test]
fn a_bundle_reads_back_into_the_run_that_wrote_it_and_refuses_other_formats() {
    use experiments::fwi::bundle;
    let c = closed_form_quick();
    let (cache, out) = (tmp("cache-bundle"), tmp("bundle"));
    let (r, _) = run(&c, &out, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    let r = r.unwrap();
    std::fs::write(out.join("config.toml"), toml::to_string(&c).unwrap()).unwrap();
    std::fs::write(out.join(bundle::REFERENCES), bundle::references_json(&r)).unwrap();
    let back = bundle::load(&out).unwrap();
    assert_eq!(back.table(), r.table());
    assert_eq!(back.truth_misfit.to_bits(), r.truth_misfit.to_bits());
    assert_eq!(back.sigma_d.to_bits(), r.sigma_d.to_bits());
    assert_eq!(back.levels, r.levels);
    for (a, b) in back.groups.iter().zip(&r.groups) {
        assert_eq!(a.samples, b.samples);
        assert_eq!(a.mean_trace, b.mean_trace);
        assert_eq!(a.velocity_mean, b.velocity_mean);
        assert_eq!(a.calibration_kl, b.calibration_kl);
        assert_eq!(a.calibration_velocity, b.calibration_velocity);
    }
    assert_eq!(back.references.len(), r.references.len());
    for (a, b) in back.references.iter().zip(&r.references) {
        assert_eq!(
            (a.n, &a.misfits, &a.lookup, &a.null),
            (b.n, &b.misfits, &b.lookup, &b.null)
        );
        assert_eq!(a.linearized, b.linearized);
    }
    // Samples of another sampler version: the message says what to rerun.
    let run_toml = out.join("samples/run.toml");
    let text = std::fs::read_to_string(&run_toml).unwrap();
    std::fs::write(
        &run_toml,
        text.replace(dps::SAMPLE_FORMAT, "memprior-dps samples v0"),
    )
    .unwrap();
    let e = bundle::load(&out).unwrap_err().to_string();
    assert!(e.contains("v0") && e.contains("Rerun"), "{e}");
    std::fs::write(&run_toml, text).unwrap();
    // References of other N than the configuration's.
    let mut other = c.clone();
    other.prior.n_values.pop();
    std::fs::write(out.join("config.toml"), toml::to_string(&other).unwrap()).unwrap();
    let e = bundle::load(&out).unwrap_err().to_string();
    assert!(e.contains("references for N"), "{e}");
    for d in [cache, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn shards_partition_the_jobs() {
    let c = DpsConfig::preset(Preset::Default);
    let jobs = c.jobs();
    let mut seen: Vec<_> = (1..=7).flat_map(|i| shard(&jobs, i, 7).unwrap()).collect();
    assert_eq!(seen.len(), jobs.len());
    seen.sort_by_key(|j| jobs.iter().position(|k| k == j).unwrap());
    assert_eq!(seen, jobs);
    // Seeds are distinct per job.
    let mut seeds: Vec<u64> = jobs.iter().map(|j| j.seed(c.seed)).collect();
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), jobs.len());
    for (i, n) in [(0, 3), (4, 3), (1, 0)] {
        assert_eq!(shard(&jobs, i, n).unwrap_err().field, "shard");
    }
}

#[test]
fn quick_table_and_references() {
    let c = DpsConfig::preset(Preset::Quick);
    let cache = tmp("cache-quick");
    let out = tmp("quick");
    let (r, _) = run(&c, &out, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    let r = r.unwrap();
    for rf in &r.references {
        let s: f64 = rf.lookup.iter().sum();
        assert!((s - 1.0).abs() < 1e-12);
        // The lookup weights are the softmax of −Φ_n: the ratio of two is exp(Φ_b − Φ_a).
        let best = rf
            .lookup
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        let min_phi = rf.misfits.iter().cloned().fold(f64::INFINITY, f64::min);
        assert_eq!(rf.misfits[best], min_phi);
        for l in &rf.linearized {
            assert!((l.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!(l.std_raw.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
        // The smallest bandwidth sits in the collapse limit: weights → the lookup weights.
        let small = rf
            .linearized
            .iter()
            .find(|l| {
                l.sigma == 0.01 && l.weighting == experiments::samplers::Weighting::QuadraticOnly
            })
            .unwrap();
        assert!(
            small.tv_to_lookup < 0.05,
            "N = {}: TV {} at σ = 0.01",
            rf.n,
            small.tv_to_lookup
        );
    }
    for g in &r.groups {
        assert!(g.final_misfit.iter().all(|v| v.is_finite()));
        if g.kind == PriorKind::Memorized {
            // The memorized prior's samples end on (paper: within ζ of) training models.
            let zmax = if g.variant == Variant::Paper {
                0.3
            } else {
                1e-6
            };
            assert!(
                g.summary.mean_r < zmax,
                "{:?} {:?}: mean r {}",
                g.kind,
                g.variant,
                g.summary.mean_r
            );
        }
    }
    let rows: Vec<String> = r
        .table()
        .iter()
        .map(|t| {
            format!(
                "{:>9}/{:<5} N={:<3} S={} mean_r={} fr={}/{}/{} null={}/{}/{} nn={} rmse_v={} misfit={} top={}:{}",
                t.prior,
                t.variant,
                t.n_train,
                t.samples,
                if t.mean_r < 1e-6 { "<1e-6".to_string() } else { round_sig(t.mean_r, 3).to_string() },
                t.frac[0],
                t.frac[1],
                t.frac[2],
                t.null_frac[0],
                t.null_frac[1],
                t.null_frac[2],
                t.unique_nn,
                round_sig(t.rmse_velocity, 3),
                round_sig(t.final_misfit, 3),
                t.most_visited,
                round_sig(t.most_visited_frac, 3),
            )
        })
        .collect();
    insta::assert_yaml_snapshot!("table1_quick", rows);
    let curves: Vec<String> = r
        .groups
        .iter()
        .map(|g| {
            let pts: Vec<String> = g
                .mean_trace
                .iter()
                .step_by(5)
                .map(|v| round_sig(*v, 3).to_string())
                .collect();
            format!(
                "{}/{} N={}: {}",
                g.kind.name(),
                g.variant.name(),
                g.n,
                pts.join(" ")
            )
        })
        .collect();
    insta::assert_yaml_snapshot!("misfit_curves_quick", curves);
    let calib: Vec<String> = r
        .groups
        .iter()
        .map(|g| {
            let pts: Vec<String> = g
                .calibration_kl
                .iter()
                .map(|(s, e)| format!("{}:{}", round_sig(*s, 3), round_sig(*e, 3)))
                .collect();
            format!(
                "{}/{} N={}: {}",
                g.kind.name(),
                g.variant.name(),
                g.n,
                pts.join(" ")
            )
        })
        .collect();
    insta::assert_yaml_snapshot!("calibration_kl_quick", calib);
    let lookup: Vec<String> = r
        .references
        .iter()
        .map(|rf| {
            let mut idx: Vec<usize> = (0..rf.n).collect();
            idx.sort_by(|&a, &b| rf.misfits[a].total_cmp(&rf.misfits[b]));
            let top: Vec<String> = idx[..3]
                .iter()
                .map(|&i| format!("{i}:Φ={}", round_sig(rf.misfits[i], 4)))
                .collect();
            format!("N={}: {}", rf.n, top.join(" "))
        })
        .collect();
    insta::assert_yaml_snapshot!("lookup_quick", lookup);
    let _ = std::fs::remove_dir_all(cache);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn the_controls_sample_count_applies_to_the_closed_form_priors_of_the_paper_variants() {
    let mut c = DpsConfig::preset(Preset::Quick);
    let per_n = |c: &DpsConfig, kind: PriorKind, variant: Variant| {
        c.jobs()
            .iter()
            .filter(|j| j.kind == kind && j.variant == variant && j.n == c.prior.n_values[0])
            .count()
    };
    assert_eq!(per_n(&c, PriorKind::Memorized, Variant::Paper), c.samples);
    c.samples_controls = Some(1);
    for kind in [PriorKind::Memorized, PriorKind::Gaussian] {
        assert_eq!(per_n(&c, kind, Variant::Paper), 1);
        assert_eq!(per_n(&c, kind, Variant::Chung), c.samples_chung);
    }
    assert_eq!(per_n(&c, PriorKind::Learned, Variant::Paper), c.samples);
    // Absent from a config file means `samples`; written only when set.
    let text = toml::to_string(&DpsConfig::preset(Preset::Quick)).unwrap();
    assert!(!text.contains("samples_controls"));
    let paper = DpsConfig::preset(Preset::Paper);
    assert_eq!((paper.samples, paper.samples_controls), (256, Some(64)));
    let back: DpsConfig = toml::from_str(&toml::to_string(&paper).unwrap()).unwrap();
    assert_eq!(back, paper);
}

#[test]
fn invalid_settings_are_named() {
    let base = DpsConfig::preset(Preset::Quick);
    type Edit = Box<dyn Fn(&mut DpsConfig)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("priors", Box::new(|c| c.priors.clear())),
        ("variants", Box::new(|c| c.variants.clear())),
        ("zeta", Box::new(|c| c.zeta = f64::NAN)),
        ("zeta_chung", Box::new(|c| c.zeta_chung = -1.0)),
        ("samples", Box::new(|c| c.samples = 0)),
        ("samples_chung", Box::new(|c| c.samples_chung = 0)),
        (
            "samples_controls",
            Box::new(|c| c.samples_controls = Some(0)),
        ),
        ("record_every", Box::new(|c| c.record_every = 0)),
        ("noise_rel", Box::new(|c| c.noise_rel = 0.0)),
        (
            "linearized_sigmas",
            Box::new(|c| c.linearized_sigmas = vec![0.1, -1.0]),
        ),
        (
            "priors",
            Box::new(|c| c.priors = vec![PriorKind::Memorized, PriorKind::Memorized]),
        ),
        (
            "variants",
            Box::new(|c| c.variants = vec![Variant::Chung, Variant::Chung]),
        ),
    ];
    for (field, f) in cases {
        let mut c = base.clone();
        f(&mut c);
        assert_eq!(c.validate().unwrap_err().field, field);
    }
    assert!(Preset::parse("bogus").is_err());
}

#[test]
fn trajectories_that_leave_the_solver_domain_are_recorded_counted_and_left_out() {
    // Chung's step at 60 times its tuned 0.05 drives models to negative squared slowness: at
    // N = 20 one trajectory of 6, at N = 50 all of them. The run still finishes, and Table 1
    // counts those trajectories apart.
    let mut c = closed_form_quick();
    c.variants = vec![Variant::Chung];
    c.priors = vec![PriorKind::Gaussian];
    c.samples_chung = 6;
    c.zeta_chung = 3.0;
    let (cache, out) = (tmp("cache-diverged"), tmp("diverged"));
    let (r, _) = run(&c, &out, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    let r = r.unwrap();
    let table = r.table();
    let counts: Vec<(usize, usize)> = table.iter().map(|t| (t.samples, t.diverged)).collect();
    assert_eq!(counts, [(5, 1), (0, 6)], "{table:?}");
    for (t, g) in table.iter().zip(&r.groups) {
        assert_eq!(t.samples + t.diverged, c.samples_chung);
        assert_eq!(g.samples.len(), t.samples);
        assert_eq!(g.index.len(), t.samples);
        assert!(g.final_misfit.iter().all(|f| f.is_finite()));
        for (i, d) in &g.diverged {
            assert!(!g.index.contains(i));
            let file = dps::Job {
                n: g.n,
                kind: g.kind,
                variant: g.variant,
                index: *i,
            }
            .path(&out);
            let rec = dps::SampleRecord::decode(
                &std::fs::read(file).unwrap(),
                c.recorded_levels().len(),
                100,
            )
            .unwrap();
            assert_eq!(rec.diverged, Some(*d));
            assert!(rec.final_misfit.is_nan());
        }
    }
    // A rerun resumes from the recorded outcomes and draws nothing.
    let (again, stats) = run(&c, &out, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    assert_eq!(stats.drawn, 0);
    // (NaN statistics of the empty group: compared as printed.)
    assert_eq!(
        format!("{:?}", again.unwrap().table()),
        format!("{table:?}")
    );
    for d in [cache, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn sample_files_round_trip_and_v1_directories_are_upgraded() {
    use dps::{Diverged, SampleRecord};
    let finished = SampleRecord {
        z: vec![0.5, -1.0, 2.0],
        final_misfit: 12.5,
        trace: vec![100.0, 50.0],
        diverged: None,
    };
    let back = SampleRecord::decode(&finished.encode(), 2, 3).unwrap();
    assert_eq!(back, finished);
    for at in [
        Diverged::Level(0),
        Diverged::Level(137),
        Diverged::FinalSample,
    ] {
        let rec = SampleRecord {
            final_misfit: f64::NAN,
            trace: vec![100.0, f64::NAN],
            diverged: Some(at),
            ..finished.clone()
        };
        let back = SampleRecord::decode(&rec.encode(), 2, 3).unwrap();
        assert_eq!(back.diverged, Some(at));
        assert_eq!(back.z, rec.z);
        assert!(back.final_misfit.is_nan() && back.trace[1].is_nan());
    }
    // A trailing value that is no level.
    let mut bad = finished.clone();
    bad.z.push(0.25);
    let e = SampleRecord::decode(&bad.encode(), 2, 3).unwrap_err();
    assert!(e.contains("neither a reverse level"), "{e}");

    // A directory drawn by sample format v1 resumes (its files are finished samples) and is
    // relabelled; an unknown format is still refused.
    let c = closed_form_quick();
    let (cache, out) = (tmp("cache-upgrade"), tmp("upgrade"));
    let (r, _) = run(&c, &out, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    let run_toml = out.join("samples/run.toml");
    let text = std::fs::read_to_string(&run_toml).unwrap();
    assert!(dps::UPGRADABLE_FORMATS.contains(&"memprior-dps samples v1"));
    std::fs::write(
        &run_toml,
        text.replace(dps::SAMPLE_FORMAT, "memprior-dps samples v1"),
    )
    .unwrap();
    let (again, stats) = run(&c, &out, Selection::ALL, &cache, 2, &|_| {}).unwrap();
    assert_eq!(stats.drawn, 0);
    assert_eq!(again.unwrap().table(), r.unwrap().table());
    assert_eq!(std::fs::read_to_string(&run_toml).unwrap(), text);
    std::fs::write(
        &run_toml,
        text.replace(dps::SAMPLE_FORMAT, "memprior-dps samples v0"),
    )
    .unwrap();
    let e = run(&c, &out, Selection::ALL, &cache, 2, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("another version of the sampler"), "{e}");
    for d in [cache, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}
