"""minifcn next to PyTorch on the CPU: convolution layers and a U-Net training step.

    PYTHONPATH=. python benchmarks/compare_torch.py [--repeat 3] [--batch 8] [--skip-unet]
                                                    [--skip-memory] [--only NAME] [--threads N]

Needs PyTorch (``pip install 'minifcn[bench]'``); without it the script says so and exits.

For every layer of issue 12's table (float32, batch 8, forward + backward with gradients for
input, weight and bias) it times minifcn as it runs by default ("fast") and PyTorch
*interleaved in the same run*, so that other load on a shared machine touches them alike,
each the minimum of ``--repeat`` runs after a warm-up; then, apart, minifcn's readable
im2col path ("ref", ``fastconv.enabled = False``) as the before column. The readable path is
kept out of the interleaving because its column buffers (hundreds of MB, allocated and freed
every run) slowed the runs after it: 78 against 102 ms for the fast 64-channel dilation-2
layer, measured alone and interleaved with ref on an idle machine. Columns: milliseconds, the ratios
minifcn / PyTorch (< 1: minifcn is faster), and GFLOP/s of the fast path and of PyTorch
(3 · 2 · multiply-adds: forward, input gradient, weight gradient). The float32 matrix
product rate of the same run (NumPy 2048³, best of the measurements before and after the
table) is the yardstick for GFLOP/s.

Then the training steps (2 classes, 8 × 3 × 128², cross-entropy, Adam) of the U-Net (base 16,
depth 4) and of DeepLabV3+ (base 16; ``--models``): minifcn's model against the same
architecture written here in PyTorch, timed
interleaved the same way, and the peak memory of each step: the rise of the peak resident
set size (VmHWM) over the resident size just before the steps, each framework in a fresh process.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

# name, C_in, C_out, H (= W), kernel, stride, padding, dilation, groups, transposed
LAYERS = [
    ("conv 3->64 @128", 3, 64, 128, 3, 1, 1, 1, 1, False),
    ("conv 64->64 @128", 64, 64, 128, 3, 1, 1, 1, 1, False),
    ("conv 128->128 @64", 128, 128, 64, 3, 1, 1, 1, 1, False),
    ("conv 256->256 @32", 256, 256, 32, 3, 1, 1, 1, 1, False),
    ("conv 64->64 @64 dilation 2", 64, 64, 64, 3, 1, 2, 2, 1, False),
    ("depthwise 64 @64 (groups 64)", 64, 64, 64, 3, 1, 1, 1, 64, False),
    ("conv_transpose 128->64 2x2/2 @64", 128, 64, 64, 2, 2, 0, 1, 1, True),
]


def import_torch():
    try:
        import torch
    except ImportError:
        print("compare_torch.py needs PyTorch, which is not installed. Install it with\n"
              "    python -m pip install 'minifcn[bench]'      (or: pip install torch)\n"
              "PyTorch is only a benchmark yardstick, never a dependency of minifcn.")
        sys.exit(0)
    return torch


# Seconds to wait before each timed run. BLAS and OpenMP worker threads spin for a while after
# a parallel call instead of sleeping (OpenBLAS's about 0.11 s here, see fastconv.own_threads):
# without the pause, a run started while the previous one's threads (NumPy's OpenBLAS after
# the floor GEMMs, PyTorch's OpenMP after its layer) still spin shares a core with them.
SETTLE = 0.2


def interleaved_min(fns: list, repeat: int) -> list[float]:
    """Warm each fn up once, then run them in turn ``repeat`` times, each after a ``SETTLE``
    pause; the minimum time of each."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            time.sleep(SETTLE)
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def sgemm_gflops(repeat: int, n: int = 2048) -> float:
    a = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    return 2 * n ** 3 / interleaved_min([lambda: a @ a], repeat)[0] / 1e9


