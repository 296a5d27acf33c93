/* Bit-packed binary 3x3 convolution (stride 1, "same") for x86-64: the fast path of issue 12.
 *
 * Activations are packed along channels, 64 to a uint64 word (bit j of word w is channel
 * 64w + j; bit set = negative, so sign(0) = +1 as in larq and LCE; tail bits are zero), into a
 * buffer with a one-pixel border of zero words (= +1 everywhere). Weights are packed the same
 * way once, at conversion, laid out [tap][word][output channel] so that four output channels
 * are one AVX2 load (sixteen are computed together). The dot product of two +-1 vectors of length C is C - 2 popcount(a ^ b),
 * exact in integers; the output is alpha[o] times it. Padding: "one" (the border pixels are
 * +1, what the packed border holds) costs nothing; "zero" subtracts, at border pixels only,
 * what each outside tap contributed as +1 (LCE's zero-padding correction).
 *
 * Called through ctypes (converters/fastpath.py); the module init exists only so that
 * setuptools builds this file as an extension of the normal install.
 */
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

static int64_t popcount_portable(uint64_t v) {
    v = v - ((v >> 1) & 0x5555555555555555ULL);
    v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int64_t)((v * 0x0101010101010101ULL) >> 56);
}

/* x: (c, h, w) float32 (one NCHW image, ONNX's layout) -> packed: (h + 2, w + 2, words)
 * uint64, border and tail left zero (the caller passes a zeroed buffer). */
void bp_pack(const float *x, int64_t h, int64_t w, int64_t c, int64_t words, uint64_t *packed, int threads) {
    int64_t plane = h * w;
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t y = 0; y < h; y++) {
        for (int64_t k = 0; k < words; k++) {
            int64_t n = c - 64 * k < 64 ? c - 64 * k : 64;
            for (int64_t xx = 0; xx < w; xx++) {
                const float *p = x + 64 * k * plane + y * w + xx;
                uint64_t bits = 0;
                for (int64_t j = 0; j < n; j++) bits |= (uint64_t)(p[j * plane] < 0.0f) << j;
                packed[((y + 1) * (w + 2) + xx + 1) * words + k] = bits;
            }
        }
    }
}

/* Output channels computed together: four AVX2 vectors of four 64-bit lanes. */
#define BLOCK 16

/* Mismatch counts of one output pixel for output channels [o0, o0 + BLOCK): portable. */
static void pixel_portable(const uint64_t *packed, int64_t row_stride, int64_t words, const uint64_t *weights,
                           int64_t o_pad, int64_t o0, int64_t *mismatches) {
    for (int64_t i = 0; i < BLOCK; i++) mismatches[i] = 0;
    for (int64_t t = 0; t < 9; t++) {
        const uint64_t *src = packed + (t / 3) * row_stride + (t % 3) * words;
        for (int64_t k = 0; k < words; k++) {
            const uint64_t *wv = weights + (t * words + k) * o_pad + o0;
            for (int64_t i = 0; i < BLOCK; i++) mismatches[i] += popcount_portable(src[k] ^ wv[i]);
        }
    }
}

#ifdef __x86_64__
/* The same with AVX2: popcount by nibble lookup (Mula et al.), per-byte counts kept in four
 * vectors and summed to 64-bit lanes (vpsadbw) only before a byte could overflow. */
__attribute__((target("avx2")))
static void pixel_avx2(const uint64_t *packed, int64_t row_stride, int64_t words, const uint64_t *weights,
                       int64_t o_pad, int64_t o0, int64_t *mismatches) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i zero = _mm256_setzero_si256();
    __m256i bytes[4], total[4];
    for (int j = 0; j < 4; j++) bytes[j] = total[j] = zero;
    int64_t pending = 0;
    for (int64_t t = 0; t < 9; t++) {
        const uint64_t *src = packed + (t / 3) * row_stride + (t % 3) * words;
        for (int64_t k = 0; k < words; k++) {
            const __m256i x = _mm256_set1_epi64x((long long)src[k]);
            const uint64_t *wv = weights + (t * words + k) * o_pad + o0;
            for (int j = 0; j < 4; j++) {
                __m256i v = _mm256_xor_si256(x, _mm256_loadu_si256((const __m256i *)(wv + 4 * j)));
                __m256i c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
                                            _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
                bytes[j] = _mm256_add_epi8(bytes[j], c);
            }
            if (++pending == 31) {  /* 31 * 8 < 256 */
                for (int j = 0; j < 4; j++) {
                    total[j] = _mm256_add_epi64(total[j], _mm256_sad_epu8(bytes[j], zero));
                    bytes[j] = zero;
                }
                pending = 0;
            }
        }
    }
    for (int j = 0; j < 4; j++) {
        total[j] = _mm256_add_epi64(total[j], _mm256_sad_epu8(bytes[j], zero));
        _mm256_storeu_si256((__m256i *)(mismatches + 4 * j), total[j]);
    }
}
#endif

int bp_has_avx2(void) {
#ifdef __x86_64__
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

/* out (o, h, w) float32 (NCHW) = alpha[o] * (binary dot product over the 3x3 window).
 * packed: bp_pack's buffer; weights: (9, words, o_pad) uint64 with o_pad a multiple of BLOCK;
 * weight_ones: (9, o) int64, C - 2 popcount(weight tap), for the zero-padding correction;
 * pad_zero: 0 for "one", 1 for "zero"; use_avx2: 0 forces the portable code. */
void bp_conv3x3(const uint64_t *packed, int64_t h, int64_t w, int64_t c, int64_t words, const uint64_t *weights,
                int64_t o, int64_t o_pad, const float *alpha, const int64_t *weight_ones, int pad_zero,
                int use_avx2, int threads, float *out) {
    int64_t row_stride = (w + 2) * words;
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t y = 0; y < h; y++) {
        int64_t mismatches[BLOCK];
        for (int64_t xx = 0; xx < w; xx++) {
            const uint64_t *window = packed + y * row_stride + xx * words;
            float *dst = out + y * w + xx;
            int border = pad_zero && (y == 0 || xx == 0 || y == h - 1 || xx == w - 1);
            for (int64_t o0 = 0; o0 < o; o0 += BLOCK) {
#ifdef __x86_64__
                if (use_avx2) pixel_avx2(window, row_stride, words, weights, o_pad, o0, mismatches);
                else
#endif
                pixel_portable(window, row_stride, words, weights, o_pad, o0, mismatches);
                for (int64_t i = 0; i < BLOCK && o0 + i < o; i++) {
                    int64_t dot = 9 * c - 2 * mismatches[i];
                    if (border) {
                        for (int64_t t = 0; t < 9; t++) {
                            int64_t sy = y + t / 3 - 1, sx = xx + t % 3 - 1;
                            if (sy < 0 || sx < 0 || sy >= h || sx >= w) dot -= weight_ones[t * o + o0 + i];
                        }
                    }
                    dst[(o0 + i) * h * w] = alpha[o0 + i] * (float)dot;
                }
            }
        }
    }
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bconv", "Bit-packed binary convolution (ctypes).", -1, NULL};

PyMODINIT_FUNC PyInit__bconv(void) { return PyModule_Create(&module); }
