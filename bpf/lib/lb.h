/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * lb.h - Services: the kube-proxy replacement on the egress hop.
 *
 * zh_lb() looks at a TCP or UDP packet a pod sent and decides, reading
 * zh_services, zh_ct, zh_affinity, zh_maglev and zh_backends:
 *
 *   - a reply of a Service flow (zh_ct REV entry): its source goes back to
 *     the VIP and port the client asked for (reverse NAT);
 *   - a packet to a Service: its destination becomes a backend, the same
 *     one for the life of the flow (zh_ct FWD entry) as long as that
 *     backend exists; a new flow takes the client's affinity entry or the
 *     Maglev table's slot for its 5-tuple;
 *   - anything else: untouched.
 *
 * It only plans the rewrite (struct zh_nat): writing the packet and its
 * checksums differs between tc (helpers, which know the skb's checksum
 * state) and XDP (direct writes), and lives in the entry programs. The
 * forwarding decision that follows uses the rewritten destination.
 */
#ifndef ZH_LB_H
#define ZH_LB_H

#include <linux/in.h>
#include <linux/tcp.h>
#include "parse.h"
#include "maps.h"

/*
 * The packet's addresses and ports before and after: both addresses and
 * both ports are written, unchanged ones with their old value (a zero
 * checksum difference), which keeps the writers free of cases. Addresses
 * are laid out as in the header: IPv4 source then destination in [0] and
 * [1], IPv6 in [0..3] and [4..7].
 */
struct zh_nat {
	__u8 op; /* non-zero: rewrite */
	__u8 family;
	__u8 proto;
	__u8 pad;
	__u32 old_ip[8];
	__u32 new_ip[8];
	__be16 old_ports[2]; /* source, destination */
	__be16 new_ports[2];
	__u32 out_ifindex; /* a NodePort reply: send it out of this device */
};

/* The fields of a TCP/UDP packet the balancer needs. */
struct zh_flow {
	__u8 family;
	__u8 proto;
	__u8 tcp_flags; /* the byte with FIN SYN RST PSH ACK URG */
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 ifindex; /* NodePort: the uplink it arrived on */
};

#define ZH_TCP_FIN 0x01
#define ZH_TCP_SYN 0x02
#define ZH_TCP_RST 0x04
#define ZH_TCP_ACK 0x10

/* Result of zh_lb() besides a zh_stat: nothing to do, or a plan. */
#define ZH_LB_PASSTHROUGH (-1)
#define ZH_LB_NAT (-2)

/* Where TCP/UDP starts: only IPv4 without options and IPv6 without
 * extension headers are balanced. Constants, so the verifier can bound the
 * packet accesses that follow. */
static __always_inline __u32 zh_l4_off(__u8 family)
{
	return family == ZH_AF_INET ? ETH_HLEN + sizeof(struct iphdr) :
				      ETH_HLEN + sizeof(struct ipv6hdr);
}

/*
 * Read the ports (and TCP flags) of @f's packet. Returns 0, or -1 when the
 * packet is no TCP/UDP or too short for its header (then not a Service
 * packet: the fast path goes on as before).
 */
static __always_inline int zh_flow_ports(void *data, void *data_end,
					 struct zh_flow *f)
{
	__u8 *l4;

	if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP)
		return -1;
	l4 = zh_hdr(data, data_end, zh_l4_off(f->family),
		    f->proto == IPPROTO_TCP ? sizeof(struct tcphdr) : 8);
	if (!l4)
		return -1;
	f->sport = *(__be16 *)l4;
	f->dport = *(__be16 *)(l4 + 2);
	if (f->proto == IPPROTO_TCP)
		f->tcp_flags = l4[13];
	return 0;
}

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

static __always_inline int zh_ct_live(const struct zh_ct *ct, __u8 proto,
				      __u64 now)
{
	return now - ct->last_seen_ns <= zh_ct_timeout_ns(proto, ct->state);
}

