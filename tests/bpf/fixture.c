// SPDX-License-Identifier: Apache-2.0
/*
 * fixture.c - the fast path's test fixture (fixture.h): pods on veth pairs
 * in a private network namespace, frames built byte by byte, programs run
 * through BPF_PROG_TEST_RUN with the zh_stats counters read around them,
 * and the two passes over the kernel's features every test file makes.
 *
 * The programs key the sender's identity on the ingress ifindex and
 * test_run resolves that ifindex to a real device, so fixture_main() moves
 * into a private network namespace and makes veth pairs there: the
 * host-side ends are the pods' host veths. Nothing outside that namespace
 * is touched and the namespace (with its links) goes away when the process
 * exits.
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
#include <linux/pkt_cls.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "fixture.h"

/* ---------------------------------------------------------------- pods */

const struct pod pods[NR_PODS] = {
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

const __u8 mac_bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const __u8 mac_snmc_b[ETH_ALEN] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x0b };

int ifindex_of[NR_PODS + 1];
__u8 gw_mac_of[NR_PODS][ETH_ALEN];
struct zh_fast *skel;
struct zh_kfeat kfeat_probed, kfeat;

/* The name of the test binary, in front of the fixture's messages. */
static const char *suite_name = "test_bpf";
/* The programs record their redirects (fixture_suite.trace). */
static bool suite_trace;

bool has_meta(void)
{
	return zh_kfeat_has(&kfeat, ZH_FEAT_XDP_META);
}

/* -------------------------------------------------------------- frames */

/* RFC 1071: the one's complement sum of big-endian 16-bit words. */
__u32 csum_add(__u32 sum, const void *buf, size_t len)
{
	const __u8 *p = buf;

	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (__u32)p[0] << 8;
	return sum;
}

__u16 csum_fold(__u32 sum)
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
__u32 pseudo_sum(const __u8 *frame, bool v6, __u8 proto, __u32 l4_len)
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

void parse_addr(int af, const char *s, void *out)
{
	if (inet_pton(af, s, out) != 1) {
		fprintf(stderr, "bad address in a fixture: %s\n", s);
		abort();
	}
}

__u32 icmp_err_frame(const struct icmp_err *e, __u8 *out)
{
	bool v6 = e->v6;
	size_t iph = v6 ? IP6_HLEN : sizeof(struct iphdr);
	size_t quote = e->quote ? e->quote : iph + 8, icmp_len = 8 + quote;
	__u8 *ip = out + L3, *icmp = ip + iph;

	memset(out, 0, FRAME_MAX);
	memcpy(out + ETH_DST, e->dst_mac, ETH_ALEN);
	memcpy(out + ETH_SRC, e->src_mac, ETH_ALEN);
	put16(out + ETH_PROTO, v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, (__u16)icmp_len);
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = e->ttl ? e->ttl : 64;
		memcpy(ip + 8, e->src, 16);
		memcpy(ip + 24, e->dst, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (__u16)(iph + icmp_len));
		ip[8] = e->ttl ? e->ttl : 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, e->src, 4);
		memcpy(ip + 16, e->dst, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, iph)));
	}
	icmp[0] = e->type;
	icmp[1] = e->code;
	put16(icmp + 6, e->mtu);
	memcpy(icmp + 8, e->quoted + L3, quote);
	put16(icmp + 2,
	      csum_fold(csum_add(v6 ? pseudo_sum(out, true, IPPROTO_ICMPV6,
						 (__u32)icmp_len) :
				      0,
				 icmp, icmp_len)));
	return (__u32)(L3 + iph + icmp_len);
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
		p[13] = f->tcp_flags ? f->tcp_flags : 0x18; /* PSH|ACK */
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

size_t frame_build(const struct frame *f, int ingress, __u8 *b)
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
	if (f->vlan_tpid) {
		/* The checksums were made without it: none covers it. */
		memmove(b + ETH_PROTO + 4, b + ETH_PROTO, len - ETH_PROTO);
		put16(b + ETH_PROTO, f->vlan_tpid);
		put16(b + ETH_PROTO + 2, 0);
		len += 4;
	}
	if (len > FRAME_MAX)
		abort();
	return len;
}
/* ------------------------------------------------------------- running */

const char *const prog_names[NR_PROGS] = {
	[PROG_TC] = "tc",
	[PROG_XDP] = "xdp",
};

const int verdict_codes[NR_PROGS][NR_VERDICTS] = {
	[PROG_TC] = { [PASS] = TC_ACT_OK,
		      [DROP] = TC_ACT_SHOT,
		      [REDIRECT] = TC_ACT_REDIRECT,
		      [TX_BACK] = TC_ACT_REDIRECT,
		      [NEXT] = TC_ACT_UNSPEC },
	[PROG_XDP] = { [PASS] = XDP_PASS,
		       [DROP] = XDP_DROP,
		       [REDIRECT] = XDP_REDIRECT,
		       [TX_BACK] = XDP_TX,
		       [NEXT] = XDP_PASS },
};

