"""Training a segmentation network end to end: data, loop, checkpoints, metrics, pictures.

    from minifcn.train import TrainConfig, train
    history = train(TrainConfig(epochs=5, out="runs/first"))

A run directory holds ``config.json``, ``metrics.csv`` and ``metrics.json`` (one record per
epoch), ``curves.png`` (loss and metrics), ``predictions.png`` (input / truth / prediction
for validation images) and checkpoints: ``last.npz`` (every epoch; also on Ctrl-C, mid-epoch)
and ``best.npz`` (best validation Dice). Checkpoints are written atomically, so a crash at
any moment leaves the previous one loadable; ``resume=".../last.npz"`` continues exactly
where it stopped (the same weights, bit for bit on the CPU, as an uninterrupted run),
because the data order, the augmentation and the initialisation are all derived from
``(seed, epoch, batch)`` rather than from a generator's running state.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import minifcn as mf

from . import backend, metrics
from . import functional as F
from . import nn, optim
from . import gpu
from .atomic import atomic_open, write_text
from .checkpoint import load, save
from .data import Compose, DataError, DataLoader, FolderDataset, SyntheticShapes, crop_item, random_flip
from .data import random_rot90, random_split
from .data import SyntheticCells, random_elastic
from .data.weightmap import border_weight_map
from .models import MODELS
from .plotting import image_grid, label_colours, pyplot
from .tiling import pad_to_multiple, predict_labels, predict_tiled, size_multiple


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run (saved as ``config.json`` and inside each checkpoint)."""
    model: str = "unet"
    data: str | None = None          # None or "shapes": same-colour synthetic shapes (the class is in the shape);
                                     # "coloured-shapes": one colour per class; "cells": touching cells; else a folder
    num_classes: int = 3             # synthetic set only (a folder data set knows its own)
    samples: int = 320               # synthetic set only: images generated
    image_size: int = 64
    epochs: int = 8
    batch_size: int = 8
    lr: float = 5e-3
    weight_decay: float = 0.0
    schedule: str | None = "cosine"  # None, "cosine" or "step"
    loss: str = "ce+dice"            # "ce", "dice" or "ce+dice"
    base_channels: int = 8
    depth: int = 3
    augment: bool = True
    val_fraction: float = 0.2
    device: str = "cpu"
    seed: int = 0
    out: str = "runs/unet"
    # the cells data set only: U-Net's border weight map in the cross-entropy, elastic deformations
    weight_map: bool = True
    w0: float = 10.0
    sigma: float = 5.0
    elastic: bool = True
    border: bool = False             # a third class for the lines between touching cells
    # folder data sets: void label, crops, splits (see minifcn.data.folder)
    ignore_index: Any = "auto"       # "auto", None or an int
    crop: Any = None                 # (H, W) training crops; None: image_size x image_size when images are larger
    scale: Any = None                # (lo, hi) scale jitter of the crops, e.g. (0.75, 1.5); None: none
    resize: bool = False             # resize every folder image to image_size (instead of crops / full images)
    split_file: str | None = None    # train on the names listed in this file
    folder_num_classes: int | None = None   # the class count of a folder data set (None: palette or masks)
    label_map: str | None = None
    palette: str | None = None

    def check(self) -> "TrainConfig":
        if self.model not in MODELS:
            raise ValueError(f"model={self.model!r} is not known; use one of {sorted(MODELS)}")
        backend.module_for(self.device)  # fails now, with what to install, if "cuda" cannot run
        if self.loss not in ("ce", "dice", "ce+dice"):
            raise ValueError(f"loss={self.loss!r} must be 'ce', 'dice' or 'ce+dice'")
        if self.schedule not in (None, "cosine", "step"):
            raise ValueError(f"schedule={self.schedule!r} must be None, 'cosine' or 'step'")
        for name in ("epochs", "batch_size", "image_size", "samples", "base_channels", "depth"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction={self.val_fraction} must be in (0, 1)")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr} must be > 0")
        if self.scale is not None and not (len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1]):
            raise ValueError(f"scale={self.scale!r} is not valid; use (lo, hi) with 0 < lo <= hi, e.g. (0.75, 1.5)")
        if self.ignore_index not in ("auto", None) and (isinstance(self.ignore_index, bool)
                                                         or not isinstance(self.ignore_index, int)):
            raise ValueError(f"ignore_index={self.ignore_index!r} is not valid; use 'auto', None or an int")
        return self


