"""Packaging promises: a light import, a version, the console script's entry point."""
import subprocess
import sys


def test_import_loads_only_numpy():
    code = ("import sys, minifcn; heavy = [m for m in ('scipy', 'matplotlib', 'cupy') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version_and_lazy_submodules():
    import minifcn as mf
    assert mf.__version__.count(".") == 2
    assert mf.nn.Module and mf.metrics.dice and mf.conv_matrix and mf.save and mf.load
    try:
        mf.no_such_thing
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("unknown attribute did not raise")
