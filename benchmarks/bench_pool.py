"""Time max pooling, its backward and max unpooling against a plain NumPy reduction.

    PYTHONPATH=. python benchmarks/bench_pool.py [--device cpu|cuda] [--shape 8 64 128 128] [--repeat 5]

For x of shape (N, C, H, W) float32 it reports the best of ``repeat`` runs of:
the reference ``x.reshape(N, C, H/2, 2, W/2, 2).max(axis=(3, 5))`` (values only, no
indices), ``max_pool2d`` 2x2/2 with indices, its backward, ``max_unpool2d``, and the
general path (3x3/2, padding 1) for scale. The target is pooling forward within 3x of
the reference.
"""
from __future__ import annotations

import argparse

import numpy as np

import minifcn as mf
from timing import best_time  # benchmarks/timing.py, beside this script
from minifcn import backend
from minifcn import functional as F


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--shape", type=int, nargs=4, default=[8, 64, 128, 128])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    N, C, H, W = args.shape
    xp = backend.module_for(args.device)
    data = backend.to_device(np.random.default_rng(0).standard_normal((N, C, H, W), dtype=np.float32),
                             args.device)
    x = mf.Tensor(data, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    g = xp.ones(y.shape, dtype=xp.float32)

    def backward():
        x.grad = None
        y.backward(g)

    rows = [
        ("reference reshape(...).max(axis=(3, 5))",
         lambda: data.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))),
        ("max_pool2d 2x2/2, return_indices", lambda: F.max_pool2d(x, 2, return_indices=True)),
        ("max_pool2d 2x2/2 backward", backward),
        ("max_unpool2d 2x2/2", lambda: F.max_unpool2d(y.detach(), idx, 2)),
        ("max_pool2d 3x3/2 pad 1 (general path)", lambda: F.max_pool2d(x, 3, 2, 1, return_indices=True)),
        ("avg_pool2d 2x2/2", lambda: F.avg_pool2d(x, 2)),
        ("interpolate x2 bilinear (of the pooled map)",
         lambda: F.interpolate(y.detach(), scale_factor=2, mode="bilinear")),
    ]
    print(f"x {tuple(data.shape)} float32 on {args.device}, best of {args.repeat}")
    reference = None
    for name, fn in rows:
        ms = 1e3 * best_time(fn, xp, args.repeat)
        reference = reference or ms
        print(f"  {name:45s} {ms:9.2f} ms   {ms / reference:5.2f}x reference")


if __name__ == "__main__":
    main()
