# %% [markdown]
# # Lesson 3 — Downsampling saves compute
#
# **This lesson covers:** "full-resolution layers are expensive"; "downsample inside,
# upsample at the end" (the encoder–decoder); receptive field growing with each level;
# strided convolution vs pooling for downsampling.
#
# Lesson 2 turned a patch classifier into one fully convolutional pass. But that network
# still works at (nearly) **full resolution** in every layer. A segmentation network for
# a $128 \times 128$ image that keeps every feature map $128 \times 128$ pays for every
# pixel in every layer.
#
# The lecture's answer is the **encoder–decoder**: *downsample* inside the network
# (pooling), do most of the work on small feature maps, then *upsample* back to the
# input's size for the per-pixel output. This lesson counts, layer by layer, what each
# design costs in arithmetic (FLOPs) and in memory for the activations — and checks the
# counts against a real forward pass.

# %%
import time

import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup, seed
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("03_downsampling_saves_compute")
plt = pyplot()

# %% [markdown]
# ## Two networks with the same layers
#
# Both take an RGB image ($3$ channels) and output $K = 4$ class scores per pixel. Both
# have $L = 10$ convolutions of size $3 \times 3$ with padding 1 ("same": $o = i$, lesson
# 1), $C = 32$ channels inside, a ReLU after each but the last.
#
# **(a) Full resolution**: the ten convolutions one after another, every map $H \times W$.
#
# **(b) Encoder–decoder**: the same ten convolutions, but a $2 \times 2$ max pooling
# (halves $H$ and $W$) after each of the first four, and a $2 \times$ nearest-neighbour
# upsampling before each of the last four:
#
# $$128 \to 64 \to 32 \to 16 \to 8 \to 8 \to 16 \to 32 \to 64 \to 128.$$
#
# The weights have the same shapes in both, so the two networks have **exactly the same
# parameters**; only the sizes of the maps they slide over differ. (A U-Net adds skip
# connections from encoder to decoder, lesson 10; they do not change this count much.)

# %%
C, K, L = 32, 4, 10


_layers_made = iter(range(100))


def conv(c_in, c_out):
    return nn.Conv2d(c_in, c_out, 3, padding=1, rng=seed(next(_layers_made)))


full_res = nn.Sequential(
    conv(3, C), nn.ReLU(),
    *[m for _ in range(L - 2) for m in (conv(C, C), nn.ReLU())],
    conv(C, K),
).to(DEVICE)

enc_dec = nn.Sequential(
    conv(3, C), nn.ReLU(), nn.MaxPool2d(2),                       # 128 -> 64
    conv(C, C), nn.ReLU(), nn.MaxPool2d(2),                       # 64 -> 32
    conv(C, C), nn.ReLU(), nn.MaxPool2d(2),                       # 32 -> 16
    conv(C, C), nn.ReLU(), nn.MaxPool2d(2),                       # 16 -> 8
    conv(C, C), nn.ReLU(), conv(C, C), nn.ReLU(),                 # bottleneck at 8 x 8
    nn.Upsample(scale_factor=2), conv(C, C), nn.ReLU(),           # 8 -> 16
    nn.Upsample(scale_factor=2), conv(C, C), nn.ReLU(),           # 16 -> 32
    nn.Upsample(scale_factor=2), conv(C, C), nn.ReLU(),           # 32 -> 64
    nn.Upsample(scale_factor=2), conv(C, K),                      # 64 -> 128
).to(DEVICE)
NETWORKS = {"full resolution": full_res, "encoder-decoder": enc_dec}

params_by_hand = (9 * 3 * C + C) + (L - 2) * (9 * C * C + C) + (9 * C * K + K)
for name, net in NETWORKS.items():
    n_conv = sum(isinstance(m, nn.Conv2d) for m in net)
    print(f"{name:>16}: {n_conv} conv layers, {nn.count_parameters(net):,} parameters")
    assert n_conv == L and nn.count_parameters(net) == params_by_hand

