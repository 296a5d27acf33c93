"""How many input pixels around a pixel can change its output: the overlap tiles need.

Tiles that share fewer pixels than the receptive radius give seams: measured on a trained
BBCU-L x4 (radius 36 LR pixels), 64x96 tiles differed from the whole image by up to 7.5e-3
with an overlap of 16 and 2.3e-3 with 24. The radius is read from the graph itself, whatever
the format: the sum over convolutions of (kernel - 1) / 2 * dilation, in input pixels (a conv
after an r-fold depth-to-space counts 1/r of its radius, rounded up). Summing over every conv
is exact for the chain-with-skips networks of this toolkit and an upper bound for any graph
with parallel branches.
"""

import math

from lce_models.models.layers import PixelShuffle

import flatbuffers.flexbuffers as flexbuffers
import tf_keras as keras
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python.schema_util import get_builtin_code_from_operator_code


def _radius(steps):
    """Sum of conv radii over ``steps`` of ("conv", kernel, dilation) / ("upsample", factor)."""
    total, scale = 0, 1
    for kind, *args in steps:
        if kind == "upsample":
            scale *= args[0]
        else:
            kernel, dilation = args
            total += math.ceil((kernel - 1) // 2 * dilation / scale)
    return total


def of_keras(model):
    """Receptive radius of a Keras model (its layers in topological order)."""

    def steps():
        for layer in model._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.Conv2D):
                yield "conv", max(layer.kernel_size), max(layer.dilation_rate)
            elif isinstance(layer, PixelShuffle):
                yield "upsample", layer.factor

    return _radius(steps())


def of_tflite(flatbuffer):
    """Receptive radius of a TFLite flatbuffer (operators in execution order)."""
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph = model.Subgraphs(0)
    B = schema.BuiltinOperator

    def steps():
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = get_builtin_code_from_operator_code(code)
            if builtin == B.DEPTH_TO_SPACE:
                options = schema.DepthToSpaceOptions()
                options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
                yield "upsample", options.BlockSize()
                continue
            custom = code.CustomCode().decode() if builtin == B.CUSTOM else None
            if builtin in (B.CONV_2D, B.DEPTHWISE_CONV_2D):
                options = schema.Conv2DOptions()  # the depthwise options start the same way
                table = op.BuiltinOptions()
                options.Init(table.Bytes, table.Pos)
                dilation = max(options.DilationHFactor(), options.DilationWFactor())
            elif custom == "LceBconv2d":
                fields = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))
                dilation = max(fields.get("dilation_height_factor", 1), fields.get("dilation_width_factor", 1))
            else:
                continue
            shape = graph.Tensors(op.Inputs(1)).ShapeAsNumpy()  # (O, KH, KW, I) for all three
            yield "conv", int(max(shape[1], shape[2])), int(dilation)

    return _radius(steps())


#: The ONNX metadata key under which a rewritten graph keeps the radius of the graph it came
#: from (the fast path's rewrites hide convolutions in ops this reader does not know).
METADATA_KEY = "receptive_radius"


def of_onnx(model):
    """Receptive radius of an ONNX ``ModelProto``: its ``METADATA_KEY`` metadata where present,
    else read from its nodes (in topological order)."""
    recorded = [p.value for p in model.metadata_props if p.key == METADATA_KEY]
    if recorded:
        return int(recorded[0])
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}

    def attribute(node, name, default):
        for a in node.attribute:
            if a.name == name:
                return list(a.ints) if a.ints else a.i
        return default

    def steps():
        for node in model.graph.node:
            if node.op_type == "DepthToSpace":
                yield "upsample", attribute(node, "blocksize", 1)
            elif node.op_type == "Conv":
                kernel = attribute(node, "kernel_shape", None) or shapes[node.input[1]][2:]
                yield "conv", max(kernel), max(attribute(node, "dilations", [1]))

    return _radius(steps())
