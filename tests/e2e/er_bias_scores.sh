#!/usr/bin/env bash
# er_bias_scores.sh - the importance-biased ER tail (detector.er_bias) carried
# through the score stage into the scan, on configs/tiny.cfg:
# 1. the networks do not see the bias (train and test splits are never
#    biased): the biased run scores with the unbiased run's checkpoints;
# 2. /scores/er/weight is the bank's /banks/er/weight of the same event, 1
#    in an unbiased run and in the NR bank, <= 1/(1 - fraction) when biased;
# 3. the weighted ER templates of a biased run agree with an unbiased run's
#    within their MC errors: chi^2 = sum (a_i - b_i)^2/(va_i + vb_i) of
#    per-draw rates a (unbiased), b (biased, weighted), with va = max(a, b)/N_u
#    (Poisson, also for an empty bin) and vb = max(sum w^2/N_b, a/(1 - f))/N_b
#    (sum w^2 misses the rare heavy weights <= 1/(1 - f) of a small sample;
#    independent samples, no fitted normalisation, dof = bins); p > 0.001 for
#    the TS at both R of the grid (20 bins of equal unbiased MC) and for the
#    classical (cS1, y) plane (10 cS1 bins x 5 bins of y relative to the NR
#    median); the same biased events *without* their weights must fail the
#    (cS1, y) test (p < 0.001), so the test can fail;
# 4. prints the gain in effective MC per simulated draw, (sum w)^2/sum w^2 /
#    n_draws biased over unbiased, in the TS tail, in the deep NR-like
#    (cS1, y) tail and in the bins that carry the significance (the scan's
#    /contours/mc_ratio per draw).  Reported, not asserted: it depends on how
#    well the networks' TS follows recombination (docs/statistics.md).
# ER_BIAS_EVENTS (default 4000) sets the ER analysis sample of both runs.
set -u
. "$(dirname "$0")/../lib.sh"
CFG="$ROOT/configs/tiny.cfg"
export HDF5_USE_FILE_LOCKING=FALSE
N_ER=${ER_BIAS_EVENTS:-4000}
U="$TMP/u"
B="$TMP/b"
dir() { echo "run.output_dir=\"$1\""; }
BIAS=(--set detector.er_bias.tilt=2.0)
SAMPLE=(--set score.er_events="$N_ER" --set score.nr_events=400)

$MPIRUN -n 2 "$DDSCAN" simulate "$CFG" --set "$(dir "$U")" -q >"$TMP/sim.log" 2>&1 ||
  fail "simulate: $(tail -5 "$TMP/sim.log")"
$MPIRUN -n 2 "$DDSCAN" train "$CFG" --set "$(dir "$U")" -q >"$TMP/train.log" 2>&1 ||
  fail "train: $(tail -5 "$TMP/train.log")"
cp -r "$U" "$B"
# 1. the biased banks replace the unbiased ones; the trained networks stay valid
$MPIRUN -n 2 "$DDSCAN" simulate "$CFG" --set "$(dir "$B")" "${BIAS[@]}" -q >"$TMP/simb.log" 2>&1 ||
  fail "simulate (biased): $(tail -5 "$TMP/simb.log")"
for d in u b; do
  extra=()
  [ "$d" = b ] && extra=("${BIAS[@]}")
  $MPIRUN -n 2 "$DDSCAN" score "$CFG" --set "$(dir "$TMP/$d")" "${SAMPLE[@]}" "${extra[@]}" -q \
    >"$TMP/score_$d.log" 2>&1 || fail "score ($d): $(tail -5 "$TMP/score_$d.log")"
  "$DDSCAN" scan "$CFG" --set "$(dir "$TMP/$d")" "${SAMPLE[@]}" "${extra[@]}" \
    >"$TMP/scan_$d.log" 2>&1 || fail "scan ($d): $(tail -5 "$TMP/scan_$d.log")"
done

"$PYTHON" - "$U/results.h5" "$B/results.h5" <<'PY' || fail "biased-tail validation (above)"
import math, sys
import h5py, numpy as np

