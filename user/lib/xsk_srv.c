// SPDX-License-Identifier: Apache-2.0
/*
 * xsk_srv.c - the agent's end of the AF_XDP socket handoff (xsk_srv.h has
 * the rules, xsk_proto.h the bytes).
 */
#define _GNU_SOURCE /* struct ucred, MSG_CMSG_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <linux/if_xdp.h>
#include <bpf/bpf.h>

#include "zh_xsk_proto.h"
#include "xsk_srv.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define MAX_CONNS 1024
/* A pod's process needs one connection for all its queues: a network
 * namespace may hold this many, so that no one peer takes every slot. */
#define MAX_CONNS_PER_NETNS 8
/* And a user other than root this many, from all its namespaces: one that
 * may make network namespaces (unprivileged user namespaces) could
 * otherwise take every slot, 8 at a time. Root is held by the netns limit
 * alone: a pod's processes are root in many clusters, one per netns. */
#define MAX_CONNS_PER_UID 32
/* A connection that has registered nothing this long after it came is
 * closed: holding slots without using them is not a use. */
#define IDLE_MS 5000
#define MAX_FDS 4 /* room to notice (and close) extra fds */

struct reg {
	__u32 host_ifindex;
	__u32 queue;
	char ifname[ZH_XSK_IFNAMSIZ];
};

struct zh_xsk_srv;

struct conn {
	struct zh_xsk_srv *srv;
	int fd;
	pid_t pid;
	uid_t uid; /* the peer's, from SO_PEERCRED; 0 also when unknown */
	dev_t ns_dev; /* the peer's network namespace (0, 0: unknown) */
	ino_t ns_ino;
	unsigned long long since_ms; /* accepted */
	bool used; /* registered a queue once */
	int nregs;
	struct reg regs[ZH_XSK_MAX_QUEUES];
};

struct zh_xsk_srv {
	int lfd, efd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct zh_objs *objs;
	struct conn *conns[MAX_CONNS];
	struct zh_xsk_srv_stats st;
	/* Given up to take a connection off the queue, and close it, when
	 * the agent is out of fds: else the queue stays readable for ever
	 * and the loop spins. -1: could not be reopened. */
	int spare_fd;
	int tfd; /* ticks while a connection may go idle; -1: none */
	struct zh_ratelimit rl_accept, rl_full, rl_refuse;
};

static unsigned long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 +
	       (unsigned long long)ts.tv_nsec / 1000000;
}

const char *zh_xsk_socket_default(void)
{
	const char *env = getenv(ZH_XSK_SOCKET_ENV);

	return env && env[0] ? env : ZH_XSK_SOCKET_DEFAULT;
}

const char *zh_xsk_result_name(int r)
{
	static const char *const names[ZH_XSK_R_MAX] = {
		[ZH_XSK_R_REGISTERED] = "registered",
		[ZH_XSK_R_UNREGISTERED] = "unregistered",
		[ZH_XSK_R_MALFORMED] = "malformed",
		[ZH_XSK_R_VERSION] = "version",
		[ZH_XSK_R_NO_SOCKET] = "no_socket",
		[ZH_XSK_R_NOT_XSK] = "not_xsk",
		[ZH_XSK_R_UNBOUND] = "unbound",
		[ZH_XSK_R_NO_POD] = "no_pod",
		[ZH_XSK_R_NOT_OPTED_IN] = "not_opted_in",
		[ZH_XSK_R_QUEUE] = "queue",
		[ZH_XSK_R_FOREIGN_SOCKET] = "foreign_socket",
		[ZH_XSK_R_BUSY] = "busy",
		[ZH_XSK_R_NOT_REGISTERED] = "not_registered",
		[ZH_XSK_R_MAP] = "map",
	};

	return r >= 0 && r < ZH_XSK_R_MAX && names[r] ? names[r] : "unknown";
}

static void count(struct zh_xsk_srv *s, int r)
{
	__atomic_add_fetch(&s->st.results[r], 1, __ATOMIC_RELAXED);
}

