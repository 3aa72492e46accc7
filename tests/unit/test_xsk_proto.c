// SPDX-License-Identifier: Apache-2.0
/*
 * test_xsk_proto.c - the AF_XDP socket handoff wire format: round trips,
 * every refusal with its errno and reason, truncation, encoder bounds and a
 * fixed-seed fuzz loop whose accepted messages are checked again here,
 * independently of the decoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "zh_xsk_proto.h"
#include "util.h"

#define HLEN sizeof(struct zh_xsk_hdr)
#define OFF_IFNAME (HLEN + offsetof(struct zh_xsk_req, ifname))
#define OFF_QUEUE (HLEN + offsetof(struct zh_xsk_req, queue_id))
#define OFF_FLAGS (HLEN + offsetof(struct zh_xsk_req, flags))
#define OFF_STATUS (HLEN + offsetof(struct zh_xsk_reply, status))
#define OFF_MODE (HLEN + offsetof(struct zh_xsk_reply, mode))
#define OFF_XDP_MODE (HLEN + offsetof(struct zh_xsk_reply, xdp_mode))
#define OFF_REASON (HLEN + offsetof(struct zh_xsk_reply, reason))
#define OFF_MAC (HLEN + offsetof(struct zh_xsk_reply, mac))
#define OFF_GW_MAC (HLEN + offsetof(struct zh_xsk_reply, gw_mac))
#define OFF_ADDR_FLAGS (HLEN + offsetof(struct zh_xsk_reply, addr_flags))
#define OFF_IPV4 (HLEN + offsetof(struct zh_xsk_reply, ipv4))
#define OFF_IPV6 (HLEN + offsetof(struct zh_xsk_reply, ipv6))

/* A pod with both families: 02:00:00:00:00:01 behind 02:00:00:00:00:fe,
 * 10.0.0.5 and fd00::5 (network byte order, written as bytes). */
static const struct zh_xsk_addrs pod_addrs = {
	.mac = { 0x02, 0, 0, 0, 0, 0x01 },
	.gw_mac = { 0x02, 0, 0, 0, 0, 0xfe },
	.addr_flags = ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6,
};

static struct zh_xsk_addrs addrs_both(void)
{
	static const unsigned char v4[4] = { 10, 0, 0, 5 };
	static const unsigned char v6[16] = { 0xfd, [15] = 5 };
	struct zh_xsk_addrs a = pod_addrs;

	memcpy(&a.ipv4, v4, sizeof(v4));
	memcpy(a.ipv6, v6, sizeof(v6));
	return a;
}

static void put32(unsigned char *b, size_t off, __u32 v)
{
	memcpy(b + off, &v, sizeof(v));
}

static void put16(unsigned char *b, size_t off, __u16 v)
{
	memcpy(b + off, &v, sizeof(v));
}

static int enc_register(unsigned char *b)
{
	int n = zh_xsk_encode_register(b, ZH_XSK_MSG_MAX, 7, "eth0", 3,
				       ZH_XSK_F_ZEROCOPY_WANTED);

	assert_int_equal(n, 40);
	return n;
}

static int enc_unregister(unsigned char *b)
{
	int n = zh_xsk_encode_unregister(b, ZH_XSK_MSG_MAX, 8, "eth0", 3);

	assert_int_equal(n, 40);
	return n;
}

static int enc_reply(unsigned char *b)
{
	struct zh_xsk_addrs a = addrs_both();
	int n = zh_xsk_encode_reply(b, ZH_XSK_MSG_MAX, 9, 0,
				    ZH_XSK_MODE_ZEROCOPY, ZH_XSK_XDP_NATIVE, &a,
				    "bound");

	assert_int_equal(n, 192);
	return n;
}

static int enc_reply_failed(unsigned char *b)
{
	int n = zh_xsk_encode_reply(b, ZH_XSK_MSG_MAX, 10, -EPERM, 0, 0, NULL,
				    "no");

	assert_int_equal(n, 192);
	return n;
}

/* ------------------------------------------------------------ round trips */

static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct zh_xsk_hdr), 16);
	assert_int_equal(offsetof(struct zh_xsk_hdr, len), 8);
	assert_int_equal(offsetof(struct zh_xsk_hdr, seq), 12);
	assert_int_equal(ZH_XSK_REQ_MSG_LEN, 40);
	assert_int_equal(ZH_XSK_REPLY_MSG_LEN, 192);
	assert_int_equal(OFF_QUEUE, 32);
	assert_int_equal(OFF_REASON, 28);
	/* the spec's body offsets, plus the 16-byte header */
	assert_int_equal(OFF_MAC, 16 + 140);
	assert_int_equal(OFF_GW_MAC, 16 + 146);
	assert_int_equal(OFF_ADDR_FLAGS, 16 + 152);
	assert_int_equal(OFF_IPV4, 16 + 156);
	assert_int_equal(OFF_IPV6, 16 + 160);
	assert_int_equal(sizeof(struct zh_xsk_addrs), 36);
	assert_int_equal(offsetof(struct zh_xsk_addrs, gw_mac), 6);
	assert_int_equal(offsetof(struct zh_xsk_addrs, addr_flags), 12);
	assert_int_equal(offsetof(struct zh_xsk_addrs, ipv4), 16);
	assert_int_equal(offsetof(struct zh_xsk_addrs, ipv6), 20);
	assert_int_equal(ZH_XSK_ADDR_V4, 1);
	assert_int_equal(ZH_XSK_ADDR_V6, 2);
	/* "zhxk" as bytes on a little-endian host */
	if (*(const unsigned char *)&(__u32){ 1 } == 1) {
		__u32 m = ZH_XSK_MAGIC;

		assert_memory_equal(&m, "zhxk", 4);
	}
}

