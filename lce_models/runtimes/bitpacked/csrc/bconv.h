/* The bit-packed binary 3x3 convolution (stride 1, "same") of the x86-64 fast path: what its
 * files share.
 *
 *
 * Activations are binarized and packed along channels in one pass, 64 to a uint64 word (bit j
 * of word w is channel 64w + j; bit set = x + threshold < 0, so sign(0) = +1 as in larq and
 * LCE; tail bits are zero), into a buffer with a one-pixel border of zero words (= +1
 * everywhere). The threshold is the learnable shift before the sign (RSign), exact because the
 * float sum x + threshold is the one the graph's Add would have made. Weights are packed once,
 * at conversion, laid out [tap][word][output channel] so that consecutive output channels are
 * one vector load. The dot product of two +-1 vectors of length C is C - 2 popcount(a ^ b),
 * exact in integers; the output is alpha[o] times it plus bias[o]. Padding: "one" (the border
 * pixels are +1, what the packed border holds) costs nothing; "zero" subtracts, at border
 * pixels only, what each outside tap contributed as +1 (LCE's zero-padding correction).
 *
 * Three instruction sets, picked at run time (bp_best_isa): AVX-512 with VPOPCNTDQ (a popcount
 * of eight words per instruction; NHWC outputs with output channels as lanes, so a pixel's
 * outputs leave as whole vectors, NCHW outputs with pixels as lanes), AVX2 (popcount by nibble
 * lookup) and portable C. Threads split the output rows (OpenMP). Called
 * through ctypes (lce_models/runtimes/bitpacked/__init__.py) and as an onnxruntime custom op (ort_op.c).
 *
 * A BBCU unit (Xia et al., ICLR 2023, Eq. 8: y = RPReLU(BinConv(sign(x + b))) + x) can run
 * as one call (bp_conv3x3_unit): each output row is computed into a buffer that stays in cache,
 * then its epilogue (PReLU, RPReLU's output shift, the residual, an upsampler's depth-to-space)
 * writes it to the output, so no intermediate tensor goes through memory.
 *
 * Files: pack.c (binarize and pack activations), kernel_portable.c, kernel_avx2.c and
 * kernel_avx512.c (one output row per call, one file per instruction set), zero_padding.c (the
 * border correction's table), epilogue.c (a unit's float ops after the conv, on one row),
 * conv.c (bp_conv3x3 and bp_conv3x3_unit: the instruction set, threads and streaming),
 * popcount_limit.c (what the kernel is measured against), ort_op.c (the onnxruntime custom op),
 * module.c (the Python module stub, so that setuptools builds the library with the install).
 */
#ifndef LCE_MODELS_BCONV_H
#define LCE_MODELS_BCONV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

/* Symbols one file of the library calls in another; not part of its interface. */
#define INTERNAL __attribute__((visibility("hidden")))

