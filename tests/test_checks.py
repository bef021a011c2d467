"""minifcn.checks: one rule (TypeError for a wrong type, ValueError for a wrong value) and
messages that name the argument, the value and the valid range, across the library."""
import numpy as np
import pytest

import minifcn as mf
from minifcn import arith, checks, nn, optim
from minifcn import functional as F


@pytest.mark.parametrize("call, error, match", [
    (lambda: checks.check_int("k", 1.5, 1), TypeError, r"k must be an integer >= 1, got 1.5 of type float"),
    (lambda: checks.check_int("k", True, 0), TypeError, r"k must be an integer >= 0, got True of type bool"),
    (lambda: checks.check_int("k", 0, 1), ValueError, r"k must be an integer >= 1, got 0"),
    (lambda: checks.check_int("k", 9, 2, 5), ValueError, r"k must be an integer in 2\.\.5, got 9"),
    (lambda: checks.check_float("p", "a", 0, 1), TypeError, r"p must be a number in \[0, 1\], got 'a' of type str"),
    (lambda: checks.check_float("p", 1.0, 0, 1, high_open=True), ValueError, r"p must be a number in \[0, 1\), got 1.0"),
    (lambda: checks.check_float("eps", 0.0, 0, low_open=True), ValueError, r"eps must be a number > 0, got 0.0"),
    (lambda: checks.check_float("x", float("nan"), 0), ValueError, r"x must be a number >= 0, got nan"),
    (lambda: checks.check_choice("mode", 3, ("a", "b"), "f"), TypeError, r"f: mode=3 must be a string, one of \('a', 'b'\)"),
    (lambda: checks.check_choice("mode", "c", ("a", "b"), "f"), ValueError, r"f: mode='c' is not one of \('a', 'b'\)"),
    (lambda: checks.check_groups(2, {"in_channels": 3}), ValueError, r"groups=2 must divide in_channels = 3"),
    (lambda: checks.check_groups(2.0, {"in_channels": 4}), TypeError, r"groups must be an integer >= 1, got 2.0"),
    (lambda: checks.check_label_range(np.array([0, 5]), 3, "target", "f", ignore_index=-1), ValueError,
     r"f: target holds label 5, outside \[0, 3\) for K=3 classes and is not ignore_index=-1"),
])
def test_the_checks_follow_one_rule(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert type(info.value) is error


def test_the_checks_return_the_checked_value():
    assert checks.check_int("k", np.int64(3), 1) == 3 and type(checks.check_int("k", np.int64(3), 1)) is int
    assert checks.check_float("p", 1, 0, 1) == 1.0
    assert checks.check_choice("m", "a", ("a", "b")) == "a"
    assert checks.check_groups(2, {"c": 4}) == 2
    checks.check_label_range(np.array([0, 2, -1]), 3, ignore_index=-1)        # no error


x4 = mf.tensor(np.zeros((1, 2, 5, 5), np.float32))
w4 = mf.tensor(np.zeros((2, 2, 3, 3), np.float32))


@pytest.mark.parametrize("call", [
    lambda: arith.conv_output_size(5.0, 3),
    lambda: F.conv2d(x4, w4, groups=1.5),
    lambda: F.conv2d(x4, w4, stride=1.5),
    lambda: F.max_pool2d(x4, 2.5),
    lambda: F.max_pool2d(np.zeros((1, 1, 4, 4), np.int64), 2),
    lambda: F.one_hot(np.array([0, 1]), 2.0),
    lambda: F.cross_entropy(x4, np.zeros((1, 5, 5)), reduction=None),
    lambda: F.dropout(x4, p="0.5"),
    lambda: nn.Conv2d(2.0, 3, 3),
    lambda: nn.BatchNorm2d(2, momentum="0.1"),
    lambda: optim.SGD([mf.tensor([1.0], requires_grad=True)], lr="0.1"),
    lambda: mf.tensor(np.array(["a"])),
])
def test_a_wrong_type_is_a_type_error_everywhere(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize("call", [
    lambda: arith.conv_output_size(0, 3),
    lambda: F.conv2d(x4, w4, groups=3),
    lambda: F.conv2d(x4, w4, stride=0),
    lambda: F.max_pool2d(x4, 0),
    lambda: F.one_hot(np.array([0, 1]), 0),
    lambda: F.cross_entropy(x4, np.zeros((1, 5, 5), np.int64), reduction="avg"),
    lambda: F.dropout(x4, p=1.0),
    lambda: nn.Conv2d(0, 3, 3),
    lambda: nn.BatchNorm2d(2, momentum=2.0),
    lambda: optim.SGD([mf.tensor([1.0], requires_grad=True)], lr=-1.0),
])
def test_a_wrong_value_is_a_value_error_everywhere(call):
    with pytest.raises(ValueError) as info:
        call()
    assert not isinstance(info.value, TypeError)
