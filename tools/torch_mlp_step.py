"""The training step of memprior's ε-prediction MLP in PyTorch on one CPU thread, for a side-by-side
ratio with `memprior prior bench` (issue 12).

Same network (input [x_t ; e(t)] with a 256-dim sinusoidal embedding, Linear → GELU, L residual
blocks x + GELU(LayerNorm(Linear(x))), Linear out), same recipe (batch 50, MSE on ε, Adam with
β = (0.9, 0.999), ε = 1e−8, cosine learning rate, global-norm clip 1, weight EMA), as an author using
PyTorch would write it: `torch.optim.Adam` (`--adam fused`, the default here and PyTorch's fastest CPU path, or its
multi-tensor `foreach` implementation),
`clip_grad_norm_`, and the EMA with `torch._foreach_mul_` / `torch._foreach_add_`.

Prints CSV lines `phase,median_ms,share` like `memprior prior bench`, then the steps per second.

    .venv/bin/python tools/torch_mlp_step.py --width 2048 --blocks 12 --steps 10

torch is installed into the project venv only for this benchmark (`just bench-train`), never for
the tests.
"""

import argparse
import math
import statistics
import time

import torch
from torch import nn


class Mlp(nn.Module):
    def __init__(self, dim: int, width: int, blocks: int, emb: int):
        super().__init__()
        self.emb = emb
        self.inp = nn.Linear(dim + emb, width)
        self.lins = nn.ModuleList([nn.Linear(width, width) for _ in range(blocks)])
        self.norms = nn.ModuleList([nn.LayerNorm(width) for _ in range(blocks)])
        self.out = nn.Linear(width, dim)
        self.act = nn.GELU()
        half = emb // 2
        self.register_buffer(
            "freqs", torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        args = t[:, None].float() * self.freqs[None, :]
        h = torch.cat([x, torch.sin(args), torch.cos(args)], dim=1)
        h = self.act(self.inp(h))
        for lin, norm in zip(self.lins, self.norms):
            h = h + self.act(norm(lin(h)))
        return self.out(h)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--emb", type=int, default=256)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--n-train", type=int, default=50)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--total-steps", type=int, default=50_000, help="for the cosine schedule")
    ap.add_argument("--ema", type=float, default=0.9999)
    ap.add_argument("--adam", choices=["foreach", "fused"], default="fused",
                    help="torch.optim.Adam implementation (fused: one C++ kernel per tensor)")
    args = ap.parse_args()
    if args.steps < 1:
        ap.error("--steps must be ≥ 1")

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = Mlp(args.dim, args.width, args.blocks, args.emb)
    params = list(net.parameters())
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=5e-4, betas=(0.9, 0.999), eps=1e-8,
                           **({"fused": True} if args.adam == "fused" else {"foreach": True}))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.total_steps, eta_min=5e-5)
    data = torch.randn(args.n_train, args.dim)
    betas = torch.linspace(1e-4, 0.02, 200, dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - betas, 0).float()
    n_params = sum(p.numel() for p in params)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread, {n_params} parameters, "
          f"capability {torch.backends.cpu.get_cpu_capability()}, Adam {args.adam}", flush=True)

    def step() -> tuple[float, float, float, float]:
        t0 = time.perf_counter()
        idx = torch.randint(0, args.n_train, (args.batch,))
        t = torch.randint(0, 200, (args.batch,))
        eps = torch.randn(args.batch, args.dim)
        ab = alpha_bar[t][:, None]
        x_t = ab.sqrt() * data[idx] + (1 - ab).sqrt() * eps
        t1 = time.perf_counter()
        loss = torch.mean((net(x_t, t) - eps) ** 2)
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            torch._foreach_mul_(ema, args.ema)
            torch._foreach_add_(ema, params, alpha=1 - args.ema)
        t4 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3

    for _ in range(2):
        step()
    times = [step() for _ in range(args.steps)]
    totals = [sum(x) for x in times]
    total = statistics.median(totals)
    print("phase,median_ms,share")
    for i, name in enumerate(["batch", "forward", "backward", "clip + Adam + EMA"]):
        med = statistics.median(x[i] for x in times)
        print(f"{name},{1e3 * med:.2f},{med / total:.3f}")
    print(f"step,{1e3 * total:.2f},1.000")
    print(f"# {1 / total:.2f} steps/s, median of {args.steps}", flush=True)


if __name__ == "__main__":
    main()
