"""The student's code inside the library: a U-Net that runs, learns and steps on the student's pieces.

``train_with_student_ops(cfg, workbook)`` (``minifcn train --exercises DIR``) grades the
student's pieces, refuses naming those that do not pass, prints which operations are the
student's and which remain the library's, and trains with:

- every ``nn.Conv2d`` (groups=1) computing with ``StudentConv2d``: the student's
  conv2d_forward and conv2d_backward when both are written, else y = W @ im2col(x) and
  dx = col2im(Wᵀ @ dy) with the student's im2col and col2im;
- every ``nn.ConvTranspose2d`` (groups=1) with ``StudentConvTranspose2d``: the student's
  conv_transpose2d (+ the bias, a broadcast add) and conv_transpose2d_backward when both are
  written, else col2im forward and im2col backward (the same two functions the other way round);
- max pooling (``nn.MaxPool2d``, and ``F.max_pool2d`` called in a model's ``forward``) with
  ``StudentMaxPool2d``: max_pool2d_with_indices forward, max_unpool2d of the gradient backward;
- ``nn.BatchNorm2d`` with ``StudentBatchNorm`` (batch_norm_forward, whose new running
  statistics are written into the layer's buffers, and batch_norm_backward), training and eval;
- ReLU (``F.relu`` in a model's ``forward``, ``nn.ReLU``) with ``StudentReLU`` (relu, relu_backward);
- the U-Net's skip connection (``center_crop`` + ``mf.cat`` in ``minifcn.models.unet``) with
  ``StudentCropConcat`` (crop_and_concat, crop_and_concat_backward);
- the loss (``train.segmentation_loss``): pixel_cross_entropy and softmax_dice_loss, each
  returning its own gradient (``StudentLoss``);
- the optimiser (``train``'s ``optim.Adam``) with ``StudentAdam``, whose update is adam_step.

Which pieces are needed: im2col, col2im, max_pool2d_with_indices and max_unpool2d always
(``REQUIRED``); each other piece (``OPTIONAL``) once its file is written (no longer the stub).
An operation whose forward or backward piece is still a stub stays the library's, and the
printed table says so. A written piece that does not pass stops the run, naming it.

The swap is per instance (an instance attribute ``forward``), plus stand-ins for the names
``F`` (and ``mf``, ``center_crop`` in the U-Net's module, ``segmentation_loss`` and
``optim`` in ``minifcn.train``) that forward everything else to the real ones. Nothing in
``minifcn.functional`` is touched, and everything is put back on exit. The student's
functions run on host (NumPy) arrays; arrays on a GPU are copied to the host and back.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import backend, nn, optim
from ..autograd import Function
from .grader import PASS, check_workbook, load_function

REQUIRED = ("im2col", "col2im", "max_pool2d_with_indices", "max_unpool2d")
OPTIONAL = ("conv2d_forward", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
            "pixel_cross_entropy", "softmax_dice_loss", "relu", "relu_backward",
            "crop_and_concat", "crop_and_concat_backward", "batch_norm_forward", "batch_norm_backward",
            "adam_step")
PIECES = REQUIRED + OPTIONAL

# (operation, the pieces that make it the student's, what runs otherwise)
OPERATIONS = (
    ("convolution", ("conv2d_forward", "conv2d_backward"),
     "your im2col and col2im inside the library's products W @ cols, Wᵀ @ dy"),
    ("max pooling", ("max_pool2d_with_indices", "max_unpool2d"), None),
    ("transposed convolution", ("conv_transpose2d", "conv_transpose2d_backward"),
     "your col2im and im2col inside the library's products"),
    ("batch norm", ("batch_norm_forward", "batch_norm_backward"), "the library's"),
    ("ReLU", ("relu", "relu_backward"), "the library's"),
    ("skip crop + concatenation", ("crop_and_concat", "crop_and_concat_backward"), "the library's"),
    ("cross-entropy loss", ("pixel_cross_entropy",), "the library's"),
    ("Dice loss", ("softmax_dice_loss",), "the library's"),
    ("Adam step", ("adam_step",), "the library's"),
)


class StudentPiecesFail(RuntimeError):
    """A piece the swap needs does not pass its grader."""


def _host(a: Any) -> np.ndarray:
    return backend.to_numpy(a)


def _like(a: np.ndarray, ref: Any) -> Any:
    """``a`` (a NumPy array) on ``ref``'s device with ``ref``'s dtype."""
    return backend.array_module(ref).asarray(a, dtype=ref.dtype)


def _has(ops: dict, names: tuple) -> bool:
    return all(n in ops for n in names)


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
    """conv2d with the student's conv2d_forward/backward, or their im2col (forward) and col2im (dx)."""

    def __init__(self, ops: dict, kernel: tuple, stride: tuple, padding: Any, dilation: tuple) -> None:
        self.ops, self.kernel, self.stride, self.dilation = ops, kernel, stride, dilation
        self.sides = _sides(padding, kernel, dilation)
        self.whole = _has(ops, ("conv2d_forward", "conv2d_backward"))

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        (t, bo), (le, r) = self.sides
        xh = _host(x)
        self.sym = (t == bo and le == r)
        pad = (t, le) if self.sym else (0, 0)
        if not self.sym:                # asymmetric "same" padding: pad here, the student pads 0
            xh = np.pad(xh, ((0, 0), (0, 0), (t, bo), (le, r)))
        self.x_shape, self.padded_hw, self.pad = x.shape, xh.shape[2:], pad
        self.w, self.has_bias, self.xh = _host(w), b is not None, xh
        if self.whole:
            y = self.ops["conv2d_forward"](xh, self.w, None if b is None else _host(b), self.stride, pad,
                                           self.dilation)
            return _like(np.asarray(y), x)
        cols = np.asarray(self.ops["im2col"](xh, self.kernel, self.stride, pad, self.dilation))
        C_out = self.w.shape[0]
        N, _, H, W = xh.shape
        OH = (H + 2 * pad[0] - self.dilation[0] * (self.kernel[0] - 1) - 1) // self.stride[0] + 1
        OW = (W + 2 * pad[1] - self.dilation[1] * (self.kernel[1] - 1) - 1) // self.stride[1] + 1
        y = self.w.reshape(C_out, -1) @ cols                      # (N, C_out, OH·OW)
        if b is not None:
            y = y + _host(b).reshape(1, C_out, 1)
        self.cols = cols
        return _like(y.reshape(N, C_out, OH, OW), x)

    def backward(self, g: Any) -> tuple:
        gh = _host(g)
        if self.whole:
            gx, gw, gb = self.ops["conv2d_backward"](gh, self.xh, self.w, self.stride, self.pad, self.dilation)
            gx, gw, gb = np.asarray(gx), np.asarray(gw), np.asarray(gb)
        else:
            N, C_out = gh.shape[:2]
            gr = gh.reshape(N, C_out, -1)
            gw = (gr @ self.cols.transpose(0, 2, 1)).sum(axis=0).reshape(self.w.shape)
            gb = gr.sum(axis=(0, 2))
            dcols = self.w.reshape(C_out, -1).T @ gr
            gx = np.asarray(self.ops["col2im"](dcols, tuple(self.padded_hw), self.kernel, self.stride, self.pad,
                                               self.dilation))
        if not self.sym:
            (t, bo), (le, r) = self.sides
            gx = gx[:, :, t:gx.shape[2] - bo, le:gx.shape[3] - r]
        return (_like(gx, g), _like(gw, g), _like(gb, g) if self.has_bias else None)