static void test_register_round_trip(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX];
	struct zh_xsk_msg m;
	char err[128];
	int n;

	(void)state;
	n = zh_xsk_encode_register(b, sizeof(b), 0xdeadbeef, "veth1234567890a",
				   4095, ZH_XSK_F_ALL);
	assert_int_equal(n, 40);
	assert_int_equal(zh_xsk_decode(b, (size_t)n, &m, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(m.hdr.magic, ZH_XSK_MAGIC);
	assert_int_equal(m.hdr.version, ZH_XSK_VERSION);
	assert_int_equal(m.hdr.type, ZH_XSK_REGISTER);
	assert_int_equal(m.hdr.len, 40);
	assert_int_equal(m.hdr.seq, 0xdeadbeef);
	assert_string_equal(m.req.ifname, "veth1234567890a");
	assert_int_equal(m.req.queue_id, 4095);
	assert_int_equal(m.req.flags, ZH_XSK_F_ALL);

	n = zh_xsk_encode_register(b, 40, 1, "e", 0, 0);
	assert_int_equal(n, 40);
	assert_int_equal(zh_xsk_decode(b, 40, &m, NULL, 0), 0);
	assert_string_equal(m.req.ifname, "e");
	assert_int_equal(m.req.flags, 0);
	/* the tail after the NUL is zero on the wire */
	for (size_t i = OFF_IFNAME + 1; i < OFF_IFNAME + 16; i++)
		assert_int_equal(b[i], 0);
}

static void test_unregister_round_trip(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX];
	struct zh_xsk_msg m;

	(void)state;
	enc_unregister(b);
	assert_int_equal(zh_xsk_decode(b, 40, &m, NULL, 0), 0);
	assert_int_equal(m.hdr.type, ZH_XSK_UNREGISTER);
	assert_int_equal(m.hdr.seq, 8);
	assert_string_equal(m.req.ifname, "eth0");
	assert_int_equal(m.req.queue_id, 3);
	assert_int_equal(m.req.flags, 0);
}

