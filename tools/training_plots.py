#!/usr/bin/env python3
"""training_plots.py - pictures of a training run from the results file alone.

usage: tools/training_plots.py RESULTS.h5 OUTDIR [--label TEXT]

Writes OUTDIR/training_curves.png (the paper's Fig. 3 and the CNN's learning
curves: per-epoch losses of /training/cvae and /training/cnn, with the CNN
accuracy beside the information ceilings of /banks/ceiling, (cS1, cS2) and with
the S1 pulse shape) and
OUTDIR/training_reconstructions.png (Fig. 1 and Fig. 4: test ER and NR images
of /training/examples beside their CVAE reconstructions, channel by channel).
Needs Debian's python3-h5py and python3-matplotlib; run with /usr/bin/python3.
"""
import argparse
import os
import re
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def need(f, path):
    if path not in f:
        sys.exit("training_plots: %s has no %s (run `ddscan train CONFIG` first)" % (f.filename, path))
    return f[path]


def curves(f, out, label):
    cv, cn = need(f, "training/cvae"), need(f, "training/cnn")
    e1, e2 = cv["epoch"][()], cn["epoch"][()]
    fig, ax = plt.subplots(1, 4, figsize=(17, 3.8))
    a = ax[0]
    a.plot(e1, cv["train_rec"][()], "o-", label="train (ER)")
    a.plot(e1, cv["test_rec"][()], "s-", label="test ER")
    a.plot(e1, cv["test_nr_rec"][()], "^-", label="test NR (anomalies)")
    a.set_xlabel("epoch")
    rec = cv.attrs.get("reconstruction")
    if rec is None:  # files written before the attribute: the resolved configuration says it
        text = f["/config"].attrs.get("text", b"") if "config" in f else b""
        text = text.decode() if isinstance(text, bytes) else str(text)
        m = re.search(r'\breconstruction\s*=\s*"(\w+)"', text)
        rec = m.group(1) if m else "?"
    rec = rec.decode() if isinstance(rec, bytes) else str(rec)
    a.set_ylabel("reconstruction term (squared error, %s over pixels)" % rec)
    a.set_title("CVAE reconstruction (Fig. 3)")
    a.legend()
    a = ax[1]
    a.plot(e1, cv["train_loss"][()], "o-", label="train")
    a.plot(e1, cv["test_loss"][()], "s-", label="test ER")
    a.set_xlabel("epoch")
    a.set_ylabel("loss  L_rec + beta KL  (beta = %g, KL as %s)" % (cv.attrs["beta"], cv.attrs["kl"]))
    a.set_title("CVAE total loss")
    a.legend()
    a = ax[2]
    a.plot(e2, cn["train_loss"][()], "o-", label="train")
    a.plot(e2, cn["test_loss"][()], "s-", label="test")
    a.set_xlabel("epoch")
    a.set_ylabel("binary cross-entropy")
    a.set_title("CNN loss")
    a.legend()
    a = ax[3]
    a.plot(e2, cn["train_accuracy"][()], "o-", label="train accuracy")
    a.plot(e2, cn["test_accuracy"][()], "s-", label="test accuracy (NR from q(E))")
    a.plot(e2, cn["test_auc"][()], "d-", label="test ROC AUC")
    mass, accw, ceil = cn["mass_gev"][()], cn["accuracy_weighted"][()], cn["ceiling_accuracy"][()]
    k = int(np.argmin(np.abs(mass - 50.0)))
    if np.isfinite(ceil[k]):
        a.axhline(ceil[k], color="k", ls="--", lw=1,
                  label="ceiling (cS1, cS2), %g GeV: %.3f" % (mass[k], ceil[k]))
    if "ceiling_accuracy_shape" in cn and np.isfinite(cn["ceiling_accuracy_shape"][k]):
        cs = cn["ceiling_accuracy_shape"][k]
        ref = cn.attrs.get("ceiling_reference", "")
        a.axhline(cs, color="k", ls=":" if ref != "shape" else "-.", lw=1,
                  label="ceiling with the S1 shape%s: %.3f" % (" (reference)" if ref == "shape" else "", cs))
    a.plot([e2[-1]], [accw[k]], "k*", ms=12, label="CNN, NR reweighted to %g GeV: %.3f" % (mass[k], accw[k]))
    a.set_xlabel("epoch")
    a.set_ylabel("held-out metric")
    a.set_title("CNN (ER = 0, NR = 1)")
    a.legend(fontsize=7, loc="lower right")
    if label:
        fig.suptitle(label)
    fig.tight_layout()
    p = os.path.join(out, "training_curves.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def reconstructions(f, out, label):
    ex = need(f, "training/examples")
    k = ex["er_image"].shape[0]
    cols = [("er_image", "ER test image"), ("er_reconstruction", "its reconstruction"),
            ("nr_image", "NR test image"), ("nr_reconstruction", "its reconstruction")]
    fig, ax = plt.subplots(k, 4, figsize=(10, 2.6 * k))
    ax = np.atleast_2d(ax)
    for i in range(k):
        for j, (name, title) in enumerate(cols):
            img = np.clip(np.transpose(ex[name][i], (1, 2, 0)), 0.0, 1.0)
            a = ax[i, j]
            a.imshow(img, interpolation="nearest")
            a.set_xticks([])
            a.set_yticks([])
            cls = name[:2]
            if name.endswith("image"):
                t = "%s event %d" % (cls.upper(), ex[cls + "_event"][i])
            else:
                t = "L_rec %.4f, p_CNN %.2f" % (ex[cls + "_l_rec"][i],
                                                 1.0 / (1.0 + np.exp(-ex[cls + "_logit"][i])))
            a.set_title(t, fontsize=8)
            if i == 0:
                a.set_xlabel(title)
                a.xaxis.set_label_position("top")
    if label:
        fig.suptitle(label)
    fig.tight_layout()
    p = os.path.join(out, "training_reconstructions.png")
    fig.savefig(p, dpi=90)
    plt.close(fig)
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("outdir")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    with h5py.File(a.results, "r", locking=False) as f:
        for p in (curves(f, a.outdir, a.label), reconstructions(f, a.outdir, a.label)):
            print(p)


if __name__ == "__main__":
    main()
