"""Content built inside Blender: node graphs, generators, materials and gin scene configs.

Needs ``bpy`` and ``numpy`` only, plus the wheels the extension manifest bundles.
"""
