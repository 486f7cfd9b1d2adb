"""Mesh and texture export: xatlas UVs, UV-island padding, texture baking, glTF writing."""
