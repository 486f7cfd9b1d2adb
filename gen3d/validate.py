"""Request validation shared by the server and the job kinds.

Every problem becomes a :class:`ValidationError` naming the field (``mesh.positions``,
``params.steps``, ``kind``), which the server returns as HTTP 422 with the JSON body
``{"error": {"field": ..., "message": ...}}``.

Job kinds build their params models from the field types here (:data:`Prompt`,
:data:`TextureSize`, :data:`Seed`) on top of :class:`ParamsModel`, so every kind enforces the same
limits and publishes them in its JSON schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .meshwire import MeshArrays, WireFormatError, decode_array

MAX_PROMPT_CHARS = 1000
TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)

#: The JSON Schema of a Prompt says exactly what the server accepts: between optional whitespace,
#: 1 to MAX_PROMPT_CHARS characters that start and end with a non-space (Python's ``str.strip``
#: and the pattern's ``\s`` agree on what whitespace is; a plain maxLength would not, with padding).
PROMPT_PATTERN = rf"^\s*(?:\S|\S[\s\S]{{0,{MAX_PROMPT_CHARS - 2}}}\S)\s*$"
#: A text prompt: surrounding whitespace stripped, then 1 to MAX_PROMPT_CHARS characters.
Prompt = Annotated[str, pydantic.BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v),
                   StringConstraints(min_length=1, max_length=MAX_PROMPT_CHARS),
                   pydantic.WithJsonSchema({"type": "string", "pattern": PROMPT_PATTERN,
                                            "description": f"1 to {MAX_PROMPT_CHARS} characters once "
                                                           "surrounding whitespace is stripped"})]
#: Texture edge length in pixels (square textures); a fixed set so memory use is predictable.
TextureSize = Literal[256, 512, 1024, 2048, 4096]
#: A random seed that fits numpy's and torch's generators.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


class ParamsModel(BaseModel):
    """Base for job params: unknown keys are errors, so a misspelt parameter is never ignored."""

    # Strict: "5" is not an integer and 1 is not true, as the published JSON Schema says.
    model_config = ConfigDict(extra="forbid", strict=True)


class ValidationError(ValueError):
    """Bad input, with the dotted name of the field at fault (``mesh.faces``, ``params.steps``)."""

    def __init__(self, field: str | None, message: str, detail: list[dict] | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        #: Every problem found (``[{field, message}]``) when there was more than one to report.
        self.detail = detail

    def payload(self) -> dict:
        body = {"error": {"field": self.field, "message": self.message}}
        if self.detail:
            body["detail"] = self.detail
        return body


@dataclass(frozen=True)
class MeshLimits:
    """Upper bounds on a mesh in one request; they keep one job from exhausting memory."""

    max_faces: int = 1_000_000
    max_vertices: int = 3_000_000


def _field_name(prefix: str, loc: tuple) -> str:
    return ".".join(str(part) for part in (prefix, *loc) if part != "")


def pydantic_error(exc: pydantic.ValidationError, prefix: str) -> ValidationError:
    """Turn a pydantic error into a ValidationError naming its first field (``params.steps``).

    All errors are kept on the result as ``detail`` (a list of ``{field, message}``).
    """
    details = [{"field": _field_name(prefix, tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    first = details[0] if details else {"field": prefix, "message": str(exc)}
    return ValidationError(first["field"], first["message"], details)


def validate_params(model: type[BaseModel], params: Any, prefix: str = "params") -> BaseModel:
    """Validate a params object with a kind's model; errors name ``params.<field>``."""
    if not isinstance(params, dict):
        raise ValidationError(prefix, "must be a JSON object")
    try:
        return model.model_validate(params)
    except pydantic.ValidationError as exc:
        raise pydantic_error(exc, prefix) from None


