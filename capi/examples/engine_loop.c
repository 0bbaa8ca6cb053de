/* An engine's training loop through dropout, in C: forward and backward on
   a batch, step after step, every mask regenerated from (seed, stream,
   offset), nothing stored between the passes.

   Build and run from the repository root (one line):
     cargo build --release -p dropkit-capi && cc -O2 -Icapi/include capi/examples/engine_loop.c target/release/libdropkit.a -lpthread -ldl -lm -o engine_loop && ./engine_loop
*/
#include "dropkit.h"

#include <stdio.h>
#include <stdlib.h>

enum { BATCH = 32, FEATURES = 256, LAYER = 3, STEPS = 5 };

int main(void) {
    dk_dropout drop;
    if (dk_dropout_new(0.1, 2024, DK_SCALING_INVERTED, &drop) != DK_OK) return 1;
    size_t n = (size_t)BATCH * FEATURES;
    float *h = malloc(n * sizeof *h), *y = malloc(n * sizeof *y);
    float *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);
    if (!h || !y || !dy || !dx) return 1;
    for (size_t i = 0; i < n; i++) h[i] = 1.0f, dy[i] = 1.0f;

    for (uint64_t step = 0; step < STEPS; step++) {
        uint64_t stream = dk_fold_in(dk_fold_in(LAYER, step), 0);
        /* Forward: the activations of the whole batch at offset 0. */
        dk_status s = dk_forward_f32(&drop, stream, 0, h, y, n);
        /* ... the rest of the network ... then the backward pass, two
           halves of the batch at their own offsets (as two threads or two
           ranks would): the same mask, regenerated. */
        if (s == DK_OK) s = dk_backward_f32(&drop, stream, 0, dy, dx, n / 2);
        if (s == DK_OK) s = dk_backward_f32(&drop, stream, n / 2, dy + n / 2, dx + n / 2, n - n / 2);
        if (s != DK_OK) {
            fprintf(stderr, "dropkit: %s\n", dk_status_str(s));
            return 1;
        }
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            if (dx[i] != y[i]) {
                fprintf(stderr, "step %llu: gradient and output disagree at %zu\n",
                        (unsigned long long)step, i);
                return 1;
            }
            kept += y[i] != 0.0f;
        }
        printf("step %llu: kept %zu of %zu (%.1f%%)\n", (unsigned long long)step, kept, n,
               100.0 * (double)kept / (double)n);
    }
    printf("backward regenerated every mask: no mask memory\n");
    free(h), free(y), free(dy), free(dx);
    return 0;
}
