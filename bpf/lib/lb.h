/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * lb.h - Services: the kube-proxy replacement, deciding per flow. For a
 * TCP or UDP flow (parse.h) it reads zh_services, zh_ct (ct.h),
 * zh_affinity, zh_maglev and zh_backends:
 *
 *   - a reply of a Service flow (zh_ct REV entry): its source goes back to
 *     the VIP and port the client asked for (reverse NAT);
 *   - a packet to a Service: its destination becomes a backend, the same
 *     one for the life of the flow (zh_ct FWD entry) as long as that
 *     backend exists; a new flow takes the client's affinity entry or the
 *     Maglev table's slot for its 5-tuple;
 *   - anything else: untouched (ZH_RET_PASSTHROUGH).
 *
 * It only plans the rewrite (struct zh_nat, nat.h): writing the packet
 * differs between tc and XDP (ctx.h). The forwarding decision that follows
 * uses the rewritten destination.
 */
#ifndef ZH_LB_H
#define ZH_LB_H

#include <linux/in.h>
#include "parse.h"
#include "maps.h"
#include "ct.h"
#include "nat.h"

static __always_inline int zh_addr_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* A 32-bit mix of the 5-tuple for the Maglev slot (murmur3's finaliser
 * over the words xor-ed in turn): any good spread does. */
