"""A fixed three-object Cycles scene for the Blender micro-benchmark in scripts/bench.py.

Units are metres; the camera looks at the origin from +x/-y, about 9 m away.
"""

from __future__ import annotations

import math

import bpy

from . import compat


def build(width: int = 320, height: int = 240, samples: int = 16) -> bpy.types.Scene:
    """Reset Blender to an empty factory scene and build the placeholder scene in it.

    ``width``/``height`` are in pixels; ``samples`` is Cycles samples per pixel.
    """
    if width < 1 or height < 1:
        raise ValueError(f"resolution must be positive, got {width}x{height}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene

    bpy.ops.mesh.primitive_plane_add(size=20.0)
    ground = bpy.context.object
    ground.data.materials.append(_material("ground", (0.35, 0.3, 0.22, 1.0), roughness=0.9))

    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=4, radius=1.0, location=(0.0, 0.0, 1.0))
    sphere = bpy.context.object
    bpy.ops.object.shade_smooth()
    sphere.data.materials.append(_material("sphere", (0.8, 0.15, 0.1, 1.0), roughness=0.3))

    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(1.8, 1.2, 0.5))
    bpy.context.object.data.materials.append(_material("cube", (0.1, 0.3, 0.8, 1.0), roughness=0.5))

    sun = bpy.data.lights.new("sun", "SUN")
    sun.energy = 3.0
    sun_obj = bpy.data.objects.new("sun", sun)
    sun_obj.rotation_euler = (math.radians(40.0), 0.0, math.radians(30.0))
    scene.collection.objects.link(sun_obj)

    world = bpy.data.worlds.new("sky")
    compat.node_tree(world).nodes["Background"].inputs["Color"].default_value = (0.5, 0.65, 0.9, 1.0)
    scene.world = world

    cam = bpy.data.cameras.new("camera")
    cam_obj = bpy.data.objects.new("camera", cam)
    cam_obj.location = (6.5, -6.0, 3.6)
    scene.collection.objects.link(cam_obj)
    target = bpy.data.objects.new("target", None)
    target.location = (0.0, 0.0, 0.8)
    scene.collection.objects.link(target)
    track = cam_obj.constraints.new("TRACK_TO")
    track.target = target
    scene.camera = cam_obj

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = width
    scene.render.resolution_y = height
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    return scene


def _material(name: str, rgba: tuple[float, float, float, float], roughness: float) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    bsdf = compat.node_tree(mat).nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = rgba
    bsdf.inputs["Roughness"].default_value = roughness
    return mat
