/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * fwd.h - the same-node fast path, shared by the tc and XDP entries:
 * anti-spoofing, the balancer (lb.h), endpoint lookup, L2 rewrite and TTL
 * decrement.
 *
 * zh_from_pod() and zh_from_uplink() return an enum zh_stat: REDIRECT
 * means @fwd holds the target, PASS_* hands the frame to the kernel, DROP_*
 * drops it; or an enum zh_ret (maps.h) for what is no stat. verdict.h turns
 * that into the hook's verdict.
 */
#ifndef ZH_FWD_H
#define ZH_FWD_H

#include "parse.h"
#include "csum.h"
#include "maps.h"
#include "lb.h"
#include "node.h"
#include "snat.h"
#include "snat_icmp.h"
#include "lb_icmp.h"
#include "kfeat.h"
#include "policy.h"
#include "lb_dsr.h"

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
	__u8 dst_flags; /* the target's zh_endpoints flags (policy.h) */
	/* REDIRECT to a pod on another node (node.h: the verdict looks its
	 * zh_nodes entry up again, in a stack frame of its own; a pointer
	 * here would cost the entries' frames 8 bytes they do not have). */
	__u8 remote;
	__u8 family; /* of the packet */
	/* The entry is the VXLAN device's ingress: no NodePorts there. */
	__u8 tunnel;
	/* The entry runs in a netkit peer's transmit path (ZH_IFACE_F_NETKIT
	 * on the source): not at tc ingress, so bpf_redirect_peer() would
	 * drop; local deliveries and answers go out of the destination's
	 * host side with bpf_redirect() (one backlog crossing, as on a veth).
	 * Same size: it fills padding before @nat. */
	__u8 netkit;
	/* NodePort DSR (lb_dsr.h): ZH_DSR_OUT, this REDIRECT to another node
	 * gets the front end as an option; ZH_DSR_IN, the uplink took one
	 * out, the packet is for a pod here. Padding before @nat as well. */
	__u8 dsr;
	/* ZH_STAT_SNAT: @ifindex is the uplink, bpf_redirect_neigh() fills
	 * in the L2 header there. */
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

/* fe80::/10, or :: as used by duplicate address detection. */
static __always_inline int zh_v6_link_local(const __u32 *a)
{
	const __u8 *b = (const __u8 *)a;

	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return 1;
	return !(a[0] | a[1] | a[2] | a[3]);
}

/* Rewrite the Ethernet header as the router between the two pods. */
static __always_inline void zh_l2_rewrite(struct ethhdr *eth,
					  const struct zh_endpoint *ep)
{
	zh_mac_copy(eth->h_dest, ep->mac);
	zh_mac_copy(eth->h_source, ep->gw_mac);
}

/* One hop further: the TTL or hop limit down by one, unless it expires
 * here (ZH_STAT_PASS_TTL: the kernel answers). */
static __always_inline int zh_hop(void *data, void *data_end, __u8 family,
				  struct zh_fwd *fwd)
{
	if (family == ZH_AF_INET) {
		struct iphdr *iph =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));

		if (!iph)
			return ZH_STAT_DROP_MALFORMED;
		if (iph->ttl <= 1)
			return ZH_STAT_PASS_TTL;
		iph->check = zh_csum_ttl_dec(iph->check);
		iph->ttl--;
	} else {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip6));

		if (!ip6)
			return ZH_STAT_DROP_MALFORMED;
		if (ip6->hop_limit <= 1)
			return ZH_STAT_PASS_TTL;
		/* No header checksum in IPv6; payload_len, nexthdr and
		 * hop_limit make one 32-bit word at offset 4. */
		fwd->l3_old = *(__be32 *)((void *)ip6 + 4);
		ip6->hop_limit--;
		fwd->l3_new = *(__be32 *)((void *)ip6 + 4);
	}
	return 0;
}

/* Would one more hop expire it (ZH_STAT_PASS_TTL, the kernel answers)?
 * Asked before a source NAT, whose packet the kernel could not answer. */
static __always_inline int zh_ttl_expires(void *data, void *data_end,
					  __u8 family)
{
	__u8 *ttl =
		zh_hdr(data, data_end,
		       ETH_HLEN + (family == ZH_AF_INET ?
					   offsetof(struct iphdr, ttl) :
					   offsetof(struct ipv6hdr, hop_limit)),
		       1);

	return !ttl || *ttl <= 1;
}

