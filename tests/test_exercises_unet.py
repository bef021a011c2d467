"""The U-Net exercises (catalogue_unet) and ``train --exercises`` with every piece the student's.

The references agree with independent implementations (minifcn's autograd ops, its Adam,
central differences); every grader catches plausible wrong solutions (exercise_bugs_unet)
with a small counterexample and passes correct solutions written in other styles; the
U-Net with the student's pieces computes what the library's computes, and trains.
"""
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import minifcn as mf
from minifcn import functional as F
from minifcn import optim
from minifcn.exercises import solutions as S
from minifcn.exercises.catalogue import BY_NAME, EXERCISES, Exercise, _loss_and_numeric_grad
from minifcn.exercises.catalogue_unet import CALL_LIMIT_TEXT, SCALES
from minifcn.exercises.catalogue_unet import exercises as unet_exercises
from minifcn.exercises.grader import ERROR, FAIL, PASS, search
from minifcn.exercises.workbook import init_workbook

sys.path.insert(0, str(Path(__file__).parent))
from exercise_bugs_unet import BUGS_UNET  # noqa: E402

NEW = [e.name for e in unet_exercises(Exercise, _loss_and_numeric_grad)]


def _t(a, grad=False):
    t = mf.tensor(np.array(a, dtype=np.float64), dtype="float64")
    t.requires_grad = grad
    return t


# ---- the catalogue ----------------------------------------------------------------------------------
def test_new_exercises_are_in_the_catalogue_in_lesson_order_with_bugs_and_texts():
    assert set(NEW) <= set(BY_NAME) and list(BUGS_UNET) == NEW
    assert all(len(bugs) >= 2 for bugs in BUGS_UNET.values())
    assert [e.lesson for e in EXERCISES] == sorted(e.lesson for e in EXERCISES)
    assert all(CALL_LIMIT_TEXT == f"{BY_NAME[n].call_limit_s:g} s of CPU time" for n in NEW)   # the texts state the real limit
    for name in NEW:
        ex = BY_NAME[name]
        assert "float64" in ex.task and "Do not modify the arguments" in ex.task and CALL_LIMIT_TEXT in ex.task
        assert ex.hints and ex.lesson in (6, 8, 10)


@pytest.mark.parametrize("name", NEW)
def test_references_leave_inputs_alone_and_return_fresh_arrays(name):
    ex = BY_NAME[name]

    @settings(max_examples=30)
    @given(ex.cases())
    def check(case):
        before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        out = ex.reference(*case.values())
        for k, v in case.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(v, before[k])
        outs = out if isinstance(out, tuple) else (out,)
        for o in outs:
            if isinstance(o, np.ndarray):
                assert o.dtype == np.float64
                assert not any(np.shares_memory(o, v) for v in case.values() if isinstance(v, np.ndarray))
    check()


def test_inputs_have_varied_magnitudes_and_non_integers():
    """The drawn floats are not just small integers: some non-integer, some of scale 1e-3 and 1e3."""
    from hypothesis import Phase, find
    strategy = BY_NAME["batch_norm_forward"].cases()
    quick = settings(phases=[Phase.generate], max_examples=100, database=None)     # found, not shrunk
    find(strategy, lambda c: np.any(c["x"] != np.round(c["x"])) and np.abs(c["x"]).max() > 100, settings=quick)
    find(strategy, lambda c: 0 < np.abs(c["x"]).max() < 0.01, settings=quick)
    assert SCALES[0] == 1.0                                       # shrinking goes to the plain scale


@pytest.mark.parametrize("name", ["relu", "relu_backward", "crop_and_concat", "batch_norm_forward",
                                  "batch_norm_backward", "adam_step", "conv_transpose2d_backward"])
def test_references_keep_float32(name):
    """The U-Net calls them with float32 arrays: the results stay float32."""
    ex = BY_NAME[name]

    @settings(max_examples=5)
    @given(ex.cases())
    def check(case):
        args = [v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v
                for v in case.values()]
        out = ex.reference(*args)
        for o in (out if isinstance(out, tuple) else (out,)):
            assert o.dtype == np.float32, (name, o.dtype)
    check()


