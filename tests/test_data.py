"""Tests for minifcn.data: synthetic sets, folder data sets, DataLoader, augmentations.

Expected values come from outside the code under test: shape areas from geometry
(pi R^2, 2 R^2, 3 sqrt(3)/4 R^2), pixel sets from naive loops over pixels, orders and
coverage from counting indices, augmentations from NumPy's own flip/rot90 and slicing.
"""
import json
import math
import os
from functools import partial

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from conftest import to_xp
from minifcn import backend
from minifcn.data import (ArrayDataset, Compose, DataError, DataLoader, FolderDataset,
                          SyntheticDenoising, SyntheticKeypoints, SyntheticShapes, SyntheticSizes, Subset,
                          keypoint_heatmaps, load_palette, random_crop, random_flip,
                          random_rot90, random_split, rot90, save_image_png, save_mask_png,
                          write_example_folder)


# ================================================================ synthetic data

MAKERS = {
    "shapes": lambda seed: SyntheticShapes(6, image_size=32, seed=seed),
    "keypoints": lambda seed: SyntheticKeypoints(6, image_size=32, seed=seed),
    "denoising": lambda seed: SyntheticDenoising(6, image_size=32, seed=seed),
    "sizes": lambda seed: SyntheticSizes(6, image_size=32, seed=seed, radii=((2, 3), (5, 7))),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_same_seed_same_arrays_and_other_seed_differs(kind):
    a, b, c = MAKERS[kind](1).arrays(), MAKERS[kind](1).arrays(), MAKERS[kind](2).arrays()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_item_does_not_depend_on_access_order_or_length():
    expected_images, expected_masks = SyntheticShapes(8, image_size=32, seed=3).arrays()
    ds = SyntheticShapes(8, image_size=32, seed=3)
    backwards = [ds[i] for i in [7, 2, 5, 0, 6, 1, 4, 3]]
    for i, (image, mask) in zip([7, 2, 5, 0, 6, 1, 4, 3], backwards):
        np.testing.assert_array_equal(image, expected_images[i])
        np.testing.assert_array_equal(mask, expected_masks[i])
    np.testing.assert_array_equal(ds[-1][0], expected_images[7])
    # a shorter set with the same seed holds the same first items
    np.testing.assert_array_equal(SyntheticShapes(3, image_size=32, seed=3)[2][1], expected_masks[2])


@pytest.mark.parametrize("num_classes", [2, 3, 4, 5])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_dtypes_and_label_range(num_classes, channels):
    ds = SyntheticShapes(10, image_size=24, num_classes=num_classes, channels=channels, seed=5)
    images, masks = ds.arrays()
    assert images.shape == (10, channels, 24, 24) and images.dtype == np.float32
    assert masks.shape == (10, 24, 24) and masks.dtype == np.int64
    assert 0 <= images.min() and images.max() <= 1
    assert masks.min() >= 0 and masks.max() < num_classes
    assert len(ds) == 10 and ds[0][0].shape == (channels, 24, 24)


def naive_side(vertices, centre, r, c, margin):
    """+1 when (r, c) is inside the convex polygon by more than ``margin``, -1 when outside
    by more than ``margin``, 0 near its border; from the edges' cross products."""
    def distances(pr, pc):
        return [((r2 - r1) * (pc - c1) - (c2 - c1) * (pr - r1)) / math.hypot(r2 - r1, c2 - c1)
                for (r1, c1), (r2, c2) in zip(vertices, np.roll(vertices, -1, axis=0))]
    winding = np.sign(distances(*centre)[0])       # the sign every edge gives inside points
    worst = min(winding * d for d in distances(r, c))
    return 1 if worst > margin else (-1 if worst < -margin else 0)


def test_single_shapes_match_geometry():
    """One shape per image: its pixels are those a naive loop finds inside it, and its
    area is the shape's area up to the pixels along its border."""
    size = 40
    ds = SyntheticShapes(60, image_size=size, num_classes=5, max_shapes=1, seed=11)
    area = {"disc": math.pi, "square": 2.0, "triangle": 3 * math.sqrt(3) / 4, "cross": 1.92}
    perimeter = {"disc": 2 * math.pi, "square": 4 * math.sqrt(2), "triangle": 3 * math.sqrt(3),
                 "cross": 7.6}
    seen = set()
    for i in range(len(ds)):
        (shape,), (_, mask) = ds.shapes(i), ds[i]
        R, r0, c0 = shape.radius, shape.row, shape.col
        labelled = mask == shape.label
        assert not np.any(mask[~labelled])                  # nothing else was drawn
        if shape.kind in ("disc", "square", "triangle"):
            k = {"square": 4, "triangle": 3}.get(shape.kind)
            if k:   # corners of the regular k-gon, clockwise from `angle` off straight up
                psi = [shape.angle + 2 * math.pi * j / k for j in range(k)]
                verts = np.array([[r0 - R * math.cos(p), c0 + R * math.sin(p)] for p in psi])
            for r in range(size):
                for c in range(size):
                    if k is None:
                        d = R - math.hypot(r - r0, c - c0)
                        side = 0 if abs(d) < 1e-4 else (1 if d > 0 else -1)
                    else:
                        side = naive_side(verts, (r0, c0), r, c, 1e-4)
                    if side:
                        assert labelled[r, c] == (side > 0), (i, shape, r, c)
        inside_image = R <= r0 <= size - 1 - R and R <= c0 <= size - 1 - R
        if inside_image:   # whole shape visible: pixel count = area +- border pixels
            expected = area[shape.kind] * R * R
            tol = perimeter[shape.kind] * R * math.sqrt(0.5) + math.pi / 2
            assert abs(labelled.sum() - expected) <= tol, (shape, labelled.sum(), expected)
            seen.add(shape.kind)
    assert seen == {"disc", "square", "triangle", "cross"}


@pytest.mark.parametrize("channels", [1, 3])
def test_overlapping_shapes_are_consistent_with_image(channels):
    """Without noise and texture: background is one colour, each labelled pixel has the
    colour of a shape of that label, lies within that shape's circumcircle, and pixels
    outside every circumcircle are background."""
    size = 32
    ds = SyntheticShapes(20, image_size=size, max_shapes=4, noise=0.0, texture=False,
                         channels=channels, seed=2)
    rr, cc = np.mgrid[0:size, 0:size]
    overlaps = 0
    for i in range(len(ds)):
        image, mask = ds[i]
        shapes = ds.shapes(i)
        near = [(rr - s.row) ** 2 + (cc - s.col) ** 2 <= s.radius ** 2 + 1e-3 for s in shapes]
        overlaps += (np.sum(near, axis=0) > 1).any()
        outside_all = ~np.any(near, axis=0)
        assert not mask[outside_all].any()
        background = image[:, mask == 0]
        if background.size:
            assert (background == background[:, :1]).all()
        for label in np.unique(mask[mask > 0]):
            mine = [s for s, n in zip(shapes, near) if s.label == label]
            within = np.any([n for s, n in zip(shapes, near) if s.label == label], axis=0)
            assert within[mask == label].all()
            colours = np.array([np.float32(s.colour) if channels == 3
                                else [np.float32(s.colour).mean()] for s in mine], np.float32)
            pixels = image[:, mask == label].T                      # (P, C)
            matches = np.abs(pixels[:, None, :] - colours[None]).max(-1) < 1e-6
            assert matches.any(axis=1).all()
    assert overlaps > 0                          # overlaps do happen


def test_two_classes_use_several_kinds():
    ds = SyntheticShapes(20, image_size=32, num_classes=2, seed=0)
    assert set(np.unique(ds.arrays()[1])) <= {0, 1}
    kinds = {s.kind for i in range(20) for s in ds.shapes(i)}
    assert {s.label for i in range(20) for s in ds.shapes(i)} == {1}
    assert len(kinds) >= 2


def test_imbalance_makes_last_class_rare():
    balanced = SyntheticShapes(150, image_size=32, seed=4).arrays()[1]
    skewed = SyntheticShapes(150, image_size=32, seed=4, imbalance=8.0).arrays()[1]
    fraction = lambda m, k: (m == k).mean()  # noqa: E731
    assert fraction(skewed, 3) < fraction(balanced, 3) / 8
    assert fraction(skewed, 1) > fraction(balanced, 1)


def test_same_colour_keeps_the_shapes_and_paints_every_kind_alike():
    from minifcn.data.synthetic import COLOUR_JITTER, SAME_COLOUR
    kw = dict(n=30, image_size=32, seed=6, noise=0.0, texture=False, max_shapes=2)
    coloured, same = SyntheticShapes(**kw), SyntheticShapes(**kw, same_colour=True)
    np.testing.assert_array_equal(same.arrays()[1], coloured.arrays()[1])   # same masks
    images, masks = same.arrays()
    means = []
    for k in (1, 2, 3):
        pixels = images.transpose(1, 0, 2, 3)[:, masks == k]                # (3, pixels of class k)
        assert pixels.shape[1] > 0
        # every shape pixel is the common base colour plus at most the jitter, whatever the kind
        assert (np.abs(pixels - SAME_COLOUR[:, None]) <= COLOUR_JITTER + 1e-6).all()
        means.append(pixels.mean(axis=1))
    spread_same = np.ptp(np.array(means), axis=0).max()
    # with their own colours the kinds' mean colours are far apart (0.55 between base colours)
    coloured_images = coloured.arrays()[0].transpose(1, 0, 2, 3)
    spread_coloured = np.ptp(np.array([coloured_images[:, masks == k].mean(axis=1)
                                       for k in (1, 2, 3)]), axis=0).max()
    assert spread_same < 0.1 < 0.4 < spread_coloured


@pytest.mark.parametrize("bad, match", [
    (dict(n=-1), r"n must be an integer >= 0, got -1"),
    (dict(n=4, num_classes=1), r"num_classes must be an integer in 2\.\.5, got 1"),
    (dict(n=4, num_classes=6), r"num_classes must be an integer in 2\.\.5, got 6"),
    (dict(n=4, image_size=4), r"image_size must be an integer >= 8, got 4"),
    (dict(n=4, imbalance=0.5), r"imbalance must be a number >= 1\.0, got 0\.5"),
    (dict(n=4, channels=2), r"channels=2 is not valid; use 1 \(grey\) or 3"),
    (dict(n=4, noise=-0.1), r"noise must be a number >= 0\.0, got -0\.1"),
    (dict(n=4, radius=(30, 40)), r"radius=\(30, 40\) is not valid"),
    (dict(n=4, seed=-3), r"seed must be an integer >= 0, got -3"),
])
def test_shapes_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        SyntheticShapes(**bad)


def test_sizes_class_is_the_disc_size_and_every_disc_is_whole_apart_and_same_coloured():
    from scipy import ndimage
    from minifcn.data.synthetic import COLOUR_JITTER, SAME_COLOUR
    radii = ((4.0, 6.0), (10.0, 13.0))
    ds = SyntheticSizes(24, image_size=64, seed=3, radii=radii, noise=0.0, texture=False)
    images, masks = ds.arrays()
    assert images.shape == (24, 3, 64, 64) and masks.shape == (24, 64, 64) and ds.num_classes == 3
    seen = set()
    for i in range(len(ds)):
        shapes = ds.shapes(i)
        components, count = ndimage.label(masks[i] > 0)
        assert count == len(shapes) >= 2            # apart: one connected blob per disc
        for s in shapes:
            lo, hi = radii[s.label - 1]             # the class is the radius range
            assert lo <= s.radius <= hi
            seen.add(s.label)
            blob = components == components[round(s.row), round(s.col)]
            assert (masks[i][blob] == s.label).all()
            # whole inside the image: as many pixels as a naive count of integer points in the disc
            r, c = np.mgrid[-20:85, -20:85]
            assert blob.sum() == ((r - s.row) ** 2 + (c - s.col) ** 2 <= s.radius ** 2).sum()
    assert seen == {1, 2}
    # same colour: every disc pixel is the base colour plus at most the jitter, whatever its size
    means = []
    for k in (1, 2):
        pixels = images.transpose(1, 0, 2, 3)[:, masks == k]
        assert (np.abs(pixels - SAME_COLOUR[:, None]) <= COLOUR_JITTER + 1e-6).all()
        means.append(pixels.mean(axis=1))
    assert np.abs(means[0] - means[1]).max() < 0.05
    # the areas of the two classes do not overlap: pi (R - 1)^2 <= area <= pi (R + 1)^2
    areas = {k: [(components == j).sum() for m in masks for components, n in [ndimage.label(m == k)]
                 for j in range(1, n + 1)] for k in (1, 2)}
    assert max(areas[1]) <= math.pi * 7 ** 2 < math.pi * 9 ** 2 <= min(areas[2])


@pytest.mark.parametrize("bad, match", [
    (dict(n=4, radii=((4, 6), (30, 40))), r"radii=\(\(4, 6\), \(30, 40\)\) is not valid"),
    (dict(n=4, radii=()), r"radii=\(\) is not valid"),
    (dict(n=4, radii=((6, 4),)), r"radii=\(\(6, 4\),\) is not valid"),
    (dict(n=4, radii=(3, 4)), r"radii=\(3, 4\) is not valid"),
    (dict(n=4, max_per_class=0), r"max_per_class must be an integer >= 1, got 0"),
    (dict(n=4, gap=-1.0), r"gap must be a number >= 0\.0, got -1\.0"),
    (dict(n=4, channels=2), r"channels=2 is not valid"),
])
def test_sizes_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        SyntheticSizes(**bad)


def test_shapes_same_colour_must_be_a_bool():
    with pytest.raises(TypeError, match=r"same_colour must be True or False, got 'yes'"):
        SyntheticShapes(n=4, same_colour="yes")


def test_index_out_of_range():
    ds = SyntheticShapes(3, image_size=16)
    with pytest.raises(IndexError, match="index 3 is out of range for a data set of 3 items"):
        ds[3]
    assert [m.shape for _, m in ds] == [(16, 16)] * 3     # iteration stops at the end


@pytest.mark.parametrize("k", [1, 3, 4, 5, 8])
def test_keypoints_are_ordered_corners_on_the_shape(k):
    ds = SyntheticKeypoints(12, image_size=40, num_keypoints=k, noise=0.0, texture=False, seed=7)
    images, keypoints = ds.arrays()
    assert images.shape == (12, 3, 40, 40) and keypoints.shape == (12, k, 2)
    assert keypoints.dtype == np.float32
    assert (keypoints >= 0).all() and (keypoints <= 39).all()
    for image, points in zip(images, keypoints):
        centre = points.mean(axis=0)
        cr, cc = np.round(centre).astype(int)
        shape_colour = image[:, cr, cc]
        assert not np.array_equal(shape_colour, image[:, 0, 0])   # the shape is visible
        if k == 1:
            continue
        d = np.hypot(*(points - centre).T)
        np.testing.assert_allclose(d, d[0], rtol=1e-4)              # a regular polygon
        angles = np.arctan2(points[:, 1] - centre[1], -(points[:, 0] - centre[0]))
        assert abs(angles[0]) <= 0.8 * math.pi / k + 1e-4          # corner 0 is the top one
        steps = np.diff(np.unwrap(angles))
        np.testing.assert_allclose(steps, 2 * math.pi / k, atol=1e-4)   # then clockwise
        for p in points:   # just inside each corner the picture has the shape's colour
            q = p + (centre - p) * (2.0 / d[0])
            np.testing.assert_array_equal(image[:, round(q[0]), round(q[1])], shape_colour)


def test_keypoint_heatmaps_match_formula():
    points = np.array([[[2.0, 3.0], [4.5, 0.0]]], np.float32)
    maps = keypoint_heatmaps(points, 6, sigma=1.5)
    assert maps.shape == (1, 2, 6, 6) and maps.dtype == np.float32
    for j, (pr, pc) in enumerate(points[0]):
        for r in range(6):
            for c in range(6):
                want = math.exp(-((r - pr) ** 2 + (c - pc) ** 2) / (2 * 1.5 ** 2))
                assert maps[0, j, r, c] == pytest.approx(want, rel=1e-5)
    assert maps[0, 0, 2, 3] == 1.0
    assert keypoint_heatmaps(points[0], 6).shape == (2, 6, 6)
    with pytest.raises(ValueError, match=r"keypoints of shape \(2, 3\) are not valid"):
        keypoint_heatmaps(np.zeros((2, 3)), 6)


def test_denoising_pairs():
    ds = SyntheticDenoising(20, image_size=32, noise=0.2, seed=9)
    noisy, clean = ds.arrays()
    assert noisy.shape == clean.shape == (20, 1, 32, 32) and noisy.dtype == np.float32
    np.testing.assert_array_equal(
        clean, SyntheticShapes(20, image_size=32, noise=0.0, channels=1, seed=9).arrays()[0])
    residual = noisy - clean
    assert abs(residual.mean()) < 0.01 and residual.std() == pytest.approx(0.2, rel=0.03)
    np.testing.assert_array_equal(SyntheticDenoising(3, image_size=32, noise=0.0, seed=9)[2][0],
                                  clean[2])


def test_arrays_are_read_only_and_empty_set_keeps_shapes():
    images, masks = SyntheticShapes(2, image_size=16).arrays()
    with pytest.raises(ValueError):
        images[0, 0, 0, 0] = 1
    images, masks = SyntheticShapes(0, image_size=16).arrays()
    assert images.shape == (0, 3, 16, 16) and masks.shape == (0, 16, 16)


# ================================================================ folder data set

@pytest.fixture
def folder(tmp_path):
    return write_example_folder(tmp_path / "data", 4, image_size=32, seed=1)


def test_folder_round_trip(folder):
    ds = FolderDataset(folder)
    images, masks = ds.arrays()
    want_images, want_masks = SyntheticShapes(4, image_size=32, seed=1).arrays()
    np.testing.assert_array_equal(masks, want_masks)
    assert images.dtype == np.float32 and masks.dtype == np.int64
    assert np.abs(images - want_images).max() <= 0.5 / 255 + 1e-6     # 8-bit quantisation
    assert len(ds) == 4 and ds.num_classes == want_masks.max() + 1 and ds.channels == 3
    assert [p.name for p, _ in ds.files] == [f"example_{i:04d}.png" for i in range(4)]
    np.testing.assert_array_equal(ds[2][1], want_masks[2])
    assert not [f for f in os.listdir(folder / "images") if not f.endswith(".png")]   # no temp files


def test_folder_palette_round_trip(tmp_path):
    root = write_example_folder(tmp_path / "d", 3, image_size=24, seed=2, palette=True)
    assert Image.open(root / "masks" / "example_0000.png").mode == "RGB"
    palette = json.loads((root / "palette.json").read_text())
    ds = FolderDataset(root)
    np.testing.assert_array_equal(ds.arrays()[1], SyntheticShapes(3, image_size=24, seed=2).arrays()[1])
    assert ds.num_classes == len(palette) == 4
    # a palette.txt with comments and commas, given explicitly
    (tmp_path / "p.txt").write_text("# class colours\n" + "\n".join(
        f"{r}, {g} {b}  # class {k}" for k, (r, g, b) in enumerate(palette)) + "\n")
    np.testing.assert_array_equal(load_palette(tmp_path / "p.txt"), palette)
    np.testing.assert_array_equal(FolderDataset(root, palette=tmp_path / "p.txt").arrays()[1],
                                  ds.arrays()[1])


def test_folder_jpeg_grey_and_resize(tmp_path):
    root = write_example_folder(tmp_path / "j", 3, image_size=32, seed=3, noise=0.0,
                                image_format="jpg")
    want_images, want_masks = SyntheticShapes(3, image_size=32, seed=3, noise=0.0).arrays()
    images, masks = FolderDataset(root).arrays()
    assert np.abs(images - want_images).mean() < 0.03                 # JPEG is lossy
    np.testing.assert_array_equal(masks, want_masks)
    small = FolderDataset(root, image_size=(16, 8))
    images, masks = small.arrays()
    assert images.shape == (3, 3, 16, 8) and masks.shape == (3, 16, 8)
    np.testing.assert_array_equal(masks, want_masks[:, 1::2, 2::4])    # nearest: centre pixels
    grey = tmp_path / "g"
    save_image_png(grey / "images" / "a.png", np.full((1, 5, 6), 0.5, np.float32))
    save_mask_png(grey / "masks" / "a.png", np.ones((5, 6), np.int64))
    image, mask = FolderDataset(grey, num_classes=2)[0]
    assert image.shape == (1, 5, 6) and image[0, 0, 0] == pytest.approx(128 / 255)


def test_folder_missing_mask(folder):
    os.remove(folder / "masks" / "example_0001.png")
    with pytest.raises(DataError, match=r"missing partner: image \S*images/example_0001\.png "
                                        r"has no mask \S*masks/example_0001\.png"):
        FolderDataset(folder)


def test_folder_missing_image(folder):
    os.remove(folder / "images" / "example_0002.png")
    with pytest.raises(DataError, match=r"mask \S*masks/example_0002\.png has no image"):
        FolderDataset(folder)


def test_folder_size_mismatch(folder):
    save_mask_png(folder / "masks" / "example_0000.png", np.zeros((16, 20), np.int64))
    with pytest.raises(DataError, match=r"size mismatch: image \S*example_0000\.png is 32x32 "
                                        r"\(HxW\) but mask \S*example_0000\.png is 16x20"):
        FolderDataset(folder)


def test_folder_label_out_of_range(folder):
    mask = np.zeros((32, 32), np.int64)
    mask[3, 4] = 7
    save_mask_png(folder / "masks" / "example_0003.png", mask)
    with pytest.raises(DataError, match=r"mask \S*example_0003\.png holds label 7, outside "
                                        r"the class range 0\.\.3 \(num_classes=4\)"):
        FolderDataset(folder, num_classes=4)
    assert FolderDataset(folder).num_classes == 8         # inferred from the largest label


@pytest.mark.parametrize("which", ["images", "masks"])
def test_folder_unreadable_file(folder, which):
    (folder / which / "example_0002.png").write_bytes(b"not a png at all")
    what = which[:-1]
    with pytest.raises(DataError, match=rf"cannot read {what} \S*{which}/example_0002\.png"):
        FolderDataset(folder)


def test_folder_colour_mask_problems(folder, tmp_path):
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(folder / "masks" / "example_0000.png")
    with pytest.raises(DataError, match=r"example_0000\.png is a RGB colour image but no palette"):
        FolderDataset(folder)
    with pytest.raises(DataError, match=r"example_0000\.png: colour \[1, 2, 3\] at \(row 0, "
                                        r"col 0\) is not in the palette of 2 classes"):
        FolderDataset(folder, palette=[[0, 0, 0], [255, 0, 0]])
    with pytest.raises(DataError, match=r"not a valid palette"):
        FolderDataset(folder, palette=[[0, 0], [1, 1]])
    with pytest.raises(DataError, match=r"gives the same colour to two classes"):
        load_palette([[0, 0, 0], [0, 0, 0]])
    (tmp_path / "bad.json").write_text("[[0, 0, 0], [300, 0, 0]]")
    with pytest.raises(DataError, match=r"\S*bad\.json is not a valid palette"):
        load_palette(tmp_path / "bad.json")


def test_folder_layout_problems(tmp_path, folder):
    with pytest.raises(DataError, match=r"\S*nowhere/images is not a folder"):
        FolderDataset(tmp_path / "nowhere")
    save_image_png(folder / "images" / "example_0000.jpg", np.zeros((3, 32, 32)), "JPEG")
    with pytest.raises(DataError, match=r"two images share the name 'example_0000'"):
        FolderDataset(folder)
    os.remove(folder / "images" / "example_0000.jpg")
    save_image_png(folder / "images" / "example_0000.png", np.zeros((3, 8, 8)))
    save_mask_png(folder / "masks" / "example_0000.png", np.zeros((8, 8), np.int64))
    ds = FolderDataset(folder)
    with pytest.raises(DataError, match=r"images differ in size .*pass image_size="):
        ds.arrays()
    assert FolderDataset(folder, image_size=8).arrays()[0].shape == (4, 3, 8, 8)
    with pytest.raises(ValueError, match=r"num_classes must be an integer >= 1, got 0"):
        FolderDataset(folder, num_classes=0)


def test_save_mask_png_checks_and_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.png"
    save_mask_png(path, np.array([[0, 1], [2, 255]]))
    np.testing.assert_array_equal(np.asarray(Image.open(path)), [[0, 1], [2, 255]])
    with pytest.raises(ValueError, match=r"labels 0\.\.300; a mask PNG can hold 0\.\.255"):
        save_mask_png(path, np.array([[0, 300]]))
    with pytest.raises(ValueError, match=r"use integer labels \(H, W\)"):
        save_mask_png(path, np.zeros((2, 2), np.float32))

    def crash(self, fp, format=None, **kw):        # die half-way through writing
        fp.write(b"\x89PNG half")
        raise OSError("disk full")
    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_mask_png(path, np.zeros((2, 2), np.int64))
    monkeypatch.undo()
    np.testing.assert_array_equal(np.asarray(Image.open(path)), [[0, 1], [2, 255]])   # old file intact
    assert os.listdir(tmp_path) == ["m.png"]                                           # no temp left


# ================================================================ DataLoader

class ItemsOnly:
    """A data set without ``arrays()``: the loader must stack items one by one."""

    def __init__(self, n):
        self.ids = np.arange(n)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i], np.full((2, 2), self.ids[i])


