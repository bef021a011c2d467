"""Convolution arithmetic: every formula in ``minifcn.arith`` against a brute-force count.

The references below never use the formulas: they walk a 1-D padded input with plain
loops, list the kernel taps, scatter copies of a kernel, or propagate sets of positions.
"""
import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minifcn import arith

# ---- brute-force references -----------------------------------------------------------------


def taps(start, k, d):
    """Positions a k-tap kernel with dilation d reads when its first tap sits at ``start``."""
    return [start + t * d for t in range(k)]


def count_conv_windows(i, k, s, p, d):
    """Number of s-strided window starts whose dilated taps all lie in the padded input."""
    padded = i + 2 * p
    count = 0
    for start in range(0, padded, s):
        if max(taps(start, k, d)) <= padded - 1:
            count += 1
    return count


def count_pool_windows(i, k, s, p, d, ceil_mode):
    """Walk the windows as PyTorch's docs describe pooling.

    floor mode: a window must fit inside the padded input. ceil mode: keep sliding until a
    window reaches the end of the padded input (the last one may hang over it), but a
    window that would start in the right padding is ignored.
    """
    padded, count, start = i + 2 * p, 0, 0
    while True:
        last = max(taps(start, k, d))
        if not ceil_mode:
            if last > padded - 1:
                return count
            count += 1
        else:
            if start - p >= i:          # starts in the right padding
                return count
            count += 1
            if last >= padded - 1:      # this window reached the end
                return count
        start += s


def pool_size_pytorch_docs(i, k, s, p, d, ceil_mode):
    """nn.MaxPool2d's documented formula: floor/ceil((i + 2p - d(k-1) - 1)/s + 1), then drop
    a last window that would start in the right padding."""
    exact = (i + 2 * p - d * (k - 1) - 1) / s + 1
    o = math.ceil(exact) if ceil_mode else math.floor(exact)
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


def transposed_size_by_scatter(i, k, s, p, a, d):
    """Each of the i inputs adds a kernel copy at stride s; output_padding a extends the end;
    p is cropped from both sides."""
    touched = set()
    for x in range(i):
        touched.update(taps(x * s, k, d))
    return (max(touched) + 1 + a) - 2 * p


def receptive_field_by_sets(layers):
    """Input positions seen by output unit 0 (and the jump to unit 1), walking back
    through the layers: unit x of a (k, s, d) layer reads x*s + t*d, t = 0..k-1."""
    def seen(unit):
        positions = {unit}
        for k, s, d in reversed(layers):
            positions = {x * s + t * d for x in positions for t in range(k)}
        return positions
    first, second = seen(0), seen(1)
    return max(first) - min(first) + 1, min(second) - min(first)


def formula_numbers(formula):
    """The middle part of 'o = <symbols> = <numbers> = <value>[; ...]', evaluated exactly."""
    middle = formula.split(";")[0].split(" = ")[-2]
    env = {"floor": math.floor, "ceil": math.ceil, "F": Fraction, "__builtins__": {}}
    return int(eval(re.sub(r"(\d+)", r"F(\1)", middle), env))   # exact division


# ---- strategies ----------------------------------------------------------------------------

sizes = st.integers(1, 30)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
paddings = st.integers(0, 6)
dilations = st.integers(1, 4)


# ---- convolution ---------------------------------------------------------------------------

@given(sizes, kernels, strides, paddings, dilations)
def test_conv_output_size_counts_window_positions(i, k, s, p, d):
    expected = count_conv_windows(i, k, s, p, d)
    if expected == 0:
        with pytest.raises(ValueError, match="is larger than the padded input"):
            arith.conv_output_size(i, k, s, p, d)
    else:
        assert arith.conv_output_size(i, k, stride=s, padding=p, dilation=d) == expected


def test_conv_output_size_exhaustive_small_grid():
    for i in range(1, 11):
        for k in range(1, 6):
            for s in range(1, 4):
                for p in range(0, 4):
                    for d in range(1, 4):
                        expected = count_conv_windows(i, k, s, p, d)
                        if expected:
                            assert arith.conv_output_size(i, k, s, p, d) == expected, (i, k, s, p, d)


