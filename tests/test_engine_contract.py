"""The engine's HTTP contract against real server processes: schemathesis with every check, the
limits (413, 429, file size), token and file-name safety, and a bounded load test.

Servers are started with LocalEngine, as the add-on does. The schemathesis server runs the
built-in kinds (paint, sketch) with ``--dry-run``, so the jobs it submits are validated by the real
params models and then finish at once. The other servers also serve the ``test_*`` kinds of
tests/test_gen3d_server.py.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procdream.gen3d import contract, server
from procdream.gen3d.client import LocalEngine, encode_mesh
from procdream.gen3d.jobs import KINDS, load_builtin_kinds
from procdream.gen3d.validate import MAX_PROMPT_CHARS, PROMPT_PATTERN, ValidationError, validate_params

TESTS = Path(__file__).resolve().parent


def start_engine(state_dir: Path, *extra_args: str, test_kinds: bool = True) -> LocalEngine:
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    kinds = ["--kinds-module", "test_gen3d_server"] if test_kinds else []
    return LocalEngine.start(sys.executable, state_dir, device="cpu", env={"PYTHONPATH": path}, timeout_s=60,
                             extra_args=[*kinds, *extra_args])


class Raw:
    """HTTP/1.1 requests with the path sent byte for byte (no client-side normalisation of ``..``)."""

    def __init__(self, engine: LocalEngine):
        parts = urlsplit(engine.url)
        self.host, self.port, self.token = parts.hostname, parts.port, engine.token

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                token: str | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            conn.putheader("Authorization", f"Bearer {self.token if token is None else token}")
            for key, value in (headers or {}).items():
                conn.putheader(key, value)
            if body is not None and "Content-Length" not in (headers or {}) and \
                    "Transfer-Encoding" not in (headers or {}):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            if body:
                conn.send(body)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, obj=None) -> tuple[int, dict]:
        status, _, data = self.request(method, path, None if obj is None else json.dumps(obj).encode(),
                                       {"Content-Type": "application/json"})
        return status, json.loads(data)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = start_engine(tmp_path_factory.mktemp("engine"), "--max-queued", "3", "--max-body-mib", "1",
                          "--max-file-mib", "0.0005", "--keep", "1000")
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def raw(engine):
    return Raw(engine)


def wait_done(raw: Raw, job_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, body = raw.json("GET", f"/v1/jobs/{job_id}")
        assert status == 200, body
        if body["state"] in ("done", "failed", "cancelled"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)


# ---- the schema -----------------------------------------------------------------------------------
def test_schema_has_one_submission_variant_per_kind_with_its_params_constraints():
    load_builtin_kinds()
    schema = contract.add_submission_and_security(
        {"paths": {"/v1/jobs": {"post": {"responses": {}}}}}, {k: KINDS[k] for k in ("paint", "sketch")})
    components = schema["components"]["schemas"]
    union = components["JobRequest"]
    assert union["discriminator"]["propertyName"] == "kind"
    assert sorted(union["discriminator"]["mapping"]) == ["paint", "sketch"]
    paint = components["PaintJob"]
    assert paint["properties"]["kind"] == {"type": "string", "enum": ["paint"]}
    assert paint["required"] == ["kind", "mesh"] and paint["additionalProperties"] is False
    steps = components["PaintParams"]["properties"]["steps"]
    assert (steps["minimum"], steps["maximum"]) == (1, 100_000)
    assert components["PaintParams"]["properties"]["texture_size"]["enum"] == [256, 512, 1024, 2048, 4096]
    assert schema["security"] == [{"bearer": []}]


def test_every_route_documents_auth_errors_with_the_error_body(raw):
    status, schema = raw.json("GET", "/v1/openapi.json")
    assert status == 200
    error_ref = "#/components/schemas/ErrorBody"
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            for code in ("401", "403"):
                body = op["responses"][code]["content"]["application/json"]["schema"]
                assert body == {"$ref": error_ref}, (method, path, code)
    post = schema["paths"]["/v1/jobs"]["post"]
    assert {"202", "413", "422", "429", "503"} <= set(post["responses"])
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobRequest"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert sorted(schema["components"]["schemas"]["JobRequest"]["discriminator"]["mapping"]) == sorted(
        raw.json("GET", "/v1/info")[1]["kinds"])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\u00a0\u2003ab\u00e9"), max_size=12)
       | st.text(max_size=4).map(lambda pad: pad + "a" * MAX_PROMPT_CHARS + pad))
def test_prompt_pattern_accepts_exactly_what_the_server_accepts(text):
    load_builtin_kinds()
    model = KINDS["paint"].params_model
    try:
        validate_params(model, {"prompt": text})
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == bool(re.search(PROMPT_PATTERN, text)), repr(text)


def test_params_are_strict_like_their_schema():
    load_builtin_kinds()
    model = KINDS["paint"].params_model
    for bad in ({"prompt": "x", "steps": "5"}, {"prompt": "x", "steps": True}, {"prompt": 5}):
        with pytest.raises(ValidationError):
            validate_params(model, bad)
    assert validate_params(model, {"prompt": "x", "guidance_scale": 7}).guidance_scale == 7.0


# ---- schemathesis ---------------------------------------------------------------------------------
SCHEMATHESIS_CONFIG = """
# What JSON Schema cannot say about a mesh (byte lengths against the shape, face indices below the
# vertex count) is refused with 422 naming the field; a schema-valid mesh may still be one of those.
[[operations]]
include-path-regex = "^/v1/jobs$"
include-method = "POST"
# schemathesis' default list, plus 422.
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
"""


@pytest.mark.slow
def test_schemathesis_finds_no_failure_with_every_check(tmp_path):
    engine = start_engine(tmp_path / "engine", "--dry-run", "--keep", "100000", "--max-queued", "1000",
                          test_kinds=False)
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    try:
        cmd = [str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run",
               f"{engine.url}/v1/openapi.json", "--checks", "all", "--exclude-path", "/v1/shutdown",
               "-H", f"Authorization: Bearer {engine.token}", "--seed", "20261202", "--max-examples", "40",
               "--max-time", "40", "--workers", "1", "--no-color", "--warnings", "off",
               "--report-dir", str(tmp_path / "report")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert engine.alive(), "the engine died under schemathesis"
    finally:
        engine.stop()
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert re.search(r"\b0 failures\b|No issues found", proc.stdout), proc.stdout[-3000:]


# ---- limits ---------------------------------------------------------------------------------------
def test_body_over_the_cap_is_413_declared_or_chunked(raw):
    big = b'{"kind": "test_echo", "params": {"prompt": "' + b"a" * (2**20 + 10) + b'"}}'
    status, _, data = raw.request("POST", "/v1/jobs", big, {"Content-Type": "application/json"})
    assert status == 413 and json.loads(data)["error"]["field"] == "body"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]), big[i:i + 65536])
                       for i in range(0, len(big), 65536)) + b"0\r\n\r\n"
    status, _, data = raw.request("POST", "/v1/jobs", chunked, {"Content-Type": "application/json",
                                                                "Transfer-Encoding": "chunked"})
    assert status == 413 and "--max-body-mib" in json.loads(data)["error"]["message"]
    assert raw.json("GET", "/v1/info")[0] == 200  # still serving
    # The token is checked before the body is read.
    status, _, _ = raw.request("POST", "/v1/jobs", big, {"Content-Type": "application/json"}, token="wrong")
    assert status == 403


def test_queue_beyond_max_queued_is_429_with_retry_after(raw):
    running = raw.json("POST", "/v1/jobs", {"kind": "test_loop", "params": {"steps": 2000, "sleep_s": 0.01}})[1]
    deadline = time.monotonic() + 10
    while raw.json("GET", f"/v1/jobs/{running['id']}")[1]["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    waiting = [raw.json("POST", "/v1/jobs", {"kind": "test_loop", "params": {"steps": 1}})[1]["id"]
               for _ in range(3)]
    status, headers, data = raw.request("POST", "/v1/jobs", json.dumps({"kind": "test_loop"}).encode(),
                                        {"Content-Type": "application/json"})
    assert status == 429 and headers["retry-after"] == "5"
    assert "--max-queued" in json.loads(data)["error"]["message"]
    for job_id in [running["id"], *waiting]:
        raw.json("POST", f"/v1/jobs/{job_id}/cancel")
    assert wait_done(raw, running["id"])["state"] == "cancelled"
    assert raw.json("POST", "/v1/jobs", {"kind": "test_loop", "params": {"steps": 1}})[0] == 202


def test_result_file_over_the_size_cap_is_422_naming_it(raw):
    job_id = raw.json("POST", "/v1/jobs", {"kind": "test_echo", "params": {"prompt": "x" * 1000}})[1]["id"]
    assert wait_done(raw, job_id)["state"] == "done"
    status, _, data = raw.request("GET", f"/v1/jobs/{job_id}/files/echo.txt")
    error = json.loads(data)["error"]
    assert status == 422 and error["field"] == "name" and "1000 bytes" in error["message"]
    assert "--max-file-mib" in error["message"]
    assert raw.request("GET", f"/v1/jobs/{job_id}/files/texture.png")[0] == 200  # small files still served


# ---- token and file-name safety -------------------------------------------------------------------
def test_tokens_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = secrets.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(server.secrets, "compare_digest", spy)
    from fastapi.testclient import TestClient

    from procdream.gen3d.jobs import JobQueue

    queue = JobQueue(Path(os.environ.get("TMPDIR", "/tmp")) / f"pd-auth-{os.getpid()}", kinds={})
    try:
        client = TestClient(server.create_app("s3cret", queue, "cpu"))
        assert client.get("/v1/info", headers={"Authorization": "Bearer guess"}).status_code == 403
        assert client.get("/v1/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        queue.close()
    assert calls == [(b"guess", b"s3cret"), (b"s3cret", b"s3cret")]


def test_file_names_cannot_leave_the_job_folder(engine, raw, tmp_path):
    job_id = raw.json("POST", "/v1/jobs", {"kind": "test_echo", "params": {"prompt": "x"}})[1]["id"]
    assert wait_done(raw, job_id)["state"] == "done"
    out_dir = engine.state_dir / "engine-work" / "jobs" / job_id
    secret = engine.state_dir / "engine-work" / "secret.txt"
    secret.write_text("do not serve")
    (out_dir / "link.png").symlink_to(secret)
    (out_dir / "dirlink").symlink_to(engine.state_dir, target_is_directory=True)
    names = ["../secret.txt", "..%2Fsecret.txt", "%2e%2e%2fsecret.txt", "%2E%2E", "..", "%2e%2e/%2e%2e/token",
             "/etc/passwd", "%2Fetc%2Fpasswd", "..%5Csecret.txt", "link.png", "dirlink%2Ftoken",
             "texture.png%00.txt", "%00", "texture.png%00", ".%2E/secret.txt"]
    for name in names:
        status, _, data = raw.request("GET", f"/v1/jobs/{job_id}/files/{name}")
        assert status in (400, 404, 422), (name, status, data[:200])
        assert b"do not serve" not in data and engine.token.encode() not in data and b"root:" not in data, name
    assert raw.request("GET", f"/v1/jobs/{job_id}/files/texture.png")[0] == 200


# ---- load -----------------------------------------------------------------------------------------
def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def run_load(engine: LocalEngine, clients: int = 16, seconds: float = 10.0) -> dict:
    """``clients`` threads submit, poll and cancel against ``engine`` for ``seconds``, while one more
    times GET /v1/info. Every client checks each of its jobs comes back as its own (kind, prompt,
    and, when done, the echoed result). Returns the figures and any problems found."""
    raw = Raw(engine)
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    mesh = encode_mesh(positions, np.array([[0, 1, 2]], np.int32))
    stop = time.monotonic() + seconds
    problems, submitted, rejected = [], [0] * clients, [0] * clients
    latencies: list[float] = []
    rss_before = _rss_kib(engine.pid)

    def client(i: int) -> None:
        mine = {}
        n = 0
        while time.monotonic() < stop:
            prompt = f"client {i} job {n}"
            status, body = raw.json("POST", "/v1/jobs", {"kind": "test_echo", "params": {"prompt": prompt, "steps": 3},
                                                         "mesh": mesh})
            if status == 429:
                rejected[i] += 1
                time.sleep(0.02)
                continue
            if status != 202:
                problems.append(f"client {i}: submit answered {status}: {body}")
                return
            mine[body["id"]] = prompt
            submitted[i] += 1
            if n % 3 == 2:
                raw.json("POST", f"/v1/jobs/{body['id']}/cancel")
            status, got = raw.json("GET", f"/v1/jobs/{body['id']}")
            if status != 200 or got["kind"] != "test_echo":
                problems.append(f"client {i}: status of {body['id']} answered {status}: {got}")
            n += 1
        for job_id, prompt in mine.items():
            try:
                got = wait_done(raw, job_id, timeout=60)
            except AssertionError as exc:
                problems.append(f"client {i}: job {job_id} never finished: {exc}")
                continue
            if got["state"] == "done" and got["result"]["prompt"] != prompt:
                problems.append(f"client {i}: job {job_id} has another client's result {got['result']}")
            elif got["state"] not in ("done", "cancelled"):
                problems.append(f"client {i}: job {job_id} ended {got['state']}: {got['error']}")

    def prober() -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            status, _ = raw.json("GET", "/v1/info")
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                problems.append(f"/v1/info answered {status}")
            time.sleep(0.01)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=prober))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    listed = {j["id"] for j in raw.json("GET", "/v1/jobs")[1]["jobs"]}
    return {"clients": clients, "seconds": seconds, "jobs": sum(submitted), "rejected_429": sum(rejected),
            "jobs_listed": len(listed), "info_requests": len(latencies),
            "info_p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
            "info_p99_ms": round(1000 * float(np.percentile(latencies, 99)), 1),
            "rss_before_mib": round(rss_before / 1024, 1), "rss_after_mib": round(_rss_kib(engine.pid) / 1024, 1),
            "problems": problems}


@pytest.mark.slow
def test_sixteen_clients_lose_no_job_and_memory_stays_flat(tmp_path):
    engine = start_engine(tmp_path / "engine", "--keep", "100000", "--max-queued", "32")
    try:
        warm = run_load(engine, clients=4, seconds=2.0)  # first requests import and allocate
        figures = run_load(engine, clients=16, seconds=8.0)
        assert engine.alive()
    finally:
        engine.stop()
    print(json.dumps(figures))
    assert not warm["problems"] and not figures["problems"], figures["problems"][:10]
    assert figures["jobs"] > 16 and figures["info_requests"] > 10
    assert figures["jobs_listed"] >= warm["jobs"] + figures["jobs"]  # no job lost from the history
    # Flat: the second, longer run grows the engine by far less than the jobs' records would if leaked
    # with their meshes and previews.
    assert figures["rss_after_mib"] - figures["rss_before_mib"] < 64, figures


def test_a_wrong_method_is_405_listing_every_method_of_the_path(raw):
    status, headers, data = raw.request("DELETE", "/v1/jobs")
    assert status == 405 and headers["allow"] == "GET, POST"
    assert json.loads(data)["error"]["message"]
    assert raw.request("PUT", "/v1/info")[1]["allow"] == "GET"


@pytest.mark.parametrize("flag", ["--max-queued", "--max-body-mib", "--max-file-mib"])
def test_a_limit_that_is_not_positive_is_named_at_start(tmp_path, flag):
    with pytest.raises(SystemExit, match=f"{flag} must be positive"):
        server.main(["--token-file", str(tmp_path / "token"), flag, "0"])
