"""The exercises: task, stub, hints, reference and the inputs each grader draws.

Every exercise's inputs come from a hypothesis strategy that draws sizes *first* and
small-first (batch 1..2, channels 1..2, spatial 1..5, kernels 1..3, strides up to 4 so a
stride larger than the kernel is in, padding, dilation, 1×1 inputs, ties in max pooling,
classes absent from a label map), then the dtype where the task says "the input's dtype"
(float64 or float32), then the values: small integers (ties on purpose) mixed with
non-integers of magnitudes 1e-3 to 1e2 (so an integer or float16 buffer shows). Hypothesis
shrinks towards the start of every range and towards zeros, so the counterexample a
student sees is as small as the bug allows; ``examples`` are inputs tried before the search
because they reach a plausible mistake that random draws reach rarely.

An entry's grading fields (all optional, see ``Exercise``): ``dtypes`` (one spec per output:
"float64", "int64", "bool", "like:ARG" for the dtype of argument ARG, "float"/"int" for a
Python number), ``modifies`` (arguments the task says are updated in place: their state
after the call is compared as extra outputs, and they may change), ``may_alias`` (arguments
a result may share memory with), ``examples``, ``call_limit_s`` (CPU seconds per call,
first call not timed), ``pick_hints`` (hints chosen from the counterexample).
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import solutions as S


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise of the workbook (file ``NAME.py`` defining the function ``NAME``)."""
    name: str
    lesson: int
    task: str                                  # markdown: the math, the shapes, the convention
    hints: tuple[str, ...]
    cases: Callable[[], Any]                   # () -> strategy of argument dicts (in signature order)
    outputs: tuple[str, ...] = ()              # names of the parts of a tuple result
    imports: str = "import numpy as np"
    expected: Callable[[dict], Any] | None = None   # None: the reference solution's result
    rtol: float = 1e-6
    atol: float = 1e-9
    max_examples: int = 100
    uses: tuple[str, ...] = ()                 # earlier exercises the stub imports (the student's own files)
    dtypes: tuple[str | None, ...] = ()        # per output: "float64", "int64", "like:ARG", "float", "int"
    modifies: tuple[str, ...] = ()             # arguments updated in place (compared after the call)
    may_alias: tuple[str, ...] = ()            # arguments a result may be a view of
    examples: tuple[dict, ...] = ()            # inputs tried first (rare plausible mistakes)
    call_limit_s: float = 1.0                  # CPU seconds per call (the first call is not timed)
    pick_hints: Callable[[dict, Any, Any], Any] | None = None   # (case, expected, yours) -> hints or None

    @property
    def reference(self) -> Callable:
        return getattr(S, self.name)

    def expected_for(self, case: dict) -> Any:
        """The expected result (a tuple: the outputs, then the ``modifies`` arguments after the call)."""
        args = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        out = self.expected(args) if self.expected is not None else self.reference(*args.values())
        if self.modifies and self.expected is None:
            out = (tuple(out) if isinstance(out, tuple) else (out,)) + tuple(args[m] for m in self.modifies)
        return out

    def solution_source(self) -> str:
        return inspect.getsource(self.reference)

    def stub_source(self) -> str:
        """The reference's signature and docstring, with a NotImplementedError for a body."""
        fn = self.reference
        lines = inspect.getsource(fn).splitlines()
        head = []
        for line in lines:              # the def line(s), up to the closing '):'
            head.append(line)
            if line.rstrip().endswith(":"):
                break
        doc = inspect.getdoc(fn) or ""
        body = ['    """' + doc.replace("\n", "\n    ") + '"""',
                f'    raise NotImplementedError("{self.name}: write your solution here")']
        return "\n".join(head + body) + "\n"


# ---- strategy helpers -----------------------------------------------------------------------
def _ints(lo: int, hi: int) -> Any:
    return st.integers(lo, hi)


FRACTIONS = (0.5, 0.1, -1.25, 2.75, 1 / 3, -0.3, 1e-3, 37.125, -0.0625, 99.9)
SMALL_FRACTIONS = (0.5, 0.1, -1.25, 1 / 3, -0.3)
POSITIVE_FRACTIONS = (0.5, 0.1, 2.75, 1 / 3, 37.125, 1e-3)


