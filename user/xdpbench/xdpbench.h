/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xdpbench.h - shared by the xdpbench commands: samples and percentiles
 * (samples.c) and the request/response engines (rr.c). Functions return 0
 * or a negative errno unless they say otherwise.
 */
#ifndef XDPBENCH_H
#define XDPBENCH_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define XB_EXIT_OK 0
#define XB_EXIT_FAIL 1
#define XB_EXIT_USAGE 2

#define XB_DEFAULT_PORT 7777
#define XB_DEFAULT_SIZE 64
#define XB_MIN_SIZE 16 /* sizeof(struct zh_probe) */
#define XB_MAX_SIZE 65507 /* largest UDP payload over IPv4 */
#define XB_BUF_SIZE 65536
#define XB_DEFAULT_WARMUP 100

/* Set by SIGINT/SIGTERM: every loop of every thread checks it. */
extern volatile sig_atomic_t xb_stop;
int xb_signals_install(void);
uint64_t xb_now_ns(void);

/* --- samples.c: exact nearest-rank percentiles over kept samples --------- */

struct xb_samples {
	uint64_t *ns;
	size_t n, cap;
	/*
	 * 0: keep every sample. Otherwise at most @limit are kept: past it a
	 * uniform reservoir (algorithm R) over all of them, so percentiles
	 * stay unbiased but are no longer exact. min, max, mean and count are
	 * exact either way.
	 */
	size_t limit;
	uint64_t seen, lost;
	uint64_t min, max;
	long double sum;
	uint64_t rng;
};

struct xb_summary {
	uint64_t count, lost;
	bool exact; /* every sample was kept */
	double min, p50, p90, p99, p999, max, mean; /* microseconds */
};

int xb_samples_add(struct xb_samples *s, uint64_t ns);
void xb_samples_free(struct xb_samples *s);
/* Nearest rank over @n sorted samples: the smallest sample with at least
 * p% of the samples <= it. In microseconds. */
double xb_rank_us(const uint64_t *sorted, size_t n, double p);
/* Sorts the kept samples in place. */
void xb_summarise(struct xb_samples *s, struct xb_summary *out);
int xb_samples_write(const struct xb_samples *s, const char *label,
		     const char *path);
int xb_samples_read(struct xb_samples *s, const char *path);

/* --- rr.c: request/response over UDP and TCP ------------------------------ */

enum xb_workload {
	XB_WL_UDP_RR,
	XB_WL_UDP_NEWFLOW,
	XB_WL_TCP_RR,
	XB_WL_TCP_CRR,
	XB_WL_MAX,
};

extern const char *const xb_workload_names[XB_WL_MAX];
bool xb_workload_is_tcp(enum xb_workload wl);

/*
 * An echo server in a thread of its own, in network namespace @netns (a
 * path; NULL: the caller's). xb_server_start() returns once the socket is
 * bound (and listening) with @port filled in, or with the error.
 */
struct xb_server {
	const char *netns;
	bool tcp, busy_poll;
	int cpu; /* -1: any */
	struct sockaddr_storage addr; /* port 0: the kernel picks one */
	socklen_t addr_len;
	/* out */
	uint16_t port;
	uint64_t echoed;
	struct sockaddr_storage last_peer;
	char err[160];
	/* private */
	int fd, stop, state;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

int xb_server_start(struct xb_server *s);
/* Stop and join; returns the thread's error, if it had one. */
int xb_server_stop(struct xb_server *s);
/* The UDP echo loop, on a bound socket: until xb_stop or *@stop. */
int xb_udp_echo(int fd, bool busy_poll, const int *stop, uint64_t *echoed,
		struct sockaddr_storage *last_peer);

/*
 * A client: @warmup unmeasured requests, then measured ones for @duration
 * seconds (or @count requests when @duration is 0), into @samples.
 */
struct xb_client {
	const char *netns;
	enum xb_workload wl;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	size_t size;
	bool busy_poll;
	int cpu;
	uint64_t warmup, count;
	double duration;
	uint64_t udp_timeout_ns, tcp_timeout_ns;
	/* udp-newflow: bind source ports first..last in turn (0: the kernel's
	 * choice), so that a 4-tuple comes back only after a full cycle. */
	uint16_t port_first, port_last;
	uint16_t port_next; /* in and out: where the cycle goes on */
	struct xb_samples *samples;
	/* out */
	char err[160];
};

/* Run the client in the calling thread, or in a thread of its own (needed
 * with a netns or a CPU: both are per thread) and wait for it. */
int xb_client_run(struct xb_client *c);
int xb_client_run_thread(struct xb_client *c);

/* Parse "ADDR" with @port into a socket address of its family. */
int xb_resolve(const char *host, uint16_t port, bool passive,
	       struct sockaddr_storage *ss, socklen_t *len);
const char *xb_sockaddr_str(const struct sockaddr_storage *ss, char *buf,
			    size_t len);

#endif /* XDPBENCH_H */
