"""CPU time per thread during minifcn training steps: who works, who spins.

    PYTHONPATH=. python benchmarks/thread_cpu.py [--model unet|deeplab] [--steps 5]

Reads each thread's user + system time from /proc/self/task (Linux only) around a few
training steps and prints it per step next to the step's wall time. minifcn splits its
work between the main thread and its own pool ("minifcn" below); any other busy thread is
a library's worker. NumPy's OpenBLAS workers spin for about 0.1 s after every
multi-threaded call instead of sleeping, so before ``fastconv.own_threads`` one of them
burned ~700 ms of CPU per U-Net step (measured at commit a9d30b6 with this count), on the
core minifcn's pool thread needed.
"""
from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np


def thread_cpu() -> dict[int, float]:
    """Thread id -> CPU seconds (user + system) so far, from /proc/self/task/*/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:                                   # the thread ended meanwhile
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=["unet", "deeplab"], default="unet", help="the network to train")
    parser.add_argument("--steps", type=int, default=5, help="training steps measured (after 2 warm-up steps)")
    parser.add_argument("--size", type=int, default=128, help="image side (batch 8, 3 channels)")
    args = parser.parse_args()
    if not os.path.isdir("/proc/self/task"):
        raise SystemExit("thread_cpu.py reads /proc/self/task: Linux only")

    import minifcn as mf
    from minifcn import functional as F
    from minifcn import nn, optim
    from minifcn.models import DeepLabV3Plus, UNet
    rng = np.random.default_rng(0)
    x = mf.tensor(rng.random((8, 3, args.size, args.size), dtype=np.float32))
    y = rng.integers(0, 2, (8, args.size, args.size))
    nn.init.manual_seed(0)
    model = UNet(3, 2, base_channels=16, depth=4) if args.model == "unet" else DeepLabV3Plus(3, 2, base_channels=16)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for _ in range(2):
        step()
    before, t0 = thread_cpu(), time.perf_counter()
    for _ in range(args.steps):
        step()
    wall, after = (time.perf_counter() - t0) / args.steps, thread_cpu()
    main_tid = threading.main_thread().native_id
    ours = {t.native_id for t in threading.enumerate() if t.name.startswith("minifcn")}
    print(f"{args.model}, batch 8, {args.size}x{args.size}: {1e3 * wall:.0f} ms per step (wall)")
    print("thread                     CPU ms per step")
    for tid, cpu in sorted(after.items()):
        name = "main" if tid == main_tid else "minifcn pool" if tid in ours else "other (a library's worker)"
        print(f"{name:26s} {1e3 * (cpu - before.get(tid, 0.0)) / args.steps:8.0f}")


if __name__ == "__main__":
    main()
