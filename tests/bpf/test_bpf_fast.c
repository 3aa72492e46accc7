// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_fast.c - the same-node fast path (bpf/zh_fast.bpf.c) through
 * BPF_PROG_TEST_RUN, table-driven like the kernel's prog_tests/xdp*.c and
 * Katran's fixtures: one struct literal per case, every case run through
 * both zh_tc_from_pod and zh_xdp_from_pod, asserting the verdict, the output
 * bytes and that exactly the expected zh_stats counters moved.
 *
 * The programs key the sender's identity on the ingress ifindex and
 * test_run resolves that ifindex to a real device, so main() moves into a
 * private network namespace and makes veth pairs there: the host-side ends
 * are the pods' host veths. Nothing outside that namespace is touched and
 * the namespace (with its links) goes away when the process exits.
 *
 * The latency hops (bpf/lib/lat.h) are tested the same way: a probe or a
 * sampled packet through the egress program, its output through the
 * pod-side program, and the histograms and flow stamps read back.
 *
 * AF_XDP steering (zh_xdp_pod_xsk) runs against an AF_XDP socket in
 * zh_xsks: test_run reports the redirect verdict without delivering.
 *
 * Exit 77 (skipped) when not run as root.
 */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
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
#include <net/if.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "zerohop.h"
#include "zh_fast.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define SKIP_EXIT 77
#define FRAME_MAX 512
#define DEFAULT_TTL 64
#define DEFAULT_PAYLOAD 32
#define ZERO (-1) /* struct frame.ttl, .ihl: a real 0, not the default */

/* Offsets in a frame, from the uapi structs (never cast a frame to them:
 * the L3 header sits at offset 14 and UBSan rightly flags such loads). */
#define ETH_DST offsetof(struct ethhdr, h_dest)
#define ETH_SRC offsetof(struct ethhdr, h_source)
#define ETH_PROTO offsetof(struct ethhdr, h_proto)
#define L3 ETH_HLEN
#define IP4_TTL (L3 + offsetof(struct iphdr, ttl))
#define IP4_PROTO (L3 + offsetof(struct iphdr, protocol))
#define IP4_CHECK (L3 + offsetof(struct iphdr, check))
#define IP4_SADDR (L3 + offsetof(struct iphdr, saddr))
#define IP4_DADDR (L3 + offsetof(struct iphdr, daddr))
#define IP6_HLIM (L3 + offsetof(struct ipv6hdr, hop_limit))
#define IP6_NEXTHDR (L3 + offsetof(struct ipv6hdr, nexthdr))
#define IP6_SADDR (L3 + offsetof(struct ipv6hdr, saddr))
#define IP6_DADDR (L3 + offsetof(struct ipv6hdr, daddr))
#define IP6_HLEN ((size_t)sizeof(struct ipv6hdr))
#define ARP_HLEN 28 /* Ethernet/IPv4 ARP body */
#define ICMP_HLEN 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_NS 135

/* ---------------------------------------------------------------- pods */

enum pod_id {
	POD_A,
	POD_B,
	POD_C, /* IPv6 only: zh_iface.flags without ZH_IFACE_F_V4 */
	NR_PODS,
};

/* An ingress that is a real device but not in zh_ifaces: A's pod end. */
#define FOREIGN NR_PODS

#define A4 "10.0.0.10"
#define B4 "10.0.0.11"
#define C4_MADE_UP "10.0.0.12" /* C owns no IPv4 address */
#define UNKNOWN4 "10.0.0.99" /* pod range, no endpoint */
#define OFFNODE4 "10.1.0.5"
#define NODE4 "192.0.2.1" /* the node's own address (on lo) */
#define A6 "fd00::a"
#define B6 "fd00::b"
#define C6 "fd00::c"
#define OFFNODE6 "fd00:1::5"
#define LL_A6 "fe80::a"
#define SNMC_B6 "ff02::1:ff00:b" /* solicited-node multicast of fd00::b */

struct pod {
	const char *host; /* host-side veth: the ingress of its frames */
	const char *peer; /* pod-side end (left in this netns) */
	__u8 mac[ETH_ALEN]; /* the pod's own MAC */
	__u8 gw_mac[ETH_ALEN]; /* set on the host veth: the pod's gateway */
	const char *ipv4, *ipv6; /* NULL: no identity of that family */
};

static const struct pod pods[NR_PODS] = {
	[POD_A] = {
		.host = "zht-a",
		.peer = "zht-a-pod",
		.mac = { 0x02, 0, 0, 0, 0x00, 0x0a },
		.gw_mac = { 0x02, 0, 0, 0, 0x01, 0x0a },
		.ipv4 = A4,
		.ipv6 = A6,
	},
	[POD_B] = {
		.host = "zht-b",
		.peer = "zht-b-pod",
		.mac = { 0x02, 0, 0, 0, 0x00, 0x0b },
		.gw_mac = { 0x02, 0, 0, 0, 0x01, 0x0b },
		.ipv4 = B4,
		.ipv6 = B6,
	},
	[POD_C] = {
		.host = "zht-c",
		.peer = "zht-c-pod",
		.mac = { 0x02, 0, 0, 0, 0x00, 0x0c },
		.gw_mac = { 0x02, 0, 0, 0, 0x01, 0x0c },
		.ipv6 = C6,
	},
};

#define MAC_A (pods[POD_A].mac)
#define MAC_B (pods[POD_B].mac)
static const __u8 mac_bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const __u8 mac_snmc_b[ETH_ALEN] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x0b };

/* Filled by links_make(). [FOREIGN] is A's pod-side end. */
static int ifindex_of[NR_PODS + 1];
static __u8 gw_mac_of[NR_PODS][ETH_ALEN]; /* read back from the kernel */
static struct zh_fast *skel;
/* What the kernel has (the probe, ZEROHOP_DISABLE_FEATURES applied), and
 * what this pass of the tests loaded the programs with (main()). */
static struct zh_kfeat kfeat_probed, kfeat;

static bool has_meta(void)
{
	return zh_kfeat_has(&kfeat, ZH_FEAT_XDP_META);
}

/* -------------------------------------------------------------- frames */

enum l3 {
	L3_IPV4 = 1,
	L3_IPV6,
	L3_ARP,
	L3_ETHERTYPE, /* just a header and payload */
};

/*
 * An input frame, built by frame_build() with valid IPv4 and L4 checksums.
 * Zero fields mean "the usual": sent by the ingress pod to its gateway.
 */
