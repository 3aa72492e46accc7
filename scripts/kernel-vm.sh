#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Run a command on another kernel: Debian's own kernel package (6.1 on
# Debian 12), booted under qemu with the host's filesystem as its root.
#
# Why: zerohop probes kernel features (tcx, bpf_xdp_adjust_meta, ...) and the
# host's kernel takes only one side of each branch. A stock Debian kernel takes
# the other sides, for real, with the binaries already built on the host.
#
# How:
#  - The kernel package is fetched with `apt-get download` and unpacked with
#    `dpkg -x` into a cache (never installed: that would run the host's
#    grub/initramfs hooks); `depmod -b` indexes its modules there.
#  - A small initramfs (busybox-static plus the virtio/9p/overlay modules) is
#    built per run. Its /init mounts the host's / (9p, read-only) as the lower
#    layer of an overlayfs whose upper layer is a tmpfs, so the guest can write
#    anywhere (/etc/cni, /var, /tmp, build outputs) and the host never sees it.
#    --rw DIR shares DIR read-write instead, for outputs that must survive.
#  - /init switch_roots into that overlay, where PID 1 mounts /dev, /proc,
#    /sys, bpffs, cgroup2, debugfs/tracefs and /run, brings lo up, binds the
#    package's /lib/modules into place (so the host's modprobe, and the
#    kernel's module autoloading, find them), preloads the networking modules
#    the tests use, runs COMMAND as root in the caller's directory, prints
#    "ZH_VM_EXIT:<nonce>=<rc>" on the serial console and powers off.
#  - This side streams the console: boot noise goes to a log (shown on
#    failure or with --verbose), the command's output to stdout, and the
#    marker becomes our exit status.
set -euo pipefail

PROG=kernel-vm.sh
CACHE=${ZH_KVM_CACHE:-/var/cache/zerohop-kvm}
KPKG=""
MEM=4G
CPUS=2
TIMEOUT=1800
ACCEL=auto
VERBOSE=0
RW_DIRS=()
ENV_VARS=()
EXTRA_MODS=()
# Loaded before the command runs. Anything else is autoloaded on demand by
# the kernel (PID 1 runs in the overlay root, so its /sbin/modprobe is the
# host's and /lib/modules is the package's). The legacy iptables modules are
# left out on purpose: once loaded, iptables-nft warns about legacy tables.
PRELOAD_MODS=(
	veth vxlan tun bridge dummy macvlan ipvlan
	sch_ingress cls_bpf act_bpf
	nf_tables nft_compat nft_chain_nat nft_ct nft_nat nft_masq nf_conntrack nf_nat
	xt_conntrack xt_MASQUERADE xt_comment xt_mark xt_addrtype xt_nat xt_tcpudp
	xt_multiport
)
# Needed in the initramfs, before the root exists.
INITRD_MODS=(virtio_pci 9pnet_virtio 9p overlay)
# Seconds a KVM boot may take to reach /init before KVM counts as unusable.
KVM_PROBE_SECS=30

usage() {
	cat <<EOF
Usage: scripts/$PROG [OPTIONS] -- COMMAND [ARG...]

Boot a Debian kernel package under qemu-system-x86_64 with the host's / as a
copy-on-write root (9p read-only + tmpfs overlay) and run COMMAND there as
root, in the current directory. COMMAND's output is streamed to stdout and
its exit status is ours.

Options:
  --kernel-pkg PKG  kernel package (default: what linux-image-amd64 depends
                    on, e.g. linux-image-6.1.0-57-amd64)
  --mem SIZE        guest memory, qemu syntax (default $MEM); the tmpfs
                    upper layer lives in it
  --cpus N          guest vCPUs (default $CPUS)
  --timeout SECS    kill the VM after SECS seconds, boot included (default
                    $TIMEOUT)
  --accel MODE      auto|kvm|tcg (default auto: KVM if /dev/kvm boots this
                    kernel, checked once and cached; else TCG, much slower)
  --rw DIR          share DIR read-write with the guest (repeatable); by
                    default every guest write lands in a throw-away tmpfs
  --env NAME[=VAL]  set NAME in COMMAND's environment, from the host's value
                    if no VAL (repeatable); COMMAND otherwise gets a minimal
                    root environment (PATH, HOME, TERM=dumb, LANG=C.UTF-8)
  --modules M,M     also modprobe these before COMMAND
  --verbose         show the guest's boot output on stderr
  -h, --help        this text

Exit status: COMMAND's; 124 on timeout; 125 if the VM failed to boot or died
without reporting COMMAND's status; 2 on bad usage.
Cache: $CACHE (ZH_KVM_CACHE overrides); rm -rf it to start over.
Example: scripts/$PROG -- build/tests/test_bpf_fwd
EOF
}

