"""Column layout for generated node trees, so they read left to right in the editor."""

from __future__ import annotations

#: Editor units between node columns and rows.
COLUMN_WIDTH = 260.0
ROW_HEIGHT = 200.0


def arrange_columns(tree) -> None:
    """Place each node one column left of the furthest node it feeds (outputs at x = 0)."""
    depth = {node.name: 0 for node in tree.nodes}
    # Longest-path relaxation: a DAG of n nodes settles within n passes.
    for _ in range(len(tree.nodes)):
        changed = False
        for link in tree.links:
            want = depth[link.to_node.name] + 1
            if depth[link.from_node.name] < want:
                depth[link.from_node.name] = want
                changed = True
        if not changed:
            break
    rows: dict[int, int] = {}
    for node in tree.nodes:
        column = depth[node.name]
        row = rows.get(column, 0)
        rows[column] = row + 1
        node.location = (-COLUMN_WIDTH * column, -ROW_HEIGHT * row)
