// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_lb.c - Services in the fast path (bpf/lib/lb.h, nat.h, ct.h,
 * reject.h) through BPF_PROG_TEST_RUN: DNAT and reverse NAT byte for byte
 * (IPv4/IPv6, TCP/UDP, a UDP checksum of 0), hairpin, NodePort on the
 * uplink, the ICMP reject checked against an independent builder, unknown
 * VIPs, remote backends, established flows across table changes and
 * backend removal, affinity and terminating backends, cut frames.
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
#define NODE_PORT 30080
#define VIP6 "fd00:96::10"
#define SVC_PORT 80
#define BE_PORT 8080
#define BE_PORT2 8081
#define SLOTS 7 /* a prime: every table below is this big */

enum { SVC4 = 1, SVC4_EMPTY, SVC4_REMOTE, SVC6, SVC4_HAIRPIN, SVC4_NP };
enum { BE_B4 = 1, BE_B4_2, BE_REMOTE, BE_B6, BE_A4 }; /* backend ids */

static void lb_put(int fd, const void *k, const void *v)
{
	if (bpf_map_update_elem(fd, k, v, BPF_ANY))
		fail_here("map update: %s", strerror(errno));
}

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
	lb_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	for (__u32 i = 0; be && i < SLOTS; i++) {
		__u32 slot = id * SLOTS + i;

		lb_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &be);
	}
}

static void lb_table(__u32 svc, __u32 be)
{
	for (__u32 i = 0; i < SLOTS; i++) {
		__u32 slot = svc * SLOTS + i;

		lb_put(bpf_map__fd(skel->maps.zh_maglev), &slot, &be);
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
	lb_put(bpf_map__fd(skel->maps.zh_backends), &id, &b);
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
	return 0;
}

static int lb_teardown(void **state)
{
	(void)state;
	lb_services(0);
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

/* One packet from @from through @prog; the output must be @want (a frame
 * as the pod would have sent it after the translation) routed to @to. */
static void lb_expect_routed(enum prog prog, int from, const struct frame *in_f,
			     const struct frame *want_f, int to)
{
	__u8 in[FRAME_MAX], want[FRAME_MAX];
	__u32 len = (__u32)frame_build(in_f, from, in);
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_REDIRECT] = 1 };
	struct run r;

	(void)frame_build(want_f, from, want);
	run_frame(prog, ifindex_of[from], in, len, &r);
	assert_verdict(prog, &r, REDIRECT);
	assert_routed(want, len, &r, to, true);
	assert_deltas(&r, delta, len);
}

struct lb_kind {
	const char *what;
	enum l3 l3;
	__u8 proto;
	const char *vip, *client, *backend;
};

static const struct lb_kind lb_kinds[] = {
	{ "IPv4 TCP", L3_IPV4, IPPROTO_TCP, VIP4, A4, B4 },
	{ "IPv4 UDP", L3_IPV4, IPPROTO_UDP, VIP4, A4, B4 },
	{ "IPv6 TCP", L3_IPV6, IPPROTO_TCP, VIP6, A6, B6 },
	{ "IPv6 UDP", L3_IPV6, IPPROTO_UDP, VIP6, A6, B6 },
};

/* A -> VIP:80 goes to B:8080 (DNAT, checksums right), both conntrack
 * directions are written, and B's reply reaches A from VIP:80. */
static void test_lb_dnat_and_reply(void **state)
{
	for (size_t k = 0; k < ARRAY_SIZE(lb_kinds); k++) {
		for (int p = 0; p < NR_PROGS; p++) {
			const struct lb_kind *c = &lb_kinds[k];
			struct frame req = { .l3 = c->l3,
					     .proto = c->proto,
					     .src = c->client,
					     .dst = c->vip,
					     .dport = SVC_PORT };
			struct frame nat = req, rep, unnat;

			lb_setup(state);
			nat.dst = c->backend;
			nat.dport = BE_PORT;
			cur_set(NULL, 0, "%s: %s request", prog_names[p],
				c->what);
			lb_expect_routed(p, POD_A, &req, &nat, POD_B);
			if (ct_count() != 2)
				fail_here("%d conntrack entries, want 2",
					  ct_count());

			rep = (struct frame){ .l3 = c->l3,
					      .proto = c->proto,
					      .src = c->backend,
					      .dst = c->client,
					      .sport = BE_PORT,
					      .dport = 40000 };
			unnat = rep;
			unnat.src = c->vip;
			unnat.sport = SVC_PORT;
			cur_set(NULL, 0, "%s: %s reply", prog_names[p],
				c->what);
			lb_expect_routed(p, POD_B, &rep, &unnat, POD_A);
			/* The flow again: the same backend, no new entry. */
			lb_expect_routed(p, POD_A, &req, &nat, POD_B);
			if (ct_count() != 2)
				fail_here(
					"%d conntrack entries after the flow went on, want 2",
					ct_count());
		}
	}
}

