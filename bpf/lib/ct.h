/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * ct.h - conntrack of Service flows (zh_abi.h: zh_ct): both directions of a
 * flow, keyed as the packet is seen from the pod that sent it, aged by
 * idle timeouts in the order conntrack's defaults have them. lb.h writes
 * the entries; this header only reads, ages and keys them.
 */
#ifndef ZH_CT_H
#define ZH_CT_H

#include <linux/in.h>
#include "parse.h"
#include "maps.h"

static __always_inline __u64 zh_ct_timeout_ns(__u8 proto, __u8 state)
{
	__u64 s = ZH_CT_TIMEOUT_UDP_S;

	if (proto == IPPROTO_TCP)
		s = state == ZH_CT_ESTABLISHED ? ZH_CT_TIMEOUT_TCP_EST_S :
		    state == ZH_CT_CLOSING     ? ZH_CT_TIMEOUT_TCP_CLOSING_S :
						 ZH_CT_TIMEOUT_TCP_NEW_S;
	return s * 1000000000ULL;
}

/* The state after this packet: FIN or RST close, an ACK without SYN
 * establishes, the rest leaves it as it was. UDP stays NEW. */
static __always_inline __u8 zh_ct_next(const struct zh_flow *f, __u8 state)
{
	if (f->proto != IPPROTO_TCP)
		return state;
	if (f->tcp_flags & (ZH_TCP_FIN | ZH_TCP_RST))
		return ZH_CT_CLOSING;
	if (state == ZH_CT_NEW && (f->tcp_flags & ZH_TCP_ACK) &&
	    !(f->tcp_flags & ZH_TCP_SYN))
		return ZH_CT_ESTABLISHED;
	return state;
}

/*
 * Is @stamp at most @ns before @now? Signed: a stamp ahead of @now is
 * young, not 2^64 ns old. It is no skew but the order of things: another
 * CPU may write an entry between this program's clock read and its
 * lookup, with a later time. Read as unsigned, such an entry (a SNAT
 * port just taken, a reply entry just refreshed) looked expired and was
 * taken over or ignored (test_bpf_snat test_snat_race).
 */
static __always_inline int zh_stamp_within(__u64 now, __u64 stamp, __u64 ns)
{
	return (__s64)(now - stamp) <= (__s64)ns;
}

static __always_inline int zh_ct_live(const struct zh_ct *ct, __u8 proto,
				      __u64 now)
{
	return zh_stamp_within(now, ct->last_seen_ns,
			       zh_ct_timeout_ns(proto, ct->state));
}

static __always_inline void zh_ct_touch(struct zh_ct *ct,
					const struct zh_flow *f, __u64 now)
{
	ct->last_seen_ns = now;
	ct->state = zh_ct_next(f, ct->state);
}

/*
 * A UDP flow has no SYN to tell its first packet again: its requests look
 * the reply's entry up (lb.h), but only one a clock epoch of 2^30 ns
 * (~1.07 s), the first whose FWD entry was last stamped in another epoch
 * (an idle flow's next request always is). A reply entry the LRU took
 * alone is written again within about a second, for ~1/90000 of the
 * lookups per-packet checking would cost at udp-rr's rate.
 */
static __always_inline int zh_ct_recheck_due(const struct zh_ct *ct, __u64 now)
{
	return ((ct->last_seen_ns ^ now) >> ZH_CT_RECHECK_SHIFT) != 0;
}

static __always_inline void zh_ct_key_of(struct zh_ct_key *k,
					 const struct zh_flow *f, __u8 dir)
{
	k->family = f->family;
	k->proto = f->proto;
	k->dir = dir;
	k->sport = f->sport;
	k->dport = f->dport;
	__builtin_memcpy(k->saddr, f->saddr, sizeof(k->saddr));
	__builtin_memcpy(k->daddr, f->daddr, sizeof(k->daddr));
}

/* @f's entry in direction @dir, if it is there and alive at @now. */
static __always_inline struct zh_ct *zh_ct_find(const struct zh_flow *f,
						__u8 dir, __u64 now)
{
	struct zh_ct_key k = {};
	struct zh_ct *ct;

	zh_ct_key_of(&k, f, dir);
	ct = bpf_map_lookup_elem(&zh_ct, &k);
	return ct && zh_ct_live(ct, f->proto, now) ? ct : NULL;
}

#endif /* ZH_CT_H */
