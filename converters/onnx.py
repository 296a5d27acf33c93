"""Keras -> ONNX through tf2onnx, simplified with onnxsim, for desktop runtimes.

tf2onnx exports larq's binarizers as ``Sign`` + float ``Conv``: there is no 1-bit kernel in
ONNX, so the file is a float network that computes exactly what the binary one does (for a
comparison on desktop, not for speed). The binarized weights of a trained model are constants,
so they must arrive folded into ``Conv`` initializers (one magnitude per output channel), not
recomputed by Sign/Abs/ReduceMean nodes at every run: ``check_binary_weights`` verifies that.
"""

import collections

from lce_models.models.freezing import freeze
from lce_models.runtimes.onnx import onnx_runtime

import numpy as np
import onnx
import onnxsim
import tensorflow as tf
import tf2onnx
from onnx import numpy_helper

from converters.tflite import ConversionError, expected_convolutions

OPSET = 17


def convert(model, attempts=3):
    """Convert a Keras model to a simplified ONNX ``ModelProto`` with dynamic batch, height and
    width (whatever fixed shape the Keras model was built with). Bit-accumulated weights
    (``lce_models.models.bam``) are frozen to constants first.

    tf2onnx 1.17 sometimes drops the final ``Squeeze`` of a 1-channel graph (its NCHW <-> NHWC
    rewrite of C = 1 tensors into Reshape/Unsqueeze/Squeeze), giving a rank-5 output: seen in
    about 1 of 8 fresh processes for bbcu-car, only in a process's first conversion, never when
    converting again. So each graph's output shape is checked on a probe batch and a faulty
    graph is converted again (up to ``attempts`` times).
    """
    channels = model.input_shape[-1]
    spec = (tf.TensorSpec((None, None, None, channels), tf.float32, name="image"),)
    frozen = freeze(model)
    config = getattr(model, "config", None)
    scale = config.scale if config is not None else None
    for _ in range(attempts):
        proto, _ = tf2onnx.convert.from_keras(frozen, input_signature=spec, opset=OPSET)
        simplified, ok = onnxsim.simplify(proto)
        if not ok:
            raise ConversionError("onnxsim could not validate the simplified graph")
        shape = onnx_runtime(simplified.SerializeToString()).run(np.zeros((2, 9, 13, channels), np.float32)).shape
        if len(shape) == 4 and shape[0] == 2 and shape[3] == model.output_shape[-1] and (
                scale is None or shape[1:3] == (9 * scale, 13 * scale)):
            return simplified
    raise ConversionError(f"tf2onnx gave a graph whose output has shape {shape} for a (2, 9, 13, "
                          f"{channels}) input, {attempts} times")


def op_census(proto):
    return collections.Counter(node.op_type for node in proto.graph.node)


def binary_weight_convs(proto):
    """Number of ``Conv`` nodes whose weight is a constant of one magnitude per output channel,
    i.e. a folded mean|W| * sign(W)."""
    constants = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    count = 0
    for node in proto.graph.node:
        if node.op_type != "Conv" or node.input[1] not in constants:
            continue
        kernel = constants[node.input[1]]
        w = np.abs(kernel.reshape(kernel.shape[0], -1))  # ONNX Conv weights: (out, in, kh, kw)
        if w.shape[1] > 1 and np.allclose(w, w[:, :1], rtol=1e-6, atol=0):
            count += 1
    return count


def check_binary_weights(model, proto):
    """Raise ``ConversionError`` unless every binary conv of ``model`` is a ``Conv`` with
    folded binary weights and no ``Conv`` reads a weight computed at run time."""
    binary, floating = expected_convolutions(model)
    census = op_census(proto)
    folded = binary_weight_convs(proto)
    if census["Conv"] != binary + floating or folded < binary:
        raise ConversionError(
            f"ONNX graph has {census['Conv']} Conv ({folded} with folded binary weights) for "
            f"{binary} binary and {floating} float convolutions"
        )


def run_onnx(serialized, x):
    """Run a serialized ONNX model on a batch ``x`` with onnxruntime's CPU provider."""
    return onnx_runtime(serialized)(x)


def serialize(proto):
    onnx.checker.check_model(proto)
    return proto.SerializeToString()
