# %% [markdown]
# # Lesson 5 — Unpooling
#
# **This lesson covers:** "unpooling: nearest neighbour, bed of nails"; "max unpooling
# remembers the positions of max pooling"; SegNet's encoder–decoder with pooling indices.
#
# A segmentation network that pools its way down to a small feature map must come back up
# to the input's size, because it owes one label per pixel. The simplest way up has **no
# parameters at all**: *unpooling*, the mirror image of pooling. The lecture shows three
# kinds, each turning a $2 \times 2$ map into a $4 \times 4$ one:
#
# 1. **nearest neighbour**: copy each value into its whole $2 \times 2$ block;
# 2. **bed of nails**: put each value in its block's top-left corner, zeros elsewhere;
# 3. **max unpooling**: put each value where the matching *max pooling* found its maximum,
#    zeros elsewhere — the pooling has to remember those positions.
#
# SegNet builds a whole decoder from the third kind. We check every grid the lecture draws.

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup, seed
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("05_unpooling")
plt = pyplot()

from minifcn.models import SegNet

# %% [markdown]
# Our ops work on batches of images, shape $(N, C, H, W)$. For the small examples we wrap
# a 2-D grid into $N = C = 1$ and read it back out. A drawing helper
# (`minifcn.plotting.draw_grid`) writes the numbers into the cells, so the pictures
# look like the lecture's slides.

# %%
def as_image(grid):
    """A 2-D list of numbers as a (1, 1, H, W) float32 tensor on DEVICE."""
    return mf.tensor(np.asarray(grid, np.float32)[None, None], device=DEVICE)


def as_grid(t):
    """The single plane of a (1, 1, H, W) tensor, as a NumPy array."""
    return t.numpy()[0, 0]


from minifcn.plotting import draw_grid   # writes the numbers into the cells

# %% [markdown]
# ## 1. Nearest-neighbour unpooling
#
# With a scale factor $s$, output pixel $(i, j)$ copies the input pixel whose block it
# lies in:
#
# $$y_{i,j} = x_{\lfloor i/s \rfloor,\ \lfloor j/s \rfloor}.$$
#
# The independent check: this is the Kronecker product of $x$ with an $s \times s$ block of
# ones, `np.kron(x, np.ones((s, s)))`.

# %%
x = [[1, 2],
     [3, 4]]
nearest = as_grid(F.unpool_nearest(as_image(x), scale=2))
print(nearest)
lecture_nearest = np.array([[1, 1, 2, 2],
                            [1, 1, 2, 2],
                            [3, 3, 4, 4],
                            [3, 3, 4, 4]])
assert (nearest == lecture_nearest).all()
assert (nearest == np.kron(x, np.ones((2, 2)))).all()

# %% [markdown]
# ## 2. Bed of nails
#
# Each value goes to its block's top-left corner ("a nail"), everything else is zero:
#
# $$y_{si,\ sj} = x_{i,j}, \qquad y = 0 \text{ elsewhere}.$$
#
# As a Kronecker product, the block is a one in the corner and zeros around it.

# %%
nails = as_grid(F.unpool_bed_of_nails(as_image(x), scale=2))
print(nails)
lecture_nails = np.array([[1, 0, 2, 0],
                          [0, 0, 0, 0],
                          [3, 0, 4, 0],
                          [0, 0, 0, 0]])
assert (nails == lecture_nails).all()
assert (nails == np.kron(x, [[1, 0], [0, 0]])).all()

# %%
corner = np.kron(np.ones((2, 2)), [[1, 0], [0, 0]]).astype(bool)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 2, 2]})
draw_grid(axes[0], x, "input 2x2")
draw_grid(axes[1], nearest, "nearest neighbour\n(each value fills its block)", marked=np.ones((4, 4), bool))
draw_grid(axes[2], nails, "bed of nails\n(value at the top-left, zeros elsewhere)", marked=corner)
fig.tight_layout()
fig.savefig(FIGURES / "nearest_and_bed_of_nails.png", dpi=100)
plt.close(fig)

# %% [markdown]
# Both are fixed rules: bed of nails always uses the top-left corner, whatever was in
# the image. The encoder knew better: when it max-pooled, it saw *where* in each block the
# strongest response was. Max unpooling uses that knowledge.
#
# ## 3. Max pooling that remembers where the maximum was
#
# A $2 \times 2$ max pooling with stride 2 keeps the largest value of each block. With
# `return_indices=True` it also returns, for every output cell, the position of the winner
# in the input plane, written as one **flat index** $r \cdot W + c$ (row $r$, column $c$,
# $W$ the input width — PyTorch's convention).
#
# Our independent check cuts the $4 \times 4$ grid into its four blocks with a reshape and
# lets NumPy's `argmax` find each block's winner.

