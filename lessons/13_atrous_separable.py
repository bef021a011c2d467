# %% [markdown]
# # Lesson 13 — Atrous and depthwise-separable convolutions: what they see, what they cost
#
# **This lesson covers:** atrous (dilated) convolution: its taps, its receptive field, and
# its multiply-adds counted on a real forward pass; what it costs to replace a stride by a
# dilation (DeepLab's *output stride*); gridding, the holes in a stack of equal rates;
# depthwise-separable convolution and its cost. Lesson 14 builds ASPP and DeepLabv3+ from
# these pieces and trains them.
#
# To label a pixel a network must see its **context**: is this grey patch road or sky?
# FCN and U-Net get context by downsampling (each stride-2 step doubles how far later
# layers see) and upsample back, losing detail on the way. DeepLab (Chen et al.) downsamples
# *less*: it removes the stride of the last block or two and **dilates** the later
# convolutions so that they see as far as before. DeepLab still downsamples — its
# feature maps are 1/16 or 1/8 of the input (the *output stride*) — and every stride it
# removes makes every later layer work on a larger map. Dilation is free per output pixel;
# resolution is not. This lesson counts both.
#
# 1. **Atrous (dilated) convolution** spreads a kernel's taps apart: a larger receptive
#    field with the *same* weights and the same multiply-adds per output pixel.
# 2. **Depthwise-separable convolution** (DeepLabv3+, after Xception) splits a convolution
#    into a per-channel spatial filter and a 1×1 channel mixer: far fewer parameters and
#    multiplications.

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith
from minifcn.lesson import lesson_setup, seed
from minifcn.nn.summary import measured_receptive_field
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("13_atrous_separable")
plt = pyplot()

# %% [markdown]
# ## 1. Atrous convolution: a kernel with holes
#
# A 3×3 convolution with dilation $d$ reads the input at offsets $\{-d, 0, d\}$ in each
# direction: 9 taps spread over a $(2d+1) \times (2d+1)$ square, with $d - 1$ holes
# (*trous*) between them. Its effective size is $\hat k = d(k - 1) + 1$.
#
# To *see* the taps we convolve a single bright pixel (an impulse) with a kernel of ones:
# the output is nonzero exactly where the kernel touched it.

# %%
SIZE, CENTRE = 15, 7
impulse = np.zeros((1, 1, SIZE, SIZE), np.float32)
impulse[0, 0, CENTRE, CENTRE] = 1
ones = mf.tensor(np.ones((1, 1, 3, 3), np.float32), device=DEVICE)

