/* The portable row kernel: a pixel at a time, C popcount (vectorized by the compiler). */
#include "bconv.h"

/* Mismatch counts of one output pixel for output channels [o0, o0 + BLOCK): portable. The
 * window is the packed word of the pixel's top-left tap. */
static void pixel_portable(const uint64_t *window, int64_t row_stride, int64_t word_stride, int64_t words,
                           const uint64_t *weights, int64_t o_pad, int64_t o0, int64_t *mismatches) {
    for (int64_t i = 0; i < BLOCK; i++) mismatches[i] = 0;
    for (int64_t t = 0; t < 9; t++) {
        const uint64_t *src = window + (t / 3) * row_stride + t % 3;
        for (int64_t k = 0; k < words; k++) {
            const uint64_t *wv = weights + (t * words + k) * o_pad + o0;
            for (int64_t i = 0; i < BLOCK; i++) mismatches[i] += popcount_portable(src[k * word_stride] ^ wv[i]);
        }
    }
}

/* One output row, a pixel at a time (the portable code). */
void row_portable(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                         const uint64_t *weights, int64_t o, int64_t o_pad, const float *alpha,
                         const int64_t *corrections, const float *bias, int pad_zero, int nhwc, float *out) {
    const int64_t word_stride = w + 2, row_stride = words * word_stride;
    int64_t mismatches[BLOCK];
    for (int64_t xx = 0; xx < w; xx++) {
        const uint64_t *window = packed + y * row_stride + xx;
        const int border = pad_zero && (y == 0 || xx == 0 || y == h - 1 || xx == w - 1);
        for (int64_t o0 = 0; o0 < o; o0 += BLOCK) {
            pixel_portable(window, row_stride, word_stride, words, weights, o_pad, o0, mismatches);
            for (int64_t i = 0; i < BLOCK && o0 + i < o; i++) {
                int64_t dot = 9 * c - 2 * mismatches[i];
                if (border) dot -= corrections[border_class(y, xx, h, w) * o_pad + o0 + i];
                float v = alpha[o0 + i] * (float)dot;
                out[nhwc ? xx * o + o0 + i : ((o0 + i) * h + y) * w + xx] = bias ? v + bias[o0 + i] : v;
            }
        }
    }
}
