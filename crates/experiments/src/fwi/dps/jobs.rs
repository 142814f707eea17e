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

    /// The group's key: (prior, variant, N).
    pub fn group_key(&self) -> GroupKey {
        (self.kind, self.variant, self.n)
    }

    /// File of the finished job below the output directory.
    pub fn path(&self, out: &Path) -> PathBuf {
        out.join("samples")
            .join(self.group())
            .join(format!("{:05}.npy", self.index))
    }
}

/// A group of samples: (prior, variant, N).
pub type GroupKey = (PriorKind, Variant, usize);

/// `items` split into the runs of consecutive items of one group (jobs, and what is computed
/// from them, come grouped and in job order from [`DpsConfig::jobs`]), each with its key.
pub fn by_group<T>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> GroupKey,
) -> Vec<(GroupKey, Vec<T>)> {
    let mut groups: Vec<(GroupKey, Vec<T>)> = Vec::new();
    for item in items {
        let k = key(&item);
        match groups.last_mut() {
            Some((last, v)) if *last == k => v.push(item),
            _ => groups.push((k, vec![item])),
        }
    }
    groups
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

/// Where a trajectory left the solver's domain (see [`SampleRecord::diverged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diverged {
    /// In the reverse step at level t: the misfit rejected the step's estimate x̂₀.
    Level(usize),
    /// After the last step: the misfit rejected the final sample.
    FinalSample,
}

impl Diverged {
    /// The code stored in a sample file: t, or −1 for the final sample.
    fn code(self) -> f64 {
        match self {
            Self::Level(t) => t as f64,
            Self::FinalSample => -1.0,
        }
    }

    fn from_code(c: f64) -> Option<Self> {
        if c == -1.0 {
            Some(Self::FinalSample)
        } else if c >= 0.0
            && c.fract() == 0.0
            && c < memprior_core::diffusion::NoiseSchedule::paper().steps() as f64
        {
            Some(Self::Level(c as usize))
        } else {
            None
        }
    }
}

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Level(t) => write!(f, "in the reverse step at level {t}"),
            Self::FinalSample => f.write_str("at the final sample"),
        }
    }
}

/// A finished job: the final sample (raw z), its misfit and the recorded misfit trace — or a
/// trajectory that left the solver's domain on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRecord {
    /// Raw KL coefficients of the final sample; of a diverged trajectory, the last iterate the
    /// sampler accepted (a noisy state, not a posterior sample).
    pub z: Vec<f64>,
    /// Φ at the final sample (NaN when diverged).
    pub final_misfit: f64,
    /// Φ(x̂₀) at the recorded levels (NaN from the failure on).
    pub trace: Vec<f64>,
    /// Where the trajectory left the solver's domain: a sampler outcome, recorded so that a
    /// resumed run does not stop on it and Table 1 counts it; such samples are left out of every
    /// statistic of the posterior.
    pub diverged: Option<Diverged>,
}

impl SampleRecord {
    /// The sample file's bytes: a float64 `.npy` vector [Φ, trace, z], and for a diverged
    /// trajectory one more value, the level it failed at (−1: the final sample). Files of
    /// finished samples are laid out as in sample format v1.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![self.final_misfit];
        v.extend(&self.trace);
        v.extend(&self.z);
        if let Some(d) = self.diverged {
            v.push(d.code());
        }
        npy::encode(Dtype::F64, &[v.len()], &v)
    }

    /// Decode a sample file of a run with `levels` trace points and `d` coefficients.
    ///
    /// # Errors
    /// Not a float64 `.npy` vector of 1 + `levels` + `d` values (a finished sample) or one more
    /// (a diverged one, whose last value must be a level of the schedule or −1).
    pub fn decode(bytes: &[u8], levels: usize, d: usize) -> Result<Self, String> {
        let a = npy::decode(bytes, Dtype::F64).map_err(|e| e.to_string())?;
        let len = 1 + levels + d;
        let diverged =
            if a.data.len() == len {
                None
            } else if a.data.len() == len + 1 {
                let c = a.data[len];
                Some(Diverged::from_code(c).ok_or_else(|| {
                    format!("ends with {c}, which is neither a reverse level nor −1")
                })?)
            } else {
                return Err(format!(
                    "holds {} values, expected {len} (or {} for a diverged trajectory)",
                    a.data.len(),
                    len + 1
                ));
            };
        Ok(Self {
            final_misfit: a.data[0],
            trace: a.data[1..=levels].to_vec(),
            z: a.data[1 + levels..len].to_vec(),
            diverged,
        })
    }
}
