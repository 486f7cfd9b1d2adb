"""Procedural scene: plan (validates every setting, builds nothing), then build into a NEW scene that
becomes the window's scene. The user's current scene is not touched; if building fails, every
data-block it made is removed again.

Building runs in Blender's main thread and cannot be interrupted once started (a default scene takes
about a second); Esc before that cancels.
"""

from __future__ import annotations

import bpy

from .tasks import JobStateView, Task, TaskError

#: Data-block collections that belong to the UI, not to scene content.
_UI_COLLECTIONS = {"window_managers", "workspaces", "screens"}


def parse_bindings(text: str) -> list[str]:
    return [b.strip() for b in text.replace("\n", ";").split(";") if b.strip()]


def _all_ids() -> set:
    ids = set()
    for prop in bpy.data.bl_rna.properties:
        if prop.type == "COLLECTION" and prop.identifier not in _UI_COLLECTIONS:
            ids.update(i for i in getattr(bpy.data, prop.identifier) if isinstance(i, bpy.types.ID))
    return ids


class SceneTask(Task):
    label = "Procedural scene"

    def __init__(self, scene_type: str, seed: int, frames: int, gin_params: list[str]):
        super().__init__()
        self.scene_type, self.seed, self.frames, self.gin_params = scene_type, seed, frames, gin_params
        self.plan = None
        self.phase = "plan"
        self.scene_name = ""

    def begin(self, context) -> None:
        try:
            from ..procgen import scenes

            self.plan = scenes.plan(self.scene_type, self.seed, self.gin_params, self.frames)
        except ImportError as exc:
            raise TaskError(f"the procedural generators cannot load ({exc}); reinstall the extension") from None
        except Exception as exc:  # SceneConfigError, ParamError, gin errors: bad settings
            raise TaskError(f"bad scene settings: {exc}") from None
        JobStateView(context).set(state="RUNNING", total=1,
                                  message=f"Building a {self.scene_type} scene (seed {self.seed})...")

    def tick(self, context) -> bool:
        if self.phase == "plan":
            self.phase = "build"  # one tick so the panel shows the state before the (blocking) build
            return False
        if self.cancelled:
            return self.finish(context, "CANCELLED", "Procedural scene cancelled; nothing was built")
        return self._build(context)

    def _build(self, context) -> bool:
        from ..procgen import scenes

        window = context.window
        previous = window.scene if window is not None else None
        before = _all_ids()
        scene = bpy.data.scenes.new(f"ProcDream {self.scene_type} {self.seed}")
        try:
            if window is not None:
                window.scene = scene
            with context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
                result = scenes.build(self.plan, scene)
            scene["procdream"] = repr({"scene_type": self.scene_type, "seed": self.seed, "frames": self.frames,
                                       "gin_params": self.gin_params})
        except Exception as exc:
            if window is not None and previous is not None:
                window.scene = previous
            bpy.data.batch_remove([i for i in _all_ids() - before])
            return self.finish(context, "ERROR", f"building the scene failed, nothing was kept: "
                               f"{type(exc).__name__}: {exc}")
        self.scene_name = scene.name
        JobStateView(context).set(step=1, result_path="")
        self.result_applied(context, f"ProcDream: scene {scene.name}")
        return self.finish(context, "DONE", f"Built scene {scene.name!r}: {len(result.objects)} objects, camera "
                           f"{result.camera.name!r}, frames {scene.frame_start}-{scene.frame_end}")
