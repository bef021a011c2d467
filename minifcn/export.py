"""Export a model to ONNX: the graph autograd records during one eval-mode forward.

Every op of minifcn is a ``Function`` node in the graph that autograd builds while a model
runs (``tensor.creator`` is the node, ``node.inputs`` its inputs). That graph *is* the
model: ``to_onnx`` runs the model once on an example input, walks the graph back from the
output, and writes each node as one or a few ONNX nodes through a small converter per
Function class (the ``CONVERTERS`` registry below). Parameters and buffers become ONNX
initializers under their ``state_dict`` names (``down.0.conv1.weight``), so a reader of the
``.onnx`` file finds the layers a PyTorch twin of the model would have.

    import numpy as np
    import minifcn as mf
    from minifcn.export import to_onnx
    model = mf.models.UNet(3, 2)            # trained ...
    to_onnx(model, np.zeros((1, 3, 128, 128), np.float32), "unet.onnx")

The batch axis is dynamic (named "N"); the image size is the example's. Two conventions
differ between minifcn (= PyTorch) and ONNX and are converted where they meet:

* MaxPool's indices: minifcn counts row·W + col inside each (H, W) plane, ONNX counts over
  the whole (N, C, H, W) tensor. MaxPool is followed by ``Mod(H·W)``; MaxUnpool adds the
  plane's offset (n·C + c)·OH·OW back first.
* Shapes baked into a Reshape by the traced batch size: the batch axis is written as 0
  ("copy the input's") or -1 ("whatever is left"), so another batch size still fits.

Needs the optional packages ``onnx`` (and ``onnxruntime`` to run the result):
``pip install minifcn[export]``.
"""
from __future__ import annotations

import itertools
import math
import os
from typing import Any, Callable

import numpy as np

from . import __version__, backend
from .atomic import atomic_open
from .autograd import Function, Tensor, is_grad_enabled
try:                                    # only for conv2d's keep_columns switch (see trace)
    from .functional import conv as _conv
except ImportError:                     # moved: the trace then just keeps the columns
    _conv = None

OPSET = 18          # Resize and the reductions take their axes as in opset 18 (onnxruntime >= 1.14)
INT64_MAX = 2**63 - 1
INT64_MIN = -2**63


class ExportError(ValueError):
    """The model cannot be written as ONNX (an op without a converter, a training-only op, ...)."""


# ---- the graph under construction ------------------------------------------------------------
class OnnxGraph:
    """The ONNX graph being built, and the Function being converted now (``fn``, ``layer``).

    A converter asks it for its inputs' ONNX names (``inp``), their static shapes (``shape``),
    adds nodes (``node``) and constants (``const``), and returns its outputs' names.
    """

    def __init__(self, onnx: Any, names: dict[int, str], model_input: Tensor, dynamic_batch: bool):
        self.onnx = onnx
        self.names = names                    # id(parameter / buffer array) -> state_dict name
        self.model_input = model_input
        self.dynamic_batch = dynamic_batch
        self.nodes: list = []
        self.initializers: dict[str, Any] = {}   # ONNX name -> TensorProto
        self.values: dict[tuple[int, int], str] = {}   # (id(Function), output index) -> ONNX name
        self.used: set[tuple[int, int]] = set()         # outputs that some node or the model reads
        self.count = itertools.count()
        self.fn: Any = None
        self.layer = ""

    # -- inputs of the Function being converted
    def inp(self, i: int, like: int | None = None) -> str:
        """The ONNX name of input ``i`` of ``self.fn`` ("" for None). A Python number becomes a
        constant in the dtype of input ``like`` (default: the first array input)."""
        x = self.fn.inputs[i] if i < len(self.fn.inputs) else None
        if x is None:
            return ""
        if isinstance(x, (int, float, bool, np.generic)) and not backend.is_array(x):
            return self.const(np.asarray(x, dtype=self.dtype(like)), "scalar")
        return self.value(x)

    def value(self, x: Any) -> str:
        """The ONNX name of a Tensor or backend array met in the graph."""
        if isinstance(x, Tensor) and x.creator is not None:
            return self.values[(id(x.creator), output_index(x))]
        if x is self.model_input:
            return "input"
        data = x.data if isinstance(x, Tensor) else x
        name = self.names.get(id(x)) or self.names.get(id(data))
        if name is None:
            return self.const(backend.to_numpy(data), "const")
        if name not in self.initializers:
            self.initializers[name] = self.onnx.numpy_helper.from_array(backend.to_numpy(data), name)
        return name

    def shape(self, i: int) -> tuple:
        """The static shape (as traced) of input ``i`` of ``self.fn``."""
        return tuple(self.fn.inputs[i].shape)

    def dtype(self, like: int | None = None) -> np.dtype:
        arrays = [x for x in self.fn.inputs if isinstance(x, Tensor) or backend.is_array(x)]
        x = self.fn.inputs[like] if like is not None else arrays[0]
        return np.dtype(x.dtype)

    def wants(self, index: int) -> bool:
        """Whether output ``index`` of the Function being converted is read by anything."""
        return (id(self.fn), index) in self.used

    # -- building
    def node(self, op: str, inputs: list[str], outputs: int = 1, **attrs: Any) -> Any:
        """Add one ONNX node; returns its output name (or the list of them if outputs > 1)."""
        while inputs and inputs[-1] == "":   # trailing optional inputs left out
            inputs = inputs[:-1]
        k = next(self.count)
        name = f"{self.layer}/{op}_{k}" if self.layer else f"{op}_{k}"
        outs = [f"{name}:{j}" for j in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, array: Any, hint: str = "const") -> str:
        """A constant (an unnamed initializer) holding ``array``."""
        name = f"{hint}_{next(self.count)}"
        self.initializers[name] = self.onnx.numpy_helper.from_array(np.asarray(array), name)
        return name

    def ints(self, values: Any) -> str:
        """An int64 1-D constant (shapes, axes, sizes)."""
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), "ints")


