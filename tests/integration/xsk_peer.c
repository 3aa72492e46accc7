// SPDX-License-Identifier: Apache-2.0
/*
 * xsk_peer - a misbehaving AF_XDP client for tests/integration/afxdp.sh:
 * everything a pod should not be able to get past zerohopd's handoff.
 * Prints one line per answer ("refused -EPERM foreign_socket: <reason>" or
 * "registered: <reason>") and exits 0 when every step got an answer.
 *
 *   xsk_peer SOCKET raw HEX...            send each datagram (hex bytes),
 *                                         print the answer, then whether
 *                                         the agent hung up
 *   xsk_peer SOCKET fd pipe|unbound IFNAME QUEUE
 *                                         REGISTER with a pipe or an AF_XDP
 *                                         socket never bound
 *   xsk_peer SOCKET foreign NETNS IFNAME QUEUE
 *                                         open and register a socket in
 *                                         NETNS (a path), then hand the same
 *                                         socket over again from the
 *                                         caller's own netns, as QUEUE
 *   xsk_peer SOCKET again IFNAME QUEUE    open and register in our netns,
 *                                         then REGISTER the same socket as
 *                                         QUEUE on a second connection
 *   xsk_peer SOCKET send IFNAME SRC DST PORT MSG
 *                                         open and register in our netns,
 *                                         then transmit one UDP datagram
 *                                         MSG to DST:PORT (IPv4) from source
 *                                         address SRC ("self": the pod's)
 */
#define _GNU_SOURCE /* setns() */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zh_xsk.h"
#include "zh_xsk_int.h"

#define TIMEOUT_MS 3000

static int usage(void)
{
	fprintf(stderr,
		"usage: xsk_peer SOCKET raw HEX... | fd pipe|unbound IFNAME QUEUE |\n"
		"       foreign NETNS IFNAME QUEUE | again IFNAME QUEUE |\n"
		"       send IFNAME SRC|self DST PORT MSG\n");
	return 2;
}

static int connect_agent(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static void print_reply(const void *buf, ssize_t n)
{
	char err[ZH_XSK_REASON_LEN];
	struct zh_xsk_msg m;
	int rc = zh_xsk_decode(buf, (size_t)n, &m, err, sizeof(err));

	if (rc) {
		printf("bad reply: %s\n", err);
		return;
	}
	if (m.reply.status)
		printf("refused %d (%s): %s\n", m.reply.status,
		       strerror(-m.reply.status), m.reply.reason);
	else
		printf("ok: %s\n", m.reply.reason);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int cmd_raw(const char *path, int argc, char **argv)
{
	int fd = connect_agent(path);

	for (int i = 0; i < argc; i++) {
		unsigned char buf[4096], rbuf[ZH_XSK_MSG_MAX];
		struct pollfd p = { .fd = fd, .events = POLLIN };
		size_t n = 0;
		ssize_t r;

		for (const char *h = argv[i]; h[0] && h[1] && n < sizeof(buf);
		     h += 2) {
			int hi = hexval(h[0]), lo = hexval(h[1]);

			if (hi < 0 || lo < 0)
				return usage();
			buf[n++] = (unsigned char)(hi << 4 | lo);
		}
		if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n) {
			printf("send: %s\n", strerror(errno));
			return 1;
		}
		if (poll(&p, 1, TIMEOUT_MS) != 1) {
			printf("no answer\n");
			return 1;
		}
		r = recv(fd, rbuf, sizeof(rbuf), 0);
		if (r <= 0) {
			printf("hung up without an answer\n");
			return 1;
		}
		print_reply(rbuf, r);
	}
	/* Did the agent hang up on us? */
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, 500) == 1 && recv(fd, &c, 1, 0) == 0)
			printf("agent hung up\n");
		else
			printf("connection open\n");
	}
	close(fd);
	return 0;
}

