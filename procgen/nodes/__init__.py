"""NodeWrangler: concise building of shader, geometry-node and compositor trees."""

from .aliases import ALIASES, RENAMED_IN_5_0
from .node_wrangler import (
    MissingReferenceWarning,
    NodeWrangler,
    NodeWranglerError,
    apply_props,
    find_socket,
    node_group,
    ref,
    set_color_ramp,
    set_curve_mapping,
    set_items,
)

__all__ = ["ALIASES", "RENAMED_IN_5_0", "MissingReferenceWarning", "NodeWrangler", "NodeWranglerError",
           "apply_props", "find_socket", "node_group", "ref", "set_color_ramp", "set_curve_mapping", "set_items"]
