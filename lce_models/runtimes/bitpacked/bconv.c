/* Bit-packed binary 3x3 convolution (stride 1, "same") for x86-64: the fast path of issue 12.
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
 * through ctypes (lce_models/runtimes/bitpacked/__init__.py) and as an onnxruntime custom op (below); the module
 * init exists only so that setuptools builds this file as an extension of the normal install.
 */
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

enum { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

/* The bit count of each 64-bit lane of v (a uint64_t or a GCC vector of them), in place. */
#define POPCOUNT_LANES(v)                                                   \
    do {                                                                    \
        v = v - ((v >> 1) & 0x5555555555555555ULL);                         \
        v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL); \
        v = (((v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL) * 0x0101010101010101ULL) >> 56; \
    } while (0)

static int64_t popcount_portable(uint64_t v) {
    POPCOUNT_LANES(v);
    return (int64_t)v;
}

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

#ifdef __x86_64__
/* rows[j] holds output channel o0 + j of 8 neighbouring pixels (zero past the last channel);
 * written to an NHWC output of o channels from pixel `first` (numbered y * w + x): an 8x8
 * transpose in registers, then `outputs` (at most 4, row_avx2's block) contiguous floats a
 * pixel. */
__attribute__((target("avx2")))
static void store_nhwc(float *out, __m256 rows[8], int64_t pixels, int64_t first, int64_t o, int64_t o0, int64_t outputs) {
    const __m256 t0 = _mm256_unpacklo_ps(rows[0], rows[1]), t1 = _mm256_unpackhi_ps(rows[0], rows[1]);
    const __m256 t2 = _mm256_unpacklo_ps(rows[2], rows[3]), t3 = _mm256_unpackhi_ps(rows[2], rows[3]);
    const __m256 t4 = _mm256_unpacklo_ps(rows[4], rows[5]), t5 = _mm256_unpackhi_ps(rows[4], rows[5]);
    const __m256 t6 = _mm256_unpacklo_ps(rows[6], rows[7]), t7 = _mm256_unpackhi_ps(rows[6], rows[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    const __m256 pixel[8] = {_mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
                             _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
                             _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
                             _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31)};
    if (outputs == 4) {  /* row_avx2's full blocks; vmaskmovps is slow on AMD's cores: only for a tail */
        for (int64_t p = 0; p < pixels; p++) _mm_storeu_ps(out + (first + p) * o + o0, _mm256_castps256_ps128(pixel[p]));
        return;
    }
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)outputs), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t p = 0; p < pixels; p++) _mm256_maskstore_ps(out + (first + p) * o + o0, mask, pixel[p]);
}
#endif

/* Output channels of one weight block (the padding unit of the weights' last axis). */
#define BLOCK 16

/* Zero padding: a pixel's outside taps depend only on its border class, (cy, cx) with bit 0 of
 * each set on the first row (column) and bit 1 on the last; corrections[(4 * cy + cx) * o_pad +
 * oc] (zero past o) is what their +1 border words added to output channel oc's dot product, the sum of those
 * taps' signs (LCE's correction). Made once a call: a 9-tap loop per border pixel and output
 * channel took 40 % of a 64 -> 64 conv at 180x320. */
static void zero_pad_table(int64_t *corrections, const int64_t *weight_ones, int64_t o, int64_t o_pad) {
    for (int64_t cls = 0; cls < 16; cls++)
        for (int64_t oc = 0; oc < o_pad; oc++) {
            int64_t total = 0;
            for (int64_t t = 0; t < 9; t++) {
                const int64_t dy = t / 3 - 1, dx = t % 3 - 1, cy = cls / 4, cx = cls % 4;
                if (oc < o && ((dy < 0 && cy & 1) || (dy > 0 && cy & 2) || (dx < 0 && cx & 1) || (dx > 0 && cx & 2)))
                    total += weight_ones[t * o + oc];
            }
            corrections[cls * o_pad + oc] = total;
        }
}

static int64_t border_class(int64_t y, int64_t x, int64_t h, int64_t w) {
    return 4 * ((y == 0) | (y == h - 1) << 1) + ((x == 0) | (x == w - 1) << 1);
}

/* The zero-padding correction of the n pixels from (y, x0), in a block that has a border pixel:
 * dots[p] is pixel x0 + p's dot product of output channel oc. */
