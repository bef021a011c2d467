"""Synthetic data sets, generated on the fly and deterministic by seed.

Shapes N, C, H, W (batch, channels, height, width); K keypoints. Everything here is host
data (NumPy); the training loop moves batches to the device.

Item ``i`` is drawn from its own generator ``np.random.default_rng([seed, i])``, so it is
the same whatever order the items are asked for in, and two data sets with the same
arguments hold the same pictures.

Shapes are drawn with coordinate grids: pixel ``(r, c)`` has its centre at ``(r, c)``, and
a pixel belongs to a shape when its centre passes the shape's inside test, e.g. for a disc
``(r - r0)^2 + (c - c0)^2 <= R^2`` and for a regular polygon ``<p - p0, n_j> <= R cos(pi/K)``
for every edge normal ``n_j``. Every shape fits inside the circle of radius ``R`` (its
*circumradius*) around its centre.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..checks import check_float, check_int
from ..heatmaps import keypoint_heatmaps  # noqa: F401  (moved to minifcn/heatmaps.py; old path kept)

SHAPES = ("disc", "square", "triangle", "cross")
"""Shape kinds; with ``num_classes = K >= 3`` class ``k`` (1 <= k < K) is ``SHAPES[k - 1]``."""

COLOURS = np.array([
    [0.95, 0.40, 0.35],   # disc: red
    [0.40, 0.95, 0.45],   # square: green
    [0.40, 0.55, 0.98],   # triangle: blue
    [0.95, 0.90, 0.30],   # cross: yellow
], dtype=np.float32)
"""Base RGB colour of each kind; each shape gets its own jitter of up to ``COLOUR_JITTER``."""
COLOUR_JITTER = 0.12
SAME_COLOUR = np.array([0.80, 0.75, 0.70], dtype=np.float32)
"""Base RGB colour of every kind with ``same_colour=True`` (same jitter): the class is then
in the shape alone, and a pixel's colour says "shape or background" but not which shape."""


