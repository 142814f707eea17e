//! The optimizer step fused into one pass over flat host buffers.
//!
//! The global gradient norm is known before any weight gradient exists: for a linear layer with
//! input X [B × in] and output gradient dA [B × out], ‖Xᵀ dA‖²_F = Σᵢⱼ (X Xᵀ)ᵢⱼ (dA dAᵀ)ᵢⱼ costs two
//! B × B Gram matrices ([`crate::mlp::weight_grad_norm2`]). Then each weight gradient is formed a
//! tile of rows at a time, into a buffer that stays in cache, and consumed at once by the fused
//! Adam + clip + EMA update of [`crate::simd::adam_ema`]: the full gradient (4 bytes a parameter)
//! is never written to memory, and parameters, moments and EMA are each read and written once.

use crate::mlp::{Backward, Layout, Tape, small_gradients, weight_grad_norm2};
use crate::simd;
pub use crate::simd::AdamStep;

/// Adam's moments and the weight EMA, flat in the parameters' layout.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimState {
    /// First moments.
    pub m: Vec<f32>,
    /// Second moments.
    pub v: Vec<f32>,
    /// EMA of the weights.
    pub ema: Vec<f32>,
}

/// Elements of one weight-gradient tile (64 KiB of f32: it stays in L2 between the multiply that
/// writes it and the update that reads it).
const TILE: usize = 16 * 1024;

/// The squared global norm of the gradient described by `back`.
pub fn grad_norm2(layout: &Layout, tape: &Tape, back: &Backward) -> f64 {
    let b = tape.batch;
    let mut total = 0f64;
    for (j, da) in back.d_out.iter().enumerate() {
        total += weight_grad_norm2(Backward::layer_input(tape, j), da, b);
    }
    for (_, g) in small_gradients(layout, back) {
        total += g.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>();
    }
    total
}

/// Parameter index of linear layer j (0 input, 1 … L blocks, L + 1 output).
fn weight_index(layout: &Layout, j: usize) -> usize {
    if j == 0 {
        0
    } else if j <= layout.config.blocks {
        2 + 4 * (j - 1)
    } else {
        layout.out_index()
    }
}

/// Apply one step: every weight gradient is formed tile by tile and consumed by the fused update.
pub fn apply(
    layout: &Layout,
    p: &mut [f32],
    st: &mut OptimState,
    tape: &Tape,
    back: &Backward,
    s: &AdamStep,
) {
    let b = tape.batch;
    {
        let mut tile = vec![0f32; TILE.max(layout.config.width.max(layout.config.dim))];
        for (j, da) in back.d_out.iter().enumerate() {
            let k = weight_index(layout, j);
            let [nin, nout] = layout.shapes[k];
            let x = Backward::layer_input(tape, j);
            let rows = (TILE / nout).max(1);
            let base = layout.offsets[k];
            let mut r0 = 0;
            while r0 < nin {
                let r1 = (r0 + rows).min(nin);
                let range = base + r0 * nout..base + r1 * nout;
                let g = &mut tile[..(r1 - r0) * nout];
                // Rows r0..r1 of Xᵀ dA: (X[:, r0..r1])ᵀ dA.
                let xv = faer::MatRef::from_row_major_slice(x, b, nin)
                    .subcols(r0, r1 - r0)
                    .transpose();
                let dv = faer::MatRef::from_row_major_slice(da, b, nout);
                let gv = faer::MatMut::from_row_major_slice_mut(g, r1 - r0, nout);
                faer::linalg::matmul::matmul(
                    gv,
                    faer::Accum::Replace,
                    xv,
                    dv,
                    1.0f32,
                    faer::Par::Seq,
                );
                simd::adam_ema(
                    &mut p[range.clone()],
                    &mut st.m[range.clone()],
                    &mut st.v[range.clone()],
                    &mut st.ema[range],
                    g,
                    s,
                );
                r0 = r1;
            }
        }
        for (k, g) in small_gradients(layout, back) {
            let range = layout.range(k);
            simd::adam_ema(
                &mut p[range.clone()],
                &mut st.m[range.clone()],
                &mut st.v[range.clone()],
                &mut st.ema[range],
                &g,
                s,
            );
        }
    };
}
