# %% [markdown]
# # Lesson 11 — Autoencoders: compress, then denoise
#
# **This lesson covers:** autoencoder $g(f(x)) \approx x$; the bottleneck and its
# compression ratio (a trained 16-fold bottleneck against PCA and block averages of the
# same size); denoising autoencoders; corruption by noise or masking.
#
# An **autoencoder** is an encoder–decoder network trained to give back its own input:
#
# $$x \;\xrightarrow{\text{encoder } f}\; z = f(x) \;\xrightarrow{\text{decoder } g}\;
#   \hat x = g(z), \qquad \text{loss} = \lVert \hat x - x \rVert^2 .$$
#
# That sounds pointless — the identity map solves it — unless the network is *stopped*
# from copying. Two classic ways:
#
# 1. a **bottleneck**: the code $z$ holds fewer numbers than $x$, so the network must
#    *compress*: keep what matters, drop the rest;
# 2. **denoising** (Vincent et al., 2008): feed a *corrupted* $\tilde x$ and ask for the
#    clean $x$, $\;\text{loss} = \lVert g(f(\tilde x)) - x \rVert^2$. Copying the input now
#    copies the noise too; to do better the network must learn what clean images look like.
#
# The same encoder–decoder shape is the skeleton of every segmentation network in this
# course; here its target is an image instead of a label map.

# %%
import numpy as np
import minifcn as mf
from minifcn import functional as F, nn, arith, metrics
from minifcn.lesson import lesson_setup
from minifcn.plotting import pyplot
DEVICE, FIGURES = lesson_setup("11_autoencoders")
plt = pyplot()

from minifcn import optim
from minifcn.data import SyntheticShapes
from minifcn.models import DenoisingAutoencoder

# %% [markdown]
# ## The network and its bottleneck
#
# `DenoisingAutoencoder(in_channels, base_channels, depth, latent_channels)`: the encoder
# is `depth` stride-2 $3 \times 3$ convolutions (each halves the sides) and a $1 \times 1$
# convolution down to `latent_channels`; the decoder mirrors it with stride-2 transposed
# convolutions and ends in a sigmoid (images live in $[0, 1]$). For a $C \times H \times W$
# input the code is $L \times \frac{H}{2^d} \times \frac{W}{2^d}$, so the
# **compression ratio** is
#
# $$\frac{C H W}{L \cdot \frac{H}{2^d} \cdot \frac{W}{2^d}} = \frac{C \cdot 4^d}{L}.$$

# %%
SIZE, BASE, DEPTH, LATENT, NOISE, SEED = 32, 8, 2, 8, 0.3, 0
nn.init.manual_seed(SEED)                     # the same initial weights every run
model = DenoisingAutoencoder(in_channels=1, base_channels=BASE, depth=DEPTH, latent_channels=LATENT,
                             corruption="gaussian", noise=NOISE).to(DEVICE)
print(nn.summary(model, (1, 1, SIZE, SIZE), device=DEVICE))

with mf.no_grad():
    code = model.encode(mf.tensor(np.zeros((1, 1, SIZE, SIZE), np.float32), device=DEVICE))
ratio = model.compression_ratio((1, SIZE, SIZE))
print(f"input 1 x {SIZE} x {SIZE} = {SIZE * SIZE} numbers; code {code.shape[1:]} = {code.data.size} numbers; "
      f"compression ratio {ratio}")
assert ratio == 1 * 4 ** DEPTH / LATENT == SIZE * SIZE / code.data.size == 2.0

# %% [markdown]
# The ratio grows by 4 with every extra level and shrinks with more code channels. A few
# settings, each checked against the code a real encoder produces:

# %%
print(" depth  latent  code shape     ratio")
for depth in (1, 2, 3):
    for latent in (2, 8, 32):
        ae = DenoisingAutoencoder(1, 4, depth, latent)
        with mf.no_grad():
            z = ae.encode(mf.tensor(np.zeros((1, 1, SIZE, SIZE), np.float32)))
        r = ae.compression_ratio((1, SIZE, SIZE))
        print(f"{depth:6d}  {latent:6d}  {str(z.shape[1:]):13s}  {r:6.2f}")
        assert r == 4 ** depth / latent == SIZE * SIZE / z.data.size

