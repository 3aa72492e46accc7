// SPDX-License-Identifier: Apache-2.0
/*
 * xsk.c - the zerohop-afxdp path's pod processes, on libzerohop-xsk
 * (zh_xsk.h): `xdpbench server --afxdp` and `xdpbench client --afxdp`.
 *
 * Each opens an AF_XDP socket on the pod's eth0 and hands it to the node's
 * agent, which identifies the pod by the caller's pid: the process's main
 * thread must be in the pod's network namespace (the zerohop-afxdp path
 * starts these as processes of their own, never as threads).
 *
 * Both spin on zh_xsk_recv(): on a veth there is no NAPI to busy-poll and
 * no need to wake the kernel for RX in copy mode, so an empty receive is
 * no syscall at all, and spinning is the only way to wait without one.
 * The one syscall per packet is the TX kick, a sendto() that on a veth
 * runs the whole one-way trip to the peer's ring on the sender's CPU.
 *
 *   server  every UDP datagram to its port goes back from the frame it came
 *           in: zh_xsk_udp_swap() in place, zh_xsk_send() (which kicks);
 *           the TX completion is reaped by the next zh_xsk_recv().
 *   client  a request is a frame from the free list, built with
 *           zh_xsk_udp_build() (gateway MAC and own address from the
 *           agent's reply) to the server's IP:port, then zh_xsk_recv()
 *           until the reply with its sequence arrives; every frame
 *           received goes back with zh_xsk_release(), nothing is copied
 *           but the request's payload. Timed with CLOCK_MONOTONIC from
 *           before the frame is built to when the reply is seen, into the
 *           same samples as every other client (xb_client_loop()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "xdpbench.h"
#include "zh_abi.h"
#include "zh_xsk.h"

/* Frames per zh_xsk_recv(): one request is outstanding, a batch is for
 * strays (a late reply to a request that timed out). */
#define XB_XSK_BATCH 16
#define XB_UDP_HLEN 8

static int xb_xsk_open(const struct xb_xsk_opts *xo, struct zh_xsk **x,
		       char *err, size_t errlen)
{
	struct zh_xsk_opts o = {
		.ifname = xo->ifname,
		.agent_path = xo->agent_path,
	};
	char why[256];
	int ret;

	ret = zh_xsk_open(&o, x, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "AF_XDP: %s", why);
	return ret;
}

static void xb_xsk_describe(const struct zh_xsk *x, char *buf, size_t len)
{
	const struct zh_xsk_info *in = zh_xsk_info(x);

	snprintf(buf, len, "%s queue %u, %s mode, %s XDP", in->ifname,
		 in->queue,
		 in->mode == ZH_XSK_MODE_ZEROCOPY ? "zero-copy" : "copy",
		 in->xdp_mode == ZH_XSK_XDP_NATIVE ? "native" : "generic");
}

int xb_xsk_dport(void *frame, uint32_t len)
{
	uint8_t *pl = zh_xsk_udp_payload(frame, len, NULL);

	/* The UDP header sits right before its payload. */
	if (!pl)
		return -EINVAL;
	return (int)((uint16_t)pl[-XB_UDP_HLEN + 2] << 8 |
		     pl[-XB_UDP_HLEN + 3]);
}

bool xb_xsk_is_reply(void *frame, uint32_t len, size_t size, uint32_t seq)
{
	__u32 plen;
	void *pl = zh_xsk_udp_payload(frame, len, &plen);

	return pl && xb_payload_is_reply(pl, plen, size, seq);
}

/* --- server ---------------------------------------------------------------- */

int xb_xsk_echo(const struct xb_xsk_opts *xo, uint16_t port, uint64_t *echoed,
		char *err, size_t errlen)
{
	struct zh_xsk_frame rx[XB_XSK_BATCH], tx[XB_XSK_BATCH],
		drop[XB_XSK_BATCH];
	uint64_t dropped = 0;
	struct zh_xsk *x;
	char desc[128];
	int ret;

	ret = xb_xsk_open(xo, &x, err, errlen);
	if (ret)
		return ret;
	xb_xsk_describe(x, desc, sizeof(desc));
	pr_info("AF_XDP server: %s\n", desc);
	pr_info("echoing UDP port %u, spinning\n", port);
	while (!xb_stop) {
		unsigned int n, i, nt = 0, nd = 0, sent;

		n = zh_xsk_recv(x, rx, XB_XSK_BATCH);
		if (!n)
			continue;
		for (i = 0; i < n; i++) {
			if (xb_xsk_dport(rx[i].data, rx[i].len) == port &&
			    !zh_xsk_udp_swap(rx[i].data, rx[i].len))
				tx[nt++] = rx[i];
			else
				drop[nd++] = rx[i];
		}
		/* Sent in place: the frames are the library's again once
		 * the kernel completes them. */
		sent = zh_xsk_send(x, tx, nt);
		if (sent < nt)
			zh_xsk_release(x, tx + sent, nt - sent);
		if (nd)
			zh_xsk_release(x, drop, nd);
		*echoed += sent;
		dropped += nd + nt - sent;
	}
	/* The last answers leave before the socket goes. */
	ret = zh_xsk_flush(x, 1000);
	if (ret)
		pr_warn("AF_XDP server: flush: %s\n", strerror(-ret));
	zh_xsk_close(x);
	if (dropped)
		pr_info("AF_XDP server: %" PRIu64 " frames not echoed\n",
			dropped);
	return 0;
}

