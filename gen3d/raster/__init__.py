"""Rasterization for latent-resolution renders: numba on the CPU, nvdiffrast when CUDA has it."""
