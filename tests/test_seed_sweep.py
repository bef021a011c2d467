"""tools/seed_sweep.py on a folder of tiny fake lessons: the table of margins, a claim that
fails at one seed, a lesson that crashes, the JSON, the exit status and the seed syntax."""
import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
spec = importlib.util.spec_from_file_location("seed_sweep", ROOT / "tools" / "seed_sweep.py")
seed_sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seed_sweep)

FAKE = {
    # margin 5 + seed: holds everywhere; "twice" is recorded twice in one run
    "01_ok.py": """\
        from minifcn.lesson import claim, seed
        claim("grows", 10 + seed(0) // 1000, ">", 5)
        claim("twice", 1, "<", 2)
        claim("twice", 1.5, "<", 2)
        """,
    # value 2 - seed: margin 1.5, 0.5, -0.5 at seeds 0, 1, 2 (false at seed 2)
    "02_fails.py": """\
        from minifcn.lesson import claim, seed
        claim("shrinks", 2 - seed(0) // 1000, ">", 0.5, note="2 - seed")
        """,
    # crashes before its second claim at seed 1 only
    "03_crash.py": """\
        import os
        from minifcn.lesson import claim
        claim("before", 3, ">=", 1)
        if os.environ["MINIFCN_SEED"] == "1":
            raise RuntimeError("planted crash at seed one")
        claim("after", 3, ">=", 1)
        """,
}


@pytest.fixture
def lessons(tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    for name, text in FAKE.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def sweep(capsys, lessons, *args):
    code = seed_sweep.main(["--lessons-dir", str(lessons), "--jobs", "2", *args])
    return code, capsys.readouterr().out


def test_all_claims_holding_exit_zero_with_the_margins(capsys, lessons, tmp_path):
    out_json = tmp_path / "sweep.json"
    code, out = sweep(capsys, lessons, "--seeds", "0-2", "--json", str(out_json), "01")
    assert code == 0, out
    doc = json.loads(out_json.read_text())
    rows = {r["name"]: r for r in doc["claims"]}
    assert set(rows) == {"grows", "twice", "twice#2"}
    assert rows["grows"]["margins"] == {"0": 5.0, "1": 6.0, "2": 7.0}       # 10 + seed - 5
    assert rows["grows"]["min_margin"] == 5.0 and rows["grows"]["ok"]
    assert rows["twice#2"]["min_margin"] == 0.5
    assert [r["seed"] for r in doc["runs"]] == [0, 1, 2] and all(r["returncode"] == 0 for r in doc["runs"])
    assert "01_ok" in out and "+5" in out and "FAIL" not in out


def test_a_claim_false_at_one_seed_fails_the_sweep(capsys, lessons, tmp_path):
    out_json = tmp_path / "sweep.json"
    code, out = sweep(capsys, lessons, "--seeds", "0,1,2", "--json", str(out_json), "02")
    assert code == 1
    (row,) = json.loads(out_json.read_text())["claims"]
    assert row["margins"] == {"0": 1.5, "1": 0.5, "2": -0.5}
    assert row["min_margin"] == -0.5 and not row["ok"] and row["note"] == "2 - seed"
    assert "-0.5 FAIL" in out
    assert "claim 'shrinks' is false" in out                    # the crash block shows the AssertionError


def test_a_crashing_lesson_is_reported_with_its_stderr(capsys, lessons, tmp_path):
    out_json = tmp_path / "sweep.json"
    code, out = sweep(capsys, lessons, "--seeds", "0-1", "--json", str(out_json), str(lessons / "03_crash.py"))
    assert code == 1
    rows = {r["name"]: r for r in json.loads(out_json.read_text())["claims"]}
    assert rows["before"]["ok"] and not rows["after"]["ok"] and rows["after"]["missing"] == [1]
    assert "CRASHED: 03_crash at MINIFCN_SEED=1" in out and "planted crash at seed one" in out
    assert "missing" in out


def test_every_lesson_by_default(capsys, lessons):
    code, out = sweep(capsys, lessons, "--seeds", "0")
    assert code == 0                       # at seed 0 nothing fails or crashes
    assert all(name[:-3] in out for name in FAKE)


def test_the_json_file_is_not_overwritten_without_force(capsys, lessons, tmp_path):
    out_json = tmp_path / "mine.json"
    out_json.write_text("keep me")
    with pytest.raises(SystemExit):
        seed_sweep.main(["--lessons-dir", str(lessons), "--json", str(out_json), "01"])
    assert out_json.read_text() == "keep me" and "--force" in capsys.readouterr().err


@pytest.mark.parametrize("text, seeds", [("0-4", [0, 1, 2, 3, 4]), ("3", [3]), ("0,2,5", [0, 2, 5]),
                                         ("5-7,0", [0, 5, 6, 7])])
def test_seed_syntax(text, seeds):
    assert seed_sweep.parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "4-2", "-1", "1-", "0,,1"])
def test_bad_seeds_are_refused_clearly(text):
    with pytest.raises(Exception, match="--seeds must"):
        seed_sweep.parse_seeds(text)


def test_an_unknown_lesson_is_named(lessons):
    with pytest.raises(SystemExit, match="no lesson matches '99'"):
        seed_sweep.main(["--lessons-dir", str(lessons), "99"])


def test_stopping_the_sweep_ends_its_runs(tmp_path):
    """SIGTERM to the sweep kills the lessons it started (they run in their own sessions)."""
    import os, signal, subprocess, sys, time
    folder = tmp_path / "slow"
    folder.mkdir()
    marker = tmp_path / "pid"
    (folder / "01_slow.py").write_text(f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\n"
                                       "time.sleep(60)\n", encoding="utf-8")
    sweep = subprocess.Popen([sys.executable, str(ROOT / "tools" / "seed_sweep.py"), "--lessons-dir", str(folder),
                              "--seeds", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.05)
    lesson_pid = int(marker.read_text())
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(timeout=20) != 0
    for _ in range(100):
        try:
            os.kill(lesson_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(lesson_pid, signal.SIGKILL)
        raise AssertionError("the lesson outlived the sweep")
