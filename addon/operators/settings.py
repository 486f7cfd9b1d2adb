"""Operator settings: a property the caller set wins; otherwise the panel's value in ``scene.procdream``."""

from __future__ import annotations

import bpy

from .. import preferences
from ..properties import TEXTURE_SIZES
from ..tasks import TaskError


def resolve(op, group, names: tuple[str, ...]) -> dict:
    """``{name: value}``: the operator's value when set by the caller, else ``group``'s."""
    out = {}
    for name in names:
        if op.properties.is_property_set(name) or not hasattr(group, name):
            out[name] = getattr(op, name)
        else:
            out[name] = getattr(group, name)
    if "texture_size" in out:
        out["texture_size"] = int(out["texture_size"])
        if out["texture_size"] not in TEXTURE_SIZES:
            raise TaskError(f"texture size {out['texture_size']} is not one of {', '.join(map(str, TEXTURE_SIZES))}")
    return out


def check_prompt(prompt: str, example: str) -> str:
    prompt = " ".join(prompt.split())
    if not prompt:
        raise TaskError(f"The prompt is empty: type what you want (e.g. '{example}') in the panel's Prompt field")
    return prompt


def model_path(op, context, guidance: str, local: bool) -> str | None:
    """The model for Stable Diffusion guidance (the operator's, else the preferences'); None for the
    analytic test prior. Raises TaskError naming the fix when it is missing."""
    if guidance != "sd":
        return None
    prefs = preferences.get(context)
    path = op.model_path if op.model_path else (prefs.model_path if prefs else "")
    path = bpy.path.abspath(path).strip() if path else ""
    if not path:
        raise TaskError("No Stable Diffusion model is set: set a model in Preferences > Add-ons > ProcDream, "
                        "or choose the analytic test prior (Guidance: Analytic)")
    if local:
        import os

        if not os.path.exists(path):
            raise TaskError(f"The model {path} does not exist: set a model in Preferences > Add-ons > "
                            "ProcDream, or choose the analytic test prior (Guidance: Analytic)")
    return path


def selected_meshes(context) -> tuple[list, list]:
    """(selected mesh objects, active one first; other selected objects)."""
    selected = list(getattr(context, "selected_objects", None) or [])
    active = getattr(context, "active_object", None)
    meshes = sorted((o for o in selected if o.type == "MESH"), key=lambda o: (o != active, o.name))
    return meshes, [o for o in selected if o.type != "MESH"]


def mesh_poll(cls, context, what: str) -> bool:
    meshes, others = selected_meshes(context)
    if meshes:
        return True
    if others:
        names = ", ".join(f"{o.name} ({o.type.lower()})" for o in others[:3])
        cls.poll_message_set(f"{what} works on mesh objects; the selection ({names}) has none: select a mesh")
    else:
        cls.poll_message_set(f"Nothing is selected: select a mesh object for {what}")
    return False