struct frame {
	enum l3 l3;
	const __u8 *src_mac; /* NULL: the ingress pod's MAC */
	const __u8 *dst_mac; /* NULL: the ingress pod's gateway MAC */
	const char *src, *dst; /* IP addresses; ARP: sender and target */
	__u8 proto; /* IPPROTO_UDP, _TCP, _ICMP or _ICMPV6 */
	__u8 icmp_type; /* 0: echo request */
	short ttl; /* TTL or hop limit; 0: 64, ZERO: 0 */
	short ihl; /* IPv4 header words; 0: 5, ZERO: 0, >5: NOP options */
	__u8 version; /* IP version nibble; 0: the one of @l3 */
	__u16 ethertype; /* 0: the one of @l3 */
	__u16 arp_op; /* 0: request */
	__u16 arp_ptype; /* 0: ETH_P_IP */
	const __u8 *arp_sha; /* NULL: the Ethernet source */
	__u16 payload; /* bytes after the L4 header; 0: 32 */
	__u16 ip_check; /* IPv4: this header checksum (the IP ID is chosen so
			 * that the header verifies); 0: the usual one */
	const struct zh_probe *probe; /* UDP: the payload starts with it */
	__u16 sport, dport; /* TCP/UDP; 0: 40000 and 53 (UDP) or 80 (TCP) */
	bool no_udp_csum; /* UDP over IPv4 without a checksum (0) */
};

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* RFC 1071: the one's complement sum of big-endian 16-bit words. */
static __u32 csum_add(__u32 sum, const void *buf, size_t len)
{
	const __u8 *p = buf;

	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (__u32)p[0] << 8;
	return sum;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The folded sum itself, not its complement. */
static __u16 csum_sum16(__u32 sum)
{
	return (__u16)~csum_fold(sum);
}

/* Sum of the pseudo-header for the L4 checksum of the IP packet at @l3. */
static __u32 pseudo_sum(const __u8 *frame, bool v6, __u8 proto, __u32 l4_len)
{
	__u32 sum = 0;

	if (v6) {
		sum = csum_add(sum, frame + IP6_SADDR, 32);
		sum += l4_len >> 16;
	} else {
		sum = csum_add(sum, frame + IP4_SADDR, 8);
	}
	return sum + (l4_len & 0xffff) + proto;
}

static void parse_addr(int af, const char *s, void *out)
{
	if (inet_pton(af, s, out) != 1) {
		fprintf(stderr, "bad address in a fixture: %s\n", s);
		abort();
	}
}

static const __u8 *default_mac(const __u8 *mac, int ingress, bool gw)
{
	int pod = ingress == FOREIGN ? POD_A : ingress;

	if (mac)
		return mac;
	return gw ? gw_mac_of[pod] : pods[pod].mac;
}

/* The L4 header and payload at @p; returns their length. */
static size_t l4_build(const struct frame *f, __u8 *p, bool v6)
{
	size_t hlen, payload = f->payload ? f->payload : DEFAULT_PAYLOAD;

	switch (f->proto) {
	case IPPROTO_UDP:
		hlen = sizeof(struct udphdr);
		put16(p, f->sport ? f->sport : 40000);
		put16(p + 2, f->dport ? f->dport : 53);
		put16(p + 4, (__u16)(hlen + payload));
		break;
	case IPPROTO_TCP:
		hlen = sizeof(struct tcphdr);
		put16(p, f->sport ? f->sport : 40000);
		put16(p + 2, f->dport ? f->dport : 80);
		put16(p + 4, 0x1234);
		put16(p + 6, 0x5678);
		p[12] = 5 << 4; /* data offset */
		p[13] = 0x18; /* PSH|ACK */
		put16(p + 14, 65535);
		break;
	default: /* ICMP, ICMPv6: an echo request unless told */
		hlen = ICMP_HLEN;
		p[0] = f->icmp_type ? f->icmp_type :
		       v6	    ? ICMPV6_ECHO_REQUEST :
				      8;
		put16(p + 4, 0x4242);
		put16(p + 6, 1);
		break;
	}
	for (size_t i = 0; i < payload; i++)
		p[hlen + i] = (__u8)(i * 7 + 3);
	if (f->probe && payload >= sizeof(*f->probe))
		memcpy(p + hlen, f->probe, sizeof(*f->probe));
	return hlen + payload;
}

/* Offset of the L4 checksum inside the L4 header. */
static size_t l4_check_off(__u8 proto)
{
	switch (proto) {
	case IPPROTO_UDP:
		return offsetof(struct udphdr, check);
	case IPPROTO_TCP:
		return offsetof(struct tcphdr, check);
	default:
		return 2;
	}
}

static void l4_checksum(__u8 *frame, size_t l4_off, size_t l4_len, bool v6,
			__u8 proto)
{
	__u8 *l4 = frame + l4_off;
	__u32 sum = 0;
	__u16 c;

	/* ICMPv4 alone has no pseudo-header. */
	if (proto != IPPROTO_ICMP)
		sum = pseudo_sum(frame, v6, proto, (__u32)l4_len);
	c = csum_fold(csum_add(sum, l4, l4_len));
	if (proto == IPPROTO_UDP && !c)
		c = 0xffff;
	put16(l4 + l4_check_off(proto), c);
}

static size_t ipv4_build(const struct frame *f, __u8 *b)
{
	__u8 ihl = f->ihl == ZERO ? 0 : f->ihl ? (__u8)f->ihl : 5;
	/* ihl < 5 is the malformed case: still lay out a whole header. */
	size_t hlen = (ihl < 5 ? 5 : ihl) * 4, l4_len;
	__u8 *ip = b + L3;

	ip[0] = (__u8)((f->version ? f->version : 4) << 4 | ihl);
	put16(ip + 4, 0x1c46); /* id */
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = f->ttl == ZERO ? 0 : f->ttl ? (__u8)f->ttl : DEFAULT_TTL;
	ip[9] = f->proto;
	parse_addr(AF_INET, f->src, ip + 12);
	parse_addr(AF_INET, f->dst, ip + 16);
	memset(ip + 20, 1, hlen - 20); /* options: NOP */
	l4_len = l4_build(f, ip + hlen, false);
	put16(ip + 2, (__u16)(hlen + l4_len));
	put16(ip + 10, csum_fold(csum_add(0, ip, ihl < 5 ? 20 : hlen)));
	if (f->ip_check) {
		/* The words but ID and checksum must sum to ~ip_check (a
		 * negative zero for 0xffff); the ID makes up the difference,
		 * one's complement subtraction being addition of ~x. */
		__u16 want = (__u16)(0xffff ^ f->ip_check), rest;

		if (!want)
			want = 0xffff;
		put16(ip + 4, 0);
		put16(ip + 10, 0);
		rest = csum_sum16(csum_add(0, ip, hlen));
		put16(ip + 4, csum_sum16((__u32)want + (__u16)~rest));
		put16(ip + 10, f->ip_check);
		if (csum_fold(csum_add(0, ip, hlen)))
			abort();
	}
	if (!(f->no_udp_csum && f->proto == IPPROTO_UDP))
		l4_checksum(b, L3 + hlen, l4_len, false, f->proto);
	return L3 + hlen + l4_len;
}

static size_t ipv6_build(const struct frame *f, __u8 *b)
{
	__u8 *ip6 = b + L3;
	size_t l4_len;

	ip6[0] = (__u8)((f->version ? f->version : 6) << 4);
	ip6[6] = f->proto;
	ip6[7] = f->ttl == ZERO ? 0 : f->ttl ? (__u8)f->ttl : DEFAULT_TTL;
	parse_addr(AF_INET6, f->src, ip6 + 8);
	parse_addr(AF_INET6, f->dst, ip6 + 24);
	l4_len = l4_build(f, ip6 + IP6_HLEN, true);
	put16(ip6 + 4, (__u16)l4_len);
	l4_checksum(b, L3 + IP6_HLEN, l4_len, true, f->proto);
	return L3 + IP6_HLEN + l4_len;
}

static size_t arp_build(const struct frame *f, __u8 *b)
{
	__u8 *arp = b + L3;

	put16(arp, 1); /* Ethernet */
	put16(arp + 2, f->arp_ptype ? f->arp_ptype : ETH_P_IP);
	arp[4] = ETH_ALEN;
	arp[5] = 4;
	put16(arp + 6, f->arp_op ? f->arp_op : 1);
	memcpy(arp + 8, f->arp_sha ? f->arp_sha : b + ETH_SRC, ETH_ALEN);
	parse_addr(AF_INET, f->src, arp + 14);
	parse_addr(AF_INET, f->dst, arp + 24);
	return L3 + ARP_HLEN;
}

/* Lay @f out in @b (FRAME_MAX bytes); returns the frame length. */
static size_t frame_build(const struct frame *f, int ingress, __u8 *b)
{
	static const __u16 types[L3_ETHERTYPE + 1] = {
		[L3_IPV4] = ETH_P_IP,
		[L3_IPV6] = ETH_P_IPV6,
		[L3_ARP] = ETH_P_ARP,
	};
	size_t len;

	memset(b, 0, FRAME_MAX);
	memcpy(b + ETH_DST, default_mac(f->dst_mac, ingress, true), ETH_ALEN);
	memcpy(b + ETH_SRC, default_mac(f->src_mac, ingress, false), ETH_ALEN);
	put16(b + ETH_PROTO, f->ethertype ? f->ethertype : types[f->l3]);
	switch (f->l3) {
	case L3_IPV4:
		len = ipv4_build(f, b);
		break;
	case L3_IPV6:
		len = ipv6_build(f, b);
		break;
	case L3_ARP:
		len = arp_build(f, b);
		break;
	default:
		len = L3 + (f->payload ? f->payload : DEFAULT_PAYLOAD);
		for (size_t i = L3; i < len; i++)
			b[i] = (__u8)i;
		break;
	}
	if (len > FRAME_MAX)
		abort();
	return len;
}

/* ------------------------------------------------------------- running */

enum prog {
	PROG_TC,
	PROG_XDP,
	NR_PROGS,
};

static const char *const prog_names[NR_PROGS] = {
	[PROG_TC] = "tc",
	[PROG_XDP] = "xdp",
};

enum verdict {
	PASS,
	DROP,
	REDIRECT,
};

static const int verdict_codes[NR_PROGS][3] = {
	[PROG_TC] = { [PASS] = TC_ACT_OK,
		      [DROP] = TC_ACT_SHOT,
		      [REDIRECT] = TC_ACT_REDIRECT },
	[PROG_XDP] = { [PASS] = XDP_PASS,
		       [DROP] = XDP_DROP,
		       [REDIRECT] = XDP_REDIRECT },
};

static const char *const verdict_names[] = {
	[PASS] = "pass",
	[DROP] = "drop",
	[REDIRECT] = "redirect",
};

struct run {
	int err; /* of bpf_prog_test_run_opts() */
	__u32 retval;
	__u8 out[FRAME_MAX];
	__u32 out_len;
	struct zh_counter delta[ZH_STAT_MAX];
};

static void hexdump(const char *what, const __u8 *b, size_t len)
{
	print_error("%s (%zu bytes):", what, len);
	for (size_t i = 0; i < len; i++)
		print_error("%s%02x", i % 16 ? " " : "\n  ", b[i]);
	print_error("\n");
}

/* The frame a test is looking at, printed with any failure: in the loops
 * over lengths and garbage it says which one failed. */
static struct {
	char what[96];
	const __u8 *frame;
	__u32 len;
} cur;

static void cur_set(const __u8 *frame, __u32 len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cur_set(const __u8 *frame, __u32 len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cur.what, sizeof(cur.what), fmt, ap);
	va_end(ap);
	cur.frame = frame;
	cur.len = len;
}

static void fail_here(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void fail_here(const char *fmt, ...)
{
	va_list ap;

	if (cur.what[0])
		print_error("%s\n", cur.what);
	if (cur.frame)
		hexdump("input", cur.frame, cur.len);
	va_start(ap, fmt);
	vprint_error(fmt, ap);
	va_end(ap);
	print_error("\n");
	fail();
	__builtin_unreachable(); /* _fail() longjmps out of the test */
}

static void stats_read(struct zh_counter c[ZH_STAT_MAX])
{
	struct zh_objs o = { .stats_fd = bpf_map__fd(skel->maps.zh_stats) };
	int err = zh_stats_read(&o, c);

	if (err)
		fail_here("zh_stats_read: %s", strerror(-err));
}

/* One frame through program @p (XDP or tc) arriving on device @ifindex. */
static void run_prog(struct bpf_program *p, int ifindex, const __u8 *frame,
		     __u32 len, struct run *r)
{
	struct zh_counter before[ZH_STAT_MAX], after[ZH_STAT_MAX];
	/* tc: test_run hands ->ifindex to eth_type_trans() as skb->dev, which
	 * is what skb->ifindex reads; ->ingress_ifindex becomes skb_iif, as
	 * on a real ingress. */
	struct __sk_buff skb = { .ifindex = ifindex,
				 .ingress_ifindex = ifindex };
	/* XDP: data_end must equal the frame length; rx queue 0 of the device
	 * becomes xdp->rxq, which is what ingress_ifindex reads. */
	struct xdp_md xdp = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = r->out,
		    .data_size_out = sizeof(r->out), .repeat = 1);

	if (bpf_program__type(p) == BPF_PROG_TYPE_XDP) {
		opts.ctx_in = &xdp;
		opts.ctx_size_in = sizeof(xdp);
	} else {
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	stats_read(before);
	r->err = bpf_prog_test_run_opts(bpf_program__fd(p), &opts);
	stats_read(after);
	r->retval = opts.retval;
	r->out_len = opts.data_size_out;
	for (int s = 0; s < ZH_STAT_MAX; s++) {
		r->delta[s].packets = after[s].packets - before[s].packets;
		r->delta[s].bytes = after[s].bytes - before[s].bytes;
	}
}

static void run_frame(enum prog prog, int ifindex, const __u8 *frame, __u32 len,
		      struct run *r)
{
	run_prog(prog == PROG_TC ? skel->progs.zh_tc_from_pod :
				   skel->progs.zh_xdp_from_pod,
		 ifindex, frame, len, r);
}

/* Every counter moved by exactly @want packets, each of @len bytes. */
static void assert_deltas(const struct run *r, const __u64 want[ZH_STAT_MAX],
			  __u32 len)
{
	bool ok = true;

	for (int s = 0; s < ZH_STAT_MAX; s++) {
		if (r->delta[s].packets == want[s] &&
		    r->delta[s].bytes == want[s] * len)
			continue;
		print_error(
			"counter %s moved +%llu packets +%llu bytes, want +%llu packets +%llu bytes\n",
			zh_stat_name(s),
			(unsigned long long)r->delta[s].packets,
			(unsigned long long)r->delta[s].bytes,
			(unsigned long long)want[s],
			(unsigned long long)(want[s] * len));
		ok = false;
	}
	if (!ok)
		fail_here("counters differ");
}

static void assert_verdict(enum prog prog, const struct run *r,
			   enum verdict want)
{
	if (r->err)
		fail_here("test_run failed: %s", strerror(-r->err));
	if ((int)r->retval != verdict_codes[prog][want])
		fail_here("%s verdict %u, want %d (%s)", prog_names[prog],
			  r->retval, verdict_codes[prog][want],
			  verdict_names[want]);
}

static void assert_bytes(const __u8 *want, __u32 len, const struct run *r)
{
	if (r->out_len == len && !memcmp(r->out, want, len))
		return;
	hexdump("expected output", want, len);
	hexdump("output", r->out, r->out_len);
	fail_here("output bytes differ");
}

static void assert_unchanged(const __u8 *in, __u32 len, const struct run *r)
{
	assert_bytes(in, len, r);
}

/* The L4 checksum of the complete packet in @b verifies (RFC 1071). */
static void assert_l4_csum(const __u8 *b, __u32 len, bool v6)
{
	size_t l3_len = v6 ? IP6_HLEN : (size_t)(b[L3] & 0xf) * 4;
	__u8 proto = v6 ? b[IP6_NEXTHDR] : b[IP4_PROTO];
	size_t l4_len = len - L3 - l3_len;
	__u32 sum = 0;

	if (proto != IPPROTO_ICMP)
		sum = pseudo_sum(b, v6, proto, (__u32)l4_len);
	if (csum_fold(csum_add(sum, b + L3 + l3_len, l4_len)))
		fail_here("L4 checksum of the output does not verify");
}

/*
 * Routed to pod @to: destination MAC the pod's, source MAC its gateway's
 * (as written to the endpoint), TTL or hop limit one less, an IPv4 header
 * checksum that verifies, and every other byte as it came in. @whole: the
 * packet is complete, so its L4 checksum can be checked as well.
 */
static void assert_routed(const __u8 *in, __u32 len, const struct run *r,
			  int to, bool whole)
{
	__u8 want[FRAME_MAX];
	bool v6 = get16(in + ETH_PROTO) == ETH_P_IPV6;

	if (r->out_len != len)
		fail_here("output is %u bytes, want %u", r->out_len, len);
	memcpy(want, in, len);
	memcpy(want + ETH_DST, pods[to].mac, ETH_ALEN);
	memcpy(want + ETH_SRC, gw_mac_of[to], ETH_ALEN);
	if (v6) {
		want[IP6_HLIM]--;
	} else {
		/* The header as far as the frame holds it (garbage may claim
		 * options that are not there). */
		size_t hlen = (size_t)(in[L3] & 0xf) * 4;
		__u16 sum_in, sum_out;

		if (hlen > len - L3)
			hlen = len - L3;
		/* ~sum over the header: 0 when it verifies */
		sum_in = csum_fold(csum_add(0, in + L3, hlen));
		sum_out = csum_fold(csum_add(0, r->out + L3, hlen));
		want[IP4_TTL]--;
		/* A header that verified must still verify. One that did not
		 * (garbage) must keep its sum: the update is incremental. In
		 * one's complement 0x0000 and 0xffff are both zero. */
		if (!sum_in && sum_out)
			fail_here("IPv4 header checksum %#06x does not verify",
				  get16(r->out + IP4_CHECK));
		if (sum_in != sum_out && (sum_in % 0xffff || sum_out % 0xffff))
			fail_here(
				"IPv4 header checksum %#06x: sum %#06x, was %#06x",
				get16(r->out + IP4_CHECK), sum_out, sum_in);
		/* Whichever encoding of the sum it chose: compared above. */
		memcpy(want + IP4_CHECK, r->out + IP4_CHECK, 2);
	}
	assert_bytes(want, len, r);
	if (whole)
		assert_l4_csum(r->out, len, v6);
}

/* ------------------------------------------------------------ fixtures */

#define UNCHANGED 0
#define ROUTED_TO(pod) (1 + (pod))

struct fast_case {
	const char *desc;
	struct frame in;
	int ingress; /* enum pod_id, or FOREIGN */
	enum verdict verdict;
	int out; /* UNCHANGED or ROUTED_TO(pod) */
	__u64 delta[ZH_STAT_MAX]; /* counter -> packets it gains */
};

static const struct fast_case cases[] = {
	/* Routed between pods of this node. */
	{
		.desc = "IPv4 UDP A->B is routed to B",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 TCP B->A is routed to A",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_TCP,
			.src = B4,
			.dst = A4 },
		.ingress = POD_B,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_A),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 ICMP A->B with TTL 2 leaves with TTL 1",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_ICMP,
			.src = A4,
			.dst = B4,
			.ttl = 2 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 UDP A->B with TTL 255",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ttl = 255 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		/* Stored little-endian that is 0xffff: the incremental update
		 * overflows and needs its end-around carry. */
		.desc = "IPv4 A->B with header checksum 0xffff (-0) is routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ip_check = 0xffff },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 A->B with header checksum 0xfeff is routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ip_check = 0xfeff },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 A->B with header checksum 0x0001 is routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ip_check = 0x0001 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv4 with options (ihl 6) A->B goes to the kernel",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ihl = 6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_IP_OPTIONS] = 1 },
	},
	{
		.desc = "IPv4 A->B not addressed to the gateway MAC is not routed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_TO_GW] = 1 },
	},
	{
		.desc = "IPv6 A->B sent to B's pod MAC is not routed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.dst_mac = pods[POD_B].mac,
			.src = A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_TO_GW] = 1 },
	},
	{
		.desc = "IPv6 TCP A->B is routed to B",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv6 UDP A->C (IPv6-only pod) is routed to C",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = A6,
			.dst = C6 },
		.ingress = POD_A,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_C),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},
	{
		.desc = "IPv6 ICMPv6 echo C->B with hop limit 2",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_ICMPV6,
			.src = C6,
			.dst = B6,
			.ttl = 2 },
		.ingress = POD_C,
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.delta = { [ZH_STAT_REDIRECT] = 1 },
	},

	/* Handed to the kernel unchanged. */
	{
		.desc = "IPv4 A->unknown pod address passes (no endpoint)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = UNKNOWN4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv4 A->off-node address passes (no endpoint)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_TCP,
			.src = A4,
			.dst = OFFNODE4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv6 A->off-node address passes (no endpoint)",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = OFFNODE6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv4 A->off-node with TTL 1 passes as no endpoint",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = OFFNODE4,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_ENDPOINT] = 1 },
	},
	{
		.desc = "IPv4 A->B with TTL 1 passes (the kernel answers)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_TTL] = 1 },
	},
	{
		.desc = "IPv4 A->B with TTL 0 passes",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ttl = ZERO },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_TTL] = 1 },
	},
	{
		.desc = "IPv6 A->B with hop limit 1 passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_TTL] = 1 },
	},
	{
		.desc = "ARP request from A with its own IP and MAC passes",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "ARP reply from A passes",
		.in = { .l3 = L3_ARP,
			.arp_op = 2,
			.src = A4,
			.dst = "10.0.0.1" },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "ARP probe from A (sender 0.0.0.0) passes",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = "0.0.0.0",
			.dst = A4 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "ARP probe from C (no IPv4 identity) passes",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = "0.0.0.0",
			.dst = C4_MADE_UP },
		.ingress = POD_C,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "LLDP from A passes as not IP",
		.in = { .l3 = L3_ETHERTYPE,
			.ethertype = 0x88cc,
			.dst_mac = (const __u8[]){ 0x01, 0x80, 0xc2, 0, 0,
						   0x0e } },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NOT_IP] = 1 },
	},
	{
		.desc = "IPv6 neighbour solicitation from fe80::a passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_ICMPV6,
			.icmp_type = ICMPV6_NS,
			.ttl = 255,
			.dst_mac = mac_snmc_b,
			.src = LL_A6,
			.dst = SNMC_B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv6 DAD from :: passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_ICMPV6,
			.icmp_type = ICMPV6_NS,
			.ttl = 255,
			.dst_mac = mac_snmc_b,
			.src = "::",
			.dst = SNMC_B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv6 link-local source to B's address passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = LL_A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv6 from febf::a (still fe80::/10) passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = "febf::a",
			.dst = B6 },
		.ingress = POD_A,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_LINK_LOCAL] = 1 },
	},
	{
		.desc = "IPv4 on a device not in zh_ifaces passes",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4 },
		.ingress = FOREIGN,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_IFACE] = 1 },
	},
	{
		.desc = "IPv6 on a device not in zh_ifaces passes",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6 },
		.ingress = FOREIGN,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_IFACE] = 1 },
	},
	{
		.desc = "any MAC on a device not in zh_ifaces passes",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src_mac = MAC_B,
			.src = B4,
			.dst = A4 },
		.ingress = FOREIGN,
		.verdict = PASS,
		.delta = { [ZH_STAT_PASS_NO_IFACE] = 1 },
	},

	/* Dropped, with a reason. */
	{
		.desc = "IPv4 A->B with B's source IP drops as spoofed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = B4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 from A with source 0.0.0.0 drops as spoofed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = "0.0.0.0",
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 spoofed source to off-node drops (checked first)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = "192.0.2.1",
			.dst = OFFNODE4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 spoofed source with TTL 1 drops (checked first)",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = B4,
			.dst = B4,
			.ttl = 1 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 from A with B's source MAC drops",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src_mac = MAC_B,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "IPv6 A->B with B's source IP drops as spoofed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = B6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv6 from fec0::a (outside fe80::/10) drops as spoofed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = "fec0::a",
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv6 from ::1 (not unspecified) drops as spoofed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_UDP,
			.src = "::1",
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv6 from A with B's source MAC drops",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src_mac = MAC_B,
			.src = A6,
			.dst = B6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "ARP from A with B's sender IP drops as spoofed",
		.in = { .l3 = L3_ARP,
			.arp_op = 2,
			.src = B4,
			.dst = "10.0.0.1" },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "ARP from A with B's sender MAC drops",
		.in = { .l3 = L3_ARP,
			.arp_sha = MAC_B,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "ARP from A's port with B's Ethernet source drops",
		.in = { .l3 = L3_ARP,
			.src_mac = MAC_B,
			.arp_sha = MAC_A,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "LLDP from A's port with B's MAC drops",
		.in = { .l3 = L3_ETHERTYPE,
			.ethertype = 0x88cc,
			.src_mac = MAC_B },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_MAC] = 1 },
	},
	{
		.desc = "IPv4 from C (no IPv4 identity) with 0.0.0.0 drops",
		/* 0.0.0.0 equals C's unset zh_iface.ipv4: only the flag
		 * tells that C has no IPv4 address. */
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = "0.0.0.0",
			.dst = B4 },
		.ingress = POD_C,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 from C (no IPv4 identity) to B drops as spoofed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = C4_MADE_UP,
			.dst = B4 },
		.ingress = POD_C,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "ARP from C (no IPv4 identity) with a sender IP drops",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = C4_MADE_UP,
			.dst = B4 },
		.ingress = POD_C,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_SPOOF_IP] = 1 },
	},
	{
		.desc = "IPv4 with ihl 4 drops as malformed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ihl = 4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv4 with ihl 0 drops as malformed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.ihl = ZERO },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv4 ethertype with version 6 drops as malformed",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.version = 6 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "IPv6 ethertype with version 4 drops as malformed",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6,
			.version = 4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
	{
		.desc = "ARP for a non-IPv4 protocol drops as malformed",
		.in = { .l3 = L3_ARP,
			.arp_ptype = ETH_P_IPV6,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.ingress = POD_A,
		.verdict = DROP,
		.delta = { [ZH_STAT_DROP_MALFORMED] = 1 },
	},
};

struct case_run {
	const struct fast_case *c;
	enum prog prog;
};

static void test_case(void **state)
{
	const struct case_run *cr = *state;
	const struct fast_case *c = cr->c;
	__u8 in[FRAME_MAX];
	__u32 len = (__u32)frame_build(&c->in, c->ingress, in);
	struct run r;

	cur_set(in, len, "%s", c->desc);
	run_frame(cr->prog, ifindex_of[c->ingress], in, len, &r);
	assert_verdict(cr->prog, &r, c->verdict);
	if (c->out == UNCHANGED)
		assert_unchanged(in, len, &r);
	else
		assert_routed(in, len, &r, c->out - 1, true);
	assert_deltas(&r, c->delta, len);
}

/* --------------------------------------------------- truncated frames */

struct trunc_case {
	const char *desc;
	struct frame in;
	__u32 need; /* bytes the program reads before it decides */
	enum verdict verdict; /* with @need bytes or more */
	int out;
	enum zh_stat stat;
};

static const struct trunc_case trunc_cases[] = {
	{
		.desc = "IPv4 UDP A->B",
		.in = { .l3 = L3_IPV4,
			.proto = IPPROTO_UDP,
			.src = A4,
			.dst = B4,
			.payload = 4 },
		.need = L3 + sizeof(struct iphdr),
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.stat = ZH_STAT_REDIRECT,
	},
	{
		.desc = "IPv6 TCP A->B",
		.in = { .l3 = L3_IPV6,
			.proto = IPPROTO_TCP,
			.src = A6,
			.dst = B6,
			.payload = 4 },
		.need = L3 + sizeof(struct ipv6hdr),
		.verdict = REDIRECT,
		.out = ROUTED_TO(POD_B),
		.stat = ZH_STAT_REDIRECT,
	},
	{
		.desc = "ARP request from A",
		.in = { .l3 = L3_ARP,
			.dst_mac = mac_bcast,
			.src = A4,
			.dst = B4 },
		.need = L3 + ARP_HLEN,
		.verdict = PASS,
		.stat = ZH_STAT_PASS_NOT_IP,
	},
};

struct trunc_run {
	const struct trunc_case *c;
	enum prog prog;
};

/*
 * Frames test_run refuses (-EINVAL) before the program runs: any shorter
 * than an Ethernet header (bpf_test_init()), and for skb programs on this
 * kernel (6.18) an IPv4 or IPv6 frame shorter than its fixed network
 * header, as seen when these tests were written. Such a frame cannot reach
 * the tc program's own bounds checks here.
 */
static bool refusable(enum prog prog, const __u8 *in, __u32 len)
{
	if (len < ETH_HLEN)
		return true;
	if (prog != PROG_TC)
		return false;
	switch (get16(in + ETH_PROTO)) {
	case ETH_P_IP:
		return len < L3 + sizeof(struct iphdr);
	case ETH_P_IPV6:
		return len < L3 + sizeof(struct ipv6hdr);
	default:
		return false;
	}
}

/* A refusable frame: refused with nothing counted, or run, counted as
 * malformed and dropped. */
static void assert_runt(enum prog prog, const struct run *r, __u32 len)
{
	__u64 none[ZH_STAT_MAX] = { 0 };
	__u64 malformed[ZH_STAT_MAX] = { [ZH_STAT_DROP_MALFORMED] = 1 };

	if (r->err) {
		if (r->err != -EINVAL)
			fail_here("test_run: %s, want EINVAL",
				  strerror(-r->err));
		assert_deltas(r, none, len);
	} else {
		assert_verdict(prog, r, DROP);
		assert_unchanged(cur.frame, len, r);
		assert_deltas(r, malformed, len);
	}
}

/* Every length from 0 to the whole frame, through the program. */
static void test_truncated(void **state)
{
	const struct trunc_run *tr = *state;
	const struct trunc_case *c = tr->c;
	__u8 in[FRAME_MAX];
	__u32 full = (__u32)frame_build(&c->in, POD_A, in);

	memset(&cur, 0, sizeof(cur));

	for (__u32 len = 0; len <= full; len++) {
		__u64 want[ZH_STAT_MAX] = { 0 };
		struct run r;

		cur_set(in, len, "%s cut to %u of %u bytes", c->desc, len,
			full);
		run_frame(tr->prog, ifindex_of[POD_A], in, len, &r);
		if (refusable(tr->prog, in, len)) {
			assert_runt(tr->prog, &r, len);
			continue;
		}
		if (len < c->need) {
			assert_verdict(tr->prog, &r, DROP);
			assert_unchanged(in, len, &r);
			want[ZH_STAT_DROP_MALFORMED] = 1;
		} else {
			assert_verdict(tr->prog, &r, c->verdict);
			if (c->out == UNCHANGED)
				assert_unchanged(in, len, &r);
			else
				assert_routed(in, len, &r, c->out - 1,
					      len == full);
			want[c->stat] = 1;
		}
		assert_deltas(&r, want, len);
	}
}

/* ------------------------------------------------------ garbage frames */

#define GARBAGE_SEED 0x7a65726f686f70ULL /* "zerohop" */
#define GARBAGE_FRAMES 300

enum garbage {
	GARBAGE_RANDOM, /* random bytes, random length */
	GARBAGE_FROM_A, /* A's Ethernet header and IP source, random rest */
	GARBAGE_MUTATED, /* a valid frame from A with bytes flipped, cut */
	NR_GARBAGE,
};

static const char *const garbage_names[NR_GARBAGE] = {
	[GARBAGE_RANDOM] = "random bytes",
	[GARBAGE_FROM_A] = "random L3 behind A's Ethernet header",
	[GARBAGE_MUTATED] = "mutated and cut valid frames",
};

struct garbage_run {
	enum garbage kind;
	enum prog prog;
};

/* splitmix64: the same sequence on every machine. */
static __u64 rnd(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u32 rnd_below(__u64 *s, __u32 n)
{
	return (__u32)(rnd(s) % n);
}

static void rnd_fill(__u64 *s, __u8 *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (__u8)rnd(s);
}

static const char *const local_addrs[] = { A4, B4, UNKNOWN4, OFFNODE4 };
static const char *const local_addrs6[] = { A6, B6, C6, OFFNODE6, LL_A6 };

static __u32 garbage_from_a(__u64 *s, __u8 *b)
{
	static const __u16 types[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_ARP };
	__u32 len = ETH_HLEN + rnd_below(s, 100);
	__u16 type = types[rnd_below(s, ARRAY_SIZE(types))];

	rnd_fill(s, b, len);
	memcpy(b + ETH_DST, gw_mac_of[POD_A], ETH_ALEN);
	memcpy(b + ETH_SRC, pods[POD_A].mac, ETH_ALEN);
	put16(b + ETH_PROTO, type);
	/* Mostly a plausible version and A's own source, so the frame gets
	 * past anti-spoofing to the lookup and TTL paths. */
	if (type == ETH_P_IP && len > IP4_DADDR + 4 && rnd_below(s, 4)) {
		b[L3] = 0x45;
		parse_addr(AF_INET, A4, b + IP4_SADDR);
		parse_addr(AF_INET,
			   local_addrs[rnd_below(s, ARRAY_SIZE(local_addrs))],
			   b + IP4_DADDR);
	} else if (type == ETH_P_IPV6 && len > IP6_DADDR + 16 &&
		   rnd_below(s, 4)) {
		b[L3] = 0x60;
		parse_addr(AF_INET6, A6, b + IP6_SADDR);
		parse_addr(AF_INET6,
			   local_addrs6[rnd_below(s, ARRAY_SIZE(local_addrs6))],
			   b + IP6_DADDR);
	}
	return len;
}

static __u32 garbage_mutated(__u64 *s, __u8 *b)
{
	static const struct frame bases[] = {
		{ .l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4 },
		{ .l3 = L3_IPV6, .proto = IPPROTO_TCP, .src = A6, .dst = B6 },
		{ .l3 = L3_ARP, .src = A4, .dst = B4 },
	};
	__u32 len = (__u32)frame_build(&bases[rnd_below(s, ARRAY_SIZE(bases))],
				       POD_A, b);
	__u32 flips = 1 + rnd_below(s, 4);

	while (flips--)
		b[rnd_below(s, len)] ^= (__u8)(1 + rnd_below(s, 255));
	if (!rnd_below(s, 3))
		len = rnd_below(s, len + 1);
	return len;
}

/* Which pod owns the destination of the IP packet in @b, or -1. */
static int pod_of_dst(const __u8 *b)
{
	for (int p = 0; p < NR_PODS; p++) {
		__u8 a[16];

		if (get16(b + ETH_PROTO) == ETH_P_IP && pods[p].ipv4) {
			parse_addr(AF_INET, pods[p].ipv4, a);
			if (!memcmp(a, b + IP4_DADDR, 4))
				return p;
		} else if (get16(b + ETH_PROTO) == ETH_P_IPV6) {
			parse_addr(AF_INET6, pods[p].ipv6, a);
			if (!memcmp(a, b + IP6_DADDR, 16))
				return p;
		}
	}
	return -1;
}

/*
 * Whatever comes in: no crash, one counter moves by exactly one packet,
 * the verdict is the one that counter stands for, and a frame that is not
 * redirected leaves exactly as it came.
 */
static void assert_sane(enum prog prog, const __u8 *in, __u32 len,
			const struct run *r)
{
	__u64 want[ZH_STAT_MAX] = { 0 };
	enum verdict v;
	int stat = -1;

	if (refusable(prog, in, len)) {
		assert_runt(prog, r, len);
		return;
	}
	if (r->err)
		fail_here("test_run failed: %s", strerror(-r->err));
	for (int s = 0; s < ZH_STAT_MAX; s++)
		if (r->delta[s].packets)
			stat = s;
	if (stat < 0)
		fail_here("no counter moved");
	want[stat] = 1;
	assert_deltas(r, want, len);
	v = stat == ZH_STAT_REDIRECT	 ? REDIRECT :
	    zh_stat_is_drop_reason(stat) ? DROP :
					   PASS;
	assert_verdict(prog, r, v);
	if (v != REDIRECT) {
		assert_unchanged(in, len, r);
		return;
	}
	if (pod_of_dst(in) < 0)
		fail_here("redirected a frame for no local pod");
	assert_routed(in, len, r, pod_of_dst(in), false);
}

static void test_garbage(void **state)
{
	const struct garbage_run *gr = *state;
	__u64 seed = GARBAGE_SEED + gr->kind;
	__u64 seen[ZH_STAT_MAX] = { 0 };

	memset(&cur, 0, sizeof(cur));

	for (int i = 0; i < GARBAGE_FRAMES; i++) {
		__u8 in[FRAME_MAX];
		int ingress = POD_A;
		__u32 len;
		struct run r;

		switch (gr->kind) {
		case GARBAGE_RANDOM:
			len = rnd_below(&seed, 128);
			rnd_fill(&seed, in, len);
			/* Now and then from a port that is not a pod's. */
			ingress = rnd_below(&seed, 4) ? POD_A : FOREIGN;
			break;
		case GARBAGE_FROM_A:
			len = garbage_from_a(&seed, in);
			break;
		default:
			len = garbage_mutated(&seed, in);
			break;
		}
		cur_set(in, len, "%s frame %d (seed %#llx), ingress %d",
			garbage_names[gr->kind], i,
			(unsigned long long)(GARBAGE_SEED + gr->kind),
			ifindex_of[ingress]);
		run_frame(gr->prog, ifindex_of[ingress], in, len, &r);
		assert_sane(gr->prog, in, len, &r);
		for (int s = 0; s < ZH_STAT_MAX; s++)
			seen[s] += r.delta[s].packets;
	}
	for (int s = 0; s < ZH_STAT_MAX; s++)
		if (seen[s])
			print_message("  %s: %llu\n", zh_stat_name(s),
				      (unsigned long long)seen[s]);
}

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

/* ------------------------------------------------------------- latency */

static struct zh_objs lat_objs(void)
{
	return (struct zh_objs){
		.config_fd = bpf_map__fd(skel->maps.zh_config),
		.lat_fd = bpf_map__fd(skel->maps.zh_lat),
		.lat_flows_fd = bpf_map__fd(skel->maps.zh_lat_flows),
	};
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* Latency configured as given, every histogram and stamp cleared. */
static void lat_setup(__u32 flags, __u32 sample_every)
{
	struct zh_config cfg = { .flags = flags, .sample_every = sample_every };
	struct zh_objs o = lat_objs();
	int err = zh_lat_reset(&o);

	if (!err)
		err = zh_config_set(&o, &cfg);
	if (err)
		fail_here("latency setup: %s", strerror(-err));
}

/* Restore the fast-path tests' world: latency off. */
static int lat_teardown(void **state)
{
	struct zh_config off = { 0 };
	struct zh_objs o = lat_objs();

	(void)state;
	return zh_lat_reset(&o) || zh_config_set(&o, &off);
}

static struct zh_hist lat_hist(int hop, int src)
{
	struct zh_objs o = lat_objs();
	struct zh_hist h;
	int err = zh_lat_read(&o, hop, src, &h);

	if (err)
		fail_here("zh_lat_read: %s", strerror(-err));
	return h;
}

/* Exactly @want values in slot (@hop, @src), all in [@lo, @hi] ns; every
 * other slot empty. */
static void assert_lat_only(int hop, int src, __u64 want, __u64 lo, __u64 hi)
{
	for (int h = 0; h < ZH_HOP_MAX; h++) {
		for (int s = 0; s < ZH_LAT_SRC_MAX; s++) {
			struct zh_hist got = lat_hist(h, s);
			__u64 n = h == hop && s == src ? want : 0;

			if (got.count != n)
				fail_here("%s/%s: %llu values, want %llu",
					  zh_hop_name(h), zh_lat_src_name(s),
					  (unsigned long long)got.count,
					  (unsigned long long)n);
			if (n && (got.max_ns > hi || got.sum_ns < lo * n))
				fail_here(
					"%s/%s: sum %llu max %llu ns, want each in [%llu, %llu]",
					zh_hop_name(h), zh_lat_src_name(s),
					(unsigned long long)got.sum_ns,
					(unsigned long long)got.max_ns,
					(unsigned long long)lo,
					(unsigned long long)hi);
		}
	}
}

static void assert_no_lat(void)
{
	assert_lat_only(0, 0, 0, 0, 0);
}

static int lat_flows_count(void)
{
	int fd = bpf_map__fd(skel->maps.zh_lat_flows), n = 0;
	struct zh_flow_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* The one stamp there is; fails unless there is exactly one. */
static void lat_stamp(struct zh_flow_key *key, struct zh_lat_stamp *st)
{
	int fd = bpf_map__fd(skel->maps.zh_lat_flows);

	if (lat_flows_count() != 1)
		fail_here("%d flow stamps, want 1", lat_flows_count());
	if (bpf_map_get_next_key(fd, NULL, key) ||
	    bpf_map_lookup_elem(fd, key, st))
		fail_here("reading the stamp: %s", strerror(errno));
}

static void run_pod_side(enum prog prog, const __u8 *frame, __u32 len)
{
	struct bpf_program *p = prog == PROG_TC ? skel->progs.zh_tc_pod :
						  skel->progs.zh_xdp_pod;
	struct run r;

	run_prog(p, ifindex_of[FOREIGN], frame, len, &r);
	if (r.err)
		fail_here("test_run of the pod-side program: %s",
			  strerror(-r.err));
	if (prog == PROG_TC ? (int)r.retval != TC_ACT_UNSPEC :
			      r.retval != XDP_PASS)
		fail_here("pod-side verdict %u, want next/pass", r.retval);
	if (r.out_len != len || memcmp(r.out, frame, len))
		fail_here("the pod-side program changed the frame");
}

#define LAT_AGE 5000ULL /* the probes' age when they reach the egress hop */
#define LAT_BOUND 1000000000ULL /* a test_run takes far less than 1 s */

struct lat_case {
	const char *desc;
	enum l3 l3;
	const char *dst;
	__u8 proto;
	bool probe; /* carries struct zh_probe, sent LAT_AGE ns ago */
	__u32 flags, sample_every; /* zh_config */
	enum verdict verdict; /* of the egress program */
	int stamp_hop; /* -1: no stamp; else hop recorded at the pod */
	int stamp_src;
	const char *src; /* NULL: pod A's own address */
};

#define PROBES ZH_CFG_F_PROBES
#define NO_STAMP .stamp_hop = -1

static const struct lat_case lat_cases[] = {
	{ "latency off: a probe leaves no trace", L3_IPV4, B4, IPPROTO_UDP,
	  .probe = true, .verdict = REDIRECT, NO_STAMP },
	{ "probe redirected: egress, then deliver", L3_IPV4, B4, IPPROTO_UDP,
	  .probe = true, .flags = PROBES, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_PROBE },
	{ "IPv6 probe redirected: egress, then deliver", L3_IPV6, B6,
	  IPPROTO_UDP, .probe = true, .flags = PROBES, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_PROBE },
	{ "probe passed to the kernel: egress, then kernel", L3_IPV4, UNKNOWN4,
	  IPPROTO_UDP, .probe = true, .flags = PROBES, .verdict = PASS,
	  .stamp_hop = ZH_HOP_KERNEL, .stamp_src = ZH_LAT_PROBE },
	{ "probes on: plain UDP is not stamped", L3_IPV4, B4, IPPROTO_UDP,
	  .flags = PROBES, .verdict = REDIRECT, NO_STAMP },
	{ "sampling 1 in 1: TCP stamped, then deliver", L3_IPV4, B4,
	  IPPROTO_TCP, .sample_every = 1, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_SAMPLE },
	{ "sampling 1 in 1: IPv6 UDP to the kernel, then kernel", L3_IPV6,
	  OFFNODE6, IPPROTO_UDP, .sample_every = 1, .verdict = PASS,
	  .stamp_hop = ZH_HOP_KERNEL, .stamp_src = ZH_LAT_SAMPLE },
	{ "probes off, sampling on: a probe counts as a sample", L3_IPV4, B4,
	  IPPROTO_UDP, .probe = true, .sample_every = 1, .verdict = REDIRECT,
	  .stamp_hop = ZH_HOP_DELIVER, .stamp_src = ZH_LAT_SAMPLE },
	{ "sampling: ICMP stamped without ports", L3_IPV4, B4, IPPROTO_ICMP,
	  .sample_every = 1, .verdict = REDIRECT, .stamp_hop = ZH_HOP_DELIVER,
	  .stamp_src = ZH_LAT_SAMPLE },
	{ "sampling: link-local IPv6 (ND, MLD) is not stamped", L3_IPV6,
	  SNMC_B6, IPPROTO_ICMPV6, .sample_every = 1, .verdict = PASS, NO_STAMP,
	  .src = LL_A6 },
};

struct lat_run {
	const struct lat_case *c;
	enum prog prog;
};

/* One packet: egress program, then its output through the pod side. */
static void test_lat_case(void **state)
{
	const struct lat_run *lr = *state;
	const struct lat_case *c = lr->c;
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC, .seq = 7 };
	struct frame f = { .l3 = c->l3, .proto = c->proto, .dst = c->dst };
	bool v6 = c->l3 == L3_IPV6;
	bool probe_timed = c->probe && (c->flags & ZH_CFG_F_PROBES);
	__u8 in[FRAME_MAX];
	struct zh_flow_key key;
	struct zh_lat_stamp st;
	__u64 t0, t1;
	struct run r;
	__u32 len;

	f.src = c->src ? c->src : v6 ? A6 : A4;
	if (c->probe)
		f.probe = &probe;
	lat_setup(c->flags, c->sample_every);
	t0 = mono_ns();
	probe.tx_ns = t0 - LAT_AGE;
	len = (__u32)frame_build(&f, POD_A, in);
	cur_set(in, len, "%s: %s", prog_names[lr->prog], c->desc);

	run_frame(lr->prog, ifindex_of[POD_A], in, len, &r);
	t1 = mono_ns();
	assert_verdict(lr->prog, &r, c->verdict);
	if (probe_timed)
		assert_lat_only(ZH_HOP_EGRESS, ZH_LAT_PROBE, 1, LAT_AGE,
				t1 - probe.tx_ns);
	else
		assert_no_lat();

	if (c->stamp_hop < 0) {
		if (lat_flows_count())
			fail_here("%d flow stamps, want none",
				  lat_flows_count());
	} else {
		lat_stamp(&key, &st);
		if (st.hop != c->stamp_hop || st.src != c->stamp_src)
			fail_here("stamp hop %u src %u, want %d %d", st.hop,
				  st.src, c->stamp_hop, c->stamp_src);
		if (st.origin_ns !=
			    (probe_timed ? probe.tx_ns : st.origin_ns) ||
		    (!probe_timed && (st.origin_ns < t0 || st.origin_ns > t1)))
			fail_here("stamp origin %llu outside [%llu, %llu]",
				  (unsigned long long)st.origin_ns,
				  (unsigned long long)t0,
				  (unsigned long long)t1);
		/* The key is the packet's own flow. */
		if (key.family != (v6 ? ZH_AF_INET6 : ZH_AF_INET) ||
		    key.proto != c->proto ||
		    memcmp(key.saddr, in + (v6 ? IP6_SADDR : IP4_SADDR),
			   v6 ? 16 : 4) ||
		    memcmp(key.daddr, in + (v6 ? IP6_DADDR : IP4_DADDR),
			   v6 ? 16 : 4))
			fail_here("stamp key is not the packet's flow");
		if (c->proto == IPPROTO_ICMP ?
			    key.sport || key.dport :
			    ntohs(key.sport) != 40000 ||
				    ntohs(key.dport) !=
					    (c->proto == IPPROTO_TCP ? 80 : 53))
			fail_here("stamp ports %u -> %u", ntohs(key.sport),
				  ntohs(key.dport));
	}

	/* Delivered: the pod side records the hop and drops the stamp. */
	lat_setup(c->flags, c->sample_every);
	if (c->stamp_hop >= 0) {
		struct zh_objs o = lat_objs();

		if (bpf_map_update_elem(o.lat_flows_fd, &key, &st, BPF_NOEXIST))
			fail_here("restoring the stamp: %s", strerror(errno));
	}
	run_pod_side(lr->prog, r.out, r.out_len);
	t1 = mono_ns();
	if (c->stamp_hop < 0)
		assert_no_lat();
	else
		assert_lat_only(c->stamp_hop, c->stamp_src, 1,
				probe_timed ? LAT_AGE : 0,
				t1 - (probe_timed ? probe.tx_ns : t0));
	if (lat_flows_count())
		fail_here("%d flow stamps left after delivery",
			  lat_flows_count());
}

/* A probe that never crossed the egress hop (host -> pod): kernel. */
static void test_lat_unstamped_probe(void **state)
{
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC };
	struct frame f = { .l3 = L3_IPV4,
			   .proto = IPPROTO_UDP,
			   .src = OFFNODE4,
			   .dst = B4,
			   .probe = &probe };
	__u8 in[FRAME_MAX];
	__u32 len;
	__u64 t1;

	for (int p = 0; p < NR_PROGS; p++) {
		lat_setup(ZH_CFG_F_PROBES, 0);
		probe.tx_ns = mono_ns() - LAT_AGE;
		len = (__u32)frame_build(&f, POD_B, in);
		cur_set(in, len, "%s: unstamped probe", prog_names[p]);
		run_pod_side(p, in, len);
		t1 = mono_ns();
		assert_lat_only(ZH_HOP_KERNEL, ZH_LAT_PROBE, 1, LAT_AGE,
				t1 - probe.tx_ns);
	}
}

/* Timestamps from another clock (in the future here) are not recorded,
 * and neither are dropped packets stamped. */
static void test_lat_rejects(void **state)
{
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC };
	struct frame fut = { .l3 = L3_IPV4,
			     .proto = IPPROTO_UDP,
			     .src = A4,
			     .dst = B4,
			     .probe = &probe };
	struct frame spoof = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = OFFNODE4, .dst = B4
	};
	__u8 in[FRAME_MAX];
	struct run r;
	__u32 len;

	for (int p = 0; p < NR_PROGS; p++) {
		lat_setup(ZH_CFG_F_PROBES, 1);
		probe.tx_ns = mono_ns() + 60 * 1000000000ULL;
		len = (__u32)frame_build(&fut, POD_A, in);
		cur_set(in, len, "%s: probe from the future", prog_names[p]);
		run_frame(p, ifindex_of[POD_A], in, len, &r);
		assert_verdict(p, &r, REDIRECT);
		assert_no_lat();
		if (lat_flows_count())
			fail_here("a probe from the future was stamped");
		run_pod_side(p, r.out, r.out_len);
		assert_no_lat();

		len = (__u32)frame_build(&spoof, POD_A, in);
		cur_set(in, len, "%s: spoofed, sampling 1 in 1", prog_names[p]);
		run_frame(p, ifindex_of[POD_A], in, len, &r);
		assert_verdict(p, &r, DROP);
		assert_no_lat();
		if (lat_flows_count())
			fail_here("a dropped packet was stamped");
	}
}

