# %% [markdown]
# # Lesson 9 — Metrics: how good is a segmentation?
#
# **This lesson covers:** pixel accuracy and class imbalance; DSC $= 2TP/(2TP+FP+FN)$; IoU
# (Jaccard) and its relation to Dice; Hausdorff distance from the directed $h(X, Y)$, and
# HD95.
#
# A loss is what training minimises; a **metric** is what we report. This lesson asks
# which number to trust:
#
# 1. **Pixel accuracy** — the fraction of pixels labelled correctly — and why it misleads
#    when one class (usually background) covers most of the image.
# 2. The **Dice similarity coefficient** (DSC) and the **intersection over union** (IoU,
#    Jaccard index), which score each class by its overlap, and the exact relation
#    between them.
# 3. The **Hausdorff distance**, which scores the *boundary*: two predictions can overlap
#    the object equally well and still differ badly in shape.

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("09_metrics")
plt = pyplot()

# %% [markdown]
# ## Why accuracy misleads: the 90 % background example
#
# An image of $40 \times 40 = 1600$ pixels holds one object of $16 \times 10 = 160$ pixels:
# 10 % foreground, 90 % background. A lazy "network" predicts background everywhere.

# %%
H, W = 40, 40
target = np.zeros((H, W), np.int64)
target[12:28, 15:25] = 1                                  # the object: 16 x 10 pixels
lazy = np.zeros_like(target)                              # "everything is background"
# Metrics take label maps as NumPy/CuPy arrays or Tensors; put them on the lesson's device.
target_t, lazy_t = mf.tensor(target, device=DEVICE), mf.tensor(lazy, device=DEVICE)
print(f"object: {target.sum()} of {target.size} pixels = {target.mean():.0%}")
assert target.sum() == 160 and target.mean() == 0.1

# %% [markdown]
# Its **pixel accuracy** is the fraction of pixels it got right — every background pixel:
#
# $$\text{accuracy} = \frac{\#\{\text{pixels with } \hat y = y\}}{\#\{\text{pixels}\}}
#   = \frac{1440}{1600} = 0.9 .$$

# %%
acc = metrics.pixel_accuracy(lazy_t, target_t)
print(f"pixel accuracy of the all-background prediction: {acc:.3f}")
assert acc == (H * W - 160) / (H * W) == 0.9

# %% [markdown]
# 90 % sounds good, and it says nothing: the object was not found at all. A per-class
# score exposes it. The **confusion matrix** $M_{t,p}$ counts the pixels of true class
# $t$ predicted as $p$ (rows: truth, columns: prediction); every per-class metric is
# read off it. The Dice score of a class (defined properly below) is its overlap
# $2\,|P \cap T| / (|P| + |T|)$: here 0 for the object, since $P$ is empty.

# %%
cm = mf.backend.to_numpy(metrics.confusion_matrix(lazy_t, target_t, num_classes=2))
print("confusion matrix (rows: target 0, 1; columns: predicted 0, 1)\n", cm)
assert cm.tolist() == [[1440, 0], [160, 0]]

d = metrics.dice(lazy_t, target_t, num_classes=2)
print(f"Dice per class: background {d[0]:.3f}, object {d[1]:.3f};  mean Dice {np.mean(d):.3f}")
assert d[1] == 0                                          # accuracy 0.9, Dice 0 on the object
assert np.isclose(d[0], 2 * 1440 / (1600 + 1440))         # background: P = everything, T = 1440 px
assert np.isclose(metrics.mean_dice(lazy_t, target_t, num_classes=2), (d[0] + 0) / 2)

# %% [markdown]
# Compare with a prediction that *did* find the object, only 2 pixels too low. Accuracy
# hardly moves (0.9 → 0.975); Dice on the object jumps from 0 to 0.875 — the score that
# tells the two apart.

