# %% [markdown]
# # Lesson 9 — Metrics: how good is a segmentation?
#
# **This lesson covers:** pixel accuracy and class imbalance; DSC $= 2TP/(2TP+FP+FN)$; IoU
# (Jaccard) and its relation to Dice; Hausdorff distance from the directed $h(X, Y)$, and
# HD95 (two conventions); void pixels, absent classes, per-image vs dataset-level mIoU and
# FCN's four metrics from one accumulated confusion matrix.
#
# A loss is what training minimises; a **metric** is what we report. This lesson asks
# which number to trust:
#
# 1. **Pixel accuracy** — the fraction of pixels labelled correctly — and why it misleads
#    when one class (usually background) covers most of the image.
# 2. The **Dice similarity coefficient** (DSC) and the **intersection over union** (IoU,
#    Jaccard index), which score each class by its overlap, and the exact relation
#    between them.
# 3. **Scoring a data set**: void pixels, absent classes, per-image or pooled means, and
#    FCN's four metrics.
# 4. The **Hausdorff distance**, which scores the *boundary*: two predictions can overlap
#    the object equally well and still differ badly in shape.

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup, seed
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
# So IoU is a fixed, increasing function of Dice: for **one class** of one evaluation,
# the two always **rank** two predictions the same way, and $\text{IoU} \le \text{DSC}$ (equal only at 0 and 1), since
# $D/(2 - D) \le D \iff 1 \le 2 - D$.
#
# We check it on random label maps: a target with $K$ classes and a prediction in which a
# growing fraction of the pixels (0 % to 100 %) gets a wrong label, so the scores spread
# over $[0, 1]$.
# The per-class Dice and IoU of `metrics` are compared with a direct computation from the
# sets, and with the relation.

# %%
rng = np.random.default_rng(seed(0))
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
# scores, so every class counts equally however small it is. And here the ranking can
# **flip**: $D \mapsto D/(2 - D)$ is convex, so of two predictions with the same mean Dice
# the one with the more uneven classes has the higher mIoU. A constructed example, three
# classes of 100 pixels: model A mislabels 45 pixels of every class as the next class
# (Dice 0.55 each); model B is perfect on class 0 and swaps 80 pixels each way between
# classes 1 and 2 (Dice 1, 0.2, 0.2).

# %%
truth3 = np.repeat(np.arange(3), 100)                      # 100 pixels of each class
model_a = truth3.copy()
for k in range(3):
    model_a[100 * k:100 * k + 45] = (k + 1) % 3            # 45 of each class -> the next class
model_b = truth3.copy()
model_b[100:180], model_b[200:280] = 2, 1                  # classes 1 and 2 swap 80 pixels each way
for name, m in [("A", model_a), ("B", model_b)]:
    print(f"model {name}: Dice {np.round(metrics.dice(m, truth3, 3), 3)}, mean Dice "
          f"{metrics.mean_dice(m, truth3, 3):.3f}, mIoU {metrics.mean_iou(m, truth3, 3):.3f}")
assert np.allclose(metrics.dice(model_a, truth3, 3), 0.55) and np.allclose(metrics.dice(model_b, truth3, 3), [1, 0.2, 0.2])
assert np.isclose(metrics.mean_dice(model_b, truth3, 3), 1.4 / 3)                  # mean Dice: A 0.55 > B 0.467
assert np.isclose(metrics.mean_iou(model_a, truth3, 3), 0.55 / 1.45)               # mIoU: A 0.379 ...
assert np.isclose(metrics.mean_iou(model_b, truth3, 3), (1 + 2 * 0.2 / 1.8) / 3)   # ... < B 0.407
assert metrics.mean_dice(model_a, truth3, 3) > metrics.mean_dice(model_b, truth3, 3)
assert metrics.mean_iou(model_a, truth3, 3) < metrics.mean_iou(model_b, truth3, 3)  # the ranking flips

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
# ## Scoring a data set
#
# Real benchmarks add three complications.
#
# **Void pixels.** PASCAL VOC marks object borders and unclear regions with the label 255:
# "void", scored for nobody. `ignore_index=255` leaves every pixel whose *target* is 255
# out of every count, whatever was predicted there. Without it the metrics refuse the
# label 255 (it is not a class).
#
# **A class absent from an image.** If class $k$ is neither in the target nor in the
# prediction, its IoU is $0/0$: undefined, so `metrics` returns **NaN** and the means skip
# it (`np.nanmean`). A 0 would punish a correct "nothing here"; a 1 would hand out a free
# perfect score for every class an image lacks. (Predicting a class the image lacks is a
# real error: IoU $0/|P| = 0$.)

