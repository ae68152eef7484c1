#!/usr/bin/env python3
"""mc_halves.py - is the analysis Monte Carlo large enough?  Splits the scored
analysis sample of a run into two statistically independent halves (events
with even and odd index, each bank's n_draws_total recomputed from its own
attempts), scans each half with the same configuration and compares the
5-sigma contours at every exposure (issue 14: within 3 % on fig9-small).

    tools/mc_halves.py RESULTS.h5 CONFIG [--set KEY=VALUE ...] [--ddscan BIN]
                       [--np N] [--tol 0.03] [--keep DIR]

RESULTS.h5 must hold /scores (the score stage done).  Each half is a copy of
the file with its /scores tables cut to the half; `ddscan scan` then writes
/scan and /contours into it.  Prints, per method, the largest relative
difference |s_a - s_b| / mean over mass, R and exposure (finite contours
only), the same at the optimal R, and the worst exposure; exits 1 when the
difference at the optimal R exceeds --tol, 0 otherwise, 2 on usage errors.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HDF5_DIM_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME"}


def cut_group(g, keep):
    """Replaces every dataset of an io_field table group by its rows `keep`."""
    names = [k for k in g.keys() if isinstance(g[k], h5py.Dataset)]
    saved = {}
    for k in names:
        ds = g[k]
        attrs = {a: ds.attrs[a] for a in ds.attrs if a not in HDF5_DIM_ATTRS}
        saved[k] = (ds[()][keep], attrs, ds.dtype)
        del g[k]
    n = int(keep.sum())
    for k, (data, attrs, dt) in saved.items():
        if k == "index":
            data = np.arange(n, dtype=dt)
        ds = g.create_dataset(k, data=data, dtype=dt)
        for a, v in attrs.items():
            ds.attrs[a] = v
    if "index" in g:
        g["index"].make_scale("index")
        for k in saved:
            if k != "index" and g[k].shape and g[k].shape[0] == n:
                g[k].dims[0].attach_scale(g["index"])
    g.attrs["n_draws_total"] = np.int64(g["attempts"][()].sum())


def make_half(src, dst, parity):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+", locking=False) as f:
        for bank in ("er", "nr"):
            g = f["scores/" + bank]
            ev = g["event"][()]
            cut_group(g, (ev % 2) == parity)
        for grp in ("scan", "contours", "templates"):
            if grp in f:
                del f[grp]


def sigma5(path):
    with h5py.File(path, "r", locking=False) as f:
        s = f["contours/sigma5"][()]  # [method][mass][exposure][r]
        best = f["contours/sigma5_best_r"][()] if "contours/sigma5_best_r" in f else None
        methods = f["scan"].attrs["methods"]
        if isinstance(methods, bytes):
            methods = methods.decode()
        e = f["axes/exposure_ty"][()]
    return s, best, [m.strip() for m in methods.split(",")], e


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("config")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--ddscan", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bin", "ddscan"))
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--tol", type=float, default=0.03)
    ap.add_argument("--keep", default=None, help="keep the two half runs in this directory")
    a = ap.parse_args()
    if not os.path.exists(a.results):
        print("mc_halves: %s does not exist" % a.results, file=sys.stderr)
        return 2
    work = a.keep or tempfile.mkdtemp(prefix="mc_halves.")
    runs = []
    for parity, name in ((0, "even"), (1, "odd")):
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        for sub in ("checkpoints",):
            s = os.path.join(os.path.dirname(os.path.abspath(a.results)), sub)
            if os.path.isdir(s) and not os.path.exists(os.path.join(d, sub)):
                shutil.copytree(s, os.path.join(d, sub))
        make_half(a.results, os.path.join(d, "results.h5"), parity)
        cmd = ([] if a.np <= 1 else ["mpirun", "--oversubscribe", "-n", str(a.np)]) + [
            a.ddscan, "scan", a.config, "--set", 'run.output_dir="%s"' % d, "-q"]
        for s in a.sets:
            cmd += ["--set", s]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print("mc_halves: scan of the %s half failed:\n%s" % (name, r.stderr[-2000:]), file=sys.stderr)
            return 2
        runs.append(os.path.join(d, "results.h5"))
    (sa, ba, methods, e), (sb, bb, _, _) = sigma5(runs[0]), sigma5(runs[1])
    with h5py.File(runs[0], "r", locking=False) as f:
        n_er = int(f["scores/er/event"].shape[0])
        n_nr = int(f["scores/nr/event"].shape[0])
        cl = f["templates/classical"].attrs.get("source", b"") if "templates/classical" in f else b""
        cl = cl.decode() if isinstance(cl, bytes) else str(cl)
    print("analysis MC split in two halves of %d ER + %d NR events (even / odd event index)" % (n_er, n_nr))
    worst_best = 0.0
    for m, name in enumerate(methods):
        x, y = sa[m], sb[m]
        ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
        rel = np.where(ok, np.abs(x - y) / (0.5 * (x + y)), np.nan)
        line = "  %-10s all (mass, R, E): max %6.1f %%, median %5.1f %% (%d finite)" % (
            name, 100 * np.nanmax(rel) if ok.any() else np.nan,
            100 * np.nanmedian(rel) if ok.any() else np.nan, ok.sum())
        if ba is not None:
            xb, yb = ba[m], bb[m]
            okb = np.isfinite(xb) & np.isfinite(yb) & (xb > 0) & (yb > 0)
            relb = np.where(okb, np.abs(xb - yb) / (0.5 * (xb + yb)), np.nan)
            if okb.any():
                per_e = np.nanmax(relb, axis=0)
                j = int(np.nanargmax(per_e))
                worst_best = max(worst_best, float(np.nanmax(relb)))
                line += "; at R_opt: max %6.1f %% (worst at E = %g t*y)" % (100 * np.nanmax(relb), e[j])
                line += "\n             per exposure at R_opt [%%]: %s" % " ".join(
                    "%.1f" % (100 * v) for v in per_e)
        if name == "classical" and cl == "detector_mc":
            line += ("\n             (classical: templates from its own detector MC, "
                     "stats.classical.mc_events, not from the halved scores: equal by construction)")
        print(line)
    verdict = "within" if worst_best <= a.tol else "NOT within"
    print("halves %s %.0f %% of each other at the optimal R (worst %.1f %%)" % (verdict, 100 * a.tol, 100 * worst_best))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if worst_best <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