/* Hairpin: A reaches a Service whose backend is A. A must not see its own
 * address as the source: the request comes from the VIP (A's port), the
 * reply goes back to A from VIP:80. */
static void test_lb_hairpin(void **state)
{
	for (int p = 0; p < NR_PROGS; p++) {
		struct frame req = { .l3 = L3_IPV4,
				     .proto = IPPROTO_TCP,
				     .src = A4,
				     .dst = VIP4_HAIRPIN,
				     .dport = SVC_PORT };
		struct frame nat = { .l3 = L3_IPV4,
				     .proto = IPPROTO_TCP,
				     .src = VIP4_HAIRPIN,
				     .dst = A4,
				     .dport = BE_PORT };
		struct frame rep = { .l3 = L3_IPV4,
				     .proto = IPPROTO_TCP,
				     .src = A4,
				     .dst = VIP4_HAIRPIN,
				     .sport = BE_PORT,
				     .dport = 40000 };
		struct frame unnat = { .l3 = L3_IPV4,
				       .proto = IPPROTO_TCP,
				       .src = VIP4_HAIRPIN,
				       .dst = A4,
				       .sport = SVC_PORT,
				       .dport = 40000 };

		lb_setup(state);
		cur_set(NULL, 0, "%s: hairpin request", prog_names[p]);
		lb_expect_routed(p, POD_A, &req, &nat, POD_A);
		cur_set(NULL, 0, "%s: hairpin reply", prog_names[p]);
		lb_expect_routed(p, POD_A, &rep, &unnat, POD_A);
		if (ct_count() != 2)
			fail_here("%d conntrack entries, want 2", ct_count());
	}
}

/* NodePort: a client outside reaches node:30080 on the uplink and gets
 * the backend pod; the pod's reply leaves from node:30080 out of that
 * uplink. The same port at an address the node only routes is left
 * alone. */
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
	struct zh_svc_key k = { .family = ZH_AF_INET,
				.proto = IPPROTO_TCP,
				.port = htons(NODE_PORT) };
	struct zh_svc v = { .id = SVC4_NP,
			    .table_off = SVC4_NP * SLOTS,
			    .table_size = SLOTS,
			    .flags = ZH_SVC_F_NODEPORT,
			    .port = htons(SVC_PORT) };
	__u64 delta[ZH_STAT_MAX] = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 };
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u8 in[FRAME_MAX], want[FRAME_MAX];
	struct run r;
	__u32 len;

	struct zh_ep_key node = { .family = ZH_AF_INET };
	__u32 one = 1;

	lb_setup(state);
	parse_addr(AF_INET, NODE4, node.addr);
	lb_put(bpf_map__fd(skel->maps.zh_node_addrs), &node, &one);
	lb_put(bpf_map__fd(skel->maps.zh_services), &k, &v);
	lb_table(SVC4_NP, BE_B4);
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

/* IPv4 UDP without a checksum keeps none through the translation. */
static void test_lb_udp_no_checksum(void **state)
{
	for (int p = 0; p < NR_PROGS; p++) {
		struct frame req = { .l3 = L3_IPV4,
				     .proto = IPPROTO_UDP,
				     .src = A4,
				     .dst = VIP4,
				     .dport = SVC_PORT,
				     .no_udp_csum = true };
		struct frame nat = req;
		__u8 in[FRAME_MAX];
		__u32 len;
		struct run r;

		lb_setup(state);
		nat.dst = B4;
		nat.dport = BE_PORT;
		len = (__u32)frame_build(&req, POD_A, in);
		cur_set(in, len, "%s: UDP without checksum", prog_names[p]);
		run_frame(p, ifindex_of[POD_A], in, len, &r);
		assert_verdict(p, &r, REDIRECT);
		if (get16(r.out + L3 + sizeof(struct iphdr) + 6))
			fail_here("UDP checksum %#06x, want 0 (none)",
				  get16(r.out + L3 + sizeof(struct iphdr) + 6));
		(void)frame_build(&nat, POD_A, in);
		assert_routed(in, len, &r, POD_B, false);
	}
}

