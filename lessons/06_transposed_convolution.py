# %% [markdown]
# # Lesson 6 — Transposed convolution
#
# **This lesson covers:** "transposed convolution = multiplication by $C^\top$"; 1-D and
# 2-D convolution matrices; "a learnable upsampling: each input stamps the kernel" (d2l's
# $2 \times 2$ example); "deconvolution" is a misnomer: not an inverse; checkerboard
# artefacts and resize-convolution; bilinear upsampling as a fixed kernel (FCN).
#
# Unpooling (lesson 5) enlarges a feature map by a fixed rule. A **transposed
# convolution** enlarges it with a rule the network *learns*: it has a kernel, like a
# convolution, and its weights are trained with everything else. FCN, U-Net and most
# encoder–decoders use it to come back up to full resolution.
#
# Its name comes from linear algebra: a convolution with a fixed kernel is a matrix $C$,
# $y = C x$, and the transposed convolution multiplies by $C^\top$. We build that matrix
# (1-D, then 2-D) and check it against `F.conv2d` and `F.conv_transpose2d`; then see what
# $C^\top$ does to a picture: stamps that overlap and add, **not** an inverse,
# **checkerboards**, and with the right kernel exactly **bilinear upsampling**.

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup, seed, claim
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("06_transposed_convolution")
plt = pyplot()

# %% [markdown]
# Our ops work on batches of images $(N, C, H, W)$; a 1-D signal of length $n$ is an image
# of shape $(1, 1, 1, n)$, and a 1-D kernel is a $1 \times k$ kernel. Two tiny helpers move
# arrays in and out, and one (`minifcn.plotting.draw_numbers`) draws a matrix with
# its numbers written in the cells.

# %%
def on_device(a):
    """A NumPy array as a float32 tensor on DEVICE."""
    return mf.tensor(np.asarray(a, np.float32), device=DEVICE)


def signal(v):
    """A 1-D sequence as a (1, 1, 1, n) image."""
    return on_device(np.asarray(v, np.float32).reshape(1, 1, 1, -1))


from minifcn.plotting import draw_numbers   # a matrix with its numbers in the cells

# %% [markdown]
# ## 1. A 1-D convolution is a matrix
#
# A convolution layer (really a cross-correlation) slides the kernel $w$ over the input:
#
# $$y_r = \sum_{j=0}^{k-1} w_j \, x_{r s + j}$$
#
# for stride $s$ and no padding. Each output $y_r$ is a weighted sum of inputs, so
# $y = C x$ where **row $r$ of $C$ holds the kernel, starting at column $r s$**. For
# $w = [1, 2, 3]$ and an input of length 4 (stride 1) there are two positions:
#
# $$C = \begin{pmatrix} 1 & 2 & 3 & 0 \\ 0 & 1 & 2 & 3 \end{pmatrix}.$$
#
# `mf.conv_matrix_1d` builds $C$ from that index rule; we compare it to the matrix typed
# in above, and $C x$ to the convolution computed by `F.conv2d` and by NumPy's own
# `np.correlate`.

# %%
C1 = mf.conv_matrix_1d([1, 2, 3], 4)
print("C =\n", C1)
assert (C1 == [[1, 2, 3, 0],
               [0, 1, 2, 3]]).all()

x1 = np.array([1.0, -1.0, 2.0, 0.5])
by_matrix = C1 @ x1
by_conv = F.conv2d(signal(x1), signal([1, 2, 3])).numpy().ravel()
print("C @ x =", by_matrix, "  conv2d(x) =", by_conv, "  np.correlate =", np.correlate(x1, [1, 2, 3]))
assert np.allclose(by_matrix, by_conv) and np.allclose(by_matrix, np.correlate(x1, [1, 2, 3], "valid"))

