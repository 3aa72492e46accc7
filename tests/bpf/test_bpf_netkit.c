// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_netkit.c - zh_tc_from_pod for a pod on a netkit pair
 * (ZH_IFACE_F_NETKIT on its zh_ifaces entry) through BPF_PROG_TEST_RUN.
 * There the program runs in the netkit peer's transmit path, not at tc
 * ingress, where the kernel drops a bpf_redirect_peer(): a delivery to a
 * pod of this node, and the ICMP answer for a Service without backends,
 * must leave by bpf_redirect() out of the destination's host side. The
 * same frames from a veth pod (no flag) still take bpf_redirect_peer();
 * a pod of another node is bpf_redirect_neigh() for both.
 * Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

#define REMOTE4 OFFNODE4 /* a pod of node r */
#define NODE_R4 "192.0.2.50"
#define VIP4 "10.96.0.9"
#define VIP_PORT 53

/* Pod A's zh_ifaces entry with ZH_IFACE_F_NETKIT @on. */
static void a_netkit(bool on)
{
	int fd = bpf_map__fd(skel->maps.zh_ifaces);
	__u32 key = (__u32)ifindex_of[POD_A];
	struct zh_iface ifc;

	if (bpf_map_lookup_elem(fd, &key, &ifc))
		fail_here("no zh_ifaces entry for pod A");
	if (on)
		ifc.flags |= ZH_IFACE_F_NETKIT;
	else
		ifc.flags &= ~ZH_IFACE_F_NETKIT;
	if (bpf_map_update_elem(fd, &key, &ifc, BPF_EXIST))
		fail_here("writing pod A's zh_ifaces entry: %s",
			  strerror(errno));
}

static void services(__u32 on)
{
	struct zh_objs o = lat_objs();
	struct zh_config cfg;

	if (zh_config_get(&o, &cfg))
		fail_here("reading zh_config");
	cfg.services = on;
	if (zh_config_set(&o, &cfg))
		fail_here("writing zh_config");
}

/* Node r owns 10.1.0.0/24, reached natively. */
static void node_r(void)
{
	struct zh_lpm_key k = { .prefixlen = ZH_LPM_FAMILY_BITS + 24,
				.family = ZH_AF_INET };
	struct zh_node n = { .family = ZH_AF_INET,
			     .ifindex = ifindex_of[POD_B] };
	__u32 pod = ZH_CLUSTER_F_POD_CIDR;

	parse_addr(AF_INET, "10.1.0.0", k.addr);
	parse_addr(AF_INET, NODE_R4, n.addr);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.zh_nodes), &k, &n,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.zh_cluster_cidr), &k,
				&pod, BPF_ANY))
		fail_here("writing the node table: %s", strerror(errno));
}

/* A UDP Service at VIP4:VIP_PORT with no backend. */
static void svc_empty(void)
{
	struct zh_svc_key k = { .family = ZH_AF_INET,
				.proto = IPPROTO_UDP,
				.port = htons(VIP_PORT) };
	struct zh_svc v = { .id = 1 };

	parse_addr(AF_INET, VIP4, k.addr);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.zh_services), &k, &v,
				BPF_ANY))
		fail_here("writing zh_services: %s", strerror(errno));
	services(1);
}

static int teardown(void **state)
{
	(void)state;
	a_netkit(false);
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	map_clear(bpf_map__fd(skel->maps.zh_cluster_cidr));
	map_clear(bpf_map__fd(skel->maps.zh_services));
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	services(0);
	return 0;
}

/* A -> B on this node: routed to B, by the helper @netkit calls for. */
static void to_local(bool netkit, bool v6)
{
	struct frame f = { .l3 = v6 ? L3_IPV6 : L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = v6 ? A6 : A4,
			   .dst = v6 ? B6 : B4 };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	bool peer = zh_kfeat_has(&kfeat, ZH_FEAT_TC_REDIRECT_PEER);
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	a_netkit(netkit);
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_routed(in, (__u32)len, &r, POD_B, true);
	assert_redirect(&r,
			peer && !netkit ? ZH_TRACE_REDIRECT_PEER :
					  ZH_TRACE_REDIRECT,
			ifindex_of[POD_B]);
	assert_deltas(&r, delta, (__u32)len);
}

static void test_netkit_local4(void **state)
{
	(void)state;
	to_local(true, false);
}

static void test_netkit_local6(void **state)
{
	(void)state;
	to_local(true, true);
}

static void test_veth_local4(void **state)
{
	(void)state;
	to_local(false, false);
}

/* Another node's pod: bpf_redirect_neigh() whichever the device. */
static void test_netkit_remote(void **state)
{
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = REMOTE4
	};
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	(void)state;
	if (!zh_kfeat_has(&kfeat, ZH_FEAT_TC_REDIRECT_NEIGH)) {
		print_message(
			"skipped: no bpf_redirect_neigh() in this pass\n");
		return;
	}
	a_netkit(true);
	node_r();
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, ifindex_of[POD_B]);
	assert_deltas(&r, delta, (__u32)len);
}

/* A Service without backends: the ICMP answer goes back to the asking
 * pod by bpf_redirect() out of its host side (netkit), by
 * bpf_redirect_peer() into it (veth). */
static void reject(bool netkit)
{
	struct frame f = { .l3 = L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = A4,
			   .dst = VIP4,
			   .dport = VIP_PORT };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_DROP_NO_BACKEND] = 1 };
	bool peer = zh_kfeat_has(&kfeat, ZH_FEAT_TC_REDIRECT_PEER);
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	if (!zh_kfeat_has(&kfeat, ZH_FEAT_TC_SKB_CHANGE_TAIL) ||
	    !zh_kfeat_has(&kfeat, ZH_FEAT_TC_CSUM_LEVEL)) {
		print_message("skipped: no ICMP answer in this pass\n");
		return;
	}
	a_netkit(netkit);
	svc_empty();
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_redirect(&r,
			peer && !netkit ? ZH_TRACE_REDIRECT_PEER :
					  ZH_TRACE_REDIRECT,
			ifindex_of[POD_A]);
	assert_deltas(&r, delta, (__u32)len);
}

static void test_netkit_reject(void **state)
{
	(void)state;
	reject(true);
}

static void test_veth_reject(void **state)
{
	(void)state;
	reject(false);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_netkit_local4, teardown),
		cmocka_unit_test_teardown(test_netkit_local6, teardown),
		cmocka_unit_test_teardown(test_veth_local4, teardown),
		cmocka_unit_test_teardown(test_netkit_remote, teardown),
		cmocka_unit_test_teardown(test_netkit_reject, teardown),
		cmocka_unit_test_teardown(test_veth_reject, teardown),
	};
	static const struct fixture_group groups[] = {
		{ .name = "netkit pods",
		  .tests = tests,
		  .n = ARRAY_SIZE(tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_netkit",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.trace = true,
	};
	return fixture_main(&suite, argc, argv);
}
