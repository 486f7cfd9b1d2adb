"""Typed, range-checked generator parameters, and geometry hashing for determinism checks.

A generator's ``Params`` is a dataclass whose fields carry ``metadata={"range": (lo, hi),
"unit": "m"}`` (use :func:`param`). :func:`check` validates every field against its range and
names the first bad one, so bad input fails before anything is built.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence

import numpy as np


class ParamError(ValueError):
    """A parameter outside its documented range, or of the wrong kind."""


def param(default, lo=None, hi=None, unit: str = "", doc: str = "", choices: Sequence | None = None):
    """A dataclass field with a documented range (inclusive) or a set of choices."""
    meta = {"unit": unit, "doc": doc}
    if lo is not None or hi is not None:
        meta["range"] = (lo, hi)
    if choices is not None:
        meta["choices"] = tuple(choices)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check(params) -> None:
    """Raise ParamError naming the first field outside its range/choices (recursing into nested params)."""
    cls = type(params).__qualname__
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if dataclasses.is_dataclass(value):
            check(value)
            continue
        lo, hi = f.metadata.get("range", (None, None))
        if lo is not None or hi is not None:
            values = value if isinstance(value, (tuple, list)) else (value,)
            for v in values:
                if not isinstance(v, (int, float)) or isinstance(v, bool) or \
                        (lo is not None and v < lo) or (hi is not None and v > hi):
                    unit = f" {f.metadata['unit']}" if f.metadata.get("unit") else ""
                    raise ParamError(f"{cls}.{f.name} = {value!r} is outside its range "
                                     f"[{lo}, {hi}]{unit}")
        choices = f.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ParamError(f"{cls}.{f.name} = {value!r} is not one of {list(choices)}")


def replace_checked(params, **overrides):
    """``dataclasses.replace`` that names unknown fields and validates the result."""
    names = {f.name for f in dataclasses.fields(params)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ParamError(f"{type(params).__qualname__} has no parameter {unknown[0]!r}; "
                         f"it has: {', '.join(sorted(names))}")
    out = dataclasses.replace(params, **overrides)
    check(out)
    return out


def geometry_hash(objects: Iterable) -> str:
    """SHA-256 over the evaluated-free mesh data of ``objects`` (sorted by name): vertex
    positions (float32), polygons, and object transforms. Equal seeds must give equal hashes."""
    h = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.name):
        h.update(obj.name.encode())
        h.update(np.array(obj.matrix_world, dtype=np.float32).tobytes())
        data = obj.data
        if data is not None and hasattr(data, "vertices"):
            co = np.empty(len(data.vertices) * 3, np.float32)
            data.vertices.foreach_get("co", co)
            h.update(co.tobytes())
            loops = np.empty(len(data.loops), np.int32)
            data.loops.foreach_get("vertex_index", loops)
            h.update(loops.tobytes())
        for mod in getattr(obj, "modifiers", ()):
            h.update(f"{mod.type}:{mod.name}".encode())
    return h.hexdigest()
