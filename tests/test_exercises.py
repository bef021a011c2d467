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
from minifcn.exercises.grader import ERROR, FAIL, PASS, load_function, search
from minifcn.exercises.workbook import file_status, init_workbook, list_lines

sys.path.insert(0, str(Path(__file__).parent))
from exercise_bugs import BUGS  # noqa: E402
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
    _plant(tmp_path, "unpool_bed_of_nails", "    return out", "    return out[:, :, :-1]")  # wrong shape
    _plant(tmp_path, "receptive_field", "    return field", "    return [field]")          # wrong type
    _plant(tmp_path, "conv_output_size", "    effective =", "    raise KeyError(kind)\n    effective =")
    (tmp_path / "dice_iou.py").unlink()                                                     # missing
    names = ["one_hot", "unpool_nearest", "unpool_bed_of_nails", "receptive_field", "conv_output_size",
             "dice_iou", "im2col"]
    assert main(["exercises", "check", str(tmp_path), *names, "--examples", "40"]) == 1
    out = capsys.readouterr().out
    assert main(["exercises", "check", str(tmp_path), "unpool_bed_of_nails", "im2col", "--json"]) == 1
    status = {r["name"]: r for r in json.loads(capsys.readouterr().out)["exercises"]}
    assert status["im2col"]["status"] == PASS and status["unpool_bed_of_nails"]["status"] == FAIL
    assert "syntax error in one_hot.py, line" in out
    assert "ran longer than" in out and "endless loop" in out
    assert "shape" in status["unpool_bed_of_nails"]["problem"]
    assert "should be an int, got a list" in out
    assert "KeyError" in out
    assert "NOT STARTED  dice_iou" in out and "PASS         im2col" in out
    assert "score: 1/7 passed" in out


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