# %% [markdown]
# ## 2. Its transpose upsamples
#
# $C$ is $2 \times 4$: it takes 4 numbers to 2. Its transpose $C^\top$ is $4 \times 2$:
# it takes **2 numbers to 4** — an upsampling, with the same kernel. That product is what
# `F.conv_transpose2d` computes, with the *same* weight array and the same stride.
#
# A stride makes the effect bigger. With stride 2, kernel $[x, y, z]$ and an input of
# length 5, $C$ is $2 \times 5$ and $C^\top$ turns $[a, b]$ into 5 numbers:
#
# $$C^\top \begin{pmatrix} a \\ b \end{pmatrix}
#   = \begin{pmatrix} x & 0 \\ y & 0 \\ z & x \\ 0 & y \\ 0 & z \end{pmatrix}
#     \begin{pmatrix} a \\ b \end{pmatrix}
#   = \begin{pmatrix} a x \\ a y \\ a z + b x \\ b y \\ b z \end{pmatrix}.$$
#
# Read it column by column: **each input value stamps a scaled copy of the kernel into
# the output, stride 2 apart, and where two stamps overlap they add** ($az + bx$). With
# $w = [1, 10, 100]$ and $[a, b] = [2, 3]$ the digits show which terms meet:
# $[2, 20, 200 + 3, 30, 300]$.

# %%
w = [1, 10, 100]
C2 = mf.conv_matrix_1d(w, 5, stride=2)
print("C (stride 2) =\n", C2)
assert (C2 == [[1, 10, 100, 0, 0],
               [0, 0, 1, 10, 100]]).all()

ab = np.array([2.0, 3.0])
up_matrix = C2.T @ ab
up_op = F.conv_transpose2d(signal(ab), signal(w), stride=2).numpy().ravel()
print("C.T @ [2, 3] =", up_matrix, "  conv_transpose2d =", up_op)
assert (up_matrix == [2, 20, 203, 30, 300]).all()
assert np.allclose(up_op, up_matrix)

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), gridspec_kw={"width_ratios": [5, 2.2, 1.2]})
draw_numbers(axes[0], C2, "C: conv, kernel [1, 10, 100], stride 2\n(5 inputs → 2 outputs)")
draw_numbers(axes[1], C2.T, "Cᵀ: transposed conv\n(2 inputs → 5 outputs)")
draw_numbers(axes[2], up_matrix[:, None], "Cᵀ [2, 3]\n(overlap: 200 + 3)", cmap="Oranges", fontsize=9)
fig.tight_layout()
fig.savefig(FIGURES / "conv_matrix_1d.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## 3. In 2-D: flatten the image
#
# A 2-D image is flattened row by row into a vector (`x.ravel()`), and the output too.
# Then the convolution is again $y = C x$: row $(o, o_h, o_w)$ of $C$ holds the kernel of
# output channel $o$, placed where the window of output pixel $(o_h, o_w)$ sits in the
# flattened input:
#
# $$C_{(o,\,o_h,\,o_w),\ (c,\,h,\,w)} = W_{o,\,c,\,i,\,j}
#   \quad\text{for } h = o_h S_H - P_H + i D_H,\ \ w = o_w S_W - P_W + j D_W,$$
#
# zero elsewhere (taps in the zero padding drop out). `mf.conv_matrix(weight,
# input_size, stride, padding, dilation)` builds it from this index rule alone, without
# calling any convolution. The classic picture: a $3 \times 3$ kernel on a $4 \times 4$
# input gives a $2 \times 2$ output, so $C$ is $4 \times 16$.

# %%
K = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)        # kernel 1..9, easy to spot
C = mf.conv_matrix(K, 4)
print("C has shape", C.shape, "; each row is the kernel laid over the flattened 4x4 input:")
print(C.astype(int))
assert C.shape == (4, 16)

# %% [markdown]
# Now the claims, for a convolution with several channels, a stride, padding and
# dilation, against the real ops:
#
# - $C\,x$ (flattened) equals `F.conv2d(x)` ($C$ comes from the index rule alone, so it
#   is a witness that shares no code with the op);
# - $C^\top y$ equals `F.conv_transpose2d(y)` with the same weight, stride, padding and
#   dilation, and the `output_padding` that picks the input size back (a strided
#   convolution maps several input sizes to one output size; lesson 7 has the rule).

