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
	/* Bytes of the quoted TCP/UDP header (and on) inside the error's
	 * IP packet: the frame may go on past it (padding, a trailer),
	 * which is no part of the message its checksum covers. */
	__u16 l4_len;
};

/*
 * Is @f (zh_flow_parse()) an ICMP error that quotes a TCP or UDP packet?
 * IPv4: destination unreachable, time exceeded or parameter problem, the
 * error's header and the quote's without options, the quote no later
 * fragment; ICMPv6: 1 to 4, straight behind the IPv6 header, the quote
 * without extension headers. At least 8 bytes of TCP/UDP quoted (RFC 792
 * asks that much), inside the error's IP packet as its length says. 0
 * with @q filled, else -1.
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
	__u32 len;

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
		/* The outer header lies before the checked range. */
		len = bpf_ntohs(((struct iphdr *)(data + ETH_HLEN))->tot_len);
		if (len < 20 + 8 + 20 + 8)
			return -1;
		q->l4_len = (__u16)(len - (20 + 8 + 20));
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
		len = bpf_ntohs(
			((struct ipv6hdr *)(data + ETH_HLEN))->payload_len);
		if (len < 8 + 40 + 8)
			return -1;
		q->l4_len = (__u16)(len - (8 + 40));
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
		if ((void *)(l4 + 18) > data_end || q->l4_len < 18)
			return acc;
		check = (__u16 *)(l4 + 16);
	} else {
		if ((void *)(l4 + 8) > data_end || q->l4_len < 8)
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

/*
 * The NAT of an ICMP error about a translated flow, in place: the quote's
 * source becomes @qs:@qsp and its destination @qd:@qdp (a NULL address:
 * that end is kept), and the error's own addresses follow the quote's:
 * its destination (the quote's sender, zh_icmp_reply_key()) becomes the
 * new source, and its source, when the quote's destination sent it
 * (a backend's, a client's "port unreachable"), the new destination; a
 * router's own address is kept. Every checksum by RFC 1624: the outer and
 * quoted IPv4 headers', the quoted TCP/UDP checksum where the quote holds
 * it (UDP's 0 stays 0), ICMP's over the whole message, ICMPv6's pseudo-
 * header included; each region's sum, so the packet's, stays what it was
 * (skb->csum stays right on CHECKSUM_COMPLETE skbs). 0, or -1 untouched.
 * Inlined: the callers pass constants for what they keep, and the
 * compiler drops those branches.
 */
static __always_inline int zh_icmp_nat(void *data, void *data_end,
				       const struct zh_icmp_quote *q,
				       const __u32 *qs, __be16 qsp,
				       const __u32 *qd, __be16 qdp)
{
	__u32 acc = 0, oacc = 0;
	int self;

	if (q->v4) {
		struct iphdr *ip = (struct iphdr *)q->ip;
		struct iphdr *outer = data + ETH_HLEN;
		__u16 qc;

		if ((void *)(outer + 1) > data_end)
			return -1;
		self = qd && outer->saddr == ip->daddr;
		if (qs)
			acc = zh_csum_acc(acc, &ip->saddr, qs, 2);
		if (qd)
			acc = zh_csum_acc(acc, &ip->daddr, qd, 2);
		qc = zh_csum_apply(ip->check, acc);
		if (qs)
			acc = zh_csum_acc(acc, &q->ports[0], &qsp, 1);
		if (qd)
			acc = zh_csum_acc(acc, &q->ports[1], &qdp, 1);
		acc = zh_icmp_quote_l4(q, data_end, acc);
		acc = zh_csum_acc(acc, &ip->check, &qc, 1);
		*(__u16 *)(q->icmp + 2) =
			zh_csum_apply(*(__u16 *)(q->icmp + 2), acc);
		ip->check = qc;
		/* The outer header: no part of ICMPv4's checksum. */
		if (self)
			oacc = zh_csum_acc(oacc, &outer->saddr, qd, 2);
		if (qs)
			oacc = zh_csum_acc(oacc, &outer->daddr, qs, 2);
		outer->check = zh_csum_apply(outer->check, oacc);
		if (self)
			outer->saddr = qd[0];
		if (qs) {
			outer->daddr = qs[0];
			ip->saddr = qs[0];
		}
		if (qd)
			ip->daddr = qd[0];
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)q->ip;
		struct ipv6hdr *outer = data + ETH_HLEN;

		if ((void *)(outer + 1) > data_end)
			return -1;
		self = qd && zh_addr_eq((const __u32 *)&outer->saddr,
					(const __u32 *)&ip6->daddr);
		if (qs)
			acc = zh_csum_acc(acc, &ip6->saddr, qs, 8);
		if (qd)
			acc = zh_csum_acc(acc, &ip6->daddr, qd, 8);
		if (qs)
			acc = zh_csum_acc(acc, &q->ports[0], &qsp, 1);
		if (qd)
			acc = zh_csum_acc(acc, &q->ports[1], &qdp, 1);
		acc = zh_icmp_quote_l4(q, data_end, acc);
		/* ICMPv6's pseudo-header: the outer addresses. */
		if (self)
			acc = zh_csum_acc(acc, &outer->saddr, qd, 8);
		if (qs)
			acc = zh_csum_acc(acc, &outer->daddr, qs, 8);
		*(__u16 *)(q->icmp + 2) =
			zh_csum_apply(*(__u16 *)(q->icmp + 2), acc);
		if (self)
			__builtin_memcpy(&outer->saddr, qd, 16);
		if (qs) {
			__builtin_memcpy(&outer->daddr, qs, 16);
			__builtin_memcpy(&ip6->saddr, qs, 16);
		}
		if (qd)
			__builtin_memcpy(&ip6->daddr, qd, 16);
	}
	if (qs)
		q->ports[0] = qsp;
	if (qd)
		q->ports[1] = qdp;
	return 0;
}

#endif /* ZH_ICMP_H */
