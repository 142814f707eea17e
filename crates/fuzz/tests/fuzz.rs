//! A short, bounded fuzzing pass of every parser from the committed seed corpus, and a replay of
//! every regression input (crashes found by longer runs, fixed since).

use memprior_fuzz::{Budget, TARGETS, call, crate_dir, fuzz, read_dir_files};

/// Executions per target in the test suite (deterministic: seeded).
const EXECUTIONS: u64 = 20_000;

#[test]
fn every_target_has_a_seed_corpus_that_it_accepts_without_panicking() {
    for t in TARGETS {
        let seeds = read_dir_files(&crate_dir().join("corpus").join(t.name));
        assert!(!seeds.is_empty(), "{}: no seed corpus", t.name);
        for (path, bytes) in seeds {
            assert_eq!(call(t, &bytes), None, "{}", path.display());
        }
    }
}

#[test]
fn a_bounded_pass_of_every_target_finds_no_panic() {
    for t in TARGETS {
        let seeds: Vec<Vec<u8>> = read_dir_files(&crate_dir().join("corpus").join(t.name))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        let report = fuzz(t, &seeds, 7, Budget::Executions(EXECUTIONS));
        assert_eq!(report.executions, EXECUTIONS, "{}", t.name);
        let messages: Vec<&str> = report.crashes.iter().map(|c| c.message.as_str()).collect();
        assert!(messages.is_empty(), "{}: panics {messages:?}", t.name);
    }
}

#[test]
fn the_fuzzer_reports_a_panicking_target_with_its_input() {
    fn fragile(data: &[u8]) {
        if data.first() == Some(&b'!') {
            panic!("bang at {}", data.len());
        }
    }
    let t = memprior_fuzz::Target {
        name: "fragile",
        run: fragile,
        text: true,
    };
    let report = fuzz(
        t,
        &[b"!".to_vec(), b"ok".to_vec()],
        1,
        Budget::Executions(50),
    );
    assert!(!report.crashes.is_empty());
    assert!(
        report
            .crashes
            .iter()
            .all(|c| c.input.first() == Some(&b'!'))
    );
    assert!(report.crashes[0].message.starts_with("bang at"));
}

#[test]
fn every_regression_input_is_handled_without_panicking() {
    for t in TARGETS {
        for (path, bytes) in read_dir_files(&crate_dir().join("regressions").join(t.name)) {
            assert_eq!(call(t, &bytes), None, "{}", path.display());
        }
    }
}
