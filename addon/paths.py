"""Where the add-on writes its files: the extension's user directory.

Installed as an extension, that is ``bpy.utils.extension_path_user(<root package>)``
(``<user>/extensions/.user/<repo>/procdream/``), which survives extension updates. When the package
is registered without the extension system (``import procdream; procdream.register()`` from a script
or a test), there is no extension user directory; the add-on then uses
``bpy.utils.user_resource('DATAFILES', path='procdream')``, and a folder in the system temp dir if
even that is unavailable.

Sub-folders: ``engine/`` (engine token, state, log), ``textures/`` (painted textures, also packed into
the .blend), ``results/`` (engine results while they are applied), ``previews/`` (live preview PNG),
``engine-venv/`` (made by *Set up engine environment*).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import bpy

from .preferences import ROOT_PACKAGE


def base_dir() -> Path:
    try:
        return Path(bpy.utils.extension_path_user(ROOT_PACKAGE, create=True))
    except ValueError:  # "does not name an extension": registered as a plain package
        pass
    try:
        found = bpy.utils.user_resource("DATAFILES", path="procdream", create=True)
    except (ValueError, OSError):
        found = ""
    if found:
        return Path(found)
    path = Path(tempfile.gettempdir()) / f"procdream-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_dir(*parts: str) -> Path:
    """``base_dir()/parts...``, created if missing."""
    path = base_dir().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
