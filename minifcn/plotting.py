"""Pictures the library draws for lessons, docs and the command line (Matplotlib, loaded on use)."""
from __future__ import annotations

from typing import Any

from . import arith, backend


def pyplot() -> Any:
    """matplotlib.pyplot with the file-only Agg backend (no screen needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def draw_kernel_positions(path: str, kind: str, i: int, k: int, s: int = 1, p: int = 0, d: int = 1,
                          output_padding: int = 0) -> Any:
    """Draw where a kernel lands, like the figures of Dumoulin & Visin's convolution-arithmetic guide.

    conv / pool: the (zero-padded) input grid, each output pixel's window as a coloured
    outline. transpose: the equivalent direct convolution, i.e. the input with s - 1 zeros
    inserted between pixels and k̂ - p - 1 padding on each side (plus output_padding on the
    bottom/right), and the windows of a unit-stride kernel over it. Returns the figure.
    """
    plt = pyplot()
    from matplotlib.patches import Rectangle
    ke = arith.effective_kernel_size(k, d)
    if kind == "transpose":
        o = arith.conv_transpose_output_size(i, k, s, p, output_padding, d)
        edge = ke - p - 1
        size = (i - 1) * s + 1 + 2 * edge + output_padding
        real = {(edge + r * s, edge + c * s) for r in range(i) for c in range(i)}
        stride, title = 1, f"transposed conv: i={i}, k={k}, s={s}, p={p}, d={d}, a={output_padding} → o={o}"
    else:
        o = (arith.conv_output_size(i, k, s, p, d) if kind == "conv"
             else arith.pool_output_size(i, k, s, p, d))
        size, stride = i + 2 * p, s
        real = {(r + p, c + p) for r in range(i) for c in range(i)}
        title = f"{kind}: i={i}, k={k}, s={s}, p={p}, d={d} → o={o}"
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * size + 1),) * 2)
    for r in range(size):
        for c in range(size):
            inside = (r, c) in real
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor="#9ecae1" if inside else "white",
                                   edgecolor="#555", lw=0.6, ls="-" if inside else ":"))
    colours = plt.get_cmap("tab10")
    shown = [(0, 0), (0, o - 1), (o - 1, 0), (o - 1, o - 1)] if o > 1 else [(0, 0)]
    for n, (orow, ocol) in enumerate(dict.fromkeys(shown)):
        for a in range(k):
            for b in range(k):
                ax.add_patch(Rectangle((ocol * stride + b * d + 0.12, orow * stride + a * d + 0.12), 0.76, 0.76,
                                       fill=False, edgecolor=colours(n), lw=2))
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return fig


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


def __getattr__(name: str) -> Any:
    """Old homes of two helpers that are not pictures (kept so that old imports work):
    ``lesson_setup`` now lives in ``minifcn.lesson``, ``measured_receptive_field`` in
    ``minifcn.nn.summary``."""
    if name == "lesson_setup":
        from .lesson import lesson_setup
        return lesson_setup
    if name == "measured_receptive_field":
        from .nn.summary import measured_receptive_field
        return measured_receptive_field
    raise AttributeError(f"module 'minifcn.plotting' has no attribute {name!r}")