# %%
VOID = 255
t_img = np.zeros((8, 8), np.int64)
t_img[2:5, 2:5] = 1                                      # classes 0 and 1; class 2 absent
t_img[0] = VOID                                          # a void row
p_img = np.where(t_img == VOID, 2, t_img)                # right everywhere; "2" on the void row
print("IoU per class, void ignored:", metrics.iou(p_img, t_img, 3, ignore_index=VOID))
assert np.allclose(metrics.iou(p_img, t_img, 3, ignore_index=VOID)[:2], 1)
assert np.isnan(metrics.iou(p_img, t_img, 3, ignore_index=VOID)[2])    # absent: NaN, not 0 or 1
assert metrics.mean_iou(p_img, t_img, 3, ignore_index=VOID) == 1.0     # the mean skips it
p_fp = p_img.copy()
p_fp[7, 7] = 2                                           # one pixel of the absent class predicted
assert metrics.iou(p_fp, t_img, 3, ignore_index=VOID)[2] == 0          # 0 / 1: a real error
try:
    metrics.iou(p_img, t_img, 3)                         # 255 is not one of the 3 classes
    raise AssertionError("void labels must be refused without ignore_index")
except ValueError as err:
    print("without ignore_index:", str(err)[:90], "...")

# %% [markdown]
# **Per image, or over the data set?** One can average each image's mIoU over the
# images, or — as PASCAL VOC and Cityscapes do — **accumulate one confusion matrix** over
# all pixels of all images and compute the IoUs from it once. They can rank two models
# differently. A constructed case, two $20 \times 20$ images: image 1 holds a large object
# (200 pixels), image 2 a tiny one (4 pixels). Model X is perfect on image 1 and misses
# the tiny object. Model Y misses 40 pixels of the large object and finds the tiny one.
# Per image, X's miss costs half of image 2's mIoU; pooled, the 4 pixels barely count.

# %%
truth_set = np.zeros((2, 20, 20), np.int64)
truth_set[0, :10] = 1                                    # 200 object pixels
truth_set[1, 9:11, 9:11] = 1                             # 4 object pixels
model_x = truth_set.copy()
model_x[1] = 0                                           # misses the tiny object
model_y = truth_set.copy()
model_y[0, 8:10] = 0                                     # misses 40 pixels of the large one


def per_image_miou(pred, truth):
    return np.mean([metrics.mean_iou(p, t, 2) for p, t in zip(pred, truth)])


def dataset_miou(pred, truth):
    cm = sum(mf.backend.to_numpy(metrics.confusion_matrix(p, t, 2)) for p, t in zip(pred, truth))
    assert np.array_equal(cm, mf.backend.to_numpy(metrics.confusion_matrix(pred, truth, 2)))
    tp = np.diag(cm)
    return np.mean(tp / (cm.sum(axis=0) + cm.sum(axis=1) - tp))


for name, m in [("X", model_x), ("Y", model_y)]:
    print(f"model {name}: per-image mean mIoU {per_image_miou(m, truth_set):.3f}, "
          f"dataset-level mIoU {dataset_miou(m, truth_set):.3f}")
