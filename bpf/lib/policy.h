/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * policy.h - Kubernetes NetworkPolicy in the fast path (zh_abi.h, the
 * NetworkPolicy maps; NETWORKPOLICY-NOTES 6.3, 6.4).
 *
 * Where it is judged:
 *   - zh_from_pod() (tc and XDP entries, fwd.h): the source's egress, and
 *     for a pod on this node the destination's ingress too, both at the
 *     source's hop: bpf_redirect_peer() and XDP redirects skip every later
 *     host hook. zh_pol_from_pod() takes what delivery decided and returns
 *     it, or a drop.
 *   - zh_tc_to_pod (tc egress of the host veth): what the kernel delivers
 *     into a pod (from the host, another node, a tc hop through the
 *     kernel); the pod cannot detach it. A flow decided at its source has
 *     a live zh_pol_ct entry there, so it is not judged twice.
 *
 * What it costs: an unpolicied pod (no ZH_IFACE_F_POLICY on the source's
 * zh_ifaces entry, no ZH_EP_F_POLICY on the destination's zh_endpoints
 * entry, both loaded by the fast path anyway) pays two bit tests. A
 * policed flow pays zh_pol_state (an inlined array read), the coarse
 * clock and one conntrack lookup per packet (IPv4: a 16-byte key in
 * zh_pol_ct4), and writes its entry only when its state changes or its
 * stamp is ZH_POL_CT_REFRESH_NS old; its first packet (or the first after
 * an epoch bump)
 * the policy lookups: zh_pol_eps per policed end, the peer's identity
 * (zh_ipcache, on a miss zh_ipcache_lpm when the class has ipBlocks) and
 * one or two zh_policy cells.
 *
 * The node's own addresses (identity ZH_POL_ID_HOST in zh_ipcache, or in
 * zh_node_addrs) are always allowed: kubelet probes.
 */
#ifndef ZH_POLICY_H
#define ZH_POLICY_H

#include <linux/in.h>
#include "parse.h"
#include "maps.h"
#include "ct.h"
#include "kfeat.h"
#include "nat.h"
#include "icmp.h"

/* The packet as policy sees it: the destination after a Service's DNAT,
 * the source as the pod sent it (a reply's tuple then mirrors its
 * request's, whatever the balancer turns its source back into). */
struct zh_pol_pkt {
	__u8 family;
	__u8 proto;
	__u8 tcp_flags;
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__u32 saddr[4];
	__u32 daddr[4];
};

/* The judgement's keys and value, per CPU: the fast path's programs have
 * no stack to spare for them (512 bytes for the entry and the call). */
struct zh_pol_scratch {
	struct zh_pol_pkt p;
	struct zh_ct_key ct; /* IPv6: zh_pol_ct */
	struct zh_pol_ct4_key ct4; /* IPv4: zh_pol_ct4 */
	struct zh_pol_ct v;
	struct zh_ep_key ep;
	struct zh_ipc_lpm_key lpm;
	struct zh_pol_key pk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zh_pol_scratch);
} zh_pol_scratch SEC(".maps");

static __always_inline struct zh_pol_state *zh_pol_st(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&zh_pol_state, &zero);
}

static __always_inline void zh_pol_count(__u16 class, int what)
{
	__u32 k = class;
	struct zh_pol_count *c = bpf_map_lookup_elem(&zh_polctr, &k);

	if (!c)
		return;
	if (what == 0)
		c->allowed++;
	else if (what == 1)
		c->denied++;
	else
		c->audited++;
}

static __always_inline void zh_pol_addr_key(struct zh_ep_key *k, __u8 family,
					    const __u32 *addr)
{
	k->family = family;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	__builtin_memcpy(k->addr, addr, sizeof(k->addr));
}

/* The identity of @addr: zh_ipcache, then (@cidr) the longest ipBlock
 * prefix holding it; ZH_POL_ID_WORLD when neither knows it. Leaves
 * @s->ep keyed by @addr. */
