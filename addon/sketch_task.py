"""Sketch to asset: the selected meshes, joined, are the Sketch-Shape of one engine "sketch" job;
the returned mesh.glb is imported into the "ProcDream" collection where the sketch was."""

from __future__ import annotations

from pathlib import Path

from ..gen3d.meshwire import encode_mesh
from . import results
from .engine_session import EngineConfig
from .engine_task import EngineTask, Item
from .mesh_export import MeshExportError, bounds, export_object, join
from .tasks import TaskError

#: Settings sent to the engine (gen3d/nerf/job.py SketchParams); ones an engine does not know are left
#: out with a warning (see EngineTask._accepted).
ENGINE_PARAMS = ("prompt", "negative_prompt", "guidance", "model_path", "steps", "refine_steps", "seed",
                 "guidance_scale", "texture_size", "target_faces", "mesh_resolution", "preview_every")


def sketch_item(objects, depsgraph, settings: dict) -> Item:
    parts = []
    for obj in objects:
        try:
            parts.append(export_object(obj, depsgraph))
        except MeshExportError as exc:
            raise TaskError(f"cannot use {exc} as part of the sketch") from None
    joined = join(parts, name="sketch")
    params = {key: settings[key] for key in ENGINE_PARAMS if settings.get(key) is not None}
    params["up_axis"] = "z"
    label = objects[0].name if len(objects) == 1 else f"{len(objects)} objects"
    return Item(label, params, encode_mesh(joined.positions, joined.faces),
                {"objects": [o.name for o in objects], "bounds": bounds(joined)})


class SketchTask(EngineTask):
    label = "Sketch to asset"
    kind = "sketch"
    missing_kind_hint = ("Sketch to asset needs an engine with Latent-NeRF (the 'sketch' job); update ProcDream "
                         "in the engine Python, or use Paint with prompt for now.")

    def __init__(self, config: EngineConfig, item: Item, settings: dict):
        super().__init__(config, [item], settings)

    def apply(self, context, item: Item, out_dir: Path, status: dict) -> str:
        settings = dict(self.settings, sketch_objects=item.data["objects"], sketch_bounds=item.data["bounds"])
        new = results.import_sketch(context, out_dir, settings, status)
        meshes = [o for o in new if o.type == "MESH"]
        if not meshes:
            raise TaskError("the engine's mesh.glb held no mesh")
        return f"added {meshes[0].name!r} to the {results.COLLECTION_NAME!r} collection"