void zh_xsk_srv_stats(const struct zh_xsk_srv *s, struct zh_xsk_srv_stats *out)
{
	for (int i = 0; i < ZH_XSK_R_MAX; i++)
		out->results[i] =
			__atomic_load_n(&s->st.results[i], __ATOMIC_RELAXED);
	out->connections =
		__atomic_load_n(&s->st.connections, __ATOMIC_RELAXED);
	out->live = __atomic_load_n(&s->st.live, __ATOMIC_RELAXED);
}

/* --- the pod behind a request ------------------------------------------- */

struct pod {
	__u32 host_ifindex;
	struct zh_iface iface;
};

struct pod_find {
	dev_t dev;
	ino_t ino;
	const char *ifname;
	int netns_hits; /* pods in the peer's netns, whatever the interface */
	char other[ZH_IFNAME_LEN]; /* one of their interface names */
	struct pod *out;
	int found;
};

static int pod_cb(__u32 host_ifindex, const struct zh_iface *iface, void *arg)
{
	struct pod_find *f = arg;
	struct stat st;

	if (stat(iface->netns, &st) || st.st_dev != f->dev ||
	    st.st_ino != f->ino)
		return 0;
	f->netns_hits++;
	if (strncmp(iface->pod_ifname, f->ifname, sizeof(iface->pod_ifname))) {
		memcpy(f->other, iface->pod_ifname, sizeof(f->other));
		f->other[sizeof(f->other) - 1] = '\0';
		return 0;
	}
	f->out->host_ifindex = host_ifindex;
	f->out->iface = *iface;
	f->found = 1;
	return 1;
}

/* In the netns: its cookie, as a socket made there reports it. */
static int cookie_fn(void *arg)
{
	socklen_t len = sizeof(__u64);
	int fd, err = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, arg, &len))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

static int netns_cookie(const char *path, __u64 *cookie)
{
	return zh_netns_run(path, cookie_fn, cookie);
}

/* --- replies ------------------------------------------------------------ */

static void reply(struct conn *c, __u32 seq, int status, __u32 mode,
		  __u32 xdp_mode, const struct zh_xsk_addrs *addrs,
		  const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void reply(struct conn *c, __u32 seq, int status, __u32 mode,
		  __u32 xdp_mode, const struct zh_xsk_addrs *addrs,
		  const char *fmt, ...)
{
	char reason[ZH_XSK_REASON_LEN], buf[ZH_XSK_MSG_MAX];
	unsigned int missed;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	n = zh_xsk_encode_reply(buf, sizeof(buf), seq, status, mode, xdp_mode,
				addrs, reason);
	if (n < 0 || send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		pr_debug("xsk: reply to pid %d not sent: %s\n", (int)c->pid,
			 n < 0 ? strerror(-n) : strerror(errno));
	/* A peer decides how often it is refused: said at most 20 times a
	 * second (the counters have every one). */
	if (status && zh_ratelimit(&c->srv->rl_refuse, 1000, 20, &missed))
		pr_info("xsk: refused pid %d: %s%s\n", (int)c->pid, reason,
			missed ? " (and others held back)" : "");
}

#define REFUSE(r, err, ...)                                    \
	do {                                                   \
		count(s, (r));                                 \
		reply(c, seq, (err), 0, 0, NULL, __VA_ARGS__); \
		return;                                        \
	} while (0)

/* --- registrations -------------------------------------------------------- */

/* zh_iface.xsk.registered/bind_mode of the pod, under the pin lock. */
static void iface_mark(struct zh_xsk_srv *s, __u32 host_ifindex, __u32 queue,
		       __u32 bind_mode, bool on)
{
	struct zh_iface iface;
	int lock = zh_pin_lock(s->objs->root);

	if (!zh_iface_lookup(s->objs, host_ifindex, &iface)) {
		if (on) {
			iface.xsk.registered |= (__u16)(1U << queue);
			iface.xsk.bind_mode = (__u8)bind_mode;
		} else {
			iface.xsk.registered &= (__u16) ~(1U << queue);
		}
		if (bpf_map_update_elem(s->objs->ifaces_fd, &host_ifindex,
					&iface, BPF_EXIST))
			pr_debug("xsk: zh_ifaces[%u]: %s\n", host_ifindex,
				 strerror(errno));
	}
	if (lock >= 0)
		zh_pin_unlock(lock);
}

static struct conn *holder(struct zh_xsk_srv *s, __u32 host_ifindex,
			   __u32 queue)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = s->conns[i];

		for (int j = 0; c && j < c->nregs; j++)
			if (c->regs[j].host_ifindex == host_ifindex &&
			    c->regs[j].queue == queue)
				return c;
	}
	return NULL;
}

