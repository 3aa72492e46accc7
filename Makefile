# SPDX-License-Identifier: Apache-2.0
#
# zerohop - one Makefile for BPF objects, libzerohop, the binaries and tests.
#   make [O=build] [V=1] [SANITIZE=address,undefined] [CLANG=clang] [BPFTOOL=bpftool]
# `make help` lists the targets.

O ?= build
V ?= 0
SANITIZE ?=
PREFIX ?= /usr/local
DESTDIR ?=
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
PKG_CONFIG ?= pkg-config
CLANG_FORMAT ?= clang-format

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

# --- tools and libraries ----------------------------------------------------
need_tool = $(if $(shell command -v $(1) 2>/dev/null),,$(error $(1) not found: run scripts/deps.sh (or set $(2)=)))
need_pkg = $(if $(shell $(PKG_CONFIG) --exists $(1) && echo y),,$(error pkg-config cannot find $(1): run scripts/deps.sh))

ifeq ($(filter help clean format,$(MAKECMDGOALS)),)
$(call need_tool,$(CLANG),CLANG)
$(call need_tool,$(BPFTOOL),BPFTOOL)
$(call need_tool,$(PKG_CONFIG),PKG_CONFIG)
$(foreach p,libbpf libxdp libelf zlib jansson libmicrohttpd libcurl yaml-0.1,$(call need_pkg,$(p)))
endif

PKGS := libxdp libbpf libelf zlib jansson
# The agent's Kubernetes client (libcurl, libyaml for kubeconfigs): linked
# into the agent and the tests, never into the static CNI plugin.
K8S_PKGS := libcurl yaml-0.1
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) libmicrohttpd $(K8S_PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
K8S_LIBS := $(shell $(PKG_CONFIG) --libs $(K8S_PKGS) 2>/dev/null)
# The CNI plugin runs on nodes without libbpf: everything static.
STATIC_LIBS := $(shell $(PKG_CONFIG) --static --libs $(PKGS) 2>/dev/null) -lzstd
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)
# libbpf's names for the target architecture (bpf_tracing.h and friends).
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/riscv64/riscv/' -e 's/s390x/s390/')

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-unused-parameter
CFLAGS ?= -O2 -g
# -MMD -MP: each object depends on the headers it includes, and only those.
DEPFLAGS := -MMD -MP
ZH_CFLAGS := -std=gnu11 $(WARN) $(DEPFLAGS) -Ibpf/include -Iuser/lib \
	-Iuser/xsk -Iuser/xdpbench -Icni -I$(O)/bpf $(PKG_CFLAGS)
ifneq ($(SANITIZE),)
ZH_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# libzerohop-xsk builds without PKG_CFLAGS: it needs libc and the UAPI
# headers only, and building it so proves it.
XSK_CFLAGS := -std=gnu11 $(WARN) $(DEPFLAGS) -Iuser/xsk -Ibpf/include \
	$(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer)

BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror $(DEPFLAGS) -I$(ARCH_INC) \
	-Ibpf/include -Ibpf -D__TARGET_ARCH_$(ARCH)

