// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_snat.c - source NAT in the fast path (bpf/lib/snat.h) through
 * BPF_PROG_TEST_RUN, byte for byte:
 *
 *   - masquerade: a pod's TCP/UDP to outside the cluster leaves by the
 *     uplink (bpf_redirect_neigh) from the node's address and a port of
 *     the range, the reply on the uplink reaches the pod, the flow keeps
 *     its port; IPv4 and IPv6;
 *   - nothing masqueraded inside the cluster, to --no-masquerade, with
 *     masquerade off, for ICMP (the kernel's nftables rule), nor what
 *     expires here;
 *   - ports: taken ones skipped, none left is a drop, an expired holder
 *     taken over;
 *   - NodePort to a backend on another node: DNAT and SNAT out, both
 *     turned back on the reply, which leaves by the uplink;
 *   - externalTrafficPolicy Local: no SNAT, and no local backend drops;
 *   - a NodePort flow keeps its client's port (ZH_SNAT_SRC_F_KEEP_PORT)
 *     unless taken, a local socket's or a NodePort; its reply is found at
 *     that port; none free is a counted drop.
 *
 * The XDP entries hand every such packet to tc untouched: each case
 * checks that too. Rows of packets, as test_bpf_lb.c, with the port that
 * BPF picked carried from row to row (SNAT_PORT in a frame).
 *
 * Exit 77 (skipped) when not run as root.
 */
#define _GNU_SOURCE /* sched_setaffinity */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

#define OUTSIDE4 "198.51.100.7" /* out there: masqueraded to */
#define OUTSIDE6 "2001:db8:77::7"
#define KEEP4 "203.0.113.9" /* --no-masquerade 203.0.113.0/24 */
#define NODE6 "2001:db8::1"
#define REMOTE_BE4 "10.1.0.5" /* a pod on another node (OFFNODE4) */
#define PORT_MIN 61000
#define PORT_MAX 61003 /* four ports: collisions are easy to make */
#define NODE_PORT 30080
#define BE_PORT 8080
#define SNAT_PORT 1 /* in a frame: the port the SNAT picked */
#define CLIENT_PORT 40000
#define LB4 "198.51.100.200" /* a LoadBalancer IP routed to the node */
#define LB4_POD_B "198.51.100.201" /* another, its backend pod B */

enum {
	SVC_NP = 1,
	SVC_NP_LOCAL,
	SVC_NP_LOCAL_NONE,
	SVC_NP_POD_B,
	SVC_LB_REMOTE,
	SVC_LB_POD_B
};
enum { BE_REMOTE = 1, BE_LOCAL_REMOTE, BE_POD_B, BE_LB_REMOTE, BE_LB_POD_B };

static const __u8 mac_out[ETH_ALEN] = { 0x02, 0, 0, 0, 0x0e, 0x01 };
/* The remote node's VXLAN device (routing vxlan). */
static const __u8 mac_vx[ETH_ALEN] = { 0x02, 0x7a, 0xc0, 0x00, 0x02, 0x32 };

static void nomasq(const char *cidr)
{
	char buf[64], *slash;
	struct zh_lpm_key k = { 0 };
	__u32 flag = ZH_NOMASQ_F_USER;
	bool v6 = strchr(cidr, ':');

	snprintf(buf, sizeof(buf), "%s", cidr);
	slash = strchr(buf, '/');
	*slash = 0;
	k.family = v6 ? ZH_AF_INET6 : ZH_AF_INET;
	k.prefixlen = 32 + (__u32)atoi(slash + 1);
	parse_addr(v6 ? AF_INET6 : AF_INET, buf, k.addr);
	map_put(bpf_map__fd(skel->maps.zh_nomasq), &k, &flag);
}

/* The uplink (A's pod end stands for it) with the node's addresses, as
 * masquerade's (key 0) and its own. */
static void snat_src(void)
{
	struct zh_snat_src s = { .ifindex = (__u32)ifindex_of[FOREIGN],
				 .flags = ZH_SNAT_SRC_F_V4 | ZH_SNAT_SRC_F_V6,
				 .port_min = PORT_MIN,
				 .port_max = PORT_MAX };
	__u32 k = 0;

	parse_addr(AF_INET, NODE4, &s.v4);
	parse_addr(AF_INET6, NODE6, s.v6);
	map_put(bpf_map__fd(skel->maps.zh_snat_src), &k, &s);
	k = s.ifindex;
	map_put(bpf_map__fd(skel->maps.zh_snat_src), &k, &s);
}

/* NodePort @id at NODE_PORT/TCP, every slot to backend @be (none: 0). */
static void np_svc(__u32 id, __u16 port, __u32 be, __u32 flags)
{
	struct zh_svc_key k = { .family = ZH_AF_INET,
				.proto = IPPROTO_TCP,
				.port = htons(port) };
	struct zh_svc v = { .id = id,
			    .table_off = id * 7,
			    .table_size = be ? 7 : 0,
			    .flags = ZH_SVC_F_NODEPORT | flags,
			    .port = htons(80) };

	map_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	for (__u32 i = 0; be && i < 7; i++) {
		__u32 slot = id * 7 + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &be);
	}
}

static void backend(__u32 id, __u32 svc, const char *addr)
{
	struct zh_backend b = { .family = ZH_AF_INET,
				.port = htons(BE_PORT),
				.svc_id = svc };

	parse_addr(AF_INET, addr, b.addr);
	map_put(bpf_map__fd(skel->maps.zh_backends), &id, &b);
}

/* A LoadBalancer (or external) IP @addr:80/TCP, every slot to backend
 * @be: keyed by its address, as a cluster IP. */
static void lb_ip_svc(__u32 id, const char *addr, __u32 be)
{
	struct zh_svc_key k = { .family = ZH_AF_INET,
				.proto = IPPROTO_TCP,
				.port = htons(80) };
	struct zh_svc v = { .id = id, .table_off = id * 7, .table_size = 7 };

	parse_addr(AF_INET, addr, k.addr);
	map_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	for (__u32 i = 0; i < 7; i++) {
		__u32 slot = id * 7 + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &be);
	}
}

static void lb_ips(void)
{
	backend(BE_LB_REMOTE, SVC_LB_REMOTE, REMOTE_BE4);
	lb_ip_svc(SVC_LB_REMOTE, LB4, BE_LB_REMOTE);
	backend(BE_LB_POD_B, SVC_LB_POD_B, B4);
	lb_ip_svc(SVC_LB_POD_B, LB4_POD_B, BE_LB_POD_B);
}

/* Routing vxlan: REMOTE_BE4's pod CIDR is node 192.0.2.50's, through the
 * VXLAN device (pod B's host veth stands for it). */
static void remote_vxlan(void)
{
	struct zh_node n = { .family = ZH_AF_INET,
			     .flags = ZH_NODE_F_VXLAN,
			     .ifindex = (__u32)ifindex_of[POD_B],
			     .vni = 7 };
	struct zh_lpm_key k = { .prefixlen = ZH_LPM_FAMILY_BITS + 24,
				.family = ZH_AF_INET };

	memcpy(n.mac, mac_vx, ETH_ALEN);
	parse_addr(AF_INET, "192.0.2.50", n.addr);
	parse_addr(AF_INET, "10.1.0.0", k.addr);
	map_put(bpf_map__fd(skel->maps.zh_nodes), &k, &n);
}

static int snat_setup(void **state)
{
	(void)state;
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	map_clear(bpf_map__fd(skel->maps.zh_nomasq));
	map_clear(bpf_map__fd(skel->maps.zh_snat_src));
	map_clear(bpf_map__fd(skel->maps.zh_services));
	map_clear(bpf_map__fd(skel->maps.zh_backends));
	map_clear(bpf_map__fd(skel->maps.zh_node_addrs));
	nomasq("10.0.0.0/8"); /* the pods, this node's and others' */
	nomasq("fd00::/16");
	nomasq("192.0.2.0/24"); /* the nodes */
	nomasq("203.0.113.0/24"); /* --no-masquerade */
	snat_src();
	node_addr(AF_INET, NODE4);
	node_addr(AF_INET6, NODE6);
	backend(BE_REMOTE, SVC_NP, REMOTE_BE4);
	np_svc(SVC_NP, NODE_PORT, BE_REMOTE, 0);
	backend(BE_LOCAL_REMOTE, SVC_NP_LOCAL, REMOTE_BE4);
	np_svc(SVC_NP_LOCAL, NODE_PORT + 1, BE_LOCAL_REMOTE,
	       ZH_SVC_F_ETP_LOCAL);
	np_svc(SVC_NP_LOCAL_NONE, NODE_PORT + 2, 0, ZH_SVC_F_ETP_LOCAL);
	backend(BE_POD_B, SVC_NP_POD_B, B4);
	np_svc(SVC_NP_POD_B, NODE_PORT + 3, BE_POD_B, 0);
	cfg_flags(ZH_CFG_F_MASQ, 0, 1);
	return 0;
}

