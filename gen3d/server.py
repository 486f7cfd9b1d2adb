"""The engine's HTTP job server (protocol 1).

Run ``python -m procdream.gen3d.server --host 127.0.0.1 --port 0 --token-file F``. Once it listens it
prints exactly one JSON line to stdout::

    {"event": "ready", "url": "http://127.0.0.1:PORT", "pid": ..., "version": ..., "protocol": 1,
     "device": "cpu" | "cuda"}

and nothing else goes to stdout (logs, and anything job code prints later, go to stderr). Every
request needs ``Authorization: Bearer <token>`` (401 without, 403 wrong). Endpoints, all under /v1:

===========================================  ====================================================
GET  /v1/info                                version, protocol, device, job kinds + params schema
GET  /v1/openapi.json                        the OpenAPI schema (there is no /docs page)
POST /v1/jobs  {kind, params, mesh|null}     202 {"id"}; bad input 422 naming the field
GET  /v1/jobs                                {"jobs": [status, ...]} for the kept history
GET  /v1/jobs/{id}                           status: id kind state step total eta_s message error ...
GET  /v1/jobs/{id}/preview                   image/png; 404 until the job published one
POST /v1/jobs/{id}/cancel                    status after the request
GET  /v1/jobs/{id}/files                     {"files": [{"name", "size"}]}
GET  /v1/jobs/{id}/files/{name}              the file's bytes
POST /v1/shutdown                            202; the server stops after answering
===========================================  ====================================================

Every error body is ``{"error": {"field": <dotted name or null>, "message": ...}}``, plus a
``detail`` list when several fields were wrong. Besides 401/403 (token) and 404 (no such job),
the limits answer: 413 for a request body over ``--max-body-mib``, 429 (with Retry-After) when
``--max-queued`` jobs are waiting, 422 for a result file over ``--max-file-mib``; 503 while the
engine shuts down. The OpenAPI document (:mod:`.contract`) lists them per route.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import __version__
from . import contract
from .contract import error_responses
from .jobs import KINDS, JobQueue, QueueClosed, QueueFull, UnknownJob, load_builtin_kinds
from .validate import MAX_PROMPT_CHARS, TEXTURE_SIZES, MeshLimits, ValidationError

PROTOCOL = 1
log = logging.getLogger("procdream.engine")


def error_response(status: int, field: str | None, message: str, **extra: Any) -> JSONResponse:
    headers = extra.pop("headers", None)
    return JSONResponse({"error": {"field": field, "message": message}, **extra}, status_code=status,
                        headers=headers)


class BearerAuth:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer <token>``.

    It wraps the whole app, so unknown paths answer 401/403 too and reveal nothing without the token.
    """

    def __init__(self, app: Any, token: str):
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((value for key, value in scope["headers"] if key == b"authorization"), None)
        if header is None or header[:7].lower() != b"bearer ":
            response = error_response(401, "Authorization", "missing 'Authorization: Bearer <token>' header; "
                                      "the token is in the engine's token file",
                                      headers={"WWW-Authenticate": "Bearer"})
        elif not secrets.compare_digest(header[7:].strip(), self._token):
            response = error_response(403, "Authorization", "wrong token; read it again from the engine's "
                                      "token file (a restarted engine may have a new one)")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before the app sees it.

    The body is read here (up to the cap) and replayed to the app, so a declared Content-Length
    over the cap is refused without reading, and a chunked body is cut off at the cap.
    """

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = int(max_bytes)

    def _too_large(self, size: str) -> JSONResponse:
        return error_response(413, "body", f"the request body is {size}, more than the {self.max_bytes} bytes "
                              "this engine accepts (--max-body-mib); decimate the mesh or send fewer faces")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((value for key, value in scope["headers"] if key == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(f"{int(length)} bytes")(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large("larger")(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@dataclass(frozen=True)
class ServerLimits:
    """Request-size limits of the HTTP layer (the queue holds the job and file limits)."""

    #: A body this big holds a mesh at the default face limit, base64-encoded with UVs.
    max_body_bytes: int = 256 * 2**20


def _request_field(loc: tuple) -> str:
    # FastAPI prefixes where the value came from ("body", "path", ...); the client knows that already.
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "path", "query", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def create_app(token: str, queue: JobQueue, device: str, on_shutdown: Callable[[], None] | None = None,
               limits: ServerLimits = ServerLimits()) -> FastAPI:
    """The FastAPI app over a running :class:`JobQueue`; ``on_shutdown`` is called by /v1/shutdown.

    Its OpenAPI document (``/v1/openapi.json``) lists every status each route answers with the
    error body's schema, and job submission as the union of the kinds registered when the app is
    created (see :mod:`.contract`).
    """
    app = FastAPI(title="ProcDream engine", version=__version__, openapi_url=None, docs_url=None,
                  redoc_url=None)
    # Added last = outermost: the token is checked before any body is read.
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(BearerAuth, token=token)
    auth = (401, 403)
    job_errors = error_responses(*auth, 404)

    @app.exception_handler(ValidationError)
    async def _validation(_request, exc: ValidationError):
        return JSONResponse(exc.payload(), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_request, exc: RequestValidationError):
        detail = [{"field": "body" if e.get("type") == "json_invalid" else _request_field(tuple(e.get("loc", ()))),
                   "message": e.get("msg", "")} for e in exc.errors()]
        first = detail[0] if detail else {"field": "body", "message": "invalid request"}
        return error_response(422, first["field"], first["message"], detail=detail)

    @app.exception_handler(UnknownJob)
    async def _unknown_job(_request, exc: UnknownJob):
        return error_response(404, "id", f"no job with id {exc.args[0]!r} (the engine keeps the last "
                              f"{queue.keep} jobs, and forgets all of them when it restarts)")

    @app.exception_handler(QueueClosed)
    async def _closed(_request, exc: QueueClosed):
        return error_response(503, None, str(exc))

    @app.exception_handler(QueueFull)
    async def _full(_request, exc: QueueFull):
        return error_response(429, None, str(exc), headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; a path served by two
            # routes (GET and POST /v1/jobs) must list both. HEAD is implied by GET (RFC 9110).
            methods = set()
            for route in app.routes:
                if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
                    methods |= route.methods
            headers["Allow"] = ", ".join(sorted(methods - {"HEAD"}))
        return error_response(exc.status_code, None, str(exc.detail), headers=headers)

    @app.get("/v1/info", response_model=contract.Info, responses=error_responses(*auth))
    def info() -> dict:
        mesh = queue.mesh_limits
        return {"version": __version__, "protocol": PROTOCOL, "device": device, "pid": os.getpid(),
                "kinds": {name: kind.info() for name, kind in sorted(queue.kinds.items())},
                "queue": queue.counts(),
                "limits": {"max_faces": mesh.max_faces, "max_vertices": mesh.max_vertices,
                           "max_prompt_chars": MAX_PROMPT_CHARS, "texture_sizes": list(TEXTURE_SIZES),
                           "max_body_bytes": limits.max_body_bytes, "max_queued_jobs": queue.max_queued,
                           "max_file_bytes": queue.max_file_bytes},
                "dry_run": queue.dry_run}

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi() -> dict:
        return app.openapi()

    @app.post("/v1/jobs", status_code=202, response_model=contract.Submitted,
              responses=error_responses(*auth, 413, 422, 429, 503))
    async def submit(request: Request) -> dict:
        # Parsed and decoded in the thread pool: a large mesh must not block the event loop.
        job_id = await run_in_threadpool(_submit_body, await request.body())
        return {"id": job_id, "state": "queued"}

    def _submit_body(raw: bytes) -> str:
        # The kind's own models validate the body (queue.submit); the published JobRequest schema
        # is built from the same models, and errors name fields the way the rest of the API does.
        try:
            body = json.loads(raw) if raw.strip() else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError("body", f"not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ValidationError("body", 'must be a JSON object: {"kind": ..., "params": {...}, "mesh": ...}')
        unknown = sorted(set(body) - {"kind", "params", "mesh"})
        if unknown:
            raise ValidationError(unknown[0], "unknown field; a job request has kind, params and mesh")
        if "kind" not in body:
            raise ValidationError("kind", "is required: one of the kinds listed by GET /v1/info")
        return queue.submit(body["kind"], body.get("params", {}), body.get("mesh"))

    @app.get("/v1/jobs", response_model=contract.JobList, responses=error_responses(*auth))
    def list_jobs() -> dict:
        return {"jobs": queue.jobs()}

    @app.get("/v1/jobs/{job_id}", response_model=contract.JobStatus, responses=job_errors)
    def status(job_id: str) -> dict:
        return queue.status(job_id)

    @app.get("/v1/jobs/{job_id}/preview", response_class=Response, responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
              "description": "the latest preview image"}, **job_errors})
    def preview(job_id: str) -> Response:
        png = queue.preview(job_id)
        if png is None:
            return error_response(404, "preview", "the job has not published a preview yet")
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.post("/v1/jobs/{job_id}/cancel", response_model=contract.JobStatus, responses=job_errors)
    def cancel(job_id: str) -> dict:
        return queue.cancel(job_id)

    @app.get("/v1/jobs/{job_id}/files", response_model=contract.FileList, responses=job_errors)
    def files(job_id: str) -> dict:
        return {"files": queue.files(job_id)}

    @app.get("/v1/jobs/{job_id}/files/{name}", response_class=FileResponse, responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
              "description": "the file's bytes"}, **error_responses(*auth, 404, 422)})
    def download(job_id: str, name: str) -> Response:
        try:
            path = queue.file_path(job_id, name)
        except FileNotFoundError:
            return error_response(404, "name", f"job {job_id} has no result file {name!r}")
        return FileResponse(path, media_type="application/octet-stream")

    @app.post("/v1/shutdown", status_code=202, response_model=contract.ShutdownAccepted,
              responses=error_responses(*auth))
    def shutdown() -> dict:
        log.info("shutdown requested over HTTP")
        if on_shutdown is not None:
            on_shutdown()
        return {"ok": True}

    def build_openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description="ProcDream's engine: paint and sketch jobs over HTTP. Every "
                                             "route needs the bearer token.")
            app.openapi_schema = contract.add_submission_and_security(schema, queue.kinds)
        return app.openapi_schema

    app.openapi = build_openapi
    return app


# ---- command line -------------------------------------------------------------------------------
def read_or_create_token(path: Path) -> str:
    """The token in ``path``; a new random one is written (mode 0600) when the file does not exist."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first; use theirs
            return read_or_create_token(path)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token
    if not token:
        raise SystemExit(f"token file {path} is empty; delete it and a new token is made")
    return token


