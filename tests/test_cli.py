"""The minifcn command: each subcommand through main(argv), checked against the library."""
import subprocess
import sys

import pytest

from minifcn import arith
from minifcn.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version_and_help():
    result = subprocess.run([sys.executable, "-m", "minifcn.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("minifcn ")
    result = subprocess.run([sys.executable, "-m", "minifcn.cli", "--help"], capture_output=True, text=True)
    for command in ("train", "predict", "eval", "arith", "summary"):
        assert command in result.stdout


@pytest.mark.parametrize("argv, expected", [
    (["conv", "-i", "5", "-k", "3", "-s", "2", "-p", "1"], arith.conv_output_size(5, 3, 2, 1)),
    (["conv", "-i", "7", "-k", "3", "-d", "2"], arith.conv_output_size(7, 3, 1, 0, 2)),
    (["transpose", "-i", "3", "-k", "3", "-s", "2", "-p", "1", "--output-padding", "1"],
     arith.conv_transpose_output_size(3, 3, 2, 1, 1)),
    (["pool", "-i", "7", "-k", "2", "--ceil-mode"], arith.pool_output_size(7, 2, ceil_mode=True)),
])
def test_arith_prints_the_numbers_of_arith(capsys, argv, expected):
    code, out, _ = run(capsys, "arith", *argv)
    assert code == 0
    assert f"output size: {expected}" in out
    assert "agrees" in out and "Relationship" in out


def test_arith_hand_checked_case(capsys):
    # Dumoulin & Visin, relationship 6: i=5, k=3, s=2, p=1 -> floor((5 + 2 - 3)/2) + 1 = 3
    code, out, _ = run(capsys, "arith", "conv", "-i", "5", "-k", "3", "-s", "2", "-p", "1")
    assert "output size: 3" in out


def test_arith_draws(capsys, tmp_path):
    path = tmp_path / "k.png"
    code, out, _ = run(capsys, "arith", "transpose", "-i", "2", "-k", "3", "-s", "2", "--draw", str(path))
    assert code == 0 and path.stat().st_size > 1000


def test_arith_bad_input_is_one_line(capsys):
    code, _, err = run(capsys, "arith", "conv", "-i", "2", "-k", "5")
    assert code == 2 and "kernel_size=5" in err and err.count("\n") == 1


def test_unknown_things_exit_nonzero_with_a_hint():
    for argv in (["train", "--model", "resnet"], ["train", "--device", "tpu"], ["train", "--bogus"], ["frobnicate"]):
        result = subprocess.run([sys.executable, "-m", "minifcn.cli", *argv], capture_output=True, text=True)
        assert result.returncode == 2, argv
        assert "error:" in result.stderr and "hint:" in result.stderr


def test_summary(capsys):
    code, out, _ = run(capsys, "summary", "--model", "unet", "--input", "1x3x32x32", "--base-channels", "4",
                       "--depth", "2")
    assert code == 0 and "Params" in out and "(1, 2, 32, 32)" in out and "receptive field" in out
    code, _, err = run(capsys, "summary", "--input", "1x3x32")
    assert code == 2 and "N x C x H x W" in err


def test_train_predict_eval_round_trip(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, out, _ = run(capsys, "train", "--epochs", "1", "--samples", "12", "--image-size", "16", "--batch-size", "4",
                       "--base-channels", "4", "--depth", "2", "--out", str(run_dir), "--quiet")
    assert code == 0 and "mean Dice" in out and "data-set level" in out
    from minifcn.data import write_example_folder
    data = tmp_path / "data"
    write_example_folder(data, n=3, image_size=16, num_classes=3)
    code, out, _ = run(capsys, "eval", str(run_dir / "best.npz"), "--data", str(data))
    assert code == 0 and "HD95" in out and "mean" in out
    images = sorted((data / "images").glob("*.png"))
    code, out, _ = run(capsys, "predict", str(run_dir / "best.npz"), str(images[0]), "--out", str(tmp_path / "pred"))
    assert code == 0
    from minifcn.data import read_mask
    mask = read_mask(tmp_path / "pred" / f"{images[0].stem}_mask.png")
    assert mask.shape == (16, 16) and mask.max() < 3
    assert (tmp_path / "pred" / f"{images[0].stem}_overlay.png").is_file()