# %%
a = np.array([[1, 2, 6, 3],
              [3, 5, 2, 1],
              [1, 2, 2, 1],
              [7, 3, 4, 8]], np.float32)
pooled_t, indices_t = F.max_pool2d(as_image(a), 2, return_indices=True)
pooled, indices = as_grid(pooled_t), as_grid(indices_t)     # NumPy views to print and check
print("max pool:\n", pooled)
print("remembered flat indices r*W + c:\n", indices)
assert (pooled == [[5, 6], [7, 8]]).all()

blocks = a.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)   # [block row, block col, 4 cells]
inside = blocks.argmax(axis=2)                                           # winner's place in its block
rows = 2 * np.arange(2)[:, None] + inside // 2
cols = 2 * np.arange(2)[None, :] + inside % 2
print("winners at (row, col):", list(zip(rows.ravel().tolist(), cols.ravel().tolist())))
assert (blocks.max(axis=2) == pooled).all()
assert (indices == rows * 4 + cols).all()
assert (a[rows, cols] == pooled).all()

# %% [markdown]
# ## 4. Max unpooling
#
# Later in the network, the decoder holds a $2 \times 2$ map — in the lecture, new values
# $[[1, 2], [3, 4]]$ — and max unpooling writes each value back **at the position its
# pooling cell remembered**, zeros elsewhere:
#
# $$y_{\text{flat}}[\,\text{indices}[i,j]\,] = x_{i,j}, \qquad y = 0 \text{ elsewhere}.$$
#
# The independent check builds that with a flat NumPy array of zeros and one assignment.

# %%
unpooled = as_grid(F.max_unpool2d(as_image(x), indices_t, 2))
print(unpooled)
lecture_unpooled = np.array([[0, 0, 2, 0],
                             [0, 1, 0, 0],
                             [0, 0, 0, 0],
                             [3, 0, 0, 4]])
assert (unpooled == lecture_unpooled).all()
by_hand = np.zeros(16)
by_hand[indices.ravel()] = np.ravel(x)
assert (unpooled == by_hand.reshape(4, 4)).all()

# %% [markdown]
# Unpooling the pooled values themselves shows what "remembering" buys: every maximum goes
# back exactly where it came from, and only the maxima survive.

# %%
restored = as_grid(F.max_unpool2d(pooled_t, indices_t, 2))
print(restored)
is_winner = np.zeros((4, 4), bool)
is_winner[rows, cols] = True
assert (restored == np.where(is_winner, a, 0)).all()

# %%
fig, axes = plt.subplots(1, 4, figsize=(14, 3.8), gridspec_kw={"width_ratios": [2, 1, 1, 2]})
draw_grid(axes[0], a, "encoder: input 4x4\n(winners shaded)", marked=is_winner)
draw_grid(axes[1], pooled, "2x2 max pool", marked=np.ones((2, 2), bool))
draw_grid(axes[2], x, "decoder: new 2x2 values", marked=np.ones((2, 2), bool), colour="#9ecae1")
draw_grid(axes[3], unpooled, "max unpool with the\nremembered positions", marked=is_winner, colour="#9ecae1")
for r in range(2):
    for c in range(2):
        axes[1].text(c, r + 0.33, f"idx {indices[r, c]}", ha="center", fontsize=8, color="#7f2704")
fig.suptitle("max pooling remembers where each maximum was; max unpooling puts values back there")
fig.tight_layout(rect=(0, 0, 1, 0.94))
fig.savefig(FIGURES / "max_pool_and_unpool.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## The decoder can still learn through it
#
# All three unpoolings are **linear** maps with no weights, so a gradient flows straight
# back through them: the gradient of max unpooling reads the upstream gradient $g$ at the
# remembered positions, $\partial L / \partial x_{i,j} = g_{\text{flat}}[\text{indices}[i,j]]$.
# (The pixels that got a zero receive no gradient for $x$.)

# %%
xt = mf.tensor(np.asarray(x, np.float32)[None, None], requires_grad=True, device=DEVICE)
g = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) * 10          # any upstream gradient
F.max_unpool2d(xt, indices_t, 2).backward(mf.tensor(g, device=DEVICE).data)
grad = mf.backend.to_numpy(xt.grad)[0, 0]
print("upstream gradient:\n", g[0, 0], "\ngradient for x:\n", grad)
assert (grad == g.ravel()[indices]).all()

