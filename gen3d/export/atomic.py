"""Atomic file writes: a reader (the Blender add-on polling for results) never sees a half-written file.

Each writer puts the bytes in a temporary file in the destination folder (so ``os.replace`` is a
rename on one filesystem, which POSIX and Windows make atomic), fsyncs it, then renames it over
the destination.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; create missing parent folders. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # The rename did not happen; do not leave the temporary file behind.
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders, which is fine there.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an (H, W), (H, W, 3) or (H, W, 4) uint8 image (row 0 = top) as PNG, atomically."""
    return write_bytes_atomic(path, encode_png(image))


def encode_png(image: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 image (row 0 = top).
    ``compress_level`` 1 suits previews that are sent once and thrown away."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {arr.dtype}; convert with np.clip(x * 255 + 0.5, 0, 255)")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))) or arr.size == 0:
        raise ValueError(f"image must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write one array in ``.npy`` format, atomically (no pickles)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return write_bytes_atomic(path, buf.getvalue())
