"""optim: SGD/Adam/AdamW against PyTorch's documented update equations, schedules against
their closed forms and PyTorch's recursive cosine rule, state round trips, a learning check.

The reference optimisers below are independent loops over steps in float64 NumPy, written
from the pseudo-code in PyTorch's documentation (torch.optim.SGD / Adam / AdamW).
"""
import math

import numpy as np
import pytest

import minifcn as mf
from minifcn import backend, nn, optim
from conftest import to_xp


# --------------------------------------------------------------- references (PyTorch docs)

def sgd_reference(theta, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    theta = theta.copy()
    b = None
    for t, g in enumerate(grads, start=1):
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
    return theta


def adam_reference(theta, grads, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False):
    theta = theta.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            theta = theta - lr * weight_decay * theta           # AdamW: θ ← θ − γλθ
        elif weight_decay != 0:
            g = g + weight_decay * theta                        # Adam: g ← g + λθ
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def run(opt_factory, theta0, grads, device):
    """Apply the optimiser to a float64 parameter, feeding the given gradients one per step."""
    p = nn.Parameter(to_xp(theta0.copy(), device))   # a copy: updates are in place
    opt = opt_factory([p])
    for g in grads:
        opt.zero_grad()
        assert p.grad is None
        p.grad = to_xp(g, device)
        opt.step()
    assert p.device == device and p.dtype == np.float64
    return backend.to_numpy(p.data)


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(5)]


# --------------------------------------------------------------- update rules

@pytest.mark.parametrize("kw", [
    dict(lr=0.1),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.1, momentum=0.8, nesterov=True),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.2),
])
def test_sgd_follows_pytorchs_update(problem, device, kw):
    theta0, grads = problem
    got = run(lambda ps: optim.SGD(ps, **kw), theta0, grads, device)
    np.testing.assert_allclose(got, sgd_reference(theta0, grads, **kw), rtol=1e-12, atol=1e-14)


def test_sgd_momentum_by_hand():
    # constant gradient 1, lr 1, μ 0.5: buffers 1, 1.5, 1.75 -> θ = -(1 + 1.5 + 1.75)
    p = nn.Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0, momentum=0.5)
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step()
    np.testing.assert_allclose(p.numpy(), [-4.25])
    # Nesterov looks ahead: steps g + μb = 1.5, 1.75, 1.875
    p = nn.Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0, momentum=0.5, nesterov=True)
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step()
    np.testing.assert_allclose(p.numpy(), [-5.125])


@pytest.mark.parametrize("kw", [
    dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8),
    dict(lr=0.1, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.1),
])
def test_adam_follows_pytorchs_update(problem, device, kw):
    theta0, grads = problem
    got = run(lambda ps: optim.Adam(ps, **kw), theta0, grads, device)
    expected = adam_reference(theta0, grads, kw["lr"], *kw["betas"], kw["eps"], kw.get("weight_decay", 0.0))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.5)])
def test_adamw_decouples_weight_decay(problem, device, kw):
    theta0, grads = problem
    got = run(lambda ps: optim.AdamW(ps, **kw), theta0, grads, device)
    full = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2) | kw  # PyTorch's defaults
    expected = adam_reference(theta0, grads, full["lr"], *full["betas"], full["eps"], full["weight_decay"],
                              decoupled=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    # and it is not Adam's L2 rule
    l2 = adam_reference(theta0, grads, full["lr"], *full["betas"], full["eps"], full["weight_decay"])
    assert not np.allclose(got, l2, rtol=1e-9, atol=0)


def test_first_adam_step_moves_each_weight_by_lr():
    # m̂ = g and v̂ = g² at t = 1, so the step is lr·g/(|g| + ε) ≈ lr·sign(g)
    p = nn.Parameter(np.array([1.0, 1.0, 1.0]))
    p.grad = np.array([1e-3, -5.0, 200.0])
    optim.Adam([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.numpy(), [0.9, 1.1, 0.9])


def test_float32_parameters_stay_float32(device):
    p = nn.Parameter(to_xp(np.ones(3, np.float32), device))
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-4), optim.Adam([p]), optim.AdamW([p])):
        p.grad = to_xp(np.ones(3, np.float32), device)
        opt.step()
        opt.step()
        assert p.dtype == np.float32 and all(backend.to_numpy(v).dtype == np.float32
                                             for s in opt.state.values() for v in s.values()
                                             if backend.is_array(v))


def test_parameters_without_grad_are_skipped_and_zero_grad_clears():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.5)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), np.ones(2))
    assert not np.allclose(a.numpy(), 1) and 1 not in opt.state
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_updates_are_in_place():
    p = nn.Parameter(np.ones(2))
    data = p.data
    p.grad = np.ones(2)
    optim.SGD([p], lr=0.1).step()
    assert p.data is data


# --------------------------------------------------------------- state round trips

@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.9)),
    lambda ps: optim.AdamW(ps, lr=0.05),
])
def test_optimizer_state_survives_a_checkpoint(make, problem, tmp_path, device):
    theta0, grads = problem
    p = nn.Parameter(to_xp(theta0.copy(), device))
    opt = make([p])
    for g in grads[:3]:
        p.grad = to_xp(g, device)
        opt.step()
    mf.save({"opt": opt.state_dict(), "p": p}, tmp_path / "opt.npz")
    loaded = mf.load(tmp_path / "opt.npz")
    q = nn.Parameter(to_xp(loaded["p"], device))
    opt2 = make([q])
    opt2.lr = 123.0                                        # overwritten by the load
    opt2.load_state_dict(loaded["opt"])
    assert opt2.lr == opt.lr
    for g in grads[3:]:
        for param, o in ((p, opt), (q, opt2)):
            param.grad = to_xp(g, device)
            o.step()
    np.testing.assert_array_equal(backend.to_numpy(q.data), backend.to_numpy(p.data))