# %%
shifted = np.zeros_like(target)
shifted[14:30, 15:25] = 1                                 # the object, 2 rows too low
shifted_t = mf.tensor(shifted, device=DEVICE)
acc_shifted = metrics.pixel_accuracy(shifted_t, target_t)
d_shifted = metrics.dice(shifted_t, target_t, num_classes=2)
overlap = 14 * 10                                         # rows 14..27 are shared
print(f"shifted prediction: accuracy {acc_shifted:.3f}, Dice on the object {d_shifted[1]:.3f}")
assert acc_shifted == (1600 - 2 * 2 * 10) / 1600          # 20 missed + 20 extra pixels
assert np.isclose(d_shifted[1], 2 * overlap / (160 + 160))

# %%
from matplotlib.colors import ListedColormap
MASK = ListedColormap(["#202020", "#f0c040"])
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
panels = [(target, "target: 10 % object"),
          (lazy, f"all background\naccuracy {acc:.2f}, object Dice {d[1]:.2f}"),
          (shifted, f"object 2 px too low\naccuracy {acc_shifted:.3f}, object Dice {d_shifted[1]:.3f}")]
for ax, (mask, title) in zip(axes, panels):
    ax.imshow(mask, cmap=MASK, vmin=0, vmax=1)
    ax.contour(target, levels=[0.5], colors="#4aa0ff", linewidths=1)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
