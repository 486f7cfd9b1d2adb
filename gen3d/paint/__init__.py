"""Latent-Paint: SDS into a UV latent texture through a differentiable rasterizer."""