static void zero_pad_fix(int64_t *dots, int64_t n, const int64_t *corrections, int64_t o_pad, int64_t oc, int64_t y,
                         int64_t x0, int64_t h, int64_t w) {
    for (int64_t p = 0; p < n; p++) dots[p] -= corrections[border_class(y, x0 + p, h, w) * o_pad + oc];
}

/* offsets[t * words + k]: where tap t's word k lies from an output pixel's top-left packed
 * word; the row kernels run over taps and words as one loop (gcc then keeps their accumulators
 * in registers; over two nested loops it stored them back every round). */
static void tap_offsets(int64_t *offsets, int64_t words, int64_t row_stride, int64_t word_stride) {
    for (int64_t i = 0; i < 9 * words; i++) offsets[i] = (i / words / 3) * row_stride + (i % words) * word_stride + i / words % 3;
}

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

#ifdef __x86_64__
/* AVX2, a whole output row: blocks of 8 pixels (two vectors, one lane a pixel) times 4 output
 * channels, popcount by nibble lookup. The xor commutes with taking nibbles, so the pixels'
 * nibbles are taken once for the 4 outputs, against weight nibbles split once a call
 * (`nibbles`: (9, words, o_pad, 2) uint64, low then high nibbles); byte counts add up in 8-bit
 * lanes (at most 8 a round) and are summed to 64-bit lanes (vpsadbw) every 31 rounds only. The
 * output is stored 8 pixels at a time, contiguous in NCHW, as in row_avx512. */
