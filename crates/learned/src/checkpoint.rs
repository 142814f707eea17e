//! Checkpoint files: `MEMPRIOR-MLP 1\n`, a little-endian u64 header length, a JSON header
//! (cache key, recipe, step, per-step history, group and tensor counts) and the tensors of each
//! group as little-endian f32 in the recipe's shape order. Written to a temporary file in the
//! same directory and renamed, so a reader sees the old file or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::recipe::Recipe;
use crate::records::{StepRecord, ValidationRecord};

const MAGIC: &[u8] = b"MEMPRIOR-MLP 1\n";

/// A training state or final weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Cache key of the run (hash of everything that determines the weights).
    pub key: String,
    /// The recipe.
    pub recipe: Recipe,
    /// Steps done.
    pub step: usize,
    /// Whether training finished (then the groups are raw and EMA weights only).
    pub done: bool,
    /// Per-step loss and gradient norm.
    pub history: Vec<StepRecord>,
    /// Validation losses measured so far.
    pub validation: Vec<ValidationRecord>,
    /// Tensor groups: raw weights, EMA weights, and for resumable states Adam's m and v.
    pub groups: Vec<Vec<Vec<f32>>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    key: String,
    recipe: Recipe,
    step: usize,
    done: bool,
    history: Vec<StepRecord>,
    #[serde(default)]
    validation: Vec<ValidationRecord>,
    groups: usize,
}

/// A checkpoint that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// I/O on the named file.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The file is not a checkpoint of this format or is truncated.
    #[error("{0}: not a complete memprior MLP checkpoint ({1}); delete it to retrain")]
    Corrupt(PathBuf, String),
    /// The file belongs to another recipe or training set.
    #[error("{path}: written for weights {found}, expected {expected}; delete it to retrain")]
    KeyMismatch {
        /// The file.
        path: PathBuf,
        /// Key in the file.
        found: String,
        /// Key of this run.
        expected: String,
    },
}

/// Write `c` atomically to `path` (creating the directory).
///
/// # Errors
/// I/O failures, named with the path.
pub fn write(path: &Path, c: &Checkpoint) -> Result<(), CheckpointError> {
    let io = |e| CheckpointError::Io(path.to_path_buf(), e);
    let header = serde_json::to_vec(&Header {
        key: c.key.clone(),
        recipe: c.recipe,
        step: c.step,
        done: c.done,
        history: c.history.clone(),
        validation: c.validation.clone(),
        groups: c.groups.len(),
    })
    .expect("header serialises");
    // Streamed into the temporary file: at the paper's width the optimizer state is ~800 MB.
    memprior_core::atomic::write_with(path, |f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        w.write_all(MAGIC)?;
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(&header)?;
        let mut chunk = Vec::with_capacity(1 << 16);
        for t in c.groups.iter().flatten() {
            for block in t.chunks(1 << 14) {
                chunk.clear();
                chunk.extend(block.iter().flat_map(|v| v.to_le_bytes()));
                w.write_all(&chunk)?;
            }
        }
        w.flush()
    })
    .map_err(io)
}

/// Read a checkpoint and check that it belongs to `expected_key`.
///
/// # Errors
/// I/O failures, a corrupt or truncated file, or a key mismatch.
pub fn read(path: &Path, expected_key: &str) -> Result<Checkpoint, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|e| CheckpointError::Io(path.to_path_buf(), e))?;
    decode(&bytes, path, expected_key)
}

/// Decode the bytes of a checkpoint file (`path` names it in errors) and check that it belongs
/// to `expected_key`.
///
/// # Errors
/// A corrupt or truncated file, or a key mismatch.
pub fn decode(
    bytes: &[u8],
    path: &Path,
    expected_key: &str,
) -> Result<Checkpoint, CheckpointError> {
    let corrupt = |why: &str| CheckpointError::Corrupt(path.to_path_buf(), why.to_string());
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("wrong magic"))?;
    if rest.len() < 8 {
        return Err(corrupt("truncated header"));
    }
    let hlen = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
    let rest = &rest[8..];
    if rest.len() < hlen {
        return Err(corrupt("truncated header"));
    }
    let h: Header = serde_json::from_slice(&rest[..hlen]).map_err(|e| corrupt(&e.to_string()))?;
    if h.key != expected_key {
        return Err(CheckpointError::KeyMismatch {
            path: path.to_path_buf(),
            found: h.key,
            expected: expected_key.to_string(),
        });
    }
    // The sizes are checked before the shapes are listed: a corrupt header must not make this
    // allocate (or overflow) on its word.
    let data = &rest[hlen..];
    let expected_len = h
        .recipe
        .network
        .checked_parameter_count()
        .and_then(|n| n.checked_mul(4)?.checked_mul(h.groups));
    if expected_len != Some(data.len()) || h.groups < 2 || (!h.done && h.groups < 4) {
        return Err(corrupt("tensor data has the wrong length"));
    }
    let shapes = h.recipe.network.shapes();
    let mut vals = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")));
    let groups = (0..h.groups)
        .map(|_| {
            shapes
                .iter()
                .map(|[a, b]| vals.by_ref().take(a * b).collect())
                .collect()
        })
        .collect();
    Ok(Checkpoint {
        key: h.key,
        recipe: h.recipe,
        step: h.step,
        done: h.done,
        history: h.history,
        validation: h.validation,
        groups,
    })
}
