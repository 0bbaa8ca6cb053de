// A C++ program built against the installed library with pkg-config (CI
// runs it after `capi/install.sh`):
//   c++ -std=c++17 install_check.cpp $(pkg-config --cflags --libs dropkit)
// It runs a forward pass writing its bit mask, the backward pass from that
// mask and the regenerated one through the header's C API, and checks that
// each output is the input times 1/q or zero, that both gradients repeat
// the forward's mask, and that a bad call is refused with a message. Exit
// status 0 on success.
#include "dropkit.h"

#include <cstdio>
#include <cstring>
#include <vector>

int main() {
    dk_dropout drop;
    if (dk_dropout_new(0.25, 7, DK_SCALING_INVERTED, &drop) != DK_OK) return 1;
    const size_t n = 10000;
    std::vector<float> x(n), y(n), dx(n), dx2(n);
    std::vector<uint64_t> bits(dk_mask_words(n));
    for (size_t i = 0; i < n; ++i) x[i] = 1.0f + static_cast<float>(i % 7);
    const dk_site site = {3, 0};
    dk_options opt = {};
    opt.mask_kind = DK_MASK_BITS;
    opt.mask = bits.data();
    opt.mask_len = bits.size();
    if (dk_forward_f32(&drop, site, x.data(), y.data(), n, &opt) != DK_OK) return 2;
    if (dk_backward_f32(&drop, site, x.data(), dx.data(), n, &opt) != DK_OK) return 3;
    if (dk_backward_f32(&drop, site, x.data(), dx2.data(), n, nullptr) != DK_OK) return 3;
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
        const float want = x[i] * (1.0f / 0.75f);
        if (y[i] != 0.0f && y[i] != want) return 4;
        if (dx[i] != y[i] || dx2[i] != y[i]) return 5;
        if (((bits[i / 64] >> (i % 64)) & 1) != (y[i] != 0.0f)) return 5;
        kept += y[i] != 0.0f;
    }
    // About 7500 kept; far outside means a broken library.
    if (kept < 7000 || kept > 8000) return 6;
    // A bad rate is refused with a status and a message, nothing thrown.
    dk_dropout bad;
    if (dk_dropout_new(1.5, 0, DK_SCALING_INVERTED, &bad) != DK_INVALID_RATE) return 7;
    if (std::strstr(dk_last_error(), "1.5") == nullptr) return 8;
    std::printf("dropkit from C++: %zu of %zu kept\n", kept, n);
    return 0;
}