/*
 * The ICMP error a refused request @req (from pod @from) must come back
 * as, built here independently of the datapath: RFC 792 / RFC 4443 port
 * unreachable from the VIP, quoting the request's IP header and 8 bytes.
 * Returns its length.
 */
static __u32 icmp_err_build(const __u8 *req, int from, bool v6, __u8 *out)
{
	size_t iph = v6 ? IP6_HLEN : sizeof(struct iphdr);
	size_t quote = iph + 8, icmp_len = 8 + quote;
	__u8 *ip = out + L3, *icmp = ip + iph;

	memset(out, 0, FRAME_MAX);
	memcpy(out + ETH_DST, pods[from].mac, ETH_ALEN);
	memcpy(out + ETH_SRC, gw_mac_of[from], ETH_ALEN);
	put16(out + ETH_PROTO, v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, (__u16)icmp_len);
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = 64;
		memcpy(ip + 8, req + IP6_DADDR, 16);
		memcpy(ip + 24, req + IP6_SADDR, 16);
		icmp[0] = 1; /* destination unreachable */
		icmp[1] = 4; /* port unreachable */
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (__u16)(iph + icmp_len));
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, req + IP4_DADDR, 4);
		memcpy(ip + 16, req + IP4_SADDR, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, iph)));
		icmp[0] = 3; /* destination unreachable */
		icmp[1] = 3; /* port unreachable */
	}
	memcpy(icmp + 8, req + L3, quote);
	put16(icmp + 2,
	      csum_fold(csum_add(v6 ? pseudo_sum(out, true, IPPROTO_ICMPV6,
						 (__u32)icmp_len) :
				      0,
				 icmp, icmp_len)));
	return (__u32)(L3 + iph + icmp_len);
}

/* No ready backend: the client is refused at once with ICMP port
 * unreachable from the VIP, counted, nothing remembered. Services off: the
 * VIP is just an address the node does not have. */
static void test_lb_no_backend_and_off(void **state)
{
	for (int p = 0; p < NR_PROGS; p++) {
		for (int v6 = 0; v6 < 2; v6++) {
			struct frame f = { .l3 = v6 ? L3_IPV6 : L3_IPV4,
					   .proto = v6 ? IPPROTO_UDP :
							 IPPROTO_TCP,
					   .src = v6 ? A6 : A4,
					   .dst = v6 ? VIP6 : VIP4_EMPTY,
					   .dport = SVC_PORT };
			__u64 refused[ZH_STAT_MAX] = {
				[ZH_STAT_DROP_NO_BACKEND] = 1
			};
			__u8 in[FRAME_MAX], want[FRAME_MAX];
			__u32 len, want_len;
			struct run r;

			lb_setup(state);
			/* The IPv6 Service loses its only backend. */
			if (v6)
				lb_svc(SVC6, VIP6, IPPROTO_UDP, 0, 0);
			len = (__u32)frame_build(&f, POD_A, in);
			want_len = icmp_err_build(in, POD_A, v6, want);
			cur_set(in, len, "%s: %s Service without backends",
				prog_names[p], v6 ? "IPv6" : "IPv4");
			run_frame(p, ifindex_of[POD_A], in, len, &r);
			if (r.err)
				fail_here("test_run: %s", strerror(-r.err));
			if ((int)r.retval !=
			    (p == PROG_TC ? TC_ACT_REDIRECT : XDP_TX))
				fail_here(
					"verdict %u, want the error sent back",
					r.retval);
			assert_bytes(want, want_len, &r);
			assert_deltas(&r, refused, len);
			if (ct_count())
				fail_here(
					"a refused flow left conntrack entries");
		}
	}
	for (int p = 0; p < NR_PROGS; p++) {
		struct frame f = { .l3 = L3_IPV4,
				   .proto = IPPROTO_TCP,
				   .src = A4,
				   .dst = VIP4,
				   .dport = SVC_PORT };
		__u64 pass[ZH_STAT_MAX] = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 };
		__u8 in[FRAME_MAX];
		__u32 len = (__u32)frame_build(&f, POD_A, in);
		struct run r;

		lb_setup(state);
		lb_services(0);
		cur_set(in, len, "%s: Services off", prog_names[p]);
		run_frame(p, ifindex_of[POD_A], in, len, &r);
		assert_verdict(p, &r, PASS);
		assert_unchanged(in, len, &r);
		assert_deltas(&r, pass, len);
	}
}

/* An address in the Service CIDR that is no Service is dropped and
 * counted; outside the CIDR, and with no CIDR set, it is routed as before. */
