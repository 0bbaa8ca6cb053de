#!/usr/bin/env bash
# Builds the C library of dropkit and installs it under a prefix:
#   PREFIX/include/dropkit.h
#   PREFIX/lib/libdropkit.so.X.Y.Z  (SONAME libdropkit.so.0.Y before 1.0)
#   PREFIX/lib/libdropkit.so.0.Y -> libdropkit.so.X.Y.Z, libdropkit.so -> libdropkit.so.0.Y
#   PREFIX/lib/libdropkit.a         (LTO, debug info stripped)
#   PREFIX/lib/pkgconfig/dropkit.pc
#
# Usage, from anywhere in the repository:
#   bash capi/install.sh /usr/local        # or any prefix; default /usr/local
# then build against it with
#   cc app.c $(pkg-config --cflags --libs dropkit)            # shared
#   cc app.c $(pkg-config --cflags --libs --static dropkit)   # with -static or the .a
# (with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a prefix pkg-config does not search).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
case $prefix in /*) ;; *) prefix="$PWD/$prefix" ;; esac

version=$(sed -n 's/^version = "\(.*\)"/\1/p' capi/Cargo.toml | head -n1)
IFS=. read -r major minor _ <<<"$version"
if [[ $major == 0 ]]; then soname="libdropkit.so.0.$minor"; else soname="libdropkit.so.$major"; fi

cargo build --profile capi-release -p dropkit-capi
out="${CARGO_TARGET_DIR:-target}/capi-release"

install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 capi/include/dropkit.h "$prefix/include/dropkit.h"
install -m 755 "$out/libdropkit.so" "$prefix/lib/libdropkit.so.$version"
ln -sfn "libdropkit.so.$version" "$prefix/lib/$soname"
ln -sfn "$soname" "$prefix/lib/libdropkit.so"
install -m 644 "$out/libdropkit.a" "$prefix/lib/libdropkit.a"
# Debug info is most of a Rust static library; the code stays.
strip --strip-debug "$prefix/lib/libdropkit.a"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" capi/dropkit.pc.in \
    >"$prefix/lib/pkgconfig/dropkit.pc"
echo "installed dropkit $version under $prefix:"
ls -l "$prefix/lib" "$prefix/include"
