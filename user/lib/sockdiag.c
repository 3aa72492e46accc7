// SPDX-License-Identifier: Apache-2.0
/*
 * sockdiag.c - connected UDP sockets of a removed backend destroyed with
 * NETLINK_SOCK_DIAG (sockdiag.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sockdiag.h"

#ifndef SOCK_DESTROY
#define SOCK_DESTROY 21
#endif
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define TCPF_ESTABLISHED (1U << 1) /* TCP_ESTABLISHED: a connected UDP socket */

/* --- messages ------------------------------------------------------------- */

static int af_of(__u8 family)
{
	return family == ZH_AF_INET6 ? AF_INET6 : AF_INET;
}

size_t zh_sockdiag_dump_req(void *buf, size_t len,
			    const struct zh_sockdiag_target *t, __u32 seq)
{
	int af = af_of(t->family);
	size_t alen = af == AF_INET6 ? 16 : 4;
	/* One condition: yes -> the end (a match), no -> 4 bytes past the
	 * end (no match), as the kernel's inet_diag_bc_run() reads it. */
	size_t oplen = sizeof(struct inet_diag_bc_op) +
		       sizeof(struct inet_diag_hostcond) + alen;
	size_t total =
		NLMSG_ALIGN(NLMSG_HDRLEN + sizeof(struct inet_diag_req_v2)) +
		RTA_SPACE(oplen);
	struct nlmsghdr *nh = buf;
	struct inet_diag_req_v2 *req;
	struct inet_diag_bc_op *op;
	struct inet_diag_hostcond *cond;
	struct rtattr *rta;

	if (len < total)
		return 0;
	memset(buf, 0, total);
	nh->nlmsg_len = (__u32)total;
	nh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nh->nlmsg_seq = seq;
	req = NLMSG_DATA(nh);
	req->sdiag_family = (__u8)af;
	req->sdiag_protocol = IPPROTO_UDP;
	req->idiag_states = TCPF_ESTABLISHED;
	/* udp_dump() also skips sockets of another destination port. */
	req->id.idiag_dport = t->port;
	rta = (struct rtattr *)((char *)nh +
				NLMSG_ALIGN(NLMSG_HDRLEN + sizeof(*req)));
	rta->rta_type = INET_DIAG_REQ_BYTECODE;
	rta->rta_len = (unsigned short)RTA_LENGTH(oplen);
	op = RTA_DATA(rta);
	op->code = INET_DIAG_BC_D_COND;
	op->yes = (unsigned char)oplen;
	op->no = (unsigned short)(oplen + 4);
	cond = (struct inet_diag_hostcond *)(op + 1);
	cond->family = (__u8)af;
	cond->prefix_len = (__u8)(alen * 8);
	cond->port = ntohs(t->port); /* host order: the kernel's */
	memcpy(cond->addr, t->addr, alen);
	return total;
}

size_t zh_sockdiag_destroy_req(void *buf, size_t len,
			       const struct inet_diag_msg *m, __u32 seq)
{
	size_t total = NLMSG_LENGTH(sizeof(struct inet_diag_req_v2));
	struct nlmsghdr *nh = buf;
	struct inet_diag_req_v2 *req;

	if (len < total)
		return 0;
	memset(buf, 0, total);
	nh->nlmsg_len = (__u32)total;
	nh->nlmsg_type = SOCK_DESTROY;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nh->nlmsg_seq = seq;
	req = NLMSG_DATA(nh);
	req->sdiag_family = m->idiag_family;
	req->sdiag_protocol = IPPROTO_UDP;
	req->idiag_states = ~0U;
	/* The kernel finds it by the 4-tuple and interface, and checks the
	 * cookie: a socket that took the same tuple since is not this one. */
	req->id = m->id;
	return total;
}

int zh_sockdiag_parse(const void *buf, size_t len, __u32 seq,
		      int (*cb)(const struct inet_diag_msg *m, void *arg),
		      void *arg)
{
	const struct nlmsghdr *nh = buf;
	size_t left = len;

	for (; left; nh = NLMSG_NEXT(nh, left)) {
		int rc;

		/* NLMSG_OK with a size_t: no message shorter than its header,
		 * none longer than what is left. */
		if (left < NLMSG_HDRLEN || nh->nlmsg_len < NLMSG_HDRLEN ||
		    nh->nlmsg_len > left)
			return -EBADMSG;
		if (nh->nlmsg_seq != seq)
			continue;
		switch (nh->nlmsg_type) {
		case NLMSG_DONE:
			return 1;
		case NLMSG_ERROR: {
			const struct nlmsgerr *e = NLMSG_DATA(nh);

			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(e->error)))
				return -EBADMSG;
			/* An ack (0) ends a request as DONE ends a dump. */
			return e->error ? (e->error < 0 ? e->error : -EPROTO) :
					  1;
		}
		case SOCK_DIAG_BY_FAMILY:
			if (nh->nlmsg_len <
			    NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				return -EBADMSG;
			rc = cb(NLMSG_DATA(nh), arg);
			if (rc)
				return rc;
			break;
		default:
			break;
		}
		if (NLMSG_ALIGN(nh->nlmsg_len) >= left)
			break;
	}
	return 0;
}