static void test_reply_round_trip(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX];
	struct zh_xsk_addrs a;
	char longr[300];
	struct zh_xsk_msg m;
	int n;

	(void)state;
	enc_reply(b);
	assert_int_equal(zh_xsk_decode(b, 192, &m, NULL, 0), 0);
	assert_int_equal(m.hdr.type, ZH_XSK_REPLY);
	assert_int_equal(m.hdr.seq, 9);
	assert_int_equal(m.reply.status, 0);
	assert_int_equal(m.reply.mode, ZH_XSK_MODE_ZEROCOPY);
	assert_int_equal(m.reply.xdp_mode, ZH_XSK_XDP_NATIVE);
	assert_string_equal(m.reply.reason, "bound");
	/* the addresses, as bytes at the spec's offsets */
	assert_memory_equal(b + OFF_MAC, "\x02\0\0\0\0\x01", 6);
	assert_memory_equal(b + OFF_GW_MAC, "\x02\0\0\0\0\xfe", 6);
	assert_memory_equal(b + OFF_IPV4, "\x0a\0\0\x05", 4);
	assert_memory_equal(b + OFF_IPV6,
			    "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x05", 16);
	assert_memory_equal(m.reply.mac, pod_addrs.mac, 6);
	assert_memory_equal(m.reply.gw_mac, pod_addrs.gw_mac, 6);
	assert_int_equal(m.reply.addr_flags, ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6);
	assert_int_equal(m.reply.ipv4, addrs_both().ipv4);
	assert_memory_equal(m.reply.ipv6, addrs_both().ipv6, 16);

	/* one family each: the other's field stays zero */
	a = addrs_both();
	a.addr_flags = ZH_XSK_ADDR_V4;
	memset(a.ipv6, 0, sizeof(a.ipv6));
	n = zh_xsk_encode_reply(b, sizeof(b), 13, 0, ZH_XSK_MODE_COPY,
				ZH_XSK_XDP_GENERIC, &a, "v4");
	assert_int_equal(n, 192);
	assert_int_equal(zh_xsk_decode(b, 192, &m, NULL, 0), 0);
	assert_int_equal(m.reply.addr_flags, ZH_XSK_ADDR_V4);
	assert_int_equal(m.reply.ipv4, a.ipv4);
	a = addrs_both();
	a.addr_flags = ZH_XSK_ADDR_V6;
	a.ipv4 = 0;
	n = zh_xsk_encode_reply(b, sizeof(b), 14, 0, ZH_XSK_MODE_COPY,
				ZH_XSK_XDP_GENERIC, &a, "v6");
	assert_int_equal(zh_xsk_decode(b, (size_t)n, &m, NULL, 0), 0);
	assert_int_equal(m.reply.addr_flags, ZH_XSK_ADDR_V6);
	assert_int_equal(m.reply.ipv4, 0);
	assert_memory_equal(m.reply.ipv6, a.ipv6, 16);
	/* NULL addrs: all zero, also on success */
	n = zh_xsk_encode_reply(b, sizeof(b), 15, 0, ZH_XSK_MODE_COPY,
				ZH_XSK_XDP_NATIVE, NULL, NULL);
	assert_int_equal(zh_xsk_decode(b, (size_t)n, &m, NULL, 0), 0);
	for (size_t i = OFF_MAC; i < 192; i++)
		assert_int_equal(b[i], 0);

	n = zh_xsk_encode_reply(b, sizeof(b), 10, -EPERM, 0, 0, NULL, NULL);
	assert_int_equal(n, 192);
	assert_int_equal(zh_xsk_decode(b, 192, &m, NULL, 0), 0);
	assert_int_equal(m.reply.status, -EPERM);
	assert_int_equal(m.reply.mode, 0);
	assert_int_equal(m.reply.xdp_mode, 0);
	assert_string_equal(m.reply.reason, "");
	for (size_t i = OFF_MAC; i < 192; i++)
		assert_int_equal(b[i], 0);
	/* a failure may pass an all-zero addrs */
	memset(&a, 0, sizeof(a));
	n = zh_xsk_encode_reply(b, sizeof(b), 16, -ENODEV, 0, 0, &a, "gone");
	assert_int_equal(zh_xsk_decode(b, (size_t)n, &m, NULL, 0), 0);
	assert_int_equal(m.reply.status, -ENODEV);

	/* a too-long reason is cut to 127 bytes, still terminated */
	memset(longr, 'x', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	n = zh_xsk_encode_reply(b, sizeof(b), 11, 0, ZH_XSK_MODE_COPY,
				ZH_XSK_XDP_GENERIC, NULL, longr);
	assert_int_equal(n, 192);
	assert_int_equal(zh_xsk_decode(b, 192, &m, NULL, 0), 0);
	assert_int_equal(strlen(m.reply.reason), ZH_XSK_REASON_LEN - 1);
	assert_int_equal(m.reply.mode, ZH_XSK_MODE_COPY);
	assert_int_equal(m.reply.xdp_mode, ZH_XSK_XDP_GENERIC);
	/* exactly 127 is kept whole */
	longr[127] = '\0';
	n = zh_xsk_encode_reply(b, sizeof(b), 12, -ENODEV, 0, 0, NULL, longr);
	assert_int_equal(zh_xsk_decode(b, (size_t)n, &m, NULL, 0), 0);
	assert_string_equal(m.reply.reason, longr);
}

static void test_type_name(void **state)
{
	(void)state;
	assert_string_equal(zh_xsk_type_name(ZH_XSK_REGISTER), "register");
	assert_string_equal(zh_xsk_type_name(ZH_XSK_UNREGISTER), "unregister");
	assert_string_equal(zh_xsk_type_name(ZH_XSK_REPLY), "reply");
	assert_string_equal(zh_xsk_type_name(0), "unknown");
	assert_string_equal(zh_xsk_type_name(4), "unknown");
	assert_string_equal(zh_xsk_type_name(-1), "unknown");
}

/* --------------------------------------------------------------- refusals */

enum base { REG, UNREG, REPLY, REPLY_FAILED };

struct refusal {
	const char *name;
	enum base base;
	void (*mutate)(unsigned char *b, size_t *n);
	int rc;
	const char *reason;
};

static void m_oversized(unsigned char *b, size_t *n)
{
	*n = ZH_XSK_MSG_MAX + 1;
	put32(b, 8, (__u32)*n);
}

static void m_short(unsigned char *b, size_t *n)
{
	*n = HLEN - 1;
}

static void m_magic(unsigned char *b, size_t *n)
{
	put32(b, 0, 0x7a68786bU); /* the other byte order */
}

static void m_version0(unsigned char *b, size_t *n)
{
	put16(b, 4, 0);
}

static void m_version2(unsigned char *b, size_t *n)
{
	put16(b, 4, 2);
}

static void m_type0(unsigned char *b, size_t *n)
{
	put16(b, 6, 0);
}

static void m_type4(unsigned char *b, size_t *n)
{
	put16(b, 6, 4);
}

static void m_len_big(unsigned char *b, size_t *n)
{
	put32(b, 8, (__u32)*n + 1);
}

static void m_len_small(unsigned char *b, size_t *n)
{
	put32(b, 8, (__u32)*n - 1);
}

static void m_trailing(unsigned char *b, size_t *n)
{
	b[*n] = 0;
	*n += 4;
	put32(b, 8, (__u32)*n);
}

