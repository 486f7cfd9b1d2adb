"""SDS guidance backends: Stable Diffusion (diffusers) and the analytic Gaussian test prior."""
