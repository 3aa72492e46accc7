// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_xsk.c - AF_XDP steering (zh_xdp_pod_xsk) through
 * BPF_PROG_TEST_RUN against an AF_XDP socket in zh_xsks: test_run reports
 * the redirect verdict without delivering. Steered ports, other ports and
 * addresses, every-port rules with no socket, a pod that did not opt in,
 * cut frames, and the afxdp latency hop.
 *
 * (libzerohop-xsk's own socket on lo is test_bpf_xsk_socket.c.)
 * Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

/* ---------------------------------------------------------------- AF_XDP */

/*
 * Pod B's rules: UDP 9000 to either of its addresses into slot XSK_SLOT,
 * where an AF_XDP socket sits (an unbound one: test_run only reports the
 * verdict, it delivers nothing); every TCP port into XSK_EMPTY, where none
 * does. Anything else, or any address but B's, is not steered.
 */
#define XSK_SLOT 5
#define XSK_EMPTY 9
#define XSK_PORT 9000

static int xsk_fd = -1;

static void xsk_rule(int family, const char *addr, __u8 proto, __u16 port,
		     __u32 slot)
{
	struct zh_steer_key k = { .family = family == AF_INET ? ZH_AF_INET :
								ZH_AF_INET6,
				  .proto = proto,
				  .port = htons(port) };
	struct zh_steer v = { .slot = slot, .queues = 1 };

	parse_addr(family, addr, k.addr);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.zh_xsk_steer), &k, &v,
				BPF_ANY))
		fail_here("zh_xsk_steer: %s", strerror(errno));
}

static int xsk_setup(void **state)
{
	__u32 slot = XSK_SLOT;

	(void)state;
	xsk_fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (xsk_fd < 0) {
		print_error("socket(AF_XDP): %s\n", strerror(errno));
		return -1;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.zh_xsks), &slot, &xsk_fd,
				BPF_ANY)) {
		print_error("zh_xsks[%u]: %s\n", slot, strerror(errno));
		return -1;
	}
	xsk_rule(AF_INET, B4, IPPROTO_UDP, XSK_PORT, XSK_SLOT);
	xsk_rule(AF_INET6, B6, IPPROTO_UDP, XSK_PORT, XSK_SLOT);
	xsk_rule(AF_INET, B4, IPPROTO_TCP, 0, XSK_EMPTY);
	return 0;
}

static int xsk_teardown(void **state)
{
	(void)state;
	map_clear(bpf_map__fd(skel->maps.zh_xsk_steer));
	if (xsk_fd >= 0)
		close(xsk_fd); /* takes it out of zh_xsks as well */
	xsk_fd = -1;
	return lat_teardown(NULL);
}

struct xsk_case {
	const char *desc;
	struct frame f;
	enum verdict verdict;
	int stat; /* the one counter that moves; -1: none */
};

static const struct xsk_case xsk_cases[] = {
	{ "UDP to a steered port: into the socket",
	  { .l3 = L3_IPV4,
	    .proto = IPPROTO_UDP,
	    .src = A4,
	    .dst = B4,
	    .dport = XSK_PORT },
	  REDIRECT,
	  ZH_STAT_XSK_REDIRECT },
	{ "IPv6 UDP to a steered port: into the socket",
	  { .l3 = L3_IPV6,
	    .proto = IPPROTO_UDP,
	    .src = A6,
	    .dst = B6,
	    .dport = XSK_PORT },
	  REDIRECT,
	  ZH_STAT_XSK_REDIRECT },
	{ "UDP to another port: the kernel stack",
	  { .l3 = L3_IPV4,
	    .proto = IPPROTO_UDP,
	    .src = A4,
	    .dst = B4,
	    .dport = XSK_PORT + 1 },
	  PASS,
	  -1 },
	{ "IPv6 UDP to another port: the kernel stack",
	  { .l3 = L3_IPV6,
	    .proto = IPPROTO_UDP,
	    .src = A6,
	    .dst = B6,
	    .dport = XSK_PORT + 1 },
	  PASS,
	  -1 },
	{ "UDP to the port at another pod's address: not steered",
	  { .l3 = L3_IPV4,
	    .proto = IPPROTO_UDP,
	    .src = B4,
	    .dst = A4,
	    .dport = XSK_PORT },
	  PASS,
	  -1 },
	{ "TCP, every port steered, no socket yet: the kernel, counted",
	  { .l3 = L3_IPV4, .proto = IPPROTO_TCP, .src = A4, .dst = B4 },
	  PASS,
	  ZH_STAT_PASS_XSK_NO_SOCKET },
	{ "ping: the kernel stack",
	  { .l3 = L3_IPV4, .proto = IPPROTO_ICMP, .src = A4, .dst = B4 },
	  PASS,
	  -1 },
	{ "ARP: the kernel stack",
	  { .l3 = L3_ARP, .src = A4, .dst = B4 },
	  PASS,
	  -1 },
};

