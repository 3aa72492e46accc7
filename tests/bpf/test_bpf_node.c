// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_node.c - pods across nodes (bpf/lib/node.h) through
 * BPF_PROG_TEST_RUN: a pod's packet for another node's pod CIDR
 * (zh_nodes) leaves by bpf_redirect_neigh() toward that node (native) or
 * into the VXLAN device with the inner frame addressed to the remote
 * device's MAC (vxlan); the XDP entry hands such frames to tc; anti-spoofing
 * still applies. On the uplink (zh_tc_uplink) and the VXLAN device
 * (zh_tc_tunnel), a packet from inside the cluster (zh_cluster_cidr) for a
 * local pod goes straight into it, and a Service reply from a backend on
 * another node goes back to the VIP first; one from outside the cluster is
 * left to the kernel.
 *
 * The test's netns has forwarding off, as the cluster tests' nodes do: the
 * FIB lookup answers "forwarding disabled" and the node table's address is
 * the next hop. Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <linux/pkt_cls.h>

#include <cmocka.h>

#include "fixture.h"

#define REMOTE4 OFFNODE4 /* 10.1.0.5: a pod of node "r" */
#define REMOTE_CIDR4 "10.1.0.0"
#define REMOTE6 OFFNODE6 /* fd00:1::5 */
#define REMOTE_CIDR6 "fd00:1::"
#define NODE_R4 "192.0.2.50" /* node r's address */
#define NODE_R6 "2001:db8::50"
#define OUTSIDE4 "198.51.100.7" /* no pod, no node */
#define VIP4 "10.96.0.1"
#define VNI 7

static const __u8 mac_r[ETH_ALEN] = { 0x02, 0x7a, 0xc0, 0x00, 0x02, 0x32 };

/* The device the node table sends out of: pod B's host veth will do
 * (any device of the netns: the redirect only names it). */
static int out_ifindex(void)
{
	return ifindex_of[POD_B];
}

static void lpm_put(int fd, const char *addr, int prefix, const void *val)
{
	bool v6 = strchr(addr, ':');
	struct zh_lpm_key k = { .prefixlen = ZH_LPM_FAMILY_BITS + prefix,
				.family = v6 ? ZH_AF_INET6 : ZH_AF_INET };

	parse_addr(v6 ? AF_INET6 : AF_INET, addr, k.addr);
	if (bpf_map_update_elem(fd, &k, val, BPF_ANY))
		fail_here("writing an LPM entry for %s/%d: %s", addr, prefix,
			  strerror(errno));
}

/* Node r owns 10.1.0.0/24 and fd00:1::/64; @vxlan: reached through the
 * VXLAN device (out_ifindex()), else natively. */
