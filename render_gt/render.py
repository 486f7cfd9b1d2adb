"""Render RGB and exact ground truth from one synchronised Cycles scene, and write dataset frames.

Per frame, Cycles renders the view layer twice with persistent data on, so the scene is
synced (and its BVH built) once: first at the configured samples for rgb.png, then at 1
sample per pixel for the Depth, Normal and Object Index passes. Optical flow reprojects each
pixel's depth into the neighbouring frames' cameras, moving it with its object's rigid motion
(exact for rigid scenes, and all of ours are); only a moving object that can change shape brings
back the Vector pass, which makes Cycles sync the neighbouring frames too. Cycles takes the first
sample at the pixel centre, so every ground-truth channel is a point sample of the same
surface and none blends two surfaces at an edge. Atmosphere objects (haze, marked with
``labels.set_atmosphere``) shade the RGB image only: camera rays ignore them in the ground-truth
render and they are never numbered, so volumes cannot move a first hit.

Measured alternative (scripts/bench.py history, see the issue note): a second view layer at
1 spp in the same render (Kubric's approach) re-syncs the whole scene for that layer, which
on an instance-heavy procgen scene cost 1.5x an RGB-only render; persistent data avoids it.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from . import camera, compat, convert, instances, labels, preview, writer
from .config import RenderConfig
from .exr import read_multilayer

#: Per scene: one row per instance id (see README, "Ground truth").
INSTANCES_FILE = "instances.npz"


class RenderSetupError(ValueError):
    """The scene or output cannot be rendered as asked; raised before any rendering starts."""


def check_output_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` if needed and prove it is writable, or raise RenderSetupError."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise RenderSetupError(f"output folder {out} is not writable: {exc.strerror or exc}") from exc
    return out


def _layer(scene):
    """The view layer that renders (the first one); the others are switched off."""
    return scene.view_layers[0]


def prepare(scene, cfg: RenderConfig) -> None:
    """Configure ``scene`` for a GT render: Cycles, resolution, passes, persistent data.

    Raises RenderSetupError (naming the problem) for a bad config or a scene with no camera.
    Other view layers are switched off; motion blur is switched off because it zeroes the
    Vector pass.
    """
    try:
        cfg.validate()
    except ValueError as exc:
        raise RenderSetupError(str(exc)) from exc
    if scene.camera is None:
        raise RenderSetupError(f"scene {scene.name!r} has no camera; set scene.camera before rendering")
    if scene.camera.data.type != "PERSP":
        raise RenderSetupError(f"camera {scene.camera.name!r} is {scene.camera.data.type}; only perspective "
                               "cameras are supported")
    r = scene.render
    r.engine = "CYCLES"
    r.resolution_x, r.resolution_y, r.resolution_percentage = cfg.width, cfg.height, 100
    r.use_motion_blur = False
    r.use_border = False
    # Keeps the synced scene between the RGB and the ground-truth render of a frame.
    r.use_persistent_data = True
    scene.cycles.device = cfg.device
    r.threads_mode = "FIXED" if cfg.threads else "AUTO"
    if cfg.threads:
        r.threads = cfg.threads
    layer = _layer(scene)
    for other in scene.view_layers:
        other.use = other == layer
    layer.samples = 0  # use the scene setting
    layer.use_pass_combined = True
    # Data passes are written on surfaces at least this opaque: alpha-cut leaves count as hit.
    layer.pass_alpha_threshold = 0.5


DATA_PASSES = ("use_pass_z", "use_pass_normal", "use_pass_object_index")


def _data_passes(layer, gt: bool, vector: bool) -> None:
    """Passes for the RGB render (``gt`` False) and the ground-truth one. Depth, Normal and Object
    Index stay on for both: they leave Combined bit-identical and cost no measurable time, and
    nothing then changes between a frame's two renders but the samples and the haze. The
    Vector pass only when flow cannot come from depth (``vector``): it makes Cycles sync the
    scene at the neighbouring frames, which cost the ground truth 1.35x an RGB-only render
    (scripts/bench.py). Blender 4.x cannot switch it on again without losing the motion (see
    compat), so there it stays on."""
    for attr in DATA_PASSES:
        setattr(layer, attr, True)
    layer.use_pass_vector = vector and (gt or not compat.data_passes_toggle_safely())


@dataclass
class MotionTrack:
    """What flow by reprojection needs, per frame of a sequence and its neighbours: the camera
    record (K, world_from_camera) and the world matrix (4x4) of every object that moves."""

    cameras: dict[int, dict]
    moving: dict[int, dict[str, np.ndarray]]
    #: instance ids (lo, hi inclusive) of each moving object, by name.
    ids: dict[str, tuple[int, int]]
    n_ids: int

    def motion_of_id(self, frame: int, to: int) -> np.ndarray | None:
        """(n_ids + 1, 4, 4) world motion of each id from ``frame`` to ``to``; None if nothing moves."""
        if not self.ids:
            return None
        out = np.broadcast_to(np.eye(4), (self.n_ids + 1, 4, 4)).copy()
        for name, (lo, hi) in self.ids.items():
            out[lo:hi + 1] = self.moving[to][name] @ np.linalg.inv(self.moving[frame][name])
        return out


def _needs_vector_pass(scene, table: instances.InstanceTable) -> list[str]:
    """Names of moving objects whose geometry may change shape (shape keys, or modifiers other
    than the instance tag): their flow is not a rigid motion, so the Vector pass must measure it."""
    out = []
    for r in table.records:
        obj = scene.objects[r.name]
        if r.static:
            continue
        keys = getattr(getattr(obj, "data", None), "shape_keys", None)
        if keys is not None or any(m.name != instances.TAG_MODIFIER for m in obj.modifiers):
            out.append(r.name)
    return out


def _track(scene, frames: list[int], table: instances.InstanceTable) -> MotionTrack:
    """Camera and moving objects at every frame of ``frames`` and one either side."""
    moving = {r.name: (r.instance_id, r.instance_id + r.instances) for r in table.records if not r.static}
    cameras, matrices = {}, {}
    for f in range(frames[0] - 1, frames[-1] + 2):
        scene.frame_set(f)
        cameras[f] = camera.camera_record(scene, scene.camera, f)
        matrices[f] = {name: np.array(scene.objects[name].matrix_world, float) for name in moving}
    total = table.records[-1].instance_id + table.records[-1].instances if table.records else 0
    return MotionTrack(cameras, matrices, moving, total)


def _save_render_png(scene, path: Path) -> None:
    """Save the Render Result's combined image as an 8-bit PNG through the scene's colour
    management (tmp + rename). It is read back outside bpy (:func:`_read_png`): loading it as a
    Blender image would add a datablock between the two renders of a frame, which made Cycles
    update its scene again for the ground-truth render (0.7 s per 320x240 meadow frame)."""
    settings = scene.render.image_settings
    saved = compat.image_format(settings)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    try:
        compat.set_image_format(settings, "PNG", "8", "RGB")
        bpy.data.images["Render Result"].save_render(str(tmp), scene=scene)
    finally:
        compat.set_image_format(settings, **saved)
    os.replace(tmp, path)


def _read_png(path: Path) -> np.ndarray:
    """An 8-bit RGB PNG as uint8 HxWx3, rows top-down."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