static void test_lb_unknown_vip(void **state)
{
	struct zh_objs o = lat_objs();
	struct zh_config cfg;

	for (int p = 0; p < NR_PROGS; p++) {
		for (int v6 = 0; v6 < 2; v6++) {
			struct frame f = { .l3 = v6 ? L3_IPV6 : L3_IPV4,
					   .proto = IPPROTO_TCP,
					   .src = v6 ? A6 : A4,
					   .dst = v6 ? "fd00:96::99" :
						       "10.96.0.99",
					   .dport = SVC_PORT };
			__u64 drop[ZH_STAT_MAX] = { [ZH_STAT_DROP_UNKNOWN_VIP] =
							    1 };
			__u64 pass[ZH_STAT_MAX] = { [ZH_STAT_PASS_NO_ENDPOINT] =
							    1 };
			__u8 in[FRAME_MAX];
			__u32 len = (__u32)frame_build(&f, POD_A, in);
			struct run r;

			lb_setup(state);
			cur_set(in, len, "%s: %s unknown VIP, no CIDR set",
				prog_names[p], v6 ? "IPv6" : "IPv4");
			run_frame(p, ifindex_of[POD_A], in, len, &r);
			assert_verdict(p, &r, PASS);
			assert_deltas(&r, pass, len);

			if (zh_config_get(&o, &cfg))
				fail_here("reading zh_config");
			/* 10.96.0.0/12 and fd00:96::/108 as Kubernetes'. */
			cfg.svc_cidr4_len = 12;
			parse_addr(AF_INET, "10.96.0.0", &cfg.svc_cidr4);
			cfg.svc_cidr6_len = 108;
			parse_addr(AF_INET6, "fd00:96::", cfg.svc_cidr6);
			if (zh_config_set(&o, &cfg))
				fail_here("writing zh_config");
			cur_set(in, len, "%s: %s unknown VIP in the CIDR",
				prog_names[p], v6 ? "IPv6" : "IPv4");
			run_frame(p, ifindex_of[POD_A], in, len, &r);
			assert_verdict(p, &r, DROP);
			assert_deltas(&r, drop, len);

			/* Just outside: 10.112.0.1, fd00:96::10:0:1. */
			f.dst = v6 ? "fd00:96::10:0:1" : "10.112.0.1";
			len = (__u32)frame_build(&f, POD_A, in);
			cur_set(in, len, "%s: %s just outside the CIDR",
				prog_names[p], v6 ? "IPv6" : "IPv4");
			run_frame(p, ifindex_of[POD_A], in, len, &r);
			assert_verdict(p, &r, PASS);
			assert_deltas(&r, pass, len);

			cfg.svc_cidr4_len = cfg.svc_cidr6_len = 0;
			if (zh_config_set(&o, &cfg))
				fail_here("writing zh_config");
		}
	}
}

/* A backend that is no local pod: translated, then the kernel routes it. */
static void test_lb_remote_backend(void **state)
{
	for (int p = 0; p < NR_PROGS; p++) {
		struct frame f = { .l3 = L3_IPV4,
				   .proto = IPPROTO_UDP,
				   .src = A4,
				   .dst = VIP4_REMOTE,
				   .dport = SVC_PORT };
		struct frame nat = f;
		__u64 pass[ZH_STAT_MAX] = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 };
		__u8 in[FRAME_MAX], want[FRAME_MAX];
		__u32 len = (__u32)frame_build(&f, POD_A, in);
		struct run r;

		lb_setup(state);
		nat.dst = OFFNODE4;
		nat.dport = BE_PORT;
		(void)frame_build(&nat, POD_A, want);
		cur_set(in, len, "%s: remote backend", prog_names[p]);
		run_frame(p, ifindex_of[POD_A], in, len, &r);
		assert_verdict(p, &r, PASS);
		assert_bytes(want, len, &r);
		assert_deltas(&r, pass, len);

		/* Its reply comes through the kernel to A's own interface:
		 * the pod-side program turns it back to the VIP. */
		struct frame rep = { .l3 = L3_IPV4,
				     .proto = IPPROTO_UDP,
				     .src = OFFNODE4,
				     .dst = A4,
				     .sport = BE_PORT,
				     .dport = 40000 };
		struct frame unnat = rep;
		struct bpf_program *pod = p == PROG_TC ? skel->progs.zh_tc_pod :
							 skel->progs.zh_xdp_pod;

		unnat.src = VIP4_REMOTE;
		unnat.sport = SVC_PORT;
		len = (__u32)frame_build(&rep, POD_A, in);
		(void)frame_build(&unnat, POD_A, want);
		cur_set(in, len, "%s: remote backend's reply, pod side",
			prog_names[p]);
		run_prog(pod, ifindex_of[FOREIGN], in, len, &r);
		if (r.err || (p == PROG_TC ? (int)r.retval != TC_ACT_UNSPEC :
					     r.retval != XDP_PASS))
			fail_here("pod-side verdict %u (err %d)", r.retval,
				  r.err);
		assert_bytes(want, len, &r);
		assert_l4_csum(r.out, len, false);
	}
}

