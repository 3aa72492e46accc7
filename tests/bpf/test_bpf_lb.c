// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_lb.c - Services in the fast path (bpf/lib/lb.h, nat.h, ct.h,
 * reject.h) through BPF_PROG_TEST_RUN: DNAT and reverse NAT byte for byte
 * (IPv4/IPv6, TCP/UDP, a UDP checksum of 0), hairpin, the ICMP reject
 * checked against an independent builder, Services off, remote backends,
 * unknown VIPs in and out of the Service CIDR, established flows across
 * table changes and backend removal, affinity and terminating backends;
 * then NodePort on the uplink and cut frames.
 *
 * Katran-style: a case is a table row of packets, each with its input
 * frame, the frame it must become, the verdict, the counters it moves and
 * the conntrack entries after it, and a change to the Services before it
 * where the case is about one. Every row runs through zh_tc_from_pod and
 * zh_xdp_from_pod. The two cases that are scripts stay functions (see
 * there why).
 *
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
#include <time.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

/* ------------------------------------------------------------ services */

#define VIP4 "10.96.0.10"
#define VIP4_EMPTY "10.96.0.11" /* a Service with no ready backend */
#define VIP4_REMOTE "10.96.0.12" /* its backend is no local pod */
#define VIP4_HAIRPIN "10.96.0.13" /* its backend is pod A itself */
#define OUTSIDE4 "198.51.100.7" /* a client out there */
#define ELSEWHERE4 "203.0.113.9" /* not the node: routed through */
#define EXT4 "192.0.2.80" /* an external IP: outside the Service CIDR */
#define NODE_PORT 30080
#define VIP6 "fd00:96::10"
#define SVC_PORT 80
#define BE_PORT 8080
#define BE_PORT2 8081
#define SLOTS 7 /* a prime: every table below is this big */

enum {
	SVC4 = 1,
	SVC4_EMPTY,
	SVC4_REMOTE,
	SVC6,
	SVC4_HAIRPIN,
	SVC4_NP,
	SVC4_EXT
};
enum { BE_B4 = 1, BE_B4_2, BE_REMOTE, BE_B6, BE_A4, BE_EXT }; /* backend ids */

/* Service @id on @vip:SVC_PORT/@proto, table slots [id * SLOTS, +SLOTS)
 * (empty when @n_backends is 0), all pointing at backend @be. */
static void lb_svc(__u32 id, const char *vip, __u8 proto, __u32 be,
		   __u32 affinity_s)
{
	bool v6 = strchr(vip, ':');
	struct zh_svc_key k = { .family = v6 ? ZH_AF_INET6 : ZH_AF_INET,
				.proto = proto,
				.port = htons(SVC_PORT) };
	struct zh_svc v = { .id = id,
			    .table_off = id * SLOTS,
			    .table_size = be ? SLOTS : 0,
			    .affinity_s = affinity_s };

	parse_addr(v6 ? AF_INET6 : AF_INET, vip, k.addr);
	map_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	for (__u32 i = 0; be && i < SLOTS; i++) {
		__u32 slot = id * SLOTS + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &be);
	}
}

static void lb_table(__u32 svc, __u32 be)
{
	for (__u32 i = 0; i < SLOTS; i++) {
		__u32 slot = svc * SLOTS + i;

		map_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &be);
	}
}

static void lb_backend(__u32 id, __u32 svc, const char *addr, __u16 port,
		       __u8 flags)
{
	bool v6 = strchr(addr, ':');
	struct zh_backend b = { .family = v6 ? ZH_AF_INET6 : ZH_AF_INET,
				.flags = flags,
				.port = htons(port),
				.svc_id = svc };

	parse_addr(v6 ? AF_INET6 : AF_INET, addr, b.addr);
	map_put(bpf_map__fd(skel->maps.zh_backends), &id, &b);
}

static void lb_services(__u32 on)
{
	struct zh_objs o = lat_objs();
	struct zh_config cfg;

	if (zh_config_get(&o, &cfg))
		fail_here("reading zh_config");
	cfg.services = on;
	if (zh_config_set(&o, &cfg))
		fail_here("writing zh_config");
}

/* zh_config.flags @flag on or off. */
static void cfg_flag(__u32 flag, bool on)
{
	cfg_flags(on ? flag : 0, on ? 0 : flag, -1);
}

static __u32 svc_be_slot(int pod)
{
	return (__u32)ifindex_of[pod] & (ZH_SVC_BE_SLOTS - 1);
}

/* The zh_svc_be slots the tests can touch, back to 0 (an array: no
 * delete). */
static void svc_be_clear(void)
{
	int fd = bpf_map__fd(skel->maps.zh_svc_be);
	__u32 zero = 0, slot = ZH_SVC_BE_ROUTED;

	map_put(fd, &slot, &zero);
	for (int i = 0; i < NR_PODS; i++) {
		slot = svc_be_slot(i);
		map_put(fd, &slot, &zero);
	}
}

static __u32 svc_be_get(__u32 slot)
{
	__u32 v = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.zh_svc_be), &slot, &v))
		fail_here("zh_svc_be[%u]: %s", slot, strerror(errno));
	return v;
}

/* The Services every test starts from, conntrack and affinity empty. */
static int lb_setup(void **state)
{
	(void)state;
	map_clear(bpf_map__fd(skel->maps.zh_services));
	map_clear(bpf_map__fd(skel->maps.zh_backends));
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	map_clear(bpf_map__fd(skel->maps.zh_affinity));
	lb_backend(BE_B4, SVC4, B4, BE_PORT, 0);
	lb_backend(BE_B4_2, SVC4, B4, BE_PORT2, 0);
	lb_backend(BE_REMOTE, SVC4_REMOTE, OFFNODE4, BE_PORT, 0);
	lb_backend(BE_B6, SVC6, B6, BE_PORT, 0);
	lb_backend(BE_A4, SVC4_HAIRPIN, A4, BE_PORT, 0);
	lb_svc(SVC4_HAIRPIN, VIP4_HAIRPIN, IPPROTO_TCP, BE_A4, 0);
	lb_svc(SVC4, VIP4, IPPROTO_TCP, BE_B4, 0);
	lb_svc(SVC4, VIP4, IPPROTO_UDP, BE_B4, 0);
	lb_svc(SVC4_EMPTY, VIP4_EMPTY, IPPROTO_TCP, 0, 0);
	lb_svc(SVC4_REMOTE, VIP4_REMOTE, IPPROTO_UDP, BE_REMOTE, 0);
	lb_svc(SVC6, VIP6, IPPROTO_TCP, BE_B6, 0);
	lb_svc(SVC6, VIP6, IPPROTO_UDP, BE_B6, 0);
	lb_services(1);
	svc_be_clear();
	return 0;
}

