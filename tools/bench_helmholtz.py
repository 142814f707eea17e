#!/usr/bin/env python3
"""Side-by-side timing of the Helmholtz gradient: memprior against the SciPy baseline.

For each geometry preset: write the geometry, a current model (training draw 0) and observed data
(the experiment's true model), then alternate, `--repeats` times (interleaved, so all see the
same machine state):

- the whole `memprior helmholtz gradient` command (process start, `.npy` reading, ordering and
  symbolic analysis, factorisation, solves, writing);
- the whole `tools/scipy_helmholtz.py gradient` command (SuperLU of A and of Aᴴ, one solve per
  right-hand side; the time it reports excludes assembly), run with OPENBLAS_CORETYPE and
  OPENBLAS_L2_SIZE removed from its environment and one OpenBLAS thread (`--scipy-blas-threads`);
- `memprior helmholtz bench --solver S` for the per-model gradient with the setup amortized, as
  in DPS (median of its own `--bench-repeats`).

Then check that the two gradients agree and write one CSV row per preset with medians and ratios.

    bench_helmholtz.py --memprior PATH --out DIR [--presets small,paper] [--repeats 3] [--solver ldlt-metis]
"""

import argparse
import csv
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None):
    """Run a command; return (wall seconds, stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return elapsed, proc.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memprior", required=True, help="path of the memprior binary")
    ap.add_argument("--out", required=True, help="output directory of helmholtz_scipy.csv")
    ap.add_argument("--presets", default="small,paper")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--solver", default="ldlt-metis", help="solver of the per-model bench")
    ap.add_argument("--bench-repeats", type=int, default=3)
    ap.add_argument("--scipy-blas-threads", type=int, default=1,
                    help="OPENBLAS_NUM_THREADS for SciPy (0: OpenBLAS's default). One thread, like memprior: "
                         "on a shared 2-core machine OpenBLAS's spinning worker threads were measured to slow "
                         "SuperLU by 3-70x (0.7 s to 53 s for the same splu), which would flatter the ratio")
    args = ap.parse_args()
    scipy_env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if args.scipy_blas_threads > 0:
        scipy_env["OPENBLAS_NUM_THREADS"] = str(args.scipy_blas_threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            f = lambda name: os.path.join(tmp, f"{preset}_{name}")  # noqa: E731
            geom, v_true, v_cur, data = f("g.toml"), f("v_true.npy"), f("v.npy"), f("d.npy")
            run([args.memprior, "helmholtz", "geometry", "--preset", preset, "--out", geom])
            run([args.memprior, "helmholtz", "model", "--preset", preset, "--kind", "true", "--out", v_true])
            run([args.memprior, "helmholtz", "model", "--preset", preset, "--kind", "train:0", "--out", v_cur])
            run([args.memprior, "helmholtz", "forward", "--model", v_true, "--geometry", geom, "--out", data])
            common = ["--model", v_cur, "--data", data, "--sigma-d", "0.01", "--geometry", geom]
            rust_cmd = [args.memprior, "helmholtz", "gradient", *common, "--out", f("g_rust.npy")]
            scipy_cmd = [sys.executable, os.path.join(HERE, "scipy_helmholtz.py"), "gradient", *common, "--out", f("g_scipy.npy")]
            bench_dir = os.path.join(tmp, f"{preset}_bench")
            bench_cmd = [args.memprior, "helmholtz", "bench", "--geometry", geom, "--solver", args.solver,
                         "--repeats", str(args.bench_repeats), "--out", bench_dir]
            rust_wall, scipy_wall, rust_core, scipy_core, per_model = [], [], [], [], []
            for _ in range(args.repeats):
                t, err = run(rust_cmd)
                rust_wall.append(t)
                rust_core.append(float(re.search(r"forward/adjoint solves ([0-9.]+) s", err).group(1)))
                t, err = run(scipy_cmd, env=scipy_env)
                scipy_wall.append(t)
                scipy_core.append(float(re.search(r"; ([0-9.]+) s", err).group(1)))
                run(bench_cmd)
                with open(os.path.join(bench_dir, f"helmholtz_solvers_{preset}_g.csv")) as fh:
                    per_model.append(float(next(csv.DictReader(fh))["gradient_s"]))
            g_rust, g_scipy = np.load(f("g_rust.npy")), np.load(f("g_scipy.npy"))
            rel = float(np.abs(g_rust - g_scipy).max() / np.abs(g_scipy).max())
            if rel > 1e-8:
                sys.exit(f"{preset}: Rust and SciPy gradients differ (max relative difference {rel:.2e})")
            rw, sw = statistics.median(rust_wall), statistics.median(scipy_wall)
            rc, sc = statistics.median(rust_core), statistics.median(scipy_core)
            pm = statistics.median(per_model)
            rows.append({
                "preset": preset,
                "padded_grid": f"{g_rust.shape[0]}+pml",
                "repeats": args.repeats,
                "rust_command_s": f"{rw:.3f}",
                "scipy_command_s": f"{sw:.3f}",
                "command_speedup": f"{sw / rw:.2f}",
                "rust_gradient_s": f"{rc:.3f}",
                "scipy_gradient_s": f"{sc:.3f}",
                "gradient_speedup": f"{sc / rc:.2f}",
                "solver": args.solver,
                "scipy_blas_threads": args.scipy_blas_threads or "default",
                "rust_per_model_gradient_s": f"{pm:.4f}",
                "per_model_speedup": f"{sc / pm:.2f}",
                "max_rel_gradient_difference": f"{rel:.1e}",
            })
            print(f"bench_helmholtz: {preset}: rust {rw:.3f} s vs scipy {sw:.3f} s per command "
                  f"({sw / rw:.2f}x); gradient {rc:.3f} s vs {sc:.3f} s ({sc / rc:.2f}x); "
                  f"per model ({args.solver}, setup amortized) {pm:.4f} s ({sc / pm:.2f}x); "
                  f"gradients agree to {rel:.1e}", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "helmholtz_scipy.csv")
    tmp_path = path + f".tmp-{os.getpid()}"
    with open(tmp_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp_path, path)
    with open(os.path.join(args.out, "machine.txt.tmp"), "w") as fh:
        fh.write(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                 f"Python {platform.python_version()}, numpy {np.__version__}; measured "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    os.replace(os.path.join(args.out, "machine.txt.tmp"), os.path.join(args.out, "machine.txt"))


if __name__ == "__main__":
    main()
