/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * reject.h - a Service without a ready backend refuses at once, as
 * kube-proxy's REJECT does: the client gets ICMP port unreachable (ICMPv6
 * destination unreachable, port unreachable) from the VIP, so connect()
 * fails with ECONNREFUSED instead of timing out.
 *
 * The request is turned into the error in place: Ethernet addresses
 * swapped, a new IP header and ICMP header, then the request's IP header
 * and the first 8 bytes of its TCP/UDP header (RFC 792, RFC 4443), and sent
 * back into the pod it came from.
 */
#ifndef ZH_REJECT_H
#define ZH_REJECT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "csum.h"
#include "kfeat.h"
#include "trace.h"

#define ZH_ICMP_QUOTE 8 /* bytes of the offending L4 header quoted */
/* <linux/icmp.h> drags in libc headers: the two codes we send. */
#define ZH_ICMP_DEST_UNREACH 3
#define ZH_ICMP_PORT_UNREACH 3
#define ZH_ICMPV6_DEST_UNREACH 1
#define ZH_ICMPV6_PORT_UNREACH 4
/* ... and the two that say "too big" (lb_dsr.h): RFC 1191, RFC 4443. */
#define ZH_ICMP_FRAG_NEEDED 4
#define ZH_ICMPV6_PKT_TOOBIG 2

/* Everything after the Ethernet header, for each family. */
struct zh_icmp4_err {
	struct iphdr ip;
	__u8 icmp[8]; /* type, code, checksum, unused */
	__u8 quote[sizeof(struct iphdr) + ZH_ICMP_QUOTE];
};

struct zh_icmp6_err {
	struct ipv6hdr ip6;
	__u8 icmp[8];
	__u8 quote[sizeof(struct ipv6hdr) + ZH_ICMP_QUOTE];
};

/* The frame to send starts at .eth: two bytes in, so that the IP header
 * after the 14-byte Ethernet header is 4-byte aligned on the stack. */
struct zh_reject {
	__u8 align[2];
	struct ethhdr eth; /* already swapped */
	union {
		struct zh_icmp4_err v4;
		struct zh_icmp6_err v6;
	};
	__u32 len; /* of the whole frame to send */
};

/*
 * Build the error for the request whose first bytes (Ethernet, IP, 8 bytes
 * of L4) are in @req, into @r: port unreachable, or with @mtu non-zero
 * "too big" with that MTU (IPv4 fragmentation needed, ICMPv6 packet too
 * big). Returns 0, or -1 for a family not IPv4/6.
 */
static __always_inline int zh_reject_build(const __u8 *req, __u16 proto,
					   struct zh_reject *r, __u32 mtu)
{
	const struct ethhdr *eth = (const void *)req;

	zh_mac_copy(r->eth.h_dest, eth->h_source);
	zh_mac_copy(r->eth.h_source, eth->h_dest);
	r->eth.h_proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		const struct iphdr *q = (const void *)(req + ETH_HLEN);
		struct zh_icmp4_err *e = &r->v4;

		__builtin_memcpy(e->quote, q, sizeof(e->quote));
		__builtin_memset(&e->ip, 0, sizeof(e->ip) + sizeof(e->icmp));
		e->ip.version = 4;
		e->ip.ihl = 5;
		e->ip.tot_len = bpf_htons(sizeof(*e));
		e->ip.ttl = 64;
		e->ip.protocol = IPPROTO_ICMP;
		e->ip.saddr = q->daddr; /* the VIP answers */
		e->ip.daddr = q->saddr;
		e->ip.check = zh_csum_fold(bpf_csum_diff(
			NULL, 0, (__be32 *)&e->ip, sizeof(e->ip), 0));
		e->icmp[0] = ZH_ICMP_DEST_UNREACH;
		e->icmp[1] = mtu ? ZH_ICMP_FRAG_NEEDED : ZH_ICMP_PORT_UNREACH;
		/* The next hop's MTU in the second half of the unused word. */
		*(__be16 *)&e->icmp[6] = bpf_htons((__u16)mtu);
		*(__u16 *)&e->icmp[2] = zh_csum_fold(
			bpf_csum_diff(NULL, 0, (__be32 *)e->icmp,
				      sizeof(e->icmp) + sizeof(e->quote), 0));
		r->len = ETH_HLEN + sizeof(*e);
		return 0;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		const struct ipv6hdr *q = (const void *)(req + ETH_HLEN);
		struct zh_icmp6_err *e = &r->v6;
		__u32 pseudo[2] = { bpf_htonl(sizeof(e->icmp) +
					      sizeof(e->quote)),
				    bpf_htonl(IPPROTO_ICMPV6) };
		__s64 sum;

		__builtin_memcpy(e->quote, q, sizeof(e->quote));
		__builtin_memset(&e->ip6, 0, sizeof(e->ip6) + sizeof(e->icmp));
		e->ip6.version = 6;
		e->ip6.payload_len =
			bpf_htons(sizeof(e->icmp) + sizeof(e->quote));
		e->ip6.nexthdr = IPPROTO_ICMPV6;
		e->ip6.hop_limit = 64;
		e->ip6.saddr = q->daddr;
		e->ip6.daddr = q->saddr;
		e->icmp[0] = mtu ? ZH_ICMPV6_PKT_TOOBIG :
				   ZH_ICMPV6_DEST_UNREACH;
		e->icmp[1] = mtu ? 0 : ZH_ICMPV6_PORT_UNREACH;
		*(__be32 *)&e->icmp[4] = bpf_htonl(mtu);
		/* Pseudo-header: both addresses, length, next header. */
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&e->ip6.saddr, 32, 0);
		sum = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo),
				    (__u32)sum);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)e->icmp,
				    sizeof(e->icmp) + sizeof(e->quote),
				    (__u32)sum);
		*(__u16 *)&e->icmp[2] = zh_csum_fold(sum);
		r->len = ETH_HLEN + sizeof(*e);
		return 0;
	}
	return -1;
}

