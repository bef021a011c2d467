"""Peak memory of ``minifcn predict``: tiled (--tile 256) against the whole image at once.

    PYTHONPATH=. python benchmarks/bench_tiling.py [--tiled 1024 2048 4096] [--whole 256 512 1024]
                                                   [--tile 256] [--checkpoint CKPT]

Each run is its own Python process (so its peak is its own): it runs
``minifcn predict CKPT IMAGE [--tile T] --no-figure`` through ``minifcn.cli.main`` and
reports its peak resident set size (``VmHWM`` of ``/proc/self/status``, Linux; the
``getrusage`` ``ru_maxrss`` of a child would include the parent's size at the fork) and
CPU and wall seconds. A baseline process that only makes the same imports and reads the image gives
the part of the peak that is the libraries and the input itself. The image is a random smooth RGB PNG of
S x S; the model, unless --checkpoint is given, is the default U-Net of ``minifcn train``
(base 8 channels, depth 3) after one tiny epoch (its weights do not change the memory).

Expected: the tiled path's peak minus the read-only baseline grows only with the output
(two float32 accumulators, K + 1 planes, and the label map), not with the activations;
the whole-image path grows with the activations (tens of times the image).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
mode, ckpt, image, tile, out = sys.argv[1:6]
if mode == "read":   # the baseline: the same imports, and the image read
    import minifcn.cli, minifcn.tiling, minifcn.train
    from minifcn.data import read_image
    x = read_image(image)
else:
    from minifcn.cli import main
    argv = ["predict", ckpt, image, "--no-figure", "--out", out] + (["--tile", tile] if mode == "tiled" else [])
    rc = main(argv)
    assert rc == 0, rc
# VmHWM: this process's own peak. (ru_maxrss would also hold the parent's RSS at the fork,
# which Linux carries across exec.)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"maxrss_mib": hwm / 1024,
                  "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}))
"""


def make_image(path: Path, size: int) -> None:
    import numpy as np

    from minifcn.data import save_image_png
    rng = np.random.default_rng(size)
    small = rng.random((3, 16, 16)).astype(np.float32)
    rows = (np.arange(size) * 16 // size)
    image = small[:, rows[:, None], rows[None, :]]            # blocky, compresses well
    save_image_png(path, image)


def make_checkpoint(folder: Path) -> Path:
    from minifcn.train import TrainConfig, train
    train(TrainConfig(samples=16, epochs=1, batch_size=8, out=str(folder)), progress=False, log=lambda s: None)
    return folder / "best.npz"


def run(mode: str, ckpt: Path, image: Path, tile: int, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(ckpt), str(image), str(tile), str(out)],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiled", type=int, nargs="*", default=[1024, 2048, 4096], help="sides for --tile")
    ap.add_argument("--whole", type=int, nargs="*", default=[256, 512, 1024], help="sides for the whole-image path")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--checkpoint", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = Path(args.checkpoint) if args.checkpoint else make_checkpoint(tmp / "run")
        print(f"{'path':>6} {'side':>6} {'peak RSS MiB':>13} {'read-only MiB':>14} {'above it':>9} "
              f"{'wall s':>8} {'CPU s':>8}")
        for mode, sides in (("whole", args.whole), ("tiled", args.tiled)):
            for side in sides:
                image = tmp / f"img_{side}.png"
                if not image.exists():
                    make_image(image, side)
                base = run("read", ckpt, image, args.tile, tmp / "out")
                got = run(mode, ckpt, image, args.tile, tmp / "out")
                if "error" in got:
                    print(f"{mode:>6} {side:>6}  failed: {got['error']}")
                    continue
                print(f"{mode:>6} {side:>6} {got['maxrss_mib']:13.0f} {base['maxrss_mib']:14.0f} "
                      f"{got['maxrss_mib'] - base['maxrss_mib']:9.0f} {got['wall_s']:8.1f} {got['cpu_s']:8.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
