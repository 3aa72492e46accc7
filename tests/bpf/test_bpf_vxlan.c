// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_vxlan.c - VXLAN in BPF (bpf/lib/vxlan.h) through
 * BPF_PROG_TEST_RUN. With zh_vxlan set as the agent sets it in routing
 * vxlan, a pod's packet for another node's pod leaves encapsulated by
 * zh_tc_from_pod (the outer IPv4, UDP, VXLAN and inner Ethernet headers
 * exactly as the node's VXLAN device would write them) by
 * bpf_redirect_neigh() on the uplink; a VXLAN packet on the uplink from
 * that node, for a pod here, is decapsulated by zh_tc_uplink into the very
 * inner packet and delivered into the pod; anything else (another VNI or
 * port, an unknown node, an inner source the node does not own, a UDP
 * checksum, a fragment, no local pod) passes untouched and uncounted, to
 * the kernel's device. Without the kernel features (a pass that lacks
 * them) the device's path stays: tested as such.
 * (test_bpf_node.c covers the device's path with zh_vxlan empty.)
 * Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "fixture.h"

#define REMOTE4 OFFNODE4 /* 10.1.0.5: a pod of node "r" */
#define REMOTE6 OFFNODE6 /* fd00:1::5 */
#define SELF4 "192.0.2.1" /* this node's underlay address */
#define NODE_R4 "192.0.2.50" /* node r's */
#define NODE_X4 "192.0.2.60" /* in no table */
#define OUTSIDE4 "198.51.100.7"
#define VNI 7
#define PORT 8472
#define VXLAN_LEN 50 /* outer IPv4 + UDP + VXLAN + inner Ethernet */
#define O_IP ETH_HLEN
#define O_UDP (O_IP + 20)
#define O_VXLAN (O_UDP + 8)
#define O_INNER (O_VXLAN + 8)

static const __u8 mac_r[ETH_ALEN] = { 0x02, 0x7a, 0xc0, 0x00, 0x02, 0x32 };
static const __u8 mac_self[ETH_ALEN] = { 0x02, 0x7a, 0xc0, 0x00, 0x02, 0x01 };

/* The uplink and the VXLAN device: any devices of the netns will do (the
 * redirects only name them). */
static int uplink(void)
{
	return ifindex_of[POD_B];
}

static int vxlan_dev(void)
{
	return ifindex_of[POD_A];
}

static bool has(int id)
{
	return (kfeat.present & ~kfeat.disabled) >> id & 1;
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

/* Node r (VXLAN, underlay NODE_R4) owns 10.1.0.0/24 and fd00:1::/64; this
 * node's tunnel as the agent writes it. */
static int setup(void **state)
{
	struct zh_node n = { .family = ZH_AF_INET,
			     .flags = ZH_NODE_F_VXLAN,
			     .ifindex = (__u32)vxlan_dev(),
			     .vni = VNI };
	struct zh_node addr = { .family = ZH_AF_INET,
				.ifindex = (__u32)uplink() };
	struct zh_vxlan v = { .family = ZH_AF_INET,
			      .flags = ZH_VXLAN_F_ENCAP | ZH_VXLAN_F_DECAP,
			      .uplink = (__u32)uplink(),
			      .dev = (__u32)vxlan_dev(),
			      .port = htons(PORT),
			      .vni = VNI };
	__u32 pod = ZH_CLUSTER_F_POD_CIDR, node = ZH_CLUSTER_F_NODE_IP;
	int nodes = bpf_map__fd(skel->maps.zh_nodes);
	int cluster = bpf_map__fd(skel->maps.zh_cluster_cidr);
	__u32 zero = 0;

	(void)state;
	map_clear(nodes);
	map_clear(cluster);
	parse_addr(AF_INET, NODE_R4, n.addr);
	parse_addr(AF_INET, NODE_R4, addr.addr);
	memcpy(n.mac, mac_r, ETH_ALEN);
	lpm_put(nodes, "10.1.0.0", 24, &n);
	lpm_put(nodes, "fd00:1::", 64, &n);
	lpm_put(nodes, NODE_R4, 32, &addr); /* its address: the uplink */
	lpm_put(cluster, "10.1.0.0", 24, &pod);
	lpm_put(cluster, "fd00:1::", 64, &pod);
	lpm_put(cluster, NODE_R4, 32, &node);
	parse_addr(AF_INET, SELF4, v.saddr);
	memcpy(v.mac, mac_self, ETH_ALEN);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.zh_vxlan), &zero, &v,
				BPF_ANY))
		fail_here("writing zh_vxlan: %s", strerror(errno));
	return 0;
}