# %%
rng = np.random.default_rng(seed(0))
for (H, W), s, p, d in [((4, 4), 1, 0, 1), ((5, 6), 2, 1, 1), ((7, 6), 2, 2, 2)]:
    weight = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)      # C_out = 2, C_in = 3
    x = rng.standard_normal((3, H, W)).astype(np.float32)
    C = mf.conv_matrix(weight, (H, W), stride=s, padding=p, dilation=d)

    y_op = F.conv2d(on_device(x[None]), on_device(weight), stride=s, padding=p, dilation=d).numpy()[0]
    y_mat = (C @ x.ravel()).reshape(y_op.shape)

    g = rng.standard_normal(y_op.shape).astype(np.float32)            # something to send back
    a = tuple(n - arith.conv_transpose_output_size(o, 3, s, p, 0, d) for n, o in zip((H, W), y_op.shape[1:]))
    xt_op = F.conv_transpose2d(on_device(g[None]), on_device(weight), stride=s, padding=p,
                               output_padding=a, dilation=d).numpy()[0]
    xt_mat = (C.T @ g.ravel()).reshape(x.shape)
    print(f"input {H}x{W}, s={s}, p={p}, d={d}: C is {C.shape[0]}x{C.shape[1]}, output_padding={a}; "
          f"|Cx - conv2d| = {np.abs(y_mat - y_op).max():.1e}, "
          f"|Cᵀy - conv_transpose2d| = {np.abs(xt_mat - xt_op).max():.1e}")
    assert np.allclose(y_mat, y_op, atol=1e-4)
    assert np.allclose(xt_mat, xt_op, atol=1e-4)

# (`F.conv2d_simple` and `F.conv_transpose2d_simple` in `minifcn/functional/conv.py` are
# the same two products in a few lines each: im2col and a matrix product, and back.)

# %% [markdown]
# ## 4. Stamps, and where they overlap
#
# Reading $C^\top$ column by column gives the picture to keep in mind: **every input pixel
# $x_{h,w}$ adds a copy of the kernel, scaled by $x_{h,w}$, with its corner at
# $(h S_H, w S_W)$ of the output**:
#
# $$y \mathrel{+}= x_{h,w} \cdot W \ \text{ on the block starting at } (h S_H,\ w S_W).$$
#
# Our independent check does exactly that with NumPy, one input pixel at a time. First
# **d2l's example** (*Dive into Deep Learning*, "Transposed convolution"): input and
# kernel both $\begin{smallmatrix}0&1\\2&3\end{smallmatrix}$, stride 1, so the four
# $2 \times 2$ stamps overlap on a $3 \times 3$ output; d2l prints the result.

# %%
def stamp_by_hand(x, w, s):
    """Σ over input pixels of x[h, w] · kernel, placed at (h·s, w·s): transposed conv without padding."""
    k = w.shape[0]
    out = np.zeros(((x.shape[0] - 1) * s + k, (x.shape[1] - 1) * s + k))
    for (h, c), v in np.ndenumerate(x):
        out[h * s:h * s + k, c * s:c * s + k] += v * w
    return out


def tconv(x, w, **kw):
    """conv_transpose2d of one 2-D plane with one 2-D kernel."""
    return F.conv_transpose2d(on_device(x[None, None]), on_device(w[None, None]), **kw).numpy()[0, 0]


X2 = np.array([[0, 1], [2, 3]], np.float32)
d2l = tconv(X2, X2)
print("d2l's example, stride 1:\n", d2l)
assert np.array_equal(stamp_by_hand(X2, X2, 1), [[0, 0, 1], [0, 4, 6], [4, 12, 9]])   # d2l's printed result
assert np.array_equal(d2l, stamp_by_hand(X2, X2, 1))

