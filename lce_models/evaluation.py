"""Benchmark evaluation as SR papers do it: Y-channel PSNR / SSIM, ``scale`` pixels of border
cropped, on the MATLAB-made LR images of the shared test sets."""

import numpy as np
from PIL import Image

from lce_models.data import sr_pairs, to_array
from lce_models.metrics import psnr_y, ssim_y


def bicubic(scale):
    """The bicubic baseline: Pillow's bicubic enlargement (within 0.01 dB of MATLAB's on the
    shared sets, per the data README)."""

    def upscale(lr):
        img = Image.fromarray(np.round(lr * 255).astype(np.uint8))
        return to_array(img.resize((img.width * scale, img.height * scale), Image.BICUBIC))

    return upscale


def keras_upscaler(model):
    """A Keras model built for any input size, as an LR -> SR function (output clipped)."""
    return lambda lr: np.clip(model(lr[None], training=False).numpy()[0], 0.0, 1.0)


def evaluate_sr(upscale, set_name, scale):
    """Per-image and mean Y-PSNR / Y-SSIM of ``upscale`` on a shared test set."""
    images = {}
    for name, lr, hr in sr_pairs(set_name, scale):
        sr = upscale(lr)
        images[name] = {"psnr": psnr_y(sr, hr, scale), "ssim": ssim_y(sr, hr, scale)}
    return {
        "psnr": float(np.mean([v["psnr"] for v in images.values()])),
        "ssim": float(np.mean([v["ssim"] for v in images.values()])),
        "images": images,
    }
