//! A whole run with checkpoints: resuming from the weight cache, writing the state atomically every
//! few steps, and the final weights.

use super::*;

impl Trainer<'_> {
    /// The outcome of a run from its final checkpoint (raw and EMA weights, history).
    pub(super) fn trained(
        &self,
        mut c: Checkpoint,
        cached: bool,
        steps_trained: usize,
        seconds: f64,
    ) -> Trained {
        let host = |tensors| HostParams {
            config: self.recipe.network,
            tensors,
        };
        let ema = host(c.groups.swap_remove(1));
        Trained {
            params: host(c.groups.swap_remove(0)),
            ema,
            history: c.history,
            validation: c.validation,
            key: self.key.clone(),
            cached,
            steps_trained,
            seconds,
        }
    }

    pub(super) fn to_checkpoint(&self, state: &TrainState, done: bool) -> Checkpoint {
        let split = |flat: &[f32]| self.layout.split(flat);
        Checkpoint {
            key: self.key.clone(),
            recipe: self.recipe,
            step: state.step,
            done,
            history: state.history.clone(),
            validation: state.validation.clone(),
            groups: if done {
                vec![split(&state.params), split(&state.opt.ema)]
            } else {
                vec![
                    split(&state.params),
                    split(&state.opt.ema),
                    split(&state.opt.m),
                    split(&state.opt.v),
                ]
            },
        }
    }

    pub(super) fn state_from_checkpoint(
        &self,
        c: Checkpoint,
    ) -> Result<TrainState, CheckpointError> {
        // `checkpoint::read` has checked every tensor's length.
        if c.groups.len() < 4 {
            return Err(CheckpointError::Corrupt(
                PathBuf::from("state.bin"),
                "a resumable state needs weights, EMA and both Adam moments".into(),
            ));
        }
        let flat = |g: &[Vec<f32>]| g.concat();
        Ok(TrainState {
            step: c.step,
            params: flat(&c.groups[0]),
            opt: OptimState {
                ema: flat(&c.groups[1]),
                m: flat(&c.groups[2]),
                v: flat(&c.groups[3]),
            },
            history: c.history,
            validation: c.validation,
        })
    }

    /// Directory of this run's files under `cache_root`.
    pub fn run_dir(&self, cache_root: &Path) -> PathBuf {
        run_dir(cache_root, &self.key)
    }

    /// Train to the end, or return cached weights.
    ///
    /// Under `cache_root/mlp-<key>/`: `weights.bin` (final, EMA and raw) short-circuits the run;
    /// otherwise `state.bin` (written atomically every `checkpoint_every` steps) is resumed.
    /// `train.lock` there admits one process at a time (see [`memprior_core::lock`]): a second
    /// process for the same key waits for the first and then loads its weights.
    /// `stop_after` ends the call after that many steps in total (a simulated interruption) with
    /// [`TrainError::Stopped`]. `progress` sees (step, record) after every step.
    ///
    /// # Errors
    /// Unreadable or mismatched files, I/O failures, divergence, or a requested stop.
    pub fn run(
        &self,
        cache_root: &Path,
        stop_after: Option<usize>,
        progress: &mut dyn FnMut(usize, &StepRecord),
    ) -> Result<Trained, TrainError> {
        let dir = self.run_dir(cache_root);
        // One trainer per key across processes (shards started together on one cache): the
        // others wait here, then find `weights.bin` and load it. The lock dies with its holder.
        let lock_path = dir.join("train.lock");
        let _lock = memprior_core::lock::PathLock::acquire(&lock_path, &mut |holder| {
            eprintln!(
                "mlp-{}: another process trains this network ({holder}); waiting to use its weights",
                &self.key[..16.min(self.key.len())]
            );
        })
        .map_err(|e| CheckpointError::Io(lock_path.clone(), e))?;
        // A run killed mid-checkpoint left its temporary here: remove it before anything else.
        memprior_core::atomic::clean_dir(&dir).map_err(|e| CheckpointError::Io(dir.clone(), e))?;
        let weights = dir.join("weights.bin");
        let state_file = dir.join("state.bin");
        if weights.exists() {
            return Ok(self.trained(checkpoint::read(&weights, &self.key)?, true, 0, 0.0));
        }
        let mut state = if state_file.exists() {
            self.state_from_checkpoint(checkpoint::read(&state_file, &self.key)?)?
        } else {
            self.init()
        };
        let cfg = self.recipe.training;
        let start_step = state.step;
        let clock = Instant::now();
        while state.step < cfg.steps {
            if stop_after.is_some_and(|s| state.step >= s) {
                checkpoint::write(&state_file, &self.to_checkpoint(&state, false))?;
                return Err(TrainError::Stopped(state.step));
            }
            let rec = self.step(&mut state)?;
            if let Some(v) = &self.validation
                && (state.step % v.every == 0 || state.step == cfg.steps)
            {
                let loss = self.validation_loss(v, &state.params);
                state.validation.push(ValidationRecord {
                    step: state.step,
                    loss,
                });
            }
            progress(state.step, &rec);
            if state.step % cfg.checkpoint_every == 0 && state.step < cfg.steps {
                checkpoint::write(&state_file, &self.to_checkpoint(&state, false))?;
            }
        }
        let seconds = clock.elapsed().as_secs_f64();
        let done = self.to_checkpoint(&state, true);
        checkpoint::write(&weights, &done)?;
        if state_file.exists() {
            std::fs::remove_file(&state_file)
                .map_err(|e| CheckpointError::Io(state_file.clone(), e))?;
        }
        Ok(self.trained(done, false, cfg.steps - start_step, seconds))
    }
}
