#!/usr/bin/env bash
# The GPU check kit: one command, run from the repository root on a GPU machine, that builds the
# CUDA backend (Release, sm_90), runs the CUDA tests (ctest label "cuda") and the GPU benchmarks,
# and writes OUTDIR/results.json, OUTDIR/check.log and the GEMM benchmarks' JSON files (the
# training steps' JSON is inside results.json: the device tool brings back at most 8 files).
# Sized for 8 minutes on one H100.
#
# Benchmarks: bench_gemm (cuBLASLt TFLOP/s on FLAN-T5's GEMM shapes against the card's peak)
# beside torch.matmul; then one training step (forward, backward, AdamW; bf16 with fp32 masters;
# random init; 512 source / 128 target tokens; the largest power-of-two batch that fits) of
# flan-t5-base and flan-t5-xl, without and with activation checkpointing: `t5zero bench` first,
# then transformers + PyTorch (tools/bench/bench_step_torch.py) at the batch t5zero chose, and
# the ratio. Each run has a time cap and the budget's remainder; PyTorch's run is skipped when
# t5zero's took more than half its cap (an XL run cannot eat the budget).
#
#   tools/device/check.sh [--dry-run] OUTDIR
#
# On a machine without our Debian -dev packages it uses build-kit/ (tools/device/prepare_kit.sh
# makes it here; the device tool carries it with carry=["build-kit"]), unpacked into the build
# folder. A build folder left by an earlier run on the same machine is reused (ninja rebuilds
# what changed).
#
# Dry run (--dry-run, or automatically when no GPU is visible): every step runs; the CUDA tests
# and benchmarks must report "skipped: no CUDA device", which ctest counts as skipped, not passed.
# The training-step benchmark also runs on the CPU with the tiny t5-micro, ours and PyTorch's, so
# its whole path (flags, batch search, JSON, comparison, results.json) is exercised.
#
# Environment: BUILD_DIR (default build-device), KIT_DIR (default build-kit), CHECK_SECONDS (the
# whole run's budget, default 480), PYTHON (the Python with torch and transformers for the
# baselines, default python3).
set -uo pipefail

usage() {
  echo "usage: tools/device/check.sh [--dry-run] OUTDIR" >&2
  exit 2
}
dry_run=0
out=""
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    -h | --help) usage ;;
    -*) echo "check: unknown flag $arg" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out=$arg ;;
  esac
done
[[ -n "$out" ]] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=${BUILD_DIR:-$root/build-device}
kit=${KIT_DIR:-$root/build-kit}
budget=${CHECK_SECONDS:-480}
python=${PYTHON:-python3}
start=$(date +%s)
steps="$out/steps.tsv"
: >"$steps"
exec > >(tee "$out/check.log") 2>&1
tee_pid=$!

# Ends the run once tee has written the whole log (the device tool collects OUTDIR right after).
finish() {
  exec 1>&- 2>&-
  wait "$tee_pid" 2>/dev/null
  exit "$1"
}

# Seconds left of the budget, for the next step's timeout (at least 10).
remaining() {
  local left=$((budget - ($(date +%s) - start)))
  echo $((left > 10 ? left : 10))
}

# step NAME COMMAND...: runs and times a step, records ok/failed in steps.tsv.
step() {
  local name=$1
  shift
  echo "== $name: $*"
  local t0 status
  t0=$(date +%s.%N)
  "$@"
  status=$?
  local seconds
  seconds=$(python3 -c "print(round($(date +%s.%N) - $t0, 2))")
  if ((status == 0)); then
    printf '%s\tok\t%s\t\n' "$name" "$seconds" >>"$steps"
  else
    printf '%s\tfailed\t%s\texit %s\n' "$name" "$seconds" "$status" >>"$steps"
    echo "== $name failed (exit $status)"
  fi
  return $status
}

record() {  # record NAME STATUS DETAIL
  printf '%s\t%s\t0\t%s\n' "$1" "$2" "$3" >>"$steps"
}

echo "== t5zero GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
uname -a
(. /etc/os-release 2>/dev/null && echo "os: $PRETTY_NAME")
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvcc --version | tail -2
cmake --version | head -1
echo "ninja $(ninja --version)"
${CXX:-c++} --version | head -1
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null ||
  echo "torch: not importable"