static void m_req_as_reply(unsigned char *b, size_t *n)
{
	put16(b, 6, ZH_XSK_REPLY);
}

static void m_reply_as_req(unsigned char *b, size_t *n)
{
	put16(b, 6, ZH_XSK_REGISTER);
}

static void m_ifname_unterminated(unsigned char *b, size_t *n)
{
	memset(b + OFF_IFNAME, 'a', 16);
}

static void m_ifname_empty(unsigned char *b, size_t *n)
{
	memset(b + OFF_IFNAME, 0, 16);
}

static void m_ifname_slash(unsigned char *b, size_t *n)
{
	b[OFF_IFNAME + 1] = '/';
}

static void m_ifname_space(unsigned char *b, size_t *n)
{
	b[OFF_IFNAME + 1] = ' ';
}

static void m_ifname_tab(unsigned char *b, size_t *n)
{
	b[OFF_IFNAME] = '\t';
}

static void m_ifname_colon(unsigned char *b, size_t *n)
{
	b[OFF_IFNAME + 3] = ':';
}

static void m_ifname_dot(unsigned char *b, size_t *n)
{
	memset(b + OFF_IFNAME, 0, 16);
	b[OFF_IFNAME] = '.';
}

static void m_ifname_dotdot(unsigned char *b, size_t *n)
{
	memset(b + OFF_IFNAME, 0, 16);
	memcpy(b + OFF_IFNAME, "..", 2);
}

static void m_ifname_tail(unsigned char *b, size_t *n)
{
	b[OFF_IFNAME + 10] = 'z'; /* "eth0\0....z" */
}

static void m_queue(unsigned char *b, size_t *n)
{
	put32(b, OFF_QUEUE, 4096);
}

static void m_queue_max(unsigned char *b, size_t *n)
{
	put32(b, OFF_QUEUE, 0xffffffffU);
}

static void m_flags(unsigned char *b, size_t *n)
{
	put32(b, OFF_FLAGS, 1U << 2);
}

static void m_flags_high(unsigned char *b, size_t *n)
{
	put32(b, OFF_FLAGS, ZH_XSK_F_NEED_WAKEUP | (1U << 31));
}

static void m_unreg_flags(unsigned char *b, size_t *n)
{
	put32(b, OFF_FLAGS, ZH_XSK_F_NEED_WAKEUP);
}

static void m_reason_unterminated(unsigned char *b, size_t *n)
{
	memset(b + OFF_REASON, 'r', ZH_XSK_REASON_LEN);
}

static void m_reason_tail(unsigned char *b, size_t *n)
{
	b[OFF_REASON + ZH_XSK_REASON_LEN - 1] = '!';
}

static void m_status_pos(unsigned char *b, size_t *n)
{
	put32(b, OFF_STATUS, 1);
}

static void m_mode0(unsigned char *b, size_t *n)
{
	put32(b, OFF_MODE, 0);
}

static void m_mode3(unsigned char *b, size_t *n)
{
	put32(b, OFF_MODE, 3);
}

static void m_xdp_mode3(unsigned char *b, size_t *n)
{
	put32(b, OFF_XDP_MODE, 3);
}

static void m_failed_with_mode(unsigned char *b, size_t *n)
{
	put32(b, OFF_STATUS, (__u32)-EPERM); /* mode stays ZEROCOPY */
}

static void m_mac_on_failure(unsigned char *b, size_t *n)
{
	b[OFF_MAC + 5] = 1;
}

static void m_gw_mac_on_failure(unsigned char *b, size_t *n)
{
	b[OFF_GW_MAC] = 2;
}

static void m_addr_flags_unknown(unsigned char *b, size_t *n)
{
	put32(b, OFF_ADDR_FLAGS, ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6 | (1U << 2));
}

static void m_addr_flags_high(unsigned char *b, size_t *n)
{
	put32(b, OFF_ADDR_FLAGS, ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6 | (1U << 31));
}

static void m_addr_flags_on_failure(unsigned char *b, size_t *n)
{
	put32(b, OFF_ADDR_FLAGS, ZH_XSK_ADDR_V6);
}

static void m_ipv4_without_flag(unsigned char *b, size_t *n)
{
	put32(b, OFF_ADDR_FLAGS, ZH_XSK_ADDR_V6); /* ipv4 stays 10.0.0.5 */
}

static void m_ipv6_without_flag(unsigned char *b, size_t *n)
{
	put32(b, OFF_ADDR_FLAGS, ZH_XSK_ADDR_V4); /* ipv6 stays fd00::5 */
}

static void m_ipv6_last_byte(unsigned char *b, size_t *n)
{
	put32(b, OFF_ADDR_FLAGS, ZH_XSK_ADDR_V4);
	memset(b + OFF_IPV6, 0, 16);
	b[OFF_IPV6 + 15] = 1; /* the last word counts too */
}

static void m_ipv4_on_failure(unsigned char *b, size_t *n)
{
	b[OFF_IPV4] = 10;
}

static void m_ipv6_on_failure(unsigned char *b, size_t *n)
{
	b[OFF_IPV6 + 8] = 1;
}