static int teardown(void **state)
{
	__u32 zero = 0;
	struct zh_vxlan v = { 0 };

	(void)state;
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	map_clear(bpf_map__fd(skel->maps.zh_cluster_cidr));
	bpf_map_update_elem(bpf_map__fd(skel->maps.zh_vxlan), &zero, &v,
			    BPF_ANY);
	return 0;
}

/* zh_vxlan_stats, summed over the CPUs. */
static void vxlan_stats(__u64 out[ZH_VXLAN_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.zh_vxlan_stats);
	__u64 percpu[256];

	if (ncpu <= 0 || ncpu > 256)
		fail_here("%d possible CPUs", ncpu);
	for (__u32 s = 0; s < ZH_VXLAN_STAT_MAX; s++) {
		out[s] = 0;
		if (bpf_map_lookup_elem(fd, &s, percpu))
			fail_here("reading zh_vxlan_stats: %s",
				  strerror(errno));
		for (int c = 0; c < ncpu; c++)
			out[s] += percpu[c];
	}
}

/* zh_vxlan_stats moved by @stat alone, by @n (-1: by nothing at all). */
static void assert_vxlan_delta(const __u64 before[ZH_VXLAN_STAT_MAX], int stat,
			       __u64 n)
{
	__u64 after[ZH_VXLAN_STAT_MAX];

	vxlan_stats(after);
	for (int s = 0; s < ZH_VXLAN_STAT_MAX; s++) {
		__u64 want = s == stat ? n : 0;

		if (after[s] - before[s] != want)
			fail_here("zh_vxlan_stats[%d] moved by %llu, want %llu",
				  s, (unsigned long long)(after[s] - before[s]),
				  (unsigned long long)want);
	}
}

/* --- out: encapsulation ---------------------------------------------------- */

/* @in (from pod A) as it must leave for node r: @in's Ethernet header
 * (the neighbour code fills its MACs in later) typed IPv4, the outer
 * headers, the inner Ethernet header, the inner packet one hop further. */
