// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_pod.c - the programs on a pod's veth beyond the fast path's
 * cases: zh_xdp_pod, which only exists so that veth accepts redirected
 * frames; the XDP entry handing a frame for a tc pod to the tc entry (with
 * XDP metadata where the kernel has it); and the tc entry behind XDP on an
 * XDP pod's veth, taking exactly what XDP handed over.
 *
 * Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

/* ---------------------------------------------------------- zh_xdp_pod */

/* The pod-side program only exists so that veth accepts redirected
 * frames: everything passes and nothing is counted. */
static void test_xdp_pod_passes(void **state)
{
	static const struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4
	};
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u8 in[FRAME_MAX];
	__u32 len = (__u32)frame_build(&f, POD_A, in);
	struct run r;

	cur_set(in, len, "zh_xdp_pod");
	run_prog(skel->progs.zh_xdp_pod, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(in, len, &r);
	assert_deltas(&r, none, len);
}

/* ------------------------------------------------ the XDP -> tc handover */

static int b_xdp_again(void **state)
{
	(void)state;
	b_datapath(ZH_DATAPATH_XDP);
	return 0;
}

/* To a pod without XDP on its veth, the XDP entry cannot redirect: it
 * passes the frame untouched and uncounted, and the tc entry on the same
 * veth delivers it. */
static void test_xdp_to_tc_pod(void **state)
{
	static const struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4
	};
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u64 redir[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u32 meta = ZH_META_TO_TC;
	__u8 in[FRAME_MAX], want[FRAME_MAX];
	__u32 len = (__u32)frame_build(&f, POD_A, in), want_len = len;
	struct run r;

	b_datapath(ZH_DATAPATH_TC);
	cur_set(in, len, "xdp: A -> B, B a tc pod");
	run_frame(PROG_XDP, ifindex_of[POD_A], in, len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	/* test_run hands back the metadata in front of the frame; without
	 * XDP metadata the frame goes on as it came. */
	if (has_meta()) {
		memcpy(want, &meta, sizeof(meta));
		want_len += sizeof(meta);
	}
	memcpy(want + want_len - len, in, len);
	assert_bytes(want, want_len, &r);
	assert_deltas(&r, none, len);
	cur_set(in, len, "tc: A -> B, B a tc pod");
	run_frame(PROG_TC, ifindex_of[POD_A], in, len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_routed(in, len, &r, POD_B, true);
	assert_deltas(&r, redir, len);
}

/*
 * Behind XDP on an XDP pod's veth, the tc entry leaves alone what XDP did
 * not hand over (XDP counted it already), and takes what it did. test_run
 * cannot hand tc the XDP metadata, so with it the tc entry here sees
 * nothing handed over; without it, it classifies again and takes exactly
 * what XDP passes on: frames for a tc pod.
 */
struct behind_case {
	const char *desc;
	struct frame f;
	__u8 b_datapath;
	bool taken_without_meta; /* redirected, counted */
};

static const struct behind_case behind_cases[] = {
	{ "A -> off-node",
	  { .l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = OFFNODE4 },
	  ZH_DATAPATH_XDP,
	  false },
	{ "A -> B, an XDP pod (XDP delivered it)",
	  { .l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4 },
	  ZH_DATAPATH_XDP,
	  false },
	{ "A -> B, a tc pod (XDP handed it over)",
	  { .l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4 },
	  ZH_DATAPATH_TC,
	  true },
	{ "A -> B over IPv6, a tc pod",
	  { .l3 = L3_IPV6, .proto = IPPROTO_TCP, .src = A6, .dst = B6 },
	  ZH_DATAPATH_TC,
	  true },
	{ "A -> B, TTL 1, an XDP pod (XDP passed it, counted)",
	  { .l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4, .ttl = 1 },
	  ZH_DATAPATH_XDP,
	  false },
	{ "ARP from A (XDP passed it, counted)",
	  { .l3 = L3_ARP, .src = A4, .dst = B4 },
	  ZH_DATAPATH_XDP,
	  false },
	/* What XDP itself wrote and passed: the source is no longer A's,
	 * and the tc entry must not take that for spoofing. */
	{ "XDP's own rewrite from a VIP (not A's address)",
	  { .l3 = L3_IPV4,
	    .proto = IPPROTO_UDP,
	    .src = "10.96.0.10",
	    .dst = OFFNODE4 },
	  ZH_DATAPATH_XDP,
	  false },
};

static void iface_datapath(int pod, __u8 datapath)
{
	int fd = bpf_map__fd(skel->maps.zh_ifaces);
	__u32 host = (__u32)ifindex_of[pod];
	struct zh_iface ifc;

	if (bpf_map_lookup_elem(fd, &host, &ifc))
		fail_here("no iface for pod %d", pod);
	ifc.datapath = datapath;
	if (bpf_map_update_elem(fd, &host, &ifc, BPF_EXIST))
		fail_here("iface update: %s", strerror(errno));
}

static int behind_teardown(void **state)
{
	iface_datapath(POD_A, ZH_DATAPATH_TC);
	b_datapath(ZH_DATAPATH_XDP);
	return 0;
}

static void test_tc_behind_xdp(void **state)
{
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u64 redir[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;

	iface_datapath(POD_A, ZH_DATAPATH_XDP);
	for (size_t i = 0; i < ARRAY_SIZE(behind_cases); i++) {
		const struct behind_case *c = &behind_cases[i];
		__u32 len = (__u32)frame_build(&c->f, POD_A, in);
		bool taken = !has_meta() && c->taken_without_meta;

		b_datapath(c->b_datapath);
		cur_set(in, len, "tc behind XDP (%s XDP metadata): %s",
			has_meta() ? "with" : "without", c->desc);
		run_frame(PROG_TC, ifindex_of[POD_A], in, len, &r);
		if (taken) {
			assert_verdict(PROG_TC, &r, REDIRECT);
			assert_routed(in, len, &r, POD_B, true);
			assert_deltas(&r, redir, len);
		} else {
			assert_verdict(PROG_TC, &r, PASS);
			assert_unchanged(in, len, &r);
			assert_deltas(&r, none, len);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest pod_tests[] = {
		cmocka_unit_test(test_xdp_pod_passes),
		cmocka_unit_test_teardown(test_xdp_to_tc_pod, b_xdp_again),
		cmocka_unit_test_teardown(test_tc_behind_xdp, behind_teardown),
	};
	static const struct fixture_group groups[] = {
		{ .name = "zh_xdp_pod",
		  .tests = pod_tests,
		  .n = ARRAY_SIZE(pod_tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_pod",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
	};

	return fixture_main(&suite, argc, argv);
}
