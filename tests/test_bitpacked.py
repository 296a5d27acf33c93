"""The fast path's bit-packed binary convolution (converters/bconv.c) against plain NumPy:
bit-exact for odd sizes, channel counts that are not multiples of 64, borders, both paddings,
the AVX2 and the portable code, one and two threads."""

import numpy as np
import pytest

from converters import bitpacked

SHAPES = [  # (N, C, H, W, O)
    (1, 1, 1, 1, 1), (2, 3, 5, 7, 5), (1, 63, 4, 9, 64), (1, 64, 13, 9, 64), (1, 65, 6, 5, 3), (1, 130, 7, 8, 17),
]


def binary_kernel(rng, o, c):
    alpha = rng.uniform(0.01, 1.0, size=o).astype(np.float32)
    return (np.where(rng.normal(size=(o, c, 3, 3)) < 0, -1, 1) * alpha[:, None, None, None]).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pad", bitpacked.PADS)
def test_kernel_is_bit_exact(shape, pad, rng):
    n, c, h, w, o = shape
    x = rng.normal(size=(n, c, h, w)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = 0.0  # sign(0) = +1
    kernel = binary_kernel(rng, o, c)
    expected = bitpacked.reference_conv3x3(x, kernel, pad)
    weights = bitpacked.PackedWeights(kernel)
    for avx2 in ([False, True] if bitpacked.has_avx2() else [False]):
        for threads in (1, 2):
            np.testing.assert_array_equal(bitpacked.conv3x3(x, weights, pad, threads, avx2), expected)


def test_reference_is_the_float_convolution_of_signs(rng):
    """The specification itself, against a float conv of the padded signs (TensorFlow's)."""
    import tensorflow as tf

    x = rng.normal(size=(1, 70, 6, 7)).astype(np.float32)
    kernel = binary_kernel(rng, 5, 70)
    for pad, value in (("one", 1.0), ("zero", 0.0)):
        signs = np.pad(np.where(x < 0, -1.0, 1.0), ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=value)
        conv = tf.nn.conv2d(signs.transpose(0, 2, 3, 1), kernel.transpose(2, 3, 1, 0), 1, "VALID").numpy()
        np.testing.assert_allclose(bitpacked.reference_conv3x3(x, kernel, pad), conv.transpose(0, 3, 1, 2),
                                   rtol=1e-5, atol=1e-5)


def test_refuses_what_it_does_not_compute(rng):
    with pytest.raises(bitpacked.FastPathError, match="not binary"):
        bitpacked.PackedWeights(rng.normal(size=(2, 3, 3, 3)))
    with pytest.raises(bitpacked.FastPathError, match=r"\(O, C, 3, 3\)"):
        bitpacked.PackedWeights(np.ones((2, 3, 1, 1)))
    weights = bitpacked.PackedWeights(binary_kernel(rng, 2, 3))
    with pytest.raises(bitpacked.FastPathError, match="4 channels, the kernel 3"):
        bitpacked.conv3x3(np.zeros((1, 4, 2, 2), np.float32), weights)
