// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_xsk_socket.c - libzerohop-xsk on a real AF_XDP socket:
 * zh_xsk_open() on lo in a network namespace of its own (a forked child
 * makes it, and it goes with the child), handing the socket to the fake
 * agent (tests/unit/xsk_agent.h), then sending UDP through the kernel to a
 * kernel socket that checks our checksum; the fill ring's bounds, frames
 * that do not fit, the queue taken by a second open, copy, zero-copy
 * refused, the agent's refusal undoing everything, busy polling.
 *
 * It links with libzerohop-xsk alone, as a pod process does. Exit 77
 * (skipped) when not root; skipped, saying why, where the kernel makes no
 * AF_XDP sockets.
 */
#define _GNU_SOURCE /* unshare(), pipe2() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "xsk_agent.h"
#include "zh_xsk.h"
#include "zh_xsk_int.h"

/* ----------------------------------------------- zh_xsk_open on lo (root) */

/* In the forked child cmocka's asserts would unwind into a copy of the
 * runner: fail with a message and an exit code instead. */
#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "  lo test, line %d: ", __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			_exit(1);                                          \
		}                                                          \
	} while (0)

#define EXIT_SKIP 77

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

static int lo_up(void)
{
	struct ifreq ifr;
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!rc && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int sysctl_one(const char *name)
{
	char path[128];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	rc = fputs("1", f) < 0 ? -EIO : 0;
	if (fclose(f))
		rc = -errno;
	return rc;
}

/*
 * The kernel lets go of a closed XSK's queue from a work item, a moment
 * after the last descriptor closes (and the agent's copy closes only when
 * it sees the connection end): a new bind right after may see EBUSY.
 */
static int open_retry(const struct zh_xsk_opts *o, struct zh_xsk **x, char *err,
		      size_t errlen)
{
	int rc, i = 0;

	while ((rc = zh_xsk_open(o, x, err, errlen)) == -EBUSY && i++ < 200)
		usleep(5000);
	return rc;
}

/* A kernel UDP socket on 127.0.0.1: what receives our frame. */
static int udp_listener(__u16 *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "socket: %s", strerror(errno));
	CHECK(!bind(fd, (struct sockaddr *)&sin, sizeof(sin)), "bind: %s",
	      strerror(errno));
	CHECK(!getsockname(fd, (struct sockaddr *)&sin, &sl), "getsockname");
	*port = ntohs(sin.sin_port);
	return fd;
}

