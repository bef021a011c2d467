"""Checkpoints: round trips, no pickle, clear errors for truncated or foreign files, and a
failed save that leaves the old file intact with no temporary file behind."""
import json
import math
import os
import zipfile

import numpy as np
import pytest

import minifcn as mf
from minifcn import backend, checkpoint, nn, optim
from conftest import to_xp


def nested():
    return {
        "model": {"conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
                  "bn.running_var": np.array([1.0, 2.0]),              # float64
                  "counts": np.array([[1, -2], [3, 4]], dtype=np.int64),
                  "mask": np.array([True, False, True]),
                  "small": np.array([0.5, 1.5], dtype=np.float16),
                  "bytes": np.arange(5, dtype=np.uint8),
                  "scalar": np.array(3.25),                             # 0-d
                  "empty": np.zeros((0, 3), np.float32)},
        "names": np.array(["background", "cell"]),                      # a unicode array
        "epoch": 12, "best_dice": 0.8125, "nan": math.nan, "inf": -math.inf, "done": False,
        "note": "résumé ✓", "nothing": None,
        "history": [0.9, 0.7, {"lr": 0.1}, [np.ones(2, np.float32), "x"]],
        "pair": (1, 2),
        "np_number": np.int64(7),
        "deep": {"a": {"b": {"c": np.full((1, 1), 2, np.int32)}}},
    }


