// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_pktfuzz.c - random and mutated frames through every program of
 * zh_fast with BPF_PROG_TEST_RUN, and what must hold for each one of them,
 * whatever it is:
 *
 *   - redirected only to a pod's host veth (the pod that owns the frame's
 *     destination, after any Service rewrite, with that pod's MACs), to the
 *     uplink (a NodePort reply; a NodePort request SNATed toward another
 *     node's pod, its reply, an ICMP error about such a flow, each as its
 *     zh_ct entries say), back to the sender (a refused Service),
 *     or into the AF_XDP socket a steering rule names; seen through
 *     zh_trace (bpf/lib/trace.h), where the redirect helpers record their
 *     target when the object is loaded for tests;
 *   - never let through from a pod with a source that is not the pod's own
 *     (MAC, IPv4, IPv6, ARP sender), also behind VLAN tags the kernel
 *     strips (VID 0) before it routes the frame;
 *   - a changed frame differs only where a rewrite may change it (MACs and
 *     TTL on a redirect, addresses and ports of a Service rewrite to one of
 *     that Service's backends or back to its front end, their checksums),
 *     and no checksum is broken: the IPv4 header's and the TCP/UDP one's
 *     one's complement sums stay what they were (a valid one stays valid,
 *     a corrupt one is not laundered), a UDP checksum of 0 stays 0 and
 *     none becomes 0; an ICMP error built in place is exact and valid; a
 *     tc program keeps skb->csum right under CHECKSUM_COMPLETE where the
 *     kernel can check it (BPF_F_TEST_SKB_CHECKSUM_COMPLETE);
 *   - the counters add up: exactly one zh_stats counter moves, by one
 *     packet and the frame's length, and it is the one the verdict stands
 *     for; only the documented hand-overs (XDP to tc, the uplink's
 *     pass-through, the pod side) count nothing, and leave the frame as it
 *     came; XDP and the tc entry behind it count a frame once between them.
 *
 * Frames: random bytes, random bytes behind a plausible Ethernet header,
 * and valid frames built for the program's side (from a pod, from outside
 * on the uplink, towards a pod) - IPv4 with options and fragments, IPv6
 * with extension headers, TCP, UDP, ICMP errors quoting a flow, ICMPv6,
 * SCTP, ARP, VLAN tags - to Services, NodePorts, pods, from right and
 * wrong sources, replies of flows a request just set up; then mutated
 * (bits, lengths, checksums, addresses, ports, cuts, inserted tags), and
 * their checksums made right again half of the time.
 *
 *   test_bpf_pktfuzz [--frames N] [--seed S] [--prog NAME]
 *
 * N frames per program in each pass of the fixture (default: a slice for
 * `make check`); every run prints its seed, and the same seed, N and NAME
 * give the same frames. Exit 77 (skipped) when not run as root.
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
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/pkt_cls.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

/*
 * `make check` (no --frames): this many frames per program and pass, from
 * a fixed seed, and no more than FZ_CHECK_SECONDS of them (under ASan, or
 * on an emulated CPU, the slice is the prefix that fits).
 */
#define FZ_CHECK_FRAMES 12000
#define FZ_CHECK_SECONDS 0.6

static __u64 opt_frames = FZ_CHECK_FRAMES;
static double opt_budget = FZ_CHECK_SECONDS; /* 0: none */
static __u64 opt_seed = 0x7a68667a7aULL; /* "zhfzz" */
static const char *opt_prog;

/* ----------------------------------------------------------------- rng */

static __u64 rs; /* splitmix64: the same sequence on every machine */

static __u64 rnd(void)
{
	__u64 z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u32 below(__u32 n)
{
	return n ? (__u32)(rnd() % n) : 0;
}

/* True @num times in @den. */
static bool chance(__u32 num, __u32 den)
{
	return below(den) < num;
}

static void rnd_fill(__u8 *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (__u8)rnd();
}

#define PICK(arr) ((arr)[below(ARRAY_SIZE(arr))])

/* --------------------------------------------------------------- world */

/*
 * The node: pods A (tc), B (XDP on its veth, an AF_XDP steering rule) and
 * C (IPv6 only, delivered through its veth's RX as an AF_XDP pod is), the
 * uplink (A's pod-side end, as in test_bpf_lb.c), the node's addresses and
 * the Services below.
 */
#define NODE6 "fd00:ffff::1"
#define VIP4 "10.96.0.10"
#define VIP4_EMPTY "10.96.0.11"
#define VIP4_REMOTE "10.96.0.12"
#define VIP4_HAIRPIN "10.96.0.13"
#define VIP6 "fd00:96::10"
#define VIP6_EMPTY "fd00:96::11"
#define VIP6_REMOTE "fd00:96::12"
#define SLOTS 7

struct fz_pod {
	int host, peer; /* ifindexes: host-side veth, pod-side end */
	const __u8 *mac, *gw;
	bool has4, has6;
	__u8 ip4[4], ip6[16];
	__u8 iface_dp, ep_dp, ep_flags;
};

static struct fz_pod fzp[NR_PODS];
static int uplink; /* ifindex of the uplink: NodePorts come in there */

struct fz_be {
	const char *addr;
	__u16 port;
	bool terminating;
};

struct fz_svc {
	const char *vip; /* NULL: a NodePort, at any of the node's addresses */
	bool v6;
	__u8 proto;
	__u16 port;
	__u32 affinity_s;
	int nbe;
	struct fz_be be[3];
};

/* A Service: front end, then its backends. */
#define SVC(vip, v6, proto, port, affinity_s, ...)                     \
	{                                                              \
		vip, v6, proto, port, affinity_s,                      \
			ARRAY_SIZE(((struct fz_be[]){ __VA_ARGS__ })), \
		{                                                      \
			__VA_ARGS__                                    \
		}                                                      \
	}
#define BE(addr, port)            \
	{                         \
		addr, port, false \
	}
#define BE_TERMINATING(addr, port) \
	{                          \
		addr, port, true   \
	}
#define NO_BACKEND             \
	{                      \
		NULL, 0, false \
	}

static struct fz_svc svcs[] = {
	SVC(VIP4, false, IPPROTO_TCP, 80, 0, BE(B4, 8080), BE(B4, 8081)),
	SVC(VIP4, false, IPPROTO_UDP, 53, 10800, BE(A4, 5353), BE(B4, 5353)),
	SVC(VIP4_EMPTY, false, IPPROTO_TCP, 80, 0, NO_BACKEND),
	SVC(VIP4_REMOTE, false, IPPROTO_UDP, 80, 0, BE(OFFNODE4, 8080)),
	SVC(VIP4_HAIRPIN, false, IPPROTO_TCP, 80, 0, BE(A4, 8080)),
	SVC(VIP6, true, IPPROTO_TCP, 80, 0, BE(B6, 8080), BE(C6, 8080)),
	SVC(VIP6, true, IPPROTO_UDP, 53, 0, BE(C6, 5353)),
	SVC(VIP6_EMPTY, true, IPPROTO_UDP, 53, 0, NO_BACKEND),
	SVC(VIP6_REMOTE, true, IPPROTO_UDP, 80, 0, BE(OFFNODE6, 8080)),
	/* NodePorts: at the node's addresses, from the uplink */
	SVC(NULL, false, IPPROTO_TCP, 30080, 0, BE(B4, 8080),
	    BE_TERMINATING(A4, 8080)),
	SVC(NULL, false, IPPROTO_UDP, 30053, 0, BE(A4, 5353),
	    BE(OFFNODE4, 5353)),
	SVC(NULL, true, IPPROTO_TCP, 30080, 0, BE(B6, 8080)),
	SVC(NULL, true, IPPROTO_UDP, 30099, 0, NO_BACKEND),
	/* NodePorts to another node's pod: SNATed to the node's address
	 * (world_snat()), their ICMP errors translated both ways. */
	SVC(NULL, false, IPPROTO_TCP, 30081, 0, BE(OFFNODE4, 8080)),
	SVC(NULL, true, IPPROTO_UDP, 30053, 0, BE(OFFNODE6, 5353)),
};

#define NSVCS ARRAY_SIZE(svcs)

/* The addresses above, parsed. */
static struct {
	__u8 vip[16], be[3][16];
} svcb[NSVCS];

static __u8 node4[16], node6[16];

/* AF_XDP steering: B's UDP 9000 into a slot with a socket; every TCP port
 * of B into one without; C's UDP 7000 (two queues) into a run with one.
 * Sockets sit next to each rule's slots too: a redirect one off would
 * land in one, not fall back to the kernel unseen. */
#define XSK_SLOT 5
static const __u32 xsk_slots[] = { 4, XSK_SLOT, 6, 8, 10, 19, 20, 21, 22 };
struct fz_steer {
	const char *addr;
	__u8 proto;
	__u16 port;
	__u32 slot, queues;
};

static const struct fz_steer steers[] = {
	{ B4, IPPROTO_UDP, 9000, XSK_SLOT, 1 },
	{ B6, IPPROTO_UDP, 9000, XSK_SLOT, 1 },
	{ B4, IPPROTO_TCP, 0, 9, 1 },
	{ C6, IPPROTO_UDP, 7000, 20, 2 },
};

static int xsk_fd = -1;

/* What the programs may be told mid-run (zh_config). */
static struct zh_config cfg_now;
static bool meta_pass; /* this pass loaded the programs with XDP metadata */
static volatile struct zh_trace *trace;

static void addr_parse(bool v6, const char *s, __u8 *out)
{
	memset(out, 0, 16);
	parse_addr(v6 ? AF_INET6 : AF_INET, s, out);
}

static void cfg_write(void)
{
	struct zh_objs o = lat_objs();

	if (zh_config_set(&o, &cfg_now))
		fail_here("writing zh_config");
}

static void world_pods(void)
{
	int ifaces_fd = bpf_map__fd(skel->maps.zh_ifaces);
	int eps_fd = bpf_map__fd(skel->maps.zh_endpoints);

	map_clear(eps_fd);
	for (int p = 0; p < NR_PODS; p++) {
		struct fz_pod *d = &fzp[p];
		__u32 host;
		struct zh_iface ifc;
		struct zh_endpoint ep = { 0 };
		struct zh_ep_key key;

		d->host = ifindex_of[p];
		d->peer = (int)if_nametoindex(pods[p].peer);
		d->mac = pods[p].mac;
		d->gw = gw_mac_of[p];
		d->has4 = pods[p].ipv4;
		d->has6 = pods[p].ipv6;
		if (d->has4)
			parse_addr(AF_INET, pods[p].ipv4, d->ip4);
		if (d->has6)
			parse_addr(AF_INET6, pods[p].ipv6, d->ip6);
		d->iface_dp = p == POD_B ? ZH_DATAPATH_XDP : ZH_DATAPATH_TC;
		d->ep_dp = d->iface_dp;
		d->ep_flags = p == POD_C ? ZH_EP_F_VIA_RX : 0;

		host = (__u32)d->host;
		if (bpf_map_lookup_elem(ifaces_fd, &host, &ifc))
			fail_here("no zh_ifaces entry for pod %d", p);
		ifc.datapath = d->iface_dp;
		map_put(ifaces_fd, &host, &ifc);
		ep.ifindex = host;
		memcpy(ep.mac, d->mac, ETH_ALEN);
		memcpy(ep.gw_mac, d->gw, ETH_ALEN);
		ep.datapath = d->ep_dp;
		ep.flags = d->ep_flags;
		if (d->has4) {
			memset(&key, 0, sizeof(key));
			key.family = ZH_AF_INET;
			memcpy(key.addr, d->ip4, 4);
			map_put(eps_fd, &key, &ep);
		}
		if (d->has6) {
			memset(&key, 0, sizeof(key));
			key.family = ZH_AF_INET6;
			memcpy(key.addr, d->ip6, 16);
			map_put(eps_fd, &key, &ep);
		}
	}
	uplink = ifindex_of[FOREIGN];
}

static void world_services(void)
{
	int svc_fd = bpf_map__fd(skel->maps.zh_services);
	int be_fd = bpf_map__fd(skel->maps.zh_backends);
	int mg_fd = bpf_map__fd(skel->maps.zh_maglev);
	int na_fd = bpf_map__fd(skel->maps.zh_node_addrs);
	struct zh_ep_key nk;
	__u32 one = 1;

	map_clear(svc_fd);
	map_clear(be_fd);
	for (__u32 i = 0; i < NSVCS; i++) {
		struct fz_svc *s = &svcs[i];
		struct zh_svc_key k = { .family = s->v6 ? ZH_AF_INET6 :
							  ZH_AF_INET,
					.proto = s->proto,
					.port = htons(s->port) };
		struct zh_svc v = { .id = i + 1,
				    .table_off = (i + 1) * SLOTS,
				    .affinity_s = s->affinity_s,
				    .flags = s->vip ? 0 : ZH_SVC_F_NODEPORT,
				    .port = htons(s->port) };
		__u32 ready[3], nready = 0;

		memset(svcb[i].vip, 0, 16);
		if (s->vip)
			addr_parse(s->v6, s->vip, svcb[i].vip);
		memcpy(k.addr, svcb[i].vip, 16);
		if (!s->be[0].addr)
			s->nbe = 0; /* NO_BACKEND */
		for (int b = 0; b < s->nbe; b++) {
			__u32 id = (i + 1) * 4 + (__u32)b;
			struct zh_backend be = {
				.family = k.family,
				.flags = s->be[b].terminating ?
						 ZH_BE_F_TERMINATING :
						 0,
				.port = htons(s->be[b].port),
				.svc_id = i + 1,
			};

			addr_parse(s->v6, s->be[b].addr, svcb[i].be[b]);
			memcpy(be.addr, svcb[i].be[b], 16);
			map_put(be_fd, &id, &be);
			if (!s->be[b].terminating)
				ready[nready++] = id;
		}
		v.table_size = nready ? SLOTS : 0;
		for (__u32 sl = 0; nready && sl < SLOTS; sl++) {
			__u32 slot = (i + 1) * SLOTS + sl;

			map_put(mg_fd, &slot, &ready[sl % nready]);
		}
		map_put(svc_fd, &k, &v);
	}
	map_clear(na_fd);
	addr_parse(false, NODE4, node4);
	addr_parse(true, NODE6, node6);
	memset(&nk, 0, sizeof(nk));
	nk.family = ZH_AF_INET;
	memcpy(nk.addr, node4, 4);
	map_put(na_fd, &nk, &one);
	memset(&nk, 0, sizeof(nk));
	nk.family = ZH_AF_INET6;
	memcpy(nk.addr, node6, 16);
	map_put(na_fd, &nk, &one);
}

static void world_xsk(void)
{
	int st_fd = bpf_map__fd(skel->maps.zh_xsk_steer);

	if (xsk_fd < 0)
		xsk_fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (xsk_fd < 0)
		fail_here("socket(AF_XDP): %s", strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(xsk_slots); i++)
		map_put(bpf_map__fd(skel->maps.zh_xsks), &xsk_slots[i],
			&xsk_fd);
	map_clear(st_fd);
	for (size_t i = 0; i < ARRAY_SIZE(steers); i++) {
		bool v6 = strchr(steers[i].addr, ':');
		struct zh_steer_key k = { .family = v6 ? ZH_AF_INET6 :
							 ZH_AF_INET,
					  .proto = steers[i].proto,
					  .port = htons(steers[i].port) };
		struct zh_steer v = { .slot = steers[i].slot,
				      .queues = steers[i].queues };
		__u8 a[16];

		addr_parse(v6, steers[i].addr, a);
		memcpy(k.addr, a, 16);
		map_put(st_fd, &k, &v);
	}
}

/* The uplink's SNAT source (snat.h): NodePorts to another node's pod
 * leave from the node's addresses, the client's port kept where free,
 * else one of SNAT_PORT_MIN..MAX. No masquerade (no key 0). */
#define SNAT_PORT_MIN 61000
#define SNAT_PORT_MAX 61007

static void world_snat(void)
{
	int fd = bpf_map__fd(skel->maps.zh_snat_src);
	struct zh_snat_src v = { .ifindex = (__u32)uplink,
				 .flags = ZH_SNAT_SRC_F_V4 | ZH_SNAT_SRC_F_V6 |
					  ZH_SNAT_SRC_F_KEEP_PORT,
				 .port_min = SNAT_PORT_MIN,
				 .port_max = SNAT_PORT_MAX };
	__u32 k = (__u32)uplink;

	map_clear(fd);
	memcpy(&v.v4, node4, 4);
	memcpy(v.v6, node6, 16);
	map_put(fd, &k, &v);
}

/* Conntrack, affinity and latency state as on a fresh node. */
static void world_flows_clear(void)
{
	map_clear(bpf_map__fd(skel->maps.zh_ct));
	map_clear(bpf_map__fd(skel->maps.zh_affinity));
	map_clear(bpf_map__fd(skel->maps.zh_lat_flows));
}

static void world_config(bool services, __u32 flags, __u32 sample)
{
	memset(&cfg_now, 0, sizeof(cfg_now));
	cfg_now.services = services;
	cfg_now.flags = flags;
	cfg_now.sample_every = sample;
	cfg_now.svc_cidr4_len = 12;
	parse_addr(AF_INET, "10.96.0.0", &cfg_now.svc_cidr4);
	cfg_now.svc_cidr6_len = 108;
	parse_addr(AF_INET6, "fd00:96::", cfg_now.svc_cidr6);
	cfg_write();
}

/* ------------------------------------------------------------ checksums */

static __u32 sum16(__u32 sum, const __u8 *p, size_t len)
{
	return csum_add(sum, p, len);
}

/* The folded one's complement sum (0xffff: it verifies). */
static __u16 fold(__u32 sum)
{
	return (__u16)~csum_fold(sum);
}

/* Two sums that are the same one's complement number (+0 and -0 are). */
static bool sum_same(__u16 a, __u16 b)
{
	return a == b || (a % 0xffff == 0 && b % 0xffff == 0);
}

static __u32 crc32c(__u32 crc, const __u8 *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78U : crc >> 1;
	}
	return crc;
}