static int snat_teardown(void **state)
{
	(void)state;
	cfg_flags(0, ZH_CFG_F_MASQ, 0);
	map_clear(bpf_map__fd(skel->maps.zh_services));
	map_clear(bpf_map__fd(skel->maps.zh_node_addrs));
	map_clear(bpf_map__fd(skel->maps.zh_nodes));
	return 0;
}

static void masq_off(void)
{
	cfg_flags(0, ZH_CFG_F_MASQ, -1);
}

/* --------------------------------------------------------------- rows */

enum where {
	FROM_POD, /* the host veth of the sender (zh_*_from_pod) */
	UPLINK, /* the uplink (zh_*_uplink) */
};

enum out {
	OUT_SAME, /* passed on untouched */
	OUT_NEIGH, /* out of the uplink (redirect_neigh), one hop on */
	OUT_POD, /* into a pod (@to) */
	OUT_KERNEL, /* to the kernel, rewritten (@want) */
	OUT_TUNNEL, /* into the VXLAN device toward the backend's node */
};

struct step {
	void (*before)(void);
	enum where where;
	int from; /* FROM_POD: the pod that sends */
	struct frame in, want; /* want.l3 0: @in */
	enum verdict verdict; /* tc's; XDP hands the row to tc (XDP_PASS) */
	enum out out;
	int to; /* OUT_POD */
	__u64 delta[ZH_STAT_MAX]; /* tc's counters */
	bool xdp_own; /* XDP decides this row itself (verdict, counters) */
	bool new_port; /* the SNAT picks a port here, remembered */
	int ct; /* zh_ct entries after the row + 1, or 0 */
};

#define STEPS 6

struct snat_case {
	const char *desc;
	struct step steps[STEPS];
};

#define CT(n) ((n) + 1)
#define FLOW(l3_, proto_, s, sp, d, dp)                                    \
	{                                                                  \
		.l3 = (l3_), .proto = (proto_), .src = (s), .sport = (sp), \
		.dst = (d), .dport = (dp)                                  \
	}
/* From outside, on the uplink. */
#define OUTER(l3_, proto_, s, sp, d, dp)                                   \
	{                                                                  \
		.l3 = (l3_), .proto = (proto_), .src = (s), .sport = (sp), \
		.dst = (d), .dport = (dp), .src_mac = mac_out,             \
		.dst_mac = mac_out                                         \
	}
#define OUTER_TTL63(l3_, proto_, s, sp, d, dp)                             \
	{                                                                  \
		.l3 = (l3_), .proto = (proto_), .src = (s), .sport = (sp), \
		.dst = (d), .dport = (dp), .src_mac = mac_out,             \
		.dst_mac = mac_out, .ttl = 63                              \
	}
#define NEIGH \
	.verdict = REDIRECT, .out = OUT_NEIGH, .delta = { [ZH_STAT_SNAT] = 1 }
#define INTO(pod)                                         \
	.verdict = REDIRECT, .out = OUT_POD, .to = (pod), \
	.delta = { [ZH_STAT_REDIRECT] = 1 }
#define KERNEL(stat) .verdict = PASS, .out = OUT_SAME, .delta = { [stat] = 1 }

/* A -> out there:80 from NODE:port, the reply back to A, the flow again
 * from the same port. */
#define MASQ_AND_REPLY(what, l3_, proto_, a, out, node)                        \
	{                                                                      \
		.desc = "masquerade " what                                     \
			": A -> outside leaves from the node, the reply "      \
			"reaches A",                                           \
		.steps = {                                                     \
			{ .in = FLOW(l3_, proto_, a, CLIENT_PORT, out, 80),    \
			  .want = { .l3 = (l3_),                               \
				    .proto = (proto_),                         \
				    .src = (node),                             \
				    .sport = SNAT_PORT,                        \
				    .dst = (out),                              \
				    .dport = 80,                               \
				    .ttl = 63 },                               \
			  NEIGH,                                               \
			  .new_port = true,                                    \
			  .ct = CT(2) },                                       \
			{ .where = UPLINK,                                     \
			  .in = OUTER(l3_, proto_, out, 80, node, SNAT_PORT),  \
			  .want = OUTER(l3_, proto_, out, 80, a, CLIENT_PORT), \
			  INTO(POD_A) },                                       \
			{ .in = FLOW(l3_, proto_, a, CLIENT_PORT, out, 80),    \
			  .want = { .l3 = (l3_),                               \
				    .proto = (proto_),                         \
				    .src = (node),                             \
				    .sport = SNAT_PORT,                        \
				    .dst = (out),                              \
				    .dport = 80,                               \
				    .ttl = 63 },                               \
			  NEIGH,                                               \
			  .ct = CT(2) },                                       \
		},                                                             \
	}

