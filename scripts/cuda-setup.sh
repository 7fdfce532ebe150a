#!/usr/bin/env bash
# CUDA 13 build tools for cairn's `cuda` feature, from PyPI, without root:
#
#   scripts/cuda-setup.sh [DIR] [--link]
#
# 1. `pip install --target DIR` of the CUDA 13 wheels, pinned together (nvcc,
#    nvvm and crt must match, or ptxas rejects the PTX; see DESIGN.md "GPU
#    build route"). DIR defaults to .cuda13 in the repository root (git-ignored).
#    Skipped when DIR already holds this exact pin set.
# 2. Unversioned symlinks in DIR/nvidia/cu13/lib (libcudart.so, libcublas.so,
#    …) so the linker finds the CUDA 13 libraries.
# 3. --link only: a libcuda.so for linking (the driver API): the installed
#    driver's, else a generated stub (needs a C compiler) whose entry points
#    all answer "no device". `cargo check --features cuda` does not link and
#    does not need it; at run time a GPU machine's own driver is used.
#
# Then it prints the environment to export. candle-kernels' build script runs
# nvcc even for `cargo check`, so the exports are needed for check too:
#
#   eval "$(scripts/cuda-setup.sh)"
#   cargo check -p cairn-train --features cuda
#
# Everything but the final `export` lines goes to stderr. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=.cuda13
LINK=0
for arg in "$@"; do
  case "$arg" in
    --link) LINK=1 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    -*) echo "error: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) DIR=$arg ;;
  esac
done
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CU=$DIR/nvidia/cu13

# The pin set (DESIGN.md): change all of them together or none.
PINS=(
  nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.96 nvidia-cublas==13.0.2.14 nvidia-curand==10.4.5.25
  nvidia-cuda-cccl==13.0.85 nvidia-cuda-nvrtc==13.0.88
)
# pip --target skips the externally-managed check; the project venv when it exists.
PY=${PYTHON:-python3}
[ -n "${PYTHON:-}" ] || [ ! -x .venv/bin/python ] || PY=.venv/bin/python
STAMP=$DIR/.pins
if [ "$(cat "$STAMP" 2>/dev/null)" != "${PINS[*]}" ]; then
  echo "cuda-setup: pip install --target $DIR (${#PINS[@]} pinned CUDA 13 wheels, ~several GB unpacked)" >&2
  start=$(date +%s)
  "$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --upgrade --target "$DIR" "${PINS[@]}" >&2
  echo "${PINS[*]}" >"$STAMP"
  echo "cuda-setup: installed in $(($(date +%s) - start)) s" >&2
else
  echo "cuda-setup: $DIR already holds the pinned wheels" >&2
fi
[ -x "$CU/bin/nvcc" ] || { echo "error: $CU/bin/nvcc missing after install" >&2; exit 1; }

# Unversioned names for the linker (the wheels ship only lib*.so.13 etc.).
for lib in cudart cublas cublasLt nvrtc curand; do
  versioned=$(cd "$CU/lib" && ls "lib$lib.so."* 2>/dev/null | sort | head -n 1)
  [ -n "$versioned" ] || { echo "error: no lib$lib.so.* in $CU/lib" >&2; exit 1; }
  ln -sfn "$versioned" "$CU/lib/lib$lib.so"
done

if [ "$LINK" = 1 ]; then
  driver=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
  if [ -n "$driver" ]; then
    ln -sfn "$driver" "$CU/lib/libcuda.so"
  else
    # No driver here: a stub libcuda.so.1 (as NVIDIA's toolkit ships in
    # lib64/stubs) with every driver entry point cudarc declares, each
    # returning CUDA_ERROR_NO_DEVICE (100). Enough to link, and binaries
    # linked here start and report "no GPU"; a GPU machine's driver is used
    # there. (Debian's libcuda1 is the 535 driver: it lacks CUDA 13 entry
    # points such as cuEventElapsedTime_v2.)
    sys=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.10/src/driver/sys/mod.rs 2>/dev/null | head -n 1)
    [ -n "$sys" ] || { cargo fetch >&2; sys=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.10/src/driver/sys/mod.rs | head -n 1); }
    mkdir -p "$DIR/stub"
    grep -oE 'fn cu[A-Za-z0-9_]+\(' "$sys" | sed -E 's/^fn (cu[A-Za-z0-9_]+)\($/int \1(void) { return 100; }/' |
      sort -u >"$DIR/stub/libcuda.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$DIR/stub/libcuda.so.1" "$DIR/stub/libcuda.c"
    ln -sfn libcuda.so.1 "$DIR/stub/libcuda.so"
    ln -sfn "$DIR/stub/libcuda.so.1" "$CU/lib/libcuda.so"
  fi
fi

cat <<EOF
export CUDA_ROOT=$CU
export PATH=$CU/bin:\$PATH
export CUDA_COMPUTE_CAP=\${CUDA_COMPUTE_CAP:-90}
export LIBRARY_PATH=$CU/lib\${LIBRARY_PATH:+:\$LIBRARY_PATH}
EOF
if [ "$LINK" = 1 ]; then
  # So binaries linked here start (a GPU machine has its own libcuda.so.1).
  echo "export LD_LIBRARY_PATH=$CU/lib:$(dirname "$(readlink -f "$CU/lib/libcuda.so")")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
fi
