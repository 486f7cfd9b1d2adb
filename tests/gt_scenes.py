"""Small analytic scenes for the ground-truth tests (metres, Blender world axes, z up)."""

from __future__ import annotations

import math

import bpy

from procdream.procgen import compat
from procdream.render_gt import labels


def empty_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    world = bpy.data.worlds.new("w")
    compat.node_tree(world).nodes["Background"].inputs["Strength"].default_value = 1.0
    scene.world = world
    return scene


def add_camera(scene, location, rotation_deg=(0.0, 0.0, 0.0), lens=30.0, name="cam"):
    """A perspective camera; rotation (0,0,0) looks down -z with +x to the right of the image."""
    cam = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    cam.data.lens = lens
    cam.data.sensor_width = 36.0
    cam.location = location
    cam.rotation_euler = [math.radians(a) for a in rotation_deg]
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def add_plane(name, size=40.0, location=(0, 0, 0), rotation_deg=(0, 0, 0), category="terrain"):
    bpy.ops.mesh.primitive_plane_add(size=size, location=location,
                                     rotation=[math.radians(a) for a in rotation_deg])
    obj = bpy.context.object
    obj.name = name
    labels.set_label(obj, category)
    return obj


def add_cube(name, size=1.0, location=(0, 0, 0), category="rock", static=True):
    bpy.ops.mesh.primitive_cube_add(size=size, location=location)
    obj = bpy.context.object
    obj.name = name
    labels.set_label(obj, category, static=static)
    return obj


def add_sphere(name, radius=1.0, location=(0, 0, 0), category="rock"):
    bpy.ops.mesh.primitive_uv_sphere_add(radius=radius, location=location, segments=48, ring_count=24)
    obj = bpy.context.object
    obj.name = name
    bpy.ops.object.shade_smooth()
    labels.set_label(obj, category)
    return obj


def keyframe_linear(obj, frames_and_locations):
    """Keyframe ``location`` at each (frame, xyz) with linear interpolation and extrapolation."""
    for frame, loc in frames_and_locations:
        obj.location = loc
        obj.keyframe_insert("location", frame=frame)
    action = obj.animation_data.action
    for fc in _fcurves(action):
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"
        fc.extrapolation = "LINEAR"


def _fcurves(action):
    # Blender 5.0 actions are layered (channelbags); 4.x exposes action.fcurves directly.
    if hasattr(action, "fcurves"):
        return list(action.fcurves)
    return [fc for layer in action.layers for strip in layer.strips
            for bag in strip.channelbags for fc in bag.fcurves]


def add_scatter(name, prototype, points_size=3.0, subdivisions=3, category="plant"):
    """A grid whose geometry nodes put an instance of ``prototype`` on every vertex."""
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=subdivisions, y_subdivisions=subdivisions, size=points_size)
    host = bpy.context.object
    host.name = name
    labels.set_label(host, category)
    group = bpy.data.node_groups.new(name + "_scatter", "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    gin, gout = group.nodes.new("NodeGroupInput"), group.nodes.new("NodeGroupOutput")
    on_points = group.nodes.new("GeometryNodeInstanceOnPoints")
    info = group.nodes.new("GeometryNodeObjectInfo")
    info.inputs["Object"].default_value = prototype
    group.links.new(gin.outputs[0], on_points.inputs["Points"])
    group.links.new(info.outputs["Geometry"], on_points.inputs["Instance"])
    group.links.new(on_points.outputs[0], gout.inputs[0])
    host.modifiers.new("scatter", "NODES").node_group = group
    return host
