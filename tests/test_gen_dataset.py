"""scripts/gen_dataset.py end to end: layout, manifest, loader, GT consistency, resume after a real
kill, failure isolation, Ray, and bad input. Scenes are real procgen meadows at 64x48."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from procdream.render_gt import FrameDataset, load_frame
from procdream.render_gt.camera import pixel_rays
from procdream.render_gt.dataset import cli
from procdream.render_gt.dataset.seeds import scene_seed

SCRIPT = ROOT / "scripts" / "gen_dataset.py"
# 2 scenes x 3 frames at 64x48 (the end-to-end size); 2 spp keeps the RGB cheap.
ARGS = ["--scenes", "2", "--frames", "3", "--resolution", "64", "48", "--samples", "2", "--seed", "7", "--quiet"]
FRAME_FILES = {"rgb.png", "depth.npy", "normal.npy", "instance.npy", "semantic.npy", "camera.json", "instances.json",
               "preview.png"}


def gen(out: Path, *extra: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *extra], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, **(env or {})})


def manifest(out: Path) -> dict:
    return json.loads((out / "dataset.json").read_text())


def arrays(out: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(out)): np.load(p) for p in sorted(out.glob("scene_*/frame_*/*.npy"))}


def scene_json(out: Path, name: str) -> dict:
    return json.loads((out / name / "scene.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "ds"
    proc = gen(out, *ARGS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 scenes rendered (6 frames" in proc.stdout and "0 failed" in proc.stdout
    return out


def test_layout_and_manifest(reference):
    m = manifest(reference)
    assert m["format"] == "procdream-dataset" and m["version"] == 1 and m["procdream_version"]
    assert m["config"]["identity"]["resolution"] == [64, 48] and m["summary"] == {"pending": 0, "done": 2, "failed": 0}
    for i, e in enumerate(m["scenes"]):
        assert e["name"] == f"scene_{i:06d}" and e["seed"] == scene_seed(7, i) and e["status"] == "done"
        assert e["error"] is None and e["attempts"] == 1 and e["seconds"]["render"] > 0
        info = scene_json(reference, e["name"])
        assert info["seed"] == e["seed"] and info["frames"] == [1, 2, 3] and info["params"]["scene_type"] == "meadow"
        assert info["categories"]["terrain"] > 0 and any(o["category"] == "terrain" for o in info["objects"])
        for k, frame in enumerate(sorted((reference / e["name"]).glob("frame_*"))):
            expected = set(FRAME_FILES)
            expected |= {"flow_forward.npy"} if k < 2 else set()
            expected |= {"flow_backward.npy"} if k > 0 else set()
            assert {p.name for p in frame.iterdir()} == expected, frame
    assert not [p for p in reference.rglob(".*") if p.name != ".lock"]  # no staging leftovers
    sheet = reference / "preview.png"
    from PIL import Image

    with Image.open(sheet) as im:  # 6 channels wide, one row per frame (3 per scene)
        assert im.width >= 6 * 64 and im.height >= 6 * 48


def test_loader_and_ground_truth_consistency(reference):
    ds = FrameDataset(reference)
    assert len(ds) == 6
    for scene in ("scene_000000", "scene_000001"):
        f0, f1 = (load_frame(reference / scene / f"frame_{k:04d}") for k in (1, 2))
        assert f0["rgb"].shape == (48, 64, 3) and f0["depth"].dtype == np.float32
        assert f0["instance"].dtype == np.uint32 and f0["semantic"].dtype == np.uint16
        hit = np.isfinite(f0["depth"])
        assert hit.mean() > 0.3 and np.array_equal(hit, f0["instance"] > 0)
        np.testing.assert_allclose(np.linalg.norm(f0["normal"][hit], axis=-1), 1.0, atol=1e-3)
        # Depth + poses predict the forward flow (every meadow object is static).
        rays = pixel_rays(f0["K"], 64, 48)
        pts = (rays * f0["depth"][..., None])[hit]
        world = pts @ f0["world_from_camera"][:3, :3].T + f0["world_from_camera"][:3, 3]
        cam1 = np.linalg.inv(f1["world_from_camera"])
        p1 = world @ cam1[:3, :3].T + cam1[:3, 3]
        uv1 = (p1 @ f1["K"].T)[:, :2] / p1[:, 2:3]
        v, u = np.nonzero(hit)
        err = np.linalg.norm(uv1 - np.stack([u + 0.5, v + 0.5], -1) - f0["flow_forward"][hit], axis=-1)
        assert np.abs(f0["flow_forward"][hit]).max() > 0.5, "the camera did not move"
        assert np.median(err) < 0.05, np.median(err)
        # Backward flow of frame 2 returns to frame 1: f_bwd(x + f_fwd(x)) ~= -f_fwd(x) where both exist.
        tgt = np.round(np.stack([u, v], -1) + f0["flow_forward"][hit]).astype(int)
        inside = (tgt[:, 0] >= 0) & (tgt[:, 0] < 64) & (tgt[:, 1] >= 0) & (tgt[:, 1] < 48)
        back = f1["flow_backward"][tgt[inside, 1], tgt[inside, 0]]
        cycle = np.linalg.norm(back + f0["flow_forward"][hit][inside], axis=-1)
        # Only where the nearest target pixel shows the same surface (its depth matches the
        # reprojected one): at 64x48 the near grass occludes most targets of an orbiting camera.
        same = np.abs(f1["depth"][tgt[inside, 1], tgt[inside, 0]] - p1[inside, 2]) < 0.02 * p1[inside, 2]
        assert same.mean() > 0.05
        assert np.median(cycle[same]) < 0.5, np.median(cycle[same])


def _wait_for(predicate, timeout: float, what: str):
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_resume_after_kill_matches_a_clean_run(reference, tmp_path):
    out = tmp_path / "ds"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--out", str(out), *ARGS], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def scene0_done():
            try:
                return manifest(out)["scenes"][0]["status"] == "done"
            except (OSError, ValueError, KeyError, IndexError):
                return False

        _wait_for(scene0_done, 300, "scene 0 to finish")
        # Kill in the middle of scene 1: once its staging folder exists it is rendering a frame.
        _wait_for(lambda: any(out.glob(".scene_000001.tmp-*")), 120, "scene 1 to start rendering")
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    killed = manifest(out)
    assert [s["status"] for s in killed["scenes"]] == ["done", "pending"]
    assert not (out / "scene_000001").exists()  # only a hidden staging folder, never a partial scene
    first = (out / "scene_000000" / "scene.json").stat()

    proc = gen(out, *ARGS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 scenes rendered" in proc.stdout and "1 already done" in proc.stdout
    m = manifest(out)
    assert [s["attempts"] for s in m["scenes"]] == [1, 2] and m["summary"]["done"] == 2
    again = (out / "scene_000000" / "scene.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)  # scene 0 was not redone
    assert not [p for p in out.rglob(".*") if p.name != ".lock"]
    got, want = arrays(out), arrays(reference)
    assert got.keys() == want.keys()
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    for name in ("scene_000000", "scene_000001"):
        assert scene_json(out, name) == scene_json(reference, name)
        for frame in (out / name).glob("frame_*"):
            assert json.loads((frame / "camera.json").read_text()) == \
                json.loads((reference / name / frame.name / "camera.json").read_text())


LIGHT = ["--gin-param", "ground_cover.enabled = False", "--gin-param", "trees.density = 0.1",
         "--gin-param", "terrain.resolution = 24", "--resolution", "32", "24", "--samples", "1", "--frames", "1",
         "--quiet"]


@pytest.mark.slow
def test_failures_are_isolated_and_retried(tmp_path):
    out = tmp_path / "ds"
    proc = gen(out, "--scenes", "3", "--workers", "2", *LIGHT,
               env={"PROCDREAM_DATASET_FAULTS": "raise:0,crash:1"})
    assert proc.returncode == 1, proc.stderr[-3000:]
    m = manifest(out)
    assert [s["status"] for s in m["scenes"]] == ["failed", "failed", "done"]
    raised, crashed = m["scenes"][0], m["scenes"][1]
    assert "InjectedFault" in raised["error"] and "Traceback" in raised["traceback"]
    assert "killed by SIGKILL" in crashed["error"]
    assert f"FAILED scene_000000 (seed {raised['seed']})" in proc.stderr and "2 failed" in proc.stdout
    assert (out / "scene_000002" / "frame_0001" / "depth.npy").is_file()
    assert not (out / "scene_000000").exists() and not (out / "scene_000001").exists()
    assert len(FrameDataset(out)) == 1

    proc = gen(out, "--scenes", "3", *LIGHT)  # a plain rerun leaves failed scenes alone
    assert proc.returncode == 0 and "0 scenes rendered" in proc.stdout and "2 failed earlier" in proc.stdout
    proc = gen(out, "--scenes", "3", "--retry-failed", *LIGHT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = manifest(out)
    assert [s["status"] for s in m["scenes"]] == ["done"] * 3 and [s["attempts"] for s in m["scenes"]] == [2, 2, 1]
    assert all(s["error"] is None for s in m["scenes"]) and len(FrameDataset(out)) == 3


def _parse(*argv: str):
    return cli.settings(cli.parser().parse_args(list(argv)))


@pytest.mark.parametrize("argv, message", [
    (["--retry-failed", "--overwrite"], "use one"),
    (["--ray", "auto", "--workers", "2"], "--workers starts local processes"),
    (["--ray-transfer", "copy"], "only apply with --ray"),
    (["--frames", "0"], "frames must be a positive integer"),
    (["--resolution", "64", "-1"], "height must be a positive integer"),
    (["--seed", "-3"], "seed must be a non-negative"),
    (["--gin-file", "/nonexistent.gin"], "gin file /nonexistent.gin does not exist"),
])
def test_contradictory_or_bad_flags_are_named(tmp_path, argv, message):
    with pytest.raises(cli.DatasetConfigError, match=message.replace("(", r"\(")):
        _parse("--out", str(tmp_path / "x"), *argv)


def test_existing_dataset_with_other_settings_refuses_to_mix(reference, tmp_path):
    before = (reference / "dataset.json").read_bytes()
    proc = gen(reference, *[a if a != "3" else "5" for a in ARGS])  # --frames 5
    assert proc.returncode == 2
    assert "--frames: 3 in the dataset, 5 now" in proc.stderr and "--overwrite" in proc.stderr
    assert (reference / "dataset.json").read_bytes() == before

    foreign = tmp_path / "stuff"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    proc = gen(foreign, *ARGS)
    assert proc.returncode == 2 and "is not a ProcDream dataset" in proc.stderr
    assert (foreign / "notes.txt").read_text() == "mine" and len(list(foreign.iterdir())) == 1

    proc = gen(tmp_path / "none", "--retry-failed", *ARGS)
    assert proc.returncode == 2 and "nothing to retry" in proc.stderr
    proc = gen(tmp_path / "bad", "--gin-param", "trees.densty = 1", *ARGS)
    assert proc.returncode == 2 and "densty" in proc.stderr and not (tmp_path / "bad").exists()


def test_overwrite_replaces_only_what_a_run_made_and_never_a_running_dataset(tmp_path):
    from procdream.render_gt.dataset.manifest import RunLock

    out = tmp_path / "ds"
    assert gen(out, "--scenes", "1", *LIGHT).returncode == 0
    (out / "notes.txt").write_text("mine")  # the user's own file inside the dataset folder
    before = (out / "dataset.json").read_bytes()
    with RunLock(out):  # another run is writing this dataset
        proc = gen(out, "--scenes", "1", "--overwrite", *[a if a != "1" else "2" for a in LIGHT])
    assert proc.returncode == 2 and "another gen_dataset run" in proc.stderr
    assert (out / "dataset.json").read_bytes() == before and (out / "scene_000000" / "scene.json").is_file()

    proc = gen(out, "--scenes", "1", *[a if a != "1" else "2" for a in LIGHT])  # --frames 2: refused
    assert proc.returncode == 2 and "--frames: 1 in the dataset, 2 now" in proc.stderr
    proc = gen(out, "--scenes", "1", "--overwrite", *[a if a != "1" else "2" for a in LIGHT])
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = manifest(out)
    assert m["config"]["frames"] == 2 and m["scenes"][0]["attempts"] == 1
    assert sorted(p.name for p in (out / "scene_000000").iterdir()) == ["frame_0001", "frame_0002", "instances.npz",
                                                                        "scene.json"]
    assert (out / "notes.txt").read_text() == "mine"


def test_scene_seeds_do_not_depend_on_run_size_or_order():
    seeds = [scene_seed(0, i) for i in range(100)]
    assert len(set(seeds)) == 100 and seeds[:5] == [scene_seed(0, i) for i in range(5)]
    assert scene_seed(1, 0) not in seeds and all(0 <= s < 2**63 for s in seeds)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ray_cluster_gives_the_same_dataset_as_a_local_run(reference, tmp_path):
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    temp = Path(f"/tmp/pdray{os.getpid()}")  # unix socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    start = subprocess.run([str(ray_bin), "start", "--head", "--port", str(port), "--num-cpus", "2",
                            "--node-ip-address", "127.0.0.1", "--include-dashboard=false", "--disable-usage-stats",
                            "--temp-dir", str(temp)], capture_output=True, text=True, env=env, timeout=180)
    assert start.returncode == 0, start.stderr[-3000:]
    try:
        out = tmp_path / "ray"
        proc = gen(out, *ARGS, "--ray", f"127.0.0.1:{port}", env={"RAY_USAGE_STATS_ENABLED": "0"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert [s["status"] for s in manifest(out)["scenes"]] == ["done", "done"]
        got, want = arrays(out), arrays(reference)
        assert got.keys() == want.keys()
        for key, value in want.items():
            np.testing.assert_array_equal(got[key], value, err_msg=key)
        for name in ("scene_000000", "scene_000001"):
            assert scene_json(out, name) == scene_json(reference, name)

        copied = tmp_path / "copied"  # tasks render node-locally and send the scene back
        proc = gen(copied, *LIGHT, "--ray", f"127.0.0.1:{port}", "--ray-transfer", "copy",
                   env={"RAY_USAGE_STATS_ENABLED": "0"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert (copied / "scene_000000" / "frame_0001" / "depth.npy").is_file()
        assert not [p for p in copied.rglob(".*") if p.name != ".lock"]
    finally:
        _stop_cluster(temp)
        import shutil

        shutil.rmtree(temp, ignore_errors=True)


def _stop_cluster(temp: Path) -> None:
    """Kill this test's Ray processes only (their command lines name its temp dir); `ray stop` would
    stop every Ray cluster of the user, including a concurrent test run's."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(temp) in cmdline and int(proc.name) != os.getpid():
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                pass
