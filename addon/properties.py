"""Properties: runtime state on the WindowManager (never saved in .blend files) and the panels'
settings on the Scene (``scene.procdream``, saved with the file so a result can be redone).

Operators take the same settings as operator properties with the same names; a property the caller
did not set falls back to the scene's value (see :mod:`.operators.settings`).
"""

import bpy

#: Must equal ``procgen.scenes.SCENE_TYPES`` (a test checks); not imported so registering needs no gin.
SCENE_TYPES = ("forest", "mountain", "desert", "arctic", "meadow", "river", "coast", "plain", "canyon",
               "snowy_mountain", "lake")
SCENE_TYPE_ITEMS = tuple((t, t.replace("_", " ").capitalize(), f"The {t} scene type (procgen/configs/{t}.gin)") for t in SCENE_TYPES)
TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)
TEXTURE_SIZE_ITEMS = tuple((str(s), f"{s} px", f"{s} x {s} texture") for s in TEXTURE_SIZES)
GUIDANCE_ITEMS = (
    ("sd", "Stable Diffusion", "Score distillation from the Stable Diffusion model set in the preferences"),
    ("analytic", "Analytic (test prior)", "TEST PRIOR, not a real model: a Gaussian around the colour named in "
     "the prompt (e.g. 'red', '#ff8800'). Paints flat colours; for checking the pipeline without a model"),
)
JOB_STATES = (
    ("NONE", "Idle", "No job has run yet"),
    ("STARTING", "Starting", "Starting the engine or the job"),
    ("RUNNING", "Running", "The job is running"),
    ("DONE", "Done", "The last job finished"),
    ("ERROR", "Error", "The last job failed"),
    ("CANCELLED", "Cancelled", "The last job was cancelled"),
)


class PROCDREAM_PG_engine_state(bpy.types.PropertyGroup):
    status: bpy.props.EnumProperty(
        name="Status",
        items=(
            ("UNKNOWN", "Not checked", ""),
            ("CHECKING", "Checking", ""),
            ("OK", "Ready", ""),
            ("ERROR", "Problem", ""),
        ),
        default="UNKNOWN",
    )
    message: bpy.props.StringProperty(name="Message")
    device: bpy.props.StringProperty(name="Device")
    python: bpy.props.StringProperty(name="Python")


class PROCDREAM_PG_job_state(bpy.types.PropertyGroup):
    """The running (or last) job, shown in the sidebar."""

    state: bpy.props.EnumProperty(name="State", items=JOB_STATES, default="NONE")
    kind: bpy.props.StringProperty(name="Job", description="What runs: Paint with prompt, Sketch to asset, ...")
    step: bpy.props.IntProperty(name="Step", min=0)
    total: bpy.props.IntProperty(name="Total", min=0)
    eta_s: bpy.props.FloatProperty(name="ETA", description="Seconds left; negative when unknown", default=-1.0)
    message: bpy.props.StringProperty(name="Message")
    object_name: bpy.props.StringProperty(name="Object", description="Object being processed")
    object_index: bpy.props.IntProperty(name="Object index", description="1-based index in the queue", min=0)
    object_count: bpy.props.IntProperty(name="Objects", min=0)
    preview_image: bpy.props.StringProperty(name="Preview", description="Name of the live preview image")
    result_path: bpy.props.StringProperty(name="Result", description="File or folder the last job produced",
                                          subtype="FILE_PATH")


class PROCDREAM_PG_paint_settings(bpy.types.PropertyGroup):
    prompt: bpy.props.StringProperty(name="Prompt", description="What the surface should look like")
    negative_prompt: bpy.props.StringProperty(name="Negative prompt", description="What to avoid")
    guidance: bpy.props.EnumProperty(name="Guidance", items=GUIDANCE_ITEMS, default="sd")
    seed: bpy.props.IntProperty(name="Seed", min=0, default=0)
    steps: bpy.props.IntProperty(name="Steps", min=1, max=100_000, default=2000,
                                 description="Optimisation steps (the paper uses 5000)")
    guidance_scale: bpy.props.FloatProperty(name="Guidance scale", min=0.0, max=1000.0, default=100.0)
    texture_size: bpy.props.EnumProperty(name="Texture size", items=TEXTURE_SIZE_ITEMS, default="1024")
    use_existing_uvs: bpy.props.BoolProperty(
        name="Use existing UVs", default=True,
        description="Paint into the active UV map; off, or without a UV map, the engine unwraps a new one "
        "(stored as the UV map 'ProcDream UV')")
    lr: bpy.props.FloatProperty(name="Learning rate", min=1e-5, max=1.0, default=0.01, precision=4,
                                description="Adam step size; larger converges in fewer steps, less finely")