def batches_of(loader):
    return [tuple(np.asarray(a).copy() for a in batch) for batch in loader]


@given(n=st.integers(0, 30), batch_size=st.integers(1, 8), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 1000), in_memory=st.booleans())
def test_loader_visits_every_sample_once(n, batch_size, shuffle, drop_last, seed, in_memory):
    ds = ArrayDataset(np.arange(n), np.arange(n) * 10) if in_memory else ItemsOnly(n)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    for _ in range(2):   # two epochs
        batches = batches_of(loader)
        assert len(batches) == len(loader)
        ids = np.concatenate([b[0] for b in batches]) if batches else np.zeros(0, int)
        for b in batches:
            assert len(b[0]) <= batch_size and (in_memory and np.array_equal(b[1], b[0] * 10)
                                                or not in_memory and b[1].shape == (len(b[0]), 2, 2))
        assert len(np.unique(ids)) == len(ids)                      # nobody twice
        if drop_last:
            assert len(ids) == n // batch_size * batch_size and all(len(b[0]) == batch_size for b in batches)
        else:
            np.testing.assert_array_equal(np.sort(ids), np.arange(n))   # everybody
        if not shuffle:
            np.testing.assert_array_equal(ids, np.arange(len(ids)))


def test_loader_order_by_seed_and_epoch():
    ds = ArrayDataset(np.arange(50))
    order = lambda loader: np.concatenate([b[0] for b in loader])  # noqa: E731
    a, b = DataLoader(ds, 7, shuffle=True, seed=3), DataLoader(ds, 7, shuffle=True, seed=3)
    a0, a1 = order(a), order(a)
    np.testing.assert_array_equal(a0, order(b))                   # same seed, same epoch
    assert not np.array_equal(a0, a1)                             # next epoch, new order
    assert not np.array_equal(a0, order(DataLoader(ds, 7, shuffle=True, seed=4)))
    resumed = DataLoader(ds, 7, shuffle=True, seed=3)
    resumed.set_epoch(1)
    np.testing.assert_array_equal(order(resumed), a1)             # resume reproduces epoch 1
    assert resumed.epoch == 2
    items = DataLoader(ItemsOnly(50), 7, shuffle=True, seed=3)
    np.testing.assert_array_equal(order(items), a0)               # both paths agree