@pytest.mark.parametrize("i, k, s, p, d, o", [
    (4, 3, 1, 0, 1, 2),   # Relationship 1, the guide's Figure 2.1
    (5, 4, 1, 2, 1, 6),   # Relationship 2
    (5, 3, 1, 1, 1, 5),   # Relationship 3, half padding
    (5, 3, 1, 2, 1, 7),   # Relationship 4, full padding
    (5, 3, 2, 0, 1, 2),   # Relationship 5
    (5, 3, 2, 1, 1, 3),   # Relationship 6
    (6, 3, 2, 1, 1, 3),   # Relationship 6, the bottom row is never covered
    (7, 3, 1, 0, 2, 3),   # Relationship 15, dilation
])
def test_conv_output_size_worked_examples_of_the_guide(i, k, s, p, d, o):
    assert arith.conv_output_size(i, k, s, p, d) == o


def test_effective_kernel_size_is_the_span_of_the_taps():
    for k in range(1, 6):
        for d in range(1, 5):
            span = max(taps(0, k, d)) - min(taps(0, k, d)) + 1
            assert arith.effective_kernel_size(k, d) == span


@pytest.mark.parametrize("k, d", [(k, d) for k in range(1, 7) for d in range(1, 4)])
def test_same_padding_keeps_the_size_and_puts_the_extra_on_the_right(k, d):
    left, right = arith.same_padding(k, d)
    assert left + right == d * (k - 1) and right - left in (0, 1)
    for i in range(1, 9):   # one window per input position: count on the asymmetric pad
        padded = left + i + right
        count = sum(max(taps(start, k, d)) <= padded - 1 for start in range(padded))
        assert count == i


# ---- transposed convolution ----------------------------------------------------------------

@given(sizes, kernels, strides, paddings, dilations, st.integers(0, 4))
def test_conv_transpose_output_size_matches_scatter(i, k, s, p, d, a):
    if a >= max(s, d):
        with pytest.raises(ValueError, match="output_padding"):
            arith.conv_transpose_output_size(i, k, s, p, a, d)
        return
    expected = transposed_size_by_scatter(i, k, s, p, a, d)
    if expected < 1:
        with pytest.raises(ValueError, match="crops more than"):
            arith.conv_transpose_output_size(i, k, s, p, a, d)
    else:
        assert arith.conv_transpose_output_size(i, k, stride=s, padding=p, output_padding=a,
                                                dilation=d) == expected


@given(sizes, kernels, strides, paddings, dilations, st.integers(0, 4))
def test_convolution_undoes_the_transposed_size(i, k, s, p, d, a):
    """conv(conv_transpose(i)) == i for every output_padding a < s (a = s.. < d adds rows)."""
    if a >= max(s, d) or transposed_size_by_scatter(i, k, s, p, a, d) < 1:
        return
    o_t = arith.conv_transpose_output_size(i, k, s, p, a, d)
    assert count_conv_windows(o_t, k, s, p, d) == i + a // s
    if a < s:
        assert arith.conv_output_size(o_t, k, s, p, d) == i


@given(sizes, kernels, strides, paddings, dilations)
def test_output_padding_recovers_every_input_size(n, k, s, p, d):
    """Relationship 14: the s input sizes that convolve to the same o are told apart by
    a = (n + 2p - k^) mod s."""
    o = count_conv_windows(n, k, s, p, d)
    if o == 0:
        return
    a = (n + 2 * p - max(taps(0, k, d)) - 1) % s
    assert arith.conv_transpose_output_size(o, k, s, p, a, d) == n


@pytest.mark.parametrize("i, k, s, p, a, o", [
    (2, 3, 1, 0, 0, 4),   # Relationship 8
    (6, 4, 1, 2, 0, 5),   # Relationship 9
    (5, 3, 1, 1, 0, 5),   # Relationship 10
    (7, 3, 1, 2, 0, 5),   # Relationship 11
    (2, 3, 2, 0, 0, 5),   # Relationship 12
    (3, 3, 2, 1, 0, 5),   # Relationship 13
    (3, 3, 2, 1, 1, 6),   # Relationship 14 (the guide's i = 6 example)
])
def test_conv_transpose_output_size_worked_examples_of_the_guide(i, k, s, p, a, o):
    assert arith.conv_transpose_output_size(i, k, s, p, a) == o


def test_output_padding_may_reach_the_dilation():
    """PyTorch allows a < max(s, d): with s = 1, d = 2 one extra row (a = 1) is allowed."""
    # scatter: inputs 0, 1 each touch x + {0, 2, 4}: positions 0..5, plus a = 1 row -> 7
    assert arith.conv_transpose_output_size(2, 3, stride=1, output_padding=1, dilation=2) == 7


