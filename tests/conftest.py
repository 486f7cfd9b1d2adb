"""Shared test setup: Blender factory reset between tests, and the gpu/slow markers."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: A Python with the engine extra. The LTS venvs (``make test-bpy-<version>``) have no torch and
#: point this at .venv's Python; the main venv is its own engine Python.
ENGINE_PYTHON = os.environ.get("PROCDREAM_TEST_ENGINE_PYTHON") or sys.executable


# The engine's tests import torch, numba or the server's packages at module level. The LTS test venvs have none, and
# run only the ``compat`` tests, none of which is in these modules.
_ENGINE_MODULES = ["test_gen3d_*.py", "test_engine_contract.py", "test_environment.py", "tiny_sd.py"]
collect_ignore_glob = [] if importlib.util.find_spec("torch") else _ENGINE_MODULES


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    # Import torch only when a gpu test was collected: it costs seconds.
    if gpu_items and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU; torch sees none")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _blender_factory_reset():
    """Every test starts from Blender's factory settings, so none sees another's data-blocks."""
    if "bpy" in sys.modules:
        sys.modules["bpy"].ops.wm.read_factory_settings(use_empty=True)
    yield


@pytest.fixture
def bpy():
    """The ``bpy`` module, reset to an empty factory scene."""
    import bpy as _bpy

    _bpy.ops.wm.read_factory_settings(use_empty=True)
    return _bpy


def run_python(args: list[str], *, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run this interpreter in a child process (for things that must start from a fresh Blender)."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)
