// SPDX-License-Identifier: Apache-2.0
/*
 * zh-flows - continuous traffic that counts what it loses, for
 * tests/integration/upgrade.sh: long-lived TCP connections exchanging
 * requests, and UDP request/response, each request numbered and timed.
 *
 *   zh-flows serve [tcp:PORT | udp:PORT]...
 *       echo servers on [::] (IPv4 too), until SIGTERM
 *   zh-flows client [-i MS] [-t MS] -o FILE FLOW...
 *       FLOW: tcp:ADDR:PORT[,N] (N connections, default 1) or
 *       udp:ADDR:PORT (IPv6 in brackets). Every -i MS (default 10) each connection sends its
 *       next request once the last one was answered, and each UDP flow
 *       sends one. SIGUSR1 appends a snapshot line to FILE; SIGTERM stops
 *       sending, waits up to -t MS (default 2000) for what is still
 *       outstanding, appends the last line and exits 0.
 *
 * A line of FILE is JSON: {"final":B,"flows":[{"flow":F,"conns":N,
 * "alive":N,"sent":N,"answered":N,"late":N,"lost":N,"resets":N,
 * "max_rtt_ms":X}]}. "late": outstanding for longer than -t; "lost": in
 * the last line, what was never answered. "resets": TCP connections that
 * ended (reset, EOF, error) before SIGTERM; a connection that ended is not
 * opened again, so the count is what an application would have seen.
 * Counts are from the start: compare two lines for a phase.
 */
#define _GNU_SOURCE /* accept4() */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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

#define MAX_FDS 512
#define MAX_FLOWS 32
#define MSG_LEN 32
/* UDP requests remembered by sequence number: more than a timeout's worth
 * at the shortest interval. */
#define RING 8192

