"""The degradations a network learns to undo, in TensorFlow so that the training pipeline
makes them on the fly and evaluation makes the same ones.

=========  ===========  ==================================================================
task       level        degraded input from a clean [0, 1] image
=========  ===========  ==================================================================
sr         scale s      bicubic (Keys a = -0.5, antialiased) shrink by s, rounded to 8 bits
denoise    sigma        clean + N(0, (sigma / 255)^2), not clipped (DnCNN / BBCU setting)
jpeg       quality q    JPEG at quality q (libjpeg), decoded back
=========  ===========  ==================================================================

The noise takes a stateless ``seed`` (shape [2] int), so that a sample is a pure function of
its index: training resumes on exactly the patches it would have drawn, and evaluation adds
the same noise on every run.
"""

from dataclasses import dataclass

import tensorflow as tf

TASKS = ("sr", "denoise", "jpeg")


def bicubic_downscale(clean, scale):
    """Shrink (H, W, C) by ``scale`` (sides divisible by it). TensorFlow's antialiased bicubic
    makes LR images whose bicubic-baseline PSNR is within 0.004 dB of the MATLAB-made LR of
    Set5 / Set14 (tests/test_degradations.py)."""
    size = tf.shape(clean)[:2] // scale
    small = tf.image.resize(clean, size, method="bicubic", antialias=True)
    return tf.round(tf.clip_by_value(small, 0.0, 1.0) * 255.0) / 255.0


def add_noise(clean, sigma, seed):
    """Additive white Gaussian noise of ``sigma`` on the 0-255 scale."""
    return clean + tf.random.stateless_normal(tf.shape(clean), seed, stddev=sigma / 255.0)


def jpeg(clean, quality):
    """Encode at JPEG ``quality`` and decode (1 channel: grayscale JPEG)."""
    pixels = tf.image.convert_image_dtype(clean, tf.uint8, saturate=True)
    decoded = tf.io.decode_jpeg(tf.io.encode_jpeg(pixels, quality=quality))
    return tf.reshape(tf.image.convert_image_dtype(decoded, tf.float32), tf.shape(clean))


@dataclass(frozen=True)
class Degradation:
    """One degradation at one level, e.g. ``Degradation("denoise", 25)``.

    ``__call__(clean, seed)`` gives the network's input; ``multiple`` is what the clean
    image's sides must be divisible by.
    """

    task: str
    level: float

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        bounds = {"sr": (2, 4), "denoise": (0, 255), "jpeg": (1, 100)}[self.task]
        if not bounds[0] <= self.level <= bounds[1]:
            raise ValueError(f"{self.label} is out of range {bounds[0]}..{bounds[1]}")

    @property
    def multiple(self):
        return int(self.level) if self.task == "sr" else 1

    @property
    def label(self):
        return {"sr": "x{:g}", "denoise": "sigma {:g}", "jpeg": "q {:g}"}[self.task].format(self.level)

    def __call__(self, clean, seed):
        if self.task == "sr":
            return bicubic_downscale(clean, int(self.level))
        if self.task == "denoise":
            return add_noise(clean, float(self.level), seed)
        return jpeg(clean, int(self.level))