/* 1 in N: over 800 packets of one flow, about 800/N are timed. */
static void test_lat_sample_rate(void **state)
{
	const struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4
	};
	const int n = 800, every = 8;
	__u8 in[FRAME_MAX];
	__u32 len = (__u32)frame_build(&f, POD_A, in);
	struct zh_hist h;
	struct run r;

	lat_setup(0, every);
	cur_set(in, len, "tc: sampling 1 in %d", every);
	for (int i = 0; i < n; i++) {
		run_frame(PROG_TC, ifindex_of[POD_A], in, len, &r);
		assert_verdict(PROG_TC, &r, REDIRECT);
		run_pod_side(PROG_TC, r.out, r.out_len);
	}
	h = lat_hist(ZH_HOP_DELIVER, ZH_LAT_SAMPLE);
	/* Binomial(800, 1/8): mean 100, sd 9.4; [50, 150] is 5 sd. */
	if (h.count < 50 || h.count > 150)
		fail_here("%llu of %d packets timed at 1 in %d",
			  (unsigned long long)h.count, n, every);
}

/* To a pod without XDP on its veth, the XDP entry cannot redirect: it
 * passes the frame untouched and uncounted, and the tc entry on the same
 * veth delivers it. */
static void b_datapath(__u8 datapath)
{
	int fd = bpf_map__fd(skel->maps.zh_endpoints);
	struct zh_ep_key key = { .family = ZH_AF_INET };
	struct zh_endpoint ep;

	for (int v6 = 0; v6 < 2; v6++) {
		memset(&key, 0, sizeof(key));
		key.family = v6 ? ZH_AF_INET6 : ZH_AF_INET;
		parse_addr(v6 ? AF_INET6 : AF_INET, v6 ? B6 : B4, key.addr);
		if (bpf_map_lookup_elem(fd, &key, &ep))
			fail_here("no endpoint for B");
		ep.datapath = datapath;
		if (bpf_map_update_elem(fd, &key, &ep, BPF_EXIST))
			fail_here("endpoint update: %s", strerror(errno));
	}
}

