"""The ``minifcn`` command line: train, predict, eval, arith, summary.

    minifcn train                          # a small U-Net on the synthetic shapes, CPU
    minifcn train --device cuda --epochs 20
    minifcn predict runs/unet/best.npz image.png
    minifcn eval runs/unet/best.npz --data DIR
    minifcn arith conv -i 5 -k 3 -s 2 -p 1 --draw conv.png
    minifcn summary --model unet --input 1x3x128x128
    minifcn export runs/unet/best.npz unet.onnx
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
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                           help="what to do; minifcn COMMAND --help lists its options")

    from .train import TrainConfig
    D = TrainConfig()   # the defaults a run gets for options not given
    t = sub.add_parser("train", help="train a segmentation network (default: small U-Net, synthetic shapes, CPU)")
    t.add_argument("--model", default="unet", choices=MODEL_NAMES, help="network to train (default: %(default)s)")
    t.add_argument("--data", default=None,
                   help="'shapes' (synthetic shapes all of one colour: the class is in the shape, so the network "
                        "needs context), 'coloured-shapes' (one colour per class: colour alone tells the class), "
                        "'cells' (synthetic touching cells, with object scores), or a folder with images/ and "
                        "masks/ or a VOC-style folder (default: shapes)")
    t.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where to train (default: %(default)s)")
    t.add_argument("--epochs", type=int, default=None, help=f"passes over the training set (default: {D.epochs})")
    t.add_argument("--batch-size", type=int, default=None, help=f"images per step (default: {D.batch_size})")
    t.add_argument("--lr", type=float, default=None,
                   help=f"Adam learning rate, the start of the {D.schedule} schedule (default: {D.lr})")
    t.add_argument("--image-size", type=int, default=None,
                   help=f"synthetic images are SIZE x SIZE pixels; folder images train on SIZE x SIZE crops unless "
                        f"--crop says otherwise (default: {D.image_size})")
    t.add_argument("--crop", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="folder data: train on random H x W crops (multiples of the model's size multiple); "
                        "validation uses the full images (default: SIZE x SIZE when images are larger)")
    t.add_argument("--scale", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="scale jitter of the crops: zoom by a factor drawn from [LO, HI], e.g. 0.75 1.5 "
                        "(default: none)")
    t.add_argument("--resize", action="store_true",
                   help="folder data: resize every image to SIZE x SIZE instead (default: keep sizes)")
    t.add_argument("--classes", type=int, default=None,
                   help=f"classes of the synthetic set (2..5), background included (default: {D.num_classes}); "
                        "for a folder: its class count, which also decides whether 255 is void "
                        "(default: the palette's length, or the largest label + 1)")
    t.add_argument("--samples", type=int, default=None, help=f"images in the synthetic set (default: {D.samples})")
    t.add_argument("--base-channels", type=int, default=None,
                   help=f"channels of the first layer; each level down doubles them (default: {D.base_channels})")
    t.add_argument("--depth", type=int, default=None,
                   help=f"down/up levels of unet and segnet (default: {D.depth})")
    t.add_argument("--out", default=None,
                   help="run directory (default: runs/MODEL; with --resume: the checkpoint's own directory)")
    t.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue from a checkpoint (e.g. runs/unet/last.npz) in its run directory, "
                        "appending to its metrics (default: start afresh)")
    t.add_argument("--seed", type=int, default=None,
                   help=f"seed of the data, the initialisation and the data order (default: {D.seed})")
    t.add_argument("--quiet", action="store_true", help="no progress bar (default: a bar on a terminal)")
    t.add_argument("--tf32", action="store_true",
                   help="--device cuda: let float32 matrix products use TF32 tensor cores, faster and about "
                        "1e-3 relative error (default: off, exact float32)")
    t.add_argument("--exercises", default=None, metavar="DIR",
                   help="run the network, its loss and its Adam step on your own pieces from this workbook: "
                        "im2col, col2im and max pooling always, each other piece once written (each must pass "
                        "'minifcn exercises check'; the table printed says which are yours; default: the library's own)")
    t.add_argument("--no-weight-map", dest="weight_map", action="store_false",
                   help="--data cells: plain cross-entropy instead of U-Net's border weight map (default: the weight map)")
    t.add_argument("--w0", type=float, default=None, help="--data cells: border weight w0 (default: 10)")
    t.add_argument("--sigma", type=float, default=None, help="--data cells: border width sigma in px (default: 5)")
    t.add_argument("--no-elastic", dest="elastic", action="store_false",
                   help="--data cells: no elastic deformations in the augmentation (default: elastic on)")
    t.add_argument("--border", action="store_true",
                   help="--data cells: a third class for the lines between touching cells (default: two classes)")
    _add_folder_options(t, split=False)

    pr = sub.add_parser("predict", help="predict masks for images with a trained checkpoint")
    pr.add_argument("checkpoint", help="a training checkpoint (best.npz or last.npz of a run)")
    pr.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...) of any size to segment")
    pr.add_argument("--out", default="predictions", help="folder for mask PNGs and overlays (default: %(default)s)")
    pr.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where to run (default: %(default)s)")
    pr.add_argument("--tile", type=int, default=None, metavar="T",
                    help="predict T x T tiles blended by a window, with memory bounded whatever the image size "
                         "(T a multiple of the model's size multiple, e.g. 256; default: the whole image at once)")
    pr.add_argument("--overlap", type=int, default=None, metavar="O",
                    help="pixels shared by neighbouring tiles, a multiple of the model's size multiple, < T "
                         "(default: T/4 rounded down to that multiple)")
    pr.add_argument("--no-figure", dest="figure", action="store_false",
                    help="write only the mask PNG, no overlay figure (default: both)")

    ev = sub.add_parser("eval", help="metrics of a checkpoint on a folder data set",
                        description="Data-set-level metrics from one confusion matrix summed over every pixel "
                                    "(FCN's pixel accuracy, mean accuracy, mean IoU, frequency-weighted IoU; "
                                    "per-class IoU and Dice), beside the means over images of per-image Dice, "
                                    "IoU and HD95. Full images, mirror-padded as the model needs, never resized.")
    ev.add_argument("checkpoint", help="a training checkpoint (best.npz or last.npz of a run)")
    ev.add_argument("--data", required=True, help="folder with images/ and masks/ (or a VOC-style folder), or "
                    "'cells' (64 new synthetic cells images, with object scores) (required)")
    ev.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where to run (default: %(default)s)")
    ev.add_argument("--tile", type=int, default=256, metavar="T",
                    help="images with a side above --tile-above are predicted in T x T tiles (default: %(default)s)")
    ev.add_argument("--overlap", type=int, default=None, metavar="O",
                    help="overlap of the tiles (default: T/4 rounded down to the model's size multiple)")
    ev.add_argument("--tile-above", type=int, default=1024, metavar="SIDE",
                    help="tile images whose larger side exceeds SIDE pixels (default: %(default)s)")
    ev.add_argument("--json", default=None, metavar="FILE",
                    help="also write every figure to FILE as JSON, atomically (default: none)")
    ev.add_argument("--force", action="store_true", help="replace --json FILE if it exists (default: refuse)")
    _add_folder_options(ev)

    ar = sub.add_parser("arith", help="output size of a convolution, transposed convolution or pooling")
    ar.add_argument("kind", choices=("conv", "transpose", "pool"),
                    help="convolution, transposed convolution or (max) pooling")
    ar.add_argument("-i", "--input", type=int, required=True, help="input size i (required)")
    ar.add_argument("-k", "--kernel", type=int, required=True, help="kernel size k (required)")
    ar.add_argument("-s", "--stride", type=int, default=None, help="stride s (default: 1; k for pool)")
    ar.add_argument("-p", "--padding", type=int, default=0, help="zero padding p on each side (default: %(default)s)")
    ar.add_argument("-d", "--dilation", type=int, default=1,
                    help="dilation d: kernel taps d pixels apart (default: %(default)s)")
    ar.add_argument("--output-padding", type=int, default=0,
                    help="transpose only: extra rows/columns a on the bottom/right (default: %(default)s)")
    ar.add_argument("--ceil-mode", action="store_true", help="pool only: round the output size up (default: down)")
    ar.add_argument("--draw", default=None, metavar="FILE.png",
                    help="draw the input with its padding beside the output, each output cell linked to its "
                         "window (default: no picture)")
    ar.add_argument("--animate", default=None, metavar="FILE.gif",
                    help="an animated GIF: the kernel at every position, one frame per output cell "
                         "(default: no animation)")

    su = sub.add_parser("summary", help="layer table with output shapes, parameters and receptive field")
    su.add_argument("--model", default="unet", choices=MODEL_NAMES, help="network (default: %(default)s)")
    su.add_argument("--input", default="1x3x128x128", help="input shape N x C x H x W (default: %(default)s)")
    su.add_argument("--classes", type=int, default=2, help="output classes (default: %(default)s)")
    su.add_argument("--base-channels", type=int, default=16,
                    help="channels of the first layer (default: %(default)s)")
    su.add_argument("--depth", type=int, default=4, help="down/up levels of unet and segnet (default: %(default)s)")

    from .exercises.cli import add_parser as add_exercises_parser  # minifcn exercises init|list|check
    add_exercises_parser(sub)
    _add_export_parser(sub)
    from .lessons_cli import add_parser as add_lessons_parser  # minifcn lessons list|init|run
    add_lessons_parser(sub)
    dr = sub.add_parser("doctor", help="check the GPU setup: versions, device, a tiny op, a timed U-Net step")
    dr.add_argument("--device", default=None, choices=("cpu", "cuda"),
                    help="cuda: fail (exit 1) unless the GPU works; cpu: check the CPU only "
                         "(default: the GPU if one is usable, and no failure without one)")
    dr.add_argument("--no-step", action="store_true", help="skip the timed U-Net step (default: run it)")
    return p


# ---- commands -------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train
    # A resumed run continues in its own directory (its metrics grow there), unless --out says otherwise.
    out = args.out or (str(Path(args.resume).parent) if args.resume else f"runs/{args.model}")
    cfg = TrainConfig(model=args.model, data=args.data, device=args.device, out=out)
    folder = args.data not in (None, "shapes", "coloured-shapes", "cells")
    for arg, field in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"), ("image_size", "image_size"),
                       ("classes", "folder_num_classes" if folder else "num_classes"), ("samples", "samples"),
                       ("base_channels", "base_channels"), ("depth", "depth"), ("seed", "seed")):
        if getattr(args, arg) is not None:
            setattr(cfg, field, getattr(args, arg))
    _cells_options(args, cfg)
    cfg.ignore_index, cfg.split_file = _ignore_arg(args.ignore_index), args.split_file
    cfg.label_map, cfg.palette, cfg.resize = args.label_map, args.palette, args.resize
    cfg.crop = tuple(args.crop) if args.crop else None
    cfg.scale = tuple(args.scale) if args.scale else None
    cfg.check()
    if args.tf32:
        if cfg.device != "cuda":
            raise ValueError(f"--tf32 is for --device cuda (TF32 is a GPU number format), got --device {cfg.device}")
        from .gpu import set_tf32
        set_tf32(True)
    what = {None: "synthetic shapes of one colour (the class is in the shape)",
            "shapes": "synthetic shapes of one colour (the class is in the shape)",
            "coloured-shapes": "synthetic shapes coloured by class"}.get(cfg.data, cfg.data)
    print(f"training {cfg.model} on {what} ({cfg.device}); run directory {cfg.out}")
    try:
        if args.exercises:  # the student's pieces in place of the library's (refuses failing ones)
            from .exercises.swap import train_with_student_ops
            history = train_with_student_ops(cfg, args.exercises, resume=args.resume, progress=not args.quiet)
        else:
            history = train(cfg, resume=args.resume, progress=not args.quiet)
    except KeyboardInterrupt:
        return 130
    last = history[-1]
    print(f"done: val mean Dice {last['val_dice']:.3f}, mean IoU {last['val_iou']:.3f}, pixel accuracy "
          f"{last['val_pixel_accuracy']:.3f} (data-set level: one confusion matrix over the validation pixels)")
    if "val_object_f1" in last:
        print(f"objects: F1 {last['val_object_f1']:.3f} (precision {last['val_object_precision']:.3f}, recall "
              f"{last['val_object_recall']:.3f}), merged {last['val_merged']}, split {last['val_split']}")
    print(f"pictures: {Path(cfg.out) / 'curves.png'}, {Path(cfg.out) / 'predictions.png'}; "
          f"checkpoints: {Path(cfg.out) / 'best.npz'}, {Path(cfg.out) / 'last.npz'}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from .data import read_image, save_mask_png
    from .plotting import overlay_figure
    from .tiling import predict_labels
    from .train import load_model
    model, cfg, _ = load_model(args.checkpoint, args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.images:
        image = read_image(name)
        start = time.perf_counter()
        mask = predict_labels(model, image, args.tile, args.overlap, args.device)
        seconds = time.perf_counter() - start
        stem = Path(name).stem
        save_mask_png(out / f"{stem}_mask.png", mask.astype(np.uint8))
        written = [str(out / f"{stem}_mask.png")]
        if args.figure:
            overlay_figure(out / f"{stem}_overlay.png", image, mask)
            written.append(str(out / f"{stem}_overlay.png"))
        how = f"tiles of {args.tile}" if args.tile is not None and max(image.shape[1:]) > args.tile else "whole image"
        print(f"{name}: {', '.join(written)}  {image.shape[2]}x{image.shape[1]} px, {how}, {seconds:.2f} s; "
              f"classes present {np.flatnonzero(np.bincount(mask.ravel())).tolist()}")
    return 0


def _json_safe(value: Any) -> Any:
    """Numbers, lists and dicts with NaN/inf as None (JSON has no NaN)."""
    import math

    import numpy as np
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _eval(args: argparse.Namespace) -> int:
    import json
    import time

    import numpy as np

    from . import metrics
    from .atomic import write_text
    from .tiling import predict_labels
    from .train import load_model
    if args.json and Path(args.json).exists() and not args.force:
        raise ValueError(f"--json {args.json} exists; pass --force to replace it (nothing was evaluated)")
    start = time.perf_counter()
    model, cfg, ckpt = load_model(args.checkpoint, args.device)
    ds = _eval_data(args, cfg, ckpt)
    k = int(ckpt["num_classes"])
    ignore = getattr(ds, "ignore_index", None)
    acc = metrics.ConfusionMatrix(k, ignore)
    dice_img, iou_img, hd95_img, preds, voids, instances, tiled = [], [], [], [], [], [], 0
    for i in range(len(ds)):   # one image at a time: images may differ in size
        image, mask, *inst = ds[i]
        tile = args.tile if max(image.shape[1:]) > args.tile_above else None
        tiled += tile is not None
        pred = predict_labels(model, image, tile, args.overlap, args.device)
        acc.update(pred[None], mask[None])
        per = metrics.per_image_scores(pred[None], mask[None], k, ignore)
        dice_img.append(per["dice_per_image"][0])
        iou_img.append(per["iou_per_image"][0])
        valid = mask != ignore if ignore is not None else np.ones(mask.shape, bool)
        hd95_img.append(metrics.hausdorff_per_class(pred, mask, k, 95, ignore))   # void pixels in neither mask
        if inst:
            preds.append(pred)
            voids.append(~valid)
            instances += inst
    data_set = acc.compute()
    dice_img, iou_img, hd95_img = np.array(dice_img), np.array(iou_img), np.array(hd95_img, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        hd95_img[~np.isfinite(hd95_img)] = np.nan          # an empty class in one map: no distance
    per_image = {"dice": metrics._column_nanmean(dice_img), "iou": metrics._column_nanmean(iou_img),
                 "hd95": metrics._column_nanmean(hd95_img)}
    seconds = time.perf_counter() - start
    void = f"; {data_set['ignored_pixels']} void pixels (label {ignore}) left out" if ignore is not None else ""
    print(f"{len(ds)} images, {k} classes{void}; {tiled} predicted in tiles (above {args.tile_above} px)")
    print(f"evaluated in {seconds:.1f} s", file=sys.stderr)     # stdout stays the same from run to run
    print("data set (one confusion matrix over all pixels; Long et al. 2015, sec. 5):")
    print(f"  pixel accuracy {data_set['pixel_accuracy']:.4f}   mean accuracy {data_set['mean_accuracy']:.4f}   "
          f"mean IoU {data_set['mean_iou']:.4f}   frequency-weighted IoU {data_set['fw_iou']:.4f}")
    print(f"{'class':>5}  {'pixels':>9}  {'acc':>7}  {'IoU':>7}  {'Dice':>7}   |  per-image mean:  "
          f"{'Dice':>7}  {'IoU':>7}  {'HD95 (px)':>9}")
    for c in range(k):
        print(f"{c:>5}  {int(data_set['pixels'][c]):>9}  {data_set['accuracy'][c]:7.4f}  {data_set['iou'][c]:7.4f}  "
              f"{data_set['dice'][c]:7.4f}   |                   {per_image['dice'][c]:7.4f}  "
              f"{per_image['iou'][c]:7.4f}  {per_image['hd95'][c]:9.2f}")
    means = {key: metrics._nanmean(v) for key, v in per_image.items()}
    print(f"{'mean':>5}  {'':>9}  {data_set['mean_accuracy']:7.4f}  {data_set['mean_iou']:7.4f}  "
          f"{data_set['mean_dice']:7.4f}   |                   {means['dice']:7.4f}  {means['iou']:7.4f}  "
          f"{means['hd95']:9.2f}")
    report = {"images": len(ds), "classes": k, "ignore_index": ignore, "seconds": round(seconds, 3),
              "data_set": {key: data_set[key] for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou",
                                                        "mean_dice", "accuracy", "iou", "dice", "pixels",
                                                        "ignored_pixels", "confusion")},
              "per_image_mean": {**per_image, **{f"mean_{key}": v for key, v in means.items()}}}
    if instances:
        obj = metrics.object_scores(np.stack(preds), np.stack(instances), void=np.stack(voids))
        report["objects"] = obj
        print(f"objects (connected components matched at IoU >= 0.5): {obj['true_objects']} true, "
              f"{obj['pred_objects']} predicted; precision {obj['precision']:.4f}, recall {obj['recall']:.4f}, "
              f"F1 {obj['f1']:.4f}; merged {obj['merged']}, split {obj['split']}")
    if args.json:
        write_text(args.json, json.dumps(_json_safe(report), indent=2))
        print(f"wrote {args.json}")
    return 0


def _add_folder_options(parser: argparse.ArgumentParser, split: bool = True) -> None:
    """Options of a folder data set (train and eval; ``split``: offer --split too)."""
    g = parser.add_argument_group("folder data sets")
    g.add_argument("--ignore-index", default="auto", metavar="V|auto|none",
                   help="the void label, counted in no loss or metric: an integer, 'none', or 'auto' = 255 when "
                        "the masks hold 255 and the class count says it is not a class (ambiguous cases are "
                        "refused; see minifcn.data.folder) (default: %(default)s)")
    if split:
        g.add_argument("--split", default=None, metavar="NAME",
                       help="load only the names listed in ImageSets/Segmentation/NAME.txt (VOC layout) or "
                            "DIR/NAME.txt (default: every image with a mask)")
    g.add_argument("--split-file", default=None, metavar="FILE",
                   help="load only the names listed in FILE, one a line (default: every image with a mask; "
                        "train on a VOC folder: ImageSets/Segmentation/train.txt, validate on val.txt, "
                        "when both are there)")
    g.add_argument("--label-map", default=None, metavar="FILE.json",
                   help="map raw mask values (e.g. 16-bit Cityscapes ids) to classes, e.g. "
                        "{\"7\": 0, \"8\": 1, \"*\": \"void\"} (default: values are the classes)")
    g.add_argument("--palette", default=None, metavar="FILE",
                   help="colours of the classes for colour masks, optionally with a void colour "
                        "(default: DIR/palette.json or palette.txt if present)")


def _ignore_arg(text: Any) -> Any:
    """--ignore-index text -> "auto", None or an int (a clear error otherwise)."""
    if text is None or text == "auto" or isinstance(text, int):
        return text
    if str(text).lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--ignore-index {text!r} is not valid; use an integer label (e.g. 255), 'auto' or 'none'") \
            from None


def _folder_kwargs(args: argparse.Namespace) -> dict:
    return {"ignore_index": _ignore_arg(args.ignore_index), "split": args.split, "split_file": args.split_file,
            "label_map": args.label_map, "palette": args.palette}


def _eval_data(args: argparse.Namespace, cfg: Any, ckpt: dict) -> Any:
    """``--data cells``: 64 synthetic cells images from a seed the training never used; else a folder
    (full images, never resized)."""
    if args.data == "cells":
        from .data import SyntheticCells
        return SyntheticCells(64, image_size=cfg.image_size, seed=cfg.seed + 10_000, border=cfg.border)
    from .data import FolderDataset
    return FolderDataset(args.data, num_classes=int(ckpt["num_classes"]), **_folder_kwargs(args))


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
                              args.output_padding, ceil_mode=args.ceil_mode)
        print(f"figure:      {args.draw}")
    if args.animate:
        from .plotting import animate_kernel_positions
        frames = animate_kernel_positions(args.animate, args.kind, args.input, args.kernel, s, args.padding,
                                          args.dilation, args.output_padding, ceil_mode=args.ceil_mode)
        print(f"animation:   {args.animate} ({frames} frames, one per output pixel)")
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
    from .nn.summary import measured_receptive_field
    shape = _parse_shape(args.input)
    kwargs: dict[str, Any] = {"base_channels": args.base_channels}
    if args.model in ("unet", "segnet"):
        kwargs["depth"] = args.depth
    model = MODELS[args.model](shape[1], args.classes, **kwargs)
    print(nn.summary(model, shape))
    rf = measured_receptive_field(model, shape[1:])
    print(f"receptive field of the centre output pixel (measured by its input gradient): {rf[0]} x {rf[1]} pixels")
    return 0


def _add_export_parser(sub: Any) -> None:
    ex = sub.add_parser("export", help="write a trained checkpoint as an ONNX model (onnxruntime, TensorRT, ...)",
                        description="Write a training checkpoint as an ONNX model (opset 18), then, when onnxruntime "
                                    "is installed, run both on one random input and report how far apart they are.")
    ex.add_argument("checkpoint", help="a training checkpoint, e.g. runs/unet/best.npz")
    ex.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    ex.add_argument("--input", default=None, metavar="NxCxHxW",
                    help="example input shape, e.g. 1x3x128x128 (default: 1 x the checkpoint's channels x its "
                         "training image size); the exported model takes this H x W")
    ex.add_argument("--static-batch", action="store_true",
                    help="fix the batch size to the example's N (default: any batch size runs)")
    ex.add_argument("--force", action="store_true", help="replace OUT.onnx if it exists (default: refuse)")


def _export(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    import minifcn as mf
    from .export import OPSET, onnx_forward, to_onnx
    from .train import load_model
    out = Path(args.output)
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; pass --force to replace it (nothing was written)")
    model, cfg, ckpt = load_model(args.checkpoint, "cpu")
    channels = int(ckpt["in_channels"])
    shape = _parse_shape(args.input) if args.input else (1, channels, cfg.image_size, cfg.image_size)
    if shape[1] != channels:
        raise ValueError(f"--input {args.input!r} has C = {shape[1]} channels but the checkpoint's model takes "
                         f"{channels}; use e.g. --input 1x{channels}x{shape[2]}x{shape[3]}")
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    start = time.perf_counter()
    try:
        proto = to_onnx(model, x, out, dynamic_batch=not args.static_batch)
    except ImportError as e:
        raise RuntimeError(str(e)) from None
    seconds = time.perf_counter() - start
    batch = shape[0] if args.static_batch else "N"
    print(f"wrote {out} ({out.stat().st_size / 2**20:.2f} MiB, opset {OPSET}, {len(proto.graph.node)} nodes) "
          f"in {seconds:.2f} s")
    print(f"input 'input': {batch} x {' x '.join(map(str, shape[1:]))} float32; output 'output'; "
          f"{cfg.model}, {int(ckpt['num_classes'])} classes")
    try:
        theirs = onnx_forward(out, x)
    except ImportError:
        print("not checked: install onnxruntime (pip install onnxruntime) to run the export")
        return 0
    with mf.no_grad():
        ours = model(mf.tensor(x)).numpy()
    gap = float(np.abs(theirs - ours).max() / max(np.abs(ours).max(), 1e-30))
    print(f"checked with onnxruntime: max |difference| / max |output| = {gap:.1e} "
          f"({'agrees' if gap < 1e-4 else 'DISAGREES'})")
    return 0 if gap < 1e-4 else 1


COMMANDS = {"train": _train, "predict": _predict, "eval": _eval, "arith": _arith, "summary": _summary}

COMMANDS["export"] = _export


def _exercises(args: argparse.Namespace) -> int:
    from .exercises.cli import run
    return run(args)


COMMANDS["exercises"] = _exercises


def _lessons(args: argparse.Namespace) -> int:
    from .lessons_cli import run
    return run(args)


COMMANDS["lessons"] = _lessons


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import doctor
    return doctor(args.device, step=not args.no_step)


COMMANDS["doctor"] = _doctor


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