/* Services off, and no Service CIDR (a case may set one). */
static int lb_teardown(void **state)
{
	struct zh_objs o = lat_objs();
	struct zh_config cfg;

	(void)state;
	if (zh_config_get(&o, &cfg))
		fail_here("reading zh_config");
	cfg.services = 0;
	cfg.svc_cidr4_len = cfg.svc_cidr6_len = 0;
	cfg.flags &= ~(ZH_CFG_F_SOCK_PODS | ZH_CFG_F_REV_GATED);
	if (zh_config_set(&o, &cfg))
		fail_here("writing zh_config");
	return 0;
}

static int ct_count(void)
{
	int fd = bpf_map__fd(skel->maps.zh_ct), n = 0;
	struct zh_ct_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* -------------------------------------- changes to the Services mid-case */

/* The IPv6 UDP Service loses its only backend. */
static void svc6_udp_no_backend(void)
{
	lb_svc(SVC6, VIP6, IPPROTO_UDP, 0, 0);
}

static void services_off(void)
{
	lb_services(0);
}

/* 10.96.0.0/12 and fd00:96::/108 as Kubernetes' Service CIDRs. */
static void svc_cidr_set(void)
{
	struct zh_objs o = lat_objs();
	struct zh_config cfg;

	if (zh_config_get(&o, &cfg))
		fail_here("reading zh_config");
	cfg.svc_cidr4_len = 12;
	parse_addr(AF_INET, "10.96.0.0", &cfg.svc_cidr4);
	cfg.svc_cidr6_len = 108;
	parse_addr(AF_INET6, "fd00:96::", cfg.svc_cidr6);
	if (zh_config_set(&o, &cfg))
		fail_here("writing zh_config");
}

/*
 * Socket-level LB covers every pod (ZH_CFG_F_SOCK_PODS) with the Service
 * CIDRs set, and an external IP outside them (EXT4:80/TCP, to B:8080).
 */
static void sock_pods_on(void)
{
	svc_cidr_set();
	lb_backend(BE_EXT, SVC4_EXT, B4, BE_PORT, 0);
	lb_svc(SVC4_EXT, EXT4, IPPROTO_TCP, BE_EXT, 0);
	cfg_flag(ZH_CFG_F_SOCK_PODS, true);
}

/* The same external IP, socket-level LB not covering the pods. */
static void ext_svc_on(void)
{
	lb_backend(BE_EXT, SVC4_EXT, B4, BE_PORT, 0);
	lb_svc(SVC4_EXT, EXT4, IPPROTO_TCP, BE_EXT, 0);
}

/* zerohopd vouches for zh_svc_be: replies are looked up only where it
 * says a flow can exist. */
static void rev_gated(void)
{
	cfg_flag(ZH_CFG_F_REV_GATED, true);
}

static void rev_ungated(void)
{
	cfg_flag(ZH_CFG_F_REV_GATED, false);
}

/* A flow A:40000 -> VIP4:80 to B:8080 in zh_ct that no program of ours
 * made (another version's, as during an upgrade): zh_svc_be knows
 * nothing of it. @remote: its backend is OFFNODE4, no local pod. */
static void ct_foreign(bool remote)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_UDP,
			       .dir = ZH_CT_REV,
			       .sport = htons(BE_PORT),
			       .dport = htons(40000) };
	struct zh_ct v = { .svc_id = remote ? SVC4_REMOTE : SVC4,
			   .backend_id = remote ? BE_REMOTE : BE_B4,
			   .vport = htons(SVC_PORT) };
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.last_seen_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	parse_addr(AF_INET, remote ? OFFNODE4 : B4, k.saddr);
	parse_addr(AF_INET, A4, k.daddr);
	parse_addr(AF_INET, remote ? VIP4_REMOTE : VIP4, v.vip);
	map_put(bpf_map__fd(skel->maps.zh_ct), &k, &v);
}

#define TCP_SYN 0x02 /* as on the wire (parse.h ZH_TCP_*) */
#define TCP_ACK 0x10

/* The reply's entry of A:40000 -> VIP4:80/@proto (B:8080). */
static struct zh_ct_key ct_rev_key(__u8 proto)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = proto,
			       .dir = ZH_CT_REV,
			       .sport = htons(BE_PORT),
			       .dport = htons(40000) };

	parse_addr(AF_INET, B4, k.saddr);
	parse_addr(AF_INET, A4, k.daddr);
	return k;
}

/* The LRU took the reply's entry of A:40000 -> VIP4:80/TCP (B:8080). */
static void ct_rev_evicted(void)
{
	struct zh_ct_key k = ct_rev_key(IPPROTO_TCP);

	if (bpf_map_delete_elem(bpf_map__fd(skel->maps.zh_ct), &k))
		fail_here("no reply entry to take: %s", strerror(errno));
}

/* The UDP flow A:40000 -> VIP4:80's own entry last stamped @ns (its
 * last request then). */
static void ct_fwd_stamp_udp(__u64 ns)
{
	int fd = bpf_map__fd(skel->maps.zh_ct);
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_UDP,
			       .dir = ZH_CT_FWD,
			       .sport = htons(40000),
			       .dport = htons(SVC_PORT) };
	struct zh_ct v;

	parse_addr(AF_INET, A4, k.saddr);
	parse_addr(AF_INET, VIP4, k.daddr);
	if (bpf_map_lookup_elem(fd, &k, &v))
		fail_here("no flow entry to stamp: %s", strerror(errno));
	v.last_seen_ns = ns;
	map_put(fd, &k, &v);
}

/* 1.1 s ago: in the clock epoch before this one (ct.h
 * zh_ct_recheck_due), as the first request of an epoch finds it. */
static __u64 last_epoch(void)
{
	return mono_ns() - 1100000000ULL;
}

/* The same for the UDP flow A:40000 -> VIP4:80/UDP, its next request the
 * first of a clock epoch. */
static void ct_rev_evicted_udp(void)
{
	struct zh_ct_key k = ct_rev_key(IPPROTO_UDP);

	if (bpf_map_delete_elem(bpf_map__fd(skel->maps.zh_ct), &k))
		fail_here("no reply entry to take: %s", strerror(errno));
	ct_fwd_stamp_udp(last_epoch());
}

/* ... and with its last request in this very epoch: that request does not
 * look (the epoch's first one did), so the reply entry stays gone for now.
 * Near an epoch's end, the next one is waited for first. */
static void ct_rev_evicted_udp_same_epoch(void)
{
	const __u64 epoch = 1ULL << ZH_CT_RECHECK_SHIFT;
	struct zh_ct_key k = ct_rev_key(IPPROTO_UDP);
	__u64 now = mono_ns();

	if (epoch - (now & (epoch - 1)) < 100000000ULL) {
		struct timespec ts = { .tv_nsec = (long)(epoch -
							 (now & (epoch - 1))) };

		nanosleep(&ts, NULL);
		now = mono_ns();
	}
	if (bpf_map_delete_elem(bpf_map__fd(skel->maps.zh_ct), &k))
		fail_here("no reply entry to take: %s", strerror(errno));
	ct_fwd_stamp_udp(now);
}

/* The flow's last request in the epoch before: the next one looks. */
static void ct_rev_evicted_udp_next_epoch(void)
{
	ct_fwd_stamp_udp(last_epoch());
}

