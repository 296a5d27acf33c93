/* The AVX-512 VPOPCNTDQ row kernels: NHWC outputs with output channels as lanes, NCHW
 * outputs with pixels as lanes. */
#include "bconv.h"

#ifdef __x86_64__
/* AVX-512 with VPOPCNTDQ, a whole output row into an NHWC output: lanes are output channels,
 * so a pixel's outputs are contiguous in registers as in memory and go out without a transpose.
 * Blocks of 2 pixels (their words broadcast) times `vectors` x 8 output channels (at most 64, a
 * pass), 16 accumulators; weights are loaded once a round for both pixels. The zero-padding
 * correction is a vector of the table's row. `whole`: every lane is an output, so no masks
 * (their scalar arithmetic took a visible share of the kernel in perf). With `stream`, whole
 * 64-byte lines go out with non-temporal stores (see stream_threshold). */
#define NHWC_PIXELS 2
__attribute__((target("avx512f,avx512dq,avx512vl,avx512vpopcntdq"), always_inline))
static inline void pass_nhwc(const uint64_t *base, const int64_t *offsets, int64_t rounds, const uint64_t *weights,
                             int64_t o_pad, int64_t o0, const int vectors, const int whole, int64_t pixels, int64_t first,
                             const int64_t *fix[NHWC_PIXELS], int64_t c, int64_t o, const float *alpha,
                             const float *bias, int stream, float *out) {
    __m512i acc[NHWC_PIXELS][8];
    #pragma GCC unroll 8
    for (int v = 0; v < vectors; v++) acc[0][v] = acc[1][v] = _mm512_setzero_si512();
    for (int64_t i = 0; i < rounds; i++) {
        const uint64_t *src = base + offsets[i];
        const __m512i a0 = _mm512_set1_epi64((long long)src[0]), a1 = _mm512_set1_epi64((long long)src[pixels > 1]);
        const uint64_t *wv = weights + i * o_pad + o0;
        #pragma GCC unroll 8
        for (int v = 0; v < vectors; v++) {
            __m512i wj = _mm512_loadu_si512((const void *)(wv + 8 * v));
            /* in a register for both pixels: else gcc folds the load into each xor, twice the
             * loads (1 thread, 64 -> 64 at 180x320: 1.8-1.9 -> 1.3-1.6 ms a conv) */
            __asm__("" : "+v"(wj));
            acc[0][v] = _mm512_add_epi64(acc[0][v], _mm512_popcnt_epi64(_mm512_xor_si512(a0, wj)));
            acc[1][v] = _mm512_add_epi64(acc[1][v], _mm512_popcnt_epi64(_mm512_xor_si512(a1, wj)));
        }
    }
    const __m512i full = _mm512_set1_epi64(9 * c);
    #pragma GCC unroll 2
    for (int p = 0; p < NHWC_PIXELS; p++) {
        if (p >= pixels) break;
        float *dst = out + (first + p) * o + o0;
        #pragma GCC unroll 4
        for (int v = 0; v < vectors; v += 2) {
            __m256 half[2];
            #pragma GCC unroll 2
            for (int u = 0; u < 2; u++) {
                const int64_t oc = o0 + 8 * (v + u), left = o - oc;
                const __mmask8 m = whole || left >= 8 ? 0xFF : left <= 0 ? 0 : (__mmask8)((1u << left) - 1);
                __m512i dot = _mm512_sub_epi64(full, _mm512_slli_epi64(acc[p][v + u], 1));
                if (fix[p]) dot = _mm512_sub_epi64(dot, _mm512_loadu_si512((const void *)(fix[p] + oc)));
                /* alpha * dot, then + bias: two roundings, as the graph's Mul and Add */
                half[u] = _mm256_mul_ps(_mm512_cvtepi64_ps(dot), whole ? _mm256_loadu_ps(alpha + oc)
                                                                       : _mm256_maskz_loadu_ps(m, alpha + oc));
                if (bias) half[u] = _mm256_add_ps(half[u], whole ? _mm256_loadu_ps(bias + oc)
                                                                 : _mm256_maskz_loadu_ps(m, bias + oc));
            }
            const __m512 both = _mm512_insertf32x8(_mm512_castps256_ps512(half[0]), half[1], 1);
            const int64_t left = o - (o0 + 8 * v);
            if (stream && (whole || left >= 16)) {
                _mm512_stream_ps(dst + 8 * v, both);
            } else if (whole) {
                _mm512_storeu_ps(dst + 8 * v, both);
            } else {
                const __mmask16 m = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
                _mm512_mask_storeu_ps(dst + 8 * v, m, both);
            }
        }
    }
}