# ---- the references against independent implementations ----------------------------------------
@given(BY_NAME["conv_transpose2d_backward"].cases())
def test_conv_transpose2d_backward_reference_matches_the_library_autograd(case):
    dy, x, w, s, p, op, d = case.values()
    xt, wt, bt = _t(x, True), _t(w, True), _t(np.zeros(w.shape[1]), True)
    y = F.conv_transpose2d(xt, wt, bt, stride=s, padding=p, output_padding=op, dilation=d)
    (y * _t(dy)).sum().backward()
    scale = max(1.0, float(np.abs(dy).max() * max(np.abs(x).max(), np.abs(w).max())))
    for got, want in zip(S.conv_transpose2d_backward(dy, x, w, s, p, op, d), (xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * scale)


@given(BY_NAME["softmax_dice_loss"].cases())
def test_softmax_dice_loss_reference_matches_the_library(case):
    logits, target = case.values()
    z = _t(logits, True)
    loss = F.dice_loss(z, target, smooth=1.0)
    loss.backward()
    value, grad = S.softmax_dice_loss(logits, target)
    np.testing.assert_allclose(value, loss.data, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad, z.grad, rtol=1e-7, atol=1e-12)


@given(BY_NAME["relu_backward"].cases())
def test_relu_references_match_the_library(case):
    dy, x = case.values()
    xt = _t(x, True)
    y = F.relu(xt)
    (y * _t(dy)).sum().backward()
    np.testing.assert_array_equal(S.relu(x), y.data)
    np.testing.assert_array_equal(S.relu_backward(dy, x), xt.grad)


@given(BY_NAME["crop_and_concat"].cases())
def test_crop_and_concat_references_match_the_unet(case):
    from minifcn.models.unet import center_crop
    skip, x = case.values()
    st, xt = _t(skip, True), _t(x, True)
    y = mf.cat([center_crop(st, x.shape[2], x.shape[3]), xt], axis=1)
    r = np.random.default_rng(0).standard_normal(y.shape)
    (y * _t(r)).sum().backward()
    np.testing.assert_array_equal(S.crop_and_concat(skip, x), y.data)
    dskip, dx = S.crop_and_concat_backward(r, skip.shape)
    np.testing.assert_array_equal(dskip, st.grad)
    np.testing.assert_array_equal(dx, xt.grad)


@given(BY_NAME["batch_norm_forward"].cases())
def test_batch_norm_forward_reference_matches_the_library(case):
    x, gamma, beta, rm, rv, training, momentum, eps = case.values()
    run_mean, run_var = rm.copy(), rv.copy()
    y = F.batch_norm(_t(x), run_mean, run_var, _t(gamma), _t(beta), training=training, momentum=momentum, eps=eps)
    got_y, got_mean, got_var = S.batch_norm_forward(x, gamma, beta, rm, rv, training, momentum, eps)
    np.testing.assert_allclose(got_y, y.data, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got_mean, run_mean, rtol=1e-12, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(got_var, run_var, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(x).max())) ** 2)


@given(BY_NAME["batch_norm_backward"].cases())
def test_batch_norm_backward_reference_matches_the_library_and_differences(case):
    dy, x, gamma, rm, rv, training, eps = case.values()
    xt, gt, bt = _t(x, True), _t(gamma, True), _t(np.zeros_like(gamma), True)
    y = F.batch_norm(xt, rm.copy(), rv.copy(), gt, bt, training=training, eps=eps)
    (y * _t(dy)).sum().backward()
    got = S.batch_norm_backward(dy, x, gamma, rm, rv, training, eps)
    for g, want in zip(got, (xt.grad, gt.grad, bt.grad)):
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8 * max(1.0, float(np.abs(want).max())))
    # and dx against central differences of the forward (a different computation again)
    if np.abs(x).max() <= 10:
        def f(a):
            return float((S.batch_norm_forward(a, gamma, np.zeros_like(gamma), rm, rv, training, 0.1, eps)[0]
                          * dy).sum())
        h, num = 1e-6, np.zeros_like(x)
        for idx in np.ndindex(*x.shape):
            a = x.copy()
            a[idx] += h
            up = f(a)
            a[idx] -= 2 * h
            num[idx] = (up - f(a)) / (2 * h)
        np.testing.assert_allclose(got[0], num, rtol=1e-4, atol=1e-4)


