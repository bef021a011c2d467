"""The exercises: references agree with independent implementations, every grader catches
plausible wrong solutions with a small counterexample, broken files never stop the grading,
the workbook never overwrites a student's file, and the U-Net trains on the student's pieces."""
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

import minifcn as mf
from minifcn import arith, metrics
from minifcn import functional as F
from minifcn.exercises import solutions as S
from minifcn.exercises.catalogue import BY_NAME, EXERCISES
from minifcn.exercises.grader import ERROR, FAIL, PASS, TOO_SLOW, USES_LIBRARY, load_function, search
from minifcn.exercises.workbook import file_status, init_workbook, list_lines

sys.path.insert(0, str(Path(__file__).parent))
from exercise_bugs import BUGS, HOLES  # noqa: E402
from exercise_styles import STYLES  # noqa: E402
from exercise_bugs_unet import BUGS_UNET  # noqa: E402  (the U-Net exercises: test_exercises_unet.py)


# ---- the reference solutions against independent implementations ------------------------------
def _t(a):
    return mf.tensor(a, dtype="float64")


@given(BY_NAME["im2col"].cases())
def test_im2col_reference_is_the_naive_loop(case):
    x, (KH, KW), (SH, SW), (PH, PW), (DH, DW) = case.values()
    N, C, H, W = x.shape
    cols = S.im2col(*case.values())
    OH, OW = arith.conv_output_size(H, KH, SH, PH, DH), arith.conv_output_size(W, KW, SW, PW, DW)
    assert cols.shape == (N, C * KH * KW, OH * OW)
    for n, c, i, j, oh, ow in np.ndindex(N, C, KH, KW, OH, OW):
        h, w = oh * SH - PH + i * DH, ow * SW - PW + j * DW
        want = x[n, c, h, w] if 0 <= h < H and 0 <= w < W else 0.0
        assert cols[n, (c * KH + i) * KW + j, oh * OW + ow] == want


@given(BY_NAME["conv2d_forward"].cases())
def test_conv2d_reference_matches_the_library(case):
    x, w, b, s, p, d = case.values()
    want = F.conv2d(_t(x), _t(w), None if b is None else _t(b), stride=s, padding=p, dilation=d).data
    np.testing.assert_allclose(S.conv2d_forward(x, w, b, s, p, d), want, atol=1e-9)


