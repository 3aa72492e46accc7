// SPDX-License-Identifier: Apache-2.0
/*
 * test_xsk.c - libzerohop-xsk: the frame helpers checked against a checksum
 * written here from RFC 1071 (byte by byte, network order), every cut of a
 * frame from an exact-size heap copy (so ASan sees any read past the end),
 * the agent handoff against a fake agent thread on a real SOCK_SEQPACKET
 * socket (xsk_agent.h), and zh_xsk_open()'s refusals of bad arguments.
 * (zh_xsk_open() on a real AF_XDP socket is the kernel tier's:
 * tests/bpf/test_bpf_xsk_socket.c.)
 */
#define _GNU_SOURCE /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cmocka.h>

#include "rng.h"
#include "util.h"
#include "xsk_agent.h"
#include "zh_xsk.h"
#include "zh_xsk_int.h"

#define ETH 14

/* Where the frames go; they come from self() (xsk_agent.h). */
static const __u8 peer4[4] = { 192, 168, 7, 200 };
static const __u8 peer6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0,
				0,    0,    0,	  0,	0,    0,    0, 0xc8 };

/* ------------------------------------------------ the reference checksum */

/* RFC 1071 one word at a time in network order; the unfolded sum. */
static __u32 ref_sum(__u32 sum, const __u8 *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (__u32)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (__u32)b[n - 1] << 8;
	return sum;
}

static __u16 ref_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* The pseudo-header sum of the frame's L4 segment; fills *l4 and *l4_len. */
static __u32 ref_pseudo(const __u8 *f, const __u8 **l4, size_t *l4_len)
{
	const __u8 *ip = f + ETH;
	size_t hl;

	if ((f[12] << 8 | f[13]) == 0x0800) {
		hl = (ip[0] & 15U) * 4;
		*l4 = ip + hl;
		*l4_len = (size_t)(ip[2] << 8 | ip[3]) - hl;
		return ref_sum(0, ip + 12, 8) + ip[9] + (__u32)*l4_len;
	}
	*l4 = ip + 40;
	*l4_len = (size_t)(ip[4] << 8 | ip[5]);
	return ref_sum(0, ip + 8, 32) + ip[6] + (__u32)*l4_len;
}

/* Both checksums of a frame verify: every sum folds to 0xffff. */
static void assert_csums_valid(const __u8 *f)
{
	const __u8 *l4;
	size_t l4_len;
	__u32 sum;

	if ((f[12] << 8 | f[13]) == 0x0800)
		assert_int_equal(
			ref_fold(ref_sum(0, f + ETH, (f[ETH] & 15U) * 4)),
			0xffff);
	sum = ref_pseudo(f, &l4, &l4_len);
	assert_int_equal(ref_fold(ref_sum(sum, l4, l4_len)), 0xffff);
	/* a UDP checksum of 0 would mean "none" */
	if (f[ETH + ((f[12] << 8 | f[13]) == 0x0800 ? 9 : 6)] == 17)
		assert_true(l4[6] || l4[7]);
}

/* ------------------------------------------------- frames written here */

/*
 * Ethernet + IPv4 (ihl 5) or IPv6 + UDP/TCP with @plen random payload
 * bytes, field by field and without the library; checksums left 0.
 */
static size_t mk_frame(__u8 *f, int family, __u8 proto, size_t plen)
{
	size_t l3 = family == 4 ? 20 : 40, l4h = proto == 17 ? 8 : 20;
	size_t l4_len = l4h + plen;
	__u8 *ip = f + ETH, *l4 = ip + l3;

	memset(f, 0, ETH + l3 + l4_len);
	memcpy(f, self_addrs.gw_mac, 6);
	memcpy(f + 6, self_addrs.mac, 6);
	f[12] = family == 4 ? 0x08 : 0x86;
	f[13] = family == 4 ? 0x00 : 0xdd;
	if (family == 4) {
		ip[0] = 0x45;
		ip[2] = (__u8)((l3 + l4_len) >> 8);
		ip[3] = (__u8)(l3 + l4_len);
		ip[8] = 17;
		ip[9] = proto;
		memcpy(ip + 12, self4, 4);
		memcpy(ip + 16, peer4, 4);
	} else {
		ip[0] = 0x60;
		ip[4] = (__u8)(l4_len >> 8);
		ip[5] = (__u8)l4_len;
		ip[6] = proto;
		ip[7] = 9;
		memcpy(ip + 8, self6, 16);
		memcpy(ip + 24, peer6, 16);
	}
	l4[0] = 0x30, l4[1] = 0x39; /* 12345 */
	l4[2] = 0x00, l4[3] = 0x35; /* 53 */
	if (proto == 17) {
		l4[4] = (__u8)(l4_len >> 8);
		l4[5] = (__u8)l4_len;
	} else {
		l4[12] = 5 << 4;
		l4[13] = 0x18;
	}
	for (size_t i = 0; i < plen; i++)
		l4[l4h + i] = (__u8)rng_next();
	return ETH + l3 + l4_len;
}

