"""The engine: diffusion guidance, Latent-Paint, Latent-NeRF and mesh export.

Runs in its own process and never imports ``bpy``.
"""
