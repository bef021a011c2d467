# %% [markdown]
# # Lesson 11 — Autoencoders: compress, then denoise
#
# **This lesson covers:** autoencoder $g(f(x)) \approx x$; the bottleneck and its
# compression ratio (a trained 16-fold bottleneck against PCA and block averages of the
# same size); denoising autoencoders against the best blur; corruption by noise or by
# masking, both trained.
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
from minifcn.lesson import lesson_setup, seed, claim
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
SIZE, BASE, DEPTH, LATENT, NOISE = 32, 8, 2, 8, 0.3
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
train_clean, _ = SyntheticShapes(128, image_size=SIZE, seed=seed(0), noise=0.0, channels=1).arrays()
test_clean, _ = SyntheticShapes(16, image_size=SIZE, seed=seed(1), noise=0.0, channels=1).arrays()
SOURCE = "synthetic shapes"
train_clean = np.ascontiguousarray(train_clean, np.float32)
test_clean = np.ascontiguousarray(test_clean, np.float32)
print(f"images: {SOURCE}; train {train_clean.shape}, test {test_clean.shape}")
assert 0 <= train_clean.min() and train_clean.max() <= 1

# %% [markdown]
# ## Corruption
#
# `model.corrupt(x, rng)` adds Gaussian noise of standard deviation $\sigma = 0.3$ and
# clips to $[0, 1]$; with `corruption="mask"` it instead zeroes each pixel with
# probability `noise` (**masking**, the lecture's other corruption: the network must fill
# the holes from the neighbours). We measure everything by the **mean squared error**
# against the clean image, $\text{MSE}(a) = \frac{1}{NHW}\sum (a - x)^2$. Doing nothing —
# returning the corrupted image — is the bar to beat; without clipping its MSE would be
# $\sigma^2 = 0.09$, clipping makes it a little smaller.

# %%
def mse(a, clean: np.ndarray) -> float:
    """Mean squared error of a Tensor (any device) against clean host images."""
    return float(np.mean((a.numpy() - clean) ** 2))


test_x = mf.tensor(test_clean, device=DEVICE)
test_noisy = model.corrupt(test_x, np.random.default_rng(seed(1234)))
noisy_mse = mse(test_noisy, test_clean)
print(f"MSE of the noisy test images: {noisy_mse:.4f}  (sigma^2 = {NOISE ** 2:.2f})")
assert 0 < noisy_mse < NOISE ** 2                      # clipping can only bring a value closer

MASK_Q = 0.25
masker = DenoisingAutoencoder(1, BASE, DEPTH, LATENT, corruption="mask", noise=MASK_Q)
masked = masker.corrupt(mf.tensor(test_clean), np.random.default_rng(seed(5))).numpy()
hit = (masked == 0) & (test_clean > 0)                  # pixels that were zeroed by the mask
print(f"masking with q = {MASK_Q}: {hit.sum() / (test_clean > 0).sum():.3f} of the nonzero pixels zeroed")
claim("mask share", abs(hit.sum() / (test_clean > 0).sum() - MASK_Q), "<", 0.02, "|share zeroed - q|")
assert np.array_equal(masked[~hit], test_clean[~hit])   # the rest untouched

# %% [markdown]
# ## Train to denoise
#
# Every step draws a mini-batch of clean images, corrupts them with *fresh* noise (so the
# network never sees the same noisy picture twice), and asks for the clean ones back:
# $\text{loss} = \text{MSE}(g(f(\tilde x)), x)$, minimised with Adam. A **run seed** sets
# the initial weights, the batches and the noise; we train from five run seeds, and score
# each network on its own corruption of the test images (`seed(1234 + s)`), so five
# independent draws of everything.

# %%
STEPS, MASK_STEPS, BATCH, LR = 180, 120, 8, 0.01
RUN_SEEDS = [seed(s) for s in range(5)]


