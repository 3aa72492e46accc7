// SPDX-License-Identifier: Apache-2.0
/*
 * xsk_frame.c - libzerohop-xsk: frame helpers for what an AF_XDP process
 * reads and writes itself: checksums, the UDP echo swap, building a UDP
 * frame from the pod's addressing.
 */
#define _GNU_SOURCE /* MSG_CMSG_CLOEXEC */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <linux/if_xdp.h>

#include "zh_xsk_int.h"

/* ---------------------------------------------------------- frame helpers */

#define ETH_HLEN_ 14
#define ETHERTYPE_IPV4_ 0x0800
#define ETHERTYPE_IPV6_ 0x86dd
#define PROTO_TCP 6
#define PROTO_UDP 17
#define IP6_HLEN 40
#define UDP_HLEN 8
#define XSK_TTL 64

/* One's complement sum of @len bytes, read in host order (RFC 1071: the
 * sum is byte-order independent, so it is stored back in host order too).
 * An odd last byte counts as its 16-bit word with a zero pad. */
static __u64 xsk_csum_add(__u64 sum, const void *p, __u32 len)
{
	const __u8 *b = p;
	__u32 w32;
	__u16 w16 = 0;

	for (; len >= 4; b += 4, len -= 4) {
		memcpy(&w32, b, 4);
		sum += w32;
	}
	if (len >= 2) {
		memcpy(&w16, b, 2);
		sum += w16;
		b += 2;
		len -= 2;
	}
	if (len) {
		w16 = 0;
		memcpy(&w16, b, 1);
		sum += w16;
	}
	return sum;
}

