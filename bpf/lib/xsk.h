/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * xsk.h - AF_XDP steering on an opted-in pod's own interface (zh_abi.h:
 * zh_xsk_steer, zh_xsks). The pod's rules are keyed by its own address, so
 * one map serves every pod whatever its ifindex inside its netns.
 */
#ifndef ZH_XSK_H
#define ZH_XSK_H

#include <linux/in.h>
#include <linux/udp.h>
#include "parse.h"
#include "maps.h"

/* Not for a socket: the frame goes on to the pod's kernel stack. */
#define ZH_XSK_NONE (-1)

static __always_inline int zh_xsk_key(void *data, void *data_end,
				      struct zh_steer_key *key)
{
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	struct udphdr *l4;
	__u32 off;

	if (!eth)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*iph));

		/* A fragment has no ports where we look: the kernel
		 * reassembles it. */
		if (!iph || iph->ihl < 5 || (iph->frag_off & bpf_htons(0x3fff)))
			return -1;
		key->family = ZH_AF_INET;
		key->proto = iph->protocol;
		key->addr[0] = iph->daddr;
		off = sizeof(*eth) + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*ip6));

		if (!ip6)
			return -1;
		key->family = ZH_AF_INET6;
		key->proto = ip6->nexthdr; /* extension headers: not steered */
		__builtin_memcpy(key->addr, &ip6->daddr, sizeof(key->addr));
		off = sizeof(*eth) + sizeof(*ip6);
	} else {
		return -1;
	}
	if (key->proto != IPPROTO_UDP && key->proto != IPPROTO_TCP)
		return -1;
	/* TCP and UDP both start with the two ports. */
	l4 = zh_hdr(data, data_end, off, sizeof(*l4));
	if (!l4)
		return -1;
	key->port = l4->dest;
	return 0;
}

/*
 * A frame arriving at an AF_XDP pod: XDP_REDIRECT into the socket of its
 * queue when a rule matches and a socket is there, XDP_PASS when a rule
 * matches but none is (counted), ZH_XSK_NONE when no rule matches.
 */
static __always_inline int zh_xsk_redirect(struct xdp_md *ctx, void *data,
					   void *data_end)
{
	struct zh_steer_key key = {};
	struct zh_steer *st;
	__u32 queue = ctx->rx_queue_index;
	int act;

	if (zh_xsk_key(data, data_end, &key))
		return ZH_XSK_NONE;
	st = bpf_map_lookup_elem(&zh_xsk_steer, &key);
	if (!st) {
		key.port = 0; /* a rule for every port of the protocol */
		st = bpf_map_lookup_elem(&zh_xsk_steer, &key);
		if (!st)
			return ZH_XSK_NONE;
	}
	act = XDP_PASS;
	if (queue < st->queues)
		act = bpf_redirect_map(&zh_xsks, st->slot + queue, XDP_PASS);
	zh_count(act == XDP_REDIRECT ? ZH_STAT_XSK_REDIRECT :
				       ZH_STAT_PASS_XSK_NO_SOCKET,
		 data_end - data);
	return act;
}

#endif /* ZH_XSK_H */
