"""How to start a fresh Python with Blender and this package: the venv's ``bpy`` module, or the
Blender binary running ``-b --python-expr``. bpy-free."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The package root (the folder holding the top-level ``__init__.py``).
ROOT = Path(__file__).resolve().parents[2]

# Imports the package from ROOT under the name "procdream" when it is not importable as such
# (inside Blender it lives as bl_ext.<repo>.procdream, or as a plain checkout on no path), then runs
# the module named in PROCDREAM_MAIN.
BOOTSTRAP = """
import importlib, importlib.util, os, sys
root = os.environ["PROCDREAM_ROOT"]
try:
    import procdream
    same = os.path.samefile(os.path.dirname(procdream.__file__), root)
except Exception:
    same = False
if not same:
    for name in [m for m in sys.modules if m == "procdream" or m.startswith("procdream.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        "procdream", os.path.join(root, "__init__.py"), submodule_search_locations=[root])
    module = importlib.util.module_from_spec(spec)
    sys.modules["procdream"] = module
    spec.loader.exec_module(module)
sys.exit(importlib.import_module(os.environ["PROCDREAM_MAIN"]).main())
"""


def blender_binary() -> str | None:
    """The Blender executable when this code runs inside one (not the ``bpy`` module), else None."""
    bpy = sys.modules.get("bpy")
    path = getattr(getattr(bpy, "app", None), "binary_path", "") if bpy else ""
    return path or None


def python_command(module: str, env: dict | None = None, args=()) -> tuple[list[str], dict]:
    """argv and environment that run ``module.main()`` in a new process with Blender available.

    ``args`` follow a "--", where both Python (``sys.argv``) and Blender leave them to the script;
    e.g. ``python_command("procdream.render_gt.dataset.cli", args=["--out", DIR])`` runs a dataset.
    """
    env = dict(os.environ if env is None else env)
    env["PROCDREAM_ROOT"] = str(ROOT)
    env["PROCDREAM_MAIN"] = module
    blender = blender_binary()
    if blender:
        argv = [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", BOOTSTRAP]
    else:
        argv = [sys.executable, "-c", BOOTSTRAP]
    if args:
        argv += ["--", *map(str, args)]
    return argv, env