"$python" -c 'import transformers; print("transformers", transformers.__version__)' 2>/dev/null ||
  echo "transformers: not importable"

# The card's dense bf16 peak in TFLOP/s, for MFU and bench_gemm (DESIGN.md §6, the anchors:
# H100 SXM and H200 989, H100 PCIe 756, A100 312); 989 when the name is not known.
card_peak_tflops() {
  local name
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  case "$name" in
    *H100*PCIe*) echo 756 ;;
    *A100*) echo 312 ;;
    *) echo 989 ;;
  esac
}

ckpt_tag() { [[ "$1" == true ]] && echo ckpt || echo no-ckpt; }

# The exit status of a benchmark as a steps.tsv entry: 0 ok, 77 skipped (the reason is the
# run's "skipped: ..." line in LOG), 124 timed out, else failed.
record_run() {  # record_run NAME STATUS SECONDS DETAIL LOG
  local name=$1 status=$2 seconds=$3 detail=$4 log=$5
  case "$status" in
    0) printf '%s\tok\t%s\t%s\n' "$name" "$seconds" "$detail" >>"$steps" ;;
    77) printf '%s\tskipped\t%s\t%s\n' "$name" "$seconds" \
      "$(sed -n 's/^skipped: //p' "$log" | head -1)" >>"$steps" ;;
    124) printf '%s\tfailed\t%s\t%s\n' "$name" "$seconds" "timed out after $seconds s" >>"$steps" ;;
    *) printf '%s\tfailed\t%s\t%s\n' "$name" "$seconds" "exit $status" >>"$steps" ;;
  esac
}

# step_pair DEVICE MODEL CHECKPOINTING CAP_SECONDS FLAGS...: `t5zero bench` then
# bench_step_torch.py on the batch t5zero chose (or PyTorch's own --batch_size auto when t5zero
# failed), each within CAP_SECONDS and the budget's remainder, then the comparison. The JSON
# files go to $step_dir; write_results.py copies them into results.json.
step_pair() {
  local device=$1 model=$2 ckpt=$3 cap=$4
  shift 4
  local tag name ours torch reserve=20 left limit t0 seconds status
  tag=$device-$model-$(ckpt_tag "$ckpt")
  name=bench-step-$tag
  ours=$step_dir/$tag-t5zero
  torch=$step_dir/$tag-torch
  left=$(($(remaining) - reserve))
  if ((left < 30)); then
    record "$name-t5zero" skipped "out of budget"
    record "$name-torch" skipped "out of budget"
    return
  fi
  limit=$((cap < left ? cap : left))
  echo "== $name-t5zero (cap $limit s)"
  t0=$(date +%s)
  timeout "$limit" "$build/tools/t5zero" bench --model_id "$model" --gradient_checkpointing "$ckpt" \
    "$@" --json "$ours.json" 2>&1 | tee "$ours.log"
  status=${PIPESTATUS[0]}
  seconds=$(($(date +%s) - t0))
  record_run "$name-t5zero" "$status" "$seconds" "" "$ours.log"
  if ((status == 77)); then
    record "$name-torch" skipped "$(sed -n 's/^skipped: //p' "$ours.log" | head -1)"
    return
  fi
  local torch_flags=("$@") detail=""
  if ((status == 0)); then
    step_jsons+=("$ours.json")
    local batch
    batch=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["batch_size"])' \
      "$ours.json")
    torch_flags+=(--batch_size "$batch")  # the last --batch_size wins
  else
    detail="batch from PyTorch's own search: t5zero did not run"
    torch_flags+=(--batch_size auto)
  fi
  left=$(($(remaining) - reserve))
  if ((seconds * 2 > cap)) || ((left < 30)); then
    record "$name-torch" skipped "out of budget (t5zero took $seconds s of its $cap s cap)"
    return
  fi
  limit=$((cap < left ? cap : left))
  echo "== $name-torch (cap $limit s)"
  t0=$(date +%s)
  timeout "$limit" "$python" -u "$root/tools/bench/bench_step_torch.py" --model_id "$model" \
    --gradient_checkpointing "$ckpt" "${torch_flags[@]}" --json "$torch.json" 2>&1 |
    tee "$torch.log"
  status=${PIPESTATUS[0]}
  seconds=$(($(date +%s) - t0))
  if ((status == 3)); then
    status=0
    detail="PyTorch ran out of memory at t5zero's batch"
  fi
  record_run "$name-torch" "$status" "$seconds" "$detail" "$torch.log"
  [[ -f "$torch.json" ]] && step_jsons+=("$torch.json")
  if [[ -f "$ours.json" && -f "$torch.json" ]]; then
    python3 "$root/tools/device/compare_steps.py" "$ours.json" "$torch.json"
  fi
}