static __always_inline __u32 zh_pol_identity(struct zh_pol_scratch *s,
					     __u8 family, const __u32 *addr,
					     int cidr)
{
	struct zh_ipc *v;

	zh_pol_addr_key(&s->ep, family, addr);
	v = bpf_map_lookup_elem(&zh_ipcache, &s->ep);
	if (v)
		return v->identity;
	if (!cidr)
		return ZH_POL_ID_WORLD;
	s->lpm.prefixlen = 32 + (family == ZH_AF_INET ? 32 : 128);
	s->lpm.family = family;
	s->lpm.pad[0] = s->lpm.pad[1] = s->lpm.pad[2] = 0;
	__builtin_memcpy(s->lpm.addr, addr, sizeof(s->lpm.addr));
	v = bpf_map_lookup_elem(&zh_ipcache_lpm, &s->lpm);
	return v ? v->identity : ZH_POL_ID_WORLD;
}

/* Is @port in @c? Its intervals, or its port bitmap. *@np: the number
 * of the policy credited with the allow (zh_pol_npctr). */
static __always_inline int zh_pol_cell_has(const struct zh_pol_cell *c,
					   __u16 port, __u32 *np)
{
	if (c->flags & ZH_POL_CELL_F_BITMAP) {
		__u32 idx = c->bitmap;
		struct zh_pol_ports *b =
			bpf_map_lookup_elem(&zh_pol_ports, &idx);

		*np = c->np[0];
		return b && (b->bits[(port / 64) & 1023] >> (port % 64)) & 1;
	}
#pragma unroll
	for (int i = 0; i < ZH_POL_CELL_IVS; i++) {
		if (i >= c->n)
			break;
		if (port >= c->iv[i].lo && port <= c->iv[i].hi) {
			*np = c->np[i];
			return !(c->verdicts & (1U << i));
		}
	}
	return 0;
}

/* The policy numbered @np credited with a flow it allowed: one per-CPU
 * increment on the path that counts the class's allow anyway. */
static __always_inline void zh_pol_np_count(__u32 np)
{
	__u64 *c;

	if (!np)
		return;
	c = bpf_map_lookup_elem(&zh_pol_npctr, &np);
	if (c)
		*c += 1;
}

/* Do @class's cells in direction @dir allow @proto to @port from/to a
 * peer of @identity? The wildcard cell, or the identity's own where the
 * wildcard says there are some or there is no wildcard (as policy.c's
 * zh_pol_cell_allows()). *@np: the policy credited with an allow. */
static __always_inline int zh_pol_cells_allow(struct zh_pol_scratch *s,
					      __u16 class, __u8 dir, __u8 proto,
					      __u32 identity, __u16 port,
					      __u32 *np)
{
	struct zh_pol_key *k = &s->pk;
	struct zh_pol_cell *any, *own;

	k->class = class;
	k->dir = dir;
	k->proto = proto;
	k->identity = ZH_POL_ID_ANY;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP &&
	    proto != IPPROTO_SCTP) {
		k->proto = ZH_POL_PROTO_OTHER;
		port = 0;
	}
	any = bpf_map_lookup_elem(&zh_policy, k);
	if (!any || (any->flags & ZH_POL_CELL_F_SPECIFIC)) {
		k->identity = identity;
		own = bpf_map_lookup_elem(&zh_policy, k);
		if (own)
			return zh_pol_cell_has(own, port, np);
	}
	return any && zh_pol_cell_has(any, port, np);
}

/*
 * One end's verdict in direction @dir (@ep: the policed end's state, @peer
 * the other end's address, @dport the destination port, network order):
 * 0 allowed (or audited), else the drop reason. @audit is set when audit
 * let a denial through.
 */
