/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * vxlan.h - routing vxlan without the kernel's tunnel on the hot path
 * (zh_abi.h: zh_vxlan, zh_vxlan_stats).
 *
 * Out: a pod's packet for a pod of another node is encapsulated here
 * (bpf_skb_adjust_room() grows it at the MAC layer with the ENCAP flags,
 * so that the kernel knows the tunnel: GSO segments it as a UDP tunnel,
 * the inner headers are marked) with the headers this node's VXLAN device
 * would write (outer IPv4 node to node, TTL 64, DF clear, ECN from the
 * inner packet; UDP from a port hashed from the inner flow, as
 * udp_flow_src_port(), to the device's port, checksum 0; VXLAN with the I
 * flag and the VNI; the inner Ethernet from our device's MAC to the
 * remote device's), and leaves by the uplink (bpf_fib_lookup() and
 * bpf_redirect(), else bpf_redirect_neigh()): no tunnel device, netfilter
 * OUTPUT or UDP socket on the way.
 *
 * In: on the uplink, an IPv4 packet to this node's underlay address, UDP
 * to the device's port with checksum 0 (or one the kernel has verified:
 * CHECKSUM_UNNECESSARY), VXLAN with the I flag alone and our
 * VNI, whose inner packet (IPv4, or IPv6 where the kernel has the DECAP
 * flags; no options, no fragment, TTL above 1) is for a pod here and from
 * a pod (or the address) of the very node the outer header names, is
 * decapsulated in place (bpf_skb_adjust_room() shrinks it by the outer
 * IP, UDP and VXLAN headers and the inner Ethernet header; the outer
 * Ethernet header stays in front) and then goes the way zh_tc_tunnel
 * takes what the device decapsulated.
 *
 * The kernel's device stays the fallback: a kernel without the flags
 * (tc_vxlan_encap, tc_vxlan_decap), an IPv6 underlay, an encapsulation
 * the helper refuses, and every tunnel packet that is not exactly the
 * above (another VNI, a local address we do not own, UDP checksums
 * the kernel has not verified, IPv4 options and fragments, an inner source that the sending node does
 * not own) take the kernel's path, untouched, as before. Without the
 * DECAP flags (before 6.3) only non-GSO IPv4 inner packets are
 * decapsulated here: what a shrink without them would leave of a GSO
 * packet is left to the kernel.
 */
#ifndef ZH_VXLAN_H
#define ZH_VXLAN_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "kfeat.h"
#include "trace.h"

/* bpf_skb_adjust_room() flags of 6.3, which Debian 12's uapi predates. */
#define ZH_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define ZH_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)

struct zh_vxlanhdr {
	__be32 flags; /* ZH_VXLAN_I_FLAG: the VNI is valid; nothing else */
	__be32 vni; /* VNI << 8 */
};

#define ZH_VXLAN_I_FLAG bpf_htonl(0x08000000)
/* Between the outer Ethernet header and the inner IP header. */
#define ZH_VXLAN_ENCAP_LEN                              \
	(sizeof(struct iphdr) + sizeof(struct udphdr) + \
	 sizeof(struct zh_vxlanhdr) + sizeof(struct ethhdr))
/* The inner IP header's offset in an encapsulated frame. */
#define ZH_VXLAN_INNER_IP (ETH_HLEN + ZH_VXLAN_ENCAP_LEN)
/* What decapsulation reads: up to an inner IPv6 header. */
#define ZH_VXLAN_PULL_LEN (ZH_VXLAN_INNER_IP + sizeof(struct ipv6hdr))

#define ZH_VXLAN_ENCAP_FLAGS                                         \
	(BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |   \
	 BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH | \
	 BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN))

/* Decapsulated by BPF, the entry goes on as the device's ingress. */
#define ZH_VXLAN_DECAPPED 1

static __always_inline void zh_vxlan_count(__u32 stat)
{
	__u64 *c = bpf_map_lookup_elem(&zh_vxlan_stats, &stat);

	if (c)
		(*c)++; /* per-CPU: no atomics */
}

/* This node's tunnel parameters, when BPF does the tunnel @flag's way. */
static __always_inline struct zh_vxlan *zh_vxlan_cfg(__u32 flag)
{
	__u32 zero = 0;
	struct zh_vxlan *cfg = bpf_map_lookup_elem(&zh_vxlan, &zero);

	if (!cfg || cfg->family != ZH_AF_INET || !(cfg->flags & flag))
		return NULL;
	return cfg;
}