#define AVX2_PIXELS 8
#define AVX2_OUTPUTS 4
#define AVX2_ROUNDS 31 /* 31 * 8 <= 255 */
__attribute__((target("avx2")))
static void row_avx2(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
                     const uint64_t *nibbles, int64_t o, int64_t o_pad, const float *alpha,
                     const int64_t *corrections, const float *bias, int pad_zero, int nhwc, float *out) {
    const int64_t word_stride = w + 2, row_stride = words * word_stride, rounds = 9 * words;
    int64_t offsets[rounds];
    tap_offsets(offsets, words, row_stride, word_stride);
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F), zero = _mm256_setzero_si256();
    const __m256i full = _mm256_set1_epi64x(9 * c);
    const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3), even = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
    for (int64_t x0 = 0; x0 < w; x0 += AVX2_PIXELS) {
        const int64_t n = w - x0 < AVX2_PIXELS ? w - x0 : AVX2_PIXELS;
        const __m256i m0 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), lanes);
        const __m256i m1 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - 4), lanes);
        const __m256i store_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const int border = pad_zero && (y == 0 || y == h - 1 || x0 == 0 || x0 + n == w);
        for (int64_t o0 = 0; o0 < o; o0 += AVX2_OUTPUTS) {
            __m256i acc[AVX2_OUTPUTS][2], bytes[AVX2_OUTPUTS][2];
            for (int j = 0; j < AVX2_OUTPUTS; j++) acc[j][0] = acc[j][1] = bytes[j][0] = bytes[j][1] = zero;
            const uint64_t *base = packed + y * row_stride + x0;
            for (int64_t i = 0, since = 0; i < rounds; i++) {  /* one loop: gcc keeps `bytes` in registers */
                const long long *src = (const long long *)(base + offsets[i]);
                const __m256i a = _mm256_maskload_epi64(src, m0), b = _mm256_maskload_epi64(src + 4, m1);
                const __m256i a_lo = _mm256_and_si256(a, low), a_hi = _mm256_and_si256(_mm256_srli_epi16(a, 4), low);
                const __m256i b_lo = _mm256_and_si256(b, low), b_hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), low);
                const long long *wn = (const long long *)nibbles + 2 * (i * o_pad + o0);
                for (int j = 0; j < AVX2_OUTPUTS; j++) {
                    const __m256i w_lo = _mm256_set1_epi64x(wn[2 * j]), w_hi = _mm256_set1_epi64x(wn[2 * j + 1]);
                    bytes[j][0] = _mm256_add_epi8(bytes[j][0], _mm256_add_epi8(
                        _mm256_shuffle_epi8(lut, _mm256_xor_si256(a_lo, w_lo)), _mm256_shuffle_epi8(lut, _mm256_xor_si256(a_hi, w_hi))));
                    bytes[j][1] = _mm256_add_epi8(bytes[j][1], _mm256_add_epi8(
                        _mm256_shuffle_epi8(lut, _mm256_xor_si256(b_lo, w_lo)), _mm256_shuffle_epi8(lut, _mm256_xor_si256(b_hi, w_hi))));
                }
                if (++since == AVX2_ROUNDS || i == rounds - 1) {
                    for (int j = 0; j < AVX2_OUTPUTS; j++)
                        for (int v = 0; v < 2; v++) {
                            acc[j][v] = _mm256_add_epi64(acc[j][v], _mm256_sad_epu8(bytes[j][v], zero));
                            bytes[j][v] = zero;
                        }
                    since = 0;
                }
            }
            __m256 rows[8];  /* output channel j of the 8 pixels; 4..7 stay zero */
            for (int j = 0; j < 8; j++) rows[j] = _mm256_setzero_ps();
            for (int j = 0; j < AVX2_OUTPUTS && o0 + j < o; j++) {
                const int64_t oc = o0 + j;
                __m256i dot[2] = {_mm256_sub_epi64(full, _mm256_slli_epi64(acc[j][0], 1)),
                                  _mm256_sub_epi64(full, _mm256_slli_epi64(acc[j][1], 1))};
                if (border) {
                    int64_t fix[AVX2_PIXELS];
                    _mm256_storeu_si256((__m256i *)fix, dot[0]);
                    _mm256_storeu_si256((__m256i *)(fix + 4), dot[1]);
                    zero_pad_fix(fix, n, corrections, o_pad, oc, y, x0, h, w);
                    dot[0] = _mm256_loadu_si256((const __m256i *)fix);
                    dot[1] = _mm256_loadu_si256((const __m256i *)(fix + 4));
                }
                /* |dot| <= 9C fits 32 bits: the low halves of the 64-bit lanes, then to float */
                const __m128i lo = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(dot[0], even));
                const __m128i hi = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(dot[1], even));
                __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_set_m128i(hi, lo)), _mm256_set1_ps(alpha[oc]));
                if (bias) v = _mm256_add_ps(v, _mm256_set1_ps(bias[oc]));
                rows[j] = v;
                if (!nhwc && n == AVX2_PIXELS) _mm256_storeu_ps(out + (oc * h + y) * w + x0, v);
                else if (!nhwc) _mm256_maskstore_ps(out + (oc * h + y) * w + x0, store_mask, v);
            }
            if (nhwc) store_nhwc(out, rows, n, y * w + x0, o, o0, o - o0 < AVX2_OUTPUTS ? o - o0 : AVX2_OUTPUTS);
        }
    }
}

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
static void row_avx512_nhwc(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
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
    pass_nhwc(base, offsets, rounds, weights, o_pad, o0, vectors, whole, pixels, y * w + x0, fix, c, o, alpha, bias, stream, out)
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
static void row_avx512(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
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

/* The popcount limit of one core, what the kernel is measured against: `iterations` rounds of
 * xor + popcount + add on independent chains of named (so register-resident: an array here is
 * kept in memory and costs a load and a store a step) vectors, no memory traffic. A round is
 * 12 chains of 512 bits (AVX-512), 4 chains of 256 (AVX2: nibble-lookup popcount, fewer chains
 * as it needs more registers) or 4 pairs of 64-bit words (portable: the kernel's C popcount on
 * the two lanes the compiler vectorizes it to); bitpacked.py's _PEAK_ROUND counts the same.
 * Returns a checksum so the work cannot be optimised away. */
#define CHAINS_4(X) X(0) X(1) X(2) X(3)
#define CHAINS_12(X) CHAINS_4(X) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define SEED(j) (((j) + 1) * 0x9E3779B97F4A7C15ULL)
#if defined(__x86_64__)
#define OPAQUE(v) __asm__ volatile("" : "+x"(v)) /* an opaque input each round: nothing is hoisted */
#elif defined(__aarch64__)
#define OPAQUE(v) __asm__ volatile("" : "+w"(v))
#else
#define OPAQUE(v) __asm__ volatile("" : "+m"(v))
#endif
#ifdef __x86_64__
__attribute__((target("avx512f,avx512vpopcntdq")))
static int64_t peak_avx512(int64_t iterations) {
    const __m512i key = _mm512_set1_epi64(0x5DEECE66DLL);
#define DECLARE(j) __m512i acc##j = _mm512_setzero_si512(), v##j = _mm512_set1_epi64(SEED(j));
#define STEP(j)                                                                                  \
    __asm__ volatile("" : "+v"(v##j)); /* OPAQUE, and zmm16-31 allowed: 25 vectors are live */ \
    acc##j = _mm512_add_epi64(acc##j, _mm512_popcnt_epi64(_mm512_xor_si512(v##j, key)));
#define GATHER(j) total = _mm512_add_epi64(total, acc##j);
    CHAINS_12(DECLARE)
    for (int64_t i = 0; i < iterations; i++) {
        CHAINS_12(STEP)
    }
    __m512i total = _mm512_setzero_si512();
    CHAINS_12(GATHER)
#undef DECLARE
#undef STEP
#undef GATHER
    return _mm512_reduce_add_epi64(total);
}

__attribute__((target("avx2")))
static int64_t peak_avx2(int64_t iterations) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F), key = _mm256_set1_epi64x(0x5DEECE66DLL);
#define DECLARE(j) __m256i acc##j = _mm256_setzero_si256(), v##j = _mm256_set1_epi64x(SEED(j));
#define STEP(j)                                                                                   \
    {                                                                                             \
        OPAQUE(v##j);                                                                             \
        __m256i x = _mm256_xor_si256(v##j, key);                                                  \
        acc##j = _mm256_add_epi8(acc##j, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)), \
                                 _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)))); \
    }
#define GATHER(j) total = _mm256_add_epi8(total, acc##j);
    CHAINS_4(DECLARE)
    for (int64_t i = 0; i < iterations; i++) {
        CHAINS_4(STEP)
    }
    __m256i total = _mm256_setzero_si256();  /* byte sums wrap: only a checksum, the work is what counts */
    CHAINS_4(GATHER)
#undef DECLARE
#undef STEP
#undef GATHER
    int64_t out[4], sum = 0;
    _mm256_storeu_si256((__m256i *)out, total);
    for (int j = 0; j < 4; j++) sum += out[j];
    return sum;
}
#endif