static volatile sig_atomic_t got_term, got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
	    sigaction(SIGUSR1, &sa, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* "ADDR:PORT" (ADDR may be IPv6, bracketed or not: the port is after the
 * last colon) into @ss. */
static int parse_addr(const char *s, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	char buf[128], *colon, *host;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	long port;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	colon = strrchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -EINVAL;
	host = buf;
	if (*host == '[') {
		host++;
		host[strcspn(host, "]")] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

/* --- serve --------------------------------------------------------------- */

enum kind { LISTEN_TCP, LISTEN_UDP, CONN };

static int listener(int type, int port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int zero = 0, one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (type == SOCK_STREAM && listen(fd, 128))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int serve(int argc, char **argv)
{
	struct pollfd pfd[MAX_FDS];
	enum kind kind[MAX_FDS];
	char buf[4096];
	int n = 0;

	for (int i = 0; i < argc; i++) {
		bool tcp = !strncmp(argv[i], "tcp:", 4);
		int fd;

		if (!tcp && strncmp(argv[i], "udp:", 4)) {
			fprintf(stderr,
				"zh-flows: serve: %s: tcp:PORT or udp:PORT\n",
				argv[i]);
			return 2;
		}
		fd = listener(tcp ? SOCK_STREAM : SOCK_DGRAM,
			      atoi(argv[i] + 4));
		if (fd < 0) {
			fprintf(stderr, "zh-flows: serve %s: %s\n", argv[i],
				strerror(-fd));
			return 1;
		}
		pfd[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
		kind[n++] = tcp ? LISTEN_TCP : LISTEN_UDP;
	}
	while (!got_term) {
		if (poll(pfd, n, 200) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			ssize_t r;
			int c;

			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			pfd[i].revents = 0;
			switch (kind[i]) {
			case LISTEN_TCP:
				c = accept4(pfd[i].fd, NULL, NULL,
					    SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (c < 0)
					break;
				if (n == MAX_FDS) {
					close(c);
					break;
				}
				pfd[n] = (struct pollfd){ .fd = c,
							  .events = POLLIN };
				kind[n++] = CONN;
				break;
			case LISTEN_UDP:
				r = recvfrom(pfd[i].fd, buf, sizeof(buf), 0,
					     (struct sockaddr *)&from, &flen);
				if (r > 0)
					sendto(pfd[i].fd, buf, (size_t)r, 0,
					       (struct sockaddr *)&from, flen);
				break;
			case CONN:
				r = read(pfd[i].fd, buf, sizeof(buf));
				if (r > 0 &&
				    write(pfd[i].fd, buf, (size_t)r) == r)
					break;
				if (r < 0 && errno == EAGAIN)
					break;
				/* Gone (or a write that could not keep up,
				 * which a lock-step client never causes). */
				close(pfd[i].fd);
				pfd[i] = pfd[n - 1];
				kind[i] = kind[n - 1];
				n--;
				i--;
				break;
			}
		}
	}
	return 0;
}

/* --- client -------------------------------------------------------------- */

struct flow {
	char name[96];
	bool tcp;
	int conns, alive;
	uint64_t sent, answered, resets, max_rtt_ns;
	/* UDP: the socket and when each request in the ring went out (0:
	 * answered or never sent). */
	int fd;
	uint64_t seq;
	uint64_t *ring;
};

struct conn {
	struct flow *f;
	int fd;
	uint64_t seq, sent_ns; /* sent_ns 0: nothing outstanding */
	size_t got; /* bytes of the answer read so far */
	char buf[MSG_LEN];
	bool dead;
};

static struct flow flows[MAX_FLOWS];
static struct conn conns[MAX_FDS];
static int n_flows, n_conns;
static uint64_t timeout_ns = 2000000000ULL;

/* A connected socket to @ss, made within 3 s (the server may still be
 * starting: refused connections are tried again). */
static int dial(int type, const struct sockaddr_storage *ss, socklen_t len)
{
	uint64_t until = now_ns() + 3000000000ULL;

	for (;;) {
		int fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0);
		int one = 1;

		if (fd < 0)
			return -errno;
		if (type == SOCK_STREAM)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		if (!connect(fd, (const struct sockaddr *)ss, len)) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			return fd;
		}
		close(fd);
		if (errno != ECONNREFUSED || now_ns() > until)
			return -errno;
		usleep(100000);
	}
}

static int flow_add(const char *spec)
{
	struct sockaddr_storage ss;
	struct flow *f = &flows[n_flows];
	char addr[96], *comma;
	socklen_t len;
	int fd;

	if (n_flows == MAX_FLOWS)
		return -E2BIG;
	f->tcp = !strncmp(spec, "tcp:", 4);
	if (!f->tcp && strncmp(spec, "udp:", 4))
		return -EINVAL;
	snprintf(f->name, sizeof(f->name), "%s", spec);
	snprintf(addr, sizeof(addr), "%s", spec + 4);
	f->conns = 1;
	comma = strchr(addr, ',');
	if (comma) {
		*comma = '\0';
		f->conns = f->tcp ? atoi(comma + 1) : 0;
	}
	if (f->conns < 1 || n_conns + f->conns > MAX_FDS ||
	    parse_addr(addr, &ss, &len))
		return -EINVAL;
	if (!f->tcp) {
		f->ring = calloc(RING, sizeof(*f->ring));
		if (!f->ring)
			return -ENOMEM;
		f->fd = dial(SOCK_DGRAM, &ss, len);
		if (f->fd < 0)
			return f->fd;
		n_flows++;
		return 0;
	}
	for (int i = 0; i < f->conns; i++) {
		fd = dial(SOCK_STREAM, &ss, len);
		if (fd < 0)
			return fd;
		conns[n_conns++] = (struct conn){ .f = f, .fd = fd };
	}
	f->alive = f->conns;
	f->fd = -1;
	n_flows++;
	return 0;
}

static void rtt(struct flow *f, uint64_t sent_ns)
{
	uint64_t d = now_ns() - sent_ns;

	f->answered++;
	if (d > f->max_rtt_ns)
		f->max_rtt_ns = d;
}

static void conn_dead(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (!got_term)
		c->f->resets++;
	c->f->alive--;
	close(c->fd);
	c->fd = -1;
}

static void conn_send(struct conn *c)
{
	char msg[MSG_LEN];

	memset(msg, 0, sizeof(msg));
	snprintf(msg, sizeof(msg), "%llu", (unsigned long long)++c->seq);
	/* 32 bytes into an empty socket buffer: written whole or failed. */
	if (write(c->fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
		conn_dead(c);
		return;
	}
	memcpy(c->buf, msg, sizeof(msg));
	c->got = 0;
	c->sent_ns = now_ns();
	c->f->sent++;
}

static void conn_read(struct conn *c)
{
	char in[MSG_LEN];
	ssize_t r = read(c->fd, in, sizeof(in) - c->got);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0 || !c->sent_ns || memcmp(in, c->buf + c->got, (size_t)r)) {
		conn_dead(c);
		return;
	}
	c->got += (size_t)r;
	if (c->got < MSG_LEN)
		return;
	rtt(c->f, c->sent_ns);
	c->sent_ns = 0;
}

static void udp_send(struct flow *f)
{
	uint64_t msg[2] = { ++f->seq, 0 };

	if (send(f->fd, msg, sizeof(msg), 0) != (ssize_t)sizeof(msg))
		return; /* counted as sent, never answered: lost */
	f->ring[f->seq % RING] = now_ns();
	f->sent++;
}

static void udp_read(struct flow *f)
{
	uint64_t msg[2];

	while (recv(f->fd, msg, sizeof(msg), 0) == (ssize_t)sizeof(msg)) {
		uint64_t *slot = &f->ring[msg[0] % RING];

		/* Answered once; a duplicate or a stale number is not. */
		if (msg[0] > f->seq || f->seq - msg[0] >= RING || !*slot)
			continue;
		rtt(f, *slot);
		*slot = 0;
	}
}

/* Requests outstanding for longer than the timeout. */
static uint64_t late(const struct flow *f)
{
	uint64_t n = 0, now = now_ns();

	if (!f->tcp) {
		for (uint64_t i = 0; i < RING; i++)
			n += f->ring[i] && now - f->ring[i] > timeout_ns;
		return n;
	}
	for (int i = 0; i < n_conns; i++)
		n += conns[i].f == f && conns[i].sent_ns &&
		     now - conns[i].sent_ns > timeout_ns;
	return n;
}

static int snapshot(FILE *out, bool final)
{
	fprintf(out, "{\"final\":%s,\"flows\":[", final ? "true" : "false");
	for (int i = 0; i < n_flows; i++) {
		const struct flow *f = &flows[i];

		fprintf(out,
			"%s{\"flow\":\"%s\",\"conns\":%d,\"alive\":%d,\"sent\":%llu,\"answered\":%llu,\"late\":%llu,\"lost\":%llu,\"resets\":%llu,\"max_rtt_ms\":%.3f}",
			i ? "," : "", f->name, f->tcp ? f->conns : 0,
			f->tcp ? f->alive : 0, (unsigned long long)f->sent,
			(unsigned long long)f->answered,
			(unsigned long long)late(f),
			(unsigned long long)(final ? f->sent - f->answered : 0),
			(unsigned long long)f->resets,
			(double)f->max_rtt_ns / 1e6);
	}
	fprintf(out, "]}\n");
	return fflush(out) ? -errno : 0;
}

static bool outstanding(void)
{
	for (int i = 0; i < n_flows; i++)
		if (flows[i].answered < flows[i].sent)
			return true;
	return false;
}

static int client(int argc, char **argv)
{
	uint64_t interval_ns = 10000000ULL, next, stop_at = 0;
	struct pollfd pfd[MAX_FDS + MAX_FLOWS];
	const char *path = NULL;
	FILE *out;
	int opt, err;

	while ((opt = getopt(argc, argv, "+i:t:o:")) != -1) {
		switch (opt) {
		case 'i':
			interval_ns = strtoull(optarg, NULL, 10) * 1000000ULL;
			break;
		case 't':
			timeout_ns = strtoull(optarg, NULL, 10) * 1000000ULL;
			break;
		case 'o':
			path = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!path || optind == argc || !interval_ns) {
		fprintf(stderr,
			"zh-flows: client -o FILE [-i MS] [-t MS] FLOW...\n");
		return 2;
	}
	out = fopen(path, "a");
	if (!out) {
		fprintf(stderr, "zh-flows: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		err = flow_add(argv[i]);
		if (err) {
			fprintf(stderr, "zh-flows: %s: %s\n", argv[i],
				strerror(-err));
			return 1;
		}
	}
	/* Ready: every connection is up. */
	snapshot(out, false);
	next = now_ns();
	for (;;) {
		int n = 0, timeout;
		uint64_t now = now_ns();

		if (got_usr1) {
			got_usr1 = 0;
			snapshot(out, false);
		}
		if (got_term && !stop_at)
			stop_at = now + timeout_ns;
		if (stop_at && (now >= stop_at || !outstanding()))
			break;
		if (!stop_at && now >= next) {
			for (int i = 0; i < n_conns; i++)
				if (!conns[i].dead && !conns[i].sent_ns)
					conn_send(&conns[i]);
			for (int i = 0; i < n_flows; i++)
				if (!flows[i].tcp)
					udp_send(&flows[i]);
			next += interval_ns;
			if (next < now)
				next = now + interval_ns;
		}
		for (int i = 0; i < n_conns; i++)
			pfd[n++] = (struct pollfd){ .fd = conns[i].fd,
						    .events = POLLIN };
		for (int i = 0; i < n_flows; i++)
			pfd[n++] = (struct pollfd){ .fd = flows[i].tcp ?
								  -1 :
								  flows[i].fd,
						    .events = POLLIN };
		now = now_ns();
		timeout = stop_at    ? 10 :
			  next > now ? (int)((next - now) / 1000000ULL) + 1 :
				       0;
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n_conns; i++)
			if (!conns[i].dead &&
			    (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				conn_read(&conns[i]);
		for (int i = 0; i < n_flows; i++)
			if (!flows[i].tcp &&
			    (pfd[n_conns + i].revents & POLLIN))
				udp_read(&flows[i]);
	}
	err = snapshot(out, true);
	fclose(out);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || signals())
		goto usage;
	if (!strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "client"))
		return client(argc - 1, argv + 1);
usage:
	fprintf(stderr,
		"usage: zh-flows serve [tcp:PORT|udp:PORT]...\n"
		"       zh-flows client -o FILE [-i MS] [-t MS] FLOW...\n");
	return 2;
}