@given(BY_NAME["adam_step"].cases())
def test_adam_step_reference_matches_the_library_adam(case):
    param, grad, m, v, step, lr, betas, eps, wd = case.values()
    p = _t(param, True)
    opt = optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    opt.fused = False
    opt.state[0] = {"step": step - 1, "exp_avg": m.copy(), "exp_avg_sq": v.copy()}
    p.grad = grad.copy()
    opt.step()
    got_p, got_m, got_v = S.adam_step(param, grad, m, v, step, lr, betas, eps, wd)
    np.testing.assert_allclose(got_p, p.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_m, opt.state[0]["exp_avg"], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got_v, opt.state[0]["exp_avg_sq"], rtol=1e-12, atol=1e-300)


# ---- every grader catches plausible bugs, with a small counterexample ----------------------------
def _small(value):
    if isinstance(value, np.ndarray):
        return value.size <= 2 * 4 * 4 * 6 and all(n <= 6 for n in value.shape)
    return True


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS_UNET.items() for b in bugs],
                         ids=[b.__name__ for bugs in BUGS_UNET.values() for b in bugs])
def test_planted_bug_is_caught_with_a_small_counterexample(name, bug):
    from minifcn.exercises.grader import format_result
    t0 = time.perf_counter()
    result = search(BY_NAME[name], bug)
    assert result["status"] in (FAIL, ERROR), f"{bug.__name__} passed the {name} grader"
    assert time.perf_counter() - t0 < 10
    assert all(_small(v) for v in result["case"].values()), {k: getattr(v, "shape", v)
                                                             for k, v in result["case"].items()}
    assert "expected" in result
    report = format_result(result)
    assert "smallest input found" in report and "hint:" in report


