/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * nat.h - writing a Service rewrite (struct zh_nat, lb.h) into the packet
 * with its checksums: the IPv4 header's, and the TCP/UDP one over the
 * pseudo-header (addresses) and the ports.
 *
 * tc goes through the helpers: they know whether the skb carries a full
 * checksum or only the pseudo-header's (CHECKSUM_PARTIAL, as from a local
 * socket) and keep skb->csum right. XDP frames carry full checksums (the
 * pod's TX offload is off in XDP mode), updated incrementally (RFC 1624).
 * A UDP checksum of 0 (none, IPv4) stays 0; a computed 0 is sent as 0xffff.
 */
#ifndef ZH_NAT_H
#define ZH_NAT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include "lb.h"

#define ZH_IP4_CHECK_OFF (ETH_HLEN + offsetof(struct iphdr, check))

/* Offset of the rewritten address: the destination for DNAT, else the
 * source. */
static __always_inline __u32 zh_nat_addr_off(const struct zh_nat *n)
{
	if (n->family == ZH_AF_INET)
		return ETH_HLEN + (n->op == ZH_NAT_DNAT ?
					   offsetof(struct iphdr, daddr) :
					   offsetof(struct iphdr, saddr));
	return ETH_HLEN + (n->op == ZH_NAT_DNAT ?
				   offsetof(struct ipv6hdr, daddr) :
				   offsetof(struct ipv6hdr, saddr));
}

static __always_inline __u32 zh_nat_csum_off(const struct zh_nat *n)
{
	return zh_l4_off(n->family) + (n->proto == IPPROTO_TCP ?
					       offsetof(struct tcphdr, check) :
					       offsetof(struct udphdr, check));
}

/* Returns 0, or -1 when a helper failed (the packet may be half written:
 * the caller drops it). */
static __always_inline int zh_tc_nat(struct __sk_buff *skb,
				     const struct zh_nat *n)
{
	__u32 port_off = zh_l4_off(n->family) + (n->op == ZH_NAT_DNAT ? 2 : 0);
	__u32 addr_off = zh_nat_addr_off(n);
	__u32 csum_off = zh_nat_csum_off(n);
	__u64 l4f = n->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (n->family == ZH_AF_INET) {
		if (bpf_l4_csum_replace(skb, csum_off, n->old_addr[0],
					n->new_addr[0],
					l4f | BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, ZH_IP4_CHECK_OFF, n->old_addr[0],
					n->new_addr[0], 4) ||
		    bpf_skb_store_bytes(skb, addr_off, &n->new_addr[0], 4, 0))
			return -1;
	} else {
		__s64 diff = bpf_csum_diff((__be32 *)n->old_addr, 16,
					   (__be32 *)n->new_addr, 16, 0);

		/* Size 0: @to is a checksum difference, not a value. */
		if (bpf_l4_csum_replace(skb, csum_off, 0, diff,
					l4f | BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, addr_off, n->new_addr, 16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum_off, n->old_port, n->new_port,
				l4f | 2) ||
	    bpf_skb_store_bytes(skb, port_off, &n->new_port, 2, 0))
		return -1;
	return 0;
}

static __always_inline __u16 zh_csum_fold(__s64 sum)
{
	__u32 c = (__u32)sum;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)~c;
}

/* The ports and the L4 checksum: @ports and @check point into one checked
 * TCP or UDP header. */
static __always_inline void zh_xdp_l4(__be16 *ports, __be16 *check,
				      const struct zh_nat *n, const __u32 alen,
				      const int udp)
{
	__be32 ports_old, ports_new;
	__s64 sum;

	__builtin_memcpy(&ports_old, ports, 4);
	if (n->op == ZH_NAT_DNAT)
		ports[1] = n->new_port;
	else
		ports[0] = n->new_port;
	__builtin_memcpy(&ports_new, ports, 4);

	if (udp && !*check)
		return; /* no UDP checksum: nothing to update */
	sum = bpf_csum_diff((__be32 *)n->old_addr, alen, (__be32 *)n->new_addr,
			    alen, (__u16) ~*check);
	sum = bpf_csum_diff(&ports_old, 4, &ports_new, 4, (__u32)sum);
	*check = zh_csum_fold(sum);
	if (udp && !*check)
		*check = 0xffff;
}

/* @l4_off and @alen are constants in each caller: packet offsets the
 * verifier can bound. */
static __always_inline int zh_xdp_nat_at(void *data, void *data_end,
					 const struct zh_nat *n,
					 const __u32 l4_off, const __u32 alen)
{
	struct tcphdr *th;
	struct udphdr *uh;
	__u32 *addr;
	__s64 sum;

	if (alen == 4) {
		struct iphdr *iph =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));

		if (!iph)
			return -1;
		sum = bpf_csum_diff((__be32 *)n->old_addr, 4,
				    (__be32 *)n->new_addr, 4,
				    (__u16)~iph->check);
		iph->check = zh_csum_fold(sum);
		addr = n->op == ZH_NAT_DNAT ? &iph->daddr : &iph->saddr;
		*addr = n->new_addr[0];
	} else {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return -1;
		addr = n->op == ZH_NAT_DNAT ? (__u32 *)&ip6->daddr :
					      (__u32 *)&ip6->saddr;
		__builtin_memcpy(addr, n->new_addr, 16);
	}
	if (n->proto == IPPROTO_TCP) {
		th = zh_hdr(data, data_end, l4_off, sizeof(*th));
		if (!th)
			return -1;
		zh_xdp_l4((__be16 *)th, &th->check, n, alen, 0);
	} else {
		uh = zh_hdr(data, data_end, l4_off, sizeof(*uh));
		if (!uh)
			return -1;
		zh_xdp_l4((__be16 *)uh, &uh->check, n, alen, 1);
	}
	return 0;
}

static __always_inline int zh_xdp_nat(void *data, void *data_end,
				      const struct zh_nat *n)
{
	if (n->family == ZH_AF_INET)
		return zh_xdp_nat_at(data, data_end, n,
				     ETH_HLEN + sizeof(struct iphdr), 4);
	return zh_xdp_nat_at(data, data_end, n,
			     ETH_HLEN + sizeof(struct ipv6hdr), 16);
}

#endif /* ZH_NAT_H */