class StudentConvTranspose2d(Function):
    """conv_transpose2d with the student's conv_transpose2d/_backward, or their col2im (forward), im2col (dx)."""

    def __init__(self, ops: dict, kernel: tuple, stride: tuple, padding: tuple, output_padding: tuple,
                 dilation: tuple) -> None:
        self.ops, self.kernel, self.stride, self.padding = ops, kernel, stride, padding
        self.output_padding, self.dilation = output_padding, dilation
        # the exercise has output_padding < stride (the U-Net's is 0)
        self.whole = _has(ops, ("conv_transpose2d", "conv_transpose2d_backward")) and \
            all(op < s for op, s in zip(output_padding, stride))

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        xh, wh = _host(x), _host(w)
        N, C_in, H, W = xh.shape
        C_out = wh.shape[1]
        (KH, KW), (SH, SW), (PH, PW), (DH, DW) = self.kernel, self.stride, self.padding, self.dilation
        OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + self.output_padding[0] + 1
        OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + self.output_padding[1] + 1
        if self.whole:
            y = np.asarray(self.ops["conv_transpose2d"](xh, wh, self.stride, self.padding, self.output_padding,
                                                        self.dilation))
        else:
            cols = wh.reshape(C_in, -1).T @ xh.reshape(N, C_in, H * W)          # (N, C_out·KH·KW, H·W)
            y = np.asarray(self.ops["col2im"](cols, (OH, OW), self.kernel, self.stride, self.padding,
                                              self.dilation))
        if b is not None:
            y = y + _host(b).reshape(1, C_out, 1, 1)
        self.xh, self.wh, self.has_bias = xh, wh, b is not None
        return _like(y, x)

    def backward(self, g: Any) -> tuple:
        gh = _host(g)
        if self.whole:
            gx, gw, gb = (np.asarray(a) for a in self.ops["conv_transpose2d_backward"](
                gh, self.xh, self.wh, self.stride, self.padding, self.output_padding, self.dilation))
        else:
            N, C_in, H, W = self.xh.shape
            gcols = np.asarray(self.ops["im2col"](gh, self.kernel, self.stride, self.padding, self.dilation))
            gcols = gcols[:, :, :H * W]          # output_padding may leave one more window than inputs
            gx = (self.wh.reshape(C_in, -1) @ gcols).reshape(self.xh.shape)
            gw = (self.xh.reshape(N, C_in, -1) @ gcols.transpose(0, 2, 1)).sum(axis=0).reshape(self.wh.shape)
            gb = gh.sum(axis=(0, 2, 3))
        return (_like(gx, g), _like(gw, g), _like(gb, g) if self.has_bias else None)


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


