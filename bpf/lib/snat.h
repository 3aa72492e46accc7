/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * snat.h - source NAT to the node's address, on conntrack (ct.h, zh_ct):
 *
 *   - masquerade: a pod's TCP/UDP packet to an address outside the
 *     cluster (not in zh_nomasq) leaves by the masquerade uplink with that
 *     uplink's address (zh_snat_src key 0) and a port of its range;
 *   - a NodePort request whose backend is on another node leaves with the
 *     address of the uplink it came in on (zh_snat_src key: that ifindex),
 *     so the backend's reply comes back through this node;
 *   - the reply, arriving on the uplink at that address and port, gets
 *     its destination back, and for a NodePort its source as well (the
 *     Service's own REV entry, lb.h): the two rewrites are one plan.
 *
 * Ports. A new flow takes a random port of the range, then the next ones,
 * at most ZH_SNAT_TRIES, until the reply's key {proto, peer, peer port,
 * node address, port} is free in zh_ct (BPF_F_NOEXIST: the insert is the
 * reservation, atomic between CPUs), held by an expired flow, which it
 * takes over, or still the flow's own (the LRU took its other entry).
 * The range (zerohopd --masquerade-ports, default 61000-65535) lies
 * outside the kernel's ip_local_port_range and the NodePort range, so
 * the node's own connections never pick one of its ports. kube-proxy's
 * MASQUERADE (--random-fully) and Cilium's BPF SNAT do the same: a random
 * start, a bounded probe, the conntrack table as the set of taken tuples.
 *
 * Where the source says ZH_SNAT_SRC_F_KEEP_PORT (the NodePort entries), a
 * new flow first tries its own source port, as netfilter's NAT does
 * without --random-fully: its reply key is taken only by another client
 * of the same backend with the same port, so one client's flows never
 * search, and the range holds only the collisions (a range of 4.5 k ports
 * that every flow drew from ran out at ~19 k new flows/s under UDP's
 * 120 s). It is not kept when it is a NodePort of the node, or when a
 * socket of the node would take the reply (bpf_sk_lookup_*, asked by the
 * caller, which has the context: zh_snat_route()); without that helper
 * the range alone serves. A reply is then known by its SNAT_REV entry at
 * any port of the address: one lookup more for each TCP or UDP packet to
 * the node's address on that uplink.
 *
 * Only the tc entries rewrite (the packet leaves by bpf_redirect_neigh(),
 * which only tc has): the XDP entries hand such packets to tc untouched
 * (ZH_STAT_PASS_TO_TC). What cannot be done here (another protocol, a
 * fragment, IP options, no address for the family) goes to the kernel,
 * whose nftables masquerade rule (zerohopd installs it) takes it.
 */
#ifndef ZH_SNAT_H
#define ZH_SNAT_H

#include <linux/in.h>
#include "parse.h"
#include "maps.h"
#include "ct.h"
#include "lb.h"
#include "nat.h"
#include "kfeat.h"

/* Is @addr (of @family) inside the cluster, or exempt (--no-masquerade)? */
static __always_inline int zh_nomasq_has(__u8 family, const __u32 *addr)
{
	struct zh_lpm_key k = { .family = family };

	k.prefixlen = 32 + (family == ZH_AF_INET ? 32 : 128);
	__builtin_memcpy(k.addr, addr, sizeof(k.addr));
	return bpf_map_lookup_elem(&zh_nomasq, &k) != NULL;
}

/* The node's address of @family in @src, or NULL when it has none. */
static __always_inline const __u32 *zh_snat_addr(const struct zh_snat_src *src,
						 __u8 family)
{
	if (family == ZH_AF_INET)
		return src->flags & ZH_SNAT_SRC_F_V4 ? &src->v4 : NULL;
	return src->flags & ZH_SNAT_SRC_F_V6 ? src->v6 : NULL;
}

