"""Count device calls and host syncs of a U-Net training step and a validation batch.

    PYTHONPATH=. python benchmarks/gpu_calls.py [--batch 4] [--size 64] [--base 16] [--depth 4]
                                                [--optimizer adam|adamw|sgd] [--loss ce+dice]
                                                [--top 15]

Runs on the strict CuPy stand-in (``tests/strict_cupy.py``), so no GPU is needed: every call
into the array library (a function, a ufunc, an array method, an operator, an index, one
fused kernel) counts as one device call, and every device -> host copy (``.get()``,
``.item()``, ``float(x)``, ``bool(x)``) as one host sync. On a GPU each call is at least
one kernel launch plus Python overhead, and each sync waits for the queue to drain, so
these two numbers bound how fast a small-batch step can be whatever the GPU.

One training step is what ``minifcn.train`` does for a batch: labels checked on the host,
the batch copied to the device, forward + loss, ``loss.item()``, backward, optimiser step.
One validation batch is what ``train.evaluate`` does per batch. The figures do not depend on
the batch size or image size, only on the model's structure (they are launches, not work).

Counting rule ("not views", the launch figure): every call into the array library counts once,
except those that only make a view (reshape, transpose, basic slicing: no kernel in CuPy) and
those that give back their own argument (``x.astype(x.dtype, copy=False)``,
``ascontiguousarray`` of a contiguous array: CuPy returns it, no kernel); a view call that has
to copy (reshape of a transposed array) counts. Explicit allocations
(``empty``, ``zeros``) count; outputs that an ``ElementwiseKernel`` call allocates itself (as
CuPy does when they are omitted: a memory-pool allocation, no kernel) are part of that one call.
A library call that CuPy implements with several kernels (``var``, ``pad``) still counts once.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
import strict_cupy  # noqa: E402

import minifcn as mf  # noqa: E402
from minifcn import backend, gpu, optim  # noqa: E402
from minifcn import train as train_module  # noqa: E402
from minifcn.models import UNet  # noqa: E402


def _now(c) -> tuple[int, int, int, int]:
    return c["calls"], c["calls"] - c["views"], c["syncs"], c["uploads"]


def measure(batch: int = 4, size: int = 64, base: int = 16, depth: int = 4, optimizer: str = "adam",
            top: int = 0, loss_kind: str = "ce+dice") -> dict:
    """{phase: (device calls, of which not views, host syncs, uploads)} for the phases of one step (the third
    step, after two warm-up steps), and the largest call counts by name when ``top``."""
    backend.use_cupy(strict_cupy.module, ndimage=strict_cupy.ndimage)
    mf.nn.init.manual_seed(0)
    model = UNet(3, 2, base_channels=base, depth=depth).to("cuda")
    opt = {"adam": lambda p: optim.Adam(p, lr=1e-3), "adamw": lambda p: optim.AdamW(p, lr=1e-3),
           "sgd": lambda p: optim.SGD(p, lr=1e-2, momentum=0.9)}[optimizer](model.parameters())
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    masks = rng.integers(0, 2, (batch, size, size))
    phases: dict = {}
    import collections
    for step in range(3):
        record = step == 2
        counts = {}
        by_step = collections.Counter()      # calls by name over the whole training step
        with strict_cupy.counting() as c:
            gpu.check_labels_on_host(masks, 2)  # as minifcn.train does (host only, no device call)
            x, y = mf.tensor(images, device="cuda"), backend.to_device(masks, "cuda")
            with gpu.deferred_checks():
                loss = train_module.segmentation_loss(loss_kind, model(x), y)
                value = float(loss.item())
                counts["forward + loss (+ loss.item)"] = _now(c)
                by_step.update(strict_cupy.by_name)
                strict_cupy.reset_counts()
                opt.zero_grad()
                loss.backward()
                counts["backward"] = _now(c)
            by_step.update(strict_cupy.by_name)
            strict_cupy.reset_counts()
            opt.step()
            counts["optimiser step"] = _now(c)
            by_step.update(strict_cupy.by_name)
        assert np.isfinite(value)
        if record:
            phases.update(counts)
    # one validation batch, as train.evaluate does it
    loader = [(images, masks)] * 3
    with strict_cupy.counting() as c:
        train_module.evaluate(model, loader[:1], 2, "cuda", loss_kind)
        one = _now(c)
    with strict_cupy.counting() as c:
        train_module.evaluate(model, loader, 2, "cuda", loss_kind)
        three = _now(c)
    phases["validation, 1 batch"] = one
    phases["validation, each further batch"] = tuple((t - o) // 2 for t, o in zip(three, one))
    train_step = [sum(phases[k][i] for k in ("forward + loss (+ loss.item)", "backward", "optimiser step"))
                  for i in range(4)]
    phases["training step (total)"] = tuple(train_step)
    phases["_params"] = len(opt.params)
    if top:
        launches = collections.Counter({k: n for k, n in by_step.items()
                                        if k not in strict_cupy.VIEW_CALLS and not k.endswith(":no-op") and n > 0})
        phases["_top"] = launches.most_common(top)
    return phases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4, help="images per batch (default 4)")
    ap.add_argument("--size", type=int, default=64, help="image height = width (default 64)")
    ap.add_argument("--base", type=int, default=16, help="U-Net base channels (default 16)")
    ap.add_argument("--depth", type=int, default=4, help="U-Net depth (default 4)")
    ap.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "sgd"], help="default adam")
    ap.add_argument("--loss", default="ce+dice", choices=["ce", "dice", "ce+dice"],
                    help="segmentation loss (default ce+dice, as minifcn train)")
    ap.add_argument("--top", type=int, default=0,
                    help="also list the N most frequent launching calls of one training step (default 0)")
    args = ap.parse_args()
    phases = measure(args.batch, args.size, args.base, args.depth, args.optimizer, args.top, args.loss)
    print(f"U-Net base {args.base}, depth {args.depth} ({phases['_params']} parameter tensors), batch "
          f"{args.batch}x3x{args.size}x{args.size}, {args.optimizer}, loss {args.loss}, strict CuPy stand-in")
    print(f"{'phase':34s} {'device calls':>12s} {'not views':>10s} {'host syncs':>10s} {'uploads':>8s}")
    for name, value in phases.items():
        if not name.startswith("_"):
            print(f"{name:34s} {value[0]:12d} {value[1]:10d} {value[2]:10d} {value[3]:8d}")
    print("(not views: calls that launch work; reshape/transpose/basic slicing only make views)")
    if "_top" in phases:
        print("\nmost frequent calls that launch work, one training step:")
        for name, n in phases["_top"]:
            print(f"  {n:6d}  {name}")


if __name__ == "__main__":
    main()