def bind_socket(host: str, port: int, allow_remote: bool) -> socket.socket:
    """Bind (not yet listen) a TCP socket; port 0 picks a free one. Non-loopback needs allow_remote."""
    host = "127.0.0.1" if host == "localhost" else host
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    if not ipaddress.ip_address(address[0]).is_loopback and not allow_remote:
        raise SystemExit(f"refusing to listen on {host} ({address[0]}), which other machines can reach; "
                         "use --host 127.0.0.1, or pass --allow-remote if you really mean it")
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":
        # Lets a restart reuse a fixed port while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    ip = ipaddress.ip_address(host)
    if ip.is_unspecified:  # 0.0.0.0 / :: is not an address a client can connect to; loopback is
        ip = ipaddress.ip_address("::1" if ip.version == 6 else "127.0.0.1")
    return f"http://[{ip}]:{port}" if ip.version == 6 else f"http://{ip}:{port}"


def pick_device(preference: str) -> str:
    if preference == "cpu":
        return "cpu"  # no need to import torch (seconds) just to learn that
    from .environment import resolve_device

    try:
        device, problem = resolve_device(preference)
    except ImportError:
        log.warning("torch is not installed in this Python; jobs that need it will fail")
        return "cpu"
    if problem:
        log.warning(problem)
    return device


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once its sockets accept connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]):
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m procdream.gen3d.server",
                                     description="Run the ProcDream engine's HTTP job server.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 (default) picks a free one")
    parser.add_argument("--token-file", required=True, help="file holding the bearer token; created if missing")
    parser.add_argument("--work-dir", default=None,
                        help="folder for job results (default: engine-work next to the token file)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--kinds-module", action="append", default=[], metavar="MODULE",
                        help="import MODULE at start so the job kinds it registers are served (repeatable)")
    parser.add_argument("--keep", type=int, default=32, help="finished jobs whose results are kept")
    parser.add_argument("--max-faces", type=int, default=MeshLimits.max_faces, help="largest mesh accepted")
    parser.add_argument("--max-queued", type=int, default=64, help="jobs waiting at most; more get 429")
    parser.add_argument("--max-body-mib", type=float, default=ServerLimits.max_body_bytes / 2**20,
                        help="largest request body in MiB; larger get 413")
    parser.add_argument("--max-file-mib", type=float, default=2048.0,
                        help="largest result file served, in MiB; a larger one gets 422")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and queue jobs as usual, then finish them at once without running "
                             "(for testing clients against the real contract)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.add_argument("--access-log", action="store_true", help="log every request (noisy: clients poll)")
    return parser


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM as SystemExit, so the `finally` below still stops the queue (uvicorn re-raises the
    # signal it caught once it has shut down; by default that would end the process on the spot).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token_file = Path(args.token_file).expanduser()
    sock = bind_socket(args.host, args.port, args.allow_remote)
    token = read_or_create_token(token_file)
    for module in args.kinds_module:
        importlib.import_module(module)
    load_builtin_kinds()
    device = pick_device(args.device)
    work_dir = Path(args.work_dir).expanduser() if args.work_dir else token_file.parent / "engine-work"
    limits = MeshLimits(max_faces=args.max_faces, max_vertices=3 * args.max_faces)
    for flag in ("max_queued", "max_body_mib", "max_file_mib", "keep", "max_faces"):
        if getattr(args, flag) <= 0:
            raise SystemExit(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
    queue = JobQueue(work_dir, device=device, keep=args.keep, mesh_limits=limits, max_queued=args.max_queued,
                     max_file_bytes=int(args.max_file_mib * 2**20), dry_run=args.dry_run)
    url = socket_url(sock)

    def request_shutdown() -> None:
        server.should_exit = True

    def announce() -> None:
        ready = {"event": "ready", "url": url, "pid": os.getpid(), "version": __version__,
                 "protocol": PROTOCOL, "device": device}
        print(json.dumps(ready), flush=True)
        # stdout carries only the ready line; later prints (job code, libraries) go to the log.
        sys.stdout = sys.stderr
        log.info("engine ready at %s on %s with job kinds: %s", url, device, ", ".join(sorted(KINDS)) or "none")

    app = create_app(token, queue, device, on_shutdown=request_shutdown,
                     limits=ServerLimits(max_body_bytes=int(args.max_body_mib * 2**20)))
    config = uvicorn.Config(app, log_config=None, log_level=args.log_level, access_log=args.access_log,
                            lifespan="off", timeout_graceful_shutdown=5)
    server = _ReadyServer(config, on_ready=announce)
    try:
        server.run(sockets=[sock])
    finally:
        if not queue.close(timeout=10):
            log.warning("the running job did not stop within 10 s; exiting anyway")
        sock.close()
    log.info("engine stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