static const char *const verdict_names[NR_VERDICTS] = {
	[PASS] = "pass",	 [DROP] = "drop", [REDIRECT] = "redirect",
	[TX_BACK] = "sent back", [NEXT] = "next",
};

static void hexdump(const char *what, const __u8 *b, size_t len)
{
	print_error("%s (%zu bytes):", what, len);
	for (size_t i = 0; i < len; i++)
		print_error("%s%02x", i % 16 ? " " : "\n  ", b[i]);
	print_error("\n");
}

struct cur_frame cur;

void cur_set(const __u8 *frame, __u32 len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cur.what, sizeof(cur.what), fmt, ap);
	va_end(ap);
	cur.frame = frame;
	cur.len = len;
}

void fail_here(const char *fmt, ...)
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

void run_prog(struct bpf_program *p, int ifindex, const __u8 *frame, __u32 len,
	      struct run *r)
{
	run_prog_flags(p, ifindex, frame, len, 0, r);
}

void run_prog_flags(struct bpf_program *p, int ifindex, const __u8 *frame,
		    __u32 len, __u32 flags, struct run *r)
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
	int trace_fd = bpf_map__fd(skel->maps.zh_trace);
	struct zh_trace none = { 0 };
	__u32 zero = 0;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = r->out,
		    .data_size_out = sizeof(r->out), .repeat = 1,
		    .flags = flags);

	if (bpf_program__type(p) == BPF_PROG_TYPE_XDP) {
		opts.ctx_in = &xdp;
		opts.ctx_size_in = sizeof(xdp);
	} else {
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	r->traced = suite_trace;
	if (r->traced && bpf_map_update_elem(trace_fd, &zero, &none, BPF_ANY))
		fail_here("zh_trace: %s", strerror(errno));
	stats_read(before);
	r->err = bpf_prog_test_run_opts(bpf_program__fd(p), &opts);
	stats_read(after);
	if (r->traced && bpf_map_lookup_elem(trace_fd, &zero, &r->trace))
		fail_here("zh_trace: %s", strerror(errno));
	r->retval = opts.retval;
	r->out_len = opts.data_size_out;
	for (int s = 0; s < ZH_STAT_MAX; s++) {
		r->delta[s].packets = after[s].packets - before[s].packets;
		r->delta[s].bytes = after[s].bytes - before[s].bytes;
	}
}

bool has_csum_complete(void)
{
	static int has = -1;
	__u8 frame[ETH_HLEN + 32] = { 0 };
	struct run r;

	if (has < 0) {
		/* Not IP: the pod-side program passes it untouched. */
		put16(frame + ETH_PROTO, 0x88b5);
		run_prog_flags(skel->progs.zh_tc_pod, ifindex_of[FOREIGN],
			       frame, sizeof(frame),
			       BPF_F_TEST_SKB_CHECKSUM_COMPLETE, &r);
		has = !r.err;
	}
	return has;
}

void run_frame(enum prog prog, int ifindex, const __u8 *frame, __u32 len,
	       struct run *r)
{
	run_prog(prog == PROG_TC ? skel->progs.zh_tc_from_pod :
				   skel->progs.zh_xdp_from_pod,
		 ifindex, frame, len, r);
}

void assert_deltas(const struct run *r, const __u64 want[ZH_STAT_MAX],
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

void assert_verdict(enum prog prog, const struct run *r, enum verdict want)
{
	if (r->err)
		fail_here("test_run failed: %s", strerror(-r->err));
	if ((int)r->retval != verdict_codes[prog][want])
		fail_here("%s verdict %u, want %d (%s)", prog_names[prog],
			  r->retval, verdict_codes[prog][want],
			  verdict_names[want]);
}

void assert_bytes(const __u8 *want, __u32 len, const struct run *r)
{
	if (r->out_len == len && !memcmp(r->out, want, len))
		return;
	hexdump("expected output", want, len);
	hexdump("output", r->out, r->out_len);
	fail_here("output bytes differ");
}

void assert_unchanged(const __u8 *in, __u32 len, const struct run *r)
{
	assert_bytes(in, len, r);
}

/* The L4 checksum of the complete packet in @b verifies (RFC 1071). */
void assert_l4_csum(const __u8 *b, __u32 len, bool v6)
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
void assert_routed(const __u8 *in, __u32 len, const struct run *r, int to,
		   bool whole)
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
	if (r->traced &&
	    (!r->trace.calls || r->trace.target != (__u32)ifindex_of[to]))
		fail_here(
			"redirected to ifindex %u (%u helper calls), want %d (%s)",
			r->trace.target, r->trace.calls, ifindex_of[to],
			pods[to].host);
}

