# %% [markdown]
# # Lesson 7 — Convolution arithmetic
#
# **This lesson covers:** output sizes of convolution, pooling, transposed convolution and
# dilation (Dumoulin & Visin's relationships 1–15); the transposed convolution as a
# unit-stride convolution of the stretched input; the lecture's "unitary stride" slip;
# `padding="same"`; receptive field (depth, downsampling, Yu & Koltun's dilations).
#
# (Lesson 1 gave the general output size and receptive field in brief; lesson 6 the
# transposed convolution's matrix, stamps and checkerboards. Here: every case, derived.)
#
# A fully convolutional network must give back a label map the size of its input, and a
# U-Net's skip connections only work when the encoder's and the decoder's feature maps
# have the same size. So we must know, for every layer, **how big its output is**.
#
# Dumoulin & Visin's *A guide to convolution arithmetic for deep learning* (2016) answers
# this with a short list of numbered relationships. This lesson goes through all of them,
# draws each one, and checks every formula against the shape that `minifcn`'s real
# operations produce.
#
# The two spatial axes never interact, so everything is arithmetic along **one axis**:
#
# | symbol | meaning | | symbol | meaning |
# |---|---|---|---|---|
# | $i$ | input size | | $p$ | zero padding on each side |
# | $k$ | kernel size | | $d$ | dilation |
# | $s$ | stride | | $a$ | output padding (transposed only) |
# | $o$ | output size | | | |

# %%
import itertools
import re

import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup, seed
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("07_conv_arithmetic")
plt = pyplot()

from minifcn.nn.summary import measured_receptive_field
from minifcn.plotting import draw_kernel_positions

# %% [markdown]
# ## The ground truth: run the real operation
#
# To check a formula we run the operation itself on a tensor of zeros of size
# $1 \times 1 \times i \times i$ and read the height of what comes out.