def test_loader_on_synthetic_subset_with_transform():
    ds = SyntheticShapes(12, image_size=16, seed=0)
    train, val = random_split(ds, [0.75, 0.25], seed=1)
    images, masks = ds.arrays()
    aug = Compose([random_flip, random_rot90])
    runs = []
    for _ in range(2):
        loader = DataLoader(train, batch_size=4, shuffle=True, seed=5, transform=aug)
        runs.append(batches_of(loader))
    for (x1, m1), (x2, m2) in zip(*runs):
        np.testing.assert_array_equal(x1, x2)                     # augmentation reproducible
        np.testing.assert_array_equal(m1, m2)
    plain = batches_of(DataLoader(val, batch_size=2))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in plain]), images[val.indices])
    np.testing.assert_array_equal(np.concatenate([b[1] for b in plain]), masks[val.indices])
    np.testing.assert_array_equal(train[1][1], masks[train.indices[1]])


def test_loader_bad_arguments():
    ds = ArrayDataset(np.arange(4))
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match=r"transform=3 is not valid"):
        DataLoader(ds, transform=3)
    with pytest.raises(ValueError, match=r"epoch must be an integer >= 0, got -1"):
        DataLoader(ds).set_epoch(-1)
    with pytest.raises(ValueError, match=r"lengths \[3, 2\] cannot form a data set"):
        ArrayDataset(np.zeros(3), np.zeros(2))


