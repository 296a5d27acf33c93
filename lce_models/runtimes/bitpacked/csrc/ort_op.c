#include "bconv.h"

/* The onnxruntime custom op "BinaryConv3x3" (domain lce_models.fastpath).
 * onnxruntime loads this library with SessionOptions.register_custom_ops_library and calls
 * RegisterCustomOps. Only version-1 parts of its C API are used, declared here by position in
 * the OrtApi table (positions of version 1 are frozen by onnxruntime's ABI rule). Inputs: x
 * (N, C, H, W) float32, bits (9, words, o_pad) int64 (the packed uint64 weights), alpha (O)
 * float32, ones (9, O) int64, and optional: bias (O) float32, threshold (C) float32, and a
 * BBCU unit's epilogue (bp_conv3x3_unit, NHWC only): slope (O) and shift (O) float32, residual
 * (N, H, W, O / r^2) float32, activation (O / r^2) float32 (a PReLU after the unit); attributes pad_zero, nhwc (x (N, H, W, C) and output (N, H, W, O)
 * when 1) and shuffle (r > 1: the output depth-to-space, (N, H r, W r, O / r^2)); output
 * (N, O, H, W) float32 without nhwc. */

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

typedef struct { const OrtFn *api; int64_t pad_zero, nhwc, shuffle; } Kernel;

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
    /* each absent attribute keeps its zero (nhwc and shuffle: absent in older files) */
    const char *names[] = {"pad_zero", "nhwc", "shuffle"};
    int64_t *values[] = {&k->pad_zero, &k->nhwc, &k->shuffle};
    for (int i = 0; i < 3; i++) {
        OrtStatus *status = attribute(info, names[i], values[i]);
        if (status) ((void (*)(OrtStatus *))api[ORT_RELEASE_STATUS])(status);
    }
    if (k->shuffle < 1) k->shuffle = 1;
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
    int64_t xd[4], bd[3], ad[1], od[2], vd[1], rd[4];
    float *x, *alpha, *bias, *threshold, *slope, *shift, *residual, *activation, *out;
    uint64_t *bits;
    int64_t *ones;
    input(k, context, 0, xd, 4, (void **)&x);
    input(k, context, 1, bd, 3, (void **)&bits);
    input(k, context, 2, ad, 1, (void **)&alpha);
    input(k, context, 3, od, 2, (void **)&ones);
    input(k, context, 4, vd, 1, (void **)&bias);
    input(k, context, 5, vd, 1, (void **)&threshold);
    input(k, context, 6, vd, 1, (void **)&slope);
    input(k, context, 7, vd, 1, (void **)&shift);
    input(k, context, 8, rd, 4, (void **)&residual);
    input(k, context, 9, vd, 1, (void **)&activation);
    const int nhwc = (int)k->nhwc, unit = nhwc && (slope || shift || residual || activation || k->shuffle > 1);
    int64_t n = xd[0], c = nhwc ? xd[3] : xd[1], h = nhwc ? xd[1] : xd[2], w = nhwc ? xd[2] : xd[3];
    int64_t words = bd[1], o_pad = bd[2], o = ad[0], r = k->shuffle;
    int64_t out_dims[4] = {n, nhwc ? h * r : o, nhwc ? w * r : h, nhwc ? o / (r * r) : w};
    void *value = NULL;
    API(k, ORT_KERNEL_CONTEXT_GET_OUTPUT, OrtStatus *(*)(void *, size_t, const int64_t *, size_t, void **))(
        context, 0, out_dims, 4, &value);
    API(k, ORT_GET_TENSOR_MUTABLE_DATA, OrtStatus *(*)(void *, void **))(value, (void **)&out);
    if (isa < 0) isa = bp_best_isa();
    uint64_t *packed = malloc((size_t)((h + 2) * (w + 2) * words) * sizeof(uint64_t));
    for (int64_t i = 0; i < n; i++) {
        bp_pack(x + i * c * h * w, threshold, h, w, c, words, packed, nhwc, isa, fastpath_threads);
        if (unit)
            bp_conv3x3_unit(packed, h, w, c, words, bits, o, o_pad, alpha, ones, bias, (int)k->pad_zero, isa,
                            fastpath_threads, slope, shift, residual ? residual + i * rd[3] * h * w : NULL, activation, r,
                            out + i * o * h * w);
        else
            bp_conv3x3(packed, h, w, c, words, bits, o, o_pad, alpha, ones, bias, (int)k->pad_zero, nhwc, isa,
                       fastpath_threads, out + i * o * h * w);
    }
    free(packed);
}

static void op_destroy(void *kernel) { free(kernel); }
static const char *op_name(const OrtCustomOp *op) { (void)op; return "BinaryConv3x3"; }
static const char *op_provider(const OrtCustomOp *op) { (void)op; return "CPUExecutionProvider"; }
static int op_input_type(const OrtCustomOp *op, size_t i) { (void)op; return i == 1 || i == 3 ? ORT_INT64 : ORT_FLOAT; }
static size_t op_input_count(const OrtCustomOp *op) { (void)op; return 10; }
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
