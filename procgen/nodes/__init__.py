"""NodeWrangler: concise building of shader, geometry-node and compositor trees."""
