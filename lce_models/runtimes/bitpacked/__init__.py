"""The x86-64 fast path's binary convolution: bit-packed weights and the C kernel
(``csrc/``, built by ``pip install -e .``) called through ctypes.

A binarized convolution is ``conv(sign(x), W)`` with ``W[o] = +-alpha[o]``, 3x3, stride 1,
"same" size, its border either +1 (``pad="one"``, larq's ``pad_values=1``) or 0 (``"zero"``).
With s = sign(x) (sign(0) = +1) and b = sign(W), the window sum is an integer,
``sum(s * b) = n - 2 popcount(s_bits ^ b_bits)``, and the output is ``alpha[o]`` times it:
exact, so the kernel, ``reference_conv3x3`` and LCE's reference kernels agree bit for bit.
The sign may take a per-channel threshold (``sign(x + t)``, RSign's learnable shift) and the
output a per-channel bias, both computed in float32 as the graph's own Add ops would.
``conv3x3_unit`` runs a whole BBCU unit in one call: the conv, then PReLU, a shift, the residual
and an upsampler's depth-to-space on each output row while it is in cache (``reference_unit``
is its specification).
"""

import ctypes
import importlib.machinery
import os
import time
from pathlib import Path

import numpy as np

PADS = ("one", "zero")
#: The kernel's instruction sets, by their number (csrc/bconv.h's ISA_*); the best is picked by default.
ISAS = ("portable", "avx2", "avx512")
#: Output channels the kernel computes together (``BLOCK`` in csrc/bconv.h).
BLOCK = 16


class FastPathError(RuntimeError):
    """The kernel is not built, or a convolution is not one it computes (one line)."""


def library_path():
    """The built kernel (also the onnxruntime custom-op library of ``converters.fastpath``)."""
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if (here / f"_bconv{suffix}").is_file():
            return here / f"_bconv{suffix}"
    raise FastPathError("the fast-path kernel lce_models/runtimes/bitpacked/_bconv is not built: run "
                        "`.venv/bin/pip install -e .` (needs gcc)")


