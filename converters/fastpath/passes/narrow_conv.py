"""A float conv with few outputs read from the NHWC region becomes a Gemm and a sum of shifted
taps."""

import numpy as np
from onnx import helper

from converters.fastpath.graph import Index, attrs, initializer, replace, splice
from converters.fastpath.matcher import conv_padding

#: Output channels up to which ``narrow_conv`` takes a float 3x3 conv out of onnxruntime's
#: blocked layout (which pads them to its block of 8 or 16 channels).
NARROW = 4


def narrow_conv(graph, constants):
    """A float 3x3 conv with at most ``NARROW`` outputs (BBCU-M's last conv, 64 -> 3 at the high
    resolution) read from the NHWC region: onnxruntime reorders its input to a blocked layout
    and pads the 3 outputs to a block of 16 (1.6 G MACs of work done as 8.5 G). Instead one
    Gemm of the NHWC pixels, ``(9 O, C) x (N H W, C)^T``, gives every tap's O outputs of every
    pixel, in channel-major order, and the 9 taps, shifted, are summed: ``Pad``, 9 ``Slice``s
    and one ``Sum`` (with the bias), then the O planes go to NCHW. Measured alone at 720x1280,
    2 threads: 115 ms as Transpose + Conv, 75-83 this way. The same products, summed in
    another order."""
    index = Index(graph)
    replaced = {}
    for at, conv in enumerate(graph.node):
        kernel = constants.get(conv.input[1]) if conv.op_type == "Conv" and len(conv.input) > 1 else None
        if kernel is None or kernel.ndim != 4 or kernel.shape[2:] != (3, 3) or kernel.shape[0] > NARROW or \
                conv_padding(conv, None) != "zero":
            continue
        transpose = index.only(conv.input[0], "Transpose")
        if transpose is None or attrs(transpose).get("perm") != [0, 3, 1, 2]:
            continue
        o, c = kernel.shape[:2]
        bias = constants.get(conv.input[2]) if len(conv.input) > 2 else np.zeros(o, np.float32)
        if bias is None:
            continue
        stem, make = f"{conv.name}_narrow", helper.make_node
        const = {name: initializer(graph, constants, f"{stem}_{name}", value) for name, value in (
            ("taps", kernel.transpose(2, 3, 0, 1).reshape(9 * o, c).astype(np.float32)),  # row t * O + o
            ("rows", np.array([-1, c], np.int64)), ("lead", np.array([9 * o], np.int64)),
            ("nhw_start", np.array([0], np.int64)), ("nhw_end", np.array([3], np.int64)),
            ("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)), ("axes", np.array([0, 2, 3], np.int64)),
            ("bias", np.asarray(bias, np.float32).reshape(o, 1, 1, 1)))}
        nodes = [
            make("Reshape", [transpose.input[0], const["rows"]], [f"{stem}_pixels"], name=f"{stem}_pixels"),
            make("Gemm", [const["taps"], f"{stem}_pixels"], [f"{stem}_flat"], name=f"{stem}_gemm", transB=1),
            make("Shape", [transpose.input[0]], [f"{stem}_shape"], name=f"{stem}_shape"),
            make("Slice", [f"{stem}_shape", const["nhw_start"], const["nhw_end"]], [f"{stem}_nhw"], name=f"{stem}_nhw"),
            make("Concat", [const["lead"], f"{stem}_nhw"], [f"{stem}_planes_shape"], name=f"{stem}_planes_shape",
                 axis=0),
            make("Reshape", [f"{stem}_flat", f"{stem}_planes_shape"], [f"{stem}_planes"], name=f"{stem}_planes"),
            make("Pad", [f"{stem}_planes", const["pads"]], [f"{stem}_padded"], name=f"{stem}_padded")]
        for t in range(9):
            dy, dx = divmod(t, 3)
            start = initializer(graph, constants, f"{stem}_start{t}", np.array([t * o, dy, dx], np.int64))
            end = initializer(graph, constants, f"{stem}_end{t}", np.array(
                [t * o + o, dy - 2 if dy < 2 else np.iinfo(np.int64).max, dx - 2 if dx < 2 else np.iinfo(np.int64).max],
                np.int64))
            nodes.append(make("Slice", [f"{stem}_padded", start, end, const["axes"]], [f"{stem}_tap{t}"],
                              name=f"{stem}_tap{t}"))
        nodes += [make("Sum", [f"{stem}_tap{t}" for t in range(9)] + [const["bias"]], [f"{stem}_sum"],
                       name=f"{stem}_sum"),
                  make("Transpose", [f"{stem}_sum"], list(conv.output), name=stem, perm=[1, 0, 2, 3])]
        replaced[at] = nodes
    splice(graph, replace(graph, replaced))