def test_random_split():
    ds = ArrayDataset(np.arange(10))
    for parts, lengths in [([0.8, 0.2], [8, 2]), ([3, 7], [3, 7]), ([0.5, 0.5], [5, 5]),
                           ([1 / 3, 1 / 3, 1 / 3], [4, 3, 3])]:
        subsets = random_split(ds, parts, seed=2)
        assert [len(s) for s in subsets] == lengths
        everything = np.concatenate([s.indices for s in subsets])
        np.testing.assert_array_equal(np.sort(everything), np.arange(10))
    np.testing.assert_array_equal(random_split(ds, [5, 5], seed=2)[0].indices,
                                  random_split(ds, [5, 5], seed=2)[0].indices)
    assert not np.array_equal(random_split(ds, [5, 5], seed=2)[0].indices,
                              random_split(ds, [5, 5], seed=3)[0].indices)
    assert [len(s) for s in random_split(ArrayDataset(np.arange(5)), [0.5, 0.5])] == [3, 2]
    with pytest.raises(ValueError, match=r"parts=\[4, 4\] is not valid .* lengths that sum to 10"):
        random_split(ds, [4, 4])
    with pytest.raises(ValueError, match=r"parts=\[0.5, 0.6\]"):
        random_split(ds, [0.5, 0.6])
    assert isinstance(random_split(ds, [10])[0], Subset)