/* The reply's key, in @rk, of the flow whose SNAT_FWD key is @k, SNATed
 * to @addr:@port (network order). */
static __always_inline void zh_snat_rev_key(struct zh_ct_key *rk,
					    const struct zh_ct_key *k,
					    const __u32 *addr, __be16 port)
{
	rk->family = k->family;
	rk->proto = k->proto;
	rk->dir = ZH_CT_SNAT_REV;
	rk->pad = 0;
	rk->sport = k->dport;
	rk->dport = port;
	__builtin_memcpy(rk->saddr, k->daddr, sizeof(rk->saddr));
	rk->daddr[0] = addr[0];
	if (k->family == ZH_AF_INET) {
		rk->daddr[1] = rk->daddr[2] = rk->daddr[3] = 0;
	} else {
		rk->daddr[1] = addr[1];
		rk->daddr[2] = addr[2];
		rk->daddr[3] = addr[3];
	}
}

/* A random 32-bit value: the kernel's where it has one for both hooks (the
 * subprogram is verified in either), else the flow's hash and the clock. */
static __always_inline __u32 zh_snat_rand(const struct zh_ct_key *k, __u64 now)
{
	if (zh_kernel_has(TC_GET_PRANDOM_U32) &&
	    zh_kernel_has(XDP_GET_PRANDOM_U32))
		return bpf_get_prandom_u32();
	return (__u32)now ^ (__u32)(now >> 32) ^ k->sport ^ k->daddr[0];
}

/* Modes of zh_snat_out() for a new flow. */
enum {
	ZH_SNAT_RANGE = 0, /* a port of the range */
	ZH_SNAT_KEEP, /* its own port first, then the range */
	/* Ask first: a new flow whose source keeps ports returns
	 * ZH_RET_SNAT_NEW, for the caller to ask the sockets. */
	ZH_SNAT_ASK,
};
/* zh_snat_out(ZH_SNAT_ASK): a new flow that may keep its port. */
#define ZH_RET_SNAT_NEW (ZH_RET_XDP_DONE + 1)

/* Can the source keep ports here (the socket lookup in both hooks: the
 * uplink's code is built into its XDP entry too)? */
static __always_inline int zh_snat_can_keep(void)
{
	return zh_kernel_has(TC_SK_LOOKUP) && zh_kernel_has(XDP_SK_LOOKUP);
}

/*
 * Reserve @port for the flow: its reply's entry @ct at @rk, in a free
 * slot, in one whose flow has ended (ours now), or in the flow's own: the
 * LRU took the flow's SNAT_FWD entry alone, and its reply entry still
 * names this client (address and port, to this peer: the same flow).
 * Without that last case such a flow searched the range, where every
 * port was some flow's own orphan, and was dropped (test_bpf_snat
 * --bench-latency: 56 k of 64.5 k new flows of xdpbench's udp-newflow
 * pattern, once zh_ct overflowed). Looked up before the insert: an LRU
 * map's insert takes a free node first, on a full map by evicting others,
 * even when the key then proves taken. 1 when it is ours.
 */
static __always_inline int zh_snat_take(struct zh_ct_key *rk, __be16 port,
					__u8 proto, struct zh_ct *ct, __u64 now)
{
	struct zh_ct *old;

	rk->dport = port;
	old = bpf_map_lookup_elem(&zh_ct, rk);
	if (!old)
		return !bpf_map_update_elem(&zh_ct, rk, ct, BPF_NOEXIST);
	if (zh_addr_eq(old->vip, ct->vip) && old->vport == ct->vport) {
		old->last_seen_ns = now;
		old->state = ct->state;
		return 1;
	}
	return !zh_ct_live(old, proto, now) &&
	       !bpf_map_update_elem(&zh_ct, rk, ct, BPF_EXIST);
}

