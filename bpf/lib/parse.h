/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* parse.h - bounds-checked header access, shared by every entry program. */
#ifndef ZH_PARSE_H
#define ZH_PARSE_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
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

/* Fold a 32-bit one's complement sum (a bpf_csum_diff() result) into the
 * 16-bit checksum field value: the complement of the folded sum. */
static __always_inline __u16 zh_csum_fold(__s64 sum)
{
	__u32 c = (__u32)sum;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)~c;
}

/*
 * The flow of an Ethernet frame carrying IPv4 or IPv6: @key (zeroed by the
 * caller) gets family, protocol and addresses, and for TCP and UDP the
 * ports. Returns the offset of the TCP/UDP header when the ports were read;
 * 0 when there are none to read (another protocol, a fragment, IPv6
 * extension headers, a cut-short header); -1 for what is not IPv4/IPv6.
 */
static __always_inline int zh_flow_parse(void *data, void *data_end,
					 struct zh_flow_key *key)
{
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	__be16 *ports;
	__u32 off;

	if (!eth)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*iph));

		if (!iph || iph->ihl < 5)
			return -1;
		key->family = ZH_AF_INET;
		key->proto = iph->protocol;
		key->saddr[0] = iph->saddr;
		key->daddr[0] = iph->daddr;
		/* A fragment's ports are not where they would be. */
		if (iph->frag_off & bpf_htons(0x3fff))
			return 0;
		off = sizeof(*eth) + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*ip6));

		if (!ip6)
			return -1;
		key->family = ZH_AF_INET6;
		key->proto = ip6->nexthdr; /* extension headers: no ports */
		__builtin_memcpy(key->saddr, &ip6->saddr, sizeof(key->saddr));
		__builtin_memcpy(key->daddr, &ip6->daddr, sizeof(key->daddr));
		off = sizeof(*eth) + sizeof(*ip6);
	} else {
		return -1;
	}
	if (key->proto != IPPROTO_UDP && key->proto != IPPROTO_TCP)
		return 0;
	/* TCP and UDP both start with the two ports; UDP's whole header is
	 * the least either can have. */
	ports = zh_hdr(data, data_end, off, 8);
	if (!ports)
		return 0;
	key->sport = ports[0];
	key->dport = ports[1];
	return (int)off;
}

#endif /* ZH_PARSE_H */