static ssize_t udp_recv(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* Send one UDP datagram to 127.0.0.1:@port through the XSK; @corrupt
 * flips a payload byte after the checksum is made. */
static void xsk_send_udp(struct zh_xsk *x, __u16 port, const char *text,
			 int corrupt)
{
	const struct zh_xsk_info *in = zh_xsk_info(x);
	struct zh_xsk_frame f;
	__u8 dst[4] = { 127, 0, 0, 1 };
	int n;

	CHECK(zh_xsk_alloc(x, &f) == 0, "alloc");
	CHECK(f.len == in->frame_size, "alloc len %u", f.len);
	n = zh_xsk_udp_build(f.data, f.len, &in->addrs, dst, 4, 4242, port,
			     text, (__u32)strlen(text));
	CHECK(n > 0, "build: %d", n);
	if (corrupt)
		((__u8 *)f.data)[n - 1] ^= 1;
	f.len = (__u32)n;
	CHECK(zh_xsk_send(x, &f, 1) == 1, "send");
	CHECK(zh_xsk_flush(x, 1000) == 0, "flush");
}

static void lo_child(int msg_fd)
{
	struct zh_xsk_opts o = {
		.ifname = "lo",
		.frames = 64,
		.ring_size = 32,
		.timeout_ms = 2000,
	};
	struct zh_xsk_frame fr[40];
	struct zh_xsk_addrs lo_addrs;
	const struct zh_xsk_info *in;
	struct zh_xsk *x, *y;
	char err[256], buf[64];
	struct agent a;
	__u16 port;
	int fd, fds, rc, udp;
	ssize_t n;

#define SKIP(...)                             \
	do {                                  \
		dprintf(msg_fd, __VA_ARGS__); \
		_exit(EXIT_SKIP);             \
	} while (0)

	if (unshare(CLONE_NEWNET))
		SKIP("unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		SKIP("socket(AF_XDP): %s", strerror(errno));
	close(fd);
	CHECK(lo_up() == 0, "bring lo up");
	/* A frame injected at L2 has no route yet: routing it to 127.0.0.1
	 * needs route_localnet, and from a local source accept_local (this
	 * namespace's settings only). */
	CHECK(sysctl_one("net/ipv4/conf/lo/route_localnet") == 0,
	      "route_localnet");
	CHECK(sysctl_one("net/ipv4/conf/lo/accept_local") == 0, "accept_local");

	/* AUTO on lo: zero-copy is refused, copy mode on the same socket.
	 * The MACs are lo's own (zero), so lo delivers to this host. */
	memset(&lo_addrs, 0, sizeof(lo_addrs));
	lo_addrs.addr_flags = ZH_XSK_ADDR_V4;
	lo_addrs.ipv4 = htonl(INADDR_LOOPBACK);
	CHECK(agent_start(&a, AG_OK, &lo_addrs) == 0, "agent");
	setenv(ZH_XSK_AGENT_ENV, a.path, 1); /* agent_path NULL: the env */
	rc = zh_xsk_open(&o, &x, err, sizeof(err));
	CHECK(rc == 0, "open: %d %s", rc, err);
	in = zh_xsk_info(x);
	CHECK(in->mode == ZH_XSK_MODE_COPY, "mode %u", in->mode);
	CHECK(in->xdp_mode == ZH_XSK_XDP_GENERIC, "xdp_mode %u", in->xdp_mode);
	CHECK(!strcmp(in->ifname, "lo") && in->queue == 0, "ifname");
	CHECK(in->ifindex == if_nametoindex("lo"), "ifindex");
	CHECK(!strcmp(in->reason, "registered"), "reason %s", in->reason);
	CHECK(in->addrs.ipv4 == htonl(INADDR_LOOPBACK), "ipv4");
	CHECK(in->busy_poll == 0 && in->prefer_busy_poll == 0, "busy poll");
	CHECK(in->frames == 64 && in->frame_size == 2048 && in->ring_size == 32,
	      "sizes");
	CHECK(fcntl(zh_xsk_fd(x), F_GETFD) & FD_CLOEXEC, "xsk fd cloexec");
	CHECK(fcntl(zh_xsk_agent_fd(x), F_GETFD) & FD_CLOEXEC,
	      "agent fd cloexec");

	/* TX through the kernel: lo delivers it to a UDP socket, which
	 * checks our checksum (the skb carries CHECKSUM_NONE) */
	udp = udp_listener(&port);
	xsk_send_udp(x, port, "hello, kernel", 0);
	n = udp_recv(udp, buf, sizeof(buf), 1000);
	CHECK(n == 13 && !memcmp(buf, "hello, kernel", 13), "udp got %zd", n);
	/* and a wrong checksum is dropped by it: the check is real */
	xsk_send_udp(x, port, "bad checksum", 1);
	n = udp_recv(udp, buf, sizeof(buf), 200);
	CHECK(n == -ETIMEDOUT, "corrupt datagram delivered (%zd)", n);
	close(udp);

	/* no XDP program on lo: nothing to receive */
	CHECK(zh_xsk_recv(x, fr, 8) == 0, "recv");
	CHECK(zh_xsk_wait(x, 20) == 0, "wait");

	/* 64 frames, 32 in the fill ring: 32 to allocate, then none */
	for (int i = 0; i < 32; i++)
		CHECK(zh_xsk_alloc(x, &fr[i]) == 0, "alloc %d", i);
	CHECK(zh_xsk_alloc(x, &fr[32]) == -ENOBUFS, "alloc past the end");
	/* frames that do not fit their frame are not queued */
	fr[0].len = 0;
	CHECK(zh_xsk_send(x, fr, 1) == 0, "len 0 queued");
	fr[0].len = 2049;
	CHECK(zh_xsk_send(x, fr, 1) == 0, "len 2049 queued");
	fr[0].len = 100;
	fr[0].data = (char *)fr[0].data + 1990;
	CHECK(zh_xsk_send(x, fr, 1) == 0, "crossing the frame queued");
	fr[0].data = (char *)fr[0].data - 1990;
	zh_xsk_release(x, fr, 32);
	CHECK(zh_xsk_alloc(x, &fr[0]) == 0, "alloc after release");
	zh_xsk_release(x, fr, 1);

	/* the queue is taken while this one is open; nothing leaks */
	fds = count_fds();
	rc = zh_xsk_open(&o, &y, err, sizeof(err));
	CHECK(rc == -EBUSY, "second open: %d %s", rc, err);
	CHECK(strstr(err, "bind lo queue 0: "), "err: %s", err);
	CHECK(count_fds() == fds, "fds leaked: %d -> %d", fds, count_fds());

	zh_xsk_close(x);
	agent_stop(&a);
	CHECK(a.saw_close, "the agent did not see the close");
	/* the agent got the XSK itself, with the flags */
	CHECK(!a.failed && a.decode_rc == 0 && a.nfds == 1, "agent got %d fds",
	      a.nfds);
	CHECK(a.domain == AF_XDP, "agent got domain %d", a.domain);
	CHECK(a.req.req.flags == ZH_XSK_F_NEED_WAKEUP, "flags %x",
	      a.req.req.flags);
	CHECK(!strcmp(a.req.req.ifname, "lo"), "ifname %s", a.req.req.ifname);

	/* explicit copy */
	CHECK(agent_start(&a, AG_OK, NULL) == 0, "agent");
	o.agent_path = a.path;
	o.bind = ZH_XSK_BIND_COPY;
	rc = open_retry(&o, &x, err, sizeof(err));
	CHECK(rc == 0, "copy open: %d %s", rc, err);
	CHECK(zh_xsk_info(x)->mode == ZH_XSK_MODE_COPY, "copy mode");
	zh_xsk_close(x);
	agent_stop(&a);

	/* zero-copy or nothing: lo has none; fails before the agent */
	fds = count_fds();
	o.bind = ZH_XSK_BIND_ZEROCOPY;
	o.agent_path = "/nonexistent/agent.sock";
	rc = open_retry(&o, &x, err, sizeof(err));
	CHECK(rc == -EOPNOTSUPP, "zero-copy open: %d %s", rc, err);
	CHECK(strstr(err, "bind lo queue 0 (zero-copy): "), "err: %s", err);
	CHECK(count_fds() == fds, "fds leaked");

	/* the agent says no: everything is undone */
	CHECK(agent_start(&a, AG_REFUSE, NULL) == 0, "agent");
	o.agent_path = a.path;
	o.bind = ZH_XSK_BIND_AUTO;
	o.busy_poll_us = 50;
	rc = open_retry(&o, &x, err, sizeof(err));
	CHECK(rc == -EPERM, "refused open: %d %s", rc, err);
	CHECK(strstr(err, "agent refused: pod default/web"), "err: %s", err);
	agent_stop(&a);
	CHECK(count_fds() == fds, "fds leaked");

	/* busy poll as root: every option set */
	CHECK(agent_start(&a, AG_OK, NULL) == 0, "agent");
	o.busy_poll_budget = 16;
	rc = open_retry(&o, &x, err, sizeof(err));
	CHECK(rc == 0, "busy-poll open: %d %s", rc, err);
	in = zh_xsk_info(x);
	CHECK(in->busy_poll == 1 && in->prefer_busy_poll == 1 &&
		      in->busy_poll_budget == 1,
	      "busy poll %d %d %d", in->busy_poll, in->prefer_busy_poll,
	      in->busy_poll_budget);
	CHECK(zh_xsk_recv(x, fr, 8) == 0, "busy recv");
	zh_xsk_close(x);
	agent_stop(&a);
	_exit(0);
#undef SKIP
}

static void test_open_lo(void **state)
{
	char msg[256] = "";
	int p[2], status;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		lo_child(p[1]);
	}
	close(p[1]);
	n = read(p[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == EXIT_SKIP) {
		print_message("skipped: %s\n", msg);
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_lo),
	};

	if (geteuid() != 0) {
		fprintf(stderr,
			"test_bpf_xsk_socket: skipped: needs root (an AF_XDP socket on lo, in a network namespace of its own)\n");
		return EXIT_SKIP;
	}
	return cmocka_run_group_tests(tests, agent_dir_setup,
				      agent_dir_teardown);
}