int64_t bp_popcount_peak(int which, int64_t iterations) {
#ifdef __x86_64__
    if (which == ISA_AVX512) return peak_avx512(iterations);
    if (which == ISA_AVX2) return peak_avx2(iterations);
#endif
    /* Two 64-bit lanes, as the compiler vectorizes the kernel's portable loop (SSE2 here). */
    typedef uint64_t pair __attribute__((vector_size(16)));
    pair total = {0, 0};
#define DECLARE(j) pair v##j = {SEED(j), SEED(j)};
#define STEP(j)                                                                              \
    {                                                                                        \
        OPAQUE(v##j);                                                                        \
        pair x = v##j ^ 0x5DEECE66DULL;                                                      \
        POPCOUNT_LANES(x); /* popcount_portable, lane by lane */                             \
        total += x;                                                                          \
    }
    CHAINS_4(DECLARE)
    for (int64_t i = 0; i < iterations; i++) {
        CHAINS_4(STEP)
    }
#undef DECLARE
#undef STEP
    return (int64_t)(total[0] + total[1]);
}

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

/* One output row, a pixel at a time (the portable code). */
static void row_by_pixel(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
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
                out[nhwc ? (y * w + xx) * o + o0 + i : ((o0 + i) * h + y) * w + xx] = bias ? v + bias[o0 + i] : v;
            }
        }
    }
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

/* out (o, h, w) float32 (NCHW; (h, w, o) with nhwc) = alpha[o] * (binary dot product over the
 * 3x3 window) + bias[o].
 * packed: bp_pack's buffer; weights: (9, words, o_pad) uint64 with o_pad a multiple of BLOCK;
 * weight_ones: (9, o) int64, C - 2 popcount(weight tap), for the zero-padding correction;
 * bias: (o,) or NULL; pad_zero: 0 for "one", 1 for "zero"; isa: an ISA_* at most bp_best_isa(). */
