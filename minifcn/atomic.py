"""Writing a file so that it is never half-written: the one way minifcn saves anything.

``atomic_open(path)`` hands out a temporary file beside ``path``; when the ``with`` block ends
normally the bytes are flushed and fsync'ed and the file is renamed over ``path`` with
``os.replace`` (atomic on POSIX and Windows), so a reader sees the old file or the complete
new one. On an exception (or Ctrl-C) the temporary file is removed and ``path`` is untouched.
Checkpoints, metrics, ONNX exports, figures, data sets and grading reports all go through it.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from typing import IO, Any, Iterator


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` that replaces ``path`` only once the whole file is written."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, mode.replace("w", "x"), **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())             # the bytes are on disk before the rename
        os.replace(tmp, path)                # atomic: readers see the old file or the new one
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Replace the text file ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def write_new(path: str | os.PathLike, text: str) -> bool:
    """Write ``text`` to ``path`` unless it exists, atomically (temp file + hard link); True if
    written. Never replaces a file, even one that appears while writing (a student's file is
    never overwritten: ``exercises init``, ``lessons init``)."""
    import tempfile
    path = os.fspath(path)
    if os.path.exists(path):
        return False
    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.link(tmp, path)          # fails if the name appeared meanwhile: never replaces a file
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
