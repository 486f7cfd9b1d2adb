"""Which Python runs the engine, and with which environment. Never imports torch."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ENV_VAR = "PROCDREAM_ENGINE_PYTHON"

#: Folder that holds the ``procdream`` package (the extension root's parent when installed).
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class EngineConfigError(RuntimeError):
    """The engine cannot be started as configured; the message says what to change."""


def _has_engine_packages() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "diffusers"))


def resolve(configured: str = "") -> tuple[str, str]:
    """Return ``(interpreter path, where it came from)``.

    Order: the preference, then ``$PROCDREAM_ENGINE_PYTHON``, then the Python running Blender
    when it has the engine packages (the ``bpy``-module case).
    """
    for value, source in ((configured, "preferences"), (os.environ.get(ENV_VAR, ""), ENV_VAR)):
        if not value:
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            raise EngineConfigError(f"Engine Python from {source} does not exist: {path}")
        if not os.access(path, os.X_OK):
            raise EngineConfigError(f"Engine Python from {source} is not executable: {path}")
        return str(path), source
    if _has_engine_packages():
        return sys.executable, "this Python"
    raise EngineConfigError(
        "No engine Python: set one in Preferences > Add-ons > ProcDream, set "
        f"{ENV_VAR}, or create one with 'pip install procdream[engine]'"
    )


def environment() -> dict[str, str]:
    """Environment for the engine process: ``procdream`` importable when installed as an extension."""
    env = dict(os.environ)
    if _PACKAGE_ROOT.name == "procdream":
        # Installed extension: <repo>/procdream/ holds the code, so its parent goes on the path.
        parts = [str(_PACKAGE_ROOT.parent), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    return env