/* Its reply's entry expired (no reply for longer than UDP's timeout),
 * while the requests kept the flow's own entry alive. */
static void ct_rev_expired_udp(void)
{
	int fd = bpf_map__fd(skel->maps.zh_ct);
	struct zh_ct_key k = ct_rev_key(IPPROTO_UDP);
	struct zh_ct v;

	if (bpf_map_lookup_elem(fd, &k, &v))
		fail_here("no reply entry to age: %s", strerror(errno));
	v.last_seen_ns = mono_ns() - (ZH_CT_TIMEOUT_UDP_S + 1) * 1000000000ULL;
	map_put(fd, &k, &v);
	ct_fwd_stamp_udp(last_epoch());
}

/* ct_foreign(false), ungated, its reply entry stamped 1 s ahead of now:
 * what another CPU writes between this packet's clock read and its
 * lookup. */
static void ct_foreign_ahead(void)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_UDP,
			       .dir = ZH_CT_REV,
			       .sport = htons(BE_PORT),
			       .dport = htons(40000) };
	int fd = bpf_map__fd(skel->maps.zh_ct);
	struct zh_ct v;

	rev_ungated();
	ct_foreign(false);
	parse_addr(AF_INET, B4, k.saddr);
	parse_addr(AF_INET, A4, k.daddr);
	if (bpf_map_lookup_elem(fd, &k, &v))
		fail_here("no reply entry: %s", strerror(errno));
	v.last_seen_ns += 1000000000ULL;
	map_put(fd, &k, &v);
}

static void ct_foreign_local(void)
{
	rev_gated();
	ct_foreign(false);
}

static void ct_foreign_remote(void)
{
	rev_gated();
	ct_foreign(true);
}

/*
 * Another CPU stamped an entry of A:40000 -> VIP4:80/UDP (B:8080) after
 * this packet's program read the clock: its last_seen is ahead of the
 * program's now (by a second here, so that no delay of the test's own
 * can hide it). @dir: which of the two.
 */
static void ct_ahead(__u8 dir)
{
	int fd = bpf_map__fd(skel->maps.zh_ct);
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_UDP,
			       .dir = dir };
	struct timespec ts;
	struct zh_ct v;

	k.sport = htons(dir == ZH_CT_REV ? BE_PORT : 40000);
	k.dport = htons(dir == ZH_CT_REV ? 40000 : SVC_PORT);
	parse_addr(AF_INET, dir == ZH_CT_REV ? B4 : A4, k.saddr);
	parse_addr(AF_INET, dir == ZH_CT_REV ? A4 : VIP4, k.daddr);
	if (bpf_map_lookup_elem(fd, &k, &v))
		fail_here("no %s entry: %s", dir == ZH_CT_REV ? "REV" : "FWD",
			  strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v.last_seen_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec +
			 1000000000ULL;
	map_put(fd, &k, &v);
}

static void rev_ahead(void)
{
	ct_ahead(ZH_CT_REV);
}

/* The FWD entry stamped ahead, and SVC4's table moved to BE_PORT2: the
 * flow must keep its backend. */
static void fwd_ahead_table_be2(void)
{
	ct_ahead(ZH_CT_FWD);
	lb_table(SVC4, BE_B4_2);
}

/* SVC4's table now says its second backend (BE_PORT2). */
static void table_to_be2(void)
{
	lb_table(SVC4, BE_B4_2);
}

static void be1_removed(void)
{
	__u32 id = BE_B4;

	if (bpf_map_delete_elem(bpf_map__fd(skel->maps.zh_backends), &id))
		fail_here("deleting backend 1: %s", strerror(errno));
}

static void be1_terminating(void)
{
	lb_backend(BE_B4, SVC4, B4, BE_PORT, ZH_BE_F_TERMINATING);
}

/* A NodePort: TCP NODE_PORT at any of the node's addresses, to B:8080.
 * Its key has the all-zero address. */
static void nodeport_on(void)
{
	struct zh_svc_key k = { .family = ZH_AF_INET,
				.proto = IPPROTO_TCP,
				.port = htons(NODE_PORT) };
	struct zh_svc v = { .id = SVC4_NP,
			    .table_off = SVC4_NP * SLOTS,
			    .table_size = SLOTS,
			    .flags = ZH_SVC_F_NODEPORT,
			    .port = htons(SVC_PORT) };

	map_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	lb_table(SVC4_NP, BE_B4);
}

/* ClientIP affinity on SVC4's TCP port, for 3 hours. */
static void svc4_affinity(void)
{
	lb_svc(SVC4, VIP4, IPPROTO_TCP, BE_B4, 10800);
}

/* svc4_affinity() with the table on BE_B4_2, and A's affinity entry for
 * BE_B4 stamped 1 s ahead of now: another CPU's refresh between this
 * packet's clock read and its lookup. */
static void affinity_ahead(void)
{
	struct zh_affinity_key k = { .svc_id = SVC4, .family = ZH_AF_INET };
	struct zh_affinity v = { .backend_id = BE_B4,
				 .last_seen_ns = mono_ns() + 1000000000ULL };

	svc4_affinity();
	table_to_be2();
	parse_addr(AF_INET, A4, k.client);
	map_put(bpf_map__fd(skel->maps.zh_affinity), &k, &v);
}

/* ---------------------------------------------------------------- cases */

#define LB_STEPS 4

enum lb_out {
	LB_ROUTED, /* @want routed to @to: MACs, TTL, checksums */
	LB_AS_WANT, /* @want byte for byte, as the kernel gets it */
	LB_ICMP_ERR, /* port unreachable from the VIP, back to the sender */
};

/* Conntrack entries after a packet; 0 in a row: not checked. */
#define CT(n) ((n) + 1)

struct lb_step {
	void (*before)(void); /* a change to the Services first, or NULL */
	int from; /* the sender: its MACs, its host veth the ingress */
	bool pod_side; /* through the pod-side program on A's pod end */
	/* tc: on a CHECKSUM_COMPLETE skb (as from a NIC), whose skb->csum
	 * must match the packet after the program, where test_run can check
	 * it */
	bool csum_complete;
	struct frame in;
	struct frame want; /* as the sender would have sent it translated;
			    * .l3 0: @in itself */
	enum verdict verdict;
	enum lb_out out;
	int to; /* LB_ROUTED: the pod it reaches */
	__u64 delta[ZH_STAT_MAX]; /* counter -> packets it gains */
	int ct; /* CT(n), or 0 */
};

struct lb_case {
	const char *desc;
	struct lb_step steps[LB_STEPS]; /* up to the first without .in.l3 */
};

/* A TCP or UDP frame from @s:@sp to @d:@dp (port 0: frame_build()'s). */
#define FLOW(l3_, proto_, s, sp, d, dp)                                    \
	{                                                                  \
		.l3 = (l3_), .proto = (proto_), .src = (s), .sport = (sp), \
		.dst = (d), .dport = (dp)                                  \
	}