# %% [markdown]
# ## The images
#
# The synthetic shapes of the earlier lessons, in grey and without noise: 128 for
# training, 16 others (another seed) for testing. Flat regions with sharp edges: exactly
# what a blur gets wrong. The clean images lie in $[0, 1]$.

# %%
train_clean, _ = SyntheticShapes(128, image_size=SIZE, seed=0, noise=0.0, channels=1).arrays()
test_clean, _ = SyntheticShapes(16, image_size=SIZE, seed=1, noise=0.0, channels=1).arrays()
SOURCE = "synthetic shapes"
train_clean = np.ascontiguousarray(train_clean, np.float32)
test_clean = np.ascontiguousarray(test_clean, np.float32)
print(f"images: {SOURCE}; train {train_clean.shape}, test {test_clean.shape}")
assert 0 <= train_clean.min() and train_clean.max() <= 1

# %% [markdown]
# ## Corruption
#
# `model.corrupt(x, rng)` adds Gaussian noise of standard deviation $\sigma = 0.3$ and
# clips to $[0, 1]$ (with `corruption="mask"` it would instead zero each pixel with
# probability `noise`). We measure everything by the **mean squared error** against the
# clean image, $\text{MSE}(a) = \frac{1}{NHW}\sum (a - x)^2$. Doing nothing — returning
# the noisy image — is the bar to beat; without clipping its MSE would be $\sigma^2 = 0.09$,
# clipping makes it a little smaller. The test images get one fixed corruption, so every
# method below is scored on the same noisy pictures.

# %%
def mse(a, clean: np.ndarray) -> float:
    """Mean squared error of a Tensor (any device) against clean host images."""
    return float(np.mean((a.numpy() - clean) ** 2))


test_x = mf.tensor(test_clean, device=DEVICE)
test_noisy = model.corrupt(test_x, np.random.default_rng(1234))
noisy_mse = mse(test_noisy, test_clean)
print(f"MSE of the noisy test images: {noisy_mse:.4f}  (sigma^2 = {NOISE ** 2:.2f})")
assert 0 < noisy_mse < NOISE ** 2

# %% [markdown]
# The other corruption the lecture names is **masking**: each pixel is set to 0 with
# probability $q$ (`corruption="mask"`, `noise=q`), and the network must fill the holes
# from the neighbours. We check what it does to the test images: about a fraction $q$ of
# the pixels become 0, the others are untouched. (We train on Gaussian noise below.)

# %%
MASK_Q = 0.25
masker = DenoisingAutoencoder(1, BASE, DEPTH, LATENT, corruption="mask", noise=MASK_Q)
masked = masker.corrupt(mf.tensor(test_clean), np.random.default_rng(5)).numpy()
hit = (masked == 0) & (test_clean > 0)                  # pixels that were zeroed by the mask
print(f"masking with q = {MASK_Q}: {hit.sum() / (test_clean > 0).sum():.3f} of the nonzero pixels zeroed")
assert abs(hit.sum() / (test_clean > 0).sum() - MASK_Q) < 0.02
assert np.array_equal(masked[~hit], test_clean[~hit])   # the rest untouched

# %% [markdown]
# ## Train to denoise
#
# Every step draws a mini-batch of clean images, corrupts them with *fresh* noise (so the
# network never sees the same noisy picture twice), and asks for the clean ones back:
# $\text{loss} = \text{MSE}(g(f(\tilde x)), x)$, minimised with Adam. Many small batches
# work better here than few big ones: at first the network only reproduces a blurred,
# low-resolution version of the image, and it takes a number of steps to learn to put the
# edges back.

