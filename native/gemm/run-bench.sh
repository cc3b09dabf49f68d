#!/usr/bin/env bash
# Builds and runs the GEMM benchmark. Extra arguments go to bench_gemm
# (--quick, --isa scalar|avx2|avx512, --crossover, --kernel).
# If OpenBLAS is installed (Debian: libopenblas-dev) it is linked in and
# timed side by side with the same thread counts; GEMM_NO_OPENBLAS=1 skips it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${GEMM_BUILD_DIR:-$here/build}"
mkdir -p "$out"
CXX="${CXX:-g++}"
CXXFLAGS="${CXXFLAGS:--std=c++17 -O3 -Wall -Wextra}"
srcs=(gemm.cc cpu.cc ukernel_scalar.cc ukernel_avx2.cc ukernel_avx512.cc)
extra=()
if [[ "${GEMM_NO_OPENBLAS:-0}" != 1 ]] &&
   echo '#include <cblas.h>' | "$CXX" -x c++ -E - >/dev/null 2>&1; then
  extra=(-DMLPKIT_WITH_OPENBLAS -lopenblas)
fi
# shellcheck disable=SC2086
# peak.cc is the addon's FMA probe: the harness reports against the same yardstick.
# team.cc comes with it: the probe places its threads as a team's are.
"$CXX" $CXXFLAGS -pthread -I"$here/.." -o "$out/bench_gemm" "${srcs[@]/#/$here/}" "$here/../peak.cc" "$here/../team.cc" "$here/bench_gemm.cc" "${extra[@]}"
# OpenBLAS thread count is set per measurement; this only stops it from
# spawning a pool larger than the machine needs for the comparison.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-2}"
exec "$out/bench_gemm" "$@"