# %% [markdown]
# **Kernel 2, stride 2**: the stamps tile the output without overlap, so a $2 \times 2$
# input becomes $4 \times 4$ — the Kronecker product $x \otimes W$. With a kernel of ones
# this is nearest-neighbour unpooling, with a one in the corner it is bed of nails
# (lesson 5): both are transposed convolutions with a fixed kernel.

# %%
x = np.array([[1, 2],
              [3, 4]], np.float32)
W2 = np.array([[1, 2],
               [3, 4]], np.float32)

y22 = tconv(x, W2, stride=2)
print(y22)
assert (y22 == np.kron(x, W2)).all()
x4 = on_device(x[None, None])
assert (tconv(x, np.ones((2, 2), np.float32), stride=2) == F.unpool_nearest(x4).numpy()[0, 0]).all()
assert (tconv(x, np.float32([[1, 0], [0, 0]]), stride=2) == F.unpool_bed_of_nails(x4).numpy()[0, 0]).all()

# %% [markdown]
# **Kernel 3, stride 2**: the stamps are 3 wide but only 2 apart, so neighbouring stamps
# share a row or column, and the middle pixel gets a share of all four.

# %%
W3 = np.ones((3, 3), np.float32)
y33 = tconv(x, W3, stride=2)
print(y33, "\nthe centre gets all four stamps: x.sum() =", x.sum())
assert y33.shape == (arith.conv_transpose_output_size(2, 3, 2),) * 2 == (5, 5)
assert (y33 == stamp_by_hand(x, W3, 2)).all()

# %%
fig, axes = plt.subplots(2, 6, figsize=(18, 7.6))
for row, (w, y, k) in enumerate([(W2, y22, 2), (W3, y33, 3)]):
    draw_numbers(axes[row, 0], x, "input 2x2", cmap="Oranges")
    n = y.shape[0]
    for idx, ((h, c), v) in enumerate(np.ndenumerate(x)):
        stamp = np.zeros((n, n))
        stamp[2 * h:2 * h + k, 2 * c:2 * c + k] = v * w
        draw_numbers(axes[row, idx + 1], stamp, f"stamp of x[{h},{c}] = {v:g}\nat ({2 * h}, {2 * c})",
                     vmax=(x.max() * w).max())
    axes[row, 0].set_ylabel(f"kernel {k}, stride 2", fontsize=12)