static __always_inline int zh_pol_end(struct zh_pol_scratch *s,
				      const struct zh_pol_ep *ep, __u8 dir,
				      __u8 family, __u8 proto,
				      const __u32 *peer, __be16 dport,
				      __u32 mode, int *audit)
{
	__u32 iso = dir == ZH_POL_EGRESS ? ZH_POL_EP_F_ISO_EG :
					   ZH_POL_EP_F_ISO_IN;
	__u32 failed = dir == ZH_POL_EGRESS ? ZH_POL_EP_F_FAILED_EG :
					      ZH_POL_EP_F_FAILED_IN;
	__u32 cidr = dir == ZH_POL_EGRESS ? ZH_POL_EP_F_CIDR_EG :
					    ZH_POL_EP_F_CIDR_IN;
	__u16 class = dir == ZH_POL_EGRESS ? ep->class_eg : ep->class_in;
	__u32 identity, np = 0;
	int stat;

	if (!(ep->flags & (iso | ZH_POL_EP_F_PENDING)))
		return 0;
	identity = zh_pol_identity(s, family, peer, ep->flags & cidr);
	if (identity == ZH_POL_ID_HOST)
		return 0;
	if (bpf_map_lookup_elem(&zh_node_addrs, &s->ep)) /* @peer's key */
		return 0;
	if (ep->flags & ZH_POL_EP_F_PENDING)
		stat = ZH_STAT_DROP_POLICY_PENDING;
	else if (ep->flags & failed)
		stat = ZH_STAT_DROP_POLICY_FAILED;
	else if (zh_pol_cells_allow(s, class, dir, proto, identity,
				    bpf_ntohs(dport), &np)) {
		zh_pol_count(class, 0);
		zh_pol_np_count(np);
		return 0;
	} else
		stat = dir == ZH_POL_EGRESS ? ZH_STAT_DROP_POLICY_EGRESS :
					      ZH_STAT_DROP_POLICY_INGRESS;
	if ((ep->flags & ZH_POL_EP_F_AUDIT) || mode == ZH_POL_MODE_AUDIT) {
		zh_pol_count(class, 2);
		*audit = 1;
		return 0;
	}
	zh_pol_count(class, 1);
	return stat;
}

/* The state of local pod address @addr; a policy bit without its state
 * (an upgrade that could not carry it, a write half done) reads as
 * pending: fail closed. */
static __always_inline const struct zh_pol_ep *
zh_pol_ep_of(struct zh_pol_scratch *s, __u8 family, const __u32 *addr,
	     const struct zh_pol_ep *pending)
{
	const struct zh_pol_ep *ep;

	zh_pol_addr_key(&s->ep, family, addr);
	ep = bpf_map_lookup_elem(&zh_pol_eps, &s->ep);
	return ep ? ep : pending;
}

/* A new flow (or one whose approval is from another epoch), in the
 * flow's own direction: @p itself, or (@swap) the request @p replies to.
 * The source's egress where @src_pol, the destination's ingress where
 * @dst_pol. */
static __always_inline int zh_pol_decide(struct zh_pol_scratch *s,
					 const struct zh_pol_pkt *p, int swap,
					 int src_pol, int dst_pol, __u32 mode,
					 int *audit)
{
	static const struct zh_pol_ep pending = { .flags =
							  ZH_POL_EP_F_PENDING };
	const __u32 *src = swap ? p->daddr : p->saddr;
	const __u32 *dst = swap ? p->saddr : p->daddr;
	__be16 dport = swap ? p->sport : p->dport;
	int stat;

	if (src_pol) {
		stat = zh_pol_end(s, zh_pol_ep_of(s, p->family, src, &pending),
				  ZH_POL_EGRESS, p->family, p->proto, dst,
				  dport, mode, audit);
		if (stat)
			return stat;
	}
	if (dst_pol)
		return zh_pol_end(s, zh_pol_ep_of(s, p->family, dst, &pending),
				  ZH_POL_INGRESS, p->family, p->proto, src,
				  dport, mode, audit);
	return 0;
}

/* The conntrack key of @p's flow (@swap: of its reverse) in @s: IPv4 in
 * s->ct4 (zh_pol_ct4), IPv6 in s->ct (zh_pol_ct). */
static __always_inline void zh_pol_ct_key(struct zh_pol_scratch *s,
					  const struct zh_pol_pkt *p, int swap)
{
	if (p->family == ZH_AF_INET) {
		struct zh_pol_ct4_key *k = &s->ct4;

		k->saddr = swap ? p->daddr[0] : p->saddr[0];
		k->daddr = swap ? p->saddr[0] : p->daddr[0];
		k->sport = swap ? p->dport : p->sport;
		k->dport = swap ? p->sport : p->dport;
		k->proto = p->proto;
		k->pad[0] = k->pad[1] = k->pad[2] = 0;
		return;
	}
	s->ct.family = p->family;
	s->ct.proto = p->proto;
	s->ct.dir = 0;
	s->ct.pad = 0;
	s->ct.sport = swap ? p->dport : p->sport;
	s->ct.dport = swap ? p->sport : p->dport;
	__builtin_memcpy(s->ct.saddr, swap ? p->daddr : p->saddr,
			 sizeof(s->ct.saddr));
	__builtin_memcpy(s->ct.daddr, swap ? p->saddr : p->daddr,
			 sizeof(s->ct.daddr));
}