/* A flow keeps its backend when the table changes; new flows follow the
 * table; a flow whose backend is removed picks again. */
static void test_lb_established_flows(void **state)
{
	for (int p = 0; p < NR_PROGS; p++) {
		struct frame f1 = { .l3 = L3_IPV4,
				    .proto = IPPROTO_TCP,
				    .src = A4,
				    .dst = VIP4,
				    .dport = SVC_PORT };
		struct frame f2 = f1, to1 = f1, to2;
		__u32 id = BE_B4;

		lb_setup(state);
		f2.sport = 40001;
		to1.dst = B4;
		to1.dport = BE_PORT;
		cur_set(NULL, 0, "%s: established flows", prog_names[p]);
		lb_expect_routed(p, POD_A, &f1, &to1, POD_B);
		lb_table(SVC4, BE_B4_2); /* the table now says BE_PORT2 */
		lb_expect_routed(p, POD_A, &f1, &to1, POD_B);
		to2 = f2;
		to2.dst = B4;
		to2.dport = BE_PORT2;
		lb_expect_routed(p, POD_A, &f2, &to2, POD_B);
		if (bpf_map_delete_elem(bpf_map__fd(skel->maps.zh_backends),
					&id))
			fail_here("deleting backend 1: %s", strerror(errno));
		to1.dport = BE_PORT2;
		lb_expect_routed(p, POD_A, &f1, &to1, POD_B);
	}
}

/* ClientIP affinity: a new flow of the same client takes the backend the
 * client had, not the table's; a terminating backend gets no new flow. */
static void test_lb_affinity(void **state)
{
	for (int p = 0; p < NR_PROGS; p++) {
		struct frame f1 = { .l3 = L3_IPV4,
				    .proto = IPPROTO_TCP,
				    .src = A4,
				    .dst = VIP4,
				    .dport = SVC_PORT };
		struct frame f2 = f1, f3 = f1, to = f1;

		lb_setup(state);
		lb_svc(SVC4, VIP4, IPPROTO_TCP, BE_B4, 10800);
		f2.sport = 40001;
		f3.sport = 40002;
		to.dst = B4;
		to.dport = BE_PORT;
		cur_set(NULL, 0, "%s: affinity", prog_names[p]);
		lb_expect_routed(p, POD_A, &f1, &to, POD_B);
		lb_table(SVC4, BE_B4_2);
		to.sport = 40001;
		lb_expect_routed(p, POD_A, &f2, &to, POD_B);
		lb_backend(BE_B4, SVC4, B4, BE_PORT, ZH_BE_F_TERMINATING);
		to.sport = 40002;
		to.dport = BE_PORT2;
		lb_expect_routed(p, POD_A, &f3, &to, POD_B);
	}
}

/* Cut short anywhere, a packet to a VIP never crashes, is never balanced
 * without its ports, and leaves no conntrack entry when it is not. */
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

int main(int argc, char **argv)
{
	static const struct CMUnitTest lb_tests[] = {
		cmocka_unit_test_teardown(test_lb_dnat_and_reply, lb_teardown),
		cmocka_unit_test_teardown(test_lb_hairpin, lb_teardown),
		cmocka_unit_test_teardown(test_lb_nodeport, lb_teardown),
		cmocka_unit_test_teardown(test_lb_udp_no_checksum, lb_teardown),
		cmocka_unit_test_teardown(test_lb_no_backend_and_off,
					  lb_teardown),
		cmocka_unit_test_teardown(test_lb_remote_backend, lb_teardown),
		cmocka_unit_test_teardown(test_lb_unknown_vip, lb_teardown),
		cmocka_unit_test_teardown(test_lb_established_flows,
					  lb_teardown),
		cmocka_unit_test_teardown(test_lb_affinity, lb_teardown),
		cmocka_unit_test_teardown(test_lb_truncated, lb_teardown),
	};
	static const struct fixture_group groups[] = {
		{ .name = "services",
		  .tests = lb_tests,
		  .n = ARRAY_SIZE(lb_tests) },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_lb",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
	};

	return fixture_main(&suite, argc, argv);
}