def output_index(t: Tensor) -> int:
    """Which output of its Function ``t`` is. Only MaxPool2d has two (values, then int64
    indices), so the dtype tells them apart."""
    return 0 if t.dtype.kind == "f" else 1


# ---- converters: one small function per Function class ----------------------------------------
# Keyed by the Function's class *name*: the name is part of minifcn's contract, the module
# a Function lives in is not, so the exporter needs no import of functional's internals.
CONVERTERS: dict[str, Callable[[OnnxGraph], Any]] = {}


def converts(*names: str) -> Callable:
    """Register a converter for the Function classes called ``names``."""
    def register(f: Callable) -> Callable:
        for name in names:
            CONVERTERS[name] = f
        return f
    return register


def _same_op(onnx_op: str) -> Callable[[OnnxGraph], Any]:
    """A converter for a Function whose ONNX op has the same inputs (elementwise ops)."""
    def convert(g: OnnxGraph) -> str:
        return g.node(onnx_op, [g.inp(i) for i in range(len(g.fn.inputs))])
    convert.__name__ = f"convert_{onnx_op}"
    return convert


for _fn, _op in {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "MatMul": "MatMul",
                 "Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs", "ReLU": "Relu",
                 "ReLUBlocked": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh"}.items():
    CONVERTERS[_fn] = _same_op(_op)
del _fn, _op


@converts("Dropout")
def convert_dropout(g: OnnxGraph) -> str:
    return g.node("Identity", [g.inp(0)])       # inference: dropout is the identity


@converts("LeakyReLU")
def convert_leaky_relu(g: OnnxGraph) -> str:
    return g.node("LeakyRelu", [g.inp(0)], alpha=float(g.fn.slope))


@converts("Softmax", "LogSoftmax")
def convert_softmax(g: OnnxGraph) -> str:
    return g.node(type(g.fn).__name__, [g.inp(0)], axis=int(g.fn.axis))


@converts("Clip")
def convert_clip(g: OnnxGraph) -> str:
    bound = [g.const(np.asarray(v, g.dtype()), "bound") if v is not None else "" for v in (g.fn.lo, g.fn.hi)]
    return g.node("Clip", [g.inp(0)] + bound)


@converts("AsType")
def convert_astype(g: OnnxGraph) -> str:
    return g.node("Cast", [g.inp(0)], to=g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(g.fn.dtype)))


