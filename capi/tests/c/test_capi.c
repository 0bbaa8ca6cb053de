/* The C ABI from C: known answers; every operation through the
   dtype-generic entry and the typed ones, on every element type; masks out
   of shaped calls and backward passes from them; fused calls; every
   reachable status code with its dk_last_error() message and nothing
   written on error; the hardening of ranks above 8 and of huge lengths;
   ISA choice; threads per dk_dropout and the global pool. Fixed outputs of
   every element type are printed for tests/c_program.rs to compare with
   the Rust crate (and CI compares the aarch64 program's output with the
   native one's: everything printed is deterministic). Exits non-zero if a
   check failed. */
#include "dropkit.h"

#include <math.h>
#include <pthread.h>
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

/* A call's status and dk_last_error() message. */
#define CHECK_ERR(call, status, message)                                  \
    do {                                                                  \
        dk_status s_ = (call);                                            \
        const char *m_ = dk_last_error();                                 \
        if (s_ != (status) || strcmp(m_, (message)) != 0) {               \
            fprintf(stderr, "%s:%d: %s: got %d \"%s\", want %d \"%s\"\n", \
                    __FILE__, __LINE__, #call, s_, m_, (int)(status),     \
                    (message));                                           \
            failures++;                                                   \
        }                                                                 \
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

static dk_site at(uint64_t stream, uint64_t offset) {
    dk_site s = {stream, offset};
    return s;
}

static dk_tensor t1(void *data, size_t n) {
    dk_tensor t = {data, n, 0, NULL, NULL};
    return t;
}

static dk_options no_options(void) {
    dk_options o;
    memset(&o, 0, sizeof o);
    return o;
}

static void known_answers(void) {
    dk_dropout d;
    uint64_t bits[2];
    CHECK(dk_dropout_new(0.5, 0, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(d.threading == DK_THREADS_AUTO && d.isa == DK_ISA_AUTO && d.threads == 0 && d.parallel_min == 0);
    CHECK(dk_mask(&d, at(0, 0), DK_MASK_BITS, bits, 2, 128) == DK_OK);
    CHECK(bits[0] == 0xac64cc78ff8a3d4eULL && bits[1] == 0x647e9bd36cf349e1ULL);
    CHECK(strcmp(dk_last_error(), "") == 0);
    CHECK(dk_dropout_new(0.1, 42, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(dk_mask(&d, at(1, 0), DK_MASK_BITS, bits, 2, 128) == DK_OK);
    CHECK(bits[0] == 0xf7bffffff77ff37bULL && bits[1] == 0xfd79dfff7fafdeffULL);
    /* Bytes in the same argument order: the same decisions. */
    uint8_t bytes[128];
    CHECK(dk_mask(&d, at(1, 0), DK_MASK_BYTES, bytes, 128, 128) == DK_OK);
    for (int i = 0; i < 128; i++) CHECK(bytes[i] == ((bits[i / 64] >> (i % 64)) & 1));
    CHECK(dk_fold_in(0, 0) == 0xdfe6f312aa9cd722ULL);
    CHECK(DK_STREAM_VERSION == 1);
    CHECK(strcmp(dk_version(), "0.1.0") == 0);
    CHECK(dk_mask_words(0) == 0 && dk_mask_words(1) == 1 && dk_mask_words(64) == 1 && dk_mask_words(65) == 2);
    /* Rate 0.5 keeps 0 or doubles: the values follow the mask. */
    float x[128], y[128];
    for (int i = 0; i < 128; i++) x[i] = 1.5f;
    CHECK(dk_dropout_new(0.5, 0, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(dk_forward_f32(&d, at(0, 0), x, y, 128, NULL) == DK_OK);
    for (int i = 0; i < 128; i++) {
        int kept = (int)((i < 64 ? 0xac64cc78ff8a3d4eULL >> i : 0x647e9bd36cf349e1ULL >> (i - 64)) & 1);
        CHECK(y[i] == (kept ? 3.0f : 0.0f));
    }
    /* The keep probability constructor. */
    dk_dropout k;
    CHECK(dk_dropout_with_keep_prob(0.5, 0, DK_SCALING_INVERTED, &k) == DK_OK);
    CHECK(k.rate == 0.5);
}

/* The mask of a channels-first call on a padded [N, C, L] tensor: written
   as bits and as bytes by the forward pass, equal to dk_mask of
   dk_mask_len elements; the values follow it, the padding is kept; the
   backward pass from the stored mask equals the regenerated one; a slab
   of rows gives its rows' values and its part of the mask; shaped
   inference (Classic) scales the elements and keeps the padding. */
static void shapes(void) {
    enum { N = 3, C = 5, L = 7, PAD = 9, LEN = N * C * PAD };
    size_t dims[3] = {N, C, L}, strides[3] = {C * PAD, PAD, 1};
    float x[LEN], y[LEN], dx[LEN], dx2[LEN], z[LEN];
    for (int i = 0; i < LEN; i++) x[i] = (float)i - 40.0f, y[i] = dx[i] = dx2[i] = -7.0f;
    dk_dropout d;
    CHECK(dk_dropout_new(0.4, 11, DK_SCALING_INVERTED, &d) == DK_OK);
    dk_mask_shape cf = {DK_MASK_SHAPE_CHANNELS_FIRST, 0, NULL, 0, 0};
    size_t m = 0;
    CHECK(dk_mask_len(&cf, 3, dims, &m) == DK_OK);
    CHECK(m == N * C);
    uint64_t bits[1] = {0}, want[1] = {0};
    uint8_t bytes[N * C];
    CHECK(dk_mask(&d, at(2, 100), DK_MASK_BITS, want, 1, m) == DK_OK);
    dk_tensor xt = {x, LEN, 3, dims, strides}, yt = {y, LEN, 3, dims, strides};
    dk_options o = no_options();
    o.shape = &cf;
    o.mask_kind = DK_MASK_BITS;
    o.mask = bits;
    o.mask_len = 1;
    CHECK(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o) == DK_OK);
    CHECK(bits[0] == want[0]);
    for (int r = 0; r < N * C; r++) {
        int kept = (int)((want[0] >> r) & 1);
        for (int k = 0; k < PAD; k++) {
            float v = k < L ? (kept ? x[r * PAD + k] / 0.6f : 0.0f) : -7.0f;
            CHECK(fabsf(y[r * PAD + k] - v) <= 1e-4f * fabsf(v));
        }
    }
    /* Bytes: the same decisions, the same values. */
    o.mask_kind = DK_MASK_BYTES;
    o.mask = bytes;
    o.mask_len = N * C;
    memcpy(z, y, sizeof z);
    CHECK(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o) == DK_OK);
    CHECK(memcmp(z, y, sizeof z) == 0);
    for (int r = 0; r < N * C; r++) CHECK(bytes[r] == ((want[0] >> r) & 1));
    /* In place (x NULL, or x describing y) gives the same. */
    dk_tensor zt = {z, LEN, 3, dims, strides};
    memcpy(z, x, sizeof z);
    CHECK(dk_forward(&d, at(2, 100), DK_DTYPE_F32, NULL, &zt, &o) == DK_OK);
    for (int r = 0; r < N * C; r++)
        for (int k = 0; k < L; k++) CHECK(z[r * PAD + k] == y[r * PAD + k]);
    memcpy(z, x, sizeof z);
    CHECK(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &zt, &zt, &o) == DK_OK);
    for (int r = 0; r < N * C; r++)
        for (int k = 0; k < L; k++) CHECK(z[r * PAD + k] == y[r * PAD + k]);
    /* Backward: from the stored bits (any site), from the stored bytes,
       regenerated; all equal to the forward of the same values. */
    dk_tensor dxt = {dx, LEN, 3, dims, strides}, dx2t = {dx2, LEN, 3, dims, strides};
    o.mask_kind = DK_MASK_BITS;
    o.mask = bits;
    o.mask_len = 1;
    CHECK(dk_backward(&d, at(999, 0), DK_DTYPE_F32, &xt, &dxt, &o) == DK_OK);
    CHECK(memcmp(dx, y, sizeof dx) == 0);
    o.mask_kind = DK_MASK_BYTES;
    o.mask = bytes;
    o.mask_len = N * C;
    CHECK(dk_backward(&d, at(999, 0), DK_DTYPE_F32, &xt, &dx2t, &o) == DK_OK);
    CHECK(memcmp(dx2, y, sizeof dx) == 0);
    dk_options shaped = no_options();
    shaped.shape = &cf;
    for (int i = 0; i < LEN; i++) dx2[i] = -7.0f;
    CHECK(dk_backward(&d, at(2, 100), DK_DTYPE_F32, &xt, &dx2t, &shaped) == DK_OK);
    CHECK(memcmp(dx2, y, sizeof dx) == 0);
    /* A slab of rows 1..3 of the whole tensor: those rows' values, and the
       slab's part of the mask (from mask element C). */
    size_t slab_dims[3] = {2, C, L};
    dk_mask_shape slab = {DK_MASK_SHAPE_CHANNELS_FIRST, 0, NULL, 1, N};
    CHECK(dk_mask_len(&slab, 3, slab_dims, &m) == DK_OK);
    CHECK(m == 2 * C);
    float w[2 * C * PAD];
    for (int i = 0; i < 2 * C * PAD; i++) w[i] = -7.0f;
    dk_tensor sx = {x + C * PAD, 2 * C * PAD, 3, slab_dims, strides}, sw = {w, 2 * C * PAD, 3, slab_dims, strides};
    uint64_t slab_bits[1] = {0};
    o = no_options();
    o.shape = &slab;
    o.mask_kind = DK_MASK_BITS;
    o.mask = slab_bits;
    o.mask_len = 1;
    CHECK(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &sx, &sw, &o) == DK_OK);
    CHECK(memcmp(w, y + C * PAD, sizeof w) == 0);
    CHECK(slab_bits[0] == (want[0] >> C));
    /* Shaped inference: Classic scales by 1 - rate, padding kept. */
    dk_dropout c;
    CHECK(dk_dropout_new(0.5, 0, DK_SCALING_CLASSIC, &c) == DK_OK);
    for (int i = 0; i < LEN; i++) z[i] = -7.0f;
    CHECK(dk_inference(&c, DK_DTYPE_F32, &xt, &zt) == DK_OK);
    for (int r = 0; r < N * C; r++)
        for (int k = 0; k < PAD; k++) CHECK(z[r * PAD + k] == (k < L ? x[r * PAD + k] * 0.5f : -7.0f));
    /* Every other mask shape's element count. */
    size_t d4[4] = {2, 3, 4, 5}, noise[4] = {2, 1, 4, 1}, axes[2] = {0, 2};
    dk_mask_shape kinds[] = {
        {DK_MASK_SHAPE_ELEMENTWISE, 0, NULL, 0, 0},       {DK_MASK_SHAPE_CHANNELS_LAST, 0, NULL, 0, 0},
        {DK_MASK_SHAPE_PER_SAMPLE, 0, NULL, 0, 0},        {DK_MASK_SHAPE_LOCKED_TIME_MAJOR, 0, NULL, 0, 0},
        {DK_MASK_SHAPE_LOCKED_BATCH_MAJOR, 0, NULL, 0, 0}, {DK_MASK_SHAPE_NOISE, 4, noise, 0, 0},
        {DK_MASK_SHAPE_BROADCAST_DIMS, 2, axes, 0, 0},
    };
    size_t counts[] = {120, 10, 2, 60, 40, 8, 15};
    for (int i = 0; i < 7; i++) {
        CHECK(dk_mask_len(&kinds[i], 4, d4, &m) == DK_OK);
        CHECK(m == counts[i]);
    }
    CHECK(dk_mask_len(NULL, 4, d4, &m) == DK_OK && m == 120);
    /* Drop-path in f64 through the generic entry: whole samples kept or
       dropped. */
    double xs[2 * 3 * 4 * 5], ys[2 * 3 * 4 * 5];
    for (int i = 0; i < 120; i++) xs[i] = 1.0;
    dk_tensor xd = {xs, 120, 4, d4, NULL}, yd = {ys, 120, 4, d4, NULL};
    dk_options ps = no_options();
    ps.shape = &kinds[2];
    CHECK(dk_forward(&d, at(4, 0), DK_DTYPE_F64, &xd, &yd, &ps) == DK_OK);
    for (int s = 0; s < 2; s++)
        for (int i = 1; i < 60; i++) CHECK(ys[s * 60 + i] == ys[s * 60]);

    /* Errors, with their messages; nothing written. */
    float before[LEN];
    memcpy(before, y, sizeof y);
    uint64_t keep_bits = bits[0];
    o = no_options();
    o.shape = &cf;
    size_t bad_noise[3] = {N, 2, 1};
    dk_mask_shape bad = {DK_MASK_SHAPE_NOISE, 3, bad_noise, 0, 0};
    o.shape = &bad;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_BAD_MASK_DIM,
              "axis 1: mask extent 2 is neither 1 nor the data's 5");
    o.shape = &cf;
    o.mask_kind = DK_MASK_BITS;
    o.mask = bits;
    o.mask_len = 0;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_SIZE,
              "wrong size: mask words (at least): expected 1, given 0");
    o.mask_kind = DK_MASK_BYTES;
    o.mask = bytes;
    o.mask_len = N * C - 1;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_SIZE,
              "wrong size: mask bytes (at least): expected 15, given 14");
    CHECK_ERR(dk_backward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_SIZE,
              "wrong size: mask bytes (at least): expected 15, given 14");
    o.mask_kind = DK_MASK_NONE;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_INVALID_ARGUMENT,
              "opt->mask is set but the mask kind is DK_MASK_NONE");
    o.mask_kind = 7;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_INVALID_ARGUMENT,
              "unknown mask kind 7");
    o.mask_kind = DK_MASK_BITS;
    o.mask = y + 3; /* the mask inside the output */
    o.mask_len = 1;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_OVERLAP, "y and opt->mask overlap");
    dk_tensor short_y = {y, 10, 3, dims, strides};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &short_y, &shaped), DK_SIZE,
              "wrong size: slice elements the view reaches (at least): expected 133, given 10");
    size_t overlapping[3] = {C * PAD, 1, 1};
    dk_tensor self_overlap = {y, LEN, 3, dims, overlapping};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &self_overlap, &shaped), DK_SELF_OVERLAP,
              "output view: cannot prove its elements are at distinct addresses (sorted by stride, each "
              "axis of extent above 1 must have a stride greater than the span of the smaller-stride axes)");
    size_t other_dims[3] = {N, C, L - 1};
    dk_tensor other = {y, LEN, 3, other_dims, strides};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &other, &shaped), DK_DIM_MISMATCH,
              "axis 2: input has extent 7, output has 6");
    dk_tensor rank2 = {y, LEN, 2, dims, strides};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &rank2, &shaped), DK_RANK_MISMATCH,
              "rank mismatch: expected rank 3, got 2");
    dk_mask_shape lbm = {DK_MASK_SHAPE_LOCKED_BATCH_MAJOR, 0, NULL, 0, 0};
    dk_options locked = no_options();
    locked.shape = &lbm;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &rank2, &locked), DK_RANK_MISMATCH,
              "rank mismatch: expected rank 3, got 2");
    dk_tensor x2 = {x, LEN, 2, dims, strides};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &x2, &rank2, &locked), DK_UNSUPPORTED_RANK,
              "rank 2 is not supported here (from 3 to 8)");
    size_t bad_axes[1] = {3};
    dk_mask_shape bd = {DK_MASK_SHAPE_BROADCAST_DIMS, 1, bad_axes, 0, 0};
    o = no_options();
    o.shape = &bd;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_BAD_AXIS,
              "axis 3 is out of range for rank 3");
    dk_mask_shape out_of_range = {DK_MASK_SHAPE_CHANNELS_FIRST, 0, NULL, 2, N};
    o.shape = &out_of_range;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &sx, &sw, &o), DK_SLAB_OUT_OF_RANGE,
              "slab of 2 rows from row 2 is outside the 3 rows of the tensor");
    dk_mask_shape unknown = {42, 0, NULL, 0, 0};
    o.shape = &unknown;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_INVALID_ARGUMENT,
              "unknown mask shape kind 42 (shape->kind)");
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, NULL, NULL), DK_NULL_POINTER, "null pointer: y");
    dk_tensor no_dims = {y, LEN, 3, NULL, NULL};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &no_dims, NULL), DK_NULL_POINTER,
              "null pointer: y->dims (3 elements)");
    CHECK_ERR(dk_forward(&d, at(2, 100), 9, &xt, &yt, NULL), DK_INVALID_ARGUMENT, "unknown dtype 9");
    /* The strided input over y's own buffer with another layout. */
    dk_tensor y_as_x = {y, LEN, 3, dims, NULL};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &y_as_x, &yt, NULL), DK_OVERLAP, "y and x overlap");
    /* A rank above 8 is refused before any of the arrays is read: null,
       short, or pointing at unmapped memory, whatever the rank. */
    const size_t *unmapped = (const size_t *)(uintptr_t)64;
    dk_tensor r9 = {y, LEN, 9, dims, strides};
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &r9, NULL), DK_UNSUPPORTED_RANK,
              "rank 9 is not supported here (from 1 to 8)");
    CHECK_ERR(dk_backward(&d, at(2, 100), DK_DTYPE_F32, &r9, &yt, NULL), DK_UNSUPPORTED_RANK,
              "rank 9 is not supported here (from 1 to 8)");
    r9.dims = NULL;
    CHECK(dk_inference(&d, DK_DTYPE_F32, &xt, &r9) == DK_UNSUPPORTED_RANK);
    r9.dims = r9.strides = unmapped;
    r9.rank = SIZE_MAX;
    CHECK(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &r9, NULL) == DK_UNSUPPORTED_RANK);
    CHECK(dk_mc_forward(&d, at(2, 100), DK_DTYPE_F32, &r9, y, LEN, 1, NULL) == DK_UNSUPPORTED_RANK);
    CHECK_ERR(dk_mask_len(&cf, 9, unmapped, &m), DK_UNSUPPORTED_RANK, "rank 9 is not supported here (from 1 to 8)");
    CHECK(dk_mask_len(&cf, SIZE_MAX, unmapped, &m) == DK_UNSUPPORTED_RANK);
    dk_mask_shape noise9 = {DK_MASK_SHAPE_NOISE, 9, unmapped, 0, 0};
    o.shape = &noise9;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_RANK_MISMATCH,
              "rank mismatch: expected rank 3, got 9");
    CHECK(dk_mask_len(&noise9, 3, dims, &m) == DK_RANK_MISMATCH);
    dk_mask_shape axes9 = {DK_MASK_SHAPE_BROADCAST_DIMS, SIZE_MAX, unmapped, 0, 0};
    o.shape = &axes9;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &yt, &o), DK_SIZE,
              "wrong size: broadcast axes (at most 8): expected 8, given 18446744073709551615");
    /* A tensor's buffer length overflowing the address space. */
    dk_tensor huge = {y, SIZE_MAX, 3, dims, strides};
    CHECK(dk_forward(&d, at(2, 100), DK_DTYPE_F32, &xt, &huge, &shaped) == DK_SIZE_OVERFLOW);
    huge.len = SIZE_MAX / 2;
    CHECK_ERR(dk_forward(&d, at(2, 100), DK_DTYPE_F32, NULL, &huge, &shaped), DK_SIZE_OVERFLOW,
              "y: 9223372036854775807 elements of 4 bytes overflow the address space");
    CHECK(memcmp(before, y, sizeof y) == 0 && bits[0] == keep_bits);
    CHECK(strcmp(dk_status_str(DK_BAD_MASK_DIM), "unknown status") != 0);
    /* Alpha dropout through the C scaling constant: rate 1 writes +0.0. */
    CHECK(dk_dropout_new(1.0, 0, DK_SCALING_ALPHA, &d) == DK_OK);
    CHECK(dk_forward(&d, at(0, 0), DK_DTYPE_F32, &xt, &yt, NULL) == DK_OK);
    CHECK(y[0] == 0.0f && !signbit(y[0]) && y[L] == before[L]);
}

