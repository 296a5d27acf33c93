"""Conversion of ``lce_models`` networks to edge formats (LCE ``.tflite``, ``.onnx``, the
bit-packed ``.onnx`` of the x86-64 fast path), the checks that they still compute what Keras
computes, and, on top, benchmarking of what was converted (``converters.benchmarking``)."""

# lce_models must load before TensorFlow: it selects Keras 2 (TF_USE_LEGACY_KERAS).
import lce_models  # noqa: F401