@converts("Conv2d")
def convert_conv2d(g: OnnxGraph) -> str:
    geo = g.fn.geo          # ONNX pads: (top, left, bottom, right); "same" may be asymmetric
    (top, bottom), (left, right) = geo.padding
    return g.node("Conv", [g.inp(0), g.inp(1), g.inp(2)], kernel_shape=list(geo.kernel),
                  strides=list(geo.stride), pads=[top, left, bottom, right], dilations=list(geo.dilation),
                  group=geo.groups)


@converts("ConvTranspose2d")
def convert_conv_transpose2d(g: OnnxGraph) -> str:
    """ONNX's output size is S(I - 1) + output_padding + D(K - 1) + 1 - pads; minifcn's geometry
    holds the output size itself (``in_size``: the size of the convolution's input)."""
    geo = g.fn.geo
    (top, bottom), (left, right) = geo.padding
    pads = (top + bottom, left + right)
    output_padding = [geo.in_size[a] - (geo.stride[a] * (geo.out_size[a] - 1) + geo.dilation[a] * (geo.kernel[a] - 1)
                                        + 1 - pads[a]) for a in range(2)]
    return g.node("ConvTranspose", [g.inp(0), g.inp(1), g.inp(2)], kernel_shape=list(geo.kernel),
                  strides=list(geo.stride), pads=[top, left, bottom, right], dilations=list(geo.dilation),
                  group=geo.groups, output_padding=output_padding)


@converts("BatchNorm")
def convert_batch_norm(g: OnnxGraph) -> str:
    fn = g.fn
    if fn.batch_stats:
        raise ExportError(f"layer {g.layer or '(model)'}: BatchNorm with batch statistics (training mode or "
                          "track_running_stats=False) has no fixed inference form; export a model in eval() "
                          "mode whose BatchNorm2d layers track running statistics")
    C = g.shape(0)[1]
    scale = g.inp(1) or g.const(np.ones(C, g.dtype()), "bn_weight")     # affine=False: γ = 1, β = 0
    shift = g.inp(2) or g.const(np.zeros(C, g.dtype()), "bn_bias")
    return g.node("BatchNormalization", [g.inp(0), scale, shift, g.value(fn.mean), g.value(fn.var)],
                  epsilon=float(fn.eps))


def _pool_attrs(g: OnnxGraph, dilation: Any = (1, 1)) -> dict:
    """kernel, strides, pads and ceil_mode of a pooling Function (ceil_mode: when the traced
    output is larger than the floor formula gives)."""
    fn, (H, W) = g.fn, g.shape(0)[2:]
    floor = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip((H, W), fn.k, fn.s, fn.p, dilation)]
    return dict(kernel_shape=list(fn.k), strides=list(fn.s), pads=[fn.p[0], fn.p[1], fn.p[0], fn.p[1]],
                ceil_mode=int(list(fn.out) != floor))


@converts("MaxPool2d")
def convert_max_pool2d(g: OnnxGraph) -> list[str]:
    """Values, and indices converted from ONNX's count over the whole tensor to the plane's."""
    H, W = g.shape(0)[2:]
    attrs = _pool_attrs(g, g.fn.d)
    if not g.wants(1):
        return [g.node("MaxPool", [g.inp(0)], dilations=list(g.fn.d), **attrs), ""]
    values, flat = g.node("MaxPool", [g.inp(0)], outputs=2, dilations=list(g.fn.d), **attrs)
    return [values, g.node("Mod", [flat, g.ints(H * W)])]


def _plane_offsets(g: OnnxGraph, indices: str, C: int, plane: int) -> str:
    """(N, C, 1, 1) int64 offsets (n·C + c)·plane, for any batch size N."""
    n = g.node("Gather", [g.node("Shape", [indices]), g.const(np.int64(0), "axis0")], axis=0)
    count = g.node("Mul", [n, g.const(np.int64(C), "channels")])                     # N·C
    ramp = g.node("Range", [g.const(np.int64(0), "zero"), count, g.const(np.int64(1), "one")])
    offsets = g.node("Mul", [ramp, g.const(np.int64(plane), "plane")])
    return g.node("Reshape", [offsets, g.ints([-1, C, 1, 1])])