__u64 zh_sockdiag_cookie(const struct inet_diag_msg *m)
{
	return (__u64)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
}

bool zh_sockdiag_peer_is(const struct inet_diag_msg *m,
			 const struct zh_sockdiag_target *t)
{
	size_t alen = t->family == ZH_AF_INET6 ? 16 : 4;

	return m->idiag_family == af_of(t->family) &&
	       m->id.idiag_dport == t->port &&
	       !memcmp(m->id.idiag_dst, t->addr, alen);
}

/* --- the socket ----------------------------------------------------------- */

static int nl_open(void)
{
	struct timeval tv = {
		.tv_sec = ZH_SOCKDIAG_RECV_TIMEOUT_MS / 1000,
		.tv_usec = ZH_SOCKDIAG_RECV_TIMEOUT_MS % 1000 * 1000,
	};
	int fd, one = 1, rcvbuf = ZH_SOCKDIAG_BUF * 4;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* Bounded: every read waits at most the timeout; the kernel queues
	 * no more than the buffer (a dump is paced by our reads). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* Errors without the request echoed: shorter acks. */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return fd;
}

static int nl_send(int fd, const void *req, size_t len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n = sendto(fd, req, len, 0, (struct sockaddr *)&sa, sizeof(sa));

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/*
 * Read replies to @seq until DONE, an error, or @max replies: @cb for each.
 * Returns 0 at DONE, -E2BIG past ZH_SOCKDIAG_MAX_READS reads (the rest is drained, unread), a
 * negative errno otherwise (-EAGAIN: the timeout).
 */
static int nl_recv_all(int fd, void *buf, __u32 seq,
		       int (*cb)(const struct inet_diag_msg *m, void *arg),
		       void *arg)
{
	for (int reads = 0; reads < ZH_SOCKDIAG_MAX_READS; reads++) {
		ssize_t n = recv(fd, buf, ZH_SOCKDIAG_BUF, 0);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		rc = zh_sockdiag_parse(buf, (size_t)n, seq, cb, arg);
		if (rc == 1)
			return 0;
		if (rc)
			return rc;
	}
	return -E2BIG;
}

static int ack_cb(const struct inet_diag_msg *m, void *arg)
{
	(void)m;
	(void)arg;
	return 0;
}

/* SOCK_DESTROY for @m; 0, or the kernel's error (-ENOENT: gone). */
static int destroy_one(int fd, void *buf, const struct inet_diag_msg *m,
		       __u32 seq)
{
	char req[128];
	size_t len = zh_sockdiag_destroy_req(req, sizeof(req), m, seq);
	int rc;

	rc = len ? nl_send(fd, req, len) : -EINVAL;
	return rc ? rc : nl_recv_all(fd, buf, seq, ack_cb, NULL);
}

/* --- the probe -------------------------------------------------------------- */

int zh_sockdiag_probe(char *why, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct inet_diag_msg m = { .idiag_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char *buf = NULL;
	const char *env;
	__u64 cookie;
	int s, fd = -1, rc, soerr = 0;

	env = getenv(ZH_SOCKDIAG_ENV);
	if (env && !strcmp(env, "off")) {
		snprintf(why, len, "turned off (%s=off)", ZH_SOCKDIAG_ENV);
		return -EOPNOTSUPP;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		rc = -errno;
		snprintf(why, len, "a UDP socket: %s", strerror(-rc));
		return rc;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sl = sizeof(cookie);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(s, (struct sockaddr *)&sa,
			&(socklen_t){ sizeof(sa) }) ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockopt(s, SOL_SOCKET, SO_COOKIE, &cookie, &sl)) {
		rc = -errno;
		snprintf(why, len,
			 "a UDP socket connected to itself on 127.0.0.1: %s",
			 strerror(-rc));
		goto out;
	}
	m.id.idiag_sport = sa.sin_port;
	m.id.idiag_dport = sa.sin_port;
	m.id.idiag_src[0] = sa.sin_addr.s_addr;
	m.id.idiag_dst[0] = sa.sin_addr.s_addr;
	m.id.idiag_cookie[0] = (__u32)cookie;
	m.id.idiag_cookie[1] = (__u32)(cookie >> 32);
	buf = malloc(ZH_SOCKDIAG_BUF);
	fd = buf ? nl_open() : -ENOMEM;
	rc = fd < 0 ? fd : destroy_one(fd, buf, &m, 1);
	if (rc == -EOPNOTSUPP) {
		snprintf(
			why, len,
			"the kernel cannot destroy sockets (SOCK_DESTROY: %s; CONFIG_INET_DIAG_DESTROY)",
			strerror(-rc));
		goto out;
	}
	if (rc) {
		snprintf(why, len, "SOCK_DESTROY of a UDP socket of ours: %s",
			 strerror(-rc));
		goto out;
	}
	sl = sizeof(soerr);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr != ECONNABORTED) {
		rc = -EPROTO;
		snprintf(
			why, len,
			"SOCK_DESTROY succeeded but the socket reads %s, not ECONNABORTED",
			soerr ? strerror(soerr) : "no error");
		goto out;
	}
	snprintf(why, len, "SOCK_DESTROY of a connected UDP socket works");
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	close(s);
	return rc;
}

/* --- the sweep ------------------------------------------------------------ */

struct sweep {
	const struct zh_objs *o;
	const struct zh_sockdiag_target *t;
	size_t n;
	struct zh_sockdiag_result *res;
	const struct zh_sockdiag_target *cur; /* the dump's target */
	struct inet_diag_msg *cand; /* to destroy, in this netns */
	size_t n_cand;
	char *buf;
	__u32 seq;
	__u64 deadline_ns;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void note_err(struct zh_sockdiag_result *r, int err)
{
	if (!r->err)
		r->err = err;
}

/*
 * Did socket-LB translate this socket to @t? Its cookie and peer in its
 * zh_sock_conn slot (connect()), or in zh_sock_rev (a record moved there
 * from the slot, or a sendmsg()'s), for @t's service.
 */
static bool translated(const struct zh_objs *o,
		       const struct zh_sockdiag_target *t, __u64 cookie)
{
	struct zh_sock_rev_key k = {
		.cookie = cookie,
		.port = t->port,
		.family = t->family,
	};
	struct zh_sock_conn c;
	struct zh_sock_rev rv;
	__u32 slot = (__u32)(cookie & (ZH_SOCK_CONN_MAX - 1));

	memcpy(k.addr, t->addr, sizeof(k.addr));
	if (o->sock_conn_fd >= 0 &&
	    !bpf_map_lookup_elem(o->sock_conn_fd, &slot, &c) &&
	    c.key.cookie == cookie && c.key.port == t->port &&
	    c.key.family == t->family &&
	    !memcmp(c.key.addr, t->addr, sizeof(c.key.addr)) &&
	    c.rev.svc_id == t->svc_id)
		return true;
	return o->sock_rev_fd >= 0 &&
	       !bpf_map_lookup_elem(o->sock_rev_fd, &k, &rv) &&
	       rv.svc_id == t->svc_id;
}

static int found_cb(const struct inet_diag_msg *m, void *arg)
{
	struct sweep *w = arg;
	struct zh_sockdiag_result *r = w->res;

	/* The kernel filtered on the destination; checked again all the
	 * same (a kernel that ignored the bytecode would hand us all). */
	if (!zh_sockdiag_peer_is(m, w->cur))
		return 0;
	r->found++;
	if (!translated(w->o, w->cur, zh_sockdiag_cookie(m))) {
		r->untranslated++;
		return 0;
	}
	if (r->destroyed + r->gone + r->failed + w->n_cand >=
	    ZH_SOCKDIAG_MAX_DESTROY) {
		r->capped = true;
		return 0; /* the dump is read to its end, nothing kept */
	}
	w->cand[w->n_cand++] = *m;
	return 0;
}

/* In one netns (zh_netns_run()): dump, then destroy. */
static int sweep_netns(void *arg)
{
	struct sweep *w = arg;
	struct zh_sockdiag_result *r = w->res;
	char req[256];
	int fd, rc = 0;

	fd = nl_open();
	if (fd < 0)
		return fd;
	for (size_t i = 0; i < w->n && !rc; i++) {
		size_t len;

		w->cur = &w->t[i];
		w->n_cand = 0;
		len = zh_sockdiag_dump_req(req, sizeof(req), w->cur, ++w->seq);
		rc = len ? nl_send(fd, req, len) : -EINVAL;
		if (!rc)
			rc = nl_recv_all(fd, w->buf, w->seq, found_cb, w);
		/* A dump cut short (timeout, too long): destroy what it
		 * found, then on to the next netns with a fresh socket. */
		for (size_t c = 0; c < w->n_cand; c++) {
			int err =
				destroy_one(fd, w->buf, &w->cand[c], ++w->seq);

			if (!err)
				r->destroyed++;
			else if (err == -ENOENT)
				r->gone++;
			else {
				r->failed++;
				note_err(r, err);
				/* The socket may hold a late ack: a new one. */
				if (err == -EAGAIN)
					break;
			}
		}
	}
	close(fd);
	return rc;
}

/* The distinct netns paths of zh_ifaces (a pod with two interfaces is
 * one netns). */
struct paths {
	char (*p)[ZH_NETNS_LEN];
	size_t n, cap;
};

static int path_cb(__u32 ifindex, const struct zh_iface *iface, void *arg)
{
	struct paths *ps = arg;

	(void)ifindex;
	if (!iface->netns[0] || ps->n >= ZH_SOCKDIAG_MAX_NETNS)
		return 0;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		void *p = realloc(ps->p, cap * sizeof(*ps->p));

		if (!p)
			return -ENOMEM;
		ps->p = p;
		ps->cap = cap;
	}
	snprintf(ps->p[ps->n++], ZH_NETNS_LEN, "%.*s", ZH_NETNS_LEN - 1,
		 iface->netns);
	return 0;
}

struct ns_id {
	dev_t dev;
	ino_t ino;
};

static bool seen(struct ns_id *ids, size_t n, const struct ns_id *id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i].dev == id->dev && ids[i].ino == id->ino)
			return true;
	return false;
}