# ---- pooling -------------------------------------------------------------------------------

@given(sizes, kernels, st.one_of(st.none(), strides), st.integers(0, 3), dilations, st.booleans())
def test_pool_output_size_walks_the_windows(i, k, s, p, d, ceil_mode):
    stride = k if s is None else s
    if p > k // 2:
        with pytest.raises(ValueError, match="must be at most half the kernel_size"):
            arith.pool_output_size(i, k, s, p, d, ceil_mode)
        return
    if count_conv_windows(i, k, stride, p, d) == 0:
        with pytest.raises(ValueError, match="is larger than the padded input"):
            arith.pool_output_size(i, k, s, p, d, ceil_mode)
        return
    o = arith.pool_output_size(i, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    assert o == count_pool_windows(i, k, stride, p, d, ceil_mode)
    assert o == pool_size_pytorch_docs(i, k, stride, p, d, ceil_mode)


@pytest.mark.parametrize("i, k, s, p, ceil_mode, o", [
    (5, 2, 2, 0, False, 2), (5, 2, 2, 0, True, 3),     # the odd last column: dropped / kept
    (4, 2, 2, 0, True, 2),                             # even size: ceil changes nothing
    (6, 3, 2, 1, False, 3), (6, 3, 2, 1, True, 4),
    (5, 1, 3, 0, True, 2),    # ceil gives 3, but that window would start at 6 > 4: dropped
    (5, 2, 3, 1, True, 2),    # ceil gives 3, but window 3 would start in the right padding
])
def test_pool_ceil_mode_cases(i, k, s, p, ceil_mode, o):
    assert arith.pool_output_size(i, k, s, p, ceil_mode=ceil_mode) == o
    assert pool_size_pytorch_docs(i, k, s, p, 1, ceil_mode) == o


def test_pool_stride_defaults_to_kernel_size():
    assert arith.pool_output_size(8, 2) == 4
    assert arith.pool_output_size(9, 3) == 3


# ---- receptive field -----------------------------------------------------------------------

layer_tuples = st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 4))


@given(st.lists(layer_tuples, min_size=1, max_size=4))
def test_receptive_field_matches_propagated_positions(layers):
    rf, jump = receptive_field_by_sets(layers)
    assert arith.receptive_field(layers) == rf
    table = arith.receptive_field_table(layers)
    assert len(table) == len(layers)
    assert (table[-1].rf, table[-1].jump) == (rf, jump)
    for n, row in enumerate(table):   # every prefix too
        assert tuple(row) == receptive_field_by_sets(layers[: n + 1])


def test_atrous_convolution_grows_the_receptive_field_without_weights():
    # three 3x3 layers, stride 1: 1 + 2 + 2 + 2 = 7; dilations 1, 2, 4: 1 + 2 + 4 + 8 = 15
    assert arith.receptive_field([(3, 1, 1)] * 3) == 7
    assert arith.receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == 15
    assert arith.receptive_field([(3,), (3, 1), (3, 1, 1)]) == 7        # short tuples
    assert arith.receptive_field([(2, 2), (2, 2), (2, 2)]) == 8         # 3 poolings: 2**3
    assert arith.receptive_field_table([(3, 2), (3, 2)]) == [(3, 2), (7, 4)]
    assert arith.receptive_field([]) == 1


# ---- relationships of Dumoulin & Visin -----------------------------------------------------

@pytest.mark.parametrize("kind, args, number, value", [
    ("conv", (4, 3), 1, 2),
    ("conv", (5, 4, 1, 2), 2, 6),
    ("conv", (5, 3, 1, 1), 3, 5),
    ("conv", (6, 5, 1, 2), 3, 6),
    ("conv", (6, 5, 1, 1), 2, 4),
    ("conv", (5, 3, 1, 2), 4, 7),
    ("conv", (5, 3, 2), 5, 2),
    ("conv", (5, 3, 2, 1), 6, 3),
    ("conv", (7, 3, 1, 0, 2), 15, 3),
    ("pool", (5, 3, 1), 7, 3),
    ("pool", (5, 2), 7, 2),
    ("transpose", (2, 3), 8, 4),
    ("transpose", (6, 4, 1, 2), 9, 5),
    ("transpose", (5, 3, 1, 1), 10, 5),
    ("transpose", (6, 5, 1, 2), 10, 6),
    ("transpose", (7, 3, 1, 2), 11, 5),
    ("transpose", (2, 3, 2), 12, 5),
    ("transpose", (3, 3, 2, 1), 13, 5),
    ("transpose", (3, 3, 2, 1, 1, 1), 14, 6),
])
def test_relationship_names_the_guides_case(kind, args, number, value):
    name, formula, o = arith.relationship(kind, *args)
    assert name.startswith(f"Relationship {number}")
    assert o == value
    assert formula.endswith(f"= {value}")
    assert formula_numbers(formula) == value


