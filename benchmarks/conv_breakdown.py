"""Where a convolution's time goes: its three matrix products alone vs the whole forward+backward.

    PYTHONPATH=. python benchmarks/conv_breakdown.py

For 3x3 same-padded float32 layers (N=8) it prints the rate of the three GEMMs of conv2d
(forward W @ cols, input gradient Wᵀ @ dY, weight gradient cols @ dYᵀ) timed alone, the
im2col and col2im copies, and the whole conv2d forward+backward, each next to a square
2048³ matrix product measured in the same run. The GEMMs alone bound what im2col can reach:
with 64 output channels the product is thin (M = 64) and BLAS runs it below its square rate.
"""
from __future__ import annotations

import numpy as np

import minifcn as mf
from minifcn.functional.im2col import col2im, im2col
from timing import best_time  # benchmarks/timing.py, beside this script


def main() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    square = 2 * 2048 ** 3 / best_time(lambda: a @ a, np, 3) / 1e9
    print(f"square matrix product: {square:.1f} GFLOP/s")
    window = ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))
    for c, h in ((64, 128), (128, 64), (256, 32)):
        x = rng.standard_normal((8, c, h, h), dtype=np.float32)
        w = rng.standard_normal((c, c, 3, 3), dtype=np.float32)
        cols = im2col(x, *window, (h, h))
        wm, dy = w.reshape(c, -1), rng.standard_normal((c, cols.shape[1]), dtype=np.float32)
        flops = 2 * c * cols.shape[0] * cols.shape[1]
        gemms = sum(best_time(f, np, 3) for f in (lambda: wm @ cols, lambda: wm.T @ dy, lambda: cols @ dy.T))
        t_im2col = best_time(lambda: im2col(x, *window, (h, h)), np, 3)
        t_col2im = best_time(lambda: col2im(cols, x.shape, *window, (h, h)), np, 3)
        xt, wt = mf.Tensor(x, requires_grad=True), mf.Tensor(w, requires_grad=True)
        grad = np.ones(x.shape[:1] + (c, h, h), np.float32)
        whole = best_time(lambda: mf.functional.conv2d(xt, wt, padding=1).backward(grad), np, 3)
        print(f"{c}->{c} @{h}: GEMMs alone {3 * flops / gemms / 1e9:5.1f} GFLOP/s ({3 * flops / gemms / 1e9 / square:4.0%}"
              f" of square); im2col {1e3 * t_im2col:4.0f} ms, col2im {1e3 * t_col2im:4.0f} ms; "
              f"conv2d fwd+bwd {3 * flops / whole / 1e9:5.1f} GFLOP/s ({3 * flops / whole / 1e9 / square:4.0%})")


if __name__ == "__main__":
    main()
