//! Jobs: one posterior sample each, with its own seed, its selection (shards, one N) and its file's
//! codec.

use std::path::{Path, PathBuf};

use memprior_core::ConfigError;
use memprior_core::npy::{self, Dtype};

use crate::fwi::prior::PriorKind;

use super::*;

/// One posterior sample to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Job {
    /// Training-set size.
    pub n: usize,
    /// Prior.
    pub kind: PriorKind,
    /// DPS variant.
    pub variant: Variant,
    /// Sample index within (N, prior, variant).
    pub index: usize,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Job {
    /// The job's own seed: a hash of the run seed and the job's coordinates.
    pub fn seed(&self, run_seed: u64) -> u64 {
        let k = match self.kind {
            PriorKind::Learned => 1u64,
            PriorKind::Memorized => 2,
            PriorKind::Gaussian => 3,
        };
        let v = match self.variant {
            Variant::Paper => 1u64,
            Variant::Chung => 2,
            Variant::PaperAuthors => 3,
        };
        [self.n as u64, k, v, self.index as u64]
            .into_iter()
            .fold(splitmix(run_seed), |h, x| splitmix(h ^ x))
    }

    /// Directory (below `samples/`) of the job's group.
    pub fn group(&self) -> String {
        format!("{}-{}-n{}", self.kind.name(), self.variant.name(), self.n)
    }

    /// File of the finished job below the output directory.
    pub fn path(&self, out: &Path) -> PathBuf {
        out.join("samples")
            .join(self.group())
            .join(format!("{:05}.npy", self.index))
    }
}

pub(super) fn check_n(config: &DpsConfig, n: usize) -> Result<(), ConfigError> {
    if config.prior.n_values.contains(&n) {
        return Ok(());
    }
    let sizes: Vec<String> = config
        .prior
        .n_values
        .iter()
        .map(ToString::to_string)
        .collect();
    Err(ConfigError::new(
        "n",
        format!(
            "must be one of the configuration's training-set sizes ({})",
            sizes.join(", ")
        ),
        n,
    ))
}

/// Which of a run's jobs one process draws. Every field `None` draws them all (and assembles
/// the results); anything narrower only draws, for a later merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// Shard i of n (1-based): every n-th job of those selected by `n`.
    pub shard: Option<(usize, usize)>,
    /// Only the jobs of this training-set size; only its network is trained or loaded, so its
    /// samples can be drawn while the networks of the other sizes still train.
    pub n: Option<usize>,
}

impl Selection {
    /// Every job.
    pub const ALL: Self = Self {
        shard: None,
        n: None,
    };

    /// Whether every job is selected.
    pub fn is_all(&self) -> bool {
        *self == Self::ALL
    }

    /// The selected jobs of `config`, in job order.
    ///
    /// # Errors
    /// A shard outside 1..=n, or an N the configuration does not train.
    pub fn jobs(&self, config: &DpsConfig) -> Result<Vec<Job>, ConfigError> {
        if let Some(n) = self.n {
            check_n(config, n)?;
        }
        let of_n: Vec<Job> = config
            .jobs()
            .into_iter()
            .filter(|j| self.n.is_none_or(|n| j.n == n))
            .collect();
        match self.shard {
            Some((i, k)) => shard(&of_n, i, k),
            None => Ok(of_n),
        }
    }
}

/// Select the jobs of shard `i` of `n` (1-based): every n-th job starting at the i-th.
///
/// # Errors
/// A shard outside 1..=n.
pub fn shard(jobs: &[Job], i: usize, n: usize) -> Result<Vec<Job>, ConfigError> {
    if n == 0 || i == 0 || i > n {
        return Err(ConfigError::new(
            "shard",
            "must be i/n with 1 ≤ i ≤ n (e.g. 2/4)",
            format!("{i}/{n}"),
        ));
    }
    Ok(jobs
        .iter()
        .enumerate()
        .filter(|(j, _)| j % n == i - 1)
        .map(|(_, job)| *job)
        .collect())
}

/// A finished job: the final sample (raw z), its misfit and the recorded misfit trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRecord {
    /// Raw KL coefficients of the final sample.
    pub z: Vec<f64>,
    /// Φ at the final sample.
    pub final_misfit: f64,
    /// Φ(x̂₀) at the recorded levels.
    pub trace: Vec<f64>,
}

impl SampleRecord {
    /// The sample file's bytes: a float64 `.npy` vector [Φ, trace, z].
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![self.final_misfit];
        v.extend(&self.trace);
        v.extend(&self.z);
        npy::encode(Dtype::F64, &[v.len()], &v)
    }

    /// Decode a sample file of a run with `levels` trace points and `d` coefficients.
    ///
    /// # Errors
    /// Not a float64 `.npy` vector of 1 + `levels` + `d` values.
    pub fn decode(bytes: &[u8], levels: usize, d: usize) -> Result<Self, String> {
        let a = npy::decode(bytes, Dtype::F64).map_err(|e| e.to_string())?;
        if a.data.len() != 1 + levels + d {
            return Err(format!(
                "holds {} values, expected {}",
                a.data.len(),
                1 + levels + d
            ));
        }
        Ok(Self {
            final_misfit: a.data[0],
            trace: a.data[1..=levels].to_vec(),
            z: a.data[1 + levels..].to_vec(),
        })
    }
}