# ---- correct solutions in other styles pass -------------------------------------------------------
def ctb_taps_einsum(dy, x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    N, C_in, H, W = x.shape
    _, C_out, KH, KW = weight.shape
    (SH, SW), (PH, PW), (DH, DW) = stride, padding, dilation
    OH, OW = dy.shape[2:]
    rows, cols = (H - 1) * SH + (KH - 1) * DH + 1, (W - 1) * SW + (KW - 1) * DW + 1
    big = np.zeros((N, C_out, max(rows, PH + OH), max(cols, PW + OW)))
    big[:, :, PH:PH + OH, PW:PW + OW] = dy                       # dy on the un-padded output grid
    dx, dw = np.zeros(x.shape), np.zeros(weight.shape)
    for i in range(KH):
        for j in range(KW):
            seen = big[:, :, i * DH:i * DH + (H - 1) * SH + 1:SH, j * DW:j * DW + (W - 1) * SW + 1:SW]
            dx += np.einsum("nohw,co->nchw", seen, weight[:, :, i, j])
            dw[:, :, i, j] = np.einsum("nchw,nohw->co", x, seen)
    return dx, dw, np.einsum("nohw->o", dy)


def ctb_pixel_loops(dy, x, weight, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    N, C_in, H, W = x.shape
    _, C_out, KH, KW = weight.shape
    OH, OW = dy.shape[2:]
    dx, dw, db = np.zeros(x.shape), np.zeros(weight.shape), np.zeros(C_out)
    for n, c, h, w, o, i, j in np.ndindex(N, C_in, H, W, C_out, KH, KW):
        oh = h * stride[0] - padding[0] + i * dilation[0]
        ow = w * stride[1] - padding[1] + j * dilation[1]
        if 0 <= oh < OH and 0 <= ow < OW:
            dx[n, c, h, w] += weight[c, o, i, j] * dy[n, o, oh, ow]
            dw[c, o, i, j] += x[n, c, h, w] * dy[n, o, oh, ow]
    for o in range(C_out):
        db[o] = dy[:, o].sum()
    return dx, dw, db


def sdl_scipy_jacobian(logits, target):
    from scipy.special import softmax                             # a lazy import
    p = softmax(logits, axis=1)
    N, K, H, W = p.shape
    t = (target[:, None] == np.arange(K)[None, :, None, None]).astype(float)
    inter, card = (p * t).sum(axis=(0, 2, 3)), p.sum(axis=(0, 2, 3)) + t.sum(axis=(0, 2, 3))
    dice = (2 * inter + 1) / (card + 1)
    dp = -(2 * t * (card + 1)[None, :, None, None] - (2 * inter + 1)[None, :, None, None]) \
        / ((card + 1) ** 2)[None, :, None, None] / K
    jac = np.einsum("nkhw,kj->nkjhw", p, np.eye(K)) - np.einsum("nkhw,njhw->nkjhw", p, p)   # dp_k/dz_j
    return float(1 - dice.mean()), np.einsum("nkhw,nkjhw->njhw", dp, jac)


def sdl_logsumexp_loops(logits, target):
    from scipy.special import logsumexp
    p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    K = p.shape[1]
    loss, dp = 0.0, np.zeros_like(p)
    for k in range(K):
        t = (target == k).astype(float)
        num, den = 2 * (p[:, k] * t).sum() + 1, p[:, k].sum() + t.sum() + 1
        loss += (1 - num / den) / K
        dp[:, k] = -(2 * t * den - num) / den ** 2 / K
    return loss, p * dp - p * (p * dp).sum(axis=1, keepdims=True)


def relu_mask_product(x):
    return x * (x > 0)


def relu_abs(x):
    return (x + np.abs(x)) / 2


def relub_product(dy, x):
    return dy * (x > 0)


def relub_copy_and_zero(dy, x):
    out = dy.copy()
    out[x <= 0] = 0
    return out


def cc_buffer(skip, x):
    N, C_s, H_s, W_s = skip.shape
    H, W = x.shape[2:]
    out = np.empty((N, C_s + x.shape[1], H, W), dtype=x.dtype)
    top, left = (H_s - H) // 2, (W_s - W) // 2
    out[:, :C_s] = skip[:, :, top:top + H, left:left + W]
    out[:, C_s:] = x
    return out


def cc_stack_channels(skip, x):
    H, W = x.shape[2:]
    top, left = (skip.shape[2] - H) // 2, (skip.shape[3] - W) // 2
    channels = [skip[:, c, top:top + H, left:left + W] for c in range(skip.shape[1])]
    return np.stack(channels + [x[:, c] for c in range(x.shape[1])], axis=1)


def ccb_pad(dy, skip_shape):
    C, H_s, W_s = skip_shape[1:]
    H, W = dy.shape[2:]
    top, left = (H_s - H) // 2, (W_s - W) // 2
    dskip = np.pad(dy[:, :C], ((0, 0), (0, 0), (top, H_s - H - top), (left, W_s - W - left)))
    return dskip, np.array(dy[:, C:])


def ccb_split(dy, skip_shape):
    part, dx = np.split(dy, [skip_shape[1]], axis=1)
    dskip = np.zeros(tuple(skip_shape))
    H, W = dy.shape[2:]
    top, left = (skip_shape[2] - H) // 2, (skip_shape[3] - W) // 2
    dskip[..., top:top + H, left:left + W] += part
    return dskip, dx.copy()


def bnf_np_var(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), keepdims=True)
        unbiased = x.var(axis=(0, 2, 3), ddof=1)
        new = ((1 - momentum) * running_mean + momentum * mean.ravel(),
               (1 - momentum) * running_var + momentum * unbiased)
    else:
        mean, var = running_mean[None, :, None, None], running_var[None, :, None, None]
        new = (running_mean.copy(), running_var.copy())
    return (x - mean) / np.sqrt(var + eps) * gamma[None, :, None, None] + beta[None, :, None, None], *new


def bnf_channel_loop(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    y, rm, rv = np.empty_like(x), running_mean.copy(), running_var.copy()
    for c in range(x.shape[1]):
        v = x[:, c]
        if training:
            mu = v.sum() / v.size
            var = ((v - mu) ** 2).sum() / v.size
            rm[c] = (1 - momentum) * running_mean[c] + momentum * mu
            rv[c] = (1 - momentum) * running_var[c] + momentum * var * v.size / (v.size - 1)
        else:
            mu, var = running_mean[c], running_var[c]
        y[:, c] = gamma[c] * (v - mu) / math.sqrt(var + eps) + beta[c]
    return y, rm, rv


def bnb_staged(dy, x, gamma, running_mean, running_var, training, eps=1e-5):
    """cs231n's staged backward: through x̂, then the variance, then the mean."""
    ax = (0, 2, 3)
    g4 = gamma.reshape(1, -1, 1, 1)
    m = x.size // x.shape[1]
    mu = x.mean(axis=ax, keepdims=True) if training else running_mean.reshape(1, -1, 1, 1)
    var = ((x - mu) ** 2).mean(axis=ax, keepdims=True) if training else running_var.reshape(1, -1, 1, 1)
    xc = x - mu
    std = np.sqrt(var + eps)
    dxhat = dy * g4
    dx = dxhat / std
    if training:
        dvar = (dxhat * xc * -0.5 * std ** -3).sum(axis=ax, keepdims=True)
        dmu = (-dxhat / std).sum(axis=ax, keepdims=True) + dvar * (-2 * xc).mean(axis=ax, keepdims=True)
        dx = dx + dvar * 2 * xc / m + dmu / m
    return dx, (dy * xc / std).sum(axis=ax), dy.sum(axis=ax)


def bnb_sums(dy, x, gamma, running_mean, running_var, training, eps=1e-5):
    dx, dg, db = np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)
    for c in range(x.shape[1]):
        v, g = x[:, c], dy[:, c]
        mu, var = (v.mean(), v.var()) if training else (running_mean[c], running_var[c])
        xhat = (v - mu) / np.sqrt(var + eps)
        dg[c], db[c] = (g * xhat).sum(), g.sum()
        if training:
            dx[:, c] = gamma[c] / np.sqrt(var + eps) * (g - db[c] / v.size - xhat * dg[c] / v.size)
        else:
            dx[:, c] = gamma[c] * g / np.sqrt(var + eps)
    return dx, dg, db


def adam_in_place_on_copies(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.0):
    p, m, v = param.copy(), exp_avg.copy(), exp_avg_sq.copy()
    g = grad + weight_decay * p
    m *= betas[0]
    m += (1 - betas[0]) * g
    v *= betas[1]
    v += (1 - betas[1]) * g ** 2
    denom = np.sqrt(v / (1 - betas[1] ** step)) + eps
    p -= lr / (1 - betas[0] ** step) * m / denom
    return p, m, v


def adam_scalar_loop(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                     weight_decay=0.0):
    p, m, v = np.empty_like(param), np.empty_like(param), np.empty_like(param)
    b1, b2 = betas
    for i in np.ndindex(*param.shape):
        g = grad[i] + weight_decay * param[i]
        m[i] = b1 * exp_avg[i] + (1 - b1) * g
        v[i] = b2 * exp_avg_sq[i] + (1 - b2) * g * g
        p[i] = param[i] - lr * (m[i] / (1 - b1 ** step)) / (math.sqrt(v[i] / (1 - b2 ** step)) + eps)
    return p, m, v


STYLES = {
    "conv_transpose2d_backward": [ctb_taps_einsum, ctb_pixel_loops],
    "softmax_dice_loss": [sdl_scipy_jacobian, sdl_logsumexp_loops],
    "relu": [relu_mask_product, relu_abs],
    "relu_backward": [relub_product, relub_copy_and_zero],
    "crop_and_concat": [cc_buffer, cc_stack_channels],
    "crop_and_concat_backward": [ccb_pad, ccb_split],
    "batch_norm_forward": [bnf_np_var, bnf_channel_loop],
    "batch_norm_backward": [bnb_staged, bnb_sums],
    "adam_step": [adam_in_place_on_copies, adam_scalar_loop],
}


def test_every_new_exercise_has_two_other_styles():
    assert list(STYLES) == NEW and all(len(v) >= 2 for v in STYLES.values())


@pytest.mark.parametrize("name,solution", [(n, f) for n, fs in STYLES.items() for f in fs],
                         ids=[f.__name__ for fs in STYLES.values() for f in fs])
def test_correct_solutions_in_other_styles_pass(name, solution):
    result = search(BY_NAME[name], solution)
    assert result["status"] == PASS, result.get("problem", result.get("message"))


# ---- the U-Net on the student's pieces ------------------------------------------------------------
@pytest.mark.parametrize("padding,size", [("same", 8), ("valid", 44)])
def test_unet_on_every_student_piece_computes_what_the_library_computes(tmp_path, padding, size):
    from minifcn import models, nn
    from minifcn.exercises.swap import student_ops
    init_workbook(tmp_path, solutions=True)
    nn.init.manual_seed(0)
    model = models.UNet(1, 3, base_channels=2, depth=2, padding=padding).to("cpu", dtype=np.float64)
    x = _t(np.random.default_rng(0).standard_normal((2, 1, size, size)))
    for training in (True, False):
        model.train(training)

        def run():
            for p in model.parameters():
                p.grad = None
            y = model(x)
            (y * _t(np.random.default_rng(1).standard_normal(y.shape))).sum().backward()
            return y.numpy(), [p.grad.copy() for p in model.parameters()]
        state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in model.state_dict().items()}
        y0, g0 = run()
        after_library = model.state_dict()
        model.load_state_dict(state)
        with student_ops(model, tmp_path, check=False) as counts:
            y1, g1 = run()
        after_student = model.state_dict()
        assert counts["batch_norm"] == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 10
        assert counts["relu_calls"] == 10 and counts["concat_calls"] == 2 and counts["calls"] == 2
        np.testing.assert_allclose(y1, y0, rtol=1e-10, atol=1e-10)
        for a, b in zip(g1, g0):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        for k in after_library:       # the running statistics moved the same way (training) or not at all
            np.testing.assert_allclose(after_student[k], after_library[k], rtol=1e-10, atol=1e-12)


