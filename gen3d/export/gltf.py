"""Write textured meshes as binary glTF (.glb); read meshes back (see :mod:`.mesh_io`).

UVs are given in the Blender convention (v up, (0, 0) = bottom-left of the image). glTF puts the
UV origin at the image's top-left (v down); trimesh writes TEXCOORD_0 = (u, 1 - v) and embeds the
image rows top-down, so a colour at our (u, v) is read back at the same surface point
(tests/test_gen3d_export.py decodes the .glb by hand to check this).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import write_bytes_atomic
from .mesh_io import MeshData, read_mesh
from .validate import check_mesh, check_uvs

__all__ = ["MeshData", "read_mesh", "write_glb"]

# glTF sampler enums: LINEAR, LINEAR_MIPMAP_LINEAR, CLAMP_TO_EDGE.
_LINEAR, _LINEAR_MIPMAP_LINEAR, _CLAMP_TO_EDGE = 9729, 9987, 33071


def _check_texture(texture) -> np.ndarray:
    tex = np.asarray(texture)
    if tex.dtype != np.uint8:
        raise ValueError(f"texture must be uint8, got {tex.dtype}")
    if tex.ndim != 3 or tex.shape[2] not in (3, 4) or tex.shape[0] == 0 or tex.shape[1] == 0:
        raise ValueError(f"texture must have shape (H, W, 3) or (H, W, 4), got {tex.shape}")
    return np.ascontiguousarray(tex)


def _add_atlas_sampler(tree: dict) -> None:
    # Atlas charts may reach the image border (xatlas pads between charts, not at the border), so
    # wrapping would blend in texels from the opposite edge; clamp instead. Trilinear minification
    # uses the mip levels the padding was made for.
    if not tree.get("textures"):
        return
    tree["samplers"] = [{"magFilter": _LINEAR, "minFilter": _LINEAR_MIPMAP_LINEAR,
                         "wrapS": _CLAMP_TO_EDGE, "wrapT": _CLAMP_TO_EDGE}]
    for texture in tree["textures"]:
        texture["sampler"] = 0


def write_glb(path: str | os.PathLike, positions, faces, uvs=None, texture=None, *,
              normals=None, name: str = "procdream") -> Path:
    """Write a triangle mesh as a binary glTF file, atomically; return the path.

    ``positions`` (V, 3) float in metres (glTF is Y-up; no axis conversion is done here),
    ``faces`` (F, 3) int, counter-clockwise seen from outside. ``uvs`` (V, 2) per-vertex UVs in
    the Blender convention (split the mesh along seams first, e.g. with
    :func:`.unwrap.split_by_corner_uvs`). ``texture`` (H, W, 3 or 4) uint8, rows top-down, becomes
    the PBR material's baseColorTexture (needs ``uvs``); an RGBA texture whose alpha is all 255 is
    stored as RGB, otherwise the material uses alpha blending. ``normals`` (V, 3) optional vertex
    normals (see :mod:`.normals`); without them viewers shade flat. The material is dielectric
    (metallic 0, roughness 1) since the texture holds diffuse colour; ``name`` names the node,
    mesh and material.
    """
    import trimesh
    from PIL import Image

    pos, tri = check_mesh(positions, faces)
    uv = None if uvs is None else check_uvs(uvs, pos.shape[0])
    image = None
    alpha_mode = None
    if texture is not None:
        if uv is None:
            raise ValueError("a texture needs uvs: pass uvs (V, 2) together with texture")
        tex = _check_texture(texture)
        if tex.shape[2] == 4 and (tex[..., 3] == 255).all():
            tex = np.ascontiguousarray(tex[..., :3])
        if tex.shape[2] == 4:
            alpha_mode = "BLEND"
        image = Image.fromarray(tex)
    vertex_normals = None
    if normals is not None:
        vertex_normals = np.asarray(normals, dtype=np.float64)
        if vertex_normals.shape != pos.shape or not np.isfinite(vertex_normals).all():
            raise ValueError(f"normals must be finite with shape {pos.shape}, got {vertex_normals.shape}")

    material = trimesh.visual.material.PBRMaterial(
        name=name, baseColorTexture=image, baseColorFactor=[255, 255, 255, 255],
        metallicFactor=0.0, roughnessFactor=1.0, alphaMode=alpha_mode)
    visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    mesh = trimesh.Trimesh(vertices=pos, faces=tri, vertex_normals=vertex_normals, visual=visual, process=False)
    scene = trimesh.Scene()
    scene.add_geometry(mesh, geom_name=name, node_name=name)
    data = trimesh.exchange.gltf.export_glb(scene, include_normals=normals is not None,
                                            tree_postprocessor=_add_atlas_sampler)
    return write_bytes_atomic(path, data)

