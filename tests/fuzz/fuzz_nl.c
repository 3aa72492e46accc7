// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_nl.c - the netlink client's reading of replies (user/lib/nl.c)
 * through the fake socket of zh_nl_set_ops(), as tests/unit/test_nl.c
 * does: no netlink socket is opened, no kernel state touched. The link
 * monitor's reader, which takes a socket, reads a datagram socketpair
 * of this process.
 *
 * Input: datagrams, each a 2-byte little-endian length and that many
 * bytes (fewer when the input ends first): the format, in which
 * test_nl.c keeps the reproducers. Every message's nlmsg_seq, where a
 * header is whole, is taken relative to the request's (0: an answer to
 * it), so that the fuzzer reaches the code past the sequence check. The
 * reader's buffer is poisoned past each datagram, so that ASan sees any
 * read past it (of bytes an earlier datagram left there).
 *
 * Every input is the kernel's answer to each call in turn: a link change
 * (an ack), and dumps of addresses and routes of both families.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/rtnetlink.h>
#include <sanitizer/asan_interface.h>

#include "fuzz.h"
#include "nl.h"

#define MAX_DGRAMS 64
#define FAKE_FD 100

static struct {
	const uint8_t *dgram[MAX_DGRAMS];
	size_t len[MAX_DGRAMS];
	int n, next;
	__u32 seq; /* of the request sent */
	int recvs;
} fake;

static int fake_open(void)
{
	return FAKE_FD;
}

static ssize_t fake_send(int fd, const void *buf, size_t len)
{
	const struct nlmsghdr *nh = buf;

	FUZZ_CHECK(fd == FAKE_FD && len >= sizeof(*nh) && nh->nlmsg_len == len,
		   "a request of %zu bytes", len);
	fake.seq = nh->nlmsg_seq;
	return (ssize_t)len;
}

/* Each datagram once, then a socket that ends (recv 0). */
static ssize_t fake_recv(int fd, void *buf, size_t len,
			 struct sockaddr_nl *from)
{
	size_t n;

	(void)fd;
	FUZZ_CHECK(++fake.recvs <= MAX_DGRAMS + 1, "reading on after the end");
	if (fake.next == fake.n)
		return 0;
	n = fake.len[fake.next];
	FUZZ_CHECK(n <= len, "a datagram of %zu bytes, room for %zu", n, len);
	ASAN_UNPOISON_MEMORY_REGION(buf, len);
	memcpy(buf, fake.dgram[fake.next], n);
	ASAN_POISON_MEMORY_REGION((char *)buf + n, len - n);
	/* Sequence numbers relative to the request's, in each whole header
	 * (NLMSG_ALIGN() of a __u32 wraps: the length is taken as a size_t). */
	for (size_t off = 0; off + sizeof(struct nlmsghdr) <= n;) {
		struct nlmsghdr *nh = (struct nlmsghdr *)((char *)buf + off);
		size_t mlen = nh->nlmsg_len;

		nh->nlmsg_seq += fake.seq;
		if (mlen < sizeof(*nh) || mlen > n - off)
			break;
		off += NLMSG_ALIGN(mlen);
	}
	*from = (struct sockaddr_nl){ .nl_family = AF_NETLINK };
	fake.next++;
	return (ssize_t)n;
}

static void fake_close(int fd)
{
	FUZZ_CHECK(fd == FAKE_FD, "closing fd %d", fd);
}

static const struct zh_nl_ops fake_ops = {
	.open = fake_open,
	.send = fake_send,
	.recv = fake_recv,
	.close = fake_close,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	zh_nl_set_ops(&fake_ops);
	return 0;
}

/* The datagrams again, from the first, for the next call. */
static void rewind_fake(void)
{
	fake.next = 0;
	fake.recvs = 0;
}

static struct zh_addr addr(int family, const char *raw, int prefix)
{
	struct zh_addr a = { .family = family, .prefix = prefix };

	memcpy(a.raw, raw, family == AF_INET ? 4 : 16);
	return a;
}

/* Every ret is 0, 1 or -errno; the call never spins or reads past. */
static void calls(void)
{
	const struct zh_addr dst4 = addr(AF_INET, "\x0a\x60\x00\x00", 12),
			     a4 = addr(AF_INET, "\x0a\x00\x00\x01", 24),
			     a6 = addr(AF_INET6,
				       "\xfd\x00\x00\x00\x00\x00\x00\x00"
				       "\x00\x00\x00\x00\x00\x00\x00\x01",
				       128),
			     gw6 = addr(AF_INET6,
					"\xfe\x80\x00\x00\x00\x00\x00\x00"
					"\x00\x00\x00\x00\x00\x00\x00\x01",
					128);
	int rc;

	rewind_fake();
	rc = zh_nl_link_up(1);
	FUZZ_CHECK(rc <= 0, "link up: %d", rc);
	rewind_fake();
	rc = zh_nl_addr_has(1, &a4);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc < 0, "addr has: %d", rc);
	rewind_fake();
	rc = zh_nl_addr_has(2, &a6);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc < 0, "addr has: %d", rc);
	rewind_fake();
	rc = zh_nl_route_has(1, &dst4, NULL);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc < 0, "route has: %d", rc);
	rewind_fake();
	rc = zh_nl_route_has(2, &a6, &gw6);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc < 0, "route has: %d", rc);
}

/* The link monitor's reader over a datagram socketpair of our own. */
static void monitor(void)
{
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv))
		return;
	for (int i = 0; i < fake.n; i++)
		if (send(sv[1], fake.dgram[i], fake.len[i], MSG_DONTWAIT) < 0)
			break;
	rc = zh_nl_link_monitor_read(sv[0]);
	FUZZ_CHECK(rc == 0 || rc == 1, "monitor: %d", rc);
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	fake.n = 0;
	while (off + 2 <= size && fake.n < MAX_DGRAMS) {
		size_t len = data[off] | (size_t)data[off + 1] << 8;

		off += 2;
		if (len > size - off)
			len = size - off;
		fake.dgram[fake.n] = data + off;
		fake.len[fake.n] = len;
		fake.n++;
		off += len;
	}
	calls();
	monitor();
	return 0;
}