# --- sources ----------------------------------------------------------------
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/include/*.h bpf/lib/*.h)

LIB_SRCS := $(wildcard user/lib/*.c)
LIB_OBJS := $(patsubst %.c,$(O)/%.o,$(LIB_SRCS))
LIB := $(O)/libzerohop.a

CNI_LIB_SRCS := cni/env.c cni/conf.c cni/result.c cni/ipam.c
CNI_SRCS := $(wildcard cni/*.c)
CNI_OBJS := $(patsubst %.c,$(O)/%.o,$(CNI_SRCS))
CNI_LIB_OBJS := $(patsubst %.c,$(O)/%.o,$(CNI_LIB_SRCS))

# xdpbench: main() in xdpbench.c, the rest also linked into its unit test.
XB_SRCS := $(wildcard user/xdpbench/*.c)
XB_OBJS := $(patsubst %.c,$(O)/%.o,$(XB_SRCS))
XB_LIB_OBJS := $(filter-out $(O)/user/xdpbench/xdpbench.o,$(XB_OBJS))

BINS := $(O)/zerohopd $(O)/zerohopctl $(O)/xdpbench $(O)/zerohop

# libzerohop-xsk: the AF_XDP client library for pod processes (public
# headers user/xsk/zh_xsk.h and the handoff's wire format zh_xsk_proto.h,
# libc and UAPI only); zh-xsk-echo is its example. The wire format's code
# is built once, into this archive: the agent's side (libzerohop's
# xsk_srv.c) links it from here too.
XSK_LIB := $(O)/libzerohop-xsk.a
XSK_LIB_OBJS := $(patsubst user/xsk/%.c,$(O)/user/xsk/%.o,\
	$(filter-out user/xsk/zh_xsk_echo.c,$(wildcard user/xsk/*.c)))
XSK_BINS := $(XSK_LIB) $(O)/zh-xsk-echo

# Two tiers of cmocka tests. tests/unit: pure logic, no root, no kernel
# objects. tests/bpf, the kernel tier (root): zh_fast through
# BPF_PROG_TEST_RUN over one fixture, and two that need no fixture:
# libzerohop on real BPF maps, libzerohop-xsk on a real AF_XDP socket.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
BPFTEST_SRCS := $(wildcard tests/bpf/test_*.c)
BPFTEST_BINS := $(patsubst tests/bpf/%.c,$(O)/tests/%,$(BPFTEST_SRCS))
BPFTEST_PLAIN := $(O)/tests/test_bpf_svc_maps $(O)/tests/test_bpf_xsk_socket \
	$(O)/tests/test_bpf_upgrade $(O)/tests/test_bpf_sock \
	$(O)/tests/test_bpf_ctgc
BPFTEST_FAST := $(filter-out $(BPFTEST_PLAIN),$(BPFTEST_BINS))

# --- build ------------------------------------------------------------------
all: $(BINS) $(XSK_BINS)

$(O)/bpf/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $(@D)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/bpf/%.o: $(O)/bpf/%.bpf.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(O)/bpf/%.skel.h: $(O)/bpf/%.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# The skeletons are generated headers: made before anything compiles (the
# .d files then say which object includes which).
$(O)/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ZH_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Only the agent serves HTTP: libmicrohttpd is linked here and nowhere else.
# Every libzerohop user links libzerohop-xsk after it: the handoff's wire
# format (xsk_srv.c speaks it) lives there.
ZEROHOPD_OBJS := $(patsubst %.c,$(O)/%.o,$(wildcard user/zerohopd/*.c))
# The CNI configuration's parser too: --cni-afxdp is checked by it.
$(O)/zerohopd: $(ZEROHOPD_OBJS) $(CNI_LIB_OBJS) $(LIB) $(XSK_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(K8S_LIBS) -lpthread \
		$(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null) -o $@

$(O)/zerohopctl: $(O)/user/zerohopctl/zerohopctl.o $(LIB) $(XSK_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# xdpbench is also an AF_XDP pod process (the zerohop-afxdp path's client
# and server).
$(O)/xdpbench: $(XB_OBJS) $(LIB) $(XSK_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lm -lpthread -o $@

# Sanitizers cannot link statically: a SANITIZE build makes a dynamic plugin.
ifeq ($(SANITIZE),)
CNI_LINK := -static $(STATIC_LIBS)
else
CNI_LINK := $(PKG_LIBS)
endif
$(O)/zerohop: $(CNI_OBJS) $(LIB) $(XSK_LIB)
	$(call msg,LINK,$@ $(if $(SANITIZE),(dynamic),(static)))
	$(Q)$(CC) $(LDFLAGS) $^ $(CNI_LINK) -o $@

$(O)/user/xsk/%.o: user/xsk/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(XSK_CFLAGS) $(CFLAGS) -c $< -o $@

$(XSK_LIB): $(XSK_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The example reads the latency probe (zh_abi.h); the library does not.
$(O)/zh-xsk-echo: $(O)/user/xsk/zh_xsk_echo.o $(XSK_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# The generic test rule below links the CNI objects and libzerohop: the
# XSK tests (the unit tier's, and the kernel tier's on a real socket) link
# the client library alone, as a pod process would, and share a fake agent.
XSK_AGENT := $(O)/tests/unit/xsk_agent.o
$(O)/tests/unit/test_xsk.o $(XSK_AGENT): $(O)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(XSK_CFLAGS) $(CFLAGS) -c $< -o $@

$(O)/tests/bpf/test_bpf_xsk_socket.o: tests/bpf/test_bpf_xsk_socket.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(XSK_CFLAGS) -Itests/unit $(CFLAGS) -c $< -o $@

# xsk_peer: a misbehaving AF_XDP client for tests/integration/afxdp.sh.
$(O)/tests/integration/xsk_peer.o: tests/integration/xsk_peer.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(XSK_CFLAGS) $(CFLAGS) -c $< -o $@

$(O)/tests/xsk_peer: $(O)/tests/integration/xsk_peer.o $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# nk_pair: libzerohop's netkit calls one at a time, for
# tests/integration/netkit.sh.
$(O)/tests/integration/nk_pair.o: tests/integration/nk_pair.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ZH_CFLAGS) $(CFLAGS) -c $< -o $@

$(O)/tests/nk_pair: $(O)/tests/integration/nk_pair.o $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# zh-flows: continuous TCP and UDP traffic that counts what it loses, for
# tests/integration/upgrade.sh (libc only).
$(O)/tests/integration/flows.o: tests/integration/flows.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(XSK_CFLAGS) $(CFLAGS) -c $< -o $@

$(O)/tests/zh-flows: $(O)/tests/integration/flows.o
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# zh-sockc: the socket calls socket-level LB acts on, for
# tests/integration/socklb.sh (libc only).
$(O)/tests/integration/sockc.o: tests/integration/sockc.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(XSK_CFLAGS) $(CFLAGS) -c $< -o $@

$(O)/tests/zh-sockc: $(O)/tests/integration/sockc.o
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

$(O)/tests/test_xsk: $(O)/tests/unit/test_xsk.o $(XSK_AGENT) $(XSK_LIB)
$(O)/tests/test_bpf_xsk_socket: $(O)/tests/bpf/test_bpf_xsk_socket.o \
		$(XSK_AGENT) $(XSK_LIB)
$(O)/tests/test_xsk $(O)/tests/test_bpf_xsk_socket:
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(CMOCKA_LIBS) -lpthread -o $@

$(O)/tests/test_%: $(O)/tests/unit/test_%.o $(CNI_LIB_OBJS) $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(K8S_LIBS) $(CMOCKA_LIBS) -o $@

$(O)/tests/test_xdpbench: $(O)/tests/unit/test_xdpbench.o $(XB_LIB_OBJS) $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lm -lpthread -o $@

# The kernel tier's tests of zh_fast share one fixture (tests/bpf/fixture.h).
BPFTEST_FIXTURE := $(O)/tests/bpf/fixture.o
$(BPFTEST_FAST): $(O)/tests/test_bpf_%: $(O)/tests/bpf/test_bpf_%.o \
		$(BPFTEST_FIXTURE) $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -o $@

# NetworkPolicy's kernel tier compiles its cluster with policy.c (jansson).
$(O)/tests/test_bpf_policy: PKG_LIBS += $(K8S_LIBS)

# Another version's pins taken over (upgrade.c): libzerohop alone.
$(O)/tests/bpf/test_bpf_upgrade.o: ZH_CFLAGS += -Itests/unit
$(O)/tests/test_bpf_upgrade: $(O)/tests/bpf/test_bpf_upgrade.o $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -o $@

# Socket-level LB on a child cgroup with real sockets: libzerohop alone.
$(O)/tests/test_bpf_sock: $(O)/tests/bpf/test_bpf_sock.o $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -o $@

# Service maps on real BPF maps: libzerohop and the unit tier's helpers.
$(O)/tests/bpf/test_bpf_svc_maps.o: ZH_CFLAGS += -Itests/unit
$(O)/tests/test_bpf_svc_maps: $(O)/tests/bpf/test_bpf_svc_maps.o $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -o $@

# The conntrack GC's sweep on real BPF maps: libzerohop alone.
$(O)/tests/bpf/test_bpf_ctgc.o: ZH_CFLAGS += -Itests/unit
$(O)/tests/test_bpf_ctgc: $(O)/tests/bpf/test_bpf_ctgc.o $(LIB) $(XSK_LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lpthread -o $@

tests: $(UNIT_BINS) $(BPFTEST_BINS)

# --- tests ------------------------------------------------------------------
# Tiers: unit (pure logic, any user) and kernel (tests/bpf, root; both also
# under ASan/UBSan), integration (real binaries in namespaces the tests
# make), podman and containerd (real CNI clients: podman's CNI backend,
# go-cni through `ctr run --cni`).
SAN_O := $(O)/san

check: check-unit check-bpf check-sanitize check-fuzz check-integration \
	check-cluster check-podman check-containerd
	@echo "make check: all tiers passed"

check-unit: $(UNIT_BINS)
	$(Q)tests/run-tier unit $(UNIT_BINS)

check-bpf: $(BPFTEST_BINS)
	$(Q)tests/run-tier kernel $(BPFTEST_BINS)

check-sanitize:
	$(Q)$(MAKE) --no-print-directory O=$(SAN_O) SANITIZE=address,undefined \
		check-unit check-bpf

# The integration scripts, in the order they run; each skips (exit 77,
# saying why) where it cannot run, and run-tier does not count that a
# failure.
INTEGRATION_TESTS := run metrics latency services k8s-apiserver policy netpol lb k8s hostile xdpbench afxdp churn features upgrade demo deploy socklb masq netkit ctgc

check-integration: all $(O)/tests/xsk_peer $(O)/tests/zh-flows $(O)/tests/zh-sockc \
		$(O)/tests/nk_pair
	$(Q)O=$(O) tests/run-tier integration \
		$(patsubst %,tests/integration/%.sh,$(INTEGRATION_TESTS))

# Three nodes in network namespaces (tests/cluster/cluster.sh), once per
# routing mode: pods across nodes, a ClusterIP over three nodes, node
# churn, an agent restart under traffic; then each mode again through the
# kernel's routes, the fast path's helpers reported absent (~30 s each).
CLUSTER_TESTS := native vxlan native-kernel vxlan-kernel vxlan-mixed

check-cluster: all $(O)/tests/zh-flows
	$(Q)O=$(O) tests/run-tier cluster \
		$(patsubst %,tests/cluster/%.sh,$(CLUSTER_TESTS))

# netkit pods on a kernel that makes them: Debian's 6.12 booted under
# scripts/kernel-vm.sh (TCG here: slow), tests/integration/netkit.sh
# (~3 min with the boot) and the cluster's pod cases with netkit pods
# (tests/cluster, ZH_DEVICE; ~5 min more). NETKIT_CLUSTER_CASES= (empty)
# runs netkit.sh alone.
NETKIT_VM_KERNEL ?= linux-image-6.12.107+deb12-amd64-unsigned
NETKIT_CLUSTER_CASES ?= case_setup case_routes case_pod_ping case_pod_tcp_udp case_clusterip
check-netkit-vm: all $(O)/tests/nk_pair $(O)/tests/zh-flows
	$(Q)scripts/kernel-vm.sh --kernel-pkg $(NETKIT_VM_KERNEL) --env O=$(O) -- \
		sh -c 'bash tests/integration/netkit.sh && \
		{ [ -z "$(strip $(NETKIT_CLUSTER_CASES))" ] || \
		ZH_DEVICE=netkit ZH_ONLY="$(NETKIT_CLUSTER_CASES)" bash tests/cluster/native.sh; }'

# Churn with faults at length: the pod lives of churn.sh (whose bounded run
# is in check-integration), SOAK_CYCLES of them (ZH_CHURN_WORKERS,
# ZH_CHURN_SEED pass through), then zero leaks (~3 min for 1000 here).
SOAK_CYCLES ?= 1000
soak: all
	$(Q)O=$(O) ZH_CHURN_CYCLES=$(SOAK_CYCLES) tests/run-tier soak tests/integration/churn.sh

check-podman: all
	$(Q)O=$(O) tests/run-tier podman tests/integration/podman.sh

check-containerd: all
	$(Q)O=$(O) tests/run-tier containerd tests/integration/containerd.sh

# The fuzz tier (libFuzzer, ASan, UBSan) and `make fuzz`.
include tests/fuzz/fuzz.mk

# The headline comparison (xdpbench --help): every path, 10000 Services for
# kube-proxy's rules, nftables and zerohop-svc, one UDP flow and a new flow
# per request, interleaved (~2.5 min, most of it iptables-restore).
BENCH_ARGS ?= --services 10000 --workload udp-rr,udp-newflow --rounds 5 --duration 1
bench: all
	$(Q)$(O)/xdpbench $(BENCH_ARGS)

# What following the Kubernetes API costs: the first sync, then an
# EndpointSlice change -> map write (BENCH_K8S="SERVICES CHANGES").
bench-k8s: all
	$(Q)O=$(O) scripts/bench-k8s.sh $(BENCH_K8S)

# What per-hop latency costs per packet (BPF_PROG_TEST_RUN, no traffic).
bench-latency: $(O)/tests/test_bpf_lat
	$(Q)$(O)/tests/test_bpf_lat --bench-latency

# A node under load: SERVICES Services (two backends each) through
# zerohopd --services, CT conntrack entries, PODS pods added and deleted
# through the CNI plugin; ADD/DEL times, the agent's memory, the maps'
# memory, /metrics scrape times (BENCH_LOAD="PODS SERVICES CT", or those
# variables in the environment).
bench-load: all $(O)/tests/ct_load
	$(Q)O=$(O) scripts/bench-load.sh $(BENCH_LOAD)

# ct_load: fills zh_ct through bpf_map_update_batch(), counts a map with
# what /metrics calls (libzerohop's zh_map_count).
$(O)/tests/ct_load: $(O)/tests/bench/ct_load.o $(LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# The NetworkPolicy compiler at scale (issue 16): pol_bench compile times
# the first compile and single events in process; bench-policy runs
# zerohopd against tests/k8s/apiserver.py serving a generated cluster and
# reads event -> enforcement from the agent (BENCH_POLICY="PODS POLICIES
# CHANGES").
$(O)/tests/pol_bench: $(O)/tests/bench/pol_bench.o $(LIB)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

bench-policy: all $(O)/tests/pol_bench
	$(Q)O=$(O) scripts/bench-policy.sh $(BENCH_POLICY)

# Packets through every BPF program (tests/bpf/test_bpf_pktfuzz.c, root):
# check-bpf runs a slice of it; this runs BPF_FUZZ_FRAMES random and
# mutated frames per program and kernel-feature pass, from BPF_FUZZ_SEED
# (default: a new one each run; printed, so that a failure reproduces).
BPF_FUZZ_FRAMES ?= 1000000
BPF_FUZZ_SEED ?=
fuzz-bpf: $(O)/tests/test_bpf_pktfuzz
	$(Q)$(O)/tests/test_bpf_pktfuzz --frames $(BPF_FUZZ_FRAMES) --seed \
		$(if $(BPF_FUZZ_SEED),$(BPF_FUZZ_SEED),$$(od -An -N4 -tu4 /dev/urandom))

fuzz: fuzz-bpf

.PHONY: fuzz fuzz-bpf

# --- install ----------------------------------------------------------------
install: all
	install -d $(DESTDIR)/opt/cni/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/cni/net.d
	install -m 0755 $(O)/zerohop $(DESTDIR)/opt/cni/bin/zerohop
	install -m 0755 $(O)/zerohopd $(DESTDIR)$(PREFIX)/sbin/zerohopd
	install -m 0755 $(O)/zerohopctl $(O)/xdpbench $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 deploy/10-zerohop.conflist \
		$(DESTDIR)/etc/cni/net.d/10-zerohop.conflist
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib
	install -m 0644 user/xsk/zh_xsk.h user/xsk/zh_xsk_proto.h \
		$(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(XSK_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(O)/zh-xsk-echo $(DESTDIR)$(PREFIX)/bin/

# --- housekeeping -----------------------------------------------------------
FORMAT_SRCS := $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	$(Q)$(CLANG_FORMAT) -i $(FORMAT_SRCS)

SHELL_SRCS = scripts/*.sh tests/run-tier tests/integration/*.sh tests/cluster/*.sh \
	tests/integration/plugins/* tests/integration/podman/runc-wrapper tests/k8s/*.sh \
	tests/integration/containerd/cni-logger .ci/run deploy/kind/*.sh \
	deploy/kubernetes/*.sh tests/fuzz/run-fuzz

# shellcheck -x follows the tests' `source=` directives into lib.sh, so it
# sees that lib.sh reads what they set (ZH_PREFIX, CASE). bash -n first:
# shellcheck takes some scripts bash itself refuses (a function named
# after a reserved word, such as `in`).
lint: $(SKELS)
	$(Q)$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_SRCS)
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--inline-suppr --suppress=missingIncludeSystem \
		-Ibpf/include -Iuser/lib -Icni -I$(O)/bpf user cni tests/bench
	$(Q)for f in $(SHELL_SRCS); do bash -n "$$f" || exit 1; done
	$(Q)for t in $(INTEGRATION_TESTS); do [ -x tests/integration/$$t.sh ] || \
		{ echo "tests/integration/$$t.sh: not executable (run-tier runs it)"; exit 1; }; done
	$(Q)shellcheck -x -S warning $(SHELL_SRCS)

clean:
	rm -rf $(O)

help:
	@echo 'zerohop targets:'
	@echo '  all        BPF objects, skeletons, zerohopd, zerohopctl, xdpbench, CNI plugin,'
	@echo '             libzerohop-xsk.a (AF_XDP client library for pods, zh_xsk.h) and zh-xsk-echo (default)'
	@echo '  install    CNI plugin to $$(DESTDIR)/opt/cni/bin, binaries to $$(DESTDIR)$$(PREFIX),'
	@echo '             zh_xsk.h and libzerohop-xsk.a to $$(DESTDIR)$$(PREFIX)/include and lib'
	@echo '  check      every test tier: unit, kernel (bpf), sanitized unit+kernel, fuzz, integration, podman, containerd'
	@echo '  check-unit check-bpf check-sanitize check-fuzz check-integration check-cluster check-podman check-containerd   one tier'
	@echo '  check-fuzz each libFuzzer harness (tests/fuzz) over its seeds and past crashes, then'
	@echo '             FUZZ_CHECK_TIME=$(FUZZ_CHECK_TIME) s of mutation each'
	@echo '  fuzz       each harness FUZZ_TIME=$(FUZZ_TIME) s (FUZZ="name ..." for some; all: $(FUZZ_ALL)),'
	@echo '             then executions, edges and line coverage per harness; and fuzz-bpf'
	@echo '  fuzz-bpf   random and mutated frames through every BPF program, properties checked'
	@echo '             (root; BPF_FUZZ_FRAMES per program, default 1000000; BPF_FUZZ_SEED=)'
	@echo '  check-netkit-vm  tests/integration/netkit.sh and the cluster pod cases with netkit pods, in a 6.12 VM (TCG: slow)'
	@echo '  soak       churn with faults at length: tests/integration/churn.sh, SOAK_CYCLES=$(SOAK_CYCLES) pods'
	@echo '             added and deleted by parallel workers while the plugin, IPAM and zerohopd are'
	@echo '             killed, fail or hang; then nothing may be left (check-integration runs 160)'
	@echo '  bench      xdpbench: request/response latency over host, veth, bridge, kube-proxy'
	@echo '             (iptables, nftables; 10000 Services), zerohop-tc, zerohop-xdp, zerohop-svc (BENCH_ARGS=)'
	@echo '  bench-latency  cost of per-hop latency stamping per packet (BPF_PROG_TEST_RUN)'
	@echo '  bench-k8s      zerohopd --kubernetes: first sync, EndpointSlice change -> maps (BENCH_K8S="N CHANGES")'
	@echo '  bench-load     a loaded node: 100k Services, 1M conntrack entries, 250 pods: CNI ADD/DEL'
	@echo '  bench-policy   NetworkPolicy event -> enforcement at scale (BENCH_POLICY="PODS POLICIES CHANGES")'
	@echo '                 times, agent RSS, map memory, /metrics scrape times (BENCH_LOAD="PODS SERVICES CT")'
	@echo '  format     clang-format every C file'
	@echo '  lint       clang-format check, cppcheck, shellcheck'
	@echo '  clean      remove $$(O)'
	@echo 'knobs: O=$(O) V=$(V) SANITIZE=address,undefined CLANG=$(CLANG) BPFTOOL=$(BPFTOOL) PREFIX=$(PREFIX) DESTDIR='
	@echo '       FUZZ_TIME= FUZZ_CHECK_TIME= FUZZ= LLVM_PROFDATA=$(LLVM_PROFDATA) LLVM_COV=$(LLVM_COV)'

.PHONY: all tests check check-unit check-bpf check-sanitize check-fuzz \
	check-integration check-cluster check-podman check-containerd check-netkit-vm soak fuzz fuzz-build \
	bench bench-latency bench-k8s bench-load bench-policy install format lint clean help
.SECONDARY:

# What each object includes, from the compiler (-MMD -MP).
-include $(shell find $(O) -name '*.d' 2>/dev/null)
