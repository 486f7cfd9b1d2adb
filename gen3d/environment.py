"""What the engine's Python can do: packages, compute device and model weights.

Used by the add-on's "Check engine" button (as ``python -m procdream.gen3d.environment``)
and by the engine's info endpoint. It never imports ``bpy`` and never downloads anything.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import platform
import sys
from pathlib import Path

from .. import __version__

#: Distribution names the engine needs, with the import name used to check them.
REQUIRED = {
    "torch": "torch",
    "diffusers": "diffusers",
    "transformers": "transformers",
    "safetensors": "safetensors",
    "numba": "numba",
    "xatlas": "xatlas",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
}

DEVICES = ("auto", "cuda", "cpu")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe_model(path: str | None) -> dict:
    """Classify a model location without loading it.

    Returns ``{"path", "kind", "ok", "problem"}`` where kind is ``diffusers-folder``,
    ``single-file`` or ``none``.
    """
    if not path:
        return {"path": None, "kind": "none", "ok": False,
                "problem": "no model path set; only the analytic test prior is available"}
    p = Path(path).expanduser()
    if p.is_dir():
        if (p / "model_index.json").is_file():
            return {"path": str(p), "kind": "diffusers-folder", "ok": True, "problem": None}
        return {"path": str(p), "kind": "none", "ok": False,
                "problem": f"{p} is a folder but has no model_index.json (not a diffusers model folder)"}
    if p.is_file():
        if p.suffix.lower() in (".safetensors", ".ckpt"):
            return {"path": str(p), "kind": "single-file", "ok": True, "problem": None}
        return {"path": str(p), "kind": "none", "ok": False,
                "problem": f"{p} is not a .safetensors or .ckpt file"}
    return {"path": str(p), "kind": "none", "ok": False, "problem": f"{p} does not exist"}


def resolve_device(preference: str = "auto") -> tuple[str, str | None]:
    """Pick the torch device for a preference in :data:`DEVICES`.

    Returns ``(device, problem)``; problem is None when the preference could be honoured.
    """
    if preference not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {preference!r}")
    import torch

    has_cuda = torch.cuda.is_available()
    if preference == "cuda" and not has_cuda:
        return "cpu", "device 'cuda' was asked for but torch sees no CUDA GPU; using the CPU"
    if preference == "cpu" or not has_cuda:
        return "cpu", None
    return "cuda", None


def describe(device: str = "auto", model_path: str | None = None) -> dict:
    """A JSON-ready report of the engine environment, with a concrete fix for each problem."""
    packages = {name: _version(name) for name in REQUIRED}
    missing = [name for name, ver in packages.items() if ver is None]
    problems: list[str] = []
    fixes: list[str] = []
    if missing:
        problems.append("missing packages: " + ", ".join(missing))
        fixes.append(f'"{sys.executable}" -m pip install "procdream[engine]" '
                     "(or press 'Set up engine environment')")

    resolved, gpu_name = None, None
    if packages["torch"] is not None:
        resolved, problem = resolve_device(device)
        if problem:
            problems.append(problem)
        if resolved == "cuda":
            import torch

            gpu_name = torch.cuda.get_device_name(0)

    model = describe_model(model_path)
    if model_path and not model["ok"]:
        problems.append(model["problem"])
        fixes.append("point the model path at a diffusers folder (with model_index.json) "
                     "or a single .safetensors/.ckpt file")

    return {
        "procdream": __version__,
        "python": sys.executable,
        "python_version": platform.python_version(),
        "packages": packages,
        "device": resolved,
        "gpu": gpu_name,
        "model": model,
        "ok": not missing and (not model_path or model["ok"]),
        "problems": problems,
        "fixes": fixes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Report what this Python can do as a ProcDream engine.")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--model", default=None, help="diffusers folder or .safetensors/.ckpt file")
    args = parser.parse_args(argv)
    report = describe(args.device, args.model)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