# ================================================================ augmentations

def aligned_batch(n=6, size=8, seed=0):
    """Images whose channel 0 is the mask (as float), so alignment can be checked."""
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, 50, (n, size, size))
    images = rng.random((n, 3, size, size)).astype(np.float32)
    images[:, 0] = masks
    return images, masks


def assert_aligned(images, masks):
    np.testing.assert_array_equal(images[:, 0], masks.astype(np.float32))


def test_flip_alignment_and_references():
    images, masks = aligned_batch(40)
    out_images, out_masks = random_flip(np.random.default_rng(0), images, masks)
    assert_aligned(out_images, out_masks)
    used = set()
    for x, y in zip(images, out_images):
        options = {(h, v): np.flip(np.flip(x, 2) if h else x, 1) if v else (np.flip(x, 2) if h else x)
                   for h in (0, 1) for v in (0, 1)}
        hit = [key for key, ref in options.items() if np.array_equal(ref, y)]
        assert hit
        used.update(hit)
        np.testing.assert_array_equal(np.sort(x, axis=None), np.sort(y, axis=None))  # a permutation
    assert used == {(0, 0), (0, 1), (1, 0), (1, 1)}
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(random_flip(rng, images, masks, p=0.0)[0], images)
    twice = random_flip(rng, *random_flip(rng, images, masks, p=1.0), p=1.0)
    np.testing.assert_array_equal(twice[0], images)                         # flip twice = identity
    np.testing.assert_array_equal(random_flip(rng, images, masks, p=1.0)[1], masks[:, ::-1, ::-1])
    with pytest.raises(ValueError, match=r"p=1.5 is not a probability"):
        random_flip(rng, images, masks, p=1.5)