def test_student_adam_steps_as_the_library_adam():
    from minifcn.exercises.swap import StudentAdam
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 2))
    a, b = _t(start, True), _t(start, True)
    lib = optim.Adam([a], lr=0.01, weight_decay=0.1)
    mine = StudentAdam([b], lr=0.01, weight_decay=0.1, adam_step=S.adam_step)
    for _ in range(5):
        g = rng.standard_normal((3, 2))
        a.grad, b.grad = g.copy(), g.copy()
        lib.step()
        mine.step()
    np.testing.assert_allclose(b.data, a.data, rtol=1e-12)
    assert mine.state_dict()["state"]["0"]["step"] == 5


def test_train_with_every_piece_the_students_trains_and_prints_the_pieces(tmp_path):
    """A few steps of the default U-Net, loss and Adam on the reference workbook: the same losses
    as the library's training (float32), falling, and every operation listed as the student's."""
    from minifcn.exercises.swap import OPERATIONS, train_with_student_ops
    from minifcn.train import TrainConfig, train
    init_workbook(tmp_path / "sol", solutions=True)
    cfg = dict(samples=10, image_size=16, epochs=3, batch_size=4, base_channels=4, depth=2, lr=0.01,
               augment=False, schedule=None)
    lines: list[str] = []
    mine = train_with_student_ops(TrainConfig(out=str(tmp_path / "mine"), **cfg), tmp_path / "sol", check=False,
                                  progress=False, log=lines.append)
    library = train(TrainConfig(out=str(tmp_path / "lib"), **cfg), progress=False, log=lambda s: None)
    assert [h["train_loss"] for h in mine] == pytest.approx([h["train_loss"] for h in library], rel=1e-3)
    assert mine[-1]["train_loss"] < mine[0]["train_loss"]
    table = [line for line in lines if line[2:9] in ("yours  ", "library", "partly ")]
    assert len(table) == len(OPERATIONS) and all(line.startswith("  yours") for line in table), lines


