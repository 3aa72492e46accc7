/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * lb_dsr.h - Direct Server Return for NodePorts and a Service's external
 * addresses (zh_abi.h ZH_CFG_F_NODEPORT_DSR, zerohopd --nodeport-mode=dsr).
 *
 * A request from outside the cluster to a NodePort (or LoadBalancer /
 * external IP) of node A whose backend is a pod of node B:
 *
 *   node A  DNATs it to the backend, keeps the client's address, and puts
 *           the front end the client asked for (A's address or the LB IP,
 *           and the port) into the packet: IPv4 an 8-byte option (type
 *           ZH_DSR_OPT4_TYPE, length, port, address), IPv6 a 24-byte
 *           Destination Options header (one option ZH_DSR_OPT6_TYPE: port
 *           and address, then PadN). Every request of the flow carries it,
 *           so B's entry lives as long as the flow, whatever B's LRU did.
 *           Out by the node path (node.h), in VXLAN mode inside the tunnel.
 *   node B  (zh_tc_uplink, or zh_tc_tunnel behind the kernel's VXLAN
 *           device, which gets these in routing vxlan) takes the front end
 *           out of it, writes the reply's zh_ct REV entry {pod -> client}
 *           with the front end to restore and its own uplink to leave by
 *           (ZH_CT_F_DSR), and hands the plain packet on: it is delivered
 *           into the pod as any cross-node packet, NetworkPolicy judging
 *           the pod's ingress with the client as the source.
 *   reply   the pod's packet meets that REV entry on its host veth (lb.h
 *           zh_lb_reply: a NodePort reply, as for a local backend): its
 *           source becomes the front end and it leaves B's uplink by
 *           bpf_redirect_neigh(), straight to the client, never masqueraded
 *           and never through A.
 *
 * ICMP errors about such a flow, both ways (icmp.h zh_icmp_nat(), as
 * lb_icmp.h and snat_icmp.h do for the other Service flows; the same two
 * for a NodePort's local backend in snat mode, whose reply entry has the
 * shape of B's, without ZH_CT_F_DSR: the pod's error leaves by that
 * entry, a router's is delivered by snat_icmp.h):
 *
 *   backend  the pod's own error about a request (its "port unreachable",
 *            quoting client -> pod:port) meets the REV entry on its host
 *            veth (zh_dsr_icmp_out()): it leaves B's uplink as the front
 *            end's, quoting client -> front end:port;
 *   client   a router toward the client answers a reply too big for its
 *            link to the reply's source, the front end: node A, which
 *            has no SNAT entry, finds the backend by its FWD entry and
 *            sends the error on to it by the node path, the quote what
 *            the backend sent (snat_icmp.h, zh_dsr_flow_remote()); B
 *            delivers it into the pod as it is (zh_dsr_icmp_in()).
 *
 * Option types: RFC 4727's experimental values. IPv4 0x9e: copied into
 * fragments, class 0, number 30. IPv6 0x1e: skipped by a node that does
 * not know it, not changed on the way.
 *
 * Only clients outside the cluster (not in zh_cluster_cidr): a pod or node
 * of the cluster is SNATed as before (the reply must not bypass its own
 * conntrack). Node B, for the same reason, takes the option only from a
 * source outside the cluster and only for a local pod; anything else with
 * such an option is left to the kernel untouched.
 *
 * MTU: the option makes the packet 8 (IPv4) or 24 (IPv6) bytes longer. One
 * that no longer fits the way to B (bpf_check_mtu() on that device: the
 * uplink, or the VXLAN device whose MTU has the tunnel's overhead taken
 * off) is answered, as a router would, with ICMP fragmentation needed (an
 * IPv4 packet with DF) or packet too big (IPv6), the MTU reduced by the
 * option's size, from the front end, quoting the request as the client
 * sent it (a GSO packet: when its segments exceed the MTU as they are;
 * adding the option shrinks the segment size to make room); the client's path MTU discovery then sends smaller packets
 * (ZH_STAT_DROP_DSR_TOO_BIG counts the request). An IPv4 packet without DF
 * is dropped with the same count: it could only be fragmented, which the
 * fast path does not do (Linux sets DF on TCP and UDP sockets by default).
 */
#ifndef ZH_LB_DSR_H
#define ZH_LB_DSR_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "maps.h"
#include "lb.h"
#include "node.h"
#include "reject.h"
#include "kfeat.h"
#include "icmp.h"

