"""The float layers around the binary convolutions, against hand-computed values."""

from lce_models.data.degradations import Degradation
from lce_models.evaluation.protocol import evaluate
from lce_models.models.layers import (
    BicubicUpscale,
    ChannelGroupMean,
    ChannelRepeat,
    LearnableBias,
    PixelShuffle,
    RPReLU,
)

import numpy as np
import pytest
import tensorflow as tf


def test_learnable_bias_adds_per_channel():
    layer = LearnableBias()
    layer.build((None, 1, 1, 2))
    layer.set_weights([np.array([1.0, -2.0])])
    np.testing.assert_allclose(layer(np.ones((1, 1, 1, 2), np.float32)), [[[[2.0, -1.0]]]])


def test_rprelu_forward_and_gradient():
    layer = RPReLU()
    layer(np.zeros((1, 1, 3, 1), np.float32))  # builds the sublayers
    assert [w.shape for w in layer.get_weights()] == [(1,), (1, 1, 1), (1,)]
    np.testing.assert_allclose(layer.get_weights()[1], 0.25)  # torch.nn.PReLU's start
    layer.set_weights([np.array([0.5]), np.full((1, 1, 1), 0.25), np.array([-1.0])])
    x = tf.Variable(np.array([-2.0, 0.0, 1.0], np.float32).reshape(1, 1, 3, 1))
    with tf.GradientTape() as tape:
        y = layer(x)
    # x + 0.5 = (-1.5, 0.5, 1.5); PReLU -> (-0.375, 0.5, 1.5); - 1
    np.testing.assert_allclose(y.numpy().ravel(), [-1.375, -0.5, 0.5])
    np.testing.assert_allclose(tape.gradient(y, x).numpy().ravel(), [0.25, 1.0, 1.0])


def test_pixel_shuffle_is_depth_to_space_order():
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)  # r = 2, C = 2
    y = PixelShuffle(2)(x).numpy()
    assert y.shape == (1, 2, 2, 2)
    # channel order (dy, dx, c): pixel (dy, dx) takes channels 2*(2*dy+dx) + c
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 2], [4, 6]])
    np.testing.assert_array_equal(y[0, :, :, 1], [[1, 3], [5, 7]])


def test_channel_repeat_interleaves_then_wraps():
    x = np.array([10.0, 20.0, 30.0], np.float32).reshape(1, 1, 1, 3)
    y = ChannelRepeat(8)(x).numpy().ravel()
    np.testing.assert_array_equal(y, [10, 10, 20, 20, 30, 30, 10, 20])
    y64 = ChannelRepeat(64)(x).numpy().ravel()  # reference: 21 repeats, then channel 0
    np.testing.assert_array_equal(y64, [10] * 21 + [20] * 21 + [30] * 21 + [10])


def test_channel_group_mean_uneven_groups():
    x = np.array([1.0, 2.0, 3.0, 10.0, 20.0], np.float32).reshape(1, 1, 1, 5)
    # groups i * 2 // 5 = (0, 0, 0, 1, 1)
    np.testing.assert_allclose(ChannelGroupMean(2)(x).numpy().ravel(), [2.0, 15.0])
    np.testing.assert_allclose(ChannelGroupMean(1)(x).numpy().ravel(), [7.2])


@pytest.mark.parametrize("scale,psnr,ssim", [(3, 30.39, 0.8678), (4, 28.42, 0.8101)])
def test_bicubic_upscale_is_matlabs(scale, psnr, ssim):
    """The in-graph enlargement reproduces the data's MATLAB bicubic check figures (Set5, Y)."""
    layer = BicubicUpscale(scale)
    result = evaluate(lambda lr: np.clip(layer(lr[None]).numpy()[0], 0, 1), "Set5", Degradation("sr", scale))
    assert result["psnr"] == pytest.approx(psnr, abs=0.01) and result["ssim"] == pytest.approx(ssim, abs=0.0005)
