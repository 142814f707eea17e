//! NumPy `.npy` arrays (format versions 1.0–3.0) of float64 and complex128, the format
//! geophysicists exchange velocity models and data in.
//!
//! [`encode`] writes version 1.0, little-endian, C order; [`decode`] reads little- or big-endian,
//! C or Fortran order, and returns the values in C (row-major) order. Errors say what the file
//! holds and what was expected, e.g. dtype `<f4` where float64 (`<f8`) is required.

use std::fmt;

/// Element type of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE float64 (`<f8`).
    F64,
    /// Two float64, real then imaginary (`<c16`).
    C128,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::F64 => "<f8",
            Dtype::C128 => "<c16",
        }
    }
    fn numpy_name(self) -> &'static str {
        match self {
            Dtype::F64 => "float64",
            Dtype::C128 => "complex128",
        }
    }
}

/// A decoded array: shape and values in C order (complex values interleaved re, im).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Element type.
    pub dtype: Dtype,
    /// Shape, outermost axis first.
    pub shape: Vec<usize>,
    /// Values in C order; complex arrays hold 2 · Π shape numbers (re, im interleaved).
    pub data: Vec<f64>,
}

/// Why a byte string is not the array that was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyError(pub String);

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NpyError {}

fn err<T>(msg: impl Into<String>) -> Result<T, NpyError> {
    Err(NpyError(msg.into()))
}

/// Encode values (C order; complex interleaved) of the given shape as a version-1.0 `.npy` file.
pub fn encode(dtype: Dtype, shape: &[usize], data: &[f64]) -> Vec<u8> {
    let count: usize = shape.iter().product();
    let per = if dtype == Dtype::C128 { 2 } else { 1 };
    assert_eq!(
        data.len(),
        per * count,
        "data length does not match the shape"
    );
    let shape_str = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_str}, }}",
        dtype.descr()
    );
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The value of `key` in the header dictionary, as raw text up to the next top-level comma.
fn header_value<'a>(header: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let pat = format!("'{key}':");
    let Some(start) = header.find(&pat) else {
        return err(format!(
            "the .npy header has no '{key}' entry (header: {header})"
        ));
    };
    let rest = header[start + pat.len()..].trim_start();
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(rest[..i].trim()),
            _ => {}
        }
    }
    err(format!("the .npy header entry '{key}' is not terminated"))
}

/// Decode a `.npy` byte string that must hold `expected` values; any dtype other than float64
/// or complex128 is an error naming the conversion to make.
pub fn decode(bytes: &[u8], expected: Dtype) -> Result<Array, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return err(
            "not a NumPy .npy file (the magic string \\x93NUMPY is missing); save arrays with numpy.save",
        );
    }
    let (major, header_start) = (bytes[6], if bytes[6] == 1 { 10 } else { 12 });
    if !(1..=3).contains(&major) {
        return err(format!(
            "unsupported .npy format version {major}.{}",
            bytes[7]
        ));
    }
    if bytes.len() < header_start {
        return err("truncated .npy header");
    }
    let header_len = if major == 1 {
        u16::from_le_bytes([bytes[8], bytes[9]]) as usize
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    let Some(header_bytes) = bytes.get(header_start..header_start + header_len) else {
        return err("truncated .npy header");
    };
    let header = std::str::from_utf8(header_bytes)
        .map_err(|_| NpyError("the .npy header is not text".into()))?;
    let descr = header_value(header, "descr")?.trim_matches(|c| c == '\'' || c == '"');
    let (dtype, big_endian) = match descr {
        "<f8" => (Dtype::F64, false),
        ">f8" => (Dtype::F64, true),
        "<c16" => (Dtype::C128, false),
        ">c16" => (Dtype::C128, true),
        other => {
            return err(format!(
                "dtype `{other}` where {} (`{}`) is required; convert with numpy: np.save(path, a.astype(np.{}))",
                expected.numpy_name(),
                expected.descr(),
                expected.numpy_name()
            ));
        }
    };
    if dtype != expected {
        return err(format!(
            "dtype {} (`{descr}`) where {} (`{}`) is required",
            dtype.numpy_name(),
            expected.numpy_name(),
            expected.descr()
        ));
    }
    let fortran = match header_value(header, "fortran_order")? {
        "True" => true,
        "False" => false,
        other => {
            return err(format!(
                "unreadable fortran_order `{other}` in the .npy header"
            ));
        }
    };
    let shape_text = header_value(header, "shape")?;
    let inner = shape_text
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        shape.push(
            part.parse::<usize>().map_err(|_| {
                NpyError(format!("unreadable shape {shape_text} in the .npy header"))
            })?,
        );
    }
    let per = if dtype == Dtype::C128 { 2 } else { 1 };
    // Checked: a crafted shape must not overflow into a small byte count.
    let Some(needed) = shape
        .iter()
        .try_fold(8 * per, |acc: usize, &s| acc.checked_mul(s))
    else {
        return err(format!(
            "shape {shape_text} in the .npy header is too large to address (file corrupt)"
        ));
    };
    let count = needed / (8 * per);
    let body = &bytes[header_start + header_len..];
    if body.len() != needed {
        return err(format!(
            "the .npy body holds {} bytes but shape {shape_text} of {} needs {} (file truncated or corrupt)",
            body.len(),
            dtype.numpy_name(),
            8 * per * count
        ));
    }
    let mut data: Vec<f64> = body
        .chunks_exact(8)
        .map(|c| {
            let b: [u8; 8] = c.try_into().expect("chunks of 8");
            if big_endian {
                f64::from_be_bytes(b)
            } else {
                f64::from_le_bytes(b)
            }
        })
        .collect();
    if fortran && shape.len() > 1 {
        data = fortran_to_c(&data, &shape, per);
    }
    Ok(Array { dtype, shape, data })
}