static const struct snat_case cases[] = {
	MASQ_AND_REPLY("IPv4 TCP", L3_IPV4, IPPROTO_TCP, A4, OUTSIDE4, NODE4),
	MASQ_AND_REPLY("IPv4 UDP", L3_IPV4, IPPROTO_UDP, A4, OUTSIDE4, NODE4),
	MASQ_AND_REPLY("IPv6 TCP", L3_IPV6, IPPROTO_TCP, A6, OUTSIDE6, NODE6),
	MASQ_AND_REPLY("IPv6 UDP", L3_IPV6, IPPROTO_UDP, A6, OUTSIDE6, NODE6),
	{
		.desc = "no masquerade to a pod of another node, to the nodes, nor to --no-masquerade",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, CLIENT_PORT,
				     OFFNODE4, 80),
			  KERNEL(ZH_STAT_PASS_NO_ENDPOINT), .xdp_own = true,
			  .ct = CT(0) },
			{ .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, CLIENT_PORT,
				     "192.0.2.7", 53),
			  KERNEL(ZH_STAT_PASS_NO_ENDPOINT), .xdp_own = true,
			  .ct = CT(0) },
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, CLIENT_PORT,
				     KEEP4, 80),
			  KERNEL(ZH_STAT_PASS_NO_ENDPOINT), .xdp_own = true,
			  .ct = CT(0) },
			{ .in = FLOW(L3_IPV6, IPPROTO_TCP, A6, CLIENT_PORT,
				     OFFNODE6, 80),
			  KERNEL(ZH_STAT_PASS_NO_ENDPOINT), .xdp_own = true,
			  .ct = CT(0) },
		},
	},
	{
		.desc = "masquerade off: to outside goes to the kernel as it is",
		.steps = {
			{ .before = masq_off,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, CLIENT_PORT,
				     OUTSIDE4, 80),
			  KERNEL(ZH_STAT_PASS_NO_ENDPOINT), .xdp_own = true,
			  .ct = CT(0) },
		},
	},
	{
		/* The kernel's nftables rule masquerades it. */
		.desc = "ICMP to outside: the kernel's",
		.steps = {
			{ .in = { .l3 = L3_IPV4, .proto = IPPROTO_ICMP,
				  .src = A4, .dst = OUTSIDE4 },
			  KERNEL(ZH_STAT_PASS_NO_ENDPOINT), .xdp_own = true,
			  .ct = CT(0) },
		},
	},
	{
		/* The kernel answers Time Exceeded: to the pod, which a
		 * SNATed packet would no longer name. */
		.desc = "TTL 1 to outside: the kernel's, not SNATed",
		.steps = {
			{ .in = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				  .src = A4, .dst = OUTSIDE4, .dport = 80,
				  .ttl = 1 },
			  KERNEL(ZH_STAT_PASS_TTL),
			  .ct = CT(0) },
		},
	},
	{
		.desc = "a reply at the node's address that no flow has: the kernel's",
		.steps = {
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4, 80, NODE4,
				      PORT_MIN),
			  .verdict = PASS, .out = OUT_SAME, .xdp_own = false },
		},
	},
	{
		.desc = "NodePort to a backend on another node: DNAT and SNAT, the reply back from the node port",
		.steps = {
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, NODE4, NODE_PORT),
			  .want = OUTER_TTL63(L3_IPV4, IPPROTO_TCP, NODE4,
					      SNAT_PORT, REMOTE_BE4, BE_PORT),
			  NEIGH, .new_port = true,
			  .ct = CT(4) },
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, REMOTE_BE4, BE_PORT,
				      NODE4, SNAT_PORT),
			  .want = OUTER_TTL63(L3_IPV4, IPPROTO_TCP, NODE4,
					      NODE_PORT, OUTSIDE4,
					      CLIENT_PORT),
			  NEIGH },
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, NODE4, NODE_PORT),
			  .want = OUTER_TTL63(L3_IPV4, IPPROTO_TCP, NODE4,
					      SNAT_PORT, REMOTE_BE4, BE_PORT),
			  NEIGH, .ct = CT(4) },
		},
	},
	{
		/* Regression: the SNATed request left by redirect_neigh on
		 * the uplink, which has no route to pod CIDRs in VXLAN mode:
		 * it goes by the node path (zh_nodes) instead. */
		.desc = "NodePort to a backend on another node, routing vxlan: into the tunnel toward its node",
		.steps = {
			{ .before = remote_vxlan, .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, NODE4, NODE_PORT),
			  .want = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				    .src = NODE4, .sport = SNAT_PORT,
				    .dst = REMOTE_BE4, .dport = BE_PORT,
				    .src_mac = mac_out, .dst_mac = mac_vx,
				    .ttl = 63 },
			  .verdict = REDIRECT, .out = OUT_TUNNEL,
			  .delta = { [ZH_STAT_SNAT] = 1 }, .new_port = true,
			  .ct = CT(4) },
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, REMOTE_BE4, BE_PORT,
				      NODE4, SNAT_PORT),
			  .want = OUTER_TTL63(L3_IPV4, IPPROTO_TCP, NODE4,
					      NODE_PORT, OUTSIDE4,
					      CLIENT_PORT),
			  NEIGH },
		},
	},
	{
		/* kube-proxy: the client's address kept; the kernel routes
		 * the DNATed packet. */
		.desc = "NodePort externalTrafficPolicy Local: no SNAT, the client's address kept",
		.steps = {
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, NODE4, NODE_PORT + 1),
			  .want = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
					CLIENT_PORT, REMOTE_BE4, BE_PORT),
			  .verdict = PASS, .out = OUT_KERNEL,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
			  .xdp_own = true, .ct = CT(2) },
		},
	},
	{
		/* Regression: masquerade took the reply for traffic to the
		 * outside and gave it a port of its range. */
		.desc = "NodePort to a pod of this node: its reply to the outside leaves from the node port, not masqueraded",
		.steps = {
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, NODE4, NODE_PORT + 3),
			  .want = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
					CLIENT_PORT, B4, BE_PORT),
			  INTO(POD_B), .xdp_own = true, .ct = CT(2) },
			{ .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, B4, BE_PORT,
				     OUTSIDE4, CLIENT_PORT),
			  .want = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				    .src = NODE4, .sport = NODE_PORT + 3,
				    .dst = OUTSIDE4, .dport = CLIENT_PORT },
			  .verdict = REDIRECT, .out = OUT_NEIGH,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
			  .ct = CT(2) },
		},
	},
	{
		.desc = "a LoadBalancer IP from outside, its backend on another node: DNAT and SNAT, the reply back from the LB IP",
		.steps = {
			{ .before = lb_ips, .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, LB4, 80),
			  .want = OUTER_TTL63(L3_IPV4, IPPROTO_TCP, NODE4,
					      SNAT_PORT, REMOTE_BE4, BE_PORT),
			  NEIGH, .new_port = true,
			  .ct = CT(4) },
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, REMOTE_BE4, BE_PORT,
				      NODE4, SNAT_PORT),
			  .want = OUTER_TTL63(L3_IPV4, IPPROTO_TCP, LB4, 80,
					      OUTSIDE4, CLIENT_PORT),
			  NEIGH },
		},
	},
	{
		.desc = "a LoadBalancer IP from outside, its backend a pod here: into it; its reply leaves from the LB IP",
		.steps = {
			{ .before = lb_ips, .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, LB4_POD_B, 80),
			  .want = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
					CLIENT_PORT, B4, BE_PORT),
			  INTO(POD_B), .xdp_own = true, .ct = CT(2) },
			{ .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, B4, BE_PORT,
				     OUTSIDE4, CLIENT_PORT),
			  .want = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				    .src = LB4_POD_B, .sport = 80,
				    .dst = OUTSIDE4, .dport = CLIENT_PORT },
			  .verdict = REDIRECT, .out = OUT_NEIGH,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
			  .ct = CT(2) },
		},
	},
	{
		.desc = "from outside to an address of no Service: the kernel's",
		.steps = {
			{ .before = lb_ips, .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, "198.51.100.202", 80),
			  .verdict = PASS, .out = OUT_SAME, .xdp_own = true,
			  .ct = CT(0) },
		},
	},
	{
		.desc = "NodePort externalTrafficPolicy Local without a local backend: dropped, no ICMP",
		.steps = {
			{ .where = UPLINK,
			  .in = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				      CLIENT_PORT, NODE4, NODE_PORT + 2),
			  .verdict = DROP, .out = OUT_SAME,
			  .delta = { [ZH_STAT_DROP_NO_LOCAL_BACKEND] = 1 },
			  .xdp_own = true, .ct = CT(0) },
		},
	},
};

/* ---------------------------------------------------------------- run */

static __u16 l4_sport(const __u8 *b, bool v6)
{
	return get16(b + L3 + (v6 ? IP6_HLEN : sizeof(struct iphdr)));
}

/* @f with SNAT_PORT replaced by @port. */
static struct frame with_port(const struct frame *f, __u16 port)
{
	struct frame g = *f;

	if (g.sport == SNAT_PORT)
		g.sport = port;
	if (g.dport == SNAT_PORT)
		g.dport = port;
	return g;
}

static int ct_count(void)
{
	int fd = bpf_map__fd(skel->maps.zh_ct), n = 0;
	struct zh_ct_key k, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		n++;
		prev = &k;
	}
	return n;
}

static void run_step(enum prog prog, const struct snat_case *c, int i,
		     __u16 *port)
{
	const struct step *s = &c->steps[i];
	int ingress = s->where == UPLINK ? FOREIGN : s->from;
	struct frame in = with_port(&s->in, *port), want;
	bool v6 = in.l3 == L3_IPV6;
	__u8 ib[FRAME_MAX], wb[FRAME_MAX];
	__u64 none[ZH_STAT_MAX] = { 0 };
	bool handed = prog == PROG_XDP && !s->xdp_own;
	struct bpf_program *p;
	__u32 len;
	struct run r;

	if (s->before)
		s->before();
	len = (__u32)frame_build(&in, ingress, ib);
	cur_set(ib, len, "%s: %s: packet %d", prog_names[prog], c->desc, i + 1);
	if (s->where == UPLINK)
		p = prog == PROG_TC ? skel->progs.zh_tc_uplink :
				      skel->progs.zh_xdp_uplink;
	else
		p = prog == PROG_TC ? skel->progs.zh_tc_from_pod :
				      skel->progs.zh_xdp_from_pod;
	run_prog(p, ifindex_of[ingress], ib, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	/* XDP hands SNAT to tc: untouched, uncounted. */
	if (handed) {
		__u32 meta = ZH_META_TO_TC;

		assert_verdict(prog, &r, PASS);
		/* From a pod's veth the frame is marked for tc in its XDP
		 * metadata, which test_run hands back in front of it. */
		if (s->where == FROM_POD && has_meta()) {
			memcpy(wb, &meta, sizeof(meta));
			memcpy(wb + sizeof(meta), ib, len);
			assert_bytes(wb, len + (__u32)sizeof(meta), &r);
		} else {
			assert_unchanged(ib, len, &r);
		}
		assert_deltas(&r, none, len);
		return;
	}
	assert_verdict(prog, &r, s->verdict);
	assert_deltas(&r, s->delta, len);
	if (s->new_port) {
		*port = l4_sport(r.out, v6);
		if (*port < PORT_MIN || *port > PORT_MAX)
			fail_here("SNAT source port %u, want %u-%u", *port,
				  PORT_MIN, PORT_MAX);
	}
	want = with_port(s->want.l3 ? &s->want : &s->in, *port);
	(void)frame_build(&want, ingress, wb);
	switch (s->out) {
	case OUT_SAME:
		assert_unchanged(ib, len, &r);
		break;
	case OUT_KERNEL:
		assert_bytes(wb, len, &r);
		assert_l4_csum(r.out, len, v6);
		break;
	case OUT_NEIGH:
		/* The L2 header is the neighbour table's, after us. */
		assert_bytes(wb, len, &r);
		assert_l4_csum(r.out, len, v6);
		assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH,
				ifindex_of[FOREIGN]);
		break;
	case OUT_TUNNEL:
		/* Inner frame to the remote VXLAN device's MAC, out of the
		 * VXLAN device (the tunnel key set); a kernel without the
		 * tunnel helper leaves the node path to the uplink. */
		assert_l4_csum(r.out, len, v6);
		if (kfeat.present & ZH_FEAT_BIT(TC_SET_TUNNEL_KEY) &
		    ~kfeat.disabled) {
			assert_bytes(wb, len, &r);
			assert_redirect(&r, ZH_TRACE_REDIRECT,
					ifindex_of[POD_B]);
		} else {
			assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH,
					ifindex_of[FOREIGN]);
		}
		break;
	case OUT_POD:
		assert_routed(wb, len, &r, s->to, true);
		break;
	}
	if (s->ct && ct_count() != s->ct - 1)
		fail_here("%d conntrack entries, want %d", ct_count(),
			  s->ct - 1);
}

static void test_snat_case(void **state)
{
	const struct fixture_run *fr = *state;
	const struct snat_case *c = fr->row;
	__u16 port = 0;

	for (int i = 0; i < STEPS && c->steps[i].in.l3; i++)
		run_step(fr->prog, c, i, &port);
}

