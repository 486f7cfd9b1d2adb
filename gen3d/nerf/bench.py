"""Timing of one Latent-NeRF training render (64x64, forward + backward) on the current device.

``python -m procdream.gen3d.nerf.bench [--size 64] [--samples 64] [--repeat 5]`` prints one JSON
object; :func:`bench_render` is the hook for ``scripts/bench.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from .cameras import Camera
from .model import LatentNeRF
from .render import RenderConfig, render


def bench_render(size: int = 64, n_samples: int = 64, repeat: int = 5, device: str = "cpu") -> dict:
    """Median milliseconds of a training render (jittered samples, no occupancy culling, so every
    sample reaches the field: the worst case) forward, backward and both, plus the samples count."""
    model = LatentNeRF(generator=torch.Generator().manual_seed(0)).to(device)
    cam = [Camera.spherical(1.3, 70.0, 30.0, 55.0)]
    gen = torch.Generator(device=device).manual_seed(1)
    cfg = RenderConfig(n_samples=n_samples)
    fwd, bwd = [], []
    for i in range(repeat + 1):
        model.zero_grad(set_to_none=True)
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = render(model, cam, size, size, cfg, generator=gen)
        loss = out.latent.square().mean()
        if device != "cpu":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        loss.backward()
        if device != "cpu":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if i > 0:  # the first run pays for allocations and lazy init
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
    total = [a + b for a, b in zip(fwd, bwd, strict=True)]
    return {"size": size, "n_samples": n_samples, "evaluated_samples": out.n_evaluated, "device": device,
            "threads": torch.get_num_threads(), "forward_ms": 1e3 * statistics.median(fwd),
            "backward_ms": 1e3 * statistics.median(bwd), "total_ms": 1e3 * statistics.median(total),
            "total_min_ms": 1e3 * min(total)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    print(json.dumps(bench_render(args.size, args.samples, args.repeat, args.device)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