/* The entry keyed in @s (zh_pol_ct_key()) written, or deleted: one call
 * per map, so that each call site keeps one map (and its inlined
 * lookup). */
static __always_inline int zh_pol_ct_put(struct zh_pol_scratch *s, int v4)
{
	if (v4)
		return bpf_map_update_elem(&zh_pol_ct4, &s->ct4, &s->v,
					   BPF_ANY);
	return bpf_map_update_elem(&zh_pol_ct, &s->ct, &s->v, BPF_ANY);
}

static __always_inline void zh_pol_ct_del(struct zh_pol_scratch *s, int v4)
{
	if (v4)
		bpf_map_delete_elem(&zh_pol_ct4, &s->ct4);
	else
		bpf_map_delete_elem(&zh_pol_ct, &s->ct);
}

/*
 * The conntrack clock: CLOCK_MONOTONIC as bpf_ktime_get_ns() reads it,
 * but where the kernel has bpf_ktime_get_coarse_ns() (5.11; probed,
 * ZH_FEAT_KTIME_COARSE) the timekeeper's last tick instead of the
 * clocksource: a load under a seqcount rather than a TSC read (in a VM
 * the largest part of an established packet's cost). Ages are seconds; a
 * tick (1 to 10 ms) is noise in them.
 */
static __always_inline __u64 zh_pol_now(void)
{
	if (zh_kernel_has(KTIME_COARSE))
		return bpf_ktime_get_coarse_ns();
	return bpf_ktime_get_ns();
}

/* An entry's stamp is written again only once it is this stale: an
 * established flow's packets then mostly only read their entry (no store
 * to a line other CPUs read too). A flow idle for its whole timeout is
 * dead up to this much early. */
#define ZH_POL_CT_REFRESH_NS (100ULL * 1000 * 1000)

/* Signed: a stamp a little ahead of @now (the other clock, a tick of
 * skew) is young, not 2^64 ns old. */
static __always_inline int zh_pol_ct_live(const struct zh_pol_ct *ct,
					  __u8 proto, __u64 now)
{
	__s64 age = (__s64)(now - ct->last_seen_ns);

	return age <= (__s64)zh_ct_timeout_ns(proto, ct->state);
}

static __always_inline __u8 zh_pol_ct_next(const struct zh_pol_pkt *p,
					   __u8 state)
{
	if (p->proto != IPPROTO_TCP)
		return state;
	if (p->tcp_flags & (ZH_TCP_FIN | ZH_TCP_RST))
		return ZH_CT_CLOSING;
	if (state == ZH_CT_NEW && (p->tcp_flags & ZH_TCP_ACK) &&
	    !(p->tcp_flags & ZH_TCP_SYN))
		return ZH_CT_ESTABLISHED;
	return state;
}

/*
 * The verdict on @p with a policed end (@src_pol: the source is a policed
 * local pod; @dst_pol: the destination is): 0 to go on, or a drop reason.
 *   - a reply (a live entry flagged ZH_POL_CT_F_REV) passes;
 *   - a packet of an approved flow (a live entry of its own) passes;
 *   - either approved under another epoch is judged again, in the flow's
 *     own direction, and then refreshed, or deleted and dropped;
 *   - anything else is a new flow: judged, and remembered if allowed (a
 *     TCP packet that is no bare SYN must be allowed both ways).
 * A global function: verified once, on its own, whatever calls it (the
 * fast path's programs stay within the verifier's bounds).
 */