# ---- layers -------------------------------------------------------------------------------
def layer_runs(layer, N: int, torch):
    import minifcn as mf
    from minifcn.functional import fastconv
    from minifcn.functional.conv import conv2d, conv_transpose2d
    name, cin, cout, H, k, s, p, d, groups, transposed = layer
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((N, cin, H, H), dtype=np.float32)
    w_np = (rng.standard_normal((cin, cout // groups, k, k) if transposed else (cout, cin // groups, k, k),
                                dtype=np.float32) * 0.1)
    b_np = np.zeros(cout, dtype=np.float32)
    x, w, b = (mf.Tensor(a.copy(), requires_grad=True) for a in (x_np, w_np, b_np))
    f, tf = (conv_transpose2d, torch.nn.functional.conv_transpose2d) if transposed else \
        (conv2d, torch.nn.functional.conv2d)
    kw = dict(stride=s, padding=p, dilation=d, groups=groups)
    y_shape = f(x, w, b, **kw).shape
    g_np = np.random.default_rng(1).standard_normal(y_shape, dtype=np.float32)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x_np, w_np, b_np))
    tg = torch.from_numpy(g_np)

    def minifcn_step(fast: bool):
        def run():
            fastconv.enabled = fast
            x.grad = w.grad = b.grad = None
            f(x, w, b, **kw).backward(g_np)
            fastconv.enabled = True
        return run

    def torch_step():
        tx.grad = tw.grad = tb.grad = None
        tf(tx, tw, tb, **kw).backward(tg)

    pixels = H * H if transposed else y_shape[2] * y_shape[3]
    flops = 3 * 2 * N * pixels * w_np.size
    return minifcn_step(False), minifcn_step(True), torch_step, flops, gemm_floor(w_np, N * pixels, groups)


def gemm_floor(w_np, pixels: int, groups: int):
    """The layer's three products as bare NumPy GEMMs on ready-made matrices (None if grouped).

    W (C_out, C·KH·KW) @ cols,  Wᵀ @ Y  and  Y @ colsᵀ, with cols (C·KH·KW, N·OH·OW) and
    Y (C_out, N·OH·OW): the multiply-adds of forward + backward with no data movement at all,
    so no im2col-style formulation on NumPy's BLAS can beat this time.
    """
    if groups != 1:
        return None
    rng = np.random.default_rng(2)
    m = w_np.reshape(w_np.shape[0], -1)
    cols = rng.standard_normal((m.shape[1], pixels), dtype=np.float32)
    y = rng.standard_normal((m.shape[0], pixels), dtype=np.float32)

    def run():
        m @ cols, m.T @ y, y @ cols.T
    return run


