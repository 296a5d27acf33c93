/* Binarize and pack activations, 64 channels to a word. */
#include "bconv.h"

/* Word k of one NHWC pixel (its channels side by side at p, threshold t or NULL), n <= 64 bits. */
static uint64_t pack_word(const float *p, const float *t, int64_t n) {
    uint64_t bits = 0;
    for (int64_t j = 0; j < n; j++) {
        const float s = p[j] + (t ? t[j] : 0.0f);
        bits |= (uint64_t)(s < 0.0f) << j;
    }
    return bits;
}

#ifdef __x86_64__
/* The same eight channels at a time: add, compare, movemask (the same float sums). */
__attribute__((target("avx2")))
static uint64_t pack_word_avx2(const float *p, const float *t, int64_t n) {
    uint64_t bits = 0;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(p + j);
        if (t) v = _mm256_add_ps(v, _mm256_loadu_ps(t + j));
        bits |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ)) << j;
    }
    return bits | (j < n ? pack_word(p + j, t ? t + j : NULL, n - j) << j : 0);
}
#endif

/* x: one image, (c, h, w) float32 (NCHW, ONNX's layout) or (h, w, c) with nhwc; threshold:
 * (c,) or NULL -> packed: (h + 2, words, w + 2) uint64, every word written: border and tail
 * zero. Word k of a row holds its pixels side by side, so a vector loads neighbouring pixels;
 * the input is read once, in memory order. isa: as bp_conv3x3's. */
void bp_pack(const float *x, const float *threshold, int64_t h, int64_t w, int64_t c, int64_t words,
             uint64_t *packed, int nhwc, int isa, int threads) {
    const int64_t plane = h * w, row_words = words * (w + 2);
    (void)isa;  /* only x86-64 has a choice */
    memset(packed, 0, (size_t)row_words * sizeof(uint64_t));
    memset(packed + (h + 1) * row_words, 0, (size_t)row_words * sizeof(uint64_t));
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t y = 0; y < h; y++) {
        uint64_t *row = packed + (y + 1) * row_words;
        if (!nhwc) memset(row, 0, (size_t)row_words * sizeof(uint64_t));  /* NCHW ORs its bits in */
        else for (int64_t k = 0; k < words; k++) row[k * (w + 2)] = row[k * (w + 2) + w + 1] = 0;
        if (nhwc) {
            for (int64_t xx = 0; xx < w; xx++) {
                const float *p = x + (y * w + xx) * c;
                for (int64_t k = 0; k < words; k++) {
                    const int64_t n = c - 64 * k < 64 ? c - 64 * k : 64;
                    const float *t = threshold ? threshold + 64 * k : NULL;
                    uint64_t *dst = packed + ((y + 1) * words + k) * (w + 2) + xx + 1;
#ifdef __x86_64__
                    if (isa >= ISA_AVX2) {
                        *dst = pack_word_avx2(p + 64 * k, t, n);
                        continue;
                    }
#endif
                    *dst = pack_word(p + 64 * k, t, n);
                }
            }
            continue;
        }
        for (int64_t ch = 0; ch < c; ch++) {
            uint64_t *row = packed + ((y + 1) * words + ch / 64) * (w + 2) + 1;
            const float *p = x + ch * plane + y * w;
            const float t = threshold ? threshold[ch] : 0.0f;
            const int64_t j = ch % 64;
            for (int64_t xx = 0; xx < w; xx++) {
                const float s = p[xx] + t;
                row[xx] |= (uint64_t)(s < 0.0f) << j;
            }
        }
    }
}
