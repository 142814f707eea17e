//! The hand-written passes of `learned::mlp` against burn's reverse-mode autodiff of the same
//! network: outputs, every parameter gradient, the input VJP and the global gradient norm agree to
//! f32 tolerance, on a small network with non-trivial LayerNorm parameters.

use burn::tensor::activation::gelu;
use burn::tensor::module::layer_norm;
use burn::tensor::{Device, Tensor, TensorData};
use learned::mlp::{self, Backward, Layout};
use learned::{HostParams, MlpConfig};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn tensor(v: &[f32], shape: [usize; 2], dev: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), dev)
}

fn host(t: &Tensor<2>) -> Vec<f32> {
    t.to_data().try_to_vec::<f32>().unwrap()
}

/// The network in burn: the specification the hand-written passes must match.
fn burn_forward(cfg: &MlpConfig, p: &[Tensor<2>], input: Tensor<2>) -> Tensor<2> {
    let w = cfg.width;
    let mut h = gelu(input.matmul(p[0].clone()).add(p[1].clone()));
    for l in 0..cfg.blocks {
        let q = &p[2 + 4 * l..6 + 4 * l];
        let a = h.clone().matmul(q[0].clone()).add(q[1].clone());
        let gamma: Tensor<1> = q[2].clone().reshape([w]);
        let beta: Tensor<1> = q[3].clone().reshape([w]);
        h = h + gelu(layer_norm(a, gamma, Some(beta), 1e-5));
    }
    let k = 2 + 4 * cfg.blocks;
    h.matmul(p[k].clone()).add(p[k + 1].clone())
}

/// Every parameter gradient, one buffer per tensor: weights as Xᵀ dA by plain loops, the small
/// tensors from the library's column sums.
fn naive_gradients(layout: &Layout, tape: &mlp::Tape, back: &Backward) -> Vec<Vec<f32>> {
    let blocks = layout.config.blocks;
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); layout.shapes.len()];
    for (j, da) in back.d_out.iter().enumerate() {
        let k = if j == 0 {
            0
        } else if j <= blocks {
            2 + 4 * (j - 1)
        } else {
            layout.out_index()
        };
        let [nin, nout] = layout.shapes[k];
        let xin = Backward::layer_input(tape, j);
        let mut g = vec![0f32; nin * nout];
        for r in 0..tape.batch {
            for p in 0..nin {
                for q in 0..nout {
                    g[p * nout + q] += xin[r * nin + p] * da[r * nout + q];
                }
            }
        }
        out[k] = g;
    }
    for (k, g) in mlp::small_gradients(layout, back) {
        out[k] = g;
    }
    out
}

fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    let scale = b
        .iter()
        .map(|v| f64::from(v.abs()))
        .fold(0.0, f64::max)
        .max(1e-30);
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn hand_written_passes_match_burn_autodiff() {
    let cfg = MlpConfig {
        dim: 10,
        width: 48,
        blocks: 3,
        time_embedding: 16,
    };
    let layout = Layout::new(cfg);
    let mut params = HostParams::init(cfg, 7);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // LayerNorm scales and shifts away from 1 and 0, so that their gradients are exercised.
    for l in 0..cfg.blocks {
        for v in &mut params.tensors[4 + 4 * l] {
            *v = rng.random_range(0.5..1.5);
        }
        for v in &mut params.tensors[5 + 4 * l] {
            *v = rng.random_range(-0.3..0.3);
        }
    }
    let b = 9;
    let inw = cfg.dim + cfg.time_embedding;
    let input: Vec<f32> = (0..b * inw).map(|_| rng.random_range(-2.0..2.0)).collect();
    let target: Vec<f32> = (0..b * cfg.dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();

    // burn: loss = mean (ε̂ − ε)², gradients of every parameter and of the input.
    let dev = Device::flex();
    let leaves: Vec<Tensor<2>> = params
        .tensors
        .iter()
        .zip(cfg.shapes())
        .map(|(t, s)| tensor(t, s, &dev).autodiff().require_grad())
        .collect();
    let x = tensor(&input, [b, inw], &dev).autodiff().require_grad();
    let out = burn_forward(&cfg, &leaves, x.clone());
    let loss = (out.clone() - tensor(&target, [b, cfg.dim], &dev))
        .powi_scalar(2)
        .mean();
    let grads = loss.backward();
    let want_out = host(&out.inner());
    let want_grads: Vec<Vec<f32>> = leaves
        .iter()
        .map(|p| host(&p.grad(&grads).unwrap()))
        .collect();
    let want_dx = host(&x.grad(&grads).unwrap());

    // Ours.
    let flat = params.tensors.concat();
    let tape = mlp::forward(&layout, &flat, input.clone(), b);
    assert!(
        max_rel(&tape.out, &want_out) < 1e-5,
        "forward: {:e}",
        max_rel(&tape.out, &want_out)
    );
    let scale = 2.0 / (b * cfg.dim) as f32;
    let g_out: Vec<f32> = tape
        .out
        .iter()
        .zip(&target)
        .map(|(o, t)| scale * (o - t))
        .collect();
    let back = mlp::backward(&layout, &flat, &tape, g_out, true);
    let ours = naive_gradients(&layout, &tape, &back);
    for (k, (o, w)) in ours.iter().zip(&want_grads).enumerate() {
        assert_eq!(o.len(), w.len(), "tensor {k}");
        let e = max_rel(o, w);
        assert!(
            e < 2e-4,
            "gradient of tensor {k} {:?}: relative error {e:e}",
            layout.shapes[k]
        );
    }
    // The input VJP (first `dim` columns of ∂L/∂u).
    let want_dx: Vec<f32> = want_dx
        .chunks_exact(inw)
        .flat_map(|r| r[..cfg.dim].to_vec())
        .collect();
    let e = max_rel(back.d_x.as_deref().unwrap(), &want_dx);
    assert!(e < 2e-4, "input gradient: relative error {e:e}");
    // The global norm by Gram matrices equals the direct sum of squares.
    let direct: f64 = want_grads
        .iter()
        .flatten()
        .map(|v| f64::from(*v).powi(2))
        .sum();
    let gram = learned::optim::grad_norm2(&layout, &tape, &back);
    assert!(
        (gram / direct - 1.0).abs() < 1e-4,
        "norm² {gram} against {direct}"
    );
}

#[test]
fn the_fused_step_equals_a_plain_adam_and_ema() {
    use learned::optim::{OptimState, apply};
    let cfg = MlpConfig {
        dim: 6,
        width: 40,
        blocks: 2,
        time_embedding: 8,
    };
    let layout = Layout::new(cfg);
    let p0 = HostParams::init(cfg, 11).tensors.concat();
    let n = p0.len();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let b = 5;
    let input: Vec<f32> = (0..b * 14).map(|_| rng.random_range(-1.0..1.0)).collect();
    let g_out: Vec<f32> = (0..b * 6).map(|_| rng.random_range(-1.0..1.0)).collect();
    let tape = mlp::forward(&layout, &p0, input, b);
    let back = mlp::backward(&layout, &p0, &tape, g_out, false);
    // The full gradient, flat, formed naively.
    let g = naive_gradients(&layout, &tape, &back).concat();
    assert_eq!(g.len(), n);
    let m0: Vec<f32> = (0..n).map(|_| rng.random_range(-0.01..0.01)).collect();
    let v0: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..1e-4)).collect();
    let e0: Vec<f32> = p0.iter().map(|v| v + 0.01).collect();
    let s = learned::optim::AdamStep {
        clip: 0.7,
        beta1: 0.9,
        beta2: 0.999,
        inv_bias1: 1.0 / (1.0 - 0.9f32.powi(3)),
        inv_bias2: 1.0 / (1.0 - 0.999f32.powi(3)),
        lr: 1e-3,
        eps: 1e-8,
        decay: 0.99,
    };
    let mut p = p0.clone();
    let mut st = OptimState {
        m: m0.clone(),
        v: v0.clone(),
        ema: e0.clone(),
    };
    apply(&layout, &mut p, &mut st, &tape, &back, &s);
    for i in 0..n {
        let gi = f64::from(g[i]) * 0.7;
        let m = 0.9 * f64::from(m0[i]) + 0.1 * gi;
        let v = 0.999 * f64::from(v0[i]) + 0.001 * gi * gi;
        let pi = f64::from(p0[i])
            - 1e-3 * (m / (1.0 - 0.9f64.powi(3))) / ((v / (1.0 - 0.999f64.powi(3))).sqrt() + 1e-8);
        let e = 0.99 * f64::from(e0[i]) + 0.01 * pi;
        // Tolerances from the size of each term: the tile multiply and the naive sum above round
        // the gradient differently (relative 1e-5 at most for these sizes).
        let tol_m = 2e-5 * (0.9 * f64::from(m0[i]).abs() + 0.1 * gi.abs());
        let tol_v = 4e-5 * (0.999 * f64::from(v0[i]) + 0.001 * gi * gi);
        let tol_p = 2e-6 * pi.abs().max(1e-2) + 1e-3 * 1e-3;
        assert!(
            (f64::from(st.m[i]) - m).abs() <= tol_m,
            "m[{i}]: {} vs {m}",
            st.m[i]
        );
        assert!(
            (f64::from(st.v[i]) - v).abs() <= tol_v,
            "v[{i}]: {} vs {v}",
            st.v[i]
        );
        assert!(
            (f64::from(p[i]) - pi).abs() <= tol_p,
            "p[{i}]: {} vs {pi}",
            p[i]
        );
        assert!(
            (f64::from(st.ema[i]) - e).abs() <= tol_p,
            "ema[{i}]: {} vs {e}",
            st.ema[i]
        );
    }
}