void bp_conv3x3(const uint64_t *packed, int64_t h, int64_t w, int64_t c, int64_t words, const uint64_t *weights,
                int64_t o, int64_t o_pad, const float *alpha, const int64_t *weight_ones, const float *bias,
                int pad_zero, int nhwc, int isa, int threads, float *out) {
    const int64_t count = 9 * words * o_pad;
    uint64_t *nibbles = isa == ISA_AVX2 ? malloc((size_t)(2 * count) * sizeof(uint64_t)) : NULL;
    for (int64_t i = 0; nibbles && i < count; i++) {  /* row_avx2's weights */
        nibbles[2 * i] = weights[i] & 0x0F0F0F0F0F0F0F0FULL;
        nibbles[2 * i + 1] = (weights[i] >> 4) & 0x0F0F0F0F0F0F0F0FULL;
    }
    int64_t *corrections = pad_zero ? malloc((size_t)(16 * o_pad) * sizeof(int64_t)) : NULL;
    if (corrections) zero_pad_table(corrections, weight_ones, o, o_pad);
    const int stream = nhwc && o % 16 == 0 && (uintptr_t)out % 64 == 0 && h * w * o * (int64_t)sizeof(float) > stream_threshold();
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t y = 0; y < h; y++) {
#ifdef __x86_64__
        if (isa == ISA_AVX512 && nhwc) {
            row_avx512_nhwc(packed, y, h, w, c, words, weights, o, o_pad, alpha, corrections, bias, pad_zero, stream, out);
            continue;
        }
        if (isa == ISA_AVX512) {
            row_avx512(packed, y, h, w, c, words, weights, o, o_pad, alpha, corrections, bias, pad_zero, out);
            continue;
        }
        if (isa == ISA_AVX2) {
            row_avx2(packed, y, h, w, c, words, nibbles, o, o_pad, alpha, corrections, bias, pad_zero, nhwc, out);
            continue;
        }
#endif
        row_by_pixel(packed, y, h, w, c, words, weights, o, o_pad, alpha, corrections, bias, pad_zero, nhwc, out);
    }
    free(nibbles);
    free(corrections);
}

/* ---- onnxruntime custom op "BinaryConv3x3" (domain lce_models.fastpath) ----------------
 * onnxruntime loads this library with SessionOptions.register_custom_ops_library and calls
 * RegisterCustomOps. Only version-1 parts of its C API are used, declared here by position in
 * the OrtApi table (positions of version 1 are frozen by onnxruntime's ABI rule). Inputs: x
 * (N, C, H, W) float32, bits (9, words, o_pad) int64 (the packed uint64 weights), alpha (O)
 * float32, ones (9, O) int64, and optional: bias (O) float32, threshold (C) float32;
 * attributes pad_zero and nhwc (x (N, H, W, C) and output (N, H, W, O) when 1); output
 * (N, O, H, W) float32. */

typedef void OrtStatus;
typedef void *(*OrtFn)();
enum {  /* positions in OrtApi (onnxruntime_c_api.h, version 1) */
    ORT_CREATE_CUSTOM_OP_DOMAIN = 26, ORT_CUSTOM_OP_DOMAIN_ADD = 27,
    ORT_ADD_CUSTOM_OP_DOMAIN = 28, ORT_GET_TENSOR_MUTABLE_DATA = 51, ORT_GET_DIMENSIONS_COUNT = 61,
    ORT_GET_DIMENSIONS = 62, ORT_GET_TENSOR_TYPE_AND_SHAPE = 65, ORT_KERNEL_INFO_GET_ATTRIBUTE_INT64 = 86,
    ORT_KERNEL_CONTEXT_GET_INPUT_COUNT = 88,
    ORT_KERNEL_CONTEXT_GET_INPUT = 90, ORT_KERNEL_CONTEXT_GET_OUTPUT = 91, ORT_RELEASE_STATUS = 93, ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO = 99,
};
enum { ORT_FLOAT = 1, ORT_INT64 = 7 };
enum { ORT_REQUIRED = 0, ORT_OPTIONAL = 1 };

typedef struct { const OrtFn *(*GetApi)(uint32_t version); const char *(*GetVersionString)(void); } OrtApiBase;