/* Fused calls: forward with bias and residual writing its mask, backward
   with dbias from the stored mask equal to the regenerated one, onto the
   residual, in place; the options a pass does not take refused. */
static void fused(void) {
    enum { ROWS = 6, F = 10, NN = ROWS * F };
    float x[NN], r[NN], b[F], y[NN], y2[NN], dy[NN], dx[NN], dx2[NN], db[F], db2[F];
    for (int i = 0; i < NN; i++) x[i] = (float)(i % 13) - 6.0f, r[i] = (float)(i % 5), dy[i] = 1.0f + (float)(i % 3);
    for (int i = 0; i < F; i++) b[i] = (float)i * 0.25f;
    dk_dropout d;
    CHECK(dk_dropout_new(0.3, 5, DK_SCALING_INVERTED, &d) == DK_OK);
    uint64_t bits[1];
    dk_options o = no_options();
    o.bias = b;
    o.bias_len = F;
    o.residual = r;
    o.residual_len = NN;
    o.mask_kind = DK_MASK_BITS;
    o.mask = bits;
    o.mask_len = 1;
    CHECK(dk_forward_f32(&d, at(3, 7), x, y, NN, &o) == DK_OK);
    uint64_t want[1];
    CHECK(dk_mask(&d, at(3, 7), DK_MASK_BITS, want, 1, NN) == DK_OK);
    CHECK(bits[0] == want[0]);
    for (int i = 0; i < NN; i++) {
        float v = ((bits[0] >> i) & 1) ? (x[i] + b[i % F]) * (float)(1.0 / 0.7) : 0.0f;
        CHECK(y[i] == r[i] + v);
    }
    /* Onto the residual: y2 = r, then y2 += dropout(x + b). */
    memcpy(y2, r, sizeof y2);
    o.residual = y2;
    o.mask_kind = DK_MASK_NONE;
    o.mask = NULL;
    o.mask_len = 0;
    CHECK(dk_forward_f32(&d, at(3, 7), x, y2, NN, &o) == DK_OK);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    /* In place: y2 = x, then y2 = r + dropout(y2 + b). */
    memcpy(y2, x, sizeof y2);
    o.residual = r;
    CHECK(dk_forward_f32(&d, at(3, 7), y2, y2, NN, &o) == DK_OK);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    /* The same through the generic entry, rank 2 [ROWS, F]. */
    size_t dims[2] = {ROWS, F};
    dk_tensor xt = {x, NN, 2, dims, NULL}, y2t = {y2, NN, 2, dims, NULL};
    CHECK(dk_forward(&d, at(3, 7), DK_DTYPE_F32, &xt, &y2t, &o) == DK_OK);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    /* Backward with dbias: from the stored mask (any site) and
       regenerated, the same bits. */
    dk_options bo = no_options();
    bo.dbias = db;
    bo.dbias_len = F;
    bo.mask_kind = DK_MASK_BITS;
    bo.mask = bits;
    bo.mask_len = 1;
    CHECK(dk_backward_f32(&d, at(0, 0), dy, dx, NN, &bo) == DK_OK);
    bo.dbias = db2;
    bo.mask_kind = DK_MASK_NONE;
    bo.mask = NULL;
    bo.mask_len = 0;
    CHECK(dk_backward_f32(&d, at(3, 7), dy, dx2, NN, &bo) == DK_OK);
    CHECK(memcmp(dx, dx2, sizeof dx) == 0 && memcmp(db, db2, sizeof db) == 0);
    for (int f = 0; f < F; f++) {
        double s = 0;
        for (int row = 0; row < ROWS; row++) s += dx[row * F + f];
        CHECK(db[f] == (float)s);
    }
    /* Options a pass does not take, sizes, rows; nothing written. */
    float keep[NN], keep_db[F];
    memcpy(keep, y, sizeof y);
    memcpy(keep_db, db, sizeof db);
    CHECK_ERR(dk_forward_f32(&d, at(3, 7), x, y, NN, &bo), DK_UNSUPPORTED, "not supported: dbias in a forward pass");
    CHECK_ERR(dk_backward_f32(&d, at(3, 7), x, y, NN, &o), DK_UNSUPPORTED,
              "not supported: a bias or residual in a backward pass (dx is the gradient of x and of the bias; "
              "the residual's is dy)");
    CHECK_ERR(dk_mc_forward_f32(&d, at(3, 7), x, NN, y, 1, &o), DK_UNSUPPORTED,
              "not supported: a mask or a fused option in a Monte-Carlo forward pass");
    dk_options bad = o;
    bad.bias_len = 7;
    CHECK_ERR(dk_forward_f32(&d, at(3, 7), x, y, NN, &bad), DK_NOT_WHOLE_ROWS,
              "60 elements are not whole rows of 7 features");
    CHECK_ERR(dk_forward(&d, at(3, 7), DK_DTYPE_F32, &xt, &y2t, &bad), DK_SIZE,
              "wrong size: bias or dbias elements (the last axis's extent): expected 10, given 7");
    bad = o;
    bad.residual_len = NN - 1;
    CHECK_ERR(dk_forward_f32(&d, at(3, 7), x, y, NN, &bad), DK_SIZE,
              "wrong size: residual elements (the input's): expected 60, given 59");
    bad = o;
    bad.residual = y;
    CHECK_ERR(dk_forward_f32(&d, at(3, 7), y, y, NN, &bad), DK_OVERLAP,
              "opt->residual is y's buffer: it must then be as long as y, with an input x other than y");
    bad = o;
    bad.bias = y + 2;
    CHECK_ERR(dk_forward_f32(&d, at(3, 7), x, y, NN, &bad), DK_OVERLAP, "y and opt->bias overlap");
    bo.dbias = dx + 4;
    CHECK_ERR(dk_backward_f32(&d, at(3, 7), dy, dx, NN, &bo), DK_OVERLAP, "dx and opt->dbias overlap");
    dk_mask_shape cf = {DK_MASK_SHAPE_CHANNELS_FIRST, 0, NULL, 0, 0};
    bad = o;
    bad.shape = &cf;
    CHECK_ERR(dk_forward(&d, at(3, 7), DK_DTYPE_F32, &xt, &y2t, &bad), DK_UNSUPPORTED,
              "not supported: a fused call (bias, residual, dbias) with a mask shape other than elementwise");
    CHECK(memcmp(keep, y, sizeof y) == 0 && memcmp(keep_db, db, sizeof db) == 0);
    dk_dropout alpha;
    CHECK(dk_dropout_new(0.3, 5, DK_SCALING_ALPHA, &alpha) == DK_OK);
    CHECK_ERR(dk_forward_f32(&alpha, at(3, 7), x, y, NN, &o), DK_UNSUPPORTED,
              "not supported: alpha dropout in the fused forward pass");
}