/* Empty the slot and forget the registration @j of @c. */
static void reg_drop(struct zh_xsk_srv *s, struct conn *c, int j)
{
	struct reg *r = &c->regs[j];
	struct zh_iface iface;

	/* The slot, if the pod (and its slot run) is still there. */
	if (!zh_iface_lookup(s->objs, r->host_ifindex, &iface) &&
	    r->queue < iface.xsk.queues) {
		__u32 slot = iface.xsk.slot + r->queue;

		bpf_map_delete_elem(s->objs->xsks_fd, &slot);
		iface_mark(s, r->host_ifindex, r->queue, 0, false);
	}
	pr_info("xsk: pid %d released %s queue %u\n", (int)c->pid, r->ifname,
		r->queue);
	c->regs[j] = c->regs[--c->nregs];
	__atomic_sub_fetch(&s->st.live, 1, __ATOMIC_RELAXED);
}

static void addrs_of(const struct zh_iface *iface, struct zh_xsk_addrs *a)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->mac, iface->mac, sizeof(a->mac));
	memcpy(a->gw_mac, iface->gw_mac, sizeof(a->gw_mac));
	if (iface->flags & ZH_IFACE_F_V4) {
		a->addr_flags |= ZH_XSK_ADDR_V4;
		a->ipv4 = iface->ipv4;
	}
	if (iface->flags & ZH_IFACE_F_V6) {
		a->addr_flags |= ZH_XSK_ADDR_V6;
		memcpy(a->ipv6, iface->ipv6, sizeof(a->ipv6));
	}
}

