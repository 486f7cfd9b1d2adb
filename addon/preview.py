"""The live preview image: PNG bytes from a job -> a file in the user directory -> one bpy image.

Drawing uses the image's preview icon, which needs a UI; in background mode (no GPU, no icons)
:func:`icon_id` returns 0 and the panels show a text line instead.
"""

from __future__ import annotations

import os

import bpy

from . import paths

IMAGE_NAME = "ProcDream Preview"


def show(png: bytes, name: str = "preview.png") -> str:
    """Write ``png`` and (re)load it as the preview image; returns the image's name."""
    path = paths.user_dir("previews") / name
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, path)
    return show_file(str(path))


def show_file(filepath: str) -> str:
    """Show an existing image file (e.g. a dataset's contact sheet) as the preview image."""
    image = bpy.data.images.get(IMAGE_NAME)
    if image is None or image.library is not None:
        image = bpy.data.images.load(filepath, check_existing=False)
        image.name = IMAGE_NAME
    else:
        if image.filepath != filepath:
            image.filepath = filepath
        image.reload()
    image.use_fake_user = False
    try:
        image.preview_ensure().reload()
    except (RuntimeError, AttributeError):
        pass  # no icon previews without a UI
    return image.name


def icon_id(name: str) -> int:
    """The preview icon of image ``name``, or 0 when it is missing or icons are unavailable."""
    image = bpy.data.images.get(name) if name else None
    if image is None:
        return 0
    try:
        return int(image.preview_ensure().icon_id)
    except (RuntimeError, AttributeError):
        return 0


def clear() -> None:
    """Remove the preview image if nothing uses it."""
    image = bpy.data.images.get(IMAGE_NAME)
    if image is not None and image.users == 0:
        bpy.data.images.remove(image)
