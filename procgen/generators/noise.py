"""2D gradient noise and fractal sums on numpy arrays. Deterministic from an integer seed.

Coordinates are in noise units (one lattice cell per unit); callers scale metres by a
wavelength. Values are roughly in [-1, 1].
"""

from __future__ import annotations

import numpy as np


class GradientNoise2D:
    """Perlin-style gradient noise with a permutation table drawn from ``seed``."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)  # a generator made from an explicit parameter, not global state
        self.perm = np.tile(rng.permutation(256), 2)
        angles = rng.uniform(0.0, 2.0 * np.pi, 256)
        self.grad = np.stack([np.cos(angles), np.sin(angles)], axis=-1)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xi, yi = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        xf, yf = x - xi, y - yi
        xi, yi = xi & 255, yi & 255
        u, v = _fade(xf), _fade(yf)

        def dot(ix, iy, dx, dy):
            g = self.grad[self.perm[self.perm[ix] + iy]]
            return g[..., 0] * dx + g[..., 1] * dy

        n00 = dot(xi, yi, xf, yf)
        n10 = dot(xi + 1, yi, xf - 1, yf)
        n01 = dot(xi, yi + 1, xf, yf - 1)
        n11 = dot(xi + 1, yi + 1, xf - 1, yf - 1)
        return np.sqrt(2.0) * _lerp(_lerp(n00, n10, u), _lerp(n01, n11, u), v)


def _fade(t):
    return t * t * t * (t * (t * 6 - 15) + 10)


def _lerp(a, b, t):
    return a + (b - a) * t


def fbm(noise: GradientNoise2D, x: np.ndarray, y: np.ndarray, octaves: int, gain: float,
        lacunarity: float = 2.0, ridged: float = 0.0) -> np.ndarray:
    """Fractal Brownian motion, normalised to about [-1, 1]; ``ridged`` in [0, 1] blends in
    ridged noise (1 - |n|, sharpened), which gives mountain crests."""
    total = np.zeros_like(x, dtype=np.float64)
    amp, freq, norm = 1.0, 1.0, 0.0
    for octave in range(octaves):
        # Offset each octave so lattice points do not line up across octaves.
        n = noise(x * freq + 17.3 * octave, y * freq - 9.1 * octave)
        if ridged > 0.0:
            r = (1.0 - np.abs(n)) ** 2 * 2.0 - 1.0
            n = (1.0 - ridged) * n + ridged * r
        total += amp * n
        norm += amp
        amp *= gain
        freq *= lacunarity
    return total / norm
