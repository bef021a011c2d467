"""The student's code inside the library: a model that runs on the student's pieces.

``student_ops(model, workbook)`` grades the four pieces a convolutional network needs
(im2col, col2im, max_pool2d_with_indices, max_unpool2d), refuses naming those that do not
pass, and otherwise, until the ``with`` block ends:

- every ``nn.Conv2d`` (groups=1) of the model computes with ``StudentConv2d``: forward
  y = W @ im2col(x) (the student's im2col), backward dx = col2im(Wᵀ @ dy) (the student's col2im);
- every ``nn.ConvTranspose2d`` (groups=1) with ``StudentConvTranspose2d``: forward
  y = col2im(Wᵀ @ x), backward through im2col (the same two functions, the other way round);
- max pooling (``nn.MaxPool2d`` layers, and ``F.max_pool2d`` called inside the model's own
  ``forward``) with ``StudentMaxPool2d``: forward the student's max_pool2d_with_indices,
  backward scatters the gradient with the student's max_unpool2d.

The swap is per instance (an instance attribute ``forward``), plus, for models that call
``F.max_pool2d`` in their ``forward``, a stand-in for the name ``F`` in that model's module
that forwards everything else to ``minifcn.functional``. Nothing in ``minifcn.functional``
is touched, and everything is put back on exit. The student's functions run on host
(NumPy) arrays; arrays on a GPU are copied to the host and back.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import backend, nn
from ..autograd import Function
from .grader import PASS, check_workbook, load_function

PIECES = ("im2col", "col2im", "max_pool2d_with_indices", "max_unpool2d")


class StudentPiecesFail(RuntimeError):
    """A piece the swap needs does not pass its grader."""


def _host(a: Any) -> np.ndarray:
    return backend.to_numpy(a)


def _like(a: np.ndarray, ref: Any) -> Any:
    """``a`` (a NumPy array) on ``ref``'s device with ``ref``'s dtype."""
    return backend.array_module(ref).asarray(a, dtype=ref.dtype)


def _sides(padding: Any, kernel: tuple, dilation: tuple) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padding per side ((top, bottom), (left, right)) from an int pair, 'same' or 'valid'."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":   # as PyTorch: the odd extra zero goes bottom/right
        tot = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return (tot[0] // 2, tot[0] - tot[0] // 2), (tot[1] // 2, tot[1] - tot[1] // 2)
    (ph, pw) = padding
    return (ph, ph), (pw, pw)


class StudentConv2d(Function):
    """conv2d with the student's im2col (forward) and col2im (input gradient)."""

    def __init__(self, ops: dict, kernel: tuple, stride: tuple, padding: Any, dilation: tuple) -> None:
        self.ops, self.kernel, self.stride, self.dilation = ops, kernel, stride, dilation
        self.sides = _sides(padding, kernel, dilation)

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        (t, bo), (le, r) = self.sides
        xh = _host(x)
        self.sym = (t == bo and le == r)
        pad = (t, le) if self.sym else (0, 0)
        if not self.sym:                # asymmetric "same" padding: pad here, the student pads 0
            xh = np.pad(xh, ((0, 0), (0, 0), (t, bo), (le, r)))
        self.x_shape, self.padded_hw, self.pad = x.shape, xh.shape[2:], pad
        cols = np.asarray(self.ops["im2col"](xh, self.kernel, self.stride, pad, self.dilation))
        wh = _host(w)
        C_out = wh.shape[0]
        N, _, H, W = xh.shape
        OH = (H + 2 * pad[0] - self.dilation[0] * (self.kernel[0] - 1) - 1) // self.stride[0] + 1
        OW = (W + 2 * pad[1] - self.dilation[1] * (self.kernel[1] - 1) - 1) // self.stride[1] + 1
        y = wh.reshape(C_out, -1) @ cols                          # (N, C_out, OH·OW)
        if b is not None:
            y = y + _host(b).reshape(1, C_out, 1)
        self.cols, self.w, self.has_bias, self.ref = cols, wh, b is not None, x
        return _like(y.reshape(N, C_out, OH, OW), x)

    def backward(self, g: Any) -> tuple:
        gh = _host(g)
        N, C_out = gh.shape[:2]
        gr = gh.reshape(N, C_out, -1)
        gw = (gr @ self.cols.transpose(0, 2, 1)).sum(axis=0).reshape(self.w.shape)
        gb = gr.sum(axis=(0, 2)) if self.has_bias else None
        dcols = self.w.reshape(C_out, -1).T @ gr
        gx = np.asarray(self.ops["col2im"](dcols, tuple(self.padded_hw), self.kernel, self.stride, self.pad,
                                           self.dilation))
        if not self.sym:
            (t, bo), (le, r) = self.sides
            gx = gx[:, :, t:gx.shape[2] - bo, le:gx.shape[3] - r]
        return (_like(gx, g), _like(gw, g), None if gb is None else _like(gb, g))


