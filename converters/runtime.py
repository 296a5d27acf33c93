"""Converted models as callables: a ``.tflite`` in LCE's interpreter, an ``.onnx`` in onnxruntime.

A ``Runtime`` runs NHWC float32 batches and knows its input size (fixed for a flatbuffer,
``None`` for ONNX's dynamic H/W), its channels and its scale (output side / input side).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from larq_compute_engine.tflite.python.interpreter import Interpreter

FORMATS = {".tflite": "tflite", ".onnx": "onnx"}


@dataclass
class Runtime:
    run: object  # (N, H, W, C) float32 -> (N, sH, sW, C)
    input_size: tuple  # (H, W), or (None, None) when any size runs
    channels: int
    scale: int
    engine: str

    def __call__(self, x):
        return self.run(np.asarray(x, np.float32))


def tflite_runtime(flatbuffer, num_threads=2):
    interpreter = Interpreter(flatbuffer, num_threads=num_threads)
    (_, h, w, c), (_, oh, _, _) = interpreter.input_shapes[0], interpreter.output_shapes[0]
    return Runtime(interpreter.predict, (h, w), c, oh // h, f"LCE interpreter, {num_threads} threads")


def onnx_runtime(serialized):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # tf2onnx's nearest Resize draws a deprecation warning
    session = ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    channels = session.get_inputs()[0].shape[-1]

    def run(x):
        return session.run(None, {name: x})[0]

    probe = run(np.zeros((1, 8, 8, channels), np.float32))
    return Runtime(run, (None, None), channels, probe.shape[1] // 8, "onnxruntime CPU")


def load(path, num_threads=2):
    """The runtime of a ``.tflite`` or ``.onnx`` file."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise ValueError(f"{path}: not a .tflite or .onnx file")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    data = path.read_bytes()
    try:
        return tflite_runtime(data, num_threads) if fmt == "tflite" else onnx_runtime(data)
    except Exception as e:  # both runtimes raise bare RuntimeErrors / their own types on bad files
        raise ValueError(f"{path} does not load as {fmt}: {str(e).splitlines()[0]}") from None
