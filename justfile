# Recipes mirroring `cargo xtask`; `just` is installed into .venv/bin by `cargo xtask setup`.

# Regenerate the whole report (reports/index.html).
report:
    cargo xtask report

# Every test: fmt and clippy gates, cargo tests and snapshots, notebooks, report, headless-browser check.
test:
    cargo xtask test

# Execute every notebook headless (fails on any failed check); `just notebooks 02 07` runs those two.
notebooks *names:
    cargo xtask notebooks {{names}}

# JupyterLab on notebooks/ with the rust kernel and the notebooks' environment.
lab *args:
    cargo xtask lab {{args}}

# Install what the commands need (venv, evcxr kernel, Chromium).
setup:
    cargo xtask setup --browser

# Report what the two commands need and what is missing, each with its fix (installs nothing).
doctor:
    cargo xtask doctor

# FWI posterior sampling (Figures 2–5, Table 1) at a preset; resumable, shardable.
fwi preset="default" out="target/fwi":
    cargo run --package memprior -- fwi --preset {{preset}} --out {{out}}

# The stylized experiments' tables only.
stylized out="reports/data/stylized":
    cargo run --package memprior -- stylized --out {{out}}

# Cargo tests only (unit, integration, snapshots).
cargo-test:
    cargo test --workspace --exclude memprior-bench

# Side-by-side whole-command timing of the Helmholtz gradient against the authors' SciPy path
# (tools/scipy_helmholtz.py in the project venv); writes DIR/helmholtz_scipy.csv.
bench-scipy out="target/performance":
    cargo build --package memprior
    .venv/bin/python tools/bench_helmholtz.py --memprior ${CARGO_TARGET_DIR:-target}/debug/memprior --out {{out}} --presets small,paper --repeats 3

# Criterion micro-benchmarks of the Helmholtz factorisations and gradient (84², 140², 260²).
bench:
    cargo bench --package memprior-bench

# Training step at a preset's width on one thread, alternated with the same step in PyTorch
# (tools/torch_mlp_step.py; torch is installed into .venv here, for this benchmark only).
bench-train preset="paper" rounds="3" steps="6":
    cargo build --package memprior
    .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install torch
    for i in $(seq {{rounds}}); do ${CARGO_TARGET_DIR:-target}/debug/memprior prior bench --preset {{preset}} --steps {{steps}}; .venv/bin/python tools/torch_mlp_step.py --steps {{steps}} $(if [ {{preset}} = default ]; then echo --width 512 --blocks 3 --ema 0.999; fi); done

# FWI on one machine without Slurm: train every N, draw K shards at once with GNU parallel, merge
# (tools/slurm/parallel.sh; the same stages as tools/slurm/submit.sh on a cluster).
fwi-parallel K preset="default" out="target/fwi-parallel":
    cargo build --package memprior
    tools/slurm/parallel.sh --shards {{K}} --preset {{preset}} --out {{out}} --memprior ${CARGO_TARGET_DIR:-target}/debug/memprior

# The paper preset end to end on this machine into data/paper/ (resumable; see cargo xtask paper).
paper preset="paper":
    cargo xtask paper --preset {{preset}}

# Fuzz every parser (.npy, DPS sample files, checkpoints, TOML configurations) for S seconds each
# (crates/fuzz; crashes are written to crates/fuzz/crashes/). The tests run a short bounded pass.
fuzz seconds="600" *targets:
    cargo run --profile fuzz --package memprior-fuzz -- run --seconds {{seconds}} {{targets}}