static void errors(void) {
    dk_dropout d, untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    d = untouched;
    CHECK_ERR(dk_dropout_new(NAN, 0, DK_SCALING_INVERTED, &d), DK_INVALID_RATE,
              "invalid dropout rate NaN: must be a number in [0, 1]");
    CHECK_ERR(dk_dropout_new(1.5, 0, DK_SCALING_INVERTED, &d), DK_INVALID_RATE,
              "invalid dropout rate 1.5: must be a number in [0, 1]");
    CHECK_ERR(dk_dropout_with_keep_prob(-0.1, 0, DK_SCALING_INVERTED, &d), DK_INVALID_KEEP_PROB,
              "invalid keep probability -0.1: must be a number in [0, 1]");
    CHECK_ERR(dk_dropout_new(0.5, 0, 7, &d), DK_INVALID_ARGUMENT, "unknown scaling 7 (d->scaling)");
    CHECK_ERR(dk_dropout_new(0.5, 0, DK_SCALING_INVERTED, NULL), DK_NULL_POINTER, "null pointer: out");
    CHECK(memcmp(&d, &untouched, sizeof d) == 0);
    CHECK(dk_dropout_new(0.5, 3, DK_SCALING_CLASSIC, &d) == DK_OK);
    CHECK(strcmp(dk_last_error(), "") == 0);
    dk_dropout bad = d;
    bad.threading = 9;
    CHECK_ERR(dk_dropout_check(&bad), DK_INVALID_ARGUMENT, "unknown threading 9 (d->threading)");
    bad = d;
    bad.rate = -1;
    CHECK_ERR(dk_dropout_check(&bad), DK_INVALID_RATE, "invalid dropout rate -1: must be a number in [0, 1]");
    CHECK_ERR(dk_dropout_check(NULL), DK_NULL_POINTER, "null pointer: d (the dk_dropout)");
    CHECK_ERR(dk_threads_init(0), DK_INVALID_ARGUMENT, "dk_threads_init: threads is 0");

    float x[64], y[64], keep[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i, y[i] = keep[i] = -7.0f;
    uint64_t bits[1] = {42};
    uint8_t bytes[64];
    memset(bytes, 9, sizeof bytes);
    dk_options o = no_options();
    CHECK_ERR(dk_forward_f32(NULL, at(0, 0), x, y, 64, NULL), DK_NULL_POINTER, "null pointer: d (the dk_dropout)");
    CHECK_ERR(dk_forward_f32(&d, at(0, 0), NULL, y, 64, NULL), DK_NULL_POINTER, "null pointer: x (64 elements)");
    CHECK(dk_forward_f32(&d, at(0, 0), NULL, NULL, 0, NULL) == DK_OK);
    CHECK_ERR(dk_forward_f32(&d, at(0, UINT64_MAX - 10), x, y, 64, NULL), DK_OFFSET_OVERFLOW,
              "offset 18446744073709551605 + length 64 overflows the u64 global index");
    CHECK_ERR(dk_forward_f32(&d, at(0, 0), x, x + 1, 32, NULL), DK_OVERLAP, "y and x overlap");
    CHECK_ERR(dk_forward_f32(&d, at(0, 0), (const float *)((const char *)x + 1), y, 8, NULL), DK_INVALID_ARGUMENT,
              "x is not aligned to 4 bytes");
    o.mask_kind = DK_MASK_BITS;
    o.mask = bits;
    CHECK_ERR(dk_forward_f32(&d, at(0, 0), x, y, 64, &o), DK_SIZE,
              "wrong size: mask words (at least): expected 1, given 0");
    CHECK_ERR(dk_backward_f32(&d, at(0, 0), x, y, 64, &o), DK_SIZE,
              "wrong size: mask words (at least): expected 1, given 0");
    CHECK_ERR(dk_mask(&d, at(0, 0), DK_MASK_BITS, bits, 0, 64), DK_SIZE,
              "wrong size: mask words (at least): expected 1, given 0");
    CHECK_ERR(dk_mask(&d, at(0, 0), DK_MASK_BYTES, bytes, 63, 64), DK_SIZE,
              "wrong size: mask bytes (at least): expected 64, given 63");
    CHECK_ERR(dk_mask(&d, at(0, 0), DK_MASK_NONE, NULL, 0, 64), DK_UNSUPPORTED,
              "not supported: a mask call with no mask buffer (MaskOut::None, DK_MASK_NONE)");
    CHECK_ERR(dk_mask(&d, at(0, 0), 5, bits, 1, 64), DK_INVALID_ARGUMENT, "unknown mask kind 5");
    CHECK_ERR(dk_mask(&d, at(0, UINT64_MAX), DK_MASK_BITS, bits, 1, 64), DK_OFFSET_OVERFLOW,
              "offset 18446744073709551615 + length 64 overflows the u64 global index");
    o.mask_kind = DK_MASK_BYTES;
    o.mask = bytes;
    o.mask_len = 63;
    CHECK_ERR(dk_forward_f32(&d, at(0, 0), x, y, 64, &o), DK_SIZE,
              "wrong size: mask bytes (at least): expected 64, given 63");
    dk_tensor xt = t1(x, 64), yt = t1(y, 63);
    CHECK_ERR(dk_forward(&d, at(0, 0), DK_DTYPE_F32, &xt, &yt, NULL), DK_SIZE,
              "wrong size: output elements (the input's): expected 64, given 63");
    CHECK_ERR(dk_inference(&d, DK_DTYPE_F32, &xt, &yt), DK_SIZE,
              "wrong size: output elements (the input's): expected 64, given 63");
    CHECK_ERR(dk_mc_forward(&d, at(0, 0), DK_DTYPE_F32, &xt, y, 63, 1, NULL), DK_SIZE,
              "wrong size: Monte-Carlo output elements (samples times the input's): expected 64, given 63");
    CHECK_ERR(dk_mc_forward_f32(&d, at(0, 0), x, 2, y, SIZE_MAX, NULL), DK_SIZE_OVERFLOW,
              "n * samples (2 * 18446744073709551615) overflows size_t");
    float mean[4], var[4];
    CHECK_ERR(dk_mc_mean_var_f32(x, 10, 4, mean, var), DK_SIZE,
              "wrong size: sample elements (a whole number of rows of n, at least one): expected 12, given 10");
    CHECK_ERR(dk_mc_mean_var_f32(x, 8, 4, mean, mean), DK_OVERLAP, "mean and var overlap");
    CHECK_ERR(dk_mc_mean_var(DK_DTYPE_F32, x, 8, 4, x, var), DK_OVERLAP, "samples and mean overlap");
    /* Buffers whose byte length or end address overflows: DK_SIZE_OVERFLOW
       before anything is read. */
    CHECK(dk_forward_f32(&d, at(0, 0), x, y, SIZE_MAX / 2, NULL) == DK_SIZE_OVERFLOW); /* n * 4 wraps */
    CHECK(dk_forward_f32(&d, at(0, 0), x, y, SIZE_MAX / 4, NULL) == DK_SIZE_OVERFLOW); /* above PTRDIFF_MAX */
    CHECK(dk_forward_f32(&d, at(0, 0), y, y, SIZE_MAX / 2, NULL) == DK_SIZE_OVERFLOW); /* in place */
    const float *top = (const float *)(uintptr_t)(UINTPTR_MAX - 15); /* never read */
    CHECK(dk_forward_f32(&d, at(0, 0), top, y, 8, NULL) == DK_SIZE_OVERFLOW);     /* top + 32 wraps */
    CHECK(dk_inference_f32(&d, x, y, SIZE_MAX / 2) == DK_SIZE_OVERFLOW);
    CHECK(dk_mc_forward_f32(&d, at(0, 0), x, 2, y, SIZE_MAX / 4, NULL) == DK_SIZE_OVERFLOW);
    CHECK(dk_mc_mean_var_f32(x, SIZE_MAX / 2, 4, mean, var) == DK_SIZE_OVERFLOW);
    o.mask_kind = DK_MASK_BITS;
    o.mask = bits;
    o.mask_len = SIZE_MAX / 2;
    CHECK_ERR(dk_forward_f32(&d, at(0, 0), x, y, 64, &o), DK_SIZE_OVERFLOW,
              "opt->mask: 9223372036854775807 elements of 8 bytes overflow the address space");
    CHECK(dk_mask(&d, at(0, 0), DK_MASK_BITS, bits, SIZE_MAX / 2, 64) == DK_SIZE_OVERFLOW);
    dk_options db = no_options();
    db.dbias = keep;
    db.dbias_len = 8;
    CHECK(dk_backward_f32(&d, at(0, 0), x, y, SIZE_MAX / 2, &db) == DK_SIZE_OVERFLOW);
    CHECK(memcmp(y, keep, sizeof y) == 0); /* nothing written on any error */
    CHECK(bits[0] == 42 && bytes[0] == 9);
    for (int s = DK_OK; s <= DK_THREADS_UNAVAILABLE; s++)
        CHECK(strcmp(dk_status_str(s), "unknown status") != 0);
    CHECK(strcmp(dk_status_str(DK_THREADS_UNAVAILABLE + 1), "unknown status") == 0);
    /* A success clears the message. */
    CHECK(dk_forward_f32(&d, at(0, 0), x, y, 64, NULL) == DK_OK);
    CHECK(strcmp(dk_last_error(), "") == 0);
}

/* dk_last_error() is per thread: another thread's failure leaves this
   thread's message as it was. */
static void *fail_elsewhere(void *arg) {
    (void)arg;
    dk_status s = dk_forward_f32(NULL, at(0, 0), NULL, NULL, 0, NULL);
    int ok = s == DK_NULL_POINTER && strcmp(dk_last_error(), "null pointer: d (the dk_dropout)") == 0;
    return ok ? arg : NULL;
}

static void last_error_per_thread(void) {
    static int token;
    CHECK(dk_threads_init(0) == DK_INVALID_ARGUMENT);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fail_elsewhere, &token) == 0);
    void *r = NULL;
    CHECK(pthread_join(t, &r) == 0);
    CHECK(r == &token);
    CHECK(strcmp(dk_last_error(), "dk_threads_init: threads is 0") == 0);
}