def test_train_exercises_refuses_a_failing_new_piece_and_keeps_stubs_library(tmp_path):
    from minifcn.exercises import swap
    from minifcn.train import TrainConfig
    init_workbook(tmp_path / "sol", solutions=True)
    for name in swap.OPTIONAL:                 # the other new pieces are still stubs ...
        (tmp_path / "sol" / f"{name}.py").unlink()
    init_workbook(tmp_path / "sol")
    path = tmp_path / "sol" / "batch_norm_forward.py"      # ... and this one is written, but wrong
    text = (tmp_path / "sol" / "batch_norm_forward.py").read_text()
    body = BY_NAME["batch_norm_forward"].solution_source().replace("var * m / (m - 1)", "var")
    path.write_text(text.split("def batch_norm_forward")[0] + body)
    assert swap.written_pieces(tmp_path / "sol") == list(swap.REQUIRED) + ["batch_norm_forward"]
    cfg = TrainConfig(samples=10, image_size=16, epochs=1, batch_size=4, base_channels=4, depth=2,
                      out=str(tmp_path / "run"))
    with pytest.raises(swap.StudentPiecesFail, match=r"batch_norm_forward \(FAIL\)"):
        swap.train_with_student_ops(cfg, tmp_path / "sol", progress=False, log=lambda s: None)
    assert not (tmp_path / "run").exists()
    lines = swap.describe({n: None for n in swap.REQUIRED})
    assert sum(line.startswith("  library") for line in lines) == len(swap.OPERATIONS) - 3
    assert sum(line.startswith("  partly ") for line in lines) == 2     # convolutions on your im2col, col2im