/* Redirected to @pod and counted so. */
#define ROUTED(pod)                                         \
	.verdict = REDIRECT, .out = LB_ROUTED, .to = (pod), \
	.delta = { [ZH_STAT_REDIRECT] = 1 }

/*
 * A -> VIP:80 goes to B:8080 (DNAT, checksums right), both conntrack
 * directions are written, and B's reply reaches A from VIP:80; the flow
 * again goes to the same backend, with no new entry.
 */
#define DNAT_AND_REPLY(what, l3_, proto_, vip, client, backend)                \
	{                                                                      \
		.desc = what ": A -> VIP:80 is B:8080, B's reply from VIP:80", \
		.steps = {                                                     \
			{ .in = FLOW(l3_, proto_, client, 0, vip, SVC_PORT),   \
			  .want = FLOW(l3_, proto_, client, 0, backend,        \
				       BE_PORT),                               \
			  ROUTED(POD_B),                                       \
			  .ct = CT(2) },                                       \
			{ .from = POD_B,                                       \
			  .in = FLOW(l3_, proto_, backend, BE_PORT, client,    \
				     40000),                                   \
			  .want = FLOW(l3_, proto_, vip, SVC_PORT, client,     \
				       40000),                                 \
			  ROUTED(POD_A) },                                     \
			{ .in = FLOW(l3_, proto_, client, 0, vip, SVC_PORT),   \
			  .want = FLOW(l3_, proto_, client, 0, backend,        \
				       BE_PORT),                               \
			  ROUTED(POD_B),                                       \
			  .ct = CT(2) },                                       \
		},                                                             \
	}

