"""The on-the-fly degradations: bicubic against the MATLAB-made LR, noise, JPEG."""

from lce_models.data.degradations import Degradation, add_noise, bicubic_downscale, jpeg
from lce_models.data.images import DATA_ROOT
from lce_models.evaluation.metrics import psnr
from lce_models.evaluation.protocol import bicubic, load_set

import numpy as np
import pytest
import tensorflow as tf

needs_data = pytest.mark.skipif(not (DATA_ROOT / "test").is_dir(), reason="shared data absent")


@needs_data
@pytest.mark.parametrize("set_name", ["Set5", "Set14"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_downscale_agrees_with_matlab_lr(set_name, scale):
    """Bicubic-baseline PSNR on our LR vs on MATLAB's: within 0.05 dB (measured: <= 0.004)."""
    ours, matlab = [], []
    for _, lr, hr in load_set(set_name, Degradation("sr", scale)):
        matlab.append(psnr(bicubic(scale)(lr), hr, scale))
        ours.append(psnr(bicubic(scale)(bicubic_downscale(hr, scale).numpy()), hr, scale))
    assert abs(np.mean(ours) - np.mean(matlab)) < 0.05


def test_bicubic_downscale_shapes_and_8_bit_values():
    rgb = tf.random.stateless_uniform((12, 8, 3), (1, 2))
    assert bicubic_downscale(rgb, 4).shape == (3, 2, 3)
    gray = bicubic_downscale(rgb[..., :1], 2).numpy()
    assert gray.shape == (6, 4, 1)
    np.testing.assert_allclose(gray * 255, np.round(gray * 255), atol=1e-4)


def test_noise_level_and_seed():
    clean = tf.fill((256, 256, 3), 0.5)
    noisy = add_noise(clean, 25.0, tf.constant([0, 7], tf.int64)).numpy()
    assert np.std(noisy - 0.5) * 255 == pytest.approx(25.0, rel=0.02)
    again = Degradation("denoise", 25)(clean, tf.constant([0, 7], tf.int64)).numpy()
    np.testing.assert_array_equal(noisy, again)  # same seed, same noise
    other = add_noise(clean, 25.0, tf.constant([0, 8], tf.int64)).numpy()
    assert not np.array_equal(noisy, other)


def test_jpeg_quality_orders_the_error():
    image = tf.image.resize(tf.random.stateless_uniform((16, 16, 1), (3, 4)), (64, 64)).numpy()
    errors = [np.abs(jpeg(image, q).numpy() - image).mean() for q in (10, 40, 95)]
    assert jpeg(image, 10).shape == image.shape
    assert errors[0] > errors[1] > errors[2]


@pytest.mark.parametrize("task,level", [("sr", 5), ("denoise", -1), ("jpeg", 0), ("blur", 1)])
def test_degradation_rejects_bad_levels(task, level):
    with pytest.raises(ValueError):
        Degradation(task, level)
