"""Conversion of ``lce_models`` networks to edge formats, and checks that they still compute
what the Keras model computes."""

# lce_models must load before TensorFlow: it selects Keras 2 (TF_USE_LEGACY_KERAS).
import lce_models  # noqa: F401
