/* bp_conv3x3: the instruction set, the threads and the output's stores of one convolution. */
#include <unistd.h>

#include "bconv.h"

/* The best instruction set of this CPU. */
int bp_best_isa(void) {
#ifdef __x86_64__
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vpopcntdq"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return ISA_AVX2;
#endif
    return ISA_PORTABLE;
}

static int64_t stream_above = -1;

/* Outputs of more bytes than this go out with non-temporal stores (AVX-512, NHWC, 16 output
 * channels a pixel and a 64-byte aligned output); -1 (the default): a quarter of the last-level
 * cache, 8 MiB when the C library does not say its size. An output of that size does not stay
 * cached beside its input and its reader's output; written through the cache, each line is read
 * first. Measured on bbcu-m x4 at 180x320 (14.7 MB outputs, a 32 MiB cache), 1 thread: streaming
 * them too took the graph from 449-493 to 403-460 ms median. */
void bp_set_stream_above(int64_t bytes) { stream_above = bytes; }

static int64_t stream_threshold(void) {
    if (stream_above >= 0) return stream_above;
#ifdef _SC_LEVEL3_CACHE_SIZE
    const long size = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (size > 0) return size / 4;
#endif
    return 8 << 20;
}

/* One convolution; with an epilogue (NHWC only), each row goes through a per-thread buffer
 * and epilogue_row to `out`. */
static void conv(const uint64_t *packed, int64_t h, int64_t w, int64_t c, int64_t words, const uint64_t *weights,
                 int64_t o, int64_t o_pad, const float *alpha, const int64_t *weight_ones, const float *bias,
                 int pad_zero, int nhwc, int isa, int threads, const Epilogue *e, float *out) {
    const int64_t count = 9 * words * o_pad;
    uint64_t *nibbles = isa == ISA_AVX2 ? malloc((size_t)(2 * count) * sizeof(uint64_t)) : NULL;
    for (int64_t i = 0; nibbles && i < count; i++) {  /* row_avx2's weights */
        nibbles[2 * i] = weights[i] & 0x0F0F0F0F0F0F0F0FULL;
        nibbles[2 * i + 1] = (weights[i] >> 4) & 0x0F0F0F0F0F0F0F0FULL;
    }
    int64_t *corrections = pad_zero ? malloc((size_t)(16 * o_pad) * sizeof(int64_t)) : NULL;
    if (corrections) zero_pad_table(corrections, weight_ones, o, o_pad);
    /* a unit's output leaves through its epilogue: whole vectors of each sub-pixel's channels */
    const int64_t vector = isa == ISA_AVX512 ? 16 : 8, cc = e ? o / (e->r * e->r) : o;
    const int stream = nhwc && (e ? isa != ISA_PORTABLE && cc % vector == 0 : o % 16 == 0) &&
                       (uintptr_t)out % 64 == 0 && h * w * o * (int64_t)sizeof(float) > stream_threshold();
    #pragma omp parallel num_threads(threads)
    {
        float *raw = e ? malloc((size_t)(w * o) * sizeof(float)) : NULL;
        #pragma omp for schedule(static)
        for (int64_t y = 0; y < h; y++) {
            float *dst = raw ? raw : nhwc ? out + y * w * o : out;
#ifdef __x86_64__
            if (isa == ISA_AVX512 && nhwc)
                row_avx512_nhwc(packed, y, h, w, c, words, weights, o, o_pad, alpha, corrections, bias, pad_zero, stream && !e,
                                dst);
            else if (isa == ISA_AVX512)
                row_avx512(packed, y, h, w, c, words, weights, o, o_pad, alpha, corrections, bias, pad_zero, dst);
            else if (isa == ISA_AVX2)
                row_avx2(packed, y, h, w, c, words, nibbles, o, o_pad, alpha, corrections, bias, pad_zero, nhwc, dst);
            else
#endif
                row_portable(packed, y, h, w, c, words, weights, o, o_pad, alpha, corrections, bias, pad_zero, nhwc, dst);
            if (raw) epilogue_row(raw, y, w, o, e, isa, stream, out);
        }
        free(raw);
    }
    free(nibbles);
    free(corrections);
}

/* out (o, h, w) float32 (NCHW; (h, w, o) with nhwc) = alpha[o] * (binary dot product over the
 * 3x3 window) + bias[o].
 * packed: bp_pack's buffer; weights: (9, words, o_pad) uint64 with o_pad a multiple of BLOCK;
 * weight_ones: (9, o) int64, C - 2 popcount(weight tap), for the zero-padding correction;
 * bias: (o,) or NULL; pad_zero: 0 for "one", 1 for "zero"; isa: an ISA_* at most bp_best_isa(). */
void bp_conv3x3(const uint64_t *packed, int64_t h, int64_t w, int64_t c, int64_t words, const uint64_t *weights,
                int64_t o, int64_t o_pad, const float *alpha, const int64_t *weight_ones, const float *bias,
                int pad_zero, int nhwc, int isa, int threads, float *out) {
    conv(packed, h, w, c, words, weights, o, o_pad, alpha, weight_ones, bias, pad_zero, nhwc, isa, threads, NULL, out);
}

/* A whole BBCU unit, NHWC: bp_conv3x3, then the Epilogue's parts (each NULL when absent;
 * r >= 1) -> out (h r, w r, o / r^2). */
void bp_conv3x3_unit(const uint64_t *packed, int64_t h, int64_t w, int64_t c, int64_t words, const uint64_t *weights,
                     int64_t o, int64_t o_pad, const float *alpha, const int64_t *weight_ones, const float *bias,
                     int pad_zero, int isa, int threads, const float *slope, const float *shift, const float *residual,
                     const float *activation, int64_t r, float *out) {
    const Epilogue e = {slope, shift, residual, activation, r > 1 ? r : 1};
    conv(packed, h, w, c, words, weights, o, o_pad, alpha, weight_ones, bias, pad_zero, 1, isa, threads, &e, out);
}
