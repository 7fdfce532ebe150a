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
# 3. --link only: a libcuda.so for linking (the driver API). It comes from the
#    system (ldconfig) when a driver is installed, else from Debian non-free
#    `libcuda1`, unpacked into DIR (run as root once, to add non-free to the
#    apt sources). `cargo check --features cuda` does not link and does not
#    need it; at run time the GPU machine's own driver is used.
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
STAMP=$DIR/.pins
if [ "$(cat "$STAMP" 2>/dev/null)" != "${PINS[*]}" ]; then
  echo "cuda-setup: pip install --target $DIR (${#PINS[@]} pinned CUDA 13 wheels, ~several GB unpacked)" >&2
  start=$(date +%s)
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --upgrade --target "$DIR" "${PINS[@]}" >&2
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

if [ "$LINK" = 1 ] && [ ! -e "$CU/lib/libcuda.so" ]; then
  driver=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
  if [ -z "$driver" ]; then
    # No driver here: unpack Debian non-free `libcuda1` into DIR (not
    # installed: its dependencies want a real driver) — enough to link.
    echo "cuda-setup: unpacking Debian non-free libcuda1 into $DIR/libcuda1 (link time only)" >&2
    if [ "$(id -u)" = 0 ] && ! apt-cache show libcuda1 >/dev/null 2>&1; then
      sed -i 's/^Components: main$/Components: main non-free/' /etc/apt/sources.list.d/debian.sources
      apt-get update -qq >&2
    fi
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -o APT::Sandbox::User=root libcuda1 >&2) || {
      echo "error: cannot download libcuda1; as root, add 'non-free' to the apt sources and rerun" >&2
      exit 1
    }
    dpkg-deb -x "$tmp"/libcuda1_*.deb "$DIR/libcuda1"
    rm -rf "$tmp"
    driver=$(find "$DIR/libcuda1" -name "libcuda.so.*" -type f | sort | head -n 1)
  fi
  [ -e "$driver" ] || { echo "error: no libcuda.so.1 to link against" >&2; exit 1; }
  ln -sfn "$driver" "$CU/lib/libcuda.so"
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
