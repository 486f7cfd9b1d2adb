"""The engine's job server in-process (FastAPI TestClient): auth, validation, the job queue.

This module also defines small job kinds (``test_*``) and registers them at import, so
``python -m procdream.gen3d.server --kinds-module test_gen3d_server`` serves them too; the client
tests start a real server that way.
"""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import Field

from procdream.gen3d import jobs
from procdream.gen3d.jobs import JobKind, JobQueue, register
from procdream.gen3d.meshwire import WireFormatError, decode_array, encode_array, encode_mesh
from procdream.gen3d.server import bind_socket, create_app, read_or_create_token
from procdream.gen3d.validate import (
    MeshLimits,
    ParamsModel,
    Prompt,
    TextureSize,
    ValidationError,
    decode_mesh,
)

TOKEN = "test-token-123"


# ---- test job kinds -----------------------------------------------------------------------------
def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A valid 8-bit RGB PNG of one colour, built with zlib only."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class EchoParams(ParamsModel):
    prompt: Prompt
    texture_size: TextureSize = 256
    steps: int = Field(3, ge=1, le=50)


def run_echo(params, mesh, ctx):
    for i in range(params.steps):
        ctx.check_cancelled()
        ctx.progress(i + 1, params.steps, "echoing")
    ctx.preview(tiny_png())
    (ctx.out_dir / "echo.txt").write_text(params.prompt)
    (ctx.out_dir / "texture.png").write_bytes(tiny_png(4, 4, (0, 128, 255)))
    return {"prompt": params.prompt, "texture_size": params.texture_size, "device": ctx.device,
            "faces": None if mesh is None else mesh.num_faces}


class LoopParams(ParamsModel):
    steps: int = Field(1000, ge=1)
    sleep_s: float = Field(0.02, ge=0)


def run_loop(params, mesh, ctx):
    for i in range(params.steps):
        ctx.check_cancelled()
        time.sleep(params.sleep_s)
        ctx.progress(i + 1, params.steps, "looping")
    return {"steps": params.steps}


class NoParams(ParamsModel):
    pass


