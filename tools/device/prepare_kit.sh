#!/usr/bin/env bash
# Prepares build-kit/: the Debian packages t5zero needs beyond what a GPU machine with CUDA 13,
# cmake, ninja, a C++ compiler and PyTorch already has (Open MPI, sentencepiece, simdjson,
# doctest, OpenBLAS, pkgconf, and their runtime libraries), as .deb files. tools/device/check.sh
# unpacks them there into a prefix (dpkg -x, or Python where dpkg is missing) and points CMake
# at it; nothing is installed system-wide.
#
# Run on a machine with Debian 12's package lists (this project's development machines). The
# folder is ignored by git (/build*/) and regenerable: rerun this script. The device tool carries
# it only when asked, e.g. run(command="tools/device/check.sh $OUT", carry=["build-kit"]).
#
# The libraries need glibc >= 2.34 and libstdc++ >= GCC 11 (GLIBCXX_3.4.29) on the GPU machine.
#
# usage: tools/device/prepare_kit.sh [KIT_DIR]    (default: build-kit at the repository root)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kit=${1:-$root/build-kit}
# The working tree and the carried paths travel together under 64 MiB; leave room for the tree.
max_kit_bytes=$((40 * 1024 * 1024))

# Build-time packages (headers, CMake configs, pkg-config files, link symlinks) and the runtime
# libraries they need that a CUDA image may lack. Open MPI's network transports (UCX, libfabric,
# verbs, PSM) are left out: single-node runs use shared memory (check.sh sets the MCA choice).
packages=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libpmix2 libhwloc15
  libevent-core-2.1-7 libevent-pthreads-2.1-7 libudev1 libnuma1
  libsentencepiece-dev libsentencepiece0
  libsimdjson-dev libsimdjson14
  doctest-dev
  libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0
  pkgconf-bin libpkgconf3
)

command -v apt-get >/dev/null || { echo "prepare_kit: needs apt-get (a Debian machine)" >&2; exit 1; }
if ! apt-cache policy "${packages[0]}" 2>/dev/null | grep -q Candidate; then
  echo "prepare_kit: apt has no package lists; run 'apt-get update' first" >&2
  exit 1
fi

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"  # apt downloads as the _apt user when it can
(cd "$staging" && apt-get download -qq "${packages[@]}")

mkdir -p "$kit"
rm -rf "$kit/debs"
mkdir "$kit/debs"
mv "$staging"/*.deb "$kit/debs/"

# The manifest names every package and version; check.sh unpacks again when it changes.
{
  echo "# t5zero device kit: Debian packages unpacked by tools/device/check.sh"
  echo "# made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
  for deb in "$kit"/debs/*.deb; do
    printf '%s %s %s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" \
      "$(sha256sum "$deb" | cut -d' ' -f1)"
  done
} >"$kit/MANIFEST"

bytes=$(du -sb "$kit" | cut -f1)
count=$(ls "$kit"/debs/*.deb | wc -l)
echo "prepare_kit: $count packages, $((bytes / 1024 / 1024)) MiB in $kit"
if ((bytes > max_kit_bytes)); then
  echo "prepare_kit: the kit is larger than $((max_kit_bytes / 1024 / 1024)) MiB" >&2
  exit 1
fi