/* ------------------------------------------------------------- ports */

/* A reply entry holding NODE4:@port for OUTSIDE4:80/TCP, owned by some
 * other pod's flow, stamped @age_ns ago (negative: ahead of now). */
static void hold_port_aged(__u16 port, __s64 age_ns)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_TCP,
			       .dir = ZH_CT_SNAT_REV,
			       .sport = htons(80),
			       .dport = htons(port) };
	struct zh_ct v = { .vport = htons(12345), .state = ZH_CT_ESTABLISHED };
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.last_seen_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	v.last_seen_ns -= (__u64)age_ns;
	parse_addr(AF_INET, OUTSIDE4, k.saddr);
	parse_addr(AF_INET, NODE4, k.daddr);
	parse_addr(AF_INET, B4, v.vip);
	map_put(bpf_map__fd(skel->maps.zh_ct), &k, &v);
}

/* A live (or, @dead, long expired) holder of NODE4:@port. */
static void hold_port(__u16 port, bool dead)
{
	hold_port_aged(port,
		       dead ? (ZH_CT_TIMEOUT_TCP_EST_S + 1) * 1000000000LL : 0);
}

static void masq_syn(__u16 sport, struct run *r, __u8 *in, __u32 *len)
{
	struct frame f = FLOW(L3_IPV4, IPPROTO_TCP, A4, sport, OUTSIDE4, 80);

	*len = (__u32)frame_build(&f, POD_A, in);
	cur_set(in, *len, "tc: A:%u -> outside:80", sport);
	run_frame(PROG_TC, ifindex_of[POD_A], in, *len, r);
	if (r->err)
		fail_here("test_run: %s", strerror(-r->err));
}

/*
 * Not a row: the port probe. With three of the four ports held by live
 * flows to the same peer, a new flow gets the fourth, whatever port the
 * random start was; with all four held it is dropped (counted); a holder
 * long expired is taken over.
 */
static void test_snat_ports(void **state)
{
	__u64 no_port[ZH_STAT_MAX] = { [ZH_STAT_DROP_SNAT_NO_PORT] = 1 };
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	__u32 len;

	(void)state;
	/* Every start: the free port is found from each. */
	for (int round = 0; round < 16; round++) {
		snat_setup(NULL);
		for (__u16 p = PORT_MIN; p < PORT_MAX; p++)
			hold_port(p, false);
		masq_syn((__u16)(40000 + round), &r, in, &len);
		assert_verdict(PROG_TC, &r, REDIRECT);
		assert_deltas(&r, snat, len);
		if (l4_sport(r.out, false) != PORT_MAX)
			fail_here(
				"round %d: SNAT port %u, want %u (the free one)",
				round, l4_sport(r.out, false), PORT_MAX);
	}
	/* All four taken: dropped, and no entry left behind for it. */
	masq_syn(50000, &r, in, &len);
	assert_verdict(PROG_TC, &r, DROP);
	assert_deltas(&r, no_port, len);
	if (ct_count() != 5) /* 3 held + the first flow's 2 */
		fail_here("%d conntrack entries after the drop, want 5",
			  ct_count());
	/* One holder expired: the new flow takes its port. */
	hold_port(PORT_MIN + 1, true);
	masq_syn(50001, &r, in, &len);
	assert_verdict(PROG_TC, &r, REDIRECT);
	if (l4_sport(r.out, false) != PORT_MIN + 1)
		fail_here("SNAT port %u, want %u (the expired one's)",
			  l4_sport(r.out, false), PORT_MIN + 1);
}

/*
 * Regression (cluster.sh case_np_new_flows: 5 of 8 flows answered through
 * a range of 4 ports): a holder stamped after this packet's program read
 * its clock (another CPU took or refreshed the port in between) is as
 * young as can be, not 2^64 ns old. It was taken over: two flows on one
 * port, the first one's replies handed to the second.
 */
static void test_snat_fresh_holder(void **state)
{
	__u64 no_port[ZH_STAT_MAX] = { [ZH_STAT_DROP_SNAT_NO_PORT] = 1 };
	int fd = bpf_map__fd(skel->maps.zh_ct);
	__u8 in[FRAME_MAX];
	struct run r;
	__u32 len;

	(void)state;
	for (__u16 p = PORT_MIN; p <= PORT_MAX; p++)
		hold_port_aged(p, -1000000000LL); /* 1 s ahead */
	masq_syn(50000, &r, in, &len);
	assert_verdict(PROG_TC, &r, DROP);
	assert_deltas(&r, no_port, len);
	for (__u16 p = PORT_MIN; p <= PORT_MAX; p++) {
		struct zh_ct_key k = { .family = ZH_AF_INET,
				       .proto = IPPROTO_TCP,
				       .dir = ZH_CT_SNAT_REV,
				       .sport = htons(80),
				       .dport = htons(p) };
		struct zh_ct v;

		parse_addr(AF_INET, OUTSIDE4, k.saddr);
		parse_addr(AF_INET, NODE4, k.daddr);
		if (bpf_map_lookup_elem(fd, &k, &v) || v.vport != htons(12345))
			fail_here("port %u: its holder's entry was taken over",
				  p);
	}
}

/*
 * The same, as it happens: one CPU keeps a flow's packets coming (each
 * refreshes its entries), the other sends new flows to the same peer
 * through a range of one port, the flow's. Every new flow must be dropped
 * (no port) and every packet of the holder SNATed. Before the fix a new
 * flow took the port in each of 5 runs (the holder's stamp, written after
 * the newcomer read its clock, looked expired), and the holder's flow
 * lost it for good.
 */
#define RACE_NEW_FLOWS 20000

struct race_arg {
	int cpu;
	bool holder;
	volatile bool *stop;
	unsigned long runs, wrong, err;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	struct frame f = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40000, OUTSIDE4, 80);
	struct __sk_buff skb = { .ifindex = ifindex_of[POD_A],
				 .ingress_ifindex = ifindex_of[POD_A] };
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	int prog = bpf_program__fd(skel->progs.zh_tc_from_pod);
	cpu_set_t set;
	__u32 len;

	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		a->err++;
	for (; a->holder ? !*a->stop : a->runs < RACE_NEW_FLOWS; a->runs++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1,
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb));

		/* The newcomer: a new client port each time. */
		if (!a->holder)
			f.sport = (__u16)(41000 + a->runs % 20000);
		len = (__u32)frame_build(&f, POD_A, in);
		opts.data_in = in;
		opts.data_size_in = len;
		if (bpf_prog_test_run_opts(prog, &opts)) {
			a->err++;
			continue;
		}
		if (opts.retval != (a->holder ? TC_ACT_REDIRECT : TC_ACT_SHOT))
			a->wrong++;
	}
	if (!a->holder)
		*a->stop = true;
	return NULL;
}

static void test_snat_race(void **state)
{
	struct zh_snat_src s;
	volatile bool stop = false;
	struct race_arg h = { .cpu = 0, .holder = true, .stop = &stop },
			n = { .cpu = 1, .stop = &stop };
	pthread_t th, tn;
	__u8 in[FRAME_MAX];
	struct run r;
	__u32 len, k = 0;

	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		print_message("SKIP: one CPU online: nothing runs alongside\n");
		return;
	}
	/* A range of one port, taken by the holder's flow. */
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.zh_snat_src), &k, &s))
		fail_here("no zh_snat_src entry 0");
	s.port_max = s.port_min;
	map_put(bpf_map__fd(skel->maps.zh_snat_src), &k, &s);
	masq_syn(40000, &r, in, &len);
	assert_verdict(PROG_TC, &r, REDIRECT);
	if (pthread_create(&th, NULL, race_thread, &h))
		fail_here("pthread_create");
	if (pthread_create(&tn, NULL, race_thread, &n)) {
		stop = true;
		pthread_join(th, NULL);
		fail_here("pthread_create");
	}
	pthread_join(tn, NULL);
	pthread_join(th, NULL);
	print_message(
		"%lu new flows, %lu took the port; %lu holder packets, %lu not SNATed\n",
		n.runs, n.wrong, h.runs, h.wrong);
	if (h.err || n.err)
		fail_here("test_run or affinity failed (%lu, %lu)", h.err,
			  n.err);
	if (n.wrong || h.wrong)
		fail_here(
			"%lu of %lu new flows took the held port, %lu of %lu holder packets lost it",
			n.wrong, n.runs, h.wrong, h.runs);
}

/* ------------------------------------------------- client's port kept */

#define OUTSIDE4_2 "198.51.100.8" /* a second client */

/* The uplink's own entry (NodePorts) keeps ports; masquerade's does not. */
static void keep_ports(void)
{
	struct zh_snat_src s;
	__u32 k = (__u32)ifindex_of[FOREIGN];

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.zh_snat_src), &k, &s))
		fail_here("no zh_snat_src entry for the uplink");
	s.flags |= ZH_SNAT_SRC_F_KEEP_PORT;
	map_put(bpf_map__fd(skel->maps.zh_snat_src), &k, &s);
}

