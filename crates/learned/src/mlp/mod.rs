//! The forward and backward passes of the ε-prediction MLP, written for this one architecture on
//! faer's f32 matrix multiply (single-threaded, AVX-512 or AVX2 chosen at run time) and
//! vectorised element-wise kernels ([`crate::simd`]).
//!
//! With u = [x_t ; e(t)] (one row per batch member, activations row-major [B × width]):
//!
//! a₀ = u W_in + b_in,  h₀ = GELU(a₀);
//! aₗ = hₗ₋₁ Wₗ + bₗ,  x̂ₗ = (aₗ − mean) / √(var + 10⁻⁵),  nₗ = γₗ ⊙ x̂ₗ + βₗ,  hₗ = hₗ₋₁ + GELU(nₗ);
//! ε̂ = h_L W_out + b_out.
//!
//! The backward pass returns, for every linear layer, its input X and the gradient dA of its
//! output, so that the weight gradient Xᵀ dA can be formed tile by tile where the optimizer
//! consumes it ([`crate::optim`]), plus the small gradients (biases, LayerNorm scales and shifts)
//! and, on request, the gradient with respect to x_t (the denoiser's vector–Jacobian product).
//! burn's reverse-mode autodiff of the same network is the oracle of the tests.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::net::MlpConfig;
use crate::simd;

mod grad;
pub use grad::{Backward, backward, small_gradients, weight_grad_norm2};

const LN_EPS: f32 = 1e-5;

/// c (=|+=) op(a) · op(b) for row-major buffers: `a` is stored [m × k] (or [k × m] when `ta`),
/// `b` is stored [k × n] (or [n × k] when `tb`), `c` is [m × n].
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    add: bool,
) {
    let av = if ta {
        MatRef::from_row_major_slice(a, k, m).transpose()
    } else {
        MatRef::from_row_major_slice(a, m, k)
    };
    let bv = if tb {
        MatRef::from_row_major_slice(b, n, k).transpose()
    } else {
        MatRef::from_row_major_slice(b, k, n)
    };
    let cv = MatMut::from_row_major_slice_mut(c, m, n);
    matmul(
        cv,
        if add { Accum::Add } else { Accum::Replace },
        av,
        bv,
        1.0f32,
        Par::Seq,
    );
}

/// Offsets of the parameter tensors in one flat buffer, in the order of [`MlpConfig::shapes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The architecture.
    pub config: MlpConfig,
    /// Start of each tensor; the last entry is the total length.
    pub offsets: Vec<usize>,
    /// [rows, cols] of each tensor.
    pub shapes: Vec<[usize; 2]>,
}

impl Layout {
    /// The layout of `config`.
    pub fn new(config: MlpConfig) -> Self {
        let shapes = config.shapes();
        let mut offsets = Vec::with_capacity(shapes.len() + 1);
        let mut at = 0;
        offsets.push(0);
        for [r, c] in &shapes {
            at += r * c;
            offsets.push(at);
        }
        Self {
            config,
            offsets,
            shapes,
        }
    }

