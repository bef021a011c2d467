"""Time the ONNX export of a U-Net, and onnxruntime's forward next to minifcn's on one input.

    PYTHONPATH=. python benchmarks/bench_export.py [--size 128] [--batch 1] [--repeat 5] [--threads 0]

Default model: ``UNet()`` (3 -> 2 classes, base 16 channels, depth 4), input 1 x 3 x 128 x 128,
float32, CPU. Export = ``to_onnx`` (one traced forward + building, checking and writing the
graph), timed twice: the first call in the process also imports onnx. Forward times are the
best of ``--repeat`` runs after a warm-up (minifcn in eval mode under no_grad; onnxruntime's
CPU provider with ``--threads`` intra-op threads, 0 = its default).
Also prints how far apart the two outputs are, relative to the largest logit.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import minifcn as mf
from minifcn.export import to_onnx
from minifcn.models import UNet
from timing import best_time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="image side (default 128)")
    ap.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per forward (default 5)")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (default 0: its own choice)")
    args = ap.parse_args()
    import onnxruntime

    mf.nn.init.manual_seed(0)
    model = UNet().eval()
    x = np.random.default_rng(0).random((args.batch, 3, args.size, args.size)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "unet.onnx")
        export_s, export_cpu = [], []
        for _ in range(2):              # the first also imports onnx and warms up the allocator
            start, cpu = time.perf_counter(), time.process_time()
            to_onnx(model, x, path)
            export_s.append(time.perf_counter() - start)
            export_cpu.append(time.process_time() - cpu)
        size_mb = os.path.getsize(path) / 2**20
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def minifcn_forward():
        with mf.no_grad():
            return model(mf.tensor(x)).numpy()

    def ort_forward():
        return session.run(None, {"input": x})[0]

    ours, theirs = minifcn_forward(), ort_forward()
    t_mf = best_time(minifcn_forward, np, args.repeat)
    t_ort = best_time(ort_forward, np, args.repeat)
    print(f"UNet() on {args.batch}x3x{args.size}x{args.size}, float32, CPU ({os.cpu_count()} cores)")
    print(f"export (to_onnx, incl. traced forward): first {export_s[0]:.3f} s (imports onnx), "
          f"second {export_s[1]:.3f} s; file {size_mb:.2f} MiB")
    print(f"  CPU seconds of this process (all threads; steadier on a busy machine): "
          f"first {export_cpu[0]:.3f}, second {export_cpu[1]:.3f}")
    print(f"forward minifcn:     {t_mf * 1e3:8.1f} ms")
    print(f"forward onnxruntime: {t_ort * 1e3:8.1f} ms   (minifcn / onnxruntime = {t_mf / t_ort:.2f})")
    print(f"max |difference| / max |logit| = {np.abs(ours - theirs).max() / np.abs(ours).max():.2e}")


if __name__ == "__main__":
    main()
