#!/usr/bin/env python3
"""test_xarray.py - a results file opens in xarray group by group, with both netCDF-4 engines.

Writes synthetic scores (tests/mpi_scan.c), runs `ddscan scan` (paper, sound, classical: every
/templates group), and the same scan as two shards combined by `ddscan merge`; then, for each
file and for the engines h5netcdf and netcdf4, opens every group with
xarray.open_dataset(path, group=G, engine=E) and checks:
  * every dimension of every variable has a coordinate variable of its name (mass_gev,
    sigma_cm2, exposure_ty, r, analysis, bin, ...), equal to the scale h5py finds attached;
  * string labels come back as str, never bytes;
  * no dimension is named like a keyword of xarray's sel/isel (method, tolerance, drop, ...);
  * a value selected by coordinate in /scan, /contours and /templates/ts|classical equals the
    element h5py reads at the indices it finds by the same labels.
The engines are Debian's python3-h5netcdf and python3-netcdf4 (tools/deps.sh test installs them).
Without them the test prints why and is skipped, except under CI (CI set), where it fails.
Exits non-zero on any failure.
"""
import importlib
import os
import shlex
import subprocess
import sys
import tempfile

# h5py (locking=False below) and the engines open the same file at once: one locking mode.
os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
import h5py  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.environ.get("DDSCAN_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("DDSCAN_BUILD") or os.path.join(ROOT, "build")
DDSCAN = os.environ.get("DDSCAN") or os.path.join(ROOT, "bin", "ddscan")
MPI_SCAN = os.path.join(BUILD, "tests", "mpi_scan")

CONFIG = """
run = { name = "xr"; seed = 7; output_dir = "run"; };
scan = {
  mass_gev = [20.0, 200.0];
  sigma_cm2 = { log_from = 1e-47; log_to = 1e-45; points = 3; };
  exposure_ty = [1.0, 5.0];
  r = [0.0, 120.0];
  methods = ["paper", "sound", "classical"];
};
stats = { binning = { rule = "quantile"; bins = 10; }; };
"""
# Keyword arguments of Dataset/DataArray.sel and isel: a dimension of that name cannot be
# selected as sel(name=...).
SEL_KEYWORDS = {"indexers", "method", "tolerance", "drop", "missing_dims", "indexers_kwargs"}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def run(cmd, cwd, np_=2):
    mpirun = os.environ.get("MPIRUN")
    full = (shlex.split(mpirun) + ["-n", str(np_)] if mpirun else []) + cmd
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0" + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
    r = subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        sys.exit(f"{' '.join(full)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def engines():
    """The xarray engines that can run here; exits 0 (skip) or 1 (CI) when one is missing."""
    missing = []
    for mod, pkg in (("xarray", "python3-xarray"), ("h5netcdf", "python3-h5netcdf"),
                     ("netCDF4", "python3-netcdf4")):
        try:
            importlib.import_module(mod)
        except ImportError as e:
            missing.append(f"{mod} ({pkg}: {e})")
    if missing:
        why = f"{sys.executable} cannot import {', '.join(missing)}; tools/deps.sh test installs them"
        if os.environ.get("CI"):
            sys.exit(f"FAIL: {why}")
        print(f"skipped: {why}")
        sys.exit(0)
    return ("h5netcdf", "netcdf4")


def label(v):
    return v.decode() if isinstance(v, bytes) else v


def h5_scales(f, path):
    """[(name, values)] of the scales h5py finds attached to each dimension of path."""
    d = f[path]
    out = []
    for i in range(d.ndim):
        s = d.dims[i][0]
        v = s[()]
        if v.dtype.kind in "OS":
            v = np.array([label(x) for x in v], dtype=object)
        out.append((s.name.rsplit("/", 1)[-1], v))
    return out


def h5_value(f, path, pick):
    """h5py's element of path at the labels in pick (a dict over all of its dimensions)."""
    idx = []
    for name, v in h5_scales(f, path):
        x = pick[name]
        if v.dtype.kind == "O":
            idx.append(list(v).index(x))
        else:
            idx.append(int(np.flatnonzero(np.isclose(v, x, rtol=1e-12, atol=0.0))[0]))
    return f[path][tuple(idx)]


def check_group(xr, path, f, group, engine):
    where = f"{engine} {os.path.basename(path)}:{group}"
    try:
        ds = xr.open_dataset(path, group=group, engine=engine)
    except Exception as e:  # noqa: BLE001 - report any failure of the engine
        check(False, f"{where}: open_dataset raised {type(e).__name__}: {e}")
        return None
    with ds:
        ds.load()
        for dim in ds.dims:
            check(dim not in SEL_KEYWORDS, f"{where}: dimension '{dim}' is a keyword of xarray's sel")
            check(dim in ds.coords, f"{where}: dimension '{dim}' has no coordinate variable")
        for name, v in ds.variables.items():
            check(v.dtype.kind != "S", f"{where}: '{name}' comes back as bytes ({v.dtype})")
            if v.dtype.kind in "OU":
                check(all(isinstance(x, str) for x in np.ravel(v.values)),
                      f"{where}: '{name}' holds non-str labels")
        g = f[group]
        for name, v in ds.data_vars.items():
            h = g[name]
            check(v.dims == tuple(n for n, _ in h5_scales(f, h.name)),
                  f"{where}: {name} dims {v.dims} differ from h5py's scales")
            for dim, vals in h5_scales(f, h.name):
                c = ds[dim].values
                same = list(c) == list(vals) if vals.dtype.kind == "O" else np.array_equal(c, vals)
                check(same, f"{where}: coordinate {dim} of {name} differs from h5py's scale")
            raw = h[()]
            check(np.array_equal(v.values, raw, equal_nan=raw.dtype.kind == "f"),
                  f"{where}: {name} values differ from h5py")
        return {k: ds[k].values for k in ds.coords}


def check_selections(xr, path, f, engine):
    """One value per group, selected by coordinate, against h5py."""
    sig = float(f["scan/sigma_cm2"][1])
    cases = [
        ("scan", "z", {"analysis": "sound", "mass_gev": 200.0, "sigma_cm2": sig, "exposure_ty": 5.0,
                       "r": 120.0}),
        ("scan", "p_value", {"analysis": "classical", "mass_gev": 20.0, "sigma_cm2": sig,
                             "exposure_ty": 1.0, "r": 0.0}),
        ("contours", "sigma5", {"analysis": "paper", "mass_gev": 200.0, "exposure_ty": 5.0, "r": 120.0}),
        ("contours", "flags", {"analysis": "classical", "mass_gev": 20.0, "exposure_ty": 1.0, "r": 0.0}),
        ("templates/ts", "background", {"mass_gev": 200.0, "r": 120.0, "bin": 3}),
        ("templates/classical", "signal", {"mass_gev": 20.0, "r": 0.0, "cs1_bin": 2, "y_bin": 4}),
    ]
    for group, name, pick in cases:
        where = f"{engine} {os.path.basename(path)}:/{group}/{name}"
        with xr.open_dataset(path, group=group, engine=engine) as ds:
            got = ds[name].sel(pick).values
        want = h5_value(f, f"/{group}/{name}", pick)
        check(np.ndim(got) == 0, f"{where}: a full selection keeps dims")
        check(float(got) == float(want), f"{where} at {pick}: xarray {got}, h5py {want}")


def check_file(xr, path, engs):
    with h5py.File(path, "r", locking=False) as f:
        groups = ["/"]
        f.visititems(lambda n, o: groups.append(n) if isinstance(o, h5py.Group) else None)
        for want in ("scan", "contours", "templates/ts", "templates/classical"):
            check(want in groups, f"{path} has no /{want}")
        for engine in engs:
            coords = {}
            for g in groups:
                c = check_group(xr, path, f, g, engine)
                if c is not None:
                    coords[g] = c
            for g in ("scan", "contours", "templates/ts", "templates/classical"):
                for k in ("mass_gev", "r"):
                    check(k in coords.get(g, {}), f"{engine}: /{g} has no coordinate {k}")
            check(list(coords.get("scan", {}).get("analysis", [])) == ["paper", "sound", "classical"],
                  f"{engine}: /scan analysis labels {coords.get('scan', {}).get('analysis')}")
            check_selections(xr, path, f, engine)
        print(f"checked {len(groups)} groups of {path} with {', '.join(engs)}")


def main():
    engs = engines()
    import xarray as xr
    for exe in (MPI_SCAN, DDSCAN):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} is not built (make tests)")
    with tempfile.TemporaryDirectory(prefix="ddscan-xarray-") as tmp:
        with open(os.path.join(tmp, "s.cfg"), "w") as c:
            c.write(CONFIG)
        run([MPI_SCAN, "scores", "s.cfg", "--er", "1500", "--nr", "1000"], tmp)
        run([DDSCAN, "scan", "s.cfg", "-q"], tmp)
        check_file(xr, os.path.join(tmp, "run", "results.h5"), engs)
        # the same scan as two shards, merged (the label axes travel by H5Ocopy)
        mdir = os.path.join(tmp, "m")
        os.makedirs(mdir)
        subprocess.run(["cp", "-r", os.path.join(tmp, "run"), mdir], check=True)
        os.remove(os.path.join(mdir, "run", "results.h5"))
        run([MPI_SCAN, "scores", "../s.cfg", "--er", "1500", "--nr", "1000"], mdir)
        for i in (0, 1):
            run([DDSCAN, "scan", "../s.cfg", "-q", "--shard", f"{i}/2"], mdir, np_=1 + i)
        run([DDSCAN, "merge", "run/merged.h5", "run/results.shard-0-of-2.h5",
             "run/results.shard-1-of-2.h5"], mdir)
        check_file(xr, os.path.join(mdir, "run", "merged.h5"), engs)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok: every group opens in xarray (h5netcdf, netcdf4) with named coordinates and str labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