def test_student_loss_and_adam_on_a_device_give_the_library_values(device):
    """The student's functions run on host arrays: on a GPU (or the strict stand-in) the loss, its
    gradient and the Adam step come back on the device, equal to the library's."""
    from minifcn import backend
    from minifcn.exercises.swap import StudentAdam, student_segmentation_loss
    from minifcn.train import segmentation_loss
    ops = {"pixel_cross_entropy": S.pixel_cross_entropy, "softmax_dice_loss": S.softmax_dice_loss}
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 3, 4, 4))
    target = backend.to_device(rng.integers(0, 3, (2, 4, 4)), device)
    values = []
    for loss_fn in (segmentation_loss, student_segmentation_loss(ops, segmentation_loss)):
        z = _t(logits, True).to(device)
        z.requires_grad = True
        loss = loss_fn("ce+dice", z, target)
        loss.backward()
        assert backend.device_of(z.grad) == device
        values.append((float(loss.item()), backend.to_numpy(z.grad)))
    assert values[1][0] == pytest.approx(values[0][0], rel=1e-12)
    np.testing.assert_allclose(values[1][1], values[0][1], rtol=1e-9, atol=1e-12)
    p = _t(rng.standard_normal(5), True).to(device)
    p.requires_grad = True
    opt = StudentAdam([p], lr=0.1, adam_step=S.adam_step)
    p.grad = backend.to_device(np.ones(5), device)
    before = p.numpy().copy()
    opt.step()
    np.testing.assert_allclose(p.numpy(), before - 0.1, atol=1e-8)    # step 1: m̂/(√v̂ + eps) = 1/(1 + eps)
    assert backend.device_of(p.data) == device


def test_workbook_markdown_has_no_accidental_list_items(tmp_path):
    """A wrapped task line that starts with '- ' or '+ ' would render as a list item in the notebook."""
    import re
    init_workbook(tmp_path)
    for ex in EXERCISES:
        text = (tmp_path / f"{ex.name}.py").read_text()
        task = text.split("<details>")[0]
        hints = text.split("<details>")[1].split("</details>")[0]
        assert not re.search(r"^# [-+*] ", task, re.M), ex.name
        assert not re.search(r"^#\s{2,}[-+*] ", hints, re.M), ex.name
