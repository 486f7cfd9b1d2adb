"""Build dist/procdream-<version>.zip with Blender's own extension builder, then validate it.

    python scripts/build_extension.py [--out dist] [--blender /path/to/blender]

The wheels listed in blender_manifest.toml are fetched into ./wheels first (pip download,
for each wheel's own platform), so a clean clone builds with one command. Without
``--blender`` the builder that ships inside the ``bpy`` wheel is used.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "blender_manifest.toml"

# name-version-python-abi-platform.whl (PEP 427; no build tag in the wheels we bundle).
_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


class BuildError(RuntimeError):
    pass


def fetch_wheels(wheels: list[str], root: Path = ROOT) -> None:
    """Download each manifest wheel that is missing, exactly as named (name, version, platform)."""
    for rel in wheels:
        target = (root / rel).resolve()
        if target.is_file():
            continue
        m = _WHEEL_RE.match(target.name)
        if not m:
            raise BuildError(f"manifest wheel {rel!r} is not a valid wheel file name")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(target.parent), f"{m['name']}=={m['version']}"]
        if m["plat"] != "any":
            cmd += ["--implementation", "cp", "--python-version", "3.11", "--platform", m["plat"]]
        target.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not target.is_file():
            raise BuildError(f"could not fetch {target.name}: {proc.stderr.strip()[-500:] or 'pip saved another file'}")


def builder_command(blender: str | None) -> list[str]:
    """The extension CLI: a Blender binary's ``--command extension``, or bpy's bundled script."""
    if blender:
        return [blender, "--factory-startup", "--command", "extension"]
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("neither --blender nor the bpy module is available; run 'make venv' first")
    base = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(base.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise BuildError(f"bpy at {base} does not ship the extension builder (blender_ext.py)")
    return [sys.executable, str(found[-1])]


def build(out_dir: Path, blender: str | None = None) -> Path:
    manifest = tomllib.loads(MANIFEST.read_text())
    fetch_wheels(manifest.get("wheels", []))
    out_dir.mkdir(parents=True, exist_ok=True)
    zip_path = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    cli = builder_command(blender)
    for args in (["build", "--source-dir", str(ROOT), "--output-filepath", str(zip_path)],
                 ["validate", str(zip_path)]):
        proc = subprocess.run(cli + args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"extension {args[0]} failed:\n{proc.stdout}{proc.stderr}")
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    parser.add_argument("--blender", help="a Blender 4.2+ binary to build with instead of the bpy module")
    args = parser.parse_args(argv)
    try:
        zip_path = build(args.out, args.blender)
    except BuildError as exc:
        print(f"build_extension: {exc}", file=sys.stderr)
        return 1
    print(zip_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
