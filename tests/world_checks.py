"""What every rendered frame of a procedural world must show (shared by test_worlds and
test_versions): the ground reaches the horizon, the sky is at most half the frame, and open
scene types show a far field. Figures come from scripts/preview_scenes.view_figures."""

from __future__ import annotations

from pathlib import Path

from preview_scenes import view_figures

#: Issue 14's diversity rule: frames average at least this many semantic classes covering 0.5% of
#: the frame or more (sky excluded). No scene type is exempt.
MIN_CLASSES = 4

#: Scene types whose views are open country (canyon and forest frames are closed by walls and trees).
OPEN_TYPES = ("mountain", "desert", "arctic", "meadow", "river", "coast", "plain", "snowy_mountain")


def assert_world_frame(frame_dir: Path, scene_type: str, label: str) -> dict:
    """Assert the world figures of one frame folder; returns them."""
    f = view_figures(frame_dir)
    assert f["below_horizon_misses"] == 0, f"{label}: the world ends in view ({f['below_horizon_misses']} px)"
    assert f["sky_fraction"] <= 0.5, f"{label}: sky {f['sky_fraction']:.2f}"
    if scene_type in OPEN_TYPES:
        assert f["depth_p99_m"] >= 200.0, f"{label}: no far field (99th percentile depth {f['depth_p99_m']} m)"
    return f


def assert_diverse(figures: list[dict], label: str) -> float:
    """Assert the diversity rule over a scene's frames (figures from :func:`assert_world_frame`);
    returns the mean class count."""
    mean = sum(f["classes_over_0.5pct"] for f in figures) / len(figures)
    assert mean >= MIN_CLASSES, f"{label}: {mean:.1f} classes per frame (each >= 0.5% of it), want {MIN_CLASSES}"
    return mean
