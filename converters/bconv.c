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

/* ---- onnxruntime custom op "BinaryConv3x3" (domain lce_models.fastpath) ----------------
 * onnxruntime loads this library with SessionOptions.register_custom_ops_library and calls
 * RegisterCustomOps. Only version-1 parts of its C API are used, declared here by position in
 * the OrtApi table (positions of version 1 are frozen by onnxruntime's ABI rule). Inputs: x
 * (N, C, H, W) float32, bits (9, words, o_pad) int64 (the packed uint64 weights), alpha (O)
 * float32, ones (9, O) int64; attribute pad_zero; output (N, O, H, W) float32. */
#include <stdlib.h>

typedef void OrtStatus;
typedef void *(*OrtFn)();
enum {  /* positions in OrtApi (onnxruntime_c_api.h, version 1) */
    ORT_CREATE_CUSTOM_OP_DOMAIN = 26, ORT_CUSTOM_OP_DOMAIN_ADD = 27,
    ORT_ADD_CUSTOM_OP_DOMAIN = 28, ORT_GET_TENSOR_MUTABLE_DATA = 51, ORT_GET_DIMENSIONS_COUNT = 61,
    ORT_GET_DIMENSIONS = 62, ORT_GET_TENSOR_TYPE_AND_SHAPE = 65, ORT_KERNEL_INFO_GET_ATTRIBUTE_INT64 = 86,
    ORT_KERNEL_CONTEXT_GET_INPUT = 90, ORT_KERNEL_CONTEXT_GET_OUTPUT = 91, ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO = 99,
};
enum { ORT_FLOAT = 1, ORT_INT64 = 7 };

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

typedef struct { const OrtFn *api; int64_t pad_zero; } Kernel;

static int fastpath_threads = 1;

/* Threads of every BinaryConv3x3 in this process (onnxruntime does not pass its own). */
void bp_set_threads(int threads) { fastpath_threads = threads > 0 ? threads : 1; }

#define API(kernel, index, type) ((type)(kernel)->api[index])

static void *op_create(const OrtCustomOp *op, const OrtFn *api, const void *info) {
    (void)op;
    Kernel *k = calloc(1, sizeof(Kernel));
    k->api = api;
    ((OrtStatus *(*)(const void *, const char *, int64_t *))api[ORT_KERNEL_INFO_GET_ATTRIBUTE_INT64])(info, "pad_zero", &k->pad_zero);
    return k;
}

static const void *input(Kernel *k, void *context, size_t i, int64_t *dims, size_t max_dims, void **data) {
    const void *value = NULL;
    void *info = NULL;
    size_t count = 0;
    API(k, ORT_KERNEL_CONTEXT_GET_INPUT, OrtStatus *(*)(void *, size_t, const void **))(context, i, &value);
    API(k, ORT_GET_TENSOR_TYPE_AND_SHAPE, OrtStatus *(*)(const void *, void **))(value, &info);
    API(k, ORT_GET_DIMENSIONS_COUNT, OrtStatus *(*)(void *, size_t *))(info, &count);
    API(k, ORT_GET_DIMENSIONS, OrtStatus *(*)(void *, int64_t *, size_t))(info, dims, count < max_dims ? count : max_dims);
    API(k, ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, void (*)(void *))(info);
    API(k, ORT_GET_TENSOR_MUTABLE_DATA, OrtStatus *(*)(const void *, void **))(value, data);
    return value;
}

static void op_compute(void *kernel, void *context) {
    Kernel *k = kernel;
    int64_t xd[4], bd[3], ad[1], od[2];
    float *x, *alpha, *out;
    uint64_t *bits;
    int64_t *ones;
    input(k, context, 0, xd, 4, (void **)&x);
    input(k, context, 1, bd, 3, (void **)&bits);
    input(k, context, 2, ad, 1, (void **)&alpha);
    input(k, context, 3, od, 2, (void **)&ones);
    int64_t n = xd[0], c = xd[1], h = xd[2], w = xd[3], words = bd[1], o_pad = bd[2], o = ad[0];
    int64_t out_dims[4] = {n, o, h, w};
    void *value = NULL;
    API(k, ORT_KERNEL_CONTEXT_GET_OUTPUT, OrtStatus *(*)(void *, size_t, const int64_t *, size_t, void **))(
        context, 0, out_dims, 4, &value);
    API(k, ORT_GET_TENSOR_MUTABLE_DATA, OrtStatus *(*)(void *, void **))(value, (void **)&out);
    uint64_t *packed = malloc((size_t)((h + 2) * (w + 2) * words) * sizeof(uint64_t));
    for (int64_t i = 0; i < n; i++) {
        memset(packed, 0, (size_t)((h + 2) * (w + 2) * words) * sizeof(uint64_t));
        bp_pack(x + i * c * h * w, h, w, c, words, packed, fastpath_threads);
        bp_conv3x3(packed, h, w, c, words, bits, o, o_pad, alpha, ones, (int)k->pad_zero, bp_has_avx2(),
                   fastpath_threads, out + i * o * h * w);
    }
    free(packed);
}

static void op_destroy(void *kernel) { free(kernel); }
static const char *op_name(const OrtCustomOp *op) { (void)op; return "BinaryConv3x3"; }
static const char *op_provider(const OrtCustomOp *op) { (void)op; return "CPUExecutionProvider"; }
static int op_input_type(const OrtCustomOp *op, size_t i) { (void)op; return i == 0 || i == 2 ? ORT_FLOAT : ORT_INT64; }
static size_t op_input_count(const OrtCustomOp *op) { (void)op; return 4; }
static int op_output_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return ORT_FLOAT; }
static size_t op_output_count(const OrtCustomOp *op) { (void)op; return 1; }

static int op_required(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return 0; }  /* required, default memory */
static int op_one(const OrtCustomOp *op) { (void)op; return 1; }
static int op_last_version(const OrtCustomOp *op) { (void)op; return 0x7fffffff; }

static OrtCustomOp binary_conv_op = {17, op_create, op_name, op_provider, op_input_type, op_input_count,
                                     op_output_type, op_output_count, op_compute, op_destroy,
                                     op_required, op_required, op_required, op_one, op_one, op_one, op_one,
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
