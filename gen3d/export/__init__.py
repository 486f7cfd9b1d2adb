"""Mesh and texture export: xatlas UVs, UV-island padding, texture baking, glTF writing.

Modules (imported on demand; this package imports nothing itself, so it stays cheap):

* ``unwrap``     xatlas charts -> UV-split mesh; per-corner <-> per-vertex UVs.
* ``uv_raster``  numba rasterizer in texture space: texel -> triangle + barycentrics, bake points.
* ``uv_padding`` coverage masks and island dilation against bilinear / mip seams.
* ``gltf``       binary glTF writer (PBR, baseColorTexture); ``mesh_io`` reads meshes.
* ``cleanup``    floater removal, simplification, closedness check; ``normals`` vertex normals.
* ``atomic``     atomic file writes (png, npy, bytes); ``validate`` input checks.

Conventions: UVs as in Blender (u right, v up, (0, 0) = bottom-left of the image); images are
arrays with row 0 at the top (the v = 1 edge); texel (col, row) of a W x H image is centred at
u = (col + 0.5) / W, v = 1 - (row + 0.5) / H. Per-corner UVs are (F, 3, 2) arrays ("uv_faces").
"""
