"""Procedural generators. Each is ``sample_params(rng)`` plus a deterministic ``build(params)``."""
