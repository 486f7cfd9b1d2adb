"""Dataset runs: many scenes, per-scene seeds, resume, failure isolation, workers and Ray."""
