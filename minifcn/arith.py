"""Convolution arithmetic: output sizes of convolution, transposed convolution and pooling.

Everything here is plain integer arithmetic along *one* spatial axis (the axes never
interact, so a 2-D op calls these once for H and once for W). Symbols, per axis:

    i  input size            k  kernel size             s  stride
    p  zero padding (each side)                          d  dilation
    a  output_padding (transposed only)                  o  output size

(In the 2-D ops: i = H or W, k = KH or KW, s = SH or SW, p = PH or PW, d = DH or DW,
o = OH or OW.)

The numbered relationships are those of Dumoulin & Visin, "A guide to convolution
arithmetic for deep learning" (2016). Every one counts the places a window can sit:

Convolution
    1  no zero padding, unit strides          o = (i - k) + 1
    2  zero padding, unit strides             o = (i - k) + 2p + 1
    3  half (same) padding: k odd, p = floor(k/2), s = 1       o = i
    4  full padding: p = k - 1, s = 1         o = i + (k - 1)
    5  no zero padding, non-unit strides      o = floor((i - k)/s) + 1
    6  zero padding, non-unit strides         o = floor((i + 2p - k)/s) + 1
Pooling
    7  o = floor((i - k)/s) + 1  (pooling is a convolution-shaped window with another
       function inside; PyTorch adds padding, dilation and ceil_mode, see pool_output_size)
Transposed convolution (the op whose matrix is the transpose of the convolution's; it
maps a size-o' input back to the size of the convolution's input). Written with the
direct convolution's k, s, p and the transposed op's input size i':
    8  of s = 1, p = 0:       o' = i' + (k - 1)        (full-padding conv, p' = k - 1)
    9  of s = 1, padding p:   o' = i' + (k - 1) - 2p   (conv with p' = k - p - 1)
    10 of half padding:      o' = i'                  (half-padding conv, p' = p)
    11 of full padding:      o' = i' - (k - 1)        (unpadded conv, p' = 0)
    12 of p = 0, stride s:    o' = s(i' - 1) + k       (conv of the input stretched by
                                                       s - 1 zeros between units, p' = k - 1)
    13 of padding p, stride s: o' = s(i' - 1) + k - 2p (stretched input, p' = k - p - 1)
    14 general:               o' = s(i' - 1) + a + k - 2p, with a = (i + 2p - k) mod s the
                              rows the strided convolution skipped: PyTorch's output_padding
Dilation (atrous convolution)
    15 effective kernel k^ = k + (k - 1)(d - 1);  o = floor((i + 2p - k - (k - 1)(d - 1))/s) + 1

PyTorch writes the general forms as o = floor((i + 2p - d(k - 1) - 1)/s) + 1 and
o' = (i' - 1)s - 2p + d(k - 1) + a + 1, which are relationships 15 and 14 (with k^ for k).

The ops in ``minifcn.functional`` call these functions, so shape errors and shape
documentation come from one place. This module uses only the standard library.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple, Sequence

__all__ = [
    "pair", "effective_kernel_size", "conv_output_size", "conv_transpose_output_size",
    "pool_output_size", "same_padding", "receptive_field", "receptive_field_table",
    "RFRow", "relationship", "Relationship",
]

# Smallest valid value of each hyperparameter, by the name the ops and PyTorch use.
_MINIMUM = {"input_size": 1, "kernel_size": 1, "stride": 1, "dilation": 1,
            "padding": 0, "output_padding": 0}


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as a Python int in ``low..high`` (no upper bound when ``high`` is None).

    The library's one integer check (``minifcn.checks`` re-exports it; it lives here
    because this module must import nothing). A non-integer (bools included) raises
    TypeError, an integer out of range ValueError; both name the argument, the value and
    the valid range.
    """
    valid = f">= {low}" if high is None else f"in {low}..{high}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer {valid}, got {value!r} of type {type(value).__name__}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {valid}, got {int(value)}")
    return int(value)


