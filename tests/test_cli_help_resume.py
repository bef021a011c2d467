"""The command line's rough edges: every option explains itself; --resume stays in its run."""
import argparse
import csv
import json


from minifcn.cli import build_parser, main


def walk(parser, prog="minifcn"):
    """(command, action) for every argument of the parser and of every subcommand, recursively."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{prog} {name}")
        yield prog, action


def test_every_option_of_every_command_has_help_with_its_default():
    parser = build_parser()
    commands = {prog for prog, _ in walk(parser)}
    assert {"minifcn train", "minifcn predict", "minifcn eval", "minifcn arith", "minifcn summary"} <= commands
    missing, no_default = [], []
    for prog, action in walk(parser):
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        text = action.help
        if not text or text is argparse.SUPPRESS or not text.strip():
            missing.append(f"{prog} {name}")
            continue
        # An option (not a positional) says its default, or that it is required.
        if action.option_strings and not ("default" in text or "required" in text):
            no_default.append(f"{prog} {name}: {text!r}")
    assert not missing, f"options without help: {missing}"
    assert not no_default, f"options whose help does not give the default: {no_default}"


def test_help_shows_the_values_a_run_really_gets():
    from minifcn.train import TrainConfig
    d = TrainConfig()
    helps = {action.dest: action.help for prog, action in walk(build_parser()) if prog == "minifcn train"}
    for dest, value in (("epochs", d.epochs), ("lr", d.lr), ("batch_size", d.batch_size),
                        ("image_size", d.image_size), ("samples", d.samples), ("classes", d.num_classes),
                        ("base_channels", d.base_channels), ("depth", d.depth), ("seed", d.seed)):
        assert f"(default: {value})" in helps[dest], (dest, helps[dest])


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_resume_continues_in_the_checkpoints_run_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)               # a wrong default would write ./runs/unet here
    run = tmp_path / "x"
    small = ["--samples", "20", "--image-size", "16", "--batch-size", "4", "--base-channels", "4",
             "--depth", "2", "--quiet"]
    assert main(["train", *small, "--epochs", "1", "--out", str(run)]) == 0
    first = rows(run / "metrics.csv")
    assert [r["epoch"] for r in first] == ["1"]

    assert main(["train", *small, "--epochs", "2", "--resume", str(run / "last.npz")]) == 0
    assert not (tmp_path / "runs").exists(), "resume wrote a second run directory"
    after = rows(run / "metrics.csv")
    assert [r["epoch"] for r in after] == ["1", "2"]          # appended to the same metrics
    assert after[0] == first[0]                               # epoch 1 kept as it was
    assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())] == [1, 2]
    assert "run directory " + str(run) in capsys.readouterr().out
