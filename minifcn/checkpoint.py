"""Checkpoints: ``save(obj, path)`` and ``load(path)`` on NumPy's ``.npz`` format, never pickle.

``obj`` is a nested dict (string keys) whose leaves are arrays (NumPy, CuPy, or Tensors),
Python numbers, strings, booleans, None, or lists/tuples of those, e.g.

    mf.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "epoch": 12, "best_dice": 0.81}, "run/last.npz")

**File layout.** An ``.npz`` file is a zip archive of ``.npy`` files. Each array becomes one
entry named by its dotted path (``model.down.0.conv1.weight``); one more entry,
``__minifcn__``, holds UTF-8 JSON (as a uint8 array) describing the whole tree: every node
is a tagged pair, ``["dict", {...}]``, ``["list", [...]]``, ``["value", 3]`` or
``["array", "entry name"]``. Because the tree is kept in JSON, keys that contain dots come
back exactly. Loading uses ``np.load(..., allow_pickle=False)``: a file cannot run code.

**Crash safety.** The file is written to a temporary file in the same directory, flushed
and fsync'ed, then renamed over ``path`` with ``os.replace`` (atomic on POSIX and Windows)
and the directory is fsync'ed. A crash or an exception at any moment leaves either the old
file or the new one, never half of one, and no temporary file behind.

What comes back: arrays as NumPy arrays on the host (move them with ``Tensor.to`` or let
``load_state_dict`` do it), tuples as lists, NumPy scalars as Python numbers.
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from . import backend
from .atomic import atomic_open
from .autograd import Tensor

META_KEY = "__minifcn__"
FORMAT = "minifcn-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a (complete) minifcn checkpoint."""


# ---- the tree <-> (JSON description, arrays) ----------------------------------------------------
def _encode(node: Any, path: str, arrays: dict[str, np.ndarray]) -> list:
    """Describe ``node`` as tagged JSON; put its arrays into ``arrays`` under dotted names."""
    where = path or "the top level"
    if isinstance(node, Tensor):
        node = node.data
    if backend.is_array(node):
        array = backend.to_numpy(node)
        if array.dtype.hasobject:
            raise TypeError(f"cannot save {where}: an object array (dtype=object) would need pickle; "
                            "save numeric/bool/string arrays only")
        if not path or path in arrays or path == META_KEY:
            raise ValueError(f"cannot save: two entries would share the name {path or '(empty)'!r}; "
                             "rename a key (keys containing '.' can collide with nested keys)")
        arrays[path] = array
        return ["array", path]
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise TypeError(f"cannot save {where}: dict keys must be strings, got {key!r} "
                                f"({type(key).__name__})")
            out[key] = _encode(value, f"{path}.{key}" if path else key, arrays)
        return ["dict", out]
    if isinstance(node, (list, tuple)):
        return ["list", [_encode(v, f"{path}.{i}" if path else str(i), arrays) for i, v in enumerate(node)]]
    if isinstance(node, np.generic):
        node = node.item()
    if node is None or isinstance(node, (bool, int, float, str)):
        return ["value", node]
    raise TypeError(f"cannot save {where}: a {type(node).__name__} is not an array, number, string, "
                    "bool, None, list or dict (nothing is pickled)")


def _decode(node: Any, arrays: Any, path: str) -> Any:
    tag, body = node
    if tag == "array":
        return arrays[body]
    if tag == "dict":
        return {k: _decode(v, arrays, path) for k, v in body.items()}
    if tag == "list":
        return [_decode(v, arrays, path) for v in body]
    if tag == "value":
        return body
    raise CheckpointError(f"{path}: unknown node type {tag!r} in the checkpoint's metadata")


# ---- save ----------------------------------------------------------------------------------------
def save(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` (a nested dict of arrays, numbers, strings, lists) to ``path`` atomically.

    Arrays on the GPU are copied to the host. The name is used as given (no ".npz" added).
    """
    if not isinstance(obj, dict):
        raise TypeError(f"save(obj, path): obj must be a dict (e.g. {{'model': model.state_dict()}}), "
                        f"got {type(obj).__name__}")
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "", arrays)          # all checks happen before the disk is touched
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}).encode("utf-8")
    arrays[META_KEY] = np.frombuffer(meta, dtype=np.uint8)

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save checkpoint {path!r}: directory {directory!r} does not exist")
    with atomic_open(path) as f:             # a temporary file, fsync'ed, then renamed over path
        _write_npz(f, arrays)
    _fsync_directory(directory)              # the rename itself is on disk


def _write_npz(file: Any, arrays: dict[str, np.ndarray]) -> None:
    """What ``np.savez`` does, spelled out: one ``name.npy`` member per array in a zip."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def _fsync_directory(directory: str) -> None:
    if os.name != "posix":                   # Windows cannot open a directory; rename is durable
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- load ----------------------------------------------------------------------------------------
def load(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by ``save``; arrays come back as host NumPy arrays.

    Raises FileNotFoundError for a missing file and ``CheckpointError`` (a ValueError) naming
    the path for a truncated, corrupted or foreign file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist (or is not a file)")
    expected = (f"expected a .npz written by minifcn.save, with a {META_KEY!r} metadata entry; "
                "the file may be truncated (an interrupted copy) or from another program")
    with open(path, "rb") as f:
        magic = f.read(6)
    if not magic.startswith(b"PK\x03\x04"):   # every zip (so every .npz) starts with these bytes
        what = "a single .npy array" if magic == b"\x93NUMPY" else f"first bytes {magic!r}"
        raise CheckpointError(f"{path}: not a zip/.npz file ({what}); {expected}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if META_KEY not in npz.files:
                raise CheckpointError(f"{path}: has no {META_KEY!r} entry (entries: "
                                      f"{', '.join(sorted(npz.files)[:5]) or 'none'}); {expected}")
            meta = json.loads(npz[META_KEY].tobytes().decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise CheckpointError(f"{path}: its metadata does not say format={FORMAT!r}; {expected}")
            if meta.get("version") != VERSION:
                raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')!r}, "
                                      f"this minifcn reads version {VERSION}")
            arrays = {}
            for name in (n for n in npz.files if n != META_KEY):
                try:
                    arrays[name] = npz[name]
                except ValueError as e:      # an object array (it would need pickle) or a damaged entry
                    raise CheckpointError(f"{path}: entry {name!r} cannot be read ({e}); a checkpoint holds "
                                          f"numeric, bool and string arrays only, never pickled objects; "
                                          f"{expected}") from e
            return _decode(meta["tree"], arrays, path)
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as e:
        # a cut zip: BadZipFile; a cut or damaged member: ValueError/EOFError/BadZipFile (CRC);
        # damaged JSON: ValueError; a malformed tree: KeyError/TypeError
        raise CheckpointError(f"{path}: cannot be read as a minifcn checkpoint "
                              f"({type(e).__name__}: {e}); {expected}") from e