static void do_register(struct zh_xsk_srv *s, struct conn *c, __u32 seq,
			const struct zh_xsk_req *req, int xsk)
{
	struct xdp_options xopt = {};
	struct zh_xsk_addrs addrs;
	__u64 sk_cookie, ns_cookie;
	struct pod pod = {};
	struct pod_find f = { .ifname = req->ifname, .out = &pod };
	socklen_t len;
	char nspath[64];
	struct stat st;
	struct conn *other;
	int domain, err;
	__u32 slot, mode;

	len = sizeof(domain);
	if (getsockopt(xsk, SOL_SOCKET, SO_DOMAIN, &domain, &len) ||
	    domain != AF_XDP)
		REFUSE(ZH_XSK_R_NOT_XSK, -ENOTSOCK,
		       "the fd passed is not an AF_XDP socket");
	/* recvmsg on an unbound XSK fails with ENXIO; on a bound copy-mode
	 * one it returns at once. */
	if (recv(xsk, NULL, 0, MSG_DONTWAIT) < 0 && errno == ENXIO)
		REFUSE(ZH_XSK_R_UNBOUND, -ENXIO,
		       "the AF_XDP socket is not bound: bind it to %s queue %u first",
		       req->ifname, req->queue_id);

	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", (int)c->pid);
	if (c->pid <= 0 || stat(nspath, &st))
		REFUSE(ZH_XSK_R_NO_POD, -ESRCH,
		       "cannot see the peer process (zerohopd needs the host's PID namespace)");
	f.dev = st.st_dev;
	f.ino = st.st_ino;
	err = zh_iface_foreach(s->objs, pod_cb, &f);
	if (err < 0)
		REFUSE(ZH_XSK_R_MAP, err, "zh_ifaces: %s", strerror(-err));
	if (!f.found && f.netns_hits)
		REFUSE(ZH_XSK_R_NO_POD, -ENODEV,
		       "this pod has no zerohop interface %s (it has %s)",
		       req->ifname, f.other);
	if (!f.found)
		REFUSE(ZH_XSK_R_NO_POD, -EPERM,
		       "no zerohop pod lives in the caller's network namespace");
	if (!pod.iface.xsk.queues)
		REFUSE(ZH_XSK_R_NOT_OPTED_IN, -EPERM,
		       "pod %.12s did not opt in to AF_XDP (\"afxdp\" in its network config)",
		       pod.iface.container_id);
	if (req->queue_id >= pod.iface.xsk.queues)
		REFUSE(ZH_XSK_R_QUEUE, -ERANGE,
		       "queue %u out of range: %s has %u AF_XDP queue(s)",
		       req->queue_id, req->ifname, pod.iface.xsk.queues);
	len = sizeof(sk_cookie);
	if (getsockopt(xsk, SOL_SOCKET, SO_NETNS_COOKIE, &sk_cookie, &len))
		REFUSE(ZH_XSK_R_NOT_XSK, -errno, "SO_NETNS_COOKIE: %s",
		       strerror(errno));
	err = netns_cookie(pod.iface.netns, &ns_cookie);
	if (err)
		REFUSE(ZH_XSK_R_NO_POD, err, "the pod's netns %s: %s",
		       pod.iface.netns, strerror(-err));
	if (sk_cookie != ns_cookie)
		REFUSE(ZH_XSK_R_FOREIGN_SOCKET, -EPERM,
		       "the AF_XDP socket belongs to another network namespace, not pod %.12s's",
		       pod.iface.container_id);
	other = holder(s, pod.host_ifindex, req->queue_id);
	if (other)
		REFUSE(ZH_XSK_R_BUSY, -EBUSY,
		       "%s queue %u is registered already (pid %d)",
		       req->ifname, req->queue_id, (int)other->pid);
	if (c->nregs == ZH_XSK_MAX_QUEUES)
		REFUSE(ZH_XSK_R_BUSY, -ENOSPC,
		       "at most %d registrations per connection",
		       ZH_XSK_MAX_QUEUES);

	slot = pod.iface.xsk.slot + req->queue_id;
	if (bpf_map_update_elem(s->objs->xsks_fd, &slot, &xsk, BPF_ANY))
		REFUSE(ZH_XSK_R_MAP, -errno, "zh_xsks[%u]: %s", slot,
		       strerror(errno));
	len = sizeof(xopt);
	mode = !getsockopt(xsk, SOL_XDP, XDP_OPTIONS, &xopt, &len) &&
			       (xopt.flags & XDP_OPTIONS_ZEROCOPY) ?
		       ZH_XSK_MODE_ZEROCOPY :
		       ZH_XSK_MODE_COPY;
	c->used = true;
	c->regs[c->nregs++] = (struct reg){ .host_ifindex = pod.host_ifindex,
					    .queue = req->queue_id };
	memcpy(c->regs[c->nregs - 1].ifname, req->ifname, ZH_XSK_IFNAMSIZ);
	__atomic_add_fetch(&s->st.live, 1, __ATOMIC_RELAXED);
	iface_mark(s, pod.host_ifindex, req->queue_id, mode, true);
	count(s, ZH_XSK_R_REGISTERED);
	addrs_of(&pod.iface, &addrs);
	reply(c, seq, 0, mode, pod.iface.xsk.xdp_mode, &addrs,
	      "%s queue %u of pod %.12s: %s mode, %s XDP", req->ifname,
	      req->queue_id, pod.iface.container_id,
	      mode == ZH_XSK_MODE_ZEROCOPY ? "zero-copy" : "copy",
	      pod.iface.xsk.xdp_mode == ZH_XSK_XDP_NATIVE ? "native" :
							    "generic");
	pr_info("xsk: pid %d registered %s queue %u of pod %.12s (slot %u, %s)\n",
		(int)c->pid, req->ifname, req->queue_id, pod.iface.container_id,
		slot, mode == ZH_XSK_MODE_ZEROCOPY ? "zero-copy" : "copy");
}