static const struct lb_case lb_cases[] = {
	DNAT_AND_REPLY("IPv4 TCP", L3_IPV4, IPPROTO_TCP, VIP4, A4, B4),
	DNAT_AND_REPLY("IPv4 UDP", L3_IPV4, IPPROTO_UDP, VIP4, A4, B4),
	DNAT_AND_REPLY("IPv6 TCP", L3_IPV6, IPPROTO_TCP, VIP6, A6, B6),
	DNAT_AND_REPLY("IPv6 UDP", L3_IPV6, IPPROTO_UDP, VIP6, A6, B6),
	{
		/* UDP's twin: no SYN to tell, so every request looks for
		 * the reply's entry and writes both again when the LRU took
		 * it. It found FWD and wrote nothing: the replies stayed
		 * the backend's for good. */
		.desc = "IPv4 UDP: a request again restores a reply entry the LRU took",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .before = ct_rev_evicted_udp,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40000),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4, SVC_PORT,
				       A4, 40000),
			  ROUTED(POD_A) },
		},
	},
	{
		/* Once a clock epoch only: a request in the same epoch as
		 * the flow's last does not look, and the reply is the
		 * backend's until the next epoch's first request. */
		.desc = "IPv4 UDP: within an epoch a request does not look for the reply entry",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .before = ct_rev_evicted_udp_same_epoch,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(1) },
			{ .before = ct_rev_evicted_udp_next_epoch,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
		},
	},
	{
		/* The same when the reply's entry expired while the
		 * requests kept the flow's alive (one-way UDP for longer
		 * than its timeout). */
		.desc = "IPv4 UDP: a request again renews a reply entry that expired",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .before = ct_rev_expired_udp,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40000),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4, SVC_PORT,
				       A4, 40000),
			  ROUTED(POD_A) },
		},
	},
	{
		/* A SYN again (the client retransmits: no SYN-ACK came back)
		 * writes both entries again, so the reply finds its way back
		 * to the VIP. It found none: the flow hung for good. */
		.desc = "IPv4 TCP: a SYN again restores a reply entry the LRU took",
		.steps = {
			{ .in = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				  .src = A4, .dst = VIP4, .dport = SVC_PORT,
				  .tcp_flags = TCP_SYN },
			  .want = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				    .src = A4, .dst = B4, .dport = BE_PORT,
				    .tcp_flags = TCP_SYN },
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .before = ct_rev_evicted,
			  .in = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				  .src = A4, .dst = VIP4, .dport = SVC_PORT,
				  .tcp_flags = TCP_SYN },
			  .want = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				    .src = A4, .dst = B4, .dport = BE_PORT,
				    .tcp_flags = TCP_SYN },
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .from = POD_B,
			  .in = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				  .src = B4, .sport = BE_PORT, .dst = A4,
				  .dport = 40000,
				  .tcp_flags = TCP_SYN | TCP_ACK },
			  .want = { .l3 = L3_IPV4, .proto = IPPROTO_TCP,
				    .src = VIP4, .sport = SVC_PORT, .dst = A4,
				    .dport = 40000,
				    .tcp_flags = TCP_SYN | TCP_ACK },
			  ROUTED(POD_A) },
		},
	},
	{
		/* Two packets of one flow on two CPUs: the one that read
		 * the clock first may find the entry stamped by the other,
		 * ahead of its own now. That entry is young, not 2^64 ns
		 * old: the backend's reply is turned back to the VIP on its
		 * own hop (gated, nothing else would: the client's kernel
		 * took B:8080 for no connection of its, and a TCP client
		 * answered with a reset), and the client's next packet
		 * keeps its backend. Both failed before. */
		.desc = "IPv4 UDP: an entry stamped ahead of the packet's clock is live",
		.steps = {
			{ .before = rev_gated,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .before = rev_ahead,
			  .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40000),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4, SVC_PORT,
				       A4, 40000),
			  ROUTED(POD_A) },
			{ .before = fwd_ahead_table_be2,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
		},
	},
	{
		/* A must not see its own address as the source: the
		 * request comes from the VIP (A's port), the reply goes
		 * back to A from VIP:80. */
		.desc = "hairpin: A -> a Service whose backend is A",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4_HAIRPIN,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, VIP4_HAIRPIN, 0,
				       A4, BE_PORT),
			  ROUTED(POD_A) },
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, BE_PORT,
				     VIP4_HAIRPIN, 40000),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, VIP4_HAIRPIN,
				       SVC_PORT, A4, 40000),
			  ROUTED(POD_A),
			  .ct = CT(2) },
		},
	},
	{
		.desc = "IPv4 UDP without a checksum keeps none through DNAT",
		.steps = {
			{ .in = { .l3 = L3_IPV4,
				  .proto = IPPROTO_UDP,
				  .src = A4,
				  .dst = VIP4,
				  .dport = SVC_PORT,
				  .no_udp_csum = true },
			  .want = { .l3 = L3_IPV4,
				    .proto = IPPROTO_UDP,
				    .src = A4,
				    .dst = B4,
				    .dport = BE_PORT,
				    .no_udp_csum = true },
			  ROUTED(POD_B) },
		},
	},
	/* No ready backend: the client is refused at once with ICMP port
	 * unreachable from the VIP, counted, nothing remembered. */
	{
		.desc = "IPv4 Service without backends: ICMP port unreachable",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4_EMPTY,
				     SVC_PORT),
			  .verdict = TX_BACK,
			  .out = LB_ICMP_ERR,
			  .delta = { [ZH_STAT_DROP_NO_BACKEND] = 1 },
			  .ct = CT(0) },
		},
	},
	{
		.desc = "IPv6 Service without backends: ICMPv6 unreachable",
		.steps = {
			{ .before = svc6_udp_no_backend,
			  .in = FLOW(L3_IPV6, IPPROTO_UDP, A6, 0, VIP6,
				     SVC_PORT),
			  .verdict = TX_BACK,
			  .out = LB_ICMP_ERR,
			  .delta = { [ZH_STAT_DROP_NO_BACKEND] = 1 },
			  .ct = CT(0) },
		},
	},
	{
		/* The VIP is then just an address the node does not have. */
		.desc = "Services off: a VIP passes untouched",
		.steps = {
			{ .before = services_off,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4,
				     SVC_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 } },
		},
	},
	{
		/* Translated, then the kernel routes it; its reply comes
		 * through the kernel to A's own interface, where the
		 * pod-side program turns it back to the VIP. */
		.desc = "a backend that is no local pod",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, VIP4_REMOTE,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 0, OFFNODE4,
				       BE_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 } },
			{ .pod_side = true,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, OFFNODE4, BE_PORT,
				     A4, 40000),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4_REMOTE,
				       SVC_PORT, A4, 40000),
			  .verdict = NEXT,
			  .out = LB_AS_WANT },
		},
	},
	/* An address in the Service CIDR that is no Service is dropped and
	 * counted; outside the CIDR, and with no CIDR set, it is routed as
	 * before. */
	{
		.desc = "IPv4 unknown VIP: no CIDR, in the CIDR, outside",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, "10.96.0.99",
				     SVC_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 } },
			{ .before = svc_cidr_set,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, "10.96.0.99",
				     SVC_PORT),
			  .verdict = DROP,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_DROP_UNKNOWN_VIP] = 1 } },
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, "10.112.0.1",
				     SVC_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 } },
		},
	},
	{
		.desc = "IPv6 unknown VIP: no CIDR, in the CIDR, outside",
		.steps = {
			{ .in = FLOW(L3_IPV6, IPPROTO_TCP, A6, 0, "fd00:96::99",
				     SVC_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 } },
			{ .before = svc_cidr_set,
			  .in = FLOW(L3_IPV6, IPPROTO_TCP, A6, 0, "fd00:96::99",
				     SVC_PORT),
			  .verdict = DROP,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_DROP_UNKNOWN_VIP] = 1 } },
			{ .in = FLOW(L3_IPV6, IPPROTO_TCP, A6, 0,
				     "fd00:96::10:0:1", SVC_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 } },
		},
	},
	/* skb->csum on a CHECKSUM_COMPLETE skb (tc; a NIC's, as on the
	 * uplink): what no checksum covers changes it, and the program must
	 * say so - IPv6's addresses, the ports of UDP without a checksum,
	 * the ICMP error written over a request as long as it. */
	{
		.desc = "IPv6 TCP DNAT and reply keep skb->csum (CHECKSUM_COMPLETE)",
		.steps = {
			{ .in = FLOW(L3_IPV6, IPPROTO_TCP, A6, 0, VIP6,
				     SVC_PORT),
			  .want = FLOW(L3_IPV6, IPPROTO_TCP, A6, 0, B6,
				       BE_PORT),
			  ROUTED(POD_B),
			  .csum_complete = true },
			{ .from = POD_B,
			  .in = FLOW(L3_IPV6, IPPROTO_TCP, B6, BE_PORT, A6,
				     40000),
			  .want = FLOW(L3_IPV6, IPPROTO_TCP, VIP6, SVC_PORT,
				       A6, 40000),
			  ROUTED(POD_A),
			  .csum_complete = true },
		},
	},
	{
		.desc = "IPv4 UDP without a checksum keeps skb->csum through DNAT and reply",
		.steps = {
			{ .in = { .l3 = L3_IPV4,
				  .proto = IPPROTO_UDP,
				  .src = A4,
				  .dst = VIP4,
				  .dport = SVC_PORT,
				  .no_udp_csum = true },
			  .want = { .l3 = L3_IPV4,
				    .proto = IPPROTO_UDP,
				    .src = A4,
				    .dst = B4,
				    .dport = BE_PORT,
				    .no_udp_csum = true },
			  ROUTED(POD_B),
			  .csum_complete = true },
			{ .from = POD_B,
			  .in = { .l3 = L3_IPV4,
				  .proto = IPPROTO_UDP,
				  .src = B4,
				  .sport = BE_PORT,
				  .dst = A4,
				  .dport = 40000,
				  .no_udp_csum = true },
			  .want = { .l3 = L3_IPV4,
				    .proto = IPPROTO_UDP,
				    .src = VIP4,
				    .sport = SVC_PORT,
				    .dst = A4,
				    .dport = 40000,
				    .no_udp_csum = true },
			  ROUTED(POD_A),
			  .csum_complete = true },
		},
	},
	{
		.desc = "the ICMP error over a request as long as it keeps skb->csum",
		.steps = {
			/* 70 bytes: the IPv4 error's length. */
			{ .in = { .l3 = L3_IPV4,
				  .proto = IPPROTO_TCP,
				  .src = A4,
				  .dst = VIP4_EMPTY,
				  .dport = SVC_PORT,
				  .payload = 16 },
			  .verdict = TX_BACK,
			  .out = LB_ICMP_ERR,
			  .delta = { [ZH_STAT_DROP_NO_BACKEND] = 1 },
			  .csum_complete = true },
			/* 110 bytes: the IPv6 one's. */
			{ .before = svc6_udp_no_backend,
			  .in = { .l3 = L3_IPV6,
				  .proto = IPPROTO_UDP,
				  .src = A6,
				  .dst = VIP6,
				  .dport = SVC_PORT,
				  .payload = 48 },
			  .verdict = TX_BACK,
			  .out = LB_ICMP_ERR,
			  .delta = { [ZH_STAT_DROP_NO_BACKEND] = 1 },
			  .csum_complete = true },
		},
	},
	{
		/* A NodePort's entry has no address: a pod's packet to
		 * 0.0.0.0 (no one) at that port must not find it as if it
		 * were a ClusterIP, and be balanced. */
		.desc = "a pod's packet to 0.0.0.0 at a NodePort's port",
		.steps = {
			{ .before = nodeport_on,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, "0.0.0.0",
				     NODE_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
			  .ct = CT(0) },
		},
	},
	{
		/* A flow keeps its backend when the table changes; new flows
		 * follow the table; a flow whose backend is removed picks
		 * again. */
		.desc = "established flows across a table change and a removal",
		.steps = {
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B) },
			{ .before = table_to_be2,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B) },
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40001, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40001, B4,
				       BE_PORT2),
			  ROUTED(POD_B) },
			{ .before = be1_removed,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, B4,
				       BE_PORT2),
			  ROUTED(POD_B) },
		},
	},
	{
		/* ClientIP affinity: a new flow of the same client takes the
		 * backend the client had, not the table's; a terminating
		 * backend gets no new flow. */
		.desc = "affinity across a table change, a terminating backend",
		.steps = {
			{ .before = svc4_affinity,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B) },
			{ .before = table_to_be2,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40001, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40001, B4,
				       BE_PORT),
			  ROUTED(POD_B) },
			{ .before = be1_terminating,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40002, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40002, B4,
				       BE_PORT2),
			  ROUTED(POD_B) },
		},
	},
	{
		/* Regression: an affinity entry stamped after the clock read
		 * is young (ct.h zh_stamp_within): it looked expired, and the
		 * client's new flow took the table's backend. */
		.desc = "an affinity entry refreshed after the clock read holds",
		.steps = {
			{ .before = affinity_ahead,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40005, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 40005, B4,
				       BE_PORT),
			  ROUTED(POD_B) },
		},
	},
	{
		/* The contrast for the next case: an external IP is a
		 * Service address like any other for a pod's packet. */
		.desc = "an external IP outside the Service CIDR is balanced",
		.steps = {
			{ .before = ext_svc_on,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, EXT4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
		},
	},
	{
		/* Socket-level LB covers the pods: a pod's packet is a
		 * Service request only to a Service CIDR (a ClusterIP that
		 * no hook translated: a raw socket, a flow older than the
		 * hooks), nothing else is looked up: the external IP is
		 * routed as it is, what the hooks translated goes straight
		 * to its backend. */
		.desc = "socket-LB covers the pods: only the Service CIDR is balanced per packet",
		.steps = {
			{ .before = sock_pods_on,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, EXT4,
				     SVC_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
			  .ct = CT(0) },
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, B4,
				       BE_PORT),
			  ROUTED(POD_B),
			  .ct = CT(2) },
			{ .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_TCP, B4, BE_PORT, A4,
				     40000),
			  .want = FLOW(L3_IPV4, IPPROTO_TCP, VIP4, SVC_PORT,
				       A4, 40000),
			  ROUTED(POD_A) },
			{ .in = FLOW(L3_IPV4, IPPROTO_TCP, A4, 0, "10.96.0.99",
				     SVC_PORT),
			  .verdict = DROP,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_DROP_UNKNOWN_VIP] = 1 } },
		},
	},
	{
		/* Gated, B's reply to a flow zh_svc_be does not know of is
		 * not looked up (it goes out as B sent it); ungated, it is.
		 * A flow the balancer makes marks B: gated, its reply is
		 * turned back to the VIP. */
		.desc = "gated reverse lookup: only from a backend the balancer marked",
		.steps = {
			{ .before = ct_foreign_local,
			  .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40000),
			  ROUTED(POD_A) },
			{ .before = rev_ungated,
			  .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40000),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4, SVC_PORT,
				       A4, 40000),
			  ROUTED(POD_A) },
			{ .before = rev_gated,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 40001, VIP4,
				     SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 40001, B4,
				       BE_PORT),
			  ROUTED(POD_B) },
			{ .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40001),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4, SVC_PORT,
				       A4, 40001),
			  ROUTED(POD_A) },
		},
	},
	{
		/* Regression: a stamp ahead of the program's clock read is
		 * young, not 2^64 ns old (ct.h zh_stamp_within): the reply
		 * went on from the backend's address, untranslated. */
		.desc = "a reply entry refreshed after the clock read is live",
		.steps = {
			{ .before = ct_foreign_ahead,
			  .from = POD_B,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40000),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4, SVC_PORT,
				       A4, 40000),
			  ROUTED(POD_A) },
		},
	},
	{
		/* The same on A's own interface for a backend the kernel
		 * routes: looked up only once a flow to a backend that is
		 * no local pod exists (ZH_SVC_BE_ROUTED). A local backend's
		 * reply is its own hop's: not looked up here (it was
		 * ungated after xdpbench's tcp-crr hung with this gate; an
		 * entry stamped ahead of the backend hop's clock, dead
		 * there, is the cause found: see the row above). */
		.desc = "gated reverse lookup on the pod side: only once a backend is routed",
		.steps = {
			{ .before = ct_foreign_local,
			  .pod_side = true,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, B4, BE_PORT, A4,
				     40000),
			  .verdict = NEXT,
			  .out = LB_AS_WANT },
			{ .before = ct_foreign_remote,
			  .pod_side = true,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, OFFNODE4, BE_PORT,
				     A4, 40000),
			  .verdict = NEXT,
			  .out = LB_AS_WANT },
			{ .in = FLOW(L3_IPV4, IPPROTO_UDP, A4, 40000,
				     VIP4_REMOTE, SVC_PORT),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, A4, 40000,
				       OFFNODE4, BE_PORT),
			  .verdict = PASS,
			  .out = LB_AS_WANT,
			  .delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 } },
			{ .pod_side = true,
			  .in = FLOW(L3_IPV4, IPPROTO_UDP, OFFNODE4, BE_PORT,
				     A4, 40000),
			  .want = FLOW(L3_IPV4, IPPROTO_UDP, VIP4_REMOTE,
				       SVC_PORT, A4, 40000),
			  .verdict = NEXT,
			  .out = LB_AS_WANT },
		},
	},
};