class StudentBatchNorm(Function):
    """``nn.BatchNorm2d`` with the student's batch_norm_forward (the running statistics it returns
    are written into the layer's buffers) and batch_norm_backward."""

    def __init__(self, ops: dict, layer: Any) -> None:
        self.ops, self.layer = ops, layer

    def forward(self, x: Any, w: Any = None, b: Any = None) -> Any:
        m = self.layer
        xh = _host(x)
        C = xh.shape[1]
        self.training = m.training or m.running_mean is None      # no running statistics: the batch's
        self.gamma = _host(w) if w is not None else np.ones(C, xh.dtype)
        beta = _host(b) if b is not None else np.zeros(C, xh.dtype)
        tracked = m.running_mean is not None
        self.rm = _host(m.running_mean).copy() if tracked else np.zeros(C, xh.dtype)
        self.rv = _host(m.running_var).copy() if tracked else np.ones(C, xh.dtype)
        y, new_mean, new_var = self.ops["batch_norm_forward"](xh, self.gamma, beta, self.rm, self.rv, self.training,
                                                              m.momentum, m.eps)
        if self.training and tracked:
            m.running_mean[...] = _like(np.asarray(new_mean), m.running_mean)
            m.running_var[...] = _like(np.asarray(new_var), m.running_var)
        self.xh, self.has = xh, (w is not None, b is not None)
        return _like(np.asarray(y), x)

    def backward(self, g: Any) -> tuple:
        dx, dgamma, dbeta = self.ops["batch_norm_backward"](_host(g), self.xh, self.gamma, self.rm, self.rv,
                                                            self.training, self.layer.eps)
        return (_like(np.asarray(dx), g), _like(np.asarray(dgamma), g) if self.has[0] else None,
                _like(np.asarray(dbeta), g) if self.has[1] else None)


class StudentReLU(Function):
    """ReLU with the student's relu and relu_backward."""

    def __init__(self, ops: dict) -> None:
        self.ops = ops

    def forward(self, x: Any) -> Any:
        self.xh = _host(x)
        return _like(np.asarray(self.ops["relu"](self.xh)), x)

    def backward(self, g: Any) -> Any:
        return _like(np.asarray(self.ops["relu_backward"](_host(g), self.xh)), g)