/* Is @port (network order) a NodePort of the node for @k's protocol? */
static __always_inline int zh_snat_is_nodeport(const struct zh_ct_key *k,
					       __be16 port)
{
	struct zh_svc_key sk = { .family = k->family,
				 .proto = k->proto,
				 .port = port };
	struct zh_svc *svc = bpf_map_lookup_elem(&zh_services, &sk);

	return svc && (svc->flags & ZH_SVC_F_NODEPORT);
}

/*
 * A port for the flow @k at @addr: its reply's entry @ct inserted at @rk
 * (the key's port filled in) in a free slot; with @keep its own source
 * port first. Returns the port (network order), or 0 when every try was
 * taken.
 */
static __always_inline __be16 zh_snat_alloc(
	const struct zh_ct_key *k, struct zh_ct_key *rk, const __u32 *addr,
	const struct zh_snat_src *src, struct zh_ct *ct, __u64 now, int keep)
{
	__u32 lo = src->port_min, hi = src->port_max;
	__u32 span, start;

	zh_snat_rev_key(rk, k, addr, 0);
	if (keep && k->sport && !zh_snat_is_nodeport(k, k->sport) &&
	    zh_snat_take(rk, k->sport, k->proto, ct, now))
		return k->sport;
	if (!lo || hi < lo)
		return 0;
	span = hi - lo + 1;
	start = zh_snat_rand(k, now);
	/* Kept free of branches on the port (a modulo, not a wrap test):
	 * the verifier then finds every turn of the loop alike. */
	for (__u32 i = 0; i < ZH_SNAT_TRIES; i++)
		if (zh_snat_take(rk,
				 bpf_htons((__u16)(lo + (start + i) % span)),
				 k->proto, ct, now))
			return rk->dport;
	return 0;
}

/*
 * Source NAT for @f, as it leaves after the rewrite already planned in
 * @nat (a Service's DNAT, or none), with the addresses and ports of
 * zh_snat_src[@src_key]. Adds the new source to @nat and sets *@out_ifindex
 * to the uplink. Returns ZH_STAT_SNAT, ZH_RET_PASSTHROUGH (nothing to SNAT
 * with: the kernel's), ZH_STAT_DROP_SNAT_NO_PORT or ZH_STAT_PASS_CT_FULL;
 * for a new flow with @mode ZH_SNAT_ASK whose source keeps ports,
 * ZH_RET_SNAT_NEW and nothing done (ask again with KEEP or RANGE).
 *
 * A flow keeps its port as long as its reply entry is still its own: an
 * entry another flow took over (after this one expired) makes it pick
 * again. Every packet refreshes both entries. (Two keys and one value
 * on the stack: the caller's frame is large.) A global function: the
 * verifier checks it once, not once for each way the entries reach it,
 * which the port probe would multiply beyond its limit.
 */
