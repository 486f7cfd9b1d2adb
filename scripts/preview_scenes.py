"""Build and render one preview of each scene type (or one), and print build/render figures.

    python scripts/preview_scenes.py [--types forest meadow] [--seed 0] [--out out/previews]
                                     [--resolution 320 240] [--samples 16] [--json]

One process per call; peak memory (ru_maxrss) is the process's, so measure one type per process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def _argv() -> list[str]:
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]


def render_preview(scene_type: str, seed: int, out: Path, size=(320, 240), samples: int = 16) -> dict:
    import bpy

    from procdream.procgen.scenes import compose

    bpy.ops.wm.read_factory_settings(use_empty=True)
    t0 = time.perf_counter()
    result = compose(scene_type, seed)
    build_s = time.perf_counter() - t0
    dg = bpy.context.evaluated_depsgraph_get()
    instances = sum(1 for inst in dg.object_instances if inst.is_instance)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    out.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(out / f"{scene_type}.png")
    t0 = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    render_s = time.perf_counter() - t0
    return {"scene_type": scene_type, "seed": seed, "build_s": round(build_s, 2), "render_s": round(render_s, 2),
            "objects": len(result.objects), "instances": instances,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "preview": str(out / f"{scene_type}.png")}


def main(argv: list[str]) -> int:
    from procdream.procgen.scenes import SCENE_TYPES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", nargs="+", choices=SCENE_TYPES, default=list(SCENE_TYPES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/previews"))
    parser.add_argument("--resolution", type=int, nargs=2, default=(320, 240))
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print one JSON line per scene type")
    args = parser.parse_args(argv)
    # Cycles logs to fd 1; keep stdout for the results.
    import os

    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        rows = [render_preview(t, args.seed, args.out, tuple(args.resolution), args.samples) for t in args.types]
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
    for row in rows:
        print(json.dumps(row) if args.json else
              f"{row['scene_type']}: build {row['build_s']} s, render {row['render_s']} s, "
              f"{row['objects']} objects, {row['instances']} instances -> {row['preview']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(_argv()))
