/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * lb_icmp.h - an ICMP error about a Service flow, back to its client as the
 * Service's.
 *
 * A client's flow to a Service leaves DNATed to a backend (lb.h). An ICMP
 * error about one of its packets - the backend's "port unreachable" when
 * nothing listens there, a router's "packet too big" on the way to a
 * backend of another node - quotes the packet as it was DNATed: to the
 * backend's address and port. The client's kernel matches an error to a
 * socket by the quote, and its socket knows only the VIP: the error would
 * be dropped, a UDP client never hear "refused", a TCP one never learn the
 * path's MTU. netfilter's NAT rewrites such errors as RELATED to the flow;
 * this does the same, on the flow's REV entry, on the hop that delivers
 * the error into the client (where the flow was balanced, so where its
 * entries are):
 *
 *   - an error zh_icmp_err_quote() takes, to the quote's sender, whose
 *     quote is a request of a tracked Service flow (its reply's REV entry,
 *     no hairpin);
 *   - the quote's destination goes back to the VIP and port, and the
 *     error's own source too when the backend itself sent it (the client
 *     knows it as the VIP); every checksum kept by RFC 1624 (the outer and
 *     quoted IPv4 headers', the quoted TCP/UDP checksum where the quote
 *     holds it, ICMP's over all of it, ICMPv6's pseudo-header included).
 * Written in place; the caller delivers the frame as it was going to.
 */
#ifndef ZH_LB_ICMP_H
#define ZH_LB_ICMP_H

#include "maps.h"
#include "ct.h"
#include "lb.h"
#include "icmp.h"

/* @f, delivered into a pod here: rewritten if it is such an error.
 * Returns 0 if it was, else -1 (untouched). A function of its own: the
 * callers' stack is spent. */
static __attribute__((noinline)) int zh_lb_icmp(void *data, void *data_end,
						const struct zh_flow *f)
{
	struct zh_ct_key k = { .family = f->family, .dir = ZH_CT_REV };
	struct zh_config *cfg = zh_cfg();
	struct zh_icmp_quote q;
	struct zh_ct *rct;

	if (!cfg || !cfg->services || zh_icmp_err_quote(data, data_end, f, &q))
		return -1;
	/* The reply's key: the quote reversed; sent to the quote's sender. */
	if (zh_icmp_reply_key(&q, f, &k))
		return -1;
	rct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!rct || (rct->flags & ZH_CT_F_HAIRPIN))
		return -1;

	/* The backend itself answered: from the VIP, as the client knows
	 * it (zh_icmp_nat()). */
	return zh_icmp_nat(data, data_end, &q, NULL, 0, rct->vip, rct->vport);
}

#endif /* ZH_LB_ICMP_H */
