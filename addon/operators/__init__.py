"""Operators. Each is usable from the UI (modal, cancellable) and from scripts (synchronous)."""

from .. import child_process, engine_session, preview, tasks
from . import (
    cancel_job,
    check_engine,
    copy_as_python,
    generate_scene,
    paint_with_prompt,
    render_dataset,
    setup_engine,
    sketch_to_asset,
)

CLASSES = (
    check_engine.PROCDREAM_OT_check_engine,
    copy_as_python.PROCDREAM_OT_copy_as_python,
    paint_with_prompt.PROCDREAM_OT_paint_with_prompt,
    sketch_to_asset.PROCDREAM_OT_sketch_to_asset,
    generate_scene.PROCDREAM_OT_generate_scene,
    render_dataset.PROCDREAM_OT_render_dataset,
    cancel_job.PROCDREAM_OT_cancel_job,
    setup_engine.PROCDREAM_OT_setup_engine,
)


def shutdown():
    """Stop everything the operators started, so disabling the add-on leaves nothing behind:
    the running task and its modal timer, child processes, and the engine this session started."""
    tasks.shutdown()
    check_engine.kill_running()
    child_process.stop_all()
    engine_session.shutdown()
    try:
        preview.clear()
    except (AttributeError, RuntimeError):  # bpy.data is restricted while Blender shuts down
        pass
