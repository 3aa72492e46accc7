/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* parse.h - bounds-checked header access, shared by every entry program. */
#ifndef ZH_PARSE_H
#define ZH_PARSE_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

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

#endif /* ZH_PARSE_H */
