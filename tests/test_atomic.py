"""minifcn.atomic: a file is replaced whole or not at all, and no temporary file is left."""
import pytest

from minifcn.atomic import atomic_open, write_text


def test_an_interrupted_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(path, "w") as f:
            f.write("half of the new")
            raise KeyboardInterrupt          # Ctrl-C in the middle of writing
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_finished_write_replaces_the_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_open(path) as f:
        f.write(b"new")
        assert path.read_bytes() == b"old"   # readers see the old file until the block ends
    assert path.read_bytes() == b"new"
    write_text(tmp_path / "t.txt", "text")
    assert (tmp_path / "t.txt").read_text() == "text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "t.txt"]


def test_only_write_modes(tmp_path):
    with pytest.raises(ValueError, match=r"mode must be 'w' or 'wb', got 'a'"):
        with atomic_open(tmp_path / "x", "a"):
            pass