class PROCDREAM_PG_sketch_settings(bpy.types.PropertyGroup):
    prompt: bpy.props.StringProperty(name="Prompt", description="What the asset should be")
    negative_prompt: bpy.props.StringProperty(name="Negative prompt", description="What to avoid")
    guidance: bpy.props.EnumProperty(name="Guidance", items=GUIDANCE_ITEMS, default="sd")
    seed: bpy.props.IntProperty(name="Seed", min=0, default=0)
    steps: bpy.props.IntProperty(name="Steps", min=1, max=100_000, default=5000)
    guidance_scale: bpy.props.FloatProperty(name="Guidance scale", min=0.0, max=1000.0, default=100.0)
    texture_size: bpy.props.EnumProperty(name="Texture size", items=TEXTURE_SIZE_ITEMS, default="1024")
    target_faces: bpy.props.IntProperty(name="Target faces", min=100, max=1_000_000, default=20_000,
                                        description="Faces of the extracted mesh after simplification")
    refine_steps: bpy.props.IntProperty(name="Refine steps", min=0, max=100_000, default=0,
                                        description="RGB refinement steps after the latent stage")
    mesh_resolution: bpy.props.IntProperty(name="Mesh resolution", min=32, max=512, default=128,
                                           description="Marching-cubes grid used to extract the mesh")


class PROCDREAM_PG_procgen_settings(bpy.types.PropertyGroup):
    scene_type: bpy.props.EnumProperty(name="Scene type", items=SCENE_TYPE_ITEMS, default="meadow")
    seed: bpy.props.IntProperty(name="Seed", min=0, default=0)
    frames: bpy.props.IntProperty(name="Frames", min=1, max=10_000, default=1,
                                  description="Frames of camera motion")
    gin_params: bpy.props.StringProperty(
        name="Gin bindings", description="Extra gin bindings separated by ';', e.g. 'trees.density = 0.3'")


class PROCDREAM_PG_dataset_settings(bpy.types.PropertyGroup):
    output_dir: bpy.props.StringProperty(name="Output folder", subtype="DIR_PATH",
                                         description="Dataset folder; rerunning resumes it")
    scene_type: bpy.props.EnumProperty(name="Scene type", items=SCENE_TYPE_ITEMS, default="meadow")
    scenes: bpy.props.IntProperty(name="Scenes", min=1, max=1_000_000, default=1)
    frames: bpy.props.IntProperty(name="Frames", min=1, max=10_000, default=4, description="Frames per scene")
    resolution_x: bpy.props.IntProperty(name="Width", min=8, max=16384, default=320, subtype="PIXEL")
    resolution_y: bpy.props.IntProperty(name="Height", min=8, max=16384, default=240, subtype="PIXEL")
    samples: bpy.props.IntProperty(name="Samples", min=1, max=65536, default=16)
    seed: bpy.props.IntProperty(name="Seed", min=0, default=0)
    gin_params: bpy.props.StringProperty(
        name="Gin bindings", description="Extra gin bindings separated by ';', e.g. 'trees.density = 0.3'")


class PROCDREAM_PG_settings(bpy.types.PropertyGroup):
    paint: bpy.props.PointerProperty(type=PROCDREAM_PG_paint_settings)
    sketch: bpy.props.PointerProperty(type=PROCDREAM_PG_sketch_settings)
    procgen: bpy.props.PointerProperty(type=PROCDREAM_PG_procgen_settings)
    dataset: bpy.props.PointerProperty(type=PROCDREAM_PG_dataset_settings)


# Nested groups first: a PointerProperty needs its type registered.
CLASSES = (
    PROCDREAM_PG_engine_state,
    PROCDREAM_PG_job_state,
    PROCDREAM_PG_paint_settings,
    PROCDREAM_PG_sketch_settings,
    PROCDREAM_PG_procgen_settings,
    PROCDREAM_PG_dataset_settings,
    PROCDREAM_PG_settings,
)


def attach():
    bpy.types.WindowManager.procdream_engine = bpy.props.PointerProperty(type=PROCDREAM_PG_engine_state)
    bpy.types.WindowManager.procdream_job = bpy.props.PointerProperty(type=PROCDREAM_PG_job_state)
    bpy.types.Scene.procdream = bpy.props.PointerProperty(type=PROCDREAM_PG_settings)


def detach():
    del bpy.types.Scene.procdream
    del bpy.types.WindowManager.procdream_job
    del bpy.types.WindowManager.procdream_engine
