//! Writing a DPS run's results: every table as CSV and Parquet, the fields as .npy, the NetCDF
//! file, the references and the configuration.

use super::*;

/// Write every table of a run into `dir` (CSV and Parquet, atomically), plus the velocity fields
/// of Figure 4 as .npy, everything a reader needs as NetCDF (`fwi_results.nc`, see
/// [`crate::netcdf`]) and the configuration.
pub fn write_outputs(r: &DpsResults, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let rows = r.table();
    let paper: Vec<_> = rows.iter().filter(|t| t.variant == "paper").collect();
    let mut df = Table::new()
        .str("prior", paper.iter().map(|t| t.prior.clone()))
        .u64("n_train", paper.iter().map(|t| t.n_train as u64))
        .u64("samples", paper.iter().map(|t| t.samples as u64))
        .u64("diverged", paper.iter().map(|t| t.diverged as u64))
        .f64("mean_r", paper.iter().map(|t| t.mean_r))
        .f64("frac_r_le_0_3", paper.iter().map(|t| t.frac[0]))
        .f64("frac_r_le_0_5", paper.iter().map(|t| t.frac[1]))
        .f64("frac_r_le_0_7", paper.iter().map(|t| t.frac[2]))
        .f64("null_frac_r_le_0_3", paper.iter().map(|t| t.null_frac[0]))
        .f64("null_frac_r_le_0_5", paper.iter().map(|t| t.null_frac[1]))
        .f64("null_frac_r_le_0_7", paper.iter().map(|t| t.null_frac[2]))
        .u64("unique_nn", paper.iter().map(|t| t.unique_nn as u64))
        .f64("rmse_velocity", paper.iter().map(|t| t.rmse_velocity))
        .f64("final_misfit", paper.iter().map(|t| t.final_misfit))
        .frame()?;
    write_csv_parquet(&mut df, dir, "table1")?;

    let mut df = Table::new()
        .str("prior", rows.iter().map(|t| t.prior.clone()))
        .str("variant", rows.iter().map(|t| t.variant.clone()))
        .u64("n_train", rows.iter().map(|t| t.n_train as u64))
        .u64("samples", rows.iter().map(|t| t.samples as u64))
        .u64("diverged", rows.iter().map(|t| t.diverged as u64))
        .f64("mean_r", rows.iter().map(|t| t.mean_r))
        .f64("frac_r_le_0_3", rows.iter().map(|t| t.frac[0]))
        .f64("frac_r_le_0_5", rows.iter().map(|t| t.frac[1]))
        .f64("frac_r_le_0_7", rows.iter().map(|t| t.frac[2]))
        .f64("null_frac_r_le_0_3", rows.iter().map(|t| t.null_frac[0]))
        .f64("null_frac_r_le_0_5", rows.iter().map(|t| t.null_frac[1]))
        .f64("null_frac_r_le_0_7", rows.iter().map(|t| t.null_frac[2]))
        .u64("unique_nn", rows.iter().map(|t| t.unique_nn as u64))
        .f64("rmse_velocity", rows.iter().map(|t| t.rmse_velocity))
        .f64("final_misfit", rows.iter().map(|t| t.final_misfit))
        .u64("most_visited", rows.iter().map(|t| t.most_visited as u64))
        .f64(
            "most_visited_frac",
            rows.iter().map(|t| t.most_visited_frac),
        )
        .f64(
            "most_visited_lookup_weight",
            rows.iter().map(|t| t.most_visited_lookup),
        )
        .f64("tv_to_lookup", rows.iter().map(|t| t.tv_to_lookup))
        .frame()?;
    write_csv_parquet(&mut df, dir, "table1_all")?;

    let (mut nn, mut idx, mut mis, mut w) = (vec![], vec![], vec![], vec![]);
    for rf in &r.references {
        for (i, (m, wi)) in rf.misfits.iter().zip(&rf.lookup).enumerate() {
            nn.push(rf.n as u64);
            idx.push(i as u64);
            mis.push(*m);
            w.push(*wi);
        }
    }
    let mut df = Table::new()
        .u64("n_train", nn)
        .u64("train_index", idx)
        .f64("misfit", mis)
        .f64("weight", w)
        .frame()?;
    write_csv_parquet(&mut df, dir, "lookup_weights")?;

    let (mut pr, mut va, mut nn, mut idx, mut vis, mut frac, mut lw) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for g in &r.groups {
        let rf = r.reference(g.n).expect("reference per N");
        for (i, &v) in g.visits.iter().enumerate() {
            if v > 0 || rf.lookup[i] >= 1e-3 {
                pr.push(g.kind.name().to_string());
                va.push(g.variant.name().to_string());
                nn.push(g.n as u64);
                idx.push(i as u64);
                vis.push(v as u64);
                // 0 visits of no sample (every trajectory diverged) is a fraction of 0.
                frac.push(v as f64 / g.samples.len().max(1) as f64);
                lw.push(rf.lookup[i]);
            }
        }
    }
    let mut df = Table::new()
        .str("prior", pr)
        .str("variant", va)
        .u64("n_train", nn)
        .u64("train_index", idx)
        .u64("visits", vis)
        .f64("visit_frac", frac)
        .f64("lookup_weight", lw)
        .frame()?;
    write_csv_parquet(&mut df, dir, "visits")?;

    let (mut pr, mut va, mut nn, mut tt, mut mm) = (vec![], vec![], vec![], vec![], vec![]);
    for g in &r.groups {
        for (t, m) in r.levels.iter().zip(&g.mean_trace) {
            pr.push(g.kind.name().to_string());
            va.push(g.variant.name().to_string());
            nn.push(g.n as u64);
            tt.push(*t as u64);
            mm.push(*m);
        }
    }
    let mut df = Table::new()
        .str("prior", pr)
        .str("variant", va)
        .u64("n_train", nn)
        .u64("t", tt)
        .f64("mean_misfit", mm)
        .frame()?;
    write_csv_parquet(&mut df, dir, "misfit_curves")?;

    let (mut pr, mut va, mut nn, mut sp, mut bi, mut ms, mut me) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for g in &r.groups {
        for (space, bins) in [
            ("kl", &g.calibration_kl),
            ("velocity", &g.calibration_velocity),
        ] {
            for (b, (s, e)) in bins.iter().enumerate() {
                pr.push(g.kind.name().to_string());
                va.push(g.variant.name().to_string());
                nn.push(g.n as u64);
                sp.push(space.to_string());
                bi.push(b as u64);
                ms.push(*s);
                me.push(*e);
            }
        }
    }
    let mut df = Table::new()
        .str("prior", pr)
        .str("variant", va)
        .u64("n_train", nn)
        .str("space", sp)
        .u64("bin", bi)
        .f64("mean_std", ms)
        .f64("mean_error", me)
        .frame()?;
    write_csv_parquet(&mut df, dir, "calibration")?;

    let (mut pr, mut va, mut nn, mut idx, mut rr, mut near, mut d1, mut rmse, mut fm) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for g in &r.groups {
        for (i, b) in g.neighbours.iter().enumerate() {
            pr.push(g.kind.name().to_string());
            va.push(g.variant.name().to_string());
            nn.push(g.n as u64);
            idx.push(g.index[i] as u64);
            rr.push(b.r);
            near.push(b.nearest as u64);
            d1.push(b.d1);
            rmse.push(g.rmse_velocity[i]);
            fm.push(g.final_misfit[i]);
        }
    }
    let mut df = Table::new()
        .str("prior", pr)
        .str("variant", va)
        .u64("n_train", nn)
        .u64("index", idx)
        .f64("r", rr)
        .u64("nearest", near)
        .f64("d1", d1)
        .f64("rmse_velocity", rmse)
        .f64("final_misfit", fm)
        .frame()?;
    write_csv_parquet(&mut df, dir, "samples")?;

    let (mut pr, mut va, mut nn, mut idx, mut at) = (vec![], vec![], vec![], vec![], vec![]);
    for g in &r.groups {
        for (i, d) in &g.diverged {
            pr.push(g.kind.name().to_string());
            va.push(g.variant.name().to_string());
            nn.push(g.n as u64);
            idx.push(*i as u64);
            at.push(match d {
                dps::Diverged::Level(t) => *t as i64,
                dps::Diverged::FinalSample => -1,
            });
        }
    }
    let mut df = Table::new()
        .str("prior", pr)
        .str("variant", va)
        .u64("n_train", nn)
        .u64("index", idx)
        .i64("level", at)
        .frame()?;
    write_csv_parquet(&mut df, dir, "diverged")?;

    let (mut src, mut nn, mut idx, mut z0, mut z1) = (vec![], vec![], vec![], vec![], vec![]);
    let mut push = |s: String, n: usize, list: &[Vec<f64>], index: Option<&[usize]>| {
        for (i, z) in list.iter().enumerate() {
            src.push(s.clone());
            nn.push(n as u64);
            idx.push(index.map_or(i, |x| x[i]) as u64);
            z0.push(z[0]);
            z1.push(z[1]);
        }
    };
    for g in &r.groups {
        push(
            format!("{}/{}", g.kind.name(), g.variant.name()),
            g.n,
            &g.samples,
            Some(&g.index),
        );
    }
    for &n in &r.config.prior.n_values {
        push("training".into(), n, &r.datasets.train[..n], None);
    }
    push(
        "truth".into(),
        0,
        std::slice::from_ref(&r.datasets.truth),
        None,
    );
    let mut df = Table::new()
        .str("source", src)
        .u64("n_train", nn)
        .u64("index", idx)
        .f64("z0", z0)
        .f64("z1", z1)
        .frame()?;
    write_csv_parquet(&mut df, dir, "kl_coefficients")?;
    atomic::write(
        &dir.join(experiments::fwi::bundle::REFERENCES),
        experiments::fwi::bundle::references_json(r).as_bytes(),
    )?;

    let (mut nn, mut sg, mut wt, mut ne, mut ti, mut tw, mut tv, mut ms) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for rf in &r.references {
        for l in &rf.linearized {
            let (top, w) = l
                .weights
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or((0, 0.0), |(i, w)| (i, *w));
            nn.push(rf.n as u64);
            sg.push(l.sigma);
            wt.push(l.weighting.name().to_string());
            ne.push(effective_count(&l.weights));
            ti.push(top as u64);
            tw.push(w);
            tv.push(l.tv_to_lookup);
            ms.push(l.std_raw.iter().sum::<f64>() / l.std_raw.len() as f64);
        }
    }
    let mut df = Table::new()
        .u64("n_train", nn)
        .f64("sigma", sg)
        .str("weighting", wt)
        .f64("effective_components", ne)
        .u64("top_index", ti)
        .f64("top_weight", tw)
        .f64("tv_to_lookup", tv)
        .f64("mean_std", ms)
        .frame()?;
    write_csv_parquet(&mut df, dir, "linearized")?;

    let (mut src, mut nn, mut kk, mut sd) = (vec![], vec![], vec![], vec![]);
    for g in &r.groups {
        for (k, s) in g.z_std.iter().enumerate() {
            src.push(format!("{}/{}", g.kind.name(), g.variant.name()));
            nn.push(g.n as u64);
            kk.push(k as u64);
            sd.push(*s);
        }
    }
    for rf in &r.references {
        for l in &rf.linearized {
            for (k, s) in l.std_raw.iter().enumerate() {
                src.push(format!("linearized/{}/{}", l.weighting.name(), l.sigma));
                nn.push(rf.n as u64);
                kk.push(k as u64);
                sd.push(*s);
            }
        }
    }
    let mut df = Table::new()
        .str("source", src)
        .u64("n_train", nn)
        .u64("k", kk)
        .f64("std", sd)
        .frame()?;
    write_csv_parquet(&mut df, dir, "spread")?;

    let g = &r.config.geometry;
    for grp in &r.groups {
        let stem = format!("{}-{}-n{}", grp.kind.name(), grp.variant.name(), grp.n);
        atomic::write(
            &dir.join("fields").join(format!("velocity_mean_{stem}.npy")),
            &npy::encode(Dtype::F64, &[g.nx, g.nz], &grp.velocity_mean),
        )?;
        atomic::write(
            &dir.join("fields").join(format!("velocity_std_{stem}.npy")),
            &npy::encode(Dtype::F64, &[g.nx, g.nz], &grp.velocity_std),
        )?;
    }
    crate::netcdf::write(r, dir)?;
    atomic::write(
        &dir.join("config.toml"),
        toml::to_string(&r.config)
            .context("serialising the config")?
            .as_bytes(),
    )?;
    Ok(())
}