# %% [markdown]
# ## What a layer costs
#
# **FLOPs.** Each output value of a convolution is a dot product of the weights with a
# $C_{in}/\text{groups} \times KH \times KW$ window: one multiply and one add per weight.
# With $C_{out}$ output channels and an $OH \times OW$ output map, per image:
#
# $$\text{FLOPs} = 2 \cdot \frac{C_{in}}{\text{groups}} \cdot KH \cdot KW \cdot C_{out}
#   \cdot OH \cdot OW.$$
#
# ReLU, pooling and nearest upsampling do at most a comparison or a copy per value; we
# count them as 0 FLOPs (they are about 100 times cheaper than a $3 \times 3$ conv).
#
# **Activation memory.** Every layer's output $C \times OH \times OW$ is kept for the
# backward pass during training: $4$ bytes per float32 value,
#
# $$\text{bytes} = 4 \cdot C_{out} \cdot OH \cdot OW.$$
#
# The shapes come from `arith` (the same functions the ops use): `conv_output_size` for
# convolutions, `pool_output_size` for pooling, and $o = 2i$ for the upsampling.

# %%
BYTES = 4                                    # float32


def layer_table(net, input_shape):
    """One row per layer: (name, output shape (C, H, W), FLOPs, activation bytes)."""
    c, h, w = input_shape
    rows = []
    for layer in net:
        flops = 0
        if isinstance(layer, nn.Conv2d):
            (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
            h = arith.conv_output_size(h, kh, sh, ph, layer.dilation[0])
            w = arith.conv_output_size(w, kw, sw, pw, layer.dilation[1])
            flops = 2 * (c // layer.groups) * kh * kw * layer.out_channels * h * w
            c, name = layer.out_channels, f"conv {layer.in_channels}->{layer.out_channels}"
        elif isinstance(layer, nn.MaxPool2d):
            h, w = (arith.pool_output_size(n, layer.kernel_size, layer.stride) for n in (h, w))
            name = "maxpool 2x2"
        elif isinstance(layer, nn.Upsample):
            h, w, name = h * layer.scale_factor, w * layer.scale_factor, "upsample x2"
        else:
            name = "relu"
        rows.append((name, (c, h, w), flops, BYTES * c * h * w))
    return rows


def print_table(rows, title):
    print(f"{title}\n{'layer':<6}{'type':<15}{'output (C, H, W)':<18}{'MFLOPs':>10}{'memory KiB':>12}")
    for n, (name, shape, flops, mem) in enumerate(rows):
        print(f"{n:<6}{name:<15}{str(shape):<18}{flops / 1e6:>10.1f}{mem / 1024:>12.0f}")
    total_flops, total_mem = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{'total':<39}{total_flops / 1e6:>10.1f}{total_mem / 1024:>12.0f}\n")
    return total_flops, total_mem


SIZE = 128
tables = {name: layer_table(net, (3, SIZE, SIZE)) for name, net in NETWORKS.items()}
totals = {name: print_table(rows, f"({name}) on a {SIZE}x{SIZE} image")
          for name, rows in tables.items()}

# %% [markdown]
# ## Check the table against a real forward pass
#
# The table was computed from formulas. Now run both networks for real, on a small
# $32 \times 32$ input (4 poolings: $32 \to 2$), with a forward hook on every layer that
# records the shape the layer really returns and, for convolutions, the FLOPs from that
# shape. Both must equal the table computed for $32 \times 32$. `nn.summary` runs the same
# kind of pass and prints the layer list with parameter counts.

# %%
SMALL = 32


def measured_table(net, input_shape):
    """(output shape (C, H, W), FLOPs) of every layer, recorded during a real forward pass."""
    seen = []

    def record(layer, inputs, output):
        n, c, h, w = output.shape
        flops = 0
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.weight.shape[2:]
            flops = n * 2 * (layer.in_channels // layer.groups) * kh * kw * c * h * w
        seen.append(((c, h, w), flops))

    hooks = [m.register_forward_hook(record) for m in net]
    x = mf.tensor(np.random.default_rng(seed(0)).random((1,) + input_shape), device=DEVICE, dtype="float32")
    with mf.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return seen


for name, net in NETWORKS.items():
    text = nn.summary(net, (1, 3, SMALL, SMALL), device=DEVICE)
    if name == "encoder-decoder":
        print(text, "\n")
    assert f"Total params: {params_by_hand:,}" in text
    predicted = [(shape, flops) for _, shape, flops, _ in layer_table(net, (3, SMALL, SMALL))]
    measured = measured_table(net, (3, SMALL, SMALL))
    print(f"{name:>16}: {len(measured)} layers, shapes and FLOPs of the real pass equal the table:",
          measured == predicted)
    assert measured == predicted

# %% [markdown]
# ## The saving as a number
#
# The totals also follow from a short sum. Write $A = H \cdot W$ for the full-resolution
# area; a map after $l$ poolings has area $A / 4^l$. A $C \to C$ conv costs
# $18 C^2$ FLOPs per output pixel, the first and last cost $18 \cdot 3C$ and $18 \cdot CK$:
#
# $$\text{(a)}: \; 18 A \,(3C + 8C^2 + CK), \qquad
#   \text{(b)}: \; 18 A \,\Big(3C + C^2 \big(2 \cdot \tfrac14 + 2 \cdot \tfrac1{16}
#   + 2 \cdot \tfrac1{64} + 2 \cdot \tfrac1{256}\big) + CK\Big).$$
#
# Every level down divides the cost of its convolutions by 4, so the eight middle convs of
# (b) together cost less than *one* full-resolution conv. Activation memory counts values
# (times 4 bytes): in (a) 9 conv outputs and 9 ReLU outputs of $C$ channels plus the
# $K$-channel output; in (b) each map at level $l$ counts $1/4^l$.

# %%
A = SIZE * SIZE
levels_b = [0, 1, 2, 3, 4, 4, 3, 2, 1]                      # level of each C-channel conv output in (b)
flops_a = 18 * A * (3 * C + (L - 2) * C * C + C * K)
flops_b = 18 * A * 3 * C + sum(18 * A // 4 ** l * C * C for l in levels_b[1:]) + 18 * A * C * K
mem_a = BYTES * A * ((L - 1) * 2 * C + K)                   # conv + relu outputs, and the scores
mem_b = BYTES * (sum(2 * C * A // 4 ** l for l in levels_b)  # conv + relu outputs
                 + sum(C * A // 4 ** l for l in (1, 2, 3, 4))     # max-pool outputs
                 + sum(C * A // 4 ** l for l in (3, 2, 1, 0))     # upsample outputs
                 + K * A)                                         # the scores
print(f"by hand: (a) {flops_a / 1e9:.3f} GFLOPs, {mem_a / 2**20:.2f} MiB;"
      f"  (b) {flops_b / 1e9:.3f} GFLOPs, {mem_b / 2**20:.2f} MiB")
assert totals["full resolution"] == (flops_a, mem_a)
assert totals["encoder-decoder"] == (flops_b, mem_b)

flop_ratio = flops_b / flops_a
mem_ratio = mem_b / mem_a
print(f"encoder-decoder / full resolution at {SIZE}x{SIZE}: FLOPs {flop_ratio:.3f}"
      f" (1/{1 / flop_ratio:.1f}), activation memory {mem_ratio:.3f} (1/{1 / mem_ratio:.1f})")
assert 1 / 12 < flop_ratio < 1 / 8        # "about a tenth of the FLOPs" (summary)
assert 1 / 4 < mem_ratio < 1 / 3          # "under a third of the activation memory"

# %% [markdown]
# The memory saving is smaller than the FLOP saving: the first and last layers, and the
# last upsampling, still hold full-resolution maps, and pooling and upsampling outputs
# cost memory but no FLOPs.
#
# Does the clock agree? A rough timing of one forward pass on the $128 \times 128$ image
# (printed, not asserted: it depends on the machine and on what else it is doing). Expect
# the time ratio to be *above* the FLOP ratio: pooling, upsampling, ReLU and the copies
# inside a convolution move memory without doing FLOPs, and small matrix products run
# further from the processor's peak speed than large ones.

# %%
x_big = mf.tensor(np.random.default_rng(seed(1)).random((1, 3, SIZE, SIZE)), device=DEVICE, dtype="float32")
seconds = {}
for name, net in NETWORKS.items():
    with mf.no_grad():
        net(x_big).numpy()                                     # warm up
        start = time.perf_counter()
        net(x_big).numpy()                                     # .numpy() waits for a GPU
    seconds[name] = time.perf_counter() - start
    print(f"{name:>16}: {seconds[name] * 1000:7.1f} ms")
print(f"time ratio {seconds['encoder-decoder'] / seconds['full resolution']:.2f}"
      f" (FLOP ratio {flop_ratio:.2f})")

# %% [markdown]
# ## A bonus: the encoder sees further
#
# Each pooling doubles the distance between neighbouring units (the **jump**), so every
# later $3 \times 3$ conv widens the receptive field by twice as much as the one before
# (lesson 7; `arith.receptive_field`, $r \leftarrow r + (k - 1) j$, $j \leftarrow j s$).
# Ten full-resolution $3 \times 3$ convs see $1 + 10 \cdot 2 = 21$ pixels; the encoder's
# bottleneck sees far more, for the same parameters.

# %%
rf_full = arith.receptive_field([(3, 1)] * L)
encoder = [(3, 1), (2, 2)] * 4 + [(3, 1), (3, 1)]             # down to the bottleneck
rf_bottleneck = arith.receptive_field(encoder)
by_hand = 1 + 2 * (1 + 2 + 4 + 8) + 1 * (1 + 2 + 4 + 8) + 2 * 16 * 2   # convs, pools, bottleneck
print(f"receptive field: full resolution {rf_full} px, encoder-decoder bottleneck {rf_bottleneck} px")
assert rf_full == 1 + 2 * L and rf_bottleneck == by_hand and rf_bottleneck > 4 * rf_full

# %% [markdown]
# ## Pictures
#
# FLOPs and activation memory of every layer, both networks on the same scale. In (b)
# the cost sits at both ends, where the maps are large; the middle is almost free.

# %%
COLOURS = {"conv": "#5a7cf0", "relu": "#9ecae1", "maxpool": "#e6554f", "upsample": "#5fd35f"}
fig, axes = plt.subplots(2, 2, figsize=(13, 6.5), sharey="col")
for row, (name, rows) in enumerate(tables.items()):
    colours = [COLOURS[r[0].split()[0]] for r in rows]
    for col, (index, unit, label) in enumerate([(2, 1e6, "MFLOPs"), (3, 2**20, "activation MiB")]):
        ax = axes[row, col]
        ax.bar(range(len(rows)), [r[index] / unit for r in rows], color=colours)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r[1][1] for r in rows], fontsize=7)      # the map size H of each layer
        total = sum(r[index] for r in rows) / unit
        ax.set_title(f"({'ab'[row]}) {name}: {label} per layer, total {total:,.1f}", fontsize=10)
        ax.set_ylabel(label)
    axes[row, 0].set_xlabel("layer (labelled with its output size H = W)", fontsize=8)
from matplotlib.patches import Patch
axes[1, 1].legend(handles=[Patch(color=c, label=k) for k, c in COLOURS.items()], fontsize=8, loc="upper center")
fig.suptitle(f"{SIZE}x{SIZE} input, C = {C}: the encoder-decoder needs {flop_ratio:.0%} of the FLOPs"
             f" and {mem_ratio:.0%} of the memory")
fig.tight_layout()
fig.savefig(FIGURES / "cost_per_layer.png", dpi=100)
plt.close(fig)

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
for ax, values, unit, label in [(axes[0], (flops_a, flops_b), 1e9, "GFLOPs"),
                                (axes[1], (mem_a, mem_b), 2**20, "activation MiB")]:
    ax.bar(["(a) full res.", "(b) enc.-dec."], [v / unit for v in values], color=["#e6554f", "#5a7cf0"])
    ax.set_title(f"{label}: ratio {values[1] / values[0]:.2f}")
    ax.set_ylabel(label)
fig.suptitle(f"one forward pass, {SIZE}x{SIZE} image, same {params_by_hand:,} parameters")
fig.tight_layout()
fig.savefig(FIGURES / "totals.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Strided convolution or pooling?
#
# There are two ways down. A $2 \times 2$ **max pooling** has no parameters: it keeps the
# largest value of each block. A $3 \times 3$ convolution with **stride 2** (padding 1)
# computes only every other output position: it halves the sides too, but it *learns* how
# to summarise each neighbourhood (all-convolutional networks and many encoders use it).
# Compared with a stride-1 convolution followed by pooling it does a quarter of the
# multiply-adds, since it produces a quarter of the outputs — that count is arithmetic
# (printed below). What needs checking is the claim behind it: a stride-2 convolution is
# the stride-1 convolution *read at every other pixel*, so it computes exactly a quarter
# of the same values and nothing else. The witness is the stride-1 convolution itself.

# %%
x_down = mf.tensor(np.random.default_rng(seed(2)).standard_normal((1, C, 32, 32)), device=DEVICE, dtype="float32")
strided = nn.Conv2d(C, C, 3, stride=2, padding=1, rng=seed(7)).to(DEVICE)
dense_then_pool = nn.Sequential(nn.Conv2d(C, C, 3, padding=1, rng=seed(7)), nn.MaxPool2d(2)).to(DEVICE)
with mf.no_grad():
    y_strided, y_pooled = strided(x_down), dense_then_pool(x_down)
macs = {name: 2 * 9 * C * C * out.shape[2] * out.shape[3] for name, out in
        [("strided conv", y_strided), ("conv then pool", dense_then_pool[0](x_down))]}
print(f"32x32 -> strided conv {y_strided.shape[2:]}, conv + pool {y_pooled.shape[2:]}; "
      f"parameters: pooling {nn.count_parameters(nn.MaxPool2d(2))}, strided conv {nn.count_parameters(strided)}; "
      f"FLOPs: strided {macs['strided conv']:,}, conv then pool {macs['conv then pool']:,}")
assert y_strided.shape == y_pooled.shape == (1, C, 16, 16)
assert nn.count_parameters(nn.MaxPool2d(2)) == 0 and nn.count_parameters(strided) == 9 * C * C + C
print(f"so the strided conv does {macs['conv then pool'] / macs['strided conv']:.0f} times fewer FLOPs (arithmetic)")
with mf.no_grad():
    full = dense_then_pool[0](x_down).numpy()                  # the stride-1 conv: every output
# the strided conv is the stride-1 conv read at every other pixel (and at no other offset)
assert np.allclose(y_strided.numpy(), full[:, :, ::2, ::2], atol=1e-5)
assert not np.allclose(y_strided.numpy(), full[:, :, 1::2, 1::2], atol=1e-2)

# %% [markdown]
# ## Summary
#
# - A convolution costs $2 \cdot C_{in}/\text{groups} \cdot KH \cdot KW \cdot C_{out}
#   \cdot OH \cdot OW$ FLOPs: proportional to the **area** of its output map.
# - Each $2 \times 2$ pooling divides the area, and so the cost of every later layer,
#   by 4. With the same ten layers and the same parameters, the encoder–decoder needs
#   about a tenth of the FLOPs and under a third of the activation memory at $128 \times 128$.
# - It also sees further: its receptive field grows with every level.
# - The price: the decoder must bring back full resolution, and fine detail lost in
#   pooling must come back from somewhere. That is what unpooling, transposed convolution
#   (lessons 5, 6) and U-Net's skip connections (lesson 10) are about.

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: set `SIZE = 64`. Will the FLOP ratio of (b) to (a) change?
#    (Every layer's cost is proportional to its output area; what happens to each area?)
# 2. Set `C = 64`. The middle layers cost $\propto C^2$, the first and last only $\propto C$,
#    and those two run at full resolution in both networks. Predict: does the FLOP ratio
#    go up or down? Does it leave the `1 / 12 < flop_ratio < 1 / 8` band?

# %%
print("lesson 03 done: all assertions hold")

# %% [markdown]
# **Exercises**: write `max_pool2d_with_indices`
# yourself: `minifcn exercises init DIR`, then `minifcn exercises check DIR` (see the Exercises page).
