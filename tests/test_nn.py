"""nn: Module bookkeeping, layers against naive references, init distributions, summary.

Expected values come from hand-written names, formulas and naive loops in this file: a
direct-sum convolution, a scatter-loop transposed convolution, batch statistics from NumPy,
the Kaiming/Xavier bounds from their definitions.
"""
import math
from collections import OrderedDict

import numpy as np
import pytest

import minifcn as mf
from minifcn import backend, nn, optim
from conftest import to_xp


# --------------------------------------------------------------- a small nested model

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return mf.functional.relu(self.bn(self.conv1(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.down = nn.ModuleList([Block(2), Block(2)])
        self.head = nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU())

    def forward(self, x):
        for block in self.down:
            x = block(x)
        return self.head(x) * self.scale


def numpy_of(a):
    return backend.to_numpy(a.data if isinstance(a, mf.Tensor) else a)


# --------------------------------------------------------------- names and registration

PARAM_NAMES = ["scale",
               "down.0.conv1.weight", "down.0.conv1.bias", "down.0.bn.weight", "down.0.bn.bias",
               "down.1.conv1.weight", "down.1.conv1.bias", "down.1.bn.weight", "down.1.bn.bias",
               "head.0.weight", "head.0.bias"]


def test_named_parameters_use_dotted_pytorch_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == PARAM_NAMES
    assert [n for n, _ in net.named_buffers()] == [
        "down.0.bn.running_mean", "down.0.bn.running_var", "down.1.bn.running_mean", "down.1.bn.running_var"]
    assert len(list(net.parameters())) == len(PARAM_NAMES)
    assert [n for n, _ in net.named_children()] == ["down", "head"]
    assert [n for n, _ in net.named_modules()] == [
        "", "down", "down.0", "down.0.conv1", "down.0.bn", "down.1", "down.1.conv1", "down.1.bn",
        "head", "head.0", "head.1"]


def test_state_dict_order_is_params_then_buffers_per_module():
    keys = list(Net().state_dict())
    assert keys[:7] == ["scale", "down.0.conv1.weight", "down.0.conv1.bias", "down.0.bn.weight",
                        "down.0.bn.bias", "down.0.bn.running_mean", "down.0.bn.running_var"]
    assert keys[-2:] == ["head.0.weight", "head.0.bias"]
    assert len(keys) == len(PARAM_NAMES) + 4


def test_shared_parameter_is_listed_once():
    net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1))
    net[1].weight = net[0].weight
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_reassigning_and_deleting_attributes():
    m = nn.Conv2d(1, 2, 3)
    with pytest.raises(TypeError, match=r"Conv2d.weight is a registered parameter; .*assign to weight.data"):
        m.weight = np.zeros((2, 1, 3, 3))
    m.bias = None                                       # no bias: allowed, name kept
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.extra = nn.ReLU()
    assert [n for n, _ in m.named_children()] == ["extra"]
    del m.extra
    assert list(m.children()) == []
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing


def test_forgetting_super_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.conv = nn.Conv2d(1, 1, 1)
    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_register_buffer_checks_its_arguments():
    m = nn.Module()
    with pytest.raises(TypeError, match="needs a NumPy/CuPy array"):
        m.register_buffer("b", [1, 2])
    with pytest.raises(ValueError, match="without '.'"):
        m.register_buffer("a.b", np.zeros(2))
    m.register_buffer("b", np.zeros(2))
    m.b = np.ones(2)                                    # assignment updates the buffer
    np.testing.assert_array_equal(dict(m.named_buffers())["b"], np.ones(2))
    with pytest.raises(TypeError, match="buffer 'b' must be"):
        m.b = "text"


def test_containers():
    seq = nn.Sequential(nn.ReLU(), nn.Sigmoid(), nn.Identity())
    assert len(seq) == 3 and isinstance(seq[1], nn.Sigmoid) and isinstance(seq[-1], nn.Identity)
    assert [type(m).__name__ for m in seq[1:]] == ["Sigmoid", "Identity"]
    seq.append(nn.Tanh())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="index 7 is out of range"):
        seq[7]
    named = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 1), act=nn.ReLU()))
    assert [n for n, _ in named.named_parameters()] == ["conv.weight", "conv.bias"]
    ml = nn.ModuleList()
    ml.append(nn.Conv2d(1, 1, 1)).extend([nn.Conv2d(1, 1, 1)])
    assert len(ml) == 2 and [n for n, _ in ml.named_parameters()][-1] == "1.bias"
    x = mf.tensor(np.array([-1.0, 2.0]))
    np.testing.assert_allclose(nn.Sequential(nn.ReLU(), nn.LeakyReLU(0.5))(x).numpy(), [0.0, 2.0])


