"""TFLite flatbuffers as runtimes: LCE's interpreter (binary graphs, a choice of ``LceBconv2d``
kernels) or TensorFlow's stock interpreter with XNNPACK (float graphs)."""

from lce_models.runtimes import receptive_field
from lce_models.runtimes.base import Runtime
from lce_models.runtimes.flatbuffer import LCE_CUSTOM_OPS, check, op_census

import tensorflow as tf
from larq_compute_engine.tflite.python.interpreter import Interpreter

#: LceBconv2d kernels of LCE's interpreter: its default (optimized on ARM, portable reference
#: code on x86-64), the indirect BGEMM kernel, and the plain reference implementation.
KERNELS = ("default", "indirect-bgemm", "reference")


def is_binary_flatbuffer(flatbuffer):
    """Whether a flatbuffer needs LCE's custom ops (stock TFLite cannot run it)."""
    return any(op in LCE_CUSTOM_OPS for op in op_census(flatbuffer))


def tflite_runtime(flatbuffer, num_threads=2, kernels="default", xnnpack=False):
    """A flatbuffer in LCE's interpreter with the given ``LceBconv2d`` kernels; ``xnnpack``
    hands its float ops to XNNPACK (measured on bbcu-l x4 at 180x320: peak memory 4.5 GiB ->
    0.96 GiB, as TFLite's own float convs build im2col buffers at the HR resolution)."""
    if kernels not in KERNELS:
        raise ValueError(f"unknown kernels {kernels!r}; choose from {', '.join(KERNELS)}")
    check(flatbuffer)  # before the native interpreter reads it
    interpreter = Interpreter(flatbuffer, num_threads=num_threads,
                              use_reference_bconv=kernels == "reference",
                              use_indirect_bgemm=kernels == "indirect-bgemm", use_xnnpack=xnnpack)
    (_, h, w, c), (_, oh, _, _) = interpreter.input_shapes[0], interpreter.output_shapes[0]
    engine = f"LCE interpreter ({kernels} kernels{', XNNPACK' if xnnpack else ''}), {num_threads} threads"
    return Runtime(interpreter.predict, (h, w), c, oh // h, engine, receptive_field.of_tflite(flatbuffer))


def xnnpack_runtime(flatbuffer, num_threads=2):
    """A float flatbuffer in TensorFlow's stock TFLite interpreter, XNNPACK delegate applied
    (its default for float graphs)."""
    check(flatbuffer)
    if is_binary_flatbuffer(flatbuffer):
        raise ValueError("stock TFLite cannot run LCE's binary ops; use the LCE interpreter")
    interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=num_threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    _, h, w, c = inp["shape"]

    def run(x):
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return Runtime(run, (int(h), int(w)), int(c), int(out["shape"][1] // h),
                   f"TFLite + XNNPACK, {num_threads} threads", receptive_field.of_tflite(flatbuffer))
