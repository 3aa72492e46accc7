// SPDX-License-Identifier: Apache-2.0
/*
 * xsk_handoff.c - libzerohop-xsk: hand an AF_XDP socket to zerohopd over
 * its Unix socket (SCM_RIGHTS) and read its reply, strictly
 * (zh_xsk_proto.h).
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

/* ---------------------------------------------------------------- handoff */

static __u32 xsk_seq(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u32)ts.tv_nsec ^ (__u32)ts.tv_sec ^ ((__u32)getpid() << 16);
}

/* The agent's reason, fit for a terminal: it is untrusted text. */
static void xsk_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

static int xsk_send_with_fd(int fd, const void *buf, size_t len, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Close any descriptors the peer attached: the reply carries none. */
static void xsk_close_passed_fds(struct msghdr *msg)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t i, nfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int pfd;

			memcpy(&pfd, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			close(pfd);
		}
	}
}

/* One datagram into @buf by @deadline_ms: its length, 0 at EOF, -errno. */
static ssize_t xsk_recv_reply(int fd, void *buf, size_t len,
			      long long deadline_ms)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long left;
	ssize_t n;
	int rc;

	for (;;) {
		left = deadline_ms - xsk_now_ms();
		if (left < 0)
			left = 0;
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		break;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	xsk_close_passed_fds(&msg);
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return n;
}

int zh_xsk_handoff(const char *agent_path, int xsk_fd, const char *ifname,
		   __u32 queue, __u32 flags, int timeout_ms, int *conn_fd,
		   struct zh_xsk_msg *reply, char *err, size_t errlen)
{
	unsigned char req[ZH_XSK_REQ_MSG_LEN], buf[ZH_XSK_MSG_MAX];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv;
	long long deadline;
	char why[160];
	struct zh_xsk_msg m;
	__u32 seq;
	ssize_t n;
	int fd, rc;

	if (err && errlen)
		err[0] = '\0';
	if (conn_fd)
		*conn_fd = -1;
	if (!agent_path || xsk_fd < 0 || !conn_fd || !reply || timeout_ms <= 0)
		return xsk_fail(err, errlen, -EINVAL, "invalid arguments");
	if (strlen(agent_path) >= sizeof(sun.sun_path))
		return xsk_fail(err, errlen, -ENAMETOOLONG,
				"agent socket path too long: %s", agent_path);
	memcpy(sun.sun_path, agent_path, strlen(agent_path) + 1);
	seq = xsk_seq();
	rc = zh_xsk_encode_register(req, sizeof(req), seq, ifname, queue,
				    flags);
	if (rc < 0)
		return xsk_fail(err, errlen, rc,
				"cannot encode a register for %s queue %u",
				ifname ? ifname : "(null)", queue);

	deadline = xsk_now_ms() + timeout_ms;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		return xsk_fail(err, errlen, rc, "socket(AF_UNIX): %s",
				strerror(-rc));
	}
	/* connect() to a full backlog and sendmsg() to a full peer wait up
	 * to SO_SNDTIMEO: the same timeout bounds them */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		rc = -errno;
		xsk_fail(err, errlen, rc, "connect to the agent at %s: %s%s",
			 agent_path, strerror(-rc),
			 rc == -ENOENT ? " (is the agent's socket mounted "
					 "into the pod?)" :
					 "");
		goto err_close;
	}
	rc = xsk_send_with_fd(fd, req, sizeof(req), xsk_fd);
	if (rc) {
		xsk_fail(err, errlen, rc, "send to the agent at %s: %s",
			 agent_path, strerror(-rc));
		goto err_close;
	}

	n = xsk_recv_reply(fd, buf, sizeof(buf), deadline);
	if (n < 0) {
		rc = (int)n;
		if (rc == -ETIMEDOUT)
			xsk_fail(err, errlen, rc,
				 "no reply from the agent at %s within %d ms",
				 agent_path, timeout_ms);
		else if (rc == -EMSGSIZE)
			xsk_fail(err, errlen, rc,
				 "reply from the agent at %s longer than %d "
				 "bytes",
				 agent_path, ZH_XSK_MSG_MAX);
		else
			xsk_fail(err, errlen, rc,
				 "receive from the agent at %s: %s", agent_path,
				 strerror(-rc));
		goto err_close;
	}
	if (n == 0) {
		rc = xsk_fail(err, errlen, -ECONNRESET,
			      "the agent at %s closed the connection without "
			      "a reply",
			      agent_path);
		goto err_close;
	}
	rc = zh_xsk_decode(buf, (size_t)n, &m, why, sizeof(why));
	if (rc) {
		xsk_fail(err, errlen, rc,
			 "malformed reply from the agent at %s: %s", agent_path,
			 why);
		goto err_close;
	}
	if (m.hdr.type != ZH_XSK_REPLY) {
		rc = xsk_fail(err, errlen, -EPROTO,
			      "the agent at %s answered with a %s message, "
			      "not a reply",
			      agent_path, zh_xsk_type_name(m.hdr.type));
		goto err_close;
	}
	if (m.hdr.seq != seq) {
		rc = xsk_fail(err, errlen, -EPROTO,
			      "reply seq %u from the agent at %s does not "
			      "match request seq %u",
			      m.hdr.seq, agent_path, seq);
		goto err_close;
	}
	xsk_sanitize(m.reply.reason);
	*reply = m;
	if (m.reply.status < 0) {
		rc = m.reply.status;
		if (m.reply.reason[0])
			xsk_fail(err, errlen, rc, "agent refused: %s (%s)",
				 m.reply.reason, strerror(-rc));
		else
			xsk_fail(err, errlen, rc, "agent refused (%s)",
				 strerror(-rc));
		goto err_close;
	}
	*conn_fd = fd;
	return 0;

err_close:
	close(fd);
	return rc;
}
