"""Batches from a data set: ``DataLoader``, ``Subset``, ``random_split``, ``ArrayDataset``.

A data set is anything with ``len(ds)`` and ``ds[i] -> tuple of arrays`` (e.g.
``(image (C, H, W), mask (H, W))``; a lone array counts as a 1-tuple). A batch stacks B items along a new first axis N.
When the data set holds everything in memory (it has ``arrays()``), a batch is taken by
indexing those arrays with the batch's indices, one NumPy call per array instead of B
Python-level item fetches.

Shuffling is reproducible: epoch ``e`` visits the items in the order
``np.random.default_rng([seed, e]).permutation(n)``, so two runs with one seed see the same
batches, and a resumed run calls ``set_epoch(e)`` to continue exactly where it stopped.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..checks import check_int


class ArrayDataset:
    """A data set over in-memory arrays that share their first axis N: item ``i`` is
    ``tuple(a[i] for a in arrays)``."""

    def __init__(self, *arrays: np.ndarray):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"arrays of lengths {lengths} cannot form a data set; "
                             "they must share their first axis N")
        self._arrays = tuple(arrays)

    def __len__(self) -> int:
        return len(self._arrays[0])

    def __getitem__(self, i) -> tuple:
        return tuple(a[i] for a in self._arrays)

    def arrays(self) -> tuple:
        return self._arrays


class Subset:
    """The items ``indices`` of ``dataset``, renumbered 0..len(indices)-1."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.ndim != 1 or (len(self.indices) and
                                      (self.indices.min() < -len(dataset)
                                       or self.indices.max() >= len(dataset))):
            raise ValueError(f"indices must be a list of item numbers in 0..{len(dataset) - 1}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[int(self.indices[i])]

    def arrays(self) -> tuple:
        """The parent's arrays at ``indices`` (needs a parent with ``arrays()``)."""
        return tuple(a[self.indices] for a in self.dataset.arrays())


def _arrays_of(dataset) -> tuple | None:
    """All items as stacked arrays when the data set holds them in memory, else None."""
    if isinstance(dataset, Subset):
        parent = _arrays_of(dataset.dataset)
        return None if parent is None else tuple(a[dataset.indices] for a in parent)
    if not getattr(dataset, "same_size", True):   # images of different sizes do not stack
        return None
    arrays = getattr(dataset, "arrays", None)
    return arrays() if callable(arrays) else None


def random_split(dataset, parts: Sequence[float] | Sequence[int], seed: int = 0) -> list[Subset]:
    """Split ``dataset`` into disjoint random :class:`Subset` s that together hold every item.

    ``parts`` are lengths that sum to ``len(dataset)``, or fractions that sum to 1; with
    fractions each part gets ``floor(f * n)`` items and the items left over go one each to
    the first parts (as in PyTorch). The items are shuffled by
    ``np.random.default_rng(seed)`` first, so one seed gives one split.
    """
    n = len(dataset)
    seed = check_int("seed", seed, 0)
    parts = list(parts)
    if parts and all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 0
                     for p in parts) and sum(parts) == n:
        lengths = [int(p) for p in parts]
    elif parts and all(isinstance(p, (float, np.floating)) and 0 <= p <= 1 for p in parts) \
            and abs(sum(parts) - 1) < 1e-6:
        lengths = [int(np.floor(f * n)) for f in parts]
        for k in range(n - sum(lengths)):
            lengths[k % len(lengths)] += 1
    else:
        raise ValueError(f"parts={parts!r} is not valid for a data set of {n} items; use "
                         f"lengths that sum to {n} or fractions that sum to 1, e.g. [0.8, 0.2]")
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` stacked arrays.

    - ``shuffle``: epoch ``e`` uses the order ``default_rng([seed, e]).permutation(n)``;
      without it items come in order 0..n-1.
    - ``drop_last``: leave out the last batch when it is smaller than ``batch_size``.
    - ``transform(rng, *batch) -> batch``: applied to each batch (e.g. an augmentation from
      :mod:`minifcn.data.augment`), with one generator per epoch,
      ``default_rng([seed, e, 1])``, so augmentations are reproducible too.
    - ``item_transform(rng, *item) -> item``: applied to each item before the batch is
      stacked (e.g. a random crop, which lets images of different sizes form one batch),
      with the generator ``default_rng([seed, e, 2, i])`` of item ``i`` in epoch ``e``.

    Each ``iter(loader)`` runs epoch ``loader.epoch`` and then counts it up by one, so
    successive epochs differ; ``set_epoch(e)`` picks the epoch, e.g. when resuming.
    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, dataset, batch_size: int = 8, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False, transform: Callable | None = None,
                 item_transform: Callable | None = None):
        self.dataset = dataset
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.seed = check_int("seed", seed, 0)
        if transform is not None and not callable(transform):
            raise ValueError(f"transform={transform!r} is not valid; use a callable "
                             "transform(rng, *batch) -> batch, or None")
        if item_transform is not None and not callable(item_transform):
            raise ValueError(f"item_transform={item_transform!r} is not valid; use a callable "
                             "item_transform(rng, *item) -> item, or None")
        self.transform, self.item_transform = transform, item_transform
        self.epoch = 0
        self._arrays: tuple | None = None

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration run epoch ``epoch`` (its shuffle order and augmentations)."""
        self.epoch = check_int("epoch", epoch, 0)

    def __len__(self) -> int:
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> np.ndarray:
        """The item indices of ``epoch`` in visiting order."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        if self._arrays is None and self.item_transform is None:
            self._arrays = _arrays_of(self.dataset)
        return self._batches(epoch)

    def _batches(self, epoch: int):
        order = self.order(epoch)
        rng = np.random.default_rng([self.seed, epoch, 1])
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            if self._arrays is not None:
                batch = tuple(a[idx] for a in self._arrays)
            else:
                items = [self.dataset[int(i)] for i in idx]   # a loop over items: they may differ in size
                items = [it if isinstance(it, tuple) else (it,) for it in items]
                if self.item_transform is not None:
                    items = [tuple(self.item_transform(np.random.default_rng([self.seed, epoch, 2, int(i)]), *it))
                             for i, it in zip(idx, items)]
                batch = tuple(np.stack(a) for a in zip(*items))
            if self.transform is not None:
                batch = self.transform(rng, *batch)
            yield batch