/* The IPv4 header checksum of @ip, whose check field is 0. */
static __always_inline __u16 zh_ip4_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	return zh_csum_fold(sum);
}

/* The outer source port: the kernel's udp_flow_src_port() over the inner
 * flow's hash, in the default local port range. */
static __always_inline __be16 zh_vxlan_sport(struct __sk_buff *skb)
{
	__u32 hash = bpf_get_hash_recalc(skb);

	hash ^= hash << 16;
	return bpf_htons((__u16)((((__u64)hash *
				   (ZH_VXLAN_SPORT_MAX - ZH_VXLAN_SPORT_MIN)) >>
				  32) +
				 ZH_VXLAN_SPORT_MIN));
}

/* The outer TOS: the inner ECN bits, CE as ECT(0) (INET_ECN_encapsulate
 * over the tunnel key's TOS 0, as the device does). */
static __always_inline __u8 zh_vxlan_tos(__u8 inner)
{
	return (inner & 3) == 3 ? 2 : inner & 3;
}

/*
 * Out of the uplink toward underlay address @daddr: the next hop and both
 * MACs from the FIB where it answers (forwarding on, a neighbour known),
 * as the native path does; else the kernel's route and neighbour by
 * bpf_redirect_neigh() (the underlay may have a gateway).
 */
static __always_inline int
zh_vxlan_out(struct __sk_buff *skb, const struct zh_vxlan *cfg, __be32 daddr)
{
	if (zh_kernel_has(TC_FIB_LOOKUP)) {
		/* tot_len 0: the MTU check is the skb's, which a GSO
		 * train passes. */
		struct bpf_fib_lookup p = { .family = 2 /* AF_INET */,
					    .l4_protocol = IPPROTO_UDP,
					    .ifindex = cfg->uplink,
					    .ipv4_src = cfg->saddr[0],
					    .ipv4_dst = daddr };
		void *data, *data_end;
		struct ethhdr *eth;

		if (bpf_fib_lookup(skb, &p, sizeof(p), BPF_FIB_LOOKUP_OUTPUT) ==
		    BPF_FIB_LKUP_RET_SUCCESS) {
			data = (void *)(long)skb->data;
			data_end = (void *)(long)skb->data_end;
			eth = zh_hdr(data, data_end, 0, sizeof(*eth));
			if (!eth)
				return TC_ACT_SHOT;
			/* Byte by byte: the stack's MACs are not aligned
			 * for wider loads (node.h does the same). */
			for (int i = 0; i < ETH_ALEN; i++) {
				eth->h_dest[i] = p.dmac[i];
				eth->h_source[i] = p.smac[i];
			}
			return (int)zh_redirect(p.ifindex, 0);
		}
	}
	return (int)zh_redirect_neigh(cfg->uplink, 0);
}

/*
 * Encapsulate a pod's frame (one hop further already) toward node @n and
 * send it out of the uplink. TC_ACT_REDIRECT when sent, TC_ACT_SHOT when
 * it was changed and could not be; ZH_RET_PASSTHROUGH, untouched, for the
 * device's way (no BPF tunnel here, another family, a refusal).
 */