/* A packet on the uplink through @p (tc or XDP), from @src:@sport to
 * @dst:@dport. */
static void uplink_run(struct bpf_program *p, const char *src, __u16 sport,
		       const char *dst, __u16 dport, __u8 *in, __u32 *len,
		       struct run *r)
{
	struct frame f = OUTER(L3_IPV4, IPPROTO_TCP, src, sport, dst, dport);

	*len = (__u32)frame_build(&f, FOREIGN, in);
	cur_set(in, *len, "%s: %s:%u -> %s:%u", bpf_program__name(p), src,
		sport, dst, dport);
	run_prog(p, ifindex_of[FOREIGN], in, *len, r);
	if (r->err)
		fail_here("test_run: %s", strerror(-r->err));
}

/* A NodePort request from @client:@sport, SNATed: the port it left with. */
static __u16 np_request(const char *client, __u16 sport, struct run *r)
{
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	__u8 in[FRAME_MAX];
	__u32 len;

	uplink_run(skel->progs.zh_tc_uplink, client, sport, NODE4, NODE_PORT,
		   in, &len, r);
	assert_verdict(PROG_TC, r, REDIRECT);
	assert_deltas(r, snat, len);
	return l4_sport(r->out, false);
}

/* A live reply entry of some other flow at NODE4:@port for the NodePort's
 * backend, REMOTE_BE4:BE_PORT. */
static void hold_be_port(__u16 port)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_TCP,
			       .dir = ZH_CT_SNAT_REV,
			       .sport = htons(BE_PORT),
			       .dport = htons(port) };
	struct zh_ct v = { .vport = htons(12345),
			   .state = ZH_CT_ESTABLISHED,
			   .last_seen_ns = mono_ns() };

	parse_addr(AF_INET, REMOTE_BE4, k.saddr);
	parse_addr(AF_INET, NODE4, k.daddr);
	parse_addr(AF_INET, B4, v.vip);
	map_put(bpf_map__fd(skel->maps.zh_ct), &k, &v);
}

static bool can_keep(void)
{
	__u64 have = kfeat.present & ~kfeat.disabled;

	return (have & ZH_FEAT_BIT(TC_SK_LOOKUP)) &&
	       (have & ZH_FEAT_BIT(XDP_SK_LOOKUP));
}

/*
 * ZH_SNAT_SRC_F_KEEP_PORT (NodePorts to other nodes): the client's port is
 * kept while its reply key is free; XDP hands the reply at that port (out
 * of the range) to tc, which turns it back; a second client with the same
 * port gets one of the range; a port a local socket owns, or a NodePort,
 * is not kept; with the client's port and the whole range taken, the
 * request is dropped and counted. Without the socket lookup (the feature
 * absent or disabled) ports come from the range.
 */
static void test_snat_keep_port(void **state)
{
	__u64 no_port[ZH_STAT_MAX] = { [ZH_STAT_DROP_SNAT_NO_PORT] = 1 };
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(41000) };
	__u8 in[FRAME_MAX], wb[FRAME_MAX];
	struct frame want = OUTER_TTL63(L3_IPV4, IPPROTO_TCP, NODE4, NODE_PORT,
					OUTSIDE4, CLIENT_PORT);
	struct run r;
	__u32 len;
	__u16 port;
	int fd;

	(void)state;
	keep_ports();
	port = np_request(OUTSIDE4, CLIENT_PORT, &r);
	if (!can_keep()) {
		if (port < PORT_MIN || port > PORT_MAX)
			fail_here("no socket lookup: port %u, want %u-%u", port,
				  PORT_MIN, PORT_MAX);
		print_message(
			"SKIP: the rest: no bpf_sk_lookup in tc and XDP here (tc_sk_lookup, xdp_sk_lookup)\n");
		return;
	}
	if (port != CLIENT_PORT)
		fail_here("SNAT port %u, want the client's %u", port,
			  CLIENT_PORT);
	/* The reply at the client's port: XDP passes it on untouched, tc
	 * turns it back to the client, from the node port. */
	uplink_run(skel->progs.zh_xdp_uplink, REMOTE_BE4, BE_PORT, NODE4,
		   CLIENT_PORT, in, &len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(in, len, &r);
	uplink_run(skel->progs.zh_tc_uplink, REMOTE_BE4, BE_PORT, NODE4,
		   CLIENT_PORT, in, &len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, snat, len);
	(void)frame_build(&want, FOREIGN, wb);
	assert_bytes(wb, len, &r);
	assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, ifindex_of[FOREIGN]);
	/* Regression: with any port of the address a possible reply, XDP
	 * handed every request to tc. A NodePort request for a pod here is
	 * still XDP's to deliver. */
	uplink_run(skel->progs.zh_xdp_uplink, OUTSIDE4, CLIENT_PORT + 1, NODE4,
		   NODE_PORT + 3, in, &len, &r);
	assert_verdict(PROG_XDP, &r, REDIRECT);
	/* The same client port again: the same flow, the same port. */
	if (np_request(OUTSIDE4, CLIENT_PORT, &r) != CLIENT_PORT)
		fail_here("the flow's next packet left with another port");
	/* Another client, the same port: its reply key is taken. */
	port = np_request(OUTSIDE4_2, CLIENT_PORT, &r);
	if (port < PORT_MIN || port > PORT_MAX)
		fail_here(
			"second client with port %u: SNAT port %u, want %u-%u",
			CLIENT_PORT, port, PORT_MIN, PORT_MAX);
	/* A socket of the node listens at 41000: not kept. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 1))
		fail_here("a listener at :41000: %s", strerror(errno));
	port = np_request(OUTSIDE4, 41000, &r);
	close(fd);
	if (port < PORT_MIN || port > PORT_MAX)
		fail_here(
			"client port 41000 of a local listener: SNAT port %u, want %u-%u",
			port, PORT_MIN, PORT_MAX);
	/* Free again: kept. */
	if (np_request(OUTSIDE4_2, 41000, &r) != 41000)
		fail_here("client port 41000, no listener: not kept");
	/* A NodePort of the node (NODE_PORT + 1) as the client's port. */
	port = np_request(OUTSIDE4, NODE_PORT + 1, &r);
	if (port < PORT_MIN || port > PORT_MAX)
		fail_here(
			"client port %u (a NodePort): SNAT port %u, want %u-%u",
			NODE_PORT + 1, port, PORT_MIN, PORT_MAX);
	/* The client's port and every port of the range taken: dropped,
	 * counted. */
	hold_be_port(42000);
	for (__u16 p = PORT_MIN; p <= PORT_MAX; p++)
		hold_be_port(p);
	uplink_run(skel->progs.zh_tc_uplink, OUTSIDE4, 42000, NODE4, NODE_PORT,
		   in, &len, &r);
	assert_verdict(PROG_TC, &r, DROP);
	assert_deltas(&r, no_port, len);
}

/* Delete @k's SNAT_FWD entry: what the LRU takes alone. */
static void snat_fwd_evicted(const char *client, __u16 cport, const char *peer,
			     __u16 pport, __u8 proto)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = proto,
			       .dir = ZH_CT_SNAT_FWD,
			       .sport = htons(cport),
			       .dport = htons(pport) };

	parse_addr(AF_INET, client, k.saddr);
	parse_addr(AF_INET, peer, k.daddr);
	if (bpf_map_delete_elem(bpf_map__fd(skel->maps.zh_ct), &k))
		fail_here("no SNAT_FWD entry to take: %s", strerror(errno));
}

/*
 * Regression: the LRU took a flow's SNAT_FWD entry alone; its reply
 * entry, still naming it, holds its port. The flow's next packet finds
 * that port its own again, instead of searching (and, with every other
 * port taken, being dropped: xdpbench's udp-newflow pattern once zh_ct
 * overflowed, test_bpf_snat --bench-latency). A NodePort flow that kept
 * its client's port, and a masquerade flow of the range.
 */
static void test_snat_own_orphan(void **state)
{
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	__u8 in[FRAME_MAX];
	struct run r;
	__u16 port;
	__u32 len;

	(void)state;
	/* Masquerade: the flow's port of the range, the other three held. */
	masq_syn(40000, &r, in, &len);
	assert_verdict(PROG_TC, &r, REDIRECT);
	port = l4_sport(r.out, false);
	snat_fwd_evicted(A4, 40000, OUTSIDE4, 80, IPPROTO_TCP);
	for (__u16 p = PORT_MIN; p <= PORT_MAX; p++)
		if (p != port)
			hold_port(p, false);
	masq_syn(40000, &r, in, &len);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, snat, len);
	if (l4_sport(r.out, false) != port)
		fail_here("masquerade: SNAT port %u, want its own %u",
			  l4_sport(r.out, false), port);
	if (!can_keep()) {
		print_message(
			"SKIP: the NodePort half: no bpf_sk_lookup in tc and XDP here (tc_sk_lookup, xdp_sk_lookup)\n");
		return;
	}
	/* A NodePort flow on its client's port, the whole range held. */
	keep_ports();
	if (np_request(OUTSIDE4, CLIENT_PORT, &r) != CLIENT_PORT)
		fail_here("NodePort: the client's port not kept");
	snat_fwd_evicted(OUTSIDE4, CLIENT_PORT, REMOTE_BE4, BE_PORT,
			 IPPROTO_TCP);
	for (__u16 p = PORT_MIN; p <= PORT_MAX; p++)
		hold_be_port(p);
	port = np_request(OUTSIDE4, CLIENT_PORT, &r);
	if (port != CLIENT_PORT)
		fail_here("NodePort: SNAT port %u, want the client's %u", port,
			  CLIENT_PORT);
}

