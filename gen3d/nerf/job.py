"""The engine's "sketch" job kind: Sketch-to-asset through the job queue (see :mod:`..jobs`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..jobs import JobContext, JobKind, register
from ..meshwire import MeshArrays
from ..validate import ParamsModel, Prompt, Seed, TextureSize


class SketchParams(ParamsModel):
    """Request params of a sketch job; the sketch mesh travels separately (one mesh: join primitives)."""

    prompt: Prompt
    negative_prompt: str = Field("", max_length=1000)
    #: "sd": Stable Diffusion from model_path; "analytic": the Gaussian TEST prior (flat colours only).
    guidance: Literal["sd", "analytic"] = "sd"
    model_path: str | None = Field(None, max_length=4096)
    steps: int = Field(5000, ge=1, le=100_000)
    refine_steps: int = Field(0, ge=0, le=100_000)
    seed: Seed = 0
    guidance_scale: float = Field(100.0, ge=0, le=1000)
    texture_size: TextureSize = 1024
    target_faces: int = Field(20_000, ge=100, le=1_000_000)
    mesh_resolution: int = Field(128, ge=32, le=512)
    up_axis: Literal["y", "z"] = "z"
    preview_every: int = Field(100, ge=1)
    g3dr: bool = False


def run_sketch(params: SketchParams, mesh: MeshArrays, ctx: JobContext) -> dict:
    from ..export.atomic import encode_png
    from ..export.field_mesh import FieldMeshConfig
    from .run import sketch_to_asset, surface_level
    from .sketch import SketchConfig
    from .train import TrainConfig

    cfg = TrainConfig(steps=params.steps, refine_steps=params.refine_steps, seed=params.seed,
                      preview_every=params.preview_every, sketch=SketchConfig(g3dr=params.g3dr))
    export = FieldMeshConfig(resolution=params.mesh_resolution, target_faces=params.target_faces,
                             texture_size=params.texture_size, level=surface_level(cfg.sketch.alpha_scale))
    total = params.steps + params.refine_steps
    ctx.progress(0, total, "building the sketch field")

    def on_step(info):
        ctx.progress(info.step, total, f"{info.stage} stage")

    return sketch_to_asset(mesh.positions, mesh.faces, params.prompt, ctx.out_dir, negative=params.negative_prompt,
                           guidance=params.guidance, model_path=params.model_path, device=ctx.device, cfg=cfg,
                           export=export, guidance_scale=params.guidance_scale, up_axis=params.up_axis,
                           on_step=on_step, on_preview=lambda img: ctx.preview(encode_png(img, compress_level=1)),
                           check_cancelled=ctx.check_cancelled)


SKETCH = register(JobKind("sketch", SketchParams, run_sketch, needs_gpu=True, needs_mesh=True,
                          description="Sketch to asset: Sketch-Shape-guided Latent-NeRF -> textured mesh"))