/* SCTP's CRC32c over @len bytes at @p, its checksum field (4..7) as 0. */
static __u32 sctp_crc(const __u8 *p, size_t len)
{
	static const __u8 zero[4];
	__u32 crc = crc32c(~0U, p, 8);

	crc = crc32c(crc, zero, 4);
	crc = crc32c(crc, p + 12, len - 12);
	return ~crc;
}

static void put32le(__u8 *p, __u32 v)
{
	p[0] = (__u8)v;
	p[1] = (__u8)(v >> 8);
	p[2] = (__u8)(v >> 16);
	p[3] = (__u8)(v >> 24);
}

/* ------------------------------------------------------ reading frames */

/* An IP packet as the programs read it (parse.h): at offset 14, behind an
 * untagged Ethernet header, its L4 header where the first next header
 * says (IPv4: after the options). Also what a checker needs. */
struct view {
	int fam; /* 4, 6, or 0: no IP packet here */
	__u32 l4; /* where TCP/UDP would start (the IP header at 14) */
	__u32 l3_len; /* IPv4 header bytes (ihl * 4) or 40 */
	__u32 ip_end; /* where the IP packet ends, as far as the frame has it */
	__u8 proto; /* first next header */
	bool frag; /* IPv4 MF or an offset */
	bool ports; /* 4 bytes of ports at l4 */
	const __u8 *src, *dst;
	__u16 sport, dport;
};

static void view_of(const __u8 *b, __u32 len, struct view *v)
{
	memset(v, 0, sizeof(*v));
	if (len >= L3 + 20 && get16(b + ETH_PROTO) == ETH_P_IP &&
	    b[L3] >> 4 == 4 && (b[L3] & 0xf) >= 5) {
		__u32 tot = get16(b + L3 + 2);

		v->fam = 4;
		v->l3_len = (b[L3] & 0xf) * 4U;
		v->proto = b[IP4_PROTO];
		v->src = b + IP4_SADDR;
		v->dst = b + IP4_DADDR;
		v->frag = get16(b + L3 + 6) & 0x3fff;
		v->ip_end = L3 + (tot < v->l3_len ? v->l3_len : tot);
	} else if (len >= L3 + IP6_HLEN && get16(b + ETH_PROTO) == ETH_P_IPV6 &&
		   b[L3] >> 4 == 6) {
		v->fam = 6;
		v->l3_len = IP6_HLEN;
		v->proto = b[IP6_NEXTHDR];
		v->src = b + IP6_SADDR;
		v->dst = b + IP6_DADDR;
		v->ip_end = L3 + IP6_HLEN + get16(b + L3 + 4);
	} else {
		return;
	}
	if (v->ip_end > len)
		v->ip_end = len;
	v->l4 = L3 + v->l3_len;
	if (!v->frag && (v->proto == IPPROTO_TCP || v->proto == IPPROTO_UDP) &&
	    len >= v->l4 + 4) {
		v->ports = true;
		v->sport = get16(b + v->l4);
		v->dport = get16(b + v->l4 + 2);
	}
}

static size_t alen(int fam)
{
	return fam == 6 ? 16 : 4;
}

static __u32 l4_check_off(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
		return 6;
	default:
		return 2;
	}
}

/* --------------------------------------------------------- the builder */

enum kind { K_IP4, K_IP6, K_ARP, K_RAW };

struct spec {
	__u8 dmac[ETH_ALEN], smac[ETH_ALEN];
	int ntags;
	__u16 tpid[2], tci[2];
	enum kind kind;
	__u16 ethertype; /* K_RAW */
	__u8 src[16], dst[16];
	__u8 proto, tcp_flags, ttl, icmp_type, icmp_code;
	__u16 sport, dport;
	int opt_words; /* IPv4 options: 4-byte words */
	__u16 frag; /* IPv4 frag_off: MF and offset */
	int n_ext; /* IPv6 extension headers before L4 */
	__u8 ext[3];
	int payload;
	bool probe, udp_nocsum;
	__u16 arp_op;
	__u8 sha[ETH_ALEN];
	const __u8 *quote; /* ICMP errors: the packet they quote */
	__u32 quote_len;
};

/* The L4 checksum of the IP packet at @l3 (family @fam), its L4 of
 * @l4_len bytes at @l4 with protocol @proto, computed into its place. */
static void l4_csum_set(__u8 *b, int fam, __u32 l4, __u32 l4_len, __u8 proto,
			bool udp_nocsum)
{
	__u8 *p = b + l4;
	__u32 sum = 0, off;
	__u16 c;

	switch (proto) {
	case IPPROTO_TCP:
		if (l4_len < 20)
			return;
		off = 16;
		break;
	case IPPROTO_UDP:
		if (l4_len < 8)
			return;
		off = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (l4_len < 4)
			return;
		off = 2;
		break;
	case IPPROTO_SCTP:
		if (l4_len < 12)
			return;
		put32le(p + 8, sctp_crc(p, l4_len));
		return;
	default:
		return;
	}
	put16(p + off, 0);
	if (proto == IPPROTO_UDP && udp_nocsum)
		return;
	if (proto != IPPROTO_ICMP) {
		if (fam == 6)
			sum = sum16(0, b + IP6_SADDR, 32);
		else
			sum = sum16(0, b + IP4_SADDR, 8);
		sum += l4_len + proto;
	}
	c = csum_fold(sum16(sum, p, l4_len));
	if (proto == IPPROTO_UDP && !c)
		c = 0xffff;
	put16(p + off, c);
}

static __u32 l4_build(const struct spec *s, __u8 *p, int fam)
{
	__u32 hl, pay = (__u32)s->payload;

	switch (s->proto) {
	case IPPROTO_TCP:
		hl = 20;
		put16(p, s->sport);
		put16(p + 2, s->dport);
		rnd_fill(p + 4, 8); /* seq, ack */
		p[12] = 5 << 4;
		p[13] = s->tcp_flags;
		put16(p + 14, 64240);
		put16(p + 16, 0);
		put16(p + 18, 0);
		break;
	case IPPROTO_UDP:
		hl = 8;
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 6, 0);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		hl = 8;
		p[0] = s->icmp_type;
		p[1] = s->icmp_code;
		put16(p + 2, 0);
		rnd_fill(p + 4, 4);
		if (s->quote) {
			memcpy(p + 8, s->quote, s->quote_len);
			pay = s->quote_len;
		}
		break;
	case IPPROTO_SCTP:
		hl = 12;
		put16(p, s->sport);
		put16(p + 2, s->dport);
		rnd_fill(p + 4, 4); /* verification tag */
		break;
	default:
		hl = 0;
		break;
	}
	if (!s->quote ||
	    (s->proto != IPPROTO_ICMP && s->proto != IPPROTO_ICMPV6)) {
		rnd_fill(p + hl, pay);
		if (s->probe && s->proto == IPPROTO_UDP &&
		    pay >= sizeof(struct zh_probe)) {
			/* A send time from the seed, not the clock: the
			 * frames stay the seed's. */
			struct zh_probe pr = { .magic = ZH_PROBE_MAGIC,
					       .seq = (__u32)rnd(),
					       .tx_ns = rnd() >> 20 };

			memcpy(p + hl, &pr, sizeof(pr));
		}
	}
	if (s->proto == IPPROTO_UDP)
		put16(p + 4, (__u16)(hl + pay));
	(void)fam;
	return hl + pay;
}

/* Checksum values where an incremental update carries or wraps (RFC 1624:
 * 0xffff is -0, which verifies as well as +0 does). */
static const __u16 edge_csums[] = { 0xffff, 0x0000, 0xfeff, 0xff00,
				    0x0100, 0x00ff, 0x0001, 0xfffe };

/* Store @want as the checksum at @check and choose the word at @w so that
 * the sum verifies: @rest is the sum of every other word it covers. */
static void csum_force(__u8 *check, __u8 *w, __u32 rest, __u16 want)
{
	put16(check, want);
	put16(w, (__u16)~fold(rest + want));
}

/* Now and then an edge checksum: the IPv4 header's through its ID, the
 * TCP/UDP one's through a payload word. */
static void csum_edges(__u8 *b, __u32 len)
{
	struct view v;
	__u32 c, w, rest;

	view_of(b, len, &v);
	if (v.fam == 4 && chance(1, 6)) {
		put16(b + IP4_CHECK, 0);
		put16(b + L3 + 4, 0);
		csum_force(b + IP4_CHECK, b + L3 + 4,
			   sum16(0, b + L3, v.l3_len), PICK(edge_csums));
	}
	if (!v.fam || !v.ports || v.frag || v.ip_end != len || !chance(1, 6))
		return;
	c = v.l4 + l4_check_off(v.proto);
	w = v.l4 + (v.proto == IPPROTO_TCP ? 20 : 8);
	if (w + 2 > len || (v.proto == IPPROTO_UDP && !get16(b + c)))
		return;
	put16(b + c, 0);
	put16(b + w, 0);
	rest = sum16(0, v.src, alen(v.fam) * 2) + (len - v.l4) + v.proto;
	rest = sum16(rest, b + v.l4, len - v.l4);
	c = PICK(edge_csums);
	csum_force(b + v.l4 + l4_check_off(v.proto), b + w, rest,
		   v.proto == IPPROTO_UDP && !c ? 0xffff : (__u16)c);
	if (fold(rest + get16(b + v.l4 + l4_check_off(v.proto)) +
		 get16(b + w)) != 0xffff)
		abort(); /* the arithmetic above is wrong */
}

/* Lay out @s in @b; returns the length. Checksums right. */
static __u32 build(const struct spec *s, __u8 *b)
{
	static const __u16 types[] = {
		[K_IP4] = ETH_P_IP, [K_IP6] = ETH_P_IPV6, [K_ARP] = ETH_P_ARP
	};
	__u32 off = 12, l3, l4, l4_len;

	memset(b, 0, FRAME_MAX);
	memcpy(b + ETH_DST, s->dmac, ETH_ALEN);
	memcpy(b + ETH_SRC, s->smac, ETH_ALEN);
	for (int t = 0; t < s->ntags; t++, off += 4) {
		put16(b + off, s->tpid[t]);
		put16(b + off + 2, s->tci[t]);
	}
	put16(b + off, s->kind == K_RAW ? s->ethertype : types[s->kind]);
	l3 = off + 2;
	switch (s->kind) {
	case K_IP4: {
		__u32 hl = 20 + 4U * (__u32)s->opt_words;
		__u8 *ip = b + l3;

		ip[0] = (__u8)(0x40 | hl / 4);
		put16(ip + 4, (__u16)rnd());
		put16(ip + 6, s->frag);
		ip[8] = s->ttl;
		ip[9] = s->proto;
		memcpy(ip + 12, s->src, 4);
		memcpy(ip + 16, s->dst, 4);
		/* Options: NOPs, a record route or garbage. */
		for (__u32 i = 20; i < hl; i++)
			ip[i] = 1;
		if (s->opt_words && chance(1, 2)) {
			ip[20] = 7;
			ip[21] = (__u8)(hl - 20 < 39 ? hl - 20 : 39);
			ip[22] = 4;
		} else if (s->opt_words && chance(1, 3)) {
			rnd_fill(ip + 20, hl - 20);
		}
		l4 = l3 + hl;
		l4_len = l4_build(s, b + l4, 4);
		put16(ip + 2, (__u16)(hl + l4_len));
		put16(ip + 10, csum_fold(sum16(0, ip, hl)));
		/* The pseudo-header reads the addresses at 14: only there. */
		if (!s->ntags && !(s->frag & 0x1fff))
			l4_csum_set(b, 4, l4, l4_len, s->proto, s->udp_nocsum);
		if (!s->ntags)
			csum_edges(b, l4 + l4_len);
		return l4 + l4_len;
	}
	case K_IP6: {
		__u8 *ip = b + l3, *nh = ip + 6;

		ip[0] = 0x60;
		ip[7] = s->ttl;
		memcpy(ip + 8, s->src, 16);
		memcpy(ip + 24, s->dst, 16);
		l4 = l3 + 40;
		for (int e = 0; e < s->n_ext; e++) {
			*nh = s->ext[e];
			nh = b + l4;
			memset(b + l4, 0, 8);
			if (s->ext[e] == 44) {
				put16(b + l4 + 2, 0); /* offset 0, M 0 */
				rnd_fill(b + l4 + 4, 4);
			} else if (s->ext[e] == 43) {
				b[l4 + 2] = 4; /* segment routing, none left */
			} else {
				b[l4 + 2] = 1; /* PadN, 4 bytes */
				b[l4 + 3] = 4;
			}
			l4 += 8;
		}
		*nh = s->proto;
		l4_len = l4_build(s, b + l4, 6);
		put16(ip + 4, (__u16)(l4 - l3 - 40 + l4_len));
		if (!s->ntags) {
			l4_csum_set(b, 6, l4, l4_len, s->proto, s->udp_nocsum);
			csum_edges(b, l4 + l4_len);
		}
		return l4 + l4_len;
	}
	case K_ARP: {
		__u8 *a = b + l3;

		put16(a, 1);
		put16(a + 2, ETH_P_IP);
		a[4] = ETH_ALEN;
		a[5] = 4;
		put16(a + 6, s->arp_op);
		memcpy(a + 8, s->sha, ETH_ALEN);
		memcpy(a + 14, s->src, 4);
		memcpy(a + 24, s->dst, 4);
		return l3 + ARP_HLEN;
	}
	default:
		rnd_fill(b + l3, (size_t)s->payload);
		return l3 + (__u32)s->payload;
	}
}

