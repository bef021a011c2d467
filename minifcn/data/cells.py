"""``cells``: synthetic microscopy with touching cells, the U-Net paper's problem built in.

Shapes N, H, W (batch, height, width); images are grey, C = 1. Item ``i`` is drawn from its
own generator ``np.random.default_rng([seed, i])``, so it is the same in any order.

Each image holds many roughly elliptical cells, most of them touching or nearly touching a
neighbour. Where two cells touch, the pixels between them are **background** in the labels
(a gap about two pixels wide, as in the ISBI data the U-Net paper trained on), and that gap
is what a network must learn: it is the only thing that keeps two cells from being counted
as one.

Colour does not give the class away. Cell interiors and background have the same mean
intensity and the same spread; they differ in *texture* (fine grain inside a cell, smooth
undulation outside), which a convolution sees over a few pixels but a single pixel does
not. Every cell outline, and every gap between cells, is drawn as the same dark, blurred
membrane line, so a dark pixel is a cell's edge (class cell) or a gap (class background)
depending only on what lies around it. Then come an uneven illumination and sensor noise.

Labels: a semantic mask (0 background, 1 cell; with ``border=True`` a third class 2 for the
background pixels that lie within 2 px of two different cells: the separating lines) and an
instance map (0 background, 1..M one label per cell).

How a picture is made (loops over cells, never over pixels):

1. place cells one by one, most of them next to an existing cell, at a centre distance of
   0.8..1.0 times the sum of their radii (so they touch or nearly touch);
2. for every cell k and every pixel x the normalised elliptical radius ρ_k(x) (< 1 inside),
   with a small wobble of the outline; pixel x belongs to the cell with the smallest ρ_k(x)
   if that is < 1;
3. pixels with a different cell in their 3 x 3 neighbourhood become background: the gap;
4. texture, membranes, blur, illumination, noise.
"""
from __future__ import annotations

import numpy as np

from ..checks import check_float, check_int
from .synthetic import GeneratedDataset, grid


def _ndimage():
    import scipy.ndimage   # on use: importing minifcn loads no SciPy
    return scipy.ndimage


def place_cells(rng: np.random.Generator, size: int, count: int, radius: tuple[float, float],
                touch: float = 0.85) -> np.ndarray:
    """Centres, semi-axes and angles of ``count`` cells, (M, 5) float64: row, col, a, b, angle.

    Each new cell goes, with probability ``touch``, next to a random earlier one (centre
    distance 0.8..1.0 times the sum of their mean radii), otherwise anywhere; it is
    rejected when it would overlap any cell by more than that. M <= count.
    """
    cells = []
    for _ in range(20 * count):
        if len(cells) == count:
            break
        a = rng.uniform(*radius)
        b = a * rng.uniform(0.65, 1.0)
        angle = rng.uniform(0, np.pi)
        r = (a + b) / 2
        if cells and rng.random() < touch:
            j = cells[rng.integers(len(cells))]
            theta = rng.uniform(0, 2 * np.pi)
            dist = (r + (j[2] + j[3]) / 2) * rng.uniform(0.8, 1.0)
            row, col = j[0] + dist * np.cos(theta), j[1] + dist * np.sin(theta)
        else:
            row, col = rng.uniform(0, size - 1, 2)
        if not (0 <= row <= size - 1 and 0 <= col <= size - 1):
            continue
        if any(np.hypot(row - c[0], col - c[1]) < 0.8 * (r + (c[2] + c[3]) / 2) for c in cells):
            continue
        cells.append((row, col, a, b, angle))
    return np.array(cells, np.float64).reshape(-1, 5)


