"""python -m procdream.procgen.transpiler FILE.blend (--material NAME | --node-group NAME |
--object NAME [--modifier NAME] | --world [NAME] | --compositor [SCENE]) [-o out.py] [--prune]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _pick(collection, name: str | None, what: str):
    if name is None:
        if len(collection) == 1:
            return collection[0]
        raise SystemExit(f"transpiler: {what}: give a name; the file has: {sorted(x.name for x in collection)}")
    found = collection.get(name)
    if found is None:
        raise SystemExit(f"transpiler: no {what} named {name!r}; available: {sorted(x.name for x in collection)}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m procdream.procgen.transpiler",
                                     description="Turn a node tree in a .blend file into Python that rebuilds it.")
    parser.add_argument("blend", type=Path, help=".blend file to read")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--material", metavar="NAME")
    what.add_argument("--node-group", metavar="NAME")
    what.add_argument("--object", metavar="NAME", help="an object's geometry-nodes modifier")
    what.add_argument("--world", nargs="?", const="", metavar="NAME")
    what.add_argument("--compositor", nargs="?", const="", metavar="SCENE")
    parser.add_argument("--modifier", metavar="NAME", help="with --object: which geometry-nodes modifier")
    parser.add_argument("--prune", action="store_true", help="drop nodes not connected to an output")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    args = parser.parse_args(argv)
    if not args.blend.is_file():
        parser.error(f"{args.blend} does not exist")

    import bpy

    from . import TranspileError, transpile

    try:
        bpy.ops.wm.open_mainfile(filepath=str(args.blend), load_ui=False)
    except RuntimeError as exc:
        parser.error(f"cannot open {args.blend}: {exc}")
    data = bpy.data
    if args.material is not None:
        target = _pick(data.materials, args.material, "material")
    elif args.node_group is not None:
        target = _pick(data.node_groups, args.node_group, "node group")
    elif args.object is not None:
        target = _pick(data.objects, args.object, "object")
    elif args.world is not None:
        target = _pick(data.worlds, args.world or None, "world")
    else:
        target = _pick(data.scenes, args.compositor or None, "scene")
    try:
        source = transpile(target, prune=args.prune, modifier=args.modifier)
    except TranspileError as exc:
        raise SystemExit(f"transpiler: {exc}") from None
    if args.output:
        args.output.write_text(source)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
