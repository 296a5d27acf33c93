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


def check(flatbuffer):
    """``ValueError`` unless ``flatbuffer`` is a whole TFLite model that a native interpreter may
    be handed: its identifier, every buffer's data inside the file, every tensor, buffer and op
    index in range, no custom op but LCE's, and a 4-D input of positive size. LCE's interpreter
    reads a damaged file unchecked, and a truncated one crashed it (a segmentation fault)."""
    data = bytes(flatbuffer)
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise ValueError("not a TFLite flatbuffer")
    try:
        model = schema.Model.GetRootAsModel(data, 0)
        buffers = model.BuffersLength()
        for i in range(buffers):
            buffer = model.Buffers(i)
            if buffer.DataLength() and buffer.DataAsNumpy().size != buffer.DataLength():
                raise ValueError(f"buffer {i} runs past the end of the file")
            if buffer.Offset() > 1 and buffer.Offset() + buffer.Size() > len(data):
                raise ValueError(f"buffer {i} runs past the end of the file")
        codes = model.OperatorCodesLength()
        for s in range(model.SubgraphsLength()):
            graph = model.Subgraphs(s)
            tensors = graph.TensorsLength()
            for t in range(tensors):
                tensor = graph.Tensors(t)
                tensor.ShapeAsNumpy()
                if tensor.Buffer() >= buffers:
                    raise ValueError(f"tensor {t} names buffer {tensor.Buffer()} of {buffers}")
            for i in range(graph.OperatorsLength()):
                op = graph.Operators(i)
                indices = [*(op.InputsAsNumpy() if op.InputsLength() else []),
                           *(op.OutputsAsNumpy() if op.OutputsLength() else [])]
                if op.OpcodeIndex() >= codes or any(not -1 <= int(j) < tensors for j in indices):
                    raise ValueError(f"operator {i} names an op or tensor that is not there")
            if any(not 0 <= int(j) < tensors for j in (*graph.InputsAsNumpy(), *graph.OutputsAsNumpy())):
                raise ValueError("a graph input or output that is not there")
        census = op_census(data)
        shape = model.Subgraphs(0).Tensors(model.Subgraphs(0).Inputs(0)).ShapeAsNumpy()
    except ValueError:
        raise
    except Exception as e:  # the reader meets whatever a damaged file holds
        raise ValueError(f"a damaged flatbuffer ({type(e).__name__})") from None
    unknown = sorted(op for op in census if op not in LCE_CUSTOM_OPS and op not in BUILTIN_NAMES.values())
    if unknown:
        raise ValueError(f"custom ops that no runtime here implements: {', '.join(unknown)}")
    if not hasattr(shape, "__len__") or len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"its input is not a batch of images of a fixed size (shape {shape})")