def chi2_sf(x, k):
    """Q(k/2, x/2): series below a + 1, Lentz continued fraction above."""
    a, z = 0.5 * k, 0.5 * x
    if z <= 0.0:
        return 1.0
    lg = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:
        term = s = 1.0 / a
        n = a
        for _ in range(10000):
            n += 1.0
            term *= z / n
            s += term
            if term < s * 1e-15:
                break
        return max(0.0, 1.0 - math.exp(lg) * s)
    b = z + 1.0 - a
    c, d = 1e300, 1.0 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / d if abs(d) > 1e-300 else 1e300
        c = b + an / c if abs(c) > 1e-300 else b + an * 1e300
        h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return math.exp(lg) * h

def load(path):
    with h5py.File(path, "r", locking=False) as f:
        g, n = f["scores/er"], f["scores/nr"]
        beta = g.attrs["beta"]
        d = dict(ltot=g["l_rec"][()] + beta * g["kl"][()], hb=g["h_b"][()], w=g["weight"][()],
                 ev=g["event"][()], cs1=g["cs1"][()], cs2=g["cs2"][()],
                 N=float(g.attrs["n_draws_total"]), nr_w=n["weight"][()],
                 nr_ltot=n["l_rec"][()] + beta * n["kl"][()], nr_hb=n["h_b"][()],
                 nr_cs1=n["cs1"][()], nr_cs2=n["cs2"][()],
                 bank_w=f["banks/er/weight"][()], bank_cs1=f["banks/er/cs1_pe"][()],
                 r=f["scan/r"][()] if "scan/r" in f else np.array([0.0, 170.0]),
                 mc_ratio=f["contours/mc_ratio"][()])
    return d

u, b = load(sys.argv[1]), load(sys.argv[2])
bad = []
# 2. weights
if not np.all(u["w"] == 1.0):
    bad.append("unbiased /scores/er/weight is not all 1")
if not (np.all(u["nr_w"] == 1.0) and np.all(b["nr_w"] == 1.0)):
    bad.append("/scores/nr/weight is not all 1")
if not (b["w"].min() > 0.0 and b["w"].max() <= 5.0 + 1e-9 and np.any(b["w"] != 1.0)):
    bad.append("biased weights outside (0, 1/(1 - fraction)] or all 1: %g..%g" % (b["w"].min(), b["w"].max()))
inbank = b["ev"] < b["bank_w"].shape[0]
if inbank.sum() < 100:
    bad.append("too few scored events inside the bank (%d)" % inbank.sum())
elif not (np.array_equal(b["w"][inbank], b["bank_w"][b["ev"][inbank]]) and
          np.array_equal(b["cs1"][inbank], b["bank_cs1"][b["ev"][inbank]])):
    bad.append("/scores/er/weight differs from /banks/er/weight of the same event")

def rates(x, w, N, edges):
    idx = np.searchsorted(edges, x, side="right") - 1
    k = len(edges) - 1
    s = np.bincount(idx, weights=w, minlength=k)[:k] / N
    s2 = np.bincount(idx, weights=w * w, minlength=k)[:k] / N ** 2
    return s, s2

W_MAX = 1.0 / (1.0 - 0.8)  # 1/(1 - fraction): the heaviest weight the proposal gives

def chi2_test(name, xu, xb, edges, wb):
    a, va = rates(xu, np.ones_like(xu), u["N"], edges)
    c, vc = rates(xb, wb, b["N"], edges)
    # Variances under H0 (both estimate one rate): the unbiased count is
    # Poisson, so var_a = max(a, c)/N_u, not 0 for an empty bin; the biased
    # sum is at least as noisy as where only its unbiased component covers
    # the bin (weights up to W_MAX, seen rarely in a small sample), so
    # var_b = max(sum w^2/N_b, W_MAX a)/N_b.
    va = np.maximum(a, c) / u["N"]
    vc = np.maximum(vc, W_MAX * a / b["N"])
    use = (va + vc) > 0
    chi2 = float(((a - c)[use] ** 2 / (va + vc)[use]).sum())
    k = int(use.sum())
    p = chi2_sf(chi2, k)
    print("  %-44s chi2 = %8.2f / %2d bins, p = %.3g" % (name, chi2, k, p))
    return p

