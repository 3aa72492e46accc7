// SPDX-License-Identifier: Apache-2.0
/*
 * zh-sockc - the socket calls socket-level load balancing acts on, for
 * tests/integration/socklb.sh: each request prints one line saying what
 * the application saw.
 *
 *   zh-sockc [-w] [-b ADDR] MODE ADDR PORT [N]
 *     tcp     N connections (default 1), each reads one line
 *     udp     one connected UDP socket: N requests "q", each answered
 *     udpto   one unconnected UDP socket: N sendto()/recvfrom()
 *     udpnew  N connected UDP sockets, one request each
 *     collide two connected UDP sockets whose cookies share a zh_sock_conn
 *             slot (sockets opened until one does), the second connected
 *             after the first: one request each, the first socket's first
 *   -w: before each request after the first, wait for a line on stdin
 *       (the test changes the Service in between)
 *   -b: bind to ADDR (port 0) before connecting
 *   -c: each line starts with "cookie=N " (the socket's SO_COOKIE)
 *   -k: before the last socket closes, print "held" and wait for a line
 *       on stdin (the test looks at the maps meanwhile)
 *
 * A line: "peer=A:P from=A:P reply=TEXT" (peer: getpeername(), "-" for
 * unconnected; from: recvfrom()'s source, "-" for TCP), or "err=ENAME
 * ms=N" when the call failed (ms: how long the failing call took).
 * Exit 0 when every request was answered, 1 otherwise.
 */
#define _GNU_SOURCE /* sched_setaffinity() */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "zh_abi.h" /* ZH_SOCK_CONN_MAX */

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static bool print_cookie;

static unsigned long long cookie_of(int fd)
{
	unsigned long long c = 0;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len))
		return 0;
	return c;
}

static const char *ename(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case EPERM:
		return "EPERM";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EAGAIN:
		return "EAGAIN";
	case ENETUNREACH:
		return "ENETUNREACH";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case ECONNRESET:
		return "ECONNRESET";
	default:
		return "EOTHER";
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse(const char *addr, int port, struct sockaddr_storage *ss,
		 socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static const char *str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
	} else {
		snprintf(buf, len, "-");
	}
	return buf;
}

static void fail(const char *what, int e, double t0)
{
	printf("err=%s ms=%.1f call=%s\n", ename(e), now_ms() - t0, what);
	fflush(stdout);
}

/* A socket of @type for @dst, with 2 s timeouts, bound to
 * @bind_addr when given. */