#define ZH_DSR_OPT4_TYPE 0x9e
#define ZH_DSR_OPT4_LEN 8
#define ZH_DSR_OPT6_TYPE 0x1e
#define ZH_DSR_OPT6_LEN 18 /* the option's data: port, address */
#define ZH_DSR_HDR6_LEN 24
#define ZH_IPPROTO_DSTOPTS 60

struct zh_dsr_opt4 {
	__u8 type;
	__u8 len;
	__be16 port;
	__be32 addr;
};

struct zh_dsr_hdr6 {
	__u8 nexthdr;
	__u8 hdrlen; /* in 8 bytes, not counting the first 8: 2 */
	__u8 type;
	__u8 len;
	__be16 port;
	__u8 addr[16];
	__u8 padn[2]; /* PadN, no data: 1, 0 */
};

_Static_assert(sizeof(struct zh_dsr_opt4) == ZH_DSR_OPT4_LEN, "dsr opt4");
_Static_assert(sizeof(struct zh_dsr_hdr6) == ZH_DSR_HDR6_LEN, "dsr hdr6");

/* fwd.h's struct zh_fwd .dsr */
enum {
	ZH_DSR_OUT = 1, /* node A: the option goes in on the way out */
	ZH_DSR_IN = 2, /* node B: taken out, the packet is for a pod here */
};

/* Is DSR on (and can this kernel tell what fits the MTU)? */
static __always_inline int zh_dsr_on(void)
{
	struct zh_config *cfg = zh_cfg();

	return cfg && (cfg->flags & ZH_CFG_F_NODEPORT_DSR) &&
	       zh_kernel_has(TC_CHECK_MTU);
}

static __always_inline __u32 zh_dsr_len(__u32 family)
{
	return family == ZH_AF_INET ? ZH_DSR_OPT4_LEN : ZH_DSR_HDR6_LEN;
}

/*
 * Node A, tc: does the request, its option added, fit device @ifindex (the
 * way to the backend's node)? 0 when it does; else the packet is answered
 * with "too big" (counted) and the tc verdict returned: a redirect, or
 * anything else when that failed (drop it). Before the DNAT is written: the error
 * quotes the request as the client sent it, from the front end.
 */
static __attribute__((noinline)) int zh_dsr_too_big(struct __sk_buff *skb,
						    __u32 ifindex, __u32 family)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 mtu = 0, extra = zh_dsr_len(family);
	struct iphdr *iph;

	/* A GSO packet by its segments (BPF_MTU_CHK_SEGS, which takes no
	 * length difference: each as it is now, the option's room taken
	 * from the segment size by bpf_skb_adjust_room() afterwards); any
	 * other by its length with the option. */
	if (skb->gso_size ?
		    bpf_check_mtu(skb, ifindex, &mtu, 0, BPF_MTU_CHK_SEGS) ==
			    BPF_MTU_CHK_RET_SUCCESS :
		    bpf_check_mtu(skb, ifindex, &mtu, (__s32)extra, 0) ==
			    BPF_MTU_CHK_RET_SUCCESS)
		return 0;
	/* (A failed call, -EINVAL or -ENODEV, is too big as well: dropped
	 * with an answer rather than sent where it cannot go.) */
	/* The request, not our answer. */
	zh_count(ZH_STAT_DROP_DSR_TOO_BIG, skb->len);
	if (family == ZH_AF_INET) {
		iph = zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));
		/* No DF: it would have to be fragmented. */
		if (!iph || !(iph->frag_off & bpf_htons(0x4000)))
			return TC_ACT_SHOT;
	}
	if (mtu <= extra)
		return TC_ACT_SHOT;
	return zh_skb_icmp_err(skb, 0, mtu - extra);
}

/*
 * Node A, tc: the front end (@nat's destination before the DNAT, which is
 * written already) into the packet after its IP header. 0, or -1 (drop:
 * it may be half done).
 */
