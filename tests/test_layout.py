"""The repository root is the package `procdream` and the extension root; boundaries hold."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"tests", "scripts", ".venv", "dist", "build", "wheels", "out", ".git"}


def _package_dirs() -> list[Path]:
    dirs = []
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel.parts and (rel.parts[0] in SKIP_DIRS or rel.parts[0].startswith(".")):
            continue
        dirs.append(init.parent)
    return dirs


def _imports(path: Path) -> list[tuple[int, str]]:
    """(level, module) of every import statement in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or ""))
    return out


def _package_sources(sub: str = "") -> list[Path]:
    return [p for d in _package_dirs() for p in d.glob("*.py") if str(d.relative_to(ROOT)).startswith(sub)]


def test_pyproject_lists_every_package_on_disk():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"procdream": "."}
    on_disk = {".".join(("procdream", *d.relative_to(ROOT).parts)) for d in _package_dirs()}
    assert on_disk == set(config["packages"])


def test_required_subpackages_exist():
    for sub in ("addon/operators", "addon/panels", "procgen/nodes", "procgen/transpiler",
                "procgen/generators", "procgen/materials", "procgen/configs", "render_gt", "gen3d/cuda"):
        assert (ROOT / sub / "__init__.py").is_file(), sub


def test_imports_inside_the_package_are_relative():
    offenders = [f"{p.relative_to(ROOT)}: {mod}" for p in _package_sources()
                 for level, mod in _imports(p) if level == 0 and mod.split(".")[0] == "procdream"]
    assert offenders == []


def test_gen3d_never_imports_bpy_and_addon_never_imports_torch():
    bad = [f"{p.relative_to(ROOT)}: {m}" for p in _package_sources("gen3d")
           for lvl, m in _imports(p) if lvl == 0 and m.split(".")[0] in {"bpy", "bmesh", "mathutils"}]
    bad += [f"{p.relative_to(ROOT)}: {m}" for p in _package_sources("addon")
            for lvl, m in _imports(p) if lvl == 0 and m.split(".")[0] in {"torch", "diffusers", "transformers"}]
    assert bad == []


def test_package_imports_without_bpy_at_top_level():
    # The engine imports `procdream`; the root __init__ must not pull in Blender.
    import procdream

    assert re.fullmatch(r"\d+\.\d+\.\d+", procdream.__version__)
    source = (ROOT / "__init__.py").read_text()
    assert not any(lvl == 0 and m == "bpy" for lvl, m in _imports(ROOT / "__init__.py")), source


def test_versions_agree():
    import procdream

    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert manifest["version"] == project["version"] == procdream.__version__


def test_bundled_wheels_match_the_constraints():
    # The zip must carry the same gin-config/OpenEXR versions the tests ran with.
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    pins = dict(line.strip().lower().split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    names = set()
    for wheel in manifest["wheels"]:
        name, version = Path(wheel).name.split("-")[:2]
        name = name.lower().replace("_", "-")
        names.add(name)
        assert pins.get(name) == version, (wheel, pins.get(name))
    assert {"gin-config", "openexr"} <= names


def test_extras_declare_the_field_dependencies():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def names(extra):
        return {re.split(r"[<>=!\[ ]", req, maxsplit=1)[0].lower() for req in extras[extra]}

    assert {"bpy", "gin-config", "openexr"} <= names("blender")
    assert {"torch", "diffusers", "transformers", "open_clip_torch", "xatlas", "numba",
            "fastapi", "uvicorn"} <= names("engine")
    assert {"pytest", "pytest-timeout", "ruff", "hypothesis"} <= names("dev")
    assert "bpy==5.0.1" in extras["blender"]
