"""Latent-NeRF: a hash-grid NeRF whose colours are 4-channel SD latents (REFERENCE.md, "Latent-NeRF").

Modules (import them directly; this package file stays light so ``import procdream.gen3d.nerf`` does
not pull in torch):

- ``hashgrid``: multi-resolution hash-grid encoding in pure torch (+ a slow reference).
- ``model``: :class:`~.model.LatentNeRF` (density with the centre blob + 4 latent channels) and the
  background network on the view direction.
- ``occupancy``: an occupancy grid that lets the renderer skip empty space.
- ``cameras``: pinhole cameras (random training views, per-pixel rays).
- ``render``: ray-box clipping, stratified sampling, volume rendering of (B, 4, H, W) latent images,
  per-sample outputs for the Sketch-Shape loss and the G3DR gradient-scaling hook.
- ``losses``: the opacity sparsity (binary entropy) loss.
- ``bench``: timing of a 64x64 training render (``python -m procdream.gen3d.nerf.bench``).

World frame: +y up, cameras as in ``gen3d.raster.camera`` (azimuth 0 = +z front, polar from +y).
"""