@dataclass
class _RenderedFrame:
    """A rendered frame's raw passes and camera, and where its files go."""

    staged: Path
    final: Path
    #: the ground-truth render's multilayer EXR, read (and removed unless kept) by _finish_frame.
    exr: Path
    layer: str
    camera: dict
    forward: bool
    backward: bool


def _render_passes(scene, frame: int, frame_dir: Path, cfg: RenderConfig, *, forward: bool,
                   backward: bool, vector: bool = True) -> _RenderedFrame:
    """The part that needs bpy: the RGB render, then the 1-spp ground-truth render."""
    scene.frame_set(frame)
    staged = writer.staging_dir(frame_dir)
    cycles = scene.cycles
    layer = _layer(scene)
    cycles.samples, cycles.use_denoising = cfg.samples, cfg.denoise
    _data_passes(layer, False, vector)
    bpy.ops.render.render(write_still=False, scene=scene.name)
    _save_render_png(scene, staged / "rgb.png")
    exr_path = staged / "passes.exr"
    scene.render.filepath = str(exr_path)
    # A scratch file, read back at once: compression would be wasted time.
    compat.set_image_format(scene.render.image_settings, "OPEN_EXR_MULTILAYER", "32", exr_codec="NONE")
    cycles.samples, cycles.use_denoising = 1, False
    _data_passes(layer, True, vector)
    # Volumes scatter camera rays before they reach a surface, so camera rays ignore the
    # atmosphere in the ground-truth render: every pass is bit-identical to a render without it
    # (meadow). Ray visibility, not hide_render (which re-syncs the scene) nor the view layer's
    # volume filter (which shifts the 1-spp random sequence at ~30 alpha-cut leaf pixels).
    air = [o for o in scene.objects if labels.is_atmosphere(o) and not o.hide_render and o.visible_camera]
    try:
        for obj in air:
            obj.visible_camera = False
        bpy.ops.render.render(write_still=True, scene=scene.name)
    finally:
        for obj in air:
            obj.visible_camera = True
        cycles.samples, cycles.use_denoising = cfg.samples, cfg.denoise
    return _RenderedFrame(staged, frame_dir, exr_path, _layer(scene).name,
                          camera.camera_record(scene, scene.camera, frame), forward, backward)


