"""nn_torch.py - PyTorch twins of ddscan's networks (src/nn), built from the
same ordered layer lists as the config, with Keras padding semantics.

Used by tests/tools/gen_nn_fixtures.py (fixtures in float64) and by
tools/bench/torch_bench.py (the PyTorch side of `make bench`).  Run with
Debian's /usr/bin/python3 and python3-torch (tools/deps.sh torch).

A layer is a dict as in the config: {"type": "conv2d", "filters": 128,
"kernel": 3, "stride": 3, "padding": "same", "act": "leaky_relu",
"alpha": 0.05}; the CVAE list also holds the latent dense layer and
{"type": "sample"}.  Tensor names follow src/nn/params.c ("enc.conv1.w").
"""
import torch
import torch.nn.functional as F

SHORT = {"conv2d": "conv", "conv2d_transpose": "tconv", "maxpool": "pool",
         "dense": "dense", "leaky_relu": "lrelu", "sigmoid": "sigm",
         "flatten": "flatten", "reshape": "reshape"}


def name_layers(layers, prefix):
    """Names as src/nn/params.c gives them: prefix + short type + count."""
    counts = {}
    for spec in layers:
        t = spec["type"]
        counts[t] = counts.get(t, 0) + 1
        spec.setdefault("name", "%s%s%d" % (prefix, SHORT[t], counts[t]))
    return layers


def cvae_layers(encoder, latent, decoder):
    """The CVAE's full list: encoder, dense to 2*latent, sample, decoder."""
    return (name_layers(encoder, "enc.")
            + [{"type": "dense", "units": 2 * latent, "name": "enc.latent"},
               {"type": "sample", "name": "sample"}]
            + name_layers(decoder, "dec."))


