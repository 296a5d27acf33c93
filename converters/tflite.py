"""Keras -> TFLite flatbuffer through the Larq Compute Engine converter, with the op census
that proves every binary convolution became an ``LceBconv2d``.

The LCE converter only logs what it cannot lower: an unknown spatial size leaves the binary
convolutions as float ``tf.Conv2D`` custom ops that no runtime can run. So conversion insists
on a fixed input shape, and ``check_lowering`` counts the ops of the flatbuffer against the
layers of the Keras model.
"""

from lce_models.models import build_model
from lce_models.models.complexity import is_binary_conv
from lce_models.models.freezing import freeze
from lce_models.models.layers import BicubicUpscale
from lce_models.runtimes.flatbuffer import BUILTIN_NAMES, LCE_CUSTOM_OPS, op_census

import larq_compute_engine as lce
import tensorflow as tf
import tf_keras as keras


class ConversionError(RuntimeError):
    """The model cannot be converted, or converted into something that would not run right."""


def with_fixed_shape(model, input_shape):
    """Rebuild a network of ``lce_models`` at a fixed (H, W), batch 1, with the same weights."""
    config = getattr(model, "config", None)
    if config is None:
        raise ConversionError("only models made by lce_models.models.build_model can be rebuilt")
    fixed = build_model(config, input_shape=tuple(input_shape), batch_size=1)
    fixed.set_weights(model.get_weights())
    return fixed


def convert(model):
    """Convert a Keras model with a fixed input shape to an LCE flatbuffer (float32 in/out).

    Bit-accumulated weights (``lce_models.models.bam``) are frozen to constants first.
    """
    shape = model.input_shape
    if any(d is None for d in shape[1:3]):
        raise ConversionError(
            f"input height/width must be fixed for conversion, got {shape[1:3]}: without them "
            "LCE leaves the binary convolutions as float tf.Conv2D custom ops "
            "(use with_fixed_shape)"
        )
    # The converter's SavedModel round trip warns that metrics were never compiled: noise here.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return lce.convert_keras_model(
            freeze(model), inference_input_type=tf.float32, inference_output_type=tf.float32
        )
    finally:
        logger.setLevel(level)


def expected_convolutions(model):
    """(binary, float) convolution counts of a Keras model."""
    # submodules: the convs inside float layers too (SpatialAttention's)
    convs = [layer for layer in model.submodules if isinstance(layer, keras.layers.Conv2D)]
    binary = sum(is_binary_conv(layer) for layer in convs)
    enlargements = sum(isinstance(layer, BicubicUpscale) for layer in model.submodules)  # one fixed conv each
    return binary, len(convs) - binary + enlargements


def check_lowering(model, census):
    """Raise ``ConversionError`` unless each binary conv of ``model`` is an ``LceBconv2d``, each
    float conv a ``CONV_2D``, and no custom op is left that LCE's runtime lacks."""
    binary, floating = expected_convolutions(model)
    problems = []
    if census["LceBconv2d"] != binary:
        problems.append(f"{binary} binary convolutions but {census['LceBconv2d']} LceBconv2d")
    if census["CONV_2D"] != floating:
        problems.append(f"{floating} float convolutions but {census['CONV_2D']} CONV_2D")
    stray = sorted(
        op for op in census if op not in LCE_CUSTOM_OPS and op not in BUILTIN_NAMES.values()
    )
    if stray:
        problems.append(f"custom ops no runtime implements: {', '.join(stray)}")
    if problems:
        raise ConversionError("; ".join(problems))


def convert_checked(model):
    """``convert`` then ``check_lowering``: the flatbuffer and its op census."""
    flatbuffer = convert(model)
    census = op_census(flatbuffer)
    check_lowering(model, census)
    return flatbuffer, census
