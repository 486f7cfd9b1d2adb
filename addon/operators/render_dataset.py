"""procdream.render_dataset: render a dataset (RGB + ground truth) in a separate Blender process."""

from __future__ import annotations

from pathlib import Path

import bpy

from ..dataset_task import DatasetTask
from ..properties import SCENE_TYPE_ITEMS
from ..scene_task import parse_bindings
from ..tasks import TaskError
from . import settings
from .task_operator import TaskOperator, busy_poll

NAMES = ("output_dir", "scene_type", "scenes", "frames", "resolution_x", "resolution_y", "samples", "seed",
         "gin_params")


def output_folder(path: str) -> Path:
    if not path.strip():
        raise TaskError("Set an output folder for the dataset (Render dataset panel > Output folder)")
    if path.startswith("//") and not bpy.data.filepath:
        raise TaskError(f"The output folder {path!r} is relative to the .blend file, which is not saved yet: save "
                        "the file or choose an absolute folder")
    return Path(bpy.path.abspath(path)).expanduser().resolve()


class PROCDREAM_OT_render_dataset(TaskOperator, bpy.types.Operator):
    """Render procedural scenes with depth, flow, normals and segmentation into a dataset folder"""

    bl_idname = "procdream.render_dataset"
    bl_label = "Render dataset"
    job_label = "Render dataset"
    bl_options = {"REGISTER"}  # writes files, changes nothing in the .blend

    output_dir: bpy.props.StringProperty(name="Output folder", subtype="DIR_PATH")
    scene_type: bpy.props.EnumProperty(name="Scene type", items=SCENE_TYPE_ITEMS, default="meadow")
    scenes: bpy.props.IntProperty(name="Scenes", min=1, max=1_000_000, default=1)
    frames: bpy.props.IntProperty(name="Frames", min=1, max=10_000, default=4)
    resolution_x: bpy.props.IntProperty(name="Width", min=8, max=16384, default=320)
    resolution_y: bpy.props.IntProperty(name="Height", min=8, max=16384, default=240)
    samples: bpy.props.IntProperty(name="Samples", min=1, max=65536, default=16)
    seed: bpy.props.IntProperty(name="Seed", min=0)
    gin_params: bpy.props.StringProperty(name="Gin bindings", description="Separated by ';'")

    @classmethod
    def poll(cls, context):
        return busy_poll(cls)

    def create_task(self, context):
        v = settings.resolve(self, context.scene.procdream.dataset, NAMES)
        out = output_folder(v["output_dir"])
        args = ["--scene-type", v["scene_type"], "--scenes", v["scenes"], "--frames", v["frames"],
                "--resolution", v["resolution_x"], v["resolution_y"], "--samples", v["samples"], "--seed", v["seed"]]
        for binding in parse_bindings(v["gin_params"]):
            args += ["--gin-param", binding]
        return DatasetTask(out, [str(a) for a in args], v["scenes"], v["frames"])