typedef struct OrtCustomOp {  /* the layout up to version 17 */
    uint32_t version;
    void *(*CreateKernel)(const struct OrtCustomOp *op, const OrtFn *api, const void *info);
    const char *(*GetName)(const struct OrtCustomOp *op);
    const char *(*GetExecutionProviderType)(const struct OrtCustomOp *op);
    int (*GetInputType)(const struct OrtCustomOp *op, size_t index);
    size_t (*GetInputTypeCount)(const struct OrtCustomOp *op);
    int (*GetOutputType)(const struct OrtCustomOp *op, size_t index);
    size_t (*GetOutputTypeCount)(const struct OrtCustomOp *op);
    void (*KernelCompute)(void *kernel, void *context);
    void (*KernelDestroy)(void *kernel);
    int (*GetInputCharacteristic)(const struct OrtCustomOp *op, size_t index);
    int (*GetOutputCharacteristic)(const struct OrtCustomOp *op, size_t index);
    int (*GetInputMemoryType)(const struct OrtCustomOp *op, size_t index);
    int (*GetVariadicInputMinArity)(const struct OrtCustomOp *op);
    int (*GetVariadicInputHomogeneity)(const struct OrtCustomOp *op);
    int (*GetVariadicOutputMinArity)(const struct OrtCustomOp *op);
    int (*GetVariadicOutputHomogeneity)(const struct OrtCustomOp *op);
    void *CreateKernelV2, *KernelComputeV2, *InferOutputShapeFn;  /* not used: left NULL */
    int (*GetStartVersion)(const struct OrtCustomOp *op);
    int (*GetEndVersion)(const struct OrtCustomOp *op);
} OrtCustomOp;

typedef struct { const OrtFn *api; int64_t pad_zero, nhwc; } Kernel;

static int fastpath_threads = 1, isa = -1;

/* Threads of every BinaryConv3x3 in this process (onnxruntime does not pass its own). */
void bp_set_threads(int threads) { fastpath_threads = threads > 0 ? threads : 1; }

/* The instruction set of every BinaryConv3x3 in this process; -1 (the default) for the best. */
void bp_set_isa(int which) { isa = which; }

#define API(kernel, index, type) ((type)(kernel)->api[index])

static void *op_create(const OrtCustomOp *op, const OrtFn *api, const void *info) {
    (void)op;
    Kernel *k = calloc(1, sizeof(Kernel));
    k->api = api;
    OrtStatus *(*attribute)(const void *, const char *, int64_t *) =
        (OrtStatus *(*)(const void *, const char *, int64_t *))api[ORT_KERNEL_INFO_GET_ATTRIBUTE_INT64];
    OrtStatus *status = attribute(info, "pad_zero", &k->pad_zero);
    if (status) ((void (*)(OrtStatus *))api[ORT_RELEASE_STATUS])(status);
    status = attribute(info, "nhwc", &k->nhwc);  /* absent in files of the first version: NCHW */
    if (status) ((void (*)(OrtStatus *))api[ORT_RELEASE_STATUS])(status);
    return k;
}

/* Input i's dimensions and data; NULL data for an optional input the node leaves out. */
static void input(Kernel *k, void *context, size_t i, int64_t *dims, size_t max_dims, void **data) {
    const void *value = NULL;
    void *info = NULL;
    size_t count = 0;
    *data = NULL;
    API(k, ORT_KERNEL_CONTEXT_GET_INPUT_COUNT, OrtStatus *(*)(void *, size_t *))(context, &count);
    if (i >= count) return;
    API(k, ORT_KERNEL_CONTEXT_GET_INPUT, OrtStatus *(*)(void *, size_t, const void **))(context, i, &value);
    if (!value) return;
    API(k, ORT_GET_TENSOR_TYPE_AND_SHAPE, OrtStatus *(*)(const void *, void **))(value, &info);
    API(k, ORT_GET_DIMENSIONS_COUNT, OrtStatus *(*)(void *, size_t *))(info, &count);
    API(k, ORT_GET_DIMENSIONS, OrtStatus *(*)(void *, int64_t *, size_t))(info, dims, count < max_dims ? count : max_dims);
    API(k, ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, void (*)(void *))(info);
    API(k, ORT_GET_TENSOR_MUTABLE_DATA, OrtStatus *(*)(const void *, void **))(value, data);
}

