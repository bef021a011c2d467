"""The U-Net training step and 3x3 conv layers: minifcn on CuPy against PyTorch/cuDNN, same GPU.

    PYTHONPATH=. python benchmarks/gpu_vs_torch.py [--device cuda] [--batch 8] [--size 128]
                                                   [--steps 10] [--tf32 both|on|off]

One step = forward, cross-entropy, backward, Adam update, for the same U-Net (base 16,
depth 4, BatchNorm, 2x2 transposed-conv upsampling) in both libraries, on a float32 batch of
8 x 3 x 128 x 128. Every timer is closed by a device synchronisation (cupy / torch.cuda
``synchronize``), warm-up steps are not timed, and the median of ``--steps`` is reported.
The conv rows time one 3x3 conv (padding 1) forward + backward (input and weight grads).
"ratio" = minifcn time / PyTorch time (the issue's target: U-Net step ratio <= 2).
With ``--tf32 both`` every row is measured with TF32 off (exact float32 products) and on
(minifcn.gpu.set_tf32; torch.backends.cuda.matmul / cudnn ``allow_tf32``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def _timer(fn, sync, steps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def minifcn_cases(device: str, batch: int, size: int):
    import minifcn as mf
    from minifcn import backend, functional as F, gpu
    from minifcn.doctor import unet_training_setup
    from minifcn.train import segmentation_loss

    sync = (lambda: backend.get_cupy().cuda.Device().synchronize()) if device == "cuda" else (lambda: None)
    model, opt, images, masks = unet_training_setup(device, batch, size)
    rng = np.random.default_rng(1)   # the conv cases' inputs
    x, y = mf.tensor(images, device=device), backend.to_device(masks, device)

    def step():
        with gpu.deferred_checks():
            loss = segmentation_loss("ce", model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    cases = {"U-Net step": step}
    for c_in, c_out, hw in [(16, 16, size), (64, 64, size // 4), (256, 256, size // 16)]:
        xc = mf.tensor(rng.standard_normal((batch, c_in, hw, hw)).astype(np.float32), device=device, requires_grad=True)
        w = mf.tensor(rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32) * 0.05, device=device,
                      requires_grad=True)

        def conv(xc=xc, w=w):
            xc.grad = w.grad = None
            F.conv2d(xc, w, padding=1).sum().backward()
        cases[f"conv3x3 {c_in}->{c_out} @{hw}x{hw}"] = conv
    return cases, sync, gpu.set_tf32


def torch_cases(device: str, batch: int, size: int):
    import torch
    from compare_torch import torch_unet     # benchmarks/compare_torch.py, beside this script

    dev = torch.device(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    model = torch_unet(torch).to(dev)     # minifcn.models.UNet's architecture (base 16, depth 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, size, size, device=dev)
    y = torch.randint(0, 2, (batch, size, size), device=dev)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    cases = {"U-Net step": step}
    for c_in, c_out, hw in [(16, 16, size), (64, 64, size // 4), (256, 256, size // 16)]:
        xc = torch.randn(batch, c_in, hw, hw, device=dev, requires_grad=True)
        w = (torch.randn(c_out, c_in, 3, 3, device=dev) * 0.05).requires_grad_()

        def conv(xc=xc, w=w):
            xc.grad = w.grad = None
            torch.nn.functional.conv2d(xc, w, padding=1).sum().backward()
        cases[f"conv3x3 {c_in}->{c_out} @{hw}x{hw}"] = conv

    def set_tf32(on: bool) -> None:
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on
    return cases, sync, set_tf32


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="default cuda")
    ap.add_argument("--batch", type=int, default=8, help="images per batch (default 8)")
    ap.add_argument("--size", type=int, default=128, help="image side (default 128)")
    ap.add_argument("--steps", type=int, default=10, help="timed repetitions, median reported (default 10)")
    ap.add_argument("--tf32", default="both", choices=["both", "on", "off"], help="default both")
    args = ap.parse_args()
    try:
        ours, our_sync, our_tf32 = minifcn_cases(args.device, args.batch, args.size)
    except Exception as e:  # noqa: BLE001 - say why and stop
        print(f"minifcn on {args.device} is not usable here: {type(e).__name__}: {e}")
        return 2
    try:
        theirs, their_sync, their_tf32 = torch_cases(args.device, args.batch, args.size)
    except Exception as e:  # noqa: BLE001
        print(f"PyTorch on {args.device} is not usable here ({type(e).__name__}: {e}); minifcn alone:")
        theirs = None
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.tf32]
    print(f"device {args.device}, batch {args.batch}, size {args.size}, median of {args.steps} "
          f"(times in ms; ratio = minifcn / PyTorch)")
    print(f"{'case':28s} {'TF32':>4s} {'minifcn':>9s} {'PyTorch':>9s} {'ratio':>6s}")
    for tf32 in modes:
        our_tf32(tf32)
        if theirs is not None:
            their_tf32(tf32)
        for name, fn in ours.items():
            t_ours = _timer(fn, our_sync, args.steps)
            t_theirs = _timer(theirs[name], their_sync, args.steps) if theirs is not None else float("nan")
            print(f"{name:28s} {'on' if tf32 else 'off':>4s} {t_ours * 1e3:9.2f} {t_theirs * 1e3:9.2f} "
                  f"{t_ours / t_theirs:6.2f}", flush=True)
    our_tf32(False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