def train_denoiser(corruption: str, q: float, run_seed: int, steps: int = STEPS) -> DenoisingAutoencoder:
    nn.init.manual_seed(run_seed)
    net = DenoisingAutoencoder(1, BASE, DEPTH, LATENT, corruption=corruption, noise=q).to(DEVICE)
    opt = optim.Adam(net.parameters(), lr=LR)
    rng = np.random.default_rng(run_seed)
    for step in range(steps):
        clean = mf.tensor(train_clean[rng.choice(len(train_clean), BATCH, replace=False)], device=DEVICE)
        loss = F.mse_loss(net(net.corrupt(clean, rng)), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def box_blur(x, b):
    """Each pixel the mean of its b x b neighbourhood inside the image."""
    return F.avg_pool2d(x, b, stride=1, padding=b // 2, count_include_pad=False)


denoisers = [train_denoiser("gaussian", NOISE, s) for s in RUN_SEEDS]
model = denoisers[0]
with mf.no_grad():
    test_denoised = model(test_noisy)
denoised_mse = mse(test_denoised, test_clean)

# %% [markdown]
# ## Did it learn to denoise? Against what?
#
# The denoised error must be below the noisy error. A tougher bar is the simplest
# denoiser, a **box blur**: each pixel replaced by the mean of its $b \times b$
# neighbourhood (`F.avg_pool2d` with stride 1 and padding $b // 2$;
# `count_include_pad=False` averages only the pixels inside the image). It removes much of
# the noise too, but smears every edge. To be fair to the blur we give it every
# advantage: we try $b = 3, 5, 7$ and keep the one that is best **on each test set
# itself**. Claims on the five paired draws (same noisy images for the network and the
# blur): the ratio MSE(network) / MSE(best blur), its mean with standard error, and the
# draws won.

# %%
BLUR_SIZES = [3, 5, 7]
table = []                                                     # (noisy, best blur, b, network)
for s, net in zip(RUN_SEEDS, denoisers):
    noisy = net.corrupt(test_x, np.random.default_rng(seed(1234) + s))
    with mf.no_grad():
        ae = mse(net(noisy), test_clean)
    blurs = [mse(box_blur(noisy, b), test_clean) for b in BLUR_SIZES]
    table.append((mse(noisy, test_clean), min(blurs), BLUR_SIZES[int(np.argmin(blurs))], ae))
    print(f"run seed {s:5d}: MSE noisy {table[-1][0]:.4f}, best blur {table[-1][1]:.4f} (b = {table[-1][2]}), "
          f"autoencoder {ae:.4f}")
noisy_m, blur_m, _, ae_m = (np.array(c) for c in zip(*table))
ratio = ae_m / blur_m
print(f"autoencoder / noisy: {np.round(ae_m / noisy_m, 3)}; autoencoder / best blur: {np.round(ratio, 3)}, "
      f"mean {ratio.mean():.3f} ± {ratio.std(ddof=1) / np.sqrt(len(ratio)):.3f}")
claim("denoiser halves the noise", int(np.sum(ae_m < 0.5 * noisy_m)), ">=", len(RUN_SEEDS),
      "draws where MSE(network) < half MSE(noisy)")
print(f"the network beats the best blur on {np.sum(ratio < 1)} of {len(RUN_SEEDS)} draws")
claim("denoiser / best blur, mean + 2SE", ratio.mean() + 2 * ratio.std(ddof=1) / np.sqrt(len(ratio)), "<", 1.0,
      "MSE ratio over the draws")

# %% [markdown]
# The network beats the best blur on average — the mean ratio is below 1 by more than two
# standard errors — but not by much, and not always: on an unlucky draw a network
# trained for 180 short steps only comes close to the blur (with 120 steps some draws
# lose to it, and the mean is no longer clearly below 1). Its outputs are still soft at the edges
# (look at the pictures below). Nobody told the network about flat regions and edges: trained only on (noisy,
# clean) pairs, it found out by itself what to keep and what to throw away — but a blur
# chosen on the test images is a strong baseline, and the honest margin is modest.

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
# ## Masking, trained
#
# Now the same network trained on the other corruption: each pixel zeroed with
# probability $q = 0.25$, fresh holes every step, the clean image as the target. The fair
# classic rival is **inpainting by normalised averaging**: fill each hole with the mean
# of the *unmasked* pixels of its $b \times b$ neighbourhood (the blur of the image
# divided by the blur of the mask), leave the other pixels alone. We even tell it where
# the holes are — the network has to guess (a zero can also be a dark pixel) — and again
# pick its best $b$ on the test images. Five run seeds, paired as before. As a third
# entry, the Gaussian-trained denoiser of above gets the same masked images: does the
# training corruption matter?

# %%
def inpaint(x, keep, b):
    """Holes (keep == 0) filled with the mean of the kept pixels of their b x b window."""
    with mf.no_grad():
        num = F.avg_pool2d(x * keep, b, stride=1, padding=b // 2).numpy()
        den = F.avg_pool2d(keep, b, stride=1, padding=b // 2).numpy()
    fill = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return mf.tensor(np.where(keep.numpy() > 0, x.numpy(), fill))


maskers = [train_denoiser("mask", MASK_Q, s, MASK_STEPS) for s in RUN_SEEDS]
mask_table = []                                         # (masked, best inpainting, masking net, Gaussian net)
for s, net, gauss in zip(RUN_SEEDS, maskers, denoisers):
    rng = np.random.default_rng(seed(2345) + s)
    keep = mf.tensor((rng.random(test_clean.shape) >= MASK_Q).astype(np.float32), device=DEVICE)
    holed = test_x * keep
    with mf.no_grad():
        out = net(holed)
        row = (mse(holed, test_clean), min(mse(inpaint(holed, keep, b), test_clean) for b in BLUR_SIZES),
               mse(out, test_clean), mse(gauss(holed), test_clean), mse(holed + out * (1 - keep), test_clean))
    mask_table.append(row)
    print(f"run seed {s:5d}: MSE masked {row[0]:.4f}, best inpainting {row[1]:.4f}, "
          f"masking-trained net {row[2]:.4f}, in the holes only {row[4]:.4f}, Gaussian-trained net {row[3]:.4f}")
holed_m, inpaint_m, masknet_m, gaussnet_m, holes_m = (np.array(c) for c in zip(*mask_table))
mratio = holes_m / inpaint_m
print(f"masking-trained net / masked input: {np.round(masknet_m / holed_m, 3)}; its holes-only MSE / best "
      f"inpainting: {np.round(mratio, 2)}, mean {mratio.mean():.2f} ± {mratio.std(ddof=1) / np.sqrt(len(mratio)):.2f}")
claim("masking net fills holes", int(np.sum(masknet_m < holed_m / 3)), ">=", len(RUN_SEEDS),
      "draws where MSE(network) < a third of MSE(masked input)")
claim("training corruption matters", int(np.sum(masknet_m < gaussnet_m)), ">=", len(RUN_SEEDS),
      "draws where the masking-trained net beats the Gaussian-trained one on masked images")
claim("inpainting beats the masking net", int(np.sum(inpaint_m < holes_m)), ">=", len(RUN_SEEDS),
      "draws where normalised averaging beats the net's output pasted into the holes")

# %% [markdown]
# Three answers. The masking-trained network does fill the holes: its error is a small
# fraction of the masked input's, on every draw. The training corruption matters: the
# Gaussian-trained denoiser, handed masked images, does several times worse than the one
# trained on masks, on every draw. But the classic rival **wins, on every draw** — even
# when we paste the network's output into the holes only, so that both use the same
# information. These images are flat regions with sharp edges: three quarters of the
# pixels survive, and the mean of a hole's surviving neighbours is nearly always right.
# The network's output also passes through its bottleneck and comes back soft. A null
# result for the network, stated as one: a learned inpainter earns its keep where local
# averaging fails (large holes, texture), not here.

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
# The autoencoder is trained from the five run seeds (initial weights and
# batch order), 120 Adam steps of 8 images each, like the masking denoiser.

# %%
B_DEPTH, B_LATENT, B_STEPS = 2, 1, 120
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
for s in RUN_SEEDS:
    nn.init.manual_seed(s)
    squeezer = DenoisingAutoencoder(1, BASE, B_DEPTH, B_LATENT).to(DEVICE)
    assert squeezer.compression_ratio((1, SIZE, SIZE)) == 4 ** B_DEPTH / B_LATENT == SIZE * SIZE / code_size
    opt = optim.Adam(squeezer.parameters(), lr=LR)
    rng = np.random.default_rng(s)
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
pca, blocks = baselines[f"PCA, {code_size} components"], baselines[f"{block}x{block} block averages"]
print(f"autoencoder (ratio 16), run seeds {RUN_SEEDS}: {np.round(bottleneck_mse, 4)}, mean "
      f"{bottleneck_mse.mean():.4f} ± {bottleneck_mse.std(ddof=1) / np.sqrt(len(RUN_SEEDS)):.4f}; "
      f"beats PCA on {np.sum(bottleneck_mse < pca)}, the block averages on {np.sum(bottleneck_mse < blocks)} "
      f"of {len(RUN_SEEDS)} seeds")
claim("bottleneck beats mean image / 3", int(np.sum(bottleneck_mse < baselines["mean image"] / 3)), ">=",
      len(RUN_SEEDS), "seeds")

# %% [markdown]
# Through a 16-fold bottleneck the autoencoder reconstructs the test images several times
# better than the mean image on **every** seed. Against the two 64-number baselines the
# honest answer is a **tie**: some seeds beat PCA and the block averages, some do not,
# and the mean over five seeds is within its standard error of PCA (the numbers above).
# A nonlinear code *could* beat PCA, the best linear one; 120 short steps are not enough
# to show that it does.

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
# 3. Set `MASK_Q = 0.6` (most pixels lost): predict which of inpainting and the
#    masking-trained network suffers more, and which claim fails first.
# 4. In the bottleneck section set `B_LATENT = 4` (ratio 4, 256 numbers per image; PCA
#    and the block averages get 256 too, $2 \times 2$ blocks). Predict which of the three
#    gains most from the larger code.

# %% [markdown]
# ## What to remember
#
# - An autoencoder learns $g(f(x)) \approx x$; a bottleneck (compression ratio
#   $C \cdot 4^d / L$ here) or a corrupted input keeps it from learning the identity.
# - A **denoising** autoencoder is trained on pairs (corrupted, clean) with an MSE loss,
#   fresh corruption every step; on images it never saw, its output is much closer to the
#   clean image than the noisy input was, and on average beats the best box blur (by a
#   modest margin; a single short training can tie it).
# - Trained on **masking** it learns to fill holes — and the training corruption matters —
#   but on flat shapes a classic normalised average of the surviving neighbours fills
#   small holes better. Compare with a fair classic rival before believing a network.
# - Through a 16-fold bottleneck (64 numbers for a 32×32 image) a briefly trained
#   autoencoder reconstructs several times better than the mean image on every seed, and
#   ties PCA and block averages with the same 64 numbers.
