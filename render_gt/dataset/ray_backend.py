"""Scale-out: every scene is a Ray task on an existing cluster. Needs ``ray`` (the ``ray`` extra).

Ray does the scheduling, placement and failure detection; this module only maps scenes to tasks
and task outcomes to manifest events. Every node needs this ProcDream version installed with the
``blender`` extra (its Ray workers import ``bpy``). Tasks are not retried by Ray: a scene that
raises or kills its worker is reported failed, like a local run, and ``--retry-failed`` redoes it.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from ... import __version__
from .. import writer
from .config import DatasetConfigError
from .scene_job import SceneTask, render_scene
from .worker import task_from_json, task_to_json


def _scene_task(task_json: dict, out: str, transfer: str) -> dict:
    """Runs on a Ray worker. With transfer "copy" the scene is rendered to a node-local folder and
    returned as an uncompressed tar (already-compressed PNG/NPY data would gain little)."""
    task = task_from_json(task_json)
    if transfer == "shared":
        result = render_scene(task, out)
    else:
        local = Path(tempfile.mkdtemp(prefix="procdream-ray-"))
        try:
            result = render_scene(task, local)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                tar.add(local / task.name, arcname=task.name)
            result["archive"] = buf.getvalue()
        finally:
            shutil.rmtree(local, ignore_errors=True)
    result["procdream_version"] = __version__
    return result


def _unpack(archive: bytes, out: Path, name: str) -> None:
    """Extract a returned scene into a staging folder, then rename it into place (atomic)."""
    staged = writer.staging_dir(out / name)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(staged, filter="data")
    writer.commit_dir(staged / name, out / name)
    shutil.rmtree(staged, ignore_errors=True)


def run_ray(address: str, tasks: list[SceneTask], out: Path, on_event: Callable[[dict], None], *,
            transfer: str = "shared", cpus_per_task: int = 1) -> None:
    """Submit one Ray task per scene to the cluster at ``address`` ("auto" = the local cluster) and
    report each scene's outcome through ``on_event`` as it finishes."""
    try:
        import ray
        from ray import exceptions as rex
    except ImportError:
        raise DatasetConfigError("--ray needs the ray package: pip install 'procdream[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise DatasetConfigError(f"--ray {address}: cannot connect to a Ray cluster ({exc})") from None
    try:
        remote = ray.remote(num_cpus=cpus_per_task, max_retries=0)(_scene_task)
        refs = {}
        for task in tasks:
            # No "start" event: Ray decides when a task runs, and one manifest write per submitted
            # scene would cost minutes on a 10k-scene run.
            refs[remote.remote(task_to_json(task), str(out), transfer)] = task
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in ready:
                task = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except rex.RayTaskError as exc:
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    on_event({"event": "failed", "scene": task.index, "error": f"{type(cause).__name__}: {cause}",
                              "traceback": str(exc)})
                    continue
                except rex.RayError as exc:  # worker crash, node death, object loss
                    on_event({"event": "failed", "scene": task.index,
                              "error": f"Ray worker failed while rendering this scene: {type(exc).__name__}",
                              "traceback": str(exc)})
                    continue
                if result.get("procdream_version") != __version__:
                    on_event({"event": "failed", "scene": task.index, "error":
                              f"the cluster runs ProcDream {result.get('procdream_version')}, this driver "
                              f"{__version__}; install the same version on every node", "traceback": None})
                    continue
                archive = result.pop("archive", None)
                if archive is not None:
                    _unpack(archive, out, task.name)
                on_event({"event": "done", "scene": task.index, "result": result})
    finally:
        if started_here:
            ray.shutdown()
