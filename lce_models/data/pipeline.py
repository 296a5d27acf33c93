"""The training input pipeline (tf.data): random patches of folders of images, augmented and
degraded on the fly.

Sample ``i`` of a run is a pure function of ``(seed, i)``, drawn with stateless random ops:
the image, the crop, the flip and rotation, the noise. A resumed run therefore sees the very
patches an uninterrupted one would, and distributed replicas draw disjoint ones.
"""

import sys

from lce_models.data.images import image_files, open_image

import numpy as np
import tensorflow as tf
from PIL import Image

#: Decoded training images up to this many bytes are kept in memory; past it, read per draw.
MEMORY_LIMIT = 4 << 30


class ImageBank:
    """The usable images of some folders, decoded once.

    Files that cannot be decoded, and images smaller than ``min_size`` on a side (no patch
    fits), are skipped with a warning naming them. The pixels stay in memory as one flat
    uint8 tensor when they fit in ``memory_limit`` bytes; otherwise each draw reads its file.
    """

    def __init__(self, folders, channels=3, min_size=1, memory_limit=MEMORY_LIMIT):
        self.channels = channels
        self.paths, arrays, small = [], [], []
        for path in (f for folder in folders for f in image_files(folder)):
            try:
                array = np.asarray(open_image(path, channels))
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                print(f"warning: skipping unreadable image {path}: {e}", file=sys.stderr)
                continue
            if min(array.shape[:2]) < min_size:
                small.append(path.name)
                continue
            self.paths.append(str(path))
            arrays.append(array.reshape(array.shape[0], array.shape[1], channels))
        if small:
            print(f"warning: skipping {len(small)} images smaller than {min_size} pixels on a "
                  f"side: {', '.join(small[:5])}{' ...' if len(small) > 5 else ''}", file=sys.stderr)
        if not arrays:
            raise FileNotFoundError(f"no usable training image (at least {min_size}x{min_size}) "
                                    f"in {', '.join(str(f) for f in folders)}")
        self.shapes = np.array([a.shape for a in arrays], np.int64)
        self.nbytes = int(sum(a.size for a in arrays))
        self.in_memory = self.nbytes <= memory_limit
        if self.in_memory:
            self._pixels = tf.constant(np.concatenate([a.ravel() for a in arrays]))
            self._offsets = tf.constant(np.cumsum([0] + [a.size for a in arrays[:-1]]), tf.int64)
            self._shapes = tf.constant(self.shapes)

    def __len__(self):
        return len(self.paths)

    def image(self, index):
        """Image ``index`` as a uint8 (H, W, C) tensor (inside tf.data)."""
        if self.in_memory:
            shape = self._shapes[index]
            start = self._offsets[index]
            return tf.reshape(self._pixels[start : start + tf.reduce_prod(shape)], shape)

        def read(i):
            return np.asarray(open_image(self.paths[i], self.channels)).reshape(self.shapes[i])

        pixels = tf.numpy_function(read, [index], tf.uint8, stateful=False)
        return tf.ensure_shape(pixels, [None, None, self.channels])


def sample(bank, degradation, patch, seed, index):
    """(degraded, clean) float32 pair for sample ``index``; the clean patch is ``patch`` times
    the degradation's multiple (the HR patch of SR) on a side."""
    seeds = tf.random.experimental.stateless_split(tf.stack([tf.cast(seed, tf.int64), index]), 5)
    pick = tf.random.stateless_uniform([], seeds[0], 0, len(bank), tf.int64)
    side = patch * degradation.multiple
    # float before cropping: TensorFlow's CPU kernels warn on uint8 without AVX-512
    image = tf.cast(bank.image(pick), tf.float32) / 255.0
    clean = tf.image.stateless_random_crop(image, [side, side, bank.channels], seeds[1])
    clean = tf.image.rot90(clean, tf.random.stateless_uniform([], seeds[2], 0, 4, tf.int32))
    clean = tf.image.stateless_random_flip_left_right(clean, seeds[3])
    return degradation(clean, seeds[4]), clean


def dataset(bank, degradation, patch, batch_size, seed=0, first_batch=0, pipelines=1, pipeline=0):
    """Endless batches of ``batch_size`` (degraded, clean) pairs, from batch ``first_batch`` on.

    With several input pipelines (distributed training), batch ``t`` of pipeline ``p`` holds
    the samples of global batch ``t * pipelines + p``, so pipelines never draw the same sample.
    """

    def indices(t):
        return tf.range(batch_size, dtype=tf.int64) + (t * pipelines + pipeline) * batch_size

    return (
        tf.data.Dataset.range(first_batch, np.iinfo(np.int64).max)
        .map(indices)
        .unbatch()
        .map(lambda i: sample(bank, degradation, patch, seed, i),
             num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