static __always_inline __u32 zh_mix(__u32 h, __u32 v)
{
	h ^= v;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 zh_flow_hash(const struct zh_flow *f)
{
	__u32 h = f->proto;

	for (int i = 0; i < 4; i++) {
		h = zh_mix(h, f->saddr[i]);
		h = zh_mix(h, f->daddr[i]);
	}
	return zh_mix(h, ((__u32)f->sport << 16) | f->dport);
}

/*
 * Can the balancer take @f? TCP or UDP with its whole header (the flags),
 * and only where the rewrite's offsets are the constant ones (nat.h): IPv4
 * without options, no fragment.
 */
static __always_inline int zh_lb_takes(const struct zh_flow *f)
{
	return (f->flags & ZH_FLOW_F_L4) &&
	       !(f->flags & (ZH_FLOW_F_IP_OPTIONS | ZH_FLOW_F_FRAGMENT));
}

/* A reply from a backend: the source goes back to the VIP. */
static __always_inline int zh_lb_reply(const struct zh_flow *f,
				       struct zh_nat *nat, __u64 now)
{
	struct zh_ct *ct = zh_ct_find(f, ZH_CT_REV, now);

	if (!ct)
		return ZH_RET_PASSTHROUGH;
	zh_ct_touch(ct, f, now);
	zh_nat_init(nat, f);
	zh_nat_addr(nat, 0, ct->vip);
	nat->new_ports[0] = ct->vport;
	nat->out_ifindex = ct->out_ifindex;
	/* Hairpin: it was sent to the VIP; it goes back to the pod. */
	if (ct->flags & ZH_CT_F_HAIRPIN)
		zh_nat_addr(nat, 1, f->saddr);
	return ZH_RET_NAT;
}

/* A backend for a new flow: the client's affinity, else Maglev. */
static __always_inline struct zh_backend *zh_lb_pick(const struct zh_flow *f,
						     const struct zh_svc *svc,
						     __u32 *id, __u64 now)
{
	struct zh_affinity_key ak = { .svc_id = svc->id, .family = f->family };
	struct zh_affinity *aff = NULL, na = {};
	struct zh_backend *be;
	__u32 slot;
	__u32 *bid;

	if (svc->affinity_s) {
		__builtin_memcpy(ak.client, f->saddr, sizeof(ak.client));
		aff = bpf_map_lookup_elem(&zh_affinity, &ak);
		if (aff &&
		    zh_stamp_within(now, aff->last_seen_ns,
				    (__u64)svc->affinity_s * 1000000000ULL)) {
			be = bpf_map_lookup_elem(&zh_backends,
						 &aff->backend_id);
			/* Only a backend that still takes new flows. */
			if (be && be->svc_id == svc->id &&
			    !(be->flags & ZH_BE_F_TERMINATING)) {
				*id = aff->backend_id;
				aff->last_seen_ns = now;
				return be;
			}
		}
	}
	if (!svc->table_size)
		return NULL;
	slot = svc->table_off + zh_flow_hash(f) % svc->table_size;
	bid = bpf_map_lookup_elem(&zh_maglev, &slot);
	if (!bid)
		return NULL;
	*id = *bid;
	be = bpf_map_lookup_elem(&zh_backends, id);
	if (!be)
		return NULL;
	if (svc->affinity_s) {
		na.backend_id = *id;
		na.last_seen_ns = now;
		bpf_map_update_elem(&zh_affinity, &ak, &na, BPF_ANY);
	}
	return be;
}

/*
 * zh_lb_pick() in two halves, for the socket-level balancer (sock.h),
 * which hashes something else than a 5-tuple: the same tables, the same
 * affinity entries, the same rules. (zh_lb_pick() itself does not call
 * them: written so, it costs zh_tc_from_pod 16 bytes of stack more than
 * the verifier's 512; keep the three in step.) First the client's
 * affinity entry @ak (svc_id, family and client filled), if its backend
 * still takes new flows.
 */
static __always_inline struct zh_backend *
zh_lb_affinity(const struct zh_svc *svc, struct zh_affinity_key *ak, __u32 *id,
	       __u64 now)
{
	struct zh_affinity *aff;
	struct zh_backend *be;

	aff = bpf_map_lookup_elem(&zh_affinity, ak);
	if (!aff || !zh_stamp_within(now, aff->last_seen_ns,
				     (__u64)svc->affinity_s * 1000000000ULL))
		return NULL;
	be = bpf_map_lookup_elem(&zh_backends, &aff->backend_id);
	/* Only a backend that still takes new flows. */
	if (!be || be->svc_id != svc->id || (be->flags & ZH_BE_F_TERMINATING))
		return NULL;
	*id = aff->backend_id;
	aff->last_seen_ns = now;
	return be;
}

/* Else the Maglev slot of @hash; with affinity, the client's entry
 * (@ak) now names it. */
static __always_inline struct zh_backend *
zh_lb_maglev(const struct zh_svc *svc, const struct zh_affinity_key *ak,
	     __u32 hash, __u32 *id, __u64 now)
{
	struct zh_affinity na = {};
	struct zh_backend *be;
	__u32 slot;
	__u32 *bid;

	if (!svc->table_size)
		return NULL;
	slot = svc->table_off + hash % svc->table_size;
	bid = bpf_map_lookup_elem(&zh_maglev, &slot);
	if (!bid)
		return NULL;
	*id = *bid;
	be = bpf_map_lookup_elem(&zh_backends, id);
	if (!be)
		return NULL;
	if (svc->affinity_s) {
		na.backend_id = *id;
		na.last_seen_ns = now;
		bpf_map_update_elem(&zh_affinity, ak, &na, BPF_ANY);
	}
	return be;
}

/* 1 when @a (network byte order, @words of them) is in @net/@len. */
static __always_inline int zh_in_prefix(const __u32 *a, const __u32 *net,
					__u32 len, const int words)
{
	for (int i = 0; i < words; i++) {
		__u32 bits = len > 32 ? 32 : len;
		__u32 mask = bits ? bpf_htonl(~0U << (32 - bits)) : 0;

		if ((a[i] & mask) != (net[i] & mask))
			return 0;
		len -= bits;
	}
	return 1;
}

/* Is @f's destination in the Service CIDR of its family (none: no)? */
static __always_inline int zh_svc_cidr_has(const struct zh_config *cfg,
					   const struct zh_flow *f)
{
	if (f->family == ZH_AF_INET)
		return cfg->svc_cidr4_len &&
		       zh_in_prefix(f->daddr, &cfg->svc_cidr4,
				    cfg->svc_cidr4_len, 1);
	return cfg->svc_cidr6_len &&
	       zh_in_prefix(f->daddr, cfg->svc_cidr6, cfg->svc_cidr6_len, 4);
}

/* No Service at this address: is it in the Service CIDR all the same? */
static __always_inline int zh_unknown_vip(const struct zh_flow *f)
{
	struct zh_config *cfg = zh_cfg();

	return cfg && zh_svc_cidr_has(cfg, f);
}

/* Is @f addressed to one of the node's own addresses (zh_node_addrs), as
 * a NodePort must be? (The FIB cannot tell: bpf_fib_lookup() answers "not
 * forwarded" for a local route and for no route alike.) */
static __always_inline int zh_node_local(const struct zh_flow *f)
{
	struct zh_ep_key k = { .family = f->family };

	__builtin_memcpy(k.addr, f->daddr, sizeof(k.addr));
	return bpf_map_lookup_elem(&zh_node_addrs, &k) != NULL;
}

/*
 * A per-packet flow to backend @be now exists: its replies must be looked
 * up where they come from (zh_abi.h: zh_svc_be), the backend pod's host
 * veth, or where the kernel routes them when it is no local pod. Only
 * this program and the agent write the map, each a whole value: no bit
 * of anyone else's can be lost.
 */
static __always_inline void zh_lb_mark(const struct zh_backend *be, __u8 family)
{
	struct zh_ep_key k = { .family = family };
	struct zh_endpoint *ep;
	__u32 slot = ZH_SVC_BE_ROUTED;
	__u32 *v;

	__builtin_memcpy(k.addr, be->addr, sizeof(k.addr));
	ep = bpf_map_lookup_elem(&zh_endpoints, &k);
	if (ep)
		slot = ep->ifindex & (ZH_SVC_BE_SLOTS - 1);
	v = bpf_map_lookup_elem(&zh_svc_be, &slot);
	if (v && !*v)
		*v = 1;
}

/*
 * A new flow's two conntrack entries; the reply's is keyed as the backend
 * sends it. 0, or ZH_STAT_PASS_CT_FULL. One key and one value, written
 * twice (the map copies them): the balancer's stack frame has no room for
 * two of each. With @fct, the FWD entry of a flow that exists: only when
 * its reply's entry is gone (or expired), else @fct is refreshed and
 * nothing written; the same key, so no stack more.
 */
static __always_inline int zh_lb_track(const struct zh_flow *f,
				       const struct zh_svc *svc,
				       const struct zh_backend *be, __u32 bid,
				       __u64 now, struct zh_ct *fct)
{
	struct zh_ct_key k = {};
	struct zh_ct ct = {};
	__u8 hairpin = zh_addr_eq(be->addr, f->saddr);
	struct zh_ct *rct;

	k.family = f->family;
	k.proto = f->proto;
	k.dir = ZH_CT_REV;
	k.sport = be->port;
	k.dport = f->sport;
	__builtin_memcpy(k.saddr, be->addr, sizeof(k.saddr));
	/* A hairpin request arrives from the VIP: its reply goes there. */
	__builtin_memcpy(k.daddr, hairpin ? f->daddr : f->saddr,
			 sizeof(k.daddr));
	if (fct) {
		rct = bpf_map_lookup_elem(&zh_ct, &k);
		if (rct && zh_ct_live(rct, f->proto, now)) {
			zh_ct_touch(fct, f, now);
			return 0;
		}
	}
	ct.last_seen_ns = now;
	ct.svc_id = svc->id;
	ct.backend_id = bid;
	ct.state = zh_ct_next(f, ZH_CT_NEW);
	ct.flags = hairpin ? ZH_CT_F_HAIRPIN : 0;
	__builtin_memcpy(ct.vip, f->daddr, sizeof(ct.vip));
	ct.vport = f->dport;
	ct.out_ifindex = f->ifindex;
	/* The reply's first: a request never goes out without it. */
	if (bpf_map_update_elem(&zh_ct, &k, &ct, BPF_ANY))
		return ZH_STAT_PASS_CT_FULL;
	__builtin_memset(ct.vip, 0, sizeof(ct.vip));
	ct.vport = 0;
	ct.out_ifindex = 0;
	zh_ct_key_of(&k, f, ZH_CT_FWD);
	if (bpf_map_update_elem(&zh_ct, &k, &ct, BPF_ANY))
		return ZH_STAT_PASS_CT_FULL;
	/* Marked before the request goes on: its reply cannot overtake. */
	zh_lb_mark(be, f->family);
	return 0;
}

/*
 * A packet to a Service (@nodeport: at a NodePort of the node's own
 * addresses): plan the DNAT to this flow's backend. Returns ZH_RET_NAT,
 * ZH_RET_PASSTHROUGH (no Service there) or a zh_stat.
 */
static __always_inline int zh_lb_request(const struct zh_flow *f,
					 struct zh_nat *nat, __u64 now,
					 const int nodeport)
{
	struct zh_svc_key sk = { .family = f->family,
				 .proto = f->proto,
				 .port = f->dport };
	struct zh_backend *be = NULL;
	struct zh_ct *ct, *fct = NULL;
	struct zh_svc *svc;
	__u32 bid = 0;
	int err;

	/* A NodePort's key has no address: any of the node's own. */
	if (!nodeport)
		__builtin_memcpy(sk.addr, f->daddr, sizeof(sk.addr));
	svc = bpf_map_lookup_elem(&zh_services, &sk);
	/* Nor is it a ClusterIP's: to 0.0.0.0 or :: (a pod's packet to no
	 * one) the lookup above finds it all the same. */
	if (svc && !nodeport && (svc->flags & ZH_SVC_F_NODEPORT))
		svc = NULL;
	if (!svc)
		return !nodeport && zh_unknown_vip(f) ?
			       ZH_STAT_DROP_UNKNOWN_VIP :
			       ZH_RET_PASSTHROUGH;
	/* Only at the node's own addresses: not what it routes. */
	if (nodeport && !zh_node_local(f))
		return ZH_RET_PASSTHROUGH;

	ct = zh_ct_find(f, ZH_CT_FWD, now);
	if (ct && ct->svc_id == svc->id) {
		bid = ct->backend_id;
		be = bpf_map_lookup_elem(&zh_backends, &bid);
		/* Its backend is gone: the flow picks again. A SYN again
		 * (the client's retransmission, or the tuple taken anew)
		 * writes both entries again with the same backend: the LRU
		 * may have taken the reply's entry alone, and then no reply
		 * of the flow would ever be turned back. */
		if (be && be->svc_id == svc->id) {
			if (f->proto == IPPROTO_TCP &&
			    (f->tcp_flags & (ZH_TCP_SYN | ZH_TCP_ACK)) ==
				    ZH_TCP_SYN)
				goto track;
			/* UDP has no SYN to tell: a request looks for the
			 * reply's entry once a clock epoch (ct.h
			 * zh_ct_recheck_due), and writes both again, the
			 * same backend, when the LRU took it or it expired
			 * while the requests kept the flow alive. */
			if (f->proto != IPPROTO_TCP &&
			    zh_ct_recheck_due(ct, now)) {
				fct = ct;
				goto track;
			}
			zh_ct_touch(ct, f, now);
			goto nat;
		}
	}
	be = zh_lb_pick(f, svc, &bid, now);
	/* externalTrafficPolicy Local without a backend here: dropped, as
	 * kube-proxy does (no ICMP error: a load balancer's health check
	 * is what steers clients away from this node). */
	if (!be)
		return svc->flags & ZH_SVC_F_ETP_LOCAL ?
			       ZH_STAT_DROP_NO_LOCAL_BACKEND :
			       ZH_STAT_DROP_NO_BACKEND;
track:
	err = zh_lb_track(f, svc, be, bid, now, fct);
	if (err)
		return err;
nat:
	zh_nat_init(nat, f);
	nat->svc_flags = svc->flags;
	zh_nat_addr(nat, 1, be->addr);
	nat->new_ports[1] = be->port;
	if (zh_addr_eq(be->addr, f->saddr))
		zh_nat_addr(nat, 0, f->daddr);
	return ZH_RET_NAT;
}

/*
 * The balancer for a packet from the pod behind host veth @ifindex, after
 * anti-spoofing: a reply of a Service flow (looked up only where zh_svc_be
 * says one can exist), or a request to a Service (with socket-level LB
 * covering the pods, only to a Service CIDR: zh_abi.h ZH_CFG_F_SOCK_PODS).
 * Fills @nat and returns ZH_RET_NAT, ZH_RET_PASSTHROUGH when the packet is
 * no Service's business, or a zh_stat (drop, or pass to the kernel). A
 * function of its own (a BPF subprogram): its conntrack keys and values
 * get a stack frame of their own instead of growing the entry's.
 */
static __attribute__((noinline)) int zh_lb(const struct zh_flow *f,
					   struct zh_nat *nat, __u32 ifindex)
{
	struct zh_config *cfg = zh_cfg();
	int ret;

	if (!cfg || !cfg->services || !zh_lb_takes(f))
		return ZH_RET_PASSTHROUGH;
	if (zh_lb_rev_wanted(cfg, ifindex)) {
		ret = zh_lb_reply(f, nat, bpf_ktime_get_ns());
		if (ret != ZH_RET_PASSTHROUGH)
			return ret;
	}
	if ((cfg->flags & ZH_CFG_F_SOCK_PODS) && !zh_svc_cidr_has(cfg, f))
		return ZH_RET_PASSTHROUGH;
	return zh_lb_request(f, nat, bpf_ktime_get_ns(), 0);
}

/*
 * A packet from outside at the node's own address: a NodePort? The same
 * balancing and conntrack as for a ClusterIP; the REV entry restores the
 * node address and node port as the reply's source. Fills @nat and returns
 * ZH_RET_NAT, ZH_RET_PASSTHROUGH or a zh_stat.
 */
static __attribute__((noinline)) int zh_lb_nodeport(const struct zh_flow *f,
						    struct zh_nat *nat)
{
	if (!zh_lb_takes(f))
		return ZH_RET_PASSTHROUGH;
	return zh_lb_request(f, nat, bpf_ktime_get_ns(), 1);
}

/*
 * A packet from outside the cluster at a Service's own address (a
 * LoadBalancer ingress IP or an external IP that the network routes to
 * this node; a cluster IP, which kube-proxy serves from outside too): the
 * same balancing and conntrack as a NodePort's, SNAT included when the
 * backend is on another node (externalTrafficPolicy Cluster). Fills @nat
 * and returns ZH_RET_NAT, ZH_RET_PASSTHROUGH or a zh_stat.
 */
static __attribute__((noinline)) int zh_lb_external(const struct zh_flow *f,
						    struct zh_nat *nat)
{
	struct zh_config *cfg = zh_cfg();

	if (!cfg || !cfg->services || !zh_lb_takes(f))
		return ZH_RET_PASSTHROUGH;
	return zh_lb_request(f, nat, bpf_ktime_get_ns(), 0);
}

/*
 * A packet from another node (uplink or VXLAN ingress): the reply of a
 * Service flow whose backend is there goes back to the VIP before it is
 * delivered into the client pod. Fills @nat and returns ZH_RET_NAT, or
 * ZH_RET_PASSTHROUGH.
 */
static __attribute__((noinline)) int zh_lb_from_node(const struct zh_flow *f,
						     struct zh_nat *nat)
{
	struct zh_config *cfg = zh_cfg();

	/* Only where some flow's backend is no local pod. */
	if (!cfg || !zh_lb_rev_wanted(cfg, ZH_SVC_BE_ROUTED) || !zh_lb_takes(f))
		return ZH_RET_PASSTHROUGH;
	return zh_lb_reply(f, nat, bpf_ktime_get_ns());
}

/*
 * The pod side (a pod's own interface): a reply from a backend the kernel
 * routed here (one on another node, or the host) still carries the
 * backend's address: the REV entry turns it back to the VIP. Replies from
 * local pods were turned on their egress hop already and match nothing
 * here. Fills @nat and returns ZH_RET_NAT, or ZH_RET_PASSTHROUGH.
 */
static __attribute__((noinline)) int zh_lb_pod_reply(void *data, void *data_end,
						     struct zh_nat *nat)
{
	struct zh_config *cfg = zh_cfg();
	struct zh_flow f = {};

	/* Only where some flow's backend is no local pod: a local one's
	 * replies were turned on their own hop (an entry stamped ahead of
	 * that hop's clock is live there too, ct.h zh_stamp_within()). */
	if (!cfg || !zh_lb_rev_wanted(cfg, ZH_SVC_BE_ROUTED))
		return ZH_RET_PASSTHROUGH;
	if (zh_flow_parse(data, data_end, &f) || !zh_lb_takes(&f))
		return ZH_RET_PASSTHROUGH;
	return zh_lb_reply(&f, nat, bpf_ktime_get_ns());
}

#endif /* ZH_LB_H */
