"""The ``minifcn`` command line."""
from __future__ import annotations

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minifcn",
        description="minifcn: learn image segmentation by building it (NumPy/CuPy).")
    parser.add_argument("--version", action="version", version=f"minifcn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="a tiny check that autograd works on this machine")
    demo.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    return parser


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    import minifcn as mf
    x = mf.tensor(np.linspace(-2, 2, 5), requires_grad=True, device=args.device)
    y = (mf.functional.sigmoid(x) * x).sum()
    y.backward()
    print(f"x = {x.numpy()}\nd/dx sum(x·sigmoid(x)) = {mf.backend.to_numpy(x.grad)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return {"demo": _demo}[args.command](args)
    except (ValueError, RuntimeError) as e:
        print(f"minifcn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