def run_fail(params, mesh, ctx):
    raise RuntimeError("boom: this test kind fails on purpose")


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError, which the queue recognises by name."""


def run_oom(params, mesh, ctx):
    raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def run_bad_result(params, mesh, ctx):
    return {"not json": object()}


def run_mesh(params, mesh, ctx):
    return {"vertices": mesh.num_vertices, "faces": mesh.num_faces, "has_uv": mesh.uv_faces is not None,
            "dtypes": [str(mesh.positions.dtype), str(mesh.faces.dtype)],
            "centroid": mesh.positions.mean(axis=0).tolist()}


TEST_KINDS = {k.name: k for k in (
    JobKind("test_echo", EchoParams, run_echo, description="writes its prompt to echo.txt"),
    JobKind("test_loop", LoopParams, run_loop),
    JobKind("test_fail", NoParams, run_fail),
    JobKind("test_oom", NoParams, run_oom, needs_gpu=True),
    JobKind("test_mesh", NoParams, run_mesh, needs_mesh=True),
    JobKind("test_bad_result", NoParams, run_bad_result),
)}
for _kind in TEST_KINDS.values():
    register(_kind)


def cube_arrays():
    positions = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32)
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], np.int32)
    uv_faces = np.random.default_rng(0).random((len(faces), 3, 2)).astype(np.float32)
    return positions, faces, uv_faces


# ---- fixtures and helpers -----------------------------------------------------------------------
@pytest.fixture
def api(tmp_path):
    queue = JobQueue(tmp_path / "work", device="cpu", keep=4, kinds=TEST_KINDS)
    shutdowns = []
    app = create_app(TOKEN, queue, "cpu", on_shutdown=lambda: shutdowns.append(True))
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.queue, client.shutdowns = queue, shutdowns
        yield client
    assert queue.close(timeout=10)


def submit(api, kind, params=None, mesh=None):
    response = api.post("/v1/jobs", json={"kind": kind, "params": params or {}, "mesh": mesh})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def wait_for(api, job_id, states=jobs.FINISHED, timeout=10.0, until=None):
    deadline = time.monotonic() + timeout
    while True:
        status = api.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in states and (until is None or until(status)):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.01)


def error_of(response, status_code=422):
    assert response.status_code == status_code, response.text
    return response.json()["error"]


# ---- auth and schema ----------------------------------------------------------------------------
def test_token_is_required_on_every_route(api):
    anonymous = TestClient(api.app)
    response = anonymous.get("/v1/info")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["field"] == "Authorization"
    assert anonymous.get("/v1/no-such-route").status_code == 401
    assert anonymous.get("/v1/openapi.json").status_code == 401
    assert anonymous.get("/v1/info", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert anonymous.get("/v1/info", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401

    info = api.get("/v1/info").json()
    assert info["protocol"] == 1 and info["device"] == "cpu" and info["version"]
    assert info["queue"] == {"queued": 0, "running": None}
    echo = info["kinds"]["test_echo"]
    assert set(echo["params_schema"]["properties"]) == {"prompt", "texture_size", "steps"}
    assert echo["params_schema"]["properties"]["texture_size"]["enum"] == [256, 512, 1024, 2048, 4096]
    assert info["kinds"]["test_mesh"]["needs_mesh"] is True
    assert info["limits"]["max_faces"] == 1_000_000


def test_openapi_schema_is_published_behind_the_token(api):
    schema = api.get("/v1/openapi.json")
    assert schema.status_code == 200
    assert "/v1/jobs" in schema.json()["paths"] and "/v1/jobs/{job_id}/files/{name}" in schema.json()["paths"]
    assert api.get("/docs").status_code == 404
    assert api.get("/openapi.json").status_code == 404


# ---- a job from submit to download --------------------------------------------------------------
def test_job_runs_reports_progress_preview_and_files(api):
    positions, faces, uv_faces = cube_arrays()
    job_id = submit(api, "test_echo", {"prompt": "  mossy stone  ", "steps": 4},
                    encode_mesh(positions, faces, uv_faces))
    status = wait_for(api, job_id)
    assert status["state"] == "done", status
    assert (status["step"], status["total"], status["message"]) == (4, 4, "echoing")
    assert status["error"] is None and status["eta_s"] is None
    assert status["result"] == {"prompt": "mossy stone", "texture_size": 256, "device": "cpu", "faces": 12}

    preview = api.get(f"/v1/jobs/{job_id}/preview")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert preview.content == tiny_png()

    listing = api.get(f"/v1/jobs/{job_id}/files").json()["files"]
    assert [f["name"] for f in listing] == ["echo.txt", "texture.png"]
    assert listing[1]["size"] == len(tiny_png(4, 4, (0, 128, 255)))
    assert api.get(f"/v1/jobs/{job_id}/files/echo.txt").content == b"mossy stone"
    assert api.get(f"/v1/jobs/{job_id}/files/texture.png").content == tiny_png(4, 4, (0, 128, 255))
    assert error_of(api.get(f"/v1/jobs/{job_id}/files/missing.txt"), 404)["field"] == "name"
    assert [j["id"] for j in api.get("/v1/jobs").json()["jobs"]] == [job_id]


def test_mesh_arrives_decoded(api):
    positions, faces, _ = cube_arrays()
    mesh = {"positions": encode_array(positions.astype(">f8")), "faces": encode_array(faces.astype(np.int64))}
    status = wait_for(api, submit(api, "test_mesh", mesh=mesh))
    assert status["result"] == {"vertices": 8, "faces": 12, "has_uv": False, "dtypes": ["float32", "int32"],
                                "centroid": [0.5, 0.5, 0.5]}


def test_unknown_job_and_missing_preview_are_404(api):
    assert error_of(api.get("/v1/jobs/nope"), 404)["field"] == "id"
    assert error_of(api.post("/v1/jobs/nope/cancel"), 404)["field"] == "id"
    job_id = submit(api, "test_loop", {"steps": 3, "sleep_s": 0})
    wait_for(api, job_id)
    assert error_of(api.get(f"/v1/jobs/{job_id}/preview"), 404)["field"] == "preview"


# ---- bad input names the field ------------------------------------------------------------------
def _bad_meshes():
    positions, faces, uv = cube_arrays()
    nan_positions = positions.copy()
    nan_positions[3, 1] = np.nan
    out_of_range = faces.copy()
    out_of_range[5, 2] = 8
    negative = faces.copy()
    negative[0, 0] = -1
    nan_uv = uv.copy()
    nan_uv[2, 1, 0] = np.inf

    def mesh(**over):
        base = {"positions": encode_array(positions), "faces": encode_array(faces)}
        base.update(over)
        return base

    short = encode_array(positions)
    short["shape"] = [9, 3]
    return {
        "nan position": (mesh(positions=encode_array(nan_positions)), "mesh.positions"),
        "inf from float64 overflow": (mesh(positions=encode_array(positions.astype(np.float64) * 1e300)),
                                      "mesh.positions"),
        "index out of range": (mesh(faces=encode_array(out_of_range)), "mesh.faces"),
        "negative index": (mesh(faces=encode_array(negative)), "mesh.faces"),
        "wrong shape": (mesh(positions=encode_array(positions[:, :2])), "mesh.positions"),
        "byte length": (mesh(positions=short), "mesh.positions"),
        "empty faces": (mesh(faces=encode_array(np.zeros((0, 3), np.int32))), "mesh.faces"),
        "unknown dtype": (mesh(positions={**encode_array(positions), "dtype": "float16"}), "mesh.positions"),
        "float faces": (mesh(faces=encode_array(faces.astype(np.float32))), "mesh.faces"),
        "bad base64": (mesh(faces={**encode_array(faces), "data": "!!not base64!!"}), "mesh.faces"),
        "shape not a list": (mesh(faces={**encode_array(faces), "shape": "12x3"}), "mesh.faces"),
        "missing faces": ({"positions": encode_array(positions)}, "mesh.faces"),
        "unknown key": (mesh(normals=encode_array(positions)), "mesh.normals"),
        "uv count": (mesh(uv_faces=encode_array(uv[:5])), "mesh.uv_faces"),
        "uv nan": (mesh(uv_faces=encode_array(nan_uv)), "mesh.uv_faces"),
        "uv shape": (mesh(uv_faces=encode_array(uv[:, :, :1])), "mesh.uv_faces"),
        "not an object": ([1, 2, 3], "mesh"),
    }


@pytest.mark.parametrize("case", sorted(_bad_meshes()))
def test_malformed_mesh_is_422_naming_the_field(api, case):
    mesh, field = _bad_meshes()[case]
    error = error_of(api.post("/v1/jobs", json={"kind": "test_mesh", "params": {}, "mesh": mesh}))
    assert error["field"] == field, error
    assert error["message"]
    assert api.get("/v1/info").json()["queue"]["queued"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "test_echo", "params": {"prompt": "x", "steps": 0}}, "params.steps"),
    ({"kind": "test_echo", "params": {"prompt": "x", "texture_size": 300}}, "params.texture_size"),
    ({"kind": "test_echo", "params": {"prompt": "   "}}, "params.prompt"),
    ({"kind": "test_echo", "params": {"prompt": "a" * 1001}}, "params.prompt"),
    ({"kind": "test_echo", "params": {}}, "params.prompt"),
    ({"kind": "test_echo", "params": {"prompt": "x", "stpes": 3}}, "params.stpes"),
    ({"kind": "test_echo", "params": [1]}, "params"),
    ({"kind": "no_such_kind"}, "kind"),
    ({"params": {}}, "kind"),
    ({"kind": "test_echo", "parmas": {"prompt": "x"}}, "parmas"),
    ({"kind": "test_mesh", "params": {}}, "mesh"),
])
def test_bad_request_is_422_naming_the_field(api, body, field):
    error = error_of(api.post("/v1/jobs", json=body))
    assert error["field"] == field, error


def test_unparseable_body_is_422_naming_the_body(api):
    response = api.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert error_of(response)["field"] == "body"


def test_decode_mesh_limits_and_wire_round_trip():
    positions, faces, uv = cube_arrays()
    with pytest.raises(ValidationError) as info:
        decode_mesh(encode_mesh(positions, faces), MeshLimits(max_faces=4, max_vertices=100))
    assert info.value.field == "mesh.faces" and "limit" in info.value.message
    with pytest.raises(ValidationError) as info:
        decode_mesh(encode_mesh(positions, faces), MeshLimits(max_faces=100, max_vertices=4))
    assert info.value.field == "mesh.positions"

    # Any byte order and memory layout goes out little-endian C-order and comes back equal.
    strided = np.asfortranarray(uv.astype(">f4"))
    wire = encode_array(strided)
    assert wire["dtype"] == "float32" and wire["shape"] == [12, 3, 2]
    back = decode_array(wire)
    assert back.dtype == np.float32 and back.flags.writeable and np.array_equal(back, uv)
    with pytest.raises(WireFormatError):
        encode_array(np.zeros(3, np.float16))
    with pytest.raises(WireFormatError, match="limit"):
        decode_array(wire, max_bytes=10)


# ---- failures, cancel, retention ----------------------------------------------------------------
def test_failed_job_reports_error_and_queue_keeps_serving(api):
    failing = submit(api, "test_fail")
    after = submit(api, "test_echo", {"prompt": "still alive"})
    status = wait_for(api, failing)
    assert status["state"] == "failed"
    assert status["error"] == "RuntimeError: boom: this test kind fails on purpose"
    assert "run_fail" in status["traceback"] and "Traceback" in status["traceback"]
    assert status["result"] is None
    assert wait_for(api, after)["state"] == "done"


def test_out_of_memory_suggests_smaller_texture_or_fewer_faces(api):
    status = wait_for(api, submit(api, "test_oom"))
    assert status["state"] == "failed"
    assert "out of memory" in status["error"] and "smaller texture size" in status["error"]
    assert "fewer faces" in status["error"]


def test_result_that_is_not_json_fails_the_job(api):
    status = wait_for(api, submit(api, "test_bad_result"))
    assert status["state"] == "failed" and "not a JSON object" in status["error"]


def test_cancel_running_job_stops_within_one_step(api):
    job_id = submit(api, "test_loop", {"steps": 1000, "sleep_s": 0.02})
    running = wait_for(api, job_id, states={"running"}, until=lambda s: s["step"] >= 3)
    assert running["total"] == 1000
    running = wait_for(api, job_id, states={"running"}, until=lambda s: s["eta_s"] is not None)
    assert 0 < running["eta_s"] < 200

    at_cancel = api.post(f"/v1/jobs/{job_id}/cancel").json()
    status = wait_for(api, job_id, timeout=2)
    assert status["state"] == "cancelled" and status["message"] == "cancelled"
    assert at_cancel["step"] <= status["step"] <= at_cancel["step"] + 1
    assert status["result"] is None and status["error"] is None
    # Cancelling a finished job changes nothing.
    assert api.post(f"/v1/jobs/{job_id}/cancel").json()["state"] == "cancelled"


def test_cancel_queued_job_removes_it_and_order_is_fifo(api):
    blocker = submit(api, "test_loop", {"steps": 1000, "sleep_s": 0.01})
    wait_for(api, blocker, states={"running"})
    queued = submit(api, "test_echo", {"prompt": "never runs"})
    later = submit(api, "test_echo", {"prompt": "runs"})
    assert api.get("/v1/info").json()["queue"] == {"queued": 2, "running": blocker}
    status = api.post(f"/v1/jobs/{queued}/cancel").json()
    assert status["state"] == "cancelled" and status["started"] is None
    api.post(f"/v1/jobs/{blocker}/cancel")
    assert wait_for(api, later)["state"] == "done"
    assert api.get(f"/v1/jobs/{queued}").json()["state"] == "cancelled"
    assert api.get(f"/v1/jobs/{blocker}").json()["state"] == "cancelled"


def test_old_results_are_deleted_beyond_keep(api, tmp_path):
    ids = [submit(api, "test_echo", {"prompt": f"job {i}", "steps": 1}) for i in range(6)]
    wait_for(api, ids[-1])  # FIFO: the others finished before it (and the first two were pruned)
    kept = [j["id"] for j in api.get("/v1/jobs").json()["jobs"]]
    assert kept == ids[2:]  # keep=4 in the fixture
    assert api.get(f"/v1/jobs/{ids[0]}").status_code == 404
    deadline = time.monotonic() + 5  # folders are deleted just after the history is trimmed
    while sorted(p.name for p in (tmp_path / "work" / "jobs").iterdir()) != sorted(ids[2:]):
        assert time.monotonic() < deadline
        time.sleep(0.01)


# ---- file names ---------------------------------------------------------------------------------
def test_result_files_cannot_escape_the_job_folder(api, tmp_path):
    job_id = submit(api, "test_echo", {"prompt": "x"})
    wait_for(api, job_id)
    secret = tmp_path / "work" / "secret.txt"
    secret.write_text("do not serve")
    out_dir = tmp_path / "work" / "jobs" / job_id
    (out_dir / "link.txt").symlink_to(secret)
    (out_dir / ".hidden").write_text("temporary")

    assert [f["name"] for f in api.get(f"/v1/jobs/{job_id}/files").json()["files"]] == ["echo.txt", "texture.png"]
    for name in ("..%2Fsecret.txt", "%2E%2E%2F%2E%2E%2Fsecret.txt", "link.txt", ".hidden", "..%5Csecret.txt",
                 "%2E%2E"):
        response = api.get(f"/v1/jobs/{job_id}/files/{name}")
        assert response.status_code in (404, 422), (name, response.status_code)
        assert b"do not serve" not in response.content and b"temporary" not in response.content
    for name in ("..", "../secret.txt", ".hidden", "a/b", "", "x\\y"):
        with pytest.raises((ValidationError, FileNotFoundError)):
            api.queue.file_path(job_id, name)


def test_shutdown_endpoint_calls_back(api):
    assert api.post("/v1/shutdown").status_code == 202
    assert api.shutdowns == [True]


# ---- registry and command line ------------------------------------------------------------------
def test_load_builtin_kinds_skips_only_missing_job_modules(monkeypatch):
    real_import = jobs.importlib.import_module

    def fake_import(name, package=None):
        if name == ".paint.job":
            raise ModuleNotFoundError("No module named 'x'", name="procdream.gen3d.paint.job")
        if name == ".nerf.job":
            raise ModuleNotFoundError("No module named 'diffusers'", name="diffusers")
        return real_import(name, package)

    monkeypatch.setattr(jobs.importlib, "import_module", fake_import)
    with pytest.raises(ModuleNotFoundError, match="diffusers"):
        jobs.load_builtin_kinds()
    monkeypatch.undo()
    assert isinstance(jobs.load_builtin_kinds(), list)


def test_register_checks_names():
    with pytest.raises(ValueError):
        register(JobKind("Bad Name", NoParams, run_fail))


def test_token_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "state" / "token"
    token = read_or_create_token(path)
    assert len(token) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert read_or_create_token(path) == token


def test_non_loopback_host_is_refused_without_allow_remote():
    with pytest.raises(SystemExit, match="allow-remote"):
        bind_socket("0.0.0.0", 0, allow_remote=False)
    sock = bind_socket("localhost", 0, allow_remote=False)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
