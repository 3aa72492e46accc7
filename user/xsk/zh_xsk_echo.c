// SPDX-License-Identifier: Apache-2.0
/*
 * zh_xsk_echo.c - a UDP echo server on AF_XDP, written against zh_xsk.h
 * only (plus zh_abi.h for the latency probe): what a pod process does with
 * libzerohop-xsk. Every UDP datagram goes back to its sender from the frame
 * it arrived in; a latency probe (struct zh_probe) gets tx_ns re-stamped
 * on the way.
 */
#define _GNU_SOURCE /* strerrorname_np() */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zh_abi.h"
#include "zh_xsk.h"

#define BATCH 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zh-xsk-echo [options]\n"
		"  UDP echo server on an AF_XDP socket registered with zerohopd.\n"
		"  --iface NAME     interface (default eth0)\n"
		"  --queue N        queue (default 0)\n"
		"  --socket PATH    the agent's socket (default $%s or %s)\n"
		"  --bind MODE      auto|copy|zerocopy (default auto)\n"
		"  --busy-poll US   SO_BUSY_POLL (and SO_PREFER_BUSY_POLL)\n"
		"  --frames N       UMEM frames of 2048 bytes (default 2048: 4 MiB,\n"
		"                   counted against the user's RLIMIT_MEMLOCK)\n"
		"  --spin           spin on receive instead of waiting in "
		"poll()\n"
		"  --count N        exit 0 after answering N datagrams\n"
		"  --timeout S      exit 1 after S seconds without a datagram\n"
		"  -h, --help       this text\n",
		ZH_XSK_AGENT_ENV, ZH_XSK_AGENT_PATH);
}

