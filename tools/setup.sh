#!/usr/bin/env bash
# Installs the Debian packages t5zero needs (only those missing), then configures and builds.
# Idempotent and quiet when there is nothing to do; works as root without a terminal (CI).
#
# Environment:
#   BUILD_DIR            build folder (default: build)
#   T5ZERO_CUDA_ARCHS    CUDA architectures to compile (default: CMake's 80;86;90)
#   T5ZERO_WERROR=1      warnings are errors (on automatically when CI is set)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}

packages=(g++ cmake ninja-build pkg-config make
          libopenmpi-dev openmpi-bin libsentencepiece-dev libsimdjson-dev doctest-dev libopenblas-dev)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake_args=(-S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release)
[[ -n "${T5ZERO_CUDA_ARCHS:-}" ]] && cmake_args+=("-DCMAKE_CUDA_ARCHITECTURES=$T5ZERO_CUDA_ARCHS")
if [[ -n "${CI:-}" || "${T5ZERO_WERROR:-0}" == 1 ]]; then cmake_args+=(-DT5ZERO_WERROR=ON); fi

mkdir -p "$build_dir"
cmake "${cmake_args[@]}" >"$build_dir/configure.log" 2>&1 || { cat "$build_dir/configure.log" >&2; exit 1; }
ninja -C "$build_dir" --quiet
