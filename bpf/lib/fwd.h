/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * fwd.h - the same-node fast path, shared by the tc and XDP entries:
 * anti-spoofing, endpoint lookup, L2 rewrite and TTL decrement.
 *
 * zh_from_pod() returns an enum zh_stat: ZH_STAT_REDIRECT means @fwd holds
 * the target, ZH_STAT_PASS_* hands the frame to the kernel unchanged,
 * ZH_STAT_DROP_* drops it. The entry program turns that into its verdict.
 */
#ifndef ZH_FWD_H
#define ZH_FWD_H

#include "parse.h"
#include "maps.h"
#include "lb.h"
#include "kfeat.h"

/* zh_from_pod(): the XDP entry already dealt with this frame (no zh_stat:
 * nothing is counted twice). */
#define ZH_XDP_DONE (-3)

struct zh_fwd {
	__u32 ifindex;
	__u8 xdp; /* set by the XDP entry: it can only reach XDP pods */
	__u8 tc; /* set by the tc entry */
	__u8 handover; /* tc: the XDP entry passed this frame on to us */
	/* tc behind XDP on a kernel without XDP metadata: the XDP entry could
	 * not mark what it handed over, so classify as it did and take only
	 * frames for a tc pod (and NodePort replies); it has dealt with the
	 * rest, counted and all. */
	__u8 reclassify;
	__u8 via_rx; /* the target is an AF_XDP pod (ZH_EP_F_VIA_RX) */
	/* A Service rewrite the entry applies (tc and XDP write differently),
	 * whatever the verdict: a backend that is no local pod is reached
	 * through the kernel, already translated. */
	struct zh_nat nat;
	/* The IPv6 word holding the hop limit, before and after: a tc entry
	 * folds the change into skb->csum (CHECKSUM_COMPLETE). IPv4 needs
	 * nothing: TTL and header checksum change by opposite amounts. */
	__be32 l3_old;
	__be32 l3_new;
};

static __always_inline int zh_v6_link_local(const struct in6_addr *a)
{
	/* fe80::/10, or :: as used by duplicate address detection */
	if ((a->in6_u.u6_addr8[0] == 0xfe) &&
	    ((a->in6_u.u6_addr8[1] & 0xc0) == 0x80))
		return 1;
	return !(a->in6_u.u6_addr32[0] | a->in6_u.u6_addr32[1] |
		 a->in6_u.u6_addr32[2] | a->in6_u.u6_addr32[3]);
}

static __always_inline int zh_v6_eq(const struct in6_addr *a, const __u32 *b)
{
	return a->in6_u.u6_addr32[0] == b[0] && a->in6_u.u6_addr32[1] == b[1] &&
	       a->in6_u.u6_addr32[2] == b[2] && a->in6_u.u6_addr32[3] == b[3];
}

/* Rewrite the Ethernet header as the router between the two pods. */
static __always_inline void zh_l2_rewrite(struct ethhdr *eth,
					  const struct zh_endpoint *ep)
{
	zh_mac_copy(eth->h_dest, ep->mac);
	zh_mac_copy(eth->h_source, ep->gw_mac);
}

/*
 * The routing tail of every entry: a local pod at @key gets the frame, one
 * hop further (TTL or hop limit), from its gateway's MAC; anything else
 * goes to the kernel.
 */
static __always_inline int zh_ipv4_deliver(struct ethhdr *eth,
					   struct iphdr *iph,
					   const struct zh_ep_key *key,
					   struct zh_fwd *fwd)
{
	struct zh_endpoint *ep = bpf_map_lookup_elem(&zh_endpoints, key);
	__u32 check;

	if (!ep)
		return ZH_STAT_PASS_NO_ENDPOINT;
	if (fwd->xdp && ep->datapath != ZH_DATAPATH_XDP)
		return ZH_STAT_PASS_TO_TC;
	if (fwd->reclassify) {
		/* An XDP pod: the XDP entry delivered it, or dropped it when
		 * the redirect failed; it never passes such a frame on. */
		if (ep->datapath == ZH_DATAPATH_XDP)
			return ZH_XDP_DONE;
		fwd->handover = 1;
	}
	if (iph->ttl <= 1)
		return ZH_STAT_PASS_TTL;

	/* RFC 1624 incremental update, as the kernel's ip_decrease_ttl(). */
	check = iph->check;
	check += bpf_htons(0x0100);
	iph->check = (__u16)(check + (check >= 0xffff));
	iph->ttl--;

	zh_l2_rewrite(eth, ep);
	fwd->ifindex = ep->ifindex;
	fwd->via_rx = ep->flags & ZH_EP_F_VIA_RX;
	return ZH_STAT_REDIRECT;
}

static __always_inline int zh_ipv6_deliver(struct ethhdr *eth,
					   struct ipv6hdr *ip6,
					   const struct zh_ep_key *key,
					   struct zh_fwd *fwd)
{
	struct zh_endpoint *ep = bpf_map_lookup_elem(&zh_endpoints, key);