/* Success turned failure with addresses left in: the first rule in offset
 * order (mac) reports it. */
static void m_failed_with_addrs(unsigned char *b, size_t *n)
{
	put32(b, OFF_STATUS, (__u32)-EPERM);
	put32(b, OFF_MODE, 0);
	put32(b, OFF_XDP_MODE, 0);
}

static const struct refusal refusals[] = {
	{ "oversized", REG, m_oversized, -EMSGSIZE, "exceeds 512" },
	{ "short", REG, m_short, -EBADMSG, "short message: 15 bytes" },
	{ "magic", REG, m_magic, -EPROTO, "bad magic" },
	{ "magic reply", REPLY, m_magic, -EPROTO, "bad magic 0x7a68786b" },
	{ "version 0", REG, m_version0, -EPROTONOSUPPORT,
	  "version 0 (this side speaks 1)" },
	{ "version 2", REPLY, m_version2, -EPROTONOSUPPORT,
	  "version 2 (this side speaks 1)" },
	{ "type 0", REG, m_type0, -EBADMSG, "unknown message type 0" },
	{ "type 4", REPLY, m_type4, -EBADMSG, "unknown message type 4" },
	{ "len > n", REG, m_len_big, -EBADMSG, "header len 41" },
	{ "len < n", REPLY, m_len_small, -EBADMSG, "header len 191" },
	{ "trailing bytes", REG, m_trailing, -EBADMSG,
	  "register: body of 28 bytes, want 24" },
	{ "trailing bytes reply", REPLY, m_trailing, -EBADMSG,
	  "reply: body of 180 bytes, want 176" },
	{ "request as reply", REG, m_req_as_reply, -EBADMSG,
	  "reply: body of 24 bytes, want 176" },
	{ "reply as register", REPLY, m_reply_as_req, -EBADMSG,
	  "register: body of 176 bytes, want 24" },
	{ "ifname unterminated", REG, m_ifname_unterminated, -EINVAL,
	  "not NUL-terminated" },
	{ "ifname unterminated unreg", UNREG, m_ifname_unterminated, -EINVAL,
	  "unregister: ifname not NUL-terminated" },
	{ "ifname empty", REG, m_ifname_empty, -EINVAL, "empty" },
	{ "ifname slash", REG, m_ifname_slash, -EINVAL, "'/'" },
	{ "ifname space", UNREG, m_ifname_space, -EINVAL, "whitespace" },
	{ "ifname tab", REG, m_ifname_tab, -EINVAL, "whitespace" },
	{ "ifname colon", REG, m_ifname_colon, -EINVAL, "':'" },
	{ "ifname dot", REG, m_ifname_dot, -EINVAL, "\".\"" },
	{ "ifname dotdot", REG, m_ifname_dotdot, -EINVAL, "\"..\"" },
	{ "ifname tail", REG, m_ifname_tail, -EINVAL, "zero-padded" },
	{ "queue 4096", REG, m_queue, -ERANGE, "queue_id 4096 out of range" },
	{ "queue max", UNREG, m_queue_max, -ERANGE,
	  "queue_id 4294967295 out of range (max 4095)" },
	{ "flags", REG, m_flags, -EINVAL, "unknown flag bits 0x4" },
	{ "flags high", REG, m_flags_high, -EINVAL,
	  "unknown flag bits 0x80000000" },
	{ "unregister flags", UNREG, m_unreg_flags, -EINVAL,
	  "unregister: unknown flag bits 0x2" },
	{ "reason unterminated", REPLY, m_reason_unterminated, -EBADMSG,
	  "reason not NUL-terminated" },
	{ "reason tail", REPLY, m_reason_tail, -EBADMSG, "zero-padded" },
	{ "status positive", REPLY, m_status_pos, -EINVAL,
	  "status 1 positive" },
	{ "mode 0 on success", REPLY, m_mode0, -EINVAL, "mode 0" },
	{ "mode 3", REPLY, m_mode3, -EINVAL, "mode 3" },
	{ "xdp_mode 3", REPLY, m_xdp_mode3, -EINVAL, "xdp_mode 3" },
	{ "failed with mode", REPLY, m_failed_with_mode, -EINVAL,
	  "for status -1" },
	{ "mac on failure", REPLY_FAILED, m_mac_on_failure, -EINVAL,
	  "reply: mac set on a failed reply (status -1" },
	{ "gw_mac on failure", REPLY_FAILED, m_gw_mac_on_failure, -EINVAL,
	  "reply: gw_mac set on a failed reply" },
	{ "addr_flags unknown", REPLY, m_addr_flags_unknown, -EINVAL,
	  "unknown addr_flags bits (status 0, addr_flags 0x7)" },
	{ "addr_flags high", REPLY, m_addr_flags_high, -EINVAL,
	  "unknown addr_flags bits (status 0, addr_flags 0x80000003)" },
	{ "addr_flags unknown on failure", REPLY_FAILED, m_addr_flags_unknown,
	  -EINVAL, "unknown addr_flags bits" },
	{ "addr_flags on failure", REPLY_FAILED, m_addr_flags_on_failure,
	  -EINVAL,
	  "addr_flags set on a failed reply (status -1, addr_flags "
	  "0x2)" },
	{ "ipv4 without V4", REPLY, m_ipv4_without_flag, -EINVAL,
	  "ipv4 set without ZH_XSK_ADDR_V4" },
	{ "ipv6 without V6", REPLY, m_ipv6_without_flag, -EINVAL,
	  "ipv6 set without ZH_XSK_ADDR_V6" },
	{ "ipv6 last byte without V6", REPLY, m_ipv6_last_byte, -EINVAL,
	  "ipv6 set without ZH_XSK_ADDR_V6" },
	{ "ipv4 on failure", REPLY_FAILED, m_ipv4_on_failure, -EINVAL,
	  "ipv4 set without ZH_XSK_ADDR_V4" },
	{ "ipv6 on failure", REPLY_FAILED, m_ipv6_on_failure, -EINVAL,
	  "ipv6 set without ZH_XSK_ADDR_V6" },
	{ "failed with addresses", REPLY, m_failed_with_addrs, -EINVAL,
	  "mac set on a failed reply" },
	/* the earlier fields win over the addresses */
	{ "reason before addresses", REPLY_FAILED, m_reason_tail, -EBADMSG,
	  "zero-padded" },
};