# ---- pieces ---------------------------------------------------------------------------------
def build_model(cfg: TrainConfig, in_channels: int, num_classes: int) -> nn.Module:
    """The configured model, initialised from ``cfg.seed``."""
    nn.init.manual_seed(cfg.seed)
    cls = MODELS[cfg.model]
    if cfg.model == "unet":
        return cls(in_channels, num_classes, base_channels=cfg.base_channels, depth=cfg.depth)
    if cfg.model == "segnet":
        return cls(in_channels, num_classes, base_channels=cfg.base_channels, depth=cfg.depth)
    return cls(in_channels, num_classes, base_channels=cfg.base_channels)


def build_data(cfg: TrainConfig) -> tuple[Any, Any, int, int]:
    """(train set, validation set, channels, classes).

    A VOC-style folder with ``ImageSets/Segmentation/train.txt`` and ``val.txt`` trains on
    the first and validates on the second; otherwise ``val_fraction`` of the images is held
    out at random.
    """
    val_set = None
    if cfg.data == "cells":
        ds = SyntheticCells(cfg.samples, image_size=cfg.image_size, seed=cfg.seed, border=cfg.border)
        channels, classes = ds.channels, ds.num_classes
    elif cfg.data in (None, "shapes", "coloured-shapes"):
        ds = SyntheticShapes(cfg.samples, image_size=cfg.image_size, num_classes=cfg.num_classes, seed=cfg.seed,
                             same_colour=cfg.data != "coloured-shapes")
        channels, classes = ds.channels, cfg.num_classes
    else:
        kwargs = {"image_size": cfg.image_size if cfg.resize else None, "label_map": cfg.label_map,
                  "palette": cfg.palette}
        splits = Path(cfg.data) / "ImageSets" / "Segmentation"
        if cfg.split_file is None and (splits / "train.txt").is_file() and (splits / "val.txt").is_file():
            ds = FolderDataset(cfg.data, num_classes=cfg.folder_num_classes, ignore_index=cfg.ignore_index,
                               split="train", **kwargs)
            val_set = FolderDataset(cfg.data, num_classes=ds.num_classes, ignore_index=ds.ignore_index,
                                    split="val", **kwargs)
        else:
            ds = FolderDataset(cfg.data, num_classes=cfg.folder_num_classes, ignore_index=cfg.ignore_index,
                               split_file=cfg.split_file, **kwargs)
        channels, classes = ds.channels, ds.num_classes
    if val_set is not None:
        return ds, val_set, channels, classes
    n_val = max(1, int(round(len(ds) * cfg.val_fraction)))
    if n_val >= len(ds):
        raise ValueError(f"the data set has {len(ds)} images: too few to hold out {n_val} for validation")
    train_set, val_set = random_split(ds, [len(ds) - n_val, n_val], seed=cfg.seed)
    return train_set, val_set, channels, classes


def _base(dataset: Any) -> Any:
    """The data set under a Subset."""
    return _base(dataset.dataset) if hasattr(dataset, "indices") else dataset


def ignore_index_of(dataset: Any) -> int | None:
    """The void label of a (folder) data set, None for the synthetic ones."""
    return getattr(_base(dataset), "ignore_index", None)


def _sizes(dataset: Any) -> list[tuple[Any, tuple[int, int]]]:
    """(name, (H, W)) of every item, cheaply for folder data sets."""
    base = _base(dataset)
    indices = list(dataset.indices) if hasattr(dataset, "indices") else range(len(dataset))
    if hasattr(base, "files"):
        return [(base.files[int(i)][0], tuple(base.masks[int(i)].shape)) for i in indices]
    h, w = dataset[0][1].shape[-2:]
    return [(None, (h, w))]


def training_crop(cfg: TrainConfig, train_set: Any, multiple: int) -> tuple[int, int] | None:
    """The crop (H, W) training takes, or None when the images already have that size.

    Default: image_size x image_size. Every image must be at least the crop (a clear error
    naming the file otherwise); the crop's sides must be multiples of the model's.
    """
    crop = tuple(int(v) for v in cfg.crop) if cfg.crop is not None else (cfg.image_size, cfg.image_size)
    if len(crop) != 2 or min(crop) < 1 or crop[0] % multiple or crop[1] % multiple:
        raise ValueError(f"crop={cfg.crop!r} is not valid for {cfg.model} (depth {cfg.depth}): use (H, W) with "
                         f"sides that are multiples of {multiple}, e.g. ({cfg.image_size}, {cfg.image_size})")
    sizes = _sizes(train_set)
    if cfg.scale is None and all(size == crop for _, size in sizes):
        return None
    for name, (h, w) in sizes:
        if h < crop[0] or w < crop[1]:
            raise DataError(f"crop {crop[0]}x{crop[1]} (HxW) is larger than image {name} ({h}x{w}); "
                            f"pass a smaller --crop (multiples of {multiple}) or --resize")
    return crop