/* Hand @fd over; print what the agent said. */
static void handoff(const char *path, int fd, const char *ifname, __u32 queue)
{
	struct zh_xsk_msg reply = { 0 };
	char err[256];
	int conn = -1;
	int rc = zh_xsk_handoff(path, fd, ifname, queue, ZH_XSK_F_NEED_WAKEUP,
				TIMEOUT_MS, &conn, &reply, err, sizeof(err));

	if (!rc) {
		printf("ok: %s\n", reply.reply.reason);
		close(conn);
	} else if (reply.hdr.type == ZH_XSK_REPLY && reply.reply.status) {
		printf("refused %d (%s): %s\n", reply.reply.status,
		       strerror(-reply.reply.status), reply.reply.reason);
	} else {
		printf("error %d: %s\n", rc, err);
	}
}

static struct zh_xsk *open_xsk(const char *path, const char *ifname)
{
	struct zh_xsk_opts o = { .ifname = ifname,
				 .agent_path = path,
				 .frames = 64,
				 .ring_size = 64 };
	struct zh_xsk *x;
	char err[256];

	if (zh_xsk_open(&o, &x, err, sizeof(err))) {
		printf("open: %s\n", err);
		exit(1);
	}
	printf("ok: %s\n", zh_xsk_info(x)->reason);
	return x;
}

/* One datagram out of an AF_XDP socket, with the source we are told. */
static int cmd_send(const char *path, char **argv)
{
	struct zh_xsk *x = open_xsk(path, argv[0]);
	struct zh_xsk_addrs self = zh_xsk_info(x)->addrs;
	struct zh_xsk_frame f;
	struct in_addr dst;
	int len;

	if (strcmp(argv[1], "self") &&
	    inet_pton(AF_INET, argv[1], &self.ipv4) != 1)
		return usage();
	if (inet_pton(AF_INET, argv[2], &dst) != 1 || zh_xsk_alloc(x, &f))
		return usage();
	len = zh_xsk_udp_build(f.data, f.len, &self, &dst, 4, 40000,
			       (__u16)atoi(argv[3]), argv[4],
			       (__u32)strlen(argv[4]));
	if (len < 0) {
		printf("build: %s\n", strerror(-len));
		return 1;
	}
	f.len = (__u32)len;
	if (zh_xsk_send(x, &f, 1) != 1 || zh_xsk_flush(x, 1000)) {
		printf("send failed\n");
		return 1;
	}
	printf("sent %d bytes\n", len);
	zh_xsk_close(x);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path, *cmd;

	if (argc < 3)
		return usage();
	path = argv[1];
	cmd = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "raw"))
		return cmd_raw(path, argc - 3, argv + 3);
	if (!strcmp(cmd, "fd") && argc == 6) {
		int fd = -1;

		if (!strcmp(argv[3], "pipe")) {
			int p[2];

			if (pipe(p))
				return 1;
			fd = p[0];
		} else if (!strcmp(argv[3], "unbound")) {
			fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				perror("socket(AF_XDP)");
				return 1;
			}
		} else {
			return usage();
		}
		handoff(path, fd, argv[4], (__u32)atoi(argv[5]));
		return 0;
	}
	if (!strcmp(cmd, "foreign") && argc == 6) {
		int self =
			open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		int ns = open(argv[3], O_RDONLY | O_CLOEXEC);
		struct zh_xsk *x;

		if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET)) {
			perror("netns");
			return 1;
		}
		x = open_xsk(path, argv[4]);
		if (setns(self, CLONE_NEWNET)) {
			perror("setns back");
			return 1;
		}
		handoff(path, zh_xsk_fd(x), argv[4], (__u32)atoi(argv[5]));
		zh_xsk_close(x);
		return 0;
	}
	if (!strcmp(cmd, "again") && argc == 5) {
		struct zh_xsk *x = open_xsk(path, argv[3]);

		handoff(path, zh_xsk_fd(x), argv[3], (__u32)atoi(argv[4]));
		zh_xsk_close(x);
		return 0;
	}
	if (!strcmp(cmd, "send") && argc == 8)
		return cmd_send(path, argv + 3);
	return usage();
}