/* The request's first bytes, as many as an error quotes. */
#define ZH_REJECT_REQ_LEN (ETH_HLEN + sizeof(struct ipv6hdr) + ZH_ICMP_QUOTE)

/* Too big for the entry programs' stack next to the fast path's state:
 * a per-CPU scratch slot (programs on one CPU do not interleave). */
struct zh_reject_scratch {
	__u8 req[ZH_REJECT_REQ_LEN + 2];
	struct zh_reject r;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zh_reject_scratch);
} zh_scratch SEC(".maps");

static __always_inline struct zh_reject_scratch *zh_reject_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&zh_scratch, &zero);
}

/*
 * tc: turn the skb into the error (@mtu: zh_reject_build()) and send it
 * back where it came from: into the pod behind the host veth it came in on
 * (@to_peer), or out of the uplink. Returns the tc verdict, or -1 when that
 * failed (drop it).
 */
static __always_inline int zh_skb_icmp_err(struct __sk_buff *skb,
					   const int to_peer, __u32 mtu)
{
	struct zh_reject_scratch *sc = zh_reject_scratch();
	__u32 need;

	/* Without these helpers the request is dropped, unanswered. */
	if (!sc || !zh_kernel_has(TC_SKB_LOAD_BYTES) ||
	    !zh_kernel_has(TC_SKB_CHANGE_TAIL) || !zh_kernel_has(TC_CSUM_LEVEL))
		return -1;
	need = skb->protocol == bpf_htons(ETH_P_IP) ?
		       ETH_HLEN + sizeof(struct iphdr) + ZH_ICMP_QUOTE :
		       ZH_REJECT_REQ_LEN;
	if (skb->len < need || bpf_skb_load_bytes(skb, 0, sc->req, need))
		return -1;
	if (zh_reject_build(sc->req, skb->protocol, &sc->r, mtu))
		return -1;
	/* Constant lengths, one per family: what the verifier can check.
	 * A CHECKSUM_COMPLETE skb's skb->csum covers the packet from L3 on:
	 * the new IP packet is stored with its change added to it, the
	 * Ethernet header (not in it) without. (Resized, the skb has become
	 * CHECKSUM_NONE, and the flag does nothing.) */
	if (bpf_skb_change_tail(skb,
				skb->protocol == bpf_htons(ETH_P_IP) ?
					ETH_HLEN + sizeof(struct zh_icmp4_err) :
					ETH_HLEN + sizeof(struct zh_icmp6_err),
				0) ||
	    bpf_skb_store_bytes(skb, 0, &sc->r.eth, ETH_HLEN, 0))
		return -1;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_store_bytes(skb, ETH_HLEN, &sc->r.v4,
					sizeof(struct zh_icmp4_err),
					BPF_F_RECOMPUTE_CSUM))
			return -1;
	} else if (bpf_skb_store_bytes(skb, ETH_HLEN, &sc->r.v6,
				       sizeof(struct zh_icmp6_err),
				       BPF_F_RECOMPUTE_CSUM)) {
		return -1;
	}
	/* Our checksums are complete: let the receiver verify them. */
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	/* Into the pod behind a host veth, or back out of the uplink. Out of
	 * the host veth reaches the pod as well, through its veth's RX. */
	if (to_peer && zh_kernel_has(TC_REDIRECT_PEER))
		return zh_redirect_peer(skb->ifindex, 0);
	return zh_redirect(skb->ifindex, 0);
}

static __always_inline int zh_skb_reject(struct __sk_buff *skb,
					 const int to_peer)
{
	return zh_skb_icmp_err(skb, to_peer, 0);
}

/* XDP: the same, sent back with XDP_TX. */
static __always_inline int zh_xdp_reject(struct xdp_md *ctx)
{
	struct zh_reject_scratch *sc = zh_reject_scratch();
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	__u16 proto;
	__u8 *p;

	if (!eth || !sc || !zh_kernel_has(XDP_ADJUST_TAIL))
		return -1;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		p = zh_hdr(data, data_end, 0,
			   ETH_HLEN + sizeof(struct iphdr) + ZH_ICMP_QUOTE);
		if (!p)
			return -1;
		__builtin_memcpy(sc->req, p,
				 ETH_HLEN + sizeof(struct iphdr) +
					 ZH_ICMP_QUOTE);
	} else {
		p = zh_hdr(data, data_end, 0, ZH_REJECT_REQ_LEN);
		if (!p)
			return -1;
		__builtin_memcpy(sc->req, p, ZH_REJECT_REQ_LEN);
	}
	if (zh_reject_build(sc->req, proto, &sc->r, 0))
		return -1;
	if (bpf_xdp_adjust_tail(ctx, (int)sc->r.len - (int)(data_end - data)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (proto == bpf_htons(ETH_P_IP)) {
		p = zh_hdr(data, data_end, 0,
			   ETH_HLEN + sizeof(struct zh_icmp4_err));
		if (!p)
			return -1;
		__builtin_memcpy(p, &sc->r.eth,
				 ETH_HLEN + sizeof(struct zh_icmp4_err));
	} else {
		p = zh_hdr(data, data_end, 0,
			   ETH_HLEN + sizeof(struct zh_icmp6_err));
		if (!p)
			return -1;
		__builtin_memcpy(p, &sc->r.eth,
				 ETH_HLEN + sizeof(struct zh_icmp6_err));
	}
	return XDP_TX;
}

#endif /* ZH_REJECT_H */