/* Make the checksums of whatever IP packet @b holds right again (after a
 * mutation), as far as the frame has it. */
static void fix_csums(__u8 *b, __u32 len)
{
	struct view v;
	bool nocsum;

	view_of(b, len, &v);
	if (!v.fam)
		return;
	if (v.fam == 4 && len >= L3 + v.l3_len) {
		put16(b + IP4_CHECK, 0);
		put16(b + IP4_CHECK, csum_fold(sum16(0, b + L3, v.l3_len)));
	}
	if (v.frag || v.ip_end <= v.l4)
		return;
	nocsum = v.proto == IPPROTO_UDP && v.fam == 4 && v.ip_end >= v.l4 + 8 &&
		 !get16(b + v.l4 + 6) && chance(1, 2);
	l4_csum_set(b, v.fam, v.l4, v.ip_end - v.l4, v.proto, nocsum);
}

/* ---------------------------------------------------------- generators */

enum side {
	SIDE_FROM_POD, /* a pod's host veth: frames the pod sent */
	SIDE_UPLINK, /* the node's uplink: frames from outside */
	SIDE_TO_POD, /* a pod's own interface: frames for the pod */
};

static const __u8 mac_out[ETH_ALEN] = { 0x02, 0, 0, 0, 0x0e, 0x01 };
static const __u8 mac_mcast[ETH_ALEN] = { 0x01, 0, 0x5e, 0, 0, 1 };

static const char *const addrs4[] = {
	A4,
	B4,
	UNKNOWN4,
	OFFNODE4,
	VIP4,
	VIP4_EMPTY,
	VIP4_REMOTE,
	VIP4_HAIRPIN,
	"10.96.0.99",
	"10.112.0.1",
	NODE4,
	"203.0.113.9",
	"0.0.0.0",
	"255.255.255.255",
	"224.0.0.1",
	"127.0.0.1",
	"198.51.100.7",
};

static const char *const addrs6[] = {
	A6,
	B6,
	C6,
	OFFNODE6,
	LL_A6,
	"fe80::1",
	"::",
	"::1",
	"ff02::1",
	SNMC_B6,
	VIP6,
	VIP6_EMPTY,
	VIP6_REMOTE,
	"fd00:96::99",
	NODE6,
	"fd00:96::10:0:1",
	"2001:db8::7",
};

static const __u16 ports[] = { 80,    53,   8080,  8081,  5353,	 30080,
			       30053, 9000, 7000,  40000, 0,	 65535,
			       443,   22,   40001, 30081, 61000, 61001 };

/* An address of family @fam into @out (4 or 16 bytes, no more). */
static void pick_addr(int fam, __u8 *out)
{
	__u8 a[16];

	if (chance(1, 10))
		rnd_fill(a, sizeof(a));
	else
		addr_parse(fam == 6, fam == 6 ? PICK(addrs6) : PICK(addrs4), a);
	memcpy(out, a, alen(fam));
}

static __u16 pick_port(void)
{
	return chance(1, 5) ? (__u16)rnd() : PICK(ports);
}

/* The fields every IP spec starts with: a plausible flow, random parts. */
static void spec_ip(struct spec *s, int fam)
{
	static const __u8 protos[] = { IPPROTO_TCP,  IPPROTO_TCP,
				       IPPROTO_UDP,  IPPROTO_UDP,
				       IPPROTO_ICMP, IPPROTO_ICMPV6,
				       IPPROTO_SCTP, IPPROTO_GRE,
				       IPPROTO_IPIP, 0 };
	static const __u8 ttls[] = { 64, 64, 64, 1, 2, 0, 255 };
	static const __u8 flags[] = { 0x02, 0x10, 0x18, 0x11,
				      0x04, 0x12, 0x00, 0xff };

	s->kind = fam == 6 ? K_IP6 : K_IP4;
	s->proto = PICK(protos);
	if (s->proto == IPPROTO_ICMP && fam == 6 && chance(2, 3))
		s->proto = IPPROTO_ICMPV6;
	if (s->proto == IPPROTO_ICMPV6 && fam == 4 && chance(2, 3))
		s->proto = IPPROTO_ICMP;
	s->ttl = PICK(ttls);
	s->tcp_flags = PICK(flags);
	s->sport = chance(1, 2) ? (__u16)(40000 + below(4)) : pick_port();
	s->dport = pick_port();
	s->payload = (int)(chance(1, 4) ? below(300) : below(64));
	s->probe = chance(1, 8);
	s->udp_nocsum = fam == 4 && chance(1, 10);
	if (s->proto == IPPROTO_ICMP)
		s->icmp_type = chance(1, 2) ? 8 : PICK(((__u8[]){ 0, 3, 11 }));
	if (s->proto == IPPROTO_ICMPV6)
		s->icmp_type = PICK(((__u8[]){ 128, 129, 1, 135, 136, 133 }));
	if (fam == 4) {
		if (chance(1, 12))
			s->opt_words = 1 + (int)below(10);
		if (chance(1, 12))
			s->frag = PICK(
				((__u16[]){ 0x2000, 0x0010, 0x2010, 0x4000 }));
		else
			s->frag = 0x4000; /* DF */
	} else if (chance(1, 8)) {
		s->n_ext = 1 + (int)below(3);
		for (int e = 0; e < s->n_ext; e++)
			s->ext[e] = PICK(((__u8[]){ 0, 60, 43, 44 }));
	}
	if (chance(1, 40)) {
		s->ntags = 1 + (int)below(2);
		for (int t = 0; t < s->ntags; t++) {
			s->tpid[t] = chance(3, 4) ? ETH_P_8021Q : ETH_P_8021AD;
			s->tci[t] = chance(2, 3) ? 0 : (__u16)rnd();
		}
	}
}

/* A flow a request set up, for a reply: the backend's side. */
struct flow {
	int fam;
	__u8 proto;
	__u8 client[16], backend[16];
	__u16 cport, bport;
	int backend_pod; /* -1: no local pod */
	/* A NodePort's SNATed to another node: its front end, and the
	 * node's address and port it left with. */
	bool snat;
	__u8 front[16], snat_addr[16];
	__u16 fport, snat_port;
};

#define NFLOWS 64
static struct flow flows[NFLOWS];
static int nflows;

static int pod_of(int fam, const __u8 *a)
{
	for (int p = 0; p < NR_PODS; p++) {
		if (fam == 4 && fzp[p].has4 && !memcmp(a, fzp[p].ip4, 4))
			return p;
		if (fam == 6 && fzp[p].has6 && !memcmp(a, fzp[p].ip6, 16))
			return p;
	}
	return -1;
}

static void flow_note(const struct view *in, const struct view *out, bool snat)
{
	struct flow *f = &flows[nflows++ % NFLOWS];

	f->fam = out->fam;
	f->proto = out->proto;
	memset(f->client, 0, 16);
	memset(f->backend, 0, 16);
	memcpy(f->client, in->src, alen(in->fam));
	memcpy(f->backend, out->dst, alen(out->fam));
	f->cport = in->sport;
	f->bport = out->dport;
	f->backend_pod = pod_of(out->fam, out->dst);
	f->snat = snat;
	memset(f->front, 0, 16);
	memset(f->snat_addr, 0, 16);
	memcpy(f->front, in->dst, alen(in->fam));
	memcpy(f->snat_addr, out->src, alen(out->fam));
	f->fport = in->dport;
	f->snat_port = out->sport;
}

/* A frame the pod behind @pod sends: mostly from its own addresses to its
 * gateway, now and then someone else's. */
static void spec_from_pod(struct spec *s, int pod)
{
	const struct fz_pod *d = &fzp[pod];
	int fam = d->has4 && (!d->has6 || chance(1, 2)) ? 4 : 6;

	memcpy(s->dmac,
	       chance(15, 16) ? d->gw :
				PICK(((const __u8 *[]){
					mac_bcast, mac_snmc_b, mac_mcast,
					pods[POD_B].mac, gw_mac_of[POD_B] })),
	       ETH_ALEN);
	memcpy(s->smac,
	       chance(15, 16) ?
		       d->mac :
		       PICK(((const __u8 *[]){ pods[POD_B].mac, pods[POD_A].mac,
					       mac_out, mac_bcast })),
	       ETH_ALEN);
	if (chance(1, 12)) {
		bool own = chance(3, 4);

		s->kind = K_ARP;
		s->arp_op = chance(1, 2) ? 1 : 2;
		memcpy(s->sha, chance(7, 8) ? s->smac : mac_out, ETH_ALEN);
		if (own && d->has4)
			memcpy(s->src, d->ip4, 4);
		else if (chance(1, 3))
			memset(s->src, 0, 4);
		else
			pick_addr(4, s->src);
		pick_addr(4, s->dst);
		return;
	}
	if (chance(1, 30)) {
		s->kind = K_RAW;
		s->ethertype =
			PICK(((__u16[]){ ETH_P_8021Q, ETH_P_8021AD, 0x8847,
					 0x88cc, 0x0600, 0x0042, 0x9000 }));
		s->payload = (int)below(100);
		return;
	}
	spec_ip(s, fam);
	if (chance(7, 8)) {
		memset(s->src, 0, 16);
		memcpy(s->src, fam == 6 ? d->ip6 : d->ip4, alen(fam));
	} else {
		pick_addr(fam, s->src);
	}
	if (chance(1, 3)) {
		/* To a Service of this family. */
		const struct fz_svc *v = &svcs[below(NSVCS)];

		if (v->vip && v->v6 == (fam == 6)) {
			memcpy(s->dst, svcb[v - svcs].vip, 16);
			s->proto = chance(7, 8) ? v->proto : s->proto;
			s->dport = chance(7, 8) ? v->port : s->dport;
			return;
		}
	}
	pick_addr(fam, s->dst);
}

/* A frame from outside, arriving on the uplink: to a NodePort of the
 * node's addresses mostly. */
static void spec_uplink(struct spec *s)
{
	int fam = chance(2, 3) ? 4 : 6;

	memcpy(s->dmac, chance(7, 8) ? mac_out : mac_bcast, ETH_ALEN);
	memcpy(s->smac, mac_out, ETH_ALEN);
	s->smac[5] = 0x02;
	if (chance(1, 16)) {
		s->kind = K_ARP;
		s->arp_op = 1;
		memcpy(s->sha, s->smac, ETH_ALEN);
		pick_addr(4, s->src);
		memcpy(s->dst, node4, 4);
		return;
	}
	spec_ip(s, fam);
	pick_addr(fam, s->src);
	if (chance(2, 3)) {
		const struct fz_svc *v = &svcs[below(NSVCS)];

		memcpy(s->dst, fam == 6 ? node6 : node4, 16);
		if (!v->vip && v->v6 == (fam == 6)) {
			s->proto = chance(7, 8) ? v->proto : s->proto;
			s->dport = chance(7, 8) ? v->port : s->dport;
		}
		return;
	}
	pick_addr(fam, s->dst);
}

/* A frame the kernel hands to a pod's own interface. */
static void spec_to_pod(struct spec *s)
{
	int fam = chance(1, 2) ? 4 : 6;
	int pod = (int)below(NR_PODS);

	memcpy(s->dmac, fzp[pod].mac, ETH_ALEN);
	memcpy(s->smac, fzp[pod].gw, ETH_ALEN);
	if (chance(1, 20)) {
		s->kind = K_RAW;
		s->ethertype = ETH_P_ARP;
		s->payload = 28;
		return;
	}
	spec_ip(s, fam);
	pick_addr(fam, s->src);
	if (fam == 4 && fzp[pod].has4 && chance(3, 4))
		memcpy(s->dst, fzp[pod].ip4, 4);
	else if (fam == 6 && fzp[pod].has6 && chance(3, 4))
		memcpy(s->dst, fzp[pod].ip6, 16);
	else
		pick_addr(fam, s->dst);
	if (chance(1, 3)) {
		static const char *const steered[] = { B4, B6, C6 };
		bool v6 = fam == 6;
		const char *a = steered[below(3)];

		if (strchr(a, ':') == NULL ? !v6 : v6) {
			addr_parse(v6, a, s->dst);
			s->proto = chance(2, 3) ? IPPROTO_UDP : IPPROTO_TCP;
			s->dport = PICK(((__u16[]){ 9000, 7000, 9001 }));
		}
	}
}

/* An ICMP error about a flow, as a router on the way would send it. */
static void spec_icmp_err(struct spec *s, __u8 *quote)
{
	int fam = s->kind == K_IP6 ? 6 : 4;
	struct spec q = { 0 };
	__u8 qb[FRAME_MAX];
	__u32 qlen;

	q.kind = s->kind;
	q.proto = chance(1, 2) ? IPPROTO_TCP : IPPROTO_UDP;
	memcpy(q.src, s->dst, 16);
	pick_addr(fam, q.dst);
	q.sport = 40000;
	q.dport = pick_port();
	q.ttl = 1;
	qlen = build(&q, qb);
	s->quote_len = fam == 6 ? 48 : 28;
	if (qlen < L3 + s->quote_len)
		s->quote_len = qlen - L3;
	memcpy(quote, qb + L3, s->quote_len);
	s->quote = quote;
	s->proto = fam == 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	s->icmp_type = fam == 6 ? 1 : 3;
	s->icmp_code = (__u8)below(5);
}

/* ----------------------------------------------------------- mutations */

static __u32 cut_points(const __u8 *b, __u32 len, __u32 *pts)
{
	struct view v;
	__u32 n = 0;

	view_of(b, len, &v);
	pts[n++] = 0;
	pts[n++] = ETH_HLEN - 1;
	pts[n++] = ETH_HLEN;
	pts[n++] = ETH_HLEN + 4;
	pts[n++] = L3 + 19;
	pts[n++] = L3 + 20;
	pts[n++] = L3 + 28;
	pts[n++] = L3 + 39;
	pts[n++] = L3 + 40;
	if (v.fam) {
		pts[n++] = v.l4;
		pts[n++] = v.l4 + 4;
		pts[n++] = v.l4 + 7;
		pts[n++] = v.l4 + 8;
		pts[n++] = v.l4 + 19;
		pts[n++] = v.l4 + 20;
	}
	pts[n++] = below(len + 1);
	return n;
}

