#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Install every Debian package that building, testing, the demo and the
# benchmark need. Idempotent: installs only what is missing, and runs
# `apt-get update` only when something is.
set -euo pipefail

# libclang-rt-dev: libFuzzer and the sanitizers' runtimes (tests/fuzz);
# llvm: llvm-profdata and llvm-cov for `make fuzz`.
PKGS=(
	# build
	make gcc libc6-dev pkg-config clang llvm libclang-rt-dev bpftool
	libbpf-dev libxdp-dev xdp-tools libelf-dev zlib1g-dev libzstd-dev
	libjansson-dev libcmocka-dev libmicrohttpd-dev libcurl4-openssl-dev libyaml-dev
	# run and test: netns, CNI reference plugins, traffic, real CNI clients
	# (podman here, containerd below)
	iproute2 ethtool iptables nftables util-linux procps kmod iputils-ping socat jq
	xxd curl containernetworking-plugins podman runc busybox-static
	# the xdpbench test checks its plot with xmllint; the deploy test reads
	# the Kubernetes manifests
	libxml2-utils python3-yaml
	# tests/k8s: the fake Kubernetes API server and its certificates
	python3 openssl
	# lint
	clang-format cppcheck shellcheck
)
# Wanted for one tool only, installed without recommends, their services
# kept from starting and disabled: prometheus for promtool (the metrics test
# lints /metrics with it); its server would listen on *:9090. containerd
# for its binaries: containerd.sh starts a containerd of its own, and the
# host's would serve /run/containerd.
TOOL_ONLY=(prometheus containerd)
# Wanted for a command that another package may provide as well, installed
# only when the command is missing: kubectl (the Kubernetes tests check
# tests/k8s/apiserver.py with it) also comes in Google's kubectl package,
# whose /usr/bin/kubectl would clash with Debian's.
COMMANDS=(kubectl:kubernetes-client)

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: run as root (apt-get install)" >&2
	exit 1
fi

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=() missing_tools=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
for p in "${TOOL_ONLY[@]}"; do
	installed "$p" || missing_tools+=("$p")
done
for p in "${COMMANDS[@]}"; do
	command -v "${p%%:*}" >/dev/null || installed "${p#*:}" || missing+=("${p#*:}")
done
if [ $((${#missing[@]} + ${#missing_tools[@]})) -eq 0 ]; then
	echo "deps.sh: all $((${#PKGS[@]} + ${#TOOL_ONLY[@]} + ${#COMMANDS[@]})) packages present"
	exit 0
fi
all=("${missing[@]}" "${missing_tools[@]}")
echo "deps.sh: installing ${all[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#missing_tools[@]} -gt 0 ]; then
	# policy-rc.d exit 101: maintainer scripts start no service.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get install -y -qq --no-install-recommends "${missing_tools[@]}" >/dev/null
	for p in "${missing_tools[@]}"; do
		systemctl disable --now "$p.service" >/dev/null 2>&1 || true
	done
fi
echo "deps.sh: done"
