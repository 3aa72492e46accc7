/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* parse.h - bounds-checked header access and the one flow parser, shared
 * by every program. */
#ifndef ZH_PARSE_H
#define ZH_PARSE_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "zh_abi.h"

/* The ARP body for Ethernet/IPv4, the only kind we inspect. */
struct zh_arp_eth {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

/*
 * Return a pointer to @len bytes at @off, or NULL when the frame is shorter.
 * Written as a macro-free inline so the verifier sees one comparison against
 * data_end per header.
 */
static __always_inline void *zh_hdr(void *data, void *data_end, __u32 off,
				    __u32 len)
{
	void *p = data + off;

	if (p + len > data_end)
		return NULL;
	return p;
}

static __always_inline int zh_mac_eq(const __u8 *a, const __u8 *b)
{
	/* Two loads instead of a byte loop: 4 + 2 bytes. */
	return *(const __u32 *)a == *(const __u32 *)b &&
	       *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

static __always_inline void zh_mac_copy(__u8 *dst, const __u8 *src)
{
	*(__u32 *)dst = *(const __u32 *)src;
	*(__u16 *)(dst + 4) = *(const __u16 *)(src + 4);
}

/*
 * The flow of an IPv4 or IPv6 frame, as every part of the datapath reads it:
 * the fast path (addresses), the balancer (ports, TCP flags), the latency
 * hops and AF_XDP steering (ports). One parser, one set of rules:
 *   - IPv4 with version 4 and a header of at least 20 bytes, IPv6 with
 *     version 6; anything else is no IP flow;
 *   - ports only for TCP and UDP, not in a fragment (they are not there),
 *     not behind IPv6 extension headers (not looked for);
 *   - ZH_FLOW_F_PORTS: the first 8 bytes of the TCP/UDP header are there
 *     (both ports, UDP's whole header); ZH_FLOW_F_L4: TCP's whole header
 *     too (its flags), or UDP's. The balancer wants F_L4, the rest F_PORTS.
 * @ifindex is the caller's (NodePort: the uplink it came in on).
 */
#define ZH_FLOW_F_PORTS (1U << 0)
#define ZH_FLOW_F_L4 (1U << 1)
#define ZH_FLOW_F_IP_OPTIONS (1U << 2) /* IPv4 header longer than 20 bytes */
#define ZH_FLOW_F_FRAGMENT (1U << 3) /* IPv4 fragment: no ports */
#define ZH_FLOW_F_UDP_NO_CSUM (1U << 4) /* UDP with checksum 0 (none) */

struct zh_flow {
	__u8 family; /* enum zh_family */
	__u8 proto; /* IPPROTO_*; IPv6: the first next header */
	__u8 tcp_flags; /* the byte with FIN SYN RST PSH ACK URG */
	__u8 flags; /* ZH_FLOW_F_* */
	__be16 sport;
	__be16 dport;
	__u32 saddr[4]; /* network byte order; IPv4 uses [0] */
	__u32 daddr[4];
	__u32 ifindex;
	__u32 l4_off; /* where TCP/UDP starts, with F_PORTS */
};

#define ZH_TCP_FIN 0x01
#define ZH_TCP_SYN 0x02
#define ZH_TCP_RST 0x04
#define ZH_TCP_ACK 0x10

/*
 * Parse @data into @f (zeroed by the caller, but for ifindex). Returns 0
 * for an IPv4/IPv6 flow, -1 for anything else (another ethertype, a header
 * cut short, a wrong version or IPv4 header length).
 */
static __always_inline int zh_flow_parse(void *data, void *data_end,
					 struct zh_flow *f)
{
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	__u8 *l4;
	__u32 off;

	if (!eth)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*iph));

		if (!iph || iph->version != 4 || iph->ihl < 5)
			return -1;
		f->family = ZH_AF_INET;
		f->proto = iph->protocol;
		f->saddr[0] = iph->saddr;
		f->daddr[0] = iph->daddr;
		if (iph->ihl != 5)
			f->flags |= ZH_FLOW_F_IP_OPTIONS;
		/* A fragment's ports are not where they would be. */
		if (iph->frag_off & bpf_htons(0x3fff)) {
			f->flags |= ZH_FLOW_F_FRAGMENT;
			return 0;
		}
		off = sizeof(*eth) + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*ip6));

		if (!ip6 || ip6->version != 6)
			return -1;
		f->family = ZH_AF_INET6;
		f->proto = ip6->nexthdr; /* extension headers: no ports */
		__builtin_memcpy(f->saddr, &ip6->saddr, sizeof(f->saddr));
		__builtin_memcpy(f->daddr, &ip6->daddr, sizeof(f->daddr));
		off = sizeof(*eth) + sizeof(*ip6);
	} else {
		return -1;
	}
	if (f->proto != IPPROTO_UDP && f->proto != IPPROTO_TCP)
		return 0;
	/* TCP and UDP both start with the two ports; UDP's whole header is
	 * the least either can have. */
	l4 = zh_hdr(data, data_end, off, 8);
	if (!l4)
		return 0;
	f->flags |= ZH_FLOW_F_PORTS;
	f->l4_off = off;
	f->sport = *(__be16 *)l4;
	f->dport = *(__be16 *)(l4 + 2);
	if (f->proto == IPPROTO_UDP) {
		f->flags |= ZH_FLOW_F_L4;
		if (!*(__u16 *)(l4 + 6))
			f->flags |= ZH_FLOW_F_UDP_NO_CSUM;
	} else {
		/* Its own pointer: the verifier bounds each one it checked. */
		__u8 *th = zh_hdr(data, data_end, off, sizeof(struct tcphdr));

		if (th) {
			f->flags |= ZH_FLOW_F_L4;
			f->tcp_flags = th[13];
		}
	}
	return 0;
}

#endif /* ZH_PARSE_H */