static int b_xdp_again(void **state)
{
	(void)state;
	b_datapath(ZH_DATAPATH_XDP);
	return 0;
}

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

/* ------------------------------------------------------ kernel features */

/*
 * The helpers zh_fast calls, and the feature (zh_abi.h) that stands for
 * each in tc and in XDP programs (-1: not called there).
 */
static const struct {
	int helper;
	int tc, xdp;
} helper_feats[] = {
	{ BPF_FUNC_map_lookup_elem, ZH_FEAT_TC_MAP_LOOKUP_ELEM,
	  ZH_FEAT_XDP_MAP_LOOKUP_ELEM },
	{ BPF_FUNC_map_update_elem, ZH_FEAT_TC_MAP_UPDATE_ELEM,
	  ZH_FEAT_XDP_MAP_UPDATE_ELEM },
	{ BPF_FUNC_map_delete_elem, ZH_FEAT_TC_MAP_DELETE_ELEM,
	  ZH_FEAT_XDP_MAP_DELETE_ELEM },
	{ BPF_FUNC_ktime_get_ns, ZH_FEAT_TC_KTIME_GET_NS,
	  ZH_FEAT_XDP_KTIME_GET_NS },
	{ BPF_FUNC_get_prandom_u32, ZH_FEAT_TC_GET_PRANDOM_U32,
	  ZH_FEAT_XDP_GET_PRANDOM_U32 },
	{ BPF_FUNC_csum_diff, ZH_FEAT_TC_CSUM_DIFF, ZH_FEAT_XDP_CSUM_DIFF },
	{ BPF_FUNC_csum_update, ZH_FEAT_TC_CSUM_UPDATE, -1 },
	{ BPF_FUNC_csum_level, ZH_FEAT_TC_CSUM_LEVEL, -1 },
	{ BPF_FUNC_l3_csum_replace, ZH_FEAT_TC_L3_CSUM_REPLACE, -1 },
	{ BPF_FUNC_l4_csum_replace, ZH_FEAT_TC_L4_CSUM_REPLACE, -1 },
	{ BPF_FUNC_skb_store_bytes, ZH_FEAT_TC_SKB_STORE_BYTES, -1 },
	{ BPF_FUNC_skb_load_bytes, ZH_FEAT_TC_SKB_LOAD_BYTES, -1 },
	{ BPF_FUNC_skb_pull_data, ZH_FEAT_TC_SKB_PULL_DATA, -1 },
	{ BPF_FUNC_skb_change_tail, ZH_FEAT_TC_SKB_CHANGE_TAIL, -1 },
	{ BPF_FUNC_redirect, ZH_FEAT_TC_REDIRECT, ZH_FEAT_XDP_REDIRECT },
	{ BPF_FUNC_redirect_peer, ZH_FEAT_TC_REDIRECT_PEER, -1 },
	{ BPF_FUNC_redirect_neigh, ZH_FEAT_TC_REDIRECT_NEIGH, -1 },
	{ BPF_FUNC_redirect_map, -1, ZH_FEAT_XDP_REDIRECT_MAP },
	{ BPF_FUNC_xdp_adjust_tail, -1, ZH_FEAT_XDP_ADJUST_TAIL },
	{ BPF_FUNC_xdp_adjust_meta, -1, ZH_FEAT_XDP_META },
};

