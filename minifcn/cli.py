"""The ``minifcn`` command line: train, predict, eval, arith, summary.

    minifcn train                          # a small U-Net on the synthetic shapes, CPU
    minifcn train --device cuda --epochs 20
    minifcn predict runs/unet/best.npz image.png
    minifcn eval runs/unet/best.npz --data DIR
    minifcn arith conv -i 5 -k 3 -s 2 -p 1 --draw conv.png
    minifcn summary --model unet --input 1x3x128x128
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import __version__

MODEL_NAMES = ("unet", "fcn", "segnet", "deeplab")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and a hint (instead of the full usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\nhint: run '{self.prog} --help' for the options\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="minifcn", description="minifcn: learn image segmentation by building it (NumPy/CuPy).")
    p.add_argument("--version", action="version", version=f"minifcn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a segmentation network (default: small U-Net, synthetic shapes, CPU)")
    t.add_argument("--model", default="unet", choices=MODEL_NAMES)
    t.add_argument("--data", default=None, help="'shapes' (synthetic shapes, the default), 'cells' (synthetic "
                   "touching cells, with object scores), or a folder with images/ and masks/")
    t.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--image-size", type=int, default=None)
    t.add_argument("--classes", type=int, default=None, help="classes of the synthetic set (2..5)")
    t.add_argument("--samples", type=int, default=None, help="images in the synthetic set")
    t.add_argument("--base-channels", type=int, default=None)
    t.add_argument("--depth", type=int, default=None)
    t.add_argument("--out", default=None, help="run directory (default: runs/MODEL)")
    t.add_argument("--resume", default=None, metavar="CKPT", help="continue from a checkpoint (last.npz)")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--no-weight-map", dest="weight_map", action="store_false",
                   help="--data cells: plain cross-entropy instead of U-Net's border weight map")
    t.add_argument("--w0", type=float, default=None, help="--data cells: border weight w0 (default 10)")
    t.add_argument("--sigma", type=float, default=None, help="--data cells: border width sigma in px (default 5)")
    t.add_argument("--no-elastic", dest="elastic", action="store_false",
                   help="--data cells: no elastic deformations in the augmentation")
    t.add_argument("--border", action="store_true",
                   help="--data cells: a third class for the lines between touching cells")

    pr = sub.add_parser("predict", help="predict masks for images with a trained checkpoint")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--out", default="predictions", help="folder for mask PNGs and overlays")
    pr.add_argument("--device", default="cpu", choices=("cpu", "cuda"))

    ev = sub.add_parser("eval", help="metrics of a checkpoint on a folder data set")
    ev.add_argument("checkpoint")
    ev.add_argument("--data", required=True, help="folder with images/ and masks/, or 'cells' (64 new synthetic "
                    "cells images, with object scores)")
    ev.add_argument("--device", default="cpu", choices=("cpu", "cuda"))

    ar = sub.add_parser("arith", help="output size of a convolution, transposed convolution or pooling")
    ar.add_argument("kind", choices=("conv", "transpose", "pool"))
    ar.add_argument("-i", "--input", type=int, required=True, help="input size i")
    ar.add_argument("-k", "--kernel", type=int, required=True, help="kernel size k")
    ar.add_argument("-s", "--stride", type=int, default=None, help="stride s (default 1; k for pool)")
    ar.add_argument("-p", "--padding", type=int, default=0)
    ar.add_argument("-d", "--dilation", type=int, default=1)
    ar.add_argument("--output-padding", type=int, default=0)
    ar.add_argument("--ceil-mode", action="store_true", help="pool only")
    ar.add_argument("--draw", default=None, metavar="FILE.png", help="draw the kernel positions")

    su = sub.add_parser("summary", help="layer table with output shapes, parameters and receptive field")
    su.add_argument("--model", default="unet", choices=MODEL_NAMES)
    su.add_argument("--input", default="1x3x128x128", help="N x C x H x W, e.g. 1x3x128x128")
    su.add_argument("--classes", type=int, default=2)
    su.add_argument("--base-channels", type=int, default=16)
    su.add_argument("--depth", type=int, default=4)
    return p


# ---- commands -------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train
    cfg = TrainConfig(model=args.model, data=args.data, device=args.device, out=args.out or f"runs/{args.model}")
    for arg, field in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"), ("image_size", "image_size"),
                       ("classes", "num_classes"), ("samples", "samples"), ("base_channels", "base_channels"),
                       ("depth", "depth"), ("seed", "seed")):
        if getattr(args, arg) is not None:
            setattr(cfg, field, getattr(args, arg))
    _cells_options(args, cfg)
    cfg.check()
    print(f"training {cfg.model} on {cfg.data or 'synthetic shapes'} ({cfg.device}); run directory {cfg.out}")
    try:
        history = train(cfg, resume=args.resume, progress=not args.quiet)
    except KeyboardInterrupt:
        return 130
    last = history[-1]
    print(f"done: val mean Dice {last['val_dice']:.3f}, IoU {last['val_iou']:.3f}, "
          f"pixel accuracy {last['val_pixel_accuracy']:.3f}")
    if "val_object_f1" in last:
        print(f"objects: F1 {last['val_object_f1']:.3f} (precision {last['val_object_precision']:.3f}, recall "
              f"{last['val_object_recall']:.3f}), merged {last['val_merged']}, split {last['val_split']}")
    print(f"pictures: {Path(cfg.out) / 'curves.png'}, {Path(cfg.out) / 'predictions.png'}; "
          f"checkpoints: {Path(cfg.out) / 'best.npz'}, {Path(cfg.out) / 'last.npz'}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    import minifcn as mf
    from .data import read_image, save_mask_png
    from .plotting import pyplot
    from .train import load_model
    model, cfg, _ = load_model(args.checkpoint, args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    for name in args.images:
        image = read_image(name)
        with mf.no_grad():
            logits = model(mf.tensor(image[None], device=args.device))
        mask = mf.backend.to_numpy(logits.data.argmax(axis=1))[0]
        stem = Path(name).stem
        save_mask_png(out / f"{stem}_mask.png", mask.astype(np.uint8))
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.imshow(image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0], cmap="gray")
        ax.imshow(np.ma.masked_equal(mask, 0), cmap="tab10", vmin=0, vmax=9, alpha=0.5)
        ax.axis("off")
        fig.savefig(out / f"{stem}_overlay.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        print(f"{name}: {out / (stem + '_mask.png')}, {out / (stem + '_overlay.png')}  "
              f"classes present {sorted(int(c) for c in np.unique(mask))}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import numpy as np

    import minifcn as mf
    from . import metrics
    from .train import load_model
    model, cfg, ckpt = load_model(args.checkpoint, args.device)
    ds = _eval_data(args, cfg, ckpt)
    k = int(ckpt["num_classes"])
    preds, targets, instances = [], [], []
    for i in range(len(ds)):
        image, mask, *inst = ds[i]
        instances += inst
        with mf.no_grad():
            preds.append(mf.backend.to_numpy(model(mf.tensor(image[None], device=args.device)).data.argmax(axis=1))[0])
        targets.append(mask)
    pred, target = np.stack(preds), np.stack(targets)
    dice, iou = metrics.dice(pred, target, k), metrics.iou(pred, target, k)
    hd95 = [np.nanmean([metrics.hausdorff_distance(p == c, t == c, percentile=95) for p, t in zip(pred, target)])
            for c in range(k)]
    print(f"{len(ds)} images, {k} classes, pixel accuracy {metrics.pixel_accuracy(pred, target):.4f}")
    print(f"{'class':>5}  {'Dice':>7}  {'IoU':>7}  {'HD95 (px)':>9}")
    for c in range(k):
        print(f"{c:>5}  {dice[c]:7.4f}  {iou[c]:7.4f}  {hd95[c]:9.2f}")
    print(f"{'mean':>5}  {np.nanmean(dice):7.4f}  {np.nanmean(iou):7.4f}  {np.nanmean(hd95):9.2f}")
    if instances:
        obj = metrics.object_scores(pred, np.stack(instances))
        print(f"objects (connected components matched at IoU >= 0.5): {obj['true_objects']} true, "
              f"{obj['pred_objects']} predicted; precision {obj['precision']:.4f}, recall {obj['recall']:.4f}, "
              f"F1 {obj['f1']:.4f}; merged {obj['merged']}, split {obj['split']}")
    return 0


def _eval_data(args: argparse.Namespace, cfg: Any, ckpt: dict) -> Any:
    """``--data cells``: 64 synthetic cells images from a seed the training never used; else a folder."""
    if args.data == "cells":
        from .data import SyntheticCells
        return SyntheticCells(64, image_size=cfg.image_size, seed=cfg.seed + 10_000, border=cfg.border)
    from .data import FolderDataset
    return FolderDataset(args.data, num_classes=int(ckpt["num_classes"]), image_size=cfg.image_size)


def _cells_options(args: argparse.Namespace, cfg: Any) -> None:
    """The train options of the cells data set (weight map, elastic deformations, border class)."""
    cfg.weight_map, cfg.elastic, cfg.border = args.weight_map, args.elastic, args.border
    for arg in ("w0", "sigma"):
        if getattr(args, arg) is not None:
            setattr(cfg, arg, getattr(args, arg))


def _arith(args: argparse.Namespace) -> int:
    import numpy as np

    import minifcn as mf
    from . import arith
    from . import functional as F
    s = args.stride if args.stride is not None else (args.kernel if args.kind == "pool" else 1)
    rel = arith.relationship(args.kind, args.input, args.kernel, s, args.padding, args.dilation,
                             args.output_padding, ceil_mode=args.ceil_mode)
    print(f"output size: {rel.value}")
    print(f"formula:     {rel.formula}")
    print(f"relation:    {rel.name}")
    x = mf.tensor(np.zeros((1, 1, args.input, args.input), np.float32))
    w = mf.tensor(np.ones((1, 1, args.kernel, args.kernel), np.float32))
    if args.kind == "conv":
        y = F.conv2d(x, w, stride=s, padding=args.padding, dilation=args.dilation)
    elif args.kind == "transpose":
        y = F.conv_transpose2d(x, w, stride=s, padding=args.padding, output_padding=args.output_padding,
                               dilation=args.dilation)
    else:
        y = F.max_pool2d(x, args.kernel, s, args.padding, args.dilation, ceil_mode=args.ceil_mode)
    ok = y.shape[-1] == rel.value
    print(f"check:       ran the op on a {args.input}x{args.input} input: output {y.shape[-2]}x{y.shape[-1]} "
          f"({'agrees' if ok else 'DISAGREES'})")
    if args.draw:
        from .plotting import draw_kernel_positions
        draw_kernel_positions(args.draw, args.kind, args.input, args.kernel, s, args.padding, args.dilation,
                              args.output_padding)
        print(f"figure:      {args.draw}")
    return 0 if ok else 1


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"--input {text!r} must be N x C x H x W with positive integers, e.g. 1x3x128x128")
    return shape


def _summary(args: argparse.Namespace) -> int:
    from . import nn
    from .models import MODELS
    from .plotting import measured_receptive_field
    shape = _parse_shape(args.input)
    kwargs: dict[str, Any] = {"base_channels": args.base_channels}
    if args.model in ("unet", "segnet"):
        kwargs["depth"] = args.depth
    model = MODELS[args.model](shape[1], args.classes, **kwargs)
    print(nn.summary(model, shape))
    rf = measured_receptive_field(model, shape[1:])
    print(f"receptive field of the centre output pixel (measured by its input gradient): {rf[0]} x {rf[1]} pixels")
    return 0


COMMANDS = {"train": _train, "predict": _predict, "eval": _eval, "arith": _arith, "summary": _summary}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except (ValueError, RuntimeError, TypeError, FileNotFoundError) as e:
        print(f"minifcn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