draw_numbers(axes[0, 5], y22, "sum of the 4 stamps\n(no overlap: = x ⊗ kernel)", cmap="Greens")
draw_numbers(axes[1, 5], y33, "sum of the 4 stamps\n(shared rows/columns add up)", cmap="Greens")
fig.suptitle("transposed convolution: each input pixel stamps a scaled kernel, stride apart; overlaps add")
fig.tight_layout(rect=(0, 0, 1, 0.95), h_pad=3)
fig.savefig(FIGURES / "stamps_and_overlap.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## 5. "Deconvolution" is a misnomer: it is not an inverse
#
# Some papers and layer names call the transposed convolution a *deconvolution*, which in
# signal processing means *undoing* a convolution. But it undoes a convolution's **shape**,
# not its **values**: $C$ maps 16 numbers to 4, so it throws information away, and
# $C^\top C$ is a $16 \times 16$ matrix of rank at most 4 — not the identity. So
#
# $$\mathrm{conv}^\top(\mathrm{conv}(x)) = C^\top C\, x \neq x.$$
#
# We take a $4 \times 4$ image of digits and a $3 \times 3$ averaging kernel (all
# $\tfrac19$). The convolution averages each $3 \times 3$ window; the transposed
# convolution hands each average back to the 9 pixels it came from, again weighted by
# $\tfrac19$. What comes back is a faint blur, not the digits.

# %%
x = rng.integers(1, 10, size=(4, 4)).astype(np.float32)
k = np.full((3, 3), 1 / 9, np.float32)
y = F.conv2d(on_device(x[None, None]), on_device(k[None, None])).numpy()[0, 0]
back = tconv(y, k)
C = mf.conv_matrix(k[None, None], 4)
rank = np.linalg.matrix_rank(C.T @ C)
print(f"x {x.shape} -> conv {y.shape} -> conv_T {back.shape}: same shape as x")
print(f"largest |conv_T(conv(x)) - x| = {np.abs(back - x).max():.3f};  rank of CᵀC = {rank} (of 16)")
assert back.shape == x.shape
assert not np.allclose(back, x, atol=1e-2)
assert rank == np.linalg.matrix_rank(C) == 4       # CᵀC keeps all that C keeps: 4 directions

# %% [markdown]
# No matrix at all could undo the convolution, not just $C^\top$ — which is why
# "transposed", not "deconvolution", is the accurate name. The 12 directions that
# $C$ loses (its **null space**, here from the SVD of $C$) are images $z \neq 0$ with
# $\mathrm{conv}(z) = 0$. Then $x$ and $x + z$ are different images with the same
# convolution, and nothing that sees only $\mathrm{conv}(x)$ can tell them apart.

# %%
_, singular, vt = np.linalg.svd(C)
z = 3 * vt[-1].reshape(4, 4)                           # a direction C sends to zero
y_other = F.conv2d(on_device((x + z)[None, None].astype(np.float32)), on_device(k[None, None])).numpy()[0, 0]
print(f"null space dimension {16 - (singular > 1e-6).sum()};  |x + z - x| = {np.abs(z).max():.2f}, "
      f"|conv(x + z) - conv(x)| = {np.abs(y_other - y).max():.1e}")
assert 16 - (singular > 1e-6).sum() == 12
assert np.abs(z).max() > 0.5 and np.allclose(y_other, y, atol=1e-5)

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1, 2]})
for ax, img, title in [(axes[0], x, "x (4x4)"), (axes[1], y, "conv(x), kernel 1/9 (2x2)"),
                       (axes[2], back, "conv_T(conv(x)) (4x4)\nthe shape is back, the values are not")]:
    draw_numbers(ax, img, title, cmap="Purples", fmt="{:.2g}", vmax=9)