/*
 * Out of the node with a source NAT (snat.h) by zh_snat_src[@src_key]'s
 * uplink: ZH_STAT_SNAT, one hop further; XDP hands it to tc. Anything it
 * cannot take is @f's @stat as it was (the kernel's). @ctx: the
 * program's, for a NodePort request (its client's port may be kept);
 * NULL for the masquerade (ports of the range).
 */
static __always_inline int zh_snat_route(void *ctx, void *data, void *data_end,
					 const struct zh_flow *f, __u32 src_key,
					 int stat, struct zh_fwd *fwd)
{
	int ret;

	/* Without bpf_redirect_neigh() it could not leave: the kernel would
	 * take a packet from its own address for a martian. */
	if (!zh_lb_takes(f) || !zh_kernel_has(TC_REDIRECT_NEIGH))
		return stat;
	if (fwd->xdp)
		return ZH_STAT_PASS_TO_TC;
	if (zh_ttl_expires(data, data_end, f->family))
		return ZH_STAT_PASS_TTL;
	ret = ctx ? zh_snat_nodeport(ctx, f, &fwd->nat, src_key,
				     &fwd->ifindex) :
		    zh_snat_out(f, &fwd->nat, src_key, &fwd->ifindex,
				ZH_SNAT_RANGE);
	if (ret != ZH_STAT_SNAT)
		return ret == ZH_RET_PASSTHROUGH ? stat : ret;
	/* Behind XDP without metadata: XDP handed this over. */
	if (fwd->reclassify)
		fwd->handover = 1;
	ret = zh_hop(data, data_end, f->family, fwd);
	return ret ? ret : ZH_STAT_SNAT;
}

/*
 * A pod's ICMP error about a NodePort DSR request it got, or about a
 * NodePort's (LoadBalancer IP's) request to it as a local backend
 * (lb_dsr.h zh_dsr_icmp_out()): rewritten as the front end's and out of the uplink
 * the flow's replies leave by, one hop further (ZH_STAT_SNAT: the
 * neighbour table's L2 header); XDP hands it to tc; one that would expire
 * here is the kernel's, untouched. Anything else: @stat as it was. A
 * function of its own: zh_tc_from_pod's stack is spent.
 */
static __attribute__((noinline)) int
zh_dsr_icmp_route(void *data, void *data_end, const struct zh_flow *f,
		  struct zh_fwd *fwd, int stat)
{
	int expires, ret;
	__u32 out;

	if (!data || !f || !fwd || !zh_kernel_has(TC_REDIRECT_NEIGH))
		return stat;
	/* (Not one that would expire: tc would leave it to the kernel,
	 * which XDP can do itself.) */
	if (fwd->xdp)
		return !zh_ttl_expires(data, data_end, f->family) &&
				       zh_dsr_icmp_out(data, data_end, f, 0) ?
			       ZH_STAT_PASS_TO_TC :
			       stat;
	expires = zh_ttl_expires(data, data_end, f->family);
	out = zh_dsr_icmp_out(data, data_end, f, !expires);
	if (!out)
		return stat;
	if (expires)
		return ZH_STAT_PASS_TTL;
	if (fwd->reclassify)
		fwd->handover = 1;
	fwd->ifindex = out;
	ret = zh_hop(data, data_end, f->family, fwd);
	return ret ? ret : ZH_STAT_SNAT;
}

/*
 * The routing tail of every entry: a local pod at @key gets the frame, one
 * hop further, from its gateway's MAC; anything else goes to the kernel.
 */
static __always_inline int zh_deliver(void *data, void *data_end,
				      const struct zh_ep_key *key,
				      struct zh_fwd *fwd)
{
	struct zh_endpoint *ep = bpf_map_lookup_elem(&zh_endpoints, key);
	struct ethhdr *eth;
	int stat;