    /// Total number of parameters.
    pub fn len(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The range of tensor `k` in the flat buffer.
    pub fn range(&self, k: usize) -> std::ops::Range<usize> {
        self.offsets[k]..self.offsets[k + 1]
    }

    /// Index of the output layer's weight (W_out); its bias follows.
    pub fn out_index(&self) -> usize {
        2 + 4 * self.config.blocks
    }

    /// Split a flat buffer into per-tensor buffers.
    pub fn split(&self, flat: &[f32]) -> Vec<Vec<f32>> {
        (0..self.shapes.len())
            .map(|k| flat[self.range(k)].to_vec())
            .collect()
    }
}

/// What the forward pass keeps for the backward pass.
#[derive(Debug, Clone)]
pub struct Tape {
    /// Batch size B.
    pub batch: usize,
    /// Network input u = [x_t ; e(t)], [B × (dim + E)].
    pub input: Vec<f32>,
    /// a₀, the input layer's pre-activation, [B × W].
    pub a0: Vec<f32>,
    /// h₀ … h_L, [B × W] each.
    pub h: Vec<Vec<f32>>,
    /// Per block: x̂ₗ, [B × W].
    pub xhat: Vec<Vec<f32>>,
    /// Per block: nₗ = γ ⊙ x̂ + β, [B × W].
    pub norm: Vec<Vec<f32>>,
    /// Per block: 1/√(var + ε) of each row, [B].
    pub rstd: Vec<Vec<f32>>,
    /// ε̂, [B × dim].
    pub out: Vec<f32>,
}

fn add_bias(rows: &mut [f32], bias: &[f32]) {
    for row in rows.chunks_exact_mut(bias.len()) {
        for (r, b) in row.iter_mut().zip(bias) {
            *r += b;
        }
    }
}

/// Column sums of a row-major [rows × cols] buffer, added into `acc`.
fn add_colsum(acc: &mut [f32], rows: &[f32]) {
    for row in rows.chunks_exact(acc.len()) {
        for (a, r) in acc.iter_mut().zip(row) {
            *a += r;
        }
    }
}

/// The forward pass on `input` = [x_t ; e(t)] rows (B × (dim + E)) with flat parameters `p`.
pub fn forward(layout: &Layout, p: &[f32], input: Vec<f32>, batch: usize) -> Tape {
    let cfg = layout.config;
    let (w, d, blocks) = (cfg.width, cfg.dim, cfg.blocks);
    let inw = cfg.dim + cfg.time_embedding;
    debug_assert_eq!(input.len(), batch * inw);
    {
        let mut a0 = vec![0f32; batch * w];
        gemm(
            &mut a0,
            &input,
            &p[layout.range(0)],
            batch,
            inw,
            w,
            false,
            false,
            false,
        );
        add_bias(&mut a0, &p[layout.range(1)]);
        let mut h0 = vec![0f32; batch * w];
        simd::gelu(&a0, &mut h0);
        let mut h = Vec::with_capacity(blocks + 1);
        h.push(h0);
        let (mut xhat, mut norm, mut rstd) = (
            Vec::with_capacity(blocks),
            Vec::with_capacity(blocks),
            Vec::with_capacity(blocks),
        );
        for l in 0..blocks {
            let k = 2 + 4 * l;
            let prev = &h[l];
            let mut a = vec![0f32; batch * w];
            gemm(
                &mut a,
                prev,
                &p[layout.range(k)],
                batch,
                w,
                w,
                false,
                false,
                false,
            );
            add_bias(&mut a, &p[layout.range(k + 1)]);
            let (gamma, beta) = (&p[layout.range(k + 2)], &p[layout.range(k + 3)]);
            let mut rs = vec![0f32; batch];
            let mut n = vec![0f32; batch * w];
            for (r, (row, nrow)) in a.chunks_exact_mut(w).zip(n.chunks_exact_mut(w)).enumerate() {
                let mean = row.iter().sum::<f32>() / w as f32;
                let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / w as f32;
                let s = 1.0 / (var + LN_EPS).sqrt();
                rs[r] = s;
                for (((x, o), g), b) in row.iter_mut().zip(nrow.iter_mut()).zip(gamma).zip(beta) {
                    *x = (*x - mean) * s;
                    *o = g * *x + b;
                }
            }
            let mut next = prev.clone();
            simd::add_gelu(&n, &mut next);
            h.push(next);
            xhat.push(a);
            norm.push(n);
            rstd.push(rs);
        }
        let ko = layout.out_index();
        let mut out = vec![0f32; batch * d];
        gemm(
            &mut out,
            &h[blocks],
            &p[layout.range(ko)],
            batch,
            w,
            d,
            false,
            false,
            false,
        );
        add_bias(&mut out, &p[layout.range(ko + 1)]);
        Tape {
            batch,
            input,
            a0,
            h,
            xhat,
            norm,
            rstd,
            out,
        }
    }
}
