"""The fast path's bit-packed binary convolution (lce_models/runtimes/bitpacked/csrc) against
plain NumPy: bit-exact for odd sizes, channel counts that are not multiples of 64, borders, both paddings,
with and without threshold and bias, NCHW and NHWC, each instruction set this CPU runs, one and
two threads."""

from pathlib import Path

from lce_models.runtimes import bitpacked

import numpy as np
import pytest

SHAPES = [  # (N, C, H, W, O)
    (1, 1, 1, 1, 1), (2, 3, 5, 7, 5), (1, 63, 4, 9, 64), (1, 64, 13, 9, 64), (1, 65, 6, 5, 3), (1, 130, 7, 8, 17),
    (1, 64, 5, 6, 90),  # AVX-512 takes 64 output channels a pass, then single blocks
    (1, 260, 5, 9, 6),  # 45 rounds a pixel: AVX2 empties its byte counters after 31
    (1, 70, 2, 37, 44),  # rows both first and last; blocks inside a row; an odd last pixel; a part vector
    (1, 64, 9, 33, 128),  # two whole 64-output passes (AVX-512, NHWC)
]


def binary_kernel(rng, o, c):
    alpha = rng.uniform(0.01, 1.0, size=o).astype(np.float32)
    return (np.where(rng.normal(size=(o, c, 3, 3)) < 0, -1, 1) * alpha[:, None, None, None]).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pad", bitpacked.PADS)
@pytest.mark.parametrize("shifted", [False, True], ids=["plain", "threshold+bias"])
def test_kernel_is_bit_exact(shape, pad, shifted, rng):
    n, c, h, w, o = shape
    x = rng.normal(size=(n, c, h, w)).astype(np.float32)
    threshold = bias = None
    if shifted:
        threshold = rng.normal(size=c).astype(np.float32)
        bias = rng.normal(size=o).astype(np.float32)
        x = np.where(rng.random(x.shape) < 0.05, -threshold[None, :, None, None], x)  # x + threshold = 0
    else:
        x[rng.random(x.shape) < 0.05] = 0.0  # sign(0) = +1
    kernel = binary_kernel(rng, o, c)
    expected = bitpacked.reference_conv3x3(x, kernel, pad, bias, threshold)
    weights = bitpacked.PackedWeights(kernel)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    for isa in bitpacked.available_isas():
        for threads in (1, 2):
            got = bitpacked.conv3x3(x, weights, pad, threads, isa, bias, threshold)
            np.testing.assert_array_equal(got, expected, err_msg=f"{isa}, {threads} threads")
            got = bitpacked.conv3x3(x_nhwc, weights, pad, threads, isa, bias, threshold, nhwc=True)
            np.testing.assert_array_equal(got, expected.transpose(0, 2, 3, 1),
                                          err_msg=f"NHWC, {isa}, {threads} threads")


