"""Every model: output shapes for several input sizes, and a real (tiny) learning test."""
import numpy as np
import pytest

import minifcn as mf
from minifcn import functional as F, nn, optim
from minifcn.data import SyntheticShapes
from minifcn.models import (FCN, DeepLabV3Plus, DenoisingAutoencoder, KeypointNet, SegNet, UNet,
                            decode_heatmaps, render_heatmaps)


def zeros(*shape, device="cpu"):
    return mf.tensor(np.zeros(shape, np.float32), device=device)


@pytest.mark.parametrize("size", [16, 32, 48])
def test_unet_same_keeps_the_size(size):
    nn.init.manual_seed(0)
    model = UNet(3, 4, base_channels=4, depth=2)
    assert model(zeros(2, 3, size, size)).shape == (2, 4, size, size)


def test_unet_valid_matches_the_paper_arithmetic():
    # Ronneberger et al.: each level loses 4 pixels to two 3x3 convs; 572 -> 388 at depth 4.
    assert UNet(1, 2, base_channels=1, depth=4, padding="valid").output_size(572) == 388
    nn.init.manual_seed(0)
    model = UNet(1, 3, base_channels=2, depth=2, padding="valid")
    for size in (44, 60):   # (44-4)/2=20, (20-4)/2=8, 8-4=4, 2*4-4=4, 2*4-4=4 ; 60 -> 20
        expected = ((((size - 4) // 2 - 4) // 2 - 4) * 2 - 4) * 2 - 4
        assert model(zeros(1, 1, size, size)).shape == (1, 3, expected, expected)
        assert model.output_size(size) == expected


def test_unet_rejects_sizes_it_cannot_pool():
    model = UNet(3, 2, base_channels=2, depth=3)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*3 = 8"):
        model(zeros(1, 3, 20, 20))
    with pytest.raises(ValueError, match="padding='valid'"):
        UNet(3, 2, base_channels=2, depth=2, padding="valid")(zeros(1, 3, 30, 30))
    with pytest.raises(ValueError, match="padding='full'"):
        UNet(padding="full")


def test_unet_bilinear_and_no_skip_variants():
    nn.init.manual_seed(0)
    assert UNet(1, 2, 4, 2, upsample="bilinear")(zeros(1, 1, 16, 16)).shape == (1, 2, 16, 16)
    with_skip = sum(p.size for p in UNet(1, 2, 4, 2).parameters())
    without = sum(p.size for p in UNet(1, 2, 4, 2, skip=False).parameters())
    assert without < with_skip   # the decoder convs see half the channels without skips


def test_named_parameters_follow_pytorch_naming():
    names = [n for n, _ in UNet(3, 2, base_channels=4, depth=2).named_parameters()]
    assert "down.0.conv1.weight" in names and "head.bias" in names


@pytest.mark.parametrize("size", [32, 64])
def test_fcn_variants(size):
    nn.init.manual_seed(0)
    for variant in ("32s", "16s", "8s"):
        assert FCN(3, 5, base_channels=2, variant=variant)(zeros(1, 3, size, size)).shape == (1, 5, size, size)


def test_fcn_upsamplers_start_bilinear():
    w = FCN(3, 2, base_channels=2).up_final.weight.numpy()   # x8: kernel 16
    assert w.shape == (2, 2, 16, 16)
    assert np.all(w[0, 1] == 0) and np.all(w[1, 0] == 0)    # channels kept apart
    f = (16 + 1) // 2
    centre = f - 0.5  # even kernel: the centre lies between two taps
    one_d = 1 - np.abs(np.arange(16) - centre) / f
    np.testing.assert_allclose(w[0, 0], np.outer(one_d, one_d), rtol=1e-6)


@pytest.mark.parametrize("size", [16, 32])
def test_segnet_shapes(size):
    nn.init.manual_seed(0)
    assert SegNet(3, 4, base_channels=4, depth=3)(zeros(2, 3, size, size)).shape == (2, 4, size, size)


@pytest.mark.parametrize("size", [16, 40])
def test_deeplab_shapes(size):
    nn.init.manual_seed(0)
    assert DeepLabV3Plus(3, 3, base_channels=4)(zeros(2, 3, size, size)).shape == (2, 3, size, size)


def test_deeplab_backbone_is_depthwise_separable():
    model = DeepLabV3Plus(3, 2, base_channels=4)
    assert model.mid.depthwise.groups == model.mid.depthwise.in_channels
    assert model.atrous[1].depthwise.dilation == (4, 4)


def test_autoencoder_shapes_and_compression():
    nn.init.manual_seed(0)
    model = DenoisingAutoencoder(1, base_channels=4, depth=2, latent_channels=2)
    assert model(zeros(3, 1, 16, 16)).shape == (3, 1, 16, 16)
    assert model.encode(zeros(3, 1, 16, 16)).shape == (3, 2, 4, 4)
    assert model.compression_ratio((1, 16, 16)) == 256 / 32


def test_autoencoder_corruption():
    model = DenoisingAutoencoder(1, corruption="mask", noise=0.5)
    x = mf.tensor(np.ones((1, 1, 64, 64), np.float32))
    zeroed = (model.corrupt(x, np.random.default_rng(0)).numpy() == 0).mean()
    assert 0.45 < zeroed < 0.55


def test_keypoint_heatmaps_round_trip():
    kp = np.array([[[3.0, 5.0], [10.0, 2.0]]])
    maps = render_heatmaps(kp, 16, sigma=1.5)
    assert maps.shape == (1, 2, 16, 16) and maps.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(decode_heatmaps(maps), kp.astype(int))
    assert KeypointNet(3, 2, base_channels=4, depth=2)(zeros(1, 3, 16, 16)).shape == (1, 2, 16, 16)


def _fit(model, x, target, loss_fn, steps, lr=1e-2):
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", ["unet", "fcn", "segnet", "deeplab"])
def test_models_learn_a_fixed_tiny_batch(name, device):
    """On one fixed batch the loss must fall to a third of its start within 30 Adam steps."""
    nn.init.manual_seed(0)
    x_np, y_np = SyntheticShapes(2, image_size=32, num_classes=2, channels=1, seed=1).arrays()
    model = {"unet": lambda: UNet(1, 2, base_channels=4, depth=2),
             "fcn": lambda: FCN(1, 2, base_channels=4, variant="8s"),
             "segnet": lambda: SegNet(1, 2, base_channels=4, depth=2),
             "deeplab": lambda: DeepLabV3Plus(1, 2, base_channels=4)}[name]().to(device)
    x, y = mf.tensor(x_np, device=device), mf.backend.to_device(y_np, device)
    losses = _fit(model, x, y, F.cross_entropy, steps=30)
    print(name, losses[0], losses[-1])
    assert losses[-1] < losses[0] / 3


def test_autoencoder_learns_to_denoise():
    rng = np.random.default_rng(0)
    nn.init.manual_seed(0)
    clean = np.zeros((4, 1, 16, 16), np.float32)
    clean[:, :, 4:12, 4:12] = 1.0
    model = DenoisingAutoencoder(1, base_channels=4, depth=2, latent_channels=4)
    noisy = model.corrupt(mf.tensor(clean), rng)
    losses = _fit(model, noisy, mf.tensor(clean), F.mse_loss, steps=60)
    assert losses[-1] < losses[0] / 3
