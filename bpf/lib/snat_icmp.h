/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * snat_icmp.h - an ICMP error about a masqueraded flow, back to its pod.
 *
 * A pod's TCP/UDP flow masqueraded here (snat.h) leaves with the node's
 * address and a port of the node. A router on its way that cannot forward
 * one of its packets answers the node: "fragmentation needed" (IPv4) or
 * "packet too big" (ICMPv6), which path MTU discovery lives on, or an
 * unreachable, quoting the packet as it left (the node's address and port
 * as its source). The kernel's conntrack never saw the flow, so nothing
 * would take the error back to the pod: its TCP would keep sending
 * segments too big for the path (a black hole), its UDP socket would never
 * hear "unreachable". netfilter's NAT rewrites such errors as RELATED to
 * the flow; this does the same, on the flow's SNAT_REV entry:
 *
 *   - IPv4 destination unreachable, time exceeded, parameter problem, or
 *     ICMPv6 1 to 4 straight behind the IPv6 header, to this uplink's SNAT
 *     address, quoting TCP or UDP from that address (IPv4 without options,
 *     IPv6 without extension headers) whose reply would be a SNATed flow's
 *     reply to a pod of this node;
 *   - its destination and the quote's source address and port go back to
 *     the pod's, every checksum kept by RFC 1624: the outer IPv4 header's,
 *     the quoted IPv4 header's, the quoted TCP/UDP checksum where the quote
 *     holds it (UDP's of 0 stays 0), and ICMP's over all of it (ICMPv6's
 *     pseudo-header included). Each region's sum is unchanged, so is the
 *     packet's, and skb->csum stays right on CHECKSUM_COMPLETE skbs;
 *   - then delivered into the pod like the flow's replies.
 * Anything else stays the kernel's. Written in place (the frame keeps its
 * length), the same in tc and XDP.
 */
#ifndef ZH_SNAT_ICMP_H
#define ZH_SNAT_ICMP_H

#include <linux/in.h>
#include <linux/in6.h>
#include "parse.h"
#include "maps.h"
#include "ct.h"
#include "snat.h"

/*
 * RFC 1624 eqn. 3, gathered: zh_csum_acc() adds ~from + to of @n 16-bit
 * words (as they lie in the packet: the sum is byte-order blind; @n a
 * constant, so that the loop unrolls), zh_csum_apply() folds the changes
 * into a checksum field.
 */
static __always_inline __u32 zh_csum_acc(__u32 acc, const void *from,
					 const void *to, int n)
{
	const __u16 *a = from, *b = to;

#pragma unroll
	for (int i = 0; i < n; i++)
		acc += (__u16)~a[i] + b[i];
	return acc;
}