fig.tight_layout()
fig.savefig(FIGURES / "not_an_inverse.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## 6. Checkerboard artefacts
#
# When the kernel size is not a multiple of the stride, the stamps overlap **unevenly**:
# with kernel 3 and stride 2, every other output row gets two stamps and the others one.
# So even a perfectly flat input, through a flat kernel, comes out as a **checkerboard**
# (Odena, Dumoulin & Olah, *Deconvolution and Checkerboard Artifacts*, 2016).
#
# Along one axis, output position $o$ is covered by the input positions $i$ with
# $0 \le o - s i < k$; with an input of ones and a kernel of ones the output is exactly
# that count along $H$ times that count along $W$. Kernel 4 with stride 2 covers every
# interior position exactly twice, so with a kernel of ones its interior is flat.

# %%
def coverage(n, k, s, p=0):
    """For each output position of a transposed conv (n inputs, kernel k, stride s, padding p),
    how many input positions i stamp onto it: 0 <= o + p - s·i < k."""
    o = np.arange((n - 1) * s + k - 2 * p)[:, None]         # output positions, as a column
    tap = o + p - s * np.arange(n)[None, :]                 # which kernel tap input i puts there
    return ((tap >= 0) & (tap < k)).sum(axis=1)


n = 8
flat = np.ones((n, n), np.float32)
checker = tconv(flat, np.ones((3, 3), np.float32), stride=2)
even = tconv(flat, np.ones((4, 4), np.float32), stride=2, padding=1)
print("kernel 3, stride 2, middle row:", checker[n].astype(int))
print("kernel 4, stride 2, middle row:", even[n].astype(int))
cov3, cov4 = coverage(n, 3, 2), coverage(n, 4, 2, p=1)
assert (checker == np.outer(cov3, cov3)).all()
assert set(np.unique(checker[1:-1, 1:-1])) == {1, 2, 4}          # a checkerboard of 1s, 2s and 4s
assert (even == np.outer(cov4, cov4)).all()
assert (even[1:-1, 1:-1] == 4).all()                             # even overlap: flat inside

# %% [markdown]
# Even overlap is only half of Odena, Dumoulin & Olah's story. It gives every output pixel
# the same *number* of stamps, not the same *weights*: with stride 2, output pixels of
# different phase ($o \bmod 2$ along each axis) are made by different taps of the kernel,
# so a flat input comes out as the kernel's four **phase sums** $\sum_{a \equiv (o+p)
# \bmod 2,\ b \equiv (o'+p) \bmod 2} W_{a,b}$, repeated in a $2 \times 2$ pattern. They
# are equal for a kernel of ones or the bilinear kernel below — not for weights a network
# has learned (here a random kernel stands in for them). In the paper's words: "while this
# approach helps, it is still easy for deconvolution to fall into creating artifacts".
# Their fix is the **resize-convolution**: upsample by a fixed rule (nearest or bilinear),
# *then* an ordinary stride-1 convolution; whatever its weights, a flat input comes out
# flat away from the border (every output is $\sum W$). `UNet(upsample="bilinear")` is
# built that way; lesson 4 measures the checkerboard of trained layers of both kinds.

# %%
w4 = np.random.default_rng(seed(1)).standard_normal((4, 4)).astype(np.float32)   # stands in for learned weights
learned = tconv(flat, w4, stride=2, padding=1)
oh, ow = np.mgrid[:2 * n, :2 * n]
phase_sums = np.array([[w4[a::2, b::2].sum() for b in (0, 1)] for a in (0, 1)])
assert np.allclose(learned[1:-1, 1:-1], phase_sums[(oh + 1) % 2, (ow + 1) % 2][1:-1, 1:-1], atol=1e-5)
w3 = np.random.default_rng(seed(2)).standard_normal((3, 3)).astype(np.float32)
resized = F.interpolate(on_device(flat[None, None]), scale_factor=2, mode="bilinear", align_corners=False)
resize_conv = F.conv2d(resized, on_device(w3[None, None]), padding=1).numpy()[0, 0]
assert np.allclose(resize_conv[1:-1, 1:-1], w3.sum(), atol=1e-5)            # flat inside, any weights
print("kernel 4, stride 2, random weights: interior takes the 4 phase sums", np.round(phase_sums.ravel(), 2))
claim("random-kernel-4-checkerboard", np.ptp(learned[1:-1, 1:-1]), ">", 0.1,
      note="max - min of the interior of a flat input through a random 4x4 kernel, stride 2")

# %%
fig, axes = plt.subplots(1, 4, figsize=(17, 4.4))
for ax, img, title in [(axes[0], checker, "kernel 3 (ones), stride 2\nuneven overlap → checkerboard"),
                       (axes[1], even, "kernel 4 (ones), stride 2, padding 1\neven overlap → flat inside"),
                       (axes[2], learned, "kernel 4 (random weights), stride 2\neven overlap, still a checkerboard"),
                       (axes[3], resize_conv, "bilinear resize, then 3x3 conv\n(random weights): flat inside")]:
    im = ax.imshow(img, cmap="magma")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046)
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
fig.savefig(FIGURES / "checkerboard.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## 7. Bilinear initialisation
#
# A learned upsampling has to start somewhere. FCN (Long, Shelhamer & Darrell, 2015) used
# **bilinear interpolation** in two ways: "Final layer deconvolutional filters are fixed to
# bilinear interpolation, while intermediate upsampling layers are initialized to bilinear
# upsampling, and then learned." So FCN's last, large upsampling back to the image is a
# *fixed* bilinear one; only the $2\times$ upsamplings inside FCN-16s and FCN-8s start at
# bilinear and then train (lesson 4 compares the two fairly). The kernel, for a factor $s$:
# size $K = 2s - s \bmod 2$, its taps a tent in each direction,
#
# $$W_{a,b} = \Big(1 - \tfrac{|a - c|}{s}\Big)\Big(1 - \tfrac{|b - c|}{s}\Big),
#   \qquad c = \tfrac{K - 1}{2},$$
#
# used with stride $s$ and padding $\lfloor s/2 \rfloor$. Every output pixel then mixes
# its (at most $2 \times 2$) nearest inputs with the bilinear weights. For $s = 2$ the
# tent is $[\tfrac14, \tfrac34, \tfrac34, \tfrac14]$, and stride 2 lays the tents at even
# overlap, so there is no checkerboard. `F.bilinear_kernel(C, C, s)` makes this weight,
# channel $c$ feeding only channel $c$.

# %%
kernel2 = F.bilinear_kernel(1, 1, 2)[0, 0]
print(kernel2)
assert np.allclose(kernel2, np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]))