static __attribute__((noinline)) int zh_dsr_push(struct __sk_buff *skb,
						 const struct zh_nat *nat)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (nat->family == ZH_AF_INET) {
		struct {
			struct iphdr ip;
			struct zh_dsr_opt4 opt;
		} h;
		struct iphdr *iph =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*iph));

		if (!iph || iph->ihl != 5)
			return -1;
		__builtin_memcpy(&h.ip, iph, sizeof(h.ip));
		h.ip.ihl = 7;
		h.ip.tot_len =
			bpf_htons(bpf_ntohs(h.ip.tot_len) + ZH_DSR_OPT4_LEN);
		h.ip.check = 0;
		h.opt.type = ZH_DSR_OPT4_TYPE;
		h.opt.len = ZH_DSR_OPT4_LEN;
		h.opt.port = nat->old_ports[1];
		h.opt.addr = nat->old_ip[1];
		h.ip.check = zh_csum_fold(
			bpf_csum_diff(NULL, 0, (__be32 *)&h, sizeof(h), 0));
		/* Room after the 20-byte header; the new header over both,
		 * its change added to a CHECKSUM_COMPLETE skb's csum. */
		if (bpf_skb_adjust_room(skb, ZH_DSR_OPT4_LEN, BPF_ADJ_ROOM_NET,
					0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN, &h, sizeof(h),
					BPF_F_RECOMPUTE_CSUM))
			return -1;
		return 0;
	}
	{
		struct zh_dsr_hdr6 h = {};
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, ETH_HLEN, sizeof(*ip6));
		__be32 w;

		if (!ip6)
			return -1;
		h.nexthdr = ip6->nexthdr;
		h.hdrlen = ZH_DSR_HDR6_LEN / 8 - 1;
		h.type = ZH_DSR_OPT6_TYPE;
		h.len = ZH_DSR_OPT6_LEN;
		h.port = nat->old_ports[1];
		__builtin_memcpy(h.addr, &nat->old_ip[4], 16);
		h.padn[0] = 1;
		/* payload_len, nexthdr, hop_limit: one word at offset 4,
		 * stored by the helper so that a CHECKSUM_COMPLETE csum sees
		 * the change. The L4 checksum's pseudo-header has the upper
		 * layer's length and protocol: unchanged. */
		{
			struct ipv6hdr t;

			__builtin_memcpy(&t, ip6, 8);
			t.payload_len = bpf_htons(bpf_ntohs(t.payload_len) +
						  ZH_DSR_HDR6_LEN);
			t.nexthdr = ZH_IPPROTO_DSTOPTS;
			__builtin_memcpy(&w, (void *)&t + 4, 4);
		}
		if (bpf_skb_store_bytes(skb, ETH_HLEN + 4, &w, 4,
					BPF_F_RECOMPUTE_CSUM) ||
		    bpf_skb_adjust_room(skb, ZH_DSR_HDR6_LEN, BPF_ADJ_ROOM_NET,
					0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(struct ipv6hdr),
					&h, sizeof(h), BPF_F_RECOMPUTE_CSUM))
			return -1;
		return 0;
	}
}

/* The reply's REV entry on node B: {pod:port -> client:port}, the front end
 * to restore. A request refreshes it (and moves its TCP state on, as the
 * balancer's entries do). */
static __always_inline int zh_dsr_track(__u8 family, __u8 proto,
					const __u32 *client, const __u32 *pod,
					__be16 cport, __be16 pport,
					const __u32 *fe, __be16 feport,
					__u8 tcp_flags, __u32 uplink)
{
	struct zh_ct_key k = { .family = family,
			       .proto = proto,
			       .dir = ZH_CT_REV,
			       .sport = pport,
			       .dport = cport };
	struct zh_ct ct = {}, *old;
	__u64 now = bpf_ktime_get_ns();
	__u8 state = ZH_CT_NEW;

	__builtin_memcpy(k.saddr, pod, sizeof(k.saddr));
	__builtin_memcpy(k.daddr, client, sizeof(k.daddr));
	old = bpf_map_lookup_elem(&zh_ct, &k);
	if (old && (old->flags & ZH_CT_F_DSR) && zh_addr_eq(old->vip, fe) &&
	    old->vport == feport && old->out_ifindex == uplink &&
	    zh_ct_live(old, proto, now))
		state = old->state;
	if (proto == IPPROTO_TCP) {
		if (tcp_flags & (ZH_TCP_FIN | ZH_TCP_RST))
			state = ZH_CT_CLOSING;
		else if (state == ZH_CT_NEW && (tcp_flags & ZH_TCP_ACK) &&
			 !(tcp_flags & ZH_TCP_SYN))
			state = ZH_CT_ESTABLISHED;
	}
	if (old && state == old->state && (old->flags & ZH_CT_F_DSR) &&
	    zh_addr_eq(old->vip, fe) && old->vport == feport &&
	    old->out_ifindex == uplink) {
		old->last_seen_ns = now;
		return 0;
	}
	ct.last_seen_ns = now;
	ct.state = state;
	ct.flags = ZH_CT_F_DSR;
	__builtin_memcpy(ct.vip, fe, sizeof(ct.vip));
	ct.vport = feport;
	ct.out_ifindex = uplink;
	return bpf_map_update_elem(&zh_ct, &k, &ct, BPF_ANY);
}