static void xsk_run(struct bpf_program *p, const struct xsk_case *c,
		    const __u8 *in, __u32 len)
{
	__u64 want[ZH_STAT_MAX] = { 0 };
	struct run r;

	cur_set(in, len, "%s: %s", bpf_program__name(p), c->desc);
	run_prog(p, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_XDP, &r, c->verdict);
	assert_unchanged(in, len, &r);
	if (c->stat >= 0)
		want[c->stat] = 1;
	assert_deltas(&r, want, len);
}

static void test_xsk_steer(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(xsk_cases); i++) {
		__u8 in[FRAME_MAX];
		__u32 len = (__u32)frame_build(&xsk_cases[i].f, POD_A, in);

		xsk_run(skel->progs.zh_xdp_pod_xsk, &xsk_cases[i], in, len);
	}
}

/* The same rules mean nothing to a pod that did not opt in. */
static void test_xsk_plain_pod(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(xsk_cases); i++) {
		struct xsk_case c = xsk_cases[i];
		__u8 in[FRAME_MAX];
		__u32 len = (__u32)frame_build(&c.f, POD_A, in);

		c.verdict = PASS;
		c.stat = -1;
		xsk_run(skel->progs.zh_xdp_pod, &c, in, len);
	}
}

/* A steered frame cut short never reaches the socket, and only a frame
 * with its whole UDP header can match. */
static void test_xsk_truncated(void **state)
{
	const struct xsk_case *c = &xsk_cases[0];
	__u8 in[FRAME_MAX];
	__u32 len = (__u32)frame_build(&c->f, POD_A, in);
	__u32 full = ETH_HLEN + sizeof(struct iphdr) + sizeof(struct udphdr);

	(void)state;
	/* test_run refuses an XDP frame shorter than an Ethernet header. */
	for (__u32 cut = ETH_HLEN; cut <= len; cut++) {
		struct xsk_case t = *c;

		if (cut < full) {
			t.verdict = PASS;
			t.stat = -1;
		}
		xsk_run(skel->progs.zh_xdp_pod_xsk, &t, in, cut);
	}
}

/* A probe steered into a socket is timed at the afxdp hop. */
static void test_xsk_latency(void **state)
{
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC, .seq = 1 };
	struct xsk_case c = xsk_cases[0];
	__u8 in[FRAME_MAX];
	__u64 t0 = mono_ns();
	__u32 len;

	(void)state;
	lat_setup(ZH_CFG_F_PROBES, 0);
	probe.tx_ns = t0;
	c.f.probe = &probe;
	len = (__u32)frame_build(&c.f, POD_A, in);
	xsk_run(skel->progs.zh_xdp_pod_xsk, &c, in, len);
	assert_lat_only(ZH_HOP_AFXDP, ZH_LAT_PROBE, 1, 0, mono_ns() - t0);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest xsk_tests[] = {
		cmocka_unit_test(test_xsk_steer),
		cmocka_unit_test(test_xsk_plain_pod),
		cmocka_unit_test(test_xsk_truncated),
		cmocka_unit_test_teardown(test_xsk_latency, lat_teardown),
	};
	static const struct fixture_group groups[] = {
		{ .name = "AF_XDP steering",
		  .tests = xsk_tests,
		  .n = ARRAY_SIZE(xsk_tests),
		  .setup = xsk_setup,
		  .teardown = xsk_teardown },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_xsk",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
	};

	return fixture_main(&suite, argc, argv);
}
