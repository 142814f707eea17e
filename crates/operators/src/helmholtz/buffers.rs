//! Per-operator buffers kept between models, the pooled blocks, and the scalings applied on the way
//! into and out of the factors.

use super::*;

/// X ← E Y in the precision of X (`convert`), for a dense or sparse Y.
pub(super) fn scale_in<T: Copy>(
    y: refine::Block<'_>,
    x: &mut [T],
    k: usize,
    e: &[f64],
    convert: impl Fn(c64) -> T,
) {
    match y {
        refine::Block::Dense(y) => {
            for ((xi, yi), &ei) in x.chunks_exact_mut(k).zip(y.chunks_exact(k)).zip(e) {
                for (a, &b) in xi.iter_mut().zip(yi) {
                    *a = convert(b * ei);
                }
            }
        }
        refine::Block::Sparse(nonzeros) => {
            x.fill(convert(c64::new(0.0, 0.0)));
            for &(i, j, v) in nonzeros {
                x[i * k + j] = convert(v * e[i]);
            }
        }
    }
}

/// A block of `len` values from a pool, its contents arbitrary but initialised (every caller
/// writes it whole), or a new one on huge pages.
pub(super) fn pooled_block<T: Copy>(
    pool: &std::sync::Mutex<Vec<Vec<T>>>,
    len: usize,
    zero: T,
) -> Vec<T> {
    let mut v = pool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    if v.capacity() < len {
        v = pages::filled(len, zero);
    } else {
        v.resize(len, zero);
    }
    v
}

/// Return a vector to its pool (at most four are kept).
pub(super) fn pool_return<T>(pool: &std::sync::Mutex<Vec<Vec<T>>>, v: Vec<T>) {
    if let Ok(mut p) = pool.lock()
        && p.len() < 4
    {
        p.push(v);
    }
}

impl Buffers {
    /// A row-major block of `len` values, written whole by the caller ([`pooled_block`]).
    pub(super) fn rows_any(&self, len: usize) -> Vec<c64> {
        pooled_block(&self.rows, len, c64::new(0.0, 0.0))
    }

    pub(super) fn give_rows(&self, v: Vec<c64>) {
        pool_return(&self.rows, v);
    }

    /// As [`Buffers::rows_any`] in complex f32.
    pub(super) fn rows32(&self, len: usize) -> Vec<c32> {
        pooled_block(&self.rows32, len, c32::new(0.0, 0.0))
    }

    pub(super) fn give_rows32(&self, v: Vec<c32>) {
        pool_return(&self.rows32, v);
    }

    /// A zero matrix of this shape, reusing a returned one if any.
    pub(super) fn zeros(&self, nrows: usize, ncols: usize) -> Mat<c64> {
        let mut mats = self.mats.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = mats
            .iter()
            .position(|m| m.nrows() == nrows && m.ncols() == ncols)
        {
            let mut m = mats.swap_remove(i);
            m.fill(c64::new(0.0, 0.0));
            return m;
        }
        Mat::zeros(nrows, ncols)
    }

    /// A matrix of this shape with arbitrary (initialised) contents, for a caller that writes
    /// every entry: a returned one if any, else zeros.
    pub(super) fn any(&self, nrows: usize, ncols: usize) -> Mat<c64> {
        let mut mats = self.mats.lock().unwrap_or_else(|e| e.into_inner());
        match mats
            .iter()
            .position(|m| m.nrows() == nrows && m.ncols() == ncols)
        {
            Some(i) => mats.swap_remove(i),
            None => Mat::zeros(nrows, ncols),
        }
    }

    pub(super) fn give_mat(&self, m: Mat<c64>) {
        if let Ok(mut mats) = self.mats.lock()
            && mats.len() < 4
        {
            mats.push(m);
        }
    }

    /// A copy of `src`, reusing a returned vector if any.
    pub(super) fn copy_of(&self, src: &[c64]) -> Vec<c64> {
        self.map_of(src.iter().copied())
    }

    /// A pooled vector holding the values of `values`, in one pass.
    pub(super) fn map_of(&self, values: impl Iterator<Item = c64>) -> Vec<c64> {
        let mut vecs = self.vecs.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = vecs.pop().unwrap_or_default();
        drop(vecs);
        v.clear();
        v.extend(values);
        v
    }

    /// [`refine::PermutedPattern::rows_of`] into a pooled vector.
    pub(super) fn rows_of(
        &self,
        pattern: &refine::PermutedPattern,
        values: &[c64],
        transpose: bool,
    ) -> Vec<c64> {
        let mut vecs = self.vecs.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = vecs.pop().unwrap_or_default();
        drop(vecs);
        pattern.rows_of_into(values, transpose, &mut v);
        v
    }

    pub(super) fn give_vec(&self, v: Vec<c64>) {
        if let Ok(mut vecs) = self.vecs.lock()
            && vecs.len() < 6
        {
            vecs.push(v);
        }
    }
}

/// S = diag(s_{x,i} s_{z,j}) on the padded grid: S A is complex symmetric.
pub(super) fn stretch_scale(ax: &PmlAxis, az: &PmlAxis) -> Vec<c64> {
    let nzp = az.stretch.len();
    (0..ax.stretch.len() * nzp)
        .map(|q| ax.stretch[q / nzp] * az.stretch[q % nzp])
        .collect()
}

/// `out[(q, j)]` ← output(q, z[perm_inv[q] k + j]): a row-major block in a factor's numbering
/// (`perm_inv[q]` the row of unknown q) out to the natural-order matrix, a block of unknowns at
/// a time (the block's rows of z stay in cache while every column is written), the next
/// block's rows, scattered in z, requested meanwhile.
pub(super) fn permute_out(
    z: &[c64],
    perm_inv: &[usize],
    k: usize,
    out: &mut Mat<c64>,
    output: impl Fn(usize, c64) -> c64,
) {
    const ROWS: usize = 64;
    let n = perm_inv.len();
    for &i in &perm_inv[..ROWS.min(n)] {
        super::cplx::prefetch(z[i * k..].as_ptr(), k);
    }
    for q0 in (0..n).step_by(ROWS) {
        let q1 = (q0 + ROWS).min(n);
        for &i in &perm_inv[q1..(q1 + ROWS).min(n)] {
            super::cplx::prefetch(z[i * k..].as_ptr(), k);
        }
        for j in 0..k {
            let mut col = out.col_mut(j);
            for q in q0..q1 {
                col[q] = output(q, z[perm_inv[q] * k + j]);
            }
        }
    }
}
