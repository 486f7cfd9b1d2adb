"""The transpiler on real content: every node group in the node-asset files the installed Blender
ships (geometry-nodes, shading and compositing essentials, procedural hair), through the CLI.

Each group is emitted by ``python -m procdream.procgen.transpiler FILE --node-group NAME``, run as
``__main__`` in a factory-fresh Blender, and compared with the original linked from the same file,
by tests/node_mutation.tree_diff: every node property, socket value and flag, link (multi-input
order included), zone, interface item and nested group, read through RNA independently of the
transpiler's serializer. Files from before Blender 4.0 keep legacy interface identifiers
(``Input_N``/``Output_N``), which the Python API cannot recreate (new sockets are always
``Socket_N``): those compare equal to any ``Socket_N`` and their links by socket position.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_python

pytestmark = [pytest.mark.compat, pytest.mark.slow]

DRIVER = ROOT / "tests" / "blender_scripts" / "transpile_assets.py"
#: (asset file stem, group) -> why it does not round-trip. Goal: empty; an entry that starts to
#: pass fails the test, so the list stays honest.
KNOWN_EXCLUSIONS: dict[tuple[str, str], str] = {}


def _asset_files() -> list[Path]:
    import bpy

    # 5.0 ships them in assets/nodes, 4.2 and 4.5 (geometry nodes only) in assets/geometry_nodes.
    assets = Path(bpy.utils.resource_path("LOCAL")) / "datafiles" / "assets"
    return sorted([*assets.glob("nodes/*.blend"), *assets.glob("geometry_nodes/*.blend")])


def test_every_bundled_node_group_round_trips_through_the_cli(tmp_path, capsys):
    import bpy

    files = _asset_files()
    assert files, "this Blender ships no node-asset files"
    failures, total, emit_s, rebuild_s = {}, 0, 0.0, 0.0
    for blend in files:
        proc = run_python([str(DRIVER), str(blend), str(tmp_path / blend.stem)], timeout=600)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-3000:]
        result = json.loads(lines[-1][len("RESULT "):])
        total += len(result["groups"])
        emit_s += result["emit_s"]
        rebuild_s += result["rebuild_s"]
        for group, diff in result["groups"].items():
            if diff:
                failures[(blend.stem, group)] = diff
    with capsys.disabled():
        sys.stdout.write(f"\nBlender {bpy.app.version_string}: {total - len(failures)}/{total} bundled node groups "
                         f"round-trip exactly ({len(files)} files; emit {emit_s:.1f} s, rebuild {rebuild_s:.1f} s)\n")
    assert total > 0
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_EXCLUSIONS}
    assert unexpected == {}
    assert set(failures) == set(KNOWN_EXCLUSIONS)