	if (!ep)
		return ZH_STAT_PASS_NO_ENDPOINT;
	if (fwd->xdp && ep->datapath != ZH_DATAPATH_XDP)
		return ZH_STAT_PASS_TO_TC;
	if (fwd->reclassify) {
		/* An XDP pod: the XDP entry delivered it, or dropped it when
		 * the redirect failed; it never passes such a frame on. */
		if (ep->datapath == ZH_DATAPATH_XDP)
			return ZH_RET_XDP_DONE;
		fwd->handover = 1;
	}
	stat = zh_hop(data, data_end, key->family, fwd);
	if (stat)
		return stat;
	eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	if (!eth)
		return ZH_STAT_DROP_MALFORMED;
	zh_l2_rewrite(eth, ep);
	fwd->ifindex = ep->ifindex;
	fwd->via_rx = ep->flags & ZH_EP_F_VIA_RX;
	fwd->dst_flags = ep->flags;
	return ZH_STAT_REDIRECT;
}

/*
 * No local pod at @key: a pod of another node (zh_nodes)? Then the frame
 * goes there, one hop further, as @fwd->node says (the tc verdict sends
 * it: node.h). Where this kernel cannot send it so, the kernel's routes
 * take it, untouched.
 */
static __always_inline int zh_to_node(void *data, void *data_end,
				      const struct zh_ep_key *key,
				      struct zh_fwd *fwd)
{
	struct zh_node *n = zh_node_route(key);
	int stat;

	if (!n)
		return ZH_STAT_PASS_NO_ENDPOINT;
	if (n->flags & ZH_NODE_F_VXLAN ? !zh_kernel_has(TC_SET_TUNNEL_KEY) :
					 !zh_kernel_has(TC_REDIRECT_NEIGH))
		return ZH_STAT_PASS_NO_ENDPOINT;
	/* XDP has no way out to another node: the tc entry behind it. */
	if (fwd->xdp)
		return ZH_STAT_PASS_TO_TC;
	if (fwd->reclassify)
		fwd->handover = 1;
	stat = zh_hop(data, data_end, key->family, fwd);
	if (stat)
		return stat;
	fwd->remote = 1;
	fwd->family = key->family;
	fwd->ifindex = n->ifindex;
	return ZH_STAT_REDIRECT;
}

/*
 * A NodePort request from outside the cluster whose backend (@key) is a
 * pod of another node, in DSR mode (lb_dsr.h): DNATed only, to that node,
 * the front end added on the way out (the tc verdict). ZH_STAT_PASS_NO_ENDPOINT
 * where the backend is no pod of a node the fast path reaches: SNAT then.
 * A function of its own: the node table's key gets a frame of its own.
 */
static __attribute__((noinline)) int zh_dsr_route(void *data, void *data_end,
						  const struct zh_ep_key *key,
						  struct zh_fwd *fwd)
{
	int ret;

	if (!data || !key || !fwd)
		return ZH_STAT_PASS_NO_ENDPOINT;
	ret = zh_to_node(data, data_end, key, fwd);
	if (ret == ZH_STAT_REDIRECT)
		fwd->dsr = ZH_DSR_OUT;
	return ret;
}

/* Where a routed packet goes: its destination, after a Service rewrite the
 * balancer planned (a ZH_RET_NAT @ret). */