/* ------------------------------------------------------------- bench */

/*
 * `test_bpf_snat --bench-latency`: what a new NodePort flow SNATed to
 * another node costs zh_tc_uplink (the client's port kept: 4 zh_ct
 * inserts), ns per packet as test_run times one run, over BENCH_FLOWS
 * new flows: with room in zh_ct, and with zh_ct full of other flows (as
 * xdpbench udp-newflow leaves it: 64 k live flows x 4 entries), where
 * each insert takes an entry from the LRU first. Numbers, no verdict.
 */
#define BENCH_FLOWS 30000U

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* @n entries of no flow here written into zh_ct, the @first th on. */
static int bench_fill(__u32 first, __u32 n)
{
	int fd = bpf_map__fd(skel->maps.zh_ct);
	struct zh_ct v = { .last_seen_ns = mono_ns() };
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_UDP,
			       .dir = ZH_CT_FWD };

	for (__u32 i = first; i < first + n; i++) {
		k.saddr[0] = htonl(0x0a800000U + i); /* 10.128/9: nobody */
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* zh_ct filled to its max_entries with entries of no flow here. */
static int bench_fill_ct(void)
{
	return bench_fill(0, bpf_map__max_entries(skel->maps.zh_ct));
}

static void bench_flows(const char *what, __u16 port0)
{
	static __u32 ns[BENCH_FLOWS];
	int prog = bpf_program__fd(skel->progs.zh_tc_uplink);
	struct __sk_buff skb = { .ifindex = ifindex_of[FOREIGN],
				 .ingress_ifindex = ifindex_of[FOREIGN] };
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	unsigned int snat = 0;

	for (__u32 i = 0; i < BENCH_FLOWS; i++) {
		struct frame f = OUTER(L3_IPV4, IPPROTO_TCP, OUTSIDE4,
				       (__u16)(port0 + i), NODE4, NODE_PORT);
		__u32 len = (__u32)frame_build(&f, FOREIGN, in);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
			    .data_size_in = len, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1,
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb));

		if (bpf_prog_test_run_opts(prog, &opts))
			opts.duration = 0;
		snat += opts.retval == TC_ACT_REDIRECT;
		ns[i] = opts.duration;
	}
	qsort(ns, BENCH_FLOWS, sizeof(ns[0]), cmp_u32);
	printf("  %-34s p50 %5u  p90 %5u  p99 %6u  p99.9 %6u  max %7u ns  (%u of %u SNATed)\n",
	       what, ns[BENCH_FLOWS / 2], ns[BENCH_FLOWS * 9 / 10],
	       ns[BENCH_FLOWS * 99 / 100], ns[BENCH_FLOWS * 999 / 1000],
	       ns[BENCH_FLOWS - 1], snat, BENCH_FLOWS);
}

/* One packet through zh_tc_uplink: its test_run time, verdict and the
 * output's L4 source port (network order). */
static __u32 bench_run(const struct frame *f, __u32 *retval, __u16 *sport)
{
	int prog = bpf_program__fd(skel->progs.zh_tc_uplink);
	struct __sk_buff skb = { .ifindex = ifindex_of[FOREIGN],
				 .ingress_ifindex = ifindex_of[FOREIGN] };
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	__u32 len = (__u32)frame_build(f, FOREIGN, in);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1,
		    .ctx_in = &skb, .ctx_size_in = sizeof(skb));

	if (bpf_prog_test_run_opts(prog, &opts))
		return *retval = 0;
	*retval = opts.retval;
	*sport = l4_sport(out, false);
	return opts.duration;
}

/*
 * xdpbench udp-newflow on zerohop-nodeport, in BPF alone: a UDP NodePort
 * to another node's backend, requests from the client's ports 1024-65535
 * in turn, round after round (xdpbench cycles them so), each answered;
 * the range 1024-65535 as xdpbench sets it. 64.5 k flows x 4 entries
 * live: zh_ct is as good as full from the second round on. With @other,
 * that many entries of other flows come between rounds (xdpbench's
 * tcp-crr and the rest run between two rounds of udp-newflow): zh_ct
 * overflows, and the LRU takes some of each flow's entries.
 */
#define CYCLE_LO 1024U
#define CYCLE_HI 65535U
#define CYCLE_N (CYCLE_HI - CYCLE_LO + 1)

static void bench_cycle(int rounds, __u32 other)
{
	static __u32 req[CYCLE_N], rep[CYCLE_N];
	struct zh_svc_key sk = { .family = ZH_AF_INET,
				 .proto = IPPROTO_UDP,
				 .port = htons(NODE_PORT + 5) };
	struct zh_svc sv = { .id = 9,
			     .table_off = 9 * 7,
			     .table_size = 7,
			     .flags = ZH_SVC_F_NODEPORT,
			     .port = htons(53) };
	struct zh_backend b = { .family = ZH_AF_INET,
				.port = htons(BE_PORT),
				.svc_id = 9 };
	struct zh_snat_src src;
	__u32 id = 9, k = (__u32)ifindex_of[FOREIGN];

	snat_setup(NULL);
	keep_ports();
	parse_addr(AF_INET, REMOTE_BE4, b.addr);
	map_put(bpf_map__fd(skel->maps.zh_backends), &id, &b);
	map_put(bpf_map__fd(skel->maps.zh_services), &sk, &sv);
	for (__u32 i = 0; i < 7; i++) {
		__u32 slot = 9 * 7 + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &id);
	}
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.zh_snat_src), &k,
				 &src)) {
		src.port_min = CYCLE_LO;
		src.port_max = CYCLE_HI;
		map_put(bpf_map__fd(skel->maps.zh_snat_src), &k, &src);
	}
	for (int r = 0; r < rounds; r++) {
		unsigned int drops = 0, moved = 0, wrong = 0;

		if (r && other && bench_fill((__u32)r * other, other))
			printf("  filling zh_ct: %s\n", strerror(errno));

		for (__u32 i = 0; i < CYCLE_N; i++) {
			__u16 cport = (__u16)(CYCLE_LO + i), sport = 0;
			struct frame q = OUTER(L3_IPV4, IPPROTO_UDP, OUTSIDE4,
					       cport, NODE4, NODE_PORT + 5);
			__u32 ret;

			req[i] = bench_run(&q, &ret, &sport);
			rep[i] = 0;
			if (ret == TC_ACT_SHOT) {
				drops++;
				continue;
			}
			if (ret != TC_ACT_REDIRECT) {
				wrong++;
				continue;
			}
			moved += sport != cport;
			struct frame a = OUTER(L3_IPV4, IPPROTO_UDP, REMOTE_BE4,
					       BE_PORT, NODE4, sport);
			rep[i] = bench_run(&a, &ret, &sport);
			wrong += ret != TC_ACT_REDIRECT;
		}
		qsort(req, CYCLE_N, sizeof(req[0]), cmp_u32);
		qsort(rep, CYCLE_N, sizeof(rep[0]), cmp_u32);
		printf("  round %d: requests p50 %5u p90 %5u p99 %6u p99.9 %6u ns; replies p50 %5u p99 %6u ns; %u dropped (no port), %u off their port, %u else; zh_ct %d entries\n",
		       r + 1, req[CYCLE_N / 2], req[CYCLE_N * 9 / 10],
		       req[CYCLE_N * 99 / 100], req[CYCLE_N * 999 / 1000],
		       rep[CYCLE_N / 2], rep[CYCLE_N * 99 / 100], drops, moved,
		       wrong, ct_count());
	}
}

static int snat_bench(void)
{
	int err;

	printf("test_bpf_snat: a new NodePort flow to another node, tc, the client's port kept; zh_ct max_entries %u\n",
	       bpf_map__max_entries(skel->maps.zh_ct));
	snat_setup(NULL);
	keep_ports();
	bench_flows("zh_ct with room", 20000);
	snat_setup(NULL);
	keep_ports();
	err = bench_fill_ct();
	if (err) {
		fprintf(stderr, "filling zh_ct: %s\n", strerror(-err));
		return 1;
	}
	bench_flows("zh_ct full (each insert evicts)", 20000);
	printf("test_bpf_snat: xdpbench udp-newflow's pattern (client ports %u-%u in turn, each answered):\n",
	       CYCLE_LO, CYCLE_HI);
	bench_cycle(3, 0);
	printf("test_bpf_snat: the same, 60000 entries of other flows between rounds:\n");
	bench_cycle(4, 60000);
	return 0;
}