def test_optimizer_load_errors_name_the_problem():
    p = nn.Parameter(np.ones((2, 3)))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones((2, 3))
    opt.step()
    state = opt.state_dict()
    with pytest.raises(ValueError, match="from a SGD optimiser, cannot load it into Adam"):
        optim.Adam([p]).load_state_dict(state)
    with pytest.raises(ValueError, match=r"'0.momentum_buffer' has shape \(2, 3\) but parameter 0 has shape \(3,\)"):
        optim.SGD([nn.Parameter(np.ones(3))], lr=0.1, momentum=0.9).load_state_dict(state)
    state["state"]["4"] = state["state"]["0"]
    with pytest.raises(ValueError, match=r"position '4', but this optimiser has 1 parameters"):
        optim.SGD([p], lr=0.1, momentum=0.9).load_state_dict(state)
    with pytest.raises(ValueError, match="must be a dict with keys 'type'"):
        opt.load_state_dict({"lr": 0.1})


@pytest.mark.parametrize("make, error, match", [
    (lambda p: optim.SGD([p], lr=-0.1), ValueError, r"lr must be a number >= 0, got -0.1"),
    (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda p: optim.SGD(p, lr=0.1), TypeError, "not a single Tensor"),
    (lambda p: optim.SGD([p, p], lr=0.1), ValueError, "more than once"),
    (lambda p: optim.SGD([np.ones(2)], lr=0.1), TypeError, r"params\[0\] is a ndarray"),
    (lambda p: optim.SGD([mf.tensor([1.0])], lr=0.1), ValueError, "does not require grad"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be a number in \[0, 1\), got 1.0"),
    (lambda p: optim.Adam([p], betas=0.9), ValueError, "betas=0.9 must be a pair"),
    (lambda p: optim.AdamW([p], eps=-1), ValueError, "eps must be a number >= 0, got -1"),
])
def test_bad_optimizer_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make(nn.Parameter(np.ones(2)))


# --------------------------------------------------------------- learning-rate schedules

def test_step_lr_divides_every_step_size_epochs():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    lrs = [opt.lr]
    for _ in range(8):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    np.testing.assert_allclose(lrs, [0.1] * 3 + [0.05] * 3 + [0.025] * 3)


def cosine_recursive(base, eta_min, T, epochs):
    """PyTorch's recursive CosineAnnealingLR.get_lr (chainable form)."""
    lrs = [base]
    for e in range(1, epochs):
        lr = lrs[-1]
        if (e - 1 - T) % (2 * T) == 0:
            lr = lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
        else:
            lr = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min
        lrs.append(lr)
    return lrs


def test_cosine_annealing_matches_pytorchs_recursion_and_endpoints():
    opt = optim.Adam([nn.Parameter(np.ones(1))], lr=0.2)
    sched = optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    lrs = [opt.lr]
    for _ in range(29):                                    # three half-periods: down, up, down
        sched.step()
        lrs.append(opt.lr)
    np.testing.assert_allclose(lrs, cosine_recursive(0.2, 0.01, 10, 30), rtol=1e-10)
    assert lrs[10] == pytest.approx(0.01) and lrs[5] == pytest.approx((0.2 + 0.01) / 2)
    assert lrs[20] == pytest.approx(0.2)


def test_schedule_state_round_trip():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=8)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    opt2 = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched2 = optim.CosineAnnealingLR(opt2, T_max=8)
    sched2.load_state_dict(state)
    assert opt2.lr == opt.lr and sched2.last_epoch == 3
    sched.step(), sched2.step()
    assert opt2.lr == opt.lr
    with pytest.raises(ValueError, match="from a 'CosineAnnealingLR' schedule, cannot load it into StepLR"):
        optim.StepLR(opt2, 2).load_state_dict(state)
    with pytest.raises(ValueError, match="step_size must be an integer >= 1, got 0"):
        optim.StepLR(opt2, 0)
    with pytest.raises(ValueError, match="T_max must be an integer >= 1, got 0"):
        optim.CosineAnnealingLR(opt2, 0)


# --------------------------------------------------------------- it learns

def test_sgd_fits_a_linear_regression(device):
    # y = X w* + b* + small noise; least squares by SGD with momentum, full batch
    rng = np.random.default_rng(0)
    X_np = rng.standard_normal((64, 3))
    w_true, b_true = np.array([[2.0], [-1.0], [0.5]]), 0.3
    y_np = X_np @ w_true + b_true + 0.01 * rng.standard_normal((64, 1))
    X, y = mf.tensor(X_np, device=device), mf.tensor(y_np, device=device)
    w = nn.Parameter(to_xp(np.zeros((3, 1)), device))
    b = nn.Parameter(to_xp(np.zeros(1), device))
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 4.0                                   # |w*|² + b*² ≈ 5.3 at the start
    assert losses[-1] < 2e-4                                 # the noise floor is 1e-4
    np.testing.assert_allclose(backend.to_numpy(w.data), w_true, atol=0.01)