	if (!ep)
		return ZH_STAT_PASS_NO_ENDPOINT;
	if (fwd->xdp && ep->datapath != ZH_DATAPATH_XDP)
		return ZH_STAT_PASS_TO_TC;
	if (fwd->reclassify) {
		/* An XDP pod: the XDP entry delivered it, or dropped it when
		 * the redirect failed; it never passes such a frame on. */
		if (ep->datapath == ZH_DATAPATH_XDP)
			return ZH_XDP_DONE;
		fwd->handover = 1;
	}
	if (ip6->hop_limit <= 1)
		return ZH_STAT_PASS_TTL;
	/* No header checksum in IPv6; payload_len, nexthdr and hop_limit
	 * make one 32-bit word at offset 4. */
	fwd->l3_old = *(__be32 *)((void *)ip6 + 4);
	ip6->hop_limit--;
	fwd->l3_new = *(__be32 *)((void *)ip6 + 4);

	zh_l2_rewrite(eth, ep);
	fwd->ifindex = ep->ifindex;
	fwd->via_rx = ep->flags & ZH_EP_F_VIA_RX;
	return ZH_STAT_REDIRECT;
}

static __always_inline int zh_arp_from_pod(void *data, void *data_end,
					   const struct zh_iface *self)
{
	struct zh_arp_eth *arp =
		zh_hdr(data, data_end, sizeof(struct ethhdr), sizeof(*arp));

	if (!arp)
		return ZH_STAT_DROP_MALFORMED;
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) ||
	    arp->hlen != ETH_ALEN || arp->plen != 4)
		return ZH_STAT_DROP_MALFORMED;
	/* A probe (RFC 5227) has sender 0.0.0.0; anything else must be us. */
	if (arp->spa &&
	    (!(self->flags & ZH_IFACE_F_V4) || arp->spa != self->ipv4))
		return ZH_STAT_DROP_SPOOF_IP;
	if (!zh_mac_eq(arp->sha, self->mac))
		return ZH_STAT_DROP_SPOOF_MAC;
	return ZH_STAT_PASS_NOT_IP;
}

/* Non-zero while any Service exists (zh_config.services). */
static __always_inline int zh_lb_on(void)
{
	__u32 zero = 0;
	struct zh_config *cfg = bpf_map_lookup_elem(&zh_config, &zero);

	return cfg && cfg->services;
}

static __always_inline int zh_ipv4_from_pod(void *data, void *data_end,
					    const struct zh_iface *self,
					    struct zh_fwd *fwd)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = zh_hdr(data, data_end, sizeof(*eth), sizeof(*iph));
	struct zh_ep_key key = { .family = ZH_AF_INET };

	if (!iph || iph->version != 4 || iph->ihl < 5)
		return ZH_STAT_DROP_MALFORMED;
	if (!(self->flags & ZH_IFACE_F_V4) || iph->saddr != self->ipv4)
		return ZH_STAT_DROP_SPOOF_IP;
	/* Only what the kernel would route: unicast to the gateway. */
	if (!zh_mac_eq(eth->h_dest, self->gw_mac))
		return ZH_STAT_PASS_NOT_TO_GW;
	/* Options (source routing among them) get the kernel's rules. */
	if (iph->ihl != 5)
		return ZH_STAT_PASS_IP_OPTIONS;

	key.addr[0] = iph->daddr;
	/* Fragments carry no ports after the first: not balanced. */
	if (zh_lb_on() && !(iph->frag_off & bpf_htons(0x3fff))) {
		struct zh_flow f = { .family = ZH_AF_INET,
				     .proto = iph->protocol };
		int ret;

		f.saddr[0] = iph->saddr;
		f.daddr[0] = iph->daddr;
		ret = zh_lb(data, data_end, &f, &fwd->nat);
		if (ret >= 0)
			return ret;
		if (ret == ZH_LB_NAT)
			zh_nat_daddr(&fwd->nat, key.addr);
	}
	return zh_ipv4_deliver(eth, iph, &key, fwd);
}

static __always_inline int zh_ipv6_from_pod(void *data, void *data_end,
					    const struct zh_iface *self,
					    struct zh_fwd *fwd)
{
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 =
		zh_hdr(data, data_end, sizeof(*eth), sizeof(*ip6));
	struct zh_ep_key key = { .family = ZH_AF_INET6 };

	if (!ip6 || ip6->version != 6)
		return ZH_STAT_DROP_MALFORMED;
	if (!((self->flags & ZH_IFACE_F_V6) &&
	      zh_v6_eq(&ip6->saddr, self->ipv6))) {
		/* ND and DAD use link-local or unspecified sources: the
		 * kernel handles those and never forwards them. */
		if (zh_v6_link_local(&ip6->saddr))
			return ZH_STAT_PASS_LINK_LOCAL;
		return ZH_STAT_DROP_SPOOF_IP;
	}

	if (!zh_mac_eq(eth->h_dest, self->gw_mac))
		return ZH_STAT_PASS_NOT_TO_GW;

