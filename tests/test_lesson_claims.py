"""minifcn.lesson: seed() applies $MINIFCN_SEED and refuses bad values clearly; claim() asserts,
names a false claim's value and threshold, refuses a bad op, and records a JSON line."""
import json
import math

import pytest

from minifcn import lesson
from minifcn.lesson import claim, seed


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("MINIFCN_SEED", raising=False)
    monkeypatch.delenv("MINIFCN_CLAIMS", raising=False)


@pytest.mark.parametrize("op, value, threshold, margin", [
    (">", 3.0, 1.0, 2.0), (">=", 1.0, 1.0, 0.0), ("<", -1.0, 0.5, 1.5), ("<=", 2.0, 2.0, 0.0)])
def test_a_true_claim_returns_its_value_and_records_its_margin(op, value, threshold, margin):
    assert claim("c", value, op, threshold) == value
    rec = lesson._CLAIMS[-1]
    assert (rec["name"], rec["op"], rec["value"], rec["threshold"]) == ("c", op, value, threshold)
    assert rec["margin"] == margin and rec["holds"] is True


@pytest.mark.parametrize("op, value, threshold", [(">", 1.0, 1.0), (">=", 0.99, 1.0), ("<", 2.0, 2.0),
                                                  ("<=", 2.5, 2.0)])
def test_a_false_claim_raises_with_name_value_and_threshold(op, value, threshold):
    with pytest.raises(AssertionError) as err:
        claim("dice_gain", value, op, threshold, note="mean paired difference, 5 seeds")
    text = str(err.value)
    assert "dice_gain" in text and f"{value:g}" in text and f"{threshold:g}" in text and op in text
    assert "mean paired difference" in text
    assert lesson._CLAIMS[-1]["holds"] is False and lesson._CLAIMS[-1]["margin"] <= 0


def test_a_nan_value_is_a_false_claim():
    with pytest.raises(AssertionError, match="nan"):
        claim("nan_claim", float("nan"), "<", 1.0)
    assert math.isnan(lesson._CLAIMS[-1]["margin"])


@pytest.mark.parametrize("op", ["==", "=>", "gt", "", None])
def test_a_bad_op_is_refused_naming_the_valid_ones(op):
    with pytest.raises(ValueError, match=r"op must be one of \['<', '<=', '>', '>='\]"):
        claim("c", 1.0, op, 0.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": ""}, "name must be a non-empty string"),
    ({"value": [1.0, 2.0]}, "value and threshold must be numbers"),
    ({"threshold": float("inf")}, "threshold must be finite")])
def test_bad_arguments_are_refused_clearly(kwargs, message):
    args = {"name": "c", "value": 1.0, "op": ">", "threshold": 0.0} | kwargs
    with pytest.raises(ValueError, match=message):
        claim(**args)


def test_claims_append_json_lines(tmp_path, monkeypatch):
    path = tmp_path / "claims.jsonl"
    monkeypatch.setenv("MINIFCN_CLAIMS", str(path))
    monkeypatch.setenv("MINIFCN_SEED", "3")
    claim("first", 0.25, ">", 0.1, note="k of n")
    with pytest.raises(AssertionError):
        claim("second", 5, "<", 4)
    first, second = [json.loads(line) for line in path.read_text().splitlines()]
    assert first == {"name": "first", "value": 0.25, "op": ">", "threshold": 0.1, "margin": 0.25 - 0.1,
                     "holds": True, "note": "k of n", "seed": 3, "file": "test_lesson_claims.py",
                     "line": first["line"]}
    assert second["holds"] is False and second["margin"] == -1.0 and second["seed"] == 3
    source = open(__file__, encoding="utf-8").read().splitlines()
    assert 'claim("first"' in source[first["line"] - 1]        # the line recorded is the caller's


@pytest.mark.parametrize("env, expected", [(None, [0, 7]), ("0", [0, 7]), ("", [0, 7]), ("2", [2000, 2007]),
                                           (" 4 ", [4000, 4007])])
def test_seed_offsets_by_a_thousand_per_minifcn_seed(monkeypatch, env, expected):
    if env is not None:
        monkeypatch.setenv("MINIFCN_SEED", env)
    assert [seed(0), seed(7)] == expected
    assert seed() == expected[0]


@pytest.mark.parametrize("env", ["-1", "1.5", "two", "0x3"])
def test_a_bad_minifcn_seed_is_refused_clearly(monkeypatch, env):
    monkeypatch.setenv("MINIFCN_SEED", env)
    with pytest.raises(ValueError, match=r"MINIFCN_SEED must be an integer >= 0 .*got"):
        seed(0)


@pytest.mark.parametrize("s", [-1, 1.5, True])
def test_a_bad_seed_argument_is_refused(s):
    with pytest.raises(ValueError, match="seed: s must be an integer >= 0"):
        seed(s)