/* The pod's replies are looked up on its host veth from now on. */
static __always_inline void zh_dsr_mark(__u32 ifindex)
{
	__u32 slot = ifindex & (ZH_SVC_BE_SLOTS - 1);
	__u32 *v = bpf_map_lookup_elem(&zh_svc_be, &slot);

	if (v && !*v)
		*v = 1;
}

/* A local pod at @addr (its host veth's ifindex), or 0. */
static __always_inline __u32 zh_dsr_pod(__u8 family, const __u32 *addr)
{
	struct zh_ep_key k = { .family = family };
	struct zh_endpoint *ep;

	__builtin_memcpy(k.addr, addr, sizeof(k.addr));
	ep = bpf_map_lookup_elem(&zh_endpoints, &k);
	return ep ? ep->ifindex : 0;
}

/* The TCP flags of a TCP header at @off into *@flags (UDP: 0). -1 when
 * the header is cut short. */
static __always_inline int zh_dsr_tcp_flags(void *data, void *data_end,
					    __u8 proto, const __u32 off,
					    __u8 *flags)
{
	__u8 *th;

	*flags = 0;
	if (proto != IPPROTO_TCP)
		return 0;
	th = zh_hdr(data, data_end, off, 14);
	if (!th)
		return -1;
	*flags = th[13];
	return 0;
}

/*
 * Node B, tc ingress of the uplink (@uplink), or of the VXLAN device that
 * decapsulated it (@uplink: the one the replies leave by): a request that
 * carries the front end, from outside the cluster to a pod here? Then the
 * reply's entry is written and the option taken out. Returns
 * ZH_DSR_IN (the packet is plain now), 0 (no such packet: untouched) or
 * -1 (drop: half done).
 */
static __attribute__((noinline)) int zh_dsr_in(struct __sk_buff *skb,
					       __u32 uplink)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 client[4] = {}, pod[4] = {}, fe[4] = {};
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	__u32 ifindex;
	__u8 *l4, flags;

	if (!eth)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct {
			struct iphdr ip;
			struct zh_dsr_opt4 opt;
		} *h = zh_hdr(data, data_end, ETH_HLEN, sizeof(*h));
		struct iphdr ip;

		if (!h || h->ip.ihl != 7 || h->opt.type != ZH_DSR_OPT4_TYPE ||
		    h->opt.len != ZH_DSR_OPT4_LEN ||
		    (h->ip.frag_off & bpf_htons(0x3fff)) ||
		    (h->ip.protocol != IPPROTO_TCP &&
		     h->ip.protocol != IPPROTO_UDP))
			return 0;
		l4 = zh_hdr(data, data_end, ETH_HLEN + sizeof(*h), 8);
		if (!l4 || zh_dsr_tcp_flags(data, data_end, h->ip.protocol,
					    ETH_HLEN + sizeof(*h), &flags))
			return 0;
		client[0] = h->ip.saddr;
		pod[0] = h->ip.daddr;
		fe[0] = h->opt.addr;
		if (zh_in_cluster(ZH_AF_INET, client))
			return 0;
		ifindex = zh_dsr_pod(ZH_AF_INET, pod);
		if (!ifindex)
			return 0;
		if (zh_dsr_track(ZH_AF_INET, h->ip.protocol, client, pod,
				 *(__be16 *)l4, *(__be16 *)(l4 + 2), fe,
				 h->opt.port, flags, uplink))
			return 0; /* no room: the kernel's */
		zh_dsr_mark(ifindex);
		__builtin_memcpy(&ip, &h->ip, sizeof(ip));
		ip.ihl = 5;
		ip.tot_len = bpf_htons(bpf_ntohs(ip.tot_len) - ZH_DSR_OPT4_LEN);
		ip.check = 0;
		ip.check = zh_csum_fold(
			bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0));
		if (bpf_skb_adjust_room(skb, -ZH_DSR_OPT4_LEN, BPF_ADJ_ROOM_NET,
					0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip),
					BPF_F_RECOMPUTE_CSUM))
			return -1;
		return ZH_DSR_IN;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct {
			struct ipv6hdr ip6;
			struct zh_dsr_hdr6 d;
		} *h = zh_hdr(data, data_end, ETH_HLEN, sizeof(*h));
		__be32 w;

		if (!h || h->ip6.nexthdr != ZH_IPPROTO_DSTOPTS ||
		    h->d.hdrlen != ZH_DSR_HDR6_LEN / 8 - 1 ||
		    h->d.type != ZH_DSR_OPT6_TYPE ||
		    h->d.len != ZH_DSR_OPT6_LEN ||
		    (h->d.nexthdr != IPPROTO_TCP &&
		     h->d.nexthdr != IPPROTO_UDP))
			return 0;
		l4 = zh_hdr(data, data_end, ETH_HLEN + sizeof(*h), 8);
		if (!l4 || zh_dsr_tcp_flags(data, data_end, h->d.nexthdr,
					    ETH_HLEN + sizeof(*h), &flags))
			return 0;
		__builtin_memcpy(client, &h->ip6.saddr, 16);
		__builtin_memcpy(pod, &h->ip6.daddr, 16);
		__builtin_memcpy(fe, h->d.addr, 16);
		if (zh_in_cluster(ZH_AF_INET6, client))
			return 0;
		ifindex = zh_dsr_pod(ZH_AF_INET6, pod);
		if (!ifindex)
			return 0;
		if (zh_dsr_track(ZH_AF_INET6, h->d.nexthdr, client, pod,
				 *(__be16 *)l4, *(__be16 *)(l4 + 2), fe,
				 h->d.port, flags, uplink))
			return 0;
		zh_dsr_mark(ifindex);
		/* payload_len, nexthdr, hop_limit: the word at offset 4, as
		 * it is without the header. */
		{
			struct ipv6hdr t;

			__builtin_memcpy(&t, &h->ip6, 8);
			t.payload_len = bpf_htons(bpf_ntohs(t.payload_len) -
						  ZH_DSR_HDR6_LEN);
			t.nexthdr = h->d.nexthdr;
			__builtin_memcpy(&w, (void *)&t + 4, 4);
		}
		if (bpf_skb_store_bytes(skb, ETH_HLEN + 4, &w, 4,
					BPF_F_RECOMPUTE_CSUM) ||
		    bpf_skb_adjust_room(skb, -ZH_DSR_HDR6_LEN, BPF_ADJ_ROOM_NET,
					0))
			return -1;
		return ZH_DSR_IN;
	}
	return 0;
}