static void assert_encap(const __u8 *in, __u32 len, const struct run *r,
			 __u16 *sport)
{
	bool v6 = get16(in + ETH_PROTO) == ETH_P_IPV6;
	__u8 want[FRAME_MAX];
	__u32 n = len + VXLAN_LEN;
	__u8 *o = want;

	if (r->out_len != n)
		fail_here("output is %u bytes, want %u", r->out_len, n);
	memset(want, 0, sizeof(want));
	memcpy(o, in, ETH_HLEN);
	put16(o + ETH_PROTO, ETH_P_IP);
	o[O_IP] = 0x45;
	o[O_IP + 1] = 0; /* ECN of the inner packet: not-ECT */
	put16(o + O_IP + 2, (__u16)(n - ETH_HLEN));
	memcpy(o + O_IP + 4, r->out + O_IP + 4, 2); /* any IP ID */
	o[O_IP + 8] = ZH_VXLAN_TTL;
	o[O_IP + 9] = IPPROTO_UDP;
	memcpy(o + O_IP + 10, r->out + O_IP + 10, 2); /* verified below */
	parse_addr(AF_INET, SELF4, o + O_IP + 12);
	parse_addr(AF_INET, NODE_R4, o + O_IP + 16);
	memcpy(o + O_UDP, r->out + O_UDP, 2); /* the hashed port: below */
	put16(o + O_UDP + 2, PORT);
	put16(o + O_UDP + 4, (__u16)(n - O_UDP));
	/* UDP checksum 0 */
	o[O_VXLAN] = 0x08; /* I */
	o[O_VXLAN + 6] = VNI; /* VNI 7 << 8, network order */
	memcpy(o + O_INNER + ETH_DST, mac_r, ETH_ALEN);
	memcpy(o + O_INNER + ETH_SRC, mac_self, ETH_ALEN);
	put16(o + O_INNER + ETH_PROTO, v6 ? ETH_P_IPV6 : ETH_P_IP);
	memcpy(o + O_INNER + ETH_HLEN, in + ETH_HLEN, len - ETH_HLEN);
	if (v6) {
		o[O_INNER + IP6_HLIM]--;
	} else {
		o[O_INNER + IP4_TTL]--;
		memcpy(o + O_INNER + IP4_CHECK, r->out + O_INNER + IP4_CHECK,
		       2);
		if (csum_fold(csum_add(0, r->out + O_INNER + L3, 20)))
			fail_here("inner IPv4 header checksum does not verify");
	}
	if (csum_fold(csum_add(0, r->out + O_IP, 20)))
		fail_here("outer IPv4 header checksum does not verify");
	*sport = get16(r->out + O_UDP);
	if (*sport < ZH_VXLAN_SPORT_MIN || *sport >= ZH_VXLAN_SPORT_MAX)
		fail_here("outer source port %u out of [%u, %u)", *sport,
			  ZH_VXLAN_SPORT_MIN, ZH_VXLAN_SPORT_MAX);
	assert_bytes(want, n, r);
}

static __u16 pod_to_remote(bool v6, __u16 sport)
{
	struct frame f = { .l3 = v6 ? L3_IPV6 : L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = v6 ? A6 : A4,
			   .dst = v6 ? REMOTE6 : REMOTE4,
			   .sport = sport };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u64 before[ZH_VXLAN_STAT_MAX];
	__u8 in[FRAME_MAX];
	__u16 port = 0;
	struct run r;
	size_t len;

	len = frame_build(&f, POD_A, in);
	vxlan_stats(before);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	if (!has(ZH_FEAT_TC_VXLAN_ENCAP)) {
		/* The device's way: the tunnel key, into the device. */
		assert_redirect(&r, ZH_TRACE_REDIRECT, vxlan_dev());
		if (r.out_len != len)
			fail_here("changed the length without the feature");
		assert_vxlan_delta(before, ZH_VXLAN_STAT_DEV_ENCAP, 1);
		return 0;
	}
	assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, uplink());
	assert_encap(in, (__u32)len, &r, &port);
	assert_deltas(&r, delta, (__u32)len + VXLAN_LEN);
	assert_vxlan_delta(before, ZH_VXLAN_STAT_ENCAP, 1);
	return port;
}

static void test_encap4(void **state)
{
	(void)state;
	pod_to_remote(false, 0);
}

static void test_encap6(void **state)
{
	(void)state;
	pod_to_remote(true, 0);
}

/* The outer source port is a function of the inner flow: the same flow
 * always gets the same one, different flows spread (ECMP, RSS). */
static void test_encap_sport(void **state)
{
	__u16 first, seen[8];
	int distinct = 0;

	(void)state;
	if (!has(ZH_FEAT_TC_VXLAN_ENCAP)) {
		skip();
		return;
	}
	first = pod_to_remote(false, 40000);
	if (pod_to_remote(false, 40000) != first)
		fail_here("one flow, two outer source ports");
	for (int i = 0; i < 8; i++) {
		int j;

		seen[i] = pod_to_remote(false, (__u16)(41000 + i));
		for (j = 0; j < i && seen[j] != seen[i]; j++)
			;
		distinct += j == i;
	}
	if (distinct < 2)
		fail_here("8 flows share %d outer source port(s)", distinct);
}

/* --- in: decapsulation ----------------------------------------------------- */

struct outer {
	const char *src, *dst; /* outer IPv4; NULL: NODE_R4 -> SELF4 */
	__u16 dport; /* 0: PORT */
	__u32 vni; /* 0: VNI */
	__u8 vflags; /* 0: the I flag */
	__u16 udp_check; /* 0: none */
	__u16 frag; /* the outer frag_off field */
};

