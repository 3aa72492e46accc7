// SPDX-License-Identifier: Apache-2.0
/*
 * test_nl.c - the netlink client's reading of replies (user/lib/nl.c)
 * through a fake socket: the datagrams the fuzzer found (each a length
 * and bytes), malformed and foreign messages, and good ones. Every reply
 * is handed over in a buffer of exactly its size, so that ASan sees any
 * read past it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>

#include <cmocka.h>

#include "nl.h"
#include "util.h"

#define MAX_DGRAMS 8

static struct {
	unsigned char *dgram[MAX_DGRAMS];
	size_t len[MAX_DGRAMS];
	__u32 pid[MAX_DGRAMS]; /* the sender: 0 the kernel */
	bool patch_seq[MAX_DGRAMS]; /* rewrite every header's seq to ours */
	int n, next;
	__u32 seq; /* of the request sent */
	int recvs;
} fake;

static int fake_open(void)
{
	return 100;
}

static ssize_t fake_send(int fd, const void *buf, size_t len)
{
	const struct nlmsghdr *nh = buf;

	assert_int_equal(fd, 100);
	assert_true(len >= sizeof(*nh));
	fake.seq = nh->nlmsg_seq;
	return (ssize_t)len;
}

/* Each datagram once, then a socket that ends (recv 0). */
static ssize_t fake_recv(int fd, void *buf, size_t len,
			 struct sockaddr_nl *from)
{
	unsigned char *d;
	size_t n;

	(void)fd;
	assert_true(++fake.recvs < 100); /* no spinning */
	if (fake.next == fake.n)
		return 0;
	n = fake.len[fake.next];
	d = fake.dgram[fake.next];
	if (fake.patch_seq[fake.next])
		for (size_t off = 0; off + sizeof(struct nlmsghdr) <= n;) {
			struct nlmsghdr *nh = (struct nlmsghdr *)(d + off);

			nh->nlmsg_seq = fake.seq;
			if (nh->nlmsg_len < sizeof(*nh))
				break;
			off += NLMSG_ALIGN(nh->nlmsg_len);
		}
	*from = (struct sockaddr_nl){ .nl_family = AF_NETLINK,
				      .nl_pid = fake.pid[fake.next] };
	fake.next++;
	assert_true(n <= len);
	memcpy(buf, d, n);
	return (ssize_t)n;
}

static void fake_close(int fd)
{
	assert_int_equal(fd, 100);
}

static const struct zh_nl_ops fake_ops = {
	.open = fake_open,
	.send = fake_send,
	.recv = fake_recv,
	.close = fake_close,
};

static void fake_reset(void)
{
	for (int i = 0; i < fake.n; i++)
		free(fake.dgram[i]);
	memset(&fake, 0, sizeof(fake));
	zh_nl_set_ops(&fake_ops);
}

static void fake_add(const void *bytes, size_t len, __u32 pid, bool patch)
{
	assert_true(fake.n < MAX_DGRAMS);
	fake.dgram[fake.n] = malloc(len ? len : 1);
	assert_non_null(fake.dgram[fake.n]);
	memcpy(fake.dgram[fake.n], bytes, len);
	fake.len[fake.n] = len;
	fake.pid[fake.n] = pid;
	fake.patch_seq[fake.n] = patch;
	fake.n++;
}

static int b64v(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' :
	       c >= 'a' && c <= 'z' ? c - 'a' + 26 :
	       c >= '0' && c <= '9' ? c - '0' + 52 :
	       c == '+'		    ? 62 :
	       c == '/'		    ? 63 :
				      -1;
}

/*
 * The form: base64 of datagrams, each a 2-byte little-endian
 * length and that many bytes (fewer when the input ends first).
 */
static void fake_add_repro(const char *b64, bool patch)
{
	unsigned char raw[256];
	size_t n = 0, off = 0;
	unsigned int acc = 0;
	int bits = 0;

	for (; *b64 && *b64 != '='; b64++) {
		acc = acc << 6 | (unsigned int)b64v(*b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[n++] = (unsigned char)(acc >> bits);
		}
	}
	while (off + 2 <= n) {
		size_t len = raw[off] | (size_t)raw[off + 1] << 8;

		off += 2;
		if (len > n - off)
			len = n - off;
		fake_add(raw + off, len, 0, patch);
		off += len;
	}
}

static struct zh_addr addr(const char *s, int prefix)
{
	struct zh_addr a = { 0 };

	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.family, s, a.raw), 1);
	a.prefix = (__u8)prefix;
	return a;
}

/* A DONE, whole. */
static void fake_add_done(void)
{
	struct nlmsghdr nh = { .nlmsg_len = NLMSG_LENGTH(4),
			       .nlmsg_type = NLMSG_DONE };
	unsigned char b[NLMSG_LENGTH(4)] = { 0 };

	memcpy(b, &nh, sizeof(nh));
	fake_add(b, sizeof(b), 0, true);
}

/* An RTM_NEWROUTE to @dst out of @oif, in main, as the kernel words it. */
static size_t route_msg(unsigned char *b, const struct zh_addr *dst, int oif)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)b;
	struct rtmsg *rtm = NLMSG_DATA(nh);
	struct rtattr *rta;
	size_t len = NLMSG_LENGTH(sizeof(*rtm));

	memset(b, 0, 128);
	rtm->rtm_family = (unsigned char)dst->family;
	rtm->rtm_dst_len = dst->prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rta = (struct rtattr *)(b + len);
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(rta), dst->raw, 4);
	len += RTA_SPACE(4);
	rta = (struct rtattr *)(b + len);
	rta->rta_type = RTA_OIF;
	rta->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(rta), &oif, 4);
	len += RTA_SPACE(4);
	nh->nlmsg_len = (__u32)len;
	nh->nlmsg_type = RTM_NEWROUTE;
	nh->nlmsg_flags = NLM_F_MULTI;
	return len;
}