@dataclass(frozen=True)
class Shape:
    """One drawn shape: kind, class label, centre (row, col), circumradius, angle (radians),
    RGB colour."""
    kind: str
    label: int
    row: float
    col: float
    radius: float
    angle: float
    colour: tuple


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of every pixel centre, each (H, W) float32."""
    rr, cc = np.mgrid[0:size, 0:size]
    return rr.astype(np.float32), cc.astype(np.float32)


def polygon_vertices(row: float, col: float, radius: float, angle: float, k: int) -> np.ndarray:
    """The K corners (row, col) of a regular K-gon, (K, 2) float32.

    Corner ``j`` sits at angle ``psi_j = angle + 2 pi j / K`` measured clockwise (on screen)
    from straight up: ``(row - R cos psi_j, col + R sin psi_j)``.
    """
    psi = angle + 2 * np.pi * np.arange(k) / k
    return np.stack([row - radius * np.cos(psi), col + radius * np.sin(psi)], 1).astype(np.float32)


def polygon_mask(rr, cc, row, col, radius, angle, k) -> np.ndarray:
    """Inside test of a regular K-gon: ``<p - p0, n_j> <= R cos(pi/K)`` for each edge j,
    whose outward normal points at angle ``psi_j + pi/K``; (H, W) bool."""
    phi = angle + 2 * np.pi * (np.arange(k) + 0.5) / k
    nr, nc = -np.cos(phi), np.sin(phi)                     # (K,) outward normals, (row, col)
    dist = (rr - row)[None] * nr[:, None, None] + (cc - col)[None] * nc[:, None, None]
    return (dist <= radius * math.cos(math.pi / k)).all(axis=0)


def shape_mask(shape: Shape, rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """Pixels (H, W) bool whose centres lie inside ``shape``."""
    r0, c0, R, a = shape.row, shape.col, shape.radius, shape.angle
    if shape.kind == "disc":
        return (rr - r0) ** 2 + (cc - c0) ** 2 <= R * R
    if shape.kind == "square":
        return polygon_mask(rr, cc, r0, c0, R, a, 4)
    if shape.kind == "triangle":
        return polygon_mask(rr, cc, r0, c0, R, a, 3)
    # cross: two bars of half-length 0.95 R and half-width 0.3 R, so it fits in radius R
    u = np.cos(a) * (rr - r0) + np.sin(a) * (cc - c0)
    v = -np.sin(a) * (rr - r0) + np.cos(a) * (cc - c0)
    long, half = 0.95 * R, 0.3 * R
    return ((np.abs(u) <= long) & (np.abs(v) <= half)) | ((np.abs(u) <= half) & (np.abs(v) <= long))


def background(rng: np.random.Generator, rr: np.ndarray, cc: np.ndarray, texture: bool) -> np.ndarray:
    """A dark, slightly tinted background (3, H, W): a flat colour, plus (with ``texture``)
    a linear ramp and two random sinusoids ``a sin(2 pi f <p, d> / H + phase)``."""
    size = rr.shape[0]
    base = rng.uniform(0.15, 0.35) + rng.uniform(-0.05, 0.05, 3)
    ramp_dir, ramp_amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.15)
    waves = rng.uniform([1.0, 0.0, 0.0, 0.02], [4.0, 2 * np.pi, 2 * np.pi, 0.06], (2, 4))
    tint = rng.uniform(0.5, 1.0, 3)
    out = np.broadcast_to(base[:, None, None], (3,) + rr.shape).astype(np.float32)
    if not texture:
        return out

    def along(t):   # position along direction t, in image sizes
        return (rr * np.cos(t) + cc * np.sin(t)) / size

    pattern = ramp_amp * (along(ramp_dir) - 0.5)
    for freq, direction, phase, amp in waves:
        pattern = pattern + amp * np.sin(2 * np.pi * freq * along(direction) + phase)
    return out + tint[:, None, None].astype(np.float32) * pattern[None].astype(np.float32)


class GeneratedDataset:
    """Base of the synthetic sets: ``n`` items; ``_item(i)`` makes item ``i`` from its own
    generator ``rng(i)``; ``arrays()`` stacks all items once and keeps them (read-only)."""

    def __init__(self, n: int, seed: int):
        self.n = check_int("n", n, 0)
        self.seed = check_int("seed", seed, 0)
        self._arrays: tuple | None = None

    def __len__(self) -> int:
        return self.n

    def rng(self, i: int) -> np.random.Generator:
        """The generator of item ``i``: the same for the same (seed, i), in any order."""
        return np.random.default_rng([self.seed, i])

    def _index(self, i) -> int:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"index {i!r} is not an integer")
        j = int(i) + self.n if i < 0 else int(i)
        if not 0 <= j < self.n:
            raise IndexError(f"index {i} is out of range for a data set of {self.n} items")
        return j

    def __getitem__(self, i):
        return self._item(self._index(i))

    def _item(self, i: int) -> tuple:
        raise NotImplementedError

    def arrays(self) -> tuple[np.ndarray, ...]:
        """All items stacked along a new first axis N; computed once, returned read-only."""
        if self._arrays is None:
            items = [self._item(i) for i in range(self.n)]
            if items:
                arrays = tuple(np.stack(a) for a in zip(*items))
            else:  # keep the item shapes and dtypes even when there are no items
                arrays = tuple(np.empty((0,) + a.shape, a.dtype) for a in self._item(0))
            for a in arrays:
                a.flags.writeable = False
            self._arrays = arrays
        return self._arrays


class SyntheticShapes(GeneratedDataset):
    """Images of overlapping discs, squares, triangles (and crosses) on textured, noisy
    backgrounds, with their class masks.

    Item ``i`` is ``(image float32 (C, H, W), mask int64 (H, W))``: background is class 0,
    shape kind ``SHAPES[k - 1]`` is class ``k``; with ``num_classes=2`` every shape is class 1
    (kinds disc, square, triangle). Each image holds 1..``max_shapes`` shapes; later shapes
    are drawn on top of earlier ones (image and mask alike). Shapes are told apart by their
    geometry and, loosely, by their colour (each kind has a base colour with random jitter),
    which keeps the task learnable by a small U-Net in a few CPU minutes.

    ``imbalance >= 1`` makes the last class (``num_classes - 1``) rare: it is picked
    ``1/imbalance`` times as often as each other class, and its radius is scaled by
    ``imbalance ** -0.5`` (so its area by ``1/imbalance``); with two classes the one
    foreground class shrinks that way. ``radius=(min, max)`` is the
    range of circumradii in pixels, by default ``(H/8, H/3.2)``, i.e. 8..20 px at H = 64.
    With ``channels=1`` the image is the mean of the RGB channels. ``noise`` is the standard
    deviation of the gaussian pixel noise; the image is clipped to [0, 1].

    ``same_colour=True`` paints every kind in the same base colour ``SAME_COLOUR`` (with
    the same jitter), so the class is in the shape, not the colour: a classifier that
    looks at one pixel cannot tell the kinds apart, one that sees a window around it can.
    The random draws are the same as with ``same_colour=False`` (same shapes, positions,
    masks and background; only the shape colours differ).
    """

    def __init__(self, n: int, image_size: int = 64, num_classes: int = 4, seed: int = 0,
                 max_shapes: int = 3, noise: float = 0.1, texture: bool = True,
                 imbalance: float = 1.0, channels: int = 3,
                 radius: tuple[float, float] | None = None, same_colour: bool = False):
        super().__init__(n, seed)
        if not isinstance(same_colour, (bool, np.bool_)):
            raise TypeError(f"same_colour must be True or False, got {same_colour!r}")
        self.same_colour = bool(same_colour)
        self.image_size = check_int("image_size", image_size, 8)
        self.num_classes = check_int("num_classes", num_classes, 2, len(SHAPES) + 1)
        self.max_shapes = check_int("max_shapes", max_shapes, 1)
        self.noise = check_float("noise", noise, 0.0)
        self.texture = bool(texture)
        self.imbalance = check_float("imbalance", imbalance, 1.0)
        if channels not in (1, 3):
            raise ValueError(f"channels={channels!r} is not valid; use 1 (grey) or 3 (RGB)")
        self.channels = channels
        if radius is None:
            radius = (image_size / 8, image_size / 3.2)
        if (not isinstance(radius, (tuple, list)) or len(radius) != 2
                or not 1 <= radius[0] <= radius[1] <= image_size / 2):
            raise ValueError(f"radius={radius!r} is not valid; use (min, max) with "
                             f"1 <= min <= max <= image_size/2 = {image_size / 2}")
        self.radius = (float(radius[0]), float(radius[1]))
        # kinds per class: class k is SHAPES[k-1]; with 2 classes all three basic kinds are class 1
        self.kinds = SHAPES[:3] if self.num_classes == 2 else SHAPES[:self.num_classes - 1]
        weights = np.ones(len(self.kinds))
        weights[-1] /= self.imbalance     # used with 3+ classes, where the last class is rare
        self._class_p = weights / weights.sum()
        self._grid = grid(self.image_size)

    def shapes(self, i: int) -> list[Shape]:
        """The shapes of item ``i``, in drawing order (later ones on top)."""
        return self._shapes(self.rng(self._index(i)))

    def _shapes(self, rng: np.random.Generator) -> list[Shape]:
        size, (rmin, rmax) = self.image_size, self.radius
        count = rng.integers(1, self.max_shapes + 1)
        out = []
        for _ in range(count):
            if self.num_classes == 2:
                kind_id, label, rare = rng.integers(len(self.kinds)), 1, True
            else:
                kind_id = rng.choice(len(self.kinds), p=self._class_p)
                label = kind_id + 1
                rare = label == self.num_classes - 1
            radius = rng.uniform(rmin, rmax)
            if rare:
                radius = max(radius * self.imbalance ** -0.5, 2.0)
            row, col = rng.uniform(radius * 0.6, size - 1 - radius * 0.6, 2)
            angle = rng.uniform(0, 2 * np.pi)
            base = SAME_COLOUR if self.same_colour else COLOURS[kind_id]
            colour = np.clip(base + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, 3), 0, 1)
            out.append(Shape(self.kinds[kind_id], int(label), float(row), float(col),
                             float(radius), float(angle), tuple(float(c) for c in colour)))
        return out

    def _item(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng(i)
        rr, cc = self._grid
        shapes = self._shapes(rng)
        image = background(rng, rr, cc, self.texture)
        mask = np.zeros(rr.shape, np.int64)
        for s in shapes:   # painter's order: later shapes cover earlier ones
            inside = shape_mask(s, rr, cc)
            image = np.where(inside[None], np.asarray(s.colour, np.float32)[:, None, None], image)
            mask[inside] = s.label
        if self.channels == 1:
            image = image.mean(axis=0, keepdims=True)
        image = image + self.noise * rng.standard_normal(image.shape, dtype=np.float32)
        return np.clip(image, 0, 1).astype(np.float32), mask


class SyntheticKeypoints(GeneratedDataset):
    """Images of one filled regular polygon whose corners are the keypoints.

    Item ``i`` is ``(image float32 (C, H, W), keypoints float32 (K, 2))`` with keypoints as
    (row, col) in pixel coordinates (pixel centres at integers). ``num_keypoints = K``:
    1 is the centre of a disc, 3..8 the corners of a regular K-gon.

    The order is consistent: corner 0 is the top one and the others follow clockwise (on
    screen). To keep "the top one" well defined the polygon is rotated by at most
    ``0.8 pi / K`` either way (a K-gon looks the same after ``2 pi / K``).
    """

    def __init__(self, n: int, image_size: int = 64, num_keypoints: int = 4, seed: int = 0,
                 noise: float = 0.05, texture: bool = True, channels: int = 3):
        super().__init__(n, seed)
        self.image_size = check_int("image_size", image_size, 8)
        self.num_keypoints = check_int("num_keypoints", num_keypoints, 1, 8)
        if self.num_keypoints == 2:
            raise ValueError("num_keypoints=2 is not valid; use 1 (disc centre) or 3..8 "
                             "(polygon corners)")
        self.noise = check_float("noise", noise, 0.0)
        self.texture = bool(texture)
        if channels not in (1, 3):
            raise ValueError(f"channels={channels!r} is not valid; use 1 (grey) or 3 (RGB)")
        self.channels = channels
        self._grid = grid(self.image_size)

    def _item(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng(i)
        rr, cc = self._grid
        size, k = self.image_size, self.num_keypoints
        radius = rng.uniform(size / 6, size / 3)
        row, col = rng.uniform(radius + 1, size - 2 - radius, 2)
        colour = np.clip(COLOURS[rng.integers(len(COLOURS))] + rng.uniform(-0.1, 0.1, 3), 0, 1)
        if k == 1:
            angle = 0.0
            inside = (rr - row) ** 2 + (cc - col) ** 2 <= radius ** 2
            keypoints = np.array([[row, col]], np.float32)
        else:
            angle = rng.uniform(-0.8, 0.8) * np.pi / k
            inside = polygon_mask(rr, cc, row, col, radius, angle, k)
            keypoints = polygon_vertices(row, col, radius, angle, k)
        image = background(rng, rr, cc, self.texture)
        image = np.where(inside[None], colour.astype(np.float32)[:, None, None], image)
        if self.channels == 1:
            image = image.mean(axis=0, keepdims=True)
        image = image + self.noise * rng.standard_normal(image.shape, dtype=np.float32)
        return np.clip(image, 0, 1).astype(np.float32), keypoints


class SyntheticDenoising(GeneratedDataset):
    """Pairs ``(noisy, clean)``, each float32 (C, H, W): ``noisy = clean + noise * z`` with
    ``z ~ N(0, 1)`` per pixel (not clipped, so the noise stays zero-mean).

    ``clean`` is a noise-free :class:`SyntheticShapes` image (smooth textured background,
    flat shapes) with the same seed; grey (``channels=1``) by default.
    """

    def __init__(self, n: int, image_size: int = 64, noise: float = 0.3, seed: int = 0,
                 channels: int = 1, max_shapes: int = 3):
        super().__init__(n, seed)
        self.noise = check_float("noise", noise, 0.0)
        self.clean = SyntheticShapes(n, image_size=image_size, seed=seed, noise=0.0,
                                     channels=channels, max_shapes=max_shapes)
        self.image_size, self.channels = image_size, channels

    def _item(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        clean, _ = self.clean._item(i)
        rng = np.random.default_rng([self.seed, i, 1])  # a stream apart from the clean image's
        noisy = clean + self.noise * rng.standard_normal(clean.shape, dtype=np.float32)
        return noisy.astype(np.float32), clean


class SyntheticSizes(GeneratedDataset):
    """Same-colour discs whose class is their **size**: a task that needs context.

    Item ``i`` is ``(image float32 (C, H, W), mask int64 (H, W))``. ``radii`` lists one
    ``(min, max)`` range of radii in pixels per foreground class: a disc of class ``k``
    (1 <= k <= len(radii)) has a radius drawn uniformly from ``radii[k - 1]``; background is
    class 0. Every disc has the colour ``SAME_COLOUR`` (with the same jitter as
    :class:`SyntheticShapes`), so neither a pixel's colour nor a small window inside a disc
    tells its class: only a view wide enough to reach the disc's edge (its size) does.

    Each image holds 1..``max_per_class`` discs of every class, placed whole inside the image
    and apart (centres at least ``r1 + r2 + gap`` pixels from each other), largest class
    first; a disc that finds no free place in 100 tries is left out. The background is the one
    of :class:`SyntheticShapes` (``texture``), plus gaussian noise ``noise``; clipped to [0, 1].
    """

    def __init__(self, n: int, image_size: int = 64, seed: int = 0,
                 radii: tuple = ((4.0, 6.0), (10.0, 13.0)), max_per_class: int = 2,
                 gap: float = 2.0, noise: float = 0.1, texture: bool = True, channels: int = 3):
        super().__init__(n, seed)
        self.image_size = check_int("image_size", image_size, 8)
        self.max_per_class = check_int("max_per_class", max_per_class, 1)
        self.gap = check_float("gap", gap, 0.0)
        self.noise = check_float("noise", noise, 0.0)
        self.texture = bool(texture)
        if channels not in (1, 3):
            raise ValueError(f"channels={channels!r} is not valid; use 1 (grey) or 3 (RGB)")
        self.channels = channels
        ok = isinstance(radii, (tuple, list)) and len(radii) >= 1
        if ok:
            try:
                ranges = [(float(lo), float(hi)) for lo, hi in radii]
            except (TypeError, ValueError):
                ok = False
            else:
                ok = all(1 <= lo <= hi <= image_size / 2 for lo, hi in ranges)
        if not ok:
            raise ValueError(f"radii={radii!r} is not valid; use one (min, max) per class with "
                             f"1 <= min <= max <= image_size/2 = {image_size / 2}")
        self.radii = tuple(ranges)
        self.num_classes = len(self.radii) + 1
        self._grid = grid(self.image_size)

    def shapes(self, i: int) -> list[Shape]:
        """The discs of item ``i`` (kind "disc", label = size class)."""
        return self._shapes(self.rng(self._index(i)))

    def _shapes(self, rng: np.random.Generator) -> list[Shape]:
        size, placed = self.image_size, []
        order = sorted(range(len(self.radii)), key=lambda k: -self.radii[k][1])   # largest first
        counts = rng.integers(1, self.max_per_class + 1, len(self.radii))
        for k in order:
            for _ in range(counts[k]):
                radius = rng.uniform(*self.radii[k])
                for _try in range(100):
                    row, col = rng.uniform(radius, size - 1 - radius, 2)
                    if all(math.hypot(row - s.row, col - s.col) >= radius + s.radius + self.gap for s in placed):
                        break
                else:
                    continue
                colour = np.clip(SAME_COLOUR + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, 3), 0, 1)
                placed.append(Shape("disc", k + 1, float(row), float(col), float(radius), 0.0,
                                    tuple(float(c) for c in colour)))
        return placed

    _item = SyntheticShapes._item          # painted exactly as SyntheticShapes paints its shapes