def conv_same(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


class Net(torch.nn.Module):
    """A chain of layers on (N,C,H,W) input.  forward returns the output and,
    for a CVAE, the latent means and log-variances."""

    def __init__(self, in_chw, layers, dtype=torch.float32):
        super().__init__()
        self.layers = layers
        self.names = []          # tensor names in table order
        self.tensors = torch.nn.ParameterList()
        c, h, w = in_chw
        flat = False
        for spec in layers:
            t = spec["type"]
            spec["in"] = (c, h, w, flat)
            if t in ("conv2d", "conv2d_transpose"):
                k, s, co = spec.get("kernel", 3), spec.get("stride", 1), spec["filters"]
                pad = spec.get("padding", "valid")
                if t == "conv2d":
                    if pad == "same":
                        ho, pt, pb = conv_same(h, k, s)
                        wo, pl, pr = conv_same(w, k, s)
                    else:
                        ho, wo, pt, pb, pl, pr = (h - k) // s + 1, (w - k) // s + 1, 0, 0, 0, 0
                    spec["pads"] = (pl, pr, pt, pb)
                    shape = (co, c, k, k)
                else:
                    if pad == "same":
                        ho, wo = h * s, w * s
                        total = max(k - s, 0)
                        spec["tpad"] = (total // 2, total - total // 2)
                    else:
                        ho, wo = (h - 1) * s + k, (w - 1) * s + k
                        spec["tpad"] = (0, 0)
                    shape = (c, co, k, k)
                self._add(spec["name"] + ".w", shape, dtype)
                self._add(spec["name"] + ".b", (co,), dtype)
                c, h, w = co, ho, wo
            elif t == "maxpool":
                k = spec.get("size", 2)
                s = spec.get("stride", k)
                h, w = (h - k) // s + 1, (w - k) // s + 1
            elif t == "dense":
                self._add(spec["name"] + ".w", (spec["units"], c), dtype)
                self._add(spec["name"] + ".b", (spec["units"],), dtype)
                c = spec["units"]
            elif t == "flatten":
                c, h, w, flat = c * h * w, 1, 1, True
            elif t == "reshape":
                c, h, w = spec["shape"]
                flat = False
            elif t == "sample":
                c = c // 2
            spec["out"] = (c, h, w)
        self.out_chw = (c, h, w)

    def _add(self, name, shape, dtype):
        self.names.append(name)
        self.tensors.append(torch.nn.Parameter(torch.zeros(shape, dtype=dtype)))

    def params_by_name(self):
        return dict(zip(self.names, self.tensors))

    @staticmethod
    def _act(x, spec):
        a = spec.get("act", "none")
        if a == "leaky_relu":
            return F.leaky_relu(x, spec.get("alpha", 0.05))
        if a == "sigmoid":
            return torch.sigmoid(x)
        return x

    def forward(self, x, eps=None):
        p = self.params_by_name()
        mu = logvar = None
        for spec in self.layers:
            t = spec["type"]
            if t == "conv2d":
                s = spec.get("stride", 1)
                pl, pr, pt, pb = spec["pads"]
                w, b = p[spec["name"] + ".w"], p[spec["name"] + ".b"]
                if pl == pr and pt == pb:
                    x = F.conv2d(x, w, b, stride=s, padding=(pt, pl))
                else:
                    x = F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b, stride=s)
                x = self._act(x, spec)
            elif t == "conv2d_transpose":
                s, k = spec.get("stride", 1), spec.get("kernel", 3)
                before, after = spec["tpad"]
                w, b = p[spec["name"] + ".w"], p[spec["name"] + ".b"]
                c_, ho, wo = spec["out"]
                if k < s and spec.get("padding", "valid") == "same":
                    x = F.conv_transpose2d(x, w, b, stride=s, output_padding=s - k)
                else:
                    x = F.conv_transpose2d(x, w, b, stride=s, padding=before)
                    if after != before:  # asymmetric: one extra row/column at the end
                        x = x[:, :, :ho, :wo]
                x = self._act(x, spec)
            elif t == "maxpool":
                k = spec.get("size", 2)
                x = F.max_pool2d(x, k, spec.get("stride", k))
            elif t == "dense":
                x = self._act(F.linear(x, p[spec["name"] + ".w"], p[spec["name"] + ".b"]), spec)
            elif t == "leaky_relu":
                x = F.leaky_relu(x, spec.get("alpha", 0.05))
            elif t == "sigmoid":
                x = torch.sigmoid(x)
            elif t == "flatten":
                x = x.flatten(1)
            elif t == "reshape":
                x = x.reshape((x.shape[0],) + tuple(spec["shape"]))
            elif t == "sample":
                lat = x.shape[1] // 2
                mu, logvar = x[:, :lat], x[:, lat:]
                x = mu + torch.exp(0.5 * logvar) * eps
        return x, mu, logvar


def cvae_losses(y, x, mu, logvar, beta, kl="paper", rec="mean"):
    """Per-sample reconstruction, KL and total loss (paper Eq. 8)."""
    r = ((y - x) ** 2).flatten(1).sum(1)
    if rec == "mean":
        r = r / x[0].numel()
    if kl == "paper":
        k = (torch.exp(logvar) + mu * mu - 0.5 * logvar - 1.0).sum(1)
    else:
        k = 0.5 * (torch.exp(logvar) + mu * mu - logvar - 1.0).sum(1)
    return r, k, r + beta * k


def cnn_losses(logit, labels):
    return F.binary_cross_entropy_with_logits(logit, labels, reduction="none")


def to_cfg(value, indent=""):
    """A Python value as libconfig text (lists of dicts become lists of groups)."""
    if isinstance(value, dict):
        body = " ".join("%s = %s;" % (k, to_cfg(v)) for k, v in value.items())
        return "{ %s }" % body
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], dict):
            return "(\n" + ",\n".join("  " + to_cfg(v) for v in value) + "\n)"
        return "[" + ", ".join(to_cfg(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, float):
        return repr(value)
    return str(value)