static void node_r(bool vxlan)
{
	struct zh_node n4 = { .family = ZH_AF_INET, .ifindex = out_ifindex() };
	struct zh_node n6 = { .family = ZH_AF_INET6, .ifindex = out_ifindex() };
	__u32 pod = ZH_CLUSTER_F_POD_CIDR, node = ZH_CLUSTER_F_NODE_IP;
	int nodes = bpf_map__fd(skel->maps.zh_nodes);
	int cluster = bpf_map__fd(skel->maps.zh_cluster_cidr);

	map_clear(nodes);
	map_clear(cluster);
	parse_addr(AF_INET, NODE_R4, n4.addr);
	parse_addr(AF_INET6, NODE_R6, n6.addr);
	if (vxlan) {
		/* A VXLAN underlay is of one family: IPv4 here. */
		n6 = n4;
		n4.flags = n6.flags = ZH_NODE_F_VXLAN;
		n4.vni = n6.vni = VNI;
		memcpy(n4.mac, mac_r, ETH_ALEN);
		memcpy(n6.mac, mac_r, ETH_ALEN);
	}
	lpm_put(nodes, REMOTE_CIDR4, 24, &n4);
	lpm_put(nodes, REMOTE_CIDR6, 64, &n6);
	lpm_put(cluster, REMOTE_CIDR4, 24, &pod);
	lpm_put(cluster, REMOTE_CIDR6, 64, &pod);
	lpm_put(cluster, NODE_R4, 32, &node);
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

static int setup_native(void **state)
{
	(void)state;
	node_r(false);
	return 0;
}

static int setup_vxlan(void **state)
{
	(void)state;
	node_r(true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	map_clear(bpf_map__fd(skel->maps.zh_cluster_cidr));
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	services(0);
	return 0;
}

/* @in left for node r, one hop further: the L3 header as routed, L2 as
 * @dst_mac says (NULL: the kernel fills it in later, unchanged here). */
static void assert_hop(const __u8 *in, __u32 len, const struct run *r,
		       const __u8 *dst_mac)
{
	__u8 want[FRAME_MAX];
	bool v6 = get16(in + ETH_PROTO) == ETH_P_IPV6;

	if (r->out_len != len)
		fail_here("output is %u bytes, want %u", r->out_len, len);
	memcpy(want, in, len);
	if (dst_mac)
		memcpy(want + ETH_DST, dst_mac, ETH_ALEN);
	if (v6) {
		want[IP6_HLIM]--;
	} else {
		want[IP4_TTL]--;
		memcpy(want + IP4_CHECK, r->out + IP4_CHECK, 2);
		if (csum_fold(csum_add(0, r->out + L3, 20)))
			fail_here("IPv4 header checksum does not verify");
	}
	assert_bytes(want, len, r);
}

/* --- from a pod ------------------------------------------------------------ */

static void pod_to_remote(void **state, bool v6, bool vxlan)
{
	struct frame f = { .l3 = v6 ? L3_IPV6 : L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = v6 ? A6 : A4,
			   .dst = v6 ? REMOTE6 : REMOTE4 };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	(void)state;
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	if (vxlan) {
		assert_redirect(&r, ZH_TRACE_REDIRECT, out_ifindex());
		assert_hop(in, (__u32)len, &r, mac_r);
	} else {
		assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, out_ifindex());
		assert_hop(in, (__u32)len, &r, NULL);
	}
	assert_deltas(&r, delta, (__u32)len);
}

static void test_native4(void **state)
{
	pod_to_remote(state, false, false);
}

static void test_native6(void **state)
{
	pod_to_remote(state, true, false);
}

static void test_vxlan4(void **state)
{
	pod_to_remote(state, false, true);
}

static void test_vxlan6(void **state)
{
	pod_to_remote(state, true, true);
}

/* XDP cannot leave for another node: the frame goes on to tc untouched,
 * uncounted (tc counts it). */
static void test_xdp_hands_over(void **state)
{
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = REMOTE4
	};
	__u64 delta[ZH_STAT_MAX] = { 0 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	(void)state;
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_XDP, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	/* (With XDP metadata the mark sits in front: the frame is the same.) */
	assert_deltas(&r, delta, (__u32)len);
	if (r.traced && r.trace.calls)
		fail_here("XDP called a redirect helper");
}

/* Anti-spoofing first: A claiming B's address gets nowhere. */
static void test_spoof_dropped(void **state)
{
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = B4, .dst = REMOTE4
	};
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_DROP_SPOOF_IP] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	(void)state;
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, DROP);
	assert_deltas(&r, delta, (__u32)len);
}

/* No node owns it: the kernel's, as before. */
static void test_no_node(void **state)
{
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = OUTSIDE4
	};
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	(void)state;
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(in, (__u32)len, &r);
	assert_deltas(&r, delta, (__u32)len);
}

/* A TTL that ends here is the kernel's to answer, not sent on. */
static void test_ttl_expires(void **state)
{
	struct frame f = { .l3 = L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = A4,
			   .dst = REMOTE4,
			   .ttl = 1 };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_PASS_TTL] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	(void)state;
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(in, (__u32)len, &r);
	assert_deltas(&r, delta, (__u32)len);
}

/* --- into a pod from another node ------------------------------------------ */

static struct bpf_program *ingress_prog(bool tunnel)
{
	return tunnel ? skel->progs.zh_tc_tunnel : skel->progs.zh_tc_uplink;
}

