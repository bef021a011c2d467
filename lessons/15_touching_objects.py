# %% [markdown]
# # Lesson 15 — Touching objects: the border weight map, elastic deformations, object scores
#
# **This lesson covers:** U-Net's biomedical origin (touching cells, few training images);
# the weighted loss that separates touching objects; elastic deformations as augmentation.
#
# The U-Net paper (Ronneberger, Fischer & Brox, 2015) was not about shapes in colour: it was
# about **cells in microscopy that touch**, with only a few dozen labelled images. Two
# touching cells are two objects, and the only thing that says so in the label is a
# background gap one or two pixels wide between them. A network that gets 99 % of the
# pixels right can still miss every gap, and then it counts two cells as one.
#
# The paper answers with three tools, and this lesson builds each and shows that it works:
#
# 1. a **weight map** that makes the loss care about the gaps,
#    $w(x) = w_c(x) + w_0 \exp\!\big(-(d_1(x) + d_2(x))^2 / 2\sigma^2\big)$;
# 2. **elastic deformations**, to get more out of few training images;
# 3. and — to see the difference at all — **object scores**: count cells, not pixels.

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, metrics
from minifcn.lesson import lesson_setup
from minifcn.plotting import image_grid, pyplot
DEVICE, FIGURES = lesson_setup("15_touching_objects")
plt = pyplot()

from minifcn import optim
from minifcn.data import SyntheticCells, elastic_field, random_elastic, random_flip, warp
from minifcn.data.cells import border_pixels
from minifcn.data.weightmap import border_weight_map, cell_distances
from minifcn.models import UNet

# %% [markdown]
# ## The data: cells that touch
#
# `SyntheticCells` draws grey images of many roughly elliptical cells, most of them placed
# against a neighbour. Each item is an image, a semantic mask (0 background, 1 cell) and an
# **instance map** (0 background, one number per cell). Where two cells touch, the pixels
# between them are background: that is the gap.
#
# Colour does not give the class away: inside a cell and outside, the intensity has the same
# mean and spread; only the *texture* differs (fine grain inside, smooth undulation
# outside), and every cell outline and every gap is the same dark membrane line. So the best
# rule that looks at one pixel's intensity alone does no better than calling everything
# background. We check that: for every threshold $\tau$, "cell if darker (or brighter) than
# $\tau$" is scored on all pixels, and the best of them is compared with the trivial rule.

# %%
SIZE = 48
train_x, train_y, train_i = SyntheticCells(16, image_size=SIZE, seed=0).arrays()
test_x, test_y, test_i = SyntheticCells(16, image_size=SIZE, seed=1).arrays()
print("train", train_x.shape, " test", test_x.shape, f" cell pixels {train_y.mean():.0%}, "
      f"cells per image {np.mean([i.max() for i in train_i]):.1f}")

values, labels = train_x[:, 0].ravel(), train_y.ravel()
thresholds = np.quantile(values, np.linspace(0, 1, 101))
below = (values[None] <= thresholds[:, None])
accuracy = np.maximum((below == labels).mean(axis=1), (~below == labels).mean(axis=1))
trivial = 1 - labels.mean()
print(f"all background: accuracy {trivial:.3f};  best one-pixel intensity threshold: {accuracy.max():.3f}")
assert accuracy.max() < trivial + 0.02

SHOW = 4
LABELS = {"cmap": "gray", "vmin": 0, "vmax": 1}
CELLS = {"cmap": "tab20", "interpolation": "nearest"}
image_grid(FIGURES / "cells.png", [("image", train_x[:SHOW]), ("mask", train_y[:SHOW], LABELS),
                                   ("instances", train_i[:SHOW], CELLS)],
           title="synthetic cells: image, semantic mask, one label per cell")

# %% [markdown]
# ## The border weight map
#
# $d_1(x)$ and $d_2(x)$ are the distances from pixel $x$ to the nearest and the
# second-nearest cell. One Euclidean distance transform per cell (SciPy's
# `distance_transform_edt`) gives the distance of every pixel to that cell; the two smallest
# per pixel are $d_1, d_2$. Their sum is small only where two cells are close on both sides
# of $x$, i.e. in a gap, and there the weight rises to about $1 + w_0$. $w_c$ balances the two
# classes (each gets the same total weight). The paper's values: $w_0 = 10$, $\sigma = 5$ px.

# %%
W0, SIGMA = 10.0, 5.0
inst = train_i[0]
d1, d2 = cell_distances(inst)
w = border_weight_map(inst, w0=W0, sigma=SIGMA)
gap = border_pixels(inst)                             # background with two cells within 2 px
elsewhere = (inst == 0) & ~gap
print(f"mean weight: gap pixels {w[gap].mean():.2f}, other background {w[elsewhere].mean():.2f}, "
      f"cells {w[inst > 0].mean():.2f}")
assert w[gap].mean() > 3 * w[elsewhere].mean()

fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
for ax, (title, picture, cmap) in zip(axes, [("image", train_x[0, 0], "gray"), ("instances", inst, "tab20"),
                                             ("$d_1 + d_2$ (px)", np.minimum(d1 + d2, 30), "viridis"),
                                             ("weight map $w$", w, "magma")]):
    shown = ax.imshow(picture, cmap=cmap, interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([]), ax.set_yticks([])
    if title.startswith(("$", "weight")):
        fig.colorbar(shown, ax=ax, fraction=0.046)
fig.tight_layout()
fig.savefig(FIGURES / "weight_map.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Counting cells, not pixels
#
# To see what the weight map is for, we need a score that notices a merge. **Object
# scores** cut the predicted mask into connected components (4-neighbours), match each to a
# true cell when their IoU is at least 0.5 (one-to-one), and count: matched cells are true
# positives, unmatched predictions false positives, unmatched cells false negatives;
# object F1 $= 2\,TP / (2\,TP + FP + FN)$. A predicted blob that holds most of two or more
# cells is a **merge**.
#
# A prediction that is right everywhere except that the gaps are filled in (a morphological
# closing with a $3 \times 3$ square: dilate by one pixel, erode by one pixel, which fills
# every gap up to two pixels wide) keeps a pixel Dice near 0.9, and its object F1 collapses:

# %%
import scipy.ndimage as ndi
closed = ndi.binary_closing(test_y.astype(bool), structure=np.ones((1, 3, 3))) | test_y.astype(bool)
dice_closed = metrics.dice(closed.astype(np.int64), test_y, 2)[1]
objects_closed = metrics.object_scores(closed, test_i)
print(f"gaps closed: pixel Dice {dice_closed:.3f}, object F1 {objects_closed['f1']:.3f}, "
      f"{objects_closed['merged']} merges of {objects_closed['true_objects']} cells")
assert dice_closed > 0.85 and objects_closed["f1"] < 0.3

# %% [markdown]
# ## Elastic deformations
#
# The paper's augmentation: a random displacement vector at each point of a coarse
# $3 \times 3$ grid, drawn from a Gaussian, interpolated smoothly (bicubic) to every pixel.
# The image is resampled bilinearly at the displaced positions, the mask and the instance
# map by the nearest pixel, so labels stay labels and stay on top of their cells.

# %%
rng = np.random.default_rng(0)
field = elastic_field(rng, 1, SIZE, SIZE, grid=3, std=3.0)
moved_x = warp(train_x[:1], field, "bilinear")
moved_labels = warp(np.stack([train_y[:1], train_i[:1]], 1), field, "nearest")
assert moved_labels.dtype == np.int64
assert set(np.unique(moved_labels[:, 1])) <= set(np.unique(train_i[0]))         # no new labels
np.testing.assert_array_equal(moved_labels[:, 0], (moved_labels[:, 1] > 0).astype(np.int64))

fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
step = 4
rr, cc = np.mgrid[0:SIZE:step, 0:SIZE:step]
axes[0].imshow(train_x[0, 0], cmap="gray")
axes[0].set_title("image")
axes[1].imshow(train_x[0, 0], cmap="gray", alpha=0.4)
axes[1].quiver(cc, rr, field[0, 1, ::step, ::step], field[0, 0, ::step, ::step], color="C3",
               angles="xy", scale_units="xy", scale=0.5)
axes[1].set_title("displacement (x2)")
axes[2].imshow(moved_x[0, 0], cmap="gray")
axes[2].set_title("deformed image")
axes[3].imshow(moved_labels[0, 1], cmap="tab20", interpolation="nearest")
axes[3].set_title("deformed instances")
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
fig.savefig(FIGURES / "deformation.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Train with and without the weight map
#
# Two small U-Nets (4 base channels, depth 2), the same initial weights, the same batches
# of the same 16 training images (random flips), the same steps, the same loss, cross-entropy
# plus soft Dice (as `minifcn train` uses): one with plain cross-entropy, one with the weight
# map as a per-pixel weight in it, `F.cross_entropy(logits, y, weight_map=w)`. The weight
# map is computed per batch, after the augmentation has moved the cells.

# %%
STEPS, BATCH, LR, SEED = 80, 4, 0.01, 0


def train(weight_map: bool, elastic: bool) -> UNet:
    """A fresh U-Net from seed SEED, trained for STEPS steps on the 16 training images."""
    nn.init.manual_seed(SEED)
    net = UNet(1, 2, base_channels=4, depth=2).to(DEVICE)
    opt = optim.Adam(net.parameters(), lr=LR)
    schedule = optim.CosineAnnealingLR(opt, T_max=STEPS)
    batches = np.random.default_rng(SEED)
    for _ in range(STEPS):
        idx = batches.choice(len(train_x), BATCH, replace=False)
        x, labels = random_flip(batches, train_x[idx], np.stack([train_y[idx], train_i[idx]], 1))
        if elastic:
            x, labels = random_elastic(batches, x, labels, std=2.0)
        y, instances = labels[:, 0], labels[:, 1]
        w = mf.tensor(border_weight_map(instances, W0, SIGMA, mask=y), device=DEVICE) if weight_map else None
        logits, y = net(mf.tensor(x, device=DEVICE)), mf.tensor(y, device=DEVICE)
        loss = F.cross_entropy(logits, y, weight_map=w) + F.dice_loss(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return net.eval()


def scores(net: UNet, images, masks, instances) -> dict:
    """Pixel Dice of the cell class and the object scores on a set of images."""
    with mf.no_grad():
        pred = mf.backend.to_numpy(net(mf.tensor(images, device=DEVICE)).data.argmax(axis=1))
    found = metrics.object_scores(pred, instances)
    return {"dice": metrics.dice(pred, masks, 2)[1], "pred": pred, **found}


plain_net, weighted_net = train(weight_map=False, elastic=False), train(weight_map=True, elastic=False)
plain, weighted = scores(plain_net, test_x, test_y, test_i), scores(weighted_net, test_x, test_y, test_i)
for name, s in (("plain cross-entropy", plain), ("with the weight map", weighted)):
    print(f"{name:20s}: pixel Dice {s['dice']:.3f}  object F1 {s['f1']:.3f}  merged {s['merged']:2d}  "
          f"split {s['split']:2d}  ({s['pred_objects']} objects found, {s['true_objects']} true)")
assert weighted["f1"] > plain["f1"] + 0.05           # more cells found as separate objects
assert weighted["merged"] < plain["merged"]          # fewer merges
assert abs(weighted["dice"] - plain["dice"]) < 0.1   # at a similar pixel Dice

# %% [markdown]
# The pixel Dice hardly moves, but the objects do: without the weight map the gaps are
# a handful of pixels the loss barely feels, and touching cells come out as one blob. In
# the pictures each predicted object has its own colour.

# %%
def components(pred):
    return metrics.connected_components(pred == 1)[0] % 20 + (pred == 1)


image_grid(FIGURES / "merged_vs_separated.png",
           [("image", test_x[:SHOW]), ("true cells", test_i[:SHOW], CELLS),
            ("plain CE", components(plain["pred"][:SHOW]), CELLS),
            ("weight map", components(weighted["pred"][:SHOW]), CELLS)],
           title=f"object F1: plain {plain['f1']:.2f} ({plain['merged']} merges), "
                 f"weight map {weighted['f1']:.2f} ({weighted['merged']} merges)")

# %% [markdown]
# ## Elastic deformations on a small training set
#
# With 16 training images a network soon knows them by heart: it scores better on them
# than on new ones. Elastic deformations show it new cell shapes at every step. Same
# network, same weight map, same steps, now with the deformations; we score both networks
# on the training images and on the test images and compare the **gap** between the two.

# %%
elastic_net = train(weight_map=True, elastic=True)
elastic = scores(elastic_net, test_x, test_y, test_i)
rows = []
for name, net, test in (("weight map", weighted_net, weighted), ("weight map + elastic", elastic_net, elastic)):
    seen = scores(net, train_x, train_y, train_i)
    rows.append(seen["f1"] - test["f1"])
    print(f"{name:20s}: object F1 on the training images {seen['f1']:.3f}, on new images {test['f1']:.3f} "
          f"(gap {seen['f1'] - test['f1']:+.3f});  pixel Dice on new images {test['dice']:.3f}")
assert rows[1] < rows[0]           # the deformed training set is memorised less

# %% [markdown]
# In a run this short the deformations narrow the gap without raising the score on new
# images: the network fits its 16 images less closely, because it never sees the same
# picture twice, and 80 steps are not enough to learn the harder, deformed task. The paper
# trained for hours on 30 images; there the deformations are what lets the network learn
# the shapes cells can take without seeing them all.

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: with `W0 = 0` the weight map is only the class balance $w_c$.
#    Which assertion of "Train with and without the weight map" fails first, the object F1
#    or the merge count?
# 2. Make the gap weight narrower, `SIGMA = 2`: it then reaches only the pixels right
#    between two cells. Does the weighted network merge fewer cells or more?
# 3. Train longer, `STEPS = 160`: does the plain network learn the gaps by itself in the
#    end? Watch `merged` for both (the lesson then takes about twice as long).

# %% [markdown]
# ## What to remember
#
# - Touching objects need a gap in the label, and a loss that cares about it: U-Net's weight
#   map puts up to $1 + w_0$ on the pixels between two cells, $w_c$ on the rest.
# - Pixel scores cannot see a merge (closing every gap keeps Dice near 0.9); object scores
#   (components matched at IoU ≥ 0.5) can.
# - Elastic deformations move image and labels together: bilinear for the image, nearest
#   for the labels, one smooth random field for both.
