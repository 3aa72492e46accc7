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

#endif /* ZH_CSUM_H */