	__builtin_memcpy(key.addr, &ip6->daddr, sizeof(key.addr));
	/* Extension headers: not balanced (no ports where we look). */
	if (zh_lb_on()) {
		struct zh_flow f = { .family = ZH_AF_INET6,
				     .proto = ip6->nexthdr };
		int ret;

		__builtin_memcpy(f.saddr, &ip6->saddr, sizeof(f.saddr));
		__builtin_memcpy(f.daddr, &ip6->daddr, sizeof(f.daddr));
		ret = zh_lb(data, data_end, &f, &fwd->nat);
		if (ret >= 0)
			return ret;
		if (ret == ZH_LB_NAT)
			zh_nat_daddr(&fwd->nat, key.addr);
	}
	return zh_ipv6_deliver(eth, ip6, &key, fwd);
}

/*
 * A frame sent by the pod behind host-side veth @ifindex. Anti-spoofing comes
 * first: nothing is forwarded or handed to the kernel before the source MAC
 * (all frames) and the source IP (IPv4, IPv6, ARP) are known to be the
 * pod's own. Other ethertypes reach the kernel after the MAC check; the host
 * veth has no VLAN or MPLS devices, so it drops them there.
 */
static __always_inline int zh_from_pod(void *data, void *data_end,
				       __u32 ifindex, struct zh_fwd *fwd)
{
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	struct zh_iface *self;

	if (!eth)
		return ZH_STAT_DROP_MALFORMED;
	self = bpf_map_lookup_elem(&zh_ifaces, &ifindex);
	if (!self)
		return ZH_STAT_PASS_NO_IFACE;
	/* Behind XDP, only what XDP handed over: the rest it has done. */
	if (fwd->tc && self->datapath == ZH_DATAPATH_XDP && !fwd->handover) {
		if (zh_kernel_has(XDP_META))
			return ZH_XDP_DONE;
		fwd->reclassify = 1;
	}
	if (!zh_mac_eq(eth->h_source, self->mac))
		return ZH_STAT_DROP_SPOOF_MAC;

	switch (eth->h_proto) {
	case bpf_htons(ETH_P_IP):
		return zh_ipv4_from_pod(data, data_end, self, fwd);
	case bpf_htons(ETH_P_IPV6):
		return zh_ipv6_from_pod(data, data_end, self, fwd);
	case bpf_htons(ETH_P_ARP):
		return zh_arp_from_pod(data, data_end, self);
	default:
		return ZH_STAT_PASS_NOT_IP;
	}
}

/*
 * A frame from outside on the node's uplink: TCP or UDP at a NodePort of
 * the node's own address goes to a backend (a local pod: delivered like a
 * pod's packet). Returns a zh_stat, or ZH_LB_PASSTHROUGH for everything
 * else, which the kernel keeps.
 */
static __always_inline int zh_from_uplink(void *data, void *data_end,
					  __u32 ifindex, struct zh_fwd *fwd)
{
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	struct zh_flow f = { .ifindex = ifindex };
	struct zh_ep_key key = {};
	int ret;

	if (!eth)
		return ZH_LB_PASSTHROUGH;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*iph));

		if (!iph || iph->version != 4 || iph->ihl != 5 ||
		    (iph->frag_off & bpf_htons(0x3fff)))
			return ZH_LB_PASSTHROUGH;
		f.family = key.family = ZH_AF_INET;
		f.proto = iph->protocol;
		f.saddr[0] = iph->saddr;
		f.daddr[0] = iph->daddr;
		ret = zh_lb_nodeport(data, data_end, &f, &fwd->nat);
		if (ret != ZH_LB_NAT)
			return ret;
		zh_nat_daddr(&fwd->nat, key.addr);
		/* zh_lb_nodeport() is a call: check the header again. */
		eth = zh_hdr(data, data_end, 0, sizeof(*eth));
		iph = zh_hdr(data, data_end, sizeof(*eth), sizeof(*iph));
		if (!eth || !iph)
			return ZH_STAT_DROP_MALFORMED;
		return zh_ipv4_deliver(eth, iph, &key, fwd);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*ip6));

		if (!ip6 || ip6->version != 6)
			return ZH_LB_PASSTHROUGH;
		f.family = key.family = ZH_AF_INET6;
		f.proto = ip6->nexthdr;
		__builtin_memcpy(f.saddr, &ip6->saddr, sizeof(f.saddr));
		__builtin_memcpy(f.daddr, &ip6->daddr, sizeof(f.daddr));
		ret = zh_lb_nodeport(data, data_end, &f, &fwd->nat);
		if (ret != ZH_LB_NAT)
			return ret;
		zh_nat_daddr(&fwd->nat, key.addr);
		eth = zh_hdr(data, data_end, 0, sizeof(*eth));
		ip6 = zh_hdr(data, data_end, sizeof(*eth), sizeof(*ip6));
		if (!eth || !ip6)
			return ZH_STAT_DROP_MALFORMED;
		return zh_ipv6_deliver(eth, ip6, &key, fwd);
	}
	return ZH_LB_PASSTHROUGH;
}

static __always_inline int zh_stat_is_drop(int stat)
{
	return stat >= ZH_STAT_DROP_SPOOF_MAC;
}

#endif /* ZH_FWD_H */