def test_relationship_pool_ceil_mode_explains_the_dropped_window():
    r = arith.relationship("pool", 5, 1, 3, ceil_mode=True)
    assert r.value == 2
    assert formula_numbers(r.formula) == 3
    assert "in the right padding, so it is dropped: o = 2" in r.formula


@given(st.sampled_from(["conv", "transpose", "pool"]), sizes, kernels, strides,
       st.integers(0, 3), dilations, st.integers(0, 3), st.booleans())
def test_relationship_value_and_numbers_agree_with_brute_force(kind, i, k, s, p, d, a, ceil_mode):
    if kind == "conv":
        expected = count_conv_windows(i, k, s, p, d)
        ok, a, ceil_mode = expected > 0, 0, False
    elif kind == "transpose":
        expected = transposed_size_by_scatter(i, k, s, p, a, d)
        ok, ceil_mode = expected > 0 and a < max(s, d), False
    else:
        expected = count_pool_windows(i, k, s, p, d, ceil_mode)
        ok, a = p <= k // 2 and count_conv_windows(i, k, s, p, d) > 0, 0
    if not ok:
        with pytest.raises(ValueError):
            arith.relationship(kind, i, k, s, p, d, a, ceil_mode=ceil_mode)
        return
    name, formula, value = arith.relationship(kind, i, k, s, p, d, a, ceil_mode=ceil_mode)
    assert value == expected
    assert name.startswith("Relationship ")
    if not (kind == "pool" and ceil_mode and ";" in formula):
        assert formula_numbers(formula) == expected


# ---- pair and argument checking ------------------------------------------------------------

def test_pair_turns_ints_into_pairs():
    assert arith.pair(3, "kernel_size") == (3, 3)
    assert arith.pair((1, 2), "padding") == (1, 2)
    assert arith.pair([2, 3], "stride") == (2, 3)
    assert arith.pair(np.int64(2), "stride") == (2, 2)
    assert type(arith.pair(np.int64(2), "stride")[0]) is int
    assert arith.pair(0, "padding") == (0, 0)
    assert arith.pair(0, "anything", minimum=0) == (0, 0)


@pytest.mark.parametrize("v, name, error, message", [
    ((1, 2, 3), "stride", ValueError, "stride must be an int or a pair of ints (H, W), got (1, 2, 3) with 3 values"),
    (0, "stride", ValueError, "stride must be an integer >= 1, got 0"),
    (0, "kernel_size", ValueError, "kernel_size must be an integer >= 1, got 0"),
    (0, "dilation", ValueError, "dilation must be an integer >= 1, got 0"),
    (-1, "padding", ValueError, "padding must be an integer >= 0, got -1"),
    ((1, -1), "padding", ValueError, "padding[1] must be an integer >= 0, got -1"),
    (1.5, "kernel_size", TypeError, "kernel_size must be an int or a pair of ints (H, W) >= 1, got 1.5 of type float"),
    ((2, 2.0), "stride", TypeError, "stride[1] must be an integer >= 1, got 2.0 of type float"),
    (True, "stride", TypeError, "got True of type bool"),
    ("3", "kernel_size", TypeError, "got '3' of type str"),
])
def test_pair_errors_name_the_argument_value_and_range(v, name, error, message):
    with pytest.raises(error, match=re.escape(message)):
        arith.pair(v, name)


def test_kernel_larger_than_padded_input_shows_the_formula():
    msg = ("kernel_size=5 (effective 5 with dilation=1) is larger than the padded input "
           "3 + 2*0 = 3: output size floor((3 + 2*0 - 1*(5-1) - 1)/1) + 1 = -1 < 1")
    with pytest.raises(ValueError, match=re.escape(msg)):
        arith.conv_output_size(3, 5)
    msg = ("kernel_size=3 (effective 7 with dilation=3) is larger than the padded input "
           "4 + 2*1 = 6: output size floor((4 + 2*1 - 3*(3-1) - 1)/2) + 1 = 0 < 1")
    with pytest.raises(ValueError, match=re.escape(msg)):
        arith.conv_output_size(4, 3, stride=2, padding=1, dilation=3)
    with pytest.raises(ValueError, match=re.escape("kernel_size=3 (effective 3 with dilation=1) "
                                                   "is larger than the padded input 2 + 2*0 = 2")):
        arith.pool_output_size(2, 3, ceil_mode=True)