class StudentCropConcat(Function):
    """U-Net's skip: the student's crop_and_concat(skip, x) and crop_and_concat_backward."""

    def __init__(self, ops: dict) -> None:
        self.ops = ops

    def forward(self, skip: Any, x: Any) -> Any:
        self.skip_shape = tuple(int(n) for n in skip.shape)
        return _like(np.asarray(self.ops["crop_and_concat"](_host(skip), _host(x))), x)

    def backward(self, g: Any) -> tuple:
        dskip, dx = self.ops["crop_and_concat_backward"](_host(g), self.skip_shape)
        return _like(np.asarray(dskip), g), _like(np.asarray(dx), g)


class StudentLoss(Function):
    """A loss the student wrote with its own gradient: fn(logits, target) -> (loss, dlogits)."""

    def __init__(self, fn: Callable, target: Any) -> None:
        self.fn, self.target = fn, target

    def forward(self, z: Any) -> Any:
        loss, self.d = self.fn(_host(z), _host(self.target).astype(np.int64, copy=False))
        return backend.array_module(z).asarray(float(loss), dtype=z.dtype)

    def backward(self, g: Any) -> Any:
        return _like(np.asarray(self.d), g) * g


class StudentAdam(optim.Adam):
    """``optim.Adam`` whose update of each parameter is the student's adam_step (same state, so
    checkpoints and ``--resume`` work as with the library's Adam)."""

    fused = False       # the readable per-parameter path: it calls _update

    def __init__(self, params: Any, *args: Any, adam_step: Callable, **kwargs: Any) -> None:
        super().__init__(params, *args, **kwargs)
        self.adam_step = adam_step

    def _update(self, p: Any, g: Any, state: dict[str, Any]) -> None:
        if "exp_avg" not in state:
            xp = backend.array_module(p)
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(p), xp.zeros_like(p)
        new_p, m, v = self.adam_step(_host(p).copy(), _host(g).copy(), _host(state["exp_avg"]).copy(),
                                     _host(state["exp_avg_sq"]).copy(), state["step"], self.lr, self.betas,
                                     self.eps, self.weight_decay)
        p[...] = _like(np.asarray(new_p), p)
        state["exp_avg"][...] = _like(np.asarray(m), p)
        state["exp_avg_sq"][...] = _like(np.asarray(v), p)


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
    """Stands in for ``minifcn.functional`` in a model's module: ``max_pool2d`` is the student's,
    and ``relu`` too when relu and relu_backward are written."""

    def __init__(self, real: Any, ops: dict) -> None:
        self._real, self._ops = real, ops

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def max_pool2d(self, x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                   ceil_mode: bool = False, return_indices: bool = False) -> Any:
        return _pool(self._ops, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     fallback=self._real.max_pool2d)

    def relu(self, x: Any) -> Any:
        if not _has(self._ops, ("relu", "relu_backward")):
            return self._real.relu(x)
        self._ops["relu_calls"] += 1
        return StudentReLU(self._ops)(x)


class _MinifcnWithStudentCat:
    """Stands in for ``minifcn`` in the U-Net's module: ``cat([skip, x], axis=1)`` is the student's
    crop_and_concat (the module's ``center_crop`` is made the identity meanwhile: the crop is theirs)."""

    def __init__(self, real: Any, ops: dict) -> None:
        self._real, self._ops = real, ops

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def cat(self, tensors: Any, axis: int = 0) -> Any:
        tensors = list(tensors)
        if len(tensors) != 2 or axis != 1 or tensors[0].ndim != 4:
            return self._real.cat(tensors, axis=axis)
        self._ops["concat_calls"] += 1
        return StudentCropConcat(self._ops)(tensors[0], tensors[1])


def _uncropped(x: Any, height: int, width: int) -> Any:
    return x        # the student's crop_and_concat crops


def written_pieces(workbook: str | Path) -> list[str]:
    """REQUIRED, and each OPTIONAL piece whose file in ``workbook`` is written (not the stub, not missing)."""
    from .workbook import file_status
    return list(REQUIRED) + [n for n in OPTIONAL if file_status(workbook, n) == "written"]


def load_pieces(workbook: str | Path, check: bool = True) -> dict:
    """The student's functions (``written_pieces``); with ``check``, grade them first and refuse failing ones."""
    workbook = Path(workbook)
    names = written_pieces(workbook)
    if check:
        results = check_workbook(workbook, names)
        bad = [r for r in results if r["status"] != PASS]
        if bad:
            raise StudentPiecesFail(
                "these exercises must pass before the network can run on your code: "
                + ", ".join(f"{r['name']} ({r['status']})" for r in bad)
                + f"; see 'minifcn exercises check {workbook} {' '.join(r['name'] for r in bad)}'")
    return {name: load_function(workbook / f"{name}.py", name) for name in names}


