"""Atomic file writing for dataset frames. bpy-free.

Every file goes to a temporary name in the same folder and is renamed into place, and a frame
is assembled in a hidden staging folder that is renamed to ``frame_NNNN`` only when complete,
so an interrupted run never leaves a half-written file or frame.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def save_npy(path: str | Path, array: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue())


def save_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Compressed .npz of named arrays (no pickles), written atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def save_json(path: str | Path, obj) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode())


def encode_png(image: np.ndarray) -> bytes:
    """uint8 HxW, HxWx3 or HxWx4 (rows top-down) -> PNG bytes."""
    if image.dtype != np.uint8:
        raise TypeError(f"PNG images must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    h, w, c = image.shape
    color_type = {1: 0, 3: 2, 4: 6}[c]
    # Filter type 0 (None) on every row; zlib does the compression.
    raw = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1))
            + chunk(b"IEND", b""))


def save_png(path: str | Path, image: np.ndarray) -> Path:
    return atomic_write_bytes(path, encode_png(image))


def staging_dir(final: str | Path) -> Path:
    """A fresh hidden folder beside ``final`` to assemble its files in."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit_dir(staged: str | Path, final: str | Path) -> Path:
    """Move a completed staging folder into place, replacing an older ``final`` if present."""
    staged, final = Path(staged), Path(final)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old)
    return final


def clean_stale(folder: str | Path) -> list[Path]:
    """Remove staging leftovers (``.*.tmp-*``, ``.*.old-*``) of interrupted runs in ``folder``."""
    removed = []
    for p in Path(folder).glob(".*"):
        if ".tmp-" in p.name or ".old-" in p.name:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
            removed.append(p)
    return removed