die() {
	echo "$PROG: $*" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--kernel-pkg) KPKG=${2:?--kernel-pkg needs a value}; shift 2 ;;
	--mem) MEM=${2:?--mem needs a value}; shift 2 ;;
	--cpus) CPUS=${2:?--cpus needs a value}; shift 2 ;;
	--timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
	--accel) ACCEL=${2:?--accel needs a value}; shift 2 ;;
	--rw) RW_DIRS+=("${2:?--rw needs a value}"); shift 2 ;;
	--env) ENV_VARS+=("${2:?--env needs a value}"); shift 2 ;;
	--modules)
		IFS=, read -r -a _m <<<"${2:?--modules needs a value}"
		EXTRA_MODS+=("${_m[@]}")
		shift 2
		;;
	--verbose) VERBOSE=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "no COMMAND given (see --help)"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds"
[[ $CPUS =~ ^[0-9]+$ ]] || die "--cpus wants a number"
case $ACCEL in auto | kvm | tcg) ;; *) die "--accel wants auto, kvm or tcg" ;; esac
[ "$(id -u)" = 0 ] || die "run as root (the cache lives in $CACHE; qemu opens /dev/kvm)"

log() {
	echo "$PROG: $*" >&2
}

# --- host tools ---------------------------------------------------------------
# Installed on first use, like scripts/deps.sh does: a machine may come without
# them. --no-install-recommends keeps qemu from pulling a desktop's worth.
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
# The initramfs needs a static busybox: the dynamic one would need its libc.
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
	need_pkgs+=(busybox-static)
fi
command -v depmod >/dev/null || need_pkgs+=(kmod)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${need_pkgs[@]}" >&2
fi
BUSYBOX=/bin/busybox

mkdir -p "$CACHE"
# One lock for the cache: two runs may start at once (e.g. in CI).
exec {lockfd}>"$CACHE/.lock"

# --- kernel package -----------------------------------------------------------
if [ -z "$KPKG" ]; then
	# What the metapackage points at today; fall back to the newest cached
	# kernel when apt has no lists (no `apt-get update` yet) or no network.
	KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
	if [ -z "$KPKG" ]; then
		KPKG=$(find "$CACHE" -maxdepth 1 -name 'linux-image-*' -printf '%f\n' 2>/dev/null |
			sort -V | tail -n 1)
	fi
	[ -n "$KPKG" ] || die "cannot tell which kernel: run 'apt-get update' or pass --kernel-pkg"
fi
[[ $KPKG =~ ^linux-image-([0-9][A-Za-z0-9.+-]*)$ ]] || die "not a kernel package name: $KPKG"
KVER=${BASH_REMATCH[1]}
# The -unsigned package holds the same files; accept either name.
KVER=${KVER%-unsigned}
KDIR=$CACHE/$KPKG
KROOT=$KDIR/root
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
MODDIR=$KROOT/lib/modules/$KVER