# %%
STEPS, BATCH, LR = 120, 8, 0.01
opt = optim.Adam(model.parameters(), lr=LR)
rng = np.random.default_rng(SEED)
losses = []
for step in range(STEPS):
    clean = mf.tensor(train_clean[rng.choice(len(train_clean), BATCH, replace=False)], device=DEVICE)
    loss = F.mse_loss(model(model.corrupt(clean, rng)), clean)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(float(loss.numpy()))
print(f"training loss {losses[0]:.4f} -> {losses[-1]:.4f}")

# %% [markdown]
# ## Did it learn to denoise?
#
# On the held-out test images: the denoised error must be below the noisy error.

# %%
model.eval()
with mf.no_grad():
    test_denoised = model(test_noisy)
denoised_mse = mse(test_denoised, test_clean)
print(f"test MSE: noisy {noisy_mse:.4f}, denoised {denoised_mse:.4f} "
      f"({noisy_mse / denoised_mse:.1f}x smaller)")
assert denoised_mse < noisy_mse                      # denoised error below noisy error
assert denoised_mse < 0.5 * noisy_mse                # ... and by a clear margin

# %% [markdown]
# A reality check: the simplest denoiser is a **box blur**, each pixel replaced by the mean
# of its $b \times b$ neighbourhood (`F.avg_pool2d` with stride 1 and padding $b // 2$;
# `count_include_pad=False` averages only the pixels inside the image). It removes much of
# the noise too, but smears every edge. To be fair to the blur we give it every advantage:
# we try $b = 3, 5, 7$ and keep the one that is best **on the test images themselves**.
# And to see that the comparison is not luck of one noise draw, we score both on three
# independent corruptions of the test set (`NOISE_DRAWS`; the network was trained once,
# from `SEED`).