static size_t enc_base(enum base base, unsigned char *b)
{
	switch (base) {
	case REG:
		return (size_t)enc_register(b);
	case UNREG:
		return (size_t)enc_unregister(b);
	case REPLY:
		return (size_t)enc_reply(b);
	default:
		return (size_t)enc_reply_failed(b);
	}
}

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
		const struct refusal *r = &refusals[i];
		unsigned char b[ZH_XSK_MSG_MAX + 64];
		struct zh_xsk_msg m;
		char err[160];
		size_t n;
		int rc;

		memset(b, 0, sizeof(b));
		n = enc_base(r->base, b);
		assert_int_equal(zh_xsk_decode(b, n, &m, NULL, 0), 0);
		r->mutate(b, &n);
		memset(&m, 0xa5, sizeof(m));
		rc = zh_xsk_decode(b, n, &m, err, sizeof(err));
		if (rc != r->rc)
			fail_msg("%s: rc %d, want %d (%s)", r->name, rc, r->rc,
				 err);
		assert_contains(err, r->reason);
		/* out is left alone on error */
		for (size_t j = 0; j < sizeof(m); j++)
			assert_int_equal(((unsigned char *)&m)[j], 0xa5);
	}
}

static void test_decode_args(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX];
	struct zh_xsk_msg m;
	char err[8];

	(void)state;
	enc_register(b);
	assert_int_equal(zh_xsk_decode(NULL, 40, &m, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(zh_xsk_decode(b, 40, NULL, err, sizeof(err)), -EINVAL);
	/* NULL buf with n == 0 is just a short read */
	assert_int_equal(zh_xsk_decode(NULL, 0, &m, NULL, 0), -EBADMSG);
	/* a small err buffer is truncated and terminated */
	b[0] ^= 1;
	assert_int_equal(zh_xsk_decode(b, 40, &m, err, sizeof(err)), -EPROTO);
	assert_string_equal(err, "bad mag");
	assert_int_equal(zh_xsk_decode(b, 40, &m, err, 0), -EPROTO);
}

/* ------------------------------------------------------------- truncation */

static void test_truncation(void **state)
{
	(void)state;
	for (int base = REG; base <= REPLY_FAILED; base++) {
		unsigned char b[ZH_XSK_MSG_MAX];
		struct zh_xsk_msg m;
		char err[128];
		size_t n = enc_base((enum base)base, b);

		for (size_t k = 0; k < n; k++) {
			/* a heap copy of exactly k bytes: ASan sees any
			 * read past the end */
			unsigned char *c = malloc(k ? k : 1);
			int rc;

			assert_non_null(c);
			memcpy(c, b, k);
			rc = zh_xsk_decode(c, k, &m, err, sizeof(err));
			assert_int_equal(rc, -EBADMSG);
			if (k < HLEN)
				assert_contains(err, "short message");
			else
				assert_contains(err, "header len");
			free(c);
		}
	}
}

/* ---------------------------------------------------------------- encoder */

static void test_encode_nospace(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX];

	(void)state;
	for (size_t k = 0; k < 192; k++) {
		memset(b, 0x5a, sizeof(b));
		if (k < 40) {
			assert_int_equal(zh_xsk_encode_register(b, k, 1, "eth0",
								0, 0),
					 -ENOSPC);
			assert_int_equal(zh_xsk_encode_unregister(b, k, 1,
								  "eth0", 0),
					 -ENOSPC);
		}
		assert_int_equal(zh_xsk_encode_reply(
					 b, k, 1, 0, ZH_XSK_MODE_COPY,
					 ZH_XSK_XDP_NATIVE, &pod_addrs, "ok"),
				 -ENOSPC);
		/* nothing written on error */
		for (size_t j = 0; j < sizeof(b); j++)
			assert_int_equal(b[j], 0x5a);
	}
	assert_int_equal(zh_xsk_encode_register(b, 40, 1, "eth0", 0, 0), 40);
	assert_int_equal(zh_xsk_encode_unregister(b, 40, 1, "eth0", 0), 40);
	assert_int_equal(zh_xsk_encode_reply(b, 192, 1, -EIO, 0, 0, NULL, "x"),
			 192);
}