/* zh_sock_stats' counter @stat += @n (its CPU 0 slot), under the pin lock:
 * zerohopd and zerohopctl both count. */
static void stat_add(const struct zh_objs *o, __u32 stat, __u64 n)
{
	int ncpu = libbpf_num_possible_cpus(), lock;
	__u64 *v;

	if (!n || o->sock_stats_fd < 0 || ncpu <= 0)
		return;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return;
	lock = zh_pin_lock(o->root);
	if (!bpf_map_lookup_elem(o->sock_stats_fd, &stat, v)) {
		v[0] += n;
		bpf_map_update_elem(o->sock_stats_fd, &stat, v, BPF_EXIST);
	}
	if (lock >= 0)
		zh_pin_unlock(lock);
	free(v);
}

int zh_sockdiag_sweep(const struct zh_objs *o,
		      const struct zh_sockdiag_target *t, size_t n,
		      struct zh_sockdiag_result *res)
{
	struct sweep w = { .o = o, .t = t, .n = n, .res = res };
	struct paths ps = { 0 };
	struct ns_id *ids = NULL;
	size_t n_ids = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!n)
		return 0;
	w.deadline_ns = mono_ns() + ZH_SOCKDIAG_DEADLINE_MS * 1000000ULL;
	w.buf = malloc(ZH_SOCKDIAG_BUF);
	w.cand = calloc(ZH_SOCKDIAG_MAX_DESTROY, sizeof(*w.cand));
	rc = w.buf && w.cand ? zh_iface_foreach(o, path_cb, &ps) : -ENOMEM;
	if (!rc) {
		ids = calloc(ps.n + 1, sizeof(*ids));
		rc = ids ? 0 : -ENOMEM;
	}
	if (rc) {
		note_err(res, rc);
		goto out;
	}
	/* i == 0: the calling thread's own netns (the node's). */
	for (size_t i = 0; i <= ps.n && !res->capped; i++) {
		const char *path = i ? ps.p[i - 1] : "/proc/thread-self/ns/net";
		struct stat sb;
		struct ns_id id;
		int err;

		if (mono_ns() > w.deadline_ns) {
			res->late = true;
			break;
		}
		/* The same netns by two paths, or two interfaces of a pod:
		 * once. A path gone (the pod left): nothing to do there. */
		if (stat(path, &sb))
			continue;
		id = (struct ns_id){ .dev = sb.st_dev, .ino = sb.st_ino };
		if (seen(ids, n_ids, &id))
			continue;
		ids[n_ids++] = id;
		err = zh_netns_run(i ? path : NULL, sweep_netns, &w);
		res->netns++;
		if (err && err != -ENOENT) {
			res->netns_failed++;
			note_err(res, err);
			pr_debug("socket sweep: netns %s: %s\n",
				 i ? path : "(ours)", strerror(-err));
		}
	}
out:
	stat_add(o, ZH_SOCK_STAT_UDP_DESTROYED, res->destroyed);
	stat_add(o, ZH_SOCK_STAT_UDP_DESTROY_FAILED, res->failed);
	free(ids);
	free(ps.p);
	free(w.cand);
	free(w.buf);
	return res->err;
}