# %%
BLUR_SIZES, NOISE_DRAWS = [3, 5, 7], [1234, 1, 2]
rows_ = []
for draw in NOISE_DRAWS:
    noisy = model.corrupt(test_x, np.random.default_rng(draw))
    with mf.no_grad():
        ae = mse(model(noisy), test_clean)
    blurs = [mse(F.avg_pool2d(noisy, b, stride=1, padding=b // 2, count_include_pad=False), test_clean)
             for b in BLUR_SIZES]
    rows_.append((mse(noisy, test_clean), min(blurs), BLUR_SIZES[int(np.argmin(blurs))], ae))
    print(f"noise draw {draw:4d}: MSE noisy {rows_[-1][0]:.4f}, best blur {rows_[-1][1]:.4f} "
          f"(b = {rows_[-1][2]}), autoencoder {ae:.4f}")
blur_mse = np.array([r[1] for r in rows_])
ae_mse = np.array([r[3] for r in rows_])
print(f"autoencoder / best blur: {np.round(ae_mse / blur_mse, 3)} (spread over {len(NOISE_DRAWS)} draws)")
assert (ae_mse < 0.9 * blur_mse).all()        # beats the best blur by 10 %+, on every draw

# %% [markdown]
# The best blur is the $5 \times 5$ one, and the network beats it by only about 15 %
# (the ratios above): after 120 short steps its outputs are still soft at the edges (look
# at the pictures below). Nobody told the network about flat regions and edges: trained
# only on (noisy, clean) pairs, it found out by itself what to keep and what to throw
# away — but a blur is a strong baseline, and the honest margin is modest.

# %%
SHOW = 6
rows = [("clean", test_clean), ("noisy", test_noisy.numpy()), ("denoised", test_denoised.numpy())]
fig, axes = plt.subplots(3, SHOW, figsize=(1.8 * SHOW, 5.8))
for i, (name, images) in enumerate(rows):
    for j in range(SHOW):
        axes[i, j].imshow(images[j, 0], cmap="gray", vmin=0, vmax=1)
        axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
    axes[i, 0].set_ylabel(name)
fig.suptitle(f"{SOURCE}: test MSE noisy {noisy_mse:.4f}, denoised {denoised_mse:.4f}")
fig.tight_layout()
fig.savefig(FIGURES / "denoising.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## What is in the code?
#
# The bottleneck of one test image: 8 maps of $8 \times 8$, half as many numbers as the
# image (blue negative, red positive). The decoder rebuilds the whole picture from these
# alone.

# %%
with mf.no_grad():
    z = model.encode(test_noisy).numpy()
fig, axes = plt.subplots(1, LATENT + 1, figsize=(1.5 * (LATENT + 1), 1.9))
axes[0].imshow(test_clean[0, 0], cmap="gray", vmin=0, vmax=1)
axes[0].set_title("image", fontsize=8)
for k in range(LATENT):
    axes[k + 1].imshow(z[0, k], cmap="coolwarm", vmin=-np.abs(z[0]).max(), vmax=np.abs(z[0]).max())
    axes[k + 1].set_title(f"code {k}", fontsize=8)
for ax in axes:
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
fig.savefig(FIGURES / "code.png", dpi=100)
plt.close(fig)
assert z.shape == (len(test_clean), LATENT, SIZE // 2 ** DEPTH, SIZE // 2 ** DEPTH)

# %% [markdown]
# ## A real bottleneck: compress 16 times
#
# The denoiser above had a compression ratio of only 2: its code was half the size of the
# image, so it hardly *had* to compress. Now the lecture's other use: a plain autoencoder
# (no corruption, $\text{loss} = \text{MSE}(g(f(x)), x)$) whose code is **16 times smaller**
# than the image — `depth = 2`, `latent_channels = 1`: a $32 \times 32$ image (1024
# numbers) goes through a $1 \times 8 \times 8$ code (64 numbers).
#
# Is 64 numbers good? We compare with three baselines that get the same 64 numbers per
# image, all computed independently with NumPy:
#
# - the **mean image** of the training set (0 numbers per image: the bar any model must clear);
# - **block averages**: the mean of each $4 \times 4$ block ($8 \times 8 = 64$ numbers),
#   each block then filled with its mean;
# - **PCA**: the 64 leading principal components of the training images (from an SVD of
#   the centred training matrix), the best any *linear* 64-number code can do in squared
#   error on the training set.
#
# The autoencoder is trained from `BOTTLENECK_SEEDS` = three seeds (initial weights and
# batch order), 120 Adam steps of 8 images each, like the denoiser.

# %%
B_DEPTH, B_LATENT, B_STEPS, BOTTLENECK_SEEDS = 2, 1, 120, (0, 1, 2)
code_size = SIZE * SIZE * B_LATENT // 4 ** B_DEPTH                 # 64 numbers per image
flat_train, flat_test = train_clean.reshape(len(train_clean), -1), test_clean.reshape(len(test_clean), -1)
mean_image = flat_train.mean(axis=0)
_, _, Vt = np.linalg.svd((flat_train - mean_image).astype(np.float64), full_matrices=False)
pca_rec = (flat_test - mean_image) @ Vt[:code_size].T @ Vt[:code_size] + mean_image
block = int(np.sqrt(SIZE * SIZE / code_size))                         # 4: 4x4 blocks -> 8x8 = 64 means
means = test_clean.reshape(len(test_clean), 1, SIZE // block, block, SIZE // block, block).mean(axis=(3, 5))
block_rec = np.repeat(np.repeat(means, block, axis=2), block, axis=3)
baselines = {"mean image": float(np.mean((mean_image - flat_test) ** 2)),
             f"{block}x{block} block averages": float(np.mean((block_rec - test_clean) ** 2)),
             f"PCA, {code_size} components": float(np.mean((pca_rec - flat_test) ** 2))}

bottleneck_mse, bottleneck_recs = [], None
for seed in BOTTLENECK_SEEDS:
    nn.init.manual_seed(seed)
    squeezer = DenoisingAutoencoder(1, BASE, B_DEPTH, B_LATENT).to(DEVICE)
    assert squeezer.compression_ratio((1, SIZE, SIZE)) == 4 ** B_DEPTH / B_LATENT == SIZE * SIZE / code_size
    opt = optim.Adam(squeezer.parameters(), lr=LR)
    rng = np.random.default_rng(seed)
    for step in range(B_STEPS):
        clean = mf.tensor(train_clean[rng.choice(len(train_clean), BATCH, replace=False)], device=DEVICE)
        loss = F.mse_loss(squeezer(clean), clean)                    # no corruption: x -> x
        opt.zero_grad()
        loss.backward()
        opt.step()
    squeezer.eval()
    with mf.no_grad():
        rec = squeezer(test_x)
    bottleneck_mse.append(mse(rec, test_clean))
    bottleneck_recs = rec.numpy() if bottleneck_recs is None else bottleneck_recs
bottleneck_mse = np.array(bottleneck_mse)
for name, value in baselines.items():
    print(f"test MSE, {name:24s}: {value:.4f}")
print(f"autoencoder (ratio 16), seeds {BOTTLENECK_SEEDS}: {np.round(bottleneck_mse, 4)}, "
      f"mean {bottleneck_mse.mean():.4f}, spread (max - min) {np.ptp(bottleneck_mse):.4f}")
assert (bottleneck_mse < baselines["mean image"] / 3).all()           # far better than no code, every seed
assert bottleneck_mse.mean() < min(baselines[f"{block}x{block} block averages"],
                                   baselines[f"PCA, {code_size} components"])   # on average, beats both

# %% [markdown]
# Through a 16-fold bottleneck the autoencoder reconstructs the test images several times
# better than the mean image on **every** seed, and **on average** it beats both 64-number
# baselines, block averages and even PCA, by some 10–20 %. But look at the spread: the
# worst seed only ties the block averages, so "beats PCA" is a claim about the mean of
# three short trainings, not about each one. (It is a *nonlinear* code: PCA is the best
# linear one, and a short training is just enough to pass it.)

# %%
fig, axes = plt.subplots(3, SHOW, figsize=(1.8 * SHOW, 5.8))
for i, (name, images) in enumerate([("clean", test_clean), (f"{block}x{block} blocks", block_rec),
                                    ("autoencoder", bottleneck_recs)]):
    for j in range(SHOW):
        axes[i, j].imshow(images[j, 0], cmap="gray", vmin=0, vmax=1)
        axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
    axes[i, 0].set_ylabel(name)
fig.suptitle(f"64 numbers per image (ratio 16): test MSE blocks "
             f"{baselines[f'{block}x{block} block averages']:.4f}, autoencoder {bottleneck_mse[0]:.4f}")
fig.tight_layout()
fig.savefig(FIGURES / "bottleneck.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Try it
#
# 1. *Predict*, then run: set `NOISE = 0.1`. Will the autoencoder's advantage over the
#    best blur grow or shrink? (With less noise, how much does a blur gain, and how much
#    does it cost at the edges?)
# 2. Set `LATENT = 2` (compression ratio 8): predict the test MSE before you run. Does
#    it still beat the blur?
# 3. Change `SEED`: the network starts from other weights and sees other batches. Does
#    the 10 % margin hold?
# 4. In the bottleneck section set `B_LATENT = 4` (ratio 4, 256 numbers per image; PCA
#    and the block averages get 256 too, $2 \times 2$ blocks). Predict which of the three
#    gains most from the larger code, and whether `bottleneck_mse.mean() < min(...)` holds.

# %% [markdown]
# ## What to remember
#
# - An autoencoder learns $g(f(x)) \approx x$; a bottleneck (compression ratio
#   $C \cdot 4^d / L$ here) or a corrupted input keeps it from learning the identity.
# - A **denoising** autoencoder is trained on pairs (corrupted, clean) with an MSE loss,
#   fresh corruption every step; on images it never saw, its output is much closer to the
#   clean image than the noisy input was.
# - Through a 16-fold bottleneck (64 numbers for a 32×32 image) a briefly trained
#   autoencoder reconstructs several times better than the mean image on every seed,
#   and on average beats block averages and PCA with the same 64 numbers.