taps = {}
for d in (1, 2, 4):
    out = F.conv2d(mf.tensor(impulse, device=DEVICE), ones, padding=d, dilation=d).numpy()[0, 0]
    taps[d] = out != 0
    expected = np.zeros((SIZE, SIZE), bool)                   # {-d, 0, d}^2 around the centre
    offsets = CENTRE + d * np.array([-1, 0, 1])
    expected[np.ix_(offsets, offsets)] = True
    rows = np.nonzero(taps[d].any(axis=1))[0]
    span = rows[-1] - rows[0] + 1
    print(f"dilation {d}: {taps[d].sum()} taps spanning {span} x {span} pixels; "
          f"arith.effective_kernel_size(3, {d}) = {arith.effective_kernel_size(3, d)}")
    assert np.array_equal(taps[d], expected)
    assert taps[d].sum() == 9 and span == arith.effective_kernel_size(3, d) == d * (3 - 1) + 1

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.9), constrained_layout=True)
for ax, (d, t) in zip(axes, taps.items()):
    ax.imshow(t, cmap="Blues", vmin=0, vmax=1.3)
    ax.set_xticks(np.arange(-0.5, SIZE), minor=True)
    ax.set_yticks(np.arange(-0.5, SIZE), minor=True)
    ax.grid(which="minor", color="0.75", lw=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    k_hat = arith.effective_kernel_size(3, d)
    ax.add_patch(plt.Rectangle((CENTRE - d - 0.5, CENTRE - d - 0.5), k_hat, k_hat, fill=False, ec="C3", lw=2))
    ax.set_title(f"3×3 kernel, dilation {d}\n9 weights, span {k_hat}×{k_hat}")
fig.savefig(FIGURES / "dilated_kernel_taps.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## 2. Receptive field against parameters
#
# The receptive field $r$ of a stack of stride-1 layers grows by $\hat k - 1 = d(k-1)$ per
# layer: $r = 1 + \sum_l d_l (k_l - 1)$ (lesson 7 has the general rule with strides).
# Three 3×3 convolutions with dilations 1, 1, 1 see $1 + 2 \cdot 3 = 7$ pixels; with
# dilations 1, 2, 4 they see $1 + 2 \cdot (1 + 2 + 4) = 15$. `arith.receptive_field`
# takes the layers as (kernel, stride, dilation) tuples. We build the stacks as real layers
# with $C = 8$ channels, count their parameters, and **measure** each field by
# backpropagating from one output pixel (`measured_receptive_field`: the input pixels that
# get a nonzero gradient) — a witness that does not use the formula.

# %%
C = 8


def conv_stack(dilations, channels=C):
    """3x3 convolutions, 'same' padding, one per dilation (linear: no ReLU to hide pixels)."""
    return nn.Sequential(*[nn.Conv2d(channels, channels, 3, padding=d, dilation=d) for d in dilations]).to(DEVICE)


nn.init.manual_seed(seed(0))
plain, atrous = conv_stack([1, 1, 1]), conv_stack([1, 2, 4])
rf_plain = arith.receptive_field([(3, 1, 1)] * 3)
rf_atrous = arith.receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])
measured_plain = measured_receptive_field(plain, (C, 31, 31))
measured_atrous = measured_receptive_field(atrous, (C, 31, 31))
print(f"dilations 1,1,1: {nn.count_parameters(plain)} parameters, field {rf_plain} px, measured {measured_plain}")
print(f"dilations 1,2,4: {nn.count_parameters(atrous)} parameters, field {rf_atrous} px, measured {measured_atrous}")
assert measured_plain == (rf_plain, rf_plain) == (7, 7)               # the gradient's footprint ...
assert measured_atrous == (rf_atrous, rf_atrous) == (15, 15)          # ... agrees with the formula
assert [r.rf for r in arith.receptive_field_table([(3, 1, 2 ** l) for l in range(5)])] == [3, 7, 15, 31, 63]

# %% [markdown]
# With dilations $1, 2, 4, 8, \dots$ the field grows *exponentially* with depth,
# $r = 2^{L+1} - 1$ (the last line), while the weights grow only linearly: this is the
# "context module" of Yu & Koltun (2016, *Multi-scale context aggregation by dilated
# convolutions*).
#
# ## 3. What it costs, counted on a real pass
#
# Parameters are easy to count; *work* needs a witness. `naive_conv2d` below computes a
# convolution with plain NumPy, one kernel tap at a time: for tap $(i, j)$ it reads the
# (padded) input at the dilated, strided positions that tap touches and multiplies them by
# that tap's weights. It counts every multiply-add it performs, and separately those whose
# input pixel lies **inside** the image rather than in the zero padding. We first check that
# it *is* the convolution (its output equals `F.conv2d`'s), then use its counts.
#
# `count_macs` is the cheap counter for whole models: a forward hook on every `Conv2d`
# (a function the layer calls after each forward pass) adds
# $\text{output values} \cdot (C_{in}/\text{groups}) \cdot K_H K_W$. It must agree with the
# loop on every kind of convolution, dilated, strided and grouped.