@contextlib.contextmanager
def student_ops(model: nn.Module, workbook: str | Path, check: bool = True,
                pieces: dict | None = None) -> Iterator[dict]:
    """Inside the block, ``model`` computes with the student's functions (see the module docstring).

    Yields the functions and counters: "conv", "conv_transpose", "pool", "batch_norm", "relu_layers"
    (layers swapped), "calls" (student max pooling calls so far), "skipped" (pooling calls the
    library did because the exercise does not cover them: overlapping windows, ceil_mode),
    "relu_calls" and "concat_calls" (calls of F.relu / the U-Net's skip so far).
    Raises StudentPiecesFail (naming the pieces) when a needed exercise does not pass.
    ``pieces``: the functions, already loaded and graded (skips loading and grading).
    """
    import minifcn as mf_real

    from .. import functional as F_real
    ops = dict(pieces) if pieces is not None else load_pieces(workbook, check=check)
    ops.update(conv=0, conv_transpose=0, pool=0, batch_norm=0, relu_layers=0, calls=0, skipped=0, relu_calls=0,
               concat_calls=0)
    swapped: list[nn.Module] = []
    patched: list[tuple[Any, str, Any]] = []

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

    def bn_forward(m: Any) -> Callable:
        def forward(x: Any) -> Any:
            if x.ndim != 4:
                return type(m).forward(m, x)
            return StudentBatchNorm(ops, m)(x, m.weight, m.bias)
        return forward

    def relu_forward(x: Any) -> Any:
        ops["relu_calls"] += 1
        return StudentReLU(ops)(x)

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
            elif isinstance(m, nn.BatchNorm2d) and _has(ops, ("batch_norm_forward", "batch_norm_backward")):
                object.__setattr__(m, "forward", bn_forward(m))
                ops["batch_norm"] += 1
            elif type(m) is nn.ReLU and _has(ops, ("relu", "relu_backward")):
                object.__setattr__(m, "forward", relu_forward)
                ops["relu_layers"] += 1
            else:
                continue
            swapped.append(m)
        for cls in {type(m) for m in model.modules()}:     # models that call F.max_pool2d, F.relu themselves
            module = sys.modules.get(cls.__module__)
            if module is not None and getattr(module, "F", None) is F_real:
                patched.append((module, "F", module.F))
                module.F = _FunctionalWithStudentPool(F_real, ops)
            if module is not None and _has(ops, ("crop_and_concat", "crop_and_concat_backward")) \
                    and getattr(module, "mf", None) is mf_real and callable(getattr(module, "center_crop", None)):
                patched += [(module, "mf", module.mf), (module, "center_crop", module.center_crop)]
                module.mf, module.center_crop = _MinifcnWithStudentCat(mf_real, ops), _uncropped
        yield ops
    finally:
        for m in swapped:
            m.__dict__.pop("forward", None)
        for module, name, original in reversed(patched):
            setattr(module, name, original)


def student_segmentation_loss(ops: dict, library: Callable) -> Callable:
    """``train.segmentation_loss`` with the student's pixel_cross_entropy and softmax_dice_loss where
    written; the library's (``library``) for the rest, and for a cross-entropy with a weight map
    or void labels (``ignore_index``; the exercises have neither)."""
    from .. import functional as F

    def cross_entropy(logits: Any, target: Any, weight_map: Any) -> Any:
        if "pixel_cross_entropy" in ops and weight_map is None and not (_host(target) < 0).any():
            return StudentLoss(ops["pixel_cross_entropy"], target)(logits)
        return F.cross_entropy(logits, target, weight_map=weight_map)

    def dice(logits: Any, target: Any) -> Any:
        if "softmax_dice_loss" in ops:
            return StudentLoss(ops["softmax_dice_loss"], target)(logits)
        return F.dice_loss(logits, target)

    def segmentation_loss(kind: str, logits: Any, target: Any, weight_map: Any = None,
                          ignore_index: int | None = None) -> Any:
        if ignore_index is not None and (_host(target) == ignore_index).any():
            return library(kind, logits, target, weight_map, ignore_index)   # void labels: not in the exercises
        if kind == "ce":
            return cross_entropy(logits, target, weight_map)
        if kind == "dice":
            return dice(logits, target)
        if kind == "ce+dice":
            return cross_entropy(logits, target, weight_map) + dice(logits, target)
        return library(kind, logits, target, weight_map, ignore_index)
    return segmentation_loss