static __u8 *l4_of(__u8 *f)
{
	return f + ETH +
	       ((f[12] << 8 | f[13]) == 0x0800 ? (f[ETH] & 15U) * 4 : 40);
}

/* ------------------------------------------------------ zh_xsk_udp_build */

static const __u32 plens[] = { 0, 1, 2, 3, 7, 8, 63, 64, 1000, 1471, 1472 };

static void test_build_v4(void **state)
{
	const struct zh_xsk_addrs a = self();
	__u8 f[1600], pl[1500];

	(void)state;
	rng_seed(1);
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (__u8)rng_next();
	for (size_t i = 0; i < ARRAY_SIZE(plens); i++) {
		__u32 plen = plens[i];
		int n;

		memset(f, 0xee, sizeof(f));
		n = zh_xsk_udp_build(f, 1514, &a, peer4, 4, 4242, 53, pl, plen);
		assert_int_equal(n, 14 + 20 + 8 + plen);
		assert_memory_equal(f, a.gw_mac, 6);
		assert_memory_equal(f + 6, a.mac, 6);
		assert_memory_equal(f + 12, "\x08\x00", 2);
		assert_int_equal(f[14], 0x45);
		assert_int_equal(f[15], 0);
		assert_int_equal(f[16] << 8 | f[17], 20 + 8 + plen);
		assert_memory_equal(f + 18, "\x00\x00\x40\x00", 4); /* id, DF */
		assert_int_equal(f[22], 64);
		assert_int_equal(f[23], 17);
		assert_memory_equal(f + 26, self4, 4);
		assert_memory_equal(f + 30, peer4, 4);
		assert_int_equal(f[34] << 8 | f[35], 4242);
		assert_int_equal(f[36] << 8 | f[37], 53);
		assert_int_equal(f[38] << 8 | f[39], 8 + plen);
		assert_memory_equal(f + 42, pl, plen);
		assert_int_equal(f[n], 0xee); /* nothing written past it */
		assert_csums_valid(f);
	}
}

static void test_build_v6(void **state)
{
	const struct zh_xsk_addrs a = self();
	__u8 f[1600], pl[1500];

	(void)state;
	rng_seed(2);
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (__u8)rng_next();
	for (size_t i = 0; i < ARRAY_SIZE(plens); i++) {
		__u32 plen = plens[i] > 1452 ? 1452 - (plens[i] & 1) : plens[i];
		int n;

		memset(f, 0xee, sizeof(f));
		n = zh_xsk_udp_build(f, 1514, &a, peer6, 6, 53, 65535, pl,
				     plen);
		assert_int_equal(n, 14 + 40 + 8 + plen);
		assert_memory_equal(f, a.gw_mac, 6);
		assert_memory_equal(f + 6, a.mac, 6);
		assert_memory_equal(f + 12, "\x86\xdd", 2);
		assert_memory_equal(f + 14, "\x60\x00\x00\x00", 4);
		assert_int_equal(f[18] << 8 | f[19], 8 + plen);
		assert_int_equal(f[20], 17);
		assert_int_equal(f[21], 64);
		assert_memory_equal(f + 22, self6, 16);
		assert_memory_equal(f + 38, peer6, 16);
		assert_int_equal(f[54] << 8 | f[55], 53);
		assert_int_equal(f[56] << 8 | f[57], 65535);
		assert_int_equal(f[58] << 8 | f[59], 8 + plen);
		assert_memory_equal(f + 62, pl, plen);
		assert_int_equal(f[n], 0xee);
		assert_csums_valid(f);
	}
}

/* A payload whose sum is 0xffff makes the computed UDP checksum 0: it must
 * go out as 0xffff. Found by searching the second payload word. */
static void test_build_csum_zero(void **state)
{
	const struct zh_xsk_addrs a = self();
	__u8 f[128], pl[4] = { 0 };
	int found = 0;

	(void)state;
	for (__u32 w = 0; w <= 0xffff && !found; w++) {
		pl[2] = (__u8)(w >> 8);
		pl[3] = (__u8)w;
		assert_true(zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 1, 2,
					     pl, 4) > 0);
		if (f[40] == 0xff && f[41] == 0xff)
			found = 1;
	}
	assert_true(found);
	assert_csums_valid(f);
}

