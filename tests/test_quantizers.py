"""The binarizers: forward values and gradients against numbers worked out by hand."""

from lce_models.models import quantizers
from lce_models.models.units import UnitOptions, binary_conv

import numpy as np
import pytest
import tensorflow as tf


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


X = [-1.5, -0.5, 0.0, 0.3, 0.9, 1.2]


@pytest.mark.parametrize(
    "estimator,gradient",
    [
        ("ste", [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]),  # 1 inside |x| <= 1
        ("approx", [0.0, 1.0, 2.0, 1.4, 0.2, 0.0]),  # 2 - 2|x| inside |x| < 1
        # beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x)), beta = 5: e.g. at 0.3,
        # 5 (2 - 1.5 tanh 0.75) / (1 + cosh 1.5) = 5 * 1.047277 / 3.352410; negative past ~0.48
        ("swish", [-0.030340, -0.084622, 5.0, 1.561976, -0.260911, -0.097929]),
    ],
)
def test_activation_estimators_forward_sign_and_pinned_gradients(estimator, gradient):
    y, dy = value_and_grad(quantizers.BinaryActivation(estimator), X)
    np.testing.assert_array_equal(y, [-1, -1, 1, 1, 1, 1])
    np.testing.assert_allclose(dy, gradient, atol=1e-5)


@pytest.mark.parametrize(
    "progress,k,t,gradient",
    [
        # start: t = 0.1, k = 10: k t (1 - tanh^2(0.1 x)), close to an STE with no clipping
        (0.0, 10.0, 0.1, [0.977833, 0.997504, 1.0, 0.999101, 0.991944, 0.985737]),
        (0.5, 1.0, 1.0, [0.180707, 0.786448, 1.0, 0.915137, 0.486917, 0.305020]),  # 1 - tanh^2(x)
        # end: t = 10, k = 1: 10 (1 - tanh^2(10 x)), sharp around 0 like sign's own gradient
        (1.0, 1.0, 10.0, [0.0, 0.001816, 10.0, 0.098660, 0.000001, 0.0]),
    ],
)
def test_ede_sharpens_with_the_training_step(progress, k, t, gradient):
    assert quantizers.ede_parameters(progress) == pytest.approx((k, t))
    quantizers.set_training_progress(progress * 1000, 1000)
    try:
        y, dy = value_and_grad(quantizers.BinaryActivation("ede"), X)
    finally:
        quantizers.set_training_progress(0, 1)
    np.testing.assert_array_equal(y, [-1, -1, 1, 1, 1, 1])
    np.testing.assert_allclose(dy, gradient, atol=1e-5)


def test_ede_reads_the_schedule_in_a_compiled_training_step():
    """The training loop sets the share done before each step; a traced step must read it
    each time, not bake in the value it was traced with."""
    q, x = quantizers.BinaryActivation("ede"), tf.constant([0.0])

    @tf.function
    def grad():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(q(x))
        return tape.gradient(y, x)

    try:
        quantizers.set_training_progress(0, 100)
        start = float(grad()[0])
        quantizers.set_training_progress(250, 100)  # clipped to the end
        end = float(grad()[0])
    finally:
        quantizers.set_training_progress(0, 1)
    assert (start, end) == pytest.approx((1.0, 10.0))  # k t at x = 0


def test_balanced_weights_are_centred_per_filter_and_scaled():
    # (1, 1, 4, 2): filter 0 all positive (unbalanced), filter 1 mixed
    w = np.array([[[[0.1, -0.4], [0.2, 0.4], [0.3, -0.2], [0.6, 0.2]]]])
    plain, _ = value_and_grad(quantizers.BinaryWeight(), w)
    np.testing.assert_allclose(plain[0, 0, :, 0], [0.3] * 4, rtol=1e-6)  # every sign +1
    y, dy = value_and_grad(quantizers.BinaryWeight(balanced=True), w)
    # filter 0: mean 0.3, so 0.1 and 0.2 fall below: two -0.3 and two +0.3 (mean|W| = 0.3)
    np.testing.assert_allclose(y[0, 0, :, 0], [-0.3, -0.3, 0.3, 0.3], rtol=1e-6)
    np.testing.assert_allclose(y[0, 0, :, 1], [-0.3, 0.3, -0.3, 0.3], rtol=1e-6)
    assert np.all(np.isfinite(dy)) and np.abs(dy).sum() > 0  # the gradient goes through the standardisation
    pow2, _ = value_and_grad(quantizers.BinaryWeight(balanced=True, scale="pow2"), w)
    np.testing.assert_allclose(np.abs(pow2), 0.25)  # 0.3 rounds to 2^-2 in log2


def test_unknown_estimator_or_scale_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown sign estimator 'tanh'"):
        quantizers.BinaryActivation("tanh")
    with pytest.raises(ValueError, match="unknown weight scale"):
        quantizers.BinaryWeight(scale="max")


def test_default_options_build_the_reference_quantizers():
    """Default UnitOptions keep larq's own quantizers: shipped weights and graphs unchanged."""
    layer = binary_conv(4, options=UnitOptions())
    assert isinstance(layer.input_quantizer, quantizers.ApproxSign)
    assert isinstance(layer.kernel_quantizer, quantizers.MagnitudeAwareSign)
    layer = binary_conv(4, options=UnitOptions(estimator="ede", balanced=True))
    assert isinstance(layer.input_quantizer, quantizers.BinaryActivation)
    assert layer.kernel_quantizer.balanced and layer.kernel_quantizer.estimator == "ste"