/* The fuzzer's datagrams, as found (their own sequence numbers): read
 * without a byte past them, and the call ends. */
static void test_reproducers_as_found(void **state)
{
	static const char *const repro[] = {
		"EAAQAAAAAgAAAAEAAAAAAAAA",
		"QPEQAAAAFAAsAAAAFABoVAAi",
		"cAAQAAAAGAAC2/4AAAAAAAAAAgA=",
		"KAAoAAAAGAACAAEAAAAAAAAAAgwAAP4DAAEAAAAACAABAApgAAAEAAQA",
	};
	struct zh_addr dst = addr("10.96.0.0", 12), a = addr("10.0.0.1", 24);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(repro); i++) {
		fake_reset();
		fake_add_repro(repro[i], false);
		assert_true(zh_nl_route_has(1, &dst, NULL) <= 0);
		fake_reset();
		fake_add_repro(repro[i], false);
		assert_true(zh_nl_addr_has(1, &a) <= 0);
		fake_reset();
		fake_add_repro(repro[i], false);
		assert_true(zh_nl_link_up(1) <= 0);
	}
}

/* The same flaws in answers to our request: each is refused. */
static void test_malformed_refused(void **state)
{
	struct zh_addr dst = addr("10.96.0.0", 12), a = addr("10.0.0.1", 24);

	(void)state;
	/* An ack too short for struct nlmsgerr. */
	fake_reset();
	fake_add_repro("EAAQAAAAAgAAAAEAAAAAAAAA", true);
	assert_int_equal(zh_nl_link_up(1), -EBADMSG);
	/* RTM_NEWADDR without its ifaddrmsg. */
	fake_reset();
	fake_add_repro("QPEQAAAAFAAsAAAAFABoVAAi", true);
	fake_add_done();
	assert_int_equal(zh_nl_addr_has(1, &a), -EBADMSG);
	/* RTM_NEWROUTE without its rtmsg. */
	fake_reset();
	fake_add_repro("cAAQAAAAGAAC2/4AAAAAAAAAAgA=", true);
	fake_add_done();
	assert_int_equal(zh_nl_route_has(1, &dst, NULL), -EBADMSG);
	/* RTA_OIF with no payload: no interface, so no match. */
	fake_reset();
	fake_add_repro(
		"KAAoAAAAGAACAAEAAAAAAAAAAgwAAP4DAAEAAAAACAABAApgAAAEAAQA",
		true);
	fake_add_done();
	assert_int_equal(zh_nl_route_has(0, &dst, NULL), 0);
}

/* A length past the datagram, too small, or unaligned at the end. */
static void test_bad_lengths(void **state)
{
	unsigned char b[128];
	struct zh_addr dst = addr("10.96.0.0", 12);
	size_t len;

	(void)state;
	len = route_msg(b, &dst, 7);
	((struct nlmsghdr *)b)->nlmsg_len = (__u32)len + 4;
	fake_reset();
	fake_add(b, len, 0, true);
	assert_int_equal(zh_nl_route_has(7, &dst, NULL), -EBADMSG);

	len = route_msg(b, &dst, 7);
	((struct nlmsghdr *)b)->nlmsg_len = 8;
	fake_reset();
	fake_add(b, len, 0, true);
	assert_int_equal(zh_nl_route_has(7, &dst, NULL), -EBADMSG);

	/* nlmsg_len 2 short of the message: the walk must not go negative
	 * (the old NLMSG_NEXT did, and ran past the buffer). */
	len = route_msg(b, &dst, 9);
	((struct nlmsghdr *)b)->nlmsg_len = (__u32)len - 2;
	fake_reset();
	fake_add(b, len, 0, true);
	fake_add_done();
	assert_int_equal(zh_nl_route_has(7, &dst, NULL), 0);
}

/* Only the kernel's answers to this request count. */
static void test_foreign_replies_ignored(void **state)
{
	unsigned char b[128];
	struct zh_addr dst = addr("10.96.0.0", 12);
	size_t len = route_msg(b, &dst, 7);

	(void)state;
	/* A match from another process, then the kernel's DONE. */
	fake_reset();
	fake_add(b, len, 4242, true);
	fake_add_done();
	assert_int_equal(zh_nl_route_has(7, &dst, NULL), 0);
	/* A match with another sequence number. */
	fake_reset();
	fake_add(b, len, 0, false);
	fake_add_done();
	assert_int_equal(zh_nl_route_has(7, &dst, NULL), 0);
	/* The real thing. */
	fake_reset();
	fake_add(b, len, 0, true);
	fake_add_done();
	assert_int_equal(zh_nl_route_has(7, &dst, NULL), 1);
	/* A socket that ends before DONE: an error, not a hang. */
	fake_reset();
	fake_add(b, len, 0, true);
	assert_int_equal(zh_nl_route_has(8, &dst, NULL), -EPROTO);
	zh_nl_set_ops(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reproducers_as_found),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_foreign_replies_ignored),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	fake_reset();
	return rc;
}