static void do_unregister(struct zh_xsk_srv *s, struct conn *c, __u32 seq,
			  const struct zh_xsk_req *req)
{
	for (int j = 0; j < c->nregs; j++) {
		if (c->regs[j].queue != req->queue_id ||
		    strncmp(c->regs[j].ifname, req->ifname, ZH_XSK_IFNAMSIZ))
			continue;
		reg_drop(s, c, j);
		count(s, ZH_XSK_R_UNREGISTERED);
		reply(c, seq, 0, 0, 0, NULL, "%s queue %u released",
		      req->ifname, req->queue_id);
		return;
	}
	REFUSE(ZH_XSK_R_NOT_REGISTERED, -ENOENT,
	       "%s queue %u is not registered on this connection", req->ifname,
	       req->queue_id);
}

/* --- connections ---------------------------------------------------------- */

static void conn_close(struct zh_xsk_srv *s, int i)
{
	struct conn *c = s->conns[i];

	while (c->nregs)
		reg_drop(s, c, c->nregs - 1);
	epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	s->conns[i] = NULL;
}

int zh_xsk_srv_decode(const void *buf, size_t n, bool truncated,
		      struct zh_xsk_msg *msg, __u32 *seq, char *err,
		      size_t errlen)
{
	int rc;

	*seq = 0;
	if (n >= sizeof(struct zh_xsk_hdr))
		memcpy(seq,
		       (const char *)buf + offsetof(struct zh_xsk_hdr, seq),
		       sizeof(*seq));
	if (truncated)
		return zh_errf(err, errlen, -EMSGSIZE,
			       "message longer than %d bytes or too many fds",
			       ZH_XSK_MSG_MAX);
	rc = zh_xsk_decode(buf, n, msg, err, errlen);
	if (!rc && msg->hdr.type == ZH_XSK_REPLY)
		rc = zh_errf(err, errlen, -EBADMSG,
			     "a reply is the agent's to send");
	return rc;
}

/*
 * One datagram. Returns 1 to keep the connection, 0 to close it: a peer
 * that does not speak the protocol (malformed, oversized, unknown version)
 * gets its answer and is hung up on.
 */
static int conn_read(struct zh_xsk_srv *s, struct conn *c)
{
	char buf[ZH_XSK_MSG_MAX + 1], err[ZH_XSK_REASON_LEN];
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int fds[MAX_FDS], nfds = 0, keep = 1, rc;
	struct zh_xsk_msg msg;
	__u32 seq = 0;
	ssize_t n;

	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return 0; /* the peer hung up */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0;
		     k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int),
			       sizeof(fd));
			if (nfds < MAX_FDS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	rc = zh_xsk_srv_decode(buf, (size_t)n,
			       mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC), &msg,
			       &seq, err, sizeof(err));
	if (rc) {
		int r = rc == -EPROTONOSUPPORT ? ZH_XSK_R_VERSION :
						 ZH_XSK_R_MALFORMED;

		count(s, r);
		reply(c, seq, rc, 0, 0, NULL, "%s", err);
		keep = 0;
		goto out;
	}
	if (msg.hdr.type == ZH_XSK_UNREGISTER) {
		if (nfds) {
			count(s, ZH_XSK_R_MALFORMED);
			reply(c, seq, -EINVAL, 0, 0, NULL,
			      "UNREGISTER carries no fd");
		} else {
			do_unregister(s, c, seq, &msg.req);
		}
		goto out;
	}
	if (nfds != 1) {
		count(s, ZH_XSK_R_NO_SOCKET);
		reply(c, seq, -EBADF, 0, 0, NULL,
		      "REGISTER needs exactly one fd (the AF_XDP socket) in SCM_RIGHTS, got %d",
		      nfds);
		goto out;
	}
	do_register(s, c, seq, &msg.req, fds[0]);
out:
	/* The map holds the socket, not the fd: ours goes. */
	for (int k = 0; k < nfds; k++)
		close(fds[k]);
	return keep;
}

/* Out of fds: the pending connection is taken with the spare fd's slot,
 * and closed. */