def _array(draw: Any, shape: tuple, lo: int = -3, hi: int = 3, dtype: Any = np.float64,
           fractions: tuple = FRACTIONS) -> np.ndarray:
    """Small integers (ties on purpose) mixed with non-integers of varied magnitude, shrinking to zeros.

    Integer and bool dtypes (labels, masks) get integers only; ``fractions=()`` too.
    """
    if np.dtype(dtype).kind in "iub" or not fractions:
        return draw(hnp.arrays(np.int64, shape, elements=_ints(lo, hi))).astype(dtype)
    values = st.one_of(_ints(lo, hi).map(float), st.sampled_from(fractions))
    return draw(hnp.arrays(np.float64, shape, elements=values)).astype(dtype)


def _float_dtype(draw: Any) -> Any:
    """float64 or float32 (a task that says "the input's dtype" must keep either)."""
    return draw(st.sampled_from([np.float64, np.float32]))


def _out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def _window_case(draw: Any, pool: bool = False) -> dict:
    """Sizes and hyperparameters of a sliding-window op with at least one window position."""
    N, C = draw(_ints(1, 2)), draw(_ints(1, 2))
    H, W = draw(_ints(1, 5)), draw(_ints(1, 5))
    KH, KW = draw(_ints(1, 3)), draw(_ints(1, 3))
    SH, SW = draw(_ints(1, 4)), draw(_ints(1, 4))
    if pool:     # PyTorch: padding at most half the kernel, so a window never lies all in the padding
        PH, PW = draw(_ints(0, KH // 2)), draw(_ints(0, KW // 2))
    else:
        PH, PW = draw(_ints(0, 2)), draw(_ints(0, 2))
    DH, DW = draw(_ints(1, 2)), draw(_ints(1, 2))
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    assume(OH >= 1 and OW >= 1)
    if pool:     # and no window may see padding only
        assume(all(any(0 <= o * SH - PH + i * DH < H for i in range(KH)) for o in range(OH)))
        assume(all(any(0 <= o * SW - PW + j * DW < W for j in range(KW)) for o in range(OW)))
    return dict(N=N, C=C, H=H, W=W, kernel_size=(KH, KW), stride=(SH, SW), padding=(PH, PW),
                dilation=(DH, DW), out=(OH, OW))


def _hyper(c: dict) -> dict:
    return {k: c[k] for k in ("kernel_size", "stride", "padding", "dilation")}


# ---- the cases of each exercise -------------------------------------------------------------
@st.composite
def _one_hot_cases(draw):
    N, H, W, K = draw(_ints(1, 2)), draw(_ints(1, 5)), draw(_ints(1, 5)), draw(_ints(1, 4))
    return {"labels": _array(draw, (N, H, W), 0, K - 1, np.int64), "num_classes": K}


@st.composite
def _cross_entropy_cases(draw):
    N, K, H, W = draw(_ints(1, 2)), draw(_ints(1, 3)), draw(_ints(1, 3)), draw(_ints(1, 3))
    scale = draw(st.sampled_from([1.0, 0.5, 1000.0]))      # 1000: does exp() overflow?
    logits = _array(draw, (N, K, H, W), fractions=SMALL_FRACTIONS) * scale
    return {"logits": logits, "target": _array(draw, (N, H, W), 0, K - 1, np.int64)}


@st.composite
def _im2col_cases(draw):
    c = draw(_window_case())
    return {"x": _array(draw, (c["N"], c["C"], c["H"], c["W"]), dtype=_float_dtype(draw)), **_hyper(c)}


@st.composite
def _col2im_cases(draw):
    c = draw(_window_case())
    (KH, KW), (OH, OW) = c["kernel_size"], c["out"]
    cols = _array(draw, (c["N"], c["C"] * KH * KW, OH * OW), dtype=_float_dtype(draw))
    return {"cols": cols, "input_size": (c["H"], c["W"]), **_hyper(c)}


@st.composite
def _conv_forward_cases(draw):
    c = draw(_window_case())
    C_out = draw(_ints(1, 2))
    x = _array(draw, (c["N"], c["C"], c["H"], c["W"]))
    w = _array(draw, (C_out, c["C"]) + c["kernel_size"])
    b = draw(st.one_of(st.none(), st.builds(lambda v: np.asarray(v, np.float64),
                                            st.lists(st.one_of(_ints(-3, 3).map(float), st.sampled_from(FRACTIONS)),
                                                     min_size=C_out, max_size=C_out))))
    return {"x": x, "weight": w, "bias": b, **{k: c[k] for k in ("stride", "padding", "dilation")}}


@st.composite
def _conv_backward_cases(draw):
    c = draw(_window_case())
    C_out = draw(_ints(1, 2))
    dy = _array(draw, (c["N"], C_out) + c["out"])
    x = _array(draw, (c["N"], c["C"], c["H"], c["W"]))
    w = _array(draw, (C_out, c["C"]) + c["kernel_size"])
    return {"dy": dy, "x": x, "weight": w, **{k: c[k] for k in ("stride", "padding", "dilation")}}


@st.composite
def _pool_cases(draw):
    c = draw(_window_case(pool=True))
    return {"x": _array(draw, (c["N"], c["C"], c["H"], c["W"]), dtype=_float_dtype(draw)), **_hyper(c)}


@st.composite
def _unpool_cases(draw):
    """Indices from a real max pooling with non-overlapping windows (stride >= kernel)."""
    N, C = draw(_ints(1, 2)), draw(_ints(1, 2))
    H, W = draw(_ints(1, 5)), draw(_ints(1, 5))
    KH, KW = draw(_ints(1, min(3, H))), draw(_ints(1, min(3, W)))
    SH, SW = draw(_ints(KH, 4)), draw(_ints(KW, 4))
    assume(_out(H, KH, SH, 0, 1) >= 1 and _out(W, KW, SW, 0, 1) >= 1)
    plane = _array(draw, (N, C, H, W), fractions=())
    values, indices = S.max_pool2d_with_indices(plane, (KH, KW), (SH, SW))
    x = _array(draw, values.shape, 1, 5, dtype=_float_dtype(draw),   # nonzero, so a value in the wrong cell shows
               fractions=POSITIVE_FRACTIONS)
    return {"x": x, "indices": indices, "output_size": (H, W)}


@st.composite
def _scale_cases(draw):
    N, C, H, W = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 3)), draw(_ints(1, 3))
    scale = draw(_ints(1, 3))
    return {"x": _array(draw, (N, C, H, W), 1, 5, dtype=_float_dtype(draw), fractions=POSITIVE_FRACTIONS),
            "scale": scale}


