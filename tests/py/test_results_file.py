#!/usr/bin/env python3
"""test_results_file.py - a results file as its users meet it (h5py, h5dump).

Writes the demo file of tests/mpi_io.c (a table stage and a per-unit scan
stage) under mpirun -n 2, then checks with Debian's h5py: every dataset has
string `units` and `description` attributes; every axis of every non-scale
dataset has a dimension scale of the right length, whose NAME is its dataset
name; root, /config and /provenance carry their documented attributes with
real scalar numbers; h5dump reads the whole file; tools/h5layout.py lists
every dataset.  Exits non-zero on the first failure.
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
MPI_IO = os.path.join(BUILD, "tests", "mpi_io")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import h5layout  # noqa: E402

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def write_demo(out_dir):
    if not os.access(MPI_IO, os.X_OK):
        sys.exit(f"{MPI_IO} is not built (make tests)")
    mpirun = os.environ.get("MPIRUN")
    cmd = (shlex.split(mpirun) + ["-n", "2"] if mpirun else []) + [MPI_IO, "demo", out_dir]
    env = dict(os.environ)
    # Open MPI leaks inside its dlopen'ed components (platform notes §2): in
    # an ASan build, leak checks are off for anything that calls MPI_Init.
    env["ASAN_OPTIONS"] = "detect_leaks=0" + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return os.path.join(out_dir, "results.h5")


def check_datasets(f):
    n_data = n_scales = 0

    def visit(name, obj):
        nonlocal n_data, n_scales
        if not isinstance(obj, h5py.Dataset):
            return
        path = "/" + name
        for key in ("units", "description"):
            check(key in obj.attrs, f"{path}: no '{key}' attribute")
            if key in obj.attrs:
                check(isinstance(obj.attrs[key], str), f"{path}: '{key}' is not a VL string")
        check(len(obj.attrs.get("description", "")) > 0, f"{path}: empty description")
        if h5py.check_string_dtype(obj.dtype) is None:  # labels have no unit; numbers always do
            check(len(obj.attrs.get("units", "")) > 0, f"{path}: empty units")
        if text(obj.attrs.get("CLASS", b"")) == "DIMENSION_SCALE":
            n_scales += 1
            check(obj.ndim == 1, f"{path}: a dimension scale that is not 1-D")
            check(text(obj.attrs.get("NAME", b"")) == name.rsplit("/", 1)[-1],
                  f"{path}: scale NAME differs from its dataset name")
            return
        n_data += 1
        check(obj.ndim >= 1, f"{path}: scalar dataset")
        for i, n in enumerate(obj.shape):
            scales = obj.dims[i]
            check(len(scales) == 1, f"{path}: dimension {i} has {len(scales)} scales")
            if len(scales):
                check(scales[0].shape == (n,),
                      f"{path}: scale {scales[0].name} of dimension {i} has shape "
                      f"{scales[0].shape}, not ({n},)")
        if obj.dtype.kind == "f":
            check(not np.isnan(obj[()]).any(), f"{path}: NaN (unwritten elements) in a complete file")

    f.visititems(visit)
    check(n_data >= 8 and n_scales >= 8, f"only {n_data} datasets and {n_scales} scales found")


def check_attrs(f):
    root = f.attrs
    for key in ("format_version", "ddscan_version", "git_rev", "created", "n_ranks",
                "config_hash"):
        check(key in root, f"root: no '{key}'")
    check(isinstance(root["format_version"], np.integer) and np.ndim(root["format_version"]) == 0,
          "root format_version is not a scalar integer")
    check(root["n_ranks"] == 2, f"root n_ranks = {root.get('n_ranks')}, expected 2")
    check(isinstance(root["created"], str) and root["created"].endswith("Z"),
          "root 'created' is not an ISO-8601 UTC string")
    check(len(root["config_hash"]) == 16, "config_hash is not 16 hex digits")
    check("stage_in_progress" not in root, "a committed file still has stage_in_progress")
    check(isinstance(f["config"].attrs.get("text"), str), "/config has no text attribute")
    for stage in ("simulate", "scan"):
        g = f["provenance"][stage]
        for key in ("ddscan_version", "git_rev", "compiler", "cflags", "mpi_library_version",
                    "hdf5_version", "blas_config", "blas_corename", "host", "hosts",
                    "start_time", "end_time", "command_line", "config_hash"):
            check(isinstance(g.attrs.get(key), str) and g.attrs[key] != "",
                  f"/provenance/{stage}: '{key}' missing or empty")
        check(np.ndim(g.attrs.get("wall_time_s")) == 0 and g.attrs["wall_time_s"] >= 0,
              f"/provenance/{stage}: wall_time_s is not a scalar >= 0")
        check(g.attrs.get("n_ranks") == 2, f"/provenance/{stage}: n_ranks")
    done = f["scan/done"][()]
    check(done.shape == (3, 6) and (done == 1).all(), "/scan/done is not all ones")
    # the group-local copy of /axes/mass_gev (docs/format.md §1 conventions)
    check(f["scan/p_value"].dims[1][0].name == "/scan/mass_gev", "p_value axis 1 is not /scan/mass_gev")
    check(list(f["scan/mass_gev"][()]) == list(f["axes/mass_gev"][()]), "/scan/mass_gev is not /axes/mass_gev")
    check(h5py.check_string_dtype(f["scan/analysis"].dtype).length is None,
          "/scan/analysis is not a variable-length string axis")


def main():
    with tempfile.TemporaryDirectory(prefix="ddscan-py-") as tmp:
        path = write_demo(os.path.join(tmp, "run"))
        with h5py.File(path, "r", locking=False) as f:
            check_datasets(f)
            check_attrs(f)
        r = subprocess.run(["h5dump", path], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0 and "DIMENSION_SCALE" in r.stdout,
              f"h5dump failed ({r.returncode}): {r.stderr[:300]}")
        r = subprocess.run(["h5dump", "-A", "-g", "/provenance", path], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0 and "mpi_library_version" in r.stdout, "h5dump -A /provenance")
        with open(os.path.join(tmp, "layout.md"), "w") as out:
            listed = h5layout.layout(path, True, out)
        with open(os.path.join(tmp, "layout.md")) as md:
            content = md.read()
        check("/scan/p_value" in listed and "[analysis=2][mass_gev=3]" in content,
              "h5layout does not show /scan/p_value with named dimensions")
        check("(missing)" not in content, "h5layout found a dataset without units/description")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok: results file readable with h5py and h5dump, every dataset described")
    return 0


if __name__ == "__main__":
    sys.exit(main())
