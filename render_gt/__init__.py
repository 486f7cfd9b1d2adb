"""Cycles rendering with ground truth, the dataset writers and the bpy-free loader."""