class _OptimWithStudentAdam:
    """Stands in for ``minifcn.optim`` in ``minifcn.train``: ``Adam`` is ``StudentAdam``."""

    def __init__(self, real: Any, adam_step: Callable) -> None:
        self._real, self._adam_step = real, adam_step

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def Adam(self, params: Any, *args: Any, **kwargs: Any) -> StudentAdam:  # noqa: N802 - the class's name
        return StudentAdam(params, *args, adam_step=self._adam_step, **kwargs)


def describe(ops: dict, counts: dict | None = None, loss: str = "ce+dice", weight_map: bool = False) -> list[str]:
    """The table ``train --exercises`` prints: each operation, and whether it is the student's."""
    lines = ["the network's operations (yours: from your workbook; library: minifcn's own; partly: both):"]
    for label, names, otherwise in OPERATIONS:
        if (label == "cross-entropy loss" and loss == "dice") or (label == "Dice loss" and loss == "ce"):
            continue
        if _has(ops, names):
            note = ""
            if label == "cross-entropy loss" and weight_map:
                note = "  (with a weight map: the library's, the exercise has none)"
            if label == "transposed convolution":
                note = "  (+ the bias, a broadcast add)"
            lines.append(f"  yours    {label:<26} {', '.join(names)}{note}")
        else:
            missing = [n for n in names if n not in ops]
            who = "partly " if otherwise.startswith("your") else "library"     # your im2col/col2im inside
            lines.append(f"  {who}  {label:<26} {otherwise} (not written yet: {', '.join(missing)})")
    if counts is not None:
        lines.append(f"  in this model: {counts['conv']} convolutions, {counts['conv_transpose']} transposed "
                     f"convolutions, {counts['batch_norm']} batch norms swapped; max pooling and ReLU calls "
                     f"in its forward are swapped as they run")
    lines.append("  always the library's: autograd (the graph, the order of the backward calls, adding the "
                 "gradients that meet at a skip), the sum of the two losses, data, augmentation, metrics and "
                 "the learning-rate schedule")
    return lines


def train_with_student_ops(cfg: Any, workbook: str | Path, check: bool = True, **kwargs: Any) -> list[dict]:
    """``train(cfg, **kwargs)`` with the model, its loss and its Adam step on the student's ``workbook``.

    Grades the pieces first (``written_pieces``) and raises StudentPiecesFail (naming them) if
    one does not pass (``check=False``: loads them without grading, for tests of reference
    solutions). Prints which operations are the student's (``describe``). The model
    that ``train`` builds is swapped as in ``student_ops``, ``train.segmentation_loss`` and
    ``train.optim.Adam`` as in ``student_segmentation_loss`` and ``StudentAdam``; all restored
    at the end.
    """
    from .. import train as training
    workbook = Path(workbook)
    log = kwargs.get("log", print)
    if check:
        log(f"grading {', '.join(written_pieces(workbook))} in {workbook} ...")
    ops = load_pieces(workbook, check=check)
    if check:
        log("all pass: the network runs on your code")
    originals = (training.build_model, training.segmentation_loss, training.optim)
    with contextlib.ExitStack() as stack:
        def build_model(*args: Any, **kw: Any) -> nn.Module:
            model = originals[0](*args, **kw)
            counts = stack.enter_context(student_ops(model, workbook, check=False, pieces=ops))
            for line in describe(ops, counts, cfg.loss, cfg.data == "cells" and cfg.weight_map):
                log(line)
            return model
        training.build_model = build_model
        training.segmentation_loss = student_segmentation_loss(ops, originals[1])
        if "adam_step" in ops:
            training.optim = _OptimWithStudentAdam(optim, ops["adam_step"])
        try:
            return training.train(cfg, **kwargs)
        finally:
            training.build_model, training.segmentation_loss, training.optim = originals
