/* A BBCU unit's float ops after its binary conv, on one output row that is still in cache. */
#include "bconv.h"

/* n contiguous outputs of one pixel (one sub-pixel with depth-to-space): the graph's PRelu, Add
 * of the shift, Add of the residual and the PRelu after the unit, in its order, one rounding each (no fused multiply-add:
 * the library is built with -ffp-contract=off). gcc unswitches the loop on which parts are
 * present and vectorizes each version. */
static inline __attribute__((always_inline)) void block(const float *restrict src, const float *restrict slope,
                                                        const float *restrict shift, const float *restrict residual,
                                                        const float *restrict activation, int64_t n, float *restrict dst) {
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
/* block with non-temporal stores (n a multiple of 16, dst 64-byte aligned): the same floats. */
__attribute__((target("avx512f,avx512dq,avx512vl")))
static void block_stream_avx512(const float *src, const float *slope, const float *shift, const float *residual,
                                const float *activation, int64_t n, float *dst) {
    for (int64_t j = 0; j < n; j += 16) {
        __m512 v = _mm512_loadu_ps(src + j);
        if (slope) v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                                          _mm512_loadu_ps(slope + j));
        if (shift) v = _mm512_add_ps(v, _mm512_loadu_ps(shift + j));
        if (residual) v = _mm512_add_ps(v, _mm512_loadu_ps(residual + j));
        if (activation) v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                                               _mm512_loadu_ps(activation + j));
        _mm512_stream_ps(dst + j, v);
    }
}

/* The same with AVX2 (n a multiple of 8, dst 32-byte aligned). */
__attribute__((target("avx2")))
static void block_stream_avx2(const float *src, const float *slope, const float *shift, const float *residual,
                              const float *activation, int64_t n, float *dst) {
    for (int64_t j = 0; j < n; j += 8) {
        __m256 v = _mm256_loadu_ps(src + j);
        if (slope) v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_loadu_ps(slope + j)),
                                        _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
        if (shift) v = _mm256_add_ps(v, _mm256_loadu_ps(shift + j));
        if (residual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + j));
        if (activation) v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_loadu_ps(activation + j)),
                                             _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
        _mm256_stream_ps(dst + j, v);
    }
}
#endif

/* raw: row y of the conv, (w, o); out: the unit's whole output, (h r, w r, o / r^2). Output
 * channel s * cc + j of pixel x (cc = o / r^2) goes to pixel (y r + s / r, x r + s % r), channel
 * j: DCR depth-to-space, the order of the graph's DepthToSpace. The residual and the activation
 * have cc channels, so channel j of pixel x. */
static inline __attribute__((always_inline)) void row(const float *raw, int64_t y, int64_t w, int64_t o,
                                                      const Epilogue *e, int stream, float *out) {
    const int64_t r = e->r, cc = o / (r * r);
    for (int64_t x = 0; x < w; x++) {
        const float *residual = e->residual ? e->residual + (y * w + x) * cc : NULL;
        for (int64_t s = 0; s < r * r; s++) {
            float *dst = out + ((y * r + s / r) * (w * r) + x * r + s % r) * cc;
            const float *slope = e->slope ? e->slope + s * cc : NULL, *shift = e->shift ? e->shift + s * cc : NULL;
#ifdef __x86_64__
            if (stream == ISA_AVX512) block_stream_avx512(raw + x * o + s * cc, slope, shift, residual, e->activation, cc, dst);
            else if (stream == ISA_AVX2) block_stream_avx2(raw + x * o + s * cc, slope, shift, residual, e->activation, cc, dst);
            else
#endif
                block(raw + x * o + s * cc, slope, shift, residual, e->activation, cc, dst);
        }
    }
}

#ifdef __x86_64__
__attribute__((target("avx512f,avx512dq,avx512vl")))
static void epilogue_avx512(const float *raw, int64_t y, int64_t w, int64_t o, const Epilogue *e, int stream, float *out) {
    row(raw, y, w, o, e, stream ? ISA_AVX512 : 0, out);
}

__attribute__((target("avx2")))
static void epilogue_avx2(const float *raw, int64_t y, int64_t w, int64_t o, const Epilogue *e, int stream, float *out) {
    row(raw, y, w, o, e, stream ? ISA_AVX2 : 0, out);
}
#endif

/* With `stream` (conv's choice: a large output, aligned, whole vectors a sub-pixel), the
 * output leaves with non-temporal stores, as the kernels' own large outputs do. */
void epilogue_row(const float *raw, int64_t y, int64_t w, int64_t o, const Epilogue *e, int isa, int stream, float *out) {
#ifdef __x86_64__
    if (isa == ISA_AVX512) {
        epilogue_avx512(raw, y, w, o, e, stream, out);
        if (stream) _mm_sfence();  /* the streamed lines are out before another thread reads them */
        return;
    }
    if (isa == ISA_AVX2) {
        epilogue_avx2(raw, y, w, o, e, stream, out);
        if (stream) _mm_sfence();
        return;
    }
#endif
    row(raw, y, w, o, e, 0, out);
}