static __always_inline void zh_dst_key(struct zh_ep_key *key,
				       const struct zh_flow *f, int ret,
				       const struct zh_nat *nat)
{
	key->family = f->family;
	if (ret == ZH_RET_NAT)
		zh_nat_daddr(nat, key->addr);
	else
		__builtin_memcpy(key->addr, f->daddr, sizeof(key->addr));
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

/* Is the packet's source the pod's own address? The kernel handles ND and
 * DAD (link-local or unspecified IPv6 sources) and never forwards them. */
static __always_inline int zh_src_check(const struct zh_flow *f,
					const struct zh_iface *self)
{
	if (f->family == ZH_AF_INET)
		return (self->flags & ZH_IFACE_F_V4) &&
				       f->saddr[0] == self->ipv4 ?
			       0 :
			       ZH_STAT_DROP_SPOOF_IP;
	if ((self->flags & ZH_IFACE_F_V6) && zh_addr_eq(f->saddr, self->ipv6))
		return 0;
	return zh_v6_link_local(f->saddr) ? ZH_STAT_PASS_LINK_LOCAL :
					    ZH_STAT_DROP_SPOOF_IP;
}

static __always_inline int zh_ip_from_pod(void *data, void *data_end,
					  __u32 ifindex,
					  const struct zh_iface *self,
					  struct zh_fwd *fwd)
{
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	struct zh_ep_key key = {};
	struct zh_flow f = {};
	int ret;

	if (!eth || zh_flow_parse(data, data_end, &f))
		return ZH_STAT_DROP_MALFORMED;
	ret = zh_src_check(&f, self);
	if (ret)
		return ret;
	/* Only what the kernel would route: unicast to the gateway. */
	if (!zh_mac_eq(eth->h_dest, self->gw_mac))
		return ZH_STAT_PASS_NOT_TO_GW;
	/* Options (source routing among them) get the kernel's rules; the
	 * kernel routes them on, so the source's egress is judged here as
	 * for a destination off the node (policy.h; the destination's
	 * ingress is zh_tc_to_pod's, or its node's). */
	if (f.flags & ZH_FLOW_F_IP_OPTIONS) {
		zh_dst_key(&key, &f, ZH_RET_PASSTHROUGH, &fwd->nat);
		ret = zh_pol_from_pod(data, data_end, ZH_STAT_PASS_NO_ENDPOINT,
				      &f, &key, self->flags, 0, &fwd->nat);
		return ret == ZH_STAT_PASS_NO_ENDPOINT ?
			       ZH_STAT_PASS_IP_OPTIONS :
			       ret;
	}
	ret = zh_lb(&f, &fwd->nat, ifindex);
	if (ret < ZH_STAT_MAX)
		return ret;
	zh_dst_key(&key, &f, ret, &fwd->nat);
	ret = zh_deliver(data, data_end, &key, fwd);
	/* NetworkPolicy (policy.h): judged on what delivery decided, the
	 * destination after DNAT, the source before any SNAT. */
	ret = zh_pol_from_pod(data, data_end, ret, &f, &key, self->flags,
			      fwd->dst_flags, &fwd->nat);
	/* An ICMP error about a Service flow of the pod it goes to: the
	 * Service's (lb_icmp.h). */
	if (ret == ZH_STAT_REDIRECT &&
	    (f.proto == IPPROTO_ICMP || f.proto == IPPROTO_ICMPV6))
		zh_lb_icmp(data, data_end, &f);
	if (ret == ZH_STAT_PASS_NO_ENDPOINT)
		ret = zh_to_node(data, data_end, &key, fwd);
	/* An ICMP error about a NodePort (or LoadBalancer IP) request this
	 * pod got, its client's address kept (a local backend, or DSR): the
	 * front end's, out of the uplink its replies leave by (lb_dsr.h). */
	if (ret == ZH_STAT_PASS_NO_ENDPOINT &&
	    (f.proto == IPPROTO_ICMP || f.proto == IPPROTO_ICMPV6) &&
	    zh_lb_on())
		ret = zh_dsr_icmp_route(data, data_end, &f, fwd, ret);
	/* Off the node, out of the cluster: masquerade. Not a NodePort's
	 * reply (out_ifindex): that leaves from the node port as it is.
	 * Nothing inside the cluster (the node table's CIDRs) either. */
	if (ret == ZH_STAT_PASS_NO_ENDPOINT && !fwd->nat.out_ifindex &&
	    zh_masq_on() && !zh_nomasq_has(f.family, key.addr) &&
	    !zh_in_cluster(f.family, key.addr))
		return zh_snat_route(NULL, data, data_end, &f, 0, ret, fwd);
	return ret;
}

/*
 * A frame sent by the pod behind host-side veth @ifindex. Anti-spoofing comes
 * first: nothing is forwarded or handed to the kernel before the source MAC
 * (all frames) and the source IP (IPv4, IPv6, ARP) are known to be the
 * pod's own. Other ethertypes reach the kernel after the MAC check; the host
 * veth has no MPLS devices, so it drops them there.
 *
 * VLAN tags are dropped here: the pod's link carries no VLANs, and the
 * kernel does not drop a tagged frame for want of a VLAN device when the
 * tag is a priority tag (VID 0): it strips it and routes the packet behind
 * it, whose source this check would never have seen. (Under tc the kernel
 * has stripped an outer tag before we run and the packet behind it is
 * checked as any other; what is left in the frame is a second tag.)
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
			return ZH_RET_XDP_DONE;
		fwd->reclassify = 1;
	}
	if (!zh_mac_eq(eth->h_source, self->mac))
		return ZH_STAT_DROP_SPOOF_MAC;
	fwd->netkit = !!(self->flags & ZH_IFACE_F_NETKIT);

	switch (eth->h_proto) {
	case bpf_htons(ETH_P_IP):
	case bpf_htons(ETH_P_IPV6):
		return zh_ip_from_pod(data, data_end, ifindex, self, fwd);
	case bpf_htons(ETH_P_ARP):
		return zh_arp_from_pod(data, data_end, self);
	case bpf_htons(ETH_P_8021Q):
	case bpf_htons(ETH_P_8021AD):
		return ZH_STAT_DROP_MALFORMED;
	default:
		return ZH_STAT_PASS_NOT_IP;
	}
}

/*
 * A reply to a flow SNATed to this uplink's address (snat.h): back to its
 * pod, or for a NodePort to its client, out of the uplink the request
 * came in on. XDP leaves it to tc. Returns a zh_stat, or
 * ZH_RET_PASSTHROUGH when it is no such reply.
 */
static __always_inline int zh_snat_reply(void *data, void *data_end,
					 const struct zh_flow *f,
					 struct zh_fwd *fwd)
{
	struct zh_ep_key key = {};
	int ret, expires;

	/* An ICMP error about such a flow (snat_icmp.h): a masqueraded
	 * flow's into its pod, a NodePort's on to its client or backend,
	 * one hop further; one that would expire here untouched (the
	 * kernel drops it: no error about an error). */
	if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
		if (fwd->xdp)
			return zh_snat_icmp(data, data_end, f, &key, 0) < 0 ?
				       ZH_RET_PASSTHROUGH :
				       ZH_STAT_PASS_TO_TC;
		expires = zh_ttl_expires(data, data_end, f->family);
		ret = zh_snat_icmp(data, data_end, f, &key, !expires);
		if (ret < 0)
			return ZH_RET_PASSTHROUGH;
		if (expires)
			return ZH_STAT_PASS_TTL;
		if (!ret)
			return zh_deliver(data, data_end, &key, fwd);
		fwd->ifindex = (__u32)ret;
		ret = zh_hop(data, data_end, f->family, fwd);
		return ret ? ret : ZH_STAT_SNAT;
	}
	if (fwd->xdp)
		return zh_snat_is_reply(f) ? ZH_STAT_PASS_TO_TC :
					     ZH_RET_PASSTHROUGH;
	ret = zh_snat_in(f, &fwd->nat);
	if (ret != ZH_RET_NAT)
		return ret;
	zh_dst_key(&key, f, ret, &fwd->nat);
	ret = zh_deliver(data, data_end, &key, fwd);
	if (ret != ZH_STAT_PASS_NO_ENDPOINT || !fwd->nat.out_ifindex ||
	    !zh_kernel_has(TC_REDIRECT_NEIGH))
		return ret;
	if (zh_ttl_expires(data, data_end, f->family))
		return ZH_STAT_PASS_TTL;
	fwd->ifindex = fwd->nat.out_ifindex;
	ret = zh_hop(data, data_end, f->family, fwd);
	return ret ? ret : ZH_STAT_SNAT;
}