# %%
def real_size(kind, i, k, s=1, p=0, d=1, a=0, ceil_mode=False):
    """Output height of the real op on a (1, 1, i, i) input with a k x k kernel."""
    x = mf.tensor(np.zeros((1, 1, i, i), np.float32), device=DEVICE)
    w = mf.tensor(np.zeros((1, 1, k, k), np.float32), device=DEVICE)
    if kind == "conv":
        y = F.conv2d(x, w, stride=s, padding=p, dilation=d)
    elif kind == "transpose":
        y = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=a, dilation=d)
    else:
        y = F.max_pool2d(x, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
    return y.shape[2]


print("a 3x3 convolution of a 5x5 input gives", real_size("conv", 5, 3), "x", real_size("conv", 5, 3))

# %% [markdown]
# ## The relationships, written out
#
# Here are all fifteen, typed in from the paper (with $\hat k$ the dilated kernel size of
# relationship 15). We will not use `arith` to compute them: `arith` is the code under test.
# For the transposed convolution, $i'$ is its input size and $o'$ its output size, and
# $k, s, p$ are those of the convolution it transposes.

# %%
def k_hat(k, d):
    """Effective (dilated) kernel size, relationship 15."""
    return k + (k - 1) * (d - 1)


def pool_rule(i, k, s, p, d, ceil_mode):
    """Relationship 7 with PyTorch's padding, dilation and ceil_mode (a last partial
    window must start inside the input or the left padding)."""
    span = i + 2 * p - k_hat(k, d)
    o = (-(-span // s) if ceil_mode else span // s) + 1
    return o - 1 if ceil_mode and (o - 1) * s >= i + p else o


FORMULAS = {   # number -> o as a function of (i, k, s, p, d, a)
    1: lambda i, k, s, p, d, a: (i - k) + 1,                       # no padding, unit strides
    2: lambda i, k, s, p, d, a: (i - k) + 2 * p + 1,               # padding, unit strides
    3: lambda i, k, s, p, d, a: i,                                 # half (same) padding
    4: lambda i, k, s, p, d, a: i + (k - 1),                       # full padding
    5: lambda i, k, s, p, d, a: (i - k) // s + 1,                  # no padding, strides
    6: lambda i, k, s, p, d, a: (i + 2 * p - k) // s + 1,          # padding, strides
    7: lambda i, k, s, p, d, a: (i - k) // s + 1,                  # pooling
    8: lambda i, k, s, p, d, a: i + (k - 1),                       # T of 1
    9: lambda i, k, s, p, d, a: i + (k - 1) - 2 * p,               # T of 2
    10: lambda i, k, s, p, d, a: i,                                # T of 3
    11: lambda i, k, s, p, d, a: i - (k - 1),                      # T of 4
    12: lambda i, k, s, p, d, a: s * (i - 1) + k,                  # T of 5
    13: lambda i, k, s, p, d, a: s * (i - 1) + k - 2 * p,          # T of 6
    14: lambda i, k, s, p, d, a: s * (i - 1) + a + k_hat(k, d) - 2 * p,   # T of 6, output padding
    15: lambda i, k, s, p, d, a: (i + 2 * p - k_hat(k, d)) // s + 1,      # dilated
}


def number_of(rel):
    """The relationship number in arith.relationship's name, e.g. 'Relationship 6: ...' -> 6."""
    return int(re.match(r"Relationship (\d+)", rel.name).group(1))

# %% [markdown]
# `show` runs one case: it asks `arith.relationship` which relationship applies (it returns
# the name, the formula with the numbers filled in, and the value), draws where the kernel
# lands with `draw_kernel_positions`, and asserts that the paper's formula, `arith`, and
# the real operation all agree.

# %%
def show(number, kind, i, k, s=1, p=0, d=1, a=0, name=None):
    rel = arith.relationship(kind, i, k, s, p, d, output_padding=a)
    expected = FORMULAS[number](i, k, s, p, d, a)
    real = real_size(kind, i, k, s, p, d, a)
    print(f"{rel.name}\n    {rel.formula}\n    paper: {expected}, real op: {real}")
    assert number_of(rel) == number, rel.name
    assert rel.value == expected == real
    draw_kernel_positions(FIGURES / f"{name or f'relationship_{number:02d}'}.png", kind, i, k, s, p, d, a)
    return real

# %% [markdown]
# ## Convolution: relationships 1–6
#
# A window of size $k$ slides over the padded input of size $i + 2p$ in steps of $s$. The
# output size is the number of places it can sit:
#
# 1. no padding, unit strides: $o = (i - k) + 1$
# 2. padding $p$, unit strides: $o = (i - k) + 2p + 1$
# 3. **half ("same") padding**, $k$ odd, $p = \lfloor k/2 \rfloor$: $o = i$
# 4. **full padding**, $p = k - 1$: $o = i + (k - 1)$ — every partial overlap counts
# 5. no padding, stride $s$: $o = \lfloor (i - k)/s \rfloor + 1$
# 6. padding and stride (the general case): $o = \lfloor (i + 2p - k)/s \rfloor + 1$
#
# In the figures each panel is one output pixel (in the output's order): on the left the
# input (blue) with its zero padding (white) and the kernel's window shaded, on the right
# the output with that pixel in green, an arrow between them. The cases are the paper's own.

# %%
show(1, "conv", i=4, k=3)
show(2, "conv", i=5, k=4, p=2)
show(3, "conv", i=5, k=3, p=1)
show(4, "conv", i=5, k=3, p=2)
show(5, "conv", i=5, k=3, s=2)
show(6, "conv", i=5, k=3, s=2, p=1)
show(6, "conv", i=6, k=3, s=2, p=1, name="relationship_06_i6")

# %% [markdown]
# Look at the last two: with $k = 3, s = 2, p = 1$, inputs of size 5 **and** 6 both give
# $o = 3$. The floor in relationship 6 throws away the $(i + 2p - k) \bmod s$ rows the last
# window could not reach. A strided convolution is many-to-one in size; we will meet the
# consequence in relationship 14.

# %% [markdown]
# ## Pooling: relationship 7
#
# Pooling slides a window exactly like a convolution, only with a max (or mean) inside
# instead of a weighted sum, so its size is relationship 5 again:
# $o = \lfloor (i - k)/s \rfloor + 1$. (By default the stride of pooling is $k$: windows
# that tile the input.)

# %%
show(7, "pool", i=5, k=3, s=1)
show(7, "pool", i=4, k=2, s=2, name="relationship_07_2x2")

# %% [markdown]
# ## Transposed convolution: relationships 8–14
#
# A transposed convolution goes the other way: its input has the size $i'$ of a
# convolution's *output* and its output the size of that convolution's *input*. Its
# matrix is the transpose of the convolution's (lesson 6). Dumoulin & Visin show that it
# can always be computed as a **direct convolution** with unit stride:
#
# - insert $s - 1$ zeros between the input pixels ("stretch" the input),
# - pad each side with $k - p - 1$ zeros (plus $a$ extra at the bottom/right),
# - convolve with the (flipped) kernel.
#
# That equivalent convolution is what the figures draw. The sizes:
#
# 8. of no padding, unit strides: $o' = i' + (k - 1)$ (a full-padding convolution)
# 9. of padding $p$: $o' = i' + (k - 1) - 2p$
# 10. of half padding: $o' = i'$
# 11. of full padding: $o' = i' - (k - 1)$ (an unpadded convolution)
# 12. of stride $s$, no padding: $o' = s(i' - 1) + k$
# 13. of stride $s$ and padding $p$: $o' = s(i' - 1) + k - 2p$
# 14. the same, with output padding $a$: $o' = s(i' - 1) + a + k - 2p$
#
# Here $a$ (`output_padding` in PyTorch) picks *which* of the input sizes that the
# strided convolution maps to $i'$ we want back: with $s = 2$, 5 and 6 (see above).

# %%
TRANSPOSED = [   # (number, i', k, s, p, a): the transposes of the convolutions above
    (8, 2, 3, 1, 0, 0), (9, 6, 4, 1, 2, 0), (10, 5, 3, 1, 1, 0), (11, 7, 3, 1, 2, 0),
    (12, 2, 3, 2, 0, 0), (13, 3, 3, 2, 1, 0), (14, 3, 3, 2, 1, 1),
]
for number, i, k, s, p, a in TRANSPOSED:
    o = show(number, "transpose", i, k, s, p, a=a)
    back = real_size("conv", o, k, s, p)          # the convolution it transposes
    print(f"    and conv2d(k={k}, s={s}, p={p}) maps size {o} back to {back}\n")
    assert back == i

# %% [markdown]
# Now check the claim behind the figures with numbers, not just sizes: for random inputs,
# stretching, padding and a unit-stride convolution with the flipped kernel gives exactly
# what `F.conv_transpose2d` gives.

# %%
rng = np.random.default_rng(seed(0))
for number, i, k, s, p, a in TRANSPOSED:
    x = rng.standard_normal((1, 1, i, i)).astype(np.float32)
    w = rng.standard_normal((1, 1, k, k)).astype(np.float32)
    stretched = np.zeros((1, 1, s * (i - 1) + 1, s * (i - 1) + 1), np.float32)
    stretched[:, :, ::s, ::s] = x                           # s - 1 zeros between pixels
    q = k - p - 1                                           # the equivalent padding p'
    padded = np.pad(stretched, ((0, 0), (0, 0), (q, q + a), (q, q + a)))
    direct = F.conv2d(mf.tensor(padded, device=DEVICE), mf.tensor(w[:, :, ::-1, ::-1].copy(), device=DEVICE))
    transposed = F.conv_transpose2d(mf.tensor(x, device=DEVICE), mf.tensor(w, device=DEVICE),
                                    stride=s, padding=p, output_padding=a)
    err = np.abs(direct.numpy() - transposed.numpy()).max()
    print(f"relationship {number:2d}: stretched-input convolution {direct.shape[2:]} vs "
          f"conv_transpose2d {transposed.shape[2:]}, largest difference {err:.1e}")
    assert direct.shape == transposed.shape and err < 1e-5

# %% [markdown]
# ### A slip in the lecture
#
# A slide pairs a $3 \times 3$ convolution taking a $5 \times 5$ input to a $2 \times 2$
# output "with unitary stride" with its transpose, $2 \times 2 \to 5 \times 5$. The slip
# is in the **direct** convolution: with unit stride, relationship 1 gives
# $o = 5 - 3 + 1 = 3$, not 2; a $2 \times 2$ output needs **stride 2** (relationship 5:
# $\lfloor (5 - 3)/2 \rfloor + 1 = 2$), and its transpose is then relationship 12,
# $o' = 2(2 - 1) + 3 = 5$. (Unit strides do appear in Dumoulin & Visin's figure — for the
# *equivalent* convolution over the stretched and padded input above, a different
# convolution.) The real ops agree.

# %%
five = mf.tensor(np.ones((1, 1, 5, 5), np.float32), device=DEVICE)
two = mf.tensor(np.ones((1, 1, 2, 2), np.float32), device=DEVICE)
k3 = mf.tensor(np.ones((1, 1, 3, 3), np.float32), device=DEVICE)
conv_s1, conv_s2 = F.conv2d(five, k3, stride=1).shape[2:], F.conv2d(five, k3, stride=2).shape[2:]
back_s1, back_s2 = F.conv_transpose2d(two, k3, stride=1).shape[2:], F.conv_transpose2d(two, k3, stride=2).shape[2:]
print(f"5x5 input, 3x3 kernel: stride 1 -> {conv_s1}, stride 2 -> {conv_s2}; "
      f"transposed from 2x2: stride 1 -> {back_s1}, stride 2 -> {back_s2}")
assert conv_s1 == (3, 3) and conv_s2 == (2, 2) and back_s1 == (4, 4) and back_s2 == (5, 5)

# %% [markdown]
# ## Dilation: relationship 15
#
# A dilated (*atrous*) convolution spreads its $k$ taps $d$ pixels apart, with $d - 1$
# holes between them. It covers the span of an **effective kernel**
#
# $$\hat k = k + (k - 1)(d - 1)$$
#
# with still only $k$ weights per axis, and its output size is relationship 6 with
# $\hat k$ in place of $k$: $o = \lfloor (i + 2p - k - (k - 1)(d - 1))/s \rfloor + 1$.

# %%
show(15, "conv", i=7, k=3, d=2)
show(15, "conv", i=10, k=3, s=5, d=2, name="relationship_15_apart")   # windows apart: see the holes
show(14, "transpose", i=3, k=3, s=1, p=0, d=2, name="relationship_14_dilated")

for k in (2, 3, 5):
    spans = [arith.effective_kernel_size(k, d) for d in range(1, 5)]
    print(f"k = {k}: effective kernel for d = 1, 2, 3, 4: {spans}")
    assert spans == [k + (k - 1) * (d - 1) for d in range(1, 5)]

# %% [markdown]
# "A kernel with holes" is literal: a dilated convolution equals an ordinary convolution
# whose $\hat k \times \hat k$ kernel holds the $k \times k$ weights $d$ apart and zeros in
# between.

# %%
x = mf.tensor(rng.standard_normal((1, 1, 12, 12)), device=DEVICE, dtype="float32")
for k, d in [(3, 2), (3, 3), (2, 4)]:
    w = rng.standard_normal((1, 1, k, k)).astype(np.float32)
    holes = np.zeros((1, 1, k_hat(k, d), k_hat(k, d)), np.float32)
    holes[:, :, ::d, ::d] = w
    dilated = F.conv2d(x, mf.tensor(w, device=DEVICE), dilation=d)
    dense = F.conv2d(x, mf.tensor(holes, device=DEVICE))
    err = np.abs(dilated.numpy() - dense.numpy()).max()
    print(f"k={k}, d={d}: {k}x{k} weights in a {holes.shape[2]}x{holes.shape[3]} kernel; "
          f"outputs {dilated.shape[2:]} and {dense.shape[2:]}, largest difference {err:.1e}")
    assert dilated.shape == dense.shape and err < 1e-5

# %% [markdown]
# ## Every formula, on a sample of cases
#
# A handful of examples is not a proof. The test suite runs the exhaustive checks
# (`tests/test_arith.py` compares every size formula with brute-force window counting and
# scattering over hypothesis-drawn cases; `tests/test_conv.py` and `tests/test_pool.py`
# compare the real ops' shapes with `arith`). Here we take a **sample**: among all small
# $i, k, s, p, d, a$ (and `ceil_mode` for pooling) that an operation accepts, the first
# `PER_RELATIONSHIP` cases of every relationship. For each, `arith.relationship` names the
# relationship, we evaluate **that relationship's formula from the paper** (our table
# above), and compare with the real output shape.
#
# Two more independent checks ride along:
#
# - for convolution and pooling, count the window positions by brute force: the starts
#   $0, s, 2s, \dots$ at which a window of size $\hat k$ still fits inside the padded input
#   (with `ceil_mode`, pooling adds one partial window for the pixels right of the last
#   full window, as long as it starts inside the input or the left padding);
# - for the transposed convolution (with $a < s$), the convolution with the same
#   $k, s, p, d$ maps its output size back to its input size.

# %%
def window_starts(i, k, s, p, d, ceil_mode=False):
    """Count the window positions one by one (no formula)."""
    starts = [t for t in range(0, i + 2 * p, s) if t + k_hat(k, d) <= i + 2 * p]
    left_over = starts[-1] + k_hat(k, d) < i + 2 * p       # pixels right of the last window
    if ceil_mode and left_over and starts[-1] + s < i + p:
        starts.append(starts[-1] + s)                      # one partial window for them
    return len(starts)


def accepted(kind, i, k, s, p, d, a):
    """Does the op accept these arguments? (The kernel must fit; PyTorch's limits.)"""
    if kind == "transpose":
        return a < max(s, d) and s * (i - 1) + a + k_hat(k, d) - 2 * p >= 1
    return k_hat(k, d) <= i + 2 * p and (kind == "conv" or p <= k // 2)


def grid(kind):
    """Every small case (i, k, s, p, d, a, ceil_mode) that the op of this kind accepts."""
    sizes = range(1, 4) if kind == "transpose" else range(1, 6)
    for i, k, s, p, d in itertools.product(sizes, (1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (1, 2)):
        for a in range(max(s, d)) if kind == "transpose" else (0,):
            for ceil_mode in (False, True) if kind == "pool" else (False,):
                if accepted(kind, i, k, s, p, d, a):
                    yield i, k, s, p, d, a, ceil_mode

# %%
PER_RELATIONSHIP = 3                     # cases checked per relationship and kind
hits, cases = {n: 0 for n in FORMULAS}, 0
for kind in ("conv", "pool", "transpose"):
    taken = {}
    for i, k, s, p, d, a, ceil_mode in grid(kind):
        rel = arith.relationship(kind, i, k, s, p, d, a, ceil_mode)
        n = number_of(rel)
        if taken.get(n, 0) == PER_RELATIONSHIP:
            continue
        taken[n] = taken.get(n, 0) + 1
        if kind == "pool" and not (p == 0 and d == 1 and not ceil_mode):
            expected = pool_rule(i, k, s, p, d, ceil_mode)   # PyTorch's extension of relationship 7
        else:                                                # the paper's formula, relationship 7 included
            expected = FORMULAS[n](i, k, s, p, d, a)
        real = real_size(kind, i, k, s, p, d, a, ceil_mode)
        assert rel.value == expected == real, (kind, i, k, s, p, d, a, ceil_mode, rel)
        if kind != "transpose":
            assert window_starts(i, k, s, p, d, ceil_mode) == real
        elif a < s:
            assert real_size("conv", real, k, s, p, d) == i  # conv maps o' back to i'
        hits[n] += 1
        cases += 1
print(f"{cases} cases checked; cases per relationship: {hits}")
assert all(count > 0 for count in hits.values())   # every relationship was exercised

# %% [markdown]
# ## `padding="same"`
#
# Relationship 3 keeps the size only for odd $k$. For any $k$ and $d$ (at stride 1),
# PyTorch's `padding="same"` pads a total of $\hat k - 1 = d(k - 1)$ zeros per axis, and
# when that total is odd it puts the extra zero at the bottom/right.
# `arith.same_padding(k, d)` returns the (before, after) pair. We check that the output
# keeps the input's size, and that `"same"` equals explicit, asymmetric padding followed
# by an unpadded convolution.

# %%
x_np = rng.standard_normal((1, 1, 7, 8)).astype(np.float32)
x = mf.tensor(x_np, device=DEVICE)
for k in (1, 2, 3, 4, 5):
    for d in (1, 2, 3):
        before, after = arith.same_padding(k, d)
        assert before + after == d * (k - 1) and after - before in (0, 1)
        w = mf.tensor(rng.standard_normal((1, 1, k, k)), device=DEVICE, dtype="float32")
        same = F.conv2d(x, w, padding="same", dilation=d)
        padded = np.pad(x_np, ((0, 0), (0, 0), (before, after), (before, after)))
        explicit = F.conv2d(mf.tensor(padded, device=DEVICE), w, dilation=d)
        assert same.shape == x.shape
        assert np.allclose(same.numpy(), explicit.numpy(), atol=1e-5)
    print(f"k={k}: same_padding for d = 1, 2, 3: {[arith.same_padding(k, d) for d in (1, 2, 3)]}")
print("padding='same' keeps", x.shape[2:], "for every k and d tried")

# %% [markdown]
# ## Receptive field: how far one output pixel sees
#
# Stacking layers widens the **receptive field** $r$, the input span one output pixel
# depends on. Going through the layers with $r_0 = 1$ and "jump" $j_0 = 1$ (the
# distance, in input pixels, between neighbouring units):
#
# $$r_\ell = r_{\ell-1} + (\hat k_\ell - 1)\, j_{\ell-1}, \qquad j_\ell = j_{\ell-1}\, s_\ell .$$
#
# Three stacks of 3×3 layers show the three ways to grow it: more layers (linear growth),
# downsampling in between (each later layer counts double), and dilations
# $1, 2, 4, 8, \dots$ — Yu & Koltun's *context module* (*Multi-scale context aggregation
# by dilated convolutions*, 2016): "dilated convolutions support exponential expansion of
# the receptive field without loss of resolution or coverage", with the same number of
# weights per layer. (DeepLab uses atrous convolution too, differently: lesson 13.)

# %%
STACKS = {
    "3x3 convs": [(3, 1, 1)] * 6,
    "3x3 conv + 2x2 stride-2 downsampling": [(3, 1, 1), (2, 2, 1)] * 3,
    "3x3 convs, dilation 1, 2, 4, ...": [(3, 1, 2 ** n) for n in range(6)],
}
tables = {name: arith.receptive_field_table(layers) for name, layers in STACKS.items()}
for name, table in tables.items():
    print(f"{name:40s} r = {[row.rf for row in table]}")
assert [row.rf for row in tables["3x3 convs"]] == [1 + 2 * n for n in range(1, 7)]
assert [row.rf for row in tables["3x3 convs, dilation 1, 2, 4, ..."]] == [2 ** (n + 2) - 1 for n in range(6)]

# %% [markdown]
# The formula is checked against a *measurement*: build each stack (first four layers) as
# a network of real `nn.Conv2d` layers, backpropagate from the centre output pixel, and see
# which input pixels receive a gradient (`measured_receptive_field`).

# %%
def as_network(layers):
    rng_layers = np.random.default_rng(seed(1))
    return nn.Sequential(*[nn.Conv2d(1, 1, k, stride=s, dilation=d, rng=rng_layers)
                           for k, s, d in layers]).to(DEVICE)


for name, layers in STACKS.items():
    formula = arith.receptive_field(layers[:4])
    measured = measured_receptive_field(as_network(layers[:4]), (1, 48, 48))
    print(f"{name:40s} 4 layers: formula {formula}, measured {measured}")
    assert measured == (formula, formula)

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
for (name, table), marker in zip(tables.items(), "osD"):
    ax.plot(range(1, len(table) + 1), [row.rf for row in table], marker=marker, label=name)
ax.set_xlabel("number of layers")
ax.set_ylabel("receptive field r (input pixels)")
ax.set_title("receptive field growth (arith.receptive_field_table)")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(FIGURES / "receptive_field_growth.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Summary
#
# - Every output size counts the places a window can sit: $o = \lfloor (i + 2p - \hat k)/s \rfloor + 1$
#   with $\hat k = k + (k-1)(d-1)$; relationships 1–7 and 15 are special cases.
# - A transposed convolution is a unit-stride convolution of the stretched, padded input:
#   $o' = s(i' - 1) + a + \hat k - 2p$; output padding $a$ picks which input size a strided
#   convolution came from.
# - `padding="same"` pads $d(k-1)$ in total, the odd zero at the bottom/right.
# - The receptive field grows by $(\hat k - 1)\,j$ per layer: depth, downsampling and
#   dilation all widen it; dilation does so for free in weights.

# %% [markdown]
# ## Try it
#
# 1. Which `(k, s, p)` take a 2×2 input to exactly 5×5 with `padding=1`? Use
#    relationship 13 before you try it with `arith.conv_transpose_output_size`.
#    *Exercise* `conv_output_size` has you write those size rules yourself.

# %%
print("lesson 07 done: all assertions hold")

# %% [markdown]
# **Exercises**: write `conv_output_size`, `receptive_field`
# yourself: `minifcn exercises init DIR`, then `minifcn exercises check DIR` (see the Exercises page).