# %%
def naive_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """Convolution by a loop over kernel taps, counting its own work.

    x (N, C_in, H, W) and w (C_out, C_in // groups, KH, KW) NumPy arrays. Returns
    (y, macs, inside): the output, the multiply-adds performed, and how many of those read
    an image pixel (not padding)."""
    n, c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    og = c_out // groups
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    image = np.pad(np.ones((h, wd)), padding)                        # 1 on the image, 0 on padding
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    y = np.zeros((n, c_out, oh, ow))
    macs = inside = 0
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dilation, i * dilation + stride * (oh - 1) + 1, stride)
                cols = slice(j * dilation, j * dilation + stride * (ow - 1) + 1, stride)
                patch = xp[:, g * cg:(g + 1) * cg, rows, cols]           # what tap (i, j) reads
                y[:, g * og:(g + 1) * og] += np.einsum("oc,nchw->nohw", w[g * og:(g + 1) * og, :, i, j], patch)
                macs += og * patch.size                                # each value read meets og weights
                inside += og * n * cg * int(image[rows, cols].sum())
    return y, macs, inside


def count_macs(model, input_shape, per_layer=None):
    """Multiply-adds of all Conv2d layers in one forward pass of a (1, C, H, W) input (a hook)."""
    counts = []

    def hook(conv, inputs, output):
        counts.append(int(np.prod(output.shape)) * (conv.in_channels // conv.groups) * int(np.prod(conv.kernel_size)))

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with mf.no_grad():
        model(mf.tensor(np.zeros((1,) + input_shape, np.float32), device=DEVICE))
    for h in hooks:
        h.remove()
    if per_layer is not None:
        per_layer.extend(counts)
    return sum(counts)


rng = np.random.default_rng(seed(1))
x_small = rng.standard_normal((1, 4, 9, 9)).astype(np.float32)
for stride, dilation, groups in [(1, 1, 1), (1, 3, 1), (2, 2, 1), (1, 2, 4), (2, 1, 2)]:
    conv = nn.Conv2d(4, 6 if groups == 2 else 4, 3, stride=stride, padding=dilation, dilation=dilation,
                     groups=groups, bias=False).to(DEVICE)
    y_loop, macs_loop, _ = naive_conv2d(x_small, conv.weight.numpy(), stride, dilation, dilation, groups)
    with mf.no_grad():
        y_op = conv(mf.tensor(x_small, device=DEVICE)).numpy()
    print(f"stride {stride}, dilation {dilation}, groups {groups}: output {y_op.shape[2:]}, "
          f"loop {macs_loop} multiply-adds, hook {count_macs(nn.Sequential(conv), (4, 9, 9))}")
    assert np.abs(y_loop - y_op).max() < 1e-4                      # the loop is the convolution ...
    assert count_macs(nn.Sequential(conv), (4, 9, 9)) == macs_loop  # ... and the hook counts its work

# %% [markdown]
# Now the two stacks of section 2, layer by layer through the loop on a $31 \times 31$
# input (the loop's output must again be the model's). Both do exactly
# $3 \cdot 31^2 \cdot 9 C^2$ multiply-adds: dilation moves the taps, it does not add any.
# Seven undilated layers — the plain way to a 15-px field — do 7/3 as many. But the loop
# also shows what the rate-4 layer does with its taps near the border: more of them land
# in the zero padding. DeepLabv3 (Chen et al. 2017, §3.3) makes the same point: "as the
# sampling rate becomes larger, the number of valid filter weights (i.e., the weights that
# are applied to the valid feature region, instead of padded zeros) becomes smaller" — the
# reason its ASPP adds an image-level branch (lesson 14).

# %%
def stack_work(stack, x):
    """Run a stack of convolutions through naive_conv2d; (output, multiply-adds, inside the image)."""
    macs = inside = 0
    for conv in stack:
        x, m, i = naive_conv2d(x, conv.weight.numpy(), 1, conv.padding[0], conv.dilation[0])
        x = x + conv.bias.numpy()[None, :, None, None]
        macs, inside = macs + m, inside + i
    return x, macs, inside


x31 = rng.standard_normal((1, C, 31, 31)).astype(np.float32)
work = {}
for name, stack in (("1,1,1", plain), ("1,2,4", atrous), ("1 x 7", conv_stack([1] * 7))):
    y_loop, macs, inside = stack_work(stack, x31)
    with mf.no_grad():
        assert np.abs(y_loop - stack(mf.tensor(x31, device=DEVICE)).numpy()).max() < 1e-3
    work[name] = (macs, inside, count_macs(stack, (C, 31, 31)))
    print(f"dilations {name:6s}: {macs:,} multiply-adds (hook: {work[name][2]:,}), "
          f"{inside / macs:.1%} of them on image pixels")
assert work["1,2,4"][0] == work["1,1,1"][0] == 3 * 31 * 31 * 9 * C * C    # the loop: same work, twice the field
assert work["1 x 7"][0] * 3 == 7 * work["1,1,1"][0]                       # the undilated way: 7/3 as much
assert work["1,2,4"][1] < work["1,1,1"][1]                                # more taps fall on padding
assert all(hook == macs for macs, _, hook in work.values())

# %% [markdown]
# ## 4. The price of resolution: output stride
#
# "Same work" holds **at the same resolution**. DeepLab uses dilation to *keep* resolution:
# in a backbone that would downsample by 32, it sets the stride of the last block to 1
# and doubles the dilation of every layer after it, so that each sees as far in input
# pixels as before (output stride 16); doing it for the last two blocks gives output
# stride 8. DeepLabv3 and v3+ use output stride 16 by default (ASPP rates 6, 12, 18) and 8
# for their best, costliest results; DeepLabv3+ (Chen et al. 2018) states the trade-off:
# "one can arbitrarily control the resolution of extracted encoder features by atrous
# convolution to trade-off precision and runtime".
#
# We measure it on a toy backbone: a stride-2 stem and four stages (a 3×3 convolution of
# stride 2, then a 3×3 of stride 1) whose channels double from stage to stage, 8 to 128,
# as in a classification network, on a $128 \times 128$ input; then the same layers with
# the last stage's stride removed (dilation 2 after it), and with the last two removed
# (dilations 2 and 4). The hook counts every layer's multiply-adds.

# %%
def backbone(removed: int) -> nn.Sequential:
    """Stem + 4 stages of widths WIDTHS; the last `removed` stages have stride 1 and dilate every later conv."""
    layers, d = [nn.Conv2d(3, WIDTHS[0], 3, stride=2, padding=1)], 1
    for stage in range(4):
        strided = stage < 4 - removed
        c_in, c = WIDTHS[stage], WIDTHS[stage + 1]
        layers += [nn.Conv2d(c_in, c, 3, stride=2 if strided else 1, padding=d, dilation=d)]
        d = d if strided else 2 * d                     # after a removed stride: twice the dilation
        layers += [nn.Conv2d(c, c, 3, padding=d, dilation=d)]
    return nn.Sequential(*layers).to(DEVICE)


def backbone_layers(removed: int) -> list:
    """The same backbone as (kernel, stride, dilation) tuples for arith.receptive_field."""
    layers, d = [(3, 2, 1)], 1
    for stage in range(4):
        strided = stage < 4 - removed
        layers.append((3, 2 if strided else 1, d))
        d = d if strided else 2 * d
        layers.append((3, 1, d))
    return layers


WIDTHS = (8, 16, 32, 64, 128)                          # channels: stem, then each stage doubles
OS = {32: 0, 16: 1, 8: 2}                               # output stride -> strides removed
per_layer, os_report = {}, {}
for out_stride, removed in OS.items():
    net, per_layer[out_stride] = backbone(removed), []
    count_macs(net, (3, 128, 128), per_layer[out_stride])
    with mf.no_grad():
        side = net(mf.tensor(np.zeros((1, 3, 128, 128), np.float32), device=DEVICE)).shape[-1]
    os_report[out_stride] = (side, nn.count_parameters(net), arith.receptive_field(backbone_layers(removed)),
                             sum(per_layer[out_stride]))
    print(f"output stride {out_stride:2d}: {side:2d}x{side:<2d} map, {os_report[out_stride][1]} parameters, "
          f"field {os_report[out_stride][2]} px, {os_report[out_stride][3]:,} multiply-adds")
ratio16 = np.array(per_layer[16]) / np.array(per_layer[32])
ratio8 = np.array(per_layer[8]) / np.array(per_layer[32])
print("per layer, output stride 16 / 32:", ratio16.round(1), "\n          output stride 8 / 32: ", ratio8.round(1))
assert [r[0] for r in os_report.values()] == [4, 8, 16]                        # the map really is larger
assert len({r[1] for r in os_report.values()}) == 1 and len({r[2] for r in os_report.values()}) == 1
assert (ratio16[:-2] == 1).all() and (ratio16[-2:] == 4).all()     # every layer after the removed stride: x4
assert (ratio8[:-4] == 1).all() and (ratio8[-4:-2] == 4).all() and (ratio8[-2:] == 16).all()
measured_os = [measured_receptive_field(backbone(removed), (3, 256, 256)) for removed in (0, 1)]
print(f"measured fields on 256x256, output stride 32 and 16: {measured_os}")
assert measured_os[0] == measured_os[1]                         # the dilations give back the field
totals = {out_stride: r[3] for out_stride, r in os_report.items()}
print(f"whole backbone: output stride 16 costs {totals[16] / totals[32]:.1f}x, 8 costs {totals[8] / totals[32]:.1f}x "
      f"output stride 32 ({totals[8] / totals[16]:.1f}x output stride 16)")
assert totals[8] > 2.5 * totals[16] > 2.5 * 1.5 * totals[32]

# %% [markdown]
# Same parameters, same receptive field, and a map 2× or 4× larger on each side — for
# which every layer after a removed stride pays $2^2 = 4$ times (16 times after two).
# Because the late, wide stages carry as much work as the early ones, the whole backbone
# at output stride 8 costs several times as much as at 16. That is why DeepLab stops at
# 16 or 8, and recovers the rest of the resolution with bilinear upsampling (v3) or a
# small decoder (v3+, lesson 14). (A real ResNet puts most of its layers in the late
# blocks, which makes the factor larger still.)
#
# ## 5. Gridding: the holes in equal rates
#
# A stack of dilated convolutions does not read *every* pixel of its field. Each layer
# reads offsets $\{-d, 0, d\}$; a stack reads every sum of one offset per layer. With
# rates 2, 2, 2 all those sums are even: the field spans 13×13 pixels but only one in
# four feeds the output, a checkerboard of holes. Yu, Koltun & Funkhouser (2017, *Dilated
# Residual Networks*) saw the resulting **gridding artifacts** in the outputs; Wang et al.
# (2018, *Understanding Convolution for Semantic Segmentation*) proposed *hybrid dilated
# convolution* (HDC): rates such as 1, 2, 3 with no common factor, whose sums fill the
# square. We push an impulse through stacks of 3×3 kernels of ones (the op itself) and
# compare the footprint with the sums of offsets computed directly.

# %%
G = 21                                          # image side; the impulse sits at the centre


def footprint(rates):
    """Pixels an output pixel reads through 3x3 convolutions of ones at these rates (the op)."""
    x = np.zeros((1, 1, G, G), np.float32)
    x[0, 0, G // 2, G // 2] = 1
    out = mf.tensor(x, device=DEVICE)
    for r in rates:
        out = F.conv2d(out, ones, padding=r, dilation=r)
    return out.numpy()[0, 0] > 0


def offset_sums(rates):
    """The same set from arithmetic: every sum of one offset in {-r, 0, r} per layer."""
    reach = {0}
    for r in rates:
        reach = {a + b for a in reach for b in (-r, 0, r)}
    grid = np.zeros((G, G), bool)
    idx = G // 2 + np.array(sorted(reach))
    grid[np.ix_(idx, idx)] = True
    return grid


STACKS = {"rates 2, 2, 2": (2, 2, 2), "rates 1, 2, 3 (HDC)": (1, 2, 3), "rates 1, 2, 4": (1, 2, 4)}
prints = {name: footprint(r) for name, r in STACKS.items()}
for name, r in STACKS.items():
    span = arith.receptive_field([(3, 1, d) for d in r])
    print(f"{name:20s}: field {span} x {span} = {span * span} px, read {prints[name].sum()} of them")
    assert np.array_equal(prints[name], offset_sums(r))
assert prints["rates 2, 2, 2"].sum() == 7 * 7 and prints["rates 1, 2, 3 (HDC)"].sum() == 13 * 13

fig, axes = plt.subplots(1, 3, figsize=(11, 3.9), constrained_layout=True)
for ax, (name, grid) in zip(axes, prints.items()):
    ax.imshow(grid, cmap="Blues", vmin=0, vmax=1.3)
    ax.set_xticks(np.arange(-0.5, G), minor=True)
    ax.set_yticks(np.arange(-0.5, G), minor=True)
    ax.grid(which="minor", color="0.8", lw=0.4)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(f"{name}\n{grid.sum()} pixels read")
fig.savefig(FIGURES / "gridding.png", dpi=100)
plt.close(fig)

# %% [markdown]
# The stack of section 2, rates 1, 2, 4, has no holes either. A simple sufficient rule:
# the footprint stays solid while each layer's rate is at most the width of the solid
# footprint before it (1 pixel before the first layer): $1 \le 1$, $2 \le 3$, $4 \le 7$
# for rates 1, 2, 4, while rates 2, 2, 2 break it at the first layer.
#
# ## 6. Depthwise-separable convolution
#
# A standard 3×3 convolution from $C$ to $C'$ channels mixes space and channels at once:
# $9\,C\,C'$ weights. The separable version does one thing at a time:
#
# - **depthwise**: one 3×3 filter per input channel (`groups=C`): $9\,C$ weights;
# - **pointwise**: a 1×1 convolution that mixes the channels: $C\,C'$ weights.
#
# On an $H \times W$ map (stride 1, same padding) the multiply-adds should be
# $HW \cdot 9CC'$ against $HW\,(9C + CC')$, a ratio of $\frac{1}{C'} + \frac19$. The loop
# of section 3 counts them.

# %%
C_in, C_out, H, W = 32, 64, 16, 16
nn.init.manual_seed(seed(2))
standard = nn.Conv2d(C_in, C_out, 3, padding=1, bias=False).to(DEVICE)
depthwise = nn.Conv2d(C_in, C_in, 3, padding=1, groups=C_in, bias=False).to(DEVICE)
pointwise = nn.Conv2d(C_in, C_out, 1, bias=False).to(DEVICE)

x_np = rng.standard_normal((1, C_in, H, W)).astype(np.float32)
x = mf.tensor(x_np, device=DEVICE)
with mf.no_grad():
    y_standard = standard(x).numpy()
    y_separable = pointwise(depthwise(x)).numpy()
y_loop, f_std, _ = naive_conv2d(x_np, standard.weight.numpy(), padding=1)
y_depth, f_depth, _ = naive_conv2d(x_np, depthwise.weight.numpy(), padding=1, groups=C_in)
y_sep_loop, f_point, _ = naive_conv2d(y_depth, pointwise.weight.numpy())
f_sep = f_depth + f_point
p_std = nn.count_parameters(standard)
p_sep = nn.count_parameters(depthwise) + nn.count_parameters(pointwise)
print(f"parameters:    standard {p_std:7d}   separable {p_sep:6d}   ratio {p_sep / p_std:.3f}")
print(f"multiply-adds: standard {f_std:7d}   separable {f_sep:6d}   ratio {f_sep / f_std:.3f}"
      f"   (1/C' + 1/9 = {1 / C_out + 1 / 9:.3f})")
assert np.abs(y_loop - y_standard).max() < 1e-4 and np.abs(y_sep_loop - y_separable).max() < 1e-4
assert p_std == 9 * C_in * C_out and p_sep == C_in * 9 + C_in * C_out
assert f_std == H * W * 9 * C_in * C_out and f_sep == H * W * (9 * C_in + C_in * C_out)   # formula vs loop

# %% [markdown]
# What does it give up? A separable convolution *is* a standard convolution, but one whose
# kernel is restricted: the 3×3 filter from input channel $i$ to output channel $o$ must be
# $P_{oi} \cdot D_i$, a scalar times that channel's depthwise filter. We build that full
# kernel and check that an ordinary convolution with it gives the same output.

# %%
D = depthwise.weight.numpy()[:, 0]                     # (C_in, 3, 3): one filter per channel
P = pointwise.weight.numpy()[:, :, 0, 0]               # (C_out, C_in): the channel mixer
full_kernel = P[:, :, None, None] * D[None]            # (C_out, C_in, 3, 3)
with mf.no_grad():
    y_full = F.conv2d(x, mf.tensor(full_kernel, device=DEVICE), padding=1)
err = np.abs(y_full.numpy() - y_separable).max()
print(f"separable conv vs standard conv with the factorised kernel: largest difference {err:.1e}")
assert err < 1e-4

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
ax = axes[0]
positions = np.arange(len(per_layer[32]))
for offset, out_stride in zip((-0.27, 0, 0.27), OS):
    ax.bar(positions + offset, per_layer[out_stride], width=0.27, label=f"output stride {out_stride}")
ax.set_yscale("log")
ax.set_xlabel("convolution (stem, then two per stage)")
ax.set_ylabel("multiply-adds (log)")
ax.set_title("removing a stride: every later layer pays ×4")
ax.legend(frameon=False, fontsize=8)
ax = axes[1]
ax.bar(["standard 3×3", "separable"], [f_std, f_sep], color=["C3", "C0"])
ax.set_title(f"{C_in} → {C_out} channels on {H}×{W}")
ax.set_ylabel("multiply-adds (counted by the loop)")
for i, v in enumerate([f_std, f_sep]):
    ax.text(i, v, f"{v:,}", ha="center", va="bottom")
ax.margins(y=0.12)
fig.tight_layout()
fig.savefig(FIGURES / "costs.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: what receptive field and how many multiply-adds does
#    `conv_stack([1, 3, 9])` have on a 31×31 input? Is its footprint (section 5) full?
#    (Use $r = 1 + \sum 2d$; then check with `measured_receptive_field`, `stack_work` and
#    `footprint`.)
# 2. `backbone(3)` removes three strides (output stride 4). Predict the ratio of its
#    multiply-adds to output stride 32 for the last layer, then for the whole backbone.
# 3. Find three rates with a 15-px field whose footprint has holes, and three without.

# %% [markdown]
# ## What to remember
#
# - Dilation $d$ spreads a kernel's taps $d$ pixels apart: effective size $d(k-1)+1$,
#   same weights, same multiply-adds *per output pixel*. Dilations $1, 2, 4$ see 15 px
#   where $1, 1, 1$ see 7; near the border more of a wide kernel's taps read padding.
# - Dilation is not free resolution: replacing a stride by dilation keeps the field and the
#   weights but makes every later layer 4× as expensive. DeepLab still downsamples, to
#   output stride 16 (its default) or 8.
# - Equal rates leave holes in the field (gridding); rates without a common factor
#   (HDC, e.g. 1, 2, 3) fill it.
# - A depthwise-separable convolution costs $9C + CC'$ instead of $9CC'$ weights and
#   multiply-adds per pixel (a ratio of $1/C' + 1/9$); it is a standard convolution with a
#   factorised kernel.
