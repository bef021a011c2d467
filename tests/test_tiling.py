"""Tiled prediction against the whole-image prediction of the same model, on images where both fit.

The reference is one forward pass over the whole (mirror-padded) image; the receptive field
comes from ``measured_receptive_field`` (the input gradient of the centre pixel), not from
the code under test.
"""
import numpy as np
import pytest

import minifcn as mf
from minifcn.models import UNet
from minifcn.nn.summary import measured_receptive_field
from minifcn.tiling import pad_to_multiple, predict_full, predict_labels, predict_tiled, size_multiple


def model(depth=1, base=2, classes=3):
    mf.nn.init.manual_seed(0)
    m = UNet(3, classes, base_channels=base, depth=depth)
    m.eval()
    return m


def image(h=61, w=90, seed=0):
    return np.random.default_rng(seed).random((3, h, w)).astype(np.float32)


def starts(size, tile, step):   # the tile corners, written out again here
    out, s = [], 0
    while s + tile < size:
        out.append(s)
        s += step
    return out + [size - tile]


def away_from_seams(size, tile, overlap, radius):
    """(size,) bool: pixels farther than ``radius`` from every tile edge inside the image."""
    ok = np.ones(size, bool)
    centre = np.arange(size) + 0.5
    for s in starts(size, tile, tile - overlap):
        inside = (centre > s) & (centre < s + tile)
        if s > 0:
            ok &= ~(inside & (centre - s < radius))
        if s + tile < size:
            ok &= ~(inside & (s + tile - centre < radius))
    return ok


def test_tiles_equal_the_whole_image_everywhere_when_the_overlap_covers_the_receptive_field():
    m = model(depth=1)
    radius = measured_receptive_field(m, (3, 64, 64))[0] // 2 + 1          # 18 // 2 + 1 = 10
    x = image()
    overlap = 4 * radius                                                   # each pixel >= O/4 from a seam
    tiled, full = predict_tiled(m, x, 48, overlap), predict_full(m, x)
    assert tiled.shape == full.shape == (3, 61, 90)
    np.testing.assert_allclose(tiled, full, atol=2e-6)                     # float rounding only


def test_with_less_overlap_tiles_equal_the_whole_image_away_from_the_seams_and_are_close_everywhere():
    m = model(depth=2, base=4)
    radius = measured_receptive_field(m, (3, 64, 64))[0] // 2 + 1          # 44 // 2 + 1 = 23
    x = image(100, 130, seed=1)
    full = predict_full(m, x)
    hp, wp = pad_to_multiple(x, 4).shape[1:]
    # tile 64, overlap 16: the pixels farther than the receptive field's radius from every seam
    tiled = predict_tiled(m, x, 64, 16)
    away = np.outer(away_from_seams(hp, 64, 16, radius)[:100], away_from_seams(wp, 64, 16, radius)[:130])
    assert away.sum() > 100 and not away.all()
    np.testing.assert_allclose(tiled[:, away], full[:, away], atol=2e-6)
    tiled = predict_tiled(m, x, 32, 8)       # tile 32: no pixel is that far from a seam
    # everywhere: the stated tolerance, 2 % of the largest logit, for this model at overlap T/4
    assert np.abs(tiled - full).max() <= 0.02 * np.abs(full).max()
    assert (tiled.argmax(0) == full.argmax(0)).mean() >= 0.99


def test_no_forward_pass_sees_more_than_one_tile():
    m = model(depth=2, base=4)
    shapes = []
    forward = m.forward
    m.forward = lambda x: (shapes.append(x.shape), forward(x))[1]
    labels = predict_labels(m, image(150, 97), tile=32, overlap=8)
    assert labels.shape == (150, 97) and labels.dtype == np.int64
    assert shapes and all(s == (1, 3, 32, 32) for s in shapes)
    shapes.clear()
    predict_labels(m, image(20, 30), tile=32)               # smaller than a tile: the whole image, padded
    assert shapes == [(1, 3, 20, 32)]


def test_whole_image_is_padded_never_resized():
    m = model(depth=2, base=4)
    assert size_multiple(m) == 4
    x = image(21, 23)
    out = predict_full(m, x)
    assert out.shape == (3, 21, 23)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (3, 24, 24)
    np.testing.assert_array_equal(padded[:, :21, :23], x)
    np.testing.assert_array_equal(padded[:, 21, :23], x[:, 19])           # mirrored, not zero


@pytest.mark.parametrize("tile, overlap, match", [
    (2, 0, r"tile=2 is not valid for this model: a tile side must be a multiple of 4 .*at least 4"),
    (30, 4, r"tile=30 is not valid .*multiple of 4"),
    (32, 32, r"overlap=32 is not valid for tile=32: use a multiple of 4 in \[0, 32\)"),
    (32, 40, r"overlap=40 is not valid"),
    (32, 6, r"overlap=6 is not valid"),
    (32, -4, r"overlap=-4 is not valid"),
])
def test_bad_tiles_are_named(tile, overlap, match):
    with pytest.raises(ValueError, match=match):
        predict_tiled(model(depth=2, base=4), image(40, 40), tile, overlap)


def test_predict_command_tiles_a_large_image(tmp_path, capsys):
    from minifcn.cli import main
    from minifcn.data import read_mask, save_image_png
    from minifcn.train import TrainConfig, train
    run = tmp_path / "run"
    train(TrainConfig(samples=12, image_size=16, epochs=1, batch_size=4, base_channels=4, depth=2, out=str(run)),
          progress=False, log=lambda s: None)
    save_image_png(tmp_path / "big.png", image(70, 90))
    assert main(["predict", str(run / "best.npz"), str(tmp_path / "big.png"), "--tile", "32", "--overlap", "8",
                 "--out", str(tmp_path / "p")]) == 0
    assert "tiles of 32" in capsys.readouterr().out
    tiled = read_mask(tmp_path / "p" / "big_mask.png")
    assert main(["predict", str(run / "best.npz"), str(tmp_path / "big.png"), "--out", str(tmp_path / "q")]) == 0
    whole = read_mask(tmp_path / "q" / "big_mask.png")
    assert tiled.shape == whole.shape == (70, 90) and (tiled == whole).mean() > 0.99
    assert main(["predict", str(run / "best.npz"), str(tmp_path / "big.png"), "--tile", "30"]) == 2
    assert "tile=30 is not valid" in capsys.readouterr().err
