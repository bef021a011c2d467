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


def _tent_kernel(k):
    """The bilinear (tent) kernel of even size k, from its formula: an independent witness."""
    f = (k + 1) // 2
    centre = f - 0.5  # even kernel: the centre lies between two taps
    one_d = 1 - np.abs(np.arange(k) - centre) / f
    return np.outer(one_d, one_d)


def test_fcn_upsamplers_start_bilinear():
    model = FCN(3, 2, base_channels=2)
    w = mf.backend.to_numpy(model.up_final.weight)           # x8: kernel 16, a fixed buffer
    assert w.shape == (2, 2, 16, 16)
    assert np.all(w[0, 1] == 0) and np.all(w[1, 0] == 0)    # channels kept apart
    np.testing.assert_allclose(w[0, 0], _tent_kernel(16), rtol=1e-6)
    for up in (model.up2_a, model.up2_b):                    # x2: kernel 4, learnable
        np.testing.assert_allclose(up.weight.numpy()[1, 1], _tent_kernel(4), rtol=1e-6)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_final_upsampling_is_fixed_bilinear_as_in_the_paper(variant):
    """Long et al. 2015, 4.3: "Final layer deconvolutional filters are fixed to bilinear
    interpolation, while intermediate upsampling layers are initialized to bilinear
    upsampling, and then learned." One Adam step moves the x2 layers, never the final one."""
    nn.init.manual_seed(0)
    model = FCN(1, 3, base_channels=2, variant=variant)
    names = dict(model.named_parameters())
    assert "up_final.weight" not in names and "up_final.weight" in model.state_dict()
    assert {"up2_a.weight", "up2_b.weight"} <= set(names)
    scale = int(variant[:-1])
    before = {k: np.array(mf.backend.to_numpy(v)) for k, v in model.state_dict().items() if k.startswith("up")}
    x, y = SyntheticShapes(2, image_size=32, num_classes=3, channels=1, seed=1).arrays()
    opt = optim.Adam(model.parameters(), lr=0.1)
    F.cross_entropy(model(mf.tensor(x)), y).backward()
    opt.step()
    after = {k: mf.backend.to_numpy(v) for k, v in model.state_dict().items() if k.startswith("up")}
    np.testing.assert_array_equal(after["up_final.weight"], before["up_final.weight"])
    for c in range(3):
        np.testing.assert_allclose(after["up_final.weight"][c, c], _tent_kernel(2 * scale), rtol=1e-6)
    if variant == "8s":   # both x2 layers are used, and learn
        assert not np.array_equal(after["up2_a.weight"], before["up2_a.weight"])
        assert not np.array_equal(after["up2_b.weight"], before["up2_b.weight"])


def test_fcn_learn_upsampling_options():
    count = {opt: {n for n, _ in FCN(1, 2, base_channels=2, learn_upsampling=opt).named_parameters()
                   if n.startswith("up")} for opt in ("none", "intermediate", "all")}
    assert count == {"none": set(), "intermediate": {"up2_a.weight", "up2_b.weight"},
                     "all": {"up2_a.weight", "up2_b.weight", "up_final.weight"}}
    with pytest.raises(ValueError, match="learn_upsampling='final'.*intermediate"):
        FCN(learn_upsampling="final")
    # a fixed model computes what a learned one computes at its bilinear start
    nn.init.manual_seed(3)
    learned = FCN(1, 2, base_channels=2, learn_upsampling="all").eval()
    fixed = FCN(1, 2, base_channels=2, learn_upsampling="none").eval()
    fixed.load_state_dict(learned.state_dict())
    x = mf.tensor(np.random.default_rng(0).random((2, 1, 32, 32), dtype=np.float32))
    with mf.no_grad():
        np.testing.assert_allclose(fixed(x).numpy(), learned(x).numpy(), rtol=1e-5, atol=1e-6)


def test_fixed_bilinear_upsample_equals_interpolation_inside():
    """Away from a border of s // 2 pixels the fixed x4 upsampling is bilinear interpolation,
    checked against np.interp along each axis (align_corners=False sample points)."""
    from minifcn.models.fcn import BilinearUpsample
    s, img = 4, np.random.default_rng(2).random((5, 7)).astype(np.float32)
    up = BilinearUpsample(1, s)(mf.tensor(img[None, None])).numpy()[0, 0]

    def along_rows(a):
        src = (np.arange(a.shape[0] * s) + 0.5) / s - 0.5
        return np.stack([np.interp(src, np.arange(a.shape[0]), col) for col in a.T], axis=1)

    expected = along_rows(along_rows(img).T).T
    b = s // 2
    assert up.shape == (5 * s, 7 * s)
    np.testing.assert_allclose(up[b:-b, b:-b], expected[b:-b, b:-b], atol=1e-5)


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
