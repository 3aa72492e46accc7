/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* csum.h - one's complement checksum arithmetic, in place (RFC 1071, 1624). */
#ifndef ZH_CSUM_H
#define ZH_CSUM_H

#include <linux/types.h>

/* Fold a 32-bit one's complement sum (a bpf_csum_diff() result) into the
 * 16-bit checksum field value: the complement of the folded sum. */
static __always_inline __u16 zh_csum_fold(__s64 sum)
{
	__u32 c = (__u32)sum;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)~c;
}

/* The IPv4 header checksum after the TTL went down by one (RFC 1624, as
 * the kernel's ip_decrease_ttl()): the TTL is the high byte of its word. */
static __always_inline __u16 zh_csum_ttl_dec(__u16 check)
{
	__u32 c = check;

	c += bpf_htons(0x0100);
	return (__u16)(c + (c >= 0xffff));
}

#endif /* ZH_CSUM_H */
