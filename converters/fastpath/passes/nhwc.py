"""The binary part of the graph in NHWC, the layout the kernel reads and writes best and the one
in which a shuffle moves whole blocks."""

from lce_models.runtimes.bitpacked.session import DOMAIN

import numpy as np
from onnx import helper

from converters.fastpath.graph import attrs, initializer, splice

#: Ops the NHWC region may hold: the binary conv and what tf2onnx puts around it in BBCU nets.
NHWC_OPS = ("BinaryConv3x3", "PRelu", "Add", "Mul", "Concat", "DepthToSpace", "LeakyRelu", "Relu")


def nhwc_constant(value):
    """A constant of an NCHW elementwise op as its NHWC twin: scalars as they are, (1, C, 1, 1)
    or (C, 1, 1) per-channel vectors as (C,); None for any other shape."""
    value = np.asarray(value)
    if value.size == 1:
        return value
    if value.ndim in (3, 4) and value.shape[-2:] == (1, 1) and (value.ndim == 3 or value.shape[0] == 1):
        return value.reshape(-1)
    return None


def nhwc_ready(node, constants):
    """Whether ``node`` has an NHWC twin (checked on its attributes and constants)."""
    a = attrs(node)
    if node.op_type not in NHWC_OPS:
        return False
    if node.op_type in ("Add", "Mul", "PRelu"):
        return all(nhwc_constant(constants[i]) is not None for i in node.input if i in constants)
    if node.op_type == "Concat":
        return a.get("axis") in (1, -3)
    if node.op_type == "DepthToSpace":
        return a.get("mode", b"DCR") == b"DCR"
    return True


def to_nhwc(graph, constants):
    """Run the binary convs and the elementwise ops, concats and shuffles between them in NHWC,
    onnxruntime's NCHW DepthToSpace being the slowest op left (153 ms at bbcu-m's 360x640x256,
    33 ms as the NHWC Reshape/Transpose/Reshape). The region starts at the BinaryConv3x3 nodes
    and takes every op of ``NHWC_OPS`` fed by it; a Transpose goes in wherever a tensor enters
    or leaves it (onnxruntime folds one in front of a Conv into its input reorder). The same
    floats, in another memory order."""
    region, inside = set(), set()
    for at, node in enumerate(graph.node):
        feeds = [i for i in node.input if i and i not in constants]
        if node.op_type == "BinaryConv3x3" or (nhwc_ready(node, constants) and any(i in inside for i in feeds)):
            region.add(at)
            inside.update(node.output)
    consumers_outside = {i for at, n in enumerate(graph.node) if at not in region for i in n.input} | \
        {o.name for o in graph.output}
    nodes, entered = [], {}

    def enter(name):  # an NCHW tensor from outside, as NHWC
        if name not in entered:
            entered[name] = f"{name}_nhwc"
            nodes.append(helper.make_node("Transpose", [name], [entered[name]], name=f"{name}_to_nhwc",
                                          perm=[0, 2, 3, 1]))
        return entered[name]

    def constant(name):
        new = f"{name}_nhwc"
        return new if new in constants else initializer(graph, constants, new, nhwc_constant(constants[name]))

    for at, node in enumerate(graph.node):
        if at not in region:
            nodes.append(node)
            continue
        inputs = []
        for i in node.input:
            if not i or (i in constants and node.op_type == "BinaryConv3x3"):  # the op's own vectors
                inputs.append(i)
            elif i in constants:
                inputs.append(constant(i))
            else:
                inputs.append(f"{i}_nhwc" if i in inside else enter(i))
        outputs = [f"{o}_nhwc" for o in node.output]
        a = attrs(node)
        if node.op_type == "BinaryConv3x3":
            nodes.append(helper.make_node("BinaryConv3x3", inputs, outputs, name=node.name, domain=DOMAIN,
                                          pad_zero=a["pad_zero"], nhwc=1))
        elif node.op_type == "Concat":
            nodes.append(helper.make_node("Concat", inputs, outputs, name=node.name, axis=3))
        elif node.op_type == "DepthToSpace":
            nodes.extend(nhwc_depth_to_space(inputs[0], outputs[0], a["blocksize"], node.name, graph, constants))
        elif node.op_type == "LeakyRelu":  # the same floats; onnxruntime's LeakyRelu took 146 ms at
            # 720x1280x64 on 2 threads, PRelu with the slope as a scalar 11 to 17
            slope = initializer(graph, constants, f"{node.name}_slope", np.float32(a.get("alpha", 0.01)))
            nodes.append(helper.make_node("PRelu", [inputs[0], slope], outputs, name=node.name))
        else:
            nodes.append(helper.make_node(node.op_type, inputs, outputs, name=node.name, **a))
        for o in node.output:
            if o in consumers_outside:
                nodes.append(helper.make_node("Transpose", [f"{o}_nhwc"], [o], name=f"{o}_to_nchw", perm=[0, 3, 1, 2]))
    splice(graph, nodes)


def nhwc_depth_to_space(x, y, r, stem, graph, constants):
    """DepthToSpace (DCR) of an NHWC tensor: (N, H, W, r*r*C) -> (N, H, W, r, r, C) ->
    (N, H, r, W, r, C) -> (N, r*H, r*W, C). Whole blocks of r*C floats move, no single floats.
    The last shape is read off the 6-d tensor, so ``broadcast_copies`` may replace its maker."""
    for name, value in (("split", [0, 0, 0, r, r, -1]), ("w_start", [2]), ("w_end", [3]), ("c_start", [5]),
                        ("c_end", [6]), ("r", [r]), ("lead", [0, -1])):
        initializer(graph, constants, f"{stem}_{name}", np.array(value, np.int64))
    make = helper.make_node
    return [
        make("Reshape", [x, f"{stem}_split"], [f"{stem}_6d"], name=f"{stem}_6d"),
        make("Transpose", [f"{stem}_6d"], [f"{stem}_moved"], name=f"{stem}_moved", perm=[0, 1, 3, 2, 4, 5]),
        make("Shape", [f"{stem}_6d"], [f"{stem}_shape"], name=f"{stem}_shape"),
        make("Slice", [f"{stem}_shape", f"{stem}_w_start", f"{stem}_w_end"], [f"{stem}_w"], name=f"{stem}_w"),
        make("Slice", [f"{stem}_shape", f"{stem}_c_start", f"{stem}_c_end"], [f"{stem}_c"], name=f"{stem}_c"),
        make("Mul", [f"{stem}_w", f"{stem}_r"], [f"{stem}_rw"], name=f"{stem}_rw"),
        make("Concat", [f"{stem}_lead", f"{stem}_rw", f"{stem}_c"], [f"{stem}_target"], name=f"{stem}_target",
             axis=0),
        make("Reshape", [f"{stem}_moved", f"{stem}_target"], [y], name=stem),
    ]
