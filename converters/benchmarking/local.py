"""Every backend a model file runs on here, each measured at every thread count: LCE's
interpreter with each kernel choice (and XNNPACK), stock TFLite + XNNPACK for float graphs,
onnxruntime, and the x86-64 fast path for a ``.bitpacked.onnx``."""

from lce_models.cli import log
from lce_models.errors import UserError
from lce_models.runtimes.onnx import onnx_runtime
from lce_models.runtimes.tflite import tflite_runtime, xnnpack_runtime

from converters.benchmarking import measure
from converters.benchmarking.files import read_flatbuffer

#: The backend label of the x86-64 fast path.
FAST_LABEL = "fast path (onnxruntime + bit-packed binary convs)"


def local_backends(path, kernels, xnnpack=False):
    """(label, make_runtime(threads)) of every local backend a model file runs on."""
    if path.suffix == ".onnx":
        data = path.read_bytes()
        label = FAST_LABEL if path.name.endswith(".bitpacked.onnx") else "onnxruntime CPU"
        return [(label, lambda t: onnx_runtime(data, t))]
    data, _, binary = read_flatbuffer(path)
    if binary:
        backends = [(f"LCE interpreter, {k} kernels", lambda t, k=k: tflite_runtime(data, t, k))
                    for k in kernels]
        if xnnpack:  # the same kernels with the float ops under XNNPACK
            backends += [(f"LCE interpreter, {k} kernels + XNNPACK",
                          lambda t, k=k: tflite_runtime(data, t, k, xnnpack=True)) for k in kernels]
        return backends
    return [("TFLite + XNNPACK", lambda t: xnnpack_runtime(data, t)),
            ("LCE interpreter", lambda t: tflite_runtime(data, t))]


def measure_local(path, backends, settings, name=None):
    """Measurements of ``path`` (labelled ``name``, default its file name) on each backend."""
    rows = []
    for label, make in backends:
        for threads in settings.threads:
            try:
                row = measure.measure(name or path.name, label, lambda: make(threads), threads,
                                      settings.runs, settings.warmup, settings.input_size)
            except ValueError as e:
                raise UserError(f"{path}: {e}") from None
            except RuntimeError as e:  # runtimes' own errors on a file they cannot load
                raise UserError(f"{path} does not load: {str(e).splitlines()[0]}") from None
            log(f"  {row.model}, {label}, {threads} threads: median {row.median_ms:.1f} ms")
            rows.append(row)
    return rows