def aligned_empty(shape, alignment=64):
    """A float32 array whose data starts on an `alignment`-byte boundary (as onnxruntime's arena
    gives), which the kernel's non-temporal stores need."""
    size = int(np.prod(shape))
    buffer = np.empty(size + alignment // 4, np.float32)
    start = (-buffer.ctypes.data % alignment) // 4
    return buffer[start:start + size].reshape(shape)


@pytest.mark.parametrize("o", [64, 48, 16])
def test_streamed_output_is_bit_exact(o, rng):
    """Outputs larger than the last-level cache go out with non-temporal stores; made to do so
    here at any size, they give the same floats."""
    n, c, h, w = 1, 70, 5, 19
    x = rng.normal(size=(n, h, w, c)).astype(np.float32)
    kernel, bias = binary_kernel(rng, o, c), rng.normal(size=o).astype(np.float32)
    expected = bitpacked.reference_conv3x3(x.transpose(0, 3, 1, 2), kernel, "zero", bias).transpose(0, 2, 3, 1)
    weights, lib = bitpacked.PackedWeights(kernel), bitpacked.library()
    lib.bp_set_stream_above(0)
    try:
        for threads in (1, 2):
            got = bitpacked.conv3x3(x, weights, "zero", threads, None, bias, out=aligned_empty((n, h, w, o)), nhwc=True)
            np.testing.assert_array_equal(got, expected, err_msg=f"{threads} threads")
    finally:
        lib.bp_set_stream_above(-1)


UNIT_SHAPES = [  # (C, H, W, r): O = C r^2
    (64, 7, 13, 1), (70, 5, 9, 1), (17, 6, 11, 2), (64, 3, 17, 2), (5, 4, 7, 3), (1, 1, 1, 1)]
UNIT_PARTS = {"all": ("slope", "shift", "residual", "activation"), "prelu+residual": ("slope", "residual"),
              "conv": (), "shift": ("shift",), "prelu+shift": ("slope", "shift"), "activation": ("activation",)}


@pytest.mark.parametrize("shape", UNIT_SHAPES, ids=lambda s: "C{}_{}x{}_r{}".format(*s))
@pytest.mark.parametrize("pad", bitpacked.PADS)
@pytest.mark.parametrize("parts", list(UNIT_PARTS))
def test_whole_unit_is_bit_exact(shape, pad, parts, rng):
    """A BBCU unit in one call (conv, PReLU, shift, residual, an activation after it, an
    upsampler's shuffle with the residual broadcast over its sub-pixels) equals the NumPy
    specification, each part alone or together, every instruction set, 1 and 2 threads, with
    and without the threshold."""
    c, h, w, r = shape
    o = c * r * r
    x = rng.normal(size=(2, h, w, c)).astype(np.float32)
    kernel = binary_kernel(rng, o, c)
    values = {"slope": rng.normal(size=o).astype(np.float32), "shift": rng.normal(size=o).astype(np.float32),
              "residual": rng.normal(size=(2, h, w, c)).astype(np.float32),
              "activation": rng.normal(size=c).astype(np.float32)}
    options = {name: values[name] for name in UNIT_PARTS[parts]}
    weights, bias = bitpacked.PackedWeights(kernel), rng.normal(size=o).astype(np.float32)
    for threshold in (None, rng.normal(size=c).astype(np.float32)):
        expected = bitpacked.reference_unit(x, kernel, pad, bias, threshold, shuffle=r, **options)
        assert expected.shape == (2, h * r, w * r, c)
        for isa in bitpacked.available_isas():
            for threads in (1, 2):
                got = bitpacked.conv3x3_unit(x, weights, pad, threads, isa, bias, threshold, shuffle=r, **options)
                np.testing.assert_array_equal(got, expected, err_msg=f"{isa}, {threads} threads")


@pytest.mark.parametrize("c,r", [(16, 1), (16, 2), (8, 2), (24, 1)])
def test_streamed_unit_is_bit_exact(c, r, rng):
    """A unit's large output leaves its epilogue with non-temporal stores (AVX-512: 16-channel
    sub-pixels, AVX2: 8); made to at any size, the same floats."""
    o = c * r * r
    x = rng.normal(size=(1, 5, 11, c)).astype(np.float32)
    kernel = binary_kernel(rng, o, c)
    options = {"slope": rng.normal(size=o).astype(np.float32), "shift": rng.normal(size=o).astype(np.float32),
               "residual": x, "activation": rng.normal(size=c).astype(np.float32), "shuffle": r}
    expected = bitpacked.reference_unit(x, kernel, "zero", **options)
    weights, lib = bitpacked.PackedWeights(kernel), bitpacked.library()
    lib.bp_set_stream_above(0)
    try:
        for isa in bitpacked.available_isas():
            got = bitpacked.conv3x3_unit(x, weights, "zero", 2, isa, out=aligned_empty(expected.shape), **options)
            np.testing.assert_array_equal(got, expected, err_msg=isa)
    finally:
        lib.bp_set_stream_above(-1)


def test_unit_refuses_what_does_not_fit(rng):
    weights = bitpacked.PackedWeights(binary_kernel(rng, 12, 3))
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    with pytest.raises(bitpacked.FastPathError, match="do not shuffle in blocks of 3"):
        bitpacked.conv3x3_unit(x, weights, shuffle=3)
    with pytest.raises(bitpacked.FastPathError, match="residual of shape"):
        bitpacked.conv3x3_unit(x, weights, residual=x, shuffle=1)


@pytest.mark.parametrize("nhwc", [False, True], ids=["NCHW", "NHWC"])
def test_pack_writes_every_word(nhwc, rng):
    """bp_pack owns its whole buffer, border and tail words included: the op hands it memory
    nobody zeroed."""
    c, h, w = 70, 5, 7
    x = rng.normal(size=(h, w, c) if nhwc else (c, h, w)).astype(np.float32)
    lib = bitpacked.library()
    for isa in bitpacked.available_isas():
        buffers = [np.zeros((h + 2, 2, w + 2), np.uint64), np.full((h + 2, 2, w + 2), ~np.uint64(0))]
        for packed in buffers:
            lib.bp_pack(x.ctypes.data, None, h, w, c, 2, packed.ctypes.data, int(nhwc), bitpacked.isa_number(isa), 2)
        np.testing.assert_array_equal(buffers[0], buffers[1], err_msg=isa)


@pytest.mark.parametrize("pad", bitpacked.PADS)
def test_every_bit_mismatched(pad):
    """The largest counts: every activation -1 against every weight +1, 2053 channels (33
    words, 297 rounds a pixel), so AVX2's 8-bit counters get their most between two flushes."""
    c, h, w, o = 2053, 3, 9, 4
    x = -np.ones((1, c, h, w), np.float32)
    kernel = np.full((o, c, 3, 3), 0.5, np.float32)
    expected = bitpacked.reference_conv3x3(x, kernel, pad)
    weights = bitpacked.PackedWeights(kernel)
    for isa in bitpacked.available_isas():
        np.testing.assert_array_equal(bitpacked.conv3x3(x, weights, pad, 2, isa), expected, err_msg=isa)


def test_this_cpu_runs_its_best_instruction_set():
    """The dispatch picks what the CPU reports (AVX-512 needs its popcount extension)."""
    flags = set(open("/proc/cpuinfo").read().split()) if Path("/proc/cpuinfo").is_file() else set()
    best = ("avx512" if {"avx512f", "avx512_vpopcntdq"} <= flags else "avx2" if "avx2" in flags else "portable")
    assert bitpacked.available_isas()[-1] == best


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
    with pytest.raises(bitpacked.FastPathError, match="bias has 3 values for 2 channels"):
        bitpacked.conv3x3(np.zeros((1, 3, 2, 2), np.float32), weights, bias=np.zeros(3))
    with pytest.raises(bitpacked.FastPathError, match="not available here"):
        bitpacked.conv3x3(np.zeros((1, 3, 2, 2), np.float32), weights, isa="neon")


@pytest.mark.parametrize("isa", bitpacked.available_isas())
def test_popcount_limit_does_the_work_it_counts(isa):
    """The limit's checksum is what its counted rounds add up to: as many chains of as many
    bits as popcount_peak multiplies by, each popcounted every round."""
    width = {"portable": 128, "avx2": 256, "avx512": 512}[isa]
    chains, rounds, key = bitpacked._PEAK_ROUND[isa] // width, 7, 0x5DEECE66D
    seeds = [((j + 1) * 0x9E3779B97F4A7C15) % 2**64 for j in range(chains)]
    lanes = np.array([s ^ key for s in seeds for _ in range(width // 64)], dtype=np.uint64)
    if isa == "avx2":  # byte-wise sums that wrap, read back as int64 lanes
        counts = np.unpackbits(lanes.view(np.uint8)[:, None], axis=1).sum(axis=1).reshape(chains, -1)
        data = (counts.sum(axis=0) * rounds % 256).astype(np.uint8).view(np.int64)
        expected = int(data.sum(dtype=np.int64))
    else:
        expected = rounds * int(np.unpackbits(lanes.view(np.uint8)).sum())
    assert bitpacked.library().bp_popcount_peak(bitpacked.isa_number(isa), rounds) == expected


@pytest.mark.skipif("avx2" not in bitpacked.available_isas(), reason="needs AVX2")
@pytest.mark.parametrize("method", bitpacked.AVX2_METHODS[1:])
def test_avx2_counting_methods_do_the_work_they_count(method):
    """Harley-Seal and scalar popcnt count every bit of the inputs their rounds are credited with
    (_METHOD_ROUND): Harley-Seal 16 vectors a round, of 2 seeds alternately, each 4 equal words;
    popcnt 8 words of 8 seeds. Fails if a round counts fewer inputs or a carry is dropped."""
    width, key, rounds = {"harley-seal": 256, "popcnt": 64}[method], 0x5DEECE66D, 7
    inputs = bitpacked._METHOD_ROUND[method] // width
    seeds = [((j + 1) * 0x9E3779B97F4A7C15) % 2**64 for j in range(2 if method == "harley-seal" else 8)]
    words = np.array([seeds[i % len(seeds)] ^ key for i in range(inputs) for _ in range(width // 64)], np.uint64)
    expected = rounds * int(np.unpackbits(words.view(np.uint8)).sum())
    number = bitpacked.AVX2_METHODS.index(method)
    assert bitpacked.library().bp_popcount_method_peak(number, rounds) == expected
    assert bitpacked.library().bp_popcount_method_peak(number, 1) * rounds == expected


def test_the_avx2_limit_is_its_fastest_method(monkeypatch):
    if "avx2" not in bitpacked.available_isas():
        pytest.skip("needs AVX2")
    peaks = bitpacked.avx2_method_peaks(seconds=0.01)
    assert set(peaks) == set(bitpacked.AVX2_METHODS) and min(peaks.values()) > 0
    monkeypatch.setattr(bitpacked, "avx2_method_peaks", lambda seconds: {"nibble-lookup": 3.0, "harley-seal": 5.0,
                                                                         "popcnt": 4.0})
    assert bitpacked.popcount_peak("avx2") == 5.0