/*
 * The ICMP error a refused request @req (from pod @from) must come back
 * as, built here independently of the datapath: RFC 792 / RFC 4443 port
 * unreachable from the VIP, quoting the request's IP header and 8 bytes.
 * Returns its length.
 */
static __u32 icmp_err_build(const __u8 *req, int from, bool v6, __u8 *out)
{
	const struct icmp_err e = {
		.v6 = v6,
		.src = req + (v6 ? IP6_DADDR : IP4_DADDR),
		.dst = req + (v6 ? IP6_SADDR : IP4_SADDR),
		.type = v6 ? 1 : 3, /* destination unreachable */
		.code = v6 ? 4 : 3, /* port unreachable */
		.quoted = req,
		.src_mac = gw_mac_of[from],
		.dst_mac = pods[from].mac,
	};

	return icmp_err_frame(&e, out);
}

/* Packet @i of case @c through @prog, and everything it must have done. */
static void lb_step(enum prog prog, const struct lb_case *c, int i)
{
	const struct lb_step *s = &c->steps[i];
	const struct frame *want_f = s->want.l3 ? &s->want : &s->in;
	bool v6 = s->in.l3 == L3_IPV6;
	__u8 in[FRAME_MAX], want[FRAME_MAX];
	__u32 len, want_len, flags = 0;
	struct run r;

	if (s->before)
		s->before();
	len = (__u32)frame_build(&s->in, s->from, in);
	if (s->out == LB_ICMP_ERR)
		want_len = icmp_err_build(in, s->from, v6, want);
	else
		want_len = (__u32)frame_build(want_f, s->from, want);
	cur_set(in, len, "%s: %s: packet %d", prog_names[prog], c->desc, i + 1);
	if (s->csum_complete && prog == PROG_TC && has_csum_complete())
		flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	else if (s->csum_complete && prog == PROG_TC)
		print_message(
			"[  INFO    ] test_run cannot check skb->csum on this kernel: packet %d runs without CHECKSUM_COMPLETE\n",
			i + 1);
	if (s->pod_side)
		run_prog_flags(prog == PROG_TC ? skel->progs.zh_tc_pod :
						 skel->progs.zh_xdp_pod,
			       ifindex_of[FOREIGN], in, len, flags, &r);
	else
		run_prog_flags(prog == PROG_TC ? skel->progs.zh_tc_from_pod :
						 skel->progs.zh_xdp_from_pod,
			       ifindex_of[s->from], in, len, flags, &r);
	if (r.err == -EBADMSG)
		fail_here(
			"skb->csum does not match the packet after the program (CHECKSUM_COMPLETE)");
	assert_verdict(prog, &r, s->verdict);
	if (s->out == LB_ROUTED) {
		/* The byte compare below checks it too; this says it. */
		if (want_f->no_udp_csum &&
		    get16(r.out + L3 + sizeof(struct iphdr) + 6))
			fail_here("UDP checksum %#06x, want 0 (none)",
				  get16(r.out + L3 + sizeof(struct iphdr) + 6));
		assert_routed(want, want_len, &r, s->to, !want_f->no_udp_csum);
	} else {
		assert_bytes(want, want_len, &r);
		if (!want_f->no_udp_csum)
			assert_l4_csum(r.out, want_len, v6);
	}
	/* The answer goes back into the pod that asked (tc; XDP_TX). */
	if (s->out == LB_ICMP_ERR && prog == PROG_TC)
		assert_redirect(&r,
				zh_kfeat_has(&kfeat, ZH_FEAT_TC_REDIRECT_PEER) ?
					ZH_TRACE_REDIRECT_PEER :
					ZH_TRACE_REDIRECT,
				ifindex_of[s->from]);
	assert_deltas(&r, s->delta, len);
	if (s->ct && ct_count() != s->ct - 1)
		fail_here("%d conntrack entries, want %d", ct_count(),
			  s->ct - 1);
}

