// SPDX-License-Identifier: Apache-2.0
/*
 * rr.c - request/response with one request outstanding:
 *
 *   udp-rr       one connected UDP socket, one flow for the whole run
 *   udp-newflow  a fresh socket, bound to the next source port, per request:
 *                every request is the first packet of a new flow
 *   tcp-rr       one TCP connection (TCP_NODELAY), request then response
 *   tcp-crr      connect, request, response, close per sample; the sample
 *                is the whole connect -> response time
 *   udp-crr      a glibc DNS query: a new UDP socket, connect, send,
 *                recvfrom() with the source address (which must be the
 *                address connected to: socket-level LB shows the VIP),
 *                close; the sample is the whole socket() -> close() time
 *
 * Every request starts with struct zh_probe (magic, the sender's sequence,
 * CLOCK_MONOTONIC just before send) and the UDP server echoes it with its
 * own send time, so that the datapath times the reply's trip and not the
 * round trip so far; a reply is the request's only when the sequence
 * matches. Servers and
 * clients run in threads of their own, each setns()ed into its network
 * namespace (CLONE_NEWNET only moves the calling thread), with SIGINT and
 * SIGTERM blocked so that the main thread takes them; every loop checks
 * xb_stop.
 */
#define _GNU_SOURCE /* setns(), pthread_setaffinity_np() */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "log.h"
#include "xdpbench.h"
#include "zh_abi.h"

/* How often an idle server looks at its stop flag. */
#define XB_SERVER_POLL_NS (20 * 1000000ULL)
/* SO_BUSY_POLL: microseconds the kernel may spin on a receive queue. */
#define XB_BUSY_POLL_US 50
#define XB_LISTEN_BACKLOG 128

_Static_assert(sizeof(struct zh_probe) == XB_MIN_SIZE, "probe size");

volatile sig_atomic_t xb_stop;

const char *const xb_workload_names[XB_WL_MAX] = {
	[XB_WL_UDP_RR] = "udp-rr",   [XB_WL_UDP_NEWFLOW] = "udp-newflow",
	[XB_WL_TCP_RR] = "tcp-rr",   [XB_WL_TCP_CRR] = "tcp-crr",
	[XB_WL_UDP_CRR] = "udp-crr",
};

bool xb_workload_is_tcp(enum xb_workload wl)
{
	return wl == XB_WL_TCP_RR || wl == XB_WL_TCP_CRR;
}

static void xb_on_signal(int sig)
{
	(void)sig;
	xb_stop = 1;
}

/* No SA_RESTART: a blocked call returns EINTR so the loop sees xb_stop. */
int xb_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = xb_on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -errno;
	/* A peer that resets a TCP connection must not kill us. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		return -errno;
	return 0;
}

uint64_t xb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- addresses ------------------------------------------------------------ */