static int open_sock(const struct sockaddr_storage *dst, int type,
		     const char *bind_addr)
{
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_storage b;
	socklen_t blen;
	int fd = socket(dst->ss_family, type, 0);

	if (fd < 0)
		return -1;
	/* SO_SNDTIMEO bounds a blocking connect() too. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind_addr) {
		if (parse(bind_addr, 0, &b, &blen) ||
		    bind(fd, (struct sockaddr *)&b, blen)) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* One request on @fd: "q\n" sent (to @to if not NULL), one answer read;
 * the line printed. 0 when answered. */
static int request(int fd, bool stream, const struct sockaddr_storage *to,
		   socklen_t tolen)
{
	struct sockaddr_storage peer = {}, from = {};
	socklen_t plen = sizeof(peer), flen = sizeof(from);
	char buf[512], p[80], f[80];
	double t0 = now_ms();
	ssize_t n;

	if (!stream) {
		n = to ? sendto(fd, "q\n", 2, 0, (const struct sockaddr *)to,
				tolen) :
			 send(fd, "q\n", 2, 0);
		if (n < 0) {
			fail("send", errno, t0);
			return -1;
		}
	}
	n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
		     stream ? NULL : (struct sockaddr *)&from,
		     stream ? NULL : &flen);
	if (n <= 0) {
		fail("recv", n < 0 ? errno : ECONNRESET, t0);
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (getpeername(fd, (struct sockaddr *)&peer, &plen))
		peer.ss_family = AF_UNSPEC;
	if (print_cookie)
		printf("cookie=%llu ", cookie_of(fd));
	printf("peer=%s from=%s reply=%s\n", str(&peer, p, sizeof(p)),
	       str(&from, f, sizeof(f)), buf);
	fflush(stdout);
	return 0;
}

static void wait_stdin(void)
{
	char line[64];

	if (!fgets(line, sizeof(line), stdin))
		exit(1);
}

/* A connected UDP socket for @dst whose cookie shares @fd's slot, or -1
 * (none in 64 rounds of the slots). One CPU: cookies come in batches per
 * CPU, in increasing order. */
static int collider(int fd, const struct sockaddr_storage *dst, socklen_t len)
{
	unsigned long long want = cookie_of(fd) & (ZH_SOCK_CONN_MAX - 1);
	cpu_set_t one;
	int c = -1;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	for (long i = 0; i < 64L * ZH_SOCK_CONN_MAX; i++) {
		c = open_sock(dst, SOCK_DGRAM, NULL);
		if (c < 0)
			return -1;
		if ((cookie_of(c) & (ZH_SOCK_CONN_MAX - 1)) == want &&
		    cookie_of(c) != cookie_of(fd))
			break;
		close(c);
		c = -1;
	}
	if (c >= 0 && connect(c, (const struct sockaddr *)dst, len)) {
		close(c);
		return -1;
	}
	return c;
}

static int collide(const struct sockaddr_storage *dst, socklen_t len, bool hold)
{
	int a = open_sock(dst, SOCK_DGRAM, NULL), b, bad = 0;

	if (a < 0 || connect(a, (const struct sockaddr *)dst, len)) {
		fail("connect", errno, now_ms());
		return 1;
	}
	b = collider(a, dst, len);
	if (b < 0) {
		printf("err=NOCOLLISION ms=0 call=socket\n");
		return 1;
	}
	bad += request(a, false, NULL, 0) ? 1 : 0;
	bad += request(b, false, NULL, 0) ? 1 : 0;
	if (hold) {
		printf("held\n");
		fflush(stdout);
		wait_stdin();
	}
	close(a);
	close(b);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *bind_addr = NULL, *mode;
	struct sockaddr_storage dst;
	bool wait = false, hold = false, stream;
	int opt, n = 1, bad = 0, fd = -1;
	socklen_t len;

	while ((opt = getopt(argc, argv, "wb:ck")) != -1) {
		if (opt == 'w')
			wait = true;
		else if (opt == 'c')
			print_cookie = true;
		else if (opt == 'k')
			hold = true;
		else if (opt == 'b')
			bind_addr = optarg;
		else
			return 2;
	}
	if (argc - optind < 3 ||
	    parse(argv[optind + 1], atoi(argv[optind + 2]), &dst, &len)) {
		fprintf(stderr,
			"usage: zh-sockc [-wck] [-b ADDR] tcp|udp|udpto|udpnew|collide ADDR PORT [N]\n");
		return 2;
	}
	mode = argv[optind];
	if (argc - optind > 3)
		n = atoi(argv[optind + 3]);
	stream = !strcmp(mode, "tcp");
	if (!strcmp(mode, "collide"))
		return collide(&dst, len, hold);
	for (int i = 0; i < n; i++) {
		bool fresh = stream || !strcmp(mode, "udpnew") || fd < 0;
		double t0 = now_ms();

		if (i && wait)
			wait_stdin();
		if (fresh) {
			if (fd >= 0)
				close(fd);
			fd = open_sock(&dst, stream ? SOCK_STREAM : SOCK_DGRAM,
				       bind_addr);
			if (fd < 0) {
				fail("socket", errno, t0);
				return 1;
			}
			if (strcmp(mode, "udpto") &&
			    connect(fd, (struct sockaddr *)&dst, len)) {
				fail("connect", errno, t0);
				close(fd);
				fd = -1;
				bad++;
				continue;
			}
		}
		if (request(fd, stream, strcmp(mode, "udpto") ? NULL : &dst,
			    len))
			bad++;
	}
	if (fd >= 0 && hold) {
		printf("held\n");
		fflush(stdout);
		wait_stdin();
	}
	if (fd >= 0)
		close(fd);
	return bad ? 1 : 0;
}