def pair(v, name: str, minimum: int | None = None) -> tuple[int, int]:
    """Turn an int or a pair of ints into ``(H value, W value)``, checking each.

    ``name`` is the argument's name, used in error messages. ``minimum`` defaults to 1
    for ``kernel_size``, ``stride``, ``dilation`` and 0 otherwise (``padding``,
    ``output_padding``, ...).

    >>> pair(3, "kernel_size"), pair((1, 2), "padding")
    ((3, 3), (1, 2))
    """
    lo = _MINIMUM.get(name, 0) if minimum is None else minimum
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints (H, W), "
                             f"got {v!r} with {len(v)} values")
        return (check_int(f"{name}[0]", v[0], lo), check_int(f"{name}[1]", v[1], lo))
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an int or a pair of ints (H, W) >= {lo}, "
                        f"got {v!r} of type {type(v).__name__}")
    v = check_int(name, v, lo)
    return (v, v)


def effective_kernel_size(k: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: k^ = k + (k - 1)(d - 1) = d(k - 1) + 1.

    Dilation inserts d - 1 holes between the k taps (*à trous*), so a 3-tap kernel with
    d = 2 spans 5 input positions with still only 3 weights.
    """
    k = check_int("kernel_size", k, 1)
    d = check_int("dilation", dilation, 1)
    return k + (k - 1) * (d - 1)


def _check_fits(i: int, k: int, s: int, p: int, d: int) -> None:
    """Raise when the dilated kernel does not fit once inside the padded input.

    That is exactly when floor((i + 2p - d(k-1) - 1)/s) + 1 < 1, so the message shows
    the formula with the numbers.
    """
    k_eff = k + (k - 1) * (d - 1)
    if i + 2 * p < k_eff:
        o = (i + 2 * p - d * (k - 1) - 1) // s + 1
        raise ValueError(
            f"kernel_size={k} (effective {k_eff} with dilation={d}) is larger than the "
            f"padded input {i} + 2*{p} = {i + 2 * p}: output size "
            f"floor(({i} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1 = {o} < 1")


def conv_output_size(i: int, k: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output size of a convolution along one axis (Relationship 15, PyTorch's form).

        o = floor((i + 2p - d(k - 1) - 1)/s) + 1 = floor((i + 2p - k^)/s) + 1

    Count the window positions: the window, k^ = d(k - 1) + 1 wide, starts at
    0, s, 2s, ... of the padded input (size i + 2p) and must end inside it. Special
    cases: Relationships 1-6 (d = 1), e.g. o = i - k + 1 for s = 1, p = 0.

    >>> conv_output_size(5, 3), conv_output_size(5, 3, stride=2, padding=1)
    (3, 3)
    """
    i = check_int("input_size", i, 1)
    k = check_int("kernel_size", k, 1)
    s = check_int("stride", stride, 1)
    p = check_int("padding", padding, 0)
    d = check_int("dilation", dilation, 1)
    _check_fits(i, k, s, p, d)
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def conv_transpose_output_size(i: int, k: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Output size of a transposed convolution along one axis (Relationship 14).

        o' = (i' - 1)s - 2p + d(k - 1) + a + 1 = s(i' - 1) + a + k^ - 2p

    Each of the i' inputs drops a copy of the k^-wide kernel into the output, s apart:
    s(i' - 1) + k^ positions in all; the padding p crops p from each side. A strided
    convolution maps s different input sizes to the same output size, so a
    (``output_padding``, 0 <= a < max(s, d) as PyTorch requires) picks which one to
    recover: conv_output_size(o') == i' for every a < s.

    >>> conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1)
    6
    """
    i = check_int("input_size", i, 1)
    k = check_int("kernel_size", k, 1)
    s = check_int("stride", stride, 1)
    p = check_int("padding", padding, 0)
    a = check_int("output_padding", output_padding, 0)
    d = check_int("dilation", dilation, 1)
    if a >= max(s, d):
        # a >= s would add a whole extra stride's worth of rows that no input feeds
        raise ValueError(
            f"output_padding={a} must be smaller than max(stride, dilation) = "
            f"max({s}, {d}) = {max(s, d)}, i.e. in 0..{max(s, d) - 1}")
    o = (i - 1) * s - 2 * p + d * (k - 1) + a + 1
    if o < 1:
        raise ValueError(
            f"padding={p} crops more than the transposed convolution produces: output size "
            f"({i}-1)*{s} - 2*{p} + {d}*({k}-1) + {a} + 1 = {o} < 1")
    return o


def pool_output_size(i: int, k: int, stride: int | None = None, padding: int = 0,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output size of max/average pooling along one axis (Relationship 7, PyTorch's rule).

        o = floor((i + 2p - d(k - 1) - 1)/s) + 1            (ceil_mode=False)
        o = ceil((i + 2p - d(k - 1) - 1)/s) + 1             (ceil_mode=True)
            and then o -= 1 if (o - 1)s >= i + p

    ``stride`` defaults to k (non-overlapping windows). With ``ceil_mode`` a last,
    partial window may hang over the right edge, but it must *start* inside the input
    or the left padding; one that would start in the right padding is dropped. PyTorch
    also requires p <= floor(k/2).

    >>> pool_output_size(5, 2), pool_output_size(5, 2, ceil_mode=True)
    (2, 3)
    """
    i = check_int("input_size", i, 1)
    k = check_int("kernel_size", k, 1)
    s = k if stride is None else check_int("stride", stride, 1)
    p = check_int("padding", padding, 0)
    d = check_int("dilation", dilation, 1)
    if p > k // 2:
        # PyTorch's rule: padding only centres windows on border pixels
        raise ValueError(f"padding={p} must be at most half the kernel_size: "
                         f"padding <= kernel_size // 2 = {k} // 2 = {k // 2}")
    _check_fits(i, k, s, p, d)
    span = i + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    o = -(-span // s) + 1                 # ceil division on integers
    if (o - 1) * s >= i + p:              # last window would start in the right padding
        o -= 1
    return o


def same_padding(k: int, dilation: int = 1) -> tuple[int, int]:
    """(left, right) zero padding that keeps o = i at stride 1 (PyTorch's padding="same").

    The total is k^ - 1 = d(k - 1); when it is odd PyTorch puts the extra zero on the
    right. For odd k and d = 1 this is Relationship 3's p = floor(k/2) on both sides.

    >>> same_padding(3), same_padding(4), same_padding(3, dilation=2)
    ((1, 1), (1, 2), (2, 2))
    """
    total = effective_kernel_size(k, dilation) - 1
    return total // 2, total - total // 2


class RFRow(NamedTuple):
    """Receptive field ``rf`` of one unit after a layer, and the ``jump`` between
    neighbouring units of that layer, both measured in input pixels."""
    rf: int
    jump: int


def _layer(layer, index: int) -> tuple[int, int, int]:
    """Read one layer as (kernel, stride=1, dilation=1)."""
    if not isinstance(layer, (tuple, list)) or not 1 <= len(layer) <= 3:
        raise ValueError(f"layers[{index}] must be a tuple (kernel,), (kernel, stride) or "
                         f"(kernel, stride, dilation), got {layer!r}")
    k, s, d = (tuple(layer) + (1, 1))[:3]
    return (check_int(f"layers[{index}] kernel_size", k, 1),
            check_int(f"layers[{index}] stride", s, 1),
            check_int(f"layers[{index}] dilation", d, 1))


def receptive_field_table(layers: Sequence[tuple[int, ...]]) -> list[RFRow]:
    """Receptive field and jump after each layer of a stack of 1-D windows.

    Each layer is ``(kernel,)``, ``(kernel, stride)`` or ``(kernel, stride, dilation)``.
    Starting from one input pixel (rf = 1, jump = 1):

        r_out = r_in + (k^ - 1) j_in        j_out = j_in s

    A layer widens the field by its effective kernel, measured in the previous layer's
    jump. Dilation grows k^ and hence the field with no extra weights (atrous conv).
    """
    r, j, table = 1, 1, []
    for n, layer in enumerate(layers):
        k, s, d = _layer(layer, n)
        r, j = r + (k + (k - 1) * (d - 1) - 1) * j, j * s
        table.append(RFRow(r, j))
    return table


def receptive_field(layers: Sequence[tuple[int, ...]]) -> int:
    """Receptive field (input pixels one output unit sees) of a stack of layers.

    See :func:`receptive_field_table`. Three 3-tap layers see 7 pixels; with dilations
    1, 2, 4 they see 15, with the same 9 weights.

    >>> receptive_field([(3, 1, 1)] * 3), receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])
    (7, 15)
    """
    table = receptive_field_table(layers)
    return table[-1].rf if table else 1


class Relationship(NamedTuple):
    """Which relationship of Dumoulin & Visin applies, the formula with numbers, the size."""
    name: str
    formula: str
    value: int


def relationship(kind: str, i: int, k: int, s: int | None = None, p: int = 0, d: int = 1,
                 output_padding: int = 0, ceil_mode: bool = False) -> Relationship:
    """Name the relationship that gives the output size, and show it with the numbers.

    ``kind`` is ``"conv"``, ``"transpose"`` or ``"pool"``; ``s`` defaults to 1 (conv,
    transpose) or to k (pool), as in the ops. ``formula`` reads
    ``"<formula> = <formula with numbers> = <value>"``; the middle part is a valid
    Python expression given ``floor`` and ``ceil``.

    >>> relationship("conv", 5, 3, 1, 1).formula
    'o = i + 2p - (k - 1) = 5 + 2*1 - (3 - 1) = 5'
    """
    if kind not in ("conv", "transpose", "pool"):
        raise ValueError(f"kind must be 'conv', 'transpose' or 'pool', got {kind!r}")
    if output_padding != 0 and kind != "transpose":
        raise ValueError(f"output_padding={output_padding!r} applies only to "
                         f"kind='transpose', got kind={kind!r}")
    if ceil_mode and kind != "pool":
        raise ValueError(f"ceil_mode=True applies only to kind='pool', got kind={kind!r}")
    if kind == "conv":
        value = conv_output_size(i, k, 1 if s is None else s, p, d)
    elif kind == "transpose":
        value = conv_transpose_output_size(i, k, 1 if s is None else s, p, output_padding, d)
    else:
        value = pool_output_size(i, k, s, p, d, ceil_mode)
    i, k, p, d, a = int(i), int(k), int(p), int(d), int(output_padding)
    s = (k if kind == "pool" else 1) if s is None else int(s)
    name, formula, with_numbers = _pick(kind, i, k, s, p, d, a, ceil_mode)
    if kind == "pool" and ceil_mode:
        o = -(-(i + 2 * p - d * (k - 1) - 1) // s) + 1   # before PyTorch's correction
        text = f"{formula} = {with_numbers} = {o}"
        if o != value:
            text += (f"; the last window would start at (o-1)*s = {o - 1}*{s} = {(o - 1) * s}"
                     f" >= i + p = {i} + {p}, in the right padding, so it is dropped:"
                     f" o = {value}")
    else:
        text = f"{formula} = {with_numbers} = {value}"
    return Relationship(name, text, value)


def _pick(kind: str, i: int, k: int, s: int, p: int, d: int, a: int,
          ceil_mode: bool) -> tuple[str, str, str]:
    """(name, symbolic formula, formula with the numbers) of the most specific relationship."""
    if kind == "pool":
        if p == 0 and d == 1 and not ceil_mode:
            return ("Relationship 7: pooling", "o = floor((i - k)/s) + 1",
                    f"floor(({i} - {k})/{s}) + 1")
        rnd = "ceil" if ceil_mode else "floor"
        return (f"Relationship 7 with PyTorch's padding, dilation and ceil_mode={ceil_mode}",
                f"o = {rnd}((i + 2p - d(k-1) - 1)/s) + 1",
                f"{rnd}(({i} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1")
    if d != 1:
        k_hat = k + (k - 1) * (d - 1)
        if kind == "conv":
            return (f"Relationship 15: dilated (atrous) convolution, effective kernel "
                    f"k^ = k + (k-1)(d-1) = {k_hat}",
                    "o = floor((i + 2p - k - (k-1)(d-1))/s) + 1",
                    f"floor(({i} + 2*{p} - {k} - ({k}-1)*({d}-1))/{s}) + 1")
        return (f"Relationship 14 with the dilated kernel k^ = k + (k-1)(d-1) = {k_hat}: "
                f"transposed dilated convolution",
                "o' = s(i' - 1) + a + k + (k-1)(d-1) - 2p",
                f"{s}*({i} - 1) + {a} + {k} + ({k}-1)*({d}-1) - 2*{p}")
    half = k % 2 == 1 and p == k // 2
    if kind == "conv":
        if s == 1 and p == 0:
            return ("Relationship 1: no zero padding, unit strides", "o = (i - k) + 1",
                    f"({i} - {k}) + 1")
        if s == 1 and half:
            return ("Relationship 3: half (same) padding, unit strides (o = i)",
                    "o = i + 2p - (k - 1)", f"{i} + 2*{p} - ({k} - 1)")
        if s == 1 and p == k - 1:
            return ("Relationship 4: full padding, unit strides", "o = i + (k - 1)",
                    f"{i} + ({k} - 1)")
        if s == 1:
            return ("Relationship 2: zero padding, unit strides", "o = (i - k) + 2p + 1",
                    f"({i} - {k}) + 2*{p} + 1")
        if p == 0:
            return ("Relationship 5: no zero padding, non-unit strides",
                    "o = floor((i - k)/s) + 1", f"floor(({i} - {k})/{s}) + 1")
        return ("Relationship 6: zero padding, non-unit strides",
                "o = floor((i + 2p - k)/s) + 1", f"floor(({i} + 2*{p} - {k})/{s}) + 1")
    # transposed, d = 1 (so a = 0 whenever s = 1)
    if s == 1 and p == 0:
        return ("Relationship 8: transposed of no padding, unit strides "
                "(= full-padding convolution, p' = k - 1)", "o' = i' + (k - 1)",
                f"{i} + ({k} - 1)")
    if s == 1 and half:
        return ("Relationship 10: transposed of half (same) padding, unit strides "
                "(= half-padding convolution, p' = p; o' = i')", "o' = i' + (k - 1) - 2p",
                f"{i} + ({k} - 1) - 2*{p}")
    if s == 1 and p == k - 1:
        return ("Relationship 11: transposed of full padding, unit strides "
                "(= unpadded convolution, p' = 0)", "o' = i' - (k - 1)", f"{i} - ({k} - 1)")
    if s == 1:
        return ("Relationship 9: transposed of zero padding, unit strides "
                "(= convolution with p' = k - p - 1)", "o' = i' + (k - 1) - 2p",
                f"{i} + ({k} - 1) - 2*{p}")
    if a == 0 and p == 0:
        return ("Relationship 12: transposed of no padding, non-unit strides "
                "(= convolution of the stretched input, s - 1 zeros between units, "
                "p' = k - 1)", "o' = s(i' - 1) + k", f"{s}*({i} - 1) + {k}")
    if a == 0:
        return ("Relationship 13: transposed of zero padding, non-unit strides "
                "(= convolution of the stretched input, p' = k - p - 1)",
                "o' = s(i' - 1) + k - 2p", f"{s}*({i} - 1) + {k} - 2*{p}")
    return ("Relationship 14: transposed of zero padding, non-unit strides, "
            "output_padding a (= convolution of the stretched input with a extra zeros "
            "at the end, p' = k - p - 1)", "o' = s(i' - 1) + a + k - 2p",
            f"{s}*({i} - 1) + {a} + {k} - 2*{p}")