@pytest.mark.parametrize("call, error, message", [
    (lambda: arith.conv_output_size(0, 3), ValueError, "input_size must be an integer >= 1, got 0"),
    (lambda: arith.conv_output_size(5, 0), ValueError, "kernel_size must be an integer >= 1, got 0"),
    (lambda: arith.conv_output_size(5, 3, stride=0), ValueError, "stride must be an integer >= 1, got 0"),
    (lambda: arith.conv_output_size(5, 3, padding=-1), ValueError, "padding must be an integer >= 0, got -1"),
    (lambda: arith.conv_output_size(5, 3, dilation=0), ValueError, "dilation must be an integer >= 1, got 0"),
    (lambda: arith.conv_output_size(5.0, 3), TypeError, "input_size must be an integer >= 1, got 5.0 of type float"),
    (lambda: arith.conv_output_size(5, 3, stride=(2, 2)), TypeError, "stride must be an integer >= 1, got (2, 2) of type tuple"),
    (lambda: arith.conv_transpose_output_size(3, 3, stride=2, output_padding=2), ValueError,
     "output_padding=2 must be smaller than max(stride, dilation) = max(2, 1) = 2, i.e. in 0..1"),
    (lambda: arith.conv_transpose_output_size(3, 3, output_padding=1), ValueError,
     "output_padding=1 must be smaller than max(stride, dilation) = max(1, 1) = 1, i.e. in 0..0"),
    (lambda: arith.conv_transpose_output_size(3, 3, output_padding=-1), ValueError,
     "output_padding must be an integer >= 0, got -1"),
    (lambda: arith.conv_transpose_output_size(1, 1, padding=1), ValueError,
     "padding=1 crops more than the transposed convolution produces: output size "
     "(1-1)*1 - 2*1 + 1*(1-1) + 0 + 1 = -1 < 1"),
    (lambda: arith.pool_output_size(5, 3, padding=2), ValueError,
     "padding=2 must be at most half the kernel_size: padding <= kernel_size // 2 = 3 // 2 = 1"),
    (lambda: arith.pool_output_size(5, 2, stride=0), ValueError, "stride must be an integer >= 1, got 0"),
    (lambda: arith.effective_kernel_size(3, 0), ValueError, "dilation must be an integer >= 1, got 0"),
    (lambda: arith.same_padding(0), ValueError, "kernel_size must be an integer >= 1, got 0"),
    (lambda: arith.receptive_field([(3, 1, 1), 3]), ValueError,
     "layers[1] must be a tuple (kernel,), (kernel, stride) or (kernel, stride, dilation), got 3"),
    (lambda: arith.receptive_field([(3, 1, 1, 1)]), ValueError, "layers[0] must be a tuple"),
    (lambda: arith.receptive_field([(3, 0)]), ValueError, "layers[0] stride must be an integer >= 1, got 0"),
    (lambda: arith.relationship("deconv", 5, 3), ValueError,
     "kind must be 'conv', 'transpose' or 'pool', got 'deconv'"),
    (lambda: arith.relationship("conv", 5, 3, 2, 0, 1, 1), ValueError,
     "output_padding=1 applies only to kind='transpose', got kind='conv'"),
    (lambda: arith.relationship("conv", 5, 3, ceil_mode=True), ValueError,
     "ceil_mode=True applies only to kind='pool', got kind='conv'"),
    (lambda: arith.relationship("conv", 2, 3), ValueError, "is larger than the padded input"),
])
def test_bad_arguments_are_named_with_value_and_valid_range(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_sizes_are_python_ints_even_from_numpy_integers():
    o = arith.conv_output_size(np.int64(9), np.int32(3), stride=np.int64(2))
    assert o == 4 and type(o) is int


def test_arith_imports_without_numpy():
    path = Path(arith.__file__)
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('arith', {str(path)!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "assert m.conv_output_size(5, 3) == 3\n"
            "print('numpy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