static __u16 xsk_csum_fold(__u64 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __u16 xsk_get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static void xsk_put16(__u8 *p, __u16 v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

static void xsk_swap(__u8 *a, __u8 *b, size_t n)
{
	__u8 t[16];

	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

struct xsk_pkt {
	__u8 *l3;
	__u8 *l4;
	__u32 l3_hlen;
	__u32 l4_len; /* from the IP header: the L4 header and payload */
	__u8 proto;
	int family; /* 4 or 6 */
};

/*
 * Ethernet + IPv4 (no fragment) / IPv6 (no extension header) + UDP (its
 * length equal to the IP payload's) or TCP. Every length is checked
 * against @len before anything behind it is read.
 */
static int xsk_parse(void *frame, __u32 len, struct xsk_pkt *p)
{
	__u8 *b = frame, *ip;
	__u32 room, tot, hl;

	if (!frame || len < ETH_HLEN_)
		return -EINVAL;
	ip = b + ETH_HLEN_;
	room = len - ETH_HLEN_;
	switch (xsk_get16(b + 12)) {
	case ETHERTYPE_IPV4_:
		if (room < 20 || ip[0] >> 4 != 4)
			return -EINVAL;
		hl = (ip[0] & 0xfU) * 4;
		tot = xsk_get16(ip + 2);
		if (hl < 20 || tot < hl || tot > room)
			return -EINVAL;
		/* MF or an offset: the L4 checksum spans other frames */
		if (xsk_get16(ip + 6) & 0x3fff)
			return -EINVAL;
		p->family = 4;
		p->l3_hlen = hl;
		p->proto = ip[9];
		p->l4_len = tot - hl;
		break;
	case ETHERTYPE_IPV6_:
		if (room < IP6_HLEN || ip[0] >> 4 != 6)
			return -EINVAL;
		tot = xsk_get16(ip + 4);
		if (tot > room - IP6_HLEN)
			return -EINVAL;
		p->family = 6;
		p->l3_hlen = IP6_HLEN;
		p->proto = ip[6]; /* an extension header is no L4 below */
		p->l4_len = tot;
		break;
	default:
		return -EINVAL;
	}
	p->l3 = ip;
	p->l4 = ip + p->l3_hlen;
	switch (p->proto) {
	case PROTO_UDP:
		if (p->l4_len < UDP_HLEN || xsk_get16(p->l4 + 4) != p->l4_len)
			return -EINVAL;
		break;
	case PROTO_TCP:
		if (p->l4_len < 20 || (p->l4[12] >> 4) * 4U < 20 ||
		    (p->l4[12] >> 4) * 4U > p->l4_len)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static void xsk_ip4_csum(const struct xsk_pkt *p)
{
	__u16 c = 0;

	memcpy(p->l3 + 10, &c, 2);
	c = xsk_csum_fold(xsk_csum_add(0, p->l3, p->l3_hlen));
	memcpy(p->l3 + 10, &c, 2);
}

/* The full L4 checksum over the pseudo-header, header and payload. */
static void xsk_l4_csum(const struct xsk_pkt *p)
{
	__u8 *ck = p->l4 + (p->proto == PROTO_UDP ? 6 : 16);
	__u64 sum;
	__u16 c = 0;

	memcpy(ck, &c, 2);
	if (p->family == 4) /* saddr, daddr, zero + proto, length */
		sum = xsk_csum_add(0, p->l3 + 12, 8) + htons(p->proto) +
		      htons((__u16)p->l4_len);
	else /* saddr, daddr, 32-bit length, 24 zero bits + next header */
		sum = xsk_csum_add(0, p->l3 + 8, 32) + htonl(p->l4_len) +
		      htonl(p->proto);
	c = xsk_csum_fold(xsk_csum_add(sum, p->l4, p->l4_len));
	/* UDP sends a computed 0 as 0xffff: 0 means "no checksum" */
	if (!c && p->proto == PROTO_UDP)
		c = 0xffff;
	memcpy(ck, &c, 2);
}

int zh_xsk_fix_csum(void *frame, __u32 len)
{
	struct xsk_pkt p;

	if (xsk_parse(frame, len, &p))
		return -EINVAL;
	if (p.family == 4)
		xsk_ip4_csum(&p);
	xsk_l4_csum(&p);
	return 0;
}

int zh_xsk_udp_swap(void *frame, __u32 len)
{
	__u8 *b = frame;
	struct xsk_pkt p;

	if (xsk_parse(frame, len, &p) || p.proto != PROTO_UDP)
		return -EINVAL;
	xsk_swap(b, b + 6, 6);
	if (p.family == 4) {
		xsk_swap(p.l3 + 12, p.l3 + 16, 4);
		p.l3[8] = XSK_TTL;
		xsk_ip4_csum(&p);
	} else {
		xsk_swap(p.l3 + 8, p.l3 + 24, 16);
		p.l3[7] = XSK_TTL;
	}
	xsk_swap(p.l4, p.l4 + 2, 2);
	xsk_l4_csum(&p);
	return 0;
}

void *zh_xsk_udp_payload(void *frame, __u32 len, __u32 *plen)
{
	struct xsk_pkt p;

	if (xsk_parse(frame, len, &p) || p.proto != PROTO_UDP)
		return NULL;
	if (plen)
		*plen = p.l4_len - UDP_HLEN;
	return p.l4 + UDP_HLEN;
}

int zh_xsk_udp_build(void *frame, __u32 room, const struct zh_xsk_addrs *self,
		     const void *dst_ip, int family, __u16 sport, __u16 dport,
		     const void *payload, __u32 plen)
{
	__u8 *b = frame, *ip;
	__u32 l3_hlen, total;
	struct xsk_pkt p;

	if (!frame || !self || !dst_ip || (plen && !payload))
		return -EINVAL;
	ip = b + ETH_HLEN_;
	if (family == 4) {
		if (!(self->addr_flags & ZH_XSK_ADDR_V4))
			return -EADDRNOTAVAIL;
		l3_hlen = 20;
	} else if (family == 6) {
		if (!(self->addr_flags & ZH_XSK_ADDR_V6))
			return -EADDRNOTAVAIL;
		l3_hlen = IP6_HLEN;
	} else {
		return -EINVAL;
	}
	/* the IPv4 total length and the IPv6 payload length are 16 bits */
	if (plen > 0xffffU - UDP_HLEN - (family == 4 ? l3_hlen : 0))
		return -EMSGSIZE;
	total = ETH_HLEN_ + l3_hlen + UDP_HLEN + plen;
	if (total > room)
		return -EMSGSIZE;

	/* the payload first: it may already sit in the frame */
	if (plen)
		memmove(ip + l3_hlen + UDP_HLEN, payload, plen);
	memcpy(b, self->gw_mac, 6);
	memcpy(b + 6, self->mac, 6);
	xsk_put16(b + 12, family == 4 ? ETHERTYPE_IPV4_ : ETHERTYPE_IPV6_);
	if (family == 4) {
		ip[0] = 0x45;
		ip[1] = 0;
		xsk_put16(ip + 2, (__u16)(l3_hlen + UDP_HLEN + plen));
		xsk_put16(ip + 4, 0); /* id 0: DF, never fragmented */
		xsk_put16(ip + 6, 0x4000);
		ip[8] = XSK_TTL;
		ip[9] = PROTO_UDP;
		memcpy(ip + 12, &self->ipv4, 4);
		memcpy(ip + 16, dst_ip, 4);
	} else {
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		xsk_put16(ip + 4, (__u16)(UDP_HLEN + plen));
		ip[6] = PROTO_UDP;
		ip[7] = XSK_TTL;
		memcpy(ip + 8, self->ipv6, 16);
		memcpy(ip + 24, dst_ip, 16);
	}
	xsk_put16(ip + l3_hlen, sport);
	xsk_put16(ip + l3_hlen + 2, dport);
	xsk_put16(ip + l3_hlen + 4, (__u16)(UDP_HLEN + plen));

	p.l3 = ip;
	p.l4 = ip + l3_hlen;
	p.l3_hlen = l3_hlen;
	p.l4_len = UDP_HLEN + plen;
	p.proto = PROTO_UDP;
	p.family = family;
	if (family == 4)
		xsk_ip4_csum(&p);
	xsk_l4_csum(&p);
	return (int)total;
}