__attribute__((noinline)) int zh_snat_out(const struct zh_flow *f,
					  struct zh_nat *nat, __u32 src_key,
					  __u32 *out_ifindex, __u32 mode)
{
	struct zh_ct_key k = {}, rk = {};
	struct zh_snat_src *src;
	struct zh_ct ct = {};
	struct zh_ct *fct, *old;
	const __u32 *addr;
	__u64 now;
	__be16 port;

	/* A global function, verified once on its own: the verifier takes
	 * nothing about its arguments for granted. */
	if (!f || !nat || !out_ifindex)
		return ZH_RET_PASSTHROUGH;
	src = bpf_map_lookup_elem(&zh_snat_src, &src_key);
	if (!src)
		return ZH_RET_PASSTHROUGH;
	addr = zh_snat_addr(src, f->family);
	if (!addr)
		return ZH_RET_PASSTHROUGH;
	/* The flow as it leaves: after the DNAT. */
	zh_ct_key_of(&k, f, ZH_CT_SNAT_FWD);
	if (nat->op) {
		zh_nat_daddr(nat, k.daddr);
		k.dport = nat->new_ports[1];
	}
	now = bpf_ktime_get_ns();
	fct = bpf_map_lookup_elem(&zh_ct, &k);
	if (fct) {
		zh_snat_rev_key(&rk, &k, fct->vip, fct->vport);
		old = bpf_map_lookup_elem(&zh_ct, &rk);
		if (old && zh_addr_eq(old->vip, k.saddr) &&
		    old->vport == k.sport) {
			zh_ct_touch(fct, f, now);
			zh_ct_touch(old, f, now);
			port = fct->vport;
			goto plan;
		}
	}
	if (!(src->flags & ZH_SNAT_SRC_F_KEEP_PORT) || !zh_snat_can_keep())
		mode = ZH_SNAT_RANGE;
	if (mode == ZH_SNAT_ASK)
		return ZH_RET_SNAT_NEW;
	/* The reply's entry: the pod's (client's) address and port back. */
	ct.last_seen_ns = now;
	ct.state = zh_ct_next(f, ZH_CT_NEW);
	__builtin_memcpy(ct.vip, k.saddr, sizeof(ct.vip));
	ct.vport = k.sport;
	port = zh_snat_alloc(&k, &rk, addr, src, &ct, now,
			     mode == ZH_SNAT_KEEP);
	if (!port)
		return ZH_STAT_DROP_SNAT_NO_PORT;
	/* The flow's entry: the node's address and port it leaves with. */
	__builtin_memcpy(ct.vip, rk.daddr, sizeof(ct.vip));
	ct.vport = port;
	ct.out_ifindex = src->ifindex;
	if (bpf_map_update_elem(&zh_ct, &k, &ct, BPF_ANY))
		return ZH_STAT_PASS_CT_FULL;
plan:
	if (!nat->op)
		zh_nat_init(nat, f);
	zh_nat_addr(nat, 0, addr);
	nat->new_ports[0] = port;
	*out_ifindex = src->ifindex;
	return ZH_STAT_SNAT;
}

/*
 * How a new NodePort flow @f (the DNAT planned in @nat) leaving with
 * zh_snat_src[@src_key] picks its port: ZH_SNAT_KEEP, unless a socket of
 * this node owns the reply of @f at the node's address and @f's own
 * source port (its replies would be taken for the flow's): ZH_SNAT_RANGE.
 * @ctx: the program's (tc or XDP). A function of its own: the socket
 * tuple gets a stack frame of its own, never the entry's.
 */
