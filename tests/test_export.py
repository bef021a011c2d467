"""ONNX export, checked by an independent engine: onnxruntime, with its own convolution, pooling,
unpooling and resize kernels, must compute what minifcn computes, for every model."""
from __future__ import annotations

import numpy as np
import pytest

import minifcn as mf
from minifcn import functional as F
from minifcn import models, nn

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
from minifcn.export import CONVERTERS, ExportError, to_onnx  # noqa: E402


def run_onnx(path, x):
    """All outputs of the model at ``path`` for input ``x``, run by onnxruntime's CPU kernels."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})


def forward(model, x):
    with mf.no_grad():
        out = model(mf.tensor(x))
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def assert_same(theirs, ours, what="output", rel=1e-4):
    assert theirs.shape == ours.shape, what
    gap = np.abs(theirs - ours).max() / np.abs(ours).max()
    assert gap <= rel, f"{what}: max |onnxruntime - minifcn| / max |minifcn| = {gap:.2e} > {rel}"


def randomize_batch_norm(model, rng):
    """Running statistics and affine parameters far from the identity, so a converter that
    drops or swaps any of them changes the output."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean[...] = rng.normal(0, 0.5, c)
            m.running_var[...] = rng.uniform(0.3, 3, c)
            if m.weight is not None:
                m.weight.data[...] = rng.uniform(0.5, 2, c)
                m.bias.data[...] = rng.normal(0, 0.5, c)


MODELS = {   # name: (constructor, input (C, H, W)); small, so the whole file stays fast
    "unet-transpose-same": (lambda: models.UNet(3, 3, base_channels=4, depth=2), (3, 16, 16)),
    "unet-bilinear-same": (lambda: models.UNet(3, 3, base_channels=4, depth=2, upsample="bilinear"), (3, 16, 16)),
    "unet-transpose-valid": (lambda: models.UNet(1, 2, base_channels=4, depth=2, padding="valid"), (1, 44, 44)),
    "unet-bilinear-valid": (lambda: models.UNet(1, 2, base_channels=4, depth=2, padding="valid",
                                                upsample="bilinear"), (1, 44, 44)),
    "fcn-32s": (lambda: models.FCN(3, 3, base_channels=2, variant="32s"), (3, 32, 32)),
    "fcn-16s": (lambda: models.FCN(3, 3, base_channels=2, variant="16s"), (3, 32, 32)),
    "fcn-8s": (lambda: models.FCN(3, 3, base_channels=2, variant="8s"), (3, 32, 32)),
    "segnet": (lambda: models.SegNet(3, 3, base_channels=4, depth=2), (3, 16, 16)),
    "deeplabv3plus": (lambda: models.DeepLabV3Plus(3, 3, base_channels=4), (3, 32, 32)),
    "denoising-autoencoder": (lambda: models.DenoisingAutoencoder(1, base_channels=4, depth=2), (1, 16, 16)),
    "keypoint-net": (lambda: models.KeypointNet(3, 4, base_channels=4, depth=2), (3, 16, 16)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_runs_the_same_in_onnxruntime(tmp_path, name):
    make, chw = MODELS[name]
    nn.init.manual_seed(0)
    model = make().eval()
    rng = np.random.default_rng(1)
    randomize_batch_norm(model, rng)
    path = tmp_path / f"{name}.onnx"
    proto = to_onnx(model, rng.random((2,) + chw, dtype=np.float32), path)
    onnx.checker.check_model(str(path), full_check=True)
    for batch in (1, 3):                        # neither is the traced batch of 2: the batch axis is dynamic
        x = rng.random((batch,) + chw, dtype=np.float32)
        (theirs,), (ours,) = run_onnx(path, x), forward(model, x)
        assert_same(theirs, ours)
    # parameters and buffers keep their state_dict names and values
    state = model.state_dict()
    named = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer if t.name in state}
    unused = {k for k in state if k.startswith(("score16", "score8", "up2_a", "up2_b"))} if name != "fcn-8s" else set()
    unused -= {"score16.weight", "score16.bias", "up2_a.weight"} if name == "fcn-16s" else set()
    assert set(named) == set(state) - unused
    for key, value in named.items():
        np.testing.assert_array_equal(value, state[key])


class OpZoo(nn.Module):
    """The converters the six models do not reach: asymmetric "same" padding, grouped and
    strided convs, ConvTranspose with groups and output_padding, overlapping padded max pool
    and unpool to an odd size, average pools, every resize rule, reductions, reshapes, matmul,
    slices, padding, activations and arithmetic. Several outputs, so each is checked alone."""

    def __init__(self):
        super().__init__()
        self.same = nn.Conv2d(3, 4, (4, 2), padding="same")           # pads (1, 2) and (0, 1)
        self.dilated = nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=2)
        self.strided = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
        self.up = nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.bn = nn.BatchNorm2d(4, affine=False)
        self.mix = mf.nn.Parameter(np.random.default_rng(5).normal(size=(4, 5)).astype(np.float32))

    def forward(self, x):
        a = F.leaky_relu(self.same(x), 0.1)                              # (N, 4, 9, 9)
        a = self.bn(self.dilated(a))
        pooled, idx = F.max_pool2d(a, 3, stride=2, padding=1, return_indices=True)   # (N, 4, 5, 5)
        unpooled = F.max_unpool2d(pooled, idx, 3, stride=2, padding=1, output_size=a.shape[2:])
        up = F.tanh(self.up(self.strided(a)))                            # (N, 4, 10, 10)
        avg = F.avg_pool2d(a, 3, stride=2, padding=1, count_include_pad=False)
        ceil = F.max_pool2d(a, 2, ceil_mode=True) * F.avg_pool2d(a, 2, ceil_mode=True)   # 5 x 5, not 4 x 4
        n, c, h, w = a.shape
        resized = mf.cat([F.interpolate(a, size=(13, 7), mode="bilinear", align_corners=True),
                          F.interpolate(a, size=(13, 7), mode="bilinear"),
                          F.interpolate(a, size=(13, 7), mode="nearest"),
                          F.interpolate(a, scale_factor=1.5, mode="bilinear")[:, :, :, 3:10],  # MatMul
                          F.interpolate(a, size=(1, 7), mode="bilinear") * F.interpolate(a, size=(13, 7))],
                         axis=1)
        pools = F.adaptive_avg_pool2d(a, 4) + F.adaptive_avg_pool2d(a[:, :, :8, :8], 4)  # MatMul, AveragePool
        rows = a.reshape(n, c, h * w).transpose(0, 2, 1) @ self.mix      # (N, HW, 5): Reshape 0, Transpose, MatMul
        folded = F.softmax(a.reshape(n * c, h, w), axis=2).reshape(n, c, h, w)   # Reshape -1
        crop = F.pad(a[:, 1:, 2:-1, ::2], [(0, 0), (0, 0), (1, 2), (0, 1)], value=0.5)
        math = (F.sigmoid(a) - a.mean(axis=(2, 3), keepdims=True)) / (1 + abs(a)) * 2 + (a * a + 1).sqrt().log()
        stats = mf.cat([a.sum(axis=1, keepdims=True), a.max(axis=1, keepdims=True),
                        a.min(axis=1, keepdims=True), a.clip(-0.5, 0.5).exp(), -a ** 2], axis=1)
        flat = F.log_softmax(a.reshape(n, -1), axis=1)[:, 3]             # Slice + Squeeze
        return (unpooled, up, avg, ceil, resized, pools, rows, folded, crop, math, stats, flat)