flock "$lockfd"
if [ ! -e "$KDIR/ok" ]; then
	log "fetching $KPKG (apt-get download + dpkg -x into $KDIR)"
	rm -rf "$KDIR"
	mkdir -p "$KDIR/dl"
	# apt drops to the _apt user for downloads and warns when it cannot
	# write the directory; the directory is root's, so keep root.
	if ! (cd "$KDIR/dl" && apt-get download -q -o APT::Sandbox::User=root "$KPKG" >&2); then
		rm -rf "$KDIR"
		die "apt-get download $KPKG failed (apt-get update? right package name?)"
	fi
	dpkg -x "$KDIR"/dl/*.deb "$KROOT"
	rm -rf "$KDIR/dl"
	[ -f "$VMLINUZ" ] || die "$KPKG has no $VMLINUZ"
	# The package leaves modules.dep to its postinst, which we skip.
	depmod -b "$KROOT" "$KVER"
	touch "$KDIR/ok"
fi
flock -u "$lockfd"

# --- per-run files ----------------------------------------------------------
TMP=$(mktemp -d /tmp/zh-kvm.XXXXXX)
QPID=""
cleanup() {
	# Only our own qemu, by pid; the timeout wrapper normally got it already.
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted; stopping the VM"; exit 130' INT
trap 'log "terminated; stopping the VM"; exit 143' TERM

NONCE=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
IRD=$TMP/initrd
mkdir -p "$IRD/bin" "$IRD/zh/mod"
cp "$BUSYBOX" "$IRD/bin/busybox"

# Modules for the initramfs, dependencies first, each once.
: >"$IRD/zh/modules"
while read -r verb path _; do
	[ "$verb" = insmod ] || continue
	base=${path##*/}
	grep -qxF "$base" "$IRD/zh/modules" && continue
	cp "$path" "$IRD/zh/mod/$base"
	echo "$base" >>"$IRD/zh/modules"
done < <(for m in "${INITRD_MODS[@]}"; do
	modprobe -d "$KROOT" -S "$KVER" --show-depends "$m"
done)

echo "$NONCE" >"$IRD/zh/nonce"
echo "$KVER" >"$IRD/zh/kver"
echo "${MODDIR#/}" >"$IRD/zh/moddir"
printf '%s\n' "${PRELOAD_MODS[@]}" "${EXTRA_MODS[@]}" >"$IRD/zh/preload"

# 9p mount tags for --rw directories, "tag path" per line.
: >"$IRD/zh/rw"
VIRTFS=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
i=0
for d in "${RW_DIRS[@]}"; do
	d=$(realpath -e -- "$d") || die "--rw $d: no such directory"
	[ -d "$d" ] || die "--rw $d: not a directory"
	[[ $d != *,* ]] || die "--rw $d: qemu cannot take a comma in a path"
	VIRTFS+=(-virtfs "local,path=$d,mount_tag=zhrw$i,security_model=none,multidevs=remap")
	echo "zhrw$i $d" >>"$IRD/zh/rw"
	i=$((i + 1))
done

