#!/usr/bin/env python3
"""test_scan_file.py - a scan results file as its users meet it (h5py, h5dump).

Writes synthetic scores (tests/mpi_scan.c) and runs `ddscan scan` under
mpirun -n 2 with the NR background as a nuisance (so every optional dataset
exists), then checks with Debian's h5py: every dataset has string `units` and
`description`; every axis of every dataset has one dimension scale of the
right length whose NAME is its dataset name; NaN appears only where
documented (template padding beyond n_bins); the grid, analysis labels, value
ranges and conventions attributes are what docs/format.md says; the /scores
schema is complete; h5dump reads the file.  Exits non-zero on any failure.
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

CONFIG = """
run = { name = "py"; seed = 9; output_dir = "run"; };
physics = { nr_background = { neutrons = true; cevns_b8 = true; neutrons_scale = 30.0; }; };
scan = {
  mass_gev = [20.0, 200.0];
  sigma_cm2 = { log_from = 1e-48; log_to = 1e-45; points = 4; };
  exposure_ty = [1.0, 5.0, 20.0];
  r = [0.0, 120.0, 170.0];
};
stats = { sound = { nr_bkg = true; }; binning = { rule = "quantile"; bins = 15; }; };
"""
SCORE_FIELDS = ["event", "l_rec", "kl", "logit", "h_b", "cs1", "cs2", "energy_kev", "attempts", "weight"]

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def run(cmd, cwd):
    mpirun = os.environ.get("MPIRUN")
    full = (shlex.split(mpirun) + ["-n", "2"] if mpirun else []) + cmd
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0" + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
    r = subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        sys.exit(f"{' '.join(full)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def check_datasets(f):
    n_data = 0

    def visit(name, obj):
        nonlocal n_data
        if not isinstance(obj, h5py.Dataset):
            return
        path = "/" + name
        for key in ("units", "description"):
            check(isinstance(obj.attrs.get(key), str), f"{path}: '{key}' missing or not a VL string")
        check(len(obj.attrs.get("description", "")) > 0, f"{path}: empty description")
        if h5py.check_string_dtype(obj.dtype) is None:  # labels have no unit
            check(len(obj.attrs.get("units", "")) > 0, f"{path}: empty units")
        if text(obj.attrs.get("CLASS", b"")) == "DIMENSION_SCALE":
            check(obj.ndim == 1, f"{path}: a dimension scale that is not 1-D")
            check(text(obj.attrs.get("NAME", b"")) == name.rsplit("/", 1)[-1],
                  f"{path}: scale NAME differs from its dataset name")
            return
        n_data += 1
        for i, n in enumerate(obj.shape):
            scales = obj.dims[i]
            check(len(scales) == 1, f"{path}: dimension {i} has {len(scales)} scales")
            if len(scales):
                check(scales[0].shape == (n,), f"{path}: scale of dimension {i} has the wrong length")
        # documented NaN: limits of paper (no likelihood), MC errors of asymptotic limits
        nan_ok = (name.startswith("templates/ts/") or name.startswith("contours/limit_")
                  or name in ("scan/p_value_err", "contours/sigma5_err"))
        if obj.dtype.kind == "f" and not nan_ok:
            check(not np.isnan(obj[()]).any(), f"{path}: NaN in a complete file")

    f.visititems(visit)
    check(n_data >= 30, f"only {n_data} datasets found")


def check_limits(f):
    cb, cs, er = (f[f"contours/{n}"][()] for n in ("limit_clsb", "limit_cls", "limit_clsb_err"))
    names = [f["contours/limit_clsb"].dims[i][0].name for i in range(5)]
    check(names == ["/contours/analysis", "/contours/mass_gev", "/contours/exposure_ty",
                    "/contours/r", "/contours/band"], f"limit dimensions {names}")
    check(list(f["axes/band"][()]) == [-2, -1, 0, 1, 2], "band axis")
    check(np.isnan(cb[0]).all() and np.isnan(cs[0]).all(), "paper limits must be NaN")
    check(np.isnan(er).all(), "asymptotic limits carry no MC error")
    lik = cb[1:]
    check(np.isfinite(lik).all() and np.isfinite(cs[1:]).all(), "likelihood limits not finite")
    check((np.diff(lik, axis=-1) > 0).all(), "CLs+b bands not increasing")
    check((np.diff(cs[1:], axis=-1) > 0).all(), "CLs bands not increasing")
    check((cs[1:, ..., 2] > lik[..., 2]).all(), "CLs median not above CLs+b")
    s3, s5 = f["contours/sigma3"][()], f["contours/sigma5"][()]
    check((s3[1:] < s5[1:]).all() and (lik[..., 2] < s3[1:]).all(),
          "expected order: median limit < sigma3 < sigma5")
    check(f["contours"].attrs["limit_cl"] == 0.9, "limit_cl attribute")
    check(np.isnan(f["scan/p_value_err"][()]).all(), "Asimov methods carry no toy p error")
    check(np.isnan(f["contours/sigma5_err"][()]).all(), "Asimov contours carry no toy error")


def check_scan(f):
    p = f["scan/p_value"]
    names = [p.dims[i][0].name for i in range(5)]
    check(names == ["/scan/analysis", "/scan/mass_gev", "/scan/sigma_cm2", "/scan/exposure_ty",
                    "/scan/r"], f"p_value dimensions {names}")
    methods = list(f["scan/analysis"].asstr()[()])
    check(methods == ["paper", "sound", "classical"], f"methods {methods}")
    check(p.shape == (3, 2, 4, 3, 3), f"p_value shape {p.shape}")
    pv, z, lp = p[()], f["scan/z"][()], f["scan/log_p"][()]
    check(((pv >= 0) & (pv <= 1)).all(), "p outside [0, 1]")
    pos = pv > 1e-300
    check(np.allclose(np.log(pv[pos]), lp[pos], rtol=1e-9, atol=1e-12), "log_p != ln p")
    check(np.isfinite(z).all(), "non-finite Z")
    # more signal, more significance: p falls along sigma and exposure
    check((np.diff(pv[1], axis=1) <= 1e-15).all(), "sound p rises with sigma")
    check((np.diff(pv[1], axis=2) <= 1e-15).all(), "sound p rises with exposure")
    s5 = f["contours/sigma5"][()]
    check((s5 > 0).all() and np.isfinite(s5).all(), "sigma5 not finite and > 0")
    check((np.diff(s5, axis=2) < 0).all(), "sigma5 does not fall with exposure")
    check((s5[2, :, :, 0] == s5[2, :, :, 2]).all(), "classical depends on R")
    lo, hi = f["contours/band_lo"][()], f["contours/band_hi"][()]
    check((lo <= hi).all(), "band_lo > band_hi")
    check(np.array_equal(lo, np.minimum(s5[..., 1], s5[..., 2])), "band_lo is not the min over R in the band")
    check(f["scan/done"][()].all(), "/scan/done not all 1")
    a = f["scan"].attrs
    for key in ("conventions", "methods", "paper_bkg", "five_sigma", "scores_config_hash"):
        check(isinstance(a.get(key), str), f"/scan: attribute {key}")
    check("paper:" in a["conventions"] and "classical:" in a["conventions"], "conventions text")
    check(np.ndim(a["sigma_ref_cm2"]) == 0 and a["sigma_ref_cm2"] == 1e-45, "sigma_ref_cm2")
    check(a["nr_bkg"] == 1 and a["n_er_events"] == 2000, "nuisance / event attributes")
    check(f["contours"].attrs["r_band_lo"] == 100.0, "r_band_lo")
    # templates: NaN exactly beyond n_bins; the signal carries the mass's rate
    nb = f["templates/ts/n_bins"][()]
    for name in ("background", "signal", "nr_background", "background_w2"):
        t = f["templates/ts/" + name][()]
        for im in range(2):
            for ir in range(3):
                k = nb[im, ir]
                check(not np.isnan(t[im, ir, :k]).any() and np.isnan(t[im, ir, k:]).all(),
                      f"/templates/ts/{name}[{im},{ir}] NaN pattern vs n_bins {k}")
    sig = f["templates/ts/signal"][()]
    rate = f["scan/signal_rate"][()]
    for im in range(2):
        check(abs(np.nansum(sig[im, 0]) - rate[im]) <= 1e-9 * rate[im],
              f"mass {im}: signal template {np.nansum(sig[im, 0])} != signal_rate {rate[im]}")
    bg = f["templates/ts/background"][()]
    check(abs(np.nansum(bg[0, 0]) - f["scan"].attrs["background_rate"]) < 1e-9 * np.nansum(bg[0, 0]),
          "background template != background_rate")
    check(f["templates/classical/background"].dims[3][0].name == "/templates/classical/y_bin",
          "classical y axis")
    check(f["spectra/dRdE"].dims[0][0].name == "/spectra/mass_gev", "spectra mass axis")
    check((f["spectra/mass_gev"][()] == [20.0, 200.0]).all(), "spectra masses")


def check_scores(f):
    for bank, units in (("er", "keVee"), ("nr", "keVnr")):
        g = f["scores/" + bank]
        for field in SCORE_FIELDS:
            check(field in g, f"/scores/{bank}/{field} missing")
        check(g.attrs.get("energy_units") == units, f"/scores/{bank} energy_units")
        check(g.attrs["n_draws_total"] == g["attempts"][()].sum(), f"/scores/{bank} n_draws_total")
        check(g["cs1"].attrs["units"] == "PE", f"/scores/{bank}/cs1 units")


def main():
    for exe in (MPI_SCAN, DDSCAN):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} is not built (make)")
    with tempfile.TemporaryDirectory(prefix="ddscan-py-scan-") as tmp:
        with open(os.path.join(tmp, "s.cfg"), "w") as c:
            c.write(CONFIG)
        run([MPI_SCAN, "scores", "s.cfg", "--er", "2000", "--nr", "1500"], tmp)
        run([DDSCAN, "scan", "s.cfg", "-q"], tmp)
        path = os.path.join(tmp, "run", "results.h5")
        with h5py.File(path, "r", locking=False) as f:
            check_datasets(f)
            check_scan(f)
            check_limits(f)
            check_scores(f)
            check(f["provenance/scan"].attrs["n_ranks"] == 2, "provenance n_ranks")
        r = subprocess.run(["h5dump", path], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0 and "/scan/sigma_cm2" in r.stdout and "H5T_CSET_UTF8" in r.stdout,
              f"h5dump failed or lacks the group-local scales: {r.stderr[:300]}")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok: scan file readable with h5py and h5dump; units, scales and values as documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
