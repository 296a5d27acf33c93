"""Reading a TFLite flatbuffer without building an interpreter (whose arena can take
gigabytes): its operators, its input size and its output names, through TensorFlow's own
generated schema."""

import collections

from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python.schema_util import get_builtin_code_from_operator_code

#: Custom ops that LCE's runtime implements; any other custom op cannot run anywhere.
LCE_CUSTOM_OPS = frozenset({"LceQuantize", "LceDequantize", "LceBconv2d", "LceBMaxPool2d"})

BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def op_census(flatbuffer):
    """Count the operators of every subgraph of a flatbuffer, by builtin or custom name."""
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    census = collections.Counter()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for i in range(graph.OperatorsLength()):
            code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
            builtin = get_builtin_code_from_operator_code(code)
            if builtin == schema.BuiltinOperator.CUSTOM:
                census[code.CustomCode().decode()] += 1
            else:
                census[BUILTIN_NAMES[builtin]] += 1
    return census


def input_size(flatbuffer):
    """(H, W) of a flatbuffer's first input."""
    graph = schema.Model.GetRootAsModel(flatbuffer, 0).Subgraphs(0)
    _, h, w, _ = graph.Tensors(graph.Inputs(0)).ShapeAsNumpy()
    return int(h), int(w)


def output_names(flatbuffer):
    """The Keras output name of each output of the flatbuffer, in the interpreter's order.

    The converter reorders outputs; its signature keeps the Keras names with tensor indices.
    """
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph = model.Subgraphs(0)
    signature = model.SignatureDefs(0)
    by_tensor = {
        signature.Outputs(i).TensorIndex(): signature.Outputs(i).Name().decode()
        for i in range(signature.OutputsLength())
    }
    return [by_tensor[graph.Outputs(i)] for i in range(graph.OutputsLength())]