/* --- client ---------------------------------------------------------------- */

struct xb_xsk_client {
	struct xb_client *c;
	struct zh_xsk *x;
	const struct zh_xsk_addrs *self;
	struct in_addr dst;
	uint16_t dport, sport;
	uint32_t seq;
	char *tx; /* the payload: probe and filler */
};

/* The source port of the next request: one for udp-rr, the next of the
 * cycle for udp-newflow. */
static uint16_t xb_xsk_sport(struct xb_xsk_client *k)
{
	struct xb_client *c = k->c;
	uint16_t port;

	if (c->wl != XB_WL_UDP_NEWFLOW)
		return k->sport;
	port = c->port_next;
	c->port_next = port >= c->port_last ? c->port_first : port + 1;
	return port;
}

static int xb_xsk_request(void *arg, uint64_t *rtt)
{
	struct xb_xsk_client *k = arg;
	struct xb_client *c = k->c;
	struct zh_xsk_frame f, rx[XB_XSK_BATCH];
	uint64_t t0, now, deadline;
	int len;

	k->seq++;
	t0 = xb_now_ns();
	if (zh_xsk_alloc(k->x, &f)) {
		snprintf(c->err, sizeof(c->err),
			 "AF_XDP: no free frame (all in flight)");
		return -ENOBUFS;
	}
	xb_probe_fill(k->tx, k->seq, t0);
	/* The payload is copied into the frame once: the request itself. */
	len = zh_xsk_udp_build(f.data, f.len, k->self, &k->dst.s_addr, 4,
			       xb_xsk_sport(k), k->dport, k->tx,
			       (__u32)c->size);
	if (len < 0) {
		zh_xsk_release(k->x, &f, 1);
		snprintf(c->err, sizeof(c->err), "AF_XDP: building a frame: %s",
			 strerror(-len));
		return len;
	}
	f.len = (__u32)len;
	if (zh_xsk_send(k->x, &f, 1) != 1) {
		zh_xsk_release(k->x, &f, 1);
		snprintf(c->err, sizeof(c->err), "AF_XDP: the TX ring is full");
		return -ENOBUFS;
	}
	deadline = t0 + c->udp_timeout_ns;
	for (;;) {
		unsigned int n, i;
		bool match = false;

		n = zh_xsk_recv(k->x, rx, XB_XSK_BATCH);
		now = xb_now_ns();
		for (i = 0; i < n && !match; i++)
			match = xb_xsk_is_reply(rx[i].data, rx[i].len, c->size,
						k->seq);
		if (n)
			zh_xsk_release(k->x, rx, n);
		if (match) {
			*rtt = now - t0;
			return 1;
		}
		if (xb_stop || now >= deadline)
			return 0;
	}
}

int xb_xsk_client_run(struct xb_client *c, const struct xb_xsk_opts *xo)
{
	const struct sockaddr_in *dst = (const void *)&c->dst;
	struct xb_xsk_client k = { .c = c };
	char desc[128];
	size_t j;
	int ret;

	c->err[0] = '\0';
	if (c->wl != XB_WL_UDP_RR && c->wl != XB_WL_UDP_NEWFLOW) {
		snprintf(c->err, sizeof(c->err), "AF_XDP: UDP workloads only");
		return -EINVAL;
	}
	if (dst->sin_family != AF_INET) {
		snprintf(c->err, sizeof(c->err),
			 "AF_XDP: the target must be an IPv4 address");
		return -EINVAL;
	}
	k.dst = dst->sin_addr;
	k.dport = ntohs(dst->sin_port);
	k.sport = xo->sport ? xo->sport : k.dport;
	if (c->wl == XB_WL_UDP_NEWFLOW &&
	    (!c->port_first || c->port_next < c->port_first ||
	     c->port_next > c->port_last))
		c->port_next = c->port_first;
	k.tx = malloc(c->size);
	if (!k.tx) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		return -ENOMEM;
	}
	for (j = 0; j < c->size; j++)
		k.tx[j] = (char)('a' + j % 26);
	k.seq = (uint32_t)(xb_now_ns() ^ ((uint64_t)getpid() << 16));

	ret = xb_xsk_open(xo, &k.x, c->err, sizeof(c->err));
	if (ret)
		goto out;
	k.self = &zh_xsk_info(k.x)->addrs;
	if (!(k.self->addr_flags & ZH_XSK_ADDR_V4)) {
		snprintf(c->err, sizeof(c->err),
			 "AF_XDP: the agent gave the pod no IPv4 address");
		ret = -EADDRNOTAVAIL;
		goto out;
	}
	xb_xsk_describe(k.x, desc, sizeof(desc));
	pr_info("AF_XDP client: %s\n", desc);
	ret = xb_client_loop(c, xb_xsk_request, &k);
out:
	zh_xsk_close(k.x);
	free(k.tx);
	return ret;
}
