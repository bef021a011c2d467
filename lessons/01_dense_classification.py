# %% [markdown]
# # Lesson 1 — Segmentation as dense classification
#
# **This lesson covers:** semantic segmentation as classification of every pixel; label
# map, binary masks and one-hot targets; "a single pixel cannot be classified without
# context" (shown on same-coloured shapes); the output size and receptive field of a
# convolution, for the lessons that follow.
#
# Image *classification* gives one label to a whole image: "this is a cat".
# Semantic *segmentation* gives a label to **every pixel**: "these pixels are cat, those
# are grass". So segmentation is classification done densely: an image of $H \times W$
# pixels is $H \cdot W$ classification problems, one per pixel, solved at once.
#
# This lesson sets up the three ways we write the answer down — a **label map**,
# **binary masks**, and a **one-hot** stack — and shows what a network's output looks like:
# a **classifier at every pixel** (scores → softmax → argmax).

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup, seed, claim
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("01_dense_classification")
plt = pyplot()

from minifcn.data import SyntheticShapes

# %% [markdown]
# ## A picture and its label map
#
# `SyntheticShapes` draws discs, squares and triangles on a textured background. With
# $K = 4$ classes, class 0 is background, 1 disc, 2 square, 3 triangle. An item is an image
# `(C, H, W)` with values in $[0, 1]$ and a **label map** `(H, W)` of integers in
# $\{0, \dots, K-1\}$:
#
# $$y_{h,w} \in \{0, 1, \dots, K-1\} \quad \text{for every pixel } (h, w).$$

# %%
K = 4
NAMES = ["background", "disc", "square", "triangle"]
data = SyntheticShapes(16, image_size=64, num_classes=K, seed=seed(2), max_shapes=4)
ITEM = next(i for i in range(8, 16) if len(np.unique(data[i][1])) == K)   # one that holds all four classes
image, labels = data[ITEM]
print("image", image.shape, image.dtype, " labels", labels.shape, labels.dtype)
counts = np.bincount(labels.ravel(), minlength=K)
for k in range(K):
    print(f"class {k} ({NAMES[k]:>10}): {counts[k]:5d} pixels")
assert counts.sum() == labels.size and (counts > 0).all()