static void test_build_errors(void **state)
{
	struct zh_xsk_addrs a = self();
	__u8 f[256], pl[200] = { 0 };

	(void)state;
	/* room: exactly enough, one short */
	assert_int_equal(
		zh_xsk_udp_build(f, 42 + 10, &a, peer4, 4, 1, 2, pl, 10), 52);
	assert_int_equal(zh_xsk_udp_build(f, 51, &a, peer4, 4, 1, 2, pl, 10),
			 -EMSGSIZE);
	assert_int_equal(zh_xsk_udp_build(f, 61, &a, peer6, 6, 1, 2, pl, 0),
			 -EMSGSIZE);
	/* the 16-bit IP lengths, before the room */
	assert_int_equal(zh_xsk_udp_build(f, 0xffffffffU, &a, peer4, 4, 1, 2,
					  pl, 65535 - 28 + 1),
			 -EMSGSIZE);
	assert_int_equal(zh_xsk_udp_build(f, 0xffffffffU, &a, peer6, 6, 1, 2,
					  pl, 65535 - 8 + 1),
			 -EMSGSIZE);
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, peer4, 5, 1, 2, pl,
					  1),
			 -EINVAL);
	assert_int_equal(zh_xsk_udp_build(NULL, sizeof(f), &a, peer4, 4, 1, 2,
					  pl, 1),
			 -EINVAL);
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), NULL, peer4, 4, 1, 2,
					  pl, 1),
			 -EINVAL);
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, NULL, 4, 1, 2, pl,
					  1),
			 -EINVAL);
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 1, 2,
					  NULL, 1),
			 -EINVAL);
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 1, 2,
					  NULL, 0),
			 42);
	a.addr_flags = ZH_XSK_ADDR_V4;
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, peer6, 6, 1, 2, pl,
					  1),
			 -EADDRNOTAVAIL);
	a.addr_flags = ZH_XSK_ADDR_V6;
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 1, 2, pl,
					  1),
			 -EADDRNOTAVAIL);
}

/* The payload may already sit where it belongs, or overlap it. */
static void test_build_payload_in_frame(void **state)
{
	const struct zh_xsk_addrs a = self();
	__u8 f[256], g[256], pl[101];

	(void)state;
	rng_seed(3);
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (__u8)rng_next();
	assert_int_equal(zh_xsk_udp_build(g, sizeof(g), &a, peer4, 4, 7, 8, pl,
					  sizeof(pl)),
			 143);
	/* in place */
	memcpy(f + 42, pl, sizeof(pl));
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 7, 8,
					  f + 42, sizeof(pl)),
			 143);
	assert_memory_equal(f, g, 143);
	/* overlapping, from the start of the frame */
	memcpy(f, pl, sizeof(pl));
	assert_int_equal(zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 7, 8, f,
					  sizeof(pl)),
			 143);
	assert_memory_equal(f, g, 143);
}

/* ------------------------------------------------------- zh_xsk_fix_csum */

static void test_fix_csum(void **state)
{
	static const size_t lens[] = { 0, 1, 2, 3, 5, 20, 99, 1000, 1401 };
	__u8 f[1600], g[1600];

	(void)state;
	rng_seed(4);
	for (int family = 4; family <= 6; family += 2)
		for (int tcp = 0; tcp <= 1; tcp++)
			for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
				size_t n = mk_frame(f, family, tcp ? 6 : 17,
						    lens[i]);

				/* garbage in both checksum fields */
				if (family == 4)
					f[ETH + 10] = 0x12, f[ETH + 11] = 0x34;
				l4_of(f)[tcp ? 16 : 6] = 0xab;
				l4_of(f)[tcp ? 17 : 7] = 0xcd;
				memcpy(g, f, n);
				assert_int_equal(zh_xsk_fix_csum(f, (__u32)n),
						 0);
				assert_csums_valid(f);
				/* only the checksum bytes changed */
				for (size_t j = 0; j < n; j++) {
					size_t ipc = ETH + 10,
					       l4c = (size_t)(l4_of(f) - f) +
						     (tcp ? 16 : 6);

					if (j == ipc || j == ipc + 1 ||
					    j == l4c || j == l4c + 1)
						continue;
					assert_int_equal(f[j], g[j]);
				}
			}
}

/*
 * What a kernel sender on the node leaves (CHECKSUM_PARTIAL): the L4 field
 * holds the folded pseudo-header sum, not the checksum. fix_csum finishes
 * it.
 */
static void test_fix_csum_partial(void **state)
{
	__u8 f[256];

	(void)state;
	rng_seed(5);
	for (int family = 4; family <= 6; family += 2) {
		size_t n = mk_frame(f, family, 17, 33);
		const __u8 *l4;
		size_t l4_len;
		__u16 partial = ref_fold(ref_pseudo(f, &l4, &l4_len));

		assert_int_equal(zh_xsk_fix_csum(f, (__u32)n), 0);
		l4_of(f)[6] = (__u8)(partial >> 8);
		l4_of(f)[7] = (__u8)partial;
		assert_int_equal(zh_xsk_fix_csum(f, (__u32)n), 0);
		assert_csums_valid(f);
	}
}

/* Ethernet pads short frames to 60 bytes: the IP lengths rule, the
 * padding is neither summed nor touched. */
