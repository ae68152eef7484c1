#!/usr/bin/env python3
"""er_bias_gain.py - gain of the importance-biased ER tail (detector.er_bias,
docs/detector.md §11) in the TS bins that carry the significance, measured on
two score stages of the same trained networks: an unbiased run UNBIASED.h5
(its /templates/ts and /contours define the bins) and a biased one BIASED.h5
(only its /scores/er are read).

For each supervision weight R of the unbiased templates and each exposure of
its contour grid, the bins that carry SHARE (0.9) of the Asimov q0 at the
paper method's sigma5 of that point, q_i = 2[(s_i + b_i) ln(1 + s_i/b_i) -
s_i] (largest first, as src/stats/mcratio.c), are taken; in their union the
effective ER MC per simulated draw, (sum w)^2 / sum w^2 / n_draws_total, of
both runs is compared (the ER physical weight rate/q_er is constant for the
ER background sampler, so the importance weight is all of w).  Also the
(cS1, y) tail levels of tests/test_detector.c for the same events.

Usage: er_bias_gain.py UNBIASED.h5 BIASED.h5 [SHARE]
"""
import sys

import h5py
import numpy as np


def load(path):
    with h5py.File(path, "r", locking=False) as f:
        g = f["scores/er"]
        beta = float(g.attrs["beta"])
        return dict(ltot=g["l_rec"][()] + beta * g["kl"][()], hb=g["h_b"][()], w=g["weight"][()],
                    cs1=g["cs1"][()], cs2=g["cs2"][()], N=float(g.attrs["n_draws_total"]))


def ess_per_draw(w, N):
    return (w.sum() ** 2 / (w * w).sum() if w.size else 0.0) / N


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    share = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
    u, b = load(sys.argv[1]), load(sys.argv[2])
    with h5py.File(sys.argv[1], "r", locking=False) as f:
        t = f["templates/ts"]
        rs, nb = t["r"][()], t["n_bins"][()][0]
        edges, sig, bkg = t["edges"][0], t["signal"][0], t["background"][0]
        nrb = t["nr_background"][0]
        sref = float(f["templates"].attrs["sigma_ref_cm2"])
        c = f["contours"]
        meth = [m.decode() if isinstance(m, bytes) else m for m in c["analysis"][()]]
        s5 = c["sigma5"][meth.index("paper"), 0]  # [exposure, r]
        expo = c["exposure_ty"][()]
    print("ER analysis events: %d unbiased (%d draws), %d biased (%d draws), weights %.3g..%.3g"
          % (u["w"].size, u["N"], b["w"].size, b["N"], b["w"].min(), b["w"].max()))
    print("TS bins carrying %.0f %% of q0 at the paper method's sigma5 (50 GeV):" % (100 * share))
    print("  %6s %8s %5s %8s %8s %11s %11s %6s" % ("R", "exposure", "bins", "TS from", "unb. MC",
                                                "ESS/draw u", "ESS/draw b", "gain"))
    gains = []
    for ir, R in enumerate(rs):
        k = int(nb[ir])
        e = edges[ir, : k + 1]
        tu = u["ltot"] + R * u["hb"]
        tb = b["ltot"] + R * b["hb"]
        iu = np.clip(np.searchsorted(e, tu, side="right") - 1, 0, k - 1)
        ib = np.clip(np.searchsorted(e, tb, side="right") - 1, 0, k - 1)
        for ie, E in enumerate(expo):
            sg = s5[ie, ir]
            if not np.isfinite(sg) or sg <= 0:
                continue
            s = E * sg / sref * sig[ir, :k]
            bb = E * (bkg[ir, :k] + nrb[ir, :k])
            q = np.where(s > 0, 2 * bb * ((1 + s / bb) * np.log1p(s / bb) - s / bb), 0.0)
            order = np.argsort(-q)
            cum = np.cumsum(q[order])
            n = int(np.searchsorted(cum, share * cum[-1]) + 1)
            sel = np.zeros(k, bool)
            sel[order[:n]] = True
            mu, mb = sel[iu], sel[ib]
            eu, eb = mu.sum() / u["N"], ess_per_draw(b["w"][mb], b["N"])
            g = eb / eu if eu > 0 else np.inf
            gains.append(g)
            if ie % 10 == 0:
                lo = e[order[:n]].min()
                print("  %6.0f %8.3g %5d %8.1f %8d %11.3g %11.3g %6.2f"
                      % (R, E, n, lo, mu.sum(), eu, eb, g))
    gains = np.array(gains)
    print("TS gain over every (R, exposure): median %.2f, range %.2f..%.2f (%d points)"
          % (np.median(gains), gains.min(), gains.max(), gains.size))
    # TS tail: the top-TS ER events at R = the middle of the grid
    R = rs[len(rs) // 2]
    tu, tb = u["ltot"] + R * u["hb"], b["ltot"] + R * b["hb"]
    for qq in (0.99, 0.999):
        thr = np.quantile(tu, qq)
        eu = (tu > thr).sum() / u["N"]
        eb = ess_per_draw(b["w"][tb > thr], b["N"])
        print("TS at R = %g above the unbiased ER %.1f %% quantile: %d unbiased / %d biased events, gain %.2f"
              % (R, 100 * qq, (tu > thr).sum(), (tb > thr).sum(), eb / eu))
    # the (cS1, y) levels of tests/test_detector.c (50 GeV NR medians of xent_sr0)
    edges_cs1 = np.array([3, 5, 7, 10, 15, 20, 30, 40, 50, 70, 100], float)
    med = np.array([2.206, 2.048, 1.937, 1.834, 1.755, 1.690, 1.621, 1.564, 1.512, 1.444])

    def dy(d):
        ix = np.searchsorted(edges_cs1, d["cs1"], side="right") - 1
        inside = (ix >= 0) & (ix < 10) & (d["cs2"] > 0)
        y = np.full(d["cs1"].shape, np.inf)
        y[inside] = np.log10(d["cs2"][inside] / d["cs1"][inside]) - med[ix[inside]]
        return y, ix

    yu, xu = dy(u)
    yb, xb = dy(b)
    for lim in (0.0, -0.05, -0.10, -0.15):
        # summed over the cS1 bins, as the test
        eu = (yu < lim).sum() / u["N"]
        eb = sum(ess_per_draw(b["w"][(yb < lim) & (xb == i)], b["N"]) for i in range(10))
        print("(cS1, y): y below the NR median %+.2f: %d unbiased / %d biased events, gain %.1f"
              % (lim, (yu < lim).sum(), (yb < lim).sum(), eb / eu if eu > 0 else np.inf))
    # how the TS tail sits in (cS1, y): share of the unbiased top-TS ER events below the NR median
    thr = np.quantile(u["ltot"] + R * u["hb"], 0.999)
    top = (u["ltot"] + R * u["hb"]) > thr
    print("unbiased ER events above the 99.9 %% TS quantile at R = %g: %d, of which %d (%.0f %%) "
          "below the NR median in y; of all ER: %.1f %%"
          % (R, top.sum(), (top & (yu < 0)).sum(), 100 * (top & (yu < 0)).sum() / max(1, top.sum()),
             100 * (yu < 0).mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