def test_repr_shows_the_tree_and_hyperparameters():
    text = repr(Net())
    assert "(down): ModuleList(" in text
    assert "(conv1): Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in text
    assert "(bn): BatchNorm2d(2, eps=1e-05, momentum=0.1" in text
    assert "(1): ReLU()" in text
    assert repr(nn.Conv2d(4, 8, 3, bias=False, groups=2)).endswith("groups=2, bias=False)")


def test_forward_hooks_see_outputs_and_can_be_removed():
    seen = []
    relu = nn.ReLU()
    handle = relu.register_forward_hook(lambda m, inputs, out: seen.append(out.shape))
    relu(mf.tensor(np.zeros((2, 3))))
    handle.remove()
    relu(mf.tensor(np.zeros(4)))
    assert seen == [(2, 3)]


# --------------------------------------------------------------- state_dict and loading

def test_state_dict_round_trip_restores_outputs():
    nn.init.manual_seed(1)
    a = Net()
    nn.init.manual_seed(2)
    b = Net()
    x = mf.tensor(np.random.default_rng(0).standard_normal((2, 2, 5, 5)), dtype="float32")
    a.eval(), b.eval()
    assert not np.allclose(a(x).numpy(), b(x).numpy())
    params_before = list(b.parameters())
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert all(p is q for p, q in zip(params_before, b.parameters()))  # identity kept


def test_state_dict_holds_copies():
    m = nn.BatchNorm2d(3)
    state = m.state_dict()
    state["weight"][...] = 7
    state["running_mean"][...] = 7
    np.testing.assert_array_equal(m.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(m.running_mean, np.zeros(3))
    m.load_state_dict(state)
    state["weight"][...] = 9                                   # loading copied too
    np.testing.assert_array_equal(m.weight.numpy(), np.full(3, 7))


def test_strict_load_reports_every_problem_by_name_and_changes_nothing():
    net = Net()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    state = Net().state_dict()
    del state["head.0.bias"]                                   # missing
    state["head.2.weight"] = np.zeros(3)                       # unexpected
    state["down.1.conv1.weight"] = np.zeros((2, 2, 5, 5), np.float32)   # wrong shape
    state["scale"] = np.full(1, 5.0, np.float32)
    with pytest.raises(ValueError) as info:
        net.load_state_dict(state)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert "missing keys" in msg and "'head.0.bias'" in msg
    assert "unexpected keys" in msg and "'head.2.weight'" in msg
    assert "shape mismatches" in msg and "'down.1.conv1.weight': checkpoint (2, 2, 5, 5), model (2, 2, 3, 3)" in msg
    for k, v in net.state_dict().items():                      # nothing was loaded
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_load_skips_missing_and_unexpected_but_not_wrong_shapes():
    net = Net()
    state = {"scale": np.full(1, 3.0), "not.in.model": np.zeros(1)}
    result = net.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["not.in.model"]
    assert "head.0.weight" in result.missing_keys and "scale" not in result.missing_keys
    assert net.scale.dtype == np.float32 and net.scale.numpy()[0] == 3.0  # cast to the model's dtype
    with pytest.raises(ValueError, match=r"'scale': checkpoint \(2,\), model \(1,\)"):
        net.load_state_dict({"scale": np.zeros(2)}, strict=False)
    with pytest.raises(TypeError, match=r"state\['scale'\] is a list"):
        net.load_state_dict({"scale": [1.0]}, strict=False)


def test_load_state_dict_moves_values_to_the_model_device(device):
    net = Net().to(device)
    state = {k: backend.to_numpy(v) + 1 for k, v in net.state_dict().items()}   # host arrays
    net.load_state_dict(state)
    for p in net.parameters():
        assert p.device == device
    for b in net.buffers():
        assert backend.device_of(b) == device
    np.testing.assert_array_equal(numpy_of(net.down[1].bn.running_var), np.full(2, 2.0))


# --------------------------------------------------------------- modes and devices

def test_train_and_eval_set_the_flag_everywhere():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_dropout_masks_in_training_and_is_identity_in_eval(device):
    drop = nn.Dropout(0.25, rng=0)
    x = mf.tensor(np.ones((100, 100), np.float32), device=device)
    y = drop(x).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}   # dropped, or scaled by 1/(1-p)
    assert abs((y == 0).mean() - 0.25) < 0.02                   # 10 000 draws: sd ≈ 0.004
    drop.eval()
    assert drop(x) is x


