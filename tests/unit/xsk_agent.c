// SPDX-License-Identifier: Apache-2.0
/*
 * xsk_agent.c - the fake agent of xsk_agent.h.
 */
#define _GNU_SOURCE /* accept4(), MSG_CMSG_CLOEXEC */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "xsk_agent.h"

const struct zh_xsk_addrs self_addrs = {
	.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.gw_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe },
	.addr_flags = ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6,
};
const __u8 self4[4] = { 10, 1, 2, 3 };
const __u8 self6[16] = {
	0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03
};

struct zh_xsk_addrs self(void)
{
	struct zh_xsk_addrs a = self_addrs;

	memcpy(&a.ipv4, self4, 4);
	memcpy(a.ipv6, self6, 16);
	return a;
}

char agent_dir[64];
static int agent_seq;

static void *agent_main(void *arg)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	unsigned char in[ZH_XSK_MSG_MAX], out[ZH_XSK_MSG_MAX + 100];
	struct agent *a = arg;
	struct pollfd p = { .fd = a->lfd, .events = POLLIN };
	struct iovec iov = { .iov_base = in, .iov_len = sizeof(in) };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	socklen_t sl = sizeof(int);
	int c, n, len = 0;
	__u32 seq;

	a->domain = -1;
	if (poll(&p, 1, 3000) != 1) {
		a->failed = 1;
		return NULL;
	}
	c = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		a->failed = 1;
		return NULL;
	}
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.b;
	msg.msg_controllen = sizeof(ctl.b);
	n = (int)recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		a->failed = 1;
		close(c);
		return NULL;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0;
		     i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(fd));
			if (a->nfds++ == 0) {
				fstat(fd, &a->st);
				if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN,
					       &a->domain, &sl))
					a->domain = -1;
			}
			close(fd);
		}
	}
	a->decode_rc = zh_xsk_decode(in, (size_t)n, &a->req, NULL, 0);
	seq = a->req.hdr.seq;
	switch (a->mode) {
	case AG_OK:
		len = zh_xsk_encode_reply(out, sizeof(out), seq, 0,
					  ZH_XSK_MODE_COPY, ZH_XSK_XDP_GENERIC,
					  &a->addrs, "registered");
		break;
	case AG_REFUSE:
		len = zh_xsk_encode_reply(out, sizeof(out), seq, -EPERM, 0, 0,
					  NULL,
					  "pod default/web: no AF_XDP "
					  "opt-in\x1b[2J");
		break;
	case AG_GARBAGE:
		memset(out, 0x5a, 40);
		len = 40;
		break;
	case AG_WRONG_SEQ:
		len = zh_xsk_encode_reply(out, sizeof(out), seq + 1, 0,
					  ZH_XSK_MODE_COPY, ZH_XSK_XDP_NATIVE,
					  NULL, "");
		break;
	case AG_WRONG_TYPE:
		len = zh_xsk_encode_register(out, sizeof(out), seq, "eth0", 0,
					     0);
		break;
	case AG_OVERSIZE:
		memset(out, 0, sizeof(out));
		len = (int)sizeof(out);
		break;
	case AG_HANGUP:
		close(c);
		a->saw_close = 1;
		return NULL;
	case AG_SILENT:
		break;
	}
	if (len > 0 && send(c, out, (size_t)len, MSG_NOSIGNAL) != len)
		a->failed = 1;
	/* the registration lasts until the client closes its end */
	p.fd = c;
	if (poll(&p, 1, 3000) == 1 && recv(c, in, sizeof(in), 0) == 0)
		a->saw_close = 1;
	close(c);
	return NULL;
}

int agent_start(struct agent *a, enum agent_mode mode,
		const struct zh_xsk_addrs *addrs)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int rc;

	memset(a, 0, sizeof(*a));
	a->mode = mode;
	a->addrs = addrs ? *addrs : self();
	snprintf(a->path, sizeof(a->path), "%s/agent-%d.sock", agent_dir,
		 agent_seq++);
	memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
	a->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (a->lfd < 0)
		return -errno;
	if (bind(a->lfd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    listen(a->lfd, 4)) {
		rc = -errno;
		close(a->lfd);
		return rc;
	}
	rc = pthread_create(&a->th, NULL, agent_main, a);
	if (rc) {
		close(a->lfd);
		unlink(a->path);
		return -rc;
	}
	return 0;
}

void agent_stop(struct agent *a)
{
	pthread_join(a->th, NULL);
	close(a->lfd);
	unlink(a->path);
}

int agent_dir_setup(void **state)
{
	(void)state;
	snprintf(agent_dir, sizeof(agent_dir), "/tmp/zh-test-xsk.XXXXXX");
	return mkdtemp(agent_dir) ? 0 : -1;
}

/* Every test removes the sockets it made: the directory is empty. */
int agent_dir_teardown(void **state)
{
	(void)state;
	return rmdir(agent_dir);
}