static void test_lb_case(void **state)
{
	const struct fixture_run *lr = *state;
	const struct lb_case *c = lr->row;

	for (int i = 0; i < LB_STEPS && c->steps[i].in.l3; i++)
		lb_step(lr->prog, c, i);
}

/* ------------------------------------------------------------- scripts */

/*
 * Not a row: a script over three programs (both uplink entries, and the
 * tc entry for the reply), the node's own address, conntrack cleared
 * between packets and B's datapath flipped for one of them, with checks
 * that differ from packet to packet.
 *
 * NodePort: a client outside reaches node:30080 on the uplink and gets
 * the backend pod; the pod's reply leaves from node:30080 out of that
 * uplink. The same port at an address the node only routes is left
 * alone. All of it with socket-level LB covering the pods and the
 * reverse lookups gated: the uplink is balanced per packet all the same,
 * and the flow it makes marks its backend, whose reply is then looked
 * up.
 */
static void test_lb_nodeport(void **state)
{
	static const __u8 mac_out[ETH_ALEN] = { 0x02, 0, 0, 0, 0x0e, 0x01 };
	struct frame req = { .l3 = L3_IPV4,
			     .proto = IPPROTO_TCP,
			     .src_mac = mac_out,
			     .dst_mac = mac_out,
			     .src = OUTSIDE4,
			     .dst = NODE4,
			     .dport = NODE_PORT };
	struct frame nat = req, rep, unnat, transit = req;
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 };
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u8 in[FRAME_MAX], want[FRAME_MAX];
	struct run r;
	__u32 len;

	struct zh_ep_key node = { .family = ZH_AF_INET };
	__u32 one = 1;

	lb_setup(state);
	cfg_flag(ZH_CFG_F_SOCK_PODS | ZH_CFG_F_REV_GATED, true);
	parse_addr(AF_INET, NODE4, node.addr);
	map_put(bpf_map__fd(skel->maps.zh_node_addrs), &node, &one);
	nodeport_on();
	nat.dst = B4;
	nat.dport = BE_PORT;
	len = (__u32)frame_build(&req, FOREIGN, in);
	(void)frame_build(&nat, FOREIGN, want);
	cur_set(in, len, "uplink: NodePort request");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err || (int)r.retval != TC_ACT_REDIRECT)
		fail_here("uplink verdict %u (err %d), want redirect", r.retval,
			  r.err);
	assert_routed(want, len, &r, POD_B, true);
	if (svc_be_get(svc_be_slot(POD_B)) != 1 || svc_be_get(ZH_SVC_BE_ROUTED))
		fail_here("zh_svc_be: B's slot %u, routed %u; want 1, 0",
			  svc_be_get(svc_be_slot(POD_B)),
			  svc_be_get(ZH_SVC_BE_ROUTED));

	rep = (struct frame){ .l3 = L3_IPV4,
			      .proto = IPPROTO_TCP,
			      .src = B4,
			      .dst = OUTSIDE4,
			      .sport = BE_PORT,
			      .dport = 40000 };
	unnat = rep;
	unnat.src = NODE4;
	unnat.sport = NODE_PORT;
	len = (__u32)frame_build(&rep, POD_B, in);
	(void)frame_build(&unnat, POD_B, want);
	/* Straight back out of the uplink (its L2 header is filled in by
	 * bpf_redirect_neigh() on the way, not in test_run). */
	cur_set(in, len, "tc: NodePort reply");
	run_frame(PROG_TC, ifindex_of[POD_B], in, len, &r);
	assert_verdict(PROG_TC, &r, REDIRECT);
	assert_bytes(want, len, &r);
	assert_deltas(&r, delta, len);
	assert_redirect(&r, ZH_TRACE_REDIRECT_NEIGH, ifindex_of[FOREIGN]);

	/* XDP on the uplink: delivers to an XDP pod itself, and leaves a
	 * tc pod to zh_tc_uplink (untouched, uncounted). */
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	len = (__u32)frame_build(&req, FOREIGN, in);
	(void)frame_build(&nat, FOREIGN, want);
	cur_set(in, len, "xdp uplink: NodePort request, an XDP pod");
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err || r.retval != XDP_REDIRECT)
		fail_here("xdp uplink verdict %u (err %d), want redirect",
			  r.retval, r.err);
	assert_routed(want, len, &r, POD_B, true);
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	b_datapath(ZH_DATAPATH_TC);
	cur_set(in, len, "xdp uplink: NodePort request, a tc pod");
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], in, len, &r);
	b_datapath(ZH_DATAPATH_XDP);
	if (r.err || r.retval != XDP_PASS)
		fail_here("xdp uplink verdict %u (err %d), want pass", r.retval,
			  r.err);
	assert_unchanged(in, len, &r);
	assert_deltas(&r, none, len);

	map_clear(bpf_map__fd(skel->maps.zh_ct));
	transit.dst = ELSEWHERE4;
	len = (__u32)frame_build(&transit, FOREIGN, in);
	cur_set(in, len, "uplink: the NodePort's port, not to the node");
	run_prog(skel->progs.zh_tc_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err || (int)r.retval != TC_ACT_OK)
		fail_here("uplink verdict %u (err %d), want ok", r.retval,
			  r.err);
	assert_unchanged(in, len, &r);
	if (ct_count())
		fail_here("routed traffic left conntrack entries");
}