static __always_inline __u16 zh_csum_apply(__u16 check, __u32 acc)
{
	__u32 sum = (__u16)~check + (acc & 0xffff) + (acc >> 16);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The quote's TCP or UDP checksum at @l4, once the changes gathered in
 * @acc (its source address and port) are in: returns @acc with the
 * checksum's own change added, for ICMP's; nothing when the quote cuts it
 * off or UDP carries none. */
static __always_inline __u32 zh_icmp_quote_l4(__u8 *l4, void *data_end,
					      __u8 proto, __u32 acc)
{
	__u16 *check = (__u16 *)(l4 + (proto == IPPROTO_TCP ? 16 : 6));
	__u16 c;

	if ((void *)(check + 1) > data_end)
		return acc;
	if (proto == IPPROTO_UDP && !*check)
		return acc;
	c = zh_csum_apply(*check, acc);
	if (proto == IPPROTO_UDP && !c)
		c = 0xffff;
	acc = zh_csum_acc(acc, check, &c, 1);
	*check = c;
	return acc;
}

/*
 * Is @f (arriving on its uplink) an ICMP error about a flow SNATed there
 * to a pod of this node? 0 if so, with the pod's address in @to, and with
 * @write the frame rewritten for it; else -1, untouched. A function of
 * its own: the callers' stack is spent.
 */
static __attribute__((noinline)) int zh_snat_icmp(void *data, void *data_end,
						  const struct zh_flow *f,
						  struct zh_ep_key *to,
						  int write)
{
	__u32 key = f->ifindex, l4 = zh_l4_off(f->family), acc;
	struct zh_snat_src *src = bpf_map_lookup_elem(&zh_snat_src, &key);
	struct zh_ct_key k = { .family = f->family, .dir = ZH_CT_SNAT_REV };
	int v4 = f->family == ZH_AF_INET;
	const __u32 *addr;
	__u8 *icmp, *in;
	struct zh_ct *rct;
	__u16 *sport;

	if (!src || (f->flags & (ZH_FLOW_F_IP_OPTIONS | ZH_FLOW_F_FRAGMENT)))
		return -1;
	addr = zh_snat_addr(src, f->family);
	if (!addr ||
	    (v4 ? f->daddr[0] != addr[0] : !zh_addr_eq(f->daddr, addr)))
		return -1;
	icmp = zh_hdr(data, data_end, l4, 8);
	if (!icmp)
		return -1;
	if (v4 ? f->proto != IPPROTO_ICMP ||
			 (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12) :
		 f->proto != IPPROTO_ICMPV6 || icmp[0] < 1 || icmp[0] > 4)
		return -1;
	/* The quote: its IP header, then at least 8 bytes of TCP/UDP. */
	in = zh_hdr(data, data_end, l4 + 8, v4 ? 20 + 8 : 40 + 8);
	if (!in)
		return -1;
	if (v4) {
		struct iphdr *ip = (struct iphdr *)in;

		if (ip->version != 4 || ip->ihl != 5 || ip->saddr != addr[0] ||
		    (ip->frag_off & bpf_htons(0x1fff)))
			return -1;
		k.proto = ip->protocol;
		k.saddr[0] = ip->daddr;
		k.daddr[0] = ip->saddr;
		sport = (__u16 *)(in + 20);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)in;

		if (ip6->version != 6 ||
		    !zh_addr_eq((const __u32 *)&ip6->saddr, addr))
			return -1;
		k.proto = ip6->nexthdr;
		__builtin_memcpy(k.saddr, &ip6->daddr, 16);
		__builtin_memcpy(k.daddr, &ip6->saddr, 16);
		sport = (__u16 *)(in + 40);
	}
	if (k.proto != IPPROTO_TCP && k.proto != IPPROTO_UDP)
		return -1;
	/* The key of the flow's reply: the quote reversed. */
	k.sport = sport[1];
	k.dport = sport[0];
	rct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!rct)
		return -1;
	/* Only to a pod of this node (a masqueraded flow's; a NodePort's
	 * client is out there). */
	to->family = f->family;
	__builtin_memcpy(to->addr, rct->vip, sizeof(to->addr));
	if (!bpf_map_lookup_elem(&zh_endpoints, to))
		return -1;
	if (!write)
		return 0;

	/* What changes in the quote: its source address and port, then its
	 * L4 checksum; ICMP's covers all of it (and IPv4's quoted header
	 * checksum; ICMPv6's pseudo-header, the outer destination). */
	if (v4) {
		struct iphdr *ip = (struct iphdr *)in;
		struct iphdr *outer = data + ETH_HLEN;
		__u16 qc;

		if ((void *)(outer + 1) > data_end)
			return -1;
		acc = zh_csum_acc(0, &ip->saddr, rct->vip, 2);
		qc = zh_csum_apply(ip->check, acc);
		acc = zh_csum_acc(acc, sport, &rct->vport, 1);
		acc = zh_icmp_quote_l4((__u8 *)sport, data_end, k.proto, acc);
		acc = zh_csum_acc(acc, &ip->check, &qc, 1);
		*(__u16 *)(icmp + 2) = zh_csum_apply(*(__u16 *)(icmp + 2), acc);
		ip->check = qc;
		ip->saddr = rct->vip[0];
		outer->check = zh_csum_apply(
			outer->check, zh_csum_acc(0, &outer->daddr, rct->vip, 2));
		outer->daddr = rct->vip[0];
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)in;
		struct ipv6hdr *outer = data + ETH_HLEN;

		if ((void *)(outer + 1) > data_end)
			return -1;
		acc = zh_csum_acc(0, &ip6->saddr, rct->vip, 8);
		acc = zh_csum_acc(acc, sport, &rct->vport, 1);
		acc = zh_icmp_quote_l4((__u8 *)sport, data_end, k.proto, acc);
		acc = zh_csum_acc(acc, &outer->daddr, rct->vip, 8);
		*(__u16 *)(icmp + 2) = zh_csum_apply(*(__u16 *)(icmp + 2), acc);
		__builtin_memcpy(&ip6->saddr, rct->vip, 16);
		__builtin_memcpy(&outer->daddr, rct->vip, 16);
	}
	*sport = rct->vport;
	return 0;
}

#endif /* ZH_SNAT_ICMP_H */