static __always_inline void zh_ct_touch(struct zh_ct *ct,
					const struct zh_flow *f, __u64 now)
{
	ct->last_seen_ns = now;
	ct->state = zh_ct_next(f, ct->state);
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

/* The rewrite starts as the identity of @f's addresses and ports. */
static __always_inline void zh_nat_init(struct zh_nat *n,
					const struct zh_flow *f)
{
	n->op = 1;
	if (f->family == ZH_AF_INET) {
		n->old_ip[0] = f->saddr[0];
		n->old_ip[1] = f->daddr[0];
	} else {
		__builtin_memcpy(n->old_ip, f->saddr, 16);
		__builtin_memcpy(&n->old_ip[4], f->daddr, 16);
	}
	__builtin_memcpy(n->new_ip, n->old_ip, sizeof(n->new_ip));
	n->old_ports[0] = n->new_ports[0] = f->sport;
	n->old_ports[1] = n->new_ports[1] = f->dport;
}

/* Set the source (@dst 0) or destination (@dst 1) address. */
static __always_inline void zh_nat_addr(struct zh_nat *n, int dst,
					const __u32 *addr)
{
	if (n->family == ZH_AF_INET)
		n->new_ip[dst] = addr[0];
	else
		__builtin_memcpy(&n->new_ip[dst * 4], addr, 16);
}

/* The destination after the rewrite, as a zh_ep_key address. */
static __always_inline void zh_nat_daddr(const struct zh_nat *n, __u32 *out)
{
	if (n->family == ZH_AF_INET)
		out[0] = n->new_ip[1];
	else
		__builtin_memcpy(out, &n->new_ip[4], 16);
}

/* A reply from a backend: the source goes back to the VIP. */
static __always_inline int zh_lb_reply(const struct zh_flow *f,
				       struct zh_nat *nat, __u64 now)
{
	struct zh_ct_key k = {};
	struct zh_ct *ct;

	zh_ct_key_of(&k, f, ZH_CT_REV);
	ct = bpf_map_lookup_elem(&zh_ct, &k);
	if (!ct || !zh_ct_live(ct, f->proto, now))
		return ZH_LB_PASSTHROUGH;
	zh_ct_touch(ct, f, now);
	zh_nat_init(nat, f);
	zh_nat_addr(nat, 0, ct->vip);
	nat->new_ports[0] = ct->vport;
	nat->out_ifindex = ct->out_ifindex;
	/* Hairpin: it was sent to the VIP; it goes back to the pod. */
	if (ct->flags & ZH_CT_F_HAIRPIN)
		zh_nat_addr(nat, 1, f->saddr);
	return ZH_LB_NAT;
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
		if (aff && now - aff->last_seen_ns <=
				   (__u64)svc->affinity_s * 1000000000ULL) {
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

/* No Service at this address: is it in the Service CIDR all the same? */
static __always_inline int zh_unknown_vip(const struct zh_flow *f)
{
	__u32 zero = 0;
	struct zh_config *cfg = bpf_map_lookup_elem(&zh_config, &zero);

	if (!cfg)
		return 0;
	if (f->family == ZH_AF_INET)
		return cfg->svc_cidr4_len &&
		       zh_in_prefix(f->daddr, &cfg->svc_cidr4,
				    cfg->svc_cidr4_len, 1);
	return cfg->svc_cidr6_len &&
	       zh_in_prefix(f->daddr, cfg->svc_cidr6, cfg->svc_cidr6_len, 4);
}

/*
 * A packet to a Service: plan the DNAT to this flow's backend. Returns
 * ZH_LB_NAT, ZH_LB_PASSTHROUGH (no Service there) or a zh_stat.
 */
/* Is @f addressed to one of the node's own addresses (zh_node_addrs), as
 * a NodePort must be? (The FIB cannot tell: bpf_fib_lookup() answers "not
 * forwarded" for a local route and for no route alike.) */
static __always_inline int zh_node_local(const struct zh_flow *f)
{
	struct zh_ep_key k = { .family = f->family };

	__builtin_memcpy(k.addr, f->daddr, sizeof(k.addr));
	return bpf_map_lookup_elem(&zh_node_addrs, &k) != NULL;
}

static __always_inline int zh_lb_request(const struct zh_flow *f,
					 struct zh_nat *nat, __u64 now,
					 const int nodeport)
{
	struct zh_svc_key sk = { .family = f->family,
				 .proto = f->proto,
				 .port = f->dport };
	struct zh_ct_key k = {}, rk = {};
	struct zh_ct nct = {}, rct = {};
	struct zh_backend *be = NULL;
	struct zh_svc *svc;
	struct zh_ct *ct;
	__u32 bid = 0;

	/* A NodePort's key has no address: any of the node's own. */
	if (!nodeport)
		__builtin_memcpy(sk.addr, f->daddr, sizeof(sk.addr));
	svc = bpf_map_lookup_elem(&zh_services, &sk);
	if (!svc)
		return !nodeport && zh_unknown_vip(f) ?
			       ZH_STAT_DROP_UNKNOWN_VIP :
			       ZH_LB_PASSTHROUGH;
	/* Only at the node's own addresses: not what it routes. */
	if (nodeport && !zh_node_local(f))
		return ZH_LB_PASSTHROUGH;

	zh_ct_key_of(&k, f, ZH_CT_FWD);
	ct = bpf_map_lookup_elem(&zh_ct, &k);
	if (ct && ct->svc_id == svc->id && zh_ct_live(ct, f->proto, now)) {
		bid = ct->backend_id;
		be = bpf_map_lookup_elem(&zh_backends, &bid);
		/* Its backend is gone: the flow picks again. */
		if (be && be->svc_id == svc->id) {
			zh_ct_touch(ct, f, now);
			goto nat;
		}
	}
	be = zh_lb_pick(f, svc, &bid, now);
	if (!be)
		return ZH_STAT_DROP_NO_BACKEND;

	/* Both directions: the reply is keyed as the backend sends it. */
	nct.last_seen_ns = now;
	nct.svc_id = svc->id;
	nct.backend_id = bid;
	nct.state = zh_ct_next(f, ZH_CT_NEW);
	if (zh_addr_eq(be->addr, f->saddr))
		nct.flags = ZH_CT_F_HAIRPIN;
	rct = nct;
	__builtin_memcpy(rct.vip, f->daddr, sizeof(rct.vip));
	rct.vport = f->dport;
	rct.out_ifindex = f->ifindex;
	rk.family = f->family;
	rk.proto = f->proto;
	rk.dir = ZH_CT_REV;
	rk.sport = be->port;
	rk.dport = f->sport;
	__builtin_memcpy(rk.saddr, be->addr, sizeof(rk.saddr));
	/* A hairpin request arrives from the VIP: its reply goes there. */
	__builtin_memcpy(rk.daddr, nct.flags ? f->daddr : f->saddr,
			 sizeof(rk.daddr));
	if (bpf_map_update_elem(&zh_ct, &rk, &rct, BPF_ANY) ||
	    bpf_map_update_elem(&zh_ct, &k, &nct, BPF_ANY))
		return ZH_STAT_PASS_CT_FULL;
nat:
	zh_nat_init(nat, f);
	zh_nat_addr(nat, 1, be->addr);
	nat->new_ports[1] = be->port;
	if (zh_addr_eq(be->addr, f->saddr))
		zh_nat_addr(nat, 0, f->daddr);
	return ZH_LB_NAT;
}

/*
 * The balancer for a packet from a pod, after anti-spoofing. Fills @nat
 * and returns ZH_LB_NAT, returns ZH_LB_PASSTHROUGH when the packet is no
 * Service's business, or a zh_stat (drop, or pass to the kernel).
 * A function of its own (a BPF subprogram): its conntrack keys and values
 * get a stack frame of their own instead of growing the entry's.
 */
static __attribute__((noinline)) int
zh_lb(void *data, void *data_end, struct zh_flow *f, struct zh_nat *nat)
{
	__u64 now;
	int ret;

	if (zh_flow_ports(data, data_end, f))
		return ZH_LB_PASSTHROUGH;
	nat->family = f->family;
	nat->proto = f->proto;
	now = bpf_ktime_get_ns();
	ret = zh_lb_reply(f, nat, now);
	if (ret != ZH_LB_PASSTHROUGH)
		return ret;
	return zh_lb_request(f, nat, now, 0);
}

/*
 * A packet from outside at the node's own address: a NodePort? The same
 * balancing and conntrack as for a ClusterIP; the REV entry restores the
 * node address and node port as the reply's source. Fills @nat and returns
 * ZH_LB_NAT, ZH_LB_PASSTHROUGH or a zh_stat.
 */
static __attribute__((noinline)) int zh_lb_nodeport(void *data, void *data_end,
						    struct zh_flow *f,
						    struct zh_nat *nat)
{
	if (zh_flow_ports(data, data_end, f))
		return ZH_LB_PASSTHROUGH;
	nat->family = f->family;
	nat->proto = f->proto;
	return zh_lb_request(f, nat, bpf_ktime_get_ns(), 1);
}

/*
 * The pod side (a pod's own interface): a reply from a backend the kernel
 * routed here (one on another node, or the host) still carries the
 * backend's address: the REV entry turns it back to the VIP. Replies from
 * local pods were turned on their egress hop already and match nothing
 * here. Fills @nat and returns ZH_LB_NAT, or ZH_LB_PASSTHROUGH.
 */
static __attribute__((noinline)) int zh_lb_pod_reply(void *data, void *data_end,
						     struct zh_nat *nat)
{
	struct ethhdr *eth = zh_hdr(data, data_end, 0, sizeof(*eth));
	struct zh_flow f = {};

	if (!eth)
		return ZH_LB_PASSTHROUGH;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*iph));

		if (!iph || iph->ihl != 5 ||
		    (iph->frag_off & bpf_htons(0x3fff)))
			return ZH_LB_PASSTHROUGH;
		f.family = ZH_AF_INET;
		f.proto = iph->protocol;
		f.saddr[0] = iph->saddr;
		f.daddr[0] = iph->daddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 =
			zh_hdr(data, data_end, sizeof(*eth), sizeof(*ip6));

		if (!ip6)
			return ZH_LB_PASSTHROUGH;
		f.family = ZH_AF_INET6;
		f.proto = ip6->nexthdr;
		__builtin_memcpy(f.saddr, &ip6->saddr, sizeof(f.saddr));
		__builtin_memcpy(f.daddr, &ip6->daddr, sizeof(f.daddr));
	} else {
		return ZH_LB_PASSTHROUGH;
	}
	if (zh_flow_ports(data, data_end, &f))
		return ZH_LB_PASSTHROUGH;
	nat->family = f.family;
	nat->proto = f.proto;
	return zh_lb_reply(&f, nat, bpf_ktime_get_ns());
}

#endif /* ZH_LB_H */
