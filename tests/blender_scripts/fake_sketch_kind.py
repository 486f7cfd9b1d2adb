"""A stand-in "sketch" job kind for the engine (``--kinds-module fake_sketch_kind``).

It returns the sketch itself as mesh.glb (glTF +Y-up, the sketch's placement and scale) with a flat
texture, the result files the real Latent-NeRF job writes, in a fraction of a second. It lets the
add-on's import path be tested before (and independently of) the real job. Imported before the
built-in kinds, it loads the real job module first so that one cannot replace it afterwards.
"""

from __future__ import annotations

import importlib
import json

import numpy as np
from pydantic import Field

from procdream.gen3d.jobs import JobKind, register
from procdream.gen3d.validate import ParamsModel, Prompt, Seed, TextureSize

try:  # the real kind registers itself on import; make sure ours is the one served
    importlib.import_module("procdream.gen3d.nerf.job")
except ModuleNotFoundError:
    pass


class FakeSketchParams(ParamsModel):
    prompt: Prompt
    negative_prompt: str = ""
    guidance: str = "sd"
    model_path: str | None = None
    steps: int = Field(10, ge=1)
    seed: Seed = 0
    guidance_scale: float = 100.0
    texture_size: TextureSize = 256
    up_axis: str = "z"
    target_faces: int = 1000


def run(params: FakeSketchParams, mesh, ctx) -> dict:
    from procdream.gen3d.export.gltf import write_glb

    pos = np.asarray(mesh.positions, dtype=np.float64)
    if params.up_axis == "z":
        pos = np.stack([pos[:, 0], pos[:, 2], -pos[:, 1]], axis=1)  # Blender Z-up -> glTF Y-up
    for step in range(params.steps):
        ctx.check_cancelled()
        ctx.progress(step + 1, params.steps, "fake sketch")
    uvs = np.full((pos.shape[0], 2), 0.5)
    texture = np.zeros((8, 8, 3), np.uint8)
    texture[..., 1] = 200
    write_glb(ctx.out_dir / "mesh.glb", pos.astype(np.float32), mesh.faces, uvs, texture, name="fake_sketch")
    from procdream.gen3d.export.atomic import save_png

    save_png(ctx.out_dir / "texture.png", texture)
    summary = {"kind": "sketch", "fake": True, "prompt": params.prompt, "seed": params.seed,
               "faces": int(mesh.faces.shape[0])}
    (ctx.out_dir / "result.json").write_text(json.dumps(summary))
    return summary


register(JobKind("sketch", FakeSketchParams, run, needs_mesh=True, description="test stand-in for sketch"))