static void refuse_one(struct zh_xsk_srv *s, int err)
{
	unsigned int missed;
	int fd;

	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (zh_ratelimit(&s->rl_accept, 1000, 1, &missed))
		pr_warn("xsk: accept: %s: refusing connections (%u more refused or failed in the last second)\n",
			strerror(err), missed);
}

/* The network namespace of @c's process, to count its connections. */
static void peer_netns(struct conn *c)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)c->pid);
	if (c->pid > 0 && !stat(path, &st)) {
		c->ns_dev = st.st_dev;
		c->ns_ino = st.st_ino;
	}
}

/* How many connections @c's namespace has (unknown ones share one). */
static int uid_conns(const struct zh_xsk_srv *s, const struct conn *c)
{
	int n = 0;

	for (int i = 0; i < MAX_CONNS; i++)
		n += s->conns[i] && s->conns[i]->uid == c->uid;
	return n;
}

static int netns_conns(const struct zh_xsk_srv *s, const struct conn *c)
{
	int n = 0;

	for (int i = 0; i < MAX_CONNS; i++)
		n += s->conns[i] && s->conns[i]->ns_dev == c->ns_dev &&
		     s->conns[i]->ns_ino == c->ns_ino;
	return n;
}

/* Connections that registered nothing within IDLE_MS: closed. The tick
 * runs only while there are such connections. */
static void idle_sweep(struct zh_xsk_srv *s)
{
	unsigned long long now = mono_ms();
	struct itimerspec its = { 0 };
	__u64 ticks;
	bool waiting = false;

	if (read(s->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = s->conns[i];

		if (!c || c->used)
			continue;
		if (now - c->since_ms >= IDLE_MS) {
			__atomic_add_fetch(&s->st.idle_closed, 1,
					   __ATOMIC_RELAXED);
			conn_close(s, i);
		} else {
			waiting = true;
		}
	}
	if (!waiting)
		timerfd_settime(s->tfd, 0, &its, NULL);
}

/* The tick, started when a connection comes. */
static void idle_arm(struct zh_xsk_srv *s)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 1 },
		.it_value = { .tv_sec = 1 },
	};

	if (s->tfd >= 0)
		timerfd_settime(s->tfd, 0, &its, NULL);
}

/* What one turn may accept: the rest waits for the next turn. */
#define ACCEPT_TURN 64

static void accept_all(struct zh_xsk_srv *s)
{
	for (int turn = 0; turn < ACCEPT_TURN; turn++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct ucred cred = {};
		socklen_t len = sizeof(cred);
		unsigned int missed;
		struct conn *c;
		int fd, i;

		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				refuse_one(s, errno);
			else if (errno != EAGAIN && errno != EINTR &&
				 zh_ratelimit(&s->rl_accept, 1000, 1, &missed))
				pr_warn("xsk: accept: %s\n", strerror(errno));
			if (errno == EAGAIN || s->spare_fd < 0)
				return;
			continue;
		}
		for (i = 0; i < MAX_CONNS && s->conns[i]; i++)
			;
		c = i < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			if (zh_ratelimit(&s->rl_full, 1000, 1, &missed))
				pr_warn("xsk: too many connections (%d): closing new ones (%u more in the last second)\n",
					MAX_CONNS, missed);
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		c->since_ms = mono_ms();
		if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			c->pid = cred.pid;
			c->uid = cred.uid;
		}
		peer_netns(c);
		if (c->uid && uid_conns(s, c) >= MAX_CONNS_PER_UID) {
			__atomic_add_fetch(&s->st.refused, 1, __ATOMIC_RELAXED);
			if (zh_ratelimit(&s->rl_full, 1000, 1, &missed))
				pr_warn("xsk: pid %d: uid %u has %d connections already: closing this one (%u more in the last second)\n",
					(int)c->pid, (unsigned int)c->uid,
					MAX_CONNS_PER_UID, missed);
			close(fd);
			free(c);
			continue;
		}
		if (netns_conns(s, c) >= MAX_CONNS_PER_NETNS) {
			__atomic_add_fetch(&s->st.refused, 1, __ATOMIC_RELAXED);
			if (zh_ratelimit(&s->rl_full, 1000, 1, &missed))
				pr_warn("xsk: pid %d: its network namespace has %d connections already: closing this one (%u more in the last second)\n",
					(int)c->pid, MAX_CONNS_PER_NETNS,
					missed);
			close(fd);
			free(c);
			continue;
		}
		ev.data.u32 = (__u32)i;
		if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		s->conns[i] = c;
		__atomic_add_fetch(&s->st.connections, 1, __ATOMIC_RELAXED);
		idle_arm(s);
	}
}