def _flows(job: _RenderedFrame, passes: dict[str, np.ndarray], depth: np.ndarray, instance: np.ndarray,
           background: np.ndarray, track: MotionTrack | None) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) flow: by reprojection of depth with the camera and rigid object
    motion when a track is given, else from the Vector pass."""
    if track is None:
        return convert.flows_from_vector(compat.find_pass(passes, job.layer, "Vector"), background)
    f = job.camera["frame"]
    here = track.cameras[f]
    out = []
    for to in (f + 1, f - 1):
        other = track.cameras[to]
        out.append(convert.flow_from_depth(depth, np.array(here["K"]), np.array(here["world_from_camera"]),
                                           np.array(other["K"]), np.array(other["world_from_camera"]), instance,
                                           track.motion_of_id(f, to)))
    return out[0], out[1]


def _finish_frame(job: _RenderedFrame, table: instances.InstanceTable, lut: np.ndarray,
                  cfg: RenderConfig, track: MotionTrack | None = None) -> Path:
    """Passes -> ground truth files, then commit the frame folder. bpy-free, so it may run on a
    worker thread while Cycles renders the next frame."""
    passes = read_multilayer(job.exr)
    if not cfg.keep_exr:
        job.exr.unlink()
    gt = job.layer
    K = np.array(job.camera["K"])
    pose = np.array(job.camera["world_from_camera"])
    instance = convert.instance_ids(compat.find_pass(passes, gt, "Object Index"),
                                    passes.get(f"{gt}.{instances.AOV_NAME}"),
                                    table.base_of_ordinal(), table.instance_counts())
    background = instance == 0
    depth = convert.depth_from_pass(compat.find_pass(passes, gt, "Depth"), instance)
    fwd, bwd = _flows(job, passes, depth, instance, background, track)
    normal = convert.normals_to_camera(compat.find_pass(passes, gt, "Normal"), pose, K, background, depth)
    semantic = lut[instance]

    arrays = {"depth": depth, "normal": normal, "instance": instance, "semantic": semantic}
    if job.forward:
        arrays["flow_forward"] = fwd
    if job.backward:
        arrays["flow_backward"] = bwd
    for name, array in arrays.items():
        writer.save_npy(job.staged / f"{name}.npy", array)
    writer.save_json(job.staged / "camera.json", job.camera)
    writer.save_json(job.staged / "instances.json", {"instances": convert.visible_instances(instance, lut)})
    if cfg.preview:
        tiles = {**arrays, "rgb": _read_png(job.staged / "rgb.png")}
        writer.save_png(job.staged / "preview.png", preview.compose(tiles))
    return writer.commit_dir(job.staged, job.final)


def render_frame(scene, frame: int, frame_dir: str | Path, cfg: RenderConfig,
                 table: instances.InstanceTable, *, forward: bool, backward: bool) -> Path:
    """Render ``frame`` of a prepared scene into ``frame_dir`` (committed atomically).

    ``forward``/``backward`` say whether flow to the next/previous frame is written (the
    dataset omits forward flow on the last frame and backward flow on the first).
    """
    deforming = _needs_vector_pass(scene, table)
    track = None if deforming else _track(scene, [frame], table)
    job = _render_passes(scene, frame, Path(frame_dir), cfg, forward=forward, backward=backward,
                         vector=bool(deforming))
    return _finish_frame(job, table, table.semantic_lut(), cfg, track)


def render_sequence(scene, frames: list[int], scene_dir: str | Path, cfg: RenderConfig,
                    scene_info: dict | None = None, progress=None) -> list[Path]:
    """Render consecutive ``frames`` into ``scene_dir/frame_NNNN`` and write ``scene.json``.

    ``scene_info`` (seed, sampled params, ...) is merged into scene.json. ``progress`` is
    called as ``progress(done, total)`` after each frame. Everything is checked before the
    first render: config, camera, output folder, frame list. scene.json is written last, so
    its presence means every frame is in place.
    """
    if not frames:
        raise RenderSetupError("no frames to render")
    if any(b - a != 1 for a, b in zip(frames, frames[1:], strict=False)):
        raise RenderSetupError(f"frames must be consecutive (the Vector pass is per frame step), got {frames}")
    prepare(scene, cfg)
    out = check_output_dir(scene_dir)
    writer.clean_stale(out)
    scene.frame_set(frames[0])
    table = instances.assign_instances(scene)
    # The AOV pass costs ~2% render time (scripts/bench.py): only when instances need it.
    instances.set_aov_pass(_layer(scene), any(r.instances for r in table.records))
    lut = table.semantic_lut()
    deforming = _needs_vector_pass(scene, table)
    # Rigid scenes (all of ours): flow by reprojecting depth, exact and without the Vector pass.
    track = None if deforming else _track(scene, frames, table)
    info = dict(scene_info or {})
    info["flow"] = {"method": "vector_pass" if deforming else "reprojection", "deforming": deforming}
    info.update({
        "objects": [r.to_json() for r in table.records],
        "categories": dict(labels.CATEGORIES),
        "frames": list(frames),
        "render": {"width": cfg.width, "height": cfg.height, "samples": cfg.samples, "gt_samples": 1},
    })
    # Every id's record (object, class, transform and boxes at the first frame): compact columns
    # beside scene.json, which stays readable with tens of thousands of instances.
    writer.save_npz(out / INSTANCES_FILE, **table.instance_arrays())
    info["instances_file"] = INSTANCES_FILE
    done: list[Path] = []
    # A frame's files (EXR read, conversion, writes: 0.2-0.4 s on meadow at 320x240) are written
    # on a worker thread while the next frame renders, off the critical path; bpy releases the GIL
    # while rendering. One frame in flight at most; an error surfaces at the next frame, and the
    # pool is drained before it propagates, so a finished frame is always committed whole.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="procdream-gt") as pool:
        pending = None
        for i, frame in enumerate(frames):
            job = _render_passes(scene, frame, out / f"frame_{frame:04d}", cfg,
                                 forward=i < len(frames) - 1, backward=i > 0, vector=bool(deforming))
            if pending is not None:
                done.append(pending.result())
                if progress:
                    progress(len(done), len(frames))
            pending = pool.submit(_finish_frame, job, table, lut, cfg, track)
        done.append(pending.result())
        if progress:
            progress(len(done), len(frames))
    writer.save_json(out / "scene.json", info)
    return done
