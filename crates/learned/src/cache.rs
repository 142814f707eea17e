//! The weight cache: a trained network lives under a key that hashes everything that determines
//! its weights, so cached weights never outlive the recipe, data or code that made them.

use std::path::{Path, PathBuf};

use memprior_core::diffusion::NoiseSchedule;
use sha2::{Digest, Sha256};

use crate::recipe::Recipe;

/// Everything that determines the trained weights, hashed: the recipe, the schedule and the
/// training data (bit patterns), plus a format version.
pub fn weights_key(recipe: &Recipe, schedule: &NoiseSchedule, data: &[Vec<f64>]) -> String {
    let mut h = Sha256::new();
    // Bump when the training algorithm changes: cached weights must not outlive the code that
    // made them.
    h.update(b"memprior-learned v3\n");
    h.update(serde_json::to_vec(recipe).expect("recipe serialises"));
    for t in 0..schedule.steps() {
        h.update(schedule.beta(t).to_le_bytes());
    }
    h.update((data.len() as u64).to_le_bytes());
    for row in data {
        h.update((row.len() as u64).to_le_bytes());
        for v in row {
            h.update(v.to_le_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Directory of the run with cache key `key` under `cache_root`.
pub fn run_dir(cache_root: &Path, key: &str) -> PathBuf {
    cache_root.join(format!("mlp-{}", &key[..16.min(key.len())]))
}