@st.composite
def _conv_matrix_cases(draw):
    c = draw(_window_case())
    return {"weight": _array(draw, c["kernel_size"], 1, 3, fractions=POSITIVE_FRACTIONS),
            "input_size": (c["H"], c["W"]),
            **{k: c[k] for k in ("stride", "padding", "dilation")}}


@st.composite
def _conv_transpose_cases(draw):
    N, C_in, C_out = draw(_ints(1, 2)), draw(_ints(1, 2)), draw(_ints(1, 2))
    H, W = draw(_ints(1, 3)), draw(_ints(1, 3))
    KH, KW = draw(_ints(1, 3)), draw(_ints(1, 3))
    SH, SW = draw(_ints(1, 3)), draw(_ints(1, 3))
    PH, PW = draw(_ints(0, 2)), draw(_ints(0, 2))
    DH, DW = draw(_ints(1, 2)), draw(_ints(1, 2))
    OPH, OPW = draw(_ints(0, SH - 1)), draw(_ints(0, SW - 1))
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1
    assume(OH >= 1 and OW >= 1)
    return {"x": _array(draw, (N, C_in, H, W)), "weight": _array(draw, (C_in, C_out, KH, KW)),
            "stride": (SH, SW), "padding": (PH, PW), "output_padding": (OPH, OPW), "dilation": (DH, DW)}


@st.composite
def _bilinear_cases(draw):
    return {"channels": draw(_ints(1, 2)), "scale": draw(_ints(1, 4))}