def layer_table(args, torch) -> None:
    mm0 = sgemm_gflops(args.repeat)
    rows = []
    for layer in LAYERS:
        if args.only and args.only not in layer[0]:
            continue
        ref, fast, tstep, flops, floor = layer_runs(layer, args.batch, torch)
        times = interleaved_min([fast, tstep] + ([floor] if floor else []), args.repeat)
        t_ref = interleaved_min([ref], max(1, args.repeat // 2))[0]       # apart: see the docstring
        rows.append((layer[0], t_ref, *times[:2], times[2] if floor else None, flops))
    mm = max(mm0, sgemm_gflops(args.repeat))
    print(f"float32, batch {args.batch}, forward + backward, min of {args.repeat}; "
          f"sgemm (NumPy 2048^3) in this run: {mm:.0f} GFLOP/s; load: {os.getloadavg()[0]:.2f}")
    print(f"{'layer':34s} {'ref ms':>8s} {'fast ms':>8s} {'torch ms':>9s} {'ref/torch':>10s} "
          f"{'fast/torch':>11s} {'fast GF/s':>10s} {'torch GF/s':>11s} {'fast/sgemm':>11s} {'floor/torch':>12s}")
    for name, t_ref, t_fast, t_torch, t_floor, flops in rows:
        gf, tgf = flops / t_fast / 1e9, flops / t_torch / 1e9
        floor = f"{t_floor / t_torch:12.2f}" if t_floor else f"{'-':>12s}"
        print(f"{name:34s} {1e3 * t_ref:8.1f} {1e3 * t_fast:8.1f} {1e3 * t_torch:9.1f} {t_ref / t_torch:10.2f} "
              f"{t_fast / t_torch:11.2f} {gf:10.1f} {tgf:11.1f} {100 * gf / mm:10.0f}% {floor}", flush=True)
    print("floor: the same multiply-adds as three bare NumPy GEMMs (im2col shapes, no data movement); "
          "floor/torch > 1 means\nNumPy's BLAS alone, on ready-made matrices, takes longer than PyTorch's whole layer.")


# ---- the U-Net step -----------------------------------------------------------------------
def torch_unet(torch, base: int = 16, depth: int = 4, in_channels: int = 3, classes: int = 2):
    """The architecture of minifcn.models.UNet (padding "same", transposed-conv upsampling)."""
    nn = torch.nn

    def double(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            ch = [base * 2 ** i for i in range(depth + 1)]
            self.down = nn.ModuleList([double(in_channels, ch[0])] + [double(ch[i], ch[i + 1]) for i in range(depth)])
            self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in reversed(range(depth))])
            self.dec = nn.ModuleList([double(2 * ch[i], ch[i]) for i in reversed(range(depth))])
            self.head = nn.Conv2d(ch[0], classes, 1)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
                skips.append(x)
            skips.pop()
            for up, dec in zip(self.up, self.dec):
                x = dec(torch.cat([skips.pop(), up(x)], 1))
            return self.head(x)
    return Net()


def torch_deeplab(torch, base: int = 16, in_channels: int = 3, classes: int = 2, rates=(2, 4, 6)):
    """The architecture of minifcn.models.DeepLabV3Plus (separable backbone, ASPP, decoder)."""
    nn, F = torch.nn, torch.nn.functional

    def separable(cin, cout, stride=1, dilation=1):
        return nn.Sequential(nn.Conv2d(cin, cin, 3, stride=stride, padding=dilation, dilation=dilation,
                                       groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(),
                             nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class ASPP(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.branches = nn.ModuleList(
                [nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())] +
                [separable(cin, cout, dilation=r) for r in rates])
            self.image_pool = nn.Sequential(nn.Conv2d(cin, cout, 1), nn.ReLU())
            self.project = nn.Sequential(nn.Conv2d(cout * (len(rates) + 2), cout, 1, bias=False),
                                         nn.BatchNorm2d(cout), nn.ReLU())

        def forward(self, x):
            outs = [b(x) for b in self.branches]
            pooled = self.image_pool(F.adaptive_avg_pool2d(x, 1))
            outs.append(F.interpolate(pooled, size=x.shape[2:], mode="nearest"))
            return self.project(torch.cat(outs, 1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            c = base
            self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, stride=2, padding=1, bias=False),
                                      nn.BatchNorm2d(c), nn.ReLU())
            self.low = separable(c, 2 * c, stride=2)
            self.mid = separable(2 * c, 4 * c, stride=2)
            self.atrous = nn.Sequential(separable(4 * c, 4 * c, dilation=2), separable(4 * c, 4 * c, dilation=4))
            self.aspp = ASPP(4 * c, 4 * c)
            self.reduce_low = nn.Sequential(nn.Conv2d(2 * c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
            self.decoder = nn.Sequential(separable(5 * c, 2 * c), separable(2 * c, 2 * c))
            self.classifier = nn.Conv2d(2 * c, classes, 1)

        def forward(self, x):
            size = x.shape[2:]
            low = self.low(self.stem(x))
            deep = self.aspp(self.atrous(self.mid(low)))
            deep = F.interpolate(deep, size=low.shape[2:], mode="bilinear", align_corners=False)
            y = self.decoder(torch.cat([deep, self.reduce_low(low)], 1))
            return F.interpolate(self.classifier(y), size=size, mode="bilinear", align_corners=False)
    return Net()


MODELS = {"unet": "U-Net (base 16, depth 4)", "deeplab": "DeepLabV3+ (base 16, rates 2, 4, 6)"}


def training_steps(torch, batch: int, size: int, which: str = "unet"):
    """(minifcn step, torch step, parameter counts) of model ``which`` for the same data."""
    import minifcn as mf
    from minifcn import functional as F
    from minifcn import nn, optim
    from minifcn.models import DeepLabV3Plus, UNet
    rng = np.random.default_rng(0)
    x_np = rng.random((batch, 3, size, size), dtype=np.float32)
    y_np = rng.integers(0, 2, (batch, size, size))
    nn.init.manual_seed(0)
    model = UNet(3, 2, base_channels=16, depth=4) if which == "unet" else DeepLabV3Plus(3, 2, base_channels=16)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = mf.tensor(x_np)

    def mf_step():
        loss = F.cross_entropy(model(x), y_np)
        opt.zero_grad()
        loss.backward()
        opt.step()

    torch.manual_seed(0)
    tmodel = torch_unet(torch) if which == "unet" else torch_deeplab(torch)
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x_np), torch.from_numpy(y_np)

    def torch_step():
        loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
        topt.zero_grad()
        loss.backward()
        topt.step()
    counts = (sum(p.size for p in model.parameters()), sum(p.numel() for p in tmodel.parameters()))
    return mf_step, torch_step, counts


def status_bytes(field: str) -> int:
    """VmRSS (resident now) or VmHWM (its peak) of this process, from /proc/self/status.

    VmHWM, unlike getrusage's ru_maxrss, starts afresh in a new program: ru_maxrss keeps the
    peak of the parent that forked it, which would hide the child's own.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(which: str, batch: int, size: int, model: str = "unet") -> None:
    """Run in a fresh process: print the resident size before 3 training steps and its peak rise."""
    torch = import_torch()
    mf_step, torch_step, _ = training_steps(torch, batch, size, model)
    step = mf_step if which == "minifcn" else torch_step
    try:                                  # reset the peak to the present size (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = status_bytes("VmRSS")
    for _ in range(3):
        step()
    print(before, status_bytes("VmHWM") - before)


def step_table(args, torch, model: str = "unet") -> None:
    from minifcn.functional import fastconv
    mf_step, torch_step, counts = training_steps(torch, args.batch, args.size, model)

    def ref_step():
        fastconv.enabled = False
        mf_step()
        fastconv.enabled = True
    t_fast, t_torch = interleaved_min([mf_step, torch_step], args.repeat)
    t_ref = interleaved_min([ref_step], max(1, args.repeat // 2))[0]            # apart: see the docstring
    print(f"\n{MODELS[model]} training step ({args.batch}x3x{args.size}^2, Adam; "
          f"{counts[0]:,} / {counts[1]:,} parameters minifcn / torch); load: {os.getloadavg()[0]:.2f}")
    print(f"  ref {1e3 * t_ref:.0f} ms, fast {1e3 * t_fast:.0f} ms, torch {1e3 * t_torch:.0f} ms; "
          f"ref/torch {t_ref / t_torch:.2f}, fast/torch {t_fast / t_torch:.2f}")
    if args.skip_memory:
        return
    peaks = {}
    for which in ("minifcn", "torch"):
        out = subprocess.run([sys.executable, __file__, "--memory-child", which, "--batch", str(args.batch),
                              "--size", str(args.size), "--threads", str(args.threads), "--models", model],
                             capture_output=True, text=True, env=os.environ)
        if out.returncode:
            print(f"  memory run for {which} failed:\n{out.stderr}")
            return
        before, peaks[which] = map(int, out.stdout.split()[-2:])
        print(f"  {which}: resident before the steps {before / 2**20:.0f} MiB, peak rise {peaks[which] / 2**20:.0f} MiB")
    print(f"  peak memory of the step (RSS rise, fresh process): minifcn {peaks['minifcn'] / 2**20:.0f} MiB, "
          f"torch {peaks['torch'] / 2**20:.0f} MiB, ratio {peaks['minifcn'] / peaks['torch']:.2f}")


def set_threads(n: int) -> None:
    """The same thread count for PyTorch, NumPy's OpenBLAS and fastconv's workers."""
    from minifcn.functional import fastconv
    torch = import_torch()
    torch.set_num_threads(n)
    fastconv.threads = n
    fastconv._gemm_for(np.float32)
    if fastconv._blas:
        fastconv._blas["threads"][1](n)


def main() -> None:
    global SETTLE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement, minimum taken (default 3)")
    ap.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    ap.add_argument("--size", type=int, default=128, help="U-Net image side (default 128)")
    ap.add_argument("--only", default="", help="only layers whose name contains this text")
    ap.add_argument("--skip-unet", action="store_true", help="only the layer table (no training steps)")
    ap.add_argument("--skip-layers", action="store_true", help="only the training steps")
    ap.add_argument("--models", default="unet,deeplab",
                    help="training steps to time, comma-separated from unet, deeplab (default unet,deeplab)")
    ap.add_argument("--skip-memory", action="store_true", help="no peak-memory runs")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for PyTorch, OpenBLAS and minifcn's fast paths (default 0: as they come; "
                         "1 gives steadier per-core ratios on a loaded machine)")
    ap.add_argument("--settle", type=float, default=SETTLE,
                    help=f"seconds of pause before each timed run, so that no library's idle threads still spin "
                         f"(default {SETTLE}; 0: none, as before 2026-11-30)")
    ap.add_argument("--memory-child", choices=["minifcn", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    SETTLE = max(0.0, args.settle)
    if args.threads:
        set_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad:
        ap.error(f"--models must name models from {', '.join(MODELS)}; got {', '.join(bad)}")
    if args.memory_child:
        memory_child(args.memory_child, args.batch, args.size, models[0])
        return
    torch = import_torch()
    print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads), NumPy {np.__version__}, "
          f"{os.cpu_count()} CPUs")
    if not args.skip_layers:
        layer_table(args, torch)
    if not args.skip_unet:
        for model in models:
            step_table(args, torch, model)


if __name__ == "__main__":
    main()
