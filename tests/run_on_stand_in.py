"""Run a script (or ``-m module``) with device "cuda" served by the strict CuPy stand-in.

    python tests/run_on_stand_in.py lessons/10_unet.py
    python tests/run_on_stand_in.py -m minifcn.cli train --device cuda ...

Tests use it to run lessons and the command line on "cuda" in a fresh process, without a GPU.
"""
import pathlib
import runpy
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import strict_cupy  # noqa: E402

from minifcn import backend  # noqa: E402

backend.use_cupy(strict_cupy.module, ndimage=strict_cupy.ndimage)

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "-m":
        sys.argv = sys.argv[2:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