@given(BY_NAME["conv2d_backward"].cases())
def test_conv2d_backward_reference_matches_the_library_autograd(case):
    dy, x, w, s, p, d = case.values()
    xt, wt, bt = _t(x), _t(w), _t(np.zeros(w.shape[0]))
    for t in (xt, wt, bt):
        t.requires_grad = True
    (F.conv2d(xt, wt, bt, stride=s, padding=p, dilation=d) * _t(dy)).sum().backward()
    for got, want in zip(S.conv2d_backward(dy, x, w, s, p, d), (xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(got, want, atol=1e-9)


@given(BY_NAME["conv_transpose2d"].cases())
def test_conv_transpose2d_reference_matches_the_library(case):
    x, w, s, p, op, d = case.values()
    want = F.conv_transpose2d(_t(x), _t(w), stride=s, padding=p, output_padding=op, dilation=d).data
    np.testing.assert_allclose(S.conv_transpose2d(x, w, s, p, op, d), want, atol=1e-9)


@given(BY_NAME["max_pool2d_with_indices"].cases())
def test_pool_and_unpool_references_match_the_library(case):
    x, k, s, p, d = case.values()
    y, idx = F.max_pool2d(_t(x), k, stride=s, padding=p, dilation=d, return_indices=True)
    ry, ridx = S.max_pool2d_with_indices(x, k, s, p, d)
    np.testing.assert_array_equal(ry, y.data)
    np.testing.assert_array_equal(ridx, idx.data)
    if s[0] >= k[0] and s[1] >= k[1] and p == (0, 0):
        np.testing.assert_array_equal(S.max_unpool2d(ry, ridx, x.shape[2:]),
                                      F.max_unpool2d(y, idx, k, stride=s, output_size=x.shape[2:]).data)


@given(BY_NAME["unpool_nearest"].cases())
def test_unpool_references_match_the_library(case):
    x, scale = case.values()
    np.testing.assert_array_equal(S.unpool_nearest(x, scale), F.unpool_nearest(_t(x), scale).data)
    np.testing.assert_array_equal(S.unpool_bed_of_nails(x, scale), F.unpool_bed_of_nails(_t(x), scale).data)


@given(BY_NAME["conv_matrix"].cases())
def test_conv_matrix_reference_matches_the_library(case):
    w, size, s, p, d = case.values()
    np.testing.assert_array_equal(S.conv_matrix(w, size, s, p, d),
                                  mf.conv_matrix(w[None, None], size, stride=s, padding=p, dilation=d))


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_bilinear_kernel_reference_matches_the_library(scale):
    np.testing.assert_array_equal(S.bilinear_kernel(2, scale), F.bilinear_kernel(2, 2, scale, dtype="float64"))


@given(BY_NAME["conv_output_size"].cases())
def test_conv_output_size_reference_matches_arith(case):
    i, k, s, p, d, kind, op, ceil = case.values()
    want = {"conv": lambda: arith.conv_output_size(i, k, s, p, d),
            "transpose": lambda: arith.conv_transpose_output_size(i, k, s, p, op, d),
            "pool": lambda: arith.pool_output_size(i, k, s, p, d, ceil)}[kind]()
    assert S.conv_output_size(i, k, s, p, d, kind, op, ceil) == want


def test_receptive_field_reference_on_known_stacks():
    assert S.receptive_field([(3, 1, 1)] * 2) == 5                       # two 3x3 convs
    assert S.receptive_field([(2, 2, 1)] * 3) == 8                       # three 2x2/2 pools
    assert S.receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == 15    # dilations 1, 2, 4
    assert S.receptive_field([(3, 1, 1), (2, 2, 1), (3, 1, 1)]) == 8     # conv, pool, conv


@given(BY_NAME["dice_iou"].cases())
def test_metric_references_match_the_library(case):
    pred, target, k = case.values()
    dice, iou = S.dice_iou(pred, target, k)
    np.testing.assert_allclose(dice, metrics.dice(pred, target, k), equal_nan=True)
    np.testing.assert_allclose(iou, metrics.iou(pred, target, k), equal_nan=True)


@given(BY_NAME["hausdorff_distance"].cases())
def test_hausdorff_reference_matches_the_library(case):
    p, t, q = case.values()
    np.testing.assert_allclose(S.hausdorff_distance(p, t, q), metrics.hausdorff_distance(p, t, percentile=q),
                               equal_nan=True)


@given(BY_NAME["dice_loss"].cases())
def test_loss_references_match_the_library(case):
    probs, target = case.values()
    logits = np.log(probs + 0.1)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    want = F.dice_loss(_t(logits), target, smooth=1.0).data
    np.testing.assert_allclose(S.dice_loss(p, target)[0], want, rtol=1e-9)
    np.testing.assert_allclose(S.pixel_cross_entropy(logits, target)[0],
                               F.cross_entropy(_t(logits), target).data, rtol=1e-9)
    np.testing.assert_array_equal(S.one_hot(target, probs.shape[1]), F.one_hot(target, probs.shape[1], axis=1))


# ---- every grader catches plausible wrong solutions, with a small counterexample --------------
def test_every_exercise_has_at_least_two_planted_bugs():
    assert [e.name for e in EXERCISES if e.name not in BUGS_UNET] == list(BUGS)
    assert len(EXERCISES) >= 18 and all(len(b) >= 2 for b in BUGS.values())
    assert [e.lesson for e in EXERCISES] == sorted(e.lesson for e in EXERCISES)


def _small(value):
    if isinstance(value, np.ndarray):
        if value.ndim == 4:
            N, C, H, W = value.shape
            return N <= 2 and C <= 2 and H <= 5 and W <= 5
        if value.ndim == 2:
            return value.shape[0] <= 5 and value.shape[1] <= 5
        return value.size <= 2 * 2 * 3 * 3 * 25
    return True


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs],
                         ids=[b.__name__ for bugs in BUGS.values() for b in bugs])
def test_planted_bug_is_caught_with_a_small_counterexample(name, bug):
    t0 = time.perf_counter()
    result = search(BY_NAME[name], bug)
    assert result["status"] in (FAIL, ERROR), f"{bug.__name__} passed the {name} grader"
    assert time.perf_counter() - t0 < 10
    case = result["case"]
    assert all(_small(v) for v in case.values()), {k: getattr(v, "shape", v) for k, v in case.items()}
    # the student sees the input, the expected output and (on FAIL) theirs and where they differ
    assert "expected" in result
    if result["status"] == FAIL:
        assert "actual" in result and result["problem"]