static void op_compute(void *kernel, void *context) {
    Kernel *k = kernel;
    int64_t xd[4], bd[3], ad[1], od[2], vd[1];
    float *x, *alpha, *bias, *threshold, *out;
    uint64_t *bits;
    int64_t *ones;
    input(k, context, 0, xd, 4, (void **)&x);
    input(k, context, 1, bd, 3, (void **)&bits);
    input(k, context, 2, ad, 1, (void **)&alpha);
    input(k, context, 3, od, 2, (void **)&ones);
    input(k, context, 4, vd, 1, (void **)&bias);
    input(k, context, 5, vd, 1, (void **)&threshold);
    const int nhwc = (int)k->nhwc;
    int64_t n = xd[0], c = nhwc ? xd[3] : xd[1], h = nhwc ? xd[1] : xd[2], w = nhwc ? xd[2] : xd[3];
    int64_t words = bd[1], o_pad = bd[2], o = ad[0];
    int64_t out_dims[4] = {n, nhwc ? h : o, nhwc ? w : h, nhwc ? o : w};
    void *value = NULL;
    API(k, ORT_KERNEL_CONTEXT_GET_OUTPUT, OrtStatus *(*)(void *, size_t, const int64_t *, size_t, void **))(
        context, 0, out_dims, 4, &value);
    API(k, ORT_GET_TENSOR_MUTABLE_DATA, OrtStatus *(*)(void *, void **))(value, (void **)&out);
    if (isa < 0) isa = bp_best_isa();
    uint64_t *packed = malloc((size_t)((h + 2) * (w + 2) * words) * sizeof(uint64_t));
    for (int64_t i = 0; i < n; i++) {
        bp_pack(x + i * c * h * w, threshold, h, w, c, words, packed, nhwc, isa, fastpath_threads);
        bp_conv3x3(packed, h, w, c, words, bits, o, o_pad, alpha, ones, bias, (int)k->pad_zero, nhwc, isa,
                   fastpath_threads, out + i * o * h * w);
    }
    free(packed);
}

static void op_destroy(void *kernel) { free(kernel); }
static const char *op_name(const OrtCustomOp *op) { (void)op; return "BinaryConv3x3"; }
static const char *op_provider(const OrtCustomOp *op) { (void)op; return "CPUExecutionProvider"; }
static int op_input_type(const OrtCustomOp *op, size_t i) { (void)op; return i == 1 || i == 3 ? ORT_INT64 : ORT_FLOAT; }
static size_t op_input_count(const OrtCustomOp *op) { (void)op; return 6; }
static int op_output_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return ORT_FLOAT; }
static size_t op_output_count(const OrtCustomOp *op) { (void)op; return 1; }

static int op_input_kind(const OrtCustomOp *op, size_t i) { (void)op; return i < 4 ? ORT_REQUIRED : ORT_OPTIONAL; }
static int op_required(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return ORT_REQUIRED; }  /* and default memory */
static int op_one(const OrtCustomOp *op) { (void)op; return 1; }
static int op_last_version(const OrtCustomOp *op) { (void)op; return 0x7fffffff; }

static OrtCustomOp binary_conv_op = {17, op_create, op_name, op_provider, op_input_type, op_input_count,
                                     op_output_type, op_output_count, op_compute, op_destroy,
                                     op_input_kind, op_required, op_required, op_one, op_one, op_one, op_one,
                                     NULL, NULL, NULL, op_one, op_last_version};

OrtStatus *RegisterCustomOps(void *options, const OrtApiBase *base) {
    const OrtFn *api = base->GetApi(1);
    void *domain = NULL;
    OrtStatus *status = ((OrtStatus *(*)(const char *, void **))api[ORT_CREATE_CUSTOM_OP_DOMAIN])("lce_models.fastpath", &domain);
    if (status) return status;
    status = ((OrtStatus *(*)(void *, const OrtCustomOp *))api[ORT_CUSTOM_OP_DOMAIN_ADD])(domain, &binary_conv_op);
    if (status) return status;
    return ((OrtStatus *(*)(void *, void *))api[ORT_ADD_CUSTOM_OP_DOMAIN])(options, domain);
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bconv", "Bit-packed binary convolution (ctypes).", -1, NULL};

PyMODINIT_FUNC PyInit__bconv(void) { return PyModule_Create(&module); }