class StudentConvTranspose2d(Function):
    """conv_transpose2d with the student's col2im (forward) and im2col (input gradient)."""

    def __init__(self, ops: dict, kernel: tuple, stride: tuple, padding: tuple, output_padding: tuple,
                 dilation: tuple) -> None:
        self.ops, self.kernel, self.stride, self.padding = ops, kernel, stride, padding
        self.output_padding, self.dilation = output_padding, dilation

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        xh, wh = _host(x), _host(w)
        N, C_in, H, W = xh.shape
        C_out = wh.shape[1]
        (KH, KW), (SH, SW), (PH, PW), (DH, DW) = self.kernel, self.stride, self.padding, self.dilation
        OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + self.output_padding[0] + 1
        OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + self.output_padding[1] + 1
        cols = wh.reshape(C_in, -1).T @ xh.reshape(N, C_in, H * W)          # (N, C_out·KH·KW, H·W)
        y = np.asarray(self.ops["col2im"](cols, (OH, OW), self.kernel, self.stride, self.padding, self.dilation))
        if b is not None:
            y = y + _host(b).reshape(1, C_out, 1, 1)
        self.xh, self.wh, self.has_bias = xh, wh, b is not None
        return _like(y, x)

    def backward(self, g: Any) -> tuple:
        gh = _host(g)
        N, C_in, H, W = self.xh.shape
        gcols = np.asarray(self.ops["im2col"](gh, self.kernel, self.stride, self.padding, self.dilation))
        gcols = gcols[:, :, :H * W]          # output_padding may leave one more window than inputs
        gx = (self.wh.reshape(C_in, -1) @ gcols).reshape(self.xh.shape)
        gw = (self.xh.reshape(N, C_in, -1) @ gcols.transpose(0, 2, 1)).sum(axis=0).reshape(self.wh.shape)
        gb = gh.sum(axis=(0, 2, 3)) if self.has_bias else None
        return (_like(gx, g), _like(gw, g), None if gb is None else _like(gb, g))


class StudentMaxPool2d(Function):
    """max pooling with the student's max_pool2d_with_indices; backward: max_unpool2d of the gradient."""

    def __init__(self, ops: dict, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple) -> None:
        self.ops, self.kernel, self.stride, self.padding, self.dilation = ops, kernel, stride, padding, dilation

    def forward(self, x: Any) -> tuple:
        y, idx = self.ops["max_pool2d_with_indices"](_host(x), self.kernel, self.stride, self.padding, self.dilation)
        self.idx, self.hw = np.asarray(idx, dtype=np.int64), x.shape[2:]
        return _like(np.asarray(y), x), backend.array_module(x).asarray(self.idx)

    def backward(self, g: Any, *_: Any) -> Any:
        return _like(np.asarray(self.ops["max_unpool2d"](_host(g), self.idx, tuple(self.hw))), g)


# ---- putting them in and taking them out ------------------------------------------------------
def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _pool(ops: dict, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
          ceil_mode: bool = False, return_indices: bool = False, fallback: Callable | None = None) -> Any:
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    p, d = _pair(padding), _pair(dilation)
    if ceil_mode or s[0] < k[0] or s[1] < k[1]:
        # overlapping windows would need a scatter-*add* (unpool writes once), ceil_mode a
        # rule the exercise leaves out: the library's op does these
        ops["skipped"] += 1
        return fallback(x, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=return_indices)
    ops["calls"] += 1
    y, idx = StudentMaxPool2d(ops, k, s, p, d)(x)
    return (y, idx) if return_indices else y


class _FunctionalWithStudentPool:
    """Stands in for ``minifcn.functional`` in a model's module: ``max_pool2d`` is the student's."""

    def __init__(self, real: Any, ops: dict) -> None:
        self._real, self._ops = real, ops

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def max_pool2d(self, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                   ceil_mode: bool = False, return_indices: bool = False) -> Any:
        return _pool(self._ops, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     fallback=self._real.max_pool2d)


