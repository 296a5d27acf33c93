"""tf2onnx writes Keras's PReLU as five ops (``relu(y) + -alpha * relu(-y)``); this pass makes it
the one standard ``PRelu`` op, which computes the same floats."""

import numpy as np
from onnx import helper

from converters.fastpath.graph import Index, constant_input, initializer, replace, splice


def prelu(graph, constants):
    """tf2onnx's ``Add(Relu(y), [Add(] Mul(Relu(Neg(y)), -alpha) [, shift)])`` -> ``PRelu(y,
    alpha) [+ shift]``; intermediate values used elsewhere keep their nodes."""
    index = Index(graph)
    only = index.only
    replaced = {}
    for at, node in enumerate(graph.node):
        if node.op_type != "Add":
            continue
        for positive_name, other in (node.input, reversed(node.input)):
            positive = only(positive_name, "Relu")
            shift = only(other, "Add")
            mul_name, shift_value = (constant_input(shift, constants) or (None, None)) if shift is not None \
                else (other, None)
            mul = only(mul_name, "Mul") if mul_name is not None else None
            factor = constant_input(mul, constants) if mul is not None else None
            if positive is None or factor is None:
                continue
            negative = only(factor[0], "Relu")
            neg = only(negative.input[0], "Neg") if negative is not None else None
            if neg is None or neg.input[0] != positive.input[0]:
                continue
            slope = constants[factor[1]]
            stem = f"{node.name}_prelu"
            slope = initializer(graph, constants, f"{stem}_slope", -np.asarray(slope, np.float32))
            new = [helper.make_node("PRelu", [positive.input[0], slope],
                                    [node.output[0] if shift is None else f"{stem}_out"], name=stem)]
            if shift is not None:
                new.append(helper.make_node("Add", [f"{stem}_out", shift_value], [node.output[0]],
                                            name=f"{stem}_shift"))
            replaced[at] = new
            break
    splice(graph, replace(graph, replaced))