static int parse_num(const char *s, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "off", "on", "refused (EPERM)": what became of one socket option. */
static const char *opt_state(int v, char *buf, size_t len)
{
	const char *name;

	if (v == 0)
		return "off";
	if (v > 0)
		return "on";
	name = strerrorname_np(-v);
	snprintf(buf, len, "refused (%s)", name ? name : strerror(-v));
	return buf;
}

static void print_opened(const struct zh_xsk_info *in)
{
	char a[48], b[48], c[48];

	printf("zh-xsk-echo: %s queue %u: %s mode, %s XDP, busy-poll %s",
	       in->ifname, in->queue,
	       in->mode == ZH_XSK_MODE_ZEROCOPY ? "zero-copy" : "copy",
	       in->xdp_mode == ZH_XSK_XDP_NATIVE ? "native" : "generic",
	       opt_state(in->busy_poll, a, sizeof(a)));
	/* only when busy polling is on and a companion option was not */
	if (in->busy_poll > 0 && in->prefer_busy_poll < 0)
		printf(", prefer-busy-poll %s",
		       opt_state(in->prefer_busy_poll, b, sizeof(b)));
	if (in->busy_poll > 0 && in->busy_poll_budget < 0)
		printf(", budget %s",
		       opt_state(in->busy_poll_budget, c, sizeof(c)));
	printf("\n");
	fflush(stdout);
}

/*
 * Turn one received frame into its answer, in place: 1 to send it, 0 to
 * drop it. A probe is stamped before the swap, because the swap computes
 * the checksum over the payload as it then is; the payload does not move.
 */
static int answer(struct zh_xsk_frame *f)
{
	struct zh_probe probe;
	__u32 plen;
	void *pl;

	pl = zh_xsk_udp_payload(f->data, f->len, &plen);
	if (!pl)
		return 0;
	if (plen >= sizeof(probe)) {
		memcpy(&probe, pl, sizeof(probe));
		if (probe.magic == ZH_PROBE_MAGIC) {
			probe.tx_ns = (__u64)now_ns();
			memcpy(pl, &probe, sizeof(probe));
		}
	}
	return zh_xsk_udp_swap(f->data, f->len) == 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "queue", required_argument, NULL, 'q' },
		{ "socket", required_argument, NULL, 's' },
		{ "bind", required_argument, NULL, 'b' },
		{ "busy-poll", required_argument, NULL, 'B' },
		{ "spin", no_argument, NULL, 'S' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "frames", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct zh_xsk_frame rx[BATCH], tx[BATCH], drop[BATCH];
	unsigned long long received = 0, answered = 0, dropped = 0;
	long long count = 0, timeout_s = 0, v, last;
	struct zh_xsk_opts o = { 0 };
	struct sigaction sa;
	struct zh_xsk *x;
	char err[256];
	int spin = 0, rc, opt, li = 0, status = 0;

	while ((opt = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
		switch (opt) {
		case 'i':
			o.ifname = optarg;
			break;
		case 'q':
			if (parse_num(optarg, UINT_MAX, &v))
				goto bad_value;
			o.queue = (__u32)v;
			break;
		case 's':
			o.agent_path = optarg;
			break;
		case 'b':
			if (!strcmp(optarg, "auto"))
				o.bind = ZH_XSK_BIND_AUTO;
			else if (!strcmp(optarg, "copy"))
				o.bind = ZH_XSK_BIND_COPY;
			else if (!strcmp(optarg, "zerocopy"))
				o.bind = ZH_XSK_BIND_ZEROCOPY;
			else
				goto bad_value;
			break;
		case 'B':
			if (parse_num(optarg, INT_MAX, &v))
				goto bad_value;
			o.busy_poll_us = (int)v;
			break;
		case 'S':
			spin = 1;
			break;
		case 'f':
			if (parse_num(optarg, 1 << 20, &v) || v < 64)
				goto bad_value;
			o.frames = (__u32)v;
			break;
		case 'c':
			if (parse_num(optarg, LLONG_MAX, &count))
				goto bad_value;
			break;
		case 't':
			if (parse_num(optarg, INT_MAX / 1000, &timeout_s))
				goto bad_value;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		continue;
bad_value:
		/* every option with a value is long-only: li names it */
		fprintf(stderr, "zh-xsk-echo: invalid value for --%s: %s\n",
			longopts[li].name, optarg);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "zh-xsk-echo: unexpected argument: %s\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	/* no SA_RESTART: a signal must interrupt the poll() in zh_xsk_wait */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = zh_xsk_open(&o, &x, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "zh-xsk-echo: %s\n", err);
		return 1;
	}
	print_opened(zh_xsk_info(x));

	last = now_ns();
	while (!stop) {
		unsigned n, i, nt = 0, nd = 0, sent;

		n = zh_xsk_recv(x, rx, BATCH);
		if (!n) {
			if (timeout_s &&
			    now_ns() - last >= timeout_s * 1000000000LL) {
				fprintf(stderr,
					"zh-xsk-echo: no datagram for %lld s\n",
					timeout_s);
				status = 1;
				break;
			}
			if (spin)
				continue;
			/* wake up now and then: for the idle timeout, and
			 * for a signal that lands just before poll() */
			rc = zh_xsk_wait(x, timeout_s ? 100 : 500);
			if (rc < 0 && rc != -EINTR) {
				fprintf(stderr, "zh-xsk-echo: wait: %s\n",
					strerror(-rc));
				status = 1;
				break;
			}
			continue;
		}
		last = now_ns();
		received += n;
		for (i = 0; i < n; i++) {
			if (answer(&rx[i]))
				tx[nt++] = rx[i];
			else
				drop[nd++] = rx[i];
		}
		sent = zh_xsk_send(x, tx, nt);
		/* the TX ring was full: those are dropped too */
		zh_xsk_release(x, tx + sent, nt - sent);
		zh_xsk_release(x, drop, nd);
		answered += sent;
		dropped += nd + (nt - sent);
		if (count && answered >= (unsigned long long)count)
			break;
	}

	/* the last answers must leave before the socket goes */
	zh_xsk_flush(x, 1000);
	zh_xsk_close(x);
	fprintf(stderr,
		"zh-xsk-echo: received %llu, answered %llu, dropped %llu\n",
		received, answered, dropped);
	return status;
}
