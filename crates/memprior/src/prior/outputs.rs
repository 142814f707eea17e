//! Writing the prior experiment's results: the memorization table, the ratios, the training curves
//! and what reads the run back.

use super::*;

/// Write the memorization tables of a run into `dir`.
pub fn write_outputs(run: &PriorRun, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let rows = run.table();
    let mut df = Table::new()
        .str("source", rows.iter().map(|r| r.source.clone()))
        .u64("n_train", rows.iter().map(|r| r.n_train as u64))
        .u64("count", rows.iter().map(|r| r.count as u64))
        .f64("mean_r", rows.iter().map(|r| r.mean_r))
        .f64("frac_r_le_0_3", rows.iter().map(|r| r.fractions[0]))
        .f64("frac_r_le_0_5", rows.iter().map(|r| r.fractions[1]))
        .f64("frac_r_le_0_7", rows.iter().map(|r| r.fractions[2]))
        .u64("unique_nn", rows.iter().map(|r| r.unique_nn as u64))
        .frame()?;
    write_csv_parquet(&mut df, dir, "memorization")?;

    let (mut src, mut nn, mut idx, mut r, mut near) = (vec![], vec![], vec![], vec![], vec![]);
    for p in &run.per_n {
        let mut push = |name: &str, list: &[experiments::analysis::memorization::Neighbours]| {
            for (i, x) in list.iter().enumerate() {
                src.push(name.to_string());
                nn.push(p.n as u64);
                idx.push(i as u64);
                r.push(x.r);
                near.push(x.nearest as u64);
            }
        };
        for s in &p.priors {
            push(s.kind.name(), &s.neighbours);
        }
        push("null", &p.null);
        push("leave_one_out", &p.loo);
    }
    let mut df = Table::new()
        .str("source", src)
        .u64("n_train", nn)
        .u64("index", idx)
        .f64("r", r)
        .u64("nearest", near)
        .frame()?;
    write_csv_parquet(&mut df, dir, "ratios")?;

    let (mut nn, mut step, mut loss, mut gn, mut val) = (vec![], vec![], vec![], vec![], vec![]);
    for p in &run.per_n {
        let mut measured = p.validation.iter().peekable();
        for (k, rec) in p.history.iter().enumerate() {
            nn.push(p.n as u64);
            step.push(k as u64 + 1);
            loss.push(f64::from(rec.loss));
            gn.push(f64::from(rec.grad_norm));
            // The validation loss after this step, NaN where it was not measured.
            val.push(match measured.next_if(|v| v.step == k + 1) {
                Some(v) => f64::from(v.loss),
                None => f64::NAN,
            });
        }
    }
    let mut df = Table::new()
        .u64("n_train", nn)
        .u64("step", step)
        .f64("loss", loss)
        .f64("grad_norm", gn)
        .f64("val_loss", val)
        .frame()?;
    write_csv_parquet(&mut df, dir, "training_curves")?;
    // What reads the run back without training or sampling (the report's section).
    experiments::fwi::prior_io::write(run, dir)?;
    atomic::write(
        &dir.join("config.toml"),
        toml::to_string(&run.config)
            .context("serialising the config")?
            .as_bytes(),
    )?;
    Ok(())
}
