"""Round-trip every node group of one node-asset .blend through the transpiler CLI.

    python transpile_assets.py FILE.blend OUT_DIR

For each group: the CLI writes OUT_DIR/<n>.py; then Blender is reset to factory settings, the file
runs as ``__main__`` (rebuilding the group and its nested groups under their names), the original
is *linked* from FILE (linked and local datablocks may share a name), and the two are compared
with tests/node_mutation.tree_diff, which reads RNA independently of the transpiler's serializer.
Prints one ``RESULT {json}`` line: {group: [differences]} plus timings.
"""

from __future__ import annotations

import json
import runpy
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import node_mutation as nm

from procdream.procgen.transpiler.__main__ import main as cli

blend, out_dir = Path(sys.argv[-2]), Path(sys.argv[-1])
out_dir.mkdir(parents=True, exist_ok=True)
with bpy.data.libraries.load(str(blend)) as (data_from, _):
    names = list(data_from.node_groups)

result = {"groups": {}, "emit_s": 0.0, "rebuild_s": 0.0}
for i, name in enumerate(names):
    path = out_dir / f"{i:03d}.py"
    t0 = time.perf_counter()
    try:
        cli([str(blend), "--node-group", name, "-o", str(path)])
    except SystemExit as exc:
        if exc.code not in (0, None):
            result["groups"][name] = [f"CLI exited: {exc.code}"]
            continue
    except Exception as exc:  # a crash in the CLI is a finding, not the end of the walk
        result["groups"][name] = [f"CLI {type(exc).__name__}: {exc}"]
        continue
    t1 = time.perf_counter()
    result["emit_s"] += t1 - t0
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:
        runpy.run_path(str(path), run_name="__main__")
    except Exception as exc:
        result["groups"][name] = [f"rebuild {type(exc).__name__}: {exc}"]
        continue
    result["rebuild_s"] += time.perf_counter() - t1
    with bpy.data.libraries.load(str(blend), link=True) as (_, data_to):
        data_to.node_groups = [name]
    original = next(g for g in bpy.data.node_groups if g.name == name and g.library is not None)
    rebuilt = next(g for g in bpy.data.node_groups if g.name == name and g.library is None)
    result["groups"][name] = nm.tree_diff(original, rebuilt, legacy_identifiers=True)[:5]
print("RESULT " + json.dumps(result))
