/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * icmp.h - ICMP errors that quote a TCP or UDP packet: where the quote is,
 * and its checksums once NAT changes it. What policy (policy.h), the
 * balancer (lb_icmp.h) and masquerade (snat_icmp.h) read of an error.
 */
#ifndef ZH_ICMP_H
#define ZH_ICMP_H

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include "parse.h"
#include "csum.h"
#include "lb.h" /* zh_addr_eq */

struct zh_icmp_quote {
	__u8 *icmp; /* the error's ICMP header */
	__u8 *ip; /* the quoted IP header */
	__u16 *ports; /* the quoted TCP/UDP header: its ports */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 v4; /* IPv4 (else IPv6): a constant on each path, so that the
		  * verifier follows the family the offsets were checked for
		  * (two loads of f->family are two unknowns to it) */
};

/*
 * Is @f (zh_flow_parse()) an ICMP error that quotes a TCP or UDP packet?
 * IPv4: destination unreachable, time exceeded or parameter problem, the
 * error's header and the quote's without options, the quote no later
 * fragment; ICMPv6: 1 to 4, straight behind the IPv6 header, the quote
 * without extension headers. At least 8 bytes of TCP/UDP quoted (RFC 792
 * asks that much). 0 with @q filled, else -1.
 */
static __always_inline int zh_icmp_err_quote(void *data, void *data_end,
					     const struct zh_flow *f,
					     struct zh_icmp_quote *q)
{
	/* Each family with constant offsets: the verifier bounds the
	 * accesses by them. */
	const __u32 l4v4 = ETH_HLEN + sizeof(struct iphdr);
	const __u32 l4v6 = ETH_HLEN + sizeof(struct ipv6hdr);
	__u8 *icmp, *in;

	if (f->flags & (ZH_FLOW_F_IP_OPTIONS | ZH_FLOW_F_FRAGMENT))
		return -1;
	if (f->family == ZH_AF_INET) {
		struct iphdr *ip;

		if (f->proto != IPPROTO_ICMP)
			return -1;
		icmp = zh_hdr(data, data_end, l4v4, 8 + 20 + 8);
		if (!icmp || (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12))
			return -1;
		in = icmp + 8;
		ip = (struct iphdr *)in;
		if (ip->version != 4 || ip->ihl != 5 ||
		    (ip->frag_off & bpf_htons(0x1fff)))
			return -1;
		q->v4 = 1;
		q->proto = ip->protocol;
		q->ports = (__u16 *)(in + 20);
	} else {
		struct ipv6hdr *ip6;

		if (f->proto != IPPROTO_ICMPV6)
			return -1;
		icmp = zh_hdr(data, data_end, l4v6, 8 + 40 + 8);
		if (!icmp || icmp[0] < 1 || icmp[0] > 4)
			return -1;
		in = icmp + 8;
		ip6 = (struct ipv6hdr *)in;
		if (ip6->version != 6)
			return -1;
		q->v4 = 0;
		q->proto = ip6->nexthdr;
		q->ports = (__u16 *)(in + 40);
	}
	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return -1;
	q->icmp = icmp;
	q->ip = in;
	return 0;
}

/* The quote's TCP or UDP checksum, once the changes gathered in @acc
 * (addresses and ports of its pseudo-header and header) are in: returns
 * @acc with the checksum's own change added, for ICMP's; nothing when the
 * quote cuts it off or UDP carries none. */
static __always_inline __u32 zh_icmp_quote_l4(const struct zh_icmp_quote *q,
					      void *data_end, __u32 acc)
{
	__u8 *l4 = (__u8 *)q->ports;
	__u16 *check, c;

	/* Each with its own bound check: the verifier keeps a constant
	 * offset apart from a chosen one. */
	if (q->proto == IPPROTO_TCP) {
		if ((void *)(l4 + 18) > data_end)
			return acc;
		check = (__u16 *)(l4 + 16);
	} else {
		if ((void *)(l4 + 8) > data_end)
			return acc;
		check = (__u16 *)(l4 + 6);
	}
	if (q->proto == IPPROTO_UDP && !*check)
		return acc;
	c = zh_csum_apply(*check, acc);
	if (q->proto == IPPROTO_UDP && !c)
		c = 0xffff;
	acc = zh_csum_acc(acc, check, &c, 1);
	*check = c;
	return acc;
}

/*
 * The conntrack key, in @k (its family and direction set by the caller),
 * of the reply to the flow whose packet @q quotes: the quote reversed.
 * Only for an error that goes to the quoted packet's sender (@f's
 * destination): 0, else -1.
 */
static __always_inline int zh_icmp_reply_key(const struct zh_icmp_quote *q,
					     const struct zh_flow *f,
					     struct zh_ct_key *k)
{
	if (q->v4) {
		struct iphdr *ip = (struct iphdr *)q->ip;

		if (ip->saddr != f->daddr[0])
			return -1;
		k->saddr[0] = ip->daddr;
		k->daddr[0] = ip->saddr;
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)q->ip;

		if (!zh_addr_eq((const __u32 *)&ip6->saddr, f->daddr))
			return -1;
		__builtin_memcpy(k->saddr, &ip6->daddr, 16);
		__builtin_memcpy(k->daddr, &ip6->saddr, 16);
	}
	k->proto = q->proto;
	k->sport = q->ports[1];
	k->dport = q->ports[0];
	return 0;
}

#endif /* ZH_ICMP_H */
