"""Small drawing helpers shared by the lessons: grids of numbers drawn like the lecture's
slides. Each takes a Matplotlib ``Axes`` and draws into it; nothing here is needed to
train or run a model.
"""
from __future__ import annotations

from typing import Any

import numpy as np


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
