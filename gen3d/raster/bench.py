"""Benchmark of the numba rasterizer on a noisy sphere at latent resolution; hooked into scripts/bench.py."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from . import camera, numba_raster


def noisy_sphere(n_faces: int, rng: np.random.Generator, noise: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """A closed-ish latitude-longitude sphere of radius ~1 with about ``n_faces`` triangles.

    Returns ``(vertices (V, 3) float32, faces (F, 3) int64)``; F = 4 * rows**2 is the closest
    such count to ``n_faces``. Each vertex's radius is ``1 + noise * N(0, 1)`` from
    ``rng``. The pole rings keep one vertex per column, so the first and last rows hold
    near-degenerate slivers, which the rasterizer must shrug off anyway.
    """
    rows = max(2, round(math.sqrt(n_faces / 4)))
    cols = 2 * rows
    theta = np.linspace(0.0, math.pi, rows + 1)[:, None]
    phi = np.linspace(0.0, 2.0 * math.pi, cols, endpoint=False)[None, :]
    dirs = np.stack(np.broadcast_arrays(np.sin(theta) * np.sin(phi), np.cos(theta),
                                        np.sin(theta) * np.cos(phi)), axis=-1).reshape(-1, 3)
    vertices = dirs * (1.0 + noise * rng.standard_normal(len(dirs)))[:, None]
    j, i = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a = j * cols + i
    b = j * cols + (i + 1) % cols
    c, d = a + cols, b + cols
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    return vertices.astype(np.float32), faces.astype(np.int64)


def _scene(n_faces: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vertices, faces = noisy_sphere(n_faces, rng)
    mvp = camera.perspective(60.0, 1.0, 0.1, 10.0) @ camera.look_at(camera.spherical_eye(1.5, 60.0, 30.0))
    return camera.clip_positions(vertices, mvp), faces


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def bench_raster(n_faces: int = 100_000, size: int = 64, repeat: int = 5) -> dict:
    """Time :func:`numba_raster.rasterize` on a noisy unit sphere seen from distance 1.5.

    Returns a dict: ``first_call_s`` (seconds for the first call in this process: JIT compile or
    numba cache load; ``compiled_before`` says whether this process had already compiled it),
    ``ms`` (median steady-state milliseconds per call for ``n_faces``, ``size`` x ``size``),
    ``ms_500k`` (the same for ~500k faces), the actual face counts, ``covered`` (pixel fraction)
    and ``threads`` (numba threads).
    """
    import numba

    clip, faces = _scene(n_faces)
    compiled_before = bool(numba_raster._rasterize_kernel.signatures)
    t0 = time.perf_counter()
    frags = numba_raster.rasterize(clip, faces, size, size)
    first_call_s = time.perf_counter() - t0
    ms = _median_ms(lambda: numba_raster.rasterize(clip, faces, size, size), repeat)
    clip_big, faces_big = _scene(500_000)
    ms_big = _median_ms(lambda: numba_raster.rasterize(clip_big, faces_big, size, size), repeat)
    return {
        "first_call_s": round(first_call_s, 3),
        "compiled_before": compiled_before,
        "ms": round(ms, 3),
        "n_faces": int(len(faces)),
        "ms_500k": round(ms_big, 3),
        "n_faces_500k": int(len(faces_big)),
        "size": size,
        "covered": round(float(frags.mask.mean()), 3),
        "threads": numba.get_num_threads(),
    }