#define LISTEN_ID UINT32_MAX
#define TIMER_ID (UINT32_MAX - 1)

/* Event batches one turn takes: more waits for the next turn, so that the
 * caller's loop (signals, sweeps) runs however busy the socket is. */
#define PROCESS_TURN 4

void zh_xsk_srv_process(struct zh_xsk_srv *s)
{
	struct epoll_event evs[32];
	int n, turn = 0;

	while (turn++ < PROCESS_TURN &&
	       (n = epoll_wait(s->efd, evs, 32, 0)) > 0) {
		for (int k = 0; k < n; k++) {
			__u32 i = evs[k].data.u32;

			if (i == LISTEN_ID) {
				accept_all(s);
				continue;
			}
			if (i == TIMER_ID) {
				idle_sweep(s);
				continue;
			}
			if (i >= MAX_CONNS || !s->conns[i])
				continue;
			/* Read what is queued before a hang-up counts. */
			if (!(evs[k].events & EPOLLIN) ||
			    !conn_read(s, s->conns[i]))
				conn_close(s, (int)i);
		}
	}
}

int zh_xsk_srv_fd(const struct zh_xsk_srv *s)
{
	return s->efd;
}

/*
 * The socket's directory, made if missing, must be a real directory of
 * ours (or root's) that nobody else may write: else someone could swap
 * the socket for their own and receive pods' AF_XDP sockets, or point
 * our chmod elsewhere. What is at the path must be a socket (a dead
 * agent's), or nothing.
 */
static int safe_path(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		pr_warn("xsk: %s: want a socket in a directory of its own\n",
			path);
		return -EINVAL;
	}
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		pr_warn("xsk: %s: not a directory that only we (or root) may write: refusing to put the handoff socket there\n",
			dir);
		return -EPERM;
	}
	if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
		pr_warn("xsk: %s: there is something there that is no socket: refusing to replace it\n",
			path);
		return -EEXIST;
	}
	return 0;
}

int zh_xsk_srv_open(struct zh_xsk_srv **out, const char *path,
		    const struct zh_objs *objs)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LISTEN_ID };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct zh_xsk_srv *s;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (zh_use_missing(&objs->feat, ZH_USE_AFXDP) >= 0)
		return -EOPNOTSUPP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->objs = objs;
	s->lfd = s->efd = -1;
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	snprintf(s->path, sizeof(s->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path));
	err = safe_path(path);
	if (err)
		goto err;
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	if (s->lfd < 0) {
		err = -errno;
		goto err;
	}
	/* A socket left by an agent that died: ours now (safe_path() saw
	 * that it is one, in a directory nobody else writes). */
	unlink(path);
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0666) || listen(s->lfd, 64)) {
		err = -errno;
		goto err;
	}
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	if (s->efd < 0 || epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		err = -errno;
		goto err;
	}
	ev.data.u32 = TIMER_ID;
	if (s->tfd < 0 || epoll_ctl(s->efd, EPOLL_CTL_ADD, s->tfd, &ev)) {
		err = -errno;
		goto err;
	}
	*out = s;
	return 0;
err:
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(path);
	}
	if (s->efd >= 0)
		close(s->efd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	if (s->tfd >= 0)
		close(s->tfd);
	free(s);
	return err;
}

void zh_xsk_srv_close(struct zh_xsk_srv *s)
{
	if (!s)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (s->conns[i])
			conn_close(s, i);
	close(s->efd);
	close(s->lfd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	if (s->tfd >= 0)
		close(s->tfd);
	unlink(s->path);
	free(s);
}