def load_pieces(workbook: str | Path, check: bool = True) -> dict:
    """The student's four functions; with ``check``, grade them first and refuse failing ones."""
    workbook = Path(workbook)
    if check:
        results = check_workbook(workbook, list(PIECES))
        bad = [r for r in results if r["status"] != PASS]
        if bad:
            raise StudentPiecesFail(
                "these exercises must pass before the network can run on your code: "
                + ", ".join(f"{r['name']} ({r['status']})" for r in bad)
                + f"; see 'minifcn exercises check {workbook} {' '.join(r['name'] for r in bad)}'")
    return {name: load_function(workbook / f"{name}.py", name) for name in PIECES}


@contextlib.contextmanager
def student_ops(model: nn.Module, workbook: str | Path, check: bool = True,
                pieces: dict | None = None) -> Iterator[dict]:
    """Inside the block, ``model`` convolves and pools with the student's functions.

    Yields a dict of counters: "conv" and "conv_transpose" (layers swapped), "pool" (pooling
    layers swapped), "calls" (student max pooling calls so far), "skipped" (pooling calls the
    library did because the exercise does not cover them: overlapping windows, ceil_mode).
    Raises StudentPiecesFail (naming the pieces) when a needed exercise does not pass.
    ``pieces``: the functions, already loaded and graded (skips loading and grading).
    """
    from .. import functional as F_real
    ops = dict(pieces) if pieces is not None else load_pieces(workbook, check=check)
    ops.update(conv=0, conv_transpose=0, pool=0, calls=0, skipped=0)
    swapped: list[nn.Module] = []
    patched: list[tuple[Any, Any]] = []

    def conv_forward(m: Any) -> Callable:
        def forward(x: Any) -> Any:
            return StudentConv2d(ops, m.kernel_size, m.stride, m.padding, m.dilation)(x, m.weight, m.bias)
        return forward

    def convT_forward(m: Any) -> Callable:
        def forward(x: Any) -> Any:
            return StudentConvTranspose2d(ops, m.kernel_size, m.stride, m.padding, m.output_padding,
                                          m.dilation)(x, m.weight, m.bias)
        return forward

    def pool_forward(m: Any) -> Callable:
        def forward(x: Any) -> Any:
            return _pool(ops, x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices,
                         fallback=F_real.max_pool2d)
        return forward

    try:
        for m in model.modules():
            if isinstance(m, nn.Conv2d) and m.groups == 1:
                object.__setattr__(m, "forward", conv_forward(m))
                ops["conv"] += 1
            elif isinstance(m, nn.ConvTranspose2d) and m.groups == 1:
                object.__setattr__(m, "forward", convT_forward(m))
                ops["conv_transpose"] += 1
            elif isinstance(m, nn.MaxPool2d):
                object.__setattr__(m, "forward", pool_forward(m))
                ops["pool"] += 1
            else:
                continue
            swapped.append(m)
        for cls in {type(m) for m in model.modules()}:     # models that call F.max_pool2d themselves
            module = sys.modules.get(cls.__module__)
            if module is not None and getattr(module, "F", None) is F_real:
                patched.append((module, module.F))
                module.F = _FunctionalWithStudentPool(F_real, ops)
        yield ops
    finally:
        for m in swapped:
            m.__dict__.pop("forward", None)
        for module, original in patched:
            module.F = original


def train_with_student_ops(cfg: Any, workbook: str | Path, **kwargs: Any) -> list[dict]:
    """``train(cfg, **kwargs)`` with the model running on the pieces of the student's ``workbook``.

    Grades the pieces first and raises StudentPiecesFail (naming them) if one does not pass.
    The model that ``train`` builds is swapped as in ``student_ops`` and restored at the end.
    """
    from .. import train as training
    workbook = Path(workbook)
    log = kwargs.get("log", print)
    log(f"grading {', '.join(PIECES)} in {workbook} ...")
    ops = load_pieces(workbook, check=True)
    log("all pass: the network convolves and pools with your code")
    original_build = training.build_model
    with contextlib.ExitStack() as stack:
        def build_model(*args: Any, **kw: Any) -> nn.Module:
            model = original_build(*args, **kw)
            counts = stack.enter_context(student_ops(model, workbook, check=False, pieces=ops))
            log(f"your code runs {counts['conv']} convolutions, {counts['conv_transpose']} transposed "
                f"convolutions and the max pooling of {type(model).__name__}")
            return model
        training.build_model = build_model
        try:
            return training.train(cfg, **kwargs)
        finally:
            training.build_model = original_build
