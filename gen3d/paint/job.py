"""The engine's "paint" job kind: Latent-Paint through the job queue (see :mod:`..jobs`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..jobs import JobContext, JobKind, register
from ..meshwire import MeshArrays
from ..validate import ParamsModel, Prompt, Seed, TextureSize
from .config import PaintConfig


class PaintParams(ParamsModel):
    """Request params of a paint job. The mesh travels separately (wire format in :mod:`..meshwire`)."""

    prompt: Prompt
    negative_prompt: str = Field("", max_length=1000)
    #: "sd": Stable Diffusion from model_path; "analytic": the Gaussian TEST prior (flat colours only).
    guidance: Literal["sd", "analytic"] = "sd"
    model_path: str | None = Field(None, max_length=4096)
    steps: int = Field(5000, ge=1, le=100_000)
    seed: Seed = 0
    guidance_scale: float = Field(100.0, ge=0, le=1000)
    texture_size: TextureSize = 1024
    use_existing_uvs: bool = True
    up_axis: Literal["y", "z"] = "z"
    preview_every: int = Field(100, ge=1)
    lr: float = Field(1e-2, gt=0, le=1.0)


def run_paint(params: PaintParams, mesh: MeshArrays, ctx: JobContext) -> dict:
    from .run import paint

    cfg = PaintConfig(steps=params.steps, seed=params.seed, texture_size=params.texture_size,
                      preview_every=params.preview_every, lr=params.lr)
    ctx.progress(0, params.steps, "loading model")

    def on_step(info):
        ctx.progress(info.step, params.steps, f"t={info.t}")

    return paint(mesh.positions, mesh.faces, mesh.uv_faces, params.prompt, ctx.out_dir,
                 negative=params.negative_prompt, guidance=params.guidance, model_path=params.model_path,
                 device=ctx.device, cfg=cfg, guidance_scale=params.guidance_scale, up_axis=params.up_axis,
                 use_existing_uvs=params.use_existing_uvs, on_step=on_step, on_preview=ctx.preview,
                 check_cancelled=ctx.check_cancelled)


PAINT = register(JobKind("paint", PaintParams, run_paint, needs_gpu=True, needs_mesh=True,
                         description="Latent-Paint: texture a mesh from a prompt (SDS into a UV latent texture)"))