/*
 * Node B, tc ingress of the VXLAN device (routing vxlan: BPF's decap on the
 * uplink leaves a DSR request to the device, its inner source being no
 * pod of the sender): was it sent by a node of the cluster (the tunnel's
 * remote end in zh_cluster_cidr)? Then the uplink the replies leave by
 * (zh_vxlan's), else 0: no DSR request is taken from anyone else.
 */
static __attribute__((noinline)) __u32
zh_dsr_tunnel_uplink(struct __sk_buff *skb)
{
	struct bpf_tunnel_key tk = {};
	struct zh_vxlan *cfg;
	__u32 zero = 0, addr[4] = {};

	/* bpf_skb_get_tunnel_key() came with its setter (4.3): the feature
	 * of the pair. */
	if (!zh_kernel_has(TC_SET_TUNNEL_KEY))
		return 0;
	cfg = bpf_map_lookup_elem(&zh_vxlan, &zero);
	if (!cfg || !cfg->uplink)
		return 0;
	if (cfg->family == ZH_AF_INET) {
		if (bpf_skb_get_tunnel_key(skb, &tk, sizeof(tk), 0))
			return 0;
		addr[0] = bpf_htonl(tk.remote_ipv4); /* host order there */
	} else {
		if (bpf_skb_get_tunnel_key(skb, &tk, sizeof(tk),
					   BPF_F_TUNINFO_IPV6))
			return 0;
		__builtin_memcpy(addr, tk.remote_ipv6, sizeof(addr));
	}
	return zh_in_cluster(cfg->family, addr) ? cfg->uplink : 0;
}

/*
 * Node B, a pod's host veth: is @f, from the pod, an ICMP error about a
 * DSR request it got (its "port unreachable", quoting client -> pod:port)?
 * The quote's reply is the flow's DSR REV entry {pod -> client}, live, and
 * the pod itself answered (the quote's destination is its source). The
 * same for a NodePort's (or LoadBalancer IP's) local backend in snat mode:
 * its REV entry (lb.h) has the same shape without ZH_CT_F_DSR (the front
 * end, the uplink the request came in on). With
 * @write, rewritten as the front end's (icmp.h zh_icmp_nat()): from the
 * front end, quoting client -> front end:port, every checksum kept; the
 * client matches it to its socket (a UDP one hears ECONNREFUSED). Returns
 * the uplink the flow's replies leave by, or 0 (no such error, untouched).
 * A function of its own: zh_tc_from_pod's stack is spent.
 */
