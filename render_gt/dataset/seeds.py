"""Per-scene seeds derived from the run's base seed. bpy-free."""

from __future__ import annotations

import numpy as np


def scene_seed(base_seed: int, index: int) -> int:
    """The seed of scene ``index`` (0-based) in a run with ``base_seed``: a 63-bit integer.

    numpy's SeedSequence spawn key makes the child independent of how many scenes the run has and
    of the order they run in, and well separated from neighbouring indices and base seeds (unlike
    ``base_seed + index``, where run 0's scene 1 would equal run 1's scene 0).
    """
    if base_seed < 0 or index < 0:
        raise ValueError(f"seed and scene index must be >= 0, got {base_seed}, {index}")
    words = np.random.SeedSequence(base_seed, spawn_key=(index,)).generate_state(2, np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1]))


def scene_name(index: int) -> str:
    return f"scene_{index:06d}"