bool xb_sockaddr_eq(const struct sockaddr_storage *a,
		    const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a->ss_family == AF_INET6 && a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

int xb_resolve(const char *host, uint16_t port, bool passive,
	       struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *res;
	char service[8];
	int ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(service, sizeof(service), "%u", port);
	ret = getaddrinfo(host, service, &hints, &res);
	if (ret) {
		pr_warn("cannot resolve '%s': %s\n", host ? host : "*",
			gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const char *xb_sockaddr_str(const struct sockaddr_storage *ss, char *buf,
			    size_t len)
{
	char host[INET6_ADDRSTRLEN];
	const void *a;
	uint16_t port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		a = &s6->sin6_addr;
		port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		a = &s4->sin_addr;
		port = ntohs(s4->sin_port);
	}
	if (!inet_ntop(ss->ss_family, a, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 host, port);
	return buf;
}

static void xb_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t xb_get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* --- sockets -------------------------------------------------------------- */

static int xb_set_timeo(int fd, int opt, uint64_t ns)
{
	struct timeval tv = {
		.tv_sec = (time_t)(ns / 1000000000ULL),
		.tv_usec = (suseconds_t)(ns % 1000000000ULL / 1000),
	};

	/* A zero timeval means "block forever": never ask for that. */
	if (!tv.tv_sec && !tv.tv_usec)
		tv.tv_usec = 1;
	if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

static void xb_set_busy_poll(int fd)
{
	int us = XB_BUSY_POLL_US;

	/* Best effort: without it the spinning recv() still avoids sleeps. */
	if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)))
		pr_debug("SO_BUSY_POLL: %s\n", strerror(errno));
}

static void xb_set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		pr_debug("TCP_NODELAY: %s\n", strerror(errno));
}

/* Move the calling thread into the netns at @path. */
static int xb_setns(const char *path)
{
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		ret = -errno;
	close(fd);
	return ret;
}

static int xb_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int xb_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t set, old;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	ret = -pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static bool xb_stopped(const int *stop)
{
	return xb_stop || (stop && __atomic_load_n(stop, __ATOMIC_RELAXED));
}

/* --- servers -------------------------------------------------------------- */

/* A probe going back out carries the time it leaves, not the request's. */
static void xb_probe_restamp(char *buf, size_t len)
{
	struct zh_probe p;

	if (len < sizeof(p))
		return;
	memcpy(&p, buf, sizeof(p));
	if (p.magic != ZH_PROBE_MAGIC)
		return;
	p.tx_ns = xb_now_ns();
	memcpy(buf, &p, sizeof(p));
}

int xb_udp_echo(int fd, bool busy_poll, const int *stop, uint64_t *echoed,
		struct sockaddr_storage *last_peer)
{
	static __thread char buf[XB_BUF_SIZE];
	int flags = busy_poll ? MSG_DONTWAIT : 0;
	uint64_t send_errs = 0;

	while (!xb_stopped(stop)) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n;

		n = recvfrom(fd, buf, sizeof(buf), flags,
			     (struct sockaddr *)&peer, &plen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			pr_warn("recvfrom: %s\n", strerror(errno));
			return -errno;
		}
		xb_probe_restamp(buf, (size_t)n);
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer,
			   plen) != n) {
			/* A peer that went away must not stop the server. */
			if (!send_errs++)
				pr_warn("sendto: %s\n", strerror(errno));
			continue;
		}
		(*echoed)++;
		if (last_peer)
			memcpy(last_peer, &peer, plen);
	}
	if (send_errs)
		pr_info("%" PRIu64 " echoes could not be sent\n", send_errs);
	return 0;
}

/* Send all of @len bytes on a stream socket. */
static int xb_send_all(int fd, const char *buf, size_t len, const int *stop)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if ((errno == EINTR || errno == EAGAIN) &&
			    !xb_stopped(stop))
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Echo one TCP connection until the peer closes it (or resets it). */
static int xb_tcp_echo_conn(struct xb_server *s, int cfd)
{
	static __thread char buf[XB_BUF_SIZE];
	int flags = s->busy_poll ? MSG_DONTWAIT : 0;

	while (!xb_stopped(&s->stop)) {
		ssize_t n = recv(cfd, buf, sizeof(buf), flags);

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				return 0; /* tcp-crr closes with a reset */
			return -errno;
		}
		if (xb_send_all(cfd, buf, (size_t)n, &s->stop))
			return 0;
		s->echoed++;
	}
	return 0;
}

static int xb_tcp_echo(struct xb_server *s)
{
	while (!xb_stopped(&s->stop)) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int cfd, ret;

		cfd = accept4(s->fd, (struct sockaddr *)&peer, &plen,
			      SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			return -errno;
		}
		memcpy(&s->last_peer, &peer, plen);
		xb_set_nodelay(cfd);
		if (s->busy_poll)
			xb_set_busy_poll(cfd);
		else
			xb_set_timeo(cfd, SO_RCVTIMEO, XB_SERVER_POLL_NS);
		ret = xb_tcp_echo_conn(s, cfd);
		close(cfd);
		if (ret)
			return ret;
	}
	return 0;
}

