#!/usr/bin/python3
"""torch_bench.py - the PyTorch side of bench_nn: the same architecture
(JSON written by build/bench/bench_nn from the ddscan config) in PyTorch
float32 on the same number of threads; prints "train <img/s>" and
"infer <img/s>" for minibatch B.  Timing the same work as ddscan: a training
step is zero_grad, forward (with the reparameterisation noise), the loss of
the minibatch mean, backward and one Adam step; inference is a forward pass
under torch.no_grad().

usage: torch_bench.py ARCH.json BATCH THREADS SECONDS
Needs Debian's python3-torch (tools/deps.sh torch)."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import nn_torch  # noqa: E402


def main():
    arch = json.load(open(sys.argv[1]))
    batch, threads, seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = nn_torch.Net(tuple(arch["input"]), arch["layers"], dtype=torch.float32)
    for name, t in net.params_by_name().items():
        with torch.no_grad():
            if name.endswith(".w"):
                torch.nn.init.xavier_uniform_(t)
            else:
                t.zero_()
    x = torch.rand((batch,) + tuple(arch["input"]))
    cvae = arch["kind"] == "cvae"
    latent = [l for l in arch["layers"] if l["type"] == "sample"]
    lat = net.layers[net.layers.index(latent[0]) - 1]["units"] // 2 if cvae else 0
    labels = (torch.arange(batch) % 2).float()
    opt = torch.optim.Adam(net.parameters(), lr=arch["lr"], betas=tuple(arch["betas"]),
                           eps=arch["eps"])

    def train_step():
        opt.zero_grad()
        if cvae:
            eps = torch.randn(batch, lat)
            y, mu, lv = net(x, eps)
            loss = nn_torch.cvae_losses(y, x, mu, lv, arch["beta"], arch["kl"],
                                        arch["reconstruction"])[2].mean()
        else:
            y = net(x)[0][:, 0]
            loss = nn_torch.cnn_losses(y, labels).mean()
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            if cvae:
                y, mu, lv = net(x, torch.randn(batch, lat))
                nn_torch.cvae_losses(y, x, mu, lv, arch["beta"], arch["kl"], arch["reconstruction"])
            else:
                nn_torch.cnn_losses(net(x)[0][:, 0], labels)

    for name, fn in (("train", train_step), ("infer", infer_step)):
        fn()
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            t = time.perf_counter() - t0
            if t >= seconds:
                break
        print("%s %.2f" % (name, n * batch / t), flush=True)
    print("torch %s, %d thread(s), mkldnn %s" % (torch.__version__, torch.get_num_threads(),
                                                 torch.backends.mkldnn.is_available()))


if __name__ == "__main__":
    main()