def _library():
    # OpenMP's idle threads spin by default and take the cores onnxruntime's next op needs
    # (bbcu-m x4 at 180x320, 2 threads: 887 ms spinning, 736 ms passive); read at load time
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    lib = ctypes.CDLL(str(library_path()))
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    lib.bp_pack.argtypes = [ptr, ptr, i64, i64, i64, i64, ptr, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.bp_pack.restype = None
    lib.bp_conv3x3.argtypes = [ptr, i64, i64, i64, i64, ptr, i64, i64, ptr, ptr, ptr, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_int, ptr]
    lib.bp_conv3x3.restype = None
    lib.bp_conv3x3_unit.argtypes = [ptr, i64, i64, i64, i64, ptr, i64, i64, ptr, ptr, ptr, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_int, ptr, ptr, ptr, ptr, i64, ptr]
    lib.bp_conv3x3_unit.restype = None
    lib.bp_best_isa.restype = ctypes.c_int
    for peak in (lib.bp_popcount_peak, lib.bp_popcount_method_peak):
        peak.argtypes = [ctypes.c_int, i64]
        peak.restype = i64
    for setter in (lib.bp_set_threads, lib.bp_set_isa):
        setter.argtypes = [ctypes.c_int]
        setter.restype = None
    lib.bp_set_stream_above.argtypes = [i64]
    lib.bp_set_stream_above.restype = None
    return lib


_LIB = None


def library():
    global _LIB
    if _LIB is None:
        _LIB = _library()
    return _LIB


def available_isas():
    """The instruction sets this CPU runs, portable first, best last."""
    return ISAS[:library().bp_best_isa() + 1]


_CHOSEN_ISA = None


def choose_isa(isa):
    """Make ``isa`` (a name of ``available_isas()``; None: the best) what the fast path's
    onnxruntime sessions of this process use unless told otherwise: a benchmark on an AVX-512
    host can run the AVX2 kernel that AVX2-only CPUs run."""
    global _CHOSEN_ISA
    isa_number(isa)
    _CHOSEN_ISA = isa


def chosen_isa():
    """The instruction set the fast path's sessions use (``choose_isa``, else the best)."""
    return _CHOSEN_ISA or available_isas()[-1]


def isa_number(isa):
    """The C number of an instruction set name (the best here when None); one
    ``FastPathError`` line for one this CPU does not run."""
    if isa is None:
        return library().bp_best_isa()
    if isa not in available_isas():
        raise FastPathError(f"instruction set {isa!r} is not available here; "
                            f"this CPU runs {', '.join(available_isas())}")
    return ISAS.index(isa)


#: Binary MACs of one round of bp_popcount_peak: 4 pairs of 64-bit words, 4 vectors of 256 bits or
#: 12 of 512 (csrc/popcount_limit.c's CHAINS_4 and CHAINS_12).
_PEAK_ROUND = {"portable": 4 * 128, "avx2": 4 * 256, "avx512": 12 * 512}
#: Ways to count bits with AVX2, by their number in csrc/bconv.h (METHOD_*): the kernel's nibble
#: lookup (vpshufb), Harley-Seal carry-save adders, scalar popcnt on 64-bit words.
AVX2_METHODS = ("nibble-lookup", "harley-seal", "popcnt")
#: Binary MACs of one round of bp_popcount_method_peak: 4 vectors of 256 bits, 16 of 256, 8 words.
_METHOD_ROUND = {"nibble-lookup": 4 * 256, "harley-seal": 16 * 256, "popcnt": 8 * 64}


def _rate(run, bits_a_round, seconds):
    """Bits a second of ``run(rounds)``, timed over at least ``seconds``."""
    rounds = 1000
    while True:
        start = time.perf_counter()
        run(rounds)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return bits_a_round * rounds / elapsed
        rounds *= 2 if elapsed < seconds / 8 else max(2, int(seconds / max(elapsed, 1e-9)) + 1)


def avx2_method_peaks(seconds=0.3):
    """{method: binary MACs per second of one core} of each AVX2 counting method, measured as
    ``popcount_peak`` measures (needs an AVX2 CPU)."""
    lib = library()
    return {m: _rate(lambda n, i=i: lib.bp_popcount_method_peak(i, n), _METHOD_ROUND[m], seconds)
            for i, m in enumerate(AVX2_METHODS)}


def popcount_peak(isa=None, seconds=0.3):
    """Binary MACs per second of one core at its popcount limit, as measured here: xor,
    popcount and add of register-resident vectors with ``isa`` (the best when None), nothing
    loaded or stored. What the kernel's own MACs/s are to be compared with. For AVX2, the
    fastest of its counting methods (``avx2_method_peaks``)."""
    number = isa_number(isa)
    if ISAS[number] == "avx2":
        return max(avx2_method_peaks(seconds).values())
    return _rate(lambda n: library().bp_popcount_peak(number, n), _PEAK_ROUND[ISAS[number]], seconds)


def words(channels):
    return (channels + 63) // 64


def pack_bits(signs_negative):
    """Bool array (..., C) -> uint64 (..., words): bit j of word k is channel 64k + j."""
    c = signs_negative.shape[-1]
    padded = np.zeros((*signs_negative.shape[:-1], words(c) * 64), bool)
    padded[..., :c] = signs_negative
    return np.packbits(padded, axis=-1, bitorder="little").view("<u8")


class PackedWeights:
    """A binary 3x3 kernel (O, C, 3, 3) of values +-alpha[o], packed once: ``bits`` (9, words,
    O rounded up to ``BLOCK``) uint64, ``alpha`` (O,) float32, ``ones`` (9, O) int64 = the sum of each
    tap's signs (what a +1 border pixel adds, taken back at zero-padded borders)."""

    def __init__(self, kernel):
        kernel = np.asarray(kernel, np.float32)
        if kernel.ndim != 4 or kernel.shape[2:] != (3, 3):
            raise FastPathError(f"expected an (O, C, 3, 3) kernel, got shape {kernel.shape}")
        o, c = kernel.shape[:2]
        magnitude = np.abs(kernel).reshape(o, -1)
        if not np.all(magnitude == magnitude[:, :1]):
            raise FastPathError("the kernel is not binary: its magnitudes differ within an output channel")
        self.out_channels, self.channels = o, c
        self.alpha = np.ascontiguousarray(magnitude[:, 0])
        taps = kernel.reshape(o, c, 9).transpose(2, 0, 1)  # (9, O, C)
        o_pad = (o + BLOCK - 1) // BLOCK * BLOCK
        bits = np.zeros((9, words(c), o_pad), np.uint64)
        bits[:, :, :o] = pack_bits(taps < 0).transpose(0, 2, 1)
        self.bits = np.ascontiguousarray(bits)
        self.ones = np.ascontiguousarray(np.where(taps < 0, -1, 1).sum(axis=2).astype(np.int64))


def _pointer(array):
    return None if array is None else array.ctypes.data


def _per_channel(values, count, what):
    if values is None:
        return None
    values = np.ascontiguousarray(values, np.float32).reshape(-1)
    if values.size != count:
        raise FastPathError(f"{what} has {values.size} values for {count} channels")
    return values


def _batch(x, weights, pad, nhwc):
    if pad not in PADS:
        raise FastPathError(f"unknown pad {pad!r}; choose from {', '.join(PADS)}")
    x = np.ascontiguousarray(x, np.float32)
    n, c, h, w = (x.shape[0], x.shape[3], x.shape[1], x.shape[2]) if nhwc else x.shape
    if c != weights.channels:
        raise FastPathError(f"input has {c} channels, the kernel {weights.channels}")
    return x, n, c, h, w


def _output(out, shape):
    if out is None:
        return np.empty(shape, np.float32)
    if out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise FastPathError(f"out must be a contiguous float32 array of shape {shape}")
    return out


def _convolve(x, weights, pad, threads, isa, bias, threshold, nhwc, out, each):
    """Pack image i of the batch, then ``each(packed, i, isa number)``, for each i."""
    lib = library()
    x, n, c, h, w = _batch(x, weights, pad, nhwc)
    threshold = _per_channel(threshold, c, "threshold")
    number = isa_number(isa)
    packed = np.empty((h + 2, words(c), w + 2), np.uint64)  # bp_pack writes every word
    for i in range(n):
        lib.bp_pack(x[i].ctypes.data, _pointer(threshold), h, w, c, words(c), packed.ctypes.data, int(nhwc), number,
                    threads)
        each(packed, i, number)
    return out


def _weights(weights):
    return (weights.bits.ctypes.data, weights.out_channels, weights.bits.shape[2], weights.alpha.ctypes.data,
            weights.ones.ctypes.data)


def conv3x3(x, weights, pad="one", threads=1, isa=None, bias=None, threshold=None, out=None, nhwc=False):
    """The binarized convolution of a float32 batch: (N, C, H, W) -> (N, O, H, W), or (N, H, W,
    C) -> (N, H, W, O) with ``nhwc``, of ``sign(x + threshold)`` when a per-channel threshold is
    given, plus ``bias`` when given; ``isa`` one of ``available_isas()`` (the best when None);
    ``out`` a float32 array to write into (a benchmark reuses one, as onnxruntime's arena does)."""
    _, n, c, h, w = _batch(x, weights, pad, nhwc)
    bias = _per_channel(bias, weights.out_channels, "bias")
    out = _output(out, (n, h, w, weights.out_channels) if nhwc else (n, weights.out_channels, h, w))

    def each(packed, i, number):
        library().bp_conv3x3(packed.ctypes.data, h, w, c, words(c), *_weights(weights), _pointer(bias),
                             int(pad == "zero"), int(nhwc), number, threads, out[i].ctypes.data)

    return _convolve(x, weights, pad, threads, isa, bias, threshold, nhwc, out, each)


def conv3x3_unit(x, weights, pad="one", threads=1, isa=None, bias=None, threshold=None, slope=None, shift=None,
                 residual=None, activation=None, shuffle=1, out=None):
    """A BBCU unit in one pass, NHWC (N, H, W, C) -> (N, H r, W r, O / r^2) with r = ``shuffle``:
    ``conv3x3`` (with ``bias``, ``threshold``), then PReLU with per-channel ``slope``, plus
    per-channel ``shift``, plus ``residual`` (N, H, W, O / r^2), broadcast over the r^2
    sub-pixels (output channel o adds its channel o % (O / r^2)), then PReLU with ``activation``
    (O / r^2 slopes: an activation after the unit), then depth-to-space (DCR) of block r; each
    part optional. BBCU's units pass their own x as ``residual``."""
    _, n, c, h, w = _batch(x, weights, pad, True)
    o, cc = weights.out_channels, weights.out_channels // (shuffle * shuffle)
    if shuffle < 1 or o % (shuffle * shuffle):
        raise FastPathError(f"{o} output channels do not shuffle in blocks of {shuffle}")
    if residual is not None:
        residual = np.ascontiguousarray(residual, np.float32)
        if residual.shape != (n, h, w, cc):
            raise FastPathError(f"residual of shape {residual.shape}, expected {(n, h, w, cc)}")
    bias, slope, shift = (_per_channel(v, o, what) for v, what in ((bias, "bias"), (slope, "slope"), (shift, "shift")))
    activation = _per_channel(activation, cc, "activation")
    out = _output(out, (n, h * shuffle, w * shuffle, cc))

    def each(packed, i, number):
        library().bp_conv3x3_unit(packed.ctypes.data, h, w, c, words(c), *_weights(weights), _pointer(bias),
                                  int(pad == "zero"), number, threads, _pointer(slope), _pointer(shift),
                                  None if residual is None else residual[i].ctypes.data, _pointer(activation), shuffle,
                                  out[i].ctypes.data)

    return _convolve(x, weights, pad, threads, isa, bias, threshold, True, out, each)


def reference_conv3x3(x, kernel, pad="one", bias=None, threshold=None):
    """Plain NumPy: sign(x + threshold) (sign(0) = +1) padded with +1 or 0, integer window sums
    of sign products, times alpha[o], plus bias. The kernel's specification."""
    x = np.asarray(x, np.float32)
    if threshold is not None:
        x = x + np.asarray(threshold, np.float32)[None, :, None, None]
    kernel = np.asarray(kernel, np.float32)
    s = np.where(x < 0, -1, 1).astype(np.int64)
    s = np.pad(s, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=1 if pad == "one" else 0)
    b = np.where(kernel < 0, -1, 1).astype(np.int64)
    n, c, h, w = x.shape
    dots = np.zeros((n, kernel.shape[0], h, w), np.int64)
    for ky in range(3):
        for kx in range(3):
            dots += np.einsum("nchw,oc->nohw", s[:, :, ky:ky + h, kx:kx + w], b[:, :, ky, kx])
    alpha = np.abs(kernel).reshape(kernel.shape[0], -1)[:, 0]
    out = (alpha[None, :, None, None] * dots.astype(np.float32)).astype(np.float32)
    if bias is not None:
        out = out + np.asarray(bias, np.float32)[None, :, None, None]
    return out


def reference_unit(x, kernel, pad="one", bias=None, threshold=None, slope=None, shift=None, residual=None,
                   activation=None, shuffle=1):
    """Plain NumPy, NHWC: ``reference_conv3x3``, then ``v < 0 ? v * slope : v``, ``+ shift``,
    ``+ residual`` (channel o % its channels), ``v < 0 ? v * activation : v`` (channel o % its
    size), each in float32, then DCR depth-to-space of block ``shuffle``.
    ``conv3x3_unit``'s specification (BBCU, Eq. 8: RPReLU(BinConv(sign(x + b))) + x)."""
    x = np.asarray(x, np.float32)
    v = reference_conv3x3(x.transpose(0, 3, 1, 2), kernel, pad, bias, threshold).transpose(0, 2, 3, 1)
    if slope is not None:
        v = np.where(v < 0, v * np.asarray(slope, np.float32), v)
    if shift is not None:
        v = v + np.asarray(shift, np.float32)
    if residual is not None:
        residual = np.asarray(residual, np.float32)
        v = v + np.tile(residual, (1, 1, 1, v.shape[3] // residual.shape[3]))
    if activation is not None:
        activation = np.tile(np.asarray(activation, np.float32), v.shape[3] // np.size(activation))
        v = np.where(v < 0, v * activation, v)
    n, h, w, o = v.shape
    r = shuffle
    return v.reshape(n, h, w, r, r, o // (r * r)).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, o // (r * r))