static void from_node(bool tunnel, bool v6)
{
	struct frame f = { .l3 = v6 ? L3_IPV6 : L3_IPV4,
			   .proto = IPPROTO_TCP,
			   .src = v6 ? REMOTE6 : REMOTE4,
			   .dst = v6 ? B6 : B4 };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	len = frame_build(&f, POD_A, in);
	run_prog(ingress_prog(tunnel), ifindex_of[FOREIGN], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_routed(in, (__u32)len, &r, POD_B, true);
	if (kfeat.present & ZH_FEAT_BIT(TC_REDIRECT_PEER) & ~kfeat.disabled)
		assert_redirect(&r, ZH_TRACE_REDIRECT_PEER, ifindex_of[POD_B]);
	assert_deltas(&r, delta, (__u32)len);
}

static void test_uplink4(void **state)
{
	(void)state;
	from_node(false, false);
}

static void test_uplink6(void **state)
{
	(void)state;
	from_node(false, true);
}

static void test_tunnel4(void **state)
{
	(void)state;
	from_node(true, false);
}

static void test_tunnel6(void **state)
{
	(void)state;
	from_node(true, true);
}

/* From outside the cluster: not ours (the kernel's rules, masquerade,
 * policy), untouched and uncounted. */
static void test_uplink_outside(void **state)
{
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_TCP, .src = OUTSIDE4, .dst = B4
	};
	__u64 delta[ZH_STAT_MAX] = { 0 };
	__u8 in[FRAME_MAX];
	struct run r;
	size_t len;

	(void)state;
	len = frame_build(&f, POD_A, in);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, (__u32)len,
		 &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(in, (__u32)len, &r);
	assert_deltas(&r, delta, (__u32)len);
}

/*
 * A ClusterIP flow from pod A balanced to a backend on node r: its reply
 * comes in on the uplink with the backend's address, and must reach A
 * from the VIP (A's socket is connected to it). The pod-side tc program
 * would turn it back as well (tc ingress runs again on the peer after
 * bpf_redirect_peer), but an XDP pod's pod-side program never sees a frame
 * redirect_peer delivered: the uplink does it for every pod.
 */
static void test_uplink_reverse_nat(void **state)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_UDP,
			       .dir = ZH_CT_REV,
			       .sport = htons(8053),
			       .dport = htons(40000) };
	struct zh_ct v = { .svc_id = 1, .vport = htons(53) };
	struct frame f = { .l3 = L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = REMOTE4,
			   .dst = A4,
			   .sport = 8053,
			   .dport = 40000 };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u8 in[FRAME_MAX], want[FRAME_MAX];
	struct timespec ts;
	struct run r;
	size_t len;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.last_seen_ns = (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	parse_addr(AF_INET, REMOTE4, k.saddr);
	parse_addr(AF_INET, A4, k.daddr);
	parse_addr(AF_INET, VIP4, v.vip);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.zh_ct), &k, &v, BPF_ANY))
		fail_here("writing zh_ct: %s", strerror(errno));
	services(1);
	len = frame_build(&f, POD_B, in);
	/* What A must see: from VIP:53, as if the VIP had answered. */
	f.src = VIP4;
	f.sport = 53;
	frame_build(&f, POD_B, want);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, (__u32)len,
		 &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_routed(want, (__u32)len, &r, POD_A, true);
	assert_deltas(&r, delta, (__u32)len);
}

/* --- bench ------------------------------------------------------------------ */

/*
 * `test_bpf_node --bench-latency`: ns per packet, as test_run times one run
 * (its own overhead included, the same for every row), of the programs a
 * packet between pods of two nodes meets: the sender's zh_tc_from_pod and
 * the receiver's uplink (or VXLAN device) entry. p50 and p99 of
 * BENCH_RUNS runs of the same packet. Numbers, no verdict.
 */
#define BENCH_RUNS 20000U

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static void bench_row(const char *what, struct bpf_program *p, int ifindex,
		      const struct frame *f, int sender, __u32 want)
{
	static __u32 ns[BENCH_RUNS];
	struct __sk_buff skb = { .ifindex = ifindex,
				 .ingress_ifindex = ifindex };
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	__u32 len = (__u32)frame_build(f, sender, in), bad = 0;

	for (__u32 i = 0; i < BENCH_RUNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
			    .data_size_in = len, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1,
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb));

		if (bpf_prog_test_run_opts(bpf_program__fd(p), &opts))
			opts.duration = 0;
		bad += opts.retval != want;
		ns[i] = opts.duration;
	}
	qsort(ns, BENCH_RUNS, sizeof(ns[0]), cmp_u32);
	printf("  %-40s p50 %4u  p90 %4u  p99 %5u ns%s\n", what,
	       ns[BENCH_RUNS / 2], ns[BENCH_RUNS * 9 / 10],
	       ns[BENCH_RUNS * 99 / 100], bad ? "  (unexpected verdicts)" : "");
}

