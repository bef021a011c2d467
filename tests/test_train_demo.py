"""The default demo: same-colour shapes, and the colour-only baseline it is compared with."""
import numpy as np

from minifcn.data import ArrayDataset, SyntheticShapes
from minifcn.train import TrainConfig, build_data, colour_only_dice


def test_colour_only_classifier_is_perfect_when_colour_is_the_class_and_blind_to_shape_otherwise():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (6, 8, 8))
    images = np.repeat((labels[:, None] * 0.3 + 0.1).astype(np.float32), 3, axis=1)   # colour = class
    ds = ArrayDataset(images, labels)
    assert colour_only_dice(ds, ds, 3) == 1.0
    coloured = SyntheticShapes(40, image_size=32, num_classes=3, seed=0)
    same = SyntheticShapes(40, image_size=32, num_classes=3, seed=0, same_colour=True)
    split = lambda ds: (ArrayDataset(*(a[:30] for a in ds.arrays())), ArrayDataset(*(a[30:] for a in ds.arrays())))
    assert colour_only_dice(*split(coloured), 3) > 0.9
    assert colour_only_dice(*split(same), 3) < 0.75      # finds the shapes, cannot tell disc from square


def test_the_default_data_is_the_same_colour_shapes():
    train_set, _, _, _ = build_data(TrainConfig(samples=10))
    assert train_set.dataset.same_colour
    train_set, _, _, _ = build_data(TrainConfig(samples=10, data="coloured-shapes"))
    assert not train_set.dataset.same_colour
