"""In NHWC, an upsampler's residual x is broadcast over the sub-pixels instead of copied."""

import numpy as np
from onnx import helper

from converters.fastpath.graph import Index, attrs, initializer, replace, splice


def broadcast_copies(graph, constants):
    """NHWC ``Reshape(a + Concat(x, ..., x), (0, 0, 0, r, r, -1))``, the start of an upsampler's
    shuffle after ``shuffle_residual``, -> ``Reshape(a, ...) + Reshape(x, (0, 0, 0, 1, 1, -1))``:
    the same sums, x broadcast over the r*r sub-pixels instead of copied (onnxruntime writes and
    reads the copies, as big as the shuffled output, otherwise)."""
    index = Index(graph)
    replaced = {}
    for at, node in enumerate(graph.node):
        split = constants.get(node.input[1]) if node.op_type == "Reshape" else None
        if split is None or list(split[:3]) != [0, 0, 0] or len(split) != 6 or split[5] != -1 or split[3] != split[4]:
            continue
        add = index.only(node.input[0], "Add")
        for a, copies in (add.input, reversed(add.input)) if add is not None else ():
            concat = index.only(copies, "Concat")
            if concat is None or attrs(concat).get("axis") not in (3, -1) or len(concat.input) != split[3] ** 2 \
                    or len(set(concat.input)) != 1:
                continue
            stem = f"{node.name}_broadcast"
            one = initializer(graph, constants, f"{stem}_one", np.array([0, 0, 0, 1, 1, -1], np.int64))
            replaced[at] = [
                helper.make_node("Reshape", [a, node.input[1]], [f"{stem}_blocks"], name=f"{stem}_blocks"),
                helper.make_node("Reshape", [concat.input[0], one], [f"{stem}_x"], name=f"{stem}_x"),
                helper.make_node("Add", [f"{stem}_blocks", f"{stem}_x"], list(node.output), name=stem)]
            break
    splice(graph, replace(graph, replaced))
