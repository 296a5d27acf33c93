"""Image-quality metrics the way SR papers report them: on the luma (Y) channel of BT.601,
8-bit, with ``border`` pixels cropped from each side (``border`` = scale for SR)."""

import numpy as np
import tensorflow as tf


def to_y(image):
    """RGB float in [0, 1] (H, W, 3), or gray (H, W, 1), -> BT.601 Y rounded to 8-bit values.

    Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 (MATLAB ``rgb2ycbcr``). Gray images are
    replicated to RGB first, so they too land in the 16-235 range.
    """
    image = np.asarray(image, np.float64)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    rgb = np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0  # outputs are saved as 8-bit
    y = 16.0 + rgb @ np.array([65.481, 128.553, 24.966])
    return np.round(y)[..., None]


def _y_pair(output, target, border):
    a, b = to_y(output), to_y(target)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return a, b


def psnr_y(output, target, border=0):
    """Y-channel PSNR (peak 255) between two images in [0, 1], ``border`` pixels cropped."""
    a, b = _y_pair(output, target, border)
    return float(tf.image.psnr(a, b, max_val=255.0).numpy())


def ssim_y(output, target, border=0):
    """Y-channel SSIM of Wang et al. 2004: 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
    K2 = 0.03, peak 255, valid region, no downsampling; ``border`` pixels cropped first."""
    a, b = _y_pair(output, target, border)
    value = tf.image.ssim(
        tf.constant(a, tf.float32), tf.constant(b, tf.float32), max_val=255.0,
        filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
    )
    return float(value.numpy())