def test_shrinking_stops_at_its_time_budget_with_a_failing_input():
    bug = BUGS["conv2d_forward"][1]
    t0 = time.perf_counter()
    result = search(BY_NAME["conv2d_forward"], bug, shrink_budget_s=0.0)
    assert time.perf_counter() - t0 < 5
    assert result["status"] == FAIL and "differs" in result["problem"]   # the input shown really fails


# ---- the workbook, the grader's processes, the command line -----------------------------------
def test_solutions_pass_every_grader_and_a_fresh_workbook_is_not_started(tmp_path, capsys):
    from minifcn.cli import main
    init_workbook(tmp_path / "sol", solutions=True)
    # fewer examples than a student's check (the references are tested against the library above)
    assert main(["exercises", "check", str(tmp_path / "sol"), "--json", "--examples", "25"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] == report["total"] == len(EXERCISES)
    assert main(["exercises", "init", str(tmp_path / "new")]) == 0
    capsys.readouterr()
    assert main(["exercises", "check", str(tmp_path / "new")]) == 1
    out = capsys.readouterr().out
    assert out.count("NOT STARTED") == len(EXERCISES) and f"score: 0/{len(EXERCISES)}" in out


def _plant(folder, name, old, new):
    path = Path(folder) / f"{name}.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_broken_files_are_reported_and_the_others_still_graded(tmp_path, capsys):
    from minifcn.cli import main
    init_workbook(tmp_path, solutions=True)
    _plant(tmp_path, "one_hot", "np.arange(num_classes)", "np.arange(num_classes")        # syntax error
    _plant(tmp_path, "unpool_nearest", "    return x.repeat", "    while True:\n        pass\n    return x.repeat")
    _plant(tmp_path, "im2col", "    N, C, H, W = x.shape", "    N, C, H, W = x.shape +")           # syntax error ...
    _plant(tmp_path, "receptive_field", "    field, jump = 1, 1",                                 # prints, then sys.exit
           "    print('my layers:', layers)\n    import sys\n    sys.exit(3)\n    field, jump = 1, 1")
    _plant(tmp_path, "bilinear_kernel", "import numpy as np", "import numpy as np\nimport os\nos._exit(0)")
    _plant(tmp_path, "unpool_bed_of_nails", "    return out", "    return out[:, :, :-1]")  # wrong shape
    _plant(tmp_path, "unpool_bed_of_nails", "    N, C, H, W = x.shape", "    N, C, H, W = x.shape\n    return [1]")
    _plant(tmp_path, "conv_output_size", "    effective =", "    raise KeyError(kind)\n    effective =")
    (tmp_path / "dice_iou.py").unlink()                                                     # missing
    names = ["one_hot", "unpool_nearest", "unpool_bed_of_nails", "receptive_field", "conv_output_size",
             "dice_iou", "conv2d_forward", "bilinear_kernel", "max_unpool2d"]
    assert main(["exercises", "check", str(tmp_path), *names, "--examples", "40"]) == 1
    out = capsys.readouterr().out
    assert main(["exercises", "check", str(tmp_path), "unpool_bed_of_nails", "max_unpool2d", "--json"]) == 1
    status = {r["name"]: r for r in json.loads(capsys.readouterr().out)["exercises"]}
    assert status["max_unpool2d"]["status"] == PASS and status["unpool_bed_of_nails"]["status"] == FAIL
    assert "syntax error in one_hot.py, line" in out
    # an endless loop: stopped, and said so plainly (no hypothesis internals)
    assert "TOO SLOW     unpool_nearest" in out and "did not return within" in out
    assert "should be a NumPy array of shape" in status["unpool_bed_of_nails"]["problem"]
    assert "KeyError" in out
    # the syntax error is reported in the file it is in, and the exercise that imports it says so
    assert "syntax error in im2col.py, line" in out and "imported by conv2d_forward.py: fix im2col.py first" in out
    assert "sys.exit(3)" in out and "your function printed:" in out and "| my layers: [" in out
    assert "ended while importing bilinear_kernel.py" in out
    assert "NOT STARTED  dice_iou" in out and "PASS         max_unpool2d" in out
    assert "Flaky" not in out and "Traceback" not in out and "hypothesis/" not in out
    assert "score: 1/9 passed" in out


def test_init_never_overwrites_and_list_shows_the_state(tmp_path):
    written, kept = init_workbook(tmp_path)
    assert len(written) == len(EXERCISES) and not kept
    (tmp_path / "im2col.py").write_text("# my work\n")
    (tmp_path / "col2im.py").unlink()
    written, kept = init_workbook(tmp_path, solutions=True)
    assert [p.name for p in written] == ["col2im.py"] and len(kept) == len(EXERCISES) - 1
    assert (tmp_path / "im2col.py").read_text() == "# my work\n"
    assert file_status(tmp_path, "im2col") == "written" and file_status(tmp_path, "one_hot") == "not started"
    lines = list_lines(tmp_path)
    assert [line.split()[0] for line in lines] == [e.name for e in EXERCISES]
    assert "[not started]" in lines[0] and "[written]" in lines[2]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_workbook_files_are_jupytext_notebooks(tmp_path):
    jupytext = pytest.importorskip("jupytext")
    init_workbook(tmp_path)
    nb = jupytext.read(tmp_path / "im2col.py")
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and "code" in kinds
    assert any("def im2col(" in c.source for c in nb.cells)
    fn = load_function(tmp_path / "im2col.py", "im2col")
    with pytest.raises(NotImplementedError):
        fn(np.zeros((1, 1, 2, 2)), (1, 1))
    # the stubs name no reference: an exercise that builds on another imports the student's own
    for ex in EXERCISES:
        text = (tmp_path / f"{ex.name}.py").read_text()
        assert "minifcn.exercises.solutions" not in text and "solutions" not in text
        for helper in ex.uses:
            assert f"from {helper} import {helper}" in text


# ---- the student's code inside the library ----------------------------------------------------
def test_student_ops_give_the_library_results_and_restore(tmp_path, device):
    import minifcn.models.unet as unet_module
    from minifcn import models, nn
    from minifcn.exercises import student_ops
    init_workbook(tmp_path, solutions=True)
    nn.init.manual_seed(0)
    model = models.UNet(1, 2, base_channels=4, depth=2).to(device, dtype=np.float64)
    x = _t(np.random.default_rng(0).standard_normal((2, 1, 8, 8))).to(device)
    r = _t(np.random.default_rng(1).standard_normal((2, 2, 8, 8))).to(device)

    def run():
        for p in model.parameters():
            p.grad = None
        y = model(x)
        (y * r).sum().backward()
        return y.numpy(), [mf.backend.to_numpy(p.grad) for p in model.parameters()]
    y0, g0 = run()
    with student_ops(model, tmp_path, check=False) as counts:
        y1, g1 = run()
    assert counts["conv"] == sum(isinstance(m, nn.Conv2d) for m in model.modules()) > 0
    assert counts["conv_transpose"] == 2 and counts["calls"] == 2 and counts["skipped"] == 0
    np.testing.assert_allclose(y1, y0, atol=1e-12)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert unet_module.F is F and all("forward" not in m.__dict__ for m in model.modules())


def test_train_with_exercises_trains_and_refuses_failing_pieces(tmp_path):
    from minifcn.exercises.swap import StudentPiecesFail, train_with_student_ops
    from minifcn.train import TrainConfig
    init_workbook(tmp_path / "stub")
    cfg = TrainConfig(samples=24, image_size=16, epochs=3, batch_size=4, base_channels=4, depth=2,
                      out=str(tmp_path / "run"))
    with pytest.raises(StudentPiecesFail, match="im2col .NOT STARTED.*max_unpool2d"):
        train_with_student_ops(cfg, tmp_path / "stub", progress=False, log=lambda s: None)
    assert not (tmp_path / "run").exists()
    init_workbook(tmp_path / "sol", solutions=True)
    history = train_with_student_ops(cfg, tmp_path / "sol", progress=False, log=lambda s: None)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


# ---- the second edition's grader: holes of the first one, false alarms, integrity ---------------
@pytest.mark.parametrize("name,bug,kind", [(n, b, k) for n, bugs in HOLES.items() for b, k in bugs],
                         ids=[b.__name__ for bugs in HOLES.values() for b, _ in bugs])
def test_holes_of_the_first_grader_are_caught_and_named(name, bug, kind):
    """Integer/float16 buffers, wrong dtypes, in-place changes and views passed the first grader."""
    t0 = time.perf_counter()
    result = search(BY_NAME[name], bug)
    assert time.perf_counter() - t0 < 10
    assert result["status"] == FAIL and result["kind"] == kind, result
    words = {"value": "expected", "dtype": "dtype", "modified": "changed its argument", "aliased": "shares memory"}
    assert words[kind] in result["problem"]


@pytest.mark.parametrize("name,fn", [(n, f) for n, fs in STYLES.items() for f in fs]
                         + [(e.name, e.reference) for e in EXERCISES],
                         ids=[f.__name__ for fs in STYLES.values() for f in fs] + [e.name for e in EXERCISES])
def test_correct_solutions_in_every_style_pass(name, fn):
    """Loops, einsum, as_strided, np.add.at, lazy SciPy imports: a false alarm is as bad as a miss."""
    result = search(BY_NAME[name], fn)
    assert result["status"] == PASS, result.get("problem") or result.get("message")


def test_slow_but_correct_is_reported_as_slow_with_its_time():
    def slow_one_hot(labels, num_classes):
        t = time.process_time()
        while time.process_time() - t < 0.06:
            pass
        return S.one_hot(labels, num_classes)
    result = search(BY_NAME["one_hot"], slow_one_hot, call_limit=0.03)
    assert result["status"] == TOO_SLOW
    assert "per call" in result["message"] and "the limit is 0.03 s per call" in result["message"]
    assert "endless" not in result["message"]


def _cheat_workbook(folder):
    init_workbook(folder, solutions=True)
    (folder / "im2col.py").write_text("from minifcn.exercises.solutions import im2col  # noqa\n")
    (folder / "col2im.py").write_text(
        "import numpy as np\nfrom minifcn.functional.im2col import col2im as _c\n\n\n"
        "def col2im(cols, input_size, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):\n"
        "    N, CKK, L = cols.shape\n"
        "    return _c(cols, (N, CKK // (kernel_size[0] * kernel_size[1])) + tuple(input_size), kernel_size,\n"
        "              stride, ((padding[0],) * 2, (padding[1],) * 2), dilation)\n")
    (folder / "hausdorff_distance.py").write_text(
        "import importlib\n\n\ndef hausdorff_distance(pred, target, percentile=100):\n"
        "    metrics = importlib.import_module('minifcn.' + 'metrics')\n"
        "    return metrics.hausdorff_distance(pred, target, percentile=percentile)\n")


def test_solutions_that_use_the_library_are_reported_and_refused(tmp_path, capsys):
    from minifcn.cli import main
    from minifcn.exercises.swap import StudentPiecesFail, train_with_student_ops
    from minifcn.train import TrainConfig
    _cheat_workbook(tmp_path / "wb")
    names = ["im2col", "col2im", "hausdorff_distance", "max_unpool2d"]
    assert main(["exercises", "check", str(tmp_path / "wb"), *names, "--json", "--examples", "20"]) == 1
    status = {r["name"]: r for r in json.loads(capsys.readouterr().out)["exercises"]}
    assert {n: status[n]["status"] for n in names} == {"im2col": USES_LIBRARY, "col2im": USES_LIBRARY,
                                                      "hausdorff_distance": USES_LIBRARY, "max_unpool2d": PASS}
    assert "im2col.py, line 1: from minifcn.exercises.solutions import im2col" in status["im2col"]["message"]
    assert "minifcn.metrics" in status["hausdorff_distance"]["message"]      # found at run time
    assert main(["exercises", "check", str(tmp_path / "wb"), "im2col", "--examples", "5"]) == 1
    assert "USES LIBRARY im2col" in capsys.readouterr().out
    cfg = TrainConfig(samples=8, image_size=16, epochs=1, batch_size=4, base_channels=4, depth=2,
                      out=str(tmp_path / "run"))
    with pytest.raises(StudentPiecesFail, match=r"im2col \(USES LIBRARY\), col2im \(USES LIBRARY\)"):
        train_with_student_ops(cfg, tmp_path / "wb", progress=False, log=lambda s: None)
    assert not (tmp_path / "run").exists()


_TAMPER = """
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
try:
    import hypothesis
    hypothesis.find = lambda *a, **k: None
except ImportError:
    pass
"""
_TAMPER_GRADER = """
import importlib
grader = importlib.import_module("minifcn.exercises." + "grader")
grader.compare = lambda *a, **k: None
grader.check_answer = lambda *a, **k: None
grader.judge = lambda *a, **k: None
importlib.import_module("minifcn.exercises.solutions").dice_iou = lambda p, t, k: dice_iou(p, t, k)
"""


def test_a_workbook_that_patches_the_grader_still_gets_its_true_verdict(tmp_path, capsys):
    from minifcn.cli import main
    init_workbook(tmp_path, solutions=True)
    _plant(tmp_path, "dice_iou", "iou[k] = inter / (total - inter)", "iou[k] = inter / total")    # wrong
    _plant(tmp_path, "dice_iou", "import numpy as np\n", _TAMPER)
    _plant(tmp_path, "dice_loss", "import numpy as np\n", _TAMPER)                               # right
    _plant(tmp_path, "conv_matrix", "C[oh * OW + ow, h * W + w] += weight[i, j]",
           "C[oh * OW + ow, h * W + w] += weight[KH - 1 - i, KW - 1 - j]")                  # wrong: flipped
    (tmp_path / "conv_matrix.py").write_text((tmp_path / "conv_matrix.py").read_text() + _TAMPER_GRADER
                                             .replace("dice_iou", "conv_matrix"))
    assert main(["exercises", "check", str(tmp_path), "dice_iou", "dice_loss", "conv_matrix", "--json",
                 "--examples", "40"]) == 1
    status = {r["name"]: r for r in json.loads(capsys.readouterr().out)["exercises"]}
    assert status["dice_iou"]["status"] == FAIL and "iou differs" in status["dice_iou"]["problem"]
    assert status["dice_loss"]["status"] == PASS
    assert status["conv_matrix"]["status"] == USES_LIBRARY
    assert status["conv_matrix"]["verdict_without_library"] == FAIL


def test_gradescope_results_follow_the_documented_format(tmp_path, capsys):
    """Gradescope's autograder specification: top-level score (or per-test scores), tests with
    name/score/max_score/status/output/visibility; visibility in visible|hidden|after_due_date|after_published."""
    from minifcn.cli import main
    init_workbook(tmp_path, solutions=True)
    _plant(tmp_path, "one_hot", "np.arange(num_classes)", "np.arange(num_classes + 1)")
    assert main(["exercises", "check", str(tmp_path), "one_hot", "unpool_nearest", "--format", "gradescope",
                 "--examples", "10"]) == 1
    res = json.loads(capsys.readouterr().out)
    visibilities = {"visible", "hidden", "after_due_date", "after_published"}
    allowed_top = {"score", "execution_time", "output", "output_format", "visibility", "stdout_visibility",
                   "extra_data", "tests", "leaderboard"}
    allowed_test = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
                    "tags", "visibility", "extra_data"}
    assert set(res) <= allowed_top and isinstance(res["tests"], list)
    assert res["visibility"] in visibilities and res["stdout_visibility"] in visibilities
    for t in res["tests"]:
        assert set(t) <= allowed_test
        assert isinstance(t["name"], str) and isinstance(t["output"], str)
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert 0 <= t["score"] <= t["max_score"] and t["status"] in ("passed", "failed")
        assert t["visibility"] in visibilities
    assert res["score"] == sum(t["score"] for t in res["tests"]) == 1.0
    one_hot = next(t for t in res["tests"] if t["name"].startswith("one_hot"))
    assert one_hot["status"] == "failed" and "one_hot" in one_hot["output"] and "smallest input" in one_hot["output"]


