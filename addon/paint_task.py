"""Paint with prompt: one engine "paint" job per selected mesh, each result a new material."""

from __future__ import annotations

from pathlib import Path

import bpy

from ..gen3d.meshwire import encode_mesh
from . import results
from .engine_session import EngineConfig
from .engine_task import EngineTask, Item
from .mesh_export import MeshArrays, MeshExportError, export_object
from .tasks import TaskError

#: Settings that go to the engine unchanged (see gen3d/paint/job.py PaintParams).
ENGINE_PARAMS = ("prompt", "negative_prompt", "guidance", "model_path", "steps", "seed", "guidance_scale",
                 "texture_size", "lr", "preview_every")


def paint_item(obj, depsgraph, settings: dict) -> Item:
    """Export ``obj`` and build its request; raises TaskError when it cannot be painted."""
    try:
        export = export_object(obj, depsgraph)
    except MeshExportError as exc:
        raise TaskError(f"cannot paint {exc}") from None
    use_existing = bool(settings["use_existing_uvs"]) and export.uv_faces is not None
    if not use_existing and not export.same_topology:
        reason = "it has no UV map" if export.uv_faces is None else "'Use existing UVs' is off"
        raise TaskError(
            f"cannot paint {obj.name!r}: {reason}, and its modifiers change its topology, so new UVs could not "
            "be stored on its mesh. Add a UV map (UV > Smart UV Project) and turn on 'Use existing UVs', or "
            "apply the modifiers")
    params = {key: settings[key] for key in ENGINE_PARAMS if settings.get(key) is not None}
    params.update(use_existing_uvs=use_existing, up_axis="z")
    mesh = encode_mesh(export.positions, export.faces, export.uv_faces if use_existing else None)
    return Item(obj.name, params, mesh, export)


class PaintTask(EngineTask):
    label = "Paint with prompt"
    kind = "paint"
    missing_kind_hint = "Update ProcDream in the engine Python."

    def __init__(self, config: EngineConfig, items: list[Item], settings: dict):
        super().__init__(config, items, settings)

    def apply(self, context, item: Item, out_dir: Path, status: dict) -> str:
        obj = bpy.data.objects.get(item.label)
        export: MeshArrays = item.data
        if obj is None or obj.type != "MESH":
            raise TaskError(f"{item.label!r} was deleted while it was painted; nothing was added")
        mat, warnings = results.apply_paint(obj, export, out_dir, self.settings, status)
        self.warnings += warnings
        return f"added material {mat.name!r} to {obj.name!r}"