# COMMAND as a bash script: the caller's directory, the environment we were
# asked to pass, then the command, every word quoted by printf %q.
{
	echo '#!/bin/bash'
	printf 'cd -- %q || exit 127\n' "$PWD"
	for e in "${ENV_VARS[@]}"; do
		name=${e%%=*}
		[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env $e: bad name"
		if [[ $e == *=* ]]; then
			val=${e#*=}
		else
			val=${!name-}
		fi
		printf 'export %s=%q\n' "$name" "$val"
	done
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$IRD/zh/cmd"

# Stage 1, PID 1 in the initramfs: mount the root and switch into it.
cat >"$IRD/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
nonce=$(cat /zh/nonce)
fail() {
	echo "ZH_VM_BOOT_FAIL:$nonce $*"
	sync
	poweroff -f
}
mkdir -p /proc /sys /dev /lower /rw /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
if grep -qw zh.probe /proc/cmdline; then
	# The KVM check: reaching here is all it asks.
	echo "ZH_VM_PROBE_OK"
	poweroff -f
fi
while read -r m; do
	insmod "/zh/mod/$m" || fail "insmod $m"
done </zh/modules
# 9p: a large msize makes each round trip carry more; cache=loose lets the
# guest keep pages of a root nobody writes while it runs.
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts,cache=loose,ro" hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755,size=90% zh-upper /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work \
	zh-root /newroot || fail "mount overlay"
while read -r tag path; do
	mount -t 9p -o "$opts,cache=mmap" "$tag" "/newroot$path" || fail "mount 9p $path"
done </zh/rw
# The kernel package's modules where modprobe looks for them.
kver=$(cat /zh/kver)
mkdir -p "/newroot/lib/modules/$kver"
mount --bind "/lower/$(cat /zh/moddir)" "/newroot/lib/modules/$kver" ||
	fail "bind /lib/modules"
# Its config too, where bpftool feature probe and friends look.
mkdir -p /newroot/boot
cp "/lower/$(cat /zh/moddir)/../../../boot/config-$kver" /newroot/boot/ ||
	fail "copy kernel config"
mkdir -p /newroot/.zh-vm
cp /bin/busybox /zh/nonce /zh/preload /zh/cmd /zh/stage2 /newroot/.zh-vm/ ||
	fail "copy stage2"
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d" || fail "move /$d"
done
exec switch_root /newroot /.zh-vm/busybox sh /.zh-vm/stage2
EOF
chmod 0755 "$IRD/init"

# Stage 2, PID 1 in the overlay root. Busybox, not the host's tools, so the
# only dependence on the host's userland is COMMAND itself.
cat >"$IRD/zh/stage2" <<'EOF'
Z=/.zh-vm
bb=$Z/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
nonce=$($bb cat $Z/nonce)
fail() {
	echo "ZH_VM_BOOT_FAIL:$nonce $*"
	$bb sync
	$bb poweroff -f
}
m() {
	$bb mkdir -p "$4"
	$bb mount -t "$1" -o "$2" "$3" "$4" || fail "mount $1 on $4"
}
m devpts newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
$bb ln -sf pts/ptmx /dev/ptmx
m tmpfs mode=1777 shm /dev/shm
# devtmpfs has no /dev/fd & co; bash's <(...) needs them.
$bb ln -sf /proc/self/fd /dev/fd
$bb ln -sf /proc/self/fd/0 /dev/stdin
$bb ln -sf /proc/self/fd/1 /dev/stdout
$bb ln -sf /proc/self/fd/2 /dev/stderr
# A fresh /run: the host's holds its own netns, pid files and podman state.
m tmpfs mode=0755 run /run
$bb mkdir -p /run/netns /run/lock
# A fresh /tmp too: the host's leftovers would collide with the guest's
# small pids (/tmp/xb<pid>.*), and files in an overlay over 9p report
# another st_dev than their directory (nftw's FTW_MOUNT skips them).
m tmpfs mode=1777 tmp /tmp
m bpf mode=0700 bpffs /sys/fs/bpf
m cgroup2 nsdelegate cgroup2 /sys/fs/cgroup
m debugfs mode=0700 debugfs /sys/kernel/debug
m tracefs mode=0700 tracefs /sys/kernel/tracing
$bb hostname zh-vm
$bb ip link set lo up || fail "lo up"
for mod in $($bb cat $Z/preload); do
	/sbin/modprobe -q "$mod" || echo "zh-vm: modprobe $mod failed"
done
echo "ZH_VM_START:$nonce"
$bb env -i PATH="$PATH" HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
	TERM=dumb LANG=C.UTF-8 /bin/bash $Z/cmd </dev/null
rc=$?
echo
echo "ZH_VM_EXIT:$nonce=$rc"
$bb sync
$bb poweroff -f
EOF

(cd "$IRD" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) >"$TMP/initrd.cpio"

# --- accelerator ----------------------------------------------------------
QEMU_BASE=(
	qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
	-display none -monitor none -serial stdio
	-m "$MEM" -smp "$CPUS"
	-kernel "$VMLINUZ" -initrd "$TMP/initrd.cpio"
)
# quiet: only errors and worse reach the console (and so our stdout).
# mitigations=off: nothing in the guest to protect, and TCG pays for each one.
APPEND="console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off"

kvm_works() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	# Cached per host kernel, qemu and guest kernel: the answer changes only
	# with one of them.
	local key stamp
	key="$(uname -r)_$(qemu-system-x86_64 --version | awk 'NR==1{print $4}')"
	stamp=$KDIR/kvm-probe.$key
	if [ ! -e "$stamp" ]; then
		log "checking whether KVM boots $KVER (once, up to ${KVM_PROBE_SECS}s)"
		if timeout -k 5 "$KVM_PROBE_SECS" "${QEMU_BASE[@]}" -enable-kvm -cpu host \
			-append "$APPEND zh.probe" </dev/null 2>/dev/null |
			grep -q ZH_VM_PROBE_OK; then
			echo ok >"$stamp"
		else
			echo no >"$stamp"
		fi
	fi
	[ "$(cat "$stamp")" = ok ]
}

case $ACCEL in
kvm) ACCEL_ARGS=(-enable-kvm -cpu host) ACCEL_NAME=kvm ;;
tcg) ACCEL_ARGS=(-accel "tcg,thread=multi" -cpu max) ACCEL_NAME=tcg ;;
auto)
	if kvm_works; then
		ACCEL_ARGS=(-enable-kvm -cpu host) ACCEL_NAME=kvm
	else
		# Seen on hosts whose /dev/kvm is a paravirtual (nested) KVM that
		# runs only kernels built for it: the stock kernel hangs at once.
		log "warning: KVM cannot boot this kernel here (no /dev/kvm, or it hangs);"
		log "warning: using TCG software emulation, expect everything to be ~10-50x slower"
		ACCEL_ARGS=(-accel "tcg,thread=multi" -cpu max) ACCEL_NAME=tcg
	fi
	;;