/* --------------------------------------------------------------- main */

/* ------------------------------------------------------- ICMP errors */

#define ROUTER4 "198.51.100.1" /* a router on the way out there */
#define ROUTER6 "2001:db8:77::1"

/* A router's "fragmentation needed" / "packet too big" to the node about
 * the packet @quoted (its first @quote bytes from L3; 0: header and 8),
 * as the uplink receives it. */
static __u32 router_err(const __u8 *quoted, __u32 qlen, bool v6, __u16 quote,
			const char *to, __u8 *out)
{
	__u8 src[16], dst[16];
	struct icmp_err e = { .v6 = v6,
			      .src = src,
			      .dst = dst,
			      .type = v6 ? 2 : 3,
			      .code = v6 ? 0 : 4,
			      .mtu = 1280,
			      .quoted = quoted,
			      .quote = quote,
			      .src_mac = mac_out,
			      .dst_mac = mac_out };

	assert_true(quote <= qlen - L3);
	parse_addr(v6 ? AF_INET6 : AF_INET, v6 ? ROUTER6 : ROUTER4, src);
	parse_addr(v6 ? AF_INET6 : AF_INET, to, dst);
	return icmp_err_frame(&e, out);
}

/*
 * Not a row: a router's ICMP error about a masqueraded flow (snat_icmp.h).
 * A -> outside leaves from the node's address and a port of the range; the
 * router's error to the node, quoting that packet (the whole of it, or
 * only its IP header and 8 bytes), reaches A as though the router had
 * answered A itself: destination A, the quote A's packet as A sent it
 * (but for the TTL the node spent), every checksum as a sender computes it
 * (the expected frame is built from scratch). XDP hands it to tc
 * untouched. An error about a port no flow holds, or not quoting the
 * node's address, stays the kernel's, untouched.
 */
static void snat_icmp_one(bool v6, __u8 proto, bool whole)
{
	const char *a = v6 ? A6 : A4, *node = v6 ? NODE6 : NODE4;
	struct frame flow = FLOW(v6 ? L3_IPV6 : L3_IPV4, proto, a, CLIENT_PORT,
				 v6 ? OUTSIDE6 : OUTSIDE4, 80);
	__u64 redirect[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u8 pod[FRAME_MAX], snated[FRAME_MAX], err[FRAME_MAX],
		sent63[FRAME_MAX], want[FRAME_MAX];
	__u32 plen, elen, wlen;
	__u16 quote;
	struct run r;

	snat_setup(NULL);
	plen = (__u32)frame_build(&flow, POD_A, pod);
	cur_set(pod, plen, "tc: %s -> outside", a);
	run_frame(PROG_TC, ifindex_of[POD_A], pod, plen, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	memcpy(snated, r.out, r.out_len);
	quote = whole ? (__u16)(plen - L3) : 0;

	elen = router_err(snated, plen, v6, quote, node, err);
	cur_set(err, elen, "%s error %s about %s", v6 ? "ICMPv6" : "ICMP",
		v6 ? ROUTER6 : ROUTER4, a);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, redirect, elen);
	/* What A gets: the router's error to A about A's own packet, as it
	 * left A but one hop on (TTL 63). */
	flow.ttl = 63;
	(void)frame_build(&flow, POD_A, sent63);
	wlen = router_err(sent63, plen, v6, quote, a, want);
	assert_int_equal(wlen, elen);
	assert_routed(want, wlen, &r, POD_A, true);

	/* XDP: handed to tc, untouched. */
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(err, elen, &r);
	assert_deltas(&r, none, elen);

	/* About a port no flow holds: the kernel's. */
	if (v6)
		put16(err + L3 + IP6_HLEN + 8 + IP6_HLEN,
		      (__u16)(l4_sport(snated, v6) ^ 1));
	else
		put16(err + L3 + 20 + 8 + 20,
		      (__u16)(l4_sport(snated, v6) ^ 1));
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);
	/* Quoting a packet from an address that is not the node's: A's
	 * own packet as it left A. */
	elen = router_err(pod, plen, v6, quote, node, err);
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);
}

static void test_snat_icmp(void **state)
{
	(void)state;
	for (int v6 = 0; v6 < 2; v6++)
		for (int whole = 0; whole < 2; whole++) {
			snat_icmp_one(v6, IPPROTO_TCP, whole);
			snat_icmp_one(v6, IPPROTO_UDP, whole);
		}
}

/* ------------------------------------------------- NodePort errors */

#define NP_ICMP_PORT 30100 /* a NodePort of either family and protocol */
#define REMOTE_BE6 OFFNODE6 /* a pod on another node */
#define BETWEEN4 "192.0.2.77" /* a router between the nodes */
#define BETWEEN6 "fd00:ffff::77"

enum { SVC_NP_ICMP = 20, BE_NP_ICMP = 20 };

/* NodePort NP_ICMP_PORT/@proto of @v6's family, every slot to a backend
 * on another node (REMOTE_BE4/6:BE_PORT). */
static void np_icmp_svc(bool v6, __u8 proto)
{
	struct zh_svc_key k = { .family = v6 ? ZH_AF_INET6 : ZH_AF_INET,
				.proto = proto,
				.port = htons(NP_ICMP_PORT) };
	struct zh_svc v = { .id = SVC_NP_ICMP,
			    .table_off = SVC_NP_ICMP * 7,
			    .table_size = 7,
			    .flags = ZH_SVC_F_NODEPORT,
			    .port = htons(80) };
	struct zh_backend b = { .family = k.family,
				.port = htons(BE_PORT),
				.svc_id = SVC_NP_ICMP };
	__u32 id = BE_NP_ICMP;

	parse_addr(v6 ? AF_INET6 : AF_INET, v6 ? REMOTE_BE6 : REMOTE_BE4,
		   b.addr);
	map_put(bpf_map__fd(skel->maps.zh_backends), &id, &b);
	map_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	for (__u32 i = 0; i < 7; i++) {
		__u32 slot = SVC_NP_ICMP * 7 + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &id);
	}
}

/* An ICMP error from @src to @to of @type/@code (@mtu), quoting @quote
 * bytes (0: header and 8) of @quoted, TTL @ttl (0: 64), as on the
 * uplink. */
static __u32 err_frame(bool v6, const char *src, const char *to, __u8 type,
		       __u8 code, __u16 mtu, const __u8 *quoted, __u16 quote,
		       __u8 ttl, __u8 *out)
{
	__u8 s[16], d[16];
	struct icmp_err e = { .v6 = v6,
			      .src = s,
			      .dst = d,
			      .type = type,
			      .code = code,
			      .mtu = mtu,
			      .quoted = quoted,
			      .quote = quote,
			      .src_mac = mac_out,
			      .dst_mac = mac_out,
			      .ttl = ttl };

	parse_addr(v6 ? AF_INET6 : AF_INET, src, s);
	parse_addr(v6 ? AF_INET6 : AF_INET, to, d);
	return icmp_err_frame(&e, out);
}

/* @err through tc on the uplink: it leaves, one hop on, as @want (the
 * node path's way into the tunnel with @vxlan, else out of the uplink by
 * the neighbour table), counted SNAT; XDP hands it to tc untouched. */
static void np_icmp_out(const __u8 *err, __u32 len, const __u8 *want,
			bool vxlan)
{
	__u64 snat[ZH_STAT_MAX] = { [ZH_STAT_SNAT] = 1 };
	__u64 none[ZH_STAT_MAX] = { 0 };
	struct run r;

	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_deltas(&r, snat, len);
	if (vxlan && (kfeat.present & ZH_FEAT_BIT(TC_SET_TUNNEL_KEY) &
		      ~kfeat.disabled)) {
		__u8 w[FRAME_MAX];

		/* Into the tunnel: the remote VXLAN device's MAC. */
		memcpy(w, want, len);
		memcpy(w, mac_vx, ETH_ALEN);
		assert_bytes(w, len, &r);
		assert_redirect(&r, ZH_TRACE_REDIRECT, ifindex_of[POD_B]);
	} else {
		assert_bytes(want, len, &r);
		assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH,
				ifindex_of[FOREIGN]);
	}
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], err, len, &r);
	assert_verdict(PROG_XDP, &r, PASS);
	assert_unchanged(err, len, &r);
	assert_deltas(&r, none, len);
}

/* @err through tc on the uplink: not translated, the kernel's. */
static void np_icmp_kernel(const __u8 *err, __u32 len)
{
	struct run r;

	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], err, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, len, &r);
}

