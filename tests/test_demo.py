"""`make demo` is scripts/gen_dataset.py with its defaults: 1 meadow scene, 4 frames, 320x240, 16 spp."""

from __future__ import annotations

import re

from conftest import ROOT
from procdream.render_gt.dataset import cli


def test_make_demo_runs_gen_dataset_with_the_demo_preset():
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert "scripts/gen_dataset.py --out out/demo" in recipe
    cfg, opts = cli.settings(cli.parser().parse_args(["--out", "out/demo"]))
    assert (cfg.scene_type, cfg.scenes, cfg.frames, cfg.width, cfg.height, cfg.samples) == \
        ("meadow", 1, 4, 320, 240, 16)
    assert opts.workers == 1 and not opts.ray and opts.contact_sheet