# %% [markdown]
# The claim: this transposed convolution **equals bilinear interpolation in the interior**
# (`F.interpolate(mode="bilinear", align_corners=False)`). At the border they differ:
# interpolation clamps to the edge pixel, the transposed convolution sees zero padding
# there. Output pixel $o$ samples the input at $(o + \tfrac12)/s - \tfrac12$, which is
# left of the first pixel for the first $\lfloor s/2 \rfloor$ outputs (and likewise at
# the other end), so that is the border we leave out.
#
# As an independent witness we also interpolate with NumPy's 1-D `np.interp` along rows,
# then along columns.

# %%
def bilinear_numpy(img, s):
    """Bilinear upsampling by s (align_corners=False) of one (H, W) plane, with np.interp per axis."""
    def along_rows(a):
        src = (np.arange(a.shape[0] * s) + 0.5) / s - 0.5
        return np.stack([np.interp(src, np.arange(a.shape[0]), col) for col in a.T], axis=1)
    return along_rows(along_rows(img).T).T


hh, ww = np.mgrid[:10, :12]
image = np.stack([np.sin(hh / 2.0) * np.cos(ww / 3.0), (hh + ww) / 20.0, ((hh - 5) ** 2 + (ww - 6) ** 2 < 12)])
image = image.astype(np.float32)                                   # 3 channels, 10x12
ups = {}
for s in (2, 3, 4):
    b = s // 2
    weight = F.bilinear_kernel(3, 3, s)
    up_t = F.conv_transpose2d(on_device(image[None]), on_device(weight), stride=s, padding=s // 2).numpy()[0]
    up_i = F.interpolate(on_device(image[None]), scale_factor=s, mode="bilinear", align_corners=False).numpy()[0]
    up_np = np.stack([bilinear_numpy(c, s) for c in image])
    inner = (slice(None), slice(b, -b), slice(b, -b))
    print(f"s={s}: kernel {weight.shape[2]}x{weight.shape[3]}, output {up_t.shape}; interior "
          f"|conv_T - interpolate| = {np.abs(up_t - up_i)[inner].max():.1e}, "
          f"|conv_T - np.interp| = {np.abs(up_t - up_np)[inner].max():.1e}; "
          f"border |conv_T - interpolate| up to {np.abs(up_t - up_i).max():.2f}")
    assert up_t.shape == up_i.shape == (3, 10 * s, 12 * s)
    assert np.allclose(up_t[inner], up_i[inner], atol=1e-5)
    assert np.allclose(up_t[inner], up_np[inner], atol=1e-5)
    assert np.allclose(up_i, up_np, atol=1e-5)                     # interpolate is bilinear everywhere
    ups[s] = up_t, up_i

# %% [markdown]
# In a network this is the starting point of a learnable layer: `nn.ConvTranspose2d`
# with kernel $2s - s \bmod 2$, stride $s$, padding $\lfloor s/2 \rfloor$, initialised by
# `nn.init.bilinear_`. Training may then move its weights away from plain bilinear.

# %%
layer = nn.ConvTranspose2d(3, 3, kernel_size=4, stride=2, padding=1, bias=False).to(DEVICE)
nn.init.bilinear_(layer.weight)
with mf.no_grad():
    up_layer = layer(on_device(image[None])).numpy()[0]
expected = np.stack([bilinear_numpy(c, 2) for c in image])
print("nn.ConvTranspose2d with bilinear_ init: output", up_layer.shape, "; interior |layer - np.interp| =",
      f"{np.abs(up_layer - expected)[:, 1:-1, 1:-1].max():.1e}")
assert np.allclose(up_layer[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-5)

# %%
up_t, up_i = ups[2]
fig, axes = plt.subplots(1, 5, figsize=(17, 4.4), gridspec_kw={"width_ratios": [1, 1, 1.6, 1.6, 1.6]})
draw_numbers(axes[0], kernel2, "bilinear kernel, s = 2", fontsize=8, fmt="{:.3g}")
axes[1].imshow(image[0], cmap="viridis")
axes[1].set_title("input 10x12 (channel 0)")
axes[2].imshow(up_t[0], cmap="viridis")
axes[2].set_title("conv_transpose2d, bilinear kernel\nstride 2, padding 1 → 20x24")
axes[3].imshow(up_i[0], cmap="viridis")
axes[3].set_title('interpolate(mode="bilinear")')
diff = np.abs(up_t[0] - up_i[0])
im = axes[4].imshow(diff, cmap="Reds")
axes[4].set_title("|difference|: zero inside,\nonly the 1-pixel border differs")
fig.colorbar(im, ax=axes[4], fraction=0.046)
for ax in axes[1:]:
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
fig.savefig(FIGURES / "bilinear_init.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Summary
#
# - A convolution with a fixed kernel is a matrix $C$ (`mf.conv_matrix`); `F.conv2d` is
#   $C x$ and `F.conv_transpose2d` is $C^\top y$ — hence the name.
# - $C^\top$ maps the small size back to the large one: each input pixel **stamps** a
#   scaled kernel into the output, stride apart, and overlapping stamps **add**.
# - It restores the shape, **not** the values: $C^\top C x \neq x$, and no operation can
#   undo a convolution that sends some $z \neq 0$ to 0 — "deconvolution" is a misnomer.
# - Kernel sizes that the stride does not divide overlap unevenly and draw
#   **checkerboards**; kernel $2s$ with stride $s$ overlaps evenly, but learned weights
#   still draw them (unequal phase sums). Resize-convolution avoids them for any weights.
# - With the **bilinear** kernel (size $2s - s \bmod 2$), a transposed convolution is
#   bilinear upsampling away from the border: FCN's fixed final upsampling, and the
#   starting point of its learned intermediate ones.

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: what does `tconv(X2, X2, stride=2)` give for d2l's example?
#    (Four stamps that no longer overlap: write down the $4 \times 4$ result first.)
# 2. *Predict*, then run: in the "not an inverse" cell use a $2 \times 2$ kernel on the
#    $4 \times 4$ image. What are the output size, the rank of $C$ and the null-space
#    dimension? (Change `k` and the two asserted numbers 4 and 12 to your prediction.)
#    *Exercise* `conv_matrix` builds $C$ yourself: check your rank with `np.linalg.matrix_rank`.
# 3. Predict which kernel sizes give a flat interior with stride 3, then print
#    `coverage(8, k, 3)` for k = 3, 4, 5, 6 (from the checkerboard section). *Exercise*
#    `conv_transpose2d` writes the stamping (through `col2im`) yourself.

# %%
print("lesson 06 done: all assertions and claims hold")

# %% [markdown]
# **Exercises**: write `conv_matrix`, `conv_transpose2d`, `bilinear_kernel`
# yourself: `minifcn exercises init DIR`, then `minifcn exercises check DIR` (see the Exercises page).
