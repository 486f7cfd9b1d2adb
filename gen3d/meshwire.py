"""The wire format for arrays (meshes) sent to the engine as JSON.

An array travels as ``{"dtype": "float32", "shape": [V, 3], "data": "<base64>"}`` where ``data`` is
the base64 of the array's bytes in C order, little-endian, whatever the sending machine's byte order.

A mesh is ``{"positions": (V, 3) float32, "faces": (F, 3) int32, "uv_faces": (F, 3, 2) float32 or
absent}`` with each entry in that array form. Positions are in the object's local units (Blender
metres); ``faces`` index ``positions`` (0-based, counter-clockwise seen from outside);
``uv_faces[f, k]`` is the (u, v) of corner k of face f, with v = 0 at the bottom of the texture
(Blender's convention).

This module imports only the standard library at import time (numpy lazily, inside the functions
that need it) because :mod:`.client` uses it inside Blender's Python.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

#: Wire dtype names and the little-endian numpy type string each maps to.
WIRE_DTYPES = {
    "float32": "<f4",
    "float64": "<f8",
    "int32": "<i4",
    "int64": "<i8",
    "uint32": "<u4",
    "uint16": "<u2",
    "uint8": "|u1",
}

#: Arrays with more dimensions than this are never part of a mesh; refuse them early.
MAX_NDIM = 4


class WireFormatError(ValueError):
    """An array object does not follow the wire format; the message says how."""


@dataclass
class MeshArrays:
    """A decoded, validated mesh: what a job's ``run`` function receives.

    positions: (V, 3) float32; faces: (F, 3) int32 indices into positions; uv_faces: (F, 3, 2)
    float32 per-corner UVs or None.
    """

    positions: Any
    faces: Any
    uv_faces: Any = None

    @property
    def num_vertices(self) -> int:
        return int(self.positions.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])


def encode_array(array: Any) -> dict:
    """Encode a numpy array (any byte order, any memory layout) as a wire object."""
    import numpy as np

    a = np.asarray(array)
    name = a.dtype.name
    if name not in WIRE_DTYPES:
        raise WireFormatError(f"dtype {name} cannot be sent; use one of {sorted(WIRE_DTYPES)}")
    # Converting to the explicit little-endian type fixes the byte order; ascontiguousarray the layout.
    a = np.ascontiguousarray(a.astype(np.dtype(WIRE_DTYPES[name]), copy=False))
    return {"dtype": name, "shape": [int(n) for n in a.shape],
            "data": base64.b64encode(a.tobytes()).decode("ascii")}


def encode_mesh(positions: Any, faces: Any, uv_faces: Any = None) -> dict:
    """Encode a mesh for a job request, casting to the wire's types (float32 / int32)."""
    import numpy as np

    mesh = {"positions": encode_array(np.asarray(positions, dtype=np.float32)),
            "faces": encode_array(np.asarray(faces, dtype=np.int32))}
    if uv_faces is not None:
        mesh["uv_faces"] = encode_array(np.asarray(uv_faces, dtype=np.float32))
    return mesh


def _check_header(obj: Any) -> tuple[str, list[int]]:
    if not isinstance(obj, dict):
        raise WireFormatError("must be an object {dtype, shape, data}")
    extra = set(obj) - {"dtype", "shape", "data"}
    if extra:
        raise WireFormatError(f"unknown keys {sorted(extra)}; expected dtype, shape, data")
    dtype, shape = obj.get("dtype"), obj.get("shape")
    if not isinstance(dtype, str) or dtype not in WIRE_DTYPES:
        raise WireFormatError(f"dtype {dtype!r} is not one of {sorted(WIRE_DTYPES)}")
    # bool is an int subclass in Python; a shape of [True, 3] is a client bug, not a shape.
    if (not isinstance(shape, list) or not 1 <= len(shape) <= MAX_NDIM
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise WireFormatError(f"shape must be a list of 1 to {MAX_NDIM} non-negative integers, got {shape!r}")
    if not isinstance(obj.get("data"), str):
        raise WireFormatError("data must be a base64 string")
    return dtype, shape


def decode_array(obj: Any, max_bytes: int | None = None) -> Any:
    """Decode a wire object into a writable, native-byte-order numpy array.

    ``max_bytes`` bounds the decoded size; it is checked from the header and the length of the
    base64 text before anything is decoded, so an oversized request costs no memory.
    """
    import numpy as np

    dtype_name, shape = _check_header(obj)
    dtype = np.dtype(WIRE_DTYPES[dtype_name])
    nbytes = math.prod(shape) * dtype.itemsize
    if max_bytes is not None and nbytes > max_bytes:
        raise WireFormatError(f"shape {shape} of {dtype_name} is {nbytes} bytes, more than the limit "
                              f"of {max_bytes} bytes")
    text = obj["data"]
    # Base64 carries 3 bytes per 4 characters; anything longer cannot match the shape anyway.
    if len(text) > 4 * math.ceil(nbytes / 3) + 4:
        raise WireFormatError(f"data is longer than shape {shape} of {dtype_name} needs ({nbytes} bytes)")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireFormatError(f"data is not valid base64 ({exc})") from None
    if len(raw) != nbytes:
        raise WireFormatError(f"data has {len(raw)} bytes but shape {shape} of {dtype_name} needs {nbytes}")
    # astype to the native type copies, so the result is writable and independent of `raw`.
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
