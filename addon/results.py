"""Engine results -> new Blender data-blocks. Existing materials, images and meshes are never
removed or overwritten; a paint result does reassign every face of the painted mesh to its new
material slot (one undo step brings the old assignment back), and a mesh shared by several objects
gets the new material and UV map on all of them (the add-on warns).

Paint: a new material "ProcDream: <prompt>" (Principled BSDF fed by an Image Texture; the texture
is saved under the user directory's ``textures/`` and packed into the .blend), appended to the
object's material slots and assigned to every face; when the engine made new UVs, a new UV map
"ProcDream UV" holds them and the material reads that map. Sketch: the engine's ``mesh.glb``
imported into the "ProcDream" collection. Each result carries ``["procdream"]``, a JSON string
with what is needed to reproduce it (prompt, seed, model, guidance, steps, the engine's result.json).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import bpy
import numpy as np

from ..procgen import compat
from . import paths
from .mesh_export import MeshArrays

MATERIAL_PREFIX = "ProcDream: "
UV_MAP_NAME = "ProcDream UV"
COLLECTION_NAME = "ProcDream"
PROMPT_CHARS_IN_NAMES = 40
#: UVs closer than this count as the same when one loop appears in two triangles.
UV_TOLERANCE = 1e-5


class ResultError(RuntimeError):
    """A result could not be applied; nothing was added."""


def short_prompt(prompt: str) -> str:
    prompt = " ".join(prompt.split())
    return prompt if len(prompt) <= PROMPT_CHARS_IN_NAMES else prompt[: PROMPT_CHARS_IN_NAMES - 3].rstrip() + "..."


def record_json(settings: dict, result: dict | None, job: dict | None = None) -> str:
    """The ``["procdream"]`` custom property: settings, engine job and the engine's result.json."""
    record = {key: settings.get(key) for key in ("prompt", "negative_prompt", "seed", "guidance", "steps",
                                                 "guidance_scale", "texture_size")}
    record.update(model=settings.get("model_path"), settings=settings, result=result or {})
    if job:
        record["engine_job"] = {"id": job.get("id"), "kind": job.get("kind")}
    return json.dumps(record, sort_keys=True, default=str)


def _read_result(out_dir: Path) -> dict:
    try:
        return json.loads((out_dir / "result.json").read_text())
    except (OSError, ValueError):
        return {}