__attribute__((noinline)) int zh_pol_judge(const struct zh_flow *f,
					   const struct zh_ep_key *dst,
					   __u32 dport, __u32 ends)
{
	struct zh_pol_state *st = zh_pol_st();
	int src_pol = ends & 1, dst_pol = (ends >> 1) & 1;
	struct zh_pol_scratch *s;
	struct zh_pol_pkt *p;
	struct zh_pol_ct *ct;
	int audit = 0, stat, dir, v4;
	__u32 zero = 0;
	__u64 now;

	if (!f || !dst || !st || st->mode == ZH_POL_MODE_OFF)
		return 0;
	s = bpf_map_lookup_elem(&zh_pol_scratch, &zero);
	if (!s)
		return 0;
	now = zh_pol_now();
	/* One lookup, keyed by the packet as it is (after DNAT: @dst,
	 * @dport): the flow's own entry (a request) or its reverse's
	 * (ZH_POL_CT_F_REV: a reply). The key straight from @f: an
	 * established flow's packet needs nothing else. IPv4 in a 16-byte
	 * key of its own. */
	v4 = f->family == ZH_AF_INET;
	if (v4) {
		s->ct4.saddr = f->saddr[0];
		s->ct4.daddr = dst->addr[0];
		s->ct4.sport = f->sport;
		s->ct4.dport = (__be16)dport;
		s->ct4.proto = f->proto;
		s->ct4.pad[0] = s->ct4.pad[1] = s->ct4.pad[2] = 0;
		ct = bpf_map_lookup_elem(&zh_pol_ct4, &s->ct4);
	} else {
		s->ct.family = f->family;
		s->ct.proto = f->proto;
		s->ct.dir = 0;
		s->ct.pad = 0;
		s->ct.sport = f->sport;
		s->ct.dport = (__be16)dport;
		__builtin_memcpy(s->ct.saddr, f->saddr, sizeof(s->ct.saddr));
		__builtin_memcpy(s->ct.daddr, dst->addr, sizeof(s->ct.daddr));
		ct = bpf_map_lookup_elem(&zh_pol_ct, &s->ct);
	}
	if (ct && ct->epoch == st->epoch && zh_pol_ct_live(ct, f->proto, now)) {
		__u8 next = zh_ct_next(f, ct->state);

		/* Stores only when something changed. */
		if (next != ct->state)
			ct->state = next;
		if (now - ct->last_seen_ns >= ZH_POL_CT_REFRESH_NS)
			ct->last_seen_ns = now;
		return 0;
	}
	/* The packet as policy sees it: after DNAT (@dst, @dport). */
	p = &s->p;
	p->family = f->family;
	p->proto = f->proto;
	p->tcp_flags = f->tcp_flags;
	p->sport = f->sport;
	p->dport = (__be16)dport;
	__builtin_memcpy(p->saddr, f->saddr, sizeof(p->saddr));
	__builtin_memcpy(p->daddr, dst->addr, sizeof(p->daddr));
	if (ct && zh_pol_ct_live(ct, p->proto, now)) {
		dir = !(ct->flags & ZH_POL_CT_F_REV);
		if (ct->epoch != st->epoch) {
			/* Approved under another epoch: the flow judged
			 * again in its own direction (a reply's roles
			 * swapped). */
			stat = dir ? zh_pol_decide(s, p, 0, src_pol, dst_pol,
						   st->mode, &audit) :
				     zh_pol_decide(s, p, 1, dst_pol, src_pol,
						   st->mode, &audit);
			if (stat) {
				zh_pol_ct_del(s, v4);
				zh_pol_ct_key(s, p, 1);
				zh_pol_ct_del(s, v4);
				return stat;
			}
			ct->epoch = st->epoch;
		}
		ct->last_seen_ns = now;
		ct->state = zh_pol_ct_next(p, ct->state);
		return 0;
	}
	stat = zh_pol_decide(s, p, 0, src_pol, dst_pol, st->mode, &audit);
	/* A TCP packet that opens nothing (no bare SYN) and has no entry: a
	 * connection made before its ends were policed (or whose entries
	 * aged out), its opener unknown. Approved only if the policies allow
	 * it either way, or a server's answer would approve, as a flow of
	 * its own, the requests that the server's ingress now denies. */
	if (!stat && p->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (ZH_TCP_SYN | ZH_TCP_ACK)) != ZH_TCP_SYN)
		stat = zh_pol_decide(s, p, 1, dst_pol, src_pol, st->mode,
				     &audit);
	if (stat)
		return stat;
	/* Both entries of the flow whose first packet @p is. */
	s->v.last_seen_ns = now;
	s->v.epoch = st->epoch;
	s->v.state = zh_pol_ct_next(p, ZH_CT_NEW);
	s->v.flags = (audit ? ZH_POL_CT_F_AUDIT : 0) | ZH_POL_CT_F_REV;
	zh_pol_ct_key(s, p, 1);
	if (zh_pol_ct_put(s, v4))
		return ZH_STAT_DROP_POLICY_CT_FULL;
	s->v.flags &= ~ZH_POL_CT_F_REV;
	zh_pol_ct_key(s, p, 0);
	if (zh_pol_ct_put(s, v4))
		return ZH_STAT_DROP_POLICY_CT_FULL;
	return 0;
}

