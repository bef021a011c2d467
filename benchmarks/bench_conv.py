"""Convolution speed next to the machine's matrix-product speed, and the im2col workspace.

    PYTHONPATH=. python benchmarks/bench_conv.py [--device cpu|cuda] [--batch 8] [--repeat 3]
                                                 [--limit-mib 256] [--clock wall|cpu]

For U-Net-like float32 layers (3x3 kernels) it reports the best of ``repeat`` runs of
conv2d forward and forward+backward (gradients for x, weight and bias) in GFLOP/s, the
float32 matrix product's GFLOP/s measured in the same run (a square 2048 x 2048 product,
the better of the measurements just before and just after each layer, so that other load
on the machine affects both alike), their ratio, and the largest im2col column buffer
built (``--limit-mib`` bounds it by splitting the batch).

FLOPs: forward 2·N·C_out·OH·OW·(C_in/groups)·KH·KW (one multiply-add per weight and
output pixel); forward+backward counts 3x that (the input and the weight gradient are
one product each of the same size). Target: forward+backward >= 70% of the matrix-product
rate for the layers with 64 or more channels.

On a machine shared with other work, wall-clock rates swing with the load; ``--clock cpu``
times CPU seconds instead (process_time, all threads summed), which measures the work
done rather than the waiting. With ``OPENBLAS_NUM_THREADS=1`` that is the per-core
efficiency; with several BLAS threads it hides that the copies (im2col, col2im) run on
one core while the matrix products use them all.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minifcn as mf
import timing  # benchmarks/timing.py, beside this script
from minifcn import backend
from minifcn.functional import conv_fast
from minifcn.functional.conv import conv2d, conv_transpose2d

# name, C_in, C_out, H (= W), kernel, stride, padding, dilation, groups, transposed
LAYERS = [
    ("3->64 @128", 3, 64, 128, 3, 1, 1, 1, 1, False),
    ("64->64 @128", 64, 64, 128, 3, 1, 1, 1, 1, False),
    ("128->128 @64", 128, 128, 64, 3, 1, 1, 1, 1, False),
    ("256->256 @32", 256, 256, 32, 3, 1, 1, 1, 1, False),
    ("256->256 @32 dilation 2", 256, 256, 32, 3, 1, 2, 2, 1, False),
    ("256 @32 depthwise", 256, 256, 32, 3, 1, 1, 1, 256, False),
    ("128->64 @32 transposed 2x2/2", 128, 64, 32, 2, 2, 0, 1, 1, True),
]


clock = time.perf_counter  # --clock cpu: time.process_time, CPU seconds of all threads


def best_time(fn, xp, repeat: int) -> float:
    return timing.best_time(fn, xp, repeat, clock)


def matmul_gflops(xp, repeat: int, n: int = 2048) -> float:
    a = xp.asarray(np.random.default_rng(1).standard_normal((n, n), dtype=np.float32))
    return 2 * n**3 / best_time(lambda: a @ a, xp, repeat) / 1e9


def bench_layer(layer, N, device, xp, repeat):
    name, cin, cout, H, k, s, p, d, groups, transposed = layer
    rng = np.random.default_rng(0)
    put = lambda a: backend.to_device(a.astype(np.float32), device)  # noqa: E731
    x = mf.Tensor(put(rng.standard_normal((N, cin, H, H))), requires_grad=True)
    wshape = (cin, cout // groups, k, k) if transposed else (cout, cin // groups, k, k)
    w = mf.Tensor(put(rng.standard_normal(wshape) * 0.1), requires_grad=True)
    b = mf.Tensor(put(np.zeros(cout)), requires_grad=True)
    if transposed:
        op = lambda: conv_transpose2d(x, w, b, stride=s, padding=p, dilation=d, groups=groups)  # noqa: E731
    else:
        op = lambda: conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=groups)  # noqa: E731
    y = op()
    g = xp.ones(y.shape, dtype=xp.float32)
    # 2·(multiply-adds): every input pixel of a transposed conv meets every weight once
    pixels = x.shape[2] * x.shape[3] if transposed else y.shape[2] * y.shape[3]
    flops = 2 * N * pixels * w.size

    def forward():
        with mf.no_grad():
            op()

    def forward_backward():
        x.grad = w.grad = b.grad = None
        op().backward(g)

    t_fwd = best_time(forward, xp, repeat)
    conv_fast.reset_workspace_peak()
    t_all = best_time(forward_backward, xp, repeat)
    return flops / t_fwd / 1e9, 3 * flops / t_all / 1e9, conv_fast.workspace_peak / 2**20, t_all


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit-mib", type=float, default=256)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"])
    args = ap.parse_args()
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    xp = backend.module_for(args.device)
    conv_fast.workspace_limit = int(args.limit_mib * 2**20)

    print(f"device {args.device}, float32, N={args.batch}, workspace limit {args.limit_mib:g} MiB, "
          f"{args.clock} clock; matmul = 2048^3 float32 product, best of the runs just before and "
          "after each layer")
    print(f"{'layer':31s} {'fwd GF/s':>9s} {'fwd+bwd GF/s':>13s} {'matmul GF/s':>12s} {'fwd+bwd/matmul':>15s} "
          f"{'fwd+bwd ms':>11s} {'workspace MiB':>14s}")
    mm = matmul_gflops(xp, args.repeat)
    for layer in LAYERS:
        fwd, both, mib, t_all = bench_layer(layer, args.batch, args.device, xp, args.repeat)
        after = matmul_gflops(xp, args.repeat)
        ref, mm = max(mm, after), after
        target = " (target 70%)" if layer[1] >= 64 and layer[8] == 1 else ""
        print(f"{layer[0]:31s} {fwd:9.1f} {both:13.1f} {ref:12.1f} {100 * both / ref:14.0f}% "
              f"{1e3 * t_all:11.0f} {mib:14.1f}{target}", flush=True)


if __name__ == "__main__":
    main()