static __attribute__((noinline)) int zh_snat_keep_mode(void *ctx,
						       const struct zh_flow *f,
						       const struct zh_nat *nat,
						       __u32 src_key)
{
	struct bpf_sock_tuple t = {};
	struct zh_snat_src *src;
	struct bpf_sock *sk;
	const __u32 *addr;
	__u32 peer[4], len;

	src = bpf_map_lookup_elem(&zh_snat_src, &src_key);
	addr = src ? zh_snat_addr(src, f->family) : NULL;
	if (!addr || !nat->op)
		return ZH_SNAT_RANGE;
	zh_nat_daddr(nat, peer);
	if (f->family == ZH_AF_INET) {
		t.ipv4.saddr = peer[0];
		t.ipv4.daddr = addr[0];
		t.ipv4.sport = nat->new_ports[1];
		t.ipv4.dport = f->sport;
		len = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, peer, sizeof(t.ipv6.saddr));
		__builtin_memcpy(t.ipv6.daddr, addr, sizeof(t.ipv6.daddr));
		t.ipv6.sport = nat->new_ports[1];
		t.ipv6.dport = f->sport;
		len = sizeof(t.ipv6);
	}
	if (f->proto == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(ctx, &t, len, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(ctx, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return ZH_SNAT_KEEP;
	bpf_sk_release(sk);
	return ZH_SNAT_RANGE;
}

/*
 * zh_snat_out() for a NodePort request (a DNAT planned in @nat) with the
 * program's @ctx: a new flow keeps its client's port where the source
 * allows it and no socket of the node owns that port toward the backend.
 */
static __always_inline int zh_snat_nodeport(void *ctx, const struct zh_flow *f,
					    struct zh_nat *nat, __u32 src_key,
					    __u32 *out_ifindex)
{
	int ret;

	ret = zh_snat_out(f, nat, src_key, out_ifindex, ZH_SNAT_ASK);
	if (ret != ZH_RET_SNAT_NEW || !zh_snat_can_keep())
		return ret;
	return zh_snat_out(f, nat, src_key, out_ifindex,
			   zh_snat_keep_mode(ctx, f, nat, src_key));
}

/*
 * Is @f (arriving on uplink @f->ifindex) at that uplink's SNAT address,
 * at a port of its range (any port where the source keeps ports)? Only
 * such packets can be SNAT replies.
 */
static __always_inline int zh_snat_for_us(const struct zh_flow *f)
{
	__u32 key = f->ifindex;
	struct zh_snat_src *src = bpf_map_lookup_elem(&zh_snat_src, &key);
	const __u32 *addr;
	__u16 port;

	if (!src || !(f->flags & ZH_FLOW_F_PORTS))
		return 0;
	addr = zh_snat_addr(src, f->family);
	port = bpf_ntohs(f->dport);
	if (!addr)
		return 0;
	if (!(src->flags & ZH_SNAT_SRC_F_KEEP_PORT) &&
	    (port < src->port_min || port > src->port_max))
		return 0;
	if (f->family == ZH_AF_INET)
		return f->daddr[0] == addr[0];
	return zh_addr_eq(f->daddr, addr);
}

/* XDP: is @f a SNAT reply, which tc behind it takes? Its entry says so
 * (any port of the address may be one). In a frame of its own. */
static __attribute__((noinline)) int zh_snat_is_reply(const struct zh_flow *f)
{
	struct zh_ct_key k = {};

	if (!zh_lb_takes(f) || !zh_snat_for_us(f))
		return 0;
	zh_ct_key_of(&k, f, ZH_CT_SNAT_REV);
	return bpf_map_lookup_elem(&zh_ct, &k) != NULL;
}

/*
 * A reply to a SNATed flow, at the node's address: its destination goes
 * back to the pod (or a NodePort's client); a NodePort's reply also gets
 * the node port as its source (the Service's REV entry), and leaves by
 * the uplink the request came in on (@nat->out_ifindex). Returns
 * ZH_RET_NAT or ZH_RET_PASSTHROUGH.
 */
static __attribute__((noinline)) int zh_snat_in(const struct zh_flow *f,
						struct zh_nat *nat)
{
	struct zh_ct_key k = {};
	struct zh_ct *rct, *lct;
	struct zh_flow g;
	__u64 now;

	if (!zh_lb_takes(f) || !zh_snat_for_us(f))
		return ZH_RET_PASSTHROUGH;
	now = bpf_ktime_get_ns();
	zh_ct_key_of(&k, f, ZH_CT_SNAT_REV);
	rct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!rct)
		return ZH_RET_PASSTHROUGH;
	zh_ct_touch(rct, f, now);
	zh_nat_init(nat, f);
	zh_nat_addr(nat, 1, rct->vip);
	nat->new_ports[1] = rct->vport;
	/* The Service's reply entry, keyed with the client restored. */
	g = *f;
	__builtin_memcpy(g.daddr, rct->vip, sizeof(g.daddr));
	g.dport = rct->vport;
	lct = zh_ct_find(&g, ZH_CT_REV, now);
	if (lct) {
		zh_ct_touch(lct, f, now);
		zh_nat_addr(nat, 0, lct->vip);
		nat->new_ports[0] = lct->vport;
		nat->out_ifindex = lct->out_ifindex;
	}
	return ZH_RET_NAT;
}

#endif /* ZH_SNAT_H */
