#!/usr/bin/env python3
"""test_python_pkg.py - the Python package python/ddscan_results on a real results file.

Writes synthetic scores (tests/mpi_scan.c) and runs `ddscan scan` under mpirun -n 2, then
checks against h5py read directly: the package lists /scan and /contours, names every
dimension after the dimension scale attached to it, decodes the analysis labels to str, and a
value selected by coordinate (method, mass, sigma, exposure, R) is the one h5py finds at the
same indices.  The README's three-line recipe runs with PYTHONPATH=python.  A small file
written here with its scales inside the group (no /axes) and one dimension without a scale
reads the same way.  The xarray parts run when xarray is importable and are skipped with the
reason otherwise.  Exits non-zero on any failure.
"""
import os
import shlex
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.environ.get("DDSCAN_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("DDSCAN_BUILD") or os.path.join(ROOT, "build")
DDSCAN = os.environ.get("DDSCAN") or os.path.join(ROOT, "bin", "ddscan")
MPI_SCAN = os.path.join(BUILD, "tests", "mpi_scan")
sys.path.insert(0, os.path.join(ROOT, "python"))
import ddscan_results as ddr  # noqa: E402

CONFIG = """
run = { name = "pkg"; seed = 5; output_dir = "run"; };
scan = {
  mass_gev = [20.0, 200.0];
  sigma_cm2 = { log_from = 1e-47; log_to = 1e-45; points = 3; };
  exposure_ty = [1.0, 5.0];
  r = [0.0, 120.0];
};
stats = { binning = { rule = "quantile"; bins = 10; }; };
"""

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def run(cmd, cwd):
    mpirun = os.environ.get("MPIRUN")
    full = (shlex.split(mpirun) + ["-n", "2"] if mpirun else []) + cmd
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0" + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
    r = subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        sys.exit(f"{' '.join(full)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def h5_index(f, dset, dim, label):
    """The index of label on dimension dim of dset, found with h5py alone."""
    scale = f[dset].dims[dim][0][()]
    if scale.dtype.kind in "SO":  # label axes: variable-length strings (bytes from h5py)
        return [s.decode() if isinstance(s, bytes) else s for s in scale].index(label)
    return int(np.flatnonzero(np.isclose(scale, label, rtol=1e-9, atol=0.0))[0])


def check_results(path):
    with ddr.open(path) as res, h5py.File(path, "r", locking=False) as f:
        names = res.list()
        for p in ("/scan/p_value", "/scan/z", "/contours/sigma5", "/contours/flags"):
            check(p in names, f"list() lacks {p}")
        check(res.list("contours") == sorted("/contours/" + k for k in f["contours"]
                                             if isinstance(f["contours"][k], h5py.Dataset)),
              "list('contours') differs from h5py")
        text = str(res)
        check("/scan/p_value(analysis, mass_gev, sigma_cm2, exposure_ty, r)" in text,
              "str(res) does not list /scan/p_value with its dimensions")

        # Every /scan and /contours quantity: dims are the attached scales' names.
        for p in res.list("scan") + res.list("contours"):
            d = f[p]
            if d.attrs.get("CLASS") == b"DIMENSION_SCALE":  # a coordinate (a copy of the grid in this group) is its own axis
                want = (p.rsplit("/", 1)[-1],)
            else:
                want = tuple(d.dims[i][0].name.rsplit("/", 1)[-1] if len(d.dims[i]) else f"dim_{i}"
                             for i in range(d.ndim))
            q = res.get(p)
            check(q.dims == want, f"{p}: dims {q.dims}, h5py's scales say {want}")
            raw = d.asstr()[()] if d.dtype.kind == "O" else d[()]
            check(np.array_equal(np.asarray(q.values), raw, equal_nan=d.dtype.kind == "f"),
                  f"{p}: values differ from h5py")
            check(q.units == d.attrs["units"], f"{p}: units")

        p = res.get("scan/p_value")
        check(list(p.coords["analysis"]) == ["paper", "sound", "classical"],
              f"analysis labels {list(p.coords['analysis'])}")
        check(all(isinstance(m, str) for m in p.coords["analysis"]), "analysis labels are not str")
        check(res.analyses() == ["paper", "sound", "classical"], f"analyses() {res.analyses()}")
        check(list(res.grid("mass_gev")) == [20.0, 200.0], "grid('mass_gev')")
        sigmas = f["scan/p_value"].dims[2][0][()]
        pick = {"analysis": "sound", "mass_gev": 200.0, "sigma_cm2": float(sigmas[1]),
                "exposure_ty": 5.0, "r": 120.0}
        v = p.sel(**pick)
        check(v.dims == () and np.ndim(v.values) == 0, f"a full selection keeps dims {v.dims}")
        idx = tuple(h5_index(f, "scan/p_value", i, pick[k]) for i, k in enumerate(p.dims))
        check(float(v.values) == float(f["scan/p_value"][idx]),
              f"p_value at {pick}: package {float(v.values)}, h5py {float(f['scan/p_value'][idx])}")
        part = p.sel({"analysis": "paper"}, mass_gev=20.0)
        alias = p.sel(method="paper", mass_gev=20.0)  # method= names the analysis dimension
        check(np.array_equal(alias.values, part.values), "sel(method=) differs from sel(analysis=)")
        z = res.scan("z", method="sound").sel(mass_gev=200.0, exposure_ty=5.0, r=120.0)
        check(z.dims == ("sigma_cm2",) and np.array_equal(z.values, f["scan/z"][1, 1, :, 1, 1]),
              f"res.scan('z', method='sound') selection: {z}")
        fl = res.contours("flags", method="classical", mass_gev=20.0)
        check(np.array_equal(fl.values, f["contours/flags"][2, 0]), "res.contours('flags') selection")
        try:
            res.scan("no_such")
            check(False, "a missing quantity did not raise")
        except ddr.Missing as e:
            check("scan stage" in str(e), f"missing-quantity message: {e}")
        check(part.dims == ("sigma_cm2", "exposure_ty", "r"), f"partial selection dims {part.dims}")
        check(np.array_equal(part.values, f["scan/p_value"][0, 0]), "partial selection values")
        near = p.sel(mass_gev=190.0, nearest=True)
        check(np.array_equal(near.values, f["scan/p_value"][:, 1]), "nearest selection")
        try:
            p.sel(mass_gev=190.0)
            check(False, "an off-grid mass did not raise")
        except KeyError as e:
            check("nearest=True" in str(e), f"off-grid message: {e}")

        s5 = res.get("contours/sigma5").sel(analysis="classical", mass_gev=20.0, exposure_ty=1.0, r=0.0)
        check(float(s5.values) == float(f["contours/sigma5"][2, 0, 0, 0]), "contours/sigma5 selection")
        check(res.attr("/", "format_version") == f.attrs["format_version"], "root attribute")
        check(isinstance(res.attr("/scan", "conventions"), str), "/scan conventions attribute")

        try:
            import xarray  # noqa: F401
        except ImportError as e:
            print(f"skipped the xarray checks: xarray is not importable in {sys.executable} ({e})")
        else:
            da = res.to_xarray("scan/p_value")
            check(da.dims == p.dims, f"xarray dims {da.dims}")
            x = da.sel({"analysis": "sound", "mass_gev": 200.0, "exposure_ty": 5.0, "r": 120.0}).isel(sigma_cm2=1)
            check(float(x) == float(f["scan/p_value"][idx]), "xarray selection differs from h5py")
            check(da.attrs["units"] == "1", "xarray units attribute")
            ds = res.dataset("contours")
            check(float(ds["sigma5"].sel(analysis="classical", mass_gev=20.0, exposure_ty=1.0, r=0.0))
                  == float(f["contours/sigma5"][2, 0, 0, 0]), "res.dataset('contours') selection")
            print("xarray checks ran")


def check_moved_axes(tmp):
    """Scales beside the data in the group, and one dimension without a scale."""
    path = os.path.join(tmp, "moved.h5")
    with h5py.File(path, "w") as f:
        g = f.create_group("scan")
        m = g.create_dataset("mass", data=[10.0, 100.0])
        m.make_scale("mass")
        st = g.create_dataset("statistic", data=np.array([b"paper", b"sound"], dtype="S8"))
        st.make_scale("statistic")
        d = g.create_dataset("p_value", data=np.arange(12.0).reshape(2, 2, 3))
        d.attrs["units"] = "1"
        d.dims[0].attach_scale(st)
        d.dims[1].attach_scale(m)
    with ddr.open(path) as res:
        q = res.get("/scan/p_value")
        check(q.dims == ("statistic", "mass", "dim_2"), f"moved axes: dims {q.dims}")
        check(float(q.sel(statistic="sound", mass=100.0, dim_2=2).values) == 11.0, "moved axes: selection")


def recipe(path):
    """The README's three lines, as a user runs them (PYTHONPATH=python)."""
    code = ("import ddscan_results as dr\n"
            f"r = dr.open({path!r})\n"
            "p = r.scan('p_value', method='sound').sel(mass_gev=200.0, exposure_ty=5.0)\n"
            "print(p.dims, p.shape)\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    check(r.returncode == 0 and "('sigma_cm2', 'r') (3, 2)" in r.stdout,
          f"the README recipe: exit {r.returncode}: {r.stdout}{r.stderr[-600:]}")


def main():
    for exe in (MPI_SCAN, DDSCAN):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} is not built (make tests)")
    with tempfile.TemporaryDirectory(prefix="ddscan-py-pkg-") as tmp:
        with open(os.path.join(tmp, "s.cfg"), "w") as c:
            c.write(CONFIG)
        run([MPI_SCAN, "scores", "s.cfg", "--er", "1000", "--nr", "800"], tmp)
        run([DDSCAN, "scan", "s.cfg", "-q"], tmp)
        path = os.path.join(tmp, "run", "results.h5")
        check_results(path)
        recipe(path)
        check_moved_axes(tmp)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok: ddscan_results reads /scan and /contours by coordinate, as h5py does")
    return 0


if __name__ == "__main__":
    sys.exit(main())