def assert_same(a, b, path="obj"):
    """Exact equality, dtypes and shapes included; tuples come back as lists."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b and type(a) is type(b), path


def test_round_trip_keeps_values_dtypes_and_structure(tmp_path):
    obj = nested()
    mf.save(obj, tmp_path / "ckpt.npz")
    back = mf.load(tmp_path / "ckpt.npz")
    expected = dict(obj, np_number=7)                        # NumPy scalars come back as numbers
    assert_same(expected, back)
    assert list(back["model"]) == list(obj["model"])         # dotted keys are kept whole


def test_the_file_is_a_plain_npz_without_pickle(tmp_path):
    mf.save(nested(), tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as npz:   # NumPy alone can read it
        np.testing.assert_array_equal(npz["model.conv.weight"], nested()["model"]["conv.weight"])
        meta = json.loads(npz["__minifcn__"].tobytes().decode("utf-8"))
    assert meta["format"] == "minifcn-checkpoint" and meta["version"] == 1


def test_tensors_and_device_arrays_are_saved_to_host(tmp_path, device):
    t = mf.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    mf.save({"t": t, "raw": to_xp(np.ones(3, np.int16), device)}, tmp_path / "d.npz")
    back = mf.load(tmp_path / "d.npz")
    assert isinstance(back["t"], np.ndarray) and back["t"].dtype == np.float64
    np.testing.assert_array_equal(back["t"], np.arange(6.0).reshape(2, 3))
    assert isinstance(back["raw"], np.ndarray) and back["raw"].dtype == np.int16


def test_model_and_optimizer_resume_from_a_checkpoint(tmp_path, device):
    nn.init.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU()).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = mf.tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32), device=device)
    for _ in range(2):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    mf.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}, tmp_path / "run.npz")

    nn.init.manual_seed(1)
    model2 = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU()).to(device)
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    state = mf.load(tmp_path / "run.npz")
    model2.load_state_dict(state["model"])
    opt2.load_state_dict(state["optimizer"])
    assert state["epoch"] == 2
    for m, o in ((model, opt), (model2, opt2)):              # one more step each: identical
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    for (name, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b), err_msg=name)


# --------------------------------------------------------------- what cannot be saved

@pytest.mark.parametrize("obj, match", [
    ({"a": np.array([{"x": 1}, None], dtype=object)}, r"cannot save a: an object array .* would need pickle"),
    ({"a": {"b": {1, 2}}}, "cannot save a.b: a set is not an array"),
    ({"a": [1, object()]}, "cannot save a.1: a object is not an array"),
    ({"a": {3: np.ones(1)}}, "dict keys must be strings, got 3"),
    ({"a.b": np.ones(1), "a": {"b": np.zeros(1)}}, "two entries would share the name 'a.b'"),
    ({"__minifcn__": np.ones(1)}, "share the name '__minifcn__'"),
])
def test_unsavable_objects_fail_clearly_and_write_nothing(tmp_path, obj, match):
    with pytest.raises((TypeError, ValueError), match=match):
        mf.save(obj, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_save_needs_a_dict_and_an_existing_directory(tmp_path):
    with pytest.raises(TypeError, match="obj must be a dict"):
        mf.save([np.ones(1)], tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mf.save({"a": 1}, tmp_path / "missing" / "x.npz")


# --------------------------------------------------------------- broken and foreign files

def test_truncated_files_fail_with_a_clear_error(tmp_path):
    good = tmp_path / "good.npz"
    mf.save(nested(), good)
    data = good.read_bytes()
    for cut in (0, 3, 10, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(checkpoint.CheckpointError, match=rf"{bad}: .*truncated") as info:
            mf.load(bad)
        assert isinstance(info.value, ValueError)


def test_a_corrupted_byte_is_detected(tmp_path):
    path = tmp_path / "c.npz"
    mf.save({"w": np.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF                              # inside the array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError, match=str(path)):
        mf.load(path)


def test_foreign_files_fail_with_a_clear_error(tmp_path):
    npz = tmp_path / "plain.npz"
    np.savez(npz, weights=np.ones(3))
    with pytest.raises(checkpoint.CheckpointError, match=r"plain.npz: has no '__minifcn__' entry \(entries: weights\)"):
        mf.load(npz)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(checkpoint.CheckpointError, match=r"notes.txt: not a zip/.npz file \(first bytes b'hello'\); "
                                                         r"expected a .npz written by minifcn.save"):
        mf.load(text)
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(checkpoint.CheckpointError, match=r"array.npy: not a zip/.npz file \(a single .npy array\)"):
        mf.load(npy)
    other = tmp_path / "other.npz"
    np.savez(other, __minifcn__=np.frombuffer(b'{"format": "something-else"}', dtype=np.uint8))
    with pytest.raises(checkpoint.CheckpointError, match="metadata does not say format='minifcn-checkpoint'"):
        mf.load(other)
    with pytest.raises(FileNotFoundError, match="nowhere.npz' does not exist"):
        mf.load(tmp_path / "nowhere.npz")


# --------------------------------------------------------------- crash safety

def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    mf.save({"epoch": 1, "w": np.ones(3)}, path)
    old_bytes = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def write_then_fail(fp, array, **kw):                    # dies halfway through the file
        calls.append(1)
        if len(calls) == 2:
            fp.write(b"partial bytes")
            raise OSError("disk full (simulated)")
        return real_write(fp, array, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        mf.save({"epoch": 2, "w": np.zeros(3), "v": np.zeros(5)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert sorted(os.listdir(tmp_path)) == ["last.npz"]
    assert mf.load(path)["epoch"] == 1


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    mf.save({"epoch": 1}, path)

    def fail(*args):
        raise KeyboardInterrupt                              # even an interrupt cleans up

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        mf.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["last.npz"]
    assert mf.load(path)["epoch"] == 1


def test_save_syncs_file_and_directory_before_and_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    mf.save({"a": np.ones(2)}, tmp_path / "s.npz")
    expected = ["fsync", "replace", "fsync"] if os.name == "posix" else ["fsync", "replace"]
    assert events == expected


def test_overwriting_replaces_the_whole_file(tmp_path):
    path = tmp_path / "x.npz"
    mf.save({"a": np.ones(100_000)}, path)
    mf.save({"b": 1}, path)
    assert mf.load(path) == {"b": 1}
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["__minifcn__.npy"]
