"""Pictures the library draws for lessons, docs and the command line (Matplotlib, loaded on use)."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import arith, backend
from .atomic import atomic_open


def pyplot() -> Any:
    """matplotlib.pyplot with the file-only Agg backend (no screen needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


class _Sliding:
    """Where a kernel slides, as the convolution-arithmetic guide draws it (one axis, square).

    conv / pool: the input zero-padded by p, a stride-s window. transpose: the equivalent
    direct convolution, i.e. the input with s - 1 zeros inserted between its pixels and
    k̂ - p - 1 padding on each side (plus output_padding on the bottom/right), under a
    unit-stride window. ``cell(r, c)`` says what a grid cell is: "input", "zero" (inserted)
    or "pad"; ``window(r, c)`` lists the cells the taps of output pixel (r, c) read.
    """

    def __init__(self, kind: str, i: int, k: int, s: int = 1, p: int = 0, d: int = 1,
                 output_padding: int = 0, ceil_mode: bool = False):
        self.kind, self.k, self.d = kind, k, d
        ke = arith.effective_kernel_size(k, d)
        if kind == "transpose":
            self.o = arith.conv_transpose_output_size(i, k, s, p, output_padding, d)
            edge = ke - p - 1              # negative: the transposed conv crops the border
            self.size = (i - 1) * s + 1 + 2 * edge + output_padding
            self.real = {edge + n * s for n in range(i)}
            self.span = (edge, edge + (i - 1) * s)
            self.stride = 1
            self.title = f"transposed conv: i={i}, k={k}, s={s}, p={p}, d={d}, a={output_padding} → o={self.o}"
            self.left = (f"input {i}×{i}, {s - 1} zero(s) between pixels,\npadded by {edge}"
                         f"{f' (+{output_padding} bottom/right)' if output_padding else ''}; stride 1")
        elif kind in ("conv", "pool"):
            self.o = (arith.conv_output_size(i, k, s, p, d) if kind == "conv"
                      else arith.pool_output_size(i, k, s, p, d, ceil_mode))
            # ceil_mode: the last window may hang over the padded input; draw that part too
            self.size = max(i + 2 * p, (self.o - 1) * s + ke)
            self.real = set(range(p, p + i))
            self.span = (p, p + i - 1)
            self.stride = s
            self.title = (f"{kind}: i={i}, k={k}, s={s}, p={p}, d={d}"
                          f"{', ceil_mode' if ceil_mode else ''} → o={self.o}")
            self.left = f"input {i}×{i}, padded by {p}"
        else:
            raise ValueError(f"kind={kind!r} must be 'conv', 'transpose' or 'pool'")

    def cell(self, r: int, c: int) -> str:
        if r in self.real and c in self.real:
            return "input"
        lo, hi = self.span
        return "zero" if lo <= r <= hi and lo <= c <= hi else "pad"

    def window(self, r: int, c: int) -> list[tuple[int, int]]:
        top, left = r * self.stride, c * self.stride
        return [(top + a * self.d, left + b * self.d) for a in range(self.k) for b in range(self.k)]


_FACE = {"input": (0.62, 0.79, 0.88), "zero": (0.86, 0.86, 0.86), "pad": (1.0, 1.0, 1.0)}


def _grid(ax: Any, colours: np.ndarray, x0: float, y0: float, edge: str) -> None:
    """An (n, m, 3) array of cell colours as a grid of unit cells at (x0, y0): one image and one set of lines."""
    from matplotlib.collections import LineCollection
    n, m = colours.shape[:2]
    ax.imshow(colours, extent=(x0, x0 + m, y0 + n, y0), interpolation="nearest", zorder=1)
    lines = [[(x0 + v, y0), (x0 + v, y0 + n)] for v in range(m + 1)]
    lines += [[(x0, y0 + v), (x0 + m, y0 + v)] for v in range(n + 1)]
    ax.add_collection(LineCollection(lines, colors=edge, linewidths=0.6, zorder=2))


def _draw_step(ax: Any, g: _Sliding, r: int, c: int, done: int | None = None, labels: bool = True,
               at: tuple[float, float] = (0.0, 0.0)) -> None:
    """One kernel position: the input grid left, the output grid right, window and cell linked.

    ``done``: how many output cells (row-major) to show as already computed (the animation).
    Blue: input, grey: zeros inserted by a transposed convolution, white: padding. ``at``:
    where the panel's top-left corner goes (many panels share one axes in a sheet).
    """
    from matplotlib.patches import FancyArrowPatch, Rectangle
    n, o, gap = g.size, g.o, 2.0
    ox, oy = at
    x0, y0 = ox + n + gap, oy + (n - o) / 2          # the output grid's top-left corner
    cells = np.array([[_FACE[g.cell(row, col)] for col in range(n)] for row in range(n)])
    taps = g.window(r, c)
    for row, col in taps:                            # the window's taps, darker
        if row < n and col < n:
            cells[row, col] = 0.45 * np.array([0.03, 0.32, 0.61]) + 0.55 * cells[row, col]
    _grid(ax, cells, ox, oy, "#777")
    rows, cols = [t[0] for t in taps], [t[1] for t in taps]
    ax.add_patch(Rectangle((ox + min(cols), oy + min(rows)), max(cols) - min(cols) + 1, max(rows) - min(rows) + 1,
                           fill=False, edgecolor="#08306b", lw=2, zorder=3))
    out = np.ones((o, o, 3))
    if done is not None:
        out.reshape(-1, 3)[:done] = (0.78, 0.91, 0.75)   # computed so far
    out[r, c] = (0.19, 0.64, 0.33)
    _grid(ax, out, x0, y0, "#2c7a3a")
    ax.add_patch(FancyArrowPatch((ox + (min(cols) + max(cols) + 1) / 2, oy + (min(rows) + max(rows) + 1) / 2),
                                 (x0 + c + 0.5, y0 + r + 0.5), color="#08306b", lw=1.2, arrowstyle="->",
                                 mutation_scale=8, alpha=0.8, zorder=4, shrinkA=0, shrinkB=0))
    if labels:
        ax.text(n / 2, n + 0.5, g.left, ha="center", va="top", fontsize=8)
        ax.text(x0 + o / 2, y0 + o + 0.5, f"output {o}×{o}", ha="center", va="top", fontsize=8)


def _positions(o: int, most: int) -> list[tuple[int, int]]:
    """Every output cell (row-major), or for a large output the corners, edges and centre."""
    if o * o <= most:
        return [(r, c) for r in range(o) for c in range(o)]
    pick = sorted({0, 1, o // 2, o - 1})
    return [(r, c) for r in pick for c in pick]


def draw_kernel_positions(path: Any, kind: str, i: int, k: int, s: int = 1, p: int = 0, d: int = 1,
                          output_padding: int = 0, ceil_mode: bool = False, most: int = 49) -> Any:
    """Draw where a kernel lands, like the figures of Dumoulin & Visin's convolution-arithmetic guide.

    One small panel per output pixel (row-major, so panel (r, c) is output pixel (r, c)):
    the input with its padding on the left, the output grid on the right, the kernel's
    window shaded on the input and linked by an arrow to the output pixel it computes.
    conv / pool: the zero-padded input (blue: input, dotted: padding). transpose: the
    equivalent direct convolution, i.e. the input with s - 1 zeros inserted between pixels
    (dashed) and k̂ - p - 1 padding on each side (plus output_padding on the bottom/right),
    under a unit-stride kernel. An output of more than ``most`` pixels shows the corners,
    edges and centre only (``animate_kernel_positions`` shows them all). Returns the figure.
    """
    plt = pyplot()
    g = _Sliding(kind, i, k, s, p, d, output_padding, ceil_mode)
    shown = _positions(g.o, most)
    columns = g.o if len(shown) == g.o * g.o else int(round(len(shown) ** 0.5))
    rows = -(-len(shown) // columns)
    pw, ph = g.size + 2 + g.o + 1.5, g.size + 1.5      # one panel and the space around it, in cells
    unit = min(0.2, 13.0 / (columns * pw))             # inches per grid cell: at most 13 in wide
    top = 0.55                                         # inches for the title
    fig = plt.figure(figsize=(max(pw * columns * unit, 5.5), ph * rows * unit + top))
    ax = fig.add_axes((0, 0, 1, 1 - top / (ph * rows * unit + top)))
    for m, (r, c) in enumerate(shown):                 # all panels in one axes: fast to draw
        _draw_step(ax, g, r, c, labels=False, at=((m % columns) * pw, (m // columns) * ph))
    ax.set_xlim(-0.5, columns * pw - 1)
    ax.set_ylim(rows * ph - 1, -0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    every = "every output pixel" if len(shown) == g.o * g.o else f"{len(shown)} of {g.o * g.o} output pixels"
    fig.suptitle(f"{g.title}\n{every}; left: {g.left.replace(chr(10), ' ')}; right: the output", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return fig


def animate_kernel_positions(path: Any, kind: str, i: int, k: int, s: int = 1, p: int = 0, d: int = 1,
                             output_padding: int = 0, ceil_mode: bool = False, fps: float = 2.0,
                             most: int = 400) -> int:
    """An animated GIF: the kernel at every position, one frame per output pixel (row-major).

    Each frame is one step of ``draw_kernel_positions`` drawn large, with the output pixels
    computed so far filled in. A transposed convolution is shown as the equivalent direct
    convolution over the zero-inserted, padded input. Returns the number of frames.
    """
    from PIL import Image
    plt = pyplot()
    g = _Sliding(kind, i, k, s, p, d, output_padding, ceil_mode)
    frames = g.o * g.o
    if frames > most:
        raise ValueError(f"an animation of o={g.o} (o*o={frames} frames) is too long: at most {most} "
                         f"frames; use a smaller input (i={i}) or --draw")
    unit = 0.3
    fig, ax = plt.subplots(figsize=(max(5.5, (g.size + 2 + g.o + 0.4) * unit), (g.size + 2.6) * unit + 0.6))
    images = []
    for m in range(frames):
        ax.clear()
        _draw_step(ax, g, m // g.o, m % g.o, done=m)
        ax.set_xlim(-0.2, g.size + 2 + g.o + 0.2)
        ax.set_ylim(g.size + 2.4, -0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"{g.title}\noutput pixel ({m // g.o}, {m % g.o}): step {m + 1} of {frames}", fontsize=9)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        images.append(Image.fromarray(rgba[..., :3].copy()).convert("P", palette=Image.ADAPTIVE))
    plt.close(fig)
    with atomic_open(path) as f:                     # written whole, then renamed
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return frames


def image_grid(path: Any, rows: list, title: str | None = None, size: float = 2.2) -> None:
    """Save a grid of pictures: one row per ``(label, images, imshow_options)``, one column per image.

    ``images`` are (H, W) maps or (C, H, W) images (C = 3 shown in colour, C = 1 in grey), e.g.
    ``[("input", x), ("truth", y, {"cmap": "tab10", "vmin": 0, "vmax": 9})]``.
    """
    plt = pyplot()
    columns = max(len(row[1]) for row in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(size * columns, size * len(rows)), squeeze=False)
    for r, (label, images, *options) in enumerate(rows):
        for c, picture in enumerate(images):
            picture = backend.to_numpy(picture)
            if picture.ndim == 3:
                picture = picture.transpose(1, 2, 0) if picture.shape[0] == 3 else picture[0]
            kwargs = dict(options[0]) if options else ({"cmap": "gray"} if picture.ndim == 2 else {})
            axes[r, c].imshow(picture, **kwargs)
        axes[r, 0].set_ylabel(label)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- grids of numbers, drawn like the lecture's slides (lessons 5 and 6) ----------------------
def draw_grid(ax: Any, grid: Any, title: str, marked: Any = None, colour: str = "#fdd49e") -> None:
    """Draw a 2-D grid with its numbers written in the cells; cells where ``marked`` is True
    get ``colour``, zeros are grey, and even-sized grids get thick lines between 2x2 blocks."""
    from matplotlib.colors import ListedColormap

    grid = np.asarray(grid)
    marked = np.zeros(grid.shape, bool) if marked is None else np.asarray(marked)
    ax.imshow(np.where(marked, 1.0, 0.0), cmap=ListedColormap(["white", colour]), vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(grid):
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=14,
                color="#999" if v == 0 else "black")
    ax.hlines(np.arange(grid.shape[0] + 1) - 0.5, -0.5, grid.shape[1] - 0.5, color="#555", lw=1)
    ax.vlines(np.arange(grid.shape[1] + 1) - 0.5, -0.5, grid.shape[0] - 0.5, color="#555", lw=1)
    ax.set_xticks([]), ax.set_yticks([])
    if grid.shape[0] % 2 == 0 and grid.shape[0] > 2:     # thicker lines between 2x2 blocks
        for b in range(2, grid.shape[0], 2):
            ax.axhline(b - 0.5, color="black", lw=2.5)
            ax.axvline(b - 0.5, color="black", lw=2.5)
    ax.set_title(title, fontsize=10)


def draw_numbers(ax: Any, m: Any, title: str, cmap: str = "Blues", fontsize: int = 11,
                 fmt: str = "{:g}", vmax: float | None = None) -> None:
    """Show a matrix as coloured cells with its values written in them (zeros left blank)."""
    m = np.asarray(m, float)
    vmax = max(m.max(), 1e-9) if vmax is None else vmax
    ax.imshow(m, cmap=cmap, vmin=min(0, m.min()), vmax=vmax)
    for (r, c), v in np.ndenumerate(m):
        if v != 0:
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                    color="white" if v > 0.6 * vmax else "black")
    ax.hlines(np.arange(m.shape[0] + 1) - 0.5, -0.5, m.shape[1] - 0.5, color="#bbb", lw=0.5)
    ax.vlines(np.arange(m.shape[1] + 1) - 0.5, -0.5, m.shape[0] - 0.5, color="#bbb", lw=0.5)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title, fontsize=10)


# ---- label maps in colour, void pixels in their own colour --------------------------------------
VOID_COLOUR = (0.88, 0.88, 0.75)
"""Colour of void (ignored) pixels in every label picture: VOC's pale cream border colour."""


def label_colours(labels: Any, ignore_index: int | None = None) -> np.ndarray:
    """Label maps (..., H, W) as RGB float pictures (..., H, W, 3): class k in the k-th colour
    of Matplotlib's tab10 (repeating after 10), void pixels (``ignore_index``) in
    :data:`VOID_COLOUR`, so a void border is never mistaken for a class."""
    import matplotlib
    labels = backend.to_numpy(labels)
    table = np.asarray(matplotlib.colormaps["tab10"].colors, dtype=np.float32)
    out = table[np.abs(labels) % len(table)]
    if ignore_index is not None:
        out[labels == ignore_index] = VOID_COLOUR
    return out


def overlay_figure(path: Any, image: Any, mask: Any, ignore_index: int | None = None, most: int = 1024) -> None:
    """Save ``image`` (C, H, W) with the classes of ``mask`` (H, W) laid over it (class 0 left
    clear, void in :data:`VOID_COLOUR`). Large pictures are subsampled to at most ``most``
    pixels a side first, so the figure's memory does not grow with the image."""
    plt = pyplot()
    image, mask = backend.to_numpy(image), backend.to_numpy(mask)
    step = max(1, -(-max(mask.shape) // most))
    image, mask = image[:, ::step, ::step], mask[::step, ::step]
    colours = label_colours(mask, ignore_index)
    alpha = np.where((mask == 0), 0.0, 0.5)[..., None].astype(np.float32)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0], cmap="gray")
    ax.imshow(np.concatenate([colours, alpha], axis=-1))
    ax.axis("off")
    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def draw_tiles(path: Any, height: int, width: int, tile: int, overlap: int) -> None:
    """The tiles of :func:`minifcn.tiling.predict_tiled` over a height x width image (left)
    and, along one row, each tile's trapezoid window (right): zero within O/4 of a seam, a
    ramp to 1 by 3O/4, so every pixel is taken from tiles where it sits away from the seam."""
    from matplotlib.patches import Rectangle

    from .tiling import tile_starts, tile_window
    plt = pyplot()
    rows = tile_starts(height, min(tile, height), tile - overlap)
    cols = tile_starts(width, min(tile, width), tile - overlap)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1, 1.4]})
    a.add_patch(Rectangle((0, 0), width, height, facecolor="#eeeeee", edgecolor="black"))
    colours = plt.get_cmap("tab10").colors
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            colour = colours[(i * len(cols) + j) % 10]
            a.add_patch(Rectangle((c, r), tile, tile, fill=False, edgecolor=colour, linewidth=1.6))
    a.set(xlim=(-5, width + 5), ylim=(height + 5, -5), aspect="equal",
          title=f"{len(rows) * len(cols)} tiles of {tile} px, overlap {overlap} px\nover a {height} x {width} image")
    for k, c in enumerate(cols):
        w = tile_window(min(tile, width), overlap, c > 0, c + tile < width)
        b.plot(np.arange(c, c + len(w)) + 0.5, w, color=colours[k % 10], linewidth=2, label=f"tile at column {c}")
    for c in cols[1:]:
        b.axvspan(c, c + overlap, color="#dddddd", zorder=0)
    b.set(xlabel="column (px)", ylabel="window weight w", ylim=(-0.05, 1.1),
          title="windows along one row (grey: overlaps); output = Σ w·logits / Σ w")
    b.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