/* Every feature that stands for a helper call. */
static __u64 helper_bits(void)
{
	__u64 bits = 0;

	for (size_t i = 0; i < ARRAY_SIZE(helper_feats); i++) {
		if (helper_feats[i].tc >= 0)
			bits |= 1ULL << helper_feats[i].tc;
		if (helper_feats[i].xdp >= 0)
			bits |= 1ULL << helper_feats[i].xdp;
	}
	return bits;
}

static const struct zh_prog_def *prog_def(const char *name)
{
	for (size_t i = 0; i < zh_prog_defs_n; i++)
		if (!strcmp(zh_prog_defs[i].name, name))
			return &zh_prog_defs[i];
	return NULL;
}

/* The helper features @p calls, from its instructions as loaded
 * (subprograms appended, code for absent features still in). */
static __u64 prog_helpers(const struct bpf_program *p)
{
	const struct bpf_insn *insn = bpf_program__insns(p);
	bool xdp = bpf_program__type(p) == BPF_PROG_TYPE_XDP;
	__u64 used = 0;

	for (size_t i = 0; i < bpf_program__insn_cnt(p); i++) {
		size_t h;

		if (insn[i].code != (BPF_JMP | BPF_CALL) || insn[i].src_reg)
			continue;
		for (h = 0; h < ARRAY_SIZE(helper_feats); h++)
			if (helper_feats[h].helper == insn[i].imm)
				break;
		if (h == ARRAY_SIZE(helper_feats) ||
		    (xdp ? helper_feats[h].xdp : helper_feats[h].tc) < 0)
			fail_here(
				"%s calls helper %d, which no feature stands for: probe it (zh_abi.h, zh_feat.bpf.c, kfeatures.c)",
				bpf_program__name(p), insn[i].imm);
		used |= 1ULL
			<< (xdp ? helper_feats[h].xdp : helper_feats[h].tc);
	}
	return used;
}

