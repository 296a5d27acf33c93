"""The binary convolution every binary network of the package uses: larq's ``QuantConv2D``
computing ``conv(sign(x), sign(W)) * alpha`` instead of ``conv(sign(x), alpha * sign(W))``,
with alpha rounded to ``ALPHA_BITS`` significant bits.

Both are the same in exact arithmetic, and the kernel quantizer is unchanged (larq's
``magnitude_aware_sign`` or ``quantizers.BinaryWeight``: alpha * sign(W) per output channel).
In float32 they differ: a convolution of +-1 inputs with +-alpha weights rounds its sums of up
to 9 * C_in terms along the way, in an order each runtime chooses, while sums of +-1 terms are
exact integers in any order. This form is what the bit-packed graph computes (popcounts,
then times alpha); LCE counts exactly too, then applies a float output transform
(docs/conversion.md). With alpha on 12 significant bits, ``(K - 2a) * alpha`` (K = 9 * C_in < 2**12
taps) is exact in float32 in both, and ``lce_models.models.exact`` puts the shifts LCE folds
into the transform on alpha's grid: the transform then rounds nothing, and Keras and the
flatbuffer agree bit for bit up to the float layers. Rounding moves alpha by at most 2**-12
of itself. LCE folds the multiply into the ``LceBconv2d``'s post-activation multiplier, so its
graph is unchanged; tf2onnx folds it into the ``Conv`` weights (+-alpha), so the float
``.onnx`` still rounds its sums.
"""

from lce_models.models.layers import register

import larq as lq
import tensorflow as tf

#: Significant bits kept of each output channel's alpha (float32 has 24).
ALPHA_BITS = 12
_DROPPED = 24 - ALPHA_BITS


def rounded_alpha(alpha):
    """``alpha`` (float32, >= 0) rounded to ``ALPHA_BITS`` significant bits, halves up: on the
    float's bit pattern, so that it is exact and the same in every runtime (and constant-folded
    by the converters)."""
    bits = tf.bitcast(tf.convert_to_tensor(alpha, tf.float32), tf.int32)
    bits = tf.bitwise.bitwise_and(bits + (1 << (_DROPPED - 1)), -(1 << _DROPPED))
    return tf.bitcast(bits, tf.float32)


def split(kernel):
    """A +-alpha kernel (per output channel) as its +-1 signs and its rounded alpha."""
    magnitude = tf.stop_gradient(tf.reduce_max(tf.abs(kernel), axis=(0, 1, 2)))
    # divide_no_nan: a filter of zeros (alpha = 0) stays zeros
    return tf.math.divide_no_nan(kernel, magnitude), rounded_alpha(magnitude)


@register
class BinaryConv2D(lq.layers.QuantConv2D):
    """``QuantConv2D`` whose binary sums are exact: the quantized kernel is divided by its
    per-output-channel magnitude (exactly alpha: every entry is +-alpha) before the
    convolution, and the output multiplied by the rounded alpha after. The gradients are those
    of ``QuantConv2D`` (the magnitude is a constant to them, as in ``magnitude_aware_sign``)."""

    def convolution_op(self, inputs, kernel):
        signs, alpha = split(kernel)
        return super().convolution_op(inputs, signs) * alpha

    def quantized_kernel(self):
        """The +-alpha kernel of the kernel quantizer (alpha not yet rounded)."""
        # A tensor, not the variable: eager custom gradients (ste_sign) refuse variables.
        return self.kernel_quantizer(tf.convert_to_tensor(self.kernel))

    def binary_kernel(self):
        """The kernel the convolution computes with: +-alpha, alpha rounded. A frozen model
        holds it: its mean|W| is then exact in any order of sums, so its alpha is this one."""
        signs, alpha = split(self.quantized_kernel())
        return signs * alpha

    def alpha(self):
        """The rounded alpha per output channel the convolution multiplies by (numpy)."""
        return split(self.quantized_kernel())[1].numpy()