/*
 * Not a row: every length of one frame, each with the outcome its length
 * allows (tc's test_run refuses some outright).
 *
 * Cut short anywhere, a packet to a VIP never crashes, is never balanced
 * without its ports, and leaves no conntrack entry when it is not.
 */
static void test_lb_truncated(void **state)
{
	for (int p = 0; p < NR_PROGS; p++) {
		struct frame f = { .l3 = L3_IPV4,
				   .proto = IPPROTO_TCP,
				   .src = A4,
				   .dst = VIP4,
				   .dport = SVC_PORT };
		__u8 in[FRAME_MAX];
		__u32 full = (__u32)frame_build(&f, POD_A, in);
		__u32 need = L3 + sizeof(struct iphdr) + sizeof(struct tcphdr);
		struct run r;

		lb_setup(state);
		for (__u32 len = ETH_HLEN; len < need; len++) {
			cur_set(in, len, "%s: VIP frame cut at %u of %u",
				prog_names[p], len, full);
			run_frame(p, ifindex_of[POD_A], in, len, &r);
			/* tc's test_run refuses a cut IP header itself. */
			if (r.err == -EINVAL && p == PROG_TC)
				continue;
			if (r.err)
				fail_here("test_run: %s", strerror(-r.err));
			if ((int)r.retval == verdict_codes[p][REDIRECT])
				fail_here(
					"a frame without its ports was redirected");
			if (ct_count())
				fail_here("conntrack entry from a cut frame");
		}
	}
}

/* ------------------------------------------------------- ICMP errors */

/*
 * Not a row: an ICMP error about a Service flow (lb_icmp.h). A -> VIP:80
 * goes to B:8080; B answers A with an ICMP error quoting the request as
 * it arrived (port unreachable: nothing listens; IPv4 and IPv6, TCP and
 * UDP, the whole request quoted or its header and 8 bytes). A gets it as
 * though the VIP had answered about what A sent: from the VIP, the quote
 * to VIP:80, every checksum as a sender computes it (the expected frame
 * is built from scratch), skb->csum right on a CHECKSUM_COMPLETE skb. An
 * error quoting a flow of no Service reaches A untouched.
 */
static void lb_icmp_one(enum prog prog, bool v6, __u8 proto, bool whole)
{
	const char *a = v6 ? A6 : A4, *b = v6 ? B6 : B4,
		   *vip = v6 ? VIP6 : VIP4;
	struct frame req =
		FLOW(v6 ? L3_IPV6 : L3_IPV4, proto, a, 0, vip, SVC_PORT);
	__u8 in[FRAME_MAX], at_b[FRAME_MAX], err[FRAME_MAX], sent[FRAME_MAX],
		want[FRAME_MAX], a4[4 * 4], b4[4 * 4], v4[4 * 4];
	struct icmp_err e = { .v6 = v6,
			      .type = v6 ? 1 : 3,
			      .code = v6 ? 4 : 3,
			      .src_mac = pods[POD_B].mac,
			      .dst_mac = gw_mac_of[POD_B] };
	__u32 len, elen, wlen, flags = 0;
	struct run r;

	if (prog == PROG_TC && has_csum_complete())
		flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	lb_setup(NULL);
	parse_addr(v6 ? AF_INET6 : AF_INET, a, a4);
	parse_addr(v6 ? AF_INET6 : AF_INET, b, b4);
	parse_addr(v6 ? AF_INET6 : AF_INET, vip, v4);
	len = (__u32)frame_build(&req, POD_A, in);
	cur_set(in, len, "%s: A -> VIP", prog_names[prog]);
	run_frame(prog, ifindex_of[POD_A], in, len, &r);
	assert_verdict(prog, &r, REDIRECT);
	memcpy(at_b, r.out, r.out_len);

	/* B's kernel answers A about the request as B got it. */
	e.src = b4;
	e.dst = a4;
	e.quoted = at_b;
	e.quote = whole ? (__u16)(len - L3) : 0;
	elen = icmp_err_frame(&e, err);
	cur_set(err, elen, "%s: B's ICMP error to A", prog_names[prog]);
	run_prog_flags(prog == PROG_TC ? skel->progs.zh_tc_from_pod :
					 skel->progs.zh_xdp_from_pod,
		       ifindex_of[POD_B], err, elen, flags, &r);
	if (r.err == -EBADMSG)
		fail_here(
			"skb->csum does not match the packet after the program (CHECKSUM_COMPLETE)");
	assert_verdict(prog, &r, REDIRECT);
	/* What A gets: the VIP's error about what A sent, one hop on. */
	req.ttl = 63;
	(void)frame_build(&req, POD_A, sent);
	e.src = v4;
	e.quoted = sent;
	wlen = icmp_err_frame(&e, want);
	assert_routed(want, wlen, &r, POD_A, true);

	/* About a flow no Service made (another source port): as it is. */
	memcpy(sent, at_b, len);
	put16(sent + L3 + (v6 ? IP6_HLEN : sizeof(struct iphdr)), 40001);
	e.src = b4;
	e.quoted = sent;
	e.src_mac = pods[POD_B].mac;
	elen = icmp_err_frame(&e, err);
	run_prog(prog == PROG_TC ? skel->progs.zh_tc_from_pod :
				   skel->progs.zh_xdp_from_pod,
		 ifindex_of[POD_B], err, elen, &r);
	assert_verdict(prog, &r, REDIRECT);
	assert_routed(err, elen, &r, POD_A, true);
}

static void test_lb_icmp(void **state)
{
	(void)state;
	for (int p = 0; p < NR_PROGS; p++)
		for (int whole = 0; whole < 2; whole++) {
			lb_icmp_one(p, false, IPPROTO_UDP, whole);
			lb_icmp_one(p, false, IPPROTO_TCP, whole);
			lb_icmp_one(p, true, IPPROTO_UDP, whole);
			lb_icmp_one(p, true, IPPROTO_TCP, whole);
		}
}

/* ---------------------------------------------------------------- main */

#define NR_LB_ROWS (ARRAY_SIZE(lb_cases) * NR_PROGS)
static struct fixture_run lb_runs[NR_LB_ROWS];
static struct CMUnitTest lb_tests[NR_LB_ROWS + 3];

int main(int argc, char **argv)
{
	static const struct fixture_group groups[] = {
		{ .name = "services",
		  .tests = lb_tests,
		  .n = ARRAY_SIZE(lb_tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_lb",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
		.trace = true,
	};
	size_t i = FIXTURE_ROWS(lb_tests, lb_runs, lb_cases, "",
				.test_func = test_lb_case,
				.setup_func = lb_setup,
				.teardown_func = lb_teardown);

	lb_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lb_nodeport, lb_teardown);
	lb_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lb_truncated, lb_teardown);
	lb_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lb_icmp, lb_teardown);
	return fixture_main(&suite, argc, argv);
}