def test_class_csv_has_a_row_per_workbook(tmp_path, capsys):
    import csv
    import io
    from minifcn.cli import main
    init_workbook(tmp_path / "ann")
    assert main(["exercises", "class", str(tmp_path / "ann"), "--examples", "5"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][0] == "workbook" and rows[0][-2:] == ["passed", "total"]
    assert rows[1][0] == "ann" and set(rows[1][1:-2]) == {"NOT STARTED"} and rows[1][-2:] == ["0", str(len(EXERCISES))]


def test_the_check_cell_of_a_notebook_grades_the_kernel_s_function(tmp_path):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    init_workbook(tmp_path)            # the file on disk stays a stub: NOT STARTED if it were graded
    nb = jupytext.read(tmp_path / "unpool_nearest.py")
    cell = next(c for c in nb.cells if "def unpool_nearest(" in c.source)
    cell.source = ("import numpy as np\n\nSCALE_AXES = (2, 3)\n\n\ndef _rep(a, s, axis):\n    return a.repeat(s, axis=axis)\n\n\n"
                   "def unpool_nearest(x, scale):\n    return _rep(_rep(x, scale, SCALE_AXES[0]), scale, SCALE_AXES[1])\n")
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "PASS         unpool_nearest" in out, out
    # a wrong one in the kernel: FAIL with the same report as 'minifcn exercises check'
    cell.source = cell.source.replace("SCALE_AXES = (2, 3)", "SCALE_AXES = (3, 2)").replace(
        "return _rep(_rep(x", "return np.tile(x, (1, 1, scale, scale)) if x.shape[2] > 1 else _rep(_rep(x")
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "FAIL         unpool_nearest" in out and "smallest input found" in out, out


@pytest.mark.parametrize("name,bug,shown,hidden", [
    ("col2im", "col2im_assign", "use `+=`", "Fold into a zero-padded"),
    ("col2im", "col2im_keeps_padding_origin", "Fold into a zero-padded", "use `+=`"),
    ("pixel_cross_entropy", "pce_no_max", "subtract the maximum", "The gradient is"),
    ("pixel_cross_entropy", "pce_sum_grad", "The gradient is", "subtract the maximum"),
    ("max_pool2d_with_indices", "pool_last_max", "strictly larger", "The index is in the input plane")])
def test_hints_follow_what_the_counterexample_shows(name, bug, shown, hidden):
    from minifcn.exercises.grader import format_details
    import exercise_bugs
    text = format_details(search(BY_NAME[name], getattr(exercise_bugs, bug)))
    assert shown in text and hidden not in text, text


def test_a_function_that_answers_differently_each_time_gets_a_plain_message():
    rng = np.random.default_rng(0)

    def moody(labels, num_classes):
        out = S.one_hot(labels, num_classes)
        return out if rng.random() < 0.7 else out + 1
    result = search(BY_NAME["one_hot"], moody)
    assert result["status"] in (FAIL, ERROR)
    text = json.dumps({k: str(v) for k, v in result.items()})
    assert "Flaky" not in text and "Traceback" not in text


def test_an_exercise_may_declare_arguments_it_updates_in_place():
    """``modifies``: the argument's state after the call is compared as one more output (batch-norm's
    running statistics); the other arguments must still stay unchanged."""
    import dataclasses
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
    from minifcn.exercises.catalogue import Exercise

    def expected(case):
        x, running = case["x"], case["running"].copy()
        running += 0.1 * (x.mean(axis=0) - running)
        return x - x.mean(axis=0), running
    cases = st.builds(lambda x, r: {"x": x, "running": r},      # in signature order (fixed_dictionaries may not be)
                      hnp.arrays(np.float64, (3, 2), elements=st.sampled_from([0.5, 1.0, -2.25])),
                      hnp.arrays(np.float64, (2,), elements=st.sampled_from([0.0, 1.5])))
    toy = Exercise("toy", 1, "toy", ("hint",), lambda: cases, outputs=("y",), expected=expected,
                   modifies=("running",), dtypes=("float64", "float64"))

    def right(x, running):
        running += 0.1 * (x.mean(axis=0) - running)
        return x - x.mean(axis=0)

    def forgets(x, running):
        return x - x.mean(axis=0)

    def centres_x_in_place(x, running):
        running += 0.1 * (x.mean(axis=0) - running)
        x -= x.mean(axis=0)
        return x.copy()
    assert search(toy, right)["status"] == PASS
    result = search(toy, forgets)
    assert result["status"] == FAIL and result["where"] == "running (after the call)"
    result = search(toy, centres_x_in_place)
    assert result["status"] == FAIL and result["kind"] == "modified" and "`x`" in result["problem"]
    assert dataclasses.fields(toy)       # the entry format: positional name, lesson, task, hints, cases