static __always_inline int zh_vxlan_encap(struct __sk_buff *skb,
					  const struct zh_node *n)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	struct zh_vxlanhdr *vh;
	struct zh_vxlan *cfg;
	struct ethhdr *inner;
	struct udphdr *uh;
	struct iphdr *ip;
	__be16 proto, sport;
	__u8 tos = 0;
	__u32 len;

	if (!zh_kernel_has(TC_VXLAN_ENCAP) || n->family != ZH_AF_INET || !eth)
		return ZH_RET_PASSTHROUGH;
	cfg = zh_vxlan_cfg(ZH_VXLAN_F_ENCAP);
	if (!cfg)
		return ZH_RET_PASSTHROUGH;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		ip = zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip));
		if (!ip)
			return ZH_RET_PASSTHROUGH;
		tos = ip->tos;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		__u8 *v6 = zh_hdr(data, data_end, ETH_HLEN, 2);

		if (!v6)
			return ZH_RET_PASSTHROUGH;
		tos = (__u8)(v6[0] << 4 | v6[1] >> 4); /* traffic class */
	} else {
		return ZH_RET_PASSTHROUGH;
	}
	/* Hashed before the headers move: the inner flow's. */
	sport = zh_vxlan_sport(skb);
	if (bpf_skb_adjust_room(skb, ZH_VXLAN_ENCAP_LEN, BPF_ADJ_ROOM_MAC,
				ZH_VXLAN_ENCAP_FLAGS)) {
		zh_vxlan_count(ZH_VXLAN_STAT_ENCAP_REFUSED);
		return ZH_RET_PASSTHROUGH;
	}
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + ZH_VXLAN_INNER_IP > data_end)
		return TC_ACT_SHOT;
	eth = data;
	ip = data + ETH_HLEN;
	uh = (void *)(ip + 1);
	vh = (void *)(uh + 1);
	inner = (void *)(vh + 1);
	/* The GSO skb's lengths are the whole train's: segmentation writes
	 * each segment's (inet_gso_segment, skb_udp_tunnel_segment). */
	len = skb->len - ETH_HLEN;
	eth->h_proto = bpf_htons(ETH_P_IP);
	*(__u8 *)ip = 0x45; /* version 4, 5 words */
	ip->tos = zh_vxlan_tos(tos);
	ip->tot_len = bpf_htons((__u16)len);
	ip->id = zh_kernel_has(TC_GET_PRANDOM_U32) ?
			 (__be16)bpf_get_prandom_u32() :
			 0;
	ip->frag_off = 0;
	ip->ttl = ZH_VXLAN_TTL;
	ip->protocol = IPPROTO_UDP;
	ip->check = 0;
	ip->saddr = cfg->saddr[0];
	ip->daddr = n->addr[0];
	ip->check = zh_ip4_csum(ip);
	uh->source = sport;
	uh->dest = cfg->port;
	uh->len = bpf_htons((__u16)(len - sizeof(*ip)));
	uh->check = 0;
	vh->flags = ZH_VXLAN_I_FLAG;
	vh->vni = bpf_htonl(n->vni << 8);
	zh_mac_copy(inner->h_dest, n->mac);
	zh_mac_copy(inner->h_source, cfg->mac);
	inner->h_proto = proto;
	zh_vxlan_count(ZH_VXLAN_STAT_ENCAP);
	return zh_vxlan_out(skb, cfg, n->addr[0]);
}

/* Does the node at underlay address @outer_src own inner source @key (one
 * of its pod CIDRs, or its address), by the node table? */
static __always_inline int zh_vxlan_sender_owns(const struct zh_ep_key *key,
						__be32 outer_src)
{
	struct zh_lpm_key k = {};
	struct zh_node *n;

	k.prefixlen =
		ZH_LPM_FAMILY_BITS + (key->family == ZH_AF_INET ? 32 : 128);
	k.family = key->family;
	__builtin_memcpy(k.addr, key->addr, sizeof(k.addr));
	n = bpf_map_lookup_elem(&zh_nodes, &k);
	return n && n->family == ZH_AF_INET && n->addr[0] == outer_src;
}

/*
 * On the uplink: decapsulate what BPF delivers (above) in place.
 * ZH_VXLAN_DECAPPED then, 0 for anything else (untouched: the kernel's
 * device takes it), -1 when it changed and could not be finished. A
 * function of its own: its keys get a stack frame of their own.
 */