/* Every ISA this CPU runs gives the same bits; the other architecture's is
   DK_ISA_UNAVAILABLE, with its name in the message. */
static void isa(void) {
    enum { NN = 5000 };
    static float x[NN], a[NN], b[NN];
    for (int i = 0; i < NN; i++) x[i] = (float)(i % 17) - 8.0f;
    dk_dropout d;
    CHECK(dk_dropout_new(0.2, 9, DK_SCALING_INVERTED, &d) == DK_OK);
    CHECK(dk_forward_f32(&d, at(1, 3), x, a, NN, NULL) == DK_OK);
    uint32_t every[] = {DK_ISA_SCALAR, DK_ISA_PORTABLE, DK_ISA_AVX2, DK_ISA_AVX512, DK_ISA_NEON};
    int ran = 0;
    for (int i = 0; i < 5; i++) {
        dk_dropout f = d;
        f.isa = every[i];
        dk_status s = dk_dropout_check(&f);
        CHECK(s == DK_OK || s == DK_ISA_UNAVAILABLE);
        if (s != DK_OK) continue;
        ran++;
        memset(b, 0, sizeof b);
        CHECK(dk_forward_f32(&f, at(1, 3), x, b, NN, NULL) == DK_OK);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    CHECK(ran >= 2); /* scalar, portable and the native vector sets */
    dk_dropout foreign = d;
#if defined(__aarch64__)
    foreign.isa = DK_ISA_AVX2;
    const char *message = "instruction set Avx2 is not available on this CPU";
#else
    foreign.isa = DK_ISA_NEON;
    const char *message = "instruction set Neon is not available on this CPU";
#endif
    memcpy(b, a, sizeof b);
    CHECK_ERR(dk_forward_f32(&foreign, at(1, 3), x, a, NN, NULL), DK_ISA_UNAVAILABLE, message);
    CHECK_ERR(dk_dropout_check(&foreign), DK_ISA_UNAVAILABLE, message);
    CHECK(memcmp(a, b, sizeof a) == 0);
    foreign.isa = 77;
    CHECK_ERR(dk_dropout_check(&foreign), DK_INVALID_ARGUMENT, "unknown instruction set 77 (d->isa)");
}

/* One million elements: sequential, the global pool of 3 threads, pools
   of 2 and 3 threads per dk_dropout (no init), Auto with a small
   crossover; every ISA. The same bits. */
static void threads(void) {
    enum { NN = 1 << 20 };
    static float x[NN], a[NN], b[NN];
    for (int i = 0; i < NN; i++) x[i] = (float)(i % 1000) * 0.01f;
    dk_dropout seq;
    CHECK(dk_dropout_new(0.25, 11, DK_SCALING_INVERTED, &seq) == DK_OK);
    seq.threading = DK_THREADS_SEQUENTIAL;
    CHECK(dk_forward_f32(&seq, at(2, 77), x, a, NN, NULL) == DK_OK);
    dk_dropout variants[5];
    for (int i = 0; i < 5; i++) variants[i] = seq;
    variants[0].threading = DK_THREADS_PARALLEL; /* the global pool */
    variants[1].threading = DK_THREADS_PARALLEL;
    variants[1].threads = 2;
    variants[2].threading = DK_THREADS_PARALLEL;
    variants[2].threads = 3;
    variants[3].threading = DK_THREADS_AUTO;
    variants[3].threads = 2;
    variants[3].parallel_min = 4096;
    variants[4].threading = DK_THREADS_SEQUENTIAL;
    variants[4].threads = 2; /* sequential: the pool is not used */
    for (int i = 0; i < 5; i++) {
        memset(b, 0, sizeof b);
        CHECK(dk_dropout_check(&variants[i]) == DK_OK);
        CHECK(dk_forward_f32(&variants[i], at(2, 77), x, b, NN, NULL) == DK_OK);
        CHECK(memcmp(a, b, sizeof a) == 0);
        /* The backward and the mask too. */
        CHECK(dk_backward_f32(&variants[i], at(2, 77), x, b, NN, NULL) == DK_OK);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    dk_dropout many = seq;
    many.threads = DK_THREADS_MAX + 1;
    CHECK_ERR(dk_forward_f32(&many, at(2, 77), x, b, NN, NULL), DK_INVALID_ARGUMENT,
              "d->threads is 1025, above DK_THREADS_MAX (1024)");
}

/* Fixed cases, printed: rate 0.3, seed 7, stream 5, 100 elements at
   offset 4090 (values i * 0.25 - 3); fused rows of 10 with bias and
   residual; dbias; Classic inference; Monte-Carlo rows and their mean and
   variance. The typed calls and the generic entry give the same bits; in
   place equals out of place. */
#define OUTPUTS(T, SUF, FROM, DTYPE)                                          \
    static void outputs_##SUF(void) {                                         \
        dk_dropout d, c;                                                      \
        T x[100], y[100], z[100], b[10], r[100], dx[100], db[10], mc[300];    \
        T mean[100], var[100], g[300];                                        \
        for (int i = 0; i < 100; i++) x[i] = FROM((float)i * 0.25f - 3.0f);  \
        for (int i = 0; i < 100; i++) r[i] = FROM((float)(i % 7) * 0.5f);    \
        for (int i = 0; i < 10; i++) b[i] = FROM((float)i * 0.125f);         \
        CHECK(dk_dropout_new(0.3, 7, DK_SCALING_INVERTED, &d) == DK_OK);      \
        CHECK(dk_dropout_new(0.3, 7, DK_SCALING_CLASSIC, &c) == DK_OK);       \
        dk_site s = at(5, 4090);                                              \
        dk_tensor xt = t1(x, 100), gt = t1(g, 100);                           \
        CHECK(dk_forward_##SUF(&d, s, x, y, 100, NULL) == DK_OK);             \
        print_words(#SUF " forward", y, 100, sizeof(T));                      \
        CHECK(dk_forward(&d, s, DTYPE, &xt, &gt, NULL) == DK_OK);             \
        CHECK(memcmp(y, g, sizeof y) == 0);                                   \
        memcpy(z, x, sizeof z);                                               \
        CHECK(dk_forward_##SUF(&d, s, z, z, 100, NULL) == DK_OK);             \
        CHECK(memcmp(y, z, sizeof z) == 0);                                   \
        dk_options o = no_options();                                          \
        o.bias = b;                                                           \
        o.bias_len = 10;                                                      \
        o.residual = r;                                                       \
        o.residual_len = 100;                                                 \
        CHECK(dk_forward_##SUF(&d, s, x, y, 100, &o) == DK_OK);               \
        print_words(#SUF " fused", y, 100, sizeof(T));                        \
        CHECK(dk_forward(&d, s, DTYPE, &xt, &gt, &o) == DK_OK);               \
        CHECK(memcmp(y, g, sizeof y) == 0);                                   \
        dk_options bo = no_options();                                         \
        bo.dbias = db;                                                        \
        bo.dbias_len = 10;                                                    \
        CHECK(dk_backward_##SUF(&d, s, x, dx, 100, &bo) == DK_OK);            \
        print_words(#SUF " dbias", db, 10, sizeof(T));                        \
        bo.dbias = z;                                                         \
        CHECK(dk_backward(&d, s, DTYPE, &xt, &gt, &bo) == DK_OK);             \
        CHECK(memcmp(dx, g, sizeof dx) == 0 && memcmp(db, z, sizeof db) == 0); \
        CHECK(dk_inference_##SUF(&c, x, y, 100) == DK_OK);                    \
        print_words(#SUF " classic inference", y, 100, sizeof(T));            \
        CHECK(dk_inference(&c, DTYPE, &xt, &gt) == DK_OK);                    \
        CHECK(memcmp(y, g, sizeof y) == 0);                                   \
        CHECK(dk_mc_forward_##SUF(&d, at(9, 0), x, 100, mc, 3, NULL) == DK_OK); \
        print_words(#SUF " mc", mc, 300, sizeof(T));                          \
        CHECK(dk_mc_forward(&d, at(9, 0), DTYPE, &xt, g, 300, 3, NULL) == DK_OK); \
        CHECK(memcmp(mc, g, sizeof mc) == 0);                                 \
        CHECK(dk_mc_mean_var_##SUF(mc, 300, 100, mean, var) == DK_OK);        \
        print_words(#SUF " mean", mean, 100, sizeof(T));                      \
        print_words(#SUF " var", var, 100, sizeof(T));                        \
        CHECK(dk_mc_mean_var(DTYPE, mc, 300, 100, g, g + 100) == DK_OK);      \
        CHECK(memcmp(mean, g, sizeof mean) == 0 && memcmp(var, g + 100, sizeof var) == 0); \
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

OUTPUTS(float, f32, f32_from, DK_DTYPE_F32)
OUTPUTS(double, f64, f64_from, DK_DTYPE_F64)
OUTPUTS(uint16_t, f16, f16_from, DK_DTYPE_F16)
OUTPUTS(uint16_t, bf16, bf16_from, DK_DTYPE_BF16)

int main(void) {
    /* The global pool sized first, before any call could start it. */
    CHECK(dk_threads_init(3) == DK_OK);
    CHECK(dk_threads_init(3) == DK_THREADS_ALREADY_STARTED);
    CHECK(strncmp(dk_last_error(), "dk_threads_init: ", 17) == 0);
    known_answers();
    shapes();
    fused();
    errors();
    last_error_per_thread();
    isa();
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