static void test_fix_csum_padding(void **state)
{
	__u8 f[64];
	size_t n;

	(void)state;
	rng_seed(6);
	n = mk_frame(f, 4, 17, 2); /* 44 bytes */
	memset(f + n, 0x77, 60 - n);
	assert_int_equal(zh_xsk_fix_csum(f, 60), 0);
	assert_csums_valid(f);
	for (size_t i = n; i < 60; i++)
		assert_int_equal(f[i], 0x77);
	assert_int_equal(zh_xsk_udp_swap(f, 60), 0);
	assert_csums_valid(f);
	for (size_t i = n; i < 60; i++)
		assert_int_equal(f[i], 0x77);
}

/* ------------------------------------------------------- zh_xsk_udp_swap */

static void test_swap_v4(void **state)
{
	const struct zh_xsk_addrs a = self();
	__u8 f[256], g[256];
	__u32 plen = 0;
	int n;

	(void)state;
	n = zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 40000, 7, "ping!", 5);
	assert_int_equal(n, 47);
	f[ETH + 8] = 3; /* arrived after a few hops; checksum now stale */
	memcpy(g, f, (size_t)n);
	assert_int_equal(zh_xsk_udp_swap(f, (__u32)n), 0);
	assert_memory_equal(f, g + 6, 6);
	assert_memory_equal(f + 6, g, 6);
	assert_memory_equal(f + 12, g + 12, 2);
	assert_int_equal(f[ETH + 8], 64);
	assert_memory_equal(f + 26, peer4, 4);
	assert_memory_equal(f + 30, self4, 4);
	assert_int_equal(f[34] << 8 | f[35], 7);
	assert_int_equal(f[36] << 8 | f[37], 40000);
	assert_memory_equal(f + 42, "ping!", 5);
	assert_csums_valid(f);
	assert_ptr_equal(zh_xsk_udp_payload(f, (__u32)n, &plen), f + 42);
	assert_int_equal(plen, 5);
	/* and back: the original, TTL aside */
	assert_int_equal(zh_xsk_udp_swap(f, (__u32)n), 0);
	g[ETH + 8] = 64;
	assert_int_equal(zh_xsk_fix_csum(g, (__u32)n), 0);
	assert_memory_equal(f, g, (size_t)n);
}

static void test_swap_v6(void **state)
{
	const struct zh_xsk_addrs a = self();
	__u8 f[256], g[256];
	int n;

	(void)state;
	n = zh_xsk_udp_build(f, sizeof(f), &a, peer6, 6, 1, 65000, "abc", 3);
	assert_int_equal(n, 65);
	f[ETH + 7] = 1;
	memcpy(g, f, (size_t)n);
	assert_int_equal(zh_xsk_udp_swap(f, (__u32)n), 0);
	assert_memory_equal(f, g + 6, 6);
	assert_memory_equal(f + 6, g, 6);
	assert_int_equal(f[ETH + 7], 64);
	assert_memory_equal(f + 22, peer6, 16);
	assert_memory_equal(f + 38, self6, 16);
	assert_int_equal(f[54] << 8 | f[55], 65000);
	assert_int_equal(f[56] << 8 | f[57], 1);
	assert_memory_equal(f + 62, "abc", 3);
	assert_memory_equal(f + 14, g + 14, 4); /* version, class, flow */
	assert_csums_valid(f);
}

/* IPv4 options are carried over and covered by the header checksum. */
static void test_swap_ip_options(void **state)
{
	const struct zh_xsk_addrs a = self();
	__u8 f[256];
	int n;

	(void)state;
	n = zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4, 9, 10, "opt", 3);
	assert_int_equal(n, 45);
	/* four NOPs after the fixed header */
	memmove(f + 38, f + 34, 11);
	memset(f + 34, 0x01, 4);
	f[ETH] = 0x46;
	f[ETH + 3] += 4;
	n += 4;
	assert_int_equal(zh_xsk_udp_swap(f, (__u32)n), 0);
	assert_memory_equal(f + 34, "\x01\x01\x01\x01", 4);
	assert_int_equal(f[38] << 8 | f[39], 10);
	assert_memory_equal(f + 46, "opt", 3);
	assert_csums_valid(f);
}

struct bad_frame {
	const char *name;
	int family;
	void (*mutate)(__u8 *f, size_t *n);
	int fix_ok; /* zh_xsk_fix_csum still takes it */
};

static void b_tcp(__u8 *f, size_t *n)
{
	*n = mk_frame(f, f[12] == 0x08 ? 4 : 6, 6, 10);
}

static void b_icmp(__u8 *f, size_t *n)
{
	f[ETH + 9] = 1;
}

static void b_arp(__u8 *f, size_t *n)
{
	f[12] = 0x08, f[13] = 0x06;
}

static void b_vlan(__u8 *f, size_t *n)
{
	f[12] = 0x81, f[13] = 0x00;
}

static void b_v4_version6(__u8 *f, size_t *n)
{
	f[ETH] = 0x65;
}