assert np.isclose(per_image_miou(model_x, truth_set), (1 + (396 / 400 + 0) / 2) / 2)          # 0.747
assert np.isclose(per_image_miou(model_y, truth_set), ((200 / 240 + 160 / 200) / 2 + 1) / 2)  # 0.908
assert np.isclose(dataset_miou(model_x, truth_set), (596 / 600 + 200 / 204) / 2)              # 0.987
assert np.isclose(dataset_miou(model_y, truth_set), (596 / 636 + 164 / 204) / 2)              # 0.870
assert per_image_miou(model_y, truth_set) > per_image_miou(model_x, truth_set)   # per image: Y wins
assert dataset_miou(model_x, truth_set) > dataset_miou(model_y, truth_set)       # pooled: X wins

# %% [markdown]
# Neither is wrong; they answer different questions (how good on a typical image, how
# good on the pixels overall). Say which one you report.
#
# ### FCN's four metrics
#
# Long, Shelhamer & Darrell (2015, section 5) report four numbers, all read off the
# accumulated confusion matrix. With $n_{ij}$ the pixels of class $i$ predicted $j$,
# $t_i = \sum_j n_{ij}$ the pixels of class $i$, and $n_{cl}$ the number of classes:
#
# - pixel accuracy $\sum_i n_{ii} / \sum_i t_i$;
# - mean accuracy $\frac{1}{n_{cl}} \sum_i n_{ii} / t_i$;
# - mean IU $\frac{1}{n_{cl}} \sum_i n_{ii} / (t_i + \sum_j n_{ji} - n_{ii})$;
# - frequency-weighted IU $(\sum_k t_k)^{-1} \sum_i t_i\, n_{ii} / (t_i + \sum_j n_{ji} - n_{ii})$.
#
# We compute them from `metrics.confusion_matrix`, accumulated over a small random data
# set with void pixels, and check them against a plain loop over every pixel.

# %%
data_rng = np.random.default_rng(seed(1))
truth_d = data_rng.choice(3, size=(3, 12, 12), p=[0.6, 0.3, 0.1])
truth_d[:, :, :2] = VOID                                  # a void strip in every image
pred_d = np.where(data_rng.random(truth_d.shape) < 0.25, data_rng.integers(0, 3, truth_d.shape), truth_d)
pred_d[truth_d == VOID] = data_rng.integers(0, 3, int((truth_d == VOID).sum()))   # anything on void

n = sum(mf.backend.to_numpy(metrics.confusion_matrix(p, t, 3, ignore_index=VOID)) for p, t in zip(pred_d, truth_d))
t_i, tp, iu = n.sum(axis=1), np.diag(n), np.diag(n) / (n.sum(axis=1) + n.sum(axis=0) - np.diag(n))
fcn = {"pixel accuracy": tp.sum() / t_i.sum(), "mean accuracy": np.mean(tp / t_i),
       "mean IU": np.mean(iu), "frequency-weighted IU": (t_i * iu).sum() / t_i.sum()}

count = {"pixels": 0, "right": 0}                        # the witness: one pixel at a time
true_k, pred_k, right_k = [0] * 3, [0] * 3, [0] * 3
for p, t in zip(pred_d.ravel().tolist(), truth_d.ravel().tolist()):
    if t == VOID:
        continue
    count["pixels"] += 1
    true_k[t] += 1
    pred_k[p] += 1
    if p == t:
        count["right"] += 1
        right_k[t] += 1
loop_iu = [right_k[k] / (true_k[k] + pred_k[k] - right_k[k]) for k in range(3)]
loop = {"pixel accuracy": count["right"] / count["pixels"],
        "mean accuracy": sum(right_k[k] / true_k[k] for k in range(3)) / 3,
        "mean IU": sum(loop_iu) / 3,
        "frequency-weighted IU": sum(true_k[k] * loop_iu[k] for k in range(3)) / count["pixels"]}
for name in fcn:
    print(f"{name:22s} from the matrix {fcn[name]:.4f}, by the loop {loop[name]:.4f}")
    assert np.isclose(fcn[name], loop[name])
