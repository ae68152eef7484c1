#!/usr/bin/env python3
"""test_ddplot.py - tools/ddplot and tools/mkresults on a real results file.

Builds a small results file (synthetic scores from tests/mpi_scan.c, then `ddscan scan`
with the paper's benchmark points on the grid and the sound nuisances off, so that its
q0,A has the closed form), then checks: ddplot draws every figure the file supports
(non-trivial PNG and PDF files) and lists the ones it skips with the dataset and stage;
--fig N on a file lacking a dataset fails naming it and the stage that writes it, with
exit 1 and no traceback (training groups, scan results, a missing method, a shard, a
missing file); the numbers ddplot computes (Fig. 6 histograms scaled by linearity, the
--summary JSON) agree with the file's own /scan and /contours values; mkresults writes a
page whose image links all exist and whose statements carry verdicts.  Figs. 1, 3, 4 (and 5,
9 on network scores) come from the tiny pipeline (`ddscan configs/tiny.cfg` at np 2: simulate,
train, score, scan).  Exits non-zero on any failure.
"""
import importlib.util
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from importlib.machinery import SourceFileLoader

import h5py
import numpy as np

sys.dont_write_bytecode = True
ROOT = os.environ.get("DDSCAN_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("DDSCAN_BUILD") or os.path.join(ROOT, "build")
DDSCAN = os.environ.get("DDSCAN") or os.path.join(ROOT, "bin", "ddscan")
MPI_SCAN = os.path.join(BUILD, "tests", "mpi_scan")
DDPLOT = os.path.join(ROOT, "tools", "ddplot")
MKRESULTS = os.path.join(ROOT, "tools", "mkresults")
PY = sys.executable  # the Python running this test (tests/run.sh: $PYTHON)

CONFIG = """
run = { name = "plot-test"; seed = 4; output_dir = "run"; };
scan = {
  mass_gev = [10.0, 50.0, 500.0, 1000.0];
  sigma_cm2 = { log_from = 1e-48; log_to = 1e-44; points = 9; };
  exposure_ty = { log_from = 0.5; log_to = 500.0; points = 7; };
  r = [0.0, 100.0, 170.0, 250.0, 400.0, 800.0];
  methods = ["paper", "sound", "classical"];
  min_effective_events = 50.0;
};
stats = { binning = { rule = "quantile"; bins = 15; };
          sound = { er_norm = false; mc_stat = false; nr_bkg = false; }; };
"""
# the NR background enters the `paper` histogram (and the sound nuisances): Fig. 6 must add it
CONFIG_NRBG = """
run = { name = "plot-nrbg"; seed = 6; output_dir = "nrbg"; };
physics = { nr_background = { neutrons = true; cevns_b8 = true; neutrons_scale = 30.0; }; };
scan = { mass_gev = [10.0, 500.0]; sigma_cm2 = [1e-46, 1e-45]; exposure_ty = [1.0, 5.0];
         r = [0.0, 170.0]; methods = ["paper", "sound"]; min_effective_events = 10.0; };
stats = { sound = { nr_bkg = true; }; binning = { rule = "uniform"; bins = 12; }; };
"""
VERDICTS = {"reproduced", "not reproduced", "different by design", "paper value unavailable", "not tested"}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def run(cmd, cwd, mpi=True):
    mpirun = os.environ.get("MPIRUN") if mpi else None
    full = (shlex.split(mpirun) + ["-n", "2"] if mpirun else []) + cmd
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0" + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
    r = subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        sys.exit(f"{' '.join(full)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def tool(args, cwd=None):
    r = subprocess.run([PY] + args, cwd=cwd, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def load_ddplot():
    loader = SourceFileLoader("ddplot", DDPLOT)
    spec = importlib.util.spec_from_loader("ddplot", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def check_image_files(out, names, pdf=True):
    import matplotlib.image as mpimg
    for name in names:
        png = os.path.join(out, name + ".png")
        if not check(os.path.isfile(png), f"{name}: PNG missing"):
            continue
        with open(png, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{png}: not a PNG")
        check(os.path.getsize(png) > 20000, f"{png}: only {os.path.getsize(png)} bytes")
        if pdf:
            p = os.path.join(out, name + ".pdf")
            if check(os.path.isfile(p), f"{name}: PDF missing"):
                with open(p, "rb") as f:
                    check(f.read(5) == b"%PDF-", f"{p}: not a PDF")
                check(os.path.getsize(p) > 8000, f"{p}: only {os.path.getsize(p)} bytes")
        img = mpimg.imread(png)
        check(img.shape[0] >= 300 and img.shape[1] >= 500, f"{png}: {img.shape[:2]} pixels")
        # a drawn figure: many distinct colours, not a blank or single-colour page
        q = (np.asarray(img[..., :3]) * 255).astype(np.uint8).reshape(-1, 3)
        n_col = len(np.unique(q[:: max(1, len(q) // 200000)], axis=0))
        check(n_col > 40 and float(np.std(img[..., :3])) > 0.03, f"{png}: looks blank ({n_col} colours)")


def expect_error(args, cwd, must, what):
    rc, out, err = tool([DDPLOT] + args, cwd)
    check(rc == 1, f"{what}: exit {rc}, expected 1 (stderr: {err[-400:]})")
    check("Traceback" not in err, f"{what}: a Python traceback instead of a message:\n{err[-800:]}")
    for m in must:
        check(m in err, f"{what}: stderr lacks '{m}': {err.strip()[-500:]}")


def check_numbers(dp, path, sound=True):
    """ddplot's own arithmetic against the file's /scan: the paper p everywhere, the sound Z
    where the file's sound statistic has no nuisances."""
    res = dp.open_results(path)
    f = res.f
    mass, sig, E, r = (f[f"scan/{a}"][()] for a in ("mass_gev", "sigma_cm2", "exposure_ty", "r"))
    methods = [m.decode() for m in f["scan/analysis"][()]]
    kp, ks = methods.index("paper"), methods.index("sound")
    lp, z = f["scan/log_p"][()], f["scan/z"][()]
    isg = int(np.argmin(abs(np.log(sig / 1e-46))))
    iex = int(np.argmin(abs(np.log(E / 5.0))))
    check(abs(sig[isg] / 1e-46 - 1) < 1e-9 and abs(E[iex] / 5.0 - 1) < 1e-9, "grid lacks 1e-46 or 5 t*y")
    n_cmp = 0
    for im in range(len(mass)):
        for ir in range(len(r)):
            n = dp.fig6_numbers(res, im, ir, sig[isg], E[iex])
            # paper (shared Asimov): p = erfc(sqrt(chi2_P/2)); sound without nuisances: z = sqrt(q0,A)
            if n["p_paper"] > 1e-300:
                check(abs(math.log(n["p_paper"]) - lp[kp, im, isg, iex, ir]) <= 1e-7 * max(1.0, abs(lp[kp, im, isg, iex, ir])),
                      f"fig 6 chi2_P at mass {mass[im]} R {r[ir]}: p {n['p_paper']} vs file {math.exp(lp[kp, im, isg, iex, ir])}")
            if sound:
                check(abs(math.sqrt(n["q0a"]) - z[ks, im, isg, iex, ir]) <= 1e-7 * max(1.0, z[ks, im, isg, iex, ir]),
                      f"fig 6 q0,A at mass {mass[im]} R {r[ir]}: sqrt {math.sqrt(n['q0a'])} vs file z "
                      f"{z[ks, im, isg, iex, ir]}")
            else:
                check(n["c"].sum() > 0, "fig 6: no NR background in a file with stats.sound.nr_bkg")
            check(abs(n["S"] - E[iex] * sig[isg] / f["scan"].attrs["sigma_ref_cm2"] * f["scan/signal_rate"][im])
                  <= 1e-9 * n["S"], "fig 6 signal total != E * sigma/sigma_ref * signal_rate")
            n_cmp += 1
    check(n_cmp == len(mass) * len(r), "fig 6 numbers not compared")
    res.close()


def check_flags_and_edges(dp, path):
    """Flagged contour points are hollow with a legend entry naming the reason; Fig. 9's line
    carries the flags of /contours/flags at best_r_overall; an R_opt on the grid's edge says so."""
    import matplotlib.pyplot as plt
    fig, a = plt.subplots()
    reasons = set()
    dp.contour_points(a, [1.0, 2.0, 3.0], [1e-46, 2e-46, 3e-46], [0, 2048, 2 | 1024], "C0", reasons)
    filled, hollow = [ln for ln in a.lines if len(ln.get_xdata())]
    check(list(filled.get_xdata()) == [1.0] and list(hollow.get_xdata()) == [2.0, 3.0]
          and hollow.get_markerfacecolor() == "none", "flagged contour points are not hollow")
    check(reasons == {"mc-ratio", "low-count", "low-mc"}, f"flag reasons {reasons}")
    dp.flag_legend(a, reasons)
    labels = " ".join(ln.get_label() for ln in a.lines)
    check("hollow: flagged contour point" in labels and "mc-ratio: MC-to-data ratio below" in labels,
          f"flag legend: {labels[:300]}")
    plt.close(fig)
    check("edge of the R grid" in dp.r_opt_text(250.0, [0.0, 100.0, 250.0]), "R_opt at the top edge")
    check("edge of the R grid" in dp.r_opt_text(0.0, [0.0, 100.0, 250.0]), "R_opt at the bottom edge")
    check(dp.r_opt_text(100.0, [0.0, 100.0, 250.0]) == "R_opt = 100", "an inner R_opt")
    res = dp.open_results(path)
    d = dp.fig9_data(res, "sound", 50.0)
    with h5py.File(path, "r", locking=False) as f:
        r = list(f["contours/r"][()])
        k = list(f["contours/analysis"].asstr()[()]).index("sound")
        want = f["contours/flags"][k, d["im"], :, r.index(d["r_opt"])]
    check(np.array_equal(d["line_flags"], want), "fig 9 line flags differ from /contours/flags")
    res.close()


def check_summary(path, s):
    with h5py.File(path, "r", locking=False) as f:
        methods = [m.decode() for m in f["contours/analysis"][()]]
        mass, r, E = f["contours/mass_gev"][()], f["contours/r"][()], f["contours/exposure_ty"][()]
        best = f["contours/best_r_overall"][()]
        s5 = f["contours/sigma5"][()]
        lp = f["scan/log_p"][()]
        sig = f["scan/sigma_cm2"][()]
    check(s["methods"] == methods, f"summary methods {s['methods']}")
    for k, m in enumerate(methods):
        for im, mv in enumerate(mass):
            check(s["best_r"][m][f"{mv:g}"] == best[k, im], f"best R of {m} at {mv} GeV")
    # benchmarks: exact grid points carry the file's p
    n_exact = 0
    for b in s["benchmarks"]:
        if not b["exact"] or b["r_label"] == "-":
            continue
        k, im = methods.index(b["method"]), list(mass).index(b["mass"])
        isg, iex, ir = list(sig).index(b["sigma"]), list(E).index(b["exposure"]), list(r).index(b["r"])
        check(abs(b["log10_p"] * math.log(10) - lp[k, im, isg, iex, ir]) < 1e-9 * max(1, abs(lp[k, im, isg, iex, ir])),
              f"benchmark p of {b}")
        n_exact += 1
    check(n_exact >= 2 * 4 * 2 * 3, f"only {n_exact} exact benchmark rows")
    # R = 0 vs R = 170: geometric mean over exposures, recomputed here
    k, ir0, ir170 = methods.index("sound"), list(r).index(0.0), list(r).index(170.0)
    for im, mv in enumerate(mass):
        blk = s5[k, im]
        ok = (np.isfinite(blk) & (blk > 0)).all(axis=1)
        want = math.exp(np.mean(np.log(blk[ok, ir0])) - np.mean(np.log(blk[ok, ir170])))
        got = s["r_dependence"]["sound"][f"{mv:g}"]["r0_over_r170"]
        check(abs(got / want - 1) < 1e-9, f"r0_over_r170 at {mv} GeV: {got} vs {want}")
    # mass ordering: sorted by the exposure at 5 sigma
    for m, d in s["fig8_order"].items():
        for st, v in d["by_sigma"].items():
            inside = [x for x in v["order"] if v["e5"][x]["bound"] == ""]
            es = [v["e5"][x]["exposure"] for x in inside]
            check(es == sorted(es), f"fig 8 order of {m} at {st}: {v['order']} vs {es}")
    ids = {st["id"] for st in s["statements"]}
    for want in ("r_opt", "r0", "plateau", "ml_vs_classical", "fig8_order", "xenonnt", "statistic"):
        check(want in ids, f"summary has no statement '{want}'")
    for st in s["statements"]:
        check(st["verdict"] in VERDICTS, f"statement {st['id']}: verdict '{st['verdict']}'")
        check(st["ddscan"], f"statement {st['id']}: empty finding")
    # this grid answers every R statement for both ML methods
    for st in s["statements"]:
        if st["id"] in ("r_opt", "r0", "plateau", "ml_vs_classical"):
            check(st["verdict"] in ("reproduced", "not reproduced"), f"{st['id']} ({st['method']}) not tested")
        if st["id"] == "fig8_order":
            check(st["verdict"] == "paper value unavailable", "fig8_order verdict without the paper's order")
        if st["id"] == "xenonnt":
            check(st["verdict"] == "different by design", "xenonnt verdict")


def main():
    for exe in (MPI_SCAN, DDSCAN):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} is not built (make)")
    dp = load_ddplot()
    with tempfile.TemporaryDirectory(prefix="ddscan-py-plot-") as tmp:
        with open(os.path.join(tmp, "p.cfg"), "w") as c:
            c.write(CONFIG)
        run([MPI_SCAN, "scores", "p.cfg", "--er", "1500", "--nr", "1500"], tmp)
        scores_only = os.path.join(tmp, "scores.h5")
        shutil.copy(os.path.join(tmp, "run", "results.h5"), scores_only)
        run([DDSCAN, "scan", "p.cfg", "-q"], tmp)
        path = os.path.join(tmp, "run", "results.h5")

        # 1. every figure the file supports; the others listed with their reason
        out = os.path.join(tmp, "figs")
        rc, so, se = tool([DDPLOT, path, "--out", out])
        check(rc == 0, f"ddplot on the scan file: exit {rc}\n{se[-1500:]}")
        want = [f"fig{n}_{m}" for n in (5, 6, 7, 8, 9) for m in ("paper", "sound")] + ["fig9_all"]
        check_image_files(out, want)
        drawn = sorted(os.path.splitext(x)[0] for x in os.listdir(out) if x.endswith(".png"))
        check(drawn == sorted(want), f"drawn {drawn}, expected {sorted(want)}")
        for n in (1, 3, 4):
            m = re.search(rf"skipped fig {n}: (.*)", so)
            check(m is not None and "/training/" in m.group(1) and "train stage" in m.group(1)
                  and "ddscan train CONFIG" in m.group(1), f"fig {n} not listed as skipped with its reason:\n{so}")

        # 1b. --limits: the expected-limit figure (limit vs mass, vs exposure)
        lim_out = os.path.join(tmp, "lims")
        rc, so, se = tool([DDPLOT, path, "--out", lim_out, "--fig", "9", "--method", "sound", "--limits"])
        check(rc == 0 and "limits:" in so, f"ddplot --limits: exit {rc}\n{se[-1500:]}")
        check_image_files(lim_out, ["fig9_sound", "limits"])

        # 2. clear failures, exit 1
        expect_error([path, "--out", out, "--fig", "3"], tmp,
                     ["fig 3 needs /training/cvae/", "train stage", "ddscan train CONFIG", path], "--fig 3 without /training")
        expect_error([path, "--out", out, "--fig", "1"], tmp, ["/training/examples/er_image", "train stage"],
                     "--fig 1 without /training")
        expect_error([path, "--out", out, "--fig", "8", "--method", "toys"], tmp,
                     ["method 'toys'", "/scan/analysis", "['paper', 'sound', 'classical']"], "--method toys")
        expect_error([scores_only, "--out", out, "--fig", "9"], tmp,
                     ["fig 9 needs /scan/analysis", "scan stage", "ddscan scan CONFIG"], "--fig 9 on a scores-only file")
        expect_error([scores_only, "--out", out, "--fig", "5"], tmp, ["scan stage"], "--fig 5 on a scores-only file")
        expect_error([os.path.join(tmp, "nope.h5"), "--out", out], tmp, ["nope.h5' does not exist"], "missing file")
        nos = os.path.join(tmp, "no_scores.h5")
        shutil.copy(scores_only, nos)
        with h5py.File(nos, "a", locking=False) as f:
            del f["scores/nr/h_b"]
        expect_error([nos, "--out", out, "--fig", "5"], tmp,
                     ["fig 5 needs /scores/nr/h_b", "score stage", "ddscan score CONFIG"], "--fig 5 without h_b")
        rc, so, se = tool([DDPLOT, nos, "--out", os.path.join(tmp, "nos")])
        check(rc == 1 and "skipped fig 5 (paper): fig 5 needs /scores/nr/h_b" in so
              and "skipped fig 9 (paper): fig 9 needs /scan/analysis" in so and "supports none" in se,
              f"default run on a scores file without h_b: exit {rc}, {so[-600:]} {se[-600:]}")
        os.makedirs(os.path.join(tmp, "shard"))
        shutil.copy(scores_only, os.path.join(tmp, "shard", "results.h5"))
        run([DDSCAN, "scan", os.path.join(tmp, "p.cfg"), "-q", "--shard", "0/2",
             "--set", "run.output_dir=\"" + os.path.join(tmp, "shard") + "\""], tmp, mpi=False)
        expect_error([os.path.join(tmp, "shard", "results.shard-0-of-2.h5"), "--out", out], tmp,
                     ["shard 0 of 2", "ddscan merge"], "a shard file")

        # 3. numbers
        check_numbers(dp, path)
        check_flags_and_edges(dp, path)
        rc, so, se = tool([DDPLOT, path, "--summary"])
        check(rc == 0, f"--summary: exit {rc} {se[-600:]}")
        try:
            s = json.loads(so)
        except ValueError as e:
            s = None
            check(False, f"--summary is not JSON: {e}: {so[:300]}")
        if s:
            check_summary(path, s)
        rc, so, se = tool([DDPLOT, path, "--summary", "md"])
        check(rc == 0 and "| optimum R ≈ 170" in so and "p (R ≈ 170)" in so, f"--summary md: {rc} {so[:300]}")

        with open(os.path.join(tmp, "n.cfg"), "w") as c:
            c.write(CONFIG_NRBG)
        run([MPI_SCAN, "scores", "n.cfg", "--er", "600", "--nr", "600"], tmp)
        run([DDSCAN, "scan", "n.cfg", "-q"], tmp)
        check_numbers(dp, os.path.join(tmp, "nrbg", "results.h5"), sound=False)

        # 4. the tiny pipeline (`ddscan CONFIG`: simulate, train, score, scan): Figs. 1, 3, 4
        # and the others on network scores
        tiny = os.path.join(tmp, "tiny")
        os.makedirs(tiny)
        run([DDSCAN, os.path.join(ROOT, "configs", "tiny.cfg"), "-q", "--set", f'run.output_dir="{tiny}"'], tmp)
        tr = os.path.join(tiny, "results.h5")
        out2 = os.path.join(tmp, "figs_tiny")
        figs = ["1", "3", "4", "5", "9"]
        rc, so, se = tool([DDPLOT, tr, "--out", out2, "--format", "png", "--fig"] + figs)
        check(rc == 0, f"ddplot --fig {' '.join(figs)} on the tiny pipeline: exit {rc}\n{se[-1500:]}")
        check_image_files(out2, ["fig1", "fig3", "fig4", "fig5_paper", "fig5_sound", "fig9_paper", "fig9_sound"],
                          pdf=False)
        with h5py.File(tr, "r", locking=False) as f:
            check(f["scores/er"].attrs["detector_preset"] != "synthetic", "tiny pipeline scores are synthetic")

        # 5. mkresults: a page whose links exist, with verdicts
        page = os.path.join(tmp, "docs", "results.md")
        second = "plot-test"
        rc, so, se = tool([MKRESULTS, "--out", page, "-q", "--fig", "1,5,9", tr, path])
        check(rc == 0, f"mkresults: exit {rc}\n{se[-1500:]}")
        if os.path.isfile(page):
            text = open(page).read()
            links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
            n_tr = len([x for x in os.listdir(os.path.join(os.path.dirname(page), "img", "results"))])
            # tiny: fig1, fig5 x 2, fig9 x 3; the synthetic run: fig5 x 2, fig9 x 3
            check(n_tr == 2 and len(links) == 11, f"{len(links)} figure links, {n_tr} runs in results.md")
            for ln in links:
                check(ln.startswith("img/results/") and os.path.isfile(os.path.join(os.path.dirname(page), ln)),
                      f"results.md links a missing image {ln}")
            check(f"| {second} |" in text and "| tiny |" in text, "a run has no row in results.md")
            for v in ("**reproduced**", "**different by design**", "**paper value unavailable**"):
                check(v in text, f"results.md has no verdict {v}")
            check("synthetic" in text and "Warning" in text, "results.md does not flag synthetic scores")
            check(f"not drawn from **{second}**: fig 1 needs /training/examples/er_image" in text,
                  "results.md does not say why fig 1 is missing from the synthetic run")
            check("img/results/tiny/fig1.png" in text, "results.md lacks the tiny pipeline's Fig. 1")
        # FILE:FIGS: each statement is judged on the run made for its figure
        rc, so, se = tool([MKRESULTS, "--out", page, "-q", tr + ":1,5", path + ":9"])
        check(rc == 0, f"mkresults FILE:FIGS: exit {rc}\n{se[-1500:]}")
        if rc == 0:
            rows = [ln for ln in open(page).read().splitlines() if ln.startswith("| the ML band")]
            check(rows and all(f"| {second} |" in ln for ln in rows),
                  f"the Fig. 9 statement is not judged on the Fig. 9 run alone: {rows}")
        rc, so, se = tool([MKRESULTS, "--out", page, "-q", os.path.join(tmp, "nope.h5")])
        check(rc == 1 and "nope.h5' does not exist" in se and "Traceback" not in se, f"mkresults on a missing file: {rc} {se}")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok: ddplot drew every supported figure, refused unsupported ones by name, and its numbers match the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
