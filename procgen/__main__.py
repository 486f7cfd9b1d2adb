"""python -m procdream.procgen --scene-type forest --seed 3 [--gin-param B ...] [--frames N] --out scene.blend"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from .scenes import SCENE_TYPES, SceneConfigError, build, plan

    parser = argparse.ArgumentParser(prog="python -m procdream.procgen",
                                     description="Build a procedural nature scene and save it as a .blend file.")
    parser.add_argument("--scene-type", required=True, choices=SCENE_TYPES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=1, help="camera trajectory length")
    parser.add_argument("--gin-file", action="append", default=[], help="extra gin file (repeatable)")
    parser.add_argument("--gin-param", action="append", default=[], metavar="BINDING",
                        help="gin binding such as trees.density=0 or terrain.resolution=128 (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help=".blend file to write")
    args = parser.parse_args(argv)
    if args.out.suffix != ".blend":
        parser.error(f"--out must end in .blend, got {args.out}")
    try:
        scene_plan = plan(args.scene_type, args.seed, args.gin_param, args.frames, args.gin_file)
    except SceneConfigError as exc:
        parser.exit(2, f"procgen: {exc}\n")

    import bpy

    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = build(scene_plan)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp.blend")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp), compress=True)
    tmp.replace(args.out)
    print(f"{args.scene_type} seed {args.seed}: {len(result.objects)} objects in "
          f"{time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