static void mutate(__u8 *b, __u32 *lenp)
{
	__u32 len = *lenp, n = 1 + below(4), pos;

	while (n--) {
		struct view v;

		view_of(b, len, &v);
		switch (below(12)) {
		case 0: /* a bit, mostly in the headers */
		case 1:
			if (!len)
				break;
			pos = chance(7, 10) ? below(len < 80 ? len : 80) :
					      below(len);
			b[pos] ^= (__u8)(1U << below(8));
			break;
		case 2: /* an interesting byte */
			if (!len)
				break;
			pos = below(len < 80 ? len : 80);
			b[pos] = PICK(((__u8[]){ 0, 0xff, 0x7f, 0x80, 1, 0x45,
						 0x60, 6, 17 }));
			break;
		case 3: { /* cut at a header boundary, or anywhere */
			__u32 pts[24], np = cut_points(b, len, pts);

			pos = pts[below(np)];
			if (pos < len)
				len = pos;
			break;
		}
		case 4: /* trailing bytes */
			pos = below(64);
			if (len + pos > FRAME_MAX)
				pos = FRAME_MAX - len;
			rnd_fill(b + len, pos);
			len += pos;
			break;
		case 5: /* a length field */
			if (v.fam == 4 && chance(1, 2))
				put16(b + L3 + 2,
				      PICK(((__u16[]){ 0, 19, 20, 28,
						       (__u16)(len - L3),
						       (__u16)(len - L3 + 1),
						       0xffff })));
			else if (v.fam == 4)
				b[L3] = (__u8)(0x40 | below(16));
			else if (v.fam == 6)
				put16(b + L3 + 4,
				      (__u16)(chance(1, 2) ? below(80) :
							     rnd()));
			if (v.fam && v.l4 + 8 <= len && chance(1, 2)) {
				if (v.proto == IPPROTO_UDP)
					put16(b + v.l4 + 4, (__u16)below(len));
				else if (v.proto == IPPROTO_TCP &&
					 v.l4 + 13 <= len)
					b[v.l4 + 12] = (__u8)(below(16) << 4);
			}
			break;
		case 6: /* a checksum */
			if (v.fam == 4)
				put16(b + IP4_CHECK, (__u16)rnd());
			if (v.fam && v.ports && v.l4 + 18 <= len)
				put16(b + v.l4 +
					      (v.proto == IPPROTO_TCP ? 16 : 6),
				      PICK(((__u16[]){ 0, 0xffff,
						       (__u16)rnd() })));
			break;
		case 7: /* a VLAN tag in front of the ethertype */
			if (len + 4 > FRAME_MAX || len < 12)
				break;
			memmove(b + 16, b + 12, len - 12);
			put16(b + 12,
			      chance(3, 4) ? ETH_P_8021Q : ETH_P_8021AD);
			put16(b + 14, chance(2, 3) ? 0 : (__u16)rnd());
			len += 4;
			break;
		case 8: /* bytes in or out somewhere */
			pos = below(len + 1);
			if (chance(1, 2) && pos < len) {
				__u32 k = 1 + below(len - pos);

				memmove(b + pos, b + pos + k, len - pos - k);
				len -= k;
			} else {
				__u32 k = 1 + below(8);

				if (len + k > FRAME_MAX)
					break;
				memmove(b + pos + k, b + pos, len - pos);
				rnd_fill(b + pos, k);
				len += k;
			}
			break;
		case 9: /* an address */
			if (v.fam && chance(1, 2))
				pick_addr(v.fam,
					  (__u8 *)(chance(1, 2) ? v.src :
								  v.dst));
			break;
		case 10: /* a port */
			if (v.ports)
				put16(b + v.l4 + 2 * below(2), pick_port());
			break;
		default: /* the protocol */
			if (v.fam == 4)
				b[IP4_PROTO] = PICK(((__u8[]){
					IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
					IPPROTO_SCTP, 0, 255 }));
			else if (v.fam == 6)
				b[IP6_NEXTHDR] = PICK(
					((__u8[]){ IPPROTO_TCP, IPPROTO_UDP, 58,
						   0, 44, 60 }));
			break;
		}
	}
	if (chance(1, 2))
		fix_csums(b, len);
	*lenp = len;
}

/* ------------------------------------------------------------- running */

enum fz_prog {
	FZ_TC_FROM_POD,
	FZ_XDP_FROM_POD,
	FZ_TC_UPLINK,
	FZ_XDP_UPLINK,
	FZ_XDP_POD,
	FZ_XDP_POD_XSK,
	FZ_TC_POD,
	NR_FZ,
};

static const struct fz_def {
	const char *name;
	bool xdp;
	enum side side;
} defs[NR_FZ] = {
	[FZ_TC_FROM_POD] = { "zh_tc_from_pod", false, SIDE_FROM_POD },
	[FZ_XDP_FROM_POD] = { "zh_xdp_from_pod", true, SIDE_FROM_POD },
	[FZ_TC_UPLINK] = { "zh_tc_uplink", false, SIDE_UPLINK },
	[FZ_XDP_UPLINK] = { "zh_xdp_uplink", true, SIDE_UPLINK },
	[FZ_XDP_POD] = { "zh_xdp_pod", true, SIDE_TO_POD },
	[FZ_XDP_POD_XSK] = { "zh_xdp_pod_xsk", true, SIDE_TO_POD },
	[FZ_TC_POD] = { "zh_tc_pod", false, SIDE_TO_POD },
};

static struct bpf_program *prog_of(enum fz_prog p)
{
	switch (p) {
	case FZ_TC_FROM_POD:
		return skel->progs.zh_tc_from_pod;
	case FZ_XDP_FROM_POD:
		return skel->progs.zh_xdp_from_pod;
	case FZ_TC_UPLINK:
		return skel->progs.zh_tc_uplink;
	case FZ_XDP_UPLINK:
		return skel->progs.zh_xdp_uplink;
	case FZ_XDP_POD:
		return skel->progs.zh_xdp_pod;
	case FZ_XDP_POD_XSK:
		return skel->progs.zh_xdp_pod_xsk;
	default:
		return skel->progs.zh_tc_pod;
	}
}

/* One frame through one program, and everything it did. */
struct fz_run {
	enum fz_prog prog;
	int ingress;
	__u32 flags; /* test_run flags (tc: CHECKSUM_COMPLETE) */
	const __u8 *in;
	__u32 len;
	int err;
	__u32 ret;
	__u8 out[FRAME_MAX + 64];
	__u32 out_len;
	int stat; /* the counter that moved; -1: none, -2: more than one */
	__u64 pkts, bytes; /* what it moved by */
	struct zh_trace tr;
};

static int ncpu;
static struct zh_counter totals[ZH_STAT_MAX];

static void stats_now(struct zh_counter now[ZH_STAT_MAX])
{
	static struct zh_counter *vals;
	__u32 keys[ZH_STAT_MAX], count = ZH_STAT_MAX, out_batch;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	if (!vals)
		vals = calloc((size_t)ncpu * ZH_STAT_MAX, sizeof(*vals));
	if (!vals)
		fail_here("out of memory");
	if (bpf_map_lookup_batch(bpf_map__fd(skel->maps.zh_stats), NULL,
				 &out_batch, keys, vals, &count, &bo) &&
	    errno != ENOENT)
		fail_here("reading zh_stats: %s", strerror(errno));
	memset(now, 0, sizeof(*now) * ZH_STAT_MAX);
	for (__u32 i = 0; i < count; i++) {
		if (keys[i] >= ZH_STAT_MAX)
			continue;
		for (int c = 0; c < ncpu; c++) {
			now[keys[i]].packets += vals[i * ncpu + c].packets;
			now[keys[i]].bytes += vals[i * ncpu + c].bytes;
		}
	}
}

