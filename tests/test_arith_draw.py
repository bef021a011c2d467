"""minifcn arith --draw / --animate: a picture per kernel position, one GIF frame per output cell."""
import numpy as np
import pytest
from PIL import Image

from minifcn.cli import main
from minifcn.plotting import _Sliding


def positions(size, k, s, d):
    """Window starts along one axis, by sliding a d-dilated k-tap window over `size` cells (naive)."""
    span = d * (k - 1) + 1
    return len([t for t in range(0, size) if t % s == 0 and t + span <= size])


@pytest.mark.parametrize("argv, o", [
    (["conv", "-i", "5", "-k", "3", "-s", "2", "-p", "1"], positions(5 + 2, 3, 2, 1)),            # 3
    (["conv", "-i", "4", "-k", "2", "-d", "2"], positions(4, 2, 1, 2)),                         # 2
    (["pool", "-i", "4", "-k", "2"], positions(4, 2, 2, 1)),                                    # 2
    # transposed: the direct conv over the zero-inserted input, padded by k - p - 1, plus a
    (["transpose", "-i", "2", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1"],
     positions((2 - 1) * 2 + 1 + 2 * (3 - 1 - 1) + 1, 3, 1, 1)),                                # 4
])
def test_animate_writes_one_frame_per_output_cell(capsys, tmp_path, argv, o):
    gif = tmp_path / "k.gif"
    assert main(["arith", *argv, "--animate", str(gif)]) == 0
    assert f"output size: {o}" in capsys.readouterr().out
    with Image.open(gif) as im:
        assert im.n_frames == o * o
        frames = []
        for n in range(im.n_frames):
            im.seek(n)
            frames.append(np.asarray(im.convert("RGB")).tobytes())
    assert len(set(frames)) == o * o            # every frame shows a different position
    assert not list(tmp_path.glob("*.tmp*"))      # written whole, then renamed


def test_windows_are_the_taps_the_op_reads():
    # conv i=5, k=3, s=2, p=1: output (1, 2) reads padded rows 2..4, columns 4..6
    g = _Sliding("conv", 5, 3, 2, 1)
    assert sorted(g.window(1, 2)) == [(r, c) for r in (2, 3, 4) for c in (4, 5, 6)]
    assert g.cell(0, 3) == "pad" and g.cell(1, 1) == "input" and g.size == 7
    # transpose i=2, k=3, s=2: input at 2 and 4 (padding k - 1 = 2, one zero between them)
    t = _Sliding("transpose", 2, 3, 2)
    assert t.size == 7 and t.cell(2, 2) == "input" and t.cell(2, 3) == "zero" and t.cell(1, 2) == "pad"
    assert t.o == 5 and t.window(4, 4)[-1] == (6, 6)     # the last window ends at the last cell


def test_draw_shows_the_output_grid(tmp_path):
    png = tmp_path / "k.png"
    assert main(["arith", "conv", "-i", "4", "-k", "3", "--draw", str(png)]) == 0
    picture = np.asarray(Image.open(png).convert("RGB")).astype(int)
    # the current output cell is filled with the output colour (#31a354): one per panel, o*o panels
    green = (np.abs(picture - [0x31, 0xA3, 0x54]).sum(axis=2) < 30)
    assert green.sum() > 4 * 20
    from scipy import ndimage
    labels, n = ndimage.label(green)
    sizes = ndimage.sum(green, labels, range(1, n + 1))
    assert (sizes >= 20).sum() == 4               # 2 x 2 outputs: four panels, one cell each (not 1-pixel edges)


def test_too_long_an_animation_is_refused_with_the_numbers(capsys, tmp_path):
    assert main(["arith", "conv", "-i", "40", "-k", "3", "--animate", str(tmp_path / "a.gif")]) == 2
    err = capsys.readouterr().err
    assert "o=38" in err and "1444 frames" in err and not (tmp_path / "a.gif").exists()
