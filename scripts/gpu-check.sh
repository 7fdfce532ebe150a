#!/usr/bin/env bash
# The GPU checks of cairn-train's CUDA device and of L3D's GPU paths, in one go, on a lent GPU
# machine (x86-64, NVIDIA driver 580 = CUDA 13, CUDA 13 libraries in the
# image's Python env under /opt/torch/.venv, no Rust):
#
#   scripts/gpu-check.sh --build   here: release binaries with `--features cuda`,
#                                  stripped and gzipped, into target/gpu-check/
#                                  (carried files must stay under 64 MiB in all)
#   scripts/gpu-check.sh --run     there (carry target/gpu-check): the CUDA
#                                  parity and capacity tests of cairn-train
#                                  and the L3D (DIP, MNN) parity tests, then
#                                  `cairn train bench --device cuda` for the
#                                  three schedules (and the CPU device for
#                                  comparison); everything goes to $OUT,
#                                  the digest to $OUT/summary.txt
#
# --run sizes, overridable: MODEL=gpt LAYERS=12 HIDDEN=768 SEQ=128 ROWS=8
# HEADS=12 MICROBATCHES=4 STEPS=4 SWAP_MEM=256MiB (naive, harmony)
# RESIDENT_MEM=4GiB. Each command is bounded by STEP_TIMEOUT seconds (240).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/gpu-check

build() {
  eval "$(scripts/cuda-setup.sh --link)"
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  cargo build --release -p cairn-nodes --features cuda
  local tests
  tests=$(cargo test --release -p cairn-train --features cuda --test cuda_parity --no-run --message-format=json |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m["target"]["name"] == "cuda_parity": print(m["executable"])')
  local l3d
  l3d=$(cargo test --release -p cairn-perception --features cuda --test cuda_parity --no-run --message-format=json |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m["target"]["name"] == "cuda_parity": print(m["executable"])')
  rm -rf "$BIN" && mkdir -p "$BIN"
  cp "$CARGO_TARGET_DIR/release/cairn" "$BIN/cairn"
  cp "$tests" "$BIN/cuda_parity"
  cp "$l3d" "$BIN/l3d_cuda_parity"
  pack
}

# Stripped, the two weigh ~62 + ~47 MiB (candle's embedded PTX); gzip -9
# brings them to ~17 + ~12 MiB.
pack() {
  strip "$BIN/cairn" "$BIN/cuda_parity" "$BIN/l3d_cuda_parity"
  ls -l "$BIN"
  gzip -9 -f "$BIN/cairn" "$BIN/cuda_parity" "$BIN/l3d_cuda_parity"
  ls -l "$BIN"
  local total
  total=$(du -cb "$BIN"/* | tail -n 1 | cut -f 1)
  echo "total $total B (limit 67108864 B)"
  [ "$total" -le 67108864 ] || { echo "error: the carried binaries exceed 64 MiB" >&2; exit 1; }
}

# The carried binaries, unpacked into a scratch folder; prints it.
unpack() {
  local dir
  dir=$(mktemp -d)
  for name in cairn cuda_parity l3d_cuda_parity; do
    gunzip -c "$BIN/$name.gz" >"$dir/$name"
    chmod +x "$dir/$name"
  done
  echo "$dir"
}

run() {
  local out=${OUT:-target/gpu-check-out}
  mkdir -p "$out"
  local summary=$out/summary.txt
  local python=${PYTHON:-/opt/torch/.venv/bin/python}
  local site
  site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  export LD_LIBRARY_PATH=$site/nvidia/cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  local limit=${STEP_TIMEOUT:-240}
  local bin
  bin=$(unpack)
  {
    echo "gpu-check $(date -u +%FT%TZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi failed"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ls "$site/nvidia/cu13/lib" | tr '\n' ' ' || echo "no CUDA 13 libraries in $site/nvidia/cu13/lib"
    echo
  } >"$summary"
  # Missing libraries show here rather than as a bare loader error.
  ldd "$bin/cuda_parity" | grep -E "not found|cuda|cublas|curand|nvrtc" >>"$summary" || true

  echo "== cuda_parity (20 steps; parity vs CPU resident, capacity)" >>"$summary"
  timeout "$limit" "$bin/cuda_parity" --test-threads 1 >"$out/cuda_parity.txt" 2>&1 && rc=0 || rc=$?
  grep -E "^test |skipping|worst|peak|test result" "$out/cuda_parity.txt" >>"$summary" || true
  echo "cuda_parity exit $rc" >>"$summary"

  echo "== l3d_cuda_parity (DIP network and MNN search on CUDA vs CPU)" >>"$summary"
  timeout "$limit" "$bin/l3d_cuda_parity" --test-threads 1 >"$out/l3d_cuda_parity.txt" 2>&1 && rc=0 || rc=$?
  grep -E "^test |skipping|DIP:|MNN:|test result" "$out/l3d_cuda_parity.txt" >>"$summary" || true
  echo "l3d_cuda_parity exit $rc" >>"$summary"

  local model=(--model "${MODEL:-gpt}" --layers "${LAYERS:-12}" --hidden "${HIDDEN:-768}" --seq "${SEQ:-128}"
    --rows "${ROWS:-8}" --heads "${HEADS:-12}" --microbatches "${MICROBATCHES:-4}" --json)
  echo "== cairn train bench ${model[*]}" >>"$summary"
  local steps=${STEPS:-4}
  # The CPU device for comparison, 2 steps (the first is not timed).
  for case in cuda:resident:"${RESIDENT_MEM:-4GiB}":$steps cuda:naive:"${SWAP_MEM:-256MiB}":$steps \
    cuda:harmony:"${SWAP_MEM:-256MiB}":$steps cpu:harmony:"${SWAP_MEM:-256MiB}":2; do
    IFS=: read -r device schedule mem steps_here <<<"$case"
    local file=$out/bench-$device-$schedule.json
    timeout "$limit" "$bin/cairn" train bench "${model[@]}" --device "$device" --schedule "$schedule" \
      --device-mem "$mem" --steps "$steps_here" >"$file" 2>"$out/bench-$device-$schedule.err" && rc=0 || rc=$?
    "$python" - "$file" "$device" "$schedule" "$rc" >>"$summary" <<'PY' || echo "$case: exit $rc (no JSON)" >>"$summary"
import json, sys
path, device, schedule, rc = sys.argv[1:]
r = json.load(open(path))
print(f"{device} {schedule}: exit {rc}, step {r['step_seconds']:.3f} s, {r['samples_per_second']:.1f} samples/s, "
      f"h2d {r['h2d_bytes']['total']} B, d2h {r['d2h_bytes']['total']} B, peak {r['peak_device_bytes']} B "
      f"of {r['device_mem_bytes']} B, busy {r['busy_seconds']}, loss {r['losses'][0]:.5f} -> {r['losses'][-1]:.5f}, "
      f"weights {r['weight_bytes']} B, packs {len(r['packs'])}")
PY
  done
  cat "$summary"
}

case "${1:-}" in
  --build) build ;;
  --pack) pack ;; # after a --build that stopped at the size check

  --run) run ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