__attribute__((target("avx512f,avx512dq,avx512vl,avx512vpopcntdq")))
void row_avx512_nhwc(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                            const uint64_t *weights, int64_t o, int64_t o_pad, const float *alpha,
                            const int64_t *corrections, const float *bias, int pad_zero, int stream, float *out) {
    const int64_t word_stride = w + 2, row_stride = words * word_stride, rounds = 9 * words;
    int64_t offsets[rounds];
    tap_offsets(offsets, words, row_stride, word_stride);
    for (int64_t x0 = 0; x0 < w; x0 += NHWC_PIXELS) {
        const int64_t pixels = w - x0 < NHWC_PIXELS ? w - x0 : NHWC_PIXELS;
        const int64_t *fix[NHWC_PIXELS] = {NULL, NULL};
        for (int64_t p = 0; pad_zero && p < pixels; p++) {
            const int64_t cls = border_class(y, x0 + p, h, w);
            if (cls) fix[p] = corrections + cls * o_pad;
        }
        const uint64_t *base = packed + y * row_stride + x0;
#define PASS(vectors, whole) \
    pass_nhwc(base, offsets, rounds, weights, o_pad, o0, vectors, whole, pixels, x0, fix, c, o, alpha, bias, stream, out)
        for (int64_t o0 = 0; o0 < o_pad; o0 += 64) {
            const int64_t left = o_pad - o0;  /* a multiple of BLOCK = 16 */
            if (o - o0 >= 64)
                PASS(8, 1);  /* every lane an output: no masks (the common pass) */
            else if (left >= 64)
                PASS(8, 0);
            else if (left == 48)
                PASS(6, 0);
            else if (left == 32)
                PASS(4, 0);
            else
                PASS(2, 0);
        }
#undef PASS
    }
    if (stream) _mm_sfence();  /* the streamed lines are out before another thread reads them */
}

/* AVX-512 with VPOPCNTDQ, a whole output row into an NCHW output: blocks of 16 pixels (two
 * vectors, one lane a pixel) times 8 output channels (their weight words broadcast), 16
 * accumulators; the output is converted, scaled and stored 16 pixels at a time, contiguous in
 * NCHW. */
#define ROW_PIXELS 16
#define ROW_OUTPUTS 8
__attribute__((target("avx512f,avx512dq,avx512vl,avx512vpopcntdq")))
void row_avx512(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                       const uint64_t *weights, int64_t o, int64_t o_pad, const float *alpha,
                       const int64_t *corrections, const float *bias, int pad_zero, float *out) {
    const int64_t word_stride = w + 2, row_stride = words * word_stride, rounds = 9 * words;
    const __m512i full = _mm512_set1_epi64(9 * c);
    int64_t offsets[rounds];
    tap_offsets(offsets, words, row_stride, word_stride);
    for (int64_t x0 = 0; x0 < w; x0 += ROW_PIXELS) {
        const int64_t n = w - x0 < ROW_PIXELS ? w - x0 : ROW_PIXELS;
        const __mmask8 m0 = n >= 8 ? 0xFF : (__mmask8)((1u << n) - 1);
        const __mmask8 m1 = n <= 8 ? 0 : (__mmask8)((1u << (n - 8)) - 1);
        const int border = pad_zero && (y == 0 || y == h - 1 || x0 == 0 || x0 + n == w);
        for (int64_t o0 = 0; o0 < o; o0 += ROW_OUTPUTS) {
            __m512i acc[ROW_OUTPUTS][2];
            for (int j = 0; j < ROW_OUTPUTS; j++) acc[j][0] = acc[j][1] = _mm512_setzero_si512();
            const uint64_t *base = packed + y * row_stride + x0;
            for (int64_t i = 0; i < rounds; i++) {
                const __m512i a = _mm512_maskz_loadu_epi64(m0, base + offsets[i]);
                const __m512i b = _mm512_maskz_loadu_epi64(m1, base + offsets[i] + 8);
                const uint64_t *wv = weights + i * o_pad + o0;
                for (int j = 0; j < ROW_OUTPUTS; j++) {
                    const __m512i wj = _mm512_set1_epi64((long long)wv[j]);
                    acc[j][0] = _mm512_add_epi64(acc[j][0], _mm512_popcnt_epi64(_mm512_xor_si512(a, wj)));
                    acc[j][1] = _mm512_add_epi64(acc[j][1], _mm512_popcnt_epi64(_mm512_xor_si512(b, wj)));
                }
            }
            __m512i sums[ROW_OUTPUTS][2];  /* what the epilogue indexes: acc itself stays in registers */
            for (int j = 0; j < ROW_OUTPUTS; j++) sums[j][0] = acc[j][0], sums[j][1] = acc[j][1];
            for (int j = 0; j < ROW_OUTPUTS && o0 + j < o; j++) {
                const int64_t oc = o0 + j;
                __m512i dot[2] = {_mm512_sub_epi64(full, _mm512_slli_epi64(sums[j][0], 1)),
                                  _mm512_sub_epi64(full, _mm512_slli_epi64(sums[j][1], 1))};
                if (border) {
                    int64_t fix[ROW_PIXELS];
                    _mm512_storeu_si512((void *)fix, dot[0]);
                    _mm512_storeu_si512((void *)(fix + 8), dot[1]);
                    zero_pad_fix(fix, n, corrections, o_pad, oc, y, x0, h, w);
                    dot[0] = _mm512_loadu_si512((const void *)fix);
                    dot[1] = _mm512_loadu_si512((const void *)(fix + 8));
                }
                float *dst = out + (oc * h + y) * w + x0;
                for (int half = 0; half < 2; half++) {
                    /* alpha * dot, then + bias: two roundings, as the graph's Mul and Add */
                    __m256 v = _mm256_mul_ps(_mm512_cvtepi64_ps(dot[half]), _mm256_set1_ps(alpha[oc]));
                    if (bias) v = _mm256_add_ps(v, _mm256_set1_ps(bias[oc]));
                    _mm256_mask_storeu_ps(dst + 8 * half, half ? m1 : m0, v);
                }
            }
        }
    }
}
#endif