/*
 * A frame on the node's uplink (or, @fwd->tunnel, decapsulated by its
 * VXLAN device):
 *   - a reply to a flow SNATed to this uplink's address goes back where it
 *     belongs (zh_snat_reply());
 *   - TCP or UDP at a NodePort of the node's own address goes to a backend:
 *     a local pod gets it like a pod's packet; one on another node gets it
 *     from this node's address (SNAT, so that the reply comes back here),
 *     or in DSR mode, from outside the cluster, with the client's address
 *     and the front end as an option (lb_dsr.h), unless the Service keeps
 *     the client's address (externalTrafficPolicy Local: the kernel routes
 *     it, DNATed);
 *   - a DSR request whose option the entry took out (@fwd->dsr
 *     ZH_DSR_IN) goes into its pod, and so does an ICMP error about a
 *     DSR reply that the front end's node handed on (lb_dsr.h);
 *   - a reply of a Service flow whose backend is on another node goes
 *     back to the VIP and on to the client pod;
 *   - from inside the cluster (zh_cluster_cidr) to a local pod: straight
 *     into it, the host stack skipped (pod to pod across nodes).
 * Returns a zh_stat, or ZH_RET_PASSTHROUGH for everything else, which the
 * kernel keeps.
 */
static __always_inline int zh_from_uplink(void *ctx, void *data, void *data_end,
					  __u32 ifindex, struct zh_fwd *fwd)
{
	struct zh_flow f = { .ifindex = ifindex };
	int ret = ZH_RET_PASSTHROUGH, nodeport = ZH_RET_PASSTHROUGH;
	struct zh_ep_key key = {};

	if (zh_flow_parse(data, data_end, &f))
		return ZH_RET_PASSTHROUGH;
	if (!fwd->tunnel) {
		ret = zh_snat_reply(data, data_end, &f, fwd);
		if (ret != ZH_RET_PASSTHROUGH)
			return ret;
	}
	if (zh_lb_on()) {
		if (!fwd->tunnel)
			ret = nodeport = zh_lb_nodeport(&f, &fwd->nat);
		if (ret == ZH_RET_PASSTHROUGH)
			ret = zh_lb_from_node(&f, &fwd->nat);
	}
	if (ret != ZH_RET_NAT && ret != ZH_RET_PASSTHROUGH)
		return ret;
	/* Not a Service's yet: the kernel's rules for IP options; from
	 * outside the cluster, a Service's own address (a LoadBalancer or
	 * external IP) balanced as a NodePort is, else the kernel's. Cluster
	 * traffic (pod to pod across nodes) never pays that lookup. */
	if (ret == ZH_RET_PASSTHROUGH && (f.flags & ZH_FLOW_F_IP_OPTIONS))
		return ZH_RET_PASSTHROUGH;
	if (ret == ZH_RET_PASSTHROUGH && !zh_in_cluster(f.family, f.saddr)) {
		if (zh_lb_on() && !fwd->tunnel)
			ret = nodeport = zh_lb_external(&f, &fwd->nat);
		/* A DSR request whose option zh_dsr_in() took out, or an
		 * ICMP error about a DSR reply that the front end's node
		 * handed on (lb_dsr.h zh_dsr_icmp_in()): for a pod here,
		 * delivered as cross-node traffic is. */
		if (ret == ZH_RET_PASSTHROUGH && fwd->dsr != ZH_DSR_IN &&
		    !((f.proto == IPPROTO_ICMP || f.proto == IPPROTO_ICMPV6) &&
		      zh_dsr_on() && zh_dsr_icmp_in(data, data_end, &f)))
			return ZH_RET_PASSTHROUGH;
		if (ret != ZH_RET_NAT && ret != ZH_RET_PASSTHROUGH)
			return ret;
	}
	zh_dst_key(&key, &f, ret, &fwd->nat);
	ret = zh_deliver(data, data_end, &key, fwd);
	/* NetworkPolicy (policy.h): delivered straight into a pod here, so
	 * its ingress is judged here (zh_tc_to_pod never sees it). */
	ret = zh_pol_from_pod(data, data_end, ret, &f, &key, 0, fwd->dst_flags,
			      &fwd->nat);
	if (ret == ZH_STAT_REDIRECT &&
	    (f.proto == IPPROTO_ICMP || f.proto == IPPROTO_ICMPV6))
		zh_lb_icmp(data, data_end, &f);
	/* Not for a pod here (the node's own, or routed on): not ours, and
	 * not counted. */
	if (ret == ZH_STAT_PASS_NO_ENDPOINT && !fwd->nat.op)
		return ZH_RET_PASSTHROUGH;
	/* A NodePort whose backend is on another node: DSR for a client
	 * outside the cluster where it is on (lb_dsr.h), else SNAT. */
	if (ret == ZH_STAT_PASS_NO_ENDPOINT && nodeport == ZH_RET_NAT &&
	    !(fwd->nat.svc_flags & ZH_SVC_F_ETP_LOCAL)) {
		if (zh_dsr_on() && !zh_in_cluster(f.family, f.saddr)) {
			ret = zh_dsr_route(data, data_end, &key, fwd);
			if (ret != ZH_STAT_PASS_NO_ENDPOINT)
				return ret;
		}
		return zh_snat_route(ctx, data, data_end, &f, ifindex, ret,
				     fwd);
	}
	return ret;
}

#endif /* ZH_FWD_H */