def test_rot90_alignment_and_references():
    images, masks = aligned_batch(40)
    out_images, out_masks = random_rot90(np.random.default_rng(0), images, masks)
    assert_aligned(out_images, out_masks)
    used = set()
    for x, y, m, ym in zip(images, out_images, masks, out_masks):
        hit = [k for k in range(4) if np.array_equal(np.rot90(x, k, axes=(1, 2)), y)]
        assert len(hit) >= 1 and np.array_equal(np.rot90(m, hit[0]), ym)
        used.add(hit[0])
    assert used == {0, 1, 2, 3}
    for k in range(5):
        np.testing.assert_array_equal(rot90(images, k), np.rot90(images, k, axes=(2, 3)))
    np.testing.assert_array_equal(rot90(rot90(rot90(rot90(images, 1), 1), 1), 1), images)
    with pytest.raises(ValueError, match=r"needs square images, got H x W = 4 x 6"):
        random_rot90(np.random.default_rng(0), np.zeros((2, 1, 4, 6)), np.zeros((2, 4, 6)))


def test_crop_alignment_and_references():
    images, masks = aligned_batch(30, size=9)
    rng = np.random.default_rng(0)
    out_images, out_masks = random_crop(rng, images, masks, (4, 6))
    assert out_images.shape == (30, 3, 4, 6) and out_masks.shape == (30, 4, 6)
    assert_aligned(out_images, out_masks)
    corners = set()
    for x, y in zip(images, out_images):
        hit = [(t, l) for t in range(6) for l in range(4)
               if np.array_equal(x[:, t:t + 4, l:l + 6], y)]
        assert hit
        corners.update(hit)
    assert len(corners) > 10                                    # positions vary
    full = random_crop(rng, images, masks, 9)
    np.testing.assert_array_equal(full[0], images)
    with pytest.raises(ValueError, match=r"size=\(10, 2\) is not valid for images of H x W = 9 x 9"):
        random_crop(rng, images, masks, (10, 2))
    with pytest.raises(ValueError, match=r"masks of shape \(30, 8, 9\) do not match"):
        random_crop(rng, images, masks[:, :8], 4)
    with pytest.raises(ValueError, match=r"images of shape \(3, 9, 9\) are not valid"):
        random_crop(rng, images[0], masks, 4)


