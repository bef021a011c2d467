"""Predicting an image of any size: padding to the model's multiple, and tiled prediction.

A fully convolutional network takes any input size its pooling allows (a U-Net of depth d:
sides divisible by 2**d). :func:`predict_full` mirror-pads the image to that multiple, runs
the model once and crops the output back: exact, but its activations grow with the image
(a 4096 x 4096 picture needs gigabytes).

:func:`predict_tiled` runs the model on overlapping T x T tiles and blends their logits:

    out(x) = Σ_k w_k(x) · logits_k(x)  /  Σ_k w_k(x)

Memory: the padded input, two output-sized float32 accumulators (Σ w·logits, (K, H, W);
Σ w, (H, W)) and one tile's activations: it does not grow with the image beyond the input
and the output themselves.

The window w_k is a trapezoid along each axis. With O the overlap and d the distance of a
pixel (centre) from a tile edge that lies *inside* the image:

    w(d) = 0                       for d < O/4     (too close to the seam: not trusted)
         = (d - O/4) / (O/2)       for O/4 <= d < 3O/4
         = 1                       beyond

Edges on the image border get no ramp (no other tile covers those pixels). Where two
tiles overlap, one of them always has weight 1 (its d > 3O/4 where the other's d < O/4),
so Σ w > 0 everywhere. Each pixel is thus taken only from tiles where it lies at least
O/4 from the seam: when O/4 is at least the radius of the model's receptive field, the
tiled logits *equal* the whole-image logits everywhere (up to float rounding); with less
overlap they still equal them away from the seams and are blended smoothly near them.
This is U-Net's overlap-tile idea (predict only the centre of each tile, whose context is
all inside it) with a soft hand-over instead of a hard cut. Tile corners are multiples of
the model's size multiple, so every tile sees the pooling grid of the whole image.

Shapes: image (C, H, W) float32 host array; logits (K, H, W).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import minifcn as mf

from . import backend, nn

__all__ = ["size_multiple", "pad_to_multiple", "predict_full", "predict_tiled", "predict_labels",
           "tile_starts", "tile_window"]


def size_multiple(model: nn.Module) -> int:
    """The number the input's height and width must be divisible by (2**depth for U-Net and
    SegNet, 32 for FCN, 8 for DeepLabv3+, 1 for a model that does not say)."""
    from .models import FCN, DeepLabV3Plus, SegNet, UNet
    if isinstance(model, (UNet, SegNet)):
        return 2 ** model.depth
    if isinstance(model, FCN):
        return 32
    if isinstance(model, DeepLabV3Plus):
        return 8
    return int(getattr(model, "size_multiple", 1))


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Mirror-pad (..., H, W) (an image, or a batch) at the bottom and right up to sides
    divisible by ``multiple``; the array itself when they already are."""
    h, w = image.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return image
    pad = ((0, 0),) * (image.ndim - 2) + ((0, ph), (0, pw))
    return np.pad(image, pad, mode="reflect" if min(h, w) > 1 else "edge")


def _check_image(image: Any) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"image of shape {image.shape} is not valid; use (C, H, W)")
    return image


def _device_of(model: nn.Module) -> str:
    return next((p.device for p in model.parameters()), "cpu")


def predict_full(model: nn.Module, image: Any, device: str | None = None) -> np.ndarray:
    """Logits (K, H, W) of the whole image in one forward pass (mirror-padded as the model
    needs, then cropped back; never resized). Host float32."""
    image = _check_image(image)
    device = device or _device_of(model)
    h, w = image.shape[1:]
    x = pad_to_multiple(image, size_multiple(model))
    with mf.no_grad():
        logits = model(mf.tensor(x[None], device=device)).data[0, :, :h, :w]
    return backend.to_numpy(logits).astype(np.float32, copy=False)


