/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * xsk.h - AF_XDP steering on an opted-in pod's own interface (zh_abi.h:
 * zh_xsk_steer, zh_xsks). The pod's rules are keyed by its own address, so
 * one map serves every pod whatever its ifindex inside its netns.
 */
#ifndef ZH_XSK_H
#define ZH_XSK_H

#include "parse.h"
#include "maps.h"
#include "trace.h"
#include "policy.h"

/* The steering key of a TCP or UDP frame: its destination. -1 for what
 * has no ports (a fragment is the kernel's to reassemble). */
static __always_inline int zh_xsk_key(void *data, void *data_end,
				      struct zh_steer_key *key)
{
	struct zh_flow f = {};

	if (zh_flow_parse(data, data_end, &f) || !(f.flags & ZH_FLOW_F_PORTS))
		return -1;
	key->family = f.family;
	key->proto = f.proto;
	key->port = f.dport;
	__builtin_memcpy(key->addr, f.daddr, sizeof(key->addr));
	return 0;
}

/*
 * A frame arriving at an AF_XDP pod: XDP_REDIRECT into the socket of its
 * queue when a rule matches and a socket is there, XDP_PASS when a rule
 * matches but none is (counted), ZH_RET_PASSTHROUGH when no rule matches
 * (the frame goes on to the pod's kernel stack).
 */
static __always_inline int zh_xsk_redirect(struct xdp_md *ctx, void *data,
					   void *data_end)
{
	struct zh_steer_key key = {};
	struct zh_steer *st;
	__u32 queue = ctx->rx_queue_index;
	int act;

	if (zh_xsk_key(data, data_end, &key))
		return ZH_RET_PASSTHROUGH;
	st = bpf_map_lookup_elem(&zh_xsk_steer, &key);
	if (!st) {
		key.port = 0; /* a rule for every port of the protocol */
		st = bpf_map_lookup_elem(&zh_xsk_steer, &key);
		if (!st)
			return ZH_RET_PASSTHROUGH;
	}
	act = XDP_PASS;
	if (queue < st->queues)
		act = zh_redirect_map(&zh_xsks, st->slot + queue, XDP_PASS);
	zh_count(act == XDP_REDIRECT ? ZH_STAT_XSK_REDIRECT :
				       ZH_STAT_PASS_XSK_NO_SOCKET,
		 data_end - data);
	return act;
}

/*
 * NetworkPolicy on a frame arriving at an AF_XDP pod, before any steering
 * (issue 16: "ingress is checked before steering into a socket"): the
 * ingress of the pod at its destination address, when zh_endpoints marks
 * that address policed (ZH_EP_F_POLICY), judged by zh_pol_judge() as
 * zh_tc_to_pod judges what the kernel delivers. A flow approved on its way
 * here (the source's hop, the uplink, zh_tc_to_pod) has its live
 * zh_pol_ct entry: one lookup. Judged on the frame as it arrives, before
 * a reply's source goes back to its VIP, so that it finds that entry.
 * 0 to go on, or the drop reason. An unpolicied pod pays one lookup.
 */
static __always_inline int zh_xsk_policy(void *data, void *data_end)
{
	struct zh_endpoint *ep;
	struct zh_ep_key dst = {};
	struct zh_flow f = {};

	if (zh_flow_parse(data, data_end, &f))
		return 0; /* ARP and the like: no policy */
	dst.family = f.family;
	__builtin_memcpy(dst.addr, f.daddr, sizeof(dst.addr));
	ep = bpf_map_lookup_elem(&zh_endpoints, &dst);
	if (!ep || !(ep->flags & ZH_EP_F_POLICY))
		return 0;
	if (f.family == ZH_AF_INET6 && zh_pol_v6_ll(f.saddr))
		return 0;
	zh_pol_svc_reply(&f); /* a Service's reply: its backend's */
	return zh_pol_judge_pkt(data, data_end, &f, &dst, f.dport, 2);
}

#endif /* ZH_XSK_H */
