"""Keras -> TFLite flatbuffer through the Larq Compute Engine converter, with the op census
that proves every binary convolution became an ``LceBconv2d``.

The LCE converter only logs what it cannot lower: an unknown spatial size leaves the binary
convolutions as float ``tf.Conv2D`` custom ops that no runtime can run. So conversion insists
on a fixed input shape, and ``check_lowering`` counts the ops of the flatbuffer against the
layers of the Keras model.
"""

import tempfile

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
    frozen = freeze(model)
    with tempfile.TemporaryDirectory() as directory:
        save_serving_signature(frozen, directory)
        return lce.convert_saved_model(directory)


def save_serving_signature(model, directory):
    """Save only ``model``'s inference call, under Keras's input and output names, as the
    SavedModel that LCE's converter reads.

    ``lce.convert_keras_model`` goes through ``model.save``, which also traces each layer's own
    functions for reloading in Python; the converter reads none of them. Saving the one
    signature, traced without autograph, gives the same flatbuffer byte for byte, 3 to 6 times
    sooner (bsrn x4: 29 s instead of 93 s). Custom gradients (the sign estimators') are not
    saved either: the converter never differentiates, and tracing them was half of what was
    left (bsrn x4 at 12x16: 28 s instead of 54 s, same flatbuffer). The networks' Python control
    flow depends on configuration only: a layer branching on a tensor would fail to trace, not
    convert differently.
    """
    spec = tf.TensorSpec(model.input_shape, tf.float32, name=model.input_names[0])

    def serve(image):
        return dict(zip(model.output_names, tf.nest.flatten(model(image, training=False))))

    module = tf.Module()
    module.weights = list(model.variables)  # tracked, so that the signature's captures are saved
    signature = tf.function(serve, input_signature=[spec], autograph=False).get_concrete_function()
    tf.saved_model.save(module, directory, signatures={"serving_default": signature},
                        options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))


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