def tile_starts(size: int, tile: int, step: int) -> list[int]:
    """Top (or left) corners of tiles of side ``tile`` every ``step`` pixels over ``size``;
    the last one flush with the end. Corners are multiples of ``step``, and of the last
    corner ``size - tile`` (all multiples of the model's size multiple when those are)."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def tile_window(size: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """The 1-D trapezoid window (see the module docstring) of a tile side, float32 (size,).
    ``ramp_start``/``ramp_end``: whether that edge lies inside the image (a seam)."""
    w = np.ones(size, np.float32)
    if overlap == 0:
        return w
    d = np.arange(size, dtype=np.float32) + 0.5                # distance of each pixel centre from the edge
    ramp = np.clip((d - overlap / 4) / (overlap / 2), 0, 1).astype(np.float32)
    if ramp_start:
        w = np.minimum(w, ramp)
    if ramp_end:
        w = np.minimum(w, ramp[::-1])
    return w


def _check_tiling(tile: Any, overlap: Any, multiple: int) -> tuple[int, int]:
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < multiple or tile % multiple:
        lower = max(multiple, (int(tile) // multiple) * multiple) if isinstance(tile, (int, np.integer)) else multiple
        raise ValueError(f"tile={tile!r} is not valid for this model: a tile side must be a multiple of "
                         f"{multiple} (its pooling) and at least {multiple}, e.g. {lower} or {lower + multiple}")
    if isinstance(overlap, bool) or not isinstance(overlap, (int, np.integer)) or overlap < 0 \
            or overlap >= tile or overlap % multiple:
        raise ValueError(f"overlap={overlap!r} is not valid for tile={tile}: use a multiple of {multiple} "
                         f"in [0, {tile}), e.g. {max(0, (tile // 4) // multiple * multiple)}")
    return int(tile), int(overlap)


def predict_tiled(model: nn.Module, image: Any, tile: int, overlap: int | None = None,
                  device: str | None = None) -> np.ndarray:
    """Logits (K, H, W) of an image of any size, tile by tile with bounded memory.

    ``tile``: the tile side T (a multiple of :func:`size_multiple`); ``overlap`` O: pixels
    shared by neighbouring tiles (a multiple of the same; default T/4 rounded down to
    one). Blended with the trapezoid window of the module docstring. Host float32.
    """
    image = _check_image(image)
    device = device or _device_of(model)
    m = size_multiple(model)
    if overlap is None:
        overlap = (tile // 4) // m * m if isinstance(tile, (int, np.integer)) and not isinstance(tile, bool) else 0
    tile, overlap = _check_tiling(tile, overlap, m)
    h, w = image.shape[1:]
    x = pad_to_multiple(image, m)
    hp, wp = x.shape[1:]
    th, tw = min(tile, hp), min(tile, wp)
    xp = backend.module_for(device)
    acc = None                                        # Σ w · logits, (K, Hp, Wp), on the device
    weight = xp.zeros((hp, wp), dtype=xp.float32)     # Σ w
    rows, cols = tile_starts(hp, th, tile - overlap), tile_starts(wp, tw, tile - overlap)
    with mf.no_grad():
        for r in rows:
            wr = tile_window(th, overlap, r > 0, r + th < hp)
            for c in cols:   # one forward per tile: the loop is over tiles, not pixels
                wc = tile_window(tw, overlap, c > 0, c + tw < wp)
                win = xp.asarray(wr[:, None] * wc[None, :])
                logits = model(mf.tensor(np.ascontiguousarray(x[None, :, r:r + th, c:c + tw]), device=device)).data[0]
                if acc is None:
                    acc = xp.zeros((logits.shape[0], hp, wp), dtype=xp.float32)
                acc[:, r:r + th, c:c + tw] += logits * win
                weight[r:r + th, c:c + tw] += win
    acc /= weight            # in place: no third output-sized array
    return backend.to_numpy(acc[:, :h, :w]).astype(np.float32, copy=False)


def predict_labels(model: nn.Module, image: Any, tile: int | None = None, overlap: int | None = None,
                   device: str | None = None) -> np.ndarray:
    """Label map (H, W) int64: the argmax of :func:`predict_tiled` when ``tile`` is given and
    the image is larger than one tile, else of :func:`predict_full`."""
    image = _check_image(image)
    if tile is not None and max(image.shape[1:]) > tile:
        logits = predict_tiled(model, image, tile, overlap, device)
    else:
        logits = predict_full(model, image, device)
    return logits.argmax(axis=0).astype(np.int64)