/// Reorder column-major (first index fastest) values into row-major order.
fn fortran_to_c(data: &[f64], shape: &[usize], per: usize) -> Vec<f64> {
    let count: usize = shape.iter().product();
    let mut out = vec![0.0; data.len()];
    let mut idx = vec![0usize; shape.len()];
    for c_pos in 0..count {
        // idx is the multi-index of c_pos in C order; its Fortran position:
        let mut f_pos = 0;
        let mut stride = 1;
        for (k, &n) in shape.iter().enumerate() {
            f_pos += idx[k] * stride;
            stride *= n;
        }
        out[per * c_pos..per * (c_pos + 1)].copy_from_slice(&data[per * f_pos..per * (f_pos + 1)]);
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header_alignment() {
        let data: Vec<f64> = (0..12).map(|v| v as f64 * 0.5).collect();
        let bytes = encode(Dtype::F64, &[3, 4], &data);
        assert_eq!(
            (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        let a = decode(&bytes, Dtype::F64).unwrap();
        assert_eq!((a.shape, a.data), (vec![3, 4], data.clone()));
        let c = decode(&encode(Dtype::C128, &[2, 3], &data), Dtype::C128).unwrap();
        assert_eq!(c.shape, vec![2, 3]);
        assert_eq!(
            decode(&encode(Dtype::F64, &[12], &data), Dtype::F64)
                .unwrap()
                .shape,
            vec![12]
        );
    }

    /// Bytes exactly as numpy 1.26 writes `np.arange(6.).reshape(2, 3)` in Fortran order,
    /// big-endian (`np.asfortranarray(...).astype('>f8')`): header built by hand here.
    #[test]
    fn reads_fortran_order_and_big_endian() {
        let header = "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let padded = format!(
            "{header}{}\n",
            " ".repeat((header.len() + 11).next_multiple_of(64) - header.len() - 11)
        );
        bytes.extend_from_slice(&(padded.len() as u16).to_le_bytes());
        bytes.extend_from_slice(padded.as_bytes());
        // Column-major storage of [[0, 1, 2], [3, 4, 5]]: 0, 3, 1, 4, 2, 5.
        for v in [0.0f64, 3.0, 1.0, 4.0, 2.0, 5.0] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let a = decode(&bytes, Dtype::F64).unwrap();
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let mut f32_header = encode(Dtype::F64, &[2], &[1.0, 2.0]);
        let at = f32_header.windows(3).position(|w| w == b"<f8").unwrap();
        f32_header[at + 2] = b'4';
        let e = decode(&f32_header, Dtype::F64).unwrap_err().0;
        assert!(
            e.contains("`<f4`") && e.contains("astype(np.float64)"),
            "{e}"
        );
        let e = decode(&encode(Dtype::F64, &[2], &[1.0, 2.0]), Dtype::C128)
            .unwrap_err()
            .0;
        assert!(e.contains("complex128"), "{e}");
        let mut truncated = encode(Dtype::F64, &[4], &[1.0; 4]);
        truncated.truncate(truncated.len() - 3);
        assert!(
            decode(&truncated, Dtype::F64)
                .unwrap_err()
                .0
                .contains("truncated")
        );
        assert!(
            decode(b"hello world", Dtype::F64)
                .unwrap_err()
                .0
                .contains("numpy.save")
        );
    }
}
