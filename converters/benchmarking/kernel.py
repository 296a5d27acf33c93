"""One binary 3x3 convolution timed every way: LCE's kernels, the fast path's op in onnxruntime,
and its bare kernel in each instruction set, with the kernel's binary MACs per second per core
against the popcount limit measured on this core."""

from pathlib import Path

from lce_models.cli import log
from lce_models.errors import UserError
from lce_models.files import atomic_write
from lce_models.models.units import binary_conv
from lce_models.runtimes import bitpacked

import numpy as np
import tensorflow as tf
import tf_keras as keras

from converters import fastpath
from converters import onnx as onnx_export
from converters.benchmarking import measure
from converters.benchmarking.local import FAST_LABEL, local_backends, measure_local
from converters.benchmarking.suite import lce_references
from converters.tflite import ConversionError, convert_checked


def kernel(settings, channels=64):
    """One binary 3x3 conv, ``channels`` to ``channels`` at ``settings.input_size``: LCE (each of
    ``settings.kernels``), the fast path's op in onnxruntime (a one-layer NHWC graph), the bare
    kernel per instruction set (binarize + pack an NHWC input, then convolve). Returns (rows, the
    speedup table, lines on MACs/s/core against the popcount limit, records for JSON)."""
    h, w = settings.input_size
    c = channels
    inputs = keras.Input((h, w, c), batch_size=1)
    model = keras.Model(inputs, binary_conv(c, settings.padding, name="bconv")(inputs))
    name = f"binary conv 3x3 {c}->{c}"
    log(f"converting {name} at {h}x{w} ({settings.padding} padding) to tflite and to the fast path ...")
    try:
        tfl = atomic_write(Path(settings.out) / f"bconv{c}_{settings.padding}_{h}x{w}.tflite",
                           convert_checked(model)[0])
    except ConversionError as e:
        raise UserError(str(e)) from None
    fast = atomic_write(Path(settings.out) / f"bconv{c}_{settings.padding}_{h}x{w}.bitpacked.onnx",
                        fastpath.rewrite_checked(model, onnx_export.convert(model)).SerializeToString())
    rows = measure_local(tfl, local_backends(tfl, settings.kernels), settings, name)
    rows += measure_local(fast, local_backends(fast, ()), settings, name)
    x = np.random.default_rng(0).random((1, h, w, c), np.float32) - 0.5  # NHWC, as the fast-path graph runs
    layer = model.get_layer("bconv")
    binary = layer.kernel_quantizer(tf.constant(layer.kernel.numpy())).numpy()  # +-alpha, (3, 3, C, O)
    weights = bitpacked.PackedWeights(np.transpose(binary, (3, 2, 0, 1)))
    out = np.empty((1, h, w, c), np.float32)
    macs = h * w * c * c * 9
    lines, records, methods = [], [], {}
    for isa in bitpacked.available_isas():
        if isa == "avx2":  # the limit of the fastest way to count bits with AVX2, named
            methods = bitpacked.avx2_method_peaks()
            fastest = max(methods, key=methods.get)
            peak = methods[fastest]
            lines.append("- AVX2 popcount limit per core by counting method: " + ", ".join(
                f"{m} {r / 1e9:.0f} G/s" for m, r in methods.items()) + f"; the limit below is {fastest}'s, "
                f"the kernel counts by {bitpacked.AVX2_METHODS[0]}")
            log(lines[-1][2:])
        else:
            peak = bitpacked.popcount_peak(isa)
        for threads in settings.threads:
            stats = measure.summary_ms(measure.time_runs(
                lambda v: bitpacked.conv3x3(v, weights, settings.padding, threads, isa, out=out, nhwc=True), x,
                settings.runs, settings.warmup))
            rows.append(measure.Measurement.local(name, f"bare kernel, {isa}", threads, f"{h}x{w}", stats))
            rate = macs / (stats["median_ms"] / 1000) / threads
            lines.append(f"- bare kernel, {isa}, {threads} threads: {rate / 1e9:.0f} G binary MACs/s/core = "
                         f"{100 * rate / peak:.0f}% of this core's popcount limit with {isa}, {peak / 1e9:.0f} G/s "
                         "(xor + popcount + add on registers, measured here)")
            records.append({"isa": isa, "threads": threads, "binary_macs_per_s_per_core": rate,
                            "popcount_limit_per_core": peak})
            log(lines[-1][2:])
    best = f"bare kernel, {bitpacked.available_isas()[-1]}"
    table, speedups = measure.speedups(rows, (FAST_LABEL, best), lce_references(settings.kernels))
    return rows, table, lines, {"kernel": records, "avx2_method_limits": methods, "speedups": speedups}