assert np.isclose(metrics.pixel_accuracy(pred_d, truth_d, ignore_index=VOID), loop["pixel accuracy"])
assert np.isclose(metrics.mean_iou(pred_d, truth_d, 3, ignore_index=VOID), loop["mean IU"])

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
# One stray pixel can make this huge, so one usually reports **HD95**, a 95th percentile
# instead of the maximum — in one of two conventions that give different numbers:
# MONAI (`compute_hausdorff_distance(..., percentile=95)`) takes the 95th percentile of
# **each direction's** distances, then the larger; MedPy's `hd95` **pools** both
# directions' distances into one list and takes its 95th percentile. `minifcn.metrics`
# uses MONAI's per-direction convention; below we compute both by brute force.
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


def boundary_distances(p, t):
    """d(a, T) for every a on ∂P, and d(b, P) for every b on ∂T: all pairwise distances."""
    bp, bt = np.argwhere(boundary(p)), np.argwhere(boundary(t))
    dist = np.sqrt(((bp[:, None, :] - bt[None, :, :]) ** 2).sum(axis=2))   # (|∂P|, |∂T|)
    return dist.min(axis=1), dist.min(axis=0)


def hausdorff_by_hand(p, t, q=100):                     # per direction, then the larger (MONAI)
    return max(np.percentile(d, q) for d in boundary_distances(p, t))


def hd95_pooled(p, t):                                  # both directions pooled (MedPy)
    return np.percentile(np.concatenate(boundary_distances(p, t)), 95)


for name, p in PREDS.items():
    hd, hd95 = hausdorff_by_hand(p, truth), hausdorff_by_hand(p, truth, 95)
    print(f"{name:20s} by hand: HD {hd:6.2f}  HD95 per direction (MONAI) {hd95:6.2f}, "
          f"pooled (MedPy) {hd95_pooled(p, truth):6.2f}")
    assert np.isclose(hd, scores[name][1]) and np.isclose(hd95, scores[name][2])   # minifcn = MONAI's

# They disagree when the far error is just over 5 % of one direction's distances but under
# 5 % of the pooled list: the exact disc plus a 2 x 2 blob far away (4 of 68 boundary pixels).
pred_d = truth.copy()
pred_d[6:8, 50:52] = True
monai_d = metrics.hausdorff_distance(pred_d, truth, percentile=95)
print(f"disc + 2x2 blob: HD95 minifcn (MONAI) {monai_d:.2f} px, pooled (MedPy) {hd95_pooled(pred_d, truth):.2f} px")
assert np.isclose(monai_d, hausdorff_by_hand(pred_d, truth, 95)) and monai_d > 10
assert hd95_pooled(pred_d, truth) < 1                  # pooled, the blob falls under the 95th percentile

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
h_pt, h_tp = (d.max() for d in boundary_distances(pred_b, truth))   # h(∂P, ∂T), h(∂T, ∂P)
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
assert np.isclose(dist_map[boundary(pred_b)].max(), scores["B: far blob"][1])   # = minifcn's HD of B

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

# %% [markdown]
# ## Summary
#
# - **Pixel accuracy** is dominated by the majority class: predicting all background on
#   an image with 10 % foreground scores 0.9 — with Dice 0 on the object.
# - **Dice** $= 2|P \cap T| / (|P| + |T|)$ and **IoU** $= |P \cap T| / |P \cup T|$ score
#   each class by overlap, ignoring true negatives; $\text{IoU} = \text{DSC}/(2 - \text{DSC})$,
#   so for one class they rank predictions identically and IoU is never larger — but
#   **means** over classes (or images) can rank two models differently.
# - On a data set: void pixels are left out (`ignore_index`), a class absent from an
#   image scores NaN (skipped by the means), and per-image mean mIoU and dataset-level
#   mIoU (one accumulated confusion matrix) can disagree; FCN's four metrics (pixel
#   accuracy, mean accuracy, mean IU, frequency-weighted IU) all come from that matrix.
# - **Hausdorff distance** measures the worst boundary error; **HD95** ignores the worst
#   5 % and so a few stray pixels — per direction (MONAI, minifcn) or pooled (MedPy): say
#   which. Report an overlap score *and* a boundary score.

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
