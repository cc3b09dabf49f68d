#!/usr/bin/env bash
# Builds and runs the GEMM correctness tests. Baseline x86-64 flags only: the
# ISA-specific kernels enable their instructions per function, so one binary
# runs (and dispatches) on any x86-64 CPU. No -ffast-math: the tests rely on
# IEEE semantics (NaN propagation, bit-identical thread results).
# GEMM_BUILD_DIR puts the binary elsewhere (default: build/ next to this file).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${GEMM_BUILD_DIR:-$here/build}"
mkdir -p "$out"
CXX="${CXX:-g++}"
CXXFLAGS="${CXXFLAGS:--std=c++17 -O3 -Wall -Wextra}"
srcs=(gemm.cc cpu.cc ukernel_scalar.cc ukernel_avx2.cc ukernel_avx512.cc)
# shellcheck disable=SC2086
"$CXX" $CXXFLAGS -pthread -o "$out/test_gemm" "${srcs[@]/#/$here/}" "$here/test_gemm.cc"
# exec: a caller that times out and kills this process kills the harness.
exec "$out/test_gemm"
