"""Semantic categories: the contract between scene builders and the ground-truth renderer.

A builder labels an object with :func:`set_label` (custom properties on the object); the
renderer (:mod:`.instances`) turns labels into instance and semantic ids. Semantic ids are
fixed across all scenes and datasets; 0 is background.
"""

from __future__ import annotations

CATEGORY_PROP = "procdream_category"
STATIC_PROP = "procdream_static"
#: Volumes of air (haze, fog): rendered in RGB, hidden from the ground-truth render, never numbered.
ATMOSPHERE_PROP = "procdream_atmosphere"
#: A pointer to another object whose instance this object's geometry belongs to.
PART_OF_PROP = "procdream_part_of"
#: On a material: the farthest (m) its displacement can move a surface. 3D boxes grow by it, so
#: they cover what renders, not only the undisplaced mesh.
DISPLACEMENT_PROP = "procdream_max_displacement_m"
#: Name of a material's Mix Shader whose Fac is the surface's opacity (a Transparent BSDF in slot
#: 1): alpha-cut cards. The instance AOV is gated by it (see render_gt.instances).
ALPHA_NODE = "procdream_alpha"

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
    "pebble": 13,
    "twig": 14,
    "log": 15,
    "cactus": 16,
    "mushroom": 17,
    "leaf_litter": 18,
    "dead_grass": 19,
    "bush": 20,
    "fern": 21,
}


class LabelError(ValueError):
    pass


def _check(category: str, where: str) -> str:
    if category not in CATEGORIES or category == "background":
        known = ", ".join(k for k in CATEGORIES if k != "background")
        raise LabelError(f"{where} has unknown category {category!r}; known: {known}")
    return category


def set_label(obj, category: str, static: bool = True) -> None:
    """Record ``obj``'s semantic category (a key of :data:`CATEGORIES`) and whether it moves."""
    obj[CATEGORY_PROP] = _check(category, f"object {obj.name!r}")
    obj[STATIC_PROP] = bool(static)


def category_of(obj) -> str:
    """The recorded category of ``obj`` (``unlabeled`` when none), validated."""
    return _check(obj.get(CATEGORY_PROP, "unlabeled"), f"object {obj.name!r}")


def is_static(obj) -> bool:
    return bool(obj.get(STATIC_PROP, True))


def set_part_of(obj, whole) -> None:
    """Make ``obj``'s geometry part of ``whole``'s instance: the same instance and semantic id in
    every pass and one scene.json record, whose box covers both. For one thing split into
    objects for rendering reasons (the terrain's near grid and far field)."""
    obj[PART_OF_PROP] = whole  # an ID pointer: survives renaming
    set_label(obj, category_of(whole), is_static(whole))


def part_of(obj):
    """The object ``obj`` is part of (see :func:`set_part_of`), or None."""
    return obj.get(PART_OF_PROP)


def set_max_displacement(material, metres: float) -> None:
    material[DISPLACEMENT_PROP] = float(metres)


def max_displacement(obj) -> float:
    """The largest :data:`DISPLACEMENT_PROP` over ``obj``'s materials (0 when none declares one)."""
    return max((float(slot.material.get(DISPLACEMENT_PROP, 0.0)) for slot in getattr(obj, "material_slots", ())
                if slot.material is not None), default=0.0)


def set_atmosphere(obj) -> None:
    """Mark ``obj`` as atmosphere: it shades the RGB image but has no id and no ground truth."""
    obj[ATMOSPHERE_PROP] = True


def is_atmosphere(obj) -> bool:
    return bool(obj.get(ATMOSPHERE_PROP, False))
