"""1-bit image-restoration networks in tf_keras 2 + larq, built to convert to Larq Compute Engine.

TensorFlow 2.16 binds ``tf.keras`` to Keras 3 unless ``TF_USE_LEGACY_KERAS=1`` is set before
TensorFlow is first imported; larq and the LCE converter need Keras 2 (``tf_keras``), so the
package sets it on import. Import ``lce_models`` before ``tensorflow``.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ log lines drown the tools' own output: on a machine without a GPU every start
# printed three "Unable to register cuFFT/cuDNN/cuBLAS factory" errors. Its failures still reach
# Python as exceptions; TF_CPP_MIN_LOG_LEVEL=0 in the environment brings its logs back.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
