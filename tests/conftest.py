"""Shared test set-up: devices, the strict CuPy stand-in, a deterministic hypothesis profile.

Every op test takes the ``device`` fixture and so runs twice: on ``"cpu"`` (NumPy) and on
``"cuda"``. ``"cuda"`` is real CuPy when a GPU is visible, and otherwise the strict stand-in
in ``strict_cupy.py``, whose arrays refuse to be mixed with or silently turned into NumPy
arrays, so a stray ``np.`` call on device data fails here rather than on a student's GPU.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from minifcn import backend

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=int(os.environ.get("MINIFCN_EXAMPLES", 25)),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True)
settings.load_profile("ci")

REAL_GPU = backend.cuda_available()
if not REAL_GPU:
    import strict_cupy
    backend.use_cupy(strict_cupy.module, ndimage=strict_cupy.ndimage)
    strict_cupy.use_names(os.environ.get("MINIFCN_CUPY_VERSION", "14"))  # "13": CuPy 13's names


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Each test runs on the CPU and on the GPU (real CuPy, or the strict stand-in)."""
    return request.param


@pytest.fixture
def xp(device):
    """The array module of ``device``."""
    return backend.module_for(device)


def to_xp(a, device):
    """Put a NumPy array (or nested list) on ``device`` explicitly."""
    return backend.to_device(np.asarray(a), device)
