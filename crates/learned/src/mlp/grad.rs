//! The backward pass of the network and the gradient norms of its weights.

use super::*;

/// What the backward pass returns.
#[derive(Debug, Clone)]
pub struct Backward {
    /// Gradient of each linear layer's output, in parameter order: the input layer, the blocks,
    /// the output layer ([B × out] each). The weight gradient of layer j is Xⱼᵀ dAⱼ with Xⱼ its
    /// input ([`Backward::layer_input`]).
    pub d_out: Vec<Vec<f32>>,
    /// Per block: the gradients of γ and β.
    pub d_gamma_beta: Vec<(Vec<f32>, Vec<f32>)>,
    /// ∂/∂x_t, [B × dim], when requested.
    pub d_x: Option<Vec<f32>>,
}

impl Backward {
    /// The input of linear layer j (0: the network input, 1 … L: hⱼ₋₁, L + 1: h_L).
    pub fn layer_input(tape: &Tape, j: usize) -> &[f32] {
        if j == 0 { &tape.input } else { &tape.h[j - 1] }
    }
}

/// Reverse pass for the gradient `g_out` of the loss with respect to ε̂ ([B × dim]).
pub fn backward(
    layout: &Layout,
    p: &[f32],
    tape: &Tape,
    g_out: Vec<f32>,
    want_dx: bool,
) -> Backward {
    let cfg = layout.config;
    let (w, d, blocks, b) = (cfg.width, cfg.dim, cfg.blocks, tape.batch);
    let inw = cfg.dim + cfg.time_embedding;
    {
        let ko = layout.out_index();
        // dh_L = dε̂ W_outᵀ
        let mut dh = vec![0f32; b * w];
        gemm(
            &mut dh,
            &g_out,
            &p[layout.range(ko)],
            b,
            d,
            w,
            false,
            true,
            false,
        );
        let mut d_blocks: Vec<Vec<f32>> = Vec::with_capacity(blocks);
        let mut d_gamma_beta = Vec::with_capacity(blocks);
        let mut dn = vec![0f32; b * w];
        for l in (0..blocks).rev() {
            let k = 2 + 4 * l;
            let gamma = &p[layout.range(k + 2)];
            simd::gelu_backward(&tape.norm[l], &dh, &mut dn);
            let (mut dgamma, mut dbeta) = (vec![0f32; w], vec![0f32; w]);
            let mut da = vec![0f32; b * w];
            for r in 0..b {
                let xr = &tape.xhat[l][r * w..(r + 1) * w];
                let dnr = &dn[r * w..(r + 1) * w];
                let dar = &mut da[r * w..(r + 1) * w];
                let (mut sum_g, mut sum_gx) = (0f32, 0f32);
                for j in 0..w {
                    dgamma[j] += dnr[j] * xr[j];
                    dbeta[j] += dnr[j];
                    let g = dnr[j] * gamma[j];
                    dar[j] = g;
                    sum_g += g;
                    sum_gx += g * xr[j];
                }
                let (mg, mgx, s) = (sum_g / w as f32, sum_gx / w as f32, tape.rstd[l][r]);
                for (a, x) in dar.iter_mut().zip(xr) {
                    *a = s * (*a - mg - x * mgx);
                }
            }
            // dhₗ₋₁ = dhₗ (residual) + daₗ Wₗᵀ
            gemm(
                &mut dh,
                &da,
                &p[layout.range(k)],
                b,
                w,
                w,
                false,
                true,
                true,
            );
            d_blocks.push(da);
            d_gamma_beta.push((dgamma, dbeta));
        }
        d_blocks.reverse();
        d_gamma_beta.reverse();
        let mut da0 = vec![0f32; b * w];
        simd::gelu_backward(&tape.a0, &dh, &mut da0);
        let d_x = want_dx.then(|| {
            let mut du = vec![0f32; b * inw];
            gemm(
                &mut du,
                &da0,
                &p[layout.range(0)],
                b,
                w,
                inw,
                false,
                true,
                false,
            );
            du.chunks_exact(inw)
                .flat_map(|row| row[..d].iter().copied())
                .collect()
        });
        let mut d_out = Vec::with_capacity(blocks + 2);
        d_out.push(da0);
        d_out.extend(d_blocks);
        d_out.push(g_out);
        Backward {
            d_out,
            d_gamma_beta,
            d_x,
        }
    }
}

/// The flat gradient of every small tensor (biases, γ, β) in a buffer of the full layout, the
/// weight matrices' entries left at zero.
pub fn small_gradients(layout: &Layout, back: &Backward) -> Vec<(usize, Vec<f32>)> {
    let blocks = layout.config.blocks;
    let mut out = Vec::with_capacity(2 + 3 * blocks);
    let bias = |d: &[f32], len: usize| {
        let mut acc = vec![0f32; len];
        add_colsum(&mut acc, d);
        acc
    };
    let w = layout.config.width;
    out.push((1, bias(&back.d_out[0], w)));
    for l in 0..blocks {
        let k = 2 + 4 * l;
        out.push((k + 1, bias(&back.d_out[l + 1], w)));
        out.push((k + 2, back.d_gamma_beta[l].0.clone()));
        out.push((k + 3, back.d_gamma_beta[l].1.clone()));
    }
    out.push((
        layout.out_index() + 1,
        bias(&back.d_out[blocks + 1], layout.config.dim),
    ));
    out
}

/// ‖Xᵀ dA‖²_F without forming Xᵀ dA: Σᵢⱼ (X Xᵀ)ᵢⱼ (dA dAᵀ)ᵢⱼ, two B × B Gram matrices.
pub fn weight_grad_norm2(x: &[f32], da: &[f32], batch: usize) -> f64 {
    let (nin, nout) = (x.len() / batch, da.len() / batch);
    let mut gx = vec![0f32; batch * batch];
    let mut ga = vec![0f32; batch * batch];
    {
        gemm(&mut gx, x, x, batch, nin, batch, false, true, false);
        gemm(&mut ga, da, da, batch, nout, batch, false, true, false);
    };
    gx.iter()
        .zip(&ga)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum()
}