fig.suptitle("pixel accuracy rewards the majority class (blue: target outline)")
fig.tight_layout(rect=(0, 0, 1, 0.95))
fig.savefig(FIGURES / "accuracy_misleads.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Dice and IoU
#
# For one class $k$, let $P$ be the set of pixels **predicted** $k$ and $T$ the set
# **labelled** $k$. In terms of true positives $TP = |P \cap T|$, false positives
# $FP = |P \setminus T|$ and false negatives $FN = |T \setminus P|$:
#
# $$\text{DSC} = \frac{2\,|P \cap T|}{|P| + |T|} = \frac{2\,TP}{2\,TP + FP + FN},
# \qquad
# \text{IoU} = \frac{|P \cap T|}{|P \cup T|} = \frac{TP}{TP + FP + FN}.$$
#
# Both are 1 for a perfect match and 0 for no overlap, and both ignore the true negatives
# — the sea of correctly predicted background that inflated the accuracy. (Dice is the
# F1 score of the class.) From the confusion matrix: $TP_k = M_{k,k}$, $|T_k|$ = row sum,
# $|P_k|$ = column sum.
#
# ### The relation between them
#
# Write $I = |P \cap T|$ and $S = |P| + |T|$. The union counts the intersection once:
# $|P \cup T| = S - I$. Dice gives $D = 2I/S$, so $I = DS/2$, and
#
# $$\text{IoU} = \frac{I}{S - I} = \frac{DS/2}{S - DS/2} = \frac{D}{2 - D},
# \qquad\text{and back:}\qquad D = \frac{2\,\text{IoU}}{1 + \text{IoU}} .$$
#
# So IoU is a fixed, increasing function of Dice: the two always **rank** per-class
# results the same way, and $\text{IoU} \le \text{DSC}$ (equal only at 0 and 1), since
# $D/(2 - D) \le D \iff 1 \le 2 - D$.
#
# We check it on random label maps: a target with $K$ classes and a prediction in which a
# growing fraction of the pixels (0 % to 100 %) gets a wrong label, so the scores spread
# over $[0, 1]$.
# The per-class Dice and IoU of `metrics` are compared with a direct computation from the
# sets, and with the relation.

# %%
rng = np.random.default_rng(0)
points = []                                   # (Dice, IoU) pairs for the figure
for trial in range(40):
    K = int(rng.integers(2, 6))
    truth = rng.integers(0, K, size=(2, 24, 24))          # a batch (N, H, W)
    wrong = rng.random(truth.shape) < trial / 39          # 0 % ... 100 % of the pixels ...
    pred = np.where(wrong, (truth + rng.integers(1, K, size=truth.shape)) % K, truth)  # ... mislabelled
    dsc, jac = metrics.dice(pred, truth, num_classes=K), metrics.iou(pred, truth, num_classes=K)
    for k in range(K):
        P, T = pred == k, truth == k
        inter, union = np.sum(P & T), np.sum(P | T)
        assert np.isclose(dsc[k], 2 * inter / (P.sum() + T.sum()))   # from the sets
        tp, fp, fn = np.sum(P & T), np.sum(P & ~T), np.sum(~P & T)
        if 2 * tp + fp + fn:                                          # the lecture's form
            assert np.isclose(dsc[k], 2 * tp / (2 * tp + fp + fn))
        assert np.isclose(jac[k], inter / union)
        assert np.isclose(jac[k], dsc[k] / (2 - dsc[k]))             # IoU = DSC / (2 - DSC)
        assert jac[k] <= dsc[k] + 1e-12
        points.append((dsc[k], jac[k]))
points = np.array(points)
print(f"{len(points)} per-class scores checked, Dice from {points[:, 0].min():.2f} "
      f"to {points[:, 0].max():.2f}; largest |IoU - DSC/(2-DSC)| = "
      f"{np.abs(points[:, 1] - points[:, 0] / (2 - points[:, 0])).max():.1e}")

# %% [markdown]
# The means over classes (`mean_dice`, `mean_iou` — "mIoU") average these per-class
# scores, so every class counts equally however small it is.

# %%
K = 4
truth = rng.integers(0, K, size=(2, 24, 24))
pred = np.where(rng.random(truth.shape) < 0.3, (truth + 1) % K, truth)   # 30 % mislabelled
print("per-class IoU", np.round(metrics.iou(pred, truth, K), 3))
print(f"mean Dice {metrics.mean_dice(pred, truth, K):.3f}, mIoU {metrics.mean_iou(pred, truth, K):.3f}, "
      f"pixel accuracy {metrics.pixel_accuracy(pred, truth):.3f}")
assert np.isclose(metrics.mean_iou(pred, truth, K), np.mean(metrics.iou(pred, truth, K)))

fig, ax = plt.subplots(figsize=(5, 4.5))
dd = np.linspace(0, 1, 101)
ax.plot(dd, dd / (2 - dd), "k-", label="IoU = DSC / (2 - DSC)")
ax.plot(dd, dd, "k:", label="IoU = DSC")
ax.scatter(points[:, 0], points[:, 1], s=12, c="tab:orange", zorder=3,
           label="per-class scores of random predictions")
ax.set_xlabel("Dice (DSC)")
ax.set_ylabel("IoU (Jaccard)")
ax.set_title("IoU is a fixed function of Dice, never above it")
ax.legend(loc="upper left", fontsize=9)
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(FIGURES / "iou_vs_dice.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Boundary quality: the Hausdorff distance
#
# Dice and IoU count pixels; they do not care *where* the wrong pixels are. A thin error
# along the whole boundary and a blob of false positives far from the object can cost the
# same Dice. In medical imaging the second is far worse (a "lesion" where there is none),
# so we also measure the distance between **boundaries**.
#
# The boundary $\partial A$ of a mask is its pixels with a 4-neighbour outside it. With
# $d(a, B) = \min_{b \in \partial B} \lVert a - b \rVert$, the (symmetric) **Hausdorff
# distance** is the worst boundary error in either direction:
#
# $$\text{HD}(P, T) = \max\Big( \max_{a \in \partial P} d(a, T),\ \max_{b \in \partial T} d(b, P) \Big).$$
#
# One stray pixel can make this huge, so one usually reports **HD95**: the 95th
# percentile of each direction's distances instead of the maximum (then the larger of the
# two).
#
# Three predictions of a disc:
#
# - **A**: a disc one pixel too large all round — a small error everywhere on the boundary;
# - **B**: the exact disc plus a false-positive blob far away;
# - **C**: the exact disc plus one stray pixel in a corner.

# %%
S = 64
rr, cc = np.mgrid[0:S, 0:S]


def disc(row, col, radius):
    return (rr - row) ** 2 + (cc - col) ** 2 <= radius ** 2


truth = disc(34, 26, 12)
pred_a = disc(34, 26, 13)                       # one pixel too large all round
pred_b = truth.copy()
pred_b[6:15, 46:55] = True                      # a 9 x 9 false positive, far away
pred_c = truth.copy()
pred_c[4, 60] = True                            # a single stray pixel
PREDS = {"A: 1 px too large": pred_a, "B: far blob": pred_b, "C: one stray pixel": pred_c}

scores = {}
truth_t = mf.tensor(truth, device=DEVICE)                 # a boolean mask on the device
for name, p in PREDS.items():
    p_t = mf.tensor(p, device=DEVICE)
    dsc = metrics.dice(p_t, truth_t, num_classes=2)[1]   # a boolean mask is a 0/1 label map
    hd = metrics.hausdorff_distance(p_t, truth_t)
    hd95 = metrics.hausdorff_distance(p_t, truth_t, percentile=95)
    scores[name] = (dsc, hd, hd95)
    print(f"{name:20s} Dice {dsc:.3f}   HD {hd:6.2f} px   HD95 {hd95:6.2f} px")

# %% [markdown]
# A and B have almost the same Dice, yet B's boundary is off by some 26 pixels where A's
# is off by 1–2. C shows why HD95 exists: a single stray pixel makes HD jump to 34
# pixels, while HD95 (and Dice) barely notice it.

# %%
(d_a, hd_a, hd95_a), (d_b, hd_b, hd95_b), (d_c, hd_c, hd95_c) = scores.values()
assert abs(d_a - d_b) < 0.01                    # similar Dice ...
assert hd95_b > 10 * hd95_a                     # ... very different boundary error
assert hd_c > 30 and hd95_c < 1 and d_c > 0.99  # one stray pixel: HD explodes, HD95 does not

# %% [markdown]
# ### Checking the Hausdorff distance by brute force
#
# We recompute it straight from the definition with NumPy: find the boundary pixels, take
# every pairwise distance between the two boundaries, and take minima, maxima and
# percentiles. (The library does the same with a distance transform, which is faster on
# large images.)

# %%
def boundary(mask):
    """Mask pixels with a 4-neighbour outside the mask (outside the image counts as outside)."""
    m = np.pad(mask, 1)
    inner = m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def hausdorff_by_hand(p, t, q=100):
    bp, bt = np.argwhere(boundary(p)), np.argwhere(boundary(t))
    dist = np.sqrt(((bp[:, None, :] - bt[None, :, :]) ** 2).sum(axis=2))   # (|∂P|, |∂T|)
    return max(np.percentile(dist.min(axis=1), q), np.percentile(dist.min(axis=0), q))


for name, p in PREDS.items():
    hd, hd95 = hausdorff_by_hand(p, truth), hausdorff_by_hand(p, truth, 95)
    print(f"{name:20s} by hand: HD {hd:6.2f}  HD95 {hd95:6.2f}")
    assert np.isclose(hd, scores[name][1]) and np.isclose(hd95, scores[name][2])

# %% [markdown]
# ### The two directions are not the same
#
# The lecture writes the Hausdorff distance with the **directed** distance
# $h(X, Y) = \max_{x \in X} \min_{y \in Y} \lVert x - y \rVert$: how far the worst point
# of $X$ is from $Y$. It is not symmetric, which is why $\text{HD}(X, Y) = \max(h(X, Y),
# h(Y, X))$ takes both. For B (the exact disc plus a far blob) every true boundary point
# lies on the prediction's boundary, so $h(\partial T, \partial P_B) = 0$, while the blob
# is far from the truth: $h(\partial P_B, \partial T)$ is the whole error.

# %%
def directed(x_mask, y_mask):
    """h(X, Y) between the boundaries of two masks, by brute force."""
    bx, by = np.argwhere(boundary(x_mask)), np.argwhere(boundary(y_mask))
    return np.sqrt(((bx[:, None, :] - by[None, :, :]) ** 2).sum(axis=2)).min(axis=1).max()


h_pt, h_tp = directed(pred_b, truth), directed(truth, pred_b)
print(f"B: h(pred, truth) = {h_pt:.2f} px, h(truth, pred) = {h_tp:.2f} px, HD = {scores['B: far blob'][1]:.2f} px")
assert h_tp == 0 < 10 < h_pt                                       # not symmetric
assert np.isclose(max(h_pt, h_tp), scores["B: far blob"][1])      # HD takes the larger

# %% [markdown]
# ### A picture: the distance map
#
# The **distance map** of the target boundary gives every pixel its distance to the
# nearest point of $\partial T$ (computed here by brute force, as above). Reading it along
# a prediction's boundary gives the distances $d(a, T)$ that the Hausdorff distance takes
# the maximum (or 95th percentile) of.

# %%
pixels = np.stack([rr.ravel(), cc.ravel()], axis=1)                    # (S*S, 2)
edge_t = np.argwhere(boundary(truth))
dist_map = np.sqrt(((pixels[:, None, :] - edge_t[None]) ** 2).sum(axis=2)).min(axis=1).reshape(S, S)
assert dist_map[boundary(truth)].max() == 0

fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
im = axes[0].imshow(dist_map, cmap="viridis")
axes[0].contour(truth, levels=[0.5], colors="white", linewidths=1)
axes[0].set_title("distance to the target boundary (px)")
fig.colorbar(im, ax=axes[0], fraction=0.046)
for ax, (name, p) in zip(axes[1:], PREDS.items()):
    ax.imshow(dist_map, cmap="gray", alpha=0.5)
    edge = boundary(p)
    ax.contour(truth, levels=[0.5], colors="#4aa0ff", linewidths=1.5)
    sc = ax.scatter(*np.argwhere(edge)[:, ::-1].T, c=dist_map[edge], cmap="plasma", s=6,
                    vmin=0, vmax=dist_map.max())
    dsc, hd, hd95 = scores[name]
    ax.set_title(f"{name}\nDice {dsc:.3f}  HD {hd:.1f}  HD95 {hd95:.1f}", fontsize=10)
for ax in axes:
    ax.axis("off")
fig.colorbar(sc, ax=axes[3], fraction=0.046, label="d(a, T) of each boundary pixel")
fig.suptitle("blue: target boundary; dots: predicted boundary, coloured by distance to it")
fig.tight_layout(rect=(0, 0, 1, 0.94))
fig.savefig(FIGURES / "hausdorff_boundaries.png", dpi=100)
plt.close(fig)

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for (name, p), style in zip(PREDS.items(), ["-", "--", ":"]):   # B and C share the bar at 0
    ax.hist(dist_map[boundary(p)], bins=np.arange(0, 36, 1), histtype="step", lw=2, ls=style, label=name)
ax.set_xlabel("distance of a predicted boundary pixel to the target boundary (px)")
ax.set_ylabel("boundary pixels")
ax.set_title("A: many small errors; B: a group of large ones; C: a single one")
ax.legend()
fig.tight_layout()
fig.savefig(FIGURES / "boundary_distance_histogram.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Summary
#
# - **Pixel accuracy** is dominated by the majority class: predicting all background on
#   an image with 10 % foreground scores 0.9 — with Dice 0 on the object.
# - **Dice** $= 2|P \cap T| / (|P| + |T|)$ and **IoU** $= |P \cap T| / |P \cup T|$ score
#   each class by overlap, ignoring true negatives; $\text{IoU} = \text{DSC}/(2 - \text{DSC})$,
#   so they rank results identically and IoU is never larger.
# - **Hausdorff distance** measures the worst boundary error; **HD95** ignores the worst
#   5 % and so a few stray pixels. Report an overlap score *and* a boundary score.

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: make prediction A **two** pixels too large (`disc(34, 26, 14)`).
#    What will its Dice be, and its HD? Does `abs(d_a - d_b) < 0.01` still hold?
#    *Exercise* `dice_iou` computes Dice and IoU per class yourself.
# 2. Move C's stray pixel next to the disc (e.g. `pred_c[34, 40] = True`): predict HD and
#    HD95 before you run. *Exercise* `hausdorff_distance` writes HD and HD95 yourself.

# %%
print("lesson 09 done: all assertions hold")

# %% [markdown]
# **Exercises**: write `dice_iou`, `hausdorff_distance`
# yourself: `minifcn exercises init DIR`, then `minifcn exercises check DIR` (see the Exercises page).