static void feat_names_of(__u64 bits, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int id = 0; id < ZH_FEAT_MAX && off < len; id++)
		if (bits >> id & 1)
			off += (size_t)snprintf(buf + off, len - off, " %s",
						zh_feat_name(id));
}

/*
 * What kfeatures.c says each program needs (or does without) is exactly
 * the helpers it calls: a helper added to the datapath without a probe,
 * or a stale entry, fails here.
 */
static void test_helpers_probed(void **state)
{
	struct bpf_program *p;
	int checked = 0;

	cur_set(NULL, 0, "the helpers each program calls");
	bpf_object__for_each_program (p, skel->obj) {
		const struct zh_prog_def *d = prog_def(bpf_program__name(p));
		__u64 used, listed;
		char a[512], b[512];

		if (!bpf_program__autoload(p))
			continue;
		if (!d)
			fail_here("%s has no entry in zh_prog_defs",
				  bpf_program__name(p));
		used = prog_helpers(p);
		listed = (d->needs | d->variant) & helper_bits();
		if (used != listed) {
			feat_names_of(used & ~listed, a, sizeof(a));
			feat_names_of(listed & ~used, b, sizeof(b));
			fail_here(
				"%s: calls but does not list:%s; lists but does not call:%s",
				bpf_program__name(p), a, b);
		}
		checked++;
	}
	if (checked != (int)zh_prog_defs_n)
		fail_here("%d programs checked, %zu defined", checked,
			  zh_prog_defs_n);
}

/*
 * A feature the probe found absent is absent: the programs that use it,
 * loaded with that code in, are refused by this kernel. (Present ones are
 * proven by every other test: the programs load and run.)
 */
static void test_absent_features_refused(void **state)
{
	__u64 absent = ~kfeat_probed.present & helper_bits() & ZH_FEAT_ALL;
	libbpf_print_fn_t old = libbpf_set_print(NULL); /* refusals expected */
	int checked = 0;

	for (int id = 0; id < ZH_FEAT_MAX; id++) {
		struct bpf_program *p;
		struct bpf_map *map;
		struct zh_fast *s;
		int err;

		if (!(absent >> id & 1))
			continue;
		s = zh_fast__open();
		if (!s)
			fail_here("zh_fast__open: %s", strerror(errno));
		/* Everything in, as on a kernel with every feature. */
		s->rodata->zh_kfeat = ~0ULL;
		bpf_object__for_each_map (map, s->obj)
			bpf_map__set_pin_path(map, NULL);
		bpf_object__for_each_program (p, s->obj) {
			const struct zh_prog_def *d =
				prog_def(bpf_program__name(p));

			bpf_program__set_autoload(
				p, d && ((d->needs | d->variant) >> id & 1));
		}
		err = zh_fast__load(s);
		zh_fast__destroy(s);
		if (!err) {
			libbpf_set_print(old);
			fail_here(
				"the probe found %s absent, yet the programs that call it load",
				zh_feat_name(id));
		}
		print_message(
			"[  INFO    ] %s absent: its programs are refused (%s)\n",
			zh_feat_name(id), strerror(-err));
		checked++;
	}
	libbpf_set_print(old);
	if (!checked) {
		print_message(
			"[  SKIP    ] this kernel has every helper zh_fast calls: no absent one to check\n");
		skip();
		return; /* _skip() longjmps; the compiler does not know */
	}
}

/* --------------------------------------------------------- environment */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc) {
		fprintf(stderr, "test_bpf_fast: \"%s\" failed (%d)\n", cmd, rc);
		return -1;
	}
	return 0;
}

static const char *mac_str(const __u8 *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		m[4], m[5]);
	return buf;
}

/* The veth pairs, in the private namespace main() made. */
static int links_make(void)
{
	char m1[18], m2[18];

	for (int p = 0; p < NR_PODS; p++) {
		const struct pod *d = &pods[p];

		if (sh("ip link add name %s address %s type veth peer name %s address %s",
		       d->host, mac_str(d->gw_mac, m1), d->peer,
		       mac_str(d->mac, m2)) ||
		    sh("ip link set %s up", d->host) ||
		    sh("ip link set %s up", d->peer))
			return -1;
		ifindex_of[p] = (int)if_nametoindex(d->host);
		if (!ifindex_of[p] ||
		    zh_link_mac(ifindex_of[p], gw_mac_of[p])) {
			fprintf(stderr, "test_bpf_fast: %s: no ifindex/MAC\n",
				d->host);
			return -1;
		}
		if (memcmp(gw_mac_of[p], d->gw_mac, ETH_ALEN)) {
			fprintf(stderr, "test_bpf_fast: %s has MAC %s\n",
				d->host, mac_str(gw_mac_of[p], m1));
			return -1;
		}
	}
	ifindex_of[FOREIGN] = (int)if_nametoindex(pods[POD_A].peer);
	return ifindex_of[FOREIGN] ? 0 : -1;
}

