"""Render a ProcDream dataset: procedural scenes with RGB and exact ground truth.

    blender -b -P scripts/gen_dataset.py -- --out DIR --scene-type forest --scenes 100 --frames 8 \\
        --resolution 640 480 --samples 64 --seed 0 [--workers N | --ray ADDRESS] [--retry-failed]
    python scripts/gen_dataset.py --out DIR ...          (a Python with the bpy module, e.g. .venv)

Rerunning the same command resumes. `--help` lists every option; the dataset layout is in
DESIGN.md and the README. The job code lives in procdream.render_gt.dataset (the add-on's
"Render dataset" runs it too); this file only finds the package and passes the arguments on.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_package():
    """Import procdream from this checkout, also under Blender's own Python where it is not installed."""
    try:
        import procdream

        if Path(procdream.__file__).resolve().parent == ROOT:
            return procdream
    except ImportError:
        pass
    for name in [m for m in sys.modules if m == "procdream" or m.startswith("procdream.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("procdream", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["procdream"] = module
    spec.loader.exec_module(module)
    return module


def _argv() -> list[str]:
    # Under `blender -b -P script -- args`, Blender's own flags come before "--".
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]


if __name__ == "__main__":
    _import_package()
    from procdream.render_gt.dataset.cli import main

    code = main(_argv())
    sys.stdout.flush()
    # Under the Blender binary, sys.exit inside -P is caught; os._exit gives the shell the real code.
    os._exit(code) if "bpy" in sys.modules and getattr(sys.modules["bpy"].app, "binary_path", "") else sys.exit(code)