/*
 * An ICMP error quoting a TCP or UDP packet (icmp.h): that packet's flow in
 * @p (its addresses zeroed by the caller, its tcp_flags left), as the
 * quoted packet went (its sender is the error's destination). 0, or -1.
 */
static __always_inline int zh_pol_icmp_quoted(void *data, void *data_end,
					      const struct zh_flow *f,
					      struct zh_pol_pkt *p)
{
	struct zh_icmp_quote q;

	if (zh_icmp_err_quote(data, data_end, f, &q))
		return -1;
	p->family = f->family;
	p->proto = q.proto;
	if (q.v4) {
		struct iphdr *ip = (struct iphdr *)q.ip;

		p->saddr[0] = ip->saddr;
		p->daddr[0] = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)q.ip;

		__builtin_memcpy(p->saddr, &ip6->saddr, sizeof(p->saddr));
		__builtin_memcpy(p->daddr, &ip6->daddr, sizeof(p->daddr));
	}
	p->sport = q.ports[0];
	p->dport = q.ports[1];
	return 0;
}

/*
 * Is the flow an ICMP error quotes (zh_pol_icmp_quoted(), in
 * zh_pol_scratch's p) a flow policy approved, under this epoch and still
 * live? 0 if so. Its entry is keyed as the quoted packet went, whichever
 * way that was: the flow's own entry or its reply's (ZH_POL_CT_F_REV).
 * Read only: an error neither refreshes nor opens anything. Global, as
 * zh_pol_judge(); the flow in the scratch map, as the callers have no
 * stack to spare.
 */
__attribute__((noinline)) int zh_pol_related(void)
{
	struct zh_pol_state *st = zh_pol_st();
	struct zh_pol_scratch *s;
	struct zh_pol_ct *ct;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&zh_pol_scratch, &zero);
	if (!s || !st)
		return -1;
	zh_pol_ct_key(s, &s->p, 0);
	if (s->p.family == ZH_AF_INET)
		ct = bpf_map_lookup_elem(&zh_pol_ct4, &s->ct4);
	else
		ct = bpf_map_lookup_elem(&zh_pol_ct, &s->ct);
	if (!ct || ct->epoch != st->epoch ||
	    !zh_pol_ct_live(ct, s->p.proto, zh_pol_now()))
		return -1;
	return 0;
}

/*
 * zh_pol_judge() for the packet at @data, with one addition: an ICMP
 * error that quotes a flow policy approved passes as that flow's packets
 * do (netfilter's RELATED; what path MTU discovery and a UDP client's
 * "port unreachable" need), when it goes to that flow's packet's sender.
 * Any other ICMP is judged as itself (port-less rules). An approval of
 * another epoch is not enough: the flow's next packet judges it again.
 */
static __always_inline int zh_pol_judge_pkt(void *data, void *data_end,
					    const struct zh_flow *f,
					    const struct zh_ep_key *dst,
					    __u32 dport, __u32 ends)
{
	if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
		struct zh_pol_scratch *s;
		__u32 zero = 0;

		s = bpf_map_lookup_elem(&zh_pol_scratch, &zero);
		if (s) {
			__builtin_memset(s->p.saddr, 0, sizeof(s->p.saddr));
			__builtin_memset(s->p.daddr, 0, sizeof(s->p.daddr));
			if (!zh_pol_icmp_quoted(data, data_end, f, &s->p) &&
			    zh_addr_eq(s->p.saddr, dst->addr) &&
			    !zh_pol_related())
				return 0;
		}
	}
	return zh_pol_judge(f, dst, dport, ends);
}

