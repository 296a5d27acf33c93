#include "bconv.h"

/* The popcount limit of one core, what the kernel is measured against: `iterations` rounds of
 * xor + popcount + add on independent chains of named (so register-resident: an array here is
 * kept in memory and costs a load and a store a step) vectors, no memory traffic. A round is
 * 12 chains of 512 bits (AVX-512), 4 chains of 256 (AVX2: nibble-lookup popcount, fewer chains
 * as it needs more registers) or 4 pairs of 64-bit words (portable: the kernel's C popcount on
 * the two lanes the compiler vectorizes it to); bitpacked/__init__.py's _PEAK_ROUND counts the same.
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

/* The other ways to count bits with AVX2, each measured the same way, so that the AVX2 limit is
 * that of the fastest (bp_popcount_method_peak). Harley-Seal: 16 vectors a round go through a
 * tree of carry-save adders (2 xor, 2 and, 1 or each) and only the sixteens are counted by
 * nibble lookup, the lower bits once at the end (Mula, Kurz, Lemire, "Faster population counts
 * using AVX2 instructions", 2018); its 16 inputs are 2 named vectors made opaque 8 times a
 * round (more would not leave registers for the tree). Scalar popcnt: 8 chains of 64-bit words in
 * general registers, one popcnt instruction each. */
#define OPAQUE_GPR(v) __asm__ volatile("" : "+r"(v))
#define CHAINS_8(X) CHAINS_4(X) X(4) X(5) X(6) X(7)

__attribute__((target("avx2")))
static inline __m256i count_bytes_avx2(__m256i x) {  /* popcount of each 64-bit lane */
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                                          _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
    return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}

/* A carry-save adder: high and low bit of a + b + c, bit by bit; each argument read once. */
#define CSA(high, low_, a, b, c)                                                            \
    {                                                                                       \
        const __m256i a_ = (a), b_ = (b), c_ = (c), u = _mm256_xor_si256(a_, b_);           \
        high = _mm256_or_si256(_mm256_and_si256(a_, b_), _mm256_and_si256(u, c_));          \
        low_ = _mm256_xor_si256(u, c_);                                                     \
    }

__attribute__((target("avx2")))
static int64_t peak_harley_seal(int64_t iterations) {
    const __m256i key = _mm256_set1_epi64x(0x5DEECE66DLL);
    __m256i v0 = _mm256_set1_epi64x(SEED(0)), v1 = _mm256_set1_epi64x(SEED(1));
    __m256i total = _mm256_setzero_si256(), ones = total, twos = total, fours = total, eights = total;
    __m256i twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteens;
#define IN(v) ({ OPAQUE(v); _mm256_xor_si256(v, key); })
#define EIGHT(eights_out)                                                                   \
    CSA(twos_a, ones, ones, IN(v0), IN(v1));                                                \
    CSA(twos_b, ones, ones, IN(v0), IN(v1));                                                \
    CSA(fours_a, twos, twos, twos_a, twos_b);                                               \
    CSA(twos_a, ones, ones, IN(v0), IN(v1));                                                \
    CSA(twos_b, ones, ones, IN(v0), IN(v1));                                                \
    CSA(fours_b, twos, twos, twos_a, twos_b);                                               \
    CSA(eights_out, fours, fours, fours_a, fours_b);
    for (int64_t i = 0; i < iterations; i++) {
        EIGHT(eights_a)
        EIGHT(eights_b)
        CSA(sixteens, eights, eights, eights_a, eights_b);
        total = _mm256_add_epi64(total, count_bytes_avx2(sixteens));
    }
#undef EIGHT
#undef IN
    total = _mm256_slli_epi64(total, 4);
    total = _mm256_add_epi64(total, _mm256_slli_epi64(count_bytes_avx2(eights), 3));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(count_bytes_avx2(fours), 2));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(count_bytes_avx2(twos), 1));
    total = _mm256_add_epi64(total, count_bytes_avx2(ones));
    int64_t out[4];
    _mm256_storeu_si256((__m256i *)out, total);
    return out[0] + out[1] + out[2] + out[3];
}

__attribute__((target("popcnt")))
static int64_t peak_popcnt(int64_t iterations) {
#define DECLARE(j) uint64_t acc##j = 0, v##j = SEED(j);
#define STEP(j)         \
    OPAQUE_GPR(v##j);   \
    acc##j += (uint64_t)__builtin_popcountll(v##j ^ 0x5DEECE66DULL);
#define GATHER(j) total += acc##j;
    CHAINS_8(DECLARE)
    for (int64_t i = 0; i < iterations; i++) {
        CHAINS_8(STEP)
    }
    uint64_t total = 0;
    CHAINS_8(GATHER)
#undef DECLARE
#undef STEP
#undef GATHER
    return (int64_t)total;
}
#endif

/* An AVX2 counting method's limit: METHOD_NIBBLES (the kernel's), METHOD_HARLEY_SEAL or
 * METHOD_POPCNT; rounds as bitpacked/__init__.py's _METHOD_ROUND counts them. */
int64_t bp_popcount_method_peak(int method, int64_t iterations) {
#ifdef __x86_64__
    if (method == METHOD_HARLEY_SEAL) return peak_harley_seal(iterations);
    if (method == METHOD_POPCNT) return peak_popcnt(iterations);
    return peak_avx2(iterations);
#else
    (void)method;
    return bp_popcount_peak(ISA_PORTABLE, iterations);
#endif
}

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