def segmentation_loss(kind: str, logits: mf.Tensor, target: Any, weight_map: Any = None,
                      ignore_index: int | None = None) -> mf.Tensor:
    """Pixel-wise cross-entropy (weighted per pixel by ``weight_map`` if given), soft Dice, or their sum.

    Pixels whose target is ``ignore_index`` (void) count in neither loss.
    """
    ce_ignore = -100 if ignore_index is None else ignore_index
    if kind == "ce":
        return F.cross_entropy(logits, target, ignore_index=ce_ignore, weight_map=weight_map)
    if kind == "dice":
        return F.dice_loss(logits, target, ignore_index=ignore_index)
    return (F.cross_entropy(logits, target, ignore_index=ce_ignore, weight_map=weight_map)
            + F.dice_loss(logits, target, ignore_index=ignore_index))


def make_schedule(cfg: TrainConfig, opt: optim.Optimizer, steps: int) -> Any:
    if cfg.schedule == "cosine":
        return optim.CosineAnnealingLR(opt, T_max=steps)
    if cfg.schedule == "step":
        return optim.StepLR(opt, step_size=max(1, steps // 3), gamma=0.3)
    return None


TILE_ABOVE, VAL_TILE = 1024, 256
"""Validation images with a side above TILE_ABOVE px are predicted in VAL_TILE tiles (bounded memory)."""


def evaluate(model: nn.Module, loader: DataLoader, num_classes: int, device: str, loss: str = "ce",
             ignore_index: int | None = None) -> dict:
    """Validation loss and the data-set-level metrics of one confusion matrix over the whole set.

    The matrix is summed on the device (:class:`~minifcn.metrics.ConfusionMatrix`, no host
    sync per batch) and scored once: pixel accuracy, mean accuracy, mean IoU and
    frequency-weighted IoU (FCN's four), and mean Dice; ``dice``/``iou`` average the classes
    (background included; a class absent from both prediction and truth is left out),
    ``dice_fg`` averages the foreground classes only. Void pixels (``ignore_index``) count
    nowhere.
    """
    model.eval()
    multiple = size_multiple(model)
    acc = metrics.ConfusionMatrix(num_classes, ignore_index)
    objects = None
    total, count = 0.0, 0
    allowed = tuple(v for v in (ignore_index, -100 if loss == "ce" else None) if v is not None)
    with mf.no_grad():
        for images, masks, *instances in loader:
            gpu.check_labels_on_host(masks, num_classes, allowed=allowed)
            h, w = masks.shape[-2:]
            y = backend.to_device(masks, device)
            with gpu.deferred_checks():  # no host sync per batch: the loss sum stays on the device
                if max(h, w) > TILE_ABOVE and len(images) == 1:   # a large image: tile by tile
                    logits = mf.tensor(predict_tiled(model, images[0], VAL_TILE)[None], device=device)
                else:   # full images, mirror-padded as the model needs (the batch at once)
                    logits = model(mf.tensor(pad_to_multiple(images, multiple), device=device))
                    if tuple(logits.shape[2:]) != (h, w):
                        logits = logits[:, :, :h, :w]
                total = total + segmentation_loss(loss, logits, y, None, ignore_index).data * len(images)
                count += len(images)
                pred = logits.data.argmax(axis=1)
                acc.update(pred, y)
            if instances:   # a data set with instance maps (cells): count objects too (on the host)
                found = metrics.object_scores(pred, instances[0])
                objects = found if objects is None else {k: objects[k] + found[k] for k in _OBJECT_COUNTS}
    total = float(backend.to_numpy(total))
    model.train()
    scores = acc.compute()
    out = {"loss": total / count, "pixel_accuracy": scores["pixel_accuracy"],
           "mean_accuracy": scores["mean_accuracy"], "dice": scores["mean_dice"],
           "dice_fg": scores["mean_dice_fg"], "iou": scores["mean_iou"], "fw_iou": scores["fw_iou"]}
    if objects is not None:
        out.update(_object_summary(objects))
    return out


_OBJECT_COUNTS = ("tp", "fp", "fn", "merged", "split")


def _object_summary(counts: dict) -> dict:
    """Object precision, recall, F1 and the merge/split counts from summed counts."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return {"object_precision": tp / (tp + fp) if tp + fp else math.nan,
            "object_recall": tp / (tp + fn) if tp + fn else math.nan,
            "object_f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan,
            "merged": counts["merged"], "split": counts["split"]}


def _prepare_batch(cfg: TrainConfig, augment: Callable | None, rng: np.random.Generator, images: Any,
                   masks: Any, instances: list) -> tuple[Any, Any, Any]:
    """Augment a batch and, for a data set with instance maps, make U-Net's weight map.

    Masks and instance maps are stacked (N, 2, H, W) so that one augmentation moves both
    the same way; the weight map is computed after it, from the deformed instances.
    """
    if not instances:
        if augment is not None:
            images, masks = augment(rng, images, masks)
        return images, masks, None
    labels = np.stack([masks, instances[0]], axis=1)
    if augment is not None:
        images, labels = augment(rng, images, labels)
    masks = np.ascontiguousarray(labels[:, 0])
    if not cfg.weight_map:
        return images, masks, None
    return images, masks, border_weight_map(labels[:, 1], cfg.w0, cfg.sigma, mask=masks)


def _augment(cfg: TrainConfig) -> Callable | None:
    if cfg.augment and cfg.data == "cells" and cfg.elastic:
        return Compose([random_flip, random_rot90, random_elastic])
    if not cfg.augment:
        return None
    square = cfg.crop is None or cfg.crop[0] == cfg.crop[1]      # quarter turns keep only a square's shape
    return Compose([random_flip, random_rot90] if square else [random_flip])


def _progress(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar on a terminal; a silent stand-in otherwise (logs stay readable)."""
    if enabled and sys.stderr.isatty():
        try:
            from tqdm import tqdm
            return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
        except ImportError:
            pass

    class Quiet:
        def update(self, n=1): pass
        def set_postfix_str(self, s): pass
        def close(self): pass
    return Quiet()


def colour_only_dice(train_set: Any, val_set: Any, num_classes: int, ignore_index: int | None = None,
                     bins: int = 16) -> float:
    """Data-set mean Dice on ``val_set`` of the best per-pixel *colour-only* classifier.

    A look-up table over colours: RGB (or grey) quantised to ``bins`` levels per channel;
    each colour cell predicts the class most frequent among the training pixels of that
    colour (class 0 for a colour never seen). No pixel sees its neighbours, so this is what
    colour alone can do: on the coloured shapes it is nearly perfect, on the same-colour
    shapes it can find the shapes but not tell them apart. Host arrays, one ``bincount``.
    """
    def cells(images: list) -> np.ndarray:
        codes = [np.minimum((im * bins).astype(np.int64), bins - 1) for im in images]
        return np.concatenate([sum(c[k] * bins ** k for k in range(c.shape[0])).ravel() for c in codes])

    def pairs(ds: Any) -> tuple[list, np.ndarray]:
        items = [ds[i] for i in range(len(ds))]
        return [it[0] for it in items], np.concatenate([it[1].ravel() for it in items])
    images, labels = pairs(train_set)
    code, ncells = cells(images), bins ** images[0].shape[0]
    keep = (labels >= 0) & (labels < num_classes)
    table = np.bincount(code[keep] * num_classes + labels[keep], minlength=ncells * num_classes)
    lookup = table.reshape(ncells, num_classes).argmax(axis=1)
    val_images, val_labels = pairs(val_set)
    cm = metrics.confusion_matrix(lookup[cells(val_images)], val_labels, num_classes, ignore_index)
    return metrics.fcn_scores(cm, ignore_index)["mean_dice"]


# ---- checkpoints ----------------------------------------------------------------------------
def _checkpoint(model, opt, sched, cfg, epoch, batch, history, partial, shape) -> dict:
    return {"format": "minifcn-train-checkpoint-1", "config": json.dumps(dataclasses.asdict(cfg)),
            "model_name": cfg.model, "in_channels": shape[0], "num_classes": shape[1], "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else {},
            "epoch": epoch, "batch": batch, "history": json.dumps(history), "partial": json.dumps(partial)}


def load_model(path: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, TrainConfig, dict]:
    """A trained model (eval mode) from a training checkpoint, with its config and the checkpoint."""
    ckpt = load(path)
    if ckpt.get("format") != "minifcn-train-checkpoint-1":
        raise ValueError(f"{path} is not a minifcn training checkpoint (no 'format' entry "
                         f"'minifcn-train-checkpoint-1'; found {ckpt.get('format')!r})")
    cfg = TrainConfig(**json.loads(ckpt["config"]))
    model = build_model(cfg, int(ckpt["in_channels"]), int(ckpt["num_classes"]))
    model.load_state_dict(ckpt["model"])
    model.to(device)
    model.eval()
    return model, cfg, ckpt


# ---- the loop -------------------------------------------------------------------------------
def train(cfg: TrainConfig, resume: str | os.PathLike | None = None, progress: bool = True,
          log: Callable[[str], None] = print, on_batch: Callable[[int, int], None] | None = None) -> list[dict]:
    """Train ``cfg.model`` and return the per-epoch history (also written to ``cfg.out``).

    ``on_batch(epoch, batch)`` is called before each batch (tests use it to inject a crash).
    """
    cfg.check()
    train_set, val_set, channels, classes = build_data(cfg)
    model = build_model(cfg, channels, classes).to(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)  # only once the data and the model are fine
    opt = optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ignore = ignore_index_of(train_set)
    multiple = size_multiple(model)
    crop = training_crop(cfg, train_set, multiple)
    scale = tuple(cfg.scale) if cfg.scale is not None else None
    take_crop = None if crop is None else (lambda rng, image, mask, *rest: (*crop_item(rng, image, mask, crop, scale),
                                                                         *rest))
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, drop_last=True,
                              item_transform=take_crop)
    if len(train_loader) == 0:
        raise ValueError(f"batch_size={cfg.batch_size} is larger than the {len(train_set)} training images")
    # validation on full images: batched when they share one size, one by one otherwise
    sizes = {size for _, size in _sizes(val_set)}
    batched = len(sizes) == 1 and max(max(sizes)) <= TILE_ABOVE
    val_loader = DataLoader(val_set, batch_size=cfg.batch_size if batched else 1)
    sched = make_schedule(cfg, opt, cfg.epochs * len(train_loader))
    augment = _augment(cfg)
    history: list[dict] = []
    start_epoch, start_batch, partial = 0, 0, {"loss_sum": 0.0, "batches": 0, "seconds": 0.0}

    if resume is not None:
        ckpt = load(resume)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        if sched is not None:
            sched.load_state_dict(ckpt["scheduler"])
        start_epoch, start_batch = int(ckpt["epoch"]), int(ckpt["batch"])
        history, partial = json.loads(ckpt["history"]), json.loads(ckpt["partial"])
        log(f"resumed from {resume} at epoch {start_epoch + 1}, batch {start_batch}")
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))

    def save_last(epoch: int, batch: int) -> None:
        save(_checkpoint(model, opt, sched, cfg, epoch, batch, history, partial, (channels, classes)), out / "last.npz")

    best = max((h["val_dice"] for h in history), default=-1.0)
    model.train()
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        bar = _progress(len(train_loader), f"epoch {epoch + 1}/{cfg.epochs}", progress)
        b = start_batch
        try:
            train_loader.set_epoch(epoch)
            for b, (images, masks, *instances) in enumerate(train_loader):
                if b < start_batch:
                    continue
                if on_batch is not None:
                    on_batch(epoch, b)
                images, masks, weights = _prepare_batch(cfg, augment, np.random.default_rng([cfg.seed, epoch, b]),
                                                        images, masks, instances)
                allowed = tuple(v for v in (ignore, -100 if cfg.loss == "ce" else None) if v is not None)
                gpu.check_labels_on_host(masks, classes, allowed=allowed)
                x, y = mf.tensor(images, device=cfg.device), backend.to_device(masks, cfg.device)
                if weights is not None:
                    weights = backend.to_device(weights, cfg.device)
                with gpu.deferred_checks():  # labels checked on the host: no device check syncs
                    loss = segmentation_loss(cfg.loss, model(x), y, weights, ignore)
                value = float(loss.item())                  # the step's one host sync
                if not math.isfinite(value):
                    raise TrainingDiverged(
                        f"the loss became {value} at epoch {epoch + 1}, batch {b + 1}; training stopped. "
                        f"The last good checkpoint is kept at {out / 'last.npz'}. Try a lower --lr "
                        f"(now {cfg.lr}).")
                opt.zero_grad()
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                partial["loss_sum"] += value
                partial["batches"] += 1
                bar.update()
                bar.set_postfix_str(f"loss {value:.4f}")
        except KeyboardInterrupt:
            bar.close()
            partial["seconds"] += time.perf_counter() - t0
            save_last(epoch, b)
            log(f"interrupted: saved {out / 'last.npz'} (resume with --resume {out / 'last.npz'})")
            raise
        bar.close()
        start_batch = 0
        val = evaluate(model, val_loader, classes, cfg.device, cfg.loss, ignore)
        seconds = partial["seconds"] + time.perf_counter() - t0
        record = {"epoch": epoch + 1, "train_loss": partial["loss_sum"] / max(partial["batches"], 1),
                  "val_loss": val["loss"], "val_pixel_accuracy": val["pixel_accuracy"], "val_dice": val["dice"],
                  "val_dice_fg": val["dice_fg"], "val_iou": val["iou"], "val_mean_accuracy": val["mean_accuracy"],
                  "val_fw_iou": val["fw_iou"], "lr": opt.lr, "seconds": round(seconds, 3)}
        record.update({f"val_{k}": v for k, v in val.items() if k.startswith("object_") or k in ("merged", "split")})
        history.append(record)
        partial = {"loss_sum": 0.0, "batches": 0, "seconds": 0.0}
        objects = (f"  object F1 {val['object_f1']:.3f} (merged {val['merged']}, split {val['split']})"
                   if "object_f1" in val else "")
        if epoch == start_epoch:
            log("validation scores are data-set level: one confusion matrix summed over every validation pixel "
                "(acc = pixel accuracy, mIoU = mean IoU, dice = mean Dice over the classes)")
        log(f"epoch {epoch + 1:3d}/{cfg.epochs}  train loss {record['train_loss']:.4f}  val loss {val['loss']:.4f}  "
            f"acc {val['pixel_accuracy']:.3f}  dice {val['dice']:.3f}  mIoU {val['iou']:.3f}{objects}  "
            f"({seconds:.1f} s)")
        save_last(epoch + 1, 0)
        if record["val_dice"] > best:
            best = record["val_dice"]
            save(_checkpoint(model, opt, sched, cfg, epoch + 1, 0, history, partial, (channels, classes)),
                 out / "best.npz")
        write_metrics(out, history)
    colour = colour_only_dice(train_set, val_set, classes, ignore)
    history[-1]["val_colour_only_dice"] = colour
    log(f"for comparison: a per-pixel colour-only classifier (a colour look-up table fitted on the training "
        f"images) scores mean Dice {colour:.3f} on the same validation images")
    plot_curves(out / "curves.png", history)
    plot_predictions(out / "predictions.png", model, val_set, cfg.device, ignore_index=ignore)
    return history