def test_every_converter_against_onnxruntime(tmp_path):
    nn.init.manual_seed(0)
    rng = np.random.default_rng(2)
    model = OpZoo().eval()
    randomize_batch_norm(model, rng)
    path = tmp_path / "zoo.onnx"
    proto = to_onnx(model, rng.normal(size=(2, 3, 9, 9)).astype(np.float32), path)
    onnx.checker.check_model(str(path), full_check=True)
    ops = {node.op_type for node in proto.graph.node}
    assert {"Resize", "AveragePool", "MatMul", "MaxUnpool", "ConvTranspose", "Squeeze", "Pad"} <= ops
    count = [node.op_type for node in proto.graph.node].count
    assert count("Resize") == 5 and count("MatMul") == 5    # 2 maps are no resize rule: 2 x 2 products
    for batch in (1, 3):
        x = rng.normal(size=(batch, 3, 9, 9)).astype(np.float32)
        for i, (theirs, ours) in enumerate(zip(run_onnx(path, x), forward(model, x))):
            assert_same(theirs, ours, f"output {i} of OpZoo")


def test_a_model_on_the_gpu_exports_the_same_graph(tmp_path):
    """Parameters, buffers and the interpolation matrices live on the device: the exporter
    must copy them to the host explicitly (the strict CuPy stand-in refuses implicit copies)."""
    nn.init.manual_seed(0)
    rng = np.random.default_rng(3)
    model = OpZoo().eval()
    randomize_batch_norm(model, rng)
    x = rng.normal(size=(2, 3, 9, 9)).astype(np.float32)
    expected = forward(model, x)
    to_onnx(model.to("cuda"), x, tmp_path / "gpu.onnx")
    assert model.same.weight.device == "cuda"
    for i, (theirs, ours) in enumerate(zip(run_onnx(tmp_path / "gpu.onnx", x), expected)):
        assert_same(theirs, ours, f"output {i} of OpZoo exported from the GPU")