def test_compose_keeps_alignment_and_accepts_image_targets():
    images, masks = aligned_batch(16, size=10)
    aug = Compose([random_flip, partial(random_crop, size=8), random_rot90])
    out_images, out_masks = aug(np.random.default_rng(3), images, masks)
    assert out_images.shape == (16, 3, 8, 8)
    assert_aligned(out_images, out_masks)
    # a second image as target (denoising): the same pixels move in both
    out_a, out_b = aug(np.random.default_rng(3), images, images * 2)
    np.testing.assert_array_equal(out_b, out_a * 2)
    with pytest.raises(ValueError, match=r"is not a transform"):
        Compose([random_flip, "flip"])
    assert "random_flip" in repr(aug)


@pytest.mark.parametrize("name", ["flip", "rot90", "crop"])
def test_augment_on_device_matches_host(device, name):
    fn = {"flip": random_flip, "rot90": random_rot90, "crop": partial(random_crop, size=5)}[name]
    images, masks = aligned_batch(8)
    want = fn(np.random.default_rng(4), images, masks)
    got = fn(np.random.default_rng(4), to_xp(images, device), to_xp(masks, device))
    for w, g in zip(want, got):
        assert backend.device_of(g) == device
        np.testing.assert_array_equal(backend.to_numpy(g), w)