def rasterize(cells: np.ndarray, rr: np.ndarray, cc: np.ndarray, wobble: np.ndarray) -> np.ndarray:
    """Instance map (H, W) int64 of the cells (0 = background), before the gaps are cut.

    ρ_k(x) = sqrt((u/a)² + (v/b)²) / (1 + Σ_m ε_m sin(m φ + φ_m)) in the cell's own frame
    (u along its long axis, φ the angle around its centre); x goes to argmin_k ρ_k(x) if < 1.
    ``wobble`` (M, 3, 2): amplitude ε and phase of the harmonics m = 2, 3, 4. Each cell is
    evaluated only in its bounding box (ρ >= 1 outside it), with the harmonics as powers of
    the unit complex number e^(iφ) instead of trigonometric calls.
    """
    best = np.full(rr.shape, np.inf, np.float32)
    label = np.zeros(rr.shape, np.int64)
    h, w = rr.shape
    for k, (row, col, a, b, angle) in enumerate(cells):
        reach = a * (1 + wobble[k, :, 0].sum()) + 1
        r0, r1 = max(0, int(row - reach)), min(h, int(row + reach) + 2)
        c0, c1 = max(0, int(col - reach)), min(w, int(col + reach) + 2)
        if r0 >= r1 or c0 >= c1:
            continue
        dr, dc = rr[r0:r1, c0:c1] - row, cc[r0:r1, c0:c1] - col
        z = ((np.cos(angle) * dr + np.sin(angle) * dc) / a
             + 1j * (-np.sin(angle) * dr + np.cos(angle) * dc) / b)       # (u/a) + i (v/b)
        radius = np.abs(z)
        unit = z / np.maximum(radius, 1e-9)                                  # e^(iφ)
        outline = 1.0 + sum(wobble[k, m, 0] * (unit ** (m + 2) * np.exp(1j * wobble[k, m, 1])).imag
                            for m in range(3))
        rho = (radius / outline).astype(np.float32)
        box = best[r0:r1, c0:c1]
        win = rho < box
        box[win] = rho[win]
        label[r0:r1, c0:c1][win] = k + 1
    return np.where(best < 1, label, 0)


def cut_gaps(instances: np.ndarray) -> np.ndarray:
    """Background wherever a pixel has a *different* cell in its 3 x 3 neighbourhood.

    The neighbourhood's largest label, and its smallest nonzero label, both equal the
    pixel's own label exactly when no other cell is next to it.
    """
    nd = _ndimage()
    big = np.iinfo(np.int64).max
    high = nd.maximum_filter(instances, size=3, mode="nearest")
    low = nd.minimum_filter(np.where(instances > 0, instances, big), size=3, mode="nearest")
    touching = (instances > 0) & ((high != instances) | (low != instances))
    return np.where(touching, 0, instances)


def relabel(instances: np.ndarray, min_pixels: int) -> np.ndarray:
    """Drop cells with fewer than ``min_pixels`` pixels and number the others 1..M."""
    counts = np.bincount(instances.ravel())
    keep = counts >= min_pixels
    keep[0] = False
    new = np.zeros(len(counts), np.int64)
    new[keep] = np.arange(1, keep.sum() + 1)
    return new[instances]


def border_pixels(instances: np.ndarray, reach: int = 2) -> np.ndarray:
    """Background pixels with two different cells within ``reach`` px (Chebyshev): the
    lines that separate touching cells, (H, W) bool.

    A window holds two different cells exactly when its largest label differs from its
    smallest nonzero label (and it holds a cell at all).
    """
    nd = _ndimage()
    size, big = 2 * reach + 1, np.iinfo(np.int64).max
    high = nd.maximum_filter(instances, size=size, mode="constant", cval=0)
    low = nd.minimum_filter(np.where(instances > 0, instances, big), size=size, mode="constant", cval=big)
    return (instances == 0) & (high > 0) & (high != low)


def outlines(instances: np.ndarray) -> np.ndarray:
    """Pixels on a cell's edge (a 4-neighbour belongs elsewhere) or in a gap, (H, W) bool."""
    nd = _ndimage()
    cross = nd.generate_binary_structure(2, 1)
    high = nd.maximum_filter(instances, footprint=cross, mode="nearest")
    low = nd.minimum_filter(instances, footprint=cross, mode="nearest")
    edge = (instances > 0) & ((high != instances) | (low != instances))
    return edge | border_pixels(instances, reach=1)


def _texture(rng: np.random.Generator, shape: tuple, scale: float) -> np.ndarray:
    """Gaussian noise smoothed over ``scale`` px, rescaled to mean 0 and standard deviation 1."""
    t = _ndimage().gaussian_filter(rng.standard_normal(shape), scale, mode="wrap")
    return (t - t.mean()) / t.std()


