//! The mutations of the fuzzer: byte-level for every target, token-level for text.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Bytes that often sit on a parser's edge cases.
const INTERESTING: [u8; 12] = [
    0x00, 0x01, 0x7f, 0x80, 0xff, b'0', b'9', b'-', b'.', b'\'', b'"', b'\n',
];

/// Numbers that often sit on a parser's edge cases (as text).
const NUMBERS: [&str; 16] = [
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "65535",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "1e308",
    "1e-320",
    "-1e400",
    "nan",
    "inf",
    "0.0",
];

/// Tokens for text inputs: the corpus's words (keys, values) plus TOML punctuation.
pub fn dictionary(corpus: &[Vec<u8>], text: bool) -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = Vec::new();
    if text {
        for input in corpus {
            for w in input.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_')) {
                if !w.is_empty() && w.len() <= 32 && !words.iter().any(|x| x == w) {
                    words.push(w.to_vec());
                }
            }
        }
        for t in [
            "=", "[", "]", "[[", "]]", ",", "\"", "'", "\n", "{", "}", "true", "false", "#",
        ] {
            words.push(t.as_bytes().to_vec());
        }
    } else {
        // The .npy header's own vocabulary.
        for t in [
            "'descr'",
            "'<f8'",
            "'<c16'",
            "'>f8'",
            "'fortran_order'",
            "True",
            "False",
            "'shape'",
            "(",
            ")",
            ",",
            "{",
            "}",
        ] {
            words.push(t.as_bytes().to_vec());
        }
    }
    for n in NUMBERS {
        words.push(n.as_bytes().to_vec());
    }
    words
}

/// Apply one random mutation to `input` (`other` is another corpus entry for splices).
pub fn mutate(
    input: &mut Vec<u8>,
    other: &[u8],
    dictionary: &[Vec<u8>],
    text: bool,
    rng: &mut ChaCha8Rng,
) {
    let len = input.len();
    let kinds = if text { 9 } else { 8 };
    match rng.random_range(0..kinds) {
        // Flip one bit.
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            input[i] ^= 1 << rng.random_range(0..8);
        }
        // Set a byte to an interesting value.
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            input[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
        }
        // Insert random bytes.
        2 => {
            let at = rng.random_range(0..=len);
            let n = 1 + rng.random_range(0..8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            input.splice(at..at, bytes);
        }
        // Delete a range.
        3 if len > 0 => {
            let a = rng.random_range(0..len);
            let b = (a + 1 + rng.random_range(0..16)).min(len);
            input.drain(a..b);
        }
        // Duplicate a range.
        4 if len > 0 => {
            let a = rng.random_range(0..len);
            let b = (a + 1 + rng.random_range(0..32)).min(len);
            let chunk = input[a..b].to_vec();
            let at = rng.random_range(0..=input.len());
            input.splice(at..at, chunk);
        }
        // Splice: our head with the other entry's tail.
        5 if !other.is_empty() => {
            let cut = rng.random_range(0..=len);
            let from = rng.random_range(0..other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        // Truncate.
        6 if len > 0 => {
            let at = rng.random_range(0..len);
            input.truncate(at);
        }
        // Insert a dictionary token.
        7 if !dictionary.is_empty() => {
            let t = &dictionary[rng.random_range(0..dictionary.len())];
            let at = rng.random_range(0..=len);
            input.splice(at..at, t.iter().copied());
        }
        // Replace a run of digits by an extreme number.
        8 => {
            let digits: Vec<usize> = (0..len).filter(|&i| input[i].is_ascii_digit()).collect();
            if let Some(&i) = digits.get(rng.random_range(0..digits.len().max(1))) {
                let mut j = i;
                while j < input.len()
                    && (input[j].is_ascii_digit() || matches!(input[j], b'.' | b'e' | b'-'))
                {
                    j += 1;
                }
                let n = NUMBERS[rng.random_range(0..NUMBERS.len())];
                input.splice(i..j, n.bytes());
            }
        }
        _ => {
            // The chosen mutation did not apply to this input (empty): append a random byte.
            input.push(rng.random());
        }
    }
}