@st.composite
def _output_size_cases(draw):
    kind = draw(st.sampled_from(["conv", "transpose", "pool"]))
    i, k = draw(_ints(1, 12)), draw(_ints(1, 5))
    s, d = draw(_ints(1, 4)), draw(_ints(1, 3))
    p = draw(_ints(0, k // 2 if kind == "pool" else 3))
    op = draw(_ints(0, max(s, d) - 1)) if kind == "transpose" else 0
    ceil_mode = draw(st.booleans()) if kind == "pool" else False
    o = S.conv_output_size(i, k, s, p, d, kind, op, ceil_mode)
    assume(o >= 1)
    return {"i": i, "k": k, "stride": s, "padding": p, "dilation": d, "kind": kind,
            "output_padding": op, "ceil_mode": ceil_mode}


@st.composite
def _receptive_cases(draw):
    layers = draw(st.lists(st.tuples(_ints(1, 5), _ints(1, 3), _ints(1, 3)), min_size=1, max_size=4))
    return {"layers": layers}


@st.composite
def _dice_loss_cases(draw):
    N, K, H, W = draw(_ints(1, 2)), draw(_ints(1, 3)), draw(_ints(1, 3)), draw(_ints(1, 3))
    probs = _array(draw, (N, K, H, W), 0, 4, fractions=(0.1 * 4, 4 / 3, 0.7 * 4, 0.05 * 4)) / 4
    return {"probs": probs, "target": _array(draw, (N, H, W), 0, K - 1, np.int64)}


@st.composite
def _dice_iou_cases(draw):
    K, H, W = draw(_ints(1, 4)), draw(_ints(1, 4)), draw(_ints(1, 4))
    return {"pred": _array(draw, (H, W), 0, K - 1, np.int64), "target": _array(draw, (H, W), 0, K - 1, np.int64),
            "num_classes": K}


@st.composite
def _hausdorff_cases(draw):
    H, W = draw(_ints(1, 6)), draw(_ints(1, 6))
    percentile = draw(st.sampled_from([100, 95, 50]))
    dense = draw(st.booleans())         # mostly-True masks have interior pixels: 4- vs 8-neighbour boundaries
    lo, hi = (-2, 1) if dense else (0, 1)
    mask = lambda: _array(draw, (H, W), lo, hi, np.int64) != 0      # noqa: E731  (-2..1: 3 of 4 values True)
    return {"pred": mask(), "target": _array(draw, (H, W), 0, 1, bool) if not dense else mask(),
            "percentile": percentile}


# ---- expected values from mathematics (not from the reference's own formula) ------------------
def _central_differences(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences in float64, one coordinate at a time."""
    g = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f(x)
        x[idx] = old - h
        down = f(x)
        x[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


def _loss_and_numeric_grad(name: str, first: str) -> Callable[[dict], Any]:
    def expected(case: dict) -> Any:
        ref = getattr(S, name)
        rest = [v for k, v in case.items() if k != first]
        value = ref(case[first], *rest)[0]
        grad = _central_differences(lambda a: ref(a, *rest)[0], case[first].astype(np.float64))
        return value, grad
    return expected


def _col2im_as_adjoint(case: dict) -> np.ndarray:
    """col2im = im2col transposed: entry x_e of the result is <im2col(e), cols> for each basis image e."""
    cols = case["cols"]
    N, CKK, L = cols.shape
    KH, KW = case["kernel_size"]
    (H, W), C = case["input_size"], CKK // (KH * KW)
    out = np.zeros((N, C, H, W), dtype=cols.dtype)
    e = np.zeros((1, C, H, W), dtype=cols.dtype)
    for c, h, w in np.ndindex(C, H, W):
        e[0, c, h, w] = 1
        patch = S.im2col(e, case["kernel_size"], case["stride"], case["padding"], case["dilation"])[0]
        out[:, c, h, w] = (patch[None] * cols).sum(axis=(1, 2))
        e[0, c, h, w] = 0
    return out


def _conv_backward_by_differences(case: dict) -> Any:
    """dx, dW, db of L = Σ conv2d(x, W, b)·dy by central differences (exact here: L is linear)."""
    dy, x, w = case["dy"], case["x"].copy(), case["weight"].copy()
    hyper = (case["stride"], case["padding"], case["dilation"])
    b = np.zeros(w.shape[0])

    def loss(x_, w_, b_):
        return float((S.conv2d_forward(x_, w_, b_, *hyper) * dy).sum())
    dx = _central_differences(lambda a: loss(a, w, b), x, h=0.5)
    dw = _central_differences(lambda a: loss(x, a, b), w, h=0.5)
    db = _central_differences(lambda a: loss(x, w, a), b, h=0.5)
    return dx, dw, db


# ---- hints chosen by what the counterexample shows -------------------------------------------
def _close(a: Any, b: Any) -> bool:
    try:
        return np.shape(a) == np.shape(b) and bool(np.allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                                               rtol=1e-6, atol=1e-9, equal_nan=True))
    except (TypeError, ValueError):
        return False


def _col2im_hints(case: dict, expected: Any, yours: Any) -> tuple[str, ...]:
    """The '+=' hint only when the answer is exactly what '=' (last write wins) gives."""
    cols, (H, W) = case["cols"], case["input_size"]
    (KH, KW), (SH, SW), (PH, PW), (DH, DW) = case["kernel_size"], case["stride"], case["padding"], case["dilation"]
    OH, OW = _out(H, KH, SH, PH, DH), _out(W, KW, SW, PW, DW)
    N, C = cols.shape[0], cols.shape[1] // (KH * KW)
    c = cols.reshape(N, C, KH, KW, OH, OW)
    x = np.zeros((N, C, H + 2 * PH, W + 2 * PW))
    for i in range(KH):
        for j in range(KW):
            x[:, :, i * DH:i * DH + SH * (OH - 1) + 1:SH, j * DW:j * DW + SW * (OW - 1) + 1:SW] = c[:, :, i, j]
    if _close(yours, x[:, :, PH:PH + H, PW:PW + W]):
        return (BY_NAME["col2im"].hints[0],)
    return BY_NAME["col2im"].hints[1:]


def _cross_entropy_hints(case: dict, expected: Any, yours: Any) -> tuple[str, ...]:
    """'Subtract the maximum' only when the answer holds inf or NaN where the expected is finite."""
    try:
        overflow = any(not np.all(np.isfinite(np.asarray(y, np.float64))) for y in yours)
    except (TypeError, ValueError):
        return BY_NAME["pixel_cross_entropy"].hints
    return BY_NAME["pixel_cross_entropy"].hints[:1] if overflow else BY_NAME["pixel_cross_entropy"].hints[1:]


def _pool_hints(case: dict, expected: Any, yours: Any) -> tuple[str, ...]:
    """The '>' hint when the maxima are right but an index is not and the input has equal values."""
    hints = BY_NAME["max_pool2d_with_indices"].hints
    try:
        values_right = _close(yours[0], expected[0])
    except (TypeError, IndexError):
        return hints
    ties = np.unique(case["x"]).size < case["x"].size
    if values_right and ties:
        return hints[:1]
    return hints[1:] if values_right else hints


# ---- the catalogue, in lesson order ---------------------------------------------------------
_CONV_SHAPES = ("x: (N, C, H, W); kernel_size, stride, padding, dilation: (height, width) pairs of ints. "
                "OH = (H + 2·PH - DH·(KH - 1) - 1) // SH + 1, and the same for OW.")

EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "one_hot", 1,
        "Turn a label map into one indicator channel per class.\n\n"
        "labels: (N, H, W) integers in [0, K); return a float64 array (N, K, H, W) with "
        "out[n, k, h, w] = 1 if labels[n, h, w] == k else 0 (float64 whatever the labels' integer dtype). The class axis is axis 1, the "
        "layout of a network's logits (PyTorch's `F.one_hot` appends it last instead; "
        "minifcn's `F.one_hot(labels, K, axis=1)` gives this layout).",
        ("The number of classes is `num_classes`, not `labels.max() + 1`: a class may be absent "
         "from the labels and still needs its (all-zero) channel.",
         "Broadcasting `labels[:, None] == np.arange(K)[None, :, None, None]` compares every pixel with every class."),
        _one_hot_cases, dtypes=("float64",)),
    Exercise(
        "pixel_cross_entropy", 1,
        "Cross-entropy of a classifier at every pixel, and its gradient.\n\n"
        "logits: (N, K, H, W) floats; target: (N, H, W) integers in [0, K). Return "
        "(loss, dlogits): loss = mean over the N·H·W pixels of -log softmax(logits)[target] "
        "(softmax over axis 1, as PyTorch's `F.cross_entropy` with reduction='mean'), a float "
        "(Python float or np.float64); dlogits = dloss/dlogits, shape (N, K, H, W), float64 like the logits. "
        "Logits may be large (1000s): exp must not overflow.",
        ("log softmax(z) = z - m - log Σ exp(z - m) with m = max z: subtract the maximum or exp overflows.",
         "The gradient is (softmax - one_hot(target)) / (N·H·W): the mean divides every pixel's share."),
        _cross_entropy_cases, outputs=("loss", "dlogits"),
        expected=_loss_and_numeric_grad("pixel_cross_entropy", "logits"), rtol=1e-5, atol=1e-6,
        dtypes=("float", "like:logits"), pick_hints=_cross_entropy_hints),
    Exercise(
        "im2col", 2,
        "Unfold the sliding windows of a convolution into the columns of a matrix.\n\n"
        + _CONV_SHAPES + " Return (N, C·KH·KW, OH·OW), PyTorch's `F.unfold` layout: column "
        "l = oh·OW + ow, row c·KH·KW + i·KW + j holds x_padded[n, c, oh·SH + i·DH, ow·SW + j·DW] "
        "(zero padding PH rows on top and bottom, PW columns left and right). The result has x's dtype "
        "(float64 or float32).",
        ("Pad once with `np.pad`, then for each kernel tap (i, j) the values it sees over all "
         "windows are one strided slice: rows i·DH, i·DH + SH, ..., OH of them.",
         "The window count uses the dilated kernel size DH·(KH - 1) + 1, and there are OH = ... + 1 positions, not ..."),
        _im2col_cases, dtypes=("like:x",)),
    Exercise(
        "col2im", 2,
        "Fold columns back into an image: the adjoint (transpose) of im2col.\n\n"
        "cols: (N, C·KH·KW, OH·OW) in im2col's layout; input_size: (H, W); kernel_size, stride, "
        "padding, dilation as in im2col. Return (N, C, H, W) such that "
        "<im2col(x), cols> = <x, col2im(cols)> for every x (PyTorch's `F.fold`): every column "
        "entry goes back to the pixel it was read from and is *added* there; entries that were "
        "read from the padding are dropped. The result has cols' dtype (float64 or float32).",
        ("Where windows overlap (stride < kernel), a pixel receives several entries: use `+=`, not `=`.",
         "Fold into a zero-padded (H + 2·PH, W + 2·PW) array, then cut the padding off."),
        _col2im_cases, expected=_col2im_as_adjoint, dtypes=("like:cols",), pick_hints=_col2im_hints),
    Exercise(
        "conv2d_forward", 2,
        "A convolution (PyTorch's cross-correlation `F.conv2d`) as im2col and one matrix product.\n\n"
        "x: (N, C, H, W); weight: (C_out, C, KH, KW); bias: (C_out,) or None; stride, padding, "
        "dilation: pairs. Return y (N, C_out, OH, OW), x's dtype, with y[n, o, oh, ow] = bias[o] + "
        "Σ_c,i,j weight[o, c, i, j]·x_padded[n, c, oh·SH + i·DH, ow·SW + j·DW]. Use your own im2col: "
        "`from im2col import im2col`.",
        ("`weight.reshape(C_out, -1) @ im2col(x, ...)` is (N, C_out, OH·OW): the rows of the "
         "flattened weight line up with im2col's rows.",
         "The bias is per output channel: reshape it to (1, C_out, 1) before adding; skip it when it is None."),
        _conv_forward_cases, uses=("im2col",), dtypes=("like:x",)),
    Exercise(
        "conv2d_backward", 2,
        "The gradients of conv2d_forward.\n\n"
        "dy: (N, C_out, OH, OW) = dL/dy; x, weight, stride, padding, dilation as in the forward. "
        "Return (dx, dweight, dbias) with the shapes of x, weight and (C_out,). With cols = "
        "im2col(x): dweight = Σ_n dy_n @ cols_nᵀ, dbias = Σ over n, oh, ow of dy, and dx = "
        "col2im(weightᵀ @ dy): the input gradient of a convolution is a transposed convolution. dx has x's "
        "dtype, dweight and dbias the weight's (all float64 here). Use your own im2col and col2im.",
        ("dweight needs cols *transposed*: (C_out, L) @ (L, C·KH·KW), summed over the batch.",
         "dx = col2im(weight.reshape(C_out, -1).T @ dy.reshape(N, C_out, -1), (H, W), ...)."),
        _conv_backward_cases, outputs=("dx", "dweight", "dbias"), expected=_conv_backward_by_differences,
        rtol=1e-6, atol=1e-6, max_examples=60, uses=("im2col", "col2im"),
        dtypes=("like:x", "like:weight", "like:weight")),
    Exercise(
        "max_pool2d_with_indices", 3,
        "Max pooling that remembers where each maximum was.\n\n"
        + _CONV_SHAPES + " The padding is -inf (it never wins) and at most half the kernel. "
        "Return (y, indices), both (N, C, OH, OW): y the maximum of each window and indices the "
        "flat position h·W + w of that maximum in its (unpadded) H×W input plane, PyTorch's "
        "convention for `F.max_pool2d(..., return_indices=True)`. On ties the *first* maximum "
        "in row-major order of the window wins. y has x's dtype (float64 or float32), indices are int64.",
        ("Visit the taps (i, j) in row-major order and replace the running maximum only where a "
         "value is strictly larger (`>`, not `>=`): that keeps the first of equal maxima.",
         "The index is in the input plane without padding: h = oh·SH - PH + i·DH, w = ow·SW - PW + j·DW, index h·W + w."),
        _pool_cases, outputs=("y", "indices"), dtypes=("like:x", "int64"), pick_hints=_pool_hints),
    Exercise(
        "max_unpool2d", 5,
        "Put each value back where its maximum came from (PyTorch's `F.max_unpool2d`).\n\n"
        "x, indices: (N, C, OH, OW), indices from max_pool2d_with_indices (flat positions h·W + w "
        "in an H×W plane); output_size: (H, W). Return zeros of shape (N, C, H, W) with "
        "x[n, c, oh, ow] written at position indices[n, c, oh, ow] of plane (n, c), in x's dtype.",
        ("Flatten each plane: out.reshape(N, C, H·W); `np.put_along_axis` writes along the last axis.",
         "A flat index r splits as (r // W, r % W): divide by the width W, not the height H."),
        _unpool_cases, dtypes=("like:x",)),
    Exercise(
        "unpool_nearest", 5,
        "Nearest-neighbour unpooling.\n\nx: (N, C, H, W); scale: int. Return (N, C, H·scale, "
        "W·scale) with out[n, c, h, w] = x[n, c, h // scale, w // scale]: each value fills its "
        "scale×scale block (`F.unpool_nearest`, `F.interpolate(mode='nearest')`), in x's dtype.",
        ("`np.repeat` along axis 2 and along axis 3 (not `np.tile`, which repeats the whole image).",),
        _scale_cases, dtypes=("like:x",)),
    Exercise(
        "unpool_bed_of_nails", 5,
        "Bed-of-nails unpooling.\n\nx: (N, C, H, W); scale: int. Return zeros (N, C, H·scale, "
        "W·scale) with x[n, c, h, w] at out[n, c, h·scale, w·scale]: each value at the top-left "
        "corner of its block (`F.unpool_bed_of_nails`), in x's dtype.",
        ("A strided slice `out[:, :, ::scale, ::scale]` addresses every block's top-left corner.",),
        _scale_cases, dtypes=("like:x",)),
    Exercise(
        "conv_matrix", 6,
        "The dense matrix of a (single-channel) convolution.\n\n"
        "weight: (KH, KW); input_size: (H, W); stride, padding, dilation: pairs. Return C of "
        "shape (OH·OW, H·W), float64, with conv(x).ravel() == C @ x.ravel() for every H×W image x "
        "(row-major raveling): row oh·OW + ow holds weight[i, j] in column h·W + w for each tap "
        "that reads a real pixel h = oh·SH - PH + i·DH, w = ow·SW - PW + j·DW; taps that fall in "
        "the padding read zeros and add nothing. Its transpose is the transposed convolution.",
        ("Taps outside 0 <= h < H, 0 <= w < W belong to the padding: skip them (do not wrap around).",
         "The column index uses the input width W: h·W + w."),
        _conv_matrix_cases, dtypes=("float64",)),
    Exercise(
        "conv_transpose2d", 6,
        "Transposed convolution through col2im (PyTorch's `F.conv_transpose2d`, no bias).\n\n"
        "x: (N, C_in, H, W); weight: (C_in, C_out, KH, KW) (PyTorch's layout for transposed "
        "convolution); stride, padding, output_padding (< stride), dilation: pairs. Output "
        "OH = (H - 1)·SH - 2·PH + DH·(KH - 1) + OPH + 1 (and OW). It is the adjoint of conv2d "
        "with the same weight: every input value scatters value·weight[c_in, :] into its window, "
        "i.e. y = col2im(weightᵀ @ x) on the output grid (x's dtype). Use your own col2im.",
        ("`weight.reshape(C_in, -1).T @ x.reshape(N, C_in, H·W)` gives columns (N, C_out·KH·KW, H·W); "
         "col2im of them onto an (OH, OW) image, with this op's stride, padding and dilation, is the answer.",
         "The weight's first axis is C_in here (the convolution's C_out): do not swap the two."),
        _conv_transpose_cases, uses=("col2im",), dtypes=("like:x",)),
    Exercise(
        "bilinear_kernel", 6,
        "FCN's bilinear upsampling kernel for a transposed convolution.\n\n"
        "channels, scale: ints. Return a float64 weight (channels, channels, K, K), K = 2·scale - "
        "scale % 2, zero except weight[c, c] = outer(t, t) with t[k] = 1 - |k - (K - 1)/2| / scale. "
        "Used with stride=scale, padding=scale // 2 it upsamples each channel bilinearly.",
        ("The centre is (K - 1) / 2, a half-integer when K is even.",
         "Only weight[c, c] is non-zero: channel c must not leak into channel c' ≠ c."),
        _bilinear_cases, dtypes=("float64",)),
    Exercise(
        "conv_output_size", 7,
        "Output size along one axis, for every kind of sliding window.\n\n"
        "i input size, k kernel, stride, padding, dilation, kind 'conv' | 'transpose' | 'pool', "
        "output_padding (transpose only), ceil_mode (pool only). Return an int: with the "
        "dilated kernel e = dilation·(k - 1) + 1,\n"
        "conv and pool: floor((i + 2p - e) / s) + 1; transpose: (i - 1)·s - 2p + e + output_padding; "
        "pool with ceil_mode: ceil instead of floor, minus one if the last window would start "
        "in the right padding ((o - 1)·s >= i + p), PyTorch's rule.",
        ("Dilation spreads the k taps over e = d·(k - 1) + 1 pixels; use e wherever k appears.",
         "ceil_mode: a last window that starts beyond the input (in the right padding) is dropped."),
        _output_size_cases, dtypes=("int",),
        # PyTorch's ceil_mode rule drops a last window that would start in the right padding
        # (a plain ceil keeps it); random draws need ~40 examples to reach it
        examples=({"i": 2, "k": 1, "stride": 2, "padding": 0, "dilation": 1, "kind": "pool",
                   "output_padding": 0, "ceil_mode": True},)),
    Exercise(
        "receptive_field", 7,
        "Receptive field of a stack of layers.\n\n"
        "layers: a list of (kernel, stride, dilation) per layer, input first. Return the number of "
        "input pixels (along one axis) that one output of the last layer sees: "
        "r = 1 + Σ_l d_l·(k_l - 1)·J_l, where J_l = s_1·...·s_(l-1) is the jump (input pixels "
        "between neighbouring positions) *before* layer l.",
        ("The stride of a layer does not widen its own window; it multiplies the jump of the layers after it.",
         "A dilated kernel spans d·(k - 1) + 1 positions of its input."),
        _receptive_cases, dtypes=("int",)),
    Exercise(
        "dice_loss", 8,
        "Soft Dice loss and its gradient.\n\n"
        "probs: (N, K, H, W) probabilities; target: (N, H, W) labels in [0, K). With t = "
        "one_hot(target) and sums over N, H and W together (one Dice per class for the whole "
        "batch), dice_k = (2 Σ p·t + 1) / (Σ p + Σ t + 1); return (loss, dprobs) with loss = "
        "1 - mean_k dice_k (a float) and dprobs = dloss/dprobs (N, K, H, W), float64 like probs.",
        ("Quotient rule per class: d dice_k / d p = (2t·den_k - num_k) / den_k², then times -1/K.",
         "Sum over the batch too: one Dice per class, not one per image."),
        _dice_loss_cases, outputs=("loss", "dprobs"),
        expected=_loss_and_numeric_grad("dice_loss", "probs"), rtol=1e-5, atol=1e-6, dtypes=("float", "like:probs")),
    Exercise(
        "dice_iou", 9,
        "Dice and IoU per class from label maps.\n\n"
        "pred, target: (H, W) integer label maps in [0, K); num_classes: K. Return (dice, iou), "
        "two float64 arrays (K,): dice_k = 2|P∩T| / (|P| + |T|), iou_k = |P∩T| / |P∪T| with P, T "
        "the pixels labelled k. A class in neither map has nothing to score: NaN (not 1, not 0), "
        "so that a mean over classes can skip it (np.nanmean).",
        ("|P∪T| = |P| + |T| - |P∩T|.",
         "Check |P| + |T| == 0 first: that class is absent, leave NaN."),
        _dice_iou_cases, outputs=("dice", "iou"), dtypes=("float64", "float64")),
    Exercise(
        "hausdorff_distance", 9,
        "The (percentile) Hausdorff distance between two masks' boundaries.\n\n"
        "pred, target: (H, W) bool masks; percentile: q in [0, 100]. The boundary of a mask is its "
        "pixels that have a 4-neighbour outside it (outside the image counts as outside). For each "
        "boundary pixel a of pred take d(a) = min Euclidean distance to the boundary of target, and "
        "the same the other way; reduce each direction with np.percentile(d, q) and return the "
        "larger, a float (Python float or np.float64; q = 100: the Hausdorff distance; 95: HD95, MONAI's convention). Both "
        "masks empty: NaN; exactly one empty: inf.",
        ("Both directions: a far pixel of pred near nothing of target and a far pixel of target near nothing of pred.",
         "The percentile is taken per direction, then the larger one is kept (not the percentile of both together)."),
        _hausdorff_cases, dtypes=("float",),
        # a 3x3 pair on which an 8-neighbour boundary gives another answer (random draws rarely do)
        examples=({"pred": np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], bool),
                   "target": np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]], bool), "percentile": 100},)),
)

# the U-Net's remaining pieces (batch norm, ReLU, skip concatenation, ...): catalogue_unet.py
from .catalogue_unet import exercises as _unet_exercises  # noqa: E402
EXERCISES = tuple(sorted(EXERCISES + _unet_exercises(Exercise, _loss_and_numeric_grad), key=lambda e: e.lesson))

BY_NAME: dict[str, Exercise] = {e.name: e for e in EXERCISES}
