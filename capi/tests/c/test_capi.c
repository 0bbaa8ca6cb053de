/* The C ABI from C: known answers, every reachable status code with nothing
   written on error, thread-count invariance, and fixed outputs of every
   element type printed for tests/c_program.rs to compare with the Rust
   crate. Exits non-zero on the first failed check. */
#include "dropkit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                   \
            failures++;                                                 \
        }                                                               \
    } while (0)

static void print_words(const char *name, const void *p, size_t n, size_t size) {
    printf("%s:", name);
    for (size_t i = 0; i < n; i++) {
        unsigned long long v = 0;
        memcpy(&v, (const char *)p + i * size, size);
        printf(" %0*llx", (int)(2 * size), v);
    }
    printf("\n");
}

static void known_answers(void) {
    dk_dropout d;
    uint64_t bits[2];
    CHECK(dk_dropout_new(0.5, 0, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(dk_mask_bits(&d, 0, 0, 128, bits, 2) == DK_OK);
    CHECK(bits[0] == 0xac64cc78ff8a3d4eULL && bits[1] == 0x647e9bd36cf349e1ULL);
    CHECK(dk_dropout_new(0.1, 42, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(dk_mask_bits(&d, 1, 0, 128, bits, 2) == DK_OK);
    CHECK(bits[0] == 0xf7bffffff77ff37bULL && bits[1] == 0xfd79dfff7fafdeffULL);
    CHECK(dk_fold_in(0, 0) == 0xdfe6f312aa9cd722ULL);
    CHECK(DK_STREAM_VERSION == 1);
    CHECK(strcmp(dk_version(), "0.1.0") == 0);
    /* Rate 0.5 keeps 0 or doubles: the values follow the mask. */
    float x[128], y[128];
    for (int i = 0; i < 128; i++) x[i] = 1.5f;
    CHECK(dk_dropout_new(0.5, 0, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(dk_forward_f32(&d, 0, 0, x, y, 128) == DK_OK);
    for (int i = 0; i < 128; i++) {
        int kept = (int)((i < 64 ? 0xac64cc78ff8a3d4eULL >> i : 0x647e9bd36cf349e1ULL >> (i - 64)) & 1);
        CHECK(y[i] == (kept ? 3.0f : 0.0f));
    }
}

static void errors(void) {
    dk_dropout d, untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    d = untouched;
    CHECK(dk_dropout_new(NAN, 0, DK_SCALING_INVERTED, &d) == DK_INVALID_RATE);
    CHECK(dk_dropout_new(1.5, 0, DK_SCALING_INVERTED, &d) == DK_INVALID_RATE);
    CHECK(dk_dropout_with_keep_prob(-0.1, 0, DK_SCALING_INVERTED, &d) == DK_INVALID_KEEP_PROB);
    CHECK(dk_dropout_new(0.5, 0, 7, &d) == DK_INVALID_ARGUMENT);
    CHECK(dk_dropout_new(0.5, 0, DK_SCALING_INVERTED, NULL) == DK_NULL_POINTER);
    CHECK(memcmp(&d, &untouched, sizeof d) == 0);
    CHECK(dk_dropout_new(0.5, 3, DK_SCALING_CLASSIC, &d) == DK_OK);
    CHECK(dk_dropout_with_threading(&d, 9, &d) == DK_INVALID_ARGUMENT);
    CHECK(dk_threads_init(0) == DK_INVALID_ARGUMENT);

    float x[64], y[64], keep[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i, y[i] = keep[i] = -7.0f;
    uint64_t bits[1] = {42};
    uint8_t bytes[64];
    memset(bytes, 9, sizeof bytes);
    CHECK(dk_forward_f32(NULL, 0, 0, x, y, 64) == DK_NULL_POINTER);
    CHECK(dk_forward_f32(&d, 0, 0, NULL, y, 64) == DK_NULL_POINTER);
    CHECK(dk_forward_f32(&d, 0, 0, NULL, NULL, 0) == DK_OK);
    CHECK(dk_forward_f32(&d, 0, UINT64_MAX - 10, x, y, 64) == DK_OFFSET_OVERFLOW);
    CHECK(dk_forward_f32(&d, 0, 0, x, x + 1, 32) == DK_OVERLAP);
    CHECK(dk_forward_with_mask_f32(&d, 0, 0, x, y, 64, bits, 0) == DK_MASK_TOO_SMALL);
    CHECK(dk_forward_with_byte_mask_f32(&d, 0, 0, x, y, 64, bytes, 63) == DK_MASK_TOO_SMALL);
    CHECK(dk_backward_from_mask_f32(&d, bits, 0, x, y, 64) == DK_MASK_TOO_SMALL);
    CHECK(dk_fused_forward_f32(&d, 0, 0, 5, x, NULL, NULL, y, 64) == DK_NOT_WHOLE_ROWS);
    CHECK(dk_fused_forward_f32(&d, 0, 0, 0, x, NULL, NULL, y, 64) == DK_NOT_WHOLE_ROWS);
    CHECK(dk_fused_forward_f32(&d, 0, 0, 8, x, NULL, x, x, 64) == DK_OVERLAP);
    CHECK(dk_fused_backward_f32(&d, 0, 0, 8, x, y, 64, y) == DK_OVERLAP);
    CHECK(dk_mc_forward_f32(&d, 0, x, 2, y, SIZE_MAX) == DK_SHAPE_MISMATCH);
    /* Buffers whose byte length or end address overflows: DK_SIZE_OVERFLOW
       from the checked overlap test (and slice), before anything is read. */
    CHECK(dk_forward_f32(&d, 0, 0, x, y, SIZE_MAX / 2) == DK_SIZE_OVERFLOW); /* n * 4 wraps */
    CHECK(dk_forward_f32(&d, 0, 0, x, y, SIZE_MAX / 4) == DK_SIZE_OVERFLOW); /* above PTRDIFF_MAX */
    CHECK(dk_forward_f32(&d, 0, 0, y, y, SIZE_MAX / 2) == DK_SIZE_OVERFLOW); /* in place */
    const float *top = (const float *)(uintptr_t)(UINTPTR_MAX - 15); /* never read */
    CHECK(dk_forward_f32(&d, 0, 0, top, y, 8) == DK_SIZE_OVERFLOW);     /* top + 32 wraps */
    CHECK(dk_inference_f32(&d, x, y, SIZE_MAX / 2) == DK_SIZE_OVERFLOW);
    CHECK(dk_mc_forward_f32(&d, 0, x, 2, y, SIZE_MAX / 4) == DK_SIZE_OVERFLOW);
    CHECK(dk_forward_with_mask_f32(&d, 0, 0, x, y, 64, bits, SIZE_MAX / 2) == DK_SIZE_OVERFLOW);
    CHECK(dk_fused_backward_f32(&d, 0, 0, 8, x, y, SIZE_MAX / 2, NULL) == DK_SIZE_OVERFLOW);
    CHECK(memcmp(y, keep, sizeof y) == 0); /* nothing written on any error */
    CHECK(bits[0] == 42 && bytes[0] == 9);
    for (int s = DK_OK; s <= DK_INTERNAL + 1; s++) CHECK(dk_status_str(s) != NULL && dk_status_str(s)[0] != 0);
}

/* One million elements, sequential against the pool of 3 threads. */
static void threads(void) {
    static float x[1 << 20], a[1 << 20], b[1 << 20];
    for (int i = 0; i < (1 << 20); i++) x[i] = (float)(i % 1000) * 0.01f;
    CHECK(dk_threads_init(3) == DK_OK);
    CHECK(dk_threads_init(3) == DK_THREADS_ALREADY_STARTED);
    dk_dropout seq, par;
    CHECK(dk_dropout_new(0.25, 11, DK_SCALING_INVERTED, &seq) == DK_OK);
    CHECK(dk_dropout_with_threading(&seq, DK_THREADS_SEQUENTIAL, &seq) == DK_OK);
    CHECK(dk_dropout_with_threading(&seq, DK_THREADS_PARALLEL, &par) == DK_OK);
    CHECK(dk_forward_f32(&seq, 2, 77, x, a, 1 << 20) == DK_OK);
    CHECK(dk_forward_f32(&par, 2, 77, x, b, 1 << 20) == DK_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

/* Fixed cases, printed: rate 0.3, seed 7, stream 5, 100 elements at
   offset 4090 (values i * 0.25 - 3); fused rows of 10 with bias and
   residual; dbias; Classic inference; in place equals out of place. */
#define OUTPUTS(T, SUF, FROM)                                                 \
    static void outputs_##SUF(void) {                                         \
        dk_dropout d, c;                                                      \
        T x[100], y[100], z[100], b[10], r[100], dx[100], db[10], mc[300];    \
        for (int i = 0; i < 100; i++) x[i] = FROM((float)i * 0.25f - 3.0f);  \
        for (int i = 0; i < 100; i++) r[i] = FROM((float)(i % 7) * 0.5f);    \
        for (int i = 0; i < 10; i++) b[i] = FROM((float)i * 0.125f);         \
        CHECK(dk_dropout_new(0.3, 7, DK_SCALING_INVERTED, &d) == DK_OK);      \
        CHECK(dk_dropout_new(0.3, 7, DK_SCALING_CLASSIC, &c) == DK_OK);       \
        CHECK(dk_forward_##SUF(&d, 5, 4090, x, y, 100) == DK_OK);             \
        print_words(#SUF " forward", y, 100, sizeof(T));                      \
        memcpy(z, x, sizeof z);                                               \
        CHECK(dk_forward_##SUF(&d, 5, 4090, z, z, 100) == DK_OK);             \
        CHECK(memcmp(y, z, sizeof z) == 0);                                   \
        CHECK(dk_fused_forward_##SUF(&d, 5, 4090, 10, x, b, r, y, 100) == DK_OK); \
        print_words(#SUF " fused", y, 100, sizeof(T));                        \
        CHECK(dk_fused_backward_##SUF(&d, 5, 4090, 10, x, dx, 100, db) == DK_OK); \
        print_words(#SUF " dbias", db, 10, sizeof(T));                        \
        CHECK(dk_inference_##SUF(&c, x, y, 100) == DK_OK);                    \
        print_words(#SUF " classic inference", y, 100, sizeof(T));            \
        CHECK(dk_mc_forward_##SUF(&d, 9, x, 100, mc, 3) == DK_OK);            \
        print_words(#SUF " mc", mc, 300, sizeof(T));                          \
    }

static float f32_from(float v) { return v; }
static double f64_from(float v) { return (double)v; }
/* float to binary16 / bfloat16 bits, for these exactly representable
   inputs (multiples of 1/8 below 64): exponent and top mantissa bits. */
static uint16_t f16_from(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7fffffff) == 0) return (uint16_t)(u >> 16);
    uint32_t sign = (u >> 16) & 0x8000, exp = ((u >> 23) & 0xff) - 127 + 15;
    return (uint16_t)(sign | (exp << 10) | ((u >> 13) & 0x3ff));
}
static uint16_t bf16_from(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return (uint16_t)(u >> 16);
}

OUTPUTS(float, f32, f32_from)
OUTPUTS(double, f64, f64_from)
OUTPUTS(uint16_t, f16, f16_from)
OUTPUTS(uint16_t, bf16, bf16_from)

/* A channels-first call on a padded tensor: the same values as the
   elementwise call on the dense mask expanded by hand, the padding kept,
   the backward equal to the forward of ones times the gradient; bad shapes
   refused with nothing written. */
static void shapes(void) {
    enum { N = 3, C = 5, L = 7, PAD = 9 };
    size_t dims[3] = {N, C, L}, strides[3] = {C * PAD, PAD, 1}, mask_dims[3] = {N, C, 1};
    float x[N * C * PAD], y[N * C * PAD], m[N * C], ones[N * C], dx[N * C * PAD];
    for (int i = 0; i < N * C * PAD; i++) x[i] = (float)i - 40.0f;
    for (int i = 0; i < N * C; i++) ones[i] = 1.0f;
    dk_dropout d;
    CHECK(dk_dropout_new(0.4, 11, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(dk_forward_f32(&d, 2, 100, ones, m, N * C) == DK_OK); /* the mask's values */
    dk_shape s = {3, dims, strides, strides, mask_dims, 0, 0};
    for (int i = 0; i < N * C * PAD; i++) y[i] = -7.0f;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &s, x, N * C * PAD, y, N * C * PAD) == DK_OK);
    for (int r = 0; r < N * C; r++) {
        for (int k = 0; k < PAD; k++) {
            float want = k < L ? x[r * PAD + k] * m[r] : -7.0f;
            CHECK(y[r * PAD + k] == want);
        }
    }
    /* In place gives the same; the mask-free backward multiplies alike. */
    float z[N * C * PAD];
    memcpy(z, x, sizeof z);
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &s, z, N * C * PAD, z, N * C * PAD) == DK_OK);
    for (int r = 0; r < N * C; r++)
        for (int k = 0; k < L; k++) CHECK(z[r * PAD + k] == y[r * PAD + k]);
    CHECK(dk_backward_shaped_f32(&d, 2, 100, &s, x, N * C * PAD, dx, N * C * PAD) == DK_OK);
    for (int r = 0; r < N * C; r++)
        for (int k = 0; k < L; k++) CHECK(dx[r * PAD + k] == y[r * PAD + k]);
    /* A slab of rows 1..3 of the whole tensor: the same values. */
    size_t slab_dims[3] = {2, C, L};
    dk_shape slab = {3, slab_dims, strides, strides, mask_dims, 1, N};
    float w[2 * C * PAD];
    for (int i = 0; i < 2 * C * PAD; i++) w[i] = -7.0f;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &slab, x + C * PAD, 2 * C * PAD, w, 2 * C * PAD) == DK_OK);
    CHECK(memcmp(w, y + C * PAD, sizeof w) == 0);
    /* Errors, nothing written. */
    float before[N * C * PAD];
    memcpy(before, y, sizeof y);
    size_t bad_mask[3] = {N, 2, 1};
    dk_shape bad = s;
    bad.mask_dims = bad_mask;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_BAD_MASK_DIM);
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &s, x, N * C * PAD, y, 10) == DK_VIEW_OUT_OF_BOUNDS);
    size_t overlapping[3] = {C * PAD, 1, 1};
    bad = s;
    bad.y_strides = overlapping;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_SELF_OVERLAP);
    bad = s;
    bad.rank = 0;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_UNSUPPORTED_RANK);
    bad = slab;
    bad.slab_start = 2;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_SLAB_OUT_OF_RANGE);
    CHECK(dk_forward_shaped_f32(&d, 2, 100, NULL, x, N * C * PAD, y, N * C * PAD) == DK_NULL_POINTER);
    /* A rank above 8 is refused before any of the shape's arrays is read:
       null, short, or pointing at unmapped memory, whatever the rank. */
    const size_t *unmapped = (const size_t *)(uintptr_t)64;
    bad = s;
    bad.rank = 9; /* dims, strides and mask_dims hold 3 values */
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_UNSUPPORTED_RANK);
    CHECK(dk_backward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_UNSUPPORTED_RANK);
    bad.dims = NULL;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_UNSUPPORTED_RANK);
    bad.dims = bad.x_strides = bad.y_strides = bad.mask_dims = unmapped;
    bad.rank = SIZE_MAX;
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &bad, x, N * C * PAD, y, N * C * PAD) == DK_UNSUPPORTED_RANK);
    /* A shaped call's buffer length overflowing the address space. */
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &s, x, SIZE_MAX, y, N * C * PAD) == DK_SIZE_OVERFLOW);
    CHECK(dk_forward_shaped_f32(&d, 2, 100, &s, y, SIZE_MAX / 2, y, SIZE_MAX / 2) == DK_SIZE_OVERFLOW);
    CHECK(memcmp(before, y, sizeof y) == 0);
    /* Alpha dropout through the C scaling constant: rate 1 writes +0.0. */
    CHECK(dk_dropout_new(1.0, 0, DK_SCALING_ALPHA, &d) == DK_OK);
    CHECK(dk_forward_shaped_f32(&d, 0, 0, &s, x, N * C * PAD, y, N * C * PAD) == DK_OK);
    CHECK(y[0] == 0.0f && !signbit(y[0]) && y[L] == before[L]);
    CHECK(strcmp(dk_status_str(DK_BAD_MASK_DIM), "unknown status") != 0);
}

int main(void) {
    known_answers();
    shapes();
    errors();
    threads();
    outputs_f32();
    outputs_f64();
    outputs_f16();
    outputs_bf16();
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all C checks passed\n");
    return 0;
}