void assert_redirect(const struct run *r, __u32 kind, int ifindex)
{
	if (!r->traced)
		return;
	if (!r->trace.calls || r->trace.kind != kind ||
	    r->trace.target != (__u32)ifindex || r->trace.ret != r->retval)
		fail_here(
			"redirect helper %u to ifindex %u returned %lld (%u calls), want helper %u to %d",
			r->trace.kind, r->trace.target, (long long)r->trace.ret,
			r->trace.calls, kind, ifindex);
}

/* ---------------------------------------------------- maps and latency */

void map_clear(int fd)
{
	__u8 key[64]; /* larger than any key of zh_fast's maps */

	while (!bpf_map_get_next_key(fd, NULL, key))
		bpf_map_delete_elem(fd, key);
}

void map_put(int fd, const void *k, const void *v)
{
	if (bpf_map_update_elem(fd, k, v, BPF_ANY))
		fail_here("map update: %s", strerror(errno));
}

void cfg_flags(__u32 set, __u32 clear, int services)
{
	struct zh_objs o = lat_objs();
	struct zh_config cfg;

	if (zh_config_get(&o, &cfg))
		fail_here("reading zh_config");
	cfg.flags = (cfg.flags | set) & ~clear;
	if (services >= 0)
		cfg.services = (__u32)services;
	if (zh_config_set(&o, &cfg))
		fail_here("writing zh_config");
}

void node_addr(int af, const char *a)
{
	struct zh_ep_key k = { .family = af == AF_INET ? ZH_AF_INET :
							 ZH_AF_INET6 };
	__u32 one = 1;

	parse_addr(af, a, k.addr);
	map_put(bpf_map__fd(skel->maps.zh_node_addrs), &k, &one);
}

struct zh_objs lat_objs(void)
{
	return (struct zh_objs){
		.config_fd = bpf_map__fd(skel->maps.zh_config),
		.lat_fd = bpf_map__fd(skel->maps.zh_lat),
		.lat_flows_fd = bpf_map__fd(skel->maps.zh_lat_flows),
	};
}

__u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

void lat_setup(__u32 flags, __u32 sample_every)
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
int lat_teardown(void **state)
{
	struct zh_config off = { 0 };
	struct zh_objs o = lat_objs();

	(void)state;
	return zh_lat_reset(&o) || zh_config_set(&o, &off);
}

struct zh_hist lat_hist(int hop, int src)
{
	struct zh_objs o = lat_objs();
	struct zh_hist h;
	int err = zh_lat_read(&o, hop, src, &h);

	if (err)
		fail_here("zh_lat_read: %s", strerror(-err));
	return h;
}

void assert_lat_only(int hop, int src, __u64 want, __u64 lo, __u64 hi)
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

void b_datapath(__u8 datapath)
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
		fprintf(stderr, "%s: \"%s\" failed (%d)\n", suite_name, cmd,
			rc);
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