esac

# --- run --------------------------------------------------------------------
BOOTLOG=$TMP/boot.log
: >"$BOOTLOG"
start=$(date +%s)
rc=""
failmsg=""
state=boot
pending_blank=0

# qemu in a process substitution, so this loop runs in our shell and can
# keep its state; `timeout` bounds the whole VM, boot included.
exec {qout}< <(exec timeout -k 10 "$TIMEOUT" "${QEMU_BASE[@]}" "${ACCEL_ARGS[@]}" \
	-append "$APPEND" "${VIRTFS[@]}" </dev/null 2>"$TMP/qemu.err")
QPID=$!
while IFS= read -r line <&"$qout" || [ -n "$line" ]; do
	line=${line%$'\r'}
	case $state in
	boot)
		if [ "$line" = "ZH_VM_START:$NONCE" ]; then
			state=run
			log "booted $KVER in $(($(date +%s) - start))s ($ACCEL_NAME); running: $*"
			run_start=$(date +%s)
			continue
		fi
		echo "$line" >>"$BOOTLOG"
		[ "$VERBOSE" = 0 ] || echo "$line" >&2
		case $line in
		"ZH_VM_BOOT_FAIL:$NONCE "*)
			failmsg=${line#* }
			state=over
			;;
		esac
		;;
	run)
		if [[ $line =~ ZH_VM_EXIT:$NONCE=([0-9]+)$ ]]; then
			# stage2 put a newline before the marker: drop it if it made
			# a blank line, keep anything the command left unterminated.
			prefix=${line%ZH_VM_EXIT:*}
			if [ -n "$prefix" ]; then
				printf '%s' "$prefix"
			elif [ "$pending_blank" -gt 0 ]; then
				pending_blank=$((pending_blank - 1))
			fi
			while [ "$pending_blank" -gt 0 ]; do
				echo
				pending_blank=$((pending_blank - 1))
			done
			rc=${BASH_REMATCH[1]}
			state=over
			continue
		fi
		# A blank line is held back until we know it is not stage2's.
		if [ -z "$line" ]; then
			pending_blank=$((pending_blank + 1))
			continue
		fi
		while [ "$pending_blank" -gt 0 ]; do
			echo
			pending_blank=$((pending_blank - 1))
		done
		printf '%s\n' "$line"
		;;
	over)
		# The power-off messages.
		echo "$line" >>"$BOOTLOG"
		;;
	esac
done
while [ "$pending_blank" -gt 0 ]; do
	echo
	pending_blank=$((pending_blank - 1))
done
qrc=0
wait "$QPID" || qrc=$?
QPID=""
exec {qout}<&-
end=$(date +%s)

if [ -n "$rc" ]; then
	log "exit $rc after $((end - run_start))s (total $((end - start))s)"
	exit "$rc"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	log "timed out after ${TIMEOUT}s (state: $state); qemu killed"
	[ "$state" = run ] || tail -n 30 "$BOOTLOG" >&2
	exit 124
fi
if [ -s "$BOOTLOG" ]; then
	log "VM failed${failmsg:+: $failmsg} (qemu exit $qrc, state $state); last boot output:"
	tail -n 30 "$BOOTLOG" >&2
else
	log "VM failed: no console output at all (qemu exit $qrc): the kernel never started (too little --mem?)"
fi
[ ! -s "$TMP/qemu.err" ] || { log "qemu said:"; cat "$TMP/qemu.err" >&2; }
exit 125
