/* The AVX2 row kernel: popcount by nibble lookup. */
#include "bconv.h"

#ifdef __x86_64__
/* rows[j] holds output channel o0 + j of 8 neighbouring pixels (zero past the last channel);
 * written to an NHWC output row of o channels from pixel `first`: an 8x8
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
void row_avx2(const uint64_t *packed, int64_t y, int64_t h, int64_t w, int64_t c, int64_t words,
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
        const int whole = n == AVX2_PIXELS;  /* vpmaskmovq loads are slow on AMD's cores: only for a tail */
        const __m256i m0 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), lanes);
        const __m256i m1 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - 4), lanes);
        const __m256i store_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const int border = pad_zero && (y == 0 || y == h - 1 || x0 == 0 || x0 + n == w);
        for (int64_t o0 = 0; o0 < o; o0 += AVX2_OUTPUTS) {
            __m256i acc[AVX2_OUTPUTS][2];
            const uint64_t *base = packed + y * row_stride + x0;
            /* one 4-pixel half at a time: 4 byte counters, 4 sums, the lookup table, the
             * pixels' two nibble vectors and the weights' fit the 16 registers (both halves at
             * once spilled 6 of their 8 byte counters to the stack every round) */
            for (int v = 0; v < 2; v++) {
                __m256i bytes[AVX2_OUTPUTS], sums[AVX2_OUTPUTS];
                for (int j = 0; j < AVX2_OUTPUTS; j++) bytes[j] = sums[j] = zero;
                for (int64_t i = 0, since = 0; i < rounds; i++) {  /* one loop: gcc keeps `bytes` in registers */
                    const long long *src = (const long long *)(base + offsets[i]) + 4 * v;
                    const __m256i a = whole ? _mm256_loadu_si256((const __m256i *)src) : _mm256_maskload_epi64(src, v ? m1 : m0);
                    const __m256i a_lo = _mm256_and_si256(a, low), a_hi = _mm256_and_si256(_mm256_srli_epi16(a, 4), low);
                    const long long *wn = (const long long *)nibbles + 2 * (i * o_pad + o0);
                    for (int j = 0; j < AVX2_OUTPUTS; j++) {
                        const __m256i w_lo = _mm256_set1_epi64x(wn[2 * j]), w_hi = _mm256_set1_epi64x(wn[2 * j + 1]);
                        bytes[j] = _mm256_add_epi8(bytes[j], _mm256_add_epi8(
                            _mm256_shuffle_epi8(lut, _mm256_xor_si256(a_lo, w_lo)), _mm256_shuffle_epi8(lut, _mm256_xor_si256(a_hi, w_hi))));
                    }
                    if (++since == AVX2_ROUNDS || i == rounds - 1) {
                        for (int j = 0; j < AVX2_OUTPUTS; j++) {
                            sums[j] = _mm256_add_epi64(sums[j], _mm256_sad_epu8(bytes[j], zero));
                            bytes[j] = zero;
                        }
                        since = 0;
                    }
                }
                for (int j = 0; j < AVX2_OUTPUTS; j++) acc[j][v] = sums[j];
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
            if (nhwc) store_nhwc(out, rows, n, x0, o, o0, o - o0 < AVX2_OUTPUTS ? o - o0 : AVX2_OUTPUTS);
        }
    }
}

#endif