def test_static_batch_and_metadata(tmp_path):
    model = models.UNet(3, 5, base_channels=2, depth=1)
    path = tmp_path / "unet.onnx"
    proto = to_onnx(model, np.zeros((2, 3, 8, 8), np.float32), path, dynamic_batch=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta == {"minifcn_version": mf.__version__, "model": "UNet", "num_classes": "5", "input_shape": "2x3x8x8"}
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 8, 8]
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        run_onnx(path, np.zeros((1, 3, 8, 8), np.float32))
    dynamic = to_onnx(model, np.zeros((2, 3, 8, 8), np.float32), tmp_path / "dyn.onnx")
    assert dynamic.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert any(op.version >= 17 for op in dynamic.opset_import)


def test_export_restores_the_model(tmp_path):
    model = models.SegNet(3, 2, base_channels=2, depth=1)
    model.train()
    model.classifier.weight.requires_grad = False
    before = {k: v.copy() for k, v in model.state_dict().items()}
    to_onnx(model, np.ones((1, 3, 8, 8), np.float32), tmp_path / "s.onnx")
    assert model.training and not model.classifier.weight.requires_grad
    for key, value in model.state_dict().items():        # eval-mode trace: running stats untouched
        np.testing.assert_array_equal(value, before[key])


class Mystery(mf.Function):
    """A Function the exporter has never heard of."""
    def forward(self, a):
        return a * 2

    def backward(self, g):
        return g * 2


class Doubler(nn.Module):
    def forward(self, x):
        return Mystery()(x)


class WithMystery(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        self.blocks = nn.Sequential(nn.ReLU(), Doubler())

    def forward(self, x):
        return self.blocks(self.conv(x))


def test_an_unknown_function_names_itself_and_its_layer_and_writes_nothing(tmp_path):
    path = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match=r"Mystery.*'blocks\.1' \(Doubler\)"):
        to_onnx(WithMystery(), np.ones((1, 1, 4, 4), np.float32), path)
    assert list(tmp_path.iterdir()) == []                  # no file, no temporary left behind
    path.write_bytes(b"an earlier export")                 # an existing file stays as it was
    with pytest.raises(ExportError):
        to_onnx(WithMystery(), np.ones((1, 1, 4, 4), np.float32), path)
    assert path.read_bytes() == b"an earlier export" and len(list(tmp_path.iterdir())) == 1


def test_batch_statistics_cannot_be_exported(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))
    with pytest.raises(ExportError, match="layer 1.*batch statistics"):
        to_onnx(model, np.ones((2, 1, 4, 4), np.float32), tmp_path / "bn.onnx")
    assert not (tmp_path / "bn.onnx").exists()


def _function_classes():
    import minifcn.functional  # noqa: F401  (defines the Functions)
    found, stack = set(), [mf.Function]
    while stack:
        cls = stack.pop()
        found.add(cls.__name__)
        stack += cls.__subclasses__()
    return found


def test_every_converter_is_for_a_function_that_exists():
    """The registry is keyed by class names: a renamed Function must not leave a dead entry."""
    assert set(CONVERTERS) <= _function_classes()


def test_cli_export_gives_the_masks_of_predict(capsys, tmp_path):
    from minifcn.cli import main
    from minifcn.data import read_image, read_mask, write_example_folder
    from minifcn.train import TrainConfig, train
    run = tmp_path / "run"
    train(TrainConfig(samples=12, image_size=16, epochs=1, batch_size=4, base_channels=4, depth=2,
                      out=str(run)), progress=False, log=lambda s: None)
    write_example_folder(tmp_path / "data", n=2, image_size=16, num_classes=3)
    images = sorted((tmp_path / "data" / "images").glob("*.png"))
    assert main(["predict", str(run / "best.npz"), *map(str, images), "--out", str(tmp_path / "pred")]) == 0
    out = tmp_path / "unet.onnx"
    assert main(["export", str(run / "best.npz"), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "agrees" in printed and "N x 3 x 16 x 16" in printed
    batch = np.stack([read_image(p) for p in images]).astype(np.float32)
    masks = run_onnx(out, batch)[0].argmax(axis=1)
    for image, mask in zip(images, masks):
        np.testing.assert_array_equal(mask, read_mask(tmp_path / "pred" / f"{image.stem}_mask.png"))
    # an existing file is not replaced without --force; a wrong channel count is refused
    assert main(["export", str(run / "best.npz"), str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(run / "best.npz"), str(out), "--force", "--input", "2x1x16x16"]) == 2
    assert "channels" in capsys.readouterr().err