static int xb_server_open(struct xb_server *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1, fd;

	fd = socket(s->addr.ss_family,
		    (s->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto err;
	if (s->busy_poll) {
		xb_set_busy_poll(fd);
		/* The TCP accept() spins too. */
		if (s->tcp && fcntl(fd, F_SETFL, O_NONBLOCK))
			goto err;
	} else if (xb_set_timeo(fd, SO_RCVTIMEO, XB_SERVER_POLL_NS)) {
		goto err;
	}
	if (bind(fd, (struct sockaddr *)&s->addr, s->addr_len))
		goto err;
	if (s->tcp && listen(fd, XB_LISTEN_BACKLOG))
		goto err;
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		goto err;
	s->port = xb_get_port(&ss);
	s->fd = fd;
	return 0;
err:
	one = -errno;
	close(fd);
	return one;
}

static void *xb_server_thread(void *arg)
{
	struct xb_server *s = arg;
	char a[INET6_ADDRSTRLEN + 8];
	int ret = 0;

	if (s->netns && (ret = xb_setns(s->netns))) {
		snprintf(s->err, sizeof(s->err), "server: setns %s: %s",
			 s->netns, strerror(-ret));
		goto ready;
	}
	if (s->cpu >= 0 && (ret = xb_pin_cpu(s->cpu))) {
		snprintf(s->err, sizeof(s->err), "server: CPU %d: %s", s->cpu,
			 strerror(-ret));
		goto ready;
	}
	ret = xb_server_open(s);
	if (ret)
		snprintf(s->err, sizeof(s->err), "server: %s %s: %s",
			 s->tcp ? "tcp" : "udp",
			 xb_sockaddr_str(&s->addr, a, sizeof(a)),
			 strerror(-ret));
ready:
	pthread_mutex_lock(&s->mu);
	s->state = ret ? -1 : 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (ret)
		return (void *)(intptr_t)ret;

	if (s->tcp)
		ret = xb_tcp_echo(s);
	else
		ret = xb_udp_echo(s->fd, s->busy_poll, &s->stop, &s->echoed,
				  &s->last_peer);
	if (ret)
		snprintf(s->err, sizeof(s->err), "server: %s", strerror(-ret));
	close(s->fd);
	s->fd = -1;
	return (void *)(intptr_t)ret;
}

int xb_server_start(struct xb_server *s)
{
	int ret;

	s->fd = -1;
	s->stop = 0;
	s->state = 0;
	s->echoed = 0;
	s->err[0] = '\0';
	memset(&s->last_peer, 0, sizeof(s->last_peer));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	ret = xb_thread_start(&s->thread, xb_server_thread, s);
	if (ret) {
		snprintf(s->err, sizeof(s->err), "server thread: %s",
			 strerror(-ret));
		goto err;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->state)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (s->state > 0)
		return 0;
	pthread_join(s->thread, NULL);
	ret = -EIO;
err:
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	return ret;
}

int xb_server_stop(struct xb_server *s)
{
	void *ret;

	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	pthread_join(s->thread, &ret);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	return (int)(intptr_t)ret;
}

/* --- clients -------------------------------------------------------------- */

struct xb_conn {
	struct xb_client *c;
	int fd;
	uint32_t seq;
	uint16_t next_port;
	bool rcvtimeo_short; /* SO_RCVTIMEO below the full timeout */
	char *tx, *rx;
};

void xb_probe_fill(char *buf, uint32_t seq, uint64_t tx_ns)
{
	struct zh_probe p = {
		.magic = ZH_PROBE_MAGIC,
		.seq = seq,
		.tx_ns = tx_ns,
	};

	memcpy(buf, &p, sizeof(p));
}

static bool xb_probe_is(const char *buf, uint32_t seq)
{
	struct zh_probe p;

	memcpy(&p, buf, sizeof(p));
	return p.magic == ZH_PROBE_MAGIC && p.seq == seq;
}

bool xb_payload_is_reply(const void *buf, size_t len, size_t size, uint32_t seq)
{
	return len == size && size >= sizeof(struct zh_probe) &&
	       xb_probe_is(buf, seq);
}

/*
 * A UDP socket connected to the server; @sport 0 lets connect() pick the
 * source port. -EADDRINUSE when @sport is taken.
 */
static int xb_udp_open(struct xb_conn *k, uint16_t sport)
{
	struct xb_client *c = k->c;
	char a[INET6_ADDRSTRLEN + 8];
	int fd, ret;

	fd = socket(c->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return zh_errf(c->err, sizeof(c->err), -errno, "udp socket: %s",
			       strerror(errno));
	if (sport) {
		struct sockaddr_storage src;

		memset(&src, 0, sizeof(src));
		src.ss_family = c->dst.ss_family;
		xb_set_port(&src, sport);
		if (bind(fd, (struct sockaddr *)&src, c->dst_len)) {
			ret = -errno;
			close(fd);
			if (ret == -EADDRINUSE)
				return ret;
			return zh_errf(c->err, sizeof(c->err), ret,
				       "udp bind port %u: %s", sport,
				       strerror(-ret));
		}
	}
	if (connect(fd, (struct sockaddr *)&c->dst, c->dst_len)) {
		ret = -errno;
		close(fd);
		return zh_errf(c->err, sizeof(c->err), ret,
			       "udp connect %s: %s",
			       xb_sockaddr_str(&c->dst, a, sizeof(a)),
			       strerror(-ret));
	}
	if (c->busy_poll) {
		xb_set_busy_poll(fd);
	} else if (xb_set_timeo(fd, SO_RCVTIMEO, c->udp_timeout_ns)) {
		ret = -errno;
		close(fd);
		return zh_errf(c->err, sizeof(c->err), ret, "SO_RCVTIMEO: %s",
			       strerror(-ret));
	}
	k->fd = fd;
	k->rcvtimeo_short = false;
	return 0;
}

/* udp-newflow: a socket on the next free source port of the cycle. */
static int xb_udp_open_next(struct xb_conn *k)
{
	struct xb_client *c = k->c;
	unsigned int tries;
	int ret;

	if (!c->port_first)
		return xb_udp_open(k, 0);
	for (tries = 0; tries <= (unsigned int)(c->port_last - c->port_first);
	     tries++) {
		uint16_t port = k->next_port;

		k->next_port = port == c->port_last ? c->port_first : port + 1;
		ret = xb_udp_open(k, port);
		if (ret != -EADDRINUSE)
			return ret;
	}
	return zh_errf(c->err, sizeof(c->err), -EADDRINUSE,
		       "udp: no free source port in %u-%u", c->port_first,
		       c->port_last);
}

/*
 * One UDP request: send, wait for the reply with the same sequence. 1 with
 * *rtt_ns on a reply, 0 on a timeout (or a stop while waiting), negative
 * errno on a socket error.
 */
static int xb_udp_request(struct xb_conn *k, uint64_t *rtt_ns, bool from)
{
	struct xb_client *c = k->c;
	int flags = c->busy_poll ? MSG_DONTWAIT : 0;
	char a[INET6_ADDRSTRLEN + 8], b[INET6_ADDRSTRLEN + 8];
	struct sockaddr_storage src;
	uint64_t t0, now, deadline;
	socklen_t slen = sizeof(src);
	bool retried = false;
	ssize_t n;

	k->seq++;
	if (k->rcvtimeo_short) {
		if (xb_set_timeo(k->fd, SO_RCVTIMEO, c->udp_timeout_ns))
			return zh_errf(c->err, sizeof(c->err), -errno,
				       "SO_RCVTIMEO: %s", strerror(errno));
		k->rcvtimeo_short = false;
	}

again:
	t0 = xb_now_ns();
	xb_probe_fill(k->tx, k->seq, t0);
	n = send(k->fd, k->tx, c->size, 0);
	if (n < 0) {
		/*
		 * An ICMP error from an earlier request (server not up yet)
		 * is reported once on the next call: retry once.
		 */
		if (errno == ECONNREFUSED && !retried) {
			retried = true;
			goto again;
		}
		if (errno == EINTR || errno == ECONNREFUSED)
			return 0;
		/*
		 * Netfilter dropped it on the sender's own node (kubeproxy-
		 * host: conntrack or the masquerade's ports towards the one
		 * backend exhausted at a high new-flow rate): a lost request,
		 * as the same drop of a forwarded packet is on the other
		 * paths, and counted so.
		 */
		if (errno == EPERM)
			return 0;
		return zh_errf(c->err, sizeof(c->err), -errno, "udp send: %s",
			       strerror(errno));
	}
	deadline = t0 + c->udp_timeout_ns;

	for (;;) {
		slen = sizeof(src);
		n = recvfrom(k->fd, k->rx, XB_BUF_SIZE, flags,
			     from ? (struct sockaddr *)&src : NULL,
			     from ? &slen : NULL);
		now = xb_now_ns();
		if (n >= 0 && from && !xb_sockaddr_eq(&src, &c->dst))
			return zh_errf(
				c->err, sizeof(c->err), -EPROTO,
				"udp-crr: the reply reads as from %s, not %s (the address connected to)",
				xb_sockaddr_str(&src, a, sizeof(a)),
				xb_sockaddr_str(&c->dst, b, sizeof(b)));
		if (n >= 0) {
			if (xb_payload_is_reply(k->rx, (size_t)n, c->size,
						k->seq)) {
				*rtt_ns = now - t0;
				return 1;
			}
			pr_debug("discarding a %zd-byte reply (want seq %u)\n",
				 n, k->seq);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!c->busy_poll)
				return 0; /* SO_RCVTIMEO expired */
		} else if (errno == ECONNREFUSED) {
			/* Nobody listening (yet): wait out the timeout. */
			pr_debug("recv: %s\n", strerror(errno));
		} else if (errno != EINTR) {
			return zh_errf(c->err, sizeof(c->err), -errno,
				       "udp recv: %s", strerror(errno));
		}
		if (xb_stop || now >= deadline)
			return 0;
		/* Blocking again: only for the rest of this request's timeout. */
		if (!c->busy_poll) {
			if (xb_set_timeo(k->fd, SO_RCVTIMEO, deadline - now))
				return zh_errf(c->err, sizeof(c->err), -errno,
					       "SO_RCVTIMEO: %s",
					       strerror(errno));
			k->rcvtimeo_short = true;
		}
	}
}

static int xb_tcp_connect(struct xb_conn *k, uint64_t *t0)
{
	struct xb_client *c = k->c;
	char a[INET6_ADDRSTRLEN + 8];
	int fd, ret;

	fd = socket(c->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return zh_errf(c->err, sizeof(c->err), -errno, "tcp socket: %s",
			       strerror(errno));
	xb_set_nodelay(fd);
	if (c->busy_poll)
		xb_set_busy_poll(fd);
	/* SO_SNDTIMEO bounds connect() too. */
	if (xb_set_timeo(fd, SO_SNDTIMEO, c->tcp_timeout_ns) ||
	    (!c->busy_poll &&
	     xb_set_timeo(fd, SO_RCVTIMEO, c->tcp_timeout_ns))) {
		ret = -errno;
		close(fd);
		return zh_errf(c->err, sizeof(c->err), ret, "tcp timeouts: %s",
			       strerror(-ret));
	}
	*t0 = xb_now_ns();
	if (connect(fd, (struct sockaddr *)&c->dst, c->dst_len)) {
		ret = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		close(fd);
		if (ret == -EINTR && xb_stop)
			return ret;
		return zh_errf(c->err, sizeof(c->err), ret,
			       "tcp connect %s: %s",
			       xb_sockaddr_str(&c->dst, a, sizeof(a)),
			       strerror(-ret));
	}
	k->fd = fd;
	return 0;
}

/*
 * One TCP request on k->fd: 1 with *rtt_ns from @t0 to the whole reply, 0
 * when stopped, negative errno when the connection failed or timed out.
 */
static int xb_tcp_request(struct xb_conn *k, uint64_t t0, uint64_t *rtt_ns)
{
	struct xb_client *c = k->c;
	int flags = c->busy_poll ? MSG_DONTWAIT : 0;
	uint64_t deadline;
	size_t got = 0;
	int ret;

	k->seq++;
	xb_probe_fill(k->tx, k->seq, xb_now_ns());
	ret = xb_send_all(k->fd, k->tx, c->size, NULL);
	if (ret)
		return xb_stop ? 0 :
				 zh_errf(c->err, sizeof(c->err), ret,
					 "tcp send: %s", strerror(-ret));
	deadline = xb_now_ns() + c->tcp_timeout_ns;
	while (got < c->size) {
		ssize_t n = recv(k->fd, k->rx + got, c->size - got, flags);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return zh_errf(c->err, sizeof(c->err), -ECONNRESET,
				       "tcp: the server closed the connection");
		if (errno == EINTR || (errno == EAGAIN && c->busy_poll)) {
			if (xb_stop)
				return 0;
			if (xb_now_ns() < deadline)
				continue;
			errno = EAGAIN;
		}
		if (errno == EAGAIN)
			return zh_errf(c->err, sizeof(c->err), -ETIMEDOUT,
				       "tcp: no reply in %" PRIu64 " ms",
				       c->tcp_timeout_ns / 1000000);
		return zh_errf(c->err, sizeof(c->err), -errno, "tcp recv: %s",
			       strerror(errno));
	}
	*rtt_ns = xb_now_ns() - t0;
	if (!xb_probe_is(k->rx, k->seq))
		return zh_errf(c->err, sizeof(c->err), -EPROTO,
			       "tcp: the reply is not the request");
	return 1;
}

/* Close with a reset: no TIME_WAIT, so ports and conntrack entries do not
 * pile up over hundreds of thousands of connections. */
static void xb_tcp_abort(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* One request of the workload: 1 sample, 0 lost (UDP) or stopped, < 0 err. */
static int xb_client_once(struct xb_conn *k, uint64_t *rtt)
{
	struct xb_client *c = k->c;
	uint64_t t0;
	int ret;

	switch (c->wl) {
	case XB_WL_UDP_RR:
		return xb_udp_request(k, rtt, false);
	case XB_WL_UDP_NEWFLOW:
		ret = xb_udp_open_next(k);
		if (ret)
			return ret;
		ret = xb_udp_request(k, rtt, false);
		close(k->fd);
		k->fd = -1;
		return ret;
	case XB_WL_UDP_CRR:
		t0 = xb_now_ns();
		ret = xb_udp_open(k, 0);
		if (ret)
			return ret;
		ret = xb_udp_request(k, rtt, true);
		close(k->fd);
		k->fd = -1;
		if (ret == 1)
			*rtt = xb_now_ns() - t0;
		return ret;
	case XB_WL_TCP_RR:
		return xb_tcp_request(k, xb_now_ns(), rtt);
	case XB_WL_TCP_CRR:
		ret = xb_tcp_connect(k, &t0);
		if (ret)
			return ret == -EINTR && xb_stop ? 0 : ret;
		ret = xb_tcp_request(k, t0, rtt);
		xb_tcp_abort(k->fd);
		k->fd = -1;
		return ret;
	default:
		return -EINVAL;
	}
}

int xb_client_loop(struct xb_client *c, int (*once)(void *arg, uint64_t *rtt),
		   void *arg)
{
	uint64_t i, rtt, end_ns = 0;
	int ret;

	for (i = 0; i < c->warmup && !xb_stop; i++) {
		ret = once(arg, &rtt);
		if (ret < 0)
			return ret;
	}

	if (c->duration > 0)
		end_ns = xb_now_ns() + (uint64_t)(c->duration * 1e9);
	for (i = 0; !xb_stop; i++) {
		if (end_ns ? xb_now_ns() >= end_ns : i >= c->count)
			break;
		ret = once(arg, &rtt);
		if (ret < 0)
			return ret;
		/* A request cut short by a signal is neither sample nor loss. */
		if (ret == 0 && xb_stop)
			break;
		if (ret == 0) {
			c->samples->lost++;
			continue;
		}
		ret = xb_samples_add(c->samples, rtt);
		if (ret)
			return zh_errf(c->err, sizeof(c->err), ret,
				       "out of memory for samples");
	}
	return 0;
}

static int xb_client_once_cb(void *arg, uint64_t *rtt)
{
	return xb_client_once(arg, rtt);
}

int xb_client_run(struct xb_client *c)
{
	struct xb_conn k = { .c = c, .fd = -1 };
	uint64_t t0;
	size_t j;
	int ret;

	c->err[0] = '\0';
	k.tx = malloc(XB_BUF_SIZE);
	k.rx = malloc(XB_BUF_SIZE);
	if (!k.tx || !k.rx) {
		ret = zh_errf(c->err, sizeof(c->err), -ENOMEM, "out of memory");
		goto out;
	}
	/* A recognisable filler after the probe; the server echoes it. */
	for (j = 0; j < c->size; j++)
		k.tx[j] = (char)('a' + j % 26);
	/* Random start: replies to an earlier run's requests never match. */
	k.seq = (uint32_t)(xb_now_ns() ^ ((uint64_t)getpid() << 16));
	k.next_port = c->port_next >= c->port_first &&
				      c->port_next <= c->port_last ?
			      c->port_next :
			      c->port_first;

	if (c->wl == XB_WL_UDP_RR)
		ret = xb_udp_open(&k, 0);
	else if (c->wl == XB_WL_TCP_RR)
		ret = xb_tcp_connect(&k, &t0);
	else
		ret = 0;
	if (!ret)
		ret = xb_client_loop(c, xb_client_once_cb, &k);
out:
	c->port_next = k.next_port;
	if (k.fd >= 0)
		close(k.fd);
	free(k.tx);
	free(k.rx);
	return ret;
}

static void *xb_client_thread(void *arg)
{
	struct xb_client *c = arg;
	int ret;

	if (c->netns && (ret = xb_setns(c->netns)))
		return (void *)(intptr_t)zh_errf(c->err, sizeof(c->err), ret,
						 "client: setns %s: %s",
						 c->netns, strerror(-ret));
	if (c->cpu >= 0 && (ret = xb_pin_cpu(c->cpu)))
		return (void *)(intptr_t)zh_errf(c->err, sizeof(c->err), ret,
						 "client: CPU %d: %s", c->cpu,
						 strerror(-ret));
	return (void *)(intptr_t)xb_client_run(c);
}

int xb_client_run_thread(struct xb_client *c)
{
	pthread_t t;
	void *ret;
	int err;

	c->err[0] = '\0';
	err = xb_thread_start(&t, xb_client_thread, c);
	if (err)
		return zh_errf(c->err, sizeof(c->err), err, "client thread: %s",
			       strerror(-err));
	pthread_join(t, &ret);
	return (int)(intptr_t)ret;
}
