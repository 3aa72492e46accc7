#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# install-cni: the zerohop DaemonSet's init container (installed in the
# image as /usr/lib/zerohop/install-cni).
#
# 1. /sys/fs/bpf must be the node's bpffs. The agent mounts it with
#    HostToContainer propagation (no privileged container), so it cannot
#    mount one that propagates back to the node: pins in a bpffs of the
#    container's own would be invisible to the CNI plugin, which the
#    runtime runs on the node, and lost with the container. Refuse, saying
#    how to fix it, rather than run like that.
# 2. Install the plugin into the node's CNI bin directory ($CNI_BIN_DIR):
#    copied to a temporary name in that directory, then renamed over the
#    old one, so a runtime starting the plugin meanwhile runs the old or
#    the new binary, never half of one. An identical binary is left alone.
# 3. The plugins the conflist chains or delegates to (host-local for IPAM,
#    portmap for hostPorts, loopback for runtimes that ask for it) are
#    installed the same way, but only where the node has none: a node's
#    own copies stay.
set -eu

: "${CNI_BIN_DIR:=/host/opt/cni/bin}"
: "${BPFFS:=/sys/fs/bpf}"
: "${SRC_DIR:=/usr/lib/zerohop/cni}"
PLUGIN=/opt/cni/bin/zerohop

say() { echo "install-cni: $*"; }
die() {
	echo "install-cni: $*" >&2
	exit 1
}

fstype=$(stat -f -c %T "$BPFFS" 2>/dev/null) || fstype="nothing"
if [ "$fstype" != bpf_fs ]; then
	die "$BPFFS on this node is $fstype, not a bpffs. Mount it on the node" \
		"(mount -t bpf bpf $BPFFS; for every boot, an fstab line" \
		"'bpf $BPFFS bpf defaults 0 0' or systemd's sys-fs-bpf.mount)," \
		"then delete this pod."
fi
say "$BPFFS is the node's bpffs"

[ -d "$CNI_BIN_DIR" ] || die "no directory $CNI_BIN_DIR (the node's /opt/cni/bin)"

tmp=""
cleanup() { [ -z "$tmp" ] || rm -f "$tmp"; }
trap cleanup EXIT
# What a run killed between mktemp and mv left (names only this makes).
for p in zerohop host-local portmap loopback; do
	rm -f "$CNI_BIN_DIR/.$p."??????
done

# install_one SRC NAME [missing]: SRC as $CNI_BIN_DIR/NAME, atomically;
# with "missing", only if there is no NAME yet.
install_one() {
	dst="$CNI_BIN_DIR/$2"
	if [ "${3:-}" = missing ] && [ -e "$dst" ]; then
		say "kept the node's $dst"
		return 0
	fi
	if [ -f "$dst" ] && cmp -s "$1" "$dst"; then
		say "$dst is up to date"
		return 0
	fi
	tmp=$(mktemp "$CNI_BIN_DIR/.$2.XXXXXX")
	cp "$1" "$tmp"
	chmod 0755 "$tmp"
	mv -f "$tmp" "$dst"
	tmp=""
	say "installed $dst"
}

[ -x "$PLUGIN" ] || die "no $PLUGIN in this image"
install_one "$PLUGIN" zerohop
for p in host-local portmap loopback; do
	[ -x "$SRC_DIR/$p" ] || die "no $SRC_DIR/$p in this image"
	install_one "$SRC_DIR/$p" "$p" missing
done