/* zh_ifaces and zh_endpoints, as zerohopd would write them for the pods. */
static int maps_fill(void)
{
	int ifaces_fd = bpf_map__fd(skel->maps.zh_ifaces);
	int eps_fd = bpf_map__fd(skel->maps.zh_endpoints);

	for (int p = 0; p < NR_PODS; p++) {
		const struct pod *d = &pods[p];
		__u32 host = (__u32)ifindex_of[p];
		struct zh_iface ifc = { .datapath = ZH_DATAPATH_TC };
		/* XDP pods: the XDP entry redirects to them (a tc pod it
		 * leaves to the tc entry: test_xdp_to_tc_pod). */
		struct zh_endpoint ep = { .ifindex = host,
					  .datapath = ZH_DATAPATH_XDP };
		struct zh_ep_key key;

		memcpy(ifc.mac, d->mac, ETH_ALEN);
		memcpy(ifc.gw_mac, gw_mac_of[p], ETH_ALEN);
		ifc.pod_ifindex = if_nametoindex(d->peer);
		snprintf(ifc.host_ifname, sizeof(ifc.host_ifname), "%s",
			 d->host);
		snprintf(ifc.pod_ifname, sizeof(ifc.pod_ifname), "%s", d->peer);
		snprintf(ifc.container_id, sizeof(ifc.container_id),
			 "test-bpf-fast-%d", p);
		snprintf(ifc.netns, sizeof(ifc.netns), "/proc/self/ns/net");
		memcpy(ep.mac, d->mac, ETH_ALEN);
		memcpy(ep.gw_mac, gw_mac_of[p], ETH_ALEN);

		if (d->ipv4) {
			ifc.flags |= ZH_IFACE_F_V4;
			parse_addr(AF_INET, d->ipv4, &ifc.ipv4);
			memset(&key, 0, sizeof(key));
			key.family = ZH_AF_INET;
			key.addr[0] = ifc.ipv4;
			if (bpf_map_update_elem(eps_fd, &key, &ep, BPF_NOEXIST))
				return -errno;
		}
		if (d->ipv6) {
			ifc.flags |= ZH_IFACE_F_V6;
			parse_addr(AF_INET6, d->ipv6, ifc.ipv6);
			memset(&key, 0, sizeof(key));
			key.family = ZH_AF_INET6;
			memcpy(key.addr, ifc.ipv6, sizeof(key.addr));
			if (bpf_map_update_elem(eps_fd, &key, &ep, BPF_NOEXIST))
				return -errno;
		}
		if (bpf_map_update_elem(ifaces_fd, &host, &ifc, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

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

static void lb_clear(int fd, size_t key_size)
{
	__u8 key[64];

	while (!bpf_map_get_next_key(fd, NULL, key))
		bpf_map_delete_elem(fd, key);
	(void)key_size;
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
	lb_clear(bpf_map__fd(skel->maps.zh_services), 0);
	lb_clear(bpf_map__fd(skel->maps.zh_backends), 0);
	lb_clear(bpf_map__fd(skel->maps.zh_ct), 0);
	lb_clear(bpf_map__fd(skel->maps.zh_affinity), 0);
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
	lb_clear(bpf_map__fd(skel->maps.zh_ct), 0);
	len = (__u32)frame_build(&req, FOREIGN, in);
	(void)frame_build(&nat, FOREIGN, want);
	cur_set(in, len, "xdp uplink: NodePort request, an XDP pod");
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], in, len, &r);
	if (r.err || r.retval != XDP_REDIRECT)
		fail_here("xdp uplink verdict %u (err %d), want redirect",
			  r.retval, r.err);
	assert_routed(want, len, &r, POD_B, true);
	lb_clear(bpf_map__fd(skel->maps.zh_ct), 0);
	b_datapath(ZH_DATAPATH_TC);
	cur_set(in, len, "xdp uplink: NodePort request, a tc pod");
	run_prog(skel->progs.zh_xdp_uplink, ifindex_of[FOREIGN], in, len, &r);
	b_datapath(ZH_DATAPATH_XDP);
	if (r.err || r.retval != XDP_PASS)
		fail_here("xdp uplink verdict %u (err %d), want pass", r.retval,
			  r.err);
	assert_unchanged(in, len, &r);
	assert_deltas(&r, none, len);

	lb_clear(bpf_map__fd(skel->maps.zh_ct), 0);
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

/* ----------------------------------------------------------- benchmark */

/*
 * `test_bpf_fast --bench-latency` (make bench-latency): what per-hop latency
 * costs. A benchmark, not a test: it prints and asserts nothing. Settings
 * are interleaved in rounds; times are the kernel's own around the program
 * runs of BPF_PROG_TEST_RUN.
 *
 * Every packet: the egress and the pod-side program each run BENCH_REPEAT
 * times in one test_run on a UDP frame (TTL 255, so the repeats all take
 * the redirect path); the mean per run, minus the same with latency off,
 * is what every packet pays. With sampling, 1 in N of the egress runs
 * stamps; the pod side pays the lookup that finds nothing.
 *
 * A timed packet: one egress run and one pod-side run on its output, each
 * its own test_run (so the stamp is made and consumed), against the same
 * pair with latency off. Single runs include the test_run timer: only the
 * difference means anything.
 */
#define BENCH_ROUNDS 10
#define BENCH_REPEAT 200
#define BENCH_CALLS 100
#define BENCH_PAIRS 2000

static double bench_run(struct bpf_program *p, int ifindex, const __u8 *in,
			__u32 len, __u32 repeat, __u8 *out, __u32 *out_len)
{
	struct __sk_buff skb = { .ifindex = ifindex,
				 .ingress_ifindex = ifindex };
	struct xdp_md xdp = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = FRAME_MAX,
		    .repeat = repeat);
	bool is_xdp = bpf_program__type(p) == BPF_PROG_TYPE_XDP;

	opts.ctx_in = is_xdp ? (void *)&xdp : (void *)&skb;
	opts.ctx_size_in = is_xdp ? sizeof(xdp) : sizeof(skb);
	if (bpf_prog_test_run_opts(bpf_program__fd(p), &opts)) {
		fprintf(stderr, "test_run: %s\n", strerror(errno));
		exit(1);
	}
	if (out_len)
		*out_len = opts.data_size_out;
	return opts.duration;
}

static struct bpf_program *bench_prog(enum prog p, bool pod_side)
{
	if (p == PROG_TC)
		return pod_side ? skel->progs.zh_tc_pod :
				  skel->progs.zh_tc_from_pod;
	return pod_side ? skel->progs.zh_xdp_pod : skel->progs.zh_xdp_from_pod;
}

struct bench_cfg {
	const char *name;
	struct zh_config cfg;
	bool probe; /* the frame is a probe */
};

static void bench_set(const struct zh_config *cfg)
{
	struct zh_objs o = lat_objs();

	if (zh_config_set(&o, cfg) || zh_lat_reset(&o))
		exit(1);
}

static void bench_every_packet(void)
{
	static const struct bench_cfg cfgs[] = {
		{ "off", { .flags = 0, .sample_every = 0 }, false },
		{ "probes on",
		  { .flags = ZH_CFG_F_PROBES, .sample_every = 0 },
		  false },
		{ "sampling 1 in 100",
		  { .flags = 0, .sample_every = 100 },
		  false },
		{ "sampling 1 in 1000",
		  { .flags = 0, .sample_every = 1000 },
		  false },
	};
	static double ns[NR_PROGS][ARRAY_SIZE(cfgs)][2];
	const struct frame f = { .l3 = L3_IPV4,
				 .proto = IPPROTO_UDP,
				 .src = A4,
				 .dst = B4,
				 .ttl = 255 };
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	__u32 len = (__u32)frame_build(&f, POD_A, in), out_len;
	double n = (double)BENCH_ROUNDS * BENCH_CALLS;

	for (int r = 0; r < BENCH_ROUNDS; r++) {
		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++) {
			bench_set(&cfgs[c].cfg);
			for (int p = 0; p < NR_PROGS; p++) {
				for (int i = 0; i < BENCH_CALLS; i++) {
					ns[p][c][0] += bench_run(
						bench_prog(p, false),
						ifindex_of[POD_A], in, len,
						BENCH_REPEAT, out, &out_len);
					ns[p][c][1] += bench_run(
						bench_prog(p, true),
						ifindex_of[FOREIGN], out,
						out_len, BENCH_REPEAT, out,
						NULL);
				}
			}
		}
	}
	printf("Every packet (plain UDP, not timed): mean ns per program run, %d x %d runs\n",
	       BENCH_ROUNDS * BENCH_CALLS, BENCH_REPEAT);
	printf("%-4s %-20s %9s %9s %9s %10s\n", "MODE", "SETTING", "EGRESS",
	       "POD-SIDE", "TOTAL", "EXTRA");
	for (int p = 0; p < NR_PROGS; p++) {
		double base = (ns[p][0][0] + ns[p][0][1]) / n;

		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++)
			printf("%-4s %-20s %9.1f %9.1f %9.1f %+10.1f\n",
			       prog_names[p], cfgs[c].name, ns[p][c][0] / n,
			       ns[p][c][1] / n, (ns[p][c][0] + ns[p][c][1]) / n,
			       (ns[p][c][0] + ns[p][c][1]) / n - base);
	}
}

static void bench_timed_packet(void)
{
	static const struct bench_cfg cfgs[] = {
		{ "off (probe frame)", { .flags = 0, .sample_every = 0 }, true },
		{ "probe timed",
		  { .flags = ZH_CFG_F_PROBES, .sample_every = 0 },
		  true },
		{ "sample timed (1 in 1)",
		  { .flags = 0, .sample_every = 1 },
		  false },
	};
	static double ns[NR_PROGS][ARRAY_SIZE(cfgs)];
	struct zh_probe probe = { .magic = ZH_PROBE_MAGIC };
	struct frame f = {
		.l3 = L3_IPV4, .proto = IPPROTO_UDP, .src = A4, .dst = B4
	};
	__u8 in[FRAME_MAX], out[FRAME_MAX];
	double n = (double)BENCH_ROUNDS * BENCH_PAIRS;
	__u32 len, out_len;

	for (int r = 0; r < BENCH_ROUNDS; r++) {
		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++) {
			f.probe = cfgs[c].probe ? &probe : NULL;
			bench_set(&cfgs[c].cfg);
			for (int p = 0; p < NR_PROGS; p++) {
				for (int i = 0; i < BENCH_PAIRS; i++) {
					probe.tx_ns = mono_ns();
					len = (__u32)frame_build(&f, POD_A, in);
					ns[p][c] += bench_run(
						bench_prog(p, false),
						ifindex_of[POD_A], in, len, 1,
						out, &out_len);
					ns[p][c] += bench_run(
						bench_prog(p, true),
						ifindex_of[FOREIGN], out,
						out_len, 1, out, NULL);
				}
			}
		}
	}
	printf("\nA timed packet: egress + pod-side, one run each, %d pairs\n",
	       BENCH_ROUNDS * BENCH_PAIRS);
	printf("%-4s %-22s %9s %10s\n", "MODE", "SETTING", "TOTAL", "EXTRA");
	for (int p = 0; p < NR_PROGS; p++)
		for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++)
			printf("%-4s %-22s %9.1f %+10.1f\n", prog_names[p],
			       cfgs[c].name, ns[p][c] / n,
			       (ns[p][c] - ns[p][0]) / n);
}

static int bench_latency(void)
{
	bench_every_packet();
	bench_timed_packet();
	return 0;
}

/* ---------------------------------------------------------------- main */

#define NR_CASE_TESTS (ARRAY_SIZE(cases) * NR_PROGS)
#define NR_TRUNC_TESTS (ARRAY_SIZE(trunc_cases) * NR_PROGS)
#define NR_GARBAGE_TESTS (NR_GARBAGE * NR_PROGS)

static struct case_run case_runs[NR_CASE_TESTS];
static struct trunc_run trunc_runs[NR_TRUNC_TESTS];
static struct garbage_run garbage_runs[NR_GARBAGE_TESTS];
static char case_names[NR_CASE_TESTS][128];
static char trunc_names[NR_TRUNC_TESTS][128];
static char garbage_names_full[NR_GARBAGE_TESTS][128];
#define NR_LAT_TESTS (ARRAY_SIZE(lat_cases) * NR_PROGS)
static struct lat_run lat_runs[NR_LAT_TESTS];
static char lat_names[NR_LAT_TESTS][128];

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
	lb_clear(bpf_map__fd(skel->maps.zh_xsk_steer),
		 sizeof(struct zh_steer_key));
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

