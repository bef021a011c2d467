"""Time a U-Net training step: images/s, the share of time spent in convolutions, peak memory.

    PYTHONPATH=. python benchmarks/bench_unet.py [--device cpu|cuda] [--steps 5] [--batch 8]
                                                 [--size 128] [--base 16] [--depth 4]

One step = forward, cross-entropy loss, backward, Adam update, for a U-Net (base 16 channels,
depth 4, 2 classes) on a float32 batch of 8 × 3 × 128 × 128 by default. The convolution share
is the time inside the forward and backward of the Conv2d and ConvTranspose2d Functions
(measured by wrapping them with timers), divided by the step time. Peak memory is the
process's peak resident set size (CPU) or CuPy's memory-pool high-water mark (GPU).
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import minifcn as mf
from minifcn import functional as F
from minifcn import nn, optim
from minifcn.functional import conv as conv_module
from minifcn.models import UNet

conv_seconds = [0.0]


def timed(method):
    def wrapper(self, *args):
        t = time.perf_counter()
        out = method(self, *args)
        if mf.backend.device_of(out if not isinstance(out, tuple) else next(o for o in out if o is not None)) == "cuda":
            mf.backend.get_cupy().cuda.Device().synchronize()
        conv_seconds[0] += time.perf_counter() - t
        return out
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    args = ap.parse_args()
    for cls in (conv_module.Conv2d, conv_module.ConvTranspose2d):
        cls.forward, cls.backward = timed(cls.forward), timed(cls.backward)

    nn.init.manual_seed(0)
    model = UNet(3, 2, base_channels=args.base, depth=args.depth).to(args.device)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = mf.tensor(rng.random((args.batch, 3, args.size, args.size), dtype=np.float32), device=args.device)
    y = mf.backend.to_device(rng.integers(0, 2, (args.batch, args.size, args.size)), args.device)

    def step() -> float:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()   # .item() synchronises the GPU

    step()  # warm-up (CuPy compiles kernels, NumPy touches memory)
    conv_seconds[0] = 0.0
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    total = sum(times)
    params = sum(p.size for p in model.parameters())
    print(f"U-Net base {args.base}, depth {args.depth}, {params:,} parameters; batch {args.batch} x 3 x "
          f"{args.size} x {args.size}; device {args.device}")
    print(f"step time: median {np.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f}) over {args.steps} steps")
    print(f"throughput: {args.batch * args.steps / total:.1f} images/s")
    print(f"time in convolutions (forward + backward): {100 * conv_seconds[0] / total:.1f}%")
    if args.device == "cuda":
        pool = mf.backend.get_cupy().get_default_memory_pool()
        print(f"peak GPU memory (CuPy pool total): {pool.total_bytes() / 2**20:.0f} MiB")
    print(f"peak resident memory of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