static void b_ihl4(__u8 *f, size_t *n)
{
	f[ETH] = 0x44;
}

/* options garbage: an ihl reaching past the datagram */
static void b_ihl15(__u8 *f, size_t *n)
{
	f[ETH] = 0x4f;
}

static void b_tot_len_big(__u8 *f, size_t *n)
{
	f[ETH + 3] += 1;
}

static void b_tot_len_small(__u8 *f, size_t *n)
{
	f[ETH + 2] = 0, f[ETH + 3] = 19;
}

static void b_frag_mf(__u8 *f, size_t *n)
{
	f[ETH + 6] = 0x20; /* MF */
}

static void b_frag_off(__u8 *f, size_t *n)
{
	f[ETH + 6] = 0x00, f[ETH + 7] = 0x01;
}

static void b_udp_len_big(__u8 *f, size_t *n)
{
	l4_of(f)[5] += 1;
}

static void b_udp_len_small(__u8 *f, size_t *n)
{
	l4_of(f)[5] -= 1;
}

static void b_udp_len_7(__u8 *f, size_t *n)
{
	l4_of(f)[4] = 0, l4_of(f)[5] = 7;
}

static void b_v6_ext(__u8 *f, size_t *n)
{
	f[ETH + 6] = 0; /* hop-by-hop */
}

static void b_v6_frag(__u8 *f, size_t *n)
{
	f[ETH + 6] = 44;
}

static void b_v6_version4(__u8 *f, size_t *n)
{
	f[ETH] = 0x40;
}

static void b_v6_plen_big(__u8 *f, size_t *n)
{
	f[ETH + 5] += 1;
}

static void b_v6_plen_huge(__u8 *f, size_t *n)
{
	f[ETH + 4] = 0xff, f[ETH + 5] = 0xff;
}

static void b_short_eth(__u8 *f, size_t *n)
{
	*n = 13;
}

static void b_tcp_doff(__u8 *f, size_t *n)
{
	*n = mk_frame(f, f[12] == 0x08 ? 4 : 6, 6, 10);
	l4_of(f)[12] = 4 << 4; /* 16-byte header */
}

static void b_tcp_doff_big(__u8 *f, size_t *n)
{
	*n = mk_frame(f, f[12] == 0x08 ? 4 : 6, 6, 10);
	l4_of(f)[12] = 8 << 4; /* 32 > 30 bytes of segment */
}

static const struct bad_frame bad_frames[] = {
	{ "tcp v4", 4, b_tcp, 1 },
	{ "tcp v6", 6, b_tcp, 1 },
	{ "icmp", 4, b_icmp, 0 },
	{ "arp", 4, b_arp, 0 },
	{ "vlan", 4, b_vlan, 0 },
	{ "ethertype 0800, version 6", 4, b_v4_version6, 0 },
	{ "ihl 4", 4, b_ihl4, 0 },
	{ "ihl 15", 4, b_ihl15, 0 },
	{ "tot_len past frame", 4, b_tot_len_big, 0 },
	{ "tot_len under header", 4, b_tot_len_small, 0 },
	{ "fragment MF", 4, b_frag_mf, 0 },
	{ "fragment offset", 4, b_frag_off, 0 },
	{ "udp len > ip", 4, b_udp_len_big, 0 },
	{ "udp len < ip", 4, b_udp_len_small, 0 },
	{ "udp len 7", 4, b_udp_len_7, 0 },
	{ "udp len > ip v6", 6, b_udp_len_big, 0 },
	{ "udp len < ip v6", 6, b_udp_len_small, 0 },
	{ "v6 hop-by-hop", 6, b_v6_ext, 0 },
	{ "v6 fragment", 6, b_v6_frag, 0 },
	{ "ethertype 86dd, version 4", 6, b_v6_version4, 0 },
	{ "v6 plen past frame", 6, b_v6_plen_big, 0 },
	{ "v6 plen 65535", 6, b_v6_plen_huge, 0 },
	{ "13 bytes", 4, b_short_eth, 0 },
	{ "tcp doff 4", 4, b_tcp_doff, 0 },
	{ "tcp doff past segment", 6, b_tcp_doff_big, 0 },
};