/*
 * The loader where a verifier refuses a program that every probe let
 * through: made real on this kernel by a pinned feature set that claims
 * an absent helper present, so that the code behind it is loaded. The
 * object then fails as a whole; the loader loads the programs one by one,
 * records the refused one as absent in the pinned set, and the rest runs.
 */
static void test_loader_refused_program(void **state)
{
	__u64 absent = ~kfeat_probed.present & helper_bits() & ZH_FEAT_ALL;
	char root[64], dir[128];
	struct zh_kfeat forged, pinned;
	struct zh_objs o;
	int id, refused = 0, lock, err;

	if (!absent) {
		print_message(
			"[  SKIP    ] this kernel has every helper zh_fast calls: no verifier refusal to provoke\n");
		skip();
		return; /* _skip() longjmps; the compiler does not know */
	}
	id = __builtin_ctzll(absent);
	snprintf(root, sizeof(root), "/sys/fs/bpf/zh-test-bpf-%d", getpid());
	snprintf(dir, sizeof(dir), "%s/%s", root, ZH_PIN_VERSION);
	cur_set(NULL, 0, "loader: %s claimed present in %s", zh_feat_name(id),
		root);
	lock = zh_pin_lock(root);
	if (lock < 0 || mkdir(dir, 0700))
		fail_here("pin root %s: %s", root, strerror(errno));
	forged = kfeat_probed;
	forged.disabled = 0;
	forged.present |= 1ULL << id;
	if (zh_feat_write(dir, &forged))
		fail_here("zh_feat_write: %s", strerror(errno));
	{
		libbpf_print_fn_t old = libbpf_set_print(NULL);

		err = zh_objs_open(&o, root, ZH_OBJS_LOAD, NULL);
		libbpf_set_print(old);
	}
	if (err)
		fail_here("zh_objs_open: %s", o.err);
	for (size_t i = 0; i < zh_prog_defs_n; i++) {
		const struct zh_prog_def *d = &zh_prog_defs[i];
		int uses = (int)((d->needs | d->variant) >> id & 1);
		int loaded = o.feat.present >> d->feat & 1;

		/* What calls the helper is refused, the rest is loaded. */
		if (uses + loaded != 1)
			fail_here("%s: %s, yet it %s %s", d->name,
				  loaded ? "loaded" : "refused",
				  uses ? "calls" : "does not call",
				  zh_feat_name(id));
		refused += uses;
	}
	if (!refused || o.tc_from_pod_fd < 0 ||
	    (zh_kfeat_has(&o.feat, ZH_FEAT_PROG_XDP_FROM_POD) !=
	     (o.xdp_from_pod_fd >= 0)))
		fail_here("%d refused; fds tc %d xdp %d", refused,
			  o.tc_from_pod_fd, o.xdp_from_pod_fd);
	zh_objs_close(&o);
	/* Recorded where every later run finds it: no second attempt. */
	if (zh_feat_read(dir, &pinned) || pinned.present != o.feat.present)
		fail_here("the pinned set does not record the refusal");
	err = zh_objs_open(&o, root, 0, NULL);
	if (err || o.loaded)
		fail_here("reopening: %s (loaded %d)", err ? o.err : "ok",
			  o.loaded);
	zh_objs_close(&o);
	if (zh_objs_unpin(root) || rmdir(root))
		fail_here("unpin %s: %s", root, strerror(errno));
	zh_pin_unlock(lock);
}

static int run_groups(bool first)
{
	const struct CMUnitTest feature_tests[] = {
		cmocka_unit_test(test_helpers_probed),
		cmocka_unit_test(test_absent_features_refused),
		cmocka_unit_test(test_loader_refused_program),
	};
	struct CMUnitTest case_tests[NR_CASE_TESTS];
	struct CMUnitTest trunc_tests[NR_TRUNC_TESTS];
	struct CMUnitTest garbage_tests[NR_GARBAGE_TESTS];
	const struct CMUnitTest pod_tests[] = {
		cmocka_unit_test(test_xdp_pod_passes),
		cmocka_unit_test_teardown(test_xdp_to_tc_pod, b_xdp_again),
		cmocka_unit_test_teardown(test_tc_behind_xdp, behind_teardown),
	};
	struct CMUnitTest lat_tests[NR_LAT_TESTS + 3];
	const struct CMUnitTest lb_tests[] = {
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
	const struct CMUnitTest xsk_tests[] = {
		cmocka_unit_test(test_xsk_steer),
		cmocka_unit_test(test_xsk_plain_pod),
		cmocka_unit_test(test_xsk_truncated),
		cmocka_unit_test_teardown(test_xsk_latency, lat_teardown),
	};
	size_t i = 0;
	int failed = 0;

	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		for (int p = 0; p < NR_PROGS; p++, i++) {
			case_runs[i] = (struct case_run){ &cases[c], p };
			snprintf(case_names[i], sizeof(case_names[i]), "%s: %s",
				 prog_names[p], cases[c].desc);
			case_tests[i] = (struct CMUnitTest){
				.name = case_names[i],
				.test_func = test_case,
				.initial_state = &case_runs[i],
			};
		}
	}
	i = 0;
	for (size_t c = 0; c < ARRAY_SIZE(trunc_cases); c++) {
		for (int p = 0; p < NR_PROGS; p++, i++) {
			trunc_runs[i] =
				(struct trunc_run){ &trunc_cases[c], p };
			snprintf(trunc_names[i], sizeof(trunc_names[i]),
				 "%s: %s cut at every length", prog_names[p],
				 trunc_cases[c].desc);
			trunc_tests[i] = (struct CMUnitTest){
				.name = trunc_names[i],
				.test_func = test_truncated,
				.initial_state = &trunc_runs[i],
			};
		}
	}
	i = 0;
	for (int g = 0; g < NR_GARBAGE; g++) {
		for (int p = 0; p < NR_PROGS; p++, i++) {
			garbage_runs[i] = (struct garbage_run){ g, p };
			snprintf(garbage_names_full[i],
				 sizeof(garbage_names_full[i]),
				 "%s: %d frames, %s", prog_names[p],
				 GARBAGE_FRAMES, garbage_names[g]);
			garbage_tests[i] = (struct CMUnitTest){
				.name = garbage_names_full[i],
				.test_func = test_garbage,
				.initial_state = &garbage_runs[i],
			};
		}
	}
	i = 0;
	for (size_t c = 0; c < ARRAY_SIZE(lat_cases); c++) {
		for (int p = 0; p < NR_PROGS; p++, i++) {
			lat_runs[i] = (struct lat_run){ &lat_cases[c], p };
			snprintf(lat_names[i], sizeof(lat_names[i]), "%s: %s",
				 prog_names[p], lat_cases[c].desc);
			lat_tests[i] = (struct CMUnitTest){
				.name = lat_names[i],
				.test_func = test_lat_case,
				.initial_state = &lat_runs[i],
				.teardown_func = lat_teardown,
			};
		}
	}
	lat_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lat_unstamped_probe, lat_teardown);
	lat_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lat_rejects, lat_teardown);
	lat_tests[i++] = (struct CMUnitTest)cmocka_unit_test_teardown(
		test_lat_sample_rate, lat_teardown);
	failed += _cmocka_run_group_tests("zh_fast cases", case_tests,
					  ARRAY_SIZE(case_tests), NULL, NULL);
	failed += _cmocka_run_group_tests("zh_fast truncated", trunc_tests,
					  ARRAY_SIZE(trunc_tests), NULL, NULL);
	failed += _cmocka_run_group_tests("zh_fast garbage", garbage_tests,
					  ARRAY_SIZE(garbage_tests), NULL,
					  NULL);
	failed += cmocka_run_group_tests_name("zh_xdp_pod", pod_tests, NULL,
					      NULL);
	failed += _cmocka_run_group_tests("latency hops", lat_tests,
					  ARRAY_SIZE(lat_tests), NULL, NULL);
	failed += cmocka_run_group_tests_name("services", lb_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("AF_XDP steering", xsk_tests,
					      xsk_setup, xsk_teardown);
	if (first)
		failed += cmocka_run_group_tests_name(
			"kernel features", feature_tests, NULL, NULL);
	return failed;
}

/* zh_fast as the loader makes it for a kernel with @f, its maps the
 * process's own (nothing pinned). */
static struct zh_fast *skel_load(const struct zh_kfeat *f)
{
	struct zh_fast *s = zh_fast__open();
	struct bpf_map *map;
	int err;

	if (!s)
		return NULL;
	bpf_object__for_each_map (map, s->obj)
		bpf_map__set_pin_path(map, NULL);
	err = zh_fast_prepare(s, f);
	if (!err)
		err = zh_fast__load(s);
	if (err) {
		zh_fast__destroy(s);
		errno = -err;
		return NULL;
	}
	return s;
}

/* Every group, with the programs loaded for @f. */
static int run_pass(const char *what, const struct zh_kfeat *f, bool first)
{
	int err, failed;

	kfeat = *f;
	skel = skel_load(f);
	if (!skel) {
		fprintf(stderr, "test_bpf_fast: %s: loading zh_fast: %s\n",
			what, strerror(errno));
		return 1;
	}
	err = maps_fill();
	if (err) {
		fprintf(stderr, "test_bpf_fast: filling the maps: %s\n",
			strerror(-err));
		zh_fast__destroy(skel);
		return 1;
	}
	printf("test_bpf_fast: == pass: %s\n", what);
	failed = run_groups(first);
	zh_fast__destroy(skel);
	skel = NULL;
	return failed;
}

int main(int argc, char **argv)
{
	bool bench = argc > 1 && !strcmp(argv[1], "--bench-latency");
	struct zh_kfeat no_meta;
	char why[1024];
	int err, failed;

	if (geteuid() != 0) {
		fprintf(stderr,
			"test_bpf_fast: skipped: needs root (BPF_PROG_TEST_RUN, a network namespace, veth pairs)\n");
		return SKIP_EXIT;
	}
	/* Everything from here on happens in a namespace of our own: the
	 * links vanish with it when the process exits, however it exits. */
	if (unshare(CLONE_NEWNET)) {
		err = errno;
		fprintf(stderr,
			"test_bpf_fast: %s: unshare(CLONE_NEWNET): %s\n",
			err == EPERM ? "skipped" : "error", strerror(err));
		return err == EPERM ? SKIP_EXIT : 1;
	}
	if (links_make())
		return 1;
	/* As the loader does (ZEROHOP_DISABLE_FEATURES applies). */
	if (zh_feat_probe(&kfeat_probed, why, sizeof(why))) {
		fprintf(stderr, "test_bpf_fast: probing the kernel: %s\n", why);
		return 1;
	}
	printf("test_bpf_fast: %s\n",
	       zh_feat_summary(&kfeat_probed, why, sizeof(why)));

	if (bench) {
		kfeat = kfeat_probed;
		skel = skel_load(&kfeat);
		if (!skel || maps_fill()) {
			fprintf(stderr, "test_bpf_fast: loading zh_fast: %s\n",
				strerror(errno));
			return 1;
		}
		failed = bench_latency();
		zh_fast__destroy(skel);
		return failed;
	}
	/* Every case with the features this kernel has; then, where it has
	 * XDP metadata, again without it, as a kernel without it runs. */
	failed = run_pass("the kernel's features", &kfeat_probed, true);
	no_meta = kfeat_probed;
	no_meta.disabled |= ZH_FEAT_BIT(XDP_META);
	if (zh_kfeat_has(&kfeat_probed, ZH_FEAT_XDP_META))
		failed +=
			run_pass("xdp_meta disabled (the handover's fallback)",
				 &no_meta, false);
	else
		printf("test_bpf_fast: SKIP: the pass with XDP metadata: %s; the fallback's cases ran above for real\n",
		       kfeat_probed.present & ZH_FEAT_BIT(XDP_META) ?
			       "xdp_meta is disabled (ZEROHOP_DISABLE_FEATURES)" :
			       "this kernel lacks xdp_meta");
	return failed ? 1 : 0;
}