# ---- mode ---------------------------------------------------------------------------------------
gpus=0
if command -v nvidia-smi >/dev/null; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true); fi
mode=gpu
if ((dry_run)) || ((gpus == 0)); then
  mode=dry-run
  export CUDA_VISIBLE_DEVICES=""  # a dry run on a GPU machine hides the GPU
fi
echo "== mode: $mode ($gpus GPU(s) visible to nvidia-smi)"

# ---- the kit ------------------------------------------------------------------------------------
cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DT5ZERO_CUDA=ON
  -DCMAKE_CUDA_ARCHITECTURES=90)
if [[ -d "$kit/debs" ]]; then
  prefix=$build/kit-prefix
  stamp=$(sha256sum "$kit/MANIFEST" | cut -d' ' -f1)
  unpack_kit() {
    rm -rf "$prefix"
    mkdir -p "$prefix"
    if command -v dpkg >/dev/null; then
      for deb in "$kit"/debs/*.deb; do dpkg -x "$deb" "$prefix" || return 1; done
    else
      python3 "$root/tools/device/unpack_debs.py" "$prefix" "$kit"/debs/*.deb || return 1
    fi
    # The links Debian's alternatives system would make at install time.
    local lib=$prefix/usr/lib/x86_64-linux-gnu
    ln -sf openblas-pthread/libopenblas.so "$lib/libopenblas.so"
    ln -sf openblas-pthread/libopenblas.so.0 "$lib/libopenblas.so.0"
    ln -sf orterun "$prefix/usr/bin/mpirun"
    echo "$stamp" >"$prefix/.stamp"
  }
  if [[ "$(cat "$prefix/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    if ! step unpack-kit unpack_kit; then
      python3 "$root/tools/device/write_results.py" "$out/results.json" "$mode" "$steps" /none
      finish 1
    fi
  else
    record unpack-kit ok "already unpacked"
  fi
  lib=$prefix/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH="$lib:$lib/openblas-pthread:$lib/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$prefix/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$prefix"
  # Keep -I/-L flags of the kit's /usr (pkgconf drops system dirs, which the sysroot makes ours).
  export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
  export OPAL_PREFIX="$prefix/usr"  # relocates Open MPI's mpirun and plugins into the kit
  export OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1 OMPI_MCA_mtl=^ofi,psm,psm2
  cmake_args+=(
    "-DCMAKE_PREFIX_PATH=$prefix/usr"
    "-DCMAKE_LIBRARY_PATH=$lib;$lib/openblas-pthread"
    "-DPKG_CONFIG_EXECUTABLE=$prefix/usr/bin/pkgconf"
    "-Dsimdjson_DIR=$lib/cmake/simdjson"
    "-Ddoctest_DIR=$prefix/usr/lib/cmake/doctest"
    "-DCBLAS_INCLUDE_DIR=$prefix/usr/include/x86_64-linux-gnu/openblas-pthread"
    # Libraries and headers given: FindMPI skips the compiler wrappers (whose paths are Debian's).
    "-DMPI_C_LIBRARIES=$lib/openmpi/lib/libmpi.so"
    "-DMPI_C_ADDITIONAL_INCLUDE_DIRS=$lib/openmpi/include;$lib/openmpi/include/openmpi"
    "-DMPIEXEC_EXECUTABLE=$prefix/usr/bin/mpirun")
  echo "== kit: $kit ($(grep -vc '^#' "$kit/MANIFEST") packages) unpacked in $prefix"
else
  echo "== kit: none at $kit; using the system's packages (tools/device/prepare_kit.sh makes one)"
fi

# ---- build --------------------------------------------------------------------------------------
# Every executable behind the ctest label "cuda": test_cuda_* and the MPI ones, mpi_test_cuda_*.
cuda_tests=$(cd tests && ls test_cuda_*.cpp mpi_test_cuda_*.cpp 2>/dev/null | sed 's/\.cpp$//' |
  tr '\n' ' ')
if ! step configure timeout "$(remaining)" cmake "${cmake_args[@]}"; then
  python3 "$root/tools/device/write_results.py" "$out/results.json" "$mode" "$steps" /none
  finish 1
fi
# shellcheck disable=SC2086
if ! step build timeout "$(remaining)" ninja -C "$build" -j "$(nproc)" $cuda_tests bench_gemm t5zero; then
  python3 "$root/tools/device/write_results.py" "$out/results.json" "$mode" "$steps" /none
  finish 1
fi

# ---- CUDA tests ---------------------------------------------------------------------------------
junit=$out/ctest-junit.xml
(cd "$build" && step cuda-tests timeout "$(remaining)" ctest -L cuda -V --timeout 300 \
  --output-junit "$junit")

# ---- benchmarks ---------------------------------------------------------------------------------
# GEMM throughput on FLAN-T5's shapes, then torch.matmul on the same shapes side by side.
bench_json=$out/bench_gemm.json
torch_json=$out/bench_gemm_torch.json
peak=$(card_peak_tflops)
timeout "$(remaining)" "$build/tools/bench_gemm" --json "$bench_json" --peak-tflops "$peak"
status=$?
if ((status == 77)); then
  record bench-gemm skipped "no CUDA device"
  record bench-gemm-torch skipped "no CUDA device"
elif ((status == 0)); then
  record bench-gemm ok ""
  timeout "$(remaining)" "$python" "$root/tools/device/bench_gemm_torch.py" "$bench_json" "$torch_json"
  status=$?
  if ((status == 0)); then
    record bench-gemm-torch ok ""
  elif ((status == 77)); then
    record bench-gemm-torch skipped "torch or its GPU unavailable"
  else
    record bench-gemm-torch failed "exit $status"
  fi
else
  record bench-gemm failed "exit $status"
fi
if [[ "$mode" == gpu ]] && ! grep -q $'^bench-gemm\tok' "$steps"; then
  record bench-gemm-expected failed "a GPU is visible but bench_gemm did not run"
fi

# One training step, ours then PyTorch's on the same batch: flan-t5-base and flan-t5-xl, without
# and with checkpointing (in a dry run these exit 77 at once: their command lines are still
# checked); a dry run first runs the same path on the CPU with t5-micro.
step_jsons=()
step_dir=$build/step-bench  # not OUTDIR: the device tool brings back at most 8 files
rm -rf "$step_dir"
mkdir -p "$step_dir"
if [[ "$mode" == dry-run ]]; then
  cpu=(--device cpu --bf16 true --source_length 16 --target_length 8 --steps 2 --warmup 1
    --threads 2)
  step_pair cpu t5-micro false 120 "${cpu[@]}" --batch_size auto --max_batch_size 2
  step_pair cpu t5-micro true 120 "${cpu[@]}" --batch_size 2
fi
gpu=(--device cuda --bf16 true --source_length 512 --target_length 128 --steps 3 --warmup 1
  --batch_size auto --peak_tflops "$peak")
step_pair cuda flan-t5-base false 90 "${gpu[@]}"
step_pair cuda flan-t5-base true 90 "${gpu[@]}"
step_pair cuda flan-t5-xl false 120 "${gpu[@]}"
step_pair cuda flan-t5-xl true 120 "${gpu[@]}"

echo "== finished in $(($(date +%s) - start)) s"
python3 "$root/tools/device/write_results.py" "$out/results.json" "$mode" "$steps" "$junit" \
  "$bench_json" "$torch_json" "${step_jsons[@]}"
finish $?
