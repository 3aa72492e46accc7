/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * snat_icmp.h - an ICMP error about a flow SNATed here: a masqueraded
 * flow's back to its pod, a NodePort's to its client or to its backend.
 *
 * A pod's TCP/UDP flow masqueraded here (snat.h) leaves with the node's
 * address and a port of the node. A router on its way that cannot forward
 * one of its packets answers the node: "fragmentation needed" (IPv4) or
 * "packet too big" (ICMPv6), which path MTU discovery lives on, or an
 * unreachable, quoting the packet as it left (the node's address and port
 * as its source). The kernel's conntrack never saw the flow, so nothing
 * would take the error back to the pod: its TCP would keep sending
 * segments too big for the path (a black hole), its UDP socket would never
 * hear "unreachable". netfilter's NAT rewrites such errors as RELATED to
 * the flow; this does the same, on the flow's SNAT_REV entry:
 *
 *   - IPv4 destination unreachable, time exceeded, parameter problem, or
 *     ICMPv6 1 to 4 straight behind the IPv6 header, to this uplink's SNAT
 *     address, quoting TCP or UDP from that address (IPv4 without options,
 *     IPv6 without extension headers) whose reply would be a SNATed flow's
 *     reply to a pod of this node;
 *   - its destination and the quote's source address and port go back to
 *     the pod's, every checksum kept by RFC 1624: the outer IPv4 header's,
 *     the quoted IPv4 header's, the quoted TCP/UDP checksum where the quote
 *     holds it (UDP's of 0 stays 0), and ICMP's over all of it (ICMPv6's
 *     pseudo-header included). Each region's sum is unchanged, so is the
 *     packet's, and skb->csum stays right on CHECKSUM_COMPLETE skbs;
 *   - then delivered into the pod like the flow's replies.
 *
 * A NodePort (or LoadBalancer IP) whose backend is on another node is
 * SNATed the same way (client -> front end leaves as node:port ->
 * backend), and its errors are lost the same way, in both directions:
 *
 *   - the backend's "port unreachable" (or its node's, or a router's on
 *     the way) comes to the node's address quoting node:port -> backend:
 *     it goes on to the client, out of the uplink the request came in on
 *     (as the flow's replies), the quote the client's own packet (client
 *     -> front end); its source becomes the front end where the backend
 *     itself sent it (the client knows no other), a router's or node's
 *     address is kept, as lb_icmp.h does for a local backend;
 *   - a router toward the client answers a reply too big for its link
 *     ("fragmentation needed", "packet too big") to the front end,
 *     quoting front end -> client: it goes on to the backend, by the way
 *     the flow's requests take (the node path, native or VXLAN), the quote
 *     what the backend sent (backend -> node:port), so that the backend's
 *     path MTU discovery hears of the hop it cannot see.
 * Both on the flow's live entries only (its SNAT and Service entries,
 * ct.h), rewritten as above (icmp.h zh_icmp_nat()), one hop further.
 *
 * In DSR mode (lb_dsr.h) such a flow is DNATed only and its replies leave
 * the backend's node from the front end: the second case comes here with
 * no SNAT entry, and goes on to the backend the same way, the quote
 * backend -> client (the client's address was never changed). So does a
 * flow whose backend is a pod of this node (DNATed only, in either mode):
 * the error goes into that pod, the quote backend -> client.
 */
#ifndef ZH_SNAT_ICMP_H
#define ZH_SNAT_ICMP_H

#include <linux/in.h>
#include <linux/in6.h>
#include "parse.h"
#include "maps.h"
#include "ct.h"
#include "snat.h"
#include "icmp.h"
#include "lb_dsr.h"

/*
 * A NodePort's (or LoadBalancer IP's) error on the backend side, @k the
 * SNAT_REV key that found @rct (the client's address and port): the
 * Service's REV entry, keyed with the client restored, holds the front
 * end the client asked for and the uplink the request came in on. That
 * entry, live, or NULL.
 */
static __always_inline const struct zh_ct *
zh_snat_icmp_np(struct zh_ct_key *k, const struct zh_ct *rct, __u64 now)
{
	const struct zh_ct *c;

	k->dir = ZH_CT_REV;
	__builtin_memcpy(k->daddr, rct->vip, sizeof(k->daddr));
	k->dport = rct->vport;
	c = bpf_map_lookup_elem(&zh_ct, k);
	if (!c || !c->out_ifindex || (c->flags & ZH_CT_F_HAIRPIN) ||
	    !zh_ct_live(c, k->proto, now))
		return NULL;
	return c;
}

/*
 * Is @f (arriving on an uplink) an ICMP error about a flow this node
 * SNATed (snat.h)? With @write, rewritten for it (zh_icmp_nat()):
 *
 *   - to the SNAT address, quoting a masqueraded flow's packet (the
 *     node's address and port as its source): back to its pod, @to
 *     filled with the pod's address; returns 0;
 *   - to the SNAT address, quoting a NodePort (or LoadBalancer IP)
 *     request that left for a backend on another node (node:port ->
 *     backend, as the backend or its node answers): back to the client,
 *     the quote the client's own packet (client -> front end), the
 *     error's source the front end where the backend sent it; returns
 *     the uplink the request came in on (the reply's way out);
 *   - to a front end, quoting the reply of such a flow (front end ->
 *     client, as a router toward the client answers, "fragmentation
 *     needed" among them), on the uplink its request came in on: on to
 *     the backend, the quote what the backend sent (backend ->
 *     node:port), the router's address kept; returns the flow's SNAT
 *     uplink (where its requests leave). A DSR flow (no SNAT entry, the
 *     backend a pod of another node): the quote backend -> client,
 *     returns @f's uplink (the verdict finds the backend's node). A
 *     local backend's (no SNAT entry, a pod here): the quote backend ->
 *     client, @to filled with the pod's address; returns 0.
 * Else -1, untouched: only errors about a live flow's entries are taken.
 * A function of its own: the callers' stack is spent.
 */
static __attribute__((noinline)) int zh_snat_icmp(void *data, void *data_end,
						  const struct zh_flow *f,
						  struct zh_ep_key *to,
						  int write)
{
	__u32 key = f->ifindex;
	struct zh_snat_src *src = bpf_map_lookup_elem(&zh_snat_src, &key);
	struct zh_ct_key k = { .family = f->family, .dir = ZH_CT_SNAT_REV };
	const struct zh_ct *rct, *lct = NULL;
	struct zh_icmp_quote q;
	struct zh_backend *be;
	const __u32 *addr;
	__u64 now;

	if (zh_icmp_err_quote(data, data_end, f, &q))
		return -1;
	/* The quote left from the error's destination; its reply's key is
	 * the quote reversed. */
	if (zh_icmp_reply_key(&q, f, &k))
		return -1;
	addr = src ? zh_snat_addr(src, f->family) : NULL;
	if (!addr ||
	    (q.v4 ? f->daddr[0] != addr[0] : !zh_addr_eq(f->daddr, addr)))
		goto client_side;
	rct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!rct)
		goto client_side;
	/* A masqueraded flow's: to its pod, here. */
	to->family = f->family;
	__builtin_memcpy(to->addr, rct->vip, sizeof(to->addr));
	if (bpf_map_lookup_elem(&zh_endpoints, to)) {
		if (write)
			zh_icmp_nat(data, data_end, &q, rct->vip, rct->vport,
				    NULL, 0);
		return 0;
	}
	/* A NodePort's client is out there. */
	now = bpf_ktime_get_ns();
	if (!zh_ct_live(rct, q.proto, now))
		return -1;
	lct = zh_snat_icmp_np(&k, rct, now);
	if (!lct)
		return -1;
	if (write && zh_icmp_nat(data, data_end, &q, rct->vip, rct->vport,
				 lct->vip, lct->vport))
		return -1;
	return (int)lct->out_ifindex;

client_side:
	/* The reply of a Service flow: the key of its request. */
	k.dir = ZH_CT_FWD;
	lct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!lct)
		return -1;
	key = lct->backend_id;
	be = bpf_map_lookup_elem(&zh_backends, &key);
	if (!be || be->svc_id != lct->svc_id)
		return -1;
	now = bpf_ktime_get_ns();
	if (!zh_ct_live(lct, q.proto, now))
		return -1;
	/* SNATed toward that backend: its SNAT_FWD entry, the request as
	 * it left (after the DNAT). */
	k.dir = ZH_CT_SNAT_FWD;
	__builtin_memcpy(k.daddr, be->addr, sizeof(k.daddr));
	k.dport = be->port;
	rct = bpf_map_lookup_elem(&zh_ct, &k);
	if (rct && (!rct->out_ifindex || !zh_ct_live(rct, q.proto, now)))
		return -1;
	/* A NodePort's or LoadBalancer IP's: its request came in on this
	 * uplink, as the Service's REV entry says (a pod's flow names the
	 * pod's veth; its replies never leave the node). */
	k.dir = ZH_CT_REV;
	k.dport = k.sport;
	k.sport = be->port;
	__builtin_memcpy(k.daddr, k.saddr, sizeof(k.daddr));
	__builtin_memcpy(k.saddr, be->addr, sizeof(k.saddr));
	lct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!lct || lct->out_ifindex != f->ifindex)
		return -1;
	if (!rct) {
		/* No SNAT entry, the backend a pod here (a NodePort's or
		 * LoadBalancer IP's local backend: DNATed only, its reply
		 * left from the front end by this uplink, lb.h): into it,
		 * the quote what it sent (backend -> client). */
		to->family = f->family;
		__builtin_memcpy(to->addr, be->addr, sizeof(to->addr));
		if (bpf_map_lookup_elem(&zh_endpoints, to)) {
			if (write && zh_icmp_nat(data, data_end, &q, be->addr,
						 be->port, NULL, 0))
				return -1;
			return 0;
		}
		/* No SNAT entry: DSR (lb_dsr.h), the request went to a pod
		 * of another node DNATed only, and the backend sent the
		 * reply from the front end itself. The quote becomes what
		 * it sent (backend -> client), on to it by the node path
		 * (the verdict's zh_skb_snat_out() finds its node). */
		if (!zh_dsr_flow_remote(f->family, k.daddr, be->addr))
			return -1;
		if (write && zh_icmp_nat(data, data_end, &q, be->addr, be->port,
					 NULL, 0))
			return -1;
		return (int)f->ifindex;
	}
	if (write && zh_icmp_nat(data, data_end, &q, be->addr, be->port,
				 rct->vip, rct->vport))
		return -1;
	return (int)rct->out_ifindex;
}

#endif /* ZH_SNAT_ICMP_H */
