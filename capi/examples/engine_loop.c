/* An engine's training loop through dropout, in C, step after step:

   1. channel dropout (PyTorch dropout1d) on activations [BATCH, CHANNELS,
      LEN]: the forward pass writes its keep mask as bits (sized with
      dk_mask_len and dk_mask_words), the backward pass reads it back;
   2. a fused epilogue on rows of FEATURES: y = residual + dropout(x + bias),
      its mask kept as bytes, and the backward pass with the bias gradient
      (dbias) from those bytes;
   3. a call that fails, reported with dk_last_error()'s values.

   Every site comes from (layer, step) through dk_fold_in, so a rerun gives
   the same bits, whatever the threads.

   Build and run from the repository root (one line):
     cargo build --release -p dropkit-capi && cc -O2 -Icapi/include capi/examples/engine_loop.c target/release/libdropkit.a -lpthread -ldl -lm -o engine_loop && ./engine_loop
*/
#include "dropkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 8, CHANNELS = 16, LEN = 32, ROWS = 64, FEATURES = 48, STEPS = 3 };
enum { LAYER_CONV = 1, LAYER_MLP = 2 };

/* Prints the failed call's status and message; returns 1. */
static int fail(const char *what, dk_status s) {
    fprintf(stderr, "%s: %s (%s)\n", what, dk_last_error(), dk_status_str(s));
    return 1;
}

int main(void) {
    dk_dropout drop;
    dk_status s = dk_dropout_new(0.2, 2024, DK_SCALING_INVERTED, &drop);
    if (s != DK_OK) return fail("dk_dropout_new", s);
    drop.threads = 2; /* this operator's own pool of 2 threads: no init call */

    /* 1. Channel dropout with a stored bit mask. */
    size_t dims[3] = {BATCH, CHANNELS, LEN}, n = (size_t)BATCH * CHANNELS * LEN;
    dk_mask_shape channels = {DK_MASK_SHAPE_CHANNELS_FIRST, 0, NULL, 0, 0};
    size_t mask_elements = 0;
    s = dk_mask_len(&channels, 3, dims, &mask_elements);
    if (s != DK_OK) return fail("dk_mask_len", s);
    size_t words = dk_mask_words(mask_elements);
    uint64_t *bits = calloc(words, sizeof *bits);
    float *h = malloc(n * sizeof *h), *y = malloc(n * sizeof *y);
    float *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);

    /* 2. The fused epilogue with a stored byte mask. */
    size_t m = (size_t)ROWS * FEATURES;
    float *x = malloc(m * sizeof *x), *res = malloc(m * sizeof *res), *out = malloc(m * sizeof *out);
    float *g = malloc(m * sizeof *g), *gx = malloc(m * sizeof *gx);
    float bias[FEATURES], dbias[FEATURES];
    uint8_t *bytes = malloc(m);
    if (!bits || !h || !y || !dy || !dx || !x || !res || !out || !g || !gx || !bytes) return 1;
    for (size_t i = 0; i < n; i++) h[i] = 1.0f, dy[i] = 1.0f;
    for (size_t i = 0; i < m; i++) x[i] = (float)(i % 11) * 0.5f, res[i] = 1.0f, g[i] = 1.0f;
    for (int f = 0; f < FEATURES; f++) bias[f] = 0.5f;

    for (uint64_t step = 0; step < STEPS; step++) {
        dk_site conv = {dk_fold_in(LAYER_CONV, step), 0};
        dk_tensor ht = {h, n, 3, dims, NULL}, yt = {y, n, 3, dims, NULL};
        dk_options fwd;
        memset(&fwd, 0, sizeof fwd);
        fwd.shape = &channels;
        fwd.mask_kind = DK_MASK_BITS;
        fwd.mask = bits;
        fwd.mask_len = words;
        s = dk_forward(&drop, conv, DK_DTYPE_F32, &ht, &yt, &fwd);
        if (s != DK_OK) return fail("channel dropout forward", s);
        /* ... the rest of the network ... then the gradient, from the
           stored mask (the same options: forward writes, backward reads). */
        dk_tensor dyt = {dy, n, 3, dims, NULL}, dxt = {dx, n, 3, dims, NULL};
        s = dk_backward(&drop, conv, DK_DTYPE_F32, &dyt, &dxt, &fwd);
        if (s != DK_OK) return fail("channel dropout backward", s);
        size_t kept = 0;
        for (size_t c = 0; c < mask_elements; c++) kept += (bits[c / 64] >> (c % 64)) & 1;
        if (memcmp(dx, y, n * sizeof *dx) != 0) {
            fprintf(stderr, "step %llu: gradient and output disagree\n", (unsigned long long)step);
            return 1;
        }

        dk_site mlp = {dk_fold_in(LAYER_MLP, step), 0};
        dk_options fused;
        memset(&fused, 0, sizeof fused);
        fused.bias = bias;
        fused.bias_len = FEATURES;
        fused.residual = res;
        fused.residual_len = m;
        fused.mask_kind = DK_MASK_BYTES;
        fused.mask = bytes;
        fused.mask_len = m;
        s = dk_forward_f32(&drop, mlp, x, out, m, &fused);
        if (s != DK_OK) return fail("fused forward", s);
        dk_options back;
        memset(&back, 0, sizeof back);
        back.mask_kind = DK_MASK_BYTES;
        back.mask = bytes;
        back.mask_len = m;
        back.dbias = dbias;
        back.dbias_len = FEATURES;
        s = dk_backward_f32(&drop, mlp, g, gx, m, &back);
        if (s != DK_OK) return fail("fused backward", s);
        size_t kept_rows = 0;
        for (size_t i = 0; i < m; i++) kept_rows += bytes[i];
        printf("step %llu: channels kept %zu of %zu, fused elements kept %zu of %zu, dbias[0] %.2f\n",
               (unsigned long long)step, kept, mask_elements, kept_rows, m, (double)dbias[0]);
    }

    /* 3. A mask buffer one word short: refused with the sizes, nothing
       written. */
    dk_tensor ht = {h, n, 3, dims, NULL}, yt = {y, n, 3, dims, NULL};
    dk_options small;
    memset(&small, 0, sizeof small);
    small.shape = &channels;
    small.mask_kind = DK_MASK_BITS;
    small.mask = bits;
    small.mask_len = words - 1;
    s = dk_forward(&drop, (dk_site){0, 0}, DK_DTYPE_F32, &ht, &yt, &small);
    if (s != DK_SIZE) return 1;
    printf("refused as expected: %s: %s\n", dk_status_str(s), dk_last_error());

    printf("engine loop done: masks stored, read back, checked\n");
    free(bits), free(h), free(y), free(dy), free(dx);
    free(x), free(res), free(out), free(g), free(gx), free(bytes);
    return 0;
}