static void run(enum fz_prog p, int ingress, const __u8 *in, __u32 len,
		__u32 flags, struct fz_run *r)
{
	struct __sk_buff skb = { .ifindex = (__u32)ingress,
				 .ingress_ifindex = (__u32)ingress };
	struct xdp_md xdp = { .data_end = len,
			      .ingress_ifindex = (__u32)ingress };
	struct zh_counter now[ZH_STAT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = r->out, .data_size_out = sizeof(r->out),
		    .repeat = 1, .flags = flags);

	if (defs[p].xdp) {
		opts.ctx_in = &xdp;
		opts.ctx_size_in = sizeof(xdp);
	} else {
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	r->prog = p;
	r->ingress = ingress;
	r->flags = flags;
	r->in = in;
	r->len = len;
	memset((void *)trace, 0, sizeof(*trace));
	r->err = bpf_prog_test_run_opts(bpf_program__fd(prog_of(p)), &opts);
	r->ret = opts.retval;
	r->out_len = opts.data_size_out;
	memcpy(&r->tr, (const void *)trace, sizeof(r->tr));
	stats_now(now);
	r->stat = -1;
	r->pkts = r->bytes = 0;
	for (int s = 0; s < ZH_STAT_MAX; s++) {
		__u64 dp = now[s].packets - totals[s].packets;
		__u64 db = now[s].bytes - totals[s].bytes;

		if (!dp && !db)
			continue;
		r->stat = r->stat == -1 ? s : -2;
		r->pkts = dp;
		r->bytes = db;
	}
	memcpy(totals, now, sizeof(totals));
}

/* ----------------------------------------------------------- reporting */

static __u64 cur_seed, cur_frame;

static void hex(const char *what, const __u8 *b, __u32 len)
{
	print_error("%s (%u bytes):", what, len);
	for (__u32 i = 0; i < len; i++)
		print_error("%s%02x", i % 16 ? " " : "\n  ", b[i]);
	print_error("\n");
}

static const char *ifname(int ifindex)
{
	for (int p = 0; p < NR_PODS; p++)
		if (ifindex == fzp[p].host)
			return pods[p].host;
	if (ifindex == uplink)
		return "the uplink";
	return "?";
}

static void fz_fail(const struct fz_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void fz_fail(const struct fz_run *r, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	print_error("%s: frame %llu of seed %#llx"
		    " (%s pass), ingress %d (%s), test_run flags %#x\n",
		    defs[r->prog].name, cur_frame, cur_seed,
		    meta_pass ? "xdp_meta" : "no xdp_meta", r->ingress,
		    ifname(r->ingress), r->flags);
	print_error(
		"  err %d, verdict %u, counter %s (+%llu packets, +%llu bytes), trace: %u calls, kind %u, target %u, ret %lld\n",
		r->err, r->ret,
		r->stat >= 0  ? zh_stat_name(r->stat) :
		r->stat == -1 ? "none" :
				"several",
		(unsigned long long)r->pkts, (unsigned long long)r->bytes,
		r->tr.calls, r->tr.kind, r->tr.target, (long long)r->tr.ret);
	print_error("  config: services %u, flags %#x, sample_every %u\n",
		    cfg_now.services, cfg_now.flags, cfg_now.sample_every);
	hex("output", r->out, r->out_len);
	cur_set(r->in, r->len,
		"reproduce: test_bpf_pktfuzz --seed %#llx"
		" --prog %s --frames %llu",
		cur_seed, defs[r->prog].name, cur_frame + 1);
	fail_here("%s", why);
}

/* -------------------------------------------------------------- checks */

enum verdict_kind { V_PASS, V_DROP, V_REDIRECT, V_TX, V_NEXT, V_BAD };

static enum verdict_kind verdict_of(const struct fz_run *r)
{
	if (defs[r->prog].xdp) {
		switch (r->ret) {
		case XDP_PASS:
			return V_PASS;
		case XDP_DROP:
			return V_DROP;
		case XDP_REDIRECT:
			return V_REDIRECT;
		case XDP_TX:
			return V_TX;
		default:
			return V_BAD;
		}
	}
	switch ((int)r->ret) {
	case TC_ACT_OK:
		return V_PASS;
	case TC_ACT_SHOT:
		return V_DROP;
	case TC_ACT_REDIRECT:
		return V_REDIRECT;
	case TC_ACT_UNSPEC:
		return V_NEXT;
	default:
		return V_BAD;
	}
}

/* Frames test_run refuses before the program runs (test_bpf_fwd.c says
 * which): shorter than Ethernet, and for tc an IPv4 or IPv6 frame shorter
 * than its fixed header. */
static bool refusable(const struct fz_run *r)
{
	if (r->len < ETH_HLEN)
		return true;
	if (defs[r->prog].xdp)
		return false;
	switch (get16(r->in + ETH_PROTO)) {
	case ETH_P_IP:
		return r->len < L3 + 20;
	case ETH_P_IPV6:
		return r->len < L3 + IP6_HLEN;
	default:
		return false;
	}
}

static bool is_node_addr(int fam, const __u8 *a)
{
	return !memcmp(a, fam == 6 ? node6 : node4, alen(fam));
}

/* Service @i's front end (a ClusterIP; a NodePort at a node address from
 * the uplink) is @a:@port/@proto? */
static bool frontend_is(int i, int fam, __u8 proto, const __u8 *a, __u16 port,
			bool from_uplink)
{
	const struct fz_svc *v = &svcs[i];

	if (v->v6 != (fam == 6) || v->proto != proto || v->port != port)
		return false;
	if (!v->vip)
		return from_uplink && is_node_addr(fam, a);
	/* A Service's own address is one on the uplink too, from outside
	 * the cluster (a LoadBalancer or external IP: lb.h
	 * zh_lb_external()); this world has no cluster CIDR, so every
	 * source there is outside. */
	return !memcmp(a, svcb[v - svcs].vip, alen(fam));
}

static bool backend_is(int i, const __u8 *a, __u16 port)
{
	const struct fz_svc *v = &svcs[i];

	for (int b = 0; b < v->nbe; b++)
		if (v->be[b].port == port &&
		    !memcmp(a, svcb[i].be[b], v->v6 ? 16 : 4))
			return true;
	return false;
}

/* A Service's front-end address: a ClusterIP, or the node's own. */
static bool is_frontend_addr(int fam, const __u8 *a)
{
	if (is_node_addr(fam, a))
		return true;
	for (size_t i = 0; i < NSVCS; i++)
		if (svcs[i].vip && svcs[i].v6 == (fam == 6) &&
		    !memcmp(a, svcb[i].vip, alen(fam)))
			return true;
	return false;
}

/* The L4 sum of the packet as the checks read it: pseudo-header with the
 * addresses at 14, the bytes from @v->l4 to the end of the IP packet, and
 * at least the TCP/UDP header where a length field says less (a rewrite
 * writes it all the same: the sum over the same bytes, in and out, must
 * stay what it was). */
static __u16 l4_sum(const __u8 *b, __u32 len, const struct view *v)
{
	__u32 end = v->ip_end, hl = v->proto == IPPROTO_TCP ? 20 : 8, n,
	      sum = 0;

	if (end < v->l4 + hl)
		end = v->l4 + hl;
	if (end > len)
		end = len;
	if (end < v->l4)
		end = v->l4;
	n = end - v->l4;

	if (v->proto != IPPROTO_ICMP) {
		sum = sum16(0, v->src, alen(v->fam) * 2);
		sum += n + v->proto;
	}
	return fold(sum16(sum, b + v->l4, n));
}

/*
 * Where an ICMP error that quotes TCP or UDP has its quote (icmp.h: IPv4
 * destination unreachable, time exceeded, parameter problem; ICMPv6 1 to 4;
 * no options, the quoted header and 8 bytes there): the quoted IP header's
 * offset, or 0.
 */
static __u32 icmp_quote_at(const __u8 *b, __u32 len, const struct view *v)
{
	__u32 q = v->l4 + 8, ql = v->fam == 6 ? IP6_HLEN : 20;
	__u8 t;

	if (!v->fam || v->frag || v->l3_len != (v->fam == 6 ? IP6_HLEN : 20) ||
	    len < q + ql + 8)
		return 0;
	t = b[v->l4];
	if (v->fam == 4 ?
		    v->proto != IPPROTO_ICMP || (t != 3 && t != 11 && t != 12) :
		    v->proto != IPPROTO_ICMPV6 || t < 1 || t > 4)
		return 0;
	if (v->fam == 4 ? b[q] != 0x45 || (get16(b + q + 6) & 0x1fff) :
			  b[q] >> 4 != 6)
		return 0;
	t = b[q + (v->fam == 6 ? 6 : 9)];
	return t == IPPROTO_TCP || t == IPPROTO_UDP ? q : 0;
}

/* The zh_ct entry in direction @dir of @proto @s:@sp -> @d:@dp (ports in
 * host order) of family @fam, into @v: true when there is one. */
static bool ct_get(int fam, __u8 proto, __u8 dir, const __u8 *s, __u16 sp,
		   const __u8 *d, __u16 dp, struct zh_ct *v)
{
	struct zh_ct_key k = { .family = fam == 6 ? ZH_AF_INET6 : ZH_AF_INET,
			       .proto = proto,
			       .dir = dir,
			       .sport = htons(sp),
			       .dport = htons(dp) };

	memcpy(k.saddr, s, alen(fam));
	memcpy(k.daddr, d, alen(fam));
	return !bpf_map_lookup_elem(bpf_map__fd(skel->maps.zh_ct), &k, v);
}

/* Does @ct name @a:@port (host order) of family @fam? */
static bool ct_names(const struct zh_ct *ct, int fam, const __u8 *a, __u16 port)
{
	return !memcmp(ct->vip, a, alen(fam)) && ntohs(ct->vport) == port;
}

/* How many such errors the oracle passed, for the tally. */
static __u64 np_icmp_seen;

/*
 * An ICMP error about a NodePort (or LoadBalancer IP) flow SNATed to
 * another node (snat_icmp.h), its quote rewritten at both ends, sent on
 * (ZH_STAT_SNAT) from the uplink: the backend's about node:port ->
 * backend, now the client's own client -> front end, the SNAT_REV entry
 * naming that client; or a router's toward the client about front end ->
 * client, now the backend's backend -> node:port, the SNAT_FWD entry
 * naming that node port. The error's destination is the quote's sender
 * before and after; its source kept, or the quote's destination before
 * and after.
 */
static bool np_icmp_ok(const struct fz_run *r, int side, int fam, __u32 q,
		       const struct view *vi, const struct view *vo)
{
	const __u8 *in = r->in, *out = r->out;
	bool v6 = fam == 6, ok = false;
	size_t al = alen(fam);
	__u32 qs = q + (v6 ? 8 : 12), qd = qs + al, qp = q + (v6 ? 40 : 20);
	__u8 proto = in[q + (v6 ? 6 : 9)];
	__u16 isp = get16(in + qp), idp = get16(in + qp + 2),
	      osp = get16(out + qp), odp = get16(out + qp + 2);
	struct zh_ct ct;

	if (side != SIDE_UPLINK || r->stat != ZH_STAT_SNAT ||
	    memcmp(vi->dst, in + qs, al) || memcmp(vo->dst, out + qs, al))
		return false;
	if (memcmp(vi->src, vo->src, al) &&
	    (memcmp(vi->src, in + qd, al) || memcmp(vo->src, out + qd, al)))
		return false;
	/* The backend's side: node:port -> backend. */
	if (is_node_addr(fam, in + qs) &&
	    ct_get(fam, proto, ZH_CT_SNAT_REV, in + qd, idp, in + qs, isp,
		   &ct) &&
	    ct_names(&ct, fam, out + qs, osp))
		for (size_t i = 0; i < NSVCS && !ok; i++)
			ok = frontend_is((int)i, fam, proto, out + qd, odp,
					 true) &&
			     backend_is((int)i, in + qd, idp);
	if (ok)
		return true;
	/* The client's side: front end -> client. */
	if (is_node_addr(fam, out + qd) &&
	    ct_get(fam, proto, ZH_CT_SNAT_FWD, in + qd, idp, out + qs, osp,
		   &ct) &&
	    ct_names(&ct, fam, out + qd, odp))
		for (size_t i = 0; i < NSVCS && !ok; i++)
			ok = frontend_is((int)i, fam, proto, in + qs, isp,
					 true) &&
			     backend_is((int)i, out + qs, osp);
	return ok;
}

/* How many such errors about NodePort flows to a local pod. */
static __u64 np_local_icmp_seen;

/*
 * An ICMP error about a NodePort (or LoadBalancer IP) flow whose backend
 * is a pod here (DNATed only, the client's address kept; its reply leaves
 * the uplink from the front end: lb_dsr.h zh_dsr_icmp_out(), snat_icmp.h),
 * its quote rewritten at one end:
 *   - from the pod (sent on, ZH_STAT_SNAT): the pod's about client ->
 *     backend, now client -> front end, the flow's REV entry (backend ->
 *     client) naming that front end and the uplink;
 *   - on the uplink (into the pod, ZH_STAT_REDIRECT): a router's about
 *     front end -> client, now backend -> client, the same entry naming
 *     that front end, the backend a pod here.
 * The error's destination is the quote's sender before and after; its
 * source kept, or the quote's destination before and after.
 */
static bool np_local_icmp_ok(const struct fz_run *r, int side, int fam, __u32 q,
			     const struct view *vi, const struct view *vo)
{
	const __u8 *in = r->in, *out = r->out;
	bool v6 = fam == 6, ok = false;
	size_t al = alen(fam);
	__u32 qs = q + (v6 ? 8 : 12), qd = qs + al, qp = q + (v6 ? 40 : 20);
	__u8 proto = in[q + (v6 ? 6 : 9)];
	__u16 isp = get16(in + qp), idp = get16(in + qp + 2),
	      osp = get16(out + qp), odp = get16(out + qp + 2);
	struct zh_ct ct;

	if (memcmp(vi->dst, in + qs, al) || memcmp(vo->dst, out + qs, al))
		return false;
	if (memcmp(vi->src, vo->src, al) &&
	    (memcmp(vi->src, in + qd, al) || memcmp(vo->src, out + qd, al)))
		return false;
	if (side == SIDE_FROM_POD && r->stat == ZH_STAT_SNAT) {
		/* client -> backend, now client -> front end. */
		if (memcmp(in + qs, out + qs, al) || isp != osp ||
		    pod_of(fam, in + qd) < 0 ||
		    !ct_get(fam, proto, ZH_CT_REV, in + qd, idp, in + qs, isp,
			    &ct) ||
		    !ct_names(&ct, fam, out + qd, odp) ||
		    ct.out_ifindex != (__u32)uplink)
			return false;
		for (size_t i = 0; i < NSVCS && !ok; i++)
			ok = frontend_is((int)i, fam, proto, out + qd, odp,
					 true) &&
			     backend_is((int)i, in + qd, idp);
		return ok;
	}
	if (side == SIDE_UPLINK && r->stat == ZH_STAT_REDIRECT) {
		/* front end -> client, now backend -> client. */
		if (memcmp(in + qd, out + qd, al) || idp != odp ||
		    pod_of(fam, out + qs) < 0 ||
		    !ct_get(fam, proto, ZH_CT_REV, out + qs, osp, in + qd, idp,
			    &ct) ||
		    !ct_names(&ct, fam, in + qs, isp) ||
		    ct.out_ifindex != (__u32)uplink)
			return false;
		for (size_t i = 0; i < NSVCS && !ok; i++)
			ok = frontend_is((int)i, fam, proto, in + qs, isp,
					 true) &&
			     backend_is((int)i, out + qs, osp);
		return ok;
	}
	return false;
}

/*
 * An ICMP error the fast path rewrote for a NATed flow it quotes (lb_icmp.h:
 * a Service flow's, the quote's destination back from a backend to its
 * front end, and the error's source with it when that backend sent it;
 * snat_icmp.h, on the uplink: a masqueraded flow's, the quote's source and
 * the error's destination from the node to one same address; both ends
 * of a NodePort flow's SNATed to another node, np_icmp_ok(); one end of
 * a NodePort flow's to a local pod, np_local_icmp_ok()). Nothing
 * else changes but the hop's bytes and the checksums, whose sums stay.
 * Returns false when @r is no such error (the caller checks it as any
 * frame).
 */
static bool check_icmp_rewrite(const struct fz_run *r, bool routed, int side)
{
	const __u8 *in = r->in, *out = r->out;
	__u32 len = r->len, q, ql, qs, qd, qp, qc, end;
	struct view vi, vo;
	bool may[FRAME_MAX] = { false }, v6, qsc, qdc;
	size_t al;

	view_of(in, len, &vi);
	q = icmp_quote_at(in, len, &vi);
	if (!q || r->out_len != len)
		return false;
	view_of(out, len, &vo);
	v6 = vi.fam == 6;
	al = alen(vi.fam);
	ql = v6 ? IP6_HLEN : 20;
	qs = q + (v6 ? 8 : 12);
	qd = qs + al;
	qp = q + ql;
	qc = qp + (in[q + (v6 ? 6 : 9)] == IPPROTO_TCP ? 16 : 6);
	if (routed)
		for (int i = 0; i < 12; i++)
			may[i] = true;
	may[v6 ? IP6_HLIM : IP4_TTL] = routed;
	for (__u32 i = 0; i < 2 * al; i++)
		may[(v6 ? IP6_SADDR : IP4_SADDR) + i] = true;
	if (!v6)
		may[IP4_CHECK] = may[IP4_CHECK + 1] = true;
	may[vi.l4 + 2] = may[vi.l4 + 3] = true;
	for (__u32 i = qs; i < qd + al; i++)
		may[i] = true;
	if (!v6)
		may[q + 10] = may[q + 11] = true;
	for (__u32 i = qp; i < qp + 4; i++)
		may[i] = true;
	if (qc + 2 <= len)
		may[qc] = may[qc + 1] = true;
	for (__u32 i = 0; i < len; i++)
		if (in[i] != out[i] && !may[i])
			fz_fail(r,
				"ICMP error: byte %u changed (%#04x -> %#04x), which no rewrite may",
				i, in[i], out[i]);
	if (routed &&
	    out[v6 ? IP6_HLIM : IP4_TTL] != in[v6 ? IP6_HLIM : IP4_TTL] - 1)
		fz_fail(r, "ICMP error redirected without its hop");

	qdc = memcmp(in + qd, out + qd, al) ||
	      get16(in + qp + 2) != get16(out + qp + 2);
	qsc = memcmp(in + qs, out + qs, al) ||
	      get16(in + qp) != get16(out + qp);
	if ((qsc || qdc) && np_icmp_ok(r, side, vi.fam, q, &vi, &vo)) {
		/* A NodePort's SNATed to another node (a client at the
		 * node's own address and port changes one end alone). */
		np_icmp_seen++;
	} else if ((qsc != qdc) &&
		   np_local_icmp_ok(r, side, vi.fam, q, &vi, &vo)) {
		/* A NodePort's to a local pod. */
		np_local_icmp_seen++;
	} else if (qsc && qdc) {
		fz_fail(r,
			"ICMP error's quote rewritten at both ends, for no NodePort flow SNATed here");
	} else if (qdc) {
		/* A Service's: its quote's destination to a front end of
		 * the backend it named; the source as it was, or the
		 * backend's turned into that front end too. */
		bool ok = false;

		for (size_t i = 0; i < NSVCS && !ok; i++)
			ok = frontend_is((int)i, vi.fam, in[q + (v6 ? 6 : 9)],
					 out + qd, get16(out + qp + 2),
					 false) &&
			     backend_is((int)i, in + qd, get16(in + qp + 2));
		if (!ok || side == SIDE_TO_POD ||
		    memcmp(in + qs, out + qs, al) ||
		    get16(in + qp) != get16(out + qp) ||
		    memcmp(vi.dst, vo.dst, al))
			fz_fail(r,
				"ICMP error's quote turned to no front end of its backend");
		if (memcmp(vi.src, vo.src, al) &&
		    (memcmp(vi.src, in + qd, al) ||
		     memcmp(vo.src, out + qd, al)))
			fz_fail(r,
				"ICMP error's source rewritten, not from its backend to its front end");
	} else if (qsc) {
		/* Masquerade's: from the node's address to the pod's, the
		 * error's destination with it. */
		if (side != SIDE_UPLINK || !is_node_addr(vi.fam, in + qs) ||
		    memcmp(vi.dst, in + qs, al) ||
		    memcmp(vo.dst, out + qs, al) || memcmp(vi.src, vo.src, al))
			fz_fail(r,
				"ICMP error's quote source rewritten, not a masqueraded flow's");
	} else if (memcmp(vi.src, vo.src, al) || memcmp(vi.dst, vo.dst, al)) {
		fz_fail(r, "ICMP error's addresses rewritten, its quote not");
	}

	/* The sums: the IPv4 headers' (outer and quoted), ICMP's over the
	 * whole message (ICMPv6's pseudo-header included). */
	if (!v6 && !sum_same(fold(sum16(0, in + L3, 20)),
			     fold(sum16(0, out + L3, 20))))
		fz_fail(r, "ICMP error: IPv4 header checksum broken");
	if (!v6 &&
	    !sum_same(fold(sum16(0, in + q, 20)), fold(sum16(0, out + q, 20))))
		fz_fail(r,
			"ICMP error: the quoted IPv4 header's checksum broken");
	end = vi.ip_end > vi.l4 ? vi.ip_end : vi.l4;
	{
		__u32 si = 0, so = 0, n = end - vi.l4;

		if (v6) {
			si = sum16(0, vi.src, 32) + n + IPPROTO_ICMPV6;
			so = sum16(0, vo.src, 32) + n + IPPROTO_ICMPV6;
		}
		if (!sum_same(fold(sum16(si, in + vi.l4, n)),
			      fold(sum16(so, out + vo.l4, n))))
			fz_fail(r, "ICMP error: its checksum broken");
	}
	return true;
}

/*
 * A frame that came back changed, not as an ICMP error: only the bytes a
 * redirect (@routed: MACs, TTL/hop limit) or a Service rewrite (addresses,
 * ports) may change differ, each as it may, and the checksums over them
 * are the same sums as before.
 */
static void check_rewrite(const struct fz_run *r, bool routed, int side)
{
	const __u8 *in = r->in, *out = r->out;
	struct view vi, vo;
	bool may[FRAME_MAX] = { false };
	bool v6, dnat = false, snat = false, nat;
	__u32 len = r->len;

	if (r->out_len != len)
		fz_fail(r, "a rewrite changed the length to %u", r->out_len);
	view_of(in, len, &vi);
	view_of(out, len, &vo);
	if (!vi.fam || vo.fam != vi.fam)
		fz_fail(r, "a frame that is no IP packet was changed");
	v6 = vi.fam == 6;
	if (routed)
		for (int i = 0; i < 12; i++)
			may[i] = true;
	if (v6) {
		may[IP6_HLIM] = routed;
		for (__u32 i = IP6_SADDR; i < IP6_SADDR + 32; i++)
			may[i] = true;
	} else {
		may[IP4_TTL] = routed;
		may[IP4_CHECK] = may[IP4_CHECK + 1] = true;
		for (__u32 i = IP4_SADDR; i < IP4_SADDR + 8; i++)
			may[i] = true;
	}
	if (vi.ports) {
		__u32 c = vi.l4 + l4_check_off(vi.proto);

		for (__u32 i = vi.l4; i < vi.l4 + 4 && i < len; i++)
			may[i] = true;
		if (c + 2 <= len)
			may[c] = may[c + 1] = true;
	}
	for (__u32 i = 0; i < len; i++)
		if (in[i] != out[i] && !may[i])
			fz_fail(r,
				"byte %u changed (%#04x -> %#04x), which no rewrite may",
				i, in[i], out[i]);

	/* The hop. */
	if (routed) {
		__u32 t = v6 ? IP6_HLIM : IP4_TTL;

		if (in[t] <= 1 || out[t] != in[t] - 1)
			fz_fail(r, "redirected with TTL %u -> %u", in[t],
				out[t]);
	}

	/* A Service rewrite: to one of the Service's backends, or back from
	 * one to its front end (hairpin: the client's side too; from the
	 * uplink: a backend on another node). */
	dnat = memcmp(vi.dst, vo.dst, alen(vi.fam)) || vi.dport != vo.dport;
	snat = memcmp(vi.src, vo.src, alen(vi.fam)) || vi.sport != vo.sport;
	nat = dnat || snat;
	if (nat) {
		bool ok_d = !dnat, ok_s = !snat, by_snat = false;

		if (!vi.ports || vi.frag || (vi.fam == 4 && vi.l3_len != 20) ||
		    len < vi.l4 + (vi.proto == IPPROTO_TCP ? 20 : 8))
			fz_fail(r,
				"a Service rewrite of a packet the balancer does not take");
		for (size_t i = 0; i < NSVCS && (!ok_d || !ok_s); i++) {
			if (!ok_d && side != SIDE_TO_POD &&
			    frontend_is((int)i, vi.fam, vi.proto, vi.dst,
					vi.dport, side == SIDE_UPLINK) &&
			    backend_is((int)i, vo.dst, vo.dport))
				ok_d = true;
			/* (On the uplink too: a reply from a backend on
			 * another node goes back to the VIP there.) */
			if (!ok_s &&
			    frontend_is((int)i, vi.fam, vi.proto, vo.src,
					vo.sport, svcs[i].vip == NULL) &&
			    backend_is((int)i, vi.src, vi.sport))
				ok_s = true;
		}
		/* Hairpin request: from the VIP (the client's port kept) to
		 * the client itself; hairpin reply: back to the client. */
		if (!ok_s && side != SIDE_TO_POD && dnat &&
		    !memcmp(vo.src, vi.dst, alen(vi.fam)) &&
		    vo.sport == vi.sport &&
		    !memcmp(vo.dst, vi.src, alen(vi.fam)))
			ok_s = true;
		if (!ok_d && snat && is_frontend_addr(vi.fam, vi.dst) &&
		    !memcmp(vo.dst, vi.src, alen(vi.fam)) &&
		    vo.dport == vi.dport)
			ok_d = true;
		/* A NodePort's to another node (snat.h): the request leaves
		 * from the node's address and the port its SNAT_FWD entry
		 * names; the reply, at that address and port, goes back to
		 * the client its SNAT_REV entry names (also when it then
		 * expires here: the kernel gets it rewritten). */
		if (side == SIDE_UPLINK) {
			struct zh_ct ct;

			if (!ok_s && ok_d && dnat &&
			    is_node_addr(vi.fam, vo.src) &&
			    ct_get(vi.fam, vi.proto, ZH_CT_SNAT_FWD, vi.src,
				   vi.sport, vo.dst, vo.dport, &ct) &&
			    ct_names(&ct, vi.fam, vo.src, vo.sport))
				ok_s = true;
			if (is_node_addr(vi.fam, vi.dst) &&
			    ct_get(vi.fam, vi.proto, ZH_CT_SNAT_REV, vi.src,
				   vi.sport, vi.dst, vi.dport, &ct) &&
			    ct_names(&ct, vi.fam, vo.dst, vo.dport))
				ok_d = by_snat = true;
		}
		/* (The replies of SNATed flows go on with Services off.) */
		if (!cfg_now.services && !by_snat)
			fz_fail(r, "a Service rewrite with Services off");
		if (!ok_d)
			fz_fail(r,
				"destination rewritten to no backend of a Service at the old one");
		if (!ok_s)
			fz_fail(r,
				"source rewritten to no Service front end of the old one");
	}

	/* The checksums: the same sums as before (incremental updates). */
	if (!v6) {
		__u32 hl = vi.l3_len < len - L3 ? vi.l3_len : len - L3;

		if (!sum_same(fold(sum16(0, in + L3, hl)),
			      fold(sum16(0, out + L3, hl))))
			fz_fail(r,
				"IPv4 header checksum broken: %#06x -> %#06x",
				get16(in + IP4_CHECK), get16(out + IP4_CHECK));
	}
	if (nat) {
		__u32 c = vi.l4 + l4_check_off(vi.proto);
		__u16 ci = get16(in + c), co = get16(out + c);

		if (vi.proto == IPPROTO_UDP && !ci) {
			if (co)
				fz_fail(r, "UDP checksum 0 (none) became %#06x",
					co);
		} else if (vi.proto == IPPROTO_UDP && !co) {
			fz_fail(r, "UDP checksum %#06x became 0 (none)", ci);
		} else if (!sum_same(l4_sum(in, len, &vi),
				     l4_sum(out, len, &vo))) {
			fz_fail(r,
				"%s checksum broken: %#06x -> %#06x (sum %#06x -> %#06x)",
				vi.proto == IPPROTO_TCP ? "TCP" : "UDP", ci, co,
				l4_sum(in, len, &vi), l4_sum(out, len, &vo));
		}
	}
}

/* The ICMP error a refused request must come back as (reject.h), built
 * here independently: port unreachable from the VIP, quoting the request's
 * IP header and 8 bytes. */
static void check_icmp_error(const struct fz_run *r)
{
	bool v6 = get16(r->in + ETH_PROTO) == ETH_P_IPV6;
	const __u8 *in = r->in;
	const struct icmp_err e = {
		.v6 = v6,
		.src = in + (v6 ? IP6_DADDR : IP4_DADDR),
		.dst = in + (v6 ? IP6_SADDR : IP4_SADDR),
		.type = v6 ? 1 : 3, /* destination unreachable */
		.code = v6 ? 4 : 3, /* port unreachable */
		.quoted = in,
		.src_mac = in + ETH_DST,
		.dst_mac = in + ETH_SRC,
	};
	__u8 want[FRAME_MAX];
	__u32 wlen = icmp_err_frame(&e, want);

	if (r->out_len != wlen || memcmp(r->out, want, wlen)) {
		hex("expected ICMP error", want, wlen);
		fz_fail(r,
			"the answer to a Service without backends is not the ICMP error it must be");
	}
}

/* The frame as the kernel's stack reads it after the program passed it:
 * VLAN tags with VID 0 (priority tags) are stripped and the packet behind
 * them is delivered; behind any other tag it goes nowhere (no VLAN
 * devices). Returns the offset of the ethertype, or 0 for nowhere. */
static __u32 kernel_ethertype_at(const __u8 *b, __u32 len)
{
	__u32 off = 12;

	while (off + 2 <= len) {
		__u16 t = get16(b + off);

		if (t != ETH_P_8021Q && t != ETH_P_8021AD)
			return off;
		if (off + 4 > len || (get16(b + off + 2) & 0x0fff))
			return 0;
		off += 4;
	}
	return 0;
}

static bool v6_link_local(const __u8 *a)
{
	static const __u8 zero[16];

	return (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || !memcmp(a, zero, 16);
}

/*
 * Anti-spoofing: a frame from pod @pod that the program did not drop
 * carries the pod's own MAC and, for what the kernel would take for IPv4,
 * IPv6 or ARP, the pod's own address (IPv6 link-local and :: only towards
 * the kernel, which never forwards them).
 */
static void check_source(const struct fz_run *r, int pod, enum verdict_kind vk)
{
	const struct fz_pod *d = &fzp[pod];
	const __u8 *b = r->in;
	__u32 et = kernel_ethertype_at(b, r->len), l3 = et + 2;

	if (memcmp(b + ETH_SRC, d->mac, ETH_ALEN))
		fz_fail(r, "let through from %s with another source MAC",
			pods[pod].host);
	if (!et)
		return;
	switch (get16(b + et)) {
	case ETH_P_IP:
		if (r->len < l3 + 20 || b[l3] >> 4 != 4 || (b[l3] & 0xf) < 5)
			fz_fail(r, "let through a malformed IPv4 header");
		if (!d->has4 || memcmp(b + l3 + 12, d->ip4, 4))
			fz_fail(r,
				"let through from %s with an IPv4 source it does not own",
				pods[pod].host);
		break;
	case ETH_P_IPV6:
		if (r->len < l3 + IP6_HLEN || b[l3] >> 4 != 6)
			fz_fail(r, "let through a malformed IPv6 header");
		if (d->has6 && !memcmp(b + l3 + 8, d->ip6, 16))
			break;
		if (!v6_link_local(b + l3 + 8))
			fz_fail(r,
				"let through from %s with an IPv6 source it does not own",
				pods[pod].host);
		if (vk != V_PASS)
			fz_fail(r,
				"a link-local or unspecified IPv6 source not left to the kernel");
		break;
	case ETH_P_ARP: {
		static const __u8 zero[4];
		const __u8 *a = b + l3;

		if (r->len < l3 + ARP_HLEN || get16(a) != 1 ||
		    get16(a + 2) != ETH_P_IP || a[4] != ETH_ALEN || a[5] != 4)
			fz_fail(r, "let through a malformed ARP packet");
		if (memcmp(a + 8, d->mac, ETH_ALEN))
			fz_fail(r, "let through ARP with another sender MAC");
		if (memcmp(a + 14, zero, 4) &&
		    (!d->has4 || memcmp(a + 14, d->ip4, 4)))
			fz_fail(r,
				"let through ARP with a sender address %s does not own",
				pods[pod].host);
		break;
	}
	default:
		break;
	}
}

static int pod_of_ifindex(int ifindex)
{
	for (int p = 0; p < NR_PODS; p++)
		if (fzp[p].host == ifindex)
			return p;
	return -1;
}

/* Where a redirect went, against where it may go. */
static void check_redirect(const struct fz_run *r, int stat)
{
	const struct zh_trace *t = &r->tr;
	bool xdp = defs[r->prog].xdp;
	long want_ret = xdp ? XDP_REDIRECT : TC_ACT_REDIRECT;
	struct view vo;
	int to;

	if (!t->calls)
		fz_fail(r,
			"a redirect verdict without a redirect helper call: the kernel would use a stale target");
	if (t->ret != want_ret)
		fz_fail(r, "a redirect verdict after the helper returned %lld",
			(long long)t->ret);
	switch (stat) {
	case ZH_STAT_REDIRECT:
		to = pod_of_ifindex((int)t->target);
		if (to < 0)
			fz_fail(r, "redirected to ifindex %u, no pod's",
				t->target);
		if (xdp ? t->kind != ZH_TRACE_REDIRECT :
			  t->kind !=
				    (fzp[to].ep_flags & ZH_EP_F_VIA_RX ||
						     !zh_kfeat_has(
							     &kfeat,
							     ZH_FEAT_TC_REDIRECT_PEER) ?
					     ZH_TRACE_REDIRECT :
					     ZH_TRACE_REDIRECT_PEER))
			fz_fail(r, "delivered to %s with helper kind %u",
				pods[to].host, t->kind);
		if (xdp && fzp[to].ep_dp != ZH_DATAPATH_XDP)
			fz_fail(r, "XDP redirect to %s, whose veth runs no XDP",
				pods[to].host);
		view_of(r->out, r->out_len, &vo);
		if (!vo.fam || pod_of(vo.fam, vo.dst) != to)
			fz_fail(r,
				"delivered to %s, not the pod that owns the destination",
				pods[to].host);
		if (memcmp(r->out + ETH_DST, fzp[to].mac, ETH_ALEN) ||
		    memcmp(r->out + ETH_SRC, fzp[to].gw, ETH_ALEN))
			fz_fail(r, "delivered to %s with MACs not its own",
				pods[to].host);
		break;
	case ZH_STAT_PASS_NO_ENDPOINT: /* a NodePort reply */
		if (r->prog != FZ_TC_FROM_POD ||
		    t->kind != ZH_TRACE_REDIRECT_NEIGH ||
		    (int)t->target != uplink)
			fz_fail(r,
				"a reply sent out of ifindex %u (kind %u), not the uplink",
				t->target, t->kind);
		break;
	case ZH_STAT_SNAT: /* a NodePort's SNATed, or its error, out (from a
			    * local backend pod too) */
		if ((r->prog != FZ_TC_UPLINK && r->prog != FZ_TC_FROM_POD) ||
		    t->kind != ZH_TRACE_REDIRECT_NEIGH ||
		    (int)t->target != uplink)
			fz_fail(r,
				"SNATed out of ifindex %u (kind %u), not the uplink",
				t->target, t->kind);
		break;
	case ZH_STAT_DROP_NO_BACKEND: /* the ICMP error, back to the sender */
		if ((int)t->target != r->ingress ||
		    t->kind !=
			    (r->prog == FZ_TC_FROM_POD &&
					     zh_kfeat_has(
						     &kfeat,
						     ZH_FEAT_TC_REDIRECT_PEER) ?
				     ZH_TRACE_REDIRECT_PEER :
				     ZH_TRACE_REDIRECT))
			fz_fail(r,
				"an ICMP error sent to ifindex %u (kind %u), not back where it came from",
				t->target, t->kind);
		break;
	case ZH_STAT_XSK_REDIRECT: {
		bool hit = false;

		view_of(r->in, r->len, &vo);
		for (size_t i = 0; i < ARRAY_SIZE(steers) && vo.ports; i++) {
			__u8 a[16];
			bool v6 = strchr(steers[i].addr, ':');

			addr_parse(v6, steers[i].addr, a);
			if (v6 == (vo.fam == 6) &&
			    steers[i].proto == vo.proto &&
			    (!steers[i].port || steers[i].port == vo.dport) &&
			    !memcmp(a, vo.dst, alen(vo.fam)) &&
			    t->target == steers[i].slot)
				hit = true;
		}
		if (t->kind != ZH_TRACE_REDIRECT_MAP || !hit)
			fz_fail(r,
				"into AF_XDP slot %u (kind %u), which no steering rule for the frame names",
				t->target, t->kind);
		break;
	}
	default:
		fz_fail(r, "redirected, counted as %s", zh_stat_name(stat));
	}
}

/* The counter a verdict may come with; -1 for none. */
/* Is @r's input an ICMP error that quotes TCP or UDP? */
static bool is_icmp_err(const struct fz_run *r)
{
	struct view v;

	view_of(r->in, r->len, &v);
	return icmp_quote_at(r->in, r->len, &v) != 0;
}

static bool stat_fits(const struct fz_run *r, enum verdict_kind vk, int stat)
{
	if (stat < 0)
		return vk != V_DROP && vk != V_REDIRECT && vk != V_TX;
	switch (vk) {
	case V_REDIRECT:
		return stat == ZH_STAT_REDIRECT ||
		       stat == ZH_STAT_XSK_REDIRECT ||
		       (r->prog == FZ_TC_FROM_POD &&
			stat == ZH_STAT_PASS_NO_ENDPOINT) ||
		       (r->prog == FZ_TC_UPLINK && stat == ZH_STAT_SNAT) ||
		       /* A local NodePort backend's ICMP error, out of the
		        * uplink as the front end's (np_local_icmp_ok()). */
		       (r->prog == FZ_TC_FROM_POD && stat == ZH_STAT_SNAT &&
			is_icmp_err(r)) ||
		       (!defs[r->prog].xdp && stat == ZH_STAT_DROP_NO_BACKEND);
	case V_TX:
		return stat == ZH_STAT_DROP_NO_BACKEND;
	case V_DROP:
		return zh_stat_is_drop(stat);
	default:
		return !zh_stat_is_drop(stat) && stat != ZH_STAT_REDIRECT &&
		       stat != ZH_STAT_XSK_REDIRECT;
	}
}

/* What may come back uncounted: the frame as it came (XDP's hand-over to
 * tc with its mark in the metadata in front). */
static bool untouched(const struct fz_run *r, bool xdp_handover)
{
	if (xdp_handover && meta_pass) {
		__u32 m = ZH_META_TO_TC;

		return r->out_len == r->len + 4 && !memcmp(r->out, &m, 4) &&
		       !memcmp(r->out + 4, r->in, r->len);
	}
	return r->out_len == r->len && !memcmp(r->out, r->in, r->len);
}

/* Everything that must hold for one run. @behind_xdp: a tc entry on a veth
 * whose XDP entry saw the frame first. */
static void check(const struct fz_run *r)
{
	enum verdict_kind vk = verdict_of(r);
	enum side side = defs[r->prog].side;
	int pod = side == SIDE_FROM_POD ? pod_of_ifindex(r->ingress) : -1;
	bool behind_xdp = r->prog == FZ_TC_FROM_POD && pod >= 0 &&
			  fzp[pod].iface_dp == ZH_DATAPATH_XDP;
	bool changed, routed;

	if (r->err) {
		if (r->err == -EINVAL && refusable(r) && r->stat == -1)
			return;
		fz_fail(r, "test_run failed: %s", strerror(-r->err));
	}
	if (vk == V_BAD)
		fz_fail(r, "verdict %u", r->ret);
	if (r->stat == -2)
		fz_fail(r, "more than one counter moved");
	if (r->stat >= 0 && (r->pkts != 1 || r->bytes != r->len))
		fz_fail(r, "counter moved by %llu packets, %llu bytes",
			(unsigned long long)r->pkts,
			(unsigned long long)r->bytes);
	if (!stat_fits(r, vk, r->stat))
		fz_fail(r, "verdict %u with counter %s", r->ret,
			r->stat >= 0 ? zh_stat_name(r->stat) : "none");
	if (vk != V_REDIRECT && r->tr.calls &&
	    r->tr.ret == (defs[r->prog].xdp ? XDP_REDIRECT : TC_ACT_REDIRECT))
		fz_fail(r, "a redirect set up, then verdict %u", r->ret);

	/* Which programs may count nothing, and then leave the frame be. */
	switch (r->prog) {
	case FZ_XDP_POD:
	case FZ_TC_POD:
		if (r->stat != -1)
			fz_fail(r, "the pod side counted %s",
				zh_stat_name(r->stat));
		if (r->prog == FZ_XDP_POD ? vk != V_PASS :
					    vk != V_NEXT && vk != V_DROP)
			fz_fail(r, "pod side verdict %u", r->ret);
		break;
	case FZ_XDP_POD_XSK:
		if (r->stat != -1 && r->stat != ZH_STAT_XSK_REDIRECT &&
		    r->stat != ZH_STAT_PASS_XSK_NO_SOCKET)
			fz_fail(r, "the pod side counted %s",
				zh_stat_name(r->stat));
		break;
	default:
		if (r->stat != -1)
			break;
		if (vk != V_PASS)
			fz_fail(r, "verdict %u uncounted", r->ret);
		if (r->prog == FZ_TC_FROM_POD && !behind_xdp)
			fz_fail(r, "uncounted");
		if (!untouched(r, r->prog == FZ_XDP_FROM_POD))
			fz_fail(r, "changed, uncounted");
		/* XDP's hand-over to tc: past anti-spoofing all the same. (What
		 * tc behind XDP leaves alone, XDP has dealt with.) */
		if (pod >= 0 && !behind_xdp)
			check_source(r, pod, vk);
		return;
	}

	if (vk == V_REDIRECT)
		check_redirect(r, r->stat);
	if (pod >= 0 && vk != V_DROP)
		check_source(r, pod, vk);
	if (vk == V_DROP)
		return;
	if (r->stat == ZH_STAT_DROP_NO_BACKEND) {
		check_icmp_error(r);
		return;
	}
	changed = r->out_len != r->len || memcmp(r->out, r->in, r->len);
	routed = r->stat == ZH_STAT_REDIRECT || r->stat == ZH_STAT_SNAT;
	if (changed)
		if (!check_icmp_rewrite(r, routed, side))
			check_rewrite(r, routed, side);
}

/* ------------------------------------------------------------ the loop */

/* What became of the frames of one program (@own) and of the requests and
 * chained tc runs around them (@aux). */
struct tally {
	__u64 runs, refused, csum_checked, csum_moot, rewritten;
	__u64 verdicts[V_BAD + 1];
	__u64 stats[ZH_STAT_MAX + 1];
};

static __u32 tc_flags(void)
{
	return has_csum_complete() && chance(1, 2) ?
		       BPF_F_TEST_SKB_CHECKSUM_COMPLETE :
		       0;
}

/* Run, check, count. */
static void go(enum fz_prog p, int ingress, const __u8 *in, __u32 len,
	       struct fz_run *r, struct tally *t)
{
	run(p, ingress, in, len, defs[p].xdp ? 0 : tc_flags(), r);
	if (r->err == -EBADMSG) {
		/* test_run found skb->csum wrong and says nothing else: the
		 * same frame again without the check, for what it did. Where
		 * the program dropped the frame, or resized it (the kernel
		 * then turns the skb to CHECKSUM_NONE, which test_run's check
		 * does not look at), skb->csum is no one's business. */
		run(p, ingress, in, len, 0, r);
		check(r);
		if (verdict_of(r) != V_DROP && r->out_len == len)
			fz_fail(r,
				"skb->csum does not match the packet after the program (CHECKSUM_COMPLETE); the verdict and output are of a second run without that check");
		t->csum_moot++;
	} else {
		check(r);
	}
	t->runs++;
	if (r->err) {
		t->refused++;
		return;
	}
	if (r->flags)
		t->csum_checked++;
	t->verdicts[verdict_of(r)]++;
	t->stats[r->stat >= 0 ? r->stat : ZH_STAT_MAX]++;
	if (verdict_of(r) != V_DROP &&
	    (r->out_len != len || memcmp(r->out, in, len)))
		t->rewritten++;
}

/*
 * XDP in front of tc on one veth: what XDP passed, tc sees next (without
 * XDP metadata, test_run cannot hand tc the mark: this is the pass where
 * tc classifies again). Between them the frame is counted exactly once.
 */
static void chain(enum fz_prog tc, const struct fz_run *xr, struct tally *t)
{
	static struct fz_run r2;
	__u8 frame[FRAME_MAX + 64];
	__u32 len = xr->out_len, off = 0;

	if (xr->err || verdict_of(xr) != V_PASS)
		return;
	if (meta_pass && tc == FZ_TC_FROM_POD)
		return; /* test_run has no way to hand the mark over */
	if (meta_pass && xr->stat == -1 && len >= 4 + ETH_HLEN) {
		__u32 m;

		memcpy(&m, xr->out, 4);
		if (m == ZH_META_TO_TC)
			off = 4;
	}
	if (len - off < ETH_HLEN)
		return;
	memcpy(frame, xr->out + off, len - off);
	go(tc, xr->ingress, frame, len - off, &r2, t);
	if (r2.err)
		return;
	if (xr->stat >= 0 && r2.stat >= 0)
		fz_fail(&r2, "counted by XDP (%s) and again by tc",
			zh_stat_name(xr->stat));
	if (tc == FZ_TC_FROM_POD && xr->stat < 0 && r2.stat < 0)
		fz_fail(&r2, "handed over by XDP and not taken by tc");
}

/* Is @a in world_config()'s Service CIDRs (10.96.0.0/12, fd00:96::/108)? */
static bool in_svc_cidr(int fam, const __u8 *a)
{
	__u8 net[16];

	if (fam == 4)
		return a[0] == 10 && (a[1] & 0xf0) == 0x60;
	addr_parse(true, "fd00:96::", net);
	return !memcmp(a, net, 13) && !(a[13] & 0xf0);
}

/*
 * Now and then a request through the program of the other side, so that
 * the program under test sees the reply of a flow with conntrack state:
 * the request is checked like any frame.
 */
static void warm_flow(enum fz_prog p, struct tally *t)
{
	static struct fz_run r;
	bool xdp = defs[p].xdp, np = chance(1, 3);
	struct spec s = { 0 };
	__u8 b[FRAME_MAX];
	const struct fz_svc *v;
	enum fz_prog via;
	int from = POD_A, fam;
	struct view vi, vo;
	__u32 len;

	do
		v = &svcs[below(NSVCS)];
	while (!v->nbe || (!v->vip) != np);
	fam = v->v6 ? 6 : 4;
	if (np) {
		via = xdp ? FZ_XDP_UPLINK : FZ_TC_UPLINK;
		spec_uplink(&s);
		spec_ip(&s, fam);
		s.ntags = 0;
		/* Not from a Service address: no client has one, and the
		 * reply XDP turns back to it would be tc's again behind XDP
		 * (an unknown VIP, counted twice). */
		do
			pick_addr(fam, s.src);
		while (in_svc_cidr(fam, s.src));
		memcpy(s.dst, fam == 6 ? node6 : node4, 16);
	} else {
		via = xdp ? FZ_XDP_FROM_POD : FZ_TC_FROM_POD;
		/* XDP where it runs; tc from the others. */
		from = xdp ? POD_B : v->v6 && chance(1, 2) ? POD_C : POD_A;
		spec_from_pod(&s, from);
		spec_ip(&s, fam);
		s.ntags = 0;
		memset(s.src, 0, 16);
		memcpy(s.src, fam == 6 ? fzp[from].ip6 : fzp[from].ip4,
		       alen(fam));
		memcpy(s.dst, svcb[v - svcs].vip, 16);
		memcpy(s.dmac, fzp[from].gw, ETH_ALEN);
		memcpy(s.smac, fzp[from].mac, ETH_ALEN);
	}
	s.kind = fam == 6 ? K_IP6 : K_IP4;
	s.proto = v->proto;
	s.dport = v->port;
	s.opt_words = 0;
	s.frag = 0x4000;
	s.n_ext = 0;
	s.ttl = 64;
	s.tcp_flags = 0x02;
	s.sport = (__u16)(40000 + below(16));
	len = build(&s, b);
	go(via, np ? uplink : fzp[from].host, b, len, &r, t);
	if (via == FZ_XDP_UPLINK)
		chain(FZ_TC_UPLINK, &r, t);
	else if (via == FZ_XDP_FROM_POD)
		chain(FZ_TC_FROM_POD, &r, t);
	if (r.err || verdict_of(&r) == V_DROP)
		return;
	view_of(b, len, &vi);
	view_of(r.out + (r.out_len == len + 4 ? 4 : 0), len, &vo);
	if (vi.fam && vo.fam == vi.fam && vo.ports &&
	    (memcmp(vi.dst, vo.dst, alen(fam)) || vi.dport != vo.dport))
		flow_note(&vi, &vo, r.stat == ZH_STAT_SNAT);
}

/* The reply of a flow some request set up, from its backend. */
static bool spec_reply(struct spec *s, enum side side, int *ingress)
{
	const struct flow *f;

	if (!nflows)
		return false;
	f = &flows[below(nflows < NFLOWS ? (__u32)nflows : NFLOWS)];
	if (side == SIDE_FROM_POD) {
		if (f->backend_pod < 0)
			return false;
		*ingress = fzp[f->backend_pod].host;
		memcpy(s->dmac, fzp[f->backend_pod].gw, ETH_ALEN);
		memcpy(s->smac, fzp[f->backend_pod].mac, ETH_ALEN);
	} else if (side == SIDE_TO_POD) {
		/* From a backend the kernel routed: off the node. */
		if (f->backend_pod >= 0)
			return false;
		memcpy(s->dmac, pods[POD_A].mac, ETH_ALEN);
		memcpy(s->smac, gw_mac_of[POD_A], ETH_ALEN);
	} else if (f->snat) {
		/* From another node's backend to the node's address and
		 * port the request left with. */
		memcpy(s->dmac, mac_out, ETH_ALEN);
		memcpy(s->smac, mac_out, ETH_ALEN);
		s->smac[5] = 0x02;
	} else {
		return false;
	}
	spec_ip(s, f->fam);
	s->kind = f->fam == 6 ? K_IP6 : K_IP4;
	s->ntags = chance(1, 20) ? 1 : 0;
	s->opt_words = 0;
	s->frag = chance(1, 20) ? 0x2000 : 0x4000;
	s->n_ext = 0;
	s->proto = f->proto;
	memcpy(s->src, f->backend, 16);
	memcpy(s->dst, f->client, 16);
	s->sport = f->bport;
	s->dport = f->cport;
	if (side == SIDE_UPLINK) {
		memcpy(s->dst, f->snat_addr, 16);
		s->dport = f->snat_port;
	}
	s->tcp_flags = PICK(((__u8[]){ 0x12, 0x10, 0x11, 0x04 }));
	return true;
}

/* A NodePort flow whose backend is a pod here: DNATed only. (From a
 * client that is no pod here: such a client's errors are delivered into
 * it, lb_icmp.h.) */
static bool np_local(const struct flow *f)
{
	return !f->snat && f->backend_pod >= 0 &&
	       is_node_addr(f->fam, f->front) && pod_of(f->fam, f->client) < 0;
}

/*
 * A NodePort flow's local backend pod, from its host veth: its "port
 * unreachable" (or another error) about the request as it got it (client
 * -> backend), to the client.
 */
static bool spec_np_icmp_pod(struct spec *s, __u8 *quote, int *ingress)
{
	const struct flow *f = NULL;
	struct spec q = { 0 };
	__u32 start = below(NFLOWS), qlen;
	__u8 qb[FRAME_MAX];
	bool v6;

	for (__u32 i = 0; i < NFLOWS && !f; i++) {
		__u32 j = (start + i) % NFLOWS;

		if ((int)j < nflows && np_local(&flows[j]))
			f = &flows[j];
	}
	if (!f)
		return false;
	v6 = f->fam == 6;
	*ingress = fzp[f->backend_pod].host;
	memcpy(s->dmac, fzp[f->backend_pod].gw, ETH_ALEN);
	memcpy(s->smac, fzp[f->backend_pod].mac, ETH_ALEN);
	spec_ip(s, f->fam);
	s->ntags = 0;
	s->opt_words = 0;
	s->frag = 0x4000;
	s->n_ext = 0;
	memcpy(s->src, f->backend, 16);
	memcpy(s->dst, f->client, 16);
	s->icmp_type = v6 ? 1 : 3;
	s->icmp_code = chance(3, 4) ? (v6 ? 4 : 3) : (__u8)below(5);
	q.kind = s->kind;
	q.proto = f->proto;
	q.ttl = 63;
	q.frag = 0x4000;
	q.tcp_flags = 0x10;
	q.payload = (int)below(64);
	memcpy(q.src, f->client, 16);
	q.sport = f->cport;
	memcpy(q.dst, f->backend, 16);
	q.dport = f->bport;
	qlen = build(&q, qb);
	s->quote_len = chance(1, 2) ? (v6 ? 48 : 28) : 64;
	if (qlen < L3 + s->quote_len)
		s->quote_len = qlen - L3;
	memcpy(quote, qb + L3, s->quote_len);
	s->quote = quote;
	s->proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	return true;
}

/*
 * An ICMP error about a NodePort flow SNATed to another node, on the
 * uplink: the backend's (or a router's between the nodes) about the
 * request as it left, to the node's address; or a router's toward the
 * client (fragmentation needed, packet too big) about the reply, to the
 * front end. Quoting the header and 8 bytes, or up to 64.
 */
static bool spec_np_icmp(struct spec *s, __u8 *quote)
{
	const struct flow *f = NULL;
	struct spec q = { 0 };
	__u32 start = below(NFLOWS), qlen;
	__u8 qb[FRAME_MAX];
	bool v6;

	for (__u32 i = 0; i < NFLOWS && !f; i++) {
		__u32 j = (start + i) % NFLOWS;

		if ((int)j < nflows && (flows[j].snat || np_local(&flows[j])))
			f = &flows[j];
	}
	if (!f)
		return false;
	v6 = f->fam == 6;
	memcpy(s->dmac, mac_out, ETH_ALEN);
	memcpy(s->smac, mac_out, ETH_ALEN);
	s->smac[5] = 0x02;
	spec_ip(s, f->fam);
	s->ntags = 0;
	s->opt_words = 0;
	s->frag = 0x4000;
	s->n_ext = 0;
	q.kind = s->kind;
	q.proto = f->proto;
	q.ttl = 63;
	q.frag = 0x4000;
	q.tcp_flags = 0x10;
	q.payload = (int)below(64);
	if (f->snat && chance(1, 2)) {
		/* About the request: node:port -> backend. */
		memcpy(q.src, f->snat_addr, 16);
		q.sport = f->snat_port;
		memcpy(q.dst, f->backend, 16);
		q.dport = f->bport;
		if (chance(2, 3))
			memcpy(s->src, f->backend, 16);
		else
			pick_addr(f->fam, s->src);
		memcpy(s->dst, f->snat_addr, 16);
		s->icmp_type = v6 ? 1 : 3;
		s->icmp_code = chance(3, 4) ? (v6 ? 4 : 3) : (__u8)below(5);
	} else {
		/* About the reply: front end -> client. */
		memcpy(q.src, f->front, 16);
		q.sport = f->fport;
		memcpy(q.dst, f->client, 16);
		q.dport = f->cport;
		if (chance(1, 4))
			memcpy(s->src, f->client, 16);
		else
			pick_addr(f->fam, s->src);
		memcpy(s->dst, f->front, 16);
		s->icmp_type = v6 ? 2 : 3;
		s->icmp_code = v6 ? 0 : 4;
	}
	qlen = build(&q, qb);
	s->quote_len = chance(1, 2) ? (v6 ? 48 : 28) : 64;
	if (qlen < L3 + s->quote_len)
		s->quote_len = qlen - L3;
	memcpy(quote, qb + L3, s->quote_len);
	s->quote = quote;
	s->proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	return true;
}

/* One frame for program @p: its bytes in @b, its ingress. */
static __u32 gen(enum fz_prog p, __u8 *b, int *ingress)
{
	enum side side = defs[p].side;
	struct spec s = { 0 };
	__u8 quote[64];
	__u32 len, roll = below(100);
	int pod = (int)below(NR_PODS);

	switch (side) {
	case SIDE_FROM_POD:
		/* XDP mostly where it runs (B), tc anywhere. */
		if (defs[p].xdp && chance(2, 3))
			pod = POD_B;
		*ingress = chance(1, 30) ? uplink : fzp[pod].host;
		break;
	case SIDE_UPLINK:
		*ingress = uplink;
		break;
	default:
		*ingress = fzp[pod].peer;
		break;
	}
	if (roll < 8) { /* random bytes */
		len = below(chance(1, 4) ? 200 : 80);
		rnd_fill(b, len);
		return len;
	}
	if (roll < 16) { /* random bytes behind a plausible header */
		len = ETH_HLEN + below(120);
		rnd_fill(b, len);
		if (side == SIDE_FROM_POD && pod_of_ifindex(*ingress) >= 0) {
			pod = pod_of_ifindex(*ingress);
			memcpy(b + ETH_DST, fzp[pod].gw, ETH_ALEN);
			memcpy(b + ETH_SRC, fzp[pod].mac, ETH_ALEN);
		}
		put16(b + ETH_PROTO,
		      PICK(((__u16[]){ ETH_P_IP, ETH_P_IPV6, ETH_P_ARP,
				       ETH_P_8021Q })));
		if (chance(1, 2) && len > L3)
			b[L3] = chance(1, 2) ? 0x45 : 0x60;
		return len;
	}
	if (roll < 30 && spec_reply(&s, side, ingress)) {
		len = build(&s, b);
	} else if (roll < 40 && side == SIDE_UPLINK &&
		   spec_np_icmp(&s, quote)) {
		len = build(&s, b);
	} else if (roll < 40 && side == SIDE_FROM_POD &&
		   spec_np_icmp_pod(&s, quote, ingress)) {
		len = build(&s, b);
	} else {
		memset(&s, 0, sizeof(s));
		if (side == SIDE_FROM_POD) {
			pod = pod_of_ifindex(*ingress);
			spec_from_pod(&s, pod >= 0 ? pod : POD_A);
		} else if (side == SIDE_UPLINK) {
			spec_uplink(&s);
		} else {
			spec_to_pod(&s);
		}
		if ((s.kind == K_IP4 || s.kind == K_IP6) && chance(1, 12))
			spec_icmp_err(&s, quote);
		len = build(&s, b);
	}
	if (chance(2, 5))
		mutate(b, &len);
	return len;
}

/* Now and then the world changes under the programs: Services off and
 * on, latency probes and sampling, conntrack flushed. */
static void world_turn(__u64 i)
{
	if (i % 997 == 996) {
		world_config(chance(7, 8), chance(1, 3) ? ZH_CFG_F_PROBES : 0,
			     chance(1, 3) ? 1 + below(4) : 0);
	}
	if (i % 4099 == 4098)
		world_flows_clear();
}

static void tally_print(const char *what, const struct tally *t)
{
	print_message(
		"[  FUZZ    ]   %s: %llu runs, %llu refused by test_run, %llu with skb->csum checked (%llu moot: dropped or resized)\n",
		what, t->runs, t->refused, t->csum_checked, t->csum_moot);
	print_message(
		"[  FUZZ    ]     verdicts: pass %llu, drop %llu, redirect %llu, tx %llu, next %llu; %llu of them changed\n",
		t->verdicts[V_PASS], t->verdicts[V_DROP],
		t->verdicts[V_REDIRECT], t->verdicts[V_TX], t->verdicts[V_NEXT],
		t->rewritten);
	print_message("[  FUZZ    ]     counted:");
	for (int s = 0; s <= ZH_STAT_MAX; s++)
		if (t->stats[s])
			print_message(" %s %llu",
				      s < ZH_STAT_MAX ? zh_stat_name(s) :
							"(nothing)",
				      t->stats[s]);
	print_message("\n");
}

static void fuzz(enum fz_prog p)
{
	static struct fz_run r;
	struct tally own = { 0 }, aux = { 0 };
	__u8 b[FRAME_MAX];
	struct timespec t0, t1;
	double secs = 0;
	__u64 n = 0;

	cur_seed = opt_seed;
	rs = opt_seed ^ (0x100000001b3ULL * (p + 1)) ^
	     (meta_pass ? 0 : 0xa5a5a5a5ULL);
	for (int k = 0; k < 4; k++)
		rnd();
	nflows = 0;
	np_icmp_seen = 0;
	np_local_icmp_seen = 0;
	world_flows_clear();
	world_config(true, 0, 0);
	stats_now(totals);
	memset(&cur, 0, sizeof(cur));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (__u64 i = 0; i < opt_frames; i++, n++) {
		int ingress;
		__u32 len;

		if (opt_budget && !(i % 256)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((double)(t1.tv_sec - t0.tv_sec) +
				    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >
			    opt_budget)
				break;
		}
		cur_frame = i;
		world_turn(i);
		if (chance(1, 10))
			warm_flow(p, &aux);
		len = gen(p, b, &ingress);
		go(p, ingress, b, len, &r, &own);
		if (p == FZ_XDP_UPLINK)
			chain(FZ_TC_UPLINK, &r, &aux);
		else if (p == FZ_XDP_FROM_POD &&
			 pod_of_ifindex(ingress) == POD_B)
			chain(FZ_TC_FROM_POD, &r, &aux);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message(
		"[  FUZZ    ] %s: %llu frames in %.2f s, %.0f frames/s%s\n",
		defs[p].name, (unsigned long long)n, secs, (double)n / secs,
		n < opt_frames ? " (the check slice's time was up)" : "");
	tally_print("its frames", &own);
	tally_print("requests before replies, tc behind XDP", &aux);
	if (np_icmp_seen)
		print_message(
			"[  FUZZ    ]   ICMP errors about NodePort flows SNATed to another node, translated: %llu\n",
			(unsigned long long)np_icmp_seen);
	if (np_local_icmp_seen)
		print_message(
			"[  FUZZ    ]   ICMP errors about NodePort flows to a local pod, translated: %llu\n",
			(unsigned long long)np_local_icmp_seen);
}

static void test_fuzz(void **state)
{
	const enum fz_prog *p = *state;

	fuzz(*p);
}

/* ---------------------------------------------------------------- main */

static int fz_setup(void **state)
{
	struct bpf_map *m = skel->maps.zh_trace;

	(void)state;
	trace = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE),
		     PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (trace == MAP_FAILED) {
		print_error("mmap zh_trace: %s\n", strerror(errno));
		return -1;
	}
	ncpu = libbpf_num_possible_cpus();
	meta_pass = has_meta();
	world_pods();
	world_services();
	world_snat();
	world_xsk();
	world_config(true, 0, 0);
	printf("test_bpf_pktfuzz: seed %#llx, %llu frames per program%s%s%s\n",
	       opt_seed, opt_frames,
	       opt_budget ? " (or what fits in the check slice's time)" : "",
	       opt_prog ? ", only " : "", opt_prog ? opt_prog : "");
	if (!has_csum_complete())
		printf("test_bpf_pktfuzz: this kernel cannot check skb->csum after a run (BPF_F_TEST_SKB_CHECKSUM_COMPLETE): tc runs without it\n");
	return 0;
}

static int fz_teardown(void **state)
{
	(void)state;
	if (trace && trace != MAP_FAILED)
		munmap((void *)trace, (size_t)sysconf(_SC_PAGESIZE));
	trace = NULL;
	return 0;
}

static const enum fz_prog progs_all[NR_FZ] = {
	FZ_TC_FROM_POD, FZ_XDP_FROM_POD, FZ_TC_UPLINK, FZ_XDP_UPLINK,
	FZ_XDP_POD,	FZ_XDP_POD_XSK,	 FZ_TC_POD,
};

static struct CMUnitTest fz_tests[NR_FZ];
static char fz_names[NR_FZ][64];

static int usage(const char *me)
{
	fprintf(stderr,
		"usage: %s [--frames N] [--seed S] [--prog NAME]\n"
		"  N frames per program and pass (default %d); S the seed (default %#llx);\n"
		"  NAME one of the programs only\n",
		me, FZ_CHECK_FRAMES, (unsigned long long)opt_seed);
	return 2;
}

int main(int argc, char **argv)
{
	static struct fixture_group groups[1];
	static struct fixture_suite suite = {
		.name = "test_bpf_pktfuzz",
		.groups = groups,
		.n_groups = 1,
		.trace = true,
	};
	size_t n = 0;

	for (int i = 1; i < argc; i++) {
		char *end = NULL;

		if (i + 1 < argc && !strcmp(argv[i], "--frames")) {
			opt_frames = strtoull(argv[++i], &end, 0);
			opt_budget = 0;
		} else if (i + 1 < argc && !strcmp(argv[i], "--seed")) {
			opt_seed = strtoull(argv[++i], &end, 0);
		} else if (i + 1 < argc && !strcmp(argv[i], "--prog")) {
			opt_prog = argv[++i];
			continue;
		} else {
			return usage(argv[0]);
		}
		if (!end || *end)
			return usage(argv[0]);
	}
	for (int p = 0; p < NR_FZ; p++) {
		if (opt_prog && strcmp(opt_prog, defs[p].name))
			continue;
		snprintf(fz_names[n], sizeof(fz_names[n]), "%s", defs[p].name);
		fz_tests[n] = (struct CMUnitTest){
			.name = fz_names[n],
			.test_func = test_fuzz,
			.initial_state = (void *)&progs_all[p],
		};
		n++;
	}
	if (!n)
		return usage(argv[0]);
	groups[0] =
		(struct fixture_group){ .name = "packets through every program",
					.tests = fz_tests,
					.n = n,
					.setup = fz_setup,
					.teardown = fz_teardown };
	return fixture_main(&suite, 1, argv);
}
