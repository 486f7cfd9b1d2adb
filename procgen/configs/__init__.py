"""gin configs: scene types and dataset presets. Only ``.gin`` files and the path helper live here."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
