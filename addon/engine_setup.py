"""Set up engine environment: a virtualenv in the user directory with the engine's packages.

Decision: the venv is made from the Python running Blender (``sys.executable``, Python 3.11) with
``python -m venv <user dir>/engine-venv``, then ``pip install`` of :data:`ENGINE_REQUIREMENTS`, the
``engine`` extra of pyproject.toml (a test keeps the two equal). ProcDream itself is not installed
into it: the engine imports ``procdream`` from the installed extension, which
:func:`.engine_python.environment` puts on ``PYTHONPATH``. That keeps the add-on and the engine at
the same version and needs nothing but PyPI. pip picks torch's default build for the platform
(CUDA on Linux and Windows, which also runs on the CPU).

Nothing is downloaded unless Blender's *Allow Online Access* is on; otherwise the operator explains
how to turn it on, or how to run the same commands by hand.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from . import paths, preferences
from .child_process import ChildProcess
from .tasks import JobStateView, Task, TaskError

#: pyproject.toml's ``engine`` extra (tests/test_addon_jobs.py checks they agree).
ENGINE_REQUIREMENTS = (
    "torch>=2.4",
    "torchvision>=0.19",
    "diffusers>=0.30",
    "transformers>=4.44",
    "open_clip_torch>=2.26",
    "safetensors>=0.4",
    "accelerate>=0.33",
    "xatlas>=0.0.9",
    "numba>=0.60",
    "fastapi>=0.110",
    "uvicorn>=0.30",
    "pillow>=10",
    "scipy>=1.11",
    "scikit-image>=0.22",
    "trimesh>=4.4",
    "fast-simplification>=0.1.7",
    "ninja>=1.11",
)
VENV_NAME = "engine-venv"


def venv_dir() -> Path:
    return paths.base_dir() / VENV_NAME


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def manual_steps(folder: Path | None = None) -> str:
    folder = folder or venv_dir()
    py = venv_python(folder)
    reqs = " ".join(shlex.quote(r) for r in ENGINE_REQUIREMENTS)
    return (f"by hand: '{sys.executable} -m venv {folder}' then '{py} -m pip install {reqs}', and set "
            f"Preferences > Add-ons > ProcDream > Engine Python to {py}")


class SetupTask(Task):
    label = "Set up engine environment"

    def __init__(self, folder: Path, packages: list[str]):
        super().__init__()
        self.folder = folder
        self.python = venv_python(folder)
        self.steps: list[tuple[str, list[str]]] = []
        if not self.python.is_file():
            self.steps.append(("Creating the virtual environment", [sys.executable, "-m", "venv", str(folder)]))
        if packages:
            self.steps.append((f"Installing {len(packages)} packages (torch is large: minutes)",
                               [str(self.python), "-m", "pip", "install", "--upgrade", *packages]))
        self.index = 0
        self.child: ChildProcess | None = None

    def begin(self, context) -> None:
        JobStateView(context).set(state="RUNNING", total=len(self.steps), result_path=str(self.folder))
        self._start_step(context)

    def _start_step(self, context) -> None:
        if self.index >= len(self.steps):
            return
        what, argv = self.steps[self.index]
        try:
            self.child = ChildProcess(argv, env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
        except OSError as exc:
            raise TaskError(f"could not run {argv[0]}: {exc}") from None
        JobStateView(context).set(step=self.index, message=what)

    def abort(self) -> None:
        self.request_cancel()
        if self.child is not None:
            self.child.stop(grace_s=3.0)

    def tick(self, context) -> bool:
        job = JobStateView(context)
        if self.child is None:
            return self._done(context)
        lines = [line for _, line in self.child.drain() if line.strip()]
        if lines:
            job.set(message=f"{self.steps[self.index][0]}: {lines[-1][:150]}")
        if self.cancelled:
            self.child.stop(grace_s=3.0)
            return self.finish(context, "CANCELLED", f"Engine setup cancelled; {self.folder} may be incomplete "
                               "(run the setup again to finish it)")
        code = self.child.poll()
        if code is None:
            return False
        if code != 0:
            return self.finish(context, "ERROR", f"{self.steps[self.index][0]} failed (exit {code}):\n"
                               f"{self.child.tail_text(10)}\nFix the problem and run the setup again, or do it "
                               + manual_steps(self.folder))
        self.index += 1
        job.set(step=self.index)
        if self.index < len(self.steps):
            self._start_step(context)
            return False
        return self._done(context)

    def _done(self, context) -> bool:
        if not self.python.is_file():
            return self.finish(context, "ERROR", f"no Python at {self.python} after the setup; do it "
                               + manual_steps(self.folder))
        prefs = preferences.get(context)
        if prefs is not None:
            prefs.engine_python = str(self.python)
            where = "Engine Python is set to it"
        else:
            where = f"set PROCDREAM_ENGINE_PYTHON={self.python} to use it"
        return self.finish(context, "DONE", f"Engine environment ready at {self.folder}; {where}. Press "
                           "Check engine to verify it.")