class SyntheticCells(GeneratedDataset):
    """Grey microscopy-like images of many touching cells, with semantic and instance labels.

    Item ``i`` is ``(image float32 (1, H, W), mask int64 (H, W), instances int64 (H, W))``;
    see the module docstring for how it is drawn and why colour alone cannot tell a cell
    from a gap. ``cells=(min, max)`` cells are attempted per image (a few may not fit),
    with semi-axes ``radius=(min, max)`` px (default scaled from 5..9 px at H = 64);
    ``touch`` is the chance that a cell is placed against an earlier one. ``border=True``
    adds class 2 for the separating lines between cells (otherwise they are background).
    ``noise`` is the standard deviation of the sensor noise.
    """

    def __init__(self, n: int, image_size: int = 64, seed: int = 0, cells: tuple[int, int] | None = None,
                 radius: tuple[float, float] | None = None, touch: float = 0.85, border: bool = False,
                 noise: float = 0.03):
        super().__init__(n, seed)
        self.image_size = check_int("image_size", image_size, 16)
        scale = self.image_size / 64
        if radius is None:
            radius = (5 * scale, 9 * scale)
        if (not isinstance(radius, (tuple, list)) or len(radius) != 2
                or not 2 <= radius[0] <= radius[1] <= image_size / 4):
            raise ValueError(f"radius={radius!r} is not valid; use (min, max) in px with "
                             f"2 <= min <= max <= image_size/4 = {image_size / 4}")
        self.radius = (float(radius[0]), float(radius[1]))
        if cells is None:   # cover roughly 40 % of the image
            area = np.pi * np.mean(self.radius) ** 2 * 0.83
            typical = max(1, int(round(0.45 * self.image_size ** 2 / area)))
            cells = (max(1, typical - 3), typical + 3)
        if (not isinstance(cells, (tuple, list)) or len(cells) != 2
                or not 1 <= int(cells[0]) <= int(cells[1])):
            raise ValueError(f"cells={cells!r} is not valid; use (min, max) with 1 <= min <= max")
        self.cells = (int(cells[0]), int(cells[1]))
        self.touch = check_float("touch", touch, 0.0, 1.0)
        self.border = bool(border)
        self.noise = check_float("noise", noise, 0.0)
        self.channels = 1
        self.num_classes = 3 if self.border else 2
        self._grid = grid(self.image_size)

    def _labels(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        rr, cc = self._grid
        count = rng.integers(self.cells[0], self.cells[1] + 1)
        cells = place_cells(rng, self.image_size, count, self.radius, self.touch)
        wobble = np.stack([rng.uniform(0, 0.08, (len(cells), 3)),
                           rng.uniform(0, 2 * np.pi, (len(cells), 3))], axis=-1)
        instances = relabel(cut_gaps(rasterize(cells, rr, cc, wobble)), min_pixels=12)
        mask = (instances > 0).astype(np.int64)
        if self.border:
            mask[border_pixels(instances)] = 2
        return mask, instances

    def _item(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = self.rng(i)
        mask, instances = self._labels(rng)
        nd, shape = _ndimage(), (self.image_size,) * 2
        rr, cc = self._grid
        mean, spread = rng.uniform(0.4, 0.6), rng.uniform(0.07, 0.1)
        # same mean and spread inside and outside; only the grain differs (a texture, not a colour)
        texture = np.where(instances > 0, _texture(rng, shape, 0.8), _texture(rng, shape, 2.5))
        membrane = nd.gaussian_filter(outlines(instances).astype(np.float64), 0.7)
        membrane /= max(membrane.max(), 1e-12)
        image = mean + spread * texture - rng.uniform(0.15, 0.25) * membrane
        slope = rng.uniform(-0.15, 0.15, 2) / self.image_size     # uneven illumination
        image = image * (1 + slope[0] * (rr - rr.mean()) + slope[1] * (cc - cc.mean()))
        image = image + self.noise * rng.standard_normal(shape)
        return np.clip(image, 0, 1).astype(np.float32)[None], mask, instances