static void test_refusals(void **state)
{
	(void)state;
	rng_seed(7);
	for (size_t i = 0; i < ARRAY_SIZE(bad_frames); i++) {
		const struct bad_frame *b = &bad_frames[i];
		__u8 f[256], *c;
		size_t n = mk_frame(f, b->family, 17, 12);
		__u32 plen;
		int rc;

		assert_int_equal(zh_xsk_fix_csum(f, (__u32)n), 0);
		b->mutate(f, &n);
		/* an exact-size copy: ASan sees a read past the end */
		c = malloc(n);
		assert_non_null(c);
		memcpy(c, f, n);
		rc = zh_xsk_udp_swap(c, (__u32)n);
		if (rc != -EINVAL)
			fail_msg("%s: swap %d, want -EINVAL", b->name, rc);
		if (memcmp(c, f, n))
			fail_msg("%s: a refused swap changed the frame",
				 b->name);
		if (zh_xsk_udp_payload(c, (__u32)n, &plen))
			fail_msg("%s: payload found", b->name);
		rc = zh_xsk_fix_csum(c, (__u32)n);
		if (rc != (b->fix_ok ? 0 : -EINVAL))
			fail_msg("%s: fix_csum %d", b->name, rc);
		if (b->fix_ok)
			assert_csums_valid(c);
		free(c);
	}
	assert_int_equal(zh_xsk_udp_swap(NULL, 100), -EINVAL);
	assert_int_equal(zh_xsk_fix_csum(NULL, 100), -EINVAL);
	assert_null(zh_xsk_udp_payload(NULL, 100, NULL));
}

/* Every cut of a valid frame is refused, reading nothing past the cut;
 * a cut into Ethernet padding only is fine. */
static void test_cuts(void **state)
{
	const struct zh_xsk_addrs a = self();

	(void)state;
	for (int v = 0; v < 5; v++) {
		__u8 f[256];
		size_t n, ip_end;

		switch (v) {
		case 0:
			n = (size_t)zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4,
						     1, 2, "0123456789", 10);
			break;
		case 1:
			n = (size_t)zh_xsk_udp_build(f, sizeof(f), &a, peer6, 6,
						     1, 2, "01234", 5);
			break;
		case 2: /* IPv4 with 8 bytes of options */
			n = (size_t)zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4,
						     1, 2, "xy", 2);
			memmove(f + 42, f + 34, 10);
			memset(f + 34, 1, 8);
			f[ETH] = 0x47;
			f[ETH + 3] += 8;
			n += 8;
			break;
		case 3: /* TCP, for fix_csum */
			n = mk_frame(f, 6, 6, 9);
			break;
		default: /* padded to 60 */
			n = (size_t)zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4,
						     1, 2, "p", 1);
			memset(f + n, 0, 60 - n);
			n = 60;
			break;
		}
		ip_end = v == 4 ? 43 : n;
		for (size_t k = 0; k <= n; k++) {
			__u8 *c = malloc(k ? k : 1);
			int want = k >= ip_end ? 0 : -EINVAL;
			__u32 plen;

			assert_non_null(c);
			memcpy(c, f, k);
			if (v != 3) {
				assert_int_equal(zh_xsk_udp_swap(c, (__u32)k),
						 want);
				assert_int_equal(zh_xsk_udp_payload(c, (__u32)k,
								    &plen) !=
							 NULL,
						 want == 0);
			}
			assert_int_equal(zh_xsk_fix_csum(c, (__u32)k), want);
			if (!want)
				assert_csums_valid(c);
			free(c);
		}
	}
}

/*
 * Valid frames with a few header bytes changed and the length cut or
 * grown, from exact-size heap copies: no crash, no read past the end, and
 * whatever is accepted comes out with valid checksums.
 */
static void test_fuzz(void **state)
{
	const struct zh_xsk_addrs a = self();
	int swapped = 0, fixed = 0;
	__u8 pl[40];

	(void)state;
	rng_seed(8);
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (__u8)rng_next();
	for (int i = 0; i < 20000; i++) {
		__u64 r = rng_next();
		__u8 f[300], *c;
		size_t n;
		int rc;

		memset(f, 0, sizeof(f));
		switch (r % 4) {
		case 0:
			n = (size_t)zh_xsk_udp_build(f, sizeof(f), &a, peer4, 4,
						     1, 2, pl, (r >> 8) % 40);
			break;
		case 1:
			n = (size_t)zh_xsk_udp_build(f, sizeof(f), &a, peer6, 6,
						     1, 2, pl, (r >> 8) % 40);
			break;
		default:
			n = mk_frame(f, r % 4 == 2 ? 4 : 6,
				     (r >> 8) % 2 ? 6 : 17, (r >> 9) % 40);
			break;
		}
		/* one to three bytes of the first 70 */
		for (int k = 0; k < 1 + (int)((r >> 16) % 3); k++)
			f[rng_next() % 70 % n] = (__u8)rng_next();
		/* and a length a little off, now and then */
		if ((r >> 20) % 3 == 0)
			n = n + 8 - (size_t)((r >> 24) % 17);
		if (n > sizeof(f))
			n = sizeof(f);
		c = malloc(n ? n : 1);
		assert_non_null(c);
		memcpy(c, f, n);
		rc = zh_xsk_udp_swap(c, (__u32)n);
		if (rc == 0) {
			swapped++;
			assert_csums_valid(c);
		}
		rc = zh_xsk_fix_csum(c, (__u32)n);
		if (rc == 0) {
			fixed++;
			assert_csums_valid(c);
		}
		free(c);
	}
	print_message("fuzz: %d of 20000 swapped, %d fixed\n", swapped, fixed);
	/* enough of both to mean something */
	assert_true(swapped > 2000 && fixed > 4000);
}

