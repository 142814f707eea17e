//! Fuzzing of the parsers that read user files: `.npy` arrays, DPS sample files, training
//! checkpoints and the TOML configurations (stylized experiments, DPS runs, Helmholtz
//! geometries).
//!
//! Each [`Target`] is a function of arbitrary bytes that must return, never panic: a parser
//! either accepts its input or rejects it with an error. [`fuzz`] is a seeded mutation fuzzer on
//! stable Rust (no coverage instrumentation): it starts from a committed seed corpus
//! (`corpus/<target>/`), applies byte-level and token-level mutations (bit flips, interesting
//! bytes, insertions, deletions, duplications, splices with other corpus entries, numbers replaced
//! by extreme ones, dictionary tokens), keeps every mutant that parses as a new corpus entry, and
//! records each input whose call panics, with the panic message. The same seed gives the same
//! inputs. The test suite runs a short bounded pass of every target and replays every input kept
//! under `regressions/<target>/` (the crashes found, once fixed); `memprior-fuzz --seconds S`
//! runs long passes.

mod mutate;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use experiments::fwi::dps::{DpsConfig, SampleRecord};
use experiments::learned::checkpoint;
use experiments::memprior_core::npy::{self, Dtype};
use experiments::operators::helmholtz::Geometry;
use experiments::stylized::StylizedConfig;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A parser under test.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Name (also the corpus and regression folder name).
    pub name: &'static str,
    /// Call the parser; must not panic.
    pub run: fn(&[u8]),
    /// Whether the input is text (adds the token mutations).
    pub text: bool,
}

fn npy_f64(data: &[u8]) {
    let _ = npy::decode(data, Dtype::F64);
    let _ = npy::decode(data, Dtype::C128);
}

fn sample_file(data: &[u8]) {
    // The paper preset's layout (200 reverse steps traced every 10 levels, 100 coefficients) and
    // a degenerate one.
    let _ = SampleRecord::decode(data, 20, 100);
    let _ = SampleRecord::decode(data, 0, 1);
}

fn checkpoint_file(data: &[u8]) {
    let _ = checkpoint::decode(data, Path::new("fuzz.ckpt"), "fuzz-key");
    // The key of the committed seed checkpoint, so that mutants reach the tensor checks.
    let _ = checkpoint::decode(data, Path::new("fuzz.ckpt"), SEED_CHECKPOINT_KEY);
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

fn stylized_toml(data: &[u8]) {
    if let Some(t) = text(data) {
        let _ = StylizedConfig::from_toml(t);
    }
}

fn dps_toml(data: &[u8]) {
    if let Some(t) = text(data)
        && let Ok(cfg) = toml::from_str::<DpsConfig>(t)
    {
        let _ = cfg.validate();
    }
}

fn geometry_toml(data: &[u8]) {
    if let Some(t) = text(data) {
        let _ = Geometry::from_toml(t);
    }
}

/// The key of the seed checkpoint in `corpus/checkpoint/`.
pub const SEED_CHECKPOINT_KEY: &str = "fuzz-seed";

/// Every target.
pub const TARGETS: [Target; 6] = [
    Target {
        name: "npy",
        run: npy_f64,
        text: false,
    },
    Target {
        name: "sample",
        run: sample_file,
        text: false,
    },
    Target {
        name: "checkpoint",
        run: checkpoint_file,
        text: false,
    },
    Target {
        name: "stylized_toml",
        run: stylized_toml,
        text: true,
    },
    Target {
        name: "dps_toml",
        run: dps_toml,
        text: true,
    },
    Target {
        name: "geometry_toml",
        run: geometry_toml,
        text: true,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

/// The crate's folder (corpus and regressions live beside the sources).
pub fn crate_dir() -> PathBuf {
    // The runtime value when cargo runs the binary: a target directory shared by several clones
    // may hold a binary built in another checkout.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The files of `dir`, sorted by name (none when it does not exist).
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.is_file());
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// Run `target` on `input`; the panic message if it panicked.
pub fn call(target: Target, input: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| (target.run)(input)))
        .err()
        .map(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic payload".into())
        })
}

/// An input that made a target panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// The input.
    pub input: Vec<u8>,
    /// The panic message.
    pub message: String,
}