def test_batchnorm_train_uses_batch_stats_and_updates_running_stats(device):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((4, 3, 2, 5)) * 2 + 1
    bn = nn.BatchNorm2d(3, momentum=0.2).to(device, dtype=np.float64)
    bn.weight.data[...] = to_xp([1.0, 2.0, 3.0], device)
    bn.bias.data[...] = to_xp([0.0, -1.0, 1.0], device)
    gamma, beta = np.array([1.0, 2.0, 3.0])[:, None, None], np.array([0.0, -1.0, 1.0])[:, None, None]
    y = bn(mf.tensor(x_np, device=device)).numpy()
    mean, var = x_np.mean(axis=(0, 2, 3)), x_np.var(axis=(0, 2, 3))
    expected = (x_np - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) * gamma + beta
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    m = 4 * 2 * 5
    np.testing.assert_allclose(numpy_of(bn.running_mean), 0.2 * mean)
    np.testing.assert_allclose(numpy_of(bn.running_var), 0.8 + 0.2 * var * m / (m - 1))
    # eval: the running statistics, and they stay put
    bn.eval()
    rm, rv = numpy_of(bn.running_mean), numpy_of(bn.running_var)
    y = bn(mf.tensor(x_np[:1], device=device)).numpy()
    expected = (x_np[:1] - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5) * gamma + beta
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(numpy_of(bn.running_mean), rm)


def test_batchnorm_without_running_stats_always_normalises_by_the_batch():
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False).eval()
    assert list(bn.state_dict()) == []
    x = np.random.default_rng(1).standard_normal((3, 2, 2, 2))
    y = bn(mf.tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1 / (1 + 1e-5 / x.var(axis=(0, 2, 3))), rtol=1e-10)


def test_to_device_keeps_parameter_identity_and_moves_grads_and_buffers(device):
    net = Net()
    for p in net.parameters():
        p.grad = np.ones(p.shape, np.float32)
    params = list(net.parameters())
    opt = optim.SGD(net.parameters(), lr=0.5)                   # built before the move
    assert net.to(device) is net
    assert all(p is q for p, q in zip(params, net.parameters()))
    for p in net.parameters():
        assert p.device == device and backend.device_of(p.grad) == device
    for b in net.buffers():
        assert backend.device_of(b) == device
    before = numpy_of(net.head[0].bias).copy()
    opt.step()                                                  # still updates the same objects
    np.testing.assert_allclose(numpy_of(net.head[0].bias), before - 0.5)
    out = net(mf.tensor(np.ones((1, 2, 4, 4), np.float32), device=device))
    assert out.device == device and out.shape == (1, 3, 4, 4)
    net.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in net.parameters())
    with pytest.raises(ValueError, match="device='gpu' is not a known device"):
        net.to("gpu")
    with pytest.raises(ValueError, match="only floating dtypes"):
        net.to(dtype=np.int32)


def test_to_dtype_casts_floating_state():
    net = Net().to(dtype=np.float64)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float64)}
    assert {b.dtype for b in net.buffers()} == {np.dtype(np.float64)}


def test_zero_grad_clears_every_gradient():
    net = Net()
    x = mf.tensor(np.ones((2, 2, 3, 3), np.float32))
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# --------------------------------------------------------------- layers against naive references

