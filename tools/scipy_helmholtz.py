#!/usr/bin/env python3
"""SciPy baseline of the Helmholtz forward model and misfit gradient (FWI.md §3).

The same discretisation as `memprior helmholtz` (five-point stencil, PML with half-point
stretches, Neumann behind the PML, edge-copy padding, point sources 1/h², receivers at nodes),
computed the way the paper's authors did: SuperLU (`scipy.sparse.linalg.splu`, COLAMD ordering)
of A for the forward solves and a second SuperLU of Aᴴ for the adjoint solves, one right-hand
side at a time. Used by `tools/bench_helmholtz.py` for the side-by-side timing and as an
independent check of the Rust gradient.

    scipy_helmholtz.py forward  --model V.npy --geometry G.toml --out D.npy
    scipy_helmholtz.py gradient --model V.npy --data D.npy --sigma-d S --geometry G.toml --out G.npy
"""

import argparse
import sys
import time
import tomllib

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def neighbour_coefficients(n, npml, pml_max, omega):
    """a⁺_i = 1/(s_i s_{i+½}) and a⁻_i = 1/(s_i s_{i−½}) along one padded axis of n points."""
    sigma = np.zeros(n)
    ramp = pml_max * ((npml - np.arange(npml)) / npml) ** 2
    sigma[:npml] = ramp
    sigma[n - npml:] = ramp[::-1]
    s = 1.0 + 1j * sigma / omega
    half = 0.5 * (s[:-1] + s[1:])
    plus = np.zeros(n, dtype=complex)
    minus = np.zeros(n, dtype=complex)
    plus[:-1] = 1.0 / (s[:-1] * half)
    minus[1:] = 1.0 / (s[1:] * half)
    return plus, minus


def assemble(geom, m_pad):
    """A = ω² diag(m_pad) + L_PML as CSC, unknowns ordered q = i·N_z + j."""
    p, h = geom["npml"], geom["h"]
    nxp, nzp = geom["nx"] + 2 * p, geom["nz"] + 2 * p
    omega = 2.0 * np.pi * geom["freq"]
    ax_p, ax_m = neighbour_coefficients(nxp, p, geom["pml_max"], omega)
    az_p, az_m = neighbour_coefficients(nzp, p, geom["pml_max"], omega)
    i, j = np.meshgrid(np.arange(nxp), np.arange(nzp), indexing="ij")
    q = (i * nzp + j).ravel()
    i, j = i.ravel(), j.ravel()
    inv_h2 = 1.0 / h**2
    diag = omega**2 * m_pad.ravel() - (ax_p[i] + ax_m[i] + az_p[j] + az_m[j]) * inv_h2
    rows, cols, vals = [q], [q], [diag]
    for mask, shift, coef in (
        (i + 1 < nxp, nzp, ax_p[i]),
        (i > 0, -nzp, ax_m[i]),
        (j + 1 < nzp, 1, az_p[j]),
        (j > 0, -1, az_m[j]),
    ):
        rows.append(q[mask])
        cols.append(q[mask] + shift)
        vals.append(coef[mask] * inv_h2)
    n = nxp * nzp
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def pad_adjoint(g_pad, p):
    """Sum the PML cells back into the edge pixels they were copied from."""
    g = g_pad[p:g_pad.shape[0] - p].copy()
    g[0] += g_pad[:p].sum(axis=0)
    g[-1] += g_pad[g_pad.shape[0] - p:].sum(axis=0)
    out = g[:, p:g.shape[1] - p].copy()
    out[:, 0] += g[:, :p].sum(axis=1)
    out[:, -1] += g[:, g.shape[1] - p:].sum(axis=1)
    return out


def nodes(geom, key):
    p = geom["npml"]
    nzp = geom["nz"] + 2 * p
    return [(ix + p) * nzp + iz + p for ix, iz in geom[key]]


def load(args):
    with open(args.geometry, "rb") as f:
        geom = tomllib.load(f)
    v = np.load(args.model)
    if v.shape != (geom["nx"], geom["nz"]) or v.dtype != np.float64:
        sys.exit(f"model {args.model}: need float64 of shape ({geom['nx']}, {geom['nz']}), got {v.dtype} {v.shape}")
    m_pad = np.pad(1.0 / v**2, geom["npml"], mode="edge")
    return geom, m_pad


def forward_fields(geom, A):
    """One SuperLU of A, then one solve per source (the authors' loop)."""
    lu = spla.splu(A)
    n = A.shape[0]
    fields = []
    for q in nodes(geom, "sources"):
        b = np.zeros(n, dtype=complex)
        b[q] = 1.0 / geom["h"] ** 2
        fields.append(lu.solve(b))
    return fields


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["forward", "gradient"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--geometry", required=True)
    ap.add_argument("--data")
    ap.add_argument("--sigma-d", type=float)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    geom, m_pad = load(args)
    rec = nodes(geom, "receivers")
    A = assemble(geom, m_pad)
    # Timed from here: the factorisations and solves (assembly untimed, as in the figures).
    t0 = time.perf_counter()
    fields = forward_fields(geom, A)
    data = np.array([u[rec] for u in fields])
    if args.command == "forward":
        elapsed = time.perf_counter() - t0
        np.save(args.out, data)
        print(f"scipy forward: {elapsed:.3f} s", file=sys.stderr)
        return
    d_obs = np.load(args.data)
    sigma2 = args.sigma_d**2
    # Second factorisation, of Aᴴ, for the adjoint solves.
    lu_h = spla.splu(A.conj().T.tocsc())
    omega = 2.0 * np.pi * geom["freq"]
    g_pad = np.zeros(A.shape[0])
    for s, u in enumerate(fields):
        rhs = np.zeros(A.shape[0], dtype=complex)
        np.add.at(rhs, rec, (data[s] - d_obs[s]) / sigma2)
        lam = lu_h.solve(rhs)
        g_pad -= omega**2 * np.real(np.conj(lam) * u)
    p = geom["npml"]
    grad = pad_adjoint(g_pad.reshape(geom["nx"] + 2 * p, geom["nz"] + 2 * p), p)
    elapsed = time.perf_counter() - t0
    np.save(args.out, grad)
    phi = 0.5 * np.sum(np.abs(data - d_obs) ** 2) / sigma2
    print(f"scipy gradient: misfit {phi:.6e}; {elapsed:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
