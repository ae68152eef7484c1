#!/usr/bin/python3
"""gen_nn_fixtures.py - PyTorch fixtures for tests/test_nn_fixtures.c.

Small CVAEs (paper and standard KL forms) and a small CNN with fixed weights,
inputs and noise, evaluated by PyTorch in float64: outputs, per-sample
losses, every gradient of the minibatch-mean loss, and 5 Adam steps.  The C
test builds the same network from the config text stored in the fixture and
compares its float results with these.

usage: /usr/bin/python3 tests/tools/gen_nn_fixtures.py [OUTDIR]   (default tests/data)
Needs Debian's python3-torch (tools/deps.sh torch); the tests never do.

File format (little-endian), version 1:
  magic "DDNNFIX\\0" (8 bytes), u32 version, u32 n_entries, then per entry:
  u32 name_len, name bytes, u32 kind (0 = float64 array, 1 = text),
  u32 ndim, u32 dims[ndim], payload (prod(dims) float64, or dims[0] bytes).
"""
import copy
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import nn_torch  # noqa: E402

MAGIC = b"DDNNFIX\0"
VERSION = 1
N = 4            # minibatch
ADAM_STEPS = 5
ADAM = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def f32(a):
    """Values exactly representable in float32, kept as float64."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


class Writer:
    def __init__(self):
        self.entries = []

    def array(self, name, a):
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        self.entries.append((name, 0, a.shape if a.ndim else (1,), a.tobytes()))

    def text(self, name, s):
        b = s.encode()
        self.entries.append((name, 1, (len(b),), b))

    def save(self, path):
        out = bytearray(MAGIC + struct.pack("<II", VERSION, len(self.entries)))
        for name, kind, dims, payload in self.entries:
            nb = name.encode()
            out += struct.pack("<I", len(nb)) + nb
            out += struct.pack("<II", kind, len(dims)) + struct.pack("<%dI" % len(dims), *dims)
            out += payload
        with open(path, "wb") as f:
            f.write(out)
        print("wrote %s (%d entries, %d bytes)" % (path, len(self.entries), len(out)))


def init_params(net, rng):
    for name, t in net.params_by_name().items():
        fan = t[0].numel() if t.dim() > 1 else 4
        lim = 1.0 / np.sqrt(fan) + 0.2
        with torch.no_grad():
            t.copy_(torch.from_numpy(f32(rng.uniform(-lim, lim, size=tuple(t.shape)))))


class NearZeroGradient(Exception):
    pass


def check_gradients(net, name):
    """Adam's first step moves each parameter by about lr*sign(g): a gradient
    within float rounding of 0 (relative error ~1e-6 of the tensor's largest)
    would make the float and float64 runs differ.  Such draws are rejected
    and the next seed is tried."""
    for n, t in net.params_by_name().items():
        g = t.grad.abs()
        if float(g.min()) < 1e-4 * float(g.max()):
            raise NearZeroGradient("%s: gradient of %s has an element near 0 (%.3g vs max %.3g)"
                                   % (name, n, float(g.min()), float(g.max())))


def run_case(*args, **kw):
    seed = kw.pop("seed")
    for attempt in range(50):
        try:
            return run_one(*args, seed=seed + 1000 * attempt, **kw)
        except NearZeroGradient as e:
            print("seed %d rejected: %s" % (seed + 1000 * attempt, e))
    raise SystemExit("no usable seed")


def run_one(path, kind, in_chw, layers_cfg, extra_cfg, seed=0, kl="paper", rec="mean", beta=0.5,
             latent=None):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    w = Writer()
    group = "cvae" if kind == "cvae" else "cnn"
    cfg = {"input": list(in_chw)}
    cfg.update(copy.deepcopy(layers_cfg))
    cfg.update(extra_cfg)
    cfg["adam"] = ADAM
    text = "nn = { %s = %s; };\n" % (group, nn_torch.to_cfg(cfg))
    w.text("config", text)
    if kind == "cvae":
        layers = nn_torch.cvae_layers(copy.deepcopy(layers_cfg["encoder"]), latent,
                                      copy.deepcopy(layers_cfg["decoder"]))
    else:
        layers = nn_torch.name_layers(copy.deepcopy(layers_cfg["layers"]), "")
    net = nn_torch.Net(in_chw, layers, dtype=torch.float64)
    init_params(net, rng)
    for n, t in net.params_by_name().items():
        w.array("param/" + n, t.detach().numpy())
    x = torch.from_numpy(f32(rng.uniform(0.0, 1.0, size=(N,) + tuple(in_chw))))
    w.array("x", x.numpy())
    w.array("seed", np.array([float(seed)]))
    eps = labels = None
    if kind == "cvae":
        eps = torch.from_numpy(f32(rng.standard_normal(size=(N, latent))))
        w.array("eps", eps.numpy())
    else:
        labels = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
        w.array("labels", labels.numpy())

    def loss_of():
        y, mu, lv = net(x, eps)
        if kind == "cvae":
            r, k, per = nn_torch.cvae_losses(y, x, mu, lv, beta, kl, rec)
            return y, mu, lv, per, r, k
        logit = y[:, 0]
        return logit, None, None, nn_torch.cnn_losses(logit, labels), None, None

    y, mu, lv, per, r, k = loss_of()
    total = per.mean()
    total.backward()
    check_gradients(net, path)
    if kind == "cvae":
        w.array("out/recon", y.detach().numpy())
        w.array("out/mu", mu.detach().numpy())
        w.array("out/logvar", lv.detach().numpy())
        w.array("loss/rec", r.detach().numpy())
        w.array("loss/kl", k.detach().numpy())
    else:
        w.array("out/logit", y.detach().numpy())
    w.array("loss/per_sample", per.detach().numpy())
    w.array("loss/total", np.array([total.item()]))
    for n, t in net.params_by_name().items():
        w.array("grad/" + n, t.grad.numpy())

    opt = torch.optim.Adam(net.parameters(), lr=ADAM["learning_rate"],
                           betas=(ADAM["beta1"], ADAM["beta2"]), eps=ADAM["epsilon"])
    losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        per = loss_of()[3]
        total = per.mean()
        losses.append(total.item())
        total.backward()
        opt.step()
    w.array("adam/loss", np.array(losses))
    for n, t in net.params_by_name().items():
        w.array("adam/param/" + n, t.detach().numpy())
    w.save(path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data")
    torch.set_default_dtype(torch.float64)
    lrelu = {"act": "leaky_relu", "alpha": 0.05}
    # A small CVAE with every layer type of the paper's: stride-3 'same'
    # conv, 2x2 and 1x1 pooling, asymmetric 'same' padding (k2 s1), a
    # 'valid' conv, transposed convs with symmetric, zero and asymmetric
    # 'same' padding, and a sigmoid output.
    cvae = {
        "encoder": [
            dict(type="conv2d", filters=4, kernel=3, stride=3, padding="same", **lrelu),
            dict(type="maxpool", size=2, stride=2),
            dict(type="maxpool", size=1, stride=1),
            dict(type="conv2d", filters=5, kernel=2, stride=1, padding="same", act="leaky_relu",
                 alpha=0.1),
            dict(type="conv2d", filters=6, kernel=2, stride=2, padding="valid", act="none"),
            dict(type="flatten"),
        ],
        "decoder": [
            dict(type="dense", units=36, **lrelu),
            dict(type="reshape", shape=[4, 3, 3]),
            dict(type="conv2d_transpose", filters=4, kernel=3, stride=1, padding="same", **lrelu),
            dict(type="conv2d_transpose", filters=3, kernel=2, stride=2, padding="same", **lrelu),
            dict(type="conv2d_transpose", filters=2, kernel=3, stride=2, padding="same",
                 act="sigmoid"),
        ],
    }
    for kl, rec, seed in (("paper", "mean", 11), ("standard", "sum", 12)):
        layers_cfg = {"encoder": cvae["encoder"], "latent": 3, "decoder": cvae["decoder"]}
        extra = {"beta": 0.5, "kl": kl, "reconstruction": rec}
        run_case(os.path.join(out, "nn_fixture_cvae_%s.bin" % kl), "cvae", (2, 12, 12),
                 layers_cfg, extra, seed=seed, kl=kl, rec=rec, beta=0.5, latent=3)
    cnn = {"layers": [
        dict(type="conv2d", filters=3, kernel=3, stride=1, padding="same", **lrelu),
        dict(type="maxpool", size=2, stride=1),
        dict(type="conv2d", filters=4, kernel=3, stride=2, padding="valid", act="none"),
        dict(type="leaky_relu", alpha=0.2),
        dict(type="maxpool", size=2, stride=2),
        dict(type="flatten"),
        dict(type="dense", units=5, act="none"),
        dict(type="sigmoid"),
        dict(type="dense", units=1, act="none"),
    ]}
    run_case(os.path.join(out, "nn_fixture_cnn.bin"), "cnn", (2, 12, 12), cnn, {}, seed=13)


if __name__ == "__main__":
    main()