/*
 * Not a row: ICMP errors about a NodePort flow that this node SNATed to a
 * backend on another node (snat_icmp.h), both ways. OUTSIDE:40000 ->
 * NODE:NP_ICMP_PORT (@lb: LB4:80) leaves as NODE:port -> BE:8080 (@vxlan:
 * into the tunnel toward the backend's node).
 *
 *   - The backend's "port unreachable" to NODE, quoting that packet (the
 *     whole of it, or its header and 8 bytes), reaches the client as the
 *     front end's own: from NODE, quoting the client's packet (but for the
 *     TTL this node spent), out of the uplink. The same from a router
 *     between the nodes keeps the router's address.
 *   - The reply leaves as NODE:NP_ICMP_PORT -> OUTSIDE:40000; a router
 *     toward the client answers it "fragmentation needed" (ICMPv6 "packet
 *     too big") to NODE: the backend gets it as though the router had
 *     answered it, quoting its own reply as it left it (but for the TTL),
 *     by the way the requests take.
 * Every expected frame is built from scratch, checksums included. Errors
 * quoting a port that no flow holds, either way, stay the kernel's.
 */
static void np_icmp_one(bool v6, __u8 proto, bool whole, bool vxlan, bool lb)
{
	enum l3 l3 = v6 ? L3_IPV6 : L3_IPV4;
	const char *out = v6 ? OUTSIDE6 : OUTSIDE4, *node = v6 ? NODE6 : NODE4,
		   *be = v6 ? REMOTE_BE6 : REMOTE_BE4,
		   *router = v6 ? ROUTER6 : ROUTER4,
		   *between = v6 ? BETWEEN6 : BETWEEN4,
		   *front = lb ? LB4 : node;
	__u16 fport = lb ? 80 : NP_ICMP_PORT;
	__u8 unreach = v6 ? 1 : 3, unreach_port = v6 ? 4 : 3;
	__u8 big = v6 ? 2 : 3, big_code = v6 ? 0 : 4;
	struct frame req = OUTER(l3, proto, out, CLIENT_PORT, front, fport);
	__u8 in[FRAME_MAX], snated[FRAME_MAX], reply[FRAME_MAX], err[FRAME_MAX],
		want[FRAME_MAX], quoted[FRAME_MAX];
	__u32 len, elen, wlen;
	__u16 port, quote;
	struct frame f;
	struct run r;

	snat_setup(NULL);
	np_icmp_svc(v6, proto);
	if (vxlan)
		remote_vxlan();
	if (lb)
		lb_ips();
	len = (__u32)frame_build(&req, FOREIGN, in);
	cur_set(in, len, "tc: %s -> %s:%u/%s", out, front, fport,
		proto == IPPROTO_TCP ? "TCP" : "UDP");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err)
		fail_here("test_run: %s", strerror(-r.err));
	assert_verdict(PROG_TC, &r, REDIRECT);
	memcpy(snated, r.out, r.out_len);
	port = l4_sport(snated, v6);
	quote = whole ? (__u16)(len - L3) : 0;
	/* The request as it left, built from scratch (the MACs ours). */
	f = (struct frame)OUTER_TTL63(l3, proto, node, port, be, BE_PORT);
	(void)frame_build(&f, FOREIGN, quoted);
	if (memcmp(quoted + L3, snated + L3, len - L3))
		fail_here("the request did not leave as node:%u -> backend",
			  port);

	/* (a) The backend: "port unreachable" to the node. */
	elen = err_frame(v6, be, node, unreach, unreach_port, 0, snated, quote,
			 0, err);
	cur_set(err, elen, "%s port unreachable from the backend",
		v6 ? "ICMPv6" : "ICMP");
	f = (struct frame)OUTER_TTL63(l3, proto, out, CLIENT_PORT, front,
				      fport);
	(void)frame_build(&f, FOREIGN, quoted);
	wlen = err_frame(v6, front, out, unreach, unreach_port, 0, quoted,
			 quote, 63, want);
	assert_int_equal(wlen, elen);
	np_icmp_out(err, elen, want, false);
	/* Past the IP packet, a trailer (Ethernet padding, say) where the
	 * quoted TCP checksum would lie: no part of the message, kept as
	 * it is (it was rewritten, and ICMP's checksum counted it). */
	if (!whole) {
		memset(err + elen, 0xa5, 16);
		memset(want + elen, 0xa5, 16);
		cur_set(err, elen + 16, "the same with a 16-byte trailer");
		np_icmp_out(err, elen + 16, want, false);
	}
	/* A router between the nodes (or the backend's node): its own
	 * address stays. */
	elen = err_frame(v6, between, node, unreach, 0, 0, snated, quote, 0,
			 err);
	cur_set(err, elen, "%s unreachable from a router between the nodes",
		v6 ? "ICMPv6" : "ICMP");
	wlen = err_frame(v6, between, out, unreach, 0, 0, quoted, quote, 63,
			 want);
	np_icmp_out(err, elen, want, false);
	/* About a port that no flow holds: the kernel's. */
	f = (struct frame)OUTER_TTL63(l3, proto, node, (__u16)(port ^ 1), be,
				      BE_PORT);
	(void)frame_build(&f, FOREIGN, quoted);
	elen = err_frame(v6, be, node, unreach, unreach_port, 0, quoted, quote,
			 0, err);
	cur_set(err, elen, "unreachable about a port no flow holds");
	np_icmp_kernel(err, elen);

	/* (b) The reply, out to the client from the node port. */
	f = (struct frame)OUTER(l3, proto, be, BE_PORT, node, port);
	len = (__u32)frame_build(&f, FOREIGN, in);
	cur_set(in, len, "tc: the backend's reply");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	memcpy(reply, r.out, r.out_len);
	f = (struct frame)OUTER_TTL63(l3, proto, front, fport, out,
				      CLIENT_PORT);
	(void)frame_build(&f, FOREIGN, quoted);
	if (memcmp(quoted + L3, reply + L3, len - L3))
		fail_here("the reply did not leave from the node port");
	/* A router toward the client: too big for its next hop. */
	elen = err_frame(v6, router, front, big, big_code, 1280, reply, quote,
			 0, err);
	cur_set(err, elen, "%s too big from a router toward the client",
		v6 ? "ICMPv6" : "ICMP");
	f = (struct frame)OUTER_TTL63(l3, proto, be, BE_PORT, node, port);
	(void)frame_build(&f, FOREIGN, quoted);
	wlen = err_frame(v6, router, be, big, big_code, 1280, quoted, quote, 63,
			 want);
	assert_int_equal(wlen, elen);
	/* On another interface than the flow came in on: not its. */
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[POD_A], err, elen, &r);
	assert_verdict(PROG_TC, &r, PASS);
	assert_unchanged(err, elen, &r);
	np_icmp_out(err, elen, want, vxlan);
	/* About a client port that no flow has: the kernel's. */
	f = (struct frame)OUTER_TTL63(l3, proto, front, fport, out,
				      CLIENT_PORT + 1);
	(void)frame_build(&f, FOREIGN, quoted);
	elen = err_frame(v6, router, front, big, big_code, 1280, quoted, quote,
			 0, err);
	cur_set(err, elen, "too big about a flow no one has");
	np_icmp_kernel(err, elen);
}

static void test_snat_np_icmp(void **state)
{
	(void)state;
	for (int v6 = 0; v6 < 2; v6++)
		for (int whole = 0; whole < 2; whole++) {
			np_icmp_one(v6, IPPROTO_TCP, whole, false, false);
			np_icmp_one(v6, IPPROTO_UDP, whole, false, false);
		}
	/* Routing vxlan (the remote pod CIDR is IPv4 here). */
	np_icmp_one(false, IPPROTO_TCP, true, true, false);
	np_icmp_one(false, IPPROTO_UDP, false, true, false);
	/* A LoadBalancer IP (LB4:80/TCP, its backend REMOTE_BE4): the
	 * client knows it as the front end. */
	np_icmp_one(false, IPPROTO_TCP, true, false, true);
	np_icmp_one(false, IPPROTO_TCP, false, true, true);
}

#define NR_ROWS (ARRAY_SIZE(cases) * NR_PROGS)
static struct fixture_run runs[NR_ROWS];
static struct CMUnitTest tests[NR_ROWS + 7];

int main(int argc, char **argv)
{
	static const struct fixture_group groups[] = {
		{ .name = "snat", .tests = tests, .n = ARRAY_SIZE(tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_snat",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.trace = true,
		.bench = snat_bench,
	};
	size_t i = FIXTURE_ROWS(tests, runs, cases, "",
				.test_func = test_snat_case,
				.setup_func = snat_setup,
				.teardown_func = snat_teardown);

	tests[i++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
		test_snat_ports, snat_setup, snat_teardown);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
		test_snat_keep_port, snat_setup, snat_teardown);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
		test_snat_icmp, snat_setup, snat_teardown);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
		test_snat_np_icmp, snat_setup, snat_teardown);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
		test_snat_fresh_holder, snat_setup, snat_teardown);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
		test_snat_race, snat_setup, snat_teardown);
	tests[i++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
		test_snat_own_orphan, snat_setup, snat_teardown);
	return fixture_main(&suite, argc, argv);
}