@converts("MaxUnpool2d")
def convert_max_unpool2d(g: OnnxGraph) -> str:
    """ONNX MaxUnpool wants whole-tensor indices: add each plane's offset first. Its
    output_shape must not be smaller than the kernel/stride's own guess: kernel = stride =
    floor(out / in) keeps the guess (in·stride) at most the real size."""
    N, C, H, W = g.shape(0)
    OH, OW = g.fn.out
    indices = g.inp(1)
    flat = g.node("Add", [indices, _plane_offsets(g, indices, C, OH * OW)])
    head = g.node("Slice", [g.node("Shape", [g.inp(0)]), g.ints([0]), g.ints([2])])   # (N, C)
    out_shape = g.node("Concat", [head, g.ints([OH, OW])], axis=0)
    step = [max(1, OH // H), max(1, OW // W)]
    return g.node("MaxUnpool", [g.inp(0), flat, out_shape], kernel_shape=step, strides=step)


@converts("AvgPool2d")
def convert_avg_pool2d(g: OnnxGraph) -> str:
    return g.node("AveragePool", [g.inp(0)], count_include_pad=int(g.fn.count_include_pad), **_pool_attrs(g))


def _resize(g: OnnxGraph, size: tuple, mode: str, coordinates: str) -> str:
    """ONNX Resize of the spatial axes (2, 3) to ``size``; the batch axis is left alone."""
    return g.node("Resize", [g.inp(0), "", "", g.ints(size)], axes=[2, 3], mode=mode,
                  coordinate_transformation_mode=coordinates, nearest_mode="floor")


@converts("UnpoolNearest")
def convert_unpool_nearest(g: OnnxGraph) -> str:
    (SH, SW), (H, W) = g.fn.scale, g.shape(0)[2:]
    return _resize(g, (H * SH, W * SW), "nearest", "asymmetric")


# ONNX Resize's source coordinate of output cell x (scale = out / in), from the ONNX spec.
# (half_pixel, not pytorch_half_pixel: that one samples cell 0 for an output of size 1,
# where PyTorch and minifcn sample the centre (i - 1) / 2 as half_pixel does.)
RESIZE_RULES = {
    ("nearest", "asymmetric"): lambda x, i, o: x * i / o,
    ("linear", "half_pixel"): lambda x, i, o: (x + 0.5) * i / o - 0.5,
    ("linear", "align_corners"): lambda x, i, o: x * (i - 1) / (o - 1) if o > 1 else 0 * x,
}


def resize_matrix(i: int, o: int, mode: str, coordinates: str) -> np.ndarray:
    """The (o, i) matrix of what ONNX Resize computes along one axis (nearest_mode floor;
    linear reads its two neighbours, the coordinate clamped into [0, i - 1])."""
    src = RESIZE_RULES[(mode, coordinates)](np.arange(o, dtype=np.float64), i, o)
    a, rows = np.zeros((o, i)), np.arange(o)
    if mode == "nearest":
        a[rows, np.clip(np.floor(src).astype(int), 0, i - 1)] = 1
        return a
    src = np.clip(src, 0, i - 1)
    lo = np.floor(src).astype(int)
    a[rows, lo] = 1 - (src - lo)
    a[rows, np.minimum(lo + 1, i - 1)] += src - lo
    return a


def block_mean_size(a: np.ndarray) -> int | None:
    """k if ``a`` (o, i) averages consecutive blocks of k cells (i = o·k), else None."""
    o, i = a.shape
    if i % o:
        return None
    k = i // o
    return k if np.allclose(a, np.kron(np.eye(o), np.full((1, k), 1 / k)), atol=1e-6) else None


@converts("Separable2d")
def convert_separable2d(g: OnnxGraph) -> str:
    """y = A_h x A_wᵀ per plane: recognise interpolation and average pooling by their
    matrices; any other such map is written as the two matrix products themselves."""
    a_h, a_w = backend.to_numpy(g.fn.a_h).astype(np.float64), backend.to_numpy(g.fn.a_w).astype(np.float64)
    (OH, H), (OW, W) = a_h.shape, a_w.shape
    kh, kw = block_mean_size(a_h), block_mean_size(a_w)
    if OH == OW == 1 and kh and kw:                                   # adaptive_avg_pool2d(x, 1)
        return g.node("GlobalAveragePool", [g.inp(0)])
    if kh and kw:                                                      # adaptive pool, o divides i
        return g.node("AveragePool", [g.inp(0)], kernel_shape=[kh, kw], strides=[kh, kw])
    for mode, coordinates in RESIZE_RULES:
        if (np.allclose(a_h, resize_matrix(H, OH, mode, coordinates), atol=1e-6)
                and np.allclose(a_w, resize_matrix(W, OW, mode, coordinates), atol=1e-6)):
            return _resize(g, (OH, OW), mode, coordinates)
    dtype = g.dtype()
    rows = g.node("MatMul", [g.const(a_h.astype(dtype), "rows"), g.inp(0)])       # (N, C, OH, W)
    return g.node("MatMul", [rows, g.const(a_w.T.astype(dtype), "cols")])         # (N, C, OH, OW)


@converts("Concatenate")
def convert_concatenate(g: OnnxGraph) -> str:
    return g.node("Concat", [g.inp(i) for i in range(len(g.fn.inputs))], axis=int(g.fn.axis))


@converts("Transpose")
def convert_transpose(g: OnnxGraph) -> str:
    return g.node("Transpose", [g.inp(0)], perm=[int(a) for a in g.fn.axes])


@converts("Reshape")
def convert_reshape(g: OnnxGraph) -> str:
    """The traced target shape, its leading (batch) axis made dynamic: 0 copies the input's
    when the reshape keeps it, else -1 takes what is left (the batch folded into axis 0 or
    unfolded from it). Shapes are assumed to depend on the batch only through axis 0."""
    src, dst = g.shape(0), [int(n) for n in g.fn.shape]
    if -1 in dst:                                                   # resolve it as NumPy did
        known = math.prod(n for n in dst if n != -1)
        dst[dst.index(-1)] = math.prod(src) // known if known else 0
    if g.dynamic_batch and src and dst and 0 not in src:
        dst[0] = 0 if dst[0] == src[0] else -1
    return g.node("Reshape", [g.inp(0), g.ints(dst)])


@converts("Sum", "MaxMin")
def convert_reduction(g: OnnxGraph) -> str:
    fn = g.fn
    op = "ReduceSum" if type(fn).__name__ == "Sum" else ("ReduceMax" if fn.take_max else "ReduceMin")
    axes = [] if fn.axis is None else [fn.axis] if isinstance(fn.axis, int) else list(fn.axis)
    return g.node(op, [g.inp(0)] + ([g.ints(axes)] if axes else []), keepdims=int(bool(fn.keepdims)))


@converts("Pad")
def convert_pad(g: OnnxGraph) -> str:
    before, after = zip(*g.fn.pad_width)
    value = g.const(np.asarray(g.fn.value, g.dtype()), "pad_value")
    return g.node("Pad", [g.inp(0), g.ints(list(before) + list(after)), value], mode="constant")


@converts("GetItem")
def convert_getitem(g: OnnxGraph) -> str:
    """Basic indexing (slices and integers, e.g. U-Net's centre crops) as Slice (+ Squeeze)."""
    index = g.fn.index if isinstance(g.fn.index, tuple) else (g.fn.index,)
    ndim = len(g.shape(0))
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (ndim - len(index) + 1) + index[at + 1:]
    starts, ends, axes, steps, squeeze = [], [], [], [], []
    for axis, item in enumerate(index):
        if isinstance(item, slice):
            if item == slice(None):
                continue
            step = 1 if item.step is None else int(item.step)
            start = item.start if item.start is not None else (0 if step > 0 else INT64_MAX)
            stop = item.stop if item.stop is not None else (INT64_MAX if step > 0 else INT64_MIN)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            start, stop, step = int(item), (int(item) + 1) or INT64_MAX, 1
            squeeze.append(axis)
        else:
            raise ExportError(f"layer {g.layer or '(model)'}: indexing with {type(item).__name__} "
                              f"({item!r}) has no ONNX form here; only slices and integers are exported")
        starts.append(int(start)), ends.append(int(stop)), axes.append(axis), steps.append(step)
    y = g.inp(0)
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if squeeze:
        y = g.node("Squeeze", [y, g.ints(squeeze)])
    return y if axes else g.node("Identity", [y])


# ---- tracing: run the model once, remember which layer made which node -------------------------
def _tensors(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _label_hook(path: str, labels: dict[int, str]) -> Callable:
    """A forward hook that gives every not yet labelled Function between the module's inputs
    and its output the module's path. Inner modules finish first, so a node ends up with the
    innermost layer that made it; nodes of a module's own forward get the module."""
    def hook(module: Any, inputs: tuple, output: Any) -> None:
        stop = {id(t) for t in _tensors(inputs)}
        stack = [t for t in _tensors(output) if id(t) not in stop]
        while stack:
            fn = stack.pop().creator
            if fn is None or id(fn) in labels:
                continue
            labels[id(fn)] = path
            stack += [t for t in _tensors(list(getattr(fn, "inputs", ()))) if id(t) not in stop]
    return hook


def trace(model: Any, example: Any) -> tuple[Tensor, list[Tensor], dict[int, str]]:
    """Run ``model`` in eval mode on ``example`` recording the graph.

    Returns (the input tensor, the output tensors, id(Function) -> path of the layer that
    made it). Every Function records its inputs only when one of them needs a gradient, so
    the input is traced with ``requires_grad=True`` and frozen parameters are unfrozen for
    the run (all restored afterwards).
    """
    if not is_grad_enabled():
        raise RuntimeError("to_onnx records the graph autograd builds, which no_grad() turns off; "
                           "call it outside a 'with mf.no_grad():' block")
    params = list(model.parameters())
    device = params[0].device if params else backend.device_of(getattr(example, "data", example))
    dtype = params[0].dtype if params else np.float32
    data = example.data if isinstance(example, Tensor) else example
    if not backend.is_array(data):
        data = np.asarray(data)
    if data.dtype.kind not in "fiu":
        raise TypeError(f"to_onnx: example_input must be a numeric array or Tensor, got dtype {data.dtype}")
    x = Tensor(backend.to_device(data, device).astype(dtype, copy=False), requires_grad=True)
    frozen = [p for p in params if not p.requires_grad]
    labels: dict[int, str] = {}
    handles = [m.register_forward_hook(_label_hook(path, labels)) for path, m in model.named_modules()]
    training = model.training
    # No backward follows, so conv2d need not keep its columns for one: reusing its scratch
    # buffer instead makes the traced forward about as fast as a no_grad one.
    keep_columns = getattr(_conv, "keep_columns", None)
    try:
        for p in frozen:
            p.requires_grad = True
        model.eval()
        if keep_columns is not None:
            _conv.keep_columns = False
        outputs = _tensors(model(x))
    finally:
        if keep_columns is not None:
            _conv.keep_columns = keep_columns
        model.train(training)
        for p in frozen:
            p.requires_grad = False
        for h in handles:
            h.remove()
    if not outputs:
        raise ExportError(f"to_onnx: {type(model).__name__}'s forward returned no Tensor")
    return x, outputs, labels


def functions_in_order(outputs: list[Tensor]) -> tuple[list[Any], set[tuple[int, int]]]:
    """The Function nodes behind ``outputs``, each after all nodes it reads (an iterative
    depth-first post-order), and the (id(Function), output index) pairs that are read."""
    order, seen, used = [], set(), set()
    stack = [(t.creator, False) for t in outputs if t.creator is not None]
    used |= {(id(t.creator), output_index(t)) for t in outputs if t.creator is not None}
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.append((fn, True))
        for t in getattr(fn, "inputs", ()):
            if isinstance(t, Tensor) and t.creator is not None:
                used.add((id(t.creator), output_index(t)))
                if id(t.creator) not in seen:
                    stack.append((t.creator, False))
    return order, used


def _converter(fn: Any) -> Callable | None:
    for cls in type(fn).__mro__:          # a subclass of a known Function uses its converter
        if cls is Function:
            return None
        if cls.__name__ in CONVERTERS:
            return CONVERTERS[cls.__name__]
    return None


def _state_names(model: Any) -> dict[int, str]:
    """id(parameter), id(its array) and id(buffer array) -> the state_dict name."""
    names: dict[int, str] = {}
    for name, p in model.named_parameters():
        names.setdefault(id(p), name)
        names.setdefault(id(p.data), name)
    for name, b in model.named_buffers():
        names.setdefault(id(b), name)
    return names


# ---- the public function ---------------------------------------------------------------------
def to_onnx(model: Any, example_input: Any, path: str | os.PathLike, dynamic_batch: bool = True) -> Any:
    """Write ``model`` to ``path`` as an ONNX model (opset 18) and return the ``onnx.ModelProto``.

    The model runs once in eval mode on ``example_input`` ((N, C, H, W) Tensor or array; its
    training mode is restored afterwards); the graph it records becomes the ONNX graph, with
    input "input" and output "output" (or "output_0", "output_1", ... for several).
    ``dynamic_batch``: the batch axis is named "N" and any batch size runs; False fixes it
    to the example's. The image size is always the example's.

    Parameters and buffers the forward uses are initializers named as in ``state_dict()``.
    Metadata: ``minifcn_version``, ``model`` (class name), ``num_classes`` (the output's
    channels), ``input_shape``. The file is written to a temporary name and renamed, so
    ``path`` holds either its old content or the complete export. Raises ``ExportError``
    naming the Function and the layer for an op the exporter does not know.
    """
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401  (the submodules the graph builder uses)
        import onnx.helper  # noqa: F401
    except ImportError:
        raise ImportError("to_onnx needs the 'onnx' package: pip install 'minifcn[export]' "
                          "(or pip install onnx onnxruntime)") from None
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"to_onnx: cannot write {path!r}: directory {directory!r} does not exist")
    x, outputs, labels = trace(model, example_input)
    order, used = functions_in_order(outputs)
    modules = dict(model.named_modules())
    g = OnnxGraph(onnx, _state_names(model), x, dynamic_batch)
    g.used = used
    for fn in order:
        g.fn, g.layer = fn, labels.get(id(fn), "")
        convert = _converter(fn)
        if convert is None:
            where = (f"layer '{g.layer}' ({type(modules[g.layer]).__name__})" if g.layer
                     else f"{type(model).__name__}.forward itself")
            raise ExportError(f"to_onnx: no ONNX converter for Function {type(fn).__name__}, used in {where}; "
                              f"the exporter knows {', '.join(sorted(CONVERTERS))} "
                              "(add one to minifcn.export.CONVERTERS)")
        outs = convert(g)
        for i, name in enumerate([outs] if isinstance(outs, str) else outs):
            g.values[(id(fn), i)] = name
    model_proto = _assemble(onnx, g, model, x, outputs, dynamic_batch)
    data = model_proto.SerializeToString()
    onnx.checker.check_model(data)          # a malformed graph is an error here, not in a runtime
    with atomic_open(path) as f:           # a temporary file, renamed over path once whole
        f.write(data)
    return model_proto


def _value_info(onnx: Any, name: str, t: Tensor, batch: int | None) -> Any:
    dims = [("N" if a == 0 and batch is not None and n == batch else n) for a, n in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), dims)


def _assemble(onnx: Any, g: OnnxGraph, model: Any, x: Tensor, outputs: list[Tensor], dynamic_batch: bool) -> Any:
    """The ModelProto: nodes, initializers, named input/outputs with "N" as batch, metadata."""
    batch = x.shape[0] if dynamic_batch else None
    nodes = list(g.nodes)
    out_infos = []
    for i, t in enumerate(outputs):
        name = "output" if len(outputs) == 1 else f"output_{i}"
        nodes.append(onnx.helper.make_node("Identity", [g.value(t)], [name], name=f"{name}/Identity"))
        out_infos.append(_value_info(onnx, name, t, batch))
    read = {name for node in nodes for name in node.input}
    initializers = [t for name, t in g.initializers.items() if name in read]   # the forward's only
    graph = onnx.helper.make_graph(nodes, type(model).__name__, [_value_info(onnx, "input", x, batch)], out_infos,
                                   initializer=initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="minifcn", producer_version=__version__,
                                   doc_string=f"{type(model).__name__} exported by minifcn {__version__}")
    proto.ir_version = min(proto.ir_version, 9)   # readable by onnxruntime >= 1.15
    meta = {"minifcn_version": __version__, "model": type(model).__name__,
            "num_classes": str(outputs[0].shape[1]) if outputs[0].ndim > 1 else "",
            "input_shape": "x".join(str(n) for n in x.shape)}
    onnx.helper.set_model_props(proto, meta)
    return proto


def onnx_forward(path: str | os.PathLike, x: np.ndarray) -> np.ndarray:
    """Run an exported model in onnxruntime (CPU) on the NumPy batch ``x``: the first output."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3          # errors only
    session = onnxruntime.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": np.ascontiguousarray(x)})[0]