static __attribute__((noinline)) int zh_vxlan_decap(struct __sk_buff *skb)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO;
	struct zh_ep_key dst = {}, src = {};
	void *data, *data_end;
	struct zh_vxlanhdr *vh;
	struct zh_vxlan *cfg;
	struct ethhdr *inner;
	struct udphdr *uh;
	struct iphdr *ip;
	__be32 outer_src;
	__be16 proto;

	if (!zh_kernel_has(TC_VXLAN_ENCAP) ||
	    skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	ip = zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip));
	/* UDP first: the rest of the uplink's traffic pays no lookup. */
	if (!ip || *(__u8 *)ip != 0x45 || ip->protocol != IPPROTO_UDP ||
	    (ip->frag_off & bpf_htons(0x3fff)))
		return 0;
	cfg = zh_vxlan_cfg(ZH_VXLAN_F_DECAP);
	if (!cfg || ip->daddr != cfg->saddr[0])
		return 0;
	/* Up to the inner IP header linear (zh_ctx_pull took less). */
	if (data + ZH_VXLAN_PULL_LEN > data_end) {
		if (skb->len < ZH_VXLAN_INNER_IP + sizeof(struct iphdr))
			return 0;
		bpf_skb_pull_data(skb, skb->len < ZH_VXLAN_PULL_LEN ?
					       skb->len :
					       ZH_VXLAN_PULL_LEN);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	ip = zh_hdr(data, data_end, ETH_HLEN,
		    ZH_VXLAN_ENCAP_LEN + sizeof(struct iphdr));
	if (!ip)
		return 0;
	uh = (void *)(ip + 1);
	vh = (void *)(uh + 1);
	inner = (void *)(vh + 1);
	if (uh->dest != cfg->port || vh->flags != ZH_VXLAN_I_FLAG ||
	    vh->vni != bpf_htonl(cfg->vni << 8))
		return 0;
	/* A UDP checksum: only where the kernel has verified it already
	 * (CHECKSUM_UNNECESSARY, a NIC's offload); else it is the kernel's
	 * to check, through its device. */
	if (uh->check && !(zh_kernel_has(TC_CSUM_LEVEL) &&
			   bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) >= 0))
		return 0;
	outer_src = ip->saddr;
	proto = inner->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iip = (void *)(inner + 1);

		if (*(__u8 *)iip != 0x45 || iip->ttl <= 1 ||
		    (iip->frag_off & bpf_htons(0x3fff)))
			return 0;
		dst.family = src.family = ZH_AF_INET;
		dst.addr[0] = iip->daddr;
		src.addr[0] = iip->saddr;
		if (zh_kernel_has(TC_VXLAN_DECAP))
			flags |= ZH_ADJ_ROOM_DECAP_L3_IPV4;
	} else if (proto == bpf_htons(ETH_P_IPV6) &&
		   zh_kernel_has(TC_VXLAN_DECAP)) {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, ZH_VXLAN_INNER_IP, sizeof(*ip6));

		if (!ip6 || ip6->version != 6 || ip6->hop_limit <= 1)
			return 0;
		dst.family = src.family = ZH_AF_INET6;
		__builtin_memcpy(dst.addr, &ip6->daddr, sizeof(dst.addr));
		__builtin_memcpy(src.addr, &ip6->saddr, sizeof(src.addr));
		flags |= ZH_ADJ_ROOM_DECAP_L3_IPV6;
	} else {
		return 0;
	}
	/* Without the DECAP flags, a GSO train is the kernel's. */
	if (!zh_kernel_has(TC_VXLAN_DECAP) && skb->gso_size)
		return 0;
	if (!bpf_map_lookup_elem(&zh_endpoints, &dst) ||
	    !zh_vxlan_sender_owns(&src, outer_src))
		return 0;
	if (bpf_skb_adjust_room(skb, -(__s32)ZH_VXLAN_ENCAP_LEN,
				BPF_ADJ_ROOM_MAC, flags))
		return 0;
	/* The outer Ethernet header now heads the inner packet. */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	inner = zh_hdr(data, data_end, 0, sizeof(*inner));
	if (!inner)
		return -1;
	inner->h_proto = proto;
	zh_vxlan_count(ZH_VXLAN_STAT_DECAP);
	return ZH_VXLAN_DECAPPED;
}

/* Decapsulated, but not delivered by the fast path: into the VXLAN
 * device's receive path, as if the device had decapsulated it, where
 * zh_tc_tunnel and the kernel see it as before. */
static __attribute__((noinline)) int zh_vxlan_to_dev(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	__u32 zero = 0;
	struct zh_vxlan *cfg = bpf_map_lookup_elem(&zh_vxlan, &zero);

	if (!cfg || !cfg->dev || !eth)
		return TC_ACT_SHOT;
	/* To the device's own MAC, as the sender addressed the inner frame
	 * (the outer header's was the uplink's): the kernel takes it. */
	zh_mac_copy(eth->h_dest, cfg->mac);
	zh_vxlan_count(ZH_VXLAN_STAT_DECAP_TO_DEV);
	return (int)zh_redirect(cfg->dev, BPF_F_INGRESS);
}

#endif /* ZH_VXLAN_H */