static void bench_mode(bool vxlan)
{
	struct frame out4 = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = REMOTE4
	};
	struct frame out6 = {
		.l3 = L3_IPV6, .proto = IPPROTO_UDP, .src = A6, .dst = REMOTE6
	};
	struct frame in4 = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = REMOTE4, .dst = B4
	};
	struct frame in6 = {
		.l3 = L3_IPV6, .proto = IPPROTO_UDP, .src = REMOTE6, .dst = B6
	};
	const char *m = vxlan ? "vxlan" : "native";
	char what[64];

	node_r(vxlan);
	snprintf(what, sizeof(what), "%s: zh_tc_from_pod, IPv4", m);
	bench_row(what, skel->progs.zh_tc_from_pod, ifindex_of[POD_A], &out4,
		  POD_A, TC_ACT_REDIRECT);
	snprintf(what, sizeof(what), "%s: zh_tc_from_pod, IPv6", m);
	bench_row(what, skel->progs.zh_tc_from_pod, ifindex_of[POD_A], &out6,
		  POD_A, TC_ACT_REDIRECT);
	snprintf(what, sizeof(what), "%s: %s, IPv4", m,
		 vxlan ? "zh_tc_tunnel" : "zh_tc_uplink");
	bench_row(what, ingress_prog(vxlan), ifindex_of[FOREIGN], &in4, POD_A,
		  TC_ACT_REDIRECT);
	snprintf(what, sizeof(what), "%s: %s, IPv6", m,
		 vxlan ? "zh_tc_tunnel" : "zh_tc_uplink");
	bench_row(what, ingress_prog(vxlan), ifindex_of[FOREIGN], &in6, POD_A,
		  TC_ACT_REDIRECT);
}

static int node_bench(void)
{
	struct frame in4 = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = REMOTE4, .dst = B4
	};

	printf("test_bpf_node: a packet between pods of two nodes, per program, %u runs:\n",
	       BENCH_RUNS);
	/* The floor: test_run's own time, a program that returns at once
	 * (zh_tc_to_pod for a pod without NetworkPolicy). */
	bench_row("floor: zh_tc_to_pod, unpolicied", skel->progs.zh_tc_to_pod,
		  ifindex_of[POD_B], &in4, POD_A, TC_ACT_UNSPEC);
	bench_mode(false);
	bench_mode(true);
	teardown(NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest native[] = {
		cmocka_unit_test(test_native4),
		cmocka_unit_test(test_native6),
		cmocka_unit_test(test_xdp_hands_over),
		cmocka_unit_test(test_spoof_dropped),
		cmocka_unit_test(test_no_node),
		cmocka_unit_test(test_ttl_expires),
		cmocka_unit_test(test_uplink4),
		cmocka_unit_test(test_uplink6),
		cmocka_unit_test(test_uplink_outside),
		cmocka_unit_test(test_uplink_reverse_nat),
	};
	static const struct CMUnitTest vxlan[] = {
		cmocka_unit_test(test_vxlan4),
		cmocka_unit_test(test_vxlan6),
		cmocka_unit_test(test_tunnel4),
		cmocka_unit_test(test_tunnel6),
	};
	static const struct fixture_group groups[] = {
		{ .name = "across nodes: native",
		  .tests = native,
		  .n = ARRAY_SIZE(native),
		  .setup = setup_native,
		  .teardown = teardown },
		{ .name = "across nodes: vxlan",
		  .tests = vxlan,
		  .n = ARRAY_SIZE(vxlan),
		  .setup = setup_vxlan,
		  .teardown = teardown },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_node",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.trace = true,
		.bench = node_bench,
	};
	return fixture_main(&suite, argc, argv);
}
