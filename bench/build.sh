#!/usr/bin/env bash
# Compiles the benchmark's own eBPF programs (bench/bpf/*.bpf.c) into bench/tmp/<name>.o.
set -euo pipefail
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
mkdir -p tmp
arch_inc="/usr/include/$(uname -m)-linux-gnu"
for src in bpf/*.bpf.c; do
  obj="tmp/$(basename "$src" .bpf.c).o"
  if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ bpf/pcnb.h -nt "$obj" ]; then
    "$CLANG" -O2 -g -target bpf -Wall -Werror -I "$arch_inc" -c "$src" -o "$obj"
  fi
done