def _save_texture(src: Path, prompt: str, job_id: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", short_prompt(prompt)).strip("_")[:40] or "texture"
    dest = paths.user_dir("textures") / f"{slug}_{job_id[:8]}.png"
    shutil.copyfile(src, dest)
    return dest


def fill_uv_map(mesh, corner_loops: np.ndarray, uvs: np.ndarray, name: str = UV_MAP_NAME) -> tuple[str, int]:
    """Add a UV map to ``mesh`` from per-corner UVs; returns (its name, loops with conflicting UVs).

    A loop shared by two triangles of one polygon gets the UV of its first triangle corner; each
    loop whose other corners disagree by more than :data:`UV_TOLERANCE` counts as one conflict.
    """
    flat_loops = corner_loops.reshape(-1)
    flat_uvs = np.asarray(uvs, dtype=np.float32).reshape(-1, 2)
    if flat_loops.shape[0] != flat_uvs.shape[0]:
        raise ResultError(f"the engine sent UVs for {flat_uvs.shape[0] // 3} triangles, the mesh has "
                          f"{flat_loops.shape[0] // 3}")
    n_loops = len(mesh.loops)
    per_loop = np.zeros((n_loops, 2), dtype=np.float32)
    unique, first = np.unique(flat_loops, return_index=True)
    per_loop[unique] = flat_uvs[first]
    differs = np.abs(flat_uvs - per_loop[flat_loops]).max(axis=1) > UV_TOLERANCE
    conflicts = int(np.unique(flat_loops[differs]).size)
    layer = mesh.uv_layers.new(name=name, do_init=False)
    if layer is None:
        raise ResultError(f"{mesh.name!r} already has the most UV maps Blender allows; remove one and paint again")
    layer.uv.foreach_set("vector", per_loop.reshape(-1))
    return layer.name, conflicts


def _paint_material(name: str, image, uv_map: str | None):
    mat = bpy.data.materials.new(name)
    tree = compat.node_tree(mat)
    nodes, links = tree.nodes, tree.links
    bsdf = next((n for n in nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"), None)
    output = next((n for n in nodes if n.bl_idname == "ShaderNodeOutputMaterial"), None)
    if bsdf is None:
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
    if output is None:
        output = nodes.new("ShaderNodeOutputMaterial")
        output.location = (300, 0)
    if not output.inputs["Surface"].is_linked:
        links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])
    tex = nodes.new("ShaderNodeTexImage")
    tex.name = tex.label = "ProcDream texture"
    tex.image = image
    tex.interpolation = "Linear"
    tex.extension = "EXTEND"  # atlas charts may touch the border; never wrap to the other side
    tex.location = (bsdf.location.x - 360, bsdf.location.y)
    links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    if uv_map:
        uv = nodes.new("ShaderNodeUVMap")
        uv.name = uv.label = "ProcDream UV map"
        uv.uv_map = uv_map
        uv.location = (tex.location.x - 220, tex.location.y)
        links.new(uv.outputs["UV"], tex.inputs["Vector"])
    mat.diffuse_color = (*_mean_colour(image), 1.0)  # the solid viewport shows roughly the right colour
    return mat


def _mean_colour(image) -> tuple[float, float, float]:
    w, h = image.size
    if w * h > 1024 * 1024:  # reading a 4K image's float pixels costs seconds; not worth it here
        return (0.8, 0.8, 0.8)
    try:
        px = np.empty(w * h * image.channels, dtype=np.float32)
        image.pixels.foreach_get(px)
        rgb = px.reshape(-1, image.channels)[:, :3].mean(axis=0)
        return float(rgb[0]), float(rgb[1]), float(rgb[2])
    except (RuntimeError, ValueError):
        return (0.8, 0.8, 0.8)


def apply_paint(obj, export: MeshArrays, out_dir: Path, settings: dict, job: dict) -> tuple[object, list[str]]:
    """Add the painted material (and new UVs) to ``obj``; returns (material, warnings)."""
    warnings: list[str] = []
    out_dir = Path(out_dir)
    texture = out_dir / "texture.png"
    if not texture.is_file():
        raise ResultError(f"the engine's result has no texture.png (files: {sorted(p.name for p in out_dir.iterdir())})")
    mesh = obj.data
    uvs_file = out_dir / "uvs.npy"
    new_uvs = np.load(uvs_file) if uvs_file.is_file() else None
    if new_uvs is not None and (not export.same_topology or len(mesh.loops) != export.n_loops):
        raise ResultError(f"{obj.name!r}: the engine made new UVs, but the mesh changed while it was painted "
                          "(or a modifier changes its topology); paint it again")

    if mesh.is_editmode:
        raise ResultError(f"{obj.name!r} is in Edit Mode; leave Edit Mode and paint it again (changes made "
                          "there would discard the new UVs and face assignments)")
    if new_uvs is not None and len(mesh.uv_layers) >= 8:
        raise ResultError(f"{obj.name!r} already has 8 UV maps, Blender's limit; remove one for the new UVs")
    if mesh.users > 1:
        warnings.append(f"{obj.name}: its mesh is shared by {mesh.users} users; they all get the new material")

    result = _read_result(out_dir)
    record = record_json(settings, result, job)
    saved = _save_texture(texture, settings.get("prompt", ""), job.get("id", "job"))
    image = bpy.data.images.load(str(saved), check_existing=False)
    image.name = MATERIAL_PREFIX + short_prompt(settings.get("prompt", ""))
    image.pack()
    image["procdream"] = record

    uv_map = export.uv_map
    if new_uvs is not None:
        uv_map, conflicts = fill_uv_map(mesh, export.corner_loops, new_uvs)
        if conflicts:
            warnings.append(f"{obj.name}: {conflicts} corners had two different new UVs (a polygon was split "
                            "between UV islands); the first was kept, so those faces may show seams")
    mat = _paint_material(MATERIAL_PREFIX + short_prompt(settings.get("prompt", "")), image, uv_map)
    mat["procdream"] = record
    mesh.materials.append(mat)
    index = len(mesh.materials) - 1
    slot = obj.material_slots[index] if index < len(obj.material_slots) else None
    if slot is not None and slot.link == "OBJECT":
        slot.material = mat
    mesh.polygons.foreach_set("material_index", np.full(len(mesh.polygons), index, dtype=np.int32))
    mesh.update()
    obj["procdream"] = record
    return mat, warnings


def procdream_collection(scene):
    coll = bpy.data.collections.get(COLLECTION_NAME)
    if coll is None or coll.library is not None:
        coll = bpy.data.collections.new(COLLECTION_NAME)
    if coll not in scene.collection.children_recursive:
        scene.collection.children.link(coll)
    return coll


def _find_layer_collection(layer_coll, coll):
    if layer_coll.collection == coll:
        return layer_coll
    for child in layer_coll.children:
        found = _find_layer_collection(child, coll)
        if found is not None:
            return found
    return None


def import_sketch(context, out_dir: Path, settings: dict, job: dict) -> list:
    """Import ``mesh.glb`` into the "ProcDream" collection; returns the new objects."""
    glb = Path(out_dir) / "mesh.glb"
    if not glb.is_file():
        raise ResultError("the engine's result has no mesh.glb")
    if not hasattr(bpy.ops.import_scene, "gltf"):
        raise ResultError("the glTF importer is not available: enable the 'glTF 2.0 format' add-on in "
                          "Preferences > Add-ons")
    scene, view_layer = context.scene, context.view_layer
    coll = procdream_collection(scene)
    layer_coll = _find_layer_collection(view_layer.layer_collection, coll)
    previous = view_layer.active_layer_collection
    before = set(bpy.data.objects)
    try:
        if layer_coll is not None:
            view_layer.active_layer_collection = layer_coll
        ret = bpy.ops.import_scene.gltf(filepath=str(glb), import_pack_images=True)
    finally:
        view_layer.active_layer_collection = previous
    if "FINISHED" not in ret:
        raise ResultError(f"importing {glb} failed")
    new = [o for o in bpy.data.objects if o not in before]
    for obj in new:  # whatever the importer did with collections, the result lives in "ProcDream"
        if coll not in obj.users_collection:
            coll.objects.link(obj)
        for other in list(obj.users_collection):
            if other != coll:
                other.objects.unlink(obj)
    record = record_json(settings, _read_result(Path(out_dir)), job)
    name = MATERIAL_PREFIX + short_prompt(settings.get("prompt", ""))
    for obj in new:
        obj["procdream"] = record
        if obj.type == "MESH":
            obj.name = name
            obj.data.name = name
            for mat in obj.data.materials:
                if mat is not None:
                    mat.name = name
                    mat["procdream"] = record
    return new
