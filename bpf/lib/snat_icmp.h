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
#include "icmp.h"

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
	__u32 key = f->ifindex, acc;
	struct zh_snat_src *src = bpf_map_lookup_elem(&zh_snat_src, &key);
	struct zh_ct_key k = { .family = f->family, .dir = ZH_CT_SNAT_REV };
	struct zh_icmp_quote q;
	int v4;
	const __u32 *addr;
	struct zh_ct *rct;

	if (!src || zh_icmp_err_quote(data, data_end, f, &q))
		return -1;
	v4 = q.v4;
	addr = zh_snat_addr(src, f->family);
	if (!addr ||
	    (v4 ? f->daddr[0] != addr[0] : !zh_addr_eq(f->daddr, addr)))
		return -1;
	/* The quote left from that address (the error's destination); its
	 * reply's key is the quote reversed. */
	if (zh_icmp_reply_key(&q, f, &k))
		return -1;
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
		struct iphdr *ip = (struct iphdr *)q.ip;
		struct iphdr *outer = data + ETH_HLEN;
		__u16 qc;

		if ((void *)(outer + 1) > data_end)
			return -1;
		acc = zh_csum_acc(0, &ip->saddr, rct->vip, 2);
		qc = zh_csum_apply(ip->check, acc);
		acc = zh_csum_acc(acc, q.ports, &rct->vport, 1);
		acc = zh_icmp_quote_l4(&q, data_end, acc);
		acc = zh_csum_acc(acc, &ip->check, &qc, 1);
		*(__u16 *)(q.icmp + 2) =
			zh_csum_apply(*(__u16 *)(q.icmp + 2), acc);
		ip->check = qc;
		ip->saddr = rct->vip[0];
		outer->check = zh_csum_apply(outer->check,
					     zh_csum_acc(0, &outer->daddr,
							 rct->vip, 2));
		outer->daddr = rct->vip[0];
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)q.ip;
		struct ipv6hdr *outer = data + ETH_HLEN;

		if ((void *)(outer + 1) > data_end)
			return -1;
		acc = zh_csum_acc(0, &ip6->saddr, rct->vip, 8);
		acc = zh_csum_acc(acc, q.ports, &rct->vport, 1);
		acc = zh_icmp_quote_l4(&q, data_end, acc);
		acc = zh_csum_acc(acc, &outer->daddr, rct->vip, 8);
		*(__u16 *)(q.icmp + 2) =
			zh_csum_apply(*(__u16 *)(q.icmp + 2), acc);
		__builtin_memcpy(&ip6->saddr, rct->vip, 16);
		__builtin_memcpy(&outer->daddr, rct->vip, 16);
	}
	q.ports[0] = rct->vport;
	return 0;
}

#endif /* ZH_SNAT_ICMP_H */