# %% [markdown]
# ## 5. SegNet: a decoder made of max unpooling
#
# SegNet (Badrinarayanan et al., 2017) is an encoder of conv → BatchNorm → ReLU blocks
# (**batch normalisation**: each channel is shifted and scaled to mean 0 and variance 1
# over the batch, then by a learnt scale and shift; in evaluation mode, `model.eval()`,
# it uses running averages of the batch statistics gathered during training instead),
# each followed by a $2 \times 2$ max pool that **keeps its indices**, and a mirrored
# decoder that max-unpools with those indices before each block of convolutions:
#
#     enc block 1 ─ pool (indices₁) ─ enc block 2 ─ pool (indices₂)
#         ─ unpool (indices₂) ─ dec block 1 ─ unpool (indices₁) ─ dec block 2 ─ 1×1 conv
#
# We build a tiny one (1 input channel, 2 levels, 4 base channels) and run it on a
# $16 \times 16$ image of a bright disc.

# %%
nn.init.manual_seed(seed(0))
model = SegNet(in_channels=1, num_classes=2, base_channels=4, depth=2).to(DEVICE)
model.eval()                                       # BatchNorm uses its running statistics
n_params = sum(p.data.size for p in model.parameters())

r, c = np.mgrid[:16, :16]
disc = (((r - 7.5) ** 2 + (c - 6.5) ** 2) < 25).astype(np.float32)
image = mf.tensor(disc[None, None], device=DEVICE)
with mf.no_grad():
    logits = model(image)
print(f"SegNet with {n_params} parameters: input {image.shape} -> logits {logits.shape}")
assert logits.shape == (1, 2, 16, 16)              # one score per class for every pixel

# %% [markdown]
# To look inside, we use *forward hooks*: each encoder block reports the feature map it
# made (before its pool), each decoder block reports the map it was given (right after an
# unpool) and the map it made. Running the model again records them.

# %%
seen = {}
hooks = [model.enc[i].register_forward_hook(lambda m, inp, out, i=i: seen.__setitem__(f"enc{i}", out.numpy()))
         for i in range(2)]
hooks += [model.dec[i].register_forward_hook(lambda m, inp, out, i=i: seen.update({f"dec{i}_in": inp[0].numpy(),
                                                                                   f"dec{i}_out": out.numpy()}))
          for i in range(2)]
with mf.no_grad():
    again = model(image)
for h in hooks:
    h.remove()
for name, value in seen.items():
    print(f"{name:>8}: {value.shape}")
assert np.array_equal(again.numpy(), logits.numpy())


def block_winners(feature):
    """Boolean mask of each 2x2 block's first maximum (NumPy argmax), for (N, C, H, W)."""
    N, C, H, W = feature.shape
    blocks = feature.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H // 2, W // 2, 4)
    onehot = np.eye(4, dtype=bool)[blocks.argmax(axis=-1)]                # (N, C, H/2, W/2, 4)
    return onehot.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H, W)

# %% [markdown]
# **What the first decoder block receives.** It is the deepest encoder map, max-pooled and
# max-unpooled again with its own indices: each $2 \times 2$ block keeps only its maximum,
# at the place the encoder found it. We check that against the winners NumPy finds.
#
# **What the second decoder block receives.** The first decoder block has computed new
# values at $8 \times 8$; unpooling with indices₁ scatters them to $16 \times 16$. Every
# nonzero lands on a position where encoder block 1 had its maximum — exactly one place per
# $2 \times 2$ block.

# %%
enc1, enc0 = seen["enc1"], seen["enc0"]
winners1, winners0 = block_winners(enc1), block_winners(enc0)
dec0_in, dec1_in = seen["dec0_in"], seen["dec1_in"]

print("decoder block 1 input equals the encoder's maxima in place:",
      np.array_equal(dec0_in, np.where(winners1, enc1, 0)))
assert np.array_equal(dec0_in, np.where(winners1, enc1, 0))

outside = np.abs(dec1_in[~winners0]).max()
print(f"decoder block 2 input: {np.count_nonzero(dec1_in)} nonzeros, all at encoder-1 winners; "
      f"largest value elsewhere = {outside}")
assert outside == 0 and np.count_nonzero(dec1_in) > 0

# the witness for NumPy's winners: the positions max pooling itself returns, as flat indices
_, idx0 = F.max_pool2d(mf.tensor(enc0), 2, return_indices=True)
from_op = np.zeros(enc0.shape, bool).reshape(enc0.shape[0], enc0.shape[1], -1)
np.put_along_axis(from_op, mf.backend.to_numpy(idx0.data).reshape(enc0.shape[0], enc0.shape[1], -1), True, axis=2)
assert np.array_equal(from_op.reshape(enc0.shape), winners0)