# %%
from matplotlib.colors import ListedColormap
CMAP = ListedColormap(["#303030", "#e6554f", "#5fd35f", "#5a7cf0"])   # one colour per class

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].imshow(image.transpose(1, 2, 0))
axes[0].set_title("image (3, 64, 64)")
im = axes[1].imshow(labels, cmap=CMAP, vmin=-0.5, vmax=K - 0.5)
axes[1].set_title("label map (64, 64)\none class per pixel")
cbar = fig.colorbar(im, ax=axes[1], ticks=range(K))
cbar.ax.set_yticklabels(NAMES)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
fig.savefig(FIGURES / "image_and_labels.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Binary masks: one yes/no question per class
#
# The **binary mask** of class $k$ answers "is this pixel of class $k$?":
#
# $$M^{(k)}_{h,w} = [\,y_{h,w} = k\,] \in \{0, 1\}.$$
#
# Every pixel has exactly one label, so the $K$ masks **partition** the image: they do not
# overlap and together they cover it, $\sum_k M^{(k)}_{h,w} = 1$.

# %%
masks = [labels == k for k in range(K)]      # K boolean (H, W) arrays
per_pixel = sum(m.astype(int) for m in masks)
print("masks per pixel: min", per_pixel.min(), "max", per_pixel.max())
assert (per_pixel == 1).all()                 # a partition: exactly one mask per pixel
assert [int(m.sum()) for m in masks] == counts.tolist()

fig, axes = plt.subplots(1, K, figsize=(3 * K, 3))
for k, ax in enumerate(axes):
    ax.imshow(masks[k], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"mask of class {k}: {NAMES[k]}\n{counts[k]} pixels are 1")
    ax.set_xticks([]), ax.set_yticks([])      # keep the frame: a white mask has no edge
fig.tight_layout()
fig.savefig(FIGURES / "binary_masks.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## One-hot targets: stack the masks
#
# Stacking the $K$ masks along a new class axis gives the **one-hot** encoding
# $Y \in \{0,1\}^{K \times H \times W}$: at each pixel, the vector $Y_{:,h,w}$ is all zeros
# except a single 1 at the pixel's class,
#
# $$Y_{k,h,w} = [\,y_{h,w} = k\,], \qquad \sum_{k} Y_{k,h,w} = 1, \qquad
# \arg\max_k Y_{k,h,w} = y_{h,w}.$$
#
# This `(K, H, W)` layout is the layout of a network's output (with a batch axis,
# `(N, K, H, W)`), which is why losses compare scores against it.
# `F.one_hot(labels, K, axis=...)` puts the class axis where we ask; we check it against a
# one-line NumPy version (row $y$ of the identity matrix is the one-hot vector of $y$).

# %%
onehot = F.one_hot(labels, K, axis=0)                     # (K, H, W)
by_hand = np.eye(K, dtype=np.int64)[labels].transpose(2, 0, 1)  # (H, W, K) -> (K, H, W)
print("one-hot", onehot.shape, onehot.dtype)
print("pixel (0, 0): label", labels[0, 0], "-> one-hot vector", onehot[:, 0, 0])
assert onehot.shape == (K,) + labels.shape
assert (onehot == by_hand).all()
assert (onehot == np.stack(masks)).all()                  # one-hot = stacked binary masks
print("sums over the class axis: min", onehot.sum(axis=0).min(), "max", onehot.sum(axis=0).max())
assert (onehot.sum(axis=0) == 1).all()                    # exactly one 1 per pixel
assert (onehot.argmax(axis=0) == labels).all()            # argmax of one-hot is the label map

# %% [markdown]
# The round trip labels → one-hot → argmax → labels is exact for *any* label map, not just
# this one. We check it on random label maps of a whole batch `(N, H, W)`, with the class
# axis at position 1 as in `(N, K, H, W)`.

# %%
rng = np.random.default_rng(seed(0))
for trial in range(20):
    n_classes = int(rng.integers(2, 8))
    batch = rng.integers(0, n_classes, size=(int(rng.integers(1, 4)), 7, 9))
    y = F.one_hot(batch, n_classes, axis=1)               # (N, K, H, W)
    assert y.shape == (batch.shape[0], n_classes) + batch.shape[1:]
    assert set(np.unique(y)) <= {0, 1}
    assert (y.sum(axis=1) == 1).all()
    assert (y.argmax(axis=1) == batch).all()
print("one-hot round trip holds on 20 random label batches")

# %%
fig, axes = plt.subplots(1, K + 1, figsize=(3 * (K + 1), 3))
for k in range(K):
    axes[k].imshow(onehot[k], cmap="gray", vmin=0, vmax=1)
    axes[k].set_title(f"Y[{k}] (channel {k})")
axes[K].imshow(onehot.argmax(axis=0), cmap=CMAP, vmin=-0.5, vmax=K - 0.5)
axes[K].set_title("argmax over channels\n= the label map")
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("one-hot target (K, H, W): the channels are the binary masks")
fig.tight_layout()
fig.savefig(FIGURES / "one_hot_stack.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## A classifier at every pixel
#
# A segmentation network outputs $K$ **scores** (logits) $z_{k,h,w}$ per pixel, a tensor
# `(N, K, H, W)`. At each pixel, a softmax over the class axis turns scores into
# probabilities, and the prediction is the most probable class:
#
# $$p_{k,h,w} = \frac{e^{z_{k,h,w}}}{\sum_{j} e^{z_{j,h,w}}}, \qquad
# \hat y_{h,w} = \arg\max_k p_{k,h,w}.$$
#
# That is exactly an image classifier's last step — applied at every pixel.
#
# To have scores to look at, we build the simplest pixel classifier there is: **nearest
# class colour**. "Train" it by averaging the colour of each class over a few *other*
# images ($c_k$ = mean RGB of class $k$). Its score for class $k$ is minus the squared
# distance to $c_k$, scaled by $2\sigma^2$ (the log-likelihood of a Gaussian of spread
# $\sigma$ around $c_k$; we take $\sigma = 0.15$, about the spread of colours in a class).
# Dropping $\lVert x \rVert^2$, which is the same for every class, leaves a *linear*
# function of the pixel's colour $x$:
#
# $$z_k = \frac{\lVert x \rVert^2 - \lVert x - c_k \rVert^2}{2\sigma^2}
#       = \frac{c_k^\top x}{\sigma^2} - \frac{\lVert c_k \rVert^2}{2\sigma^2}.$$
#
# A linear function of each pixel's channels is a **1×1 convolution** with weight
# $W_{k,:} = c_k / \sigma^2$ and bias $b_k = -\lVert c_k \rVert^2 / 2\sigma^2$: the same
# little classifier, slid over the image.

# %%
train_images, train_labels = zip(*(data[i] for i in range(8)))        # items 0..7, not ITEM
X = np.stack(train_images).transpose(1, 0, 2, 3).reshape(3, -1)       # (3, pixels)
Y = F.one_hot(np.stack(train_labels), K, axis=0).reshape(K, -1)       # (K, pixels)
class_colour = (Y @ X.T) / Y.sum(axis=1, keepdims=True)               # (K, 3) mean RGB per class
for k in range(K):
    print(f"c_{k} ({NAMES[k]:>10}) = {np.round(class_colour[k], 2)}")

SIGMA = 0.15
W_np = class_colour / SIGMA ** 2                                       # (K, 3)
b_np = -(class_colour ** 2).sum(axis=1) / (2 * SIGMA ** 2)             # (K,)
weight = mf.tensor(W_np.reshape(K, 3, 1, 1), device=DEVICE, dtype="float32")
bias = mf.tensor(b_np, device=DEVICE, dtype="float32")
x = mf.tensor(image[None], device=DEVICE)                              # (N=1, 3, H, W)

logits = F.conv2d(x, weight, bias)                                     # (1, K, H, W)
probs = F.softmax(logits, axis=1)                                      # softmax over classes
pred = probs.numpy().argmax(axis=1)[0]                                 # (H, W) label map
print("logits", logits.shape, " probabilities", probs.shape, " prediction", pred.shape)

# %% [markdown]
# Check the claims, each against an independent computation:
#
# - the 1×1 convolution is the linear classifier applied to each pixel's colour
#   (a matrix product, written here with `einsum`);
# - the softmax probabilities at every pixel are positive and sum to 1;
# - one pixel's probabilities (we take the least sure one) equal a softmax computed by
#   hand from its $K$ scores;
# - softmax keeps the order of the scores, so argmax of probabilities = argmax of logits.

# %%
z = logits.numpy()[0]                                                  # (K, H, W)
by_matrix = np.einsum("kc,chw->khw", W_np, image) + b_np[:, None, None]
print("largest |conv - matrix product| =", np.abs(z - by_matrix).max())
assert np.allclose(z, by_matrix, rtol=1e-5, atol=1e-4)

p = probs.numpy()[0]
print(f"probabilities in [{p.min():.2e}, {p.max():.6f}]; sums over classes in "
      f"[{p.sum(0).min():.6f}, {p.sum(0).max():.6f}]")
assert (p > 0).all() and np.allclose(p.sum(axis=0), 1, atol=1e-5)

h, w = np.unravel_index(p.max(axis=0).argmin(), p.shape[1:])         # the least sure pixel
scores = z[:, h, w].astype(np.float64)
softmax_by_hand = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
print(f"least sure pixel ({h}, {w}): scores {np.round(scores, 3)}")
print(f"  softmax by hand {np.round(softmax_by_hand, 4)}\n  F.softmax       {np.round(p[:, h, w], 4)}")
assert np.allclose(p[:, h, w], softmax_by_hand, atol=1e-5)
assert (pred == z.argmax(axis=0)).all()

accuracy = metrics.pixel_accuracy(pred, labels)         # fraction of pixels right (lesson 9)
print(f"pixels classified correctly: {accuracy:.4f}")
assert accuracy == (pred == labels).mean()

# %% [markdown]
# Why $\sigma = 0.15$? It stands for the spread of the colours within one class. Measure
# it on the training pixels: the root-mean-square distance of a pixel's channel from its
# class colour. (Colour jitter of up to ±0.12 per shape plus pixel noise of 0.1 give
# about 0.1–0.15.)

# %%
spread = np.sqrt((((X[None] - class_colour[:, :, None]) ** 2) * Y[:, None]).sum(axis=(1, 2))
                 / (3 * Y.sum(axis=1)))                               # (K,) rms per channel
print("colour spread per class:", np.round(spread, 3), " (SIGMA =", SIGMA, ")")
claim("sigma-describes-the-spread", np.abs(spread / SIGMA - 1).max(), "<", 0.5,
      note="largest |rms spread of a class / SIGMA - 1| over the K classes, on 8 images")

# %% [markdown]
# ## A pixel alone is not enough: same-colour shapes
#
# On these synthetic images the shape kinds have their own colours, so a pixel's colour
# alone classifies nearly every pixel. That contradicts the lecture's point that a pixel
# cannot be classified without its context — because the data make it too easy. Real
# images are not so kind: a pixel of a cat's fur and a pixel of a brown carpet can have
# the same colour.
#
# `SyntheticShapes(..., same_colour=True)` draws *the same* shapes, at the same places,
# but paints every kind in one colour: the class is now in the **shape**, not the colour.
#
# "Cannot be classified" is a statement about *every* rule that looks at one pixel, not
# only about our nearest-colour classifier. So we also fit the best such rule we can
# estimate: a **colour lookup table** — cut RGB space into 8×8×8 cells and give each cell
# the class most frequent among the training pixels that fall in it (a cell never seen gets
# the most frequent class). Any function of one pixel's colour is such a table in the limit.
# The witness it must beat is the **majority kind**: call every shape pixel the kind that
# is most frequent in the training images, using no colour at all.
#
# Fitted on 32 images, measured on 32 others, over **8 data seeds**, for both painting
# schemes (the same shapes at the same places: the seeds are *paired*). We measure
# **shape accuracy**: among the pixels that belong to a shape, the fraction given the
# right kind.

# %%
def colour_classifier(images, labels, test_images):
    """Nearest class colour with spread SIGMA, fitted on (images, labels): label maps of
    test_images, from the scores z_k = c_k.x / SIGMA^2 - |c_k|^2 / (2 SIGMA^2)."""
    X = images.transpose(1, 0, 2, 3).reshape(3, -1)
    Y = F.one_hot(labels, K, axis=0).reshape(K, -1)
    c = (Y @ X.T) / np.maximum(Y.sum(axis=1, keepdims=True), 1)        # (K, 3)
    z = np.einsum("kc,nchw->nkhw", c / SIGMA ** 2, test_images)
    return (z - ((c ** 2).sum(axis=1) / (2 * SIGMA ** 2))[None, :, None, None]).argmax(axis=1)


def colour_lookup(images, labels, test_images, cells=8):
    """The most frequent class of each RGB cell (cells^3 of them) among the training pixels;
    label maps of test_images. Unseen cells get the most frequent class overall."""
    def cell(x):                                                        # (N, 3, H, W) -> (N, H, W)
        q = np.clip((x * cells).astype(int), 0, cells - 1)
        return (q[:, 0] * cells + q[:, 1]) * cells + q[:, 2]
    counts = np.zeros((cells ** 3, K), dtype=np.int64)
    np.add.at(counts, (cell(images).ravel(), labels.ravel()), 1)
    table = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), np.bincount(labels.ravel()).argmax())
    return table[cell(test_images)]


SEEDS = [seed(s) for s in range(2, 10)]      # 8 data seeds
rows = []                                     # per seed: shape accuracy of (nearest, lookup) x (own, same), majority
for s in SEEDS:
    row = []
    for same_colour in (False, True):
        images_s, labels_s = SyntheticShapes(64, image_size=64, num_classes=K, seed=s,
                                             max_shapes=4, same_colour=same_colour).arrays()
        truth = labels_s[32:]
        on_shape = truth > 0
        for rule in (colour_classifier, colour_lookup):
            pred_s = rule(images_s[:32], labels_s[:32], images_s[32:])
            row.append((pred_s[on_shape] == truth[on_shape]).mean())
    train_kinds = labels_s[:32][labels_s[:32] > 0]
    row.append((truth[on_shape] == np.bincount(train_kinds).argmax()).mean())   # the majority kind
    rows.append(row)
rows = np.array(rows)                         # (seeds, 5)
print("shape accuracy over", len(SEEDS), "seeds (mean, lowest..highest):")
for j, what in enumerate(["own colours, nearest colour", "own colours, colour lookup",
                          "same colour, nearest colour", "same colour, colour lookup", "majority kind (no colour)"]):
    print(f"  {what:<28} {rows[:, j].mean():.3f}  ({rows[:, j].min():.3f}..{rows[:, j].max():.3f})")

own, same, majority = rows[:, 1], rows[:, 3], rows[:, 4]
gain = same - majority                        # what colour adds to the majority kind, paired by seed
se = gain.std(ddof=1) / np.sqrt(len(gain))
print(f"same colour: lookup - majority kind = {gain.mean():+.3f} ± {se:.3f} (mean ± s.e. over {len(gain)} seeds)")
claim("own-colours-tell-the-kind", own.min(), ">", 0.9,
      note=f"lowest shape accuracy of the colour lookup over {len(own)} seeds, own colours")
claim("same-colour-no-better-than-majority", gain.mean() + 2 * se, "<", 0.05,
      note="mean + 2 s.e. of (colour lookup - majority kind), shape accuracy, same colour, paired seeds")

# %% [markdown]
# Colour still tells a shape from the background (their colours differ), but no rule on
# one pixel's colour can say *which* shape: a pixel in the middle of a disc and one
# in the middle of a square look the same. Only the **neighbourhood** tells them apart.
# That is why the per-pixel classifier becomes a *convolutional network*: the scores of
# pixel $(h, w)$ are computed from a window around it (next lesson, which also measures
# how large the window must be).

# %%
fig, axes = plt.subplots(2, K + 1, figsize=(3 * (K + 1), 6))
for k in range(K):
    axes[0, k].imshow(z[k], cmap="viridis")
    axes[0, k].set_title(f"score z[{k}] ({NAMES[k]})")
    axes[1, k].imshow(p[k], cmap="magma", vmin=0, vmax=1)
    axes[1, k].set_title(f"probability p[{k}]")
axes[0, K].imshow(image.transpose(1, 2, 0))
axes[0, K].set_title("input image")
axes[1, K].imshow(pred, cmap=CMAP, vmin=-0.5, vmax=K - 0.5)
axes[1, K].contour(pred != labels, levels=[0.5], colors="white", linewidths=0.8)
axes[1, K].set_title(f"argmax: prediction\n({accuracy:.1%} correct; errors outlined)")
for ax in axes.ravel():
    ax.axis("off")
fig.suptitle("a classifier at every pixel: scores (N, K, H, W) → softmax over K → argmax")
fig.tight_layout()
fig.savefig(FIGURES / "pixel_classifier.png", dpi=100)
plt.close(fig)

# %% [markdown]
# One pixel, up close: its $K$ scores, and the probabilities softmax makes of them — the
# same picture as for image classification.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
axes[0].bar(range(K), scores, color=CMAP.colors)
axes[0].set_title(f"scores at pixel ({h}, {w})")
axes[1].bar(range(K), p[:, h, w], color=CMAP.colors)
axes[1].set_title(f"softmax: predicted {NAMES[pred[h, w]]}, true {NAMES[labels[h, w]]}", fontsize=10)
axes[1].set_ylim(0, 1)
for ax in axes:
    ax.set_xticks(range(K))
    ax.set_xticklabels(NAMES, rotation=20)
fig.tight_layout()
fig.savefig(FIGURES / "one_pixel.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Before lesson 2: the arithmetic of a sliding window
#
# From the next lesson on, pixel labels come from windows: convolutions slide a $k \times k$
# kernel over the image. Two numbers follow every such layer. The **output size**: an
# input of $i$ pixels, padded by $p$ on each side, read by a kernel of $k$ taps every $s$
# pixels, gives
#
# $$o = \left\lfloor \frac{i + 2p - k}{s} \right\rfloor + 1 \qquad
#   (\text{so } o = i - k + 1 \text{ for } p = 0,\ s = 1).$$
#
# And the **receptive field** $r$: how many input pixels one output value depends on. A
# stack of layers widens it by $(k_\ell - 1)$ times the **jump** $j_{\ell-1}$ between
# neighbouring values of the layer below (the product of the strides so far):
#
# $$r_\ell = r_{\ell-1} + (k_\ell - 1)\, j_{\ell-1}, \qquad j_\ell = j_{\ell-1}\, s_\ell,
#   \qquad r_0 = j_0 = 1.$$
#
# We check the first against `arith.conv_output_size` *and* the shape of a real
# convolution, and the second against a witness that knows no formula: backpropagate from
# one output value and see which input pixels get a gradient. (Lesson 7 derives all of it.)

# %%
for i, k, s, p in [(24, 3, 1, 0), (34, 11, 1, 0), (64, 3, 2, 1), (7, 4, 3, 2)]:
    o = (i + 2 * p - k) // s + 1
    real = F.conv2d(mf.tensor(np.zeros((1, 1, i, i)), dtype="float32"),
                    mf.tensor(np.ones((1, 1, k, k)), dtype="float32"), stride=s, padding=p).shape[-1]
    print(f"i={i:2d} k={k:2d} s={s} p={p}: o = {o:2d}  (arith {arith.conv_output_size(i, k, s, p)}, conv2d {real})")
    assert o == arith.conv_output_size(i, k, s, p) == real

stack = [(3, 1), (3, 2), (3, 1)]              # (kernel, stride) of three convolutions
r, j = 1, 1
for k, s in stack:
    r, j = r + (k - 1) * j, j * s
x_rf = mf.tensor(np.zeros((1, 1, 21, 21)), dtype="float32", requires_grad=True)
y_rf = x_rf
for k, s in stack:
    y_rf = F.conv2d(y_rf, mf.tensor(np.ones((1, 1, k, k)), dtype="float32"), stride=s)
c = y_rf.shape[-1] // 2
y_rf[:, :, c, c].sum().backward()            # which inputs can move the centre output?
seen = np.flatnonzero(x_rf.grad[0, 0].any(axis=0))        # (on the CPU: arithmetic, not speed)
print(f"layers (k, s) {stack}: receptive field {r} by the formula, {seen.max() - seen.min() + 1} by backprop,"
      f" arith {arith.receptive_field(stack)}")
assert r == arith.receptive_field(stack) == seen.max() - seen.min() + 1 == len(seen)

# %% [markdown]
# ## Summary
#
# - A segmentation is a **label map** $y \in \{0..K-1\}^{H \times W}$: one class per pixel.
# - The **binary mask** of class $k$ is $[y = k]$; the $K$ masks partition the image.
# - The **one-hot** target stacks the masks into $(K, H, W)$; argmax over $K$ gives back
#   the label map exactly.
# - A network outputs scores $(N, K, H, W)$; softmax over $K$ and argmax make it a
#   **classifier at every pixel**.
# - One pixel's colour cannot tell same-coloured shapes apart: the label needs a window.
#   A convolution's output size is $\lfloor (i + 2p - k)/s \rfloor + 1$, and a stack's
#   receptive field grows by $(k - 1)$ times the jump below.

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: add `same_colour=True` to the first `SyntheticShapes(...)` of this
#    lesson. What will "pixels classified correctly" print? (Hint: what fraction of the
#    pixels is background, and how often is a shape pixel's kind guessed right?)
# 2. Set `SIGMA = 0.05`. Do the predicted label maps change? (Write $z_k$ as
#    $(c_k^\top x - \lVert c_k \rVert^2/2)/\sigma^2$.) The probabilities do change — and
#    the spread check fails: `SIGMA` no longer describes the data.
# 3. Give the lookup table 32 cells per channel (`cells=32`). Does it beat the majority
#    kind on same-colour shapes now? On the *training* images? (What is it memorising?)

# %%
print("lesson 01 done: all assertions and claims hold")

# %% [markdown]
# **Exercises**: write `one_hot`, `pixel_cross_entropy`
# yourself: `minifcn exercises init DIR`, then `minifcn exercises check DIR` (see the Exercises page).
