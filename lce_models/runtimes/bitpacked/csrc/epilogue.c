/* A BBCU unit's float ops after its binary conv, on one output row that is still in cache. */
#include "bconv.h"

/* n contiguous outputs of one pixel (one sub-pixel with depth-to-space): the graph's PRelu, Add
 * of the shift, Add of the residual and the PRelu after the unit, in its order, one rounding
 * each (no fused multiply-add: the library is built with -ffp-contract=off). Portable C, and
 * the tails of the vector versions. */
static void block(const float *restrict src, const float *restrict slope, const float *restrict shift,
                  const float *restrict residual, const float *restrict activation, int64_t n, float *restrict dst) {
    for (int64_t j = 0; j < n; j++) {
        float v = src[j];
        if (slope) v = v < 0.0f ? v * slope[j] : v;
        if (shift) v += shift[j];
        if (residual) v += residual[j];
        if (activation) v = v < 0.0f ? v * activation[j] : v;
        dst[j] = v;
    }
}

#ifdef __x86_64__
/* block, 16 floats a vector; with `stream` (dst 64-byte aligned, n a multiple of 16),
 * non-temporal stores. gcc did not vectorize block's selects on its own (scalar compares and
 * branches: a 720x1280x64 unit's epilogue took 280 ms with AVX2, 1 thread). */
__attribute__((target("avx512f,avx512dq,avx512vl")))
static void block_avx512(const float *src, const float *slope, const float *shift, const float *residual,
                         const float *activation, int64_t n, int stream, float *dst) {
    const __m512 zero = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(src + j);
        if (slope) v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, _mm512_loadu_ps(slope + j));
        if (shift) v = _mm512_add_ps(v, _mm512_loadu_ps(shift + j));
        if (residual) v = _mm512_add_ps(v, _mm512_loadu_ps(residual + j));
        if (activation)
            v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, _mm512_loadu_ps(activation + j));
        if (stream) _mm512_stream_ps(dst + j, v);
        else _mm512_storeu_ps(dst + j, v);
    }
    if (j < n)
        block(src + j, slope ? slope + j : NULL, shift ? shift + j : NULL, residual ? residual + j : NULL,
              activation ? activation + j : NULL, n - j, dst + j);
}

/* The same with AVX2, 8 floats a vector (stream: dst 32-byte aligned, n a multiple of 8). */
__attribute__((target("avx2")))
static void block_avx2(const float *src, const float *slope, const float *shift, const float *residual,
                       const float *activation, int64_t n, int stream, float *dst) {
    const __m256 zero = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(src + j);
        if (slope) v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_loadu_ps(slope + j)), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
        if (shift) v = _mm256_add_ps(v, _mm256_loadu_ps(shift + j));
        if (residual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + j));
        if (activation)
            v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_loadu_ps(activation + j)), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
        if (stream) _mm256_stream_ps(dst + j, v);
        else _mm256_storeu_ps(dst + j, v);
    }
    if (j < n)
        block(src + j, slope ? slope + j : NULL, shift ? shift + j : NULL, residual ? residual + j : NULL,
              activation ? activation + j : NULL, n - j, dst + j);
}
#endif

/* raw: row y of the conv, (w, o); out: the unit's whole output, (h r, w r, o / r^2). Output
 * channel s * cc + j of pixel x (cc = o / r^2) goes to pixel (y r + s / r, x r + s % r), channel
 * j: DCR depth-to-space, the order of the graph's DepthToSpace. The residual and the activation
 * have cc channels, so channel j of pixel x. With `stream` (conv's choice: a large output,
 * aligned, whole vectors a sub-pixel), the output leaves with non-temporal stores, as the
 * kernels' own large outputs do. */
void epilogue_row(const float *raw, int64_t y, int64_t w, int64_t o, const Epilogue *e, int isa, int stream, float *out) {
    const int64_t r = e->r, cc = o / (r * r);
    for (int64_t x = 0; x < w; x++) {
        const float *residual = e->residual ? e->residual + (y * w + x) * cc : NULL;
        for (int64_t s = 0; s < r * r; s++) {
            float *dst = out + ((y * r + s / r) * (w * r) + x * r + s % r) * cc;
            const float *src = raw + x * o + s * cc;
            const float *slope = e->slope ? e->slope + s * cc : NULL, *shift = e->shift ? e->shift + s * cc : NULL;
#ifdef __x86_64__
            if (isa == ISA_AVX512) {
                block_avx512(src, slope, shift, residual, e->activation, cc, stream, dst);
                continue;
            }
            if (isa == ISA_AVX2) {
                block_avx2(src, slope, shift, residual, e->activation, cc, stream, dst);
                continue;
            }
#endif
            block(src, slope, shift, residual, e->activation, cc, dst);
        }
    }
#ifdef __x86_64__
    if (stream) _mm_sfence();  /* the streamed lines are out before another thread reads them */
#endif
}
