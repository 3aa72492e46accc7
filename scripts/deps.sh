#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Install every Debian package that building, testing, the demo and the
# benchmark need. Idempotent: installs only what is missing, and runs
# `apt-get update` only when something is.
set -euo pipefail

PKGS=(
	# build
	make gcc libc6-dev pkg-config clang llvm bpftool
	libbpf-dev libxdp-dev xdp-tools libelf-dev zlib1g-dev libzstd-dev
	libjansson-dev libcmocka-dev
	# run and test: netns, CNI reference plugins, traffic, a real CNI client
	iproute2 iptables util-linux procps kmod iputils-ping socat jq xxd
	containernetworking-plugins podman runc busybox-static
	# lint
	clang-format cppcheck shellcheck
)

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: run as root (apt-get install)" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps.sh: all ${#PKGS[@]} packages present"
	exit 0
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "deps.sh: done"