/* @inner (a frame from frame_build()) wrapped as node r's device would
 * send it to us; the length. */
static size_t wrap(const struct outer *o, const __u8 *inner, size_t ilen,
		   __u8 *b)
{
	size_t n = ETH_HLEN + 36 + ilen;

	memset(b, 0, ETH_HLEN + 36);
	memcpy(b + ETH_DST, pods[POD_A].mac, ETH_ALEN); /* the uplink's */
	memcpy(b + ETH_SRC, mac_r, ETH_ALEN);
	put16(b + ETH_PROTO, ETH_P_IP);
	b[O_IP] = 0x45;
	put16(b + O_IP + 2, (__u16)(n - ETH_HLEN));
	put16(b + O_IP + 6, o->frag);
	b[O_IP + 8] = 64;
	b[O_IP + 9] = IPPROTO_UDP;
	parse_addr(AF_INET, o->src ? o->src : NODE_R4, b + O_IP + 12);
	parse_addr(AF_INET, o->dst ? o->dst : SELF4, b + O_IP + 16);
	put16(b + O_IP + 10, csum_fold(csum_add(0, b + O_IP, 20)));
	put16(b + O_UDP, 50000);
	put16(b + O_UDP + 2, o->dport ? o->dport : PORT);
	put16(b + O_UDP + 4, (__u16)(n - O_UDP));
	put16(b + O_UDP + 6, o->udp_check);
	b[O_VXLAN] = o->vflags ? o->vflags : 0x08;
	b[O_VXLAN + 4] = (__u8)((o->vni ? o->vni : VNI) >> 16);
	b[O_VXLAN + 5] = (__u8)((o->vni ? o->vni : VNI) >> 8);
	b[O_VXLAN + 6] = (__u8)(o->vni ? o->vni : VNI);
	memcpy(b + O_VXLAN + 8, inner, ilen);
	/* The inner frame as node r's device addressed it. */
	memcpy(b + O_INNER + ETH_DST, mac_self, ETH_ALEN);
	memcpy(b + O_INNER + ETH_SRC, mac_r, ETH_ALEN);
	return n;
}

static void test_decap(bool v6)
{
	struct frame f = { .l3 = v6 ? L3_IPV6 : L3_IPV4,
			   .proto = IPPROTO_TCP,
			   .src = v6 ? REMOTE6 : REMOTE4,
			   .dst = v6 ? B6 : B4 };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u64 before[ZH_VXLAN_STAT_MAX];
	const struct outer o = { 0 };
	__u8 inner[FRAME_MAX], in[FRAME_MAX];
	size_t ilen, len;
	struct run r;

	ilen = frame_build(&f, POD_A, inner);
	len = wrap(&o, inner, ilen, in);
	vxlan_stats(before);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, (__u32)len,
		 &r);
	if (!has(ZH_FEAT_TC_VXLAN_ENCAP) ||
	    (v6 && !has(ZH_FEAT_TC_VXLAN_DECAP))) {
		/* The device's: untouched, uncounted. */
		assert_verdict(PROG_TC, &r, PASS);
		assert_unchanged(in, (__u32)len, &r);
		assert_deltas(&r, none, (__u32)len);
		assert_vxlan_delta(before, 0, 0);
		return;
	}
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_routed(inner, (__u32)ilen, &r, POD_B, true);
	if (has(ZH_FEAT_TC_REDIRECT_PEER))
		assert_redirect(&r, ZH_TRACE_REDIRECT_PEER, ifindex_of[POD_B]);
	assert_deltas(&r, delta, (__u32)ilen);
	assert_vxlan_delta(before, ZH_VXLAN_STAT_DECAP, 1);
}

static void test_decap4(void **state)
{
	(void)state;
	test_decap(false);
}

static void test_decap6(void **state)
{
	(void)state;
	test_decap(true);
}

/* Tunnel packets BPF does not take: the kernel's device gets them as
 * they came, uncounted. */
