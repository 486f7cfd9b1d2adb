"""The engine's HTTP contract: response and error bodies, and the job-submission schema.

The server (:mod:`.server`) answers with these models, and its OpenAPI document is built from
them, so a client generated from ``GET /v1/openapi.json`` reads every body the server sends.
Job submission is a union discriminated by ``kind``: one variant per registered job kind, whose
``params`` schema is that kind's params model (ranges, enums and lengths included). The server
validates a submission with the same models (:meth:`.jobs.JobQueue.submit`), so the two cannot
drift apart; what JSON Schema cannot say (a mesh's byte lengths against its shape, face indices
below the vertex count) is checked there and answered with 422 naming the field.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .jobs import STATES, JobKind
from .meshwire import MAX_NDIM, WIRE_DTYPES

#: Bearer-token security scheme name in the OpenAPI document.
SECURITY_SCHEME = "bearer"


class FieldError(BaseModel):
    field: str | None = Field(description="dotted name of the field at fault (params.steps, mesh.faces), "
                                          "or null when no single field is")
    message: str


class ErrorBody(BaseModel):
    """Every error response: the first problem, plus ``detail`` listing all of them when there were several."""

    model_config = ConfigDict(extra="forbid")
    error: FieldError
    detail: list[FieldError] | None = Field(None, description="every problem found, when there was more than one")


class KindInfo(BaseModel):
    name: str
    description: str
    needs_gpu: bool
    needs_mesh: bool
    params_schema: dict[str, Any] = Field(description="JSON Schema of the kind's params")


class QueueCounts(BaseModel):
    queued: int = Field(ge=0)
    running: str | None = Field(description="id of the running job, if any")


class Limits(BaseModel):
    max_faces: int
    max_vertices: int
    max_prompt_chars: int
    texture_sizes: list[int]
    max_body_bytes: int = Field(description="largest request body; larger ones get 413")
    max_queued_jobs: int = Field(description="jobs waiting at most; a submission beyond it gets 429")
    max_file_bytes: int = Field(description="largest result file served; a larger one gets 422")


class Info(BaseModel):
    version: str
    protocol: int
    device: Literal["cpu", "cuda"]
    pid: int
    kinds: dict[str, KindInfo]
    queue: QueueCounts
    limits: Limits
    dry_run: bool = Field(description="jobs finish at once without running (the server's --dry-run)")


class JobStatus(BaseModel):
    """A job's state. Times are Unix seconds; ``eta_s`` is seconds left while running."""

    id: str
    kind: str
    state: Literal[STATES]  # type: ignore[valid-type]
    step: int
    total: int
    eta_s: float | None
    message: str
    error: str | None
    traceback: str | None
    result: dict[str, Any] | None
    has_preview: bool
    created: float
    started: float | None
    finished: float | None


class JobList(BaseModel):
    jobs: list[JobStatus]


class Submitted(BaseModel):
    id: str
    state: Literal["queued"]


class FileEntry(BaseModel):
    name: str
    size: int = Field(ge=0, description="bytes")


class FileList(BaseModel):
    files: list[FileEntry]


class ShutdownAccepted(BaseModel):
    ok: bool


def error_responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for these error statuses, each with the ErrorBody schema."""
    why = {400: "the request is malformed", 401: "no bearer token", 403: "wrong bearer token",
           404: "no such job (or file, or preview yet)", 413: "the request body is larger than the engine "
           "accepts", 422: "invalid input; the body names the field", 429: "the queue is full; retry later",
           503: "the engine is shutting down"}
    return {code: {"model": ErrorBody, "description": why[code]} for code in codes}


# ---- the submission union ---------------------------------------------------------------------
_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _wire_array(description: str) -> dict:
    return {"type": "object", "description": description, "additionalProperties": False,
            "required": ["dtype", "shape", "data"],
            "properties": {"dtype": {"type": "string", "enum": sorted(WIRE_DTYPES)},
                           "shape": {"type": "array", "items": {"type": "integer", "minimum": 0},
                                     "minItems": 1, "maxItems": MAX_NDIM},
                           "data": {"type": "string", "pattern": _BASE64,
                                    "description": "base64 of the array's bytes, C order, little-endian"}}}


def wire_mesh_schema() -> dict:
    """JSON Schema of a wire mesh (see :mod:`.meshwire`)."""
    return {"type": "object", "additionalProperties": False, "required": ["positions", "faces"],
            "description": "positions (V, 3) float, faces (F, 3) integer indices into positions, optional "
                           "uv_faces (F, 3, 2) float; each array in the wire form",
            "properties": {"positions": _wire_array("(V, 3) float32 or float64, object units (metres)"),
                           "faces": _wire_array("(F, 3) integer, counter-clockwise from outside"),
                           "uv_faces": {"anyOf": [_wire_array("(F, 3, 2) float32, v = 0 at the bottom"),
                                                  {"type": "null"}]}}}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def submission_components(kinds: dict[str, JobKind]) -> dict[str, dict]:
    """OpenAPI component schemas for ``POST /v1/jobs``: ``JobRequest`` (the union) and what it uses.

    Each kind's params model contributes its schema (nested models hoisted into components);
    a kind that needs a mesh makes ``mesh`` required and not null.
    """
    components: dict[str, dict] = {"WireMesh": wire_mesh_schema()}
    variants, mapping = [], {}
    for name, kind in sorted(kinds.items()):
        params = copy.deepcopy(kind.params_model.model_json_schema(ref_template="#/components/schemas/{model}"))
        components.update(params.pop("$defs", {}))
        params_name = f"{_camel(name)}Params"
        components[params_name] = params
        mesh_ref = {"$ref": "#/components/schemas/WireMesh"}
        job_name = f"{_camel(name)}Job"
        components[job_name] = {
            "type": "object", "additionalProperties": False, "title": job_name,
            "description": kind.description or f"a {name} job",
            "required": ["kind", "mesh"] if kind.needs_mesh else ["kind"],
            "properties": {"kind": {"type": "string", "enum": [name]},
                           "params": {"$ref": f"#/components/schemas/{params_name}"},
                           "mesh": mesh_ref if kind.needs_mesh else {"anyOf": [mesh_ref, {"type": "null"}]}}}
        variants.append({"$ref": f"#/components/schemas/{job_name}"})
        mapping[name] = f"#/components/schemas/{job_name}"
    components["JobRequest"] = {"oneOf": variants, "discriminator": {"propertyName": "kind", "mapping": mapping}}
    return components


def add_submission_and_security(schema: dict, kinds: dict[str, JobKind]) -> dict:
    """Complete FastAPI's OpenAPI document: the submission union on ``POST /v1/jobs``, and bearer
    auth on every operation."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(submission_components(kinds))
    components["securitySchemes"] = {SECURITY_SCHEME: {"type": "http", "scheme": "bearer",
                                                       "description": "the token in the engine's token file"}}
    schema["security"] = [{SECURITY_SCHEME: []}]
    # FastAPI documents its own 422 on every route with parameters; its path parameters are plain
    # strings that never fail, and our 422s use ErrorBody, so that body is never sent.
    fastapi_422 = "#/components/schemas/HTTPValidationError"
    for operations in schema["paths"].values():
        for op in operations.values():
            body = op.get("responses", {}).get("422", {}).get("content", {}).get("application/json", {})
            if body.get("schema", {}).get("$ref") == fastapi_422:
                del op["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(name, None)
    post = schema["paths"]["/v1/jobs"]["post"]
    post["requestBody"] = {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/JobRequest"}}}}
    return schema
