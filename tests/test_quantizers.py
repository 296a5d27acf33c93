"""The binarizers: forward values and gradients against numbers worked out by hand."""

import numpy as np
import tensorflow as tf

from lce_models import quantizers
from lce_models.units import binary_conv


def value_and_grad(quantizer, x):
    x = tf.Variable(np.asarray(x, np.float32))
    with tf.GradientTape() as tape:
        y = quantizer(x)
        loss = tf.reduce_sum(y)
    return y.numpy(), tape.gradient(loss, x).numpy()


def test_approx_sign_forward_and_bireal_gradient():
    y, dy = value_and_grad(quantizers.ApproxSign(), [-1.5, -0.5, 0.0, 0.25, 1.0, 2.0])
    np.testing.assert_array_equal(y, [-1, -1, 1, 1, 1, 1])  # sign(0) = +1, as LCE packs it
    # d/dx of the Bi-Real polynomial: 2 - 2|x| inside (-1, 1), 0 outside.
    np.testing.assert_allclose(dy, [0.0, 1.0, 2.0, 1.5, 0.0, 0.0])


def test_magnitude_aware_sign_scales_per_output_channel():
    # kernel (kh, kw, in, out) = (1, 1, 2, 2); columns are output channels.
    w = np.array([[[[0.5, -0.2], [-1.5, 0.4]]]])
    y, dy = value_and_grad(quantizers.MagnitudeAwareSign(), w)
    # out 0: mean(|0.5|, |-1.5|) = 1.0; out 1: mean(0.2, 0.4) = 0.3
    np.testing.assert_allclose(y[0, 0], [[1.0, -0.3], [-1.0, 0.3]], rtol=1e-6)
    # clipped STE: zero where |w| > 1, times the (gradient-free) scale of the column
    np.testing.assert_allclose(dy[0, 0], [[1.0, 0.3], [0.0, 0.3]], rtol=1e-6)


def test_binary_conv_uses_both_binarizers():
    layer = binary_conv(4, padding="one")
    assert isinstance(layer.input_quantizer, quantizers.ApproxSign)
    assert isinstance(layer.kernel_quantizer, quantizers.MagnitudeAwareSign)
    assert layer.pad_values == 1.0 and not layer.use_bias