def gain(name, sel_u, sel_b):
    nu = sel_u.sum() / u["N"]
    wb = b["w"][sel_b]
    nb = (wb.sum() ** 2 / (wb * wb).sum() if wb.size else 0.0) / b["N"]
    g = nb / nu if nu > 0 else float("inf")
    print("  %-44s %5d unbiased / %5d biased events, n_eff per draw %.3g / %.3g: gain %.3g" %
          (name, sel_u.sum(), sel_b.sum(), nu, nb, g))

print("ER analysis sample: %d events each; draws %d unbiased, %d biased; biased weights %.3g..%.3g"
      % (u["w"].size, u["N"], b["N"], b["w"].min(), b["w"].max()))
print("3. weighted biased vs unbiased templates (per-draw rates):")
for R in sorted(set(float(r) for r in np.atleast_1d(u["r"]))):
    tu, tb = u["ltot"] + R * u["hb"], b["ltot"] + R * b["hb"]
    q = np.quantile(tu, np.linspace(0, 1, 21)[1:-1])
    edges = np.concatenate(([-np.inf], np.unique(q), [np.inf]))
    if chi2_test("TS at R = %g, weighted" % R, tu, tb, edges, b["w"]) <= 1e-3:
        bad.append("TS template at R = %g: biased and unbiased disagree" % R)

# the classical plane: y relative to the NR median in 10 cS1 bins (3-100 PE)
cs1_edges = np.linspace(3.0, 100.0, 11)
nr_y = np.log10(u["nr_cs2"] / u["nr_cs1"])
med = np.array([np.median(nr_y[(u["nr_cs1"] >= lo) & (u["nr_cs1"] < hi)])
                if np.any((u["nr_cs1"] >= lo) & (u["nr_cs1"] < hi)) else np.median(nr_y)
                for lo, hi in zip(cs1_edges[:-1], cs1_edges[1:])])
dy_edges = np.array([-np.inf, -0.15, -0.10, -0.05, 0.0, np.inf])
def plane(d):
    ix = np.clip(np.searchsorted(cs1_edges, d["cs1"], side="right") - 1, 0, 9)
    dy = np.log10(d["cs2"] / d["cs1"]) - med[ix]
    iy = np.searchsorted(dy_edges, dy, side="right") - 1
    inside = (d["cs1"] >= 3.0) & (d["cs1"] < 100.0)
    return np.where(inside, ix * 5 + iy, 50).astype(float), dy, inside
pu, dyu, inu = plane(u)
pb, dyb, inb = plane(b)
edges2 = np.arange(52) - 0.5
if chi2_test("(cS1, y - NR median) plane, weighted", pu, pb, edges2, b["w"]) <= 1e-3:
    bad.append("classical plane: biased and unbiased disagree")
if chi2_test("the same, biased events unweighted (control)", pu, pb, edges2, np.ones_like(b["w"])) > 1e-3:
    bad.append("the unweighted control passes: the test has no power at this sample size")

print("4. gain in effective MC per simulated draw, biased over unbiased:")
for R in sorted(set(float(r) for r in np.atleast_1d(u["r"]))):
    tu, tb = u["ltot"] + R * u["hb"], b["ltot"] + R * b["hb"]
    nr_med = np.median(u["nr_ltot"] + R * u["nr_hb"])
    gain("TS at R = %g above the NR median TS" % R, tu > nr_med, tb > nr_med)
    t99 = np.quantile(tu, 0.99)
    gain("TS at R = %g above the ER 99 %% quantile" % R, tu > t99, tb > t99)
for lim in (0.0, -0.05, -0.10, -0.15):
    gain("(cS1, y): y below the NR median %+.2f" % lim, inu & (dyu < lim), inb & (dyb < lim))
mu, mb = u["mc_ratio"], b["mc_ratio"]
ok = np.isfinite(mu) & np.isfinite(mb) & (mu > 0) & (mb > 0)
if ok.any():
    g = (mb[ok] / b["N"]) / (mu[ok] / u["N"])
    print("  %-44s median %.3g, range %.3g..%.3g over %d contour points" %
          ("/contours/mc_ratio per draw (significance bins)", np.median(g), g.min(), g.max(), ok.sum()))
zero = np.isfinite(mu) & (mu == 0) & np.isfinite(mb) & (mb > 0)
if zero.any():
    print("  %d contour points have no unbiased MC in their significance bins, %d of them some biased MC"
          % (zero.sum(), zero.sum()))
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
PY
pass