/// What a fuzzing pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Target name.
    pub target: &'static str,
    /// Inputs executed.
    pub executions: u64,
    /// Corpus size at the end (seeds plus accepted mutants).
    pub corpus: usize,
    /// Distinct crashes (by panic message), first input of each.
    pub crashes: Vec<Crash>,
}

/// When a pass stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// After this many executions (deterministic).
    Executions(u64),
    /// After this much wall time.
    Time(Duration),
}

/// Corpus entries kept at most (the seeds always stay).
const MAX_CORPUS: usize = 4096;
/// Input hashes remembered at most.
const MAX_SEEN: usize = 1 << 20;
/// Inputs longer than this are cut (parsers read whole files; large inputs only slow the loop).
const MAX_LEN: usize = 1 << 14;

/// Fuzz `target` from the `seeds` with `seed`'s mutations until the budget is spent.
pub fn fuzz(target: Target, seeds: &[Vec<u8>], seed: u64, budget: Budget) -> Report {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut corpus: Vec<Vec<u8>> = if seeds.is_empty() {
        vec![Vec::new()]
    } else {
        seeds.to_vec()
    };
    let dictionary = mutate::dictionary(&corpus, target.text);
    // Hashes of the inputs already in the corpus (bounded: cleared when full, so that a long run
    // keeps constant memory; a forgotten input may then join the corpus twice).
    let mut seen: std::collections::HashSet<u64> = corpus.iter().map(|c| digest(c)).collect();
    let mut crashes: Vec<Crash> = Vec::new();
    // Panics are expected here and reported by value; the default hook would print each one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let mut executions = 0u64;
    for input in corpus.clone() {
        executions += 1;
        record(&mut crashes, target, &input);
    }
    loop {
        match budget {
            Budget::Executions(n) if executions >= n => break,
            Budget::Time(d) if start.elapsed() >= d => break,
            _ => {}
        }
        let base = rng.random_range(0..corpus.len());
        let other = rng.random_range(0..corpus.len());
        let mut input = corpus[base].clone();
        let rounds = 1 + rng.random_range(0..4);
        for _ in 0..rounds {
            mutate::mutate(
                &mut input,
                &corpus[other],
                &dictionary,
                target.text,
                &mut rng,
            );
        }
        input.truncate(MAX_LEN);
        executions += 1;
        let crashed = record(&mut crashes, target, &input);
        if !crashed && accepted(target, &input) && seen.insert(digest(&input)) {
            if seen.len() > MAX_SEEN {
                seen.clear();
            }
            if corpus.len() < MAX_CORPUS {
                corpus.push(input);
            } else {
                let at = seeds.len().max(1) + rng.random_range(0..MAX_CORPUS - seeds.len().max(1));
                corpus[at] = input;
            }
        }
    }
    std::panic::set_hook(hook);
    Report {
        target: target.name,
        executions,
        corpus: corpus.len(),
        crashes,
    }
}

/// A 64-bit hash of an input (SipHash with fixed keys: the same in every run).
fn digest(input: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    input.hash(&mut h);
    h.finish()
}

/// Run one input; keep it if it crashed with a new message. Whether it crashed.
fn record(crashes: &mut Vec<Crash>, target: Target, input: &[u8]) -> bool {
    match call(target, input) {
        Some(message) => {
            if !crashes.iter().any(|c| c.message == message) {
                crashes.push(Crash {
                    input: input.to_vec(),
                    message,
                });
            }
            true
        }
        None => false,
    }
}

/// Whether the parser accepts `input` (such mutants join the corpus: they are the ones that get
/// past the early checks; the configurations must deserialise into their typed structure, so
/// that the corpus does not fill with trivial TOML).
fn accepted(target: Target, input: &[u8]) -> bool {
    match target.name {
        "npy" => npy::decode(input, Dtype::F64).is_ok() || npy::decode(input, Dtype::C128).is_ok(),
        "sample" => npy::decode(input, Dtype::F64).is_ok(),
        "checkpoint" => {
            checkpoint::decode(input, Path::new("fuzz.ckpt"), SEED_CHECKPOINT_KEY).is_ok()
        }
        "stylized_toml" => text(input).is_some_and(|t| toml::from_str::<StylizedConfig>(t).is_ok()),
        "dps_toml" => text(input).is_some_and(|t| toml::from_str::<DpsConfig>(t).is_ok()),
        "geometry_toml" => text(input).is_some_and(|t| toml::from_str::<Geometry>(t).is_ok()),
        _ => false,
    }
}