static __attribute__((noinline)) __u32
zh_dsr_icmp_out(void *data, void *data_end, const struct zh_flow *f, int write)
{
	struct zh_ct_key k = { .family = f ? f->family : 0, .dir = ZH_CT_REV };
	struct zh_icmp_quote q;
	struct zh_ct *rct;

	if (!data || !f || zh_icmp_err_quote(data, data_end, f, &q) ||
	    zh_icmp_reply_key(&q, f, &k))
		return 0;
	if (q.v4 ? k.saddr[0] != f->saddr[0] : !zh_addr_eq(k.saddr, f->saddr))
		return 0;
	rct = bpf_map_lookup_elem(&zh_ct, &k);
	/* A DSR entry (node B) while DSR is on, or a NodePort's (or
	 * LoadBalancer IP's) entry for its local backend (lb.h: the uplink
	 * its request came in on); not a hairpin's. */
	if (!rct || !rct->out_ifindex || (rct->flags & ZH_CT_F_HAIRPIN) ||
	    ((rct->flags & ZH_CT_F_DSR) && !zh_dsr_on()) ||
	    !zh_ct_live(rct, q.proto, bpf_ktime_get_ns()))
		return 0;
	if (write &&
	    zh_icmp_nat(data, data_end, &q, NULL, 0, rct->vip, rct->vport))
		return 0;
	return rct->out_ifindex;
}

/*
 * Node A: was the flow of client @client to backend @be DNATed only, as
 * DSR does (a client outside the cluster, the backend a pod of another
 * node the node path reaches: fwd.h zh_to_node()'s conditions)? Asked for
 * a flow that has no SNAT entry: 1, else 0. A function of its own: its
 * keys get a frame of their own.
 */
static __attribute__((noinline)) int
zh_dsr_flow_remote(__u32 family, const __u32 *client, const __u32 *be)
{
	struct zh_ep_key k = { .family = (__u8)family };
	struct zh_node *n;

	if (!client || !be || !zh_dsr_on() || zh_in_cluster(family, client))
		return 0;
	__builtin_memcpy(k.addr, be, sizeof(k.addr));
	if (bpf_map_lookup_elem(&zh_endpoints, &k))
		return 0;
	n = zh_node_route(&k);
	if (!n)
		return 0;
	/* (The feature bits lie past an int's 32.) */
	return n->flags & ZH_NODE_F_VXLAN ? !!zh_kernel_has(TC_SET_TUNNEL_KEY) :
					    !!zh_kernel_has(TC_REDIRECT_NEIGH);
}

/*
 * Node B, the uplink (or the VXLAN device): is @f, to a pod here, an ICMP
 * error about a reply of a DSR flow (a router toward the client answering
 * pod -> client, which node A, the front end it was sent to, handed on:
 * snat_icmp.h)? The quote, as it is, is the reply of the flow's DSR REV
 * entry, live. 1 (delivered into the pod as it is: the pod's path MTU
 * discovery hears of it), else 0. A function of its own: the entries'
 * stack is spent.
 */
static __attribute__((noinline)) int zh_dsr_icmp_in(void *data, void *data_end,
						    const struct zh_flow *f)
{
	struct zh_ct_key k = { .family = f ? f->family : 0, .dir = ZH_CT_REV };
	struct zh_icmp_quote q;
	struct zh_ct *rct;

	if (!data || !f || zh_icmp_err_quote(data, data_end, f, &q))
		return 0;
	/* Sent to the quote's sender, the pod: the quote is the reply. */
	if (q.v4) {
		struct iphdr *ip = (struct iphdr *)q.ip;

		if (ip->saddr != f->daddr[0])
			return 0;
		k.saddr[0] = ip->saddr;
		k.daddr[0] = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)q.ip;

		if (!zh_addr_eq((const __u32 *)&ip6->saddr, f->daddr))
			return 0;
		__builtin_memcpy(k.saddr, &ip6->saddr, 16);
		__builtin_memcpy(k.daddr, &ip6->daddr, 16);
	}
	k.proto = q.proto;
	k.sport = q.ports[0];
	k.dport = q.ports[1];
	rct = bpf_map_lookup_elem(&zh_ct, &k);
	return rct && (rct->flags & ZH_CT_F_DSR) &&
	       zh_ct_live(rct, q.proto, bpf_ktime_get_ns());
}

#endif /* ZH_LB_DSR_H */