def _decode(obj: Any, field: str, kinds: str, max_bytes: int) -> np.ndarray:
    try:
        array = decode_array(obj, max_bytes=max_bytes)
    except WireFormatError as exc:
        raise ValidationError(field, str(exc)) from None
    if array.dtype.kind not in kinds:
        wanted = "a float dtype (float32)" if kinds == "f" else "an integer dtype (int32)"
        raise ValidationError(field, f"dtype {array.dtype.name} is not allowed here; use {wanted}")
    return array


def _check_trailing(array: np.ndarray, field: str, trailing: tuple[int, ...], label: str) -> None:
    if array.ndim != len(trailing) + 1 or array.shape[1:] != trailing:
        raise ValidationError(field, f"shape must be {label}, got {list(array.shape)}")


def decode_mesh(obj: Any, limits: MeshLimits = MeshLimits(), prefix: str = "mesh") -> MeshArrays:
    """Decode and check a wire mesh; see :mod:`.meshwire` for the format and conventions.

    Checks: known keys, dtypes, shapes against byte lengths, finite positions and UVs, at least one
    face, face indices in [0, V), and the limits. Returns float32 positions and UVs, int32 faces.
    """
    if not isinstance(obj, dict):
        raise ValidationError(prefix, "must be an object with positions, faces and optionally uv_faces")
    unknown = set(obj) - {"positions", "faces", "uv_faces"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"{prefix}.{name}", "unknown mesh field; expected positions, faces, uv_faces")
    for key in ("positions", "faces"):
        if obj.get(key) is None:
            raise ValidationError(f"{prefix}.{key}", "is required")

    field = f"{prefix}.positions"
    # float64 is accepted (and narrowed) so a client may send Blender's doubles unconverted.
    positions = _decode(obj["positions"], field, "f", limits.max_vertices * 3 * 8)
    _check_trailing(positions, field, (3,), "(V, 3)")
    if positions.shape[0] > limits.max_vertices:
        raise ValidationError(field, f"{positions.shape[0]} vertices is more than the limit of "
                                     f"{limits.max_vertices}")
    with np.errstate(over="ignore"):  # overflow to inf is reported just below, as a field error
        positions = positions.astype(np.float32)
    # Checked after narrowing: a float64 beyond float32's range would become inf.
    if not np.isfinite(positions).all():
        bad = int(np.argwhere(~np.isfinite(positions))[0][0])
        raise ValidationError(field, f"vertex {bad} is not finite (NaN or inf)")

    field = f"{prefix}.faces"
    faces = _decode(obj["faces"], field, "iu", limits.max_faces * 3 * 8)
    _check_trailing(faces, field, (3,), "(F, 3)")
    if faces.shape[0] == 0:
        raise ValidationError(field, "the mesh has no faces; at least one is needed")
    if faces.shape[0] > limits.max_faces:
        raise ValidationError(field, f"{faces.shape[0]} faces is more than the limit of {limits.max_faces}; "
                                     "decimate the mesh first")
    lo, hi = int(faces.min()), int(faces.max())
    if lo < 0 or hi >= positions.shape[0]:
        raise ValidationError(field, f"indices must lie in [0, {positions.shape[0]}) (the vertex count), "
                                     f"found range [{lo}, {hi}]")
    faces = faces.astype(np.int32)

    uv_faces = None
    if obj.get("uv_faces") is not None:
        field = f"{prefix}.uv_faces"
        uv_faces = _decode(obj["uv_faces"], field, "f", limits.max_faces * 6 * 8)
        _check_trailing(uv_faces, field, (3, 2), "(F, 3, 2)")
        if uv_faces.shape[0] != faces.shape[0]:
            raise ValidationError(field, f"has {uv_faces.shape[0]} faces but mesh.faces has {faces.shape[0]}")
        uv_faces = uv_faces.astype(np.float32)
        if not np.isfinite(uv_faces).all():
            raise ValidationError(field, "contains NaN or inf")
    return MeshArrays(positions=positions, faces=faces, uv_faces=uv_faces)