/* The veth pairs, in the private namespace fixture_main() made. */
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
			fprintf(stderr, "%s: %s: no ifindex/MAC\n", suite_name,
				d->host);
			return -1;
		}
		if (memcmp(gw_mac_of[p], d->gw_mac, ETH_ALEN)) {
			fprintf(stderr, "%s: %s has MAC %s\n", suite_name,
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
		 * leaves to the tc entry: test_bpf_pod.c). */
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

/* ---------------------------------------------------------------- main */

/* zh_fast as the loader makes it for a kernel with @f, its maps the
 * process's own (nothing pinned); @trace: with its redirects recorded. */
static struct zh_fast *skel_load(const struct zh_kfeat *f, bool trace)
{
	struct zh_fast *s = zh_fast__open();
	struct bpf_map *map;
	int err;

	if (!s)
		return NULL;
	bpf_object__for_each_map (map, s->obj)
		bpf_map__set_pin_path(map, NULL);
	err = zh_fast_prepare(s, f);
	s->rodata->zh_trace_on = trace;
	if (!err)
		err = zh_fast__load(s);
	if (err) {
		zh_fast__destroy(s);
		errno = -err;
		return NULL;
	}
	return s;
}

/* The suite's groups that run in this pass; how many failed. */
static int run_groups(const struct fixture_suite *s, bool kernel_pass)
{
	int failed = 0;

	for (size_t g = 0; g < s->n_groups; g++) {
		const struct fixture_group *grp = &s->groups[g];

		if (grp->kernel_pass_only && !kernel_pass)
			continue;
		failed += _cmocka_run_group_tests(grp->name, grp->tests, grp->n,
						  grp->setup, grp->teardown);
	}
	return failed;
}

/* Every group, with the programs loaded for @f. */
static int run_pass(const struct fixture_suite *s, const char *what,
		    const struct zh_kfeat *f, bool kernel_pass)
{
	int err, failed;

	kfeat = *f;
	skel = skel_load(f, s->trace);
	if (!skel) {
		fprintf(stderr, "%s: %s: loading zh_fast: %s\n", suite_name,
			what, strerror(errno));
		return 1;
	}
	err = maps_fill();
	if (err) {
		fprintf(stderr, "%s: filling the maps: %s\n", suite_name,
			strerror(-err));
		zh_fast__destroy(skel);
		return 1;
	}
	printf("%s: == pass: %s\n", suite_name, what);
	failed = run_groups(s, kernel_pass);
	zh_fast__destroy(skel);
	skel = NULL;
	return failed;
}

/* With the programs loaded for the kernel's features, @s->bench. */
static int run_bench(const struct fixture_suite *s)
{
	int failed;

	kfeat = kfeat_probed;
	skel = skel_load(&kfeat, s->trace);
	if (!skel || maps_fill()) {
		fprintf(stderr, "%s: loading zh_fast: %s\n", suite_name,
			strerror(errno));
		return 1;
	}
	failed = s->bench();
	zh_fast__destroy(skel);
	return failed;
}

size_t fixture_rows(struct CMUnitTest *tests, struct fixture_run *runs,
		    const void *rows, size_t n, size_t size, size_t desc_off,
		    const char *suffix, struct CMUnitTest tmpl)
{
	size_t i = 0;

	for (size_t r = 0; r < n; r++) {
		const char *row = (const char *)rows + r * size;
		const char *desc;

		memcpy(&desc, row + desc_off, sizeof(desc));
		for (int p = 0; p < NR_PROGS; p++, i++) {
			runs[i].row = row;
			runs[i].prog = p;
			snprintf(runs[i].name, sizeof(runs[i].name), "%s: %s%s",
				 prog_names[p], desc, suffix);
			tests[i] = tmpl;
			tests[i].name = runs[i].name;
			tests[i].initial_state = &runs[i];
		}
	}
	return i;
}

int fixture_main(const struct fixture_suite *s, int argc, char **argv)
{
	bool bench = s->bench && argc > 1 &&
		     !strcmp(argv[1], "--bench-latency");
	bool again = false;
	struct zh_kfeat no_meta;
	char why[1024];
	int err, failed;

	suite_name = s->name;
	suite_trace = s->trace;
	if (argc > 1 && !bench) {
		fprintf(stderr, "usage: %s%s\n", s->name,
			s->bench ? " [--bench-latency]" : "");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr,
			"%s: skipped: needs root (BPF_PROG_TEST_RUN, a network namespace, veth pairs)\n",
			suite_name);
		return SKIP_EXIT;
	}
	/* Everything from here on happens in a namespace of our own: the
	 * links vanish with it when the process exits, however it exits. */
	if (unshare(CLONE_NEWNET)) {
		err = errno;
		fprintf(stderr, "%s: %s: unshare(CLONE_NEWNET): %s\n",
			suite_name, err == EPERM ? "skipped" : "error",
			strerror(err));
		return err == EPERM ? SKIP_EXIT : 1;
	}
	if (links_make())
		return 1;
	/* As the loader does (ZEROHOP_DISABLE_FEATURES applies). */
	if (zh_feat_probe(&kfeat_probed, why, sizeof(why))) {
		fprintf(stderr, "%s: probing the kernel: %s\n", suite_name,
			why);
		return 1;
	}
	printf("%s: %s\n", suite_name,
	       zh_feat_summary(&kfeat_probed, why, sizeof(why)));

	if (bench)
		return run_bench(s);
	/* Every case with the features this kernel has; then, where it has
	 * XDP metadata, again without it, as a kernel without it runs. */
	failed = run_pass(s, "the kernel's features", &kfeat_probed, true);
	for (size_t g = 0; g < s->n_groups; g++)
		again |= !s->groups[g].kernel_pass_only;
	no_meta = kfeat_probed;
	no_meta.disabled |= ZH_FEAT_BIT(XDP_META);
	if (!again)
		printf("%s: no second pass: its checks are of the kernel's own features\n",
		       suite_name);
	else if (zh_kfeat_has(&kfeat_probed, ZH_FEAT_XDP_META))
		failed += run_pass(
			s, "xdp_meta disabled (the handover's fallback)",
			&no_meta, false);
	else
		printf("%s: SKIP: the pass with XDP metadata: %s; the fallback's cases ran above for real\n",
		       suite_name,
		       kfeat_probed.present & ZH_FEAT_BIT(XDP_META) ?
			       "xdp_meta is disabled (ZEROHOP_DISABLE_FEATURES)" :
			       "this kernel lacks xdp_meta");
	return failed ? 1 : 0;
}