# %% [markdown]
# Only the **indices** cross from encoder to decoder, not the feature maps (U-Net, lesson 10,
# sends the whole maps). An index names one of the 4 cells of a block, so it needs only
# $\log_2 4 = 2$ bits, against $4 \times 32$ bits for the block of float32 values it
# stands for: a 64-fold saving. We do not take that on faith: we **pack** each block's
# winner into 2 bits (four blocks per byte), unpack it again, and check that the positions
# that come back are exactly the ones the decoder used — and count the real bytes.

# %%
N0, C0, H0, W0 = enc0.shape
cells = winners0.reshape(N0, C0, H0 // 2, 2, W0 // 2, 2).transpose(0, 1, 2, 4, 3, 5)
codes = cells.reshape(-1, 4).argmax(axis=1).astype(np.uint8)          # 0..3 per block (a multiple of 4 codes)
packed = codes[0::4] | codes[1::4] << 2 | codes[2::4] << 4 | codes[3::4] << 6   # 4 codes per byte
unpacked = np.stack([(packed >> shift) & 3 for shift in (0, 2, 4, 6)], axis=1).ravel()
decoded = np.eye(4, dtype=bool)[unpacked].reshape(N0, C0, H0 // 2, W0 // 2, 2, 2)
decoded = decoded.transpose(0, 1, 2, 4, 3, 5).reshape(enc0.shape)     # back to (N, C, H, W)
print(f"level-1 skip: feature map {enc0.astype(np.float32).nbytes} bytes, packed indices "
      f"{packed.nbytes} bytes, ratio {enc0.astype(np.float32).nbytes / packed.nbytes:g}")
assert np.array_equal(decoded, winners0)                   # 2 bits per block lose nothing
assert (dec1_in[~decoded] == 0).all()                      # ... the decoder needs nothing else
# (the ratio printed above, 64, is arithmetic: 4 cells x 32 bits against 2 bits)

# %%
ch = int(np.argmax(np.count_nonzero(dec1_in[0], axis=(1, 2))))   # the busiest channel of decoder block 2
wr, wc = np.nonzero(winners0[0, ch])
fig, axes = plt.subplots(1, 4, figsize=(15, 5))
axes[0].imshow(disc, cmap="gray")
axes[0].set_title("input image 16x16")
axes[1].imshow(enc0[0, ch], cmap="viridis")
axes[1].scatter(wc, wr, s=10, c="red")
axes[1].set_title(f"encoder block 1, channel {ch}\nred: each 2x2 block's maximum")
axes[2].imshow(seen["dec0_out"][0, ch], cmap="viridis")
axes[2].set_title("decoder block 1 output 8x8\n(new values, same channel)")
axes[3].imshow(dec1_in[0, ch], cmap="viridis")
axes[3].scatter(wc, wr, s=30, facecolors="none", edgecolors="red", lw=0.8)
axes[3].set_title("max-unpooled to 16x16: the values sit\nonly at the encoder's maxima (circles)")
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("SegNet: the decoder puts values back where the encoder found its maxima")
fig.tight_layout(rect=(0, 0, 1, 0.94))
fig.savefig(FIGURES / "segnet_indices.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Summary
#
# - **Nearest neighbour** copies each value into its block; **bed of nails** puts it in the
#   top-left corner. Both ignore where the detail was.
# - **Max pooling** with `return_indices=True` remembers where each maximum was
#   (flat index $r \cdot W + c$); **max unpooling** writes values back there, zeros elsewhere.
# - All three are weight-free linear maps, so gradients pass straight through.
# - **SegNet** hands only these indices from encoder to decoder (2 bits per block), so the
#   decoder puts values back where the encoder found them, and its convolutions fill in
#   the zeros.

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: with $3 \times 3$ pooling blocks an index names one of 9 cells.
#    How many bits does it need, and what would the saving over float32 be? (Change the
#    packing above to 4 bits per code and predict the printed ratio.) *Exercise*
#    `max_pool2d_with_indices` (lesson 3) has you produce those indices yourself.
# 2. Change the disc's radius (`< 25` in the SegNet cell) to `< 4`: predict whether the
#    decoder still receives nonzeros only at the encoder's winners, then run. *Exercise*
#    `max_unpool2d` writes that decoder step yourself.

# %%
print("lesson 05 done: all assertions hold")

# %% [markdown]
# **Exercises**: write `max_unpool2d`, `unpool_nearest`, `unpool_bed_of_nails`
# yourself: `minifcn exercises init DIR`, then `minifcn exercises check DIR` (see the Exercises page).
