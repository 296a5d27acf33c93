"""A Keras model of ``lce_models`` as a runtime (any input size)."""

from lce_models.runtimes import receptive_field
from lce_models.runtimes.base import Runtime


def keras_runtime(model):
    """A Keras model of ``lce_models`` built for any input size."""
    c = model.config
    return Runtime(lambda x: model(x, training=False).numpy(), (None, None), c.channels, c.scale,
                   "Keras (TensorFlow CPU)", receptive_field.of_keras(model))
