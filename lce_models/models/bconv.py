"""The binary convolution every binary network of the package uses: larq's ``QuantConv2D``
computing ``conv(sign(x), sign(W)) * alpha`` instead of ``conv(sign(x), alpha * sign(W))``.

Both are the same in exact arithmetic, and the kernel quantizer is unchanged (larq's
``magnitude_aware_sign`` or ``quantizers.BinaryWeight``: alpha * sign(W) per output channel).
In float32 they differ: a convolution of +-1 inputs with +-alpha weights rounds its sums of up
to 9 * C_in terms along the way, in an order each runtime chooses, while sums of +-1 terms are
exact integers in any order. This form is what the bit-packed graph computes (popcounts,
then times alpha); LCE counts exactly too, then applies a float output transform about an ulp
of 9 * C_in * alpha away. So Keras no longer adds its own rounding of the sums to the float
noise behind sign flips (docs/conversion.md, "Where the flips come from"). LCE folds the
multiply into the ``LceBconv2d``'s post-activation multiplier, so its graph is unchanged;
tf2onnx folds it into the ``Conv`` weights (+-alpha), so the float ``.onnx`` still rounds its
sums.
"""

from lce_models.models.layers import register

import larq as lq
import tensorflow as tf


@register
class BinaryConv2D(lq.layers.QuantConv2D):
    """``QuantConv2D`` whose binary sums are exact: the quantized kernel is divided by its
    per-output-channel magnitude (exactly alpha: every entry is +-alpha) before the
    convolution, and the output multiplied by it after. The gradients are those of
    ``QuantConv2D`` (the magnitude is a constant to them, as in ``magnitude_aware_sign``)."""

    def convolution_op(self, inputs, kernel):
        alpha = tf.stop_gradient(tf.reduce_max(tf.abs(kernel), axis=(0, 1, 2)))
        # divide_no_nan: a filter of zeros (alpha = 0) stays zeros
        return super().convolution_op(inputs, tf.math.divide_no_nan(kernel, alpha)) * alpha