struct handoff {
	int rc;
	int conn;
	struct zh_xsk_msg reply;
	char err[256];
	int pipe[2];
	long long ms; /* how long it took */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One handoff of a pipe's read end, as if it were the XSK. */
static void do_handoff(struct handoff *h, const char *path, int timeout_ms)
{
	long long t0;

	memset(h, 0, sizeof(*h));
	assert_int_equal(pipe2(h->pipe, O_CLOEXEC), 0);
	t0 = mono_ms();
	h->rc = zh_xsk_handoff(path, h->pipe[0], "eth0", 3,
			       ZH_XSK_F_NEED_WAKEUP, timeout_ms, &h->conn,
			       &h->reply, h->err, sizeof(h->err));
	h->ms = mono_ms() - t0;
	if (h->rc)
		assert_int_equal(h->conn, -1);
}

static void handoff_done(struct handoff *h)
{
	if (h->conn >= 0)
		close(h->conn);
	close(h->pipe[0]);
	close(h->pipe[1]);
}

static void test_handoff_ok(void **state)
{
	struct handoff h;
	struct agent a;
	struct stat st;

	(void)state;
	assert_int_equal(agent_start(&a, AG_OK, NULL), 0);
	do_handoff(&h, a.path, 2000);
	assert_int_equal(h.rc, 0);
	assert_string_equal(h.err, "");
	assert_true(h.conn >= 0);
	assert_true(fcntl(h.conn, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(h.reply.hdr.type, ZH_XSK_REPLY);
	assert_int_equal(h.reply.reply.status, 0);
	assert_int_equal(h.reply.reply.mode, ZH_XSK_MODE_COPY);
	assert_int_equal(h.reply.reply.xdp_mode, ZH_XSK_XDP_GENERIC);
	assert_string_equal(h.reply.reply.reason, "registered");
	assert_memory_equal(h.reply.reply.mac, self_addrs.mac, 6);
	assert_memory_equal(h.reply.reply.gw_mac, self_addrs.gw_mac, 6);
	assert_int_equal(h.reply.reply.addr_flags, self_addrs.addr_flags);
	assert_memory_equal(&h.reply.reply.ipv4, self4, 4);
	assert_memory_equal(h.reply.reply.ipv6, self6, 16);
	assert_int_equal(fstat(h.pipe[1], &st), 0);
	/* the connection is the registration: the agent sees it end only
	 * when the client closes it */
	handoff_done(&h);
	agent_stop(&a);
	assert_false(a.failed);
	assert_true(a.saw_close);
	/* what the agent got: a valid REGISTER, exactly our one fd */
	assert_int_equal(a.decode_rc, 0);
	assert_int_equal(a.req.hdr.type, ZH_XSK_REGISTER);
	assert_string_equal(a.req.req.ifname, "eth0");
	assert_int_equal(a.req.req.queue_id, 3);
	assert_int_equal(a.req.req.flags, ZH_XSK_F_NEED_WAKEUP);
	assert_int_equal(a.req.hdr.seq, h.reply.hdr.seq);
	assert_int_equal(a.nfds, 1);
	assert_true(S_ISFIFO(a.st.st_mode));
	assert_int_equal(a.st.st_ino, st.st_ino);
}

static void test_handoff_refused(void **state)
{
	struct handoff h;
	struct agent a;

	(void)state;
	assert_int_equal(agent_start(&a, AG_REFUSE, NULL), 0);
	do_handoff(&h, a.path, 2000);
	assert_int_equal(h.rc, -EPERM);
	/* the agent's text, its control bytes defused, and the errno */
	assert_string_equal(h.err, "agent refused: pod default/web: no AF_XDP "
				   "opt-in?[2J (Operation not permitted)");
	assert_int_equal(h.reply.reply.status, -EPERM);
	handoff_done(&h);
	agent_stop(&a);
	assert_int_equal(a.nfds, 1);
	assert_true(a.saw_close); /* the client hung up */
}

struct bad_agent {
	enum agent_mode mode;
	int rc;
	const char *err;
};

static void test_handoff_bad_replies(void **state)
{
	static const struct bad_agent cases[] = {
		{ AG_GARBAGE, -EPROTO, "malformed reply from the agent at " },
		{ AG_WRONG_SEQ, -EPROTO, "does not match request seq" },
		{ AG_WRONG_TYPE, -EPROTO, "answered with a register message" },
		{ AG_HANGUP, -ECONNRESET,
		  "closed the connection without a reply" },
		{ AG_OVERSIZE, -EMSGSIZE, "longer than 512 bytes" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct handoff h;
		struct agent a;

		assert_int_equal(agent_start(&a, cases[i].mode, NULL), 0);
		do_handoff(&h, a.path, 2000);
		if (h.rc != cases[i].rc)
			fail_msg("mode %d: rc %d, want %d (%s)", cases[i].mode,
				 h.rc, cases[i].rc, h.err);
		assert_contains(h.err, cases[i].err);
		assert_contains(h.err, a.path);
		handoff_done(&h);
		agent_stop(&a);
		assert_false(a.failed);
		assert_int_equal(a.decode_rc, 0);
	}
}

static void test_handoff_timeout(void **state)
{
	struct handoff h;
	struct agent a;

	(void)state;
	assert_int_equal(agent_start(&a, AG_SILENT, NULL), 0);
	do_handoff(&h, a.path, 200);
	assert_int_equal(h.rc, -ETIMEDOUT);
	assert_contains(h.err, "no reply from the agent at ");
	assert_contains(h.err, "within 200 ms");
	print_message("timeout after %lld ms\n", h.ms);
	assert_true(h.ms >= 190 && h.ms < 1000);
	handoff_done(&h);
	agent_stop(&a);
	assert_true(a.saw_close);
}

static void test_handoff_no_agent(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[128], longpath[200];
	struct handoff h;
	int fd;

	(void)state;
	/* no socket at all */
	snprintf(path, sizeof(path), "%s/absent.sock", agent_dir);
	do_handoff(&h, path, 500);
	assert_int_equal(h.rc, -ENOENT);
	assert_contains(h.err, path);
	assert_contains(h.err, "No such file or directory");
	assert_contains(h.err, "mounted into the pod");
	handoff_done(&h);

	/* a socket nobody listens on */
	snprintf(path, sizeof(path), "%s/dead.sock", agent_dir);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	do_handoff(&h, path, 500);
	assert_int_equal(h.rc, -ECONNREFUSED);
	assert_contains(h.err, path);
	assert_contains(h.err, "Connection refused");
	handoff_done(&h);
	close(fd);
	unlink(path);

	/* arguments */
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	do_handoff(&h, longpath, 500);
	assert_int_equal(h.rc, -ENAMETOOLONG);
	handoff_done(&h);
	do_handoff(&h, path, 0);
	assert_int_equal(h.rc, -EINVAL);
	handoff_done(&h);
}

/* --------------------------------------------------------- zh_xsk_open */

static void test_open_args(void **state)
{
	static const struct {
		struct zh_xsk_opts o;
		const char *err;
	} cases[] = {
		{ { .frame_size = 1024 }, "frame_size 1024" },
		{ { .frame_size = 8192 }, "frame_size 8192" },
		{ { .frames = 1 }, "frames 1" },
		{ { .ring_size = 1000 }, "ring_size 1000" },
		{ { .ring_size = 1U << 21 }, "ring_size" },
		{ { .ifname = "" }, "interface name" },
		{ { .ifname = "veth1234567890ab" }, "interface name" },
		{ { .queue = 4096 }, "queue 4096" },
		{ { .bind = (enum zh_xsk_bind)7 }, "bind mode 7" },
		{ { .timeout_ms = -1 }, "negative" },
		{ { .busy_poll_us = -5 }, "negative" },
	};
	/* not NULL: a failed open must clear it */
	struct zh_xsk *x = (struct zh_xsk *)&x;
	struct zh_xsk_opts o = { .ifname = "zh-no-such-if" };
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(zh_xsk_open(&cases[i].o, &x, err, sizeof(err)),
				 -EINVAL);
		assert_null(x);
		assert_contains(err, cases[i].err);
	}
	assert_int_equal(zh_xsk_open(NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(zh_xsk_open(&o, &x, err, sizeof(err)), -ENODEV);
	assert_string_equal(err, "interface zh-no-such-if: No such device");
	assert_int_equal(zh_xsk_open(&o, &x, NULL, 0), -ENODEV);
	/* NULL is fine for the accessors and close */
	zh_xsk_close(NULL);
	assert_null(zh_xsk_info(NULL));
	assert_true(zh_xsk_fd(NULL) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_v4),
		cmocka_unit_test(test_build_v6),
		cmocka_unit_test(test_build_csum_zero),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_build_payload_in_frame),
		cmocka_unit_test(test_fix_csum),
		cmocka_unit_test(test_fix_csum_partial),
		cmocka_unit_test(test_fix_csum_padding),
		cmocka_unit_test(test_swap_v4),
		cmocka_unit_test(test_swap_v6),
		cmocka_unit_test(test_swap_ip_options),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_cuts),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_handoff_ok),
		cmocka_unit_test(test_handoff_refused),
		cmocka_unit_test(test_handoff_bad_replies),
		cmocka_unit_test(test_handoff_timeout),
		cmocka_unit_test(test_handoff_no_agent),
		cmocka_unit_test(test_open_args),
	};

	return cmocka_run_group_tests(tests, agent_dir_setup,
				      agent_dir_teardown);
}