static void test_encode_einval(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX];
	size_t L = sizeof(b);

	(void)state;
	assert_int_equal(zh_xsk_encode_register(NULL, L, 1, "eth0", 0, 0),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, NULL, 0, 0), -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "", 0, 0), -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "a/b", 0, 0), -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "a b", 0, 0), -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "a:1", 0, 0), -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "..", 0, 0), -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "veth1234567890ab", 0,
						0),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "eth0", 4096, 0),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_register(b, L, 1, "eth0", 0, 4),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_unregister(b, L, 1, "", 0), -EINVAL);
	/* bad arguments win over a small buffer */
	assert_int_equal(zh_xsk_encode_register(b, 0, 1, "", 0, 0), -EINVAL);
	assert_int_equal(zh_xsk_encode_reply(b, L, 1, 1, 0, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_reply(b, L, 1, 0, 0, ZH_XSK_XDP_NATIVE,
					     NULL, NULL),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_reply(b, L, 1, 0, ZH_XSK_MODE_COPY, 3,
					     NULL, NULL),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_reply(b, L, 1, -EPERM, ZH_XSK_MODE_COPY,
					     0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(zh_xsk_encode_reply(NULL, L, 1, 0, ZH_XSK_MODE_COPY,
					     ZH_XSK_XDP_NATIVE, NULL, NULL),
			 -EINVAL);
}

/* Encode a successful reply with @a into a zero-length buffer: only the
 * argument checks can answer. */
static int enc_addrs_ok(const struct zh_xsk_addrs *a)
{
	unsigned char b[1];

	return zh_xsk_encode_reply(b, 0, 1, 0, ZH_XSK_MODE_COPY,
				   ZH_XSK_XDP_NATIVE, a, NULL);
}

/* Each address rule refused by the encoder too, before the size check. */
static void test_encode_addrs_einval(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX];
	struct zh_xsk_addrs a;

	(void)state;
	a = addrs_both();
	assert_int_equal(enc_addrs_ok(&a), -ENOSPC);
	a.addr_flags |= 1U << 2;
	assert_int_equal(enc_addrs_ok(&a), -EINVAL);
	a.addr_flags = ZH_XSK_ADDR_V6; /* ipv4 left set */
	assert_int_equal(enc_addrs_ok(&a), -EINVAL);
	a.addr_flags = ZH_XSK_ADDR_V4; /* ipv6 left set */
	assert_int_equal(enc_addrs_ok(&a), -EINVAL);
	a = addrs_both();
	a.addr_flags = 0;
	a.ipv4 = 0;
	memset(a.ipv6, 0, sizeof(a.ipv6));
	assert_int_equal(enc_addrs_ok(&a), -ENOSPC); /* MACs only is fine */

	/* on a failure each non-zero byte alone is refused */
	memset(b, 0x5a, sizeof(b));
	a = addrs_both();
	assert_int_equal(zh_xsk_encode_reply(b, sizeof(b), 1, -EIO, 0, 0, &a,
					     NULL),
			 -EINVAL);
	for (size_t off = 0; off < sizeof(struct zh_xsk_addrs); off++) {
		memset(&a, 0, sizeof(a));
		((unsigned char *)&a)[off] = 1;
		assert_int_equal(zh_xsk_encode_reply(b, sizeof(b), 1, -EIO, 0,
						     0, &a, NULL),
				 -EINVAL);
	}
	/* nothing written */
	for (size_t j = 0; j < sizeof(b); j++)
		assert_int_equal(b[j], 0x5a);
}

/* ------------------------------------------------------------------- fuzz */

/* The rules again, written from the spec rather than from the decoder. */
static int zero_padded_string(const char *f, size_t size)
{
	size_t len = strnlen(f, size);

	if (len == size)
		return 0;
	for (size_t i = len; i < size; i++)
		if (f[i])
			return 0;
	return 1;
}

static void assert_valid(const unsigned char *b, size_t n,
			 const struct zh_xsk_msg *m)
{
	assert_true(n >= HLEN && n <= ZH_XSK_MSG_MAX);
	assert_memory_equal(&m->hdr, b, HLEN);
	assert_int_equal(m->hdr.magic, ZH_XSK_MAGIC);
	assert_int_equal(m->hdr.version, ZH_XSK_VERSION);
	assert_int_equal(m->hdr.len, n);
	if (m->hdr.type == ZH_XSK_REGISTER ||
	    m->hdr.type == ZH_XSK_UNREGISTER) {
		const struct zh_xsk_req *r = &m->req;
		size_t len;

		assert_int_equal(n, 40);
		assert_memory_equal(r, b + HLEN, sizeof(*r));
		assert_true(zero_padded_string(r->ifname, sizeof(r->ifname)));
		len = strlen(r->ifname);
		assert_true(len > 0 && len < 16);
		assert_true(strcmp(r->ifname, ".") && strcmp(r->ifname, ".."));
		for (size_t i = 0; i < len; i++)
			assert_null(strchr("/: \t\n\v\f\r", r->ifname[i]));
		assert_true(r->queue_id < 4096);
		if (m->hdr.type == ZH_XSK_REGISTER)
			assert_int_equal(r->flags & ~3U, 0);
		else
			assert_int_equal(r->flags, 0);
	} else {
		const struct zh_xsk_reply *r = &m->reply;

		assert_int_equal(m->hdr.type, ZH_XSK_REPLY);
		assert_int_equal(n, 192);
		assert_memory_equal(r, b + HLEN, sizeof(*r));
		assert_true(zero_padded_string(r->reason, sizeof(r->reason)));
		assert_true(r->status <= 0);
		if (r->status < 0) {
			assert_int_equal(r->mode, 0);
			assert_int_equal(r->xdp_mode, 0);
			/* every address byte zero */
			for (size_t i = OFF_MAC; i < n; i++)
				assert_int_equal(b[i], 0);
		} else {
			assert_true(r->mode == 1 || r->mode == 2);
			assert_true(r->xdp_mode == 1 || r->xdp_mode == 2);
		}
		assert_int_equal(r->addr_flags & ~3U, 0);
		if (!(r->addr_flags & 1))
			for (size_t i = OFF_IPV4; i < OFF_IPV4 + 4; i++)
				assert_int_equal(b[i], 0);
		if (!(r->addr_flags & 2))
			for (size_t i = OFF_IPV6; i < OFF_IPV6 + 16; i++)
				assert_int_equal(b[i], 0);
	}
}

/* Decode @n bytes from an exact-size heap copy; check what is accepted. */
static int fuzz_one(const unsigned char *b, size_t n)
{
	unsigned char *c = malloc(n ? n : 1);
	struct zh_xsk_msg m;
	char err[96];
	int rc;

	assert_non_null(c);
	memcpy(c, b, n);
	rc = zh_xsk_decode(c, n, &m, err, sizeof(err));
	if (rc == 0)
		assert_valid(c, n, &m);
	else
		assert_true(err[0] != '\0' && strlen(err) < sizeof(err));
	free(c);
	return rc;
}

static void test_fuzz_random(void **state)
{
	unsigned char b[ZH_XSK_MSG_MAX + 16];
	int accepted = 0;

	(void)state;
	rng_seed(0x7a68786b00000001ULL);
	for (int i = 0; i < 10000; i++) {
		__u64 r = rng_next();
		size_t n;

		for (size_t j = 0; j < sizeof(b); j += 8) {
			__u64 v = rng_next();

			memcpy(b + j, &v, 8);
		}
		/* mostly the two real sizes, so the body checks run too */
		switch (r % 4) {
		case 0:
			n = (r >> 8) % sizeof(b);
			break;
		case 1:
			n = 40;
			break;
		default:
			n = 192;
			break;
		}
		/* three in four get a plausible header, else magic stops
		 * everything */
		if ((r >> 20) % 4) {
			put32(b, 0, ZH_XSK_MAGIC);
			put16(b, 4, ZH_XSK_VERSION);
			put16(b, 6, (__u16)((r >> 24) % 5));
			put32(b, 8, (__u32)n);
			/* and sometimes a sane-looking body */
			if ((r >> 32) % 2) {
				memset(b + OFF_IFNAME + 1 + (r >> 40) % 15, 0,
				       16);
				b[OFF_IFNAME] = 'e';
				put32(b, OFF_QUEUE, (__u32)(r >> 44) % 5000);
				put32(b, OFF_FLAGS, (__u32)(r >> 56) % 5);
			}
		}
		if (fuzz_one(b, n) == 0)
			accepted++;
	}
	print_message("random: %d of 10000 accepted\n", accepted);
}

static void test_fuzz_mutations(void **state)
{
	int accepted = 0;

	(void)state;
	rng_seed(0x7a68786b00000002ULL);
	for (int i = 0; i < 10000; i++) {
		unsigned char b[ZH_XSK_MSG_MAX];
		__u64 r = rng_next();
		size_t n = enc_base((enum base)(r % 4), b);
		size_t pos = (size_t)((r >> 8) % n);
		unsigned char v = (unsigned char)(r >> 32);

		/* half random bytes, half one flipped bit */
		if ((r >> 40) % 2)
			b[pos] = v;
		else
			b[pos] ^= (unsigned char)(1U << ((r >> 48) % 8));
		if (fuzz_one(b, n) == 0)
			accepted++;
	}
	print_message("mutations: %d of 10000 accepted\n", accepted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_register_round_trip),
		cmocka_unit_test(test_unregister_round_trip),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_type_name),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_decode_args),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_encode_nospace),
		cmocka_unit_test(test_encode_einval),
		cmocka_unit_test(test_encode_addrs_einval),
		cmocka_unit_test(test_fuzz_random),
		cmocka_unit_test(test_fuzz_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