/*
 * zh_from_pod()'s step, on what delivery decided (@stat, fwd.h): a frame
 * for a local pod (REDIRECT) is judged by the source's egress and the
 * destination's ingress; one the kernel routes on (PASS_NO_ENDPOINT) by
 * the source's egress (the other end's node judges its ingress). What
 * goes elsewhere (to tc behind XDP, to the kernel for an answer) is not
 * judged here. @src_flags: the source pod's zh_ifaces flags; @dst_flags:
 * the destination's zh_endpoints flags (0 when it is no local pod).
 */
static __always_inline int zh_pol_from_pod(void *data, void *data_end, int stat,
					   const struct zh_flow *f,
					   const struct zh_ep_key *dst,
					   __u32 src_flags, __u8 dst_flags,
					   const struct zh_nat *nat)
{
	__u32 src_pol = src_flags & ZH_IFACE_F_POLICY;
	__u32 dst_pol = dst_flags & ZH_EP_F_POLICY;
	int ret;

	/* The unpolicied fast exit: two bit tests on loaded values. */
	if (!(src_pol | dst_pol))
		return stat;
	if (stat != ZH_STAT_REDIRECT && stat != ZH_STAT_PASS_NO_ENDPOINT)
		return stat;
	ret = zh_pol_judge_pkt(
		data, data_end, f, dst, nat->op ? nat->new_ports[1] : f->dport,
		(src_pol ? 1 : 0) |
			(stat == ZH_STAT_REDIRECT && dst_pol ? 2 : 0));
	return ret ? ret : stat;
}

/* fe80::/10 (ND and DAD come from there): the kernel's business. */
static __always_inline int zh_pol_v6_ll(const __u32 *a)
{
	const __u8 *b = (const __u8 *)a;

	return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
	       !(a[0] | a[1] | a[2] | a[3]);
}

/*
 * A Service's reply that the source's hop turned back into the VIP (lb.h)
 * and then delivered through the kernel's side of the pod's veth (an
 * AF_XDP pod; every pod without bpf_redirect_peer()): judged at that hop
 * on the backend's address, which its zh_pol_ct entry holds. @f's source
 * back to that backend when the client's zh_ct FWD entry (client -> VIP)
 * names one; anything else is left as it is, judged as it is.
 */
static __always_inline void zh_pol_svc_reply(struct zh_flow *f)
{
	struct zh_ct_key k = { .family = f->family,
			       .proto = f->proto,
			       .dir = ZH_CT_FWD,
			       .sport = f->dport,
			       .dport = f->sport };
	struct zh_backend *be;
	struct zh_ct *ct;

	if (!(f->flags & ZH_FLOW_F_PORTS))
		return;
	__builtin_memcpy(k.saddr, f->daddr, sizeof(k.saddr));
	__builtin_memcpy(k.daddr, f->saddr, sizeof(k.daddr));
	ct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!ct || (ct->flags & ZH_CT_F_HAIRPIN))
		return;
	be = bpf_map_lookup_elem(&zh_backends, &ct->backend_id);
	if (!be || be->family != f->family)
		return;
	__builtin_memcpy(f->saddr, be->addr, sizeof(f->saddr));
	f->sport = be->port;
}

/*
 * zh_tc_to_pod: a frame the kernel sends into the pod behind host veth
 * @ifindex. 0 to let it go, or a drop reason.
 */
static __always_inline int zh_pol_to_pod(void *data, void *data_end,
					 __u32 ifindex)
{
	struct zh_iface *pod = bpf_map_lookup_elem(&zh_ifaces, &ifindex);
	struct zh_ep_key dst = {};
	struct zh_flow f = {};

	if (!pod || !(pod->flags & ZH_IFACE_F_POLICY))
		return 0;
	if (zh_flow_parse(data, data_end, &f))
		return 0; /* ARP and the like: no policy */
	if (f.family == ZH_AF_INET6 && zh_pol_v6_ll(f.saddr))
		return 0;
	zh_pol_svc_reply(&f);
	dst.family = f.family;
	__builtin_memcpy(dst.addr, f.daddr, sizeof(dst.addr));
	return zh_pol_judge_pkt(data, data_end, &f, &dst, f.dport, 2);
}

#endif /* ZH_POLICY_H */
