"""Keras computing LCE's float output transform: tells a conversion's rounding from its errors.

``LceBconv2d`` counts exactly (``a`` = disagreeing bits of ``K = kh * kw * C_in``), then
applies one float transform per output (LCE's ``core/bconv2d/output_transform.h``; the
multiplier and bias are prepared in ``tflite/kernels/bconv2d.cc``). The converter folds the
multiply by alpha and a constant shift ``s`` that follows the conv (the conv's bias, RPReLU's
input shift, a ``LearnableBias``) into that transform, which then returns::

    fl(fl(2a * -alpha) + f32(s + K * alpha))        (the bias summed in double)

where Keras returns ``fl(fl((K - 2a) * alpha) + s)``. The two differ by about an ulp of
``K * alpha``, and a binarized activation within that of zero flips its sign; in a deep
network one flip spreads. With alpha rounded (``BinaryConv2D``) and the shifts on its grid
(``lce_models.models.exact``, done by loading a model card) both are exact and the same; a
model with shifts off the grid (random weights, a checkpoint mid-training) differs.
``emulate`` rebuilds a model so that its binary convolutions return LCE's form: comparing a
flatbuffer with it leaves only the differences the transform does not explain. It is a
diagnostic, not the reference: models train and verify as built.
With zero padding LCE counts the padding as +1 bits and corrects the borders after the
transform, adding ``fl(-alpha * c)`` (``c`` the padded taps' weights): a third rounding,
reproduced too. What it does not reproduce: a BatchNorm the converter also folds (BBCU v1's),
a multiply-add contracted to one rounding (a build that fuses them, as ARM64 compilers may),
and the float layers' own order of sums (TFLite's convolutions and means sum in their order).
"""

from lce_models.models.bconv import BinaryConv2D, split
from lce_models.models.construction import without_autograph
from lce_models.models.exact import folded_shift
from lce_models.models.freezing import freeze
from lce_models.models.layers import RPReLU

import larq as lq
import numpy as np
import tensorflow as tf
import tf_keras as keras


class _LceBinaryConv2D(BinaryConv2D):
    """A ``BinaryConv2D`` returning LCE's output transform with the constant ``shift``
    (per output channel) folded in; it has no bias of its own."""

    def __init__(self, *args, shift=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shift = np.asarray(shift, np.float32)

    def convolution_op(self, inputs, kernel):
        signs, alpha = split(kernel)
        dot = lq.layers.QuantConv2D.convolution_op(self, inputs, signs)
        k = float(np.prod(kernel.shape[:3]))
        bias = tf.cast(tf.cast(self.shift, tf.float64) + k * tf.cast(alpha, tf.float64), tf.float32)
        if not self._zero_padded():
            return (dot - k) * alpha + bias  # dot - K = -2a, exact
        # LCE pads with +1 bits, then adds -alpha * (the padded taps' weights) at the borders
        # (core/bconv2d/zero_padding_correction.h): a third rounding, after the transform.
        correction = self._padded_taps(inputs, signs)
        return ((dot + correction - k) * alpha + bias) + (-alpha) * correction

    def _zero_padded(self):
        return self.padding == "same" and float(self.pad_values) == 0.0

    def _padded_taps(self, inputs, signs):
        """Per output pixel and channel, the sum of the +-1 weights over taps that fall on
        the padding: a convolution of the padding's indicator (exact integers)."""
        inside = tf.zeros_like(inputs[..., :1])
        padded = tf.pad(inside, self._get_padding_same(inside), constant_values=1.0)
        per_tap = tf.reduce_sum(signs, axis=2, keepdims=True)
        return tf.nn.conv2d(padded, per_tap, strides=self.strides, padding="VALID",
                            dilations=self.dilation_rate)


class _ShiftFolded(keras.layers.Layer):
    """A shift layer whose shift moved into the conv before it: identity (RPReLU keeps its PReLU
    and output shift)."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=layer.name, **kwargs)
        self.layer = layer

    def call(self, x):
        if isinstance(self.layer, RPReLU):
            return self.layer.shift_out(self.layer.prelu(x))
        return x


def emulate(model):
    """``model`` (frozen first, as the converters see it) with every ``BinaryConv2D``
    computing LCE's float output transform; the same weights."""
    model = freeze(model)
    convs, folded = {}, {}
    for layer in model.layers:
        if type(layer) is BinaryConv2D:
            follower, shift = folded_shift(layer)
            # f32(b + s): the converter sums two folded constants in float32
            bias = layer.bias.numpy() if layer.use_bias else 0
            convs[layer.name] = (np.float32(bias) + shift).astype(np.float32)
            if follower is not None:
                folded[follower.name] = follower

    def clone(layer):
        if layer.name in convs:
            config = {**layer.get_config(), "use_bias": False}
            return _LceBinaryConv2D.from_config({**config, "shift": convs[layer.name]})
        if layer.name in folded:
            return _ShiftFolded(layer)
        return layer.__class__.from_config(layer.get_config())

    twin = without_autograph(keras.models.clone_model)(model, clone_function=clone)
    for layer in model.layers:
        if layer.name in folded:
            continue  # _ShiftFolded uses the original layer's own sublayers
        weights = layer.get_weights()
        if layer.name in convs and layer.use_bias:
            weights = weights[:1]
        twin.get_layer(layer.name).set_weights(weights)
    return twin
