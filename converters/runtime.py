"""Models as callables: a ``.tflite`` in LCE's interpreter (or stock TFLite with XNNPACK for a
float graph), an ``.onnx`` in onnxruntime, a Keras model.

A ``Runtime`` runs NHWC float32 batches and knows its input size (fixed for a flatbuffer,
``None`` for ONNX's and Keras's dynamic H/W), its channels, its scale (output side / input
side) and its receptive radius (``converters.receptive_field``), the overlap its tiles need.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
from larq_compute_engine.tflite.python.interpreter import Interpreter

from converters import fastpath, receptive_field
from converters.tflite import LCE_CUSTOM_OPS, op_census

FORMATS = {".tflite": "tflite", ".onnx": "onnx"}
#: LceBconv2d kernels of LCE's interpreter: its default (optimized on ARM, portable reference
#: code on x86-64), the indirect BGEMM kernel, and the plain reference implementation.
KERNELS = ("default", "indirect-bgemm", "reference")


@dataclass
class Runtime:
    run: object  # (N, H, W, C) float32 -> (N, sH, sW, C)
    input_size: tuple  # (H, W), or (None, None) when any size runs
    channels: int
    scale: int
    engine: str
    receptive_radius: int

    def __call__(self, x):
        return self.run(np.asarray(x, np.float32))


def is_binary_flatbuffer(flatbuffer):
    """Whether a flatbuffer needs LCE's custom ops (stock TFLite cannot run it)."""
    return any(op in LCE_CUSTOM_OPS for op in op_census(flatbuffer))


def tflite_runtime(flatbuffer, num_threads=2, kernels="default", xnnpack=False):
    """A flatbuffer in LCE's interpreter with the given ``LceBconv2d`` kernels; ``xnnpack``
    hands its float ops to XNNPACK (measured on bbcu-l x4 at 180x320: peak memory 4.5 GiB ->
    0.96 GiB, as TFLite's own float convs build im2col buffers at the HR resolution)."""
    if kernels not in KERNELS:
        raise ValueError(f"unknown kernels {kernels!r}; choose from {', '.join(KERNELS)}")
    interpreter = Interpreter(flatbuffer, num_threads=num_threads,
                              use_reference_bconv=kernels == "reference",
                              use_indirect_bgemm=kernels == "indirect-bgemm", use_xnnpack=xnnpack)
    (_, h, w, c), (_, oh, _, _) = interpreter.input_shapes[0], interpreter.output_shapes[0]
    engine = f"LCE interpreter ({kernels} kernels{', XNNPACK' if xnnpack else ''}), {num_threads} threads"
    return Runtime(interpreter.predict, (h, w), c, oh // h, engine, receptive_field.of_tflite(flatbuffer))


def xnnpack_runtime(flatbuffer, num_threads=2):
    """A float flatbuffer in TensorFlow's stock TFLite interpreter, XNNPACK delegate applied
    (its default for float graphs)."""
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


def onnx_session(serialized, num_threads=None, profile_prefix=None, proto=None):
    """(onnxruntime CPU session, its kind in words) of an ONNX model, the fast path's op
    registered when the graph uses it; ``profile_prefix``: write onnxruntime's profile there;
    ``proto``: the model already parsed, if the caller has it."""
    proto = proto or onnx.load_from_string(serialized)
    if any(o.domain == fastpath.DOMAIN for o in proto.opset_import):  # the x86-64 fast path
        session = fastpath.session(serialized, num_threads or 1, profile_prefix)
        return session, "onnxruntime CPU + bit-packed binary convs"
    options = ort.SessionOptions()
    options.log_severity_level = 3  # tf2onnx's nearest Resize draws a deprecation warning
    if num_threads:
        options.intra_op_num_threads = num_threads
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, str(profile_prefix)
    return ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"]), "onnxruntime CPU"


def onnx_runtime(serialized, num_threads=None):
    """An ONNX model in onnxruntime's CPU provider (``num_threads`` None: its default)."""
    proto = onnx.load_from_string(serialized)
    session, kind = onnx_session(serialized, num_threads, proto=proto)
    name = session.get_inputs()[0].name
    channels = session.get_inputs()[0].shape[-1]

    def run(x):
        return session.run(None, {name: x})[0]

    probe = run(np.zeros((1, 8, 8, channels), np.float32))
    threads = f", {num_threads} threads" if num_threads else ""
    return Runtime(run, (None, None), channels, probe.shape[1] // 8, f"{kind}{threads}",
                   receptive_field.of_onnx(proto))


def keras_runtime(model):
    """A Keras model of ``lce_models`` built for any input size."""
    c = model.config
    return Runtime(lambda x: model(x, training=False).numpy(), (None, None), c.channels, c.scale,
                   "Keras (TensorFlow CPU)", receptive_field.of_keras(model))


def load(path, num_threads=2, kernels="default", xnnpack=False):
    """The runtime of a ``.tflite`` or ``.onnx`` file; ``ValueError`` for a bad file."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise ValueError(f"{path}: not a .tflite or .onnx file")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    data = path.read_bytes()
    try:
        if fmt == "tflite":
            return tflite_runtime(data, num_threads, kernels, xnnpack)
        return onnx_runtime(data, num_threads)
    except Exception as e:  # both runtimes raise bare RuntimeErrors / their own types on bad files
        raise ValueError(f"{path} does not load as {fmt}: {str(e).splitlines()[0]}") from None