static void test_not_ours(void **state)
{
	static const struct {
		const char *what;
		struct outer o;
		const char *inner_src, *inner_dst;
	} rows[] = {
		{ "another VNI", { .vni = 8 }, NULL, NULL },
		{ "another UDP port (4789)", { .dport = 4789 }, NULL, NULL },
		{ "plain UDP (port 53)", { .dport = 53 }, NULL, NULL },
		{ "VXLAN flags other than I", { .vflags = 0x0c }, NULL, NULL },
		{ "a UDP checksum", { .udp_check = 0x1234 }, NULL, NULL },
		{ "an outer fragment", { .frag = 0x2000 }, NULL, NULL },
		{ "a node in no table", { .src = NODE_X4 }, NULL, NULL },
		{ "another node's address as destination",
		  { .dst = "192.0.2.2" },
		  NULL,
		  NULL },
		{ "an inner source node r does not own", { 0 }, OUTSIDE4, NULL },
		{ "an inner source of node r, from another node",
		  { .src = NODE_X4 },
		  REMOTE4,
		  NULL },
		{ "no local pod behind the inner destination",
		  { 0 },
		  NULL,
		  UNKNOWN4 },
	};
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u64 before[ZH_VXLAN_STAT_MAX];
	__u8 inner[FRAME_MAX], in[FRAME_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct frame f = { .l3 = L3_IPV4,
				   .proto = IPPROTO_TCP,
				   .src = rows[i].inner_src ?: REMOTE4,
				   .dst = rows[i].inner_dst ?: B4 };
		size_t ilen = frame_build(&f, POD_A, inner);
		size_t len = wrap(&rows[i].o, inner, ilen, in);
		struct run r;

		cur_set(in, (__u32)len, "%s", rows[i].what);
		vxlan_stats(before);
		run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in,
			 (__u32)len, &r);
		assert_verdict(PROG_TC, &r, PASS);
		assert_unchanged(in, (__u32)len, &r);
		assert_deltas(&r, none, (__u32)len);
		assert_vxlan_delta(before, 0, 0);
	}
}

/* zh_vxlan off (routing native, or an IPv6 underlay): nothing
 * decapsulated, the encapsulation is the device's. */
static void test_off(void **state)
{
	struct zh_vxlan v = { 0 };
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_TCP, .src = REMOTE4, .dst = B4
	};
	__u64 before[ZH_VXLAN_STAT_MAX];
	__u8 inner[FRAME_MAX], in[FRAME_MAX];
	const struct outer o = { 0 };
	__u32 zero = 0;
	size_t ilen, len;
	struct run r;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.zh_vxlan), &zero, &v,
				BPF_ANY))
		fail_here("clearing zh_vxlan: %s", strerror(errno));
	ilen = frame_build(&f, POD_A, inner);
	len = wrap(&o, inner, ilen, in);
	vxlan_stats(before);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, (__u32)len,
		 &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(in, (__u32)len, &r);
	assert_vxlan_delta(before, 0, 0);

	f = (struct frame){
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = REMOTE4
	};
	len = frame_build(&f, POD_A, in);
	run_frame(PROG_TC, ifindex_of[POD_A], in, (__u32)len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_redirect(&r, ZH_TRACE_REDIRECT, vxlan_dev());
	if (r.out_len != len)
		fail_here("encapsulated with zh_vxlan off");
	assert_vxlan_delta(before, ZH_VXLAN_STAT_DEV_ENCAP, 1);
	setup(state);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encap4),
		cmocka_unit_test(test_encap6),
		cmocka_unit_test(test_encap_sport),
		cmocka_unit_test(test_decap4),
		cmocka_unit_test(test_decap6),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_off),
	};
	static const struct fixture_group groups[] = {
		{ .name = "vxlan in BPF",
		  .tests = tests,
		  .n = ARRAY_SIZE(tests),
		  .setup = setup,
		  .teardown = teardown },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_vxlan",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.trace = true,
	};
	return fixture_main(&suite, argc, argv);
}