# ---- outputs --------------------------------------------------------------------------------
def write_metrics(out: Path, history: list[dict]) -> None:
    """metrics.json (a list of per-epoch records) and metrics.csv (the same as a table)."""
    write_text(out / "metrics.json", json.dumps(history, indent=2))
    with atomic_open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def plot_curves(path: Path, history: list[dict]) -> None:
    """Loss curves and validation metrics per epoch."""
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    a.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    a.set(xlabel="epoch", ylabel="loss", title="Loss")
    a.legend()
    for key, label in (("val_pixel_accuracy", "pixel accuracy"), ("val_dice", "mean Dice"), ("val_iou", "mean IoU")):
        b.plot(epochs, [h[key] for h in history], "o-", label=label)
    b.set(xlabel="epoch", ylim=(0, 1), title="Validation metrics")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_predictions(path: Path, model: nn.Module, dataset: Any, device: str, n: int = 4,
                     ignore_index: int | None = None) -> None:
    """A grid: input / ground truth / prediction for the first ``n`` images of ``dataset``
    (full images, each predicted on its own; void pixels of the truth in their own colour)."""
    n = min(n, len(dataset))
    images = [dataset[i][0] for i in range(n)]
    masks = [dataset[i][1] for i in range(n)]
    was_training = model.training
    model.eval()
    pred = [predict_labels(model, image, VAL_TILE if max(image.shape[1:]) > TILE_ABOVE else None, device=device)
            for image in images]
    model.train(was_training)
    truth = [label_colours(m, ignore_index).transpose(2, 0, 1) for m in masks]
    image_grid(path, [("input", images), ("ground truth", truth),
                      ("prediction", [label_colours(p).transpose(2, 0, 1) for p in pred])],
               title="void pixels in cream" if ignore_index is not None else None)
