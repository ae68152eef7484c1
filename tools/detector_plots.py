#!/usr/bin/env python3
"""detector_plots.py - sanity plots of a results file's event banks (docs/detector.md):
the ER and NR bands in (cS1, log10 cS2/cS1) with the ceiling's medians, and the S2 width
against the drift time beside sqrt(2 D_L t_d)/v_d.  Run with Debian's /usr/bin/python3:

    tools/detector_plots.py runs/NAME/results.h5 OUTDIR
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def resolved(cfg_text, key, default):
    """The value of 'key = value;' inside group detector of the resolved config text."""
    inside = False
    for line in cfg_text.splitlines():
        s = line.strip()
        if s.startswith("detector"):
            inside = True
        elif inside and s.startswith(key + " "):
            return float(s.split("=")[1].strip().rstrip(";"))
    return default


def main():
    path, out = sys.argv[1], sys.argv[2]
    with h5py.File(path, "r", locking=False) as f:
        er, nr = f["banks/er"], f["banks/nr"]
        c = f["banks/ceiling"]
        cfg = f["config"].attrs["text"]
        edges = list(c["cs1_bin_pe"][()]) + [c["cs1_bin_pe"].attrs["upper_edge_pe"][-1]]
        masses = c["mass_gev"][()]
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=72)
        for g, col, lab in ((er, "tab:blue", "ER (bank)"), (nr, "tab:red", "NR (bank, q(E))")):
            s1, s2 = g["cs1_pe"][()], g["cs2_pe"][()]
            ax.scatter(s1, np.log10(s2 / s1), s=1.5, alpha=0.25, color=col, label=lab, rasterized=True)
        mid = 0.5 * (np.array(edges[:-1]) + np.array(edges[1:]))
        ax.plot(mid, c["er_median"][()], "o-", color="navy", ms=3, label="ER median (ceiling sample)")
        k = int(np.argmin(abs(masses - 50.0)))
        ax.plot(mid, c["nr_median"][k], "s-", color="darkred", ms=3,
                label="NR median, %g GeV (reweighted)" % masses[k])
        ax.set_xscale("log")
        ax.set_xlim(2, 110)
        ax.set_ylim(1.0, 3.2)
        ax.set_xlabel("cS1 [PE]")
        ax.set_ylabel("log10(cS2/cS1)")
        ax.legend(fontsize=7, markerscale=4)
        fig.tight_layout()
        fig.savefig(out + "/bands.png")
        # S2 width vs drift time
        dl, vd = resolved(cfg, "diffusion_long_cm2_s", 91.74), resolved(cfg, "drift_velocity_cm_us", 0.0677)
        td = np.concatenate([er["drift_time_us"][()], nr["drift_time_us"][()]])
        w = np.concatenate([er["s2_width_us"][()], nr["s2_width_us"][()]])
        fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=72)
        ax.scatter(td, w, s=1.5, alpha=0.3, rasterized=True, label="events (RMS of S2 photon times)")
        t = np.linspace(0, td.max(), 200)
        ax.plot(t, np.sqrt(2 * dl * t * 1e-6) / vd, "k-", label="sqrt(2 D_L t_d)/v_d")
        ax.set_xlabel("drift time [us]")
        ax.set_ylabel("S2 width [us]")
        ax.legend(fontsize=7, markerscale=4)
        fig.tight_layout()
        fig.savefig(out + "/s2_width.png")


if __name__ == "__main__":
    main()