enum { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
/* Ways to count bits with AVX2 (bp_popcount_method_peak); the kernel's is METHOD_NIBBLES. */
enum { METHOD_NIBBLES = 0, METHOD_HARLEY_SEAL = 1, METHOD_POPCNT = 2 };

/* The bit count of each 64-bit lane of v (a uint64_t or a GCC vector of them), in place. */
#define POPCOUNT_LANES(v)                                                   \
    do {                                                                    \
        v = v - ((v >> 1) & 0x5555555555555555ULL);                         \
        v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL); \
        v = (((v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL) * 0x0101010101010101ULL) >> 56; \
    } while (0)

static inline int64_t popcount_portable(uint64_t v) {
    POPCOUNT_LANES(v);
    return (int64_t)v;
}

/* Output channels of one weight block (the padding unit of the weights' last axis). */
#define BLOCK 16

static inline int64_t border_class(int64_t y, int64_t x, int64_t h, int64_t w) {
    return 4 * ((y == 0) | (y == h - 1) << 1) + ((x == 0) | (x == w - 1) << 1);
}

/* The zero-padding correction of the n pixels from (y, x0), in a block that has a border pixel:
 * dots[p] is pixel x0 + p's dot product of output channel oc. */
static inline void zero_pad_fix(int64_t *dots, int64_t n, const int64_t *corrections, int64_t o_pad, int64_t oc, int64_t y,
                         int64_t x0, int64_t h, int64_t w) {
    for (int64_t p = 0; p < n; p++) dots[p] -= corrections[border_class(y, x0 + p, h, w) * o_pad + oc];
}

/* offsets[t * words + k]: where tap t's word k lies from an output pixel's top-left packed
 * word; the row kernels run over taps and words as one loop (gcc then keeps their accumulators
 * in registers; over two nested loops it stored them back every round). */
static inline void tap_offsets(int64_t *offsets, int64_t words, int64_t row_stride, int64_t word_stride) {
    for (int64_t i = 0; i < 9 * words; i++) offsets[i] = (i / words / 3) * row_stride + (i % words) * word_stride + i / words % 3;
}

/* What a BBCU unit does after its binary conv, in the graph's order and float roundings:
 * v = PReLU(conv, slope) (v < 0 ? v * slope : v), then + shift, then + residual, then the
 * activation after the unit (PReLU again, e.g. a LeakyReLU), stored at its place after
 * depth-to-space (DCR order) of block r. Each part optional (NULL, r = 1). slope, shift: (o,);
 * residual: (h, w, o / r^2) NHWC, broadcast over the r * r sub-pixels (output channel oc adds
 * its channel oc % (o / r^2)); activation: (o / r^2,). */
typedef struct {
    const float *slope, *shift, *residual, *activation;
    int64_t r;
} Epilogue;

/* The interface (ctypes, bitpacked/__init__.py; and the custom op). */
void bp_pack(const float *x, const float *threshold, int64_t h, int64_t w, int64_t c, int64_t words,
             uint64_t *packed, int nhwc, int isa, int threads);
void bp_conv3x3(const uint64_t *packed, int64_t h, int64_t w, int64_t c, int64_t words, const uint64_t *weights,
                int64_t o, int64_t o_pad, const float *alpha, const int64_t *weight_ones, const float *bias,
                int pad_zero, int nhwc, int isa, int threads, float *out);
void bp_conv3x3_unit(const uint64_t *packed, int64_t h, int64_t w, int64_t c, int64_t words, const uint64_t *weights,
                     int64_t o, int64_t o_pad, const float *alpha, const int64_t *weight_ones, const float *bias,
                     int pad_zero, int isa, int threads, const float *slope, const float *shift, const float *residual,
                     const float *activation, int64_t r, float *out);
void bp_set_stream_above(int64_t bytes);
int bp_best_isa(void);
int64_t bp_popcount_peak(int which, int64_t iterations);
int64_t bp_popcount_method_peak(int method, int64_t iterations);
void bp_set_threads(int threads);
void bp_set_isa(int which);

/* The row kernels: output row y of bp_conv3x3, one instruction set each. With nhwc (and in
 * row_avx512_nhwc) `out` is the row itself, (w, o); else the whole (o, h, w) output. */
INTERNAL void zero_pad_table(int64_t *corrections, const int64_t *weight_ones, int64_t o, int64_t o_pad);
INTERNAL void row_portable(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                           const uint64_t *weights, int64_t o, int64_t o_pad, const float *alpha,
                           const int64_t *corrections, const float *bias, int pad_zero, int nhwc, float *out);
#ifdef __x86_64__
INTERNAL void row_avx2(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                       const uint64_t *nibbles, int64_t o, int64_t o_pad, const float *alpha,
                       const int64_t *corrections, const float *bias, int pad_zero, int nhwc, float *out);
INTERNAL void row_avx512_nhwc(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                              const uint64_t *weights, int64_t o, int64_t o_pad, const float *alpha,
                              const int64_t *corrections, const float *bias, int pad_zero, int stream, float *out);
INTERNAL void row_avx512(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                         const uint64_t *weights, int64_t o, int64_t o_pad, const float *alpha,
                         const int64_t *corrections, const float *bias, int pad_zero, float *out);
#endif
INTERNAL void epilogue_row(const float *raw, int64_t y, int64_t w, int64_t o, const Epilogue *e, int isa, int stream,
                           float *out);

#endif
