"""Semantic categories and instance ids: the contract between scene builders and the renderer.

A builder labels an object with :func:`set_label` (custom properties on the object). Before a
render, :func:`assign_instances` gives every renderable object a stable instance id (1-based,
in name order) and writes it to ``pass_index`` so Cycles' Object Index pass carries it.
Semantic ids are fixed across all scenes and datasets; 0 is background for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mathutils import Vector

CATEGORY_PROP = "procdream_category"
STATIC_PROP = "procdream_static"

#: Stable semantic ids. Extend only by appending: dataset users key their classes on these.
CATEGORIES: dict[str, int] = {
    "background": 0,
    "terrain": 1,
    "rock": 2,
    "tree": 3,
    "plant": 4,
    "grass": 5,
    "flower": 6,
    "water": 7,
    "ice": 8,
    "snow": 9,
    "sky": 10,
    "object": 11,
    "unlabeled": 12,
}

#: Largest id Cycles' Object Index pass can carry through ``Object.pass_index``.
MAX_INSTANCES = 32767

RENDERABLE = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}


class LabelError(ValueError):
    pass


def set_label(obj, category: str, static: bool = True) -> None:
    """Record ``obj``'s semantic category (a key of :data:`CATEGORIES`) and whether it moves."""
    if category not in CATEGORIES or category == "background":
        raise LabelError(f"unknown category {category!r} for object {obj.name!r}; "
                         f"known: {', '.join(k for k in CATEGORIES if k != 'background')}")
    obj[CATEGORY_PROP] = category
    obj[STATIC_PROP] = bool(static)


@dataclass
class ObjectRecord:
    instance_id: int
    name: str
    category: str
    semantic_id: int
    static: bool
    aabb: list[list[float]]

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _world_aabb(obj) -> list[list[float]]:
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    return [corners.min(axis=0).round(6).tolist(), corners.max(axis=0).round(6).tolist()]


def assign_instances(scene) -> list[ObjectRecord]:
    """Give each visible renderable object of ``scene`` an instance id and return the table.

    Unlabelled objects get category ``unlabeled``. Ids follow sorted object names, so they do
    not depend on creation order. The AABB is world-space, in metres, at the current frame.
    """
    objs = sorted((o for o in scene.objects if o.type in RENDERABLE and not o.hide_render),
                  key=lambda o: o.name)
    if len(objs) > MAX_INSTANCES:
        raise LabelError(f"{len(objs)} renderable objects; the Object Index pass carries at most {MAX_INSTANCES}")
    records = []
    for i, obj in enumerate(objs, start=1):
        category = obj.get(CATEGORY_PROP, "unlabeled")
        if category not in CATEGORIES or category == "background":
            raise LabelError(f"object {obj.name!r} has unknown category {category!r}; "
                             f"known: {', '.join(k for k in CATEGORIES if k != 'background')}")
        obj.pass_index = i
        records.append(ObjectRecord(i, obj.name, category, CATEGORIES[category],
                                    bool(obj.get(STATIC_PROP, True)), _world_aabb(obj)))
    # Hidden objects must not keep a stale id that could collide.
    for obj in scene.objects:
        if obj.type in RENDERABLE and obj.hide_render:
            obj.pass_index = 0
    return records


def semantic_lut(records: list[ObjectRecord]):
    """uint16 lookup table: instance id -> semantic id (index 0 = background)."""
    lut = np.zeros(len(records) + 1, dtype=np.uint16)
    for r in records:
        lut[r.instance_id] = r.semantic_id
    return lut
