"""The job box drawn under a feature's settings: state, object i/n, step/total, ETA, preview, Cancel."""

from __future__ import annotations

import textwrap

from .. import preview, tasks

ICONS = {"NONE": "INFO", "STARTING": "SORTTIME", "RUNNING": "PLAY", "DONE": "CHECKMARK", "ERROR": "ERROR",
         "CANCELLED": "CANCEL"}


def format_eta(seconds: float) -> str:
    if seconds < 0:
        return "ETA unknown"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"ETA {seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"ETA {minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"ETA {hours} h {minutes:02d} min"


def wrapped(layout, text: str, width: int = 48, max_lines: int = 12) -> None:
    col = layout.column(align=True)
    col.scale_y = 0.8
    lines = [part for para in text.splitlines() for part in (textwrap.wrap(para, width) or [""])]
    for line in lines[:max_lines]:
        col.label(text=line)
    if len(lines) > max_lines:
        col.label(text="...")


def draw_job(layout, context, kind: str) -> None:
    """Draw the running (or last) job if it is of ``kind`` (a task label)."""
    job = getattr(context.window_manager, "procdream_job", None)
    if job is None or job.state == "NONE" or job.kind != kind:
        return
    running = tasks.busy() and tasks.active().label == kind
    box = layout.box()
    state_name = job.bl_rna.properties["state"].enum_items[job.state].name
    header = box.row()
    header.alert = job.state == "ERROR"
    header.label(text=f"{state_name}: {kind}", icon=ICONS.get(job.state, "INFO"))
    if job.object_count > 1 or (job.object_name and job.object_count):
        box.label(text=f"Object {job.object_index}/{job.object_count}: {job.object_name}", icon="OBJECT_DATA")
    if job.total > 0 and job.state in {"STARTING", "RUNNING"}:
        box.progress(factor=min(1.0, job.step / job.total), type="BAR", text=f"Step {job.step} / {job.total}")
        box.label(text=format_eta(job.eta_s), icon="TIME")
    elif job.total > 0:
        box.label(text=f"Step {job.step} / {job.total}")
    if job.message:
        sub = box.column()
        sub.alert = job.state == "ERROR"
        wrapped(sub, job.message)
    if job.preview_image:
        icon = preview.icon_id(job.preview_image)
        if icon:
            box.template_icon(icon_value=icon, scale=8.0)
        else:
            box.label(text=f"Preview: image '{job.preview_image}' (open it in an Image Editor)", icon="IMAGE_DATA")
    if job.result_path and not running:
        box.label(text=job.result_path, icon="FILE_FOLDER")
    if running:
        box.operator("procdream.cancel_job", text="Cancel", icon="CANCEL")
