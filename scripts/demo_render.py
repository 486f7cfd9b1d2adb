"""Demo: build one procedural scene and render it with full ground truth.

    python scripts/demo_render.py --out out/demo [--scene-type meadow] [--seed 0] [--frames 4]
        [--resolution 320 240] [--samples 16] [--gin-param BINDING ...]
    blender -b -P scripts/demo_render.py -- --out out/demo

Writes OUT/scene_000000/frame_NNNN/... in the dataset layout and prints where the previews are.
The dataset generator (scripts/gen_dataset.py) adds resuming, failure isolation and scale-out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _argv() -> list[str]:
    # Under `blender -b -P script -- args`, Blender's own flags come before "--".
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]


def main(argv: list[str]) -> int:
    from procdream.procgen.scenes import SCENE_TYPES, SceneConfigError, build, plan

    parser = argparse.ArgumentParser(description="Render one ProcDream scene with ground truth.")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--scene-type", default="meadow", choices=SCENE_TYPES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--resolution", type=int, nargs=2, default=(320, 240), metavar=("W", "H"))
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--gin-param", action="append", default=[], metavar="BINDING")
    args = parser.parse_args(argv)
    if min(args.resolution) < 1 or args.samples < 1 or args.frames < 1:
        parser.error("--resolution, --samples and --frames must be positive")
    try:
        scene_plan = plan(args.scene_type, args.seed, args.gin_param, args.frames)
    except SceneConfigError as exc:
        parser.error(str(exc))

    import bpy

    from procdream.render_gt import RenderConfig, render_sequence
    from procdream.render_gt.render import RenderSetupError

    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build(scene_plan)
    cfg = RenderConfig(args.resolution[0], args.resolution[1], args.samples)
    scene_dir = args.out / "scene_000000"
    try:
        frames = render_sequence(bpy.context.scene, list(range(1, args.frames + 1)), scene_dir, cfg,
                                 scene_info={"seed": args.seed, "params": scene_plan.to_json()},
                                 progress=lambda done, total: print(f"frame {done}/{total}", flush=True))
    except RenderSetupError as exc:
        parser.error(str(exc))
    print(f"{args.scene_type} seed {args.seed}: {len(frames)} frames ({args.resolution[0]}x{args.resolution[1]}, "
          f"{args.samples} spp) in {time.perf_counter() - t0:.1f} s")
    print(f"previews: {frames[0] / 'preview.png'} ... {frames[-1] / 'preview.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(_argv()))
