"""Hypothesis strategies shared by the tests: shapes, broadcastable pairs, well-separated values."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minifcn as mf
from conftest import to_xp

small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


@st.composite
def broadcastable_pair(draw, max_dims=3):
    """Two shapes that broadcast together (sides of 1 and missing leading axes included)."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=4))
    return shapes.input_shapes


def separated_values(rng, shape, low=-2.0, high=2.0, gap=0.05):
    """Random float64 values, all distinct by at least ``gap`` and at least gap/2 away from 0.

    Used for ops with kinks (relu at 0, max ties): finite differences with eps << gap never
    cross one, so tolerances stay tight.
    """
    n = int(np.prod(shape, dtype=int))
    grid = np.arange(low, high, gap)
    grid = grid[np.abs(grid) > gap / 2]
    if n > grid.size:
        grid = np.linspace(low, high, 2 * n + 1)[1::2]  # never hits 0 exactly, spacing > 0
    return rng.permutation(grid)[:n].reshape(shape)


def leaf(values, device, requires_grad=True):
    """A float64 leaf tensor on ``device`` from host values."""
    return mf.Tensor(to_xp(np.asarray(values, dtype=np.float64), device), requires_grad=requires_grad)


seeds = st.integers(0, 2**16)
