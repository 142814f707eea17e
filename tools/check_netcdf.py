"""Open the FWI results of a `memprior fwi` output directory (fwi_results.nc) with xarray, as a
reader of the results would, and check them against the run's own .npy fields: coordinates x
and z in km with z positive down, units and long_name on every variable, the provenance global
attributes, and the posterior mean and std of every (prior, variant, N) group equal to the .npy
files bit for bit.

    .venv/bin/python tools/check_netcdf.py reports/data/fwi_dps

Exit status 0 when every check passes, 1 with the list of what failed otherwise.
"""
import argparse
import os
import sys

import numpy as np
import xarray as xr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="output directory of `memprior fwi` (holds fwi_results.nc and fields/)")
    args = ap.parse_args()
    path = os.path.join(args.dir, "fwi_results.nc")
    problems = []
    try:
        ds = xr.open_dataset(path, engine="scipy")
    except Exception as e:  # noqa: BLE001 - any failure to open is the finding
        print(f"check_netcdf: cannot open {path} with xarray: {e}", file=sys.stderr)
        return 1
    with ds:
        for c in ("x", "z"):
            if c not in ds.coords:
                problems.append(f"coordinate {c} missing")
            elif ds[c].attrs.get("units") != "km":
                problems.append(f"coordinate {c}: units {ds[c].attrs.get('units')!r}, expected 'km'")
        if ds["z"].attrs.get("positive") != "down":
            problems.append("coordinate z is not marked positive: down")
        dx = np.diff(ds["x"].values)
        if len(dx) and not np.allclose(dx, dx[0]):
            problems.append("x is not evenly spaced")
        for name in list(ds.data_vars) + list(ds.coords):
            for attr in ("units", "long_name"):
                if not str(ds[name].attrs.get(attr, "")).strip():
                    problems.append(f"{name} has no {attr}")
        for attr in ("commit", "config_hash", "sample_format", "seed_dps", "seed_noise", "Conventions"):
            if attr not in ds.attrs:
                problems.append(f"global attribute {attr} missing")
        v = ds["velocity_true"]
        if v.dims != ("x", "z") or not np.all(np.isfinite(v.values)) or not np.all(v.values > 0):
            problems.append(f"velocity_true: dims {v.dims}, or values not finite and positive")
        priors = ds["prior"].attrs["flag_meanings"].split()
        variants = ds["variant"].attrs["flag_meanings"].split()
        checked = 0
        for g in range(ds.sizes["group"]):
            stem = "{}-{}-n{}".format(
                priors[int(ds["prior"][g])], variants[int(ds["variant"][g])], int(ds["n_train"][g])
            )
            for what in ("mean", "std"):
                npy = os.path.join(args.dir, "fields", f"velocity_{what}_{stem}.npy")
                want = np.load(npy)
                got = ds[f"velocity_{what}"].isel(group=g).values
                if want.shape != got.shape or not np.array_equal(want, got, equal_nan=True):
                    problems.append(f"velocity_{what} of {stem} differs from {npy}")
                checked += 1
        # No sample dimension when every trajectory diverged (NetCDF-3 has no empty one).
        n_samples = ds.sizes.get("sample", 0)
        if n_samples and ds["kl_samples"].shape != (n_samples, ds.sizes["kl"]):
            problems.append(f"kl_samples has shape {ds['kl_samples'].shape}")
    if problems:
        print("check_netcdf: " + path + "\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"check_netcdf: {path}: coordinates, units and provenance present; {checked} fields equal "
          f"their .npy files; {n_samples} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
