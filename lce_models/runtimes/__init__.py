"""Models as callables: a ``.tflite`` in LCE's interpreter or stock TFLite with XNNPACK
(``tflite``), an ``.onnx`` in onnxruntime (``onnx``; the bit-packed fast path through
``bitpacked``), a Keras model (``keras_model``); ``loader`` turns any model name or file into one.

A ``Runtime`` (``base``) runs NHWC float32 batches and knows its input size (fixed for a
flatbuffer, ``None`` for ONNX's and Keras's dynamic H/W), its channels, its scale (output side /
input side) and its receptive radius (``receptive_field``), the overlap its tiles need.
"""