def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    """Direct sum over each output pixel: y[n,o,i,j] = b[o] + Σ x_pad[n, c, i·s + k·d] w[o, c, k]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    y = np.zeros((N, O, OH, OW))
    for o in range(O):
        g = o // (O // groups)
        for i in range(OH):
            for j in range(OW):
                patch = xp[:, g * Cg:(g + 1) * Cg, i * sh:i * sh + dh * (KH - 1) + 1:dh,
                           j * sw:j * sw + dw * (KW - 1) + 1:dw]
                y[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3)) + (b[o] if b is not None else 0)
    return y


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups):
    """Scatter: every input value adds x·w[c, o] into the output at i·s + k·d, then crop padding."""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    full = np.zeros((N, Og * groups, (H - 1) * sh + dh * (KH - 1) + 1 + oph,
                     (W - 1) * sw + dw * (KW - 1) + 1 + opw))
    for c in range(C):
        g = c // (C // groups)
        for i in range(H):
            for j in range(W):
                for kh in range(KH):
                    for kw in range(KW):
                        full[:, g * Og:(g + 1) * Og, i * sh + kh * dh, j * sw + kw * dw] += \
                            x[:, c, i, j, None] * w[c, :, kh, kw]
    OH, OW = full.shape[2] - 2 * ph, full.shape[3] - 2 * pw
    y = full[:, :, ph:ph + OH, pw:pw + OW]
    return y + (b[None, :, None, None] if b is not None else 0)


@pytest.mark.parametrize("cfg", [
    dict(kernel_size=3, stride=1, padding=1, dilation=1, groups=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(0, 1), dilation=(1, 2), groups=2),
    dict(kernel_size=3, stride=1, padding="same", dilation=2, groups=1, bias=False),
    dict(kernel_size=(2, 3), padding="valid"),
])
def test_conv2d_layer_matches_a_direct_sum(device, cfg):
    conv = nn.Conv2d(4, 6, rng=0, **cfg).to(device, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 4, 7, 6))
    y = conv(mf.tensor(x, device=device)).numpy()
    b = None if conv.bias is None else numpy_of(conv.bias)
    padding = {"same": (2, 2), "valid": (0, 0)}.get(conv.padding, conv.padding)  # d(k-1)/2 for "same"
    expected = naive_conv2d(x, numpy_of(conv.weight), b, conv.stride, padding, conv.dilation, conv.groups)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)


def test_conv2d_same_padding_with_an_even_kernel_pads_bottom_right_extra(device):
    conv = nn.Conv2d(1, 1, 2, padding="same", bias=False).to(device, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((1, 1, 4, 5))
    y = conv(mf.tensor(x, device=device)).numpy()
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)))  # total padding 1: all of it after
    expected = naive_conv2d(padded, numpy_of(conv.weight), None, (1, 1), (0, 0), (1, 1), 1)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cfg", [
    dict(kernel_size=2, stride=2),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1, groups=2, dilation=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(0, 1), dilation=(2, 1), bias=False),
])
def test_conv_transpose2d_layer_matches_a_scatter_loop(device, cfg):
    conv = nn.ConvTranspose2d(4, 6, rng=0, **cfg).to(device, dtype=np.float64)
    assert conv.weight.shape[:2] == (4, 6 // conv.groups)
    x = np.random.default_rng(2).standard_normal((2, 4, 3, 4))
    y = conv(mf.tensor(x, device=device)).numpy()
    b = None if conv.bias is None else numpy_of(conv.bias)
    expected = naive_conv_transpose2d(x, numpy_of(conv.weight), b, conv.stride, conv.padding,
                                      conv.output_padding, conv.dilation, conv.groups)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)


def test_pool_unpool_and_upsample_layers(device):
    x_np = np.random.default_rng(3).permutation(2 * 3 * 4 * 6).reshape(2, 3, 4, 6).astype(np.float64)
    x = mf.tensor(x_np, device=device)
    blocks = x_np.reshape(2, 3, 2, 2, 3, 2)                       # 2×2 windows
    pooled, indices = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(pooled.numpy(), blocks.max(axis=(3, 5)))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).numpy(), blocks.max(axis=(3, 5)))
    np.testing.assert_allclose(nn.AvgPool2d(2)(x).numpy(), blocks.mean(axis=(3, 5)))
    unpooled = nn.MaxUnpool2d(2)(pooled, indices).numpy()
    is_max = x_np == np.repeat(np.repeat(blocks.max(axis=(3, 5)), 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(unpooled, np.where(is_max, x_np, 0))
    up = nn.Upsample(scale_factor=2)(x).numpy()
    np.testing.assert_array_equal(up, np.repeat(np.repeat(x_np, 2, axis=2), 2, axis=3))
    assert nn.Upsample(size=(5, 7), mode="bilinear", align_corners=False)(x).shape == (2, 3, 5, 7)


def test_activation_layers(device):
    x_np = np.array([-2.0, -0.5, 0.5, 3.0])
    x = mf.tensor(x_np, device=device)
    np.testing.assert_allclose(nn.ReLU()(x).numpy(), np.maximum(x_np, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).numpy(), np.where(x_np > 0, x_np, 0.1 * x_np))
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x_np)), rtol=1e-12)
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh(x_np), rtol=1e-12)
    assert nn.Identity()(x) is x


# --------------------------------------------------------------- bad input

@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, "groups=4 must divide in_channels = 4 and out_channels = 6"),
    (lambda: nn.Conv2d(0, 6, 3), ValueError, "in_channels must be an integer >= 1, got 0"),
    (lambda: nn.Conv2d(1, 1, 0), ValueError, "kernel_size must be an integer >= 1, got 0"),
    (lambda: nn.Conv2d(1, 1, 3, stride=2, padding="same"), ValueError, "padding='same' needs stride=1"),
    (lambda: nn.Conv2d(1, 1, 3, padding="full"), ValueError, r"padding must be an int, a pair \(PH, PW\), 'valid' or 'same', got 'full'"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2), ValueError,
     "output_padding=.* must be smaller than stride"),
    (lambda: nn.BatchNorm2d(3, momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\], got 1.5"),
    (lambda: nn.Dropout(1.0), ValueError, r"Dropout p must be a number in \[0, 1\), got 1.0"),
    (lambda: nn.Upsample(), ValueError, "exactly one of size=None and scale_factor=None"),
    (lambda: nn.Conv2d(1, 1, 3, rng="seed"), TypeError, "rng='seed' must be a numpy.random.Generator"),
])
def test_bad_constructor_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_wrong_input_channels_name_the_layer():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*expects input of shape \(N, 3, H, W\), got \(1, 4, 5, 5\)"):
        nn.Conv2d(3, 8, 3)(mf.tensor(np.zeros((1, 4, 5, 5), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(8.*expects input of shape \(N, 8, H, W\)"):
        nn.BatchNorm2d(8)(mf.tensor(np.zeros((2, 3, 5, 5), np.float32)))


# --------------------------------------------------------------- initialisation

def test_default_conv_init_is_pytorchs_kaiming_uniform():
    conv = nn.Conv2d(64, 32, 3, rng=0)                     # 18 432 weights, fan_in = 576
    bound = 1 / math.sqrt(64 * 9)                          # sqrt(6 / ((1 + 5) fan_in))
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.02  # U(-b, b) has sd b/√3
    assert abs(w.mean()) < 0.02 * bound
    assert np.abs(b).max() <= bound


def test_transposed_conv_fan_in_uses_weight_shape_1():
    conv = nn.ConvTranspose2d(8, 128, 2, rng=0)           # weight (8, 128, 2, 2): fan_in = 512
    bound = 1 / math.sqrt(128 * 4)
    w = conv.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(conv.bias.numpy()).max() <= bound


@pytest.mark.parametrize("fn, kwargs, kind, scale", [
    (nn.init.kaiming_uniform_, dict(nonlinearity="relu"), "uniform", math.sqrt(2) * math.sqrt(3 / 600)),
    (nn.init.kaiming_uniform_, dict(a=0.2, mode="fan_out"), "uniform",
     math.sqrt(2 / 1.04) * math.sqrt(3 / 400)),
    (nn.init.kaiming_normal_, dict(nonlinearity="relu"), "normal", math.sqrt(2 / 600)),
    (nn.init.xavier_uniform_, dict(), "uniform", math.sqrt(6 / 1000)),
    (nn.init.xavier_normal_, dict(gain=2.0), "normal", 2 * math.sqrt(2 / 1000)),
])
def test_init_distributions(fn, kwargs, kind, scale, device):
    w = nn.Parameter(to_xp(np.zeros((16, 24, 5, 5), np.float32), device))   # fan_in 600, fan_out 400
    data_before = w.data
    fn(w, rng=0, **kwargs)
    assert w.data is data_before                          # filled in place, on its device
    v = w.numpy().astype(np.float64)
    if kind == "uniform":                                 # scale = bound b
        assert np.abs(v).max() <= scale * (1 + 1e-6) and np.abs(v).max() > 0.99 * scale
        assert abs(v.std() / (scale / math.sqrt(3)) - 1) < 0.03
    else:                                                 # scale = std
        assert abs(v.std() / scale - 1) < 0.03
        assert abs(np.mean(np.abs(v) > 2 * scale) - 0.0455) < 0.01   # a normal's two-sigma tail


def test_constant_inits_and_gains():
    w = nn.Parameter(np.full((2, 3), 5.0, np.float32))
    np.testing.assert_array_equal(nn.init.zeros_(w).numpy(), 0)
    np.testing.assert_array_equal(nn.init.ones_(w).numpy(), 1)
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert nn.init.calculate_fan_in_and_fan_out((8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="nonlinearity='swish' is not supported"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        nn.init.kaiming_uniform_(nn.Parameter(np.zeros(5, np.float32)))


def test_manual_seed_and_rng_make_init_reproducible(device):
    nn.init.manual_seed(123)
    a = Net()
    nn.init.manual_seed(123)
    b = Net().to(device)                                   # same values on either device
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
    c, d = nn.Conv2d(2, 3, 3, rng=7), nn.Conv2d(2, 3, 3, rng=7)
    np.testing.assert_array_equal(c.weight.numpy(), d.weight.numpy())
    assert not np.array_equal(c.weight.numpy(), nn.Conv2d(2, 3, 3, rng=8).weight.numpy())
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        nn.init.manual_seed(-1)


def test_bilinear_init_makes_a_transposed_conv_interpolate_linearly(device):
    # FCN's bilinear kernel for stride 2 is the tent [1/4, 3/4, 3/4, 1/4] in each direction
    up = nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1, bias=False)
    nn.init.bilinear_(up.weight)
    tent = np.array([0.25, 0.75, 0.75, 0.25])
    w = up.weight.numpy()
    np.testing.assert_allclose(w[0, 0], np.outer(tent, tent))
    np.testing.assert_array_equal(w[0, 1], 0)
    up.to(device, dtype=np.float64)
    # a linear ramp along W stays a linear ramp (away from the borders), at twice the density
    ramp = np.tile(np.arange(6.0), (2, 2, 6, 1))[:1]         # (1, 2, 6, 6), value = column index
    y = up(mf.tensor(ramp, device=device)).numpy()
    assert y.shape == (1, 2, 12, 12)
    inner = y[0, 0, 2:-2, 2:-2]
    np.testing.assert_allclose(np.diff(inner, axis=1), 0.5)  # steps of 1/2: half-pixel sampling
    np.testing.assert_allclose(np.diff(inner, axis=0), 0)
    with pytest.raises(ValueError, match=r"needs a weight of shape \(C, C, K, K\)"):
        nn.init.bilinear_(nn.ConvTranspose2d(2, 3, 4).weight)
    with pytest.raises(ValueError, match="kernel size 3 is not 2s - s % 2"):
        nn.init.bilinear_(nn.ConvTranspose2d(2, 2, 3).weight)


# --------------------------------------------------------------- summary

def test_summary_lists_leaf_layers_shapes_and_parameter_counts(device):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 2, 1)).to(device)
    model.train()
    text = nn.summary(model, (1, 3, 8, 8), device=device)
    rows = [line.split() for line in text.splitlines()]
    table = {r[0]: r[1:] for r in rows if r and r[0] in "01234"}
    # conv: 4·3·3·3 + 4 weights; BN: γ and β per channel; 1×1 conv: 2·4 + 2
    assert table["0"] == ["Conv2d", "(1,", "4,", "8,", "8)", "112"]
    assert table["1"] == ["BatchNorm2d", "(1,", "4,", "8,", "8)", "8"]
    assert table["2"] == ["ReLU", "(1,", "4,", "8,", "8)", "0"]
    assert table["3"] == ["MaxPool2d", "(1,", "4,", "4,", "4)", "0"]
    assert table["4"] == ["Conv2d", "(1,", "2,", "4,", "4)", "10"]
    assert text.splitlines()[-1] == "Total params: 130"
    assert nn.count_parameters(model) == 130
    assert all(m.training for m in model.modules())          # modes restored
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed
    with pytest.raises(ValueError, match=r"input_shape=\(3, 0\) must be a tuple of positive ints"):
        nn.summary(model, (3, 0))


def test_summary_of_a_nested_model_uses_dotted_names():
    text = nn.summary(Net(), (2, 2, 4, 4))
    assert "down.1.conv1" in text and "head.1" in text
    assert f"Total params: {1 + 2 * (2 * 2 * 9 + 2 + 4) + 2 * 3 + 3:,}" in text
