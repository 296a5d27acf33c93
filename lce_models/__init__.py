"""1-bit image-restoration networks in tf_keras 2 + larq, built to convert to Larq Compute Engine.

TensorFlow 2.16 binds ``tf.keras`` to Keras 3 unless ``TF_USE_LEGACY_KERAS=1`` is set before
TensorFlow is first imported; larq and the LCE converter need Keras 2 (``tf_keras``), so the
package sets it on import. Import ``lce_models`` before ``tensorflow``.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ info lines drown the tools' own output; warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["NETWORKS", "NetworkConfig", "build_model"]


def __getattr__(name):
    # Imported on first use, so that the TensorFlow-free parts (the PyTorch twins of
    # ``lce_models.torch_twin``, image files) load on a machine without TensorFlow.
    if name in __all__:
        from lce_models.models import registry as networks

        return getattr(networks, name)
    raise AttributeError(f"module 'lce_models' has no attribute {name!r}")
