/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * nat.h - a Service rewrite: the plan (struct zh_nat, made by lb.h) and its
 * two writers, with the checksums: the IPv4 header's, and the TCP/UDP one
 * over the pseudo-header (addresses) and the ports. ctx.h picks the writer
 * for the program's context.
 *
 * tc goes through the helpers: they know whether the skb carries a full
 * checksum or only the pseudo-header's (CHECKSUM_PARTIAL, as from a local
 * socket) and keep skb->csum right (CHECKSUM_COMPLETE) where a field and a
 * checksum over it change together; what no checksum covers is written so
 * that the helper adds its change to skb->csum (zh_skb_nat()). XDP frames
 * carry full checksums (the pod's TX offload is off in XDP mode), updated
 * incrementally (RFC 1624). A UDP checksum of 0 (none, IPv4) stays 0; a
 * computed 0 is sent as 0xffff.
 */
#ifndef ZH_NAT_H
#define ZH_NAT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "csum.h"

/*
 * The packet's addresses and ports before and after: both addresses and
 * both ports are written, unchanged ones with their old value (a zero
 * checksum difference), which keeps the writers free of cases. Addresses
 * are laid out as in the header: IPv4 source then destination in [0] and
 * [1], IPv6 in [0..3] and [4..7].
 */
struct zh_nat {
	__u8 op; /* non-zero: rewrite */
	__u8 family;
	__u8 proto;
	__u8 no_l4_csum; /* UDP without a checksum: nothing covers the ports */
	__u32 old_ip[8];
	__u32 new_ip[8];
	__be16 old_ports[2]; /* source, destination */
	__be16 new_ports[2];
	__u32 out_ifindex; /* a NodePort reply: send it out of this device */
	__u32 svc_flags; /* a request to a Service: its ZH_SVC_F_* */
};

/* The rewrite starts as the identity of @f's addresses and ports. */
static __always_inline void zh_nat_init(struct zh_nat *n,
					const struct zh_flow *f)
{
	n->op = 1;
	n->family = f->family;
	n->proto = f->proto;
	n->no_l4_csum = !!(f->flags & ZH_FLOW_F_UDP_NO_CSUM);
	if (f->family == ZH_AF_INET) {
		n->old_ip[0] = f->saddr[0];
		n->old_ip[1] = f->daddr[0];
	} else {
		__builtin_memcpy(n->old_ip, f->saddr, 16);
		__builtin_memcpy(&n->old_ip[4], f->daddr, 16);
	}
	__builtin_memcpy(n->new_ip, n->old_ip, sizeof(n->new_ip));
	n->old_ports[0] = n->new_ports[0] = f->sport;
	n->old_ports[1] = n->new_ports[1] = f->dport;
}

/* Set the source (@dst 0) or destination (@dst 1) address. */
static __always_inline void zh_nat_addr(struct zh_nat *n, int dst,
					const __u32 *addr)
{
	if (n->family == ZH_AF_INET)
		n->new_ip[dst] = addr[0];
	else
		__builtin_memcpy(&n->new_ip[dst * 4], addr, 16);
}

/* The destination after the rewrite, as a zh_ep_key address. */
static __always_inline void zh_nat_daddr(const struct zh_nat *n, __u32 *out)
{
	if (n->family == ZH_AF_INET)
		out[0] = n->new_ip[1];
	else
		__builtin_memcpy(out, &n->new_ip[4], 16);
}

/* Where TCP/UDP starts in what the balancer rewrites: IPv4 without options
 * or IPv6 without extension headers. Constants, so the verifier can bound
 * the packet accesses that follow. */
static __always_inline __u32 zh_l4_off(__u8 family)
{
	return family == ZH_AF_INET ? ETH_HLEN + sizeof(struct iphdr) :
				      ETH_HLEN + sizeof(struct ipv6hdr);
}

#define ZH_IP4_CHECK_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define ZH_IP4_ADDRS_OFF (ETH_HLEN + offsetof(struct iphdr, saddr))
#define ZH_IP6_ADDRS_OFF (ETH_HLEN + offsetof(struct ipv6hdr, saddr))

static __always_inline __u32 zh_nat_csum_off(const struct zh_nat *n)
{
	return zh_l4_off(n->family) + (n->proto == IPPROTO_TCP ?
					       offsetof(struct tcphdr, check) :
					       offsetof(struct udphdr, check));
}

/*
 * Returns 0, or -1 when a helper failed (the packet may be half written:
 * the caller drops it).
 *
 * skb->csum, where the skb is CHECKSUM_COMPLETE (the sum of the packet from
 * L3 on, as a NIC delivers it): the csum_replace helpers keep it for a
 * checksum field they change, and none changes for a field whose covering
 * checksum changes with it (IPv4's addresses: its header checksum). A field
 * no checksum covers is stored with BPF_F_RECOMPUTE_CSUM, so that its change
 * goes into skb->csum: IPv6's addresses (the L4 checksum's pseudo-header
 * change is the helper's to count, theirs in the packet is ours), and the
 * ports of UDP without a checksum. For any other skb the flag does nothing.
 */
static __always_inline int zh_skb_nat(struct __sk_buff *skb,
				      const struct zh_nat *n)
{
	__u32 csum_off = zh_nat_csum_off(n);
	__u64 l4f = n->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u64 ports_f = n->no_l4_csum ? BPF_F_RECOMPUTE_CSUM : 0;
	__be32 old_ports, new_ports;

	if (n->family == ZH_AF_INET) {
		for (int i = 0; i < 2; i++) {
			if (n->old_ip[i] == n->new_ip[i])
				continue;
			if (bpf_l4_csum_replace(skb, csum_off, n->old_ip[i],
						n->new_ip[i],
						l4f | BPF_F_PSEUDO_HDR | 4) ||
			    bpf_l3_csum_replace(skb, ZH_IP4_CHECK_OFF,
						n->old_ip[i], n->new_ip[i], 4))
				return -1;
		}
		if (bpf_skb_store_bytes(skb, ZH_IP4_ADDRS_OFF, n->new_ip, 8, 0))
			return -1;
	} else {
		__s64 diff = bpf_csum_diff((__be32 *)n->old_ip, 32,
					   (__be32 *)n->new_ip, 32, 0);

		/* Size 0: @to is a checksum difference, not a value. */
		if (bpf_l4_csum_replace(skb, csum_off, 0, diff,
					l4f | BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, ZH_IP6_ADDRS_OFF, n->new_ip, 32,
					BPF_F_RECOMPUTE_CSUM))
			return -1;
	}
	__builtin_memcpy(&old_ports, n->old_ports, 4);
	__builtin_memcpy(&new_ports, n->new_ports, 4);
	if (bpf_l4_csum_replace(skb, csum_off, old_ports, new_ports, l4f | 4) ||
	    bpf_skb_store_bytes(skb, zh_l4_off(n->family), &new_ports, 4,
				ports_f))
		return -1;
	return 0;
}

/* The ports and the L4 checksum: @ports and @check point into one checked
 * TCP or UDP header; @alen bytes of addresses (both) changed. */
static __always_inline void zh_xdp_l4(__be16 *ports, __be16 *check,
				      const struct zh_nat *n, const __u32 alen,
				      const int udp)
{
	__s64 sum;

	__builtin_memcpy(ports, n->new_ports, 4);
	if (udp && !*check)
		return; /* no UDP checksum: nothing to update */
	sum = bpf_csum_diff((__be32 *)n->old_ip, alen, (__be32 *)n->new_ip,
			    alen, (__u16) ~*check);
	sum = bpf_csum_diff((__be32 *)n->old_ports, 4, (__be32 *)n->new_ports,
			    4, (__u32)sum);
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

	if (alen == 8) {
		struct iphdr *iph =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));

		if (!iph)
			return -1;
		iph->check = zh_csum_fold(bpf_csum_diff((__be32 *)n->old_ip, 8,
							(__be32 *)n->new_ip, 8,
							(__u16)~iph->check));
		iph->saddr = n->new_ip[0];
		iph->daddr = n->new_ip[1];
	} else {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return -1;
		__builtin_memcpy(&ip6->saddr, n->new_ip, 32);
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
				     ETH_HLEN + sizeof(struct iphdr), 8);
	return zh_xdp_nat_at(data, data_end, n,
			     ETH_HLEN + sizeof(struct ipv6hdr), 32);
}

#endif /* ZH_NAT_H */
