/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * sock.h - socket-level load balancing: the kube-proxy replacement for
 * every socket of the node, before it routes. cgroup sock_addr programs on
 * the root of the cgroup v2 hierarchy (zh_fast.bpf.c's zh_sock_* entries):
 *
 *   connect4/6   connect() to a Service address: the socket connects to a
 *                backend instead (TCP and UDP); no endpoints: the call
 *                fails with ECONNREFUSED (bpf_set_retval(), else EPERM);
 *   sendmsg4/6   the same for each sendmsg() of an unconnected UDP socket
 *                (the kernel runs it only where the call names an address);
 *   recvmsg4/6   a UDP datagram from that backend reads as from the VIP;
 *   getpeername4/6  the peer reads as the VIP;
 *   sock_release a closing TCP/UDP socket frees its zh_sock_conn slot.
 *
 * The backend comes from the per-packet balancer's own tables and its
 * zh_lb_affinity() and zh_lb_maglev() (lb.h): the same Maglev table and the same affinity
 * entries. What differs is the hash: a socket has no source port before
 * connect(), so it hashes its cookie (unique per socket, as a 5-tuple is
 * per flow), and the affinity client is the socket's bound source address
 * or else its network namespace's address (zh_netns: a pod's own, the key
 * the per-packet path has for it).
 * A translated socket then sends straight to the backend: the per-packet
 * path sees a pod-to-pod flow and writes no conntrack entry for it.
 *
 * Each translation records {cookie, backend} -> VIP, which recvmsg and
 * getpeername read back: sendmsg in zh_sock_rev (an LRU hash: an
 * unconnected socket may talk to many backends), connect() in the
 * socket's slot of zh_sock_conn (an array: a connected socket has one
 * peer, and a store costs a fraction of an LRU insert; zh_abi.h says how
 * slots are shared and when a record moves on to zh_sock_rev). An
 * unconnected UDP socket is balanced
 * again at each sendmsg(): same cookie, same table, same backend while the
 * backend stays; once it leaves the table its slots name other backends,
 * and the next datagram goes to one of them.
 */
#ifndef ZH_SOCK_H
#define ZH_SOCK_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "lb.h"
#include "kfeat.h"

#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_SOCK_REV_MAX);
	__type(key, struct zh_sock_rev_key);
	__type(value, struct zh_sock_rev);
} zh_sock_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_SOCK_CONN_MAX);
	__type(key, __u32);
	__type(value, struct zh_sock_conn);
} zh_sock_conn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_SOCK_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} zh_sock_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(max_entries, ZH_NETNS_MAX);
	__type(key, __u64);
	__type(value, struct zh_netns);
} zh_netns SEC(".maps");

/* What zh_netns knows of the socket's network namespace, or NULL. */
static __always_inline struct zh_netns *zh_sock_netns(struct bpf_sock_addr *ctx)
{
	__u64 ns = bpf_get_netns_cookie(ctx);

	return bpf_map_lookup_elem(&zh_netns, &ns);
}

static __always_inline void zh_sock_count(__u32 stat)
{
	__u64 *c = bpf_map_lookup_elem(&zh_sock_stats, &stat);

	if (c) /* per-CPU slot */
		(*c)++;
}

/* The compiler keeps the stores (and loads) on either side of it in
 * their order; x86 keeps them so for other CPUs (zh_abi.h zh_sock_conn). */
#define zh_sock_barrier() asm volatile("" ::: "memory")
#define zh_sock_cookie_of(c) (*(volatile __u64 *)&(c)->key.cookie)

static __always_inline struct zh_sock_conn *zh_sock_conn_slot(__u64 cookie)
{
	__u32 slot = (__u32)cookie & (ZH_SOCK_CONN_MAX - 1);

	return bpf_map_lookup_elem(&zh_sock_conn, &slot);
}

/*
 * The slot protocol. A slot has one writer at a time in the common case
 * (the socket that connects, serialised by its socket lock) and readers
 * on any CPU: a writer stores key.cookie = 0, the rest, then the cookie;
 * a reader takes the record only if the cookie is its own before and
 * after it copies (x86 keeps stores, and loads, in order for other CPUs;
 * zh_sock_barrier() keeps the compiler from moving them).
 *
 * With zh_sock_release running (ZH_CFG_F_SOCK_RELEASE), a slot is also
 * cleared by its holder when it closes: a compare-and-swap of its own
 * cookie to 0, so that the clear never lands on a record another socket
 * wrote meanwhile (connect() of a colliding socket on another CPU: it
 * stored 0 or its own cookie first, and the swap then does nothing; or
 * the swap came first, and connect() finds the slot free). So a slot that
 * holds another cookie is a live socket's (or one closed before the hook
 * was attached: moving that record costs an insert once, nothing more),
 * and connect() moves the holder's record to zh_sock_rev BEFORE it stores
 * 0 in the cookie: a reader of the holder that finds the cookie gone
 * finds the entry in zh_sock_rev, which it reads next. Two sockets that
 * collide and connect at the same moment can both find the same holder
 * and the last one keeps the slot, the other's record lost (its peer
 * then reads as the backend): cookies ZH_SOCK_CONN_MAX apart connecting
 * within the same microseconds, as before.
 */

/* @c's record while it is @cookie's, copied into @out: 1, else 0 (the
 * slot is another socket's, or was being written while read). */
static __always_inline int zh_sock_conn_read(struct zh_sock_conn *c,
					     __u64 cookie,
					     struct zh_sock_conn *out)
{
	if (zh_sock_cookie_of(c) != cookie)
		return 0;
	zh_sock_barrier();
	__builtin_memcpy(out, c, sizeof(*out));
	zh_sock_barrier();
	if (zh_sock_cookie_of(c) != cookie)
		return 0;
	out->key.cookie = cookie;
	return 1;
}

/* connect(): @rk -> @rv in the socket's slot, the cookie last. A socket
 * connected before to another backend (UDP may connect again) leaves
 * that record to zh_sock_rev, for its datagrams still queued; with
 * @release (ZH_CFG_F_SOCK_RELEASE), so does another socket holding the
 * slot (alive: a closed one cleared it). */
static __always_inline void zh_sock_conn_put(const struct zh_sock_rev_key *rk,
					     const struct zh_sock_rev *rv,
					     const int release)
{
	struct zh_sock_conn *c = zh_sock_conn_slot(rk->cookie), old;
	__u64 holder;

	if (!c)
		return;
	holder = zh_sock_cookie_of(c);
	if (holder == rk->cookie) {
		if (c->key.port != rk->port || c->key.family != rk->family ||
		    !zh_addr_eq(c->key.addr, rk->addr))
			bpf_map_update_elem(&zh_sock_rev, &c->key, &c->rev,
					    BPF_ANY);
	} else if (release && holder && zh_sock_conn_read(c, holder, &old)) {
		bpf_map_update_elem(&zh_sock_rev, &old.key, &old.rev, BPF_ANY);
	}
	zh_sock_barrier();
	zh_sock_cookie_of(c) = 0;
	zh_sock_barrier();
	__builtin_memcpy(c->key.addr, rk->addr, sizeof(c->key.addr));
	c->key.port = rk->port;
	c->key.family = rk->family;
	__builtin_memcpy(&c->rev, rv, sizeof(c->rev));
	zh_sock_barrier();
	zh_sock_cookie_of(c) = rk->cookie;
}

/* What connect() recorded for @rk, copied into @out: 1, else 0 (the slot
 * is another socket's, or was being written while read). */
static __always_inline int zh_sock_conn_get(const struct zh_sock_rev_key *rk,
					    struct zh_sock_conn *out)
{
	struct zh_sock_conn *c = zh_sock_conn_slot(rk->cookie);

	if (!c || !zh_sock_conn_read(c, rk->cookie, out))
		return 0;
	return out->key.port == rk->port && out->key.family == rk->family &&
	       zh_addr_eq(out->key.addr, rk->addr);
}

/*
 * sock_release: a closing socket's slot, where it still holds it, freed
 * (the protocol above). Only a connected TCP or UDP socket can hold one:
 * the rest (and unconnected UDP, which records in zh_sock_rev) leave at
 * once, without asking for a cookie. The swap is BPF_CMPXCHG (kernel
 * 5.12): where the verifier lacks it, this program does not load and the
 * datapath keeps the copy at first read.
 */
static __always_inline void zh_sock_conn_free(struct bpf_sock *sk)
{
	struct zh_sock_conn *c;
	__u64 cookie;

	if ((sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP) ||
	    !sk->dst_port)
		return;
	cookie = bpf_get_socket_cookie(sk);
	c = zh_sock_conn_slot(cookie);
	if (c && zh_sock_cookie_of(c) == cookie)
		__sync_val_compare_and_swap(&c->key.cookie, cookie, 0);
}

/* The address a socket call names (or, recvmsg, its datagram's source). */
struct zh_sock_dst {
	__u32 addr[4]; /* network byte order; IPv4 uses [0] */
	__be16 port;
	__u8 family; /* enum zh_family */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

/* The context's fields one by one: the verifier allows only constant
 * offsets into user_ip6. user_port holds the port in network byte order
 * in its low 16 bits. */
static __always_inline void zh_sock_get(struct bpf_sock_addr *ctx,
					struct zh_sock_dst *d, const int v6)
{
	if (v6) {
		d->family = ZH_AF_INET6;
		d->addr[0] = ctx->user_ip6[0];
		d->addr[1] = ctx->user_ip6[1];
		d->addr[2] = ctx->user_ip6[2];
		d->addr[3] = ctx->user_ip6[3];
	} else {
		d->family = ZH_AF_INET;
		d->addr[0] = ctx->user_ip4;
	}
	d->port = (__be16)ctx->user_port;
	d->proto = (__u8)ctx->protocol;
}

static __always_inline void zh_sock_set(struct bpf_sock_addr *ctx,
					const __u32 *addr, __be16 port,
					const int v6)
{
	if (v6) {
		ctx->user_ip6[0] = addr[0];
		ctx->user_ip6[1] = addr[1];
		ctx->user_ip6[2] = addr[2];
		ctx->user_ip6[3] = addr[3];
	} else {
		ctx->user_ip4 = addr[0];
	}
	ctx->user_port = (__u32)port;
}

/* One of the node's own addresses, or loopback (127/8, ::1) from the
 * node's own netns: where a NodePort is answered, as kube-proxy answers
 * it (a pod's localhost is its own, never the node's). */
static __always_inline int zh_sock_local(struct bpf_sock_addr *ctx,
					 const struct zh_sock_dst *d)
{
	struct zh_ep_key k = { .family = d->family };
	struct zh_netns *ns;

	if ((d->family == ZH_AF_INET &&
	     (d->addr[0] & bpf_htonl(0xff000000)) == bpf_htonl(0x7f000000)) ||
	    (d->family == ZH_AF_INET6 && !d->addr[0] && !d->addr[1] &&
	     !d->addr[2] && d->addr[3] == bpf_htonl(1))) {
		ns = zh_sock_netns(ctx);
		return ns && (ns->flags & ZH_NETNS_F_NODE);
	}
	__builtin_memcpy(k.addr, d->addr, sizeof(k.addr));
	return bpf_map_lookup_elem(&zh_node_addrs, &k) != NULL;
}

/*
 * The Service at @d: a ClusterIP, LoadBalancer IP or external IP (their
 * entries carry the address), else a NodePort at a local address (its
 * entry has none). NULL: not a Service's.
 */
static __always_inline struct zh_svc *zh_sock_svc(struct bpf_sock_addr *ctx,
						  const struct zh_sock_dst *d)
{
	struct zh_svc_key k = { .family = d->family,
				.proto = d->proto,
				.port = d->port };
	struct zh_svc *svc;

	__builtin_memcpy(k.addr, d->addr, sizeof(k.addr));
	/* To 0.0.0.0 or :: (this host) this finds the NodePort's entry. */
	svc = bpf_map_lookup_elem(&zh_services, &k);
	if (svc || !zh_sock_local(ctx, d))
		return svc;
	__builtin_memset(k.addr, 0, sizeof(k.addr));
	svc = bpf_map_lookup_elem(&zh_services, &k);
	return svc && (svc->flags & ZH_SVC_F_NODEPORT) ? svc : NULL;
}

/*
 * The client for sessionAffinity: the socket's own address where it is
 * bound to one (the per-packet path keys by that same address), else its
 * network namespace's address of the family from zh_netns (a pod's own
 * address: the per-packet path's key for the same pod; the node's: what
 * its packets leave with), else the netns cookie in the last two words
 * (no unicast IPv4 client has them non-zero).
 */
static __always_inline void zh_sock_client(struct bpf_sock_addr *ctx,
					   __u32 *client, const int v6)
{
	struct bpf_sock *sk = ctx->sk;
	struct zh_netns *n;
	__u64 ns;

	if (sk && !v6 && sk->src_ip4) {
		client[0] = sk->src_ip4;
		return;
	}
	if (sk && v6 &&
	    (sk->src_ip6[0] | sk->src_ip6[1] | sk->src_ip6[2] |
	     sk->src_ip6[3])) {
		client[0] = sk->src_ip6[0];
		client[1] = sk->src_ip6[1];
		client[2] = sk->src_ip6[2];
		client[3] = sk->src_ip6[3];
		return;
	}
	ns = bpf_get_netns_cookie(ctx);
	n = bpf_map_lookup_elem(&zh_netns, &ns);
	if (n && !v6 && (n->flags & ZH_NETNS_F_V4)) {
		client[0] = n->addr4;
		return;
	}
	if (n && v6 && (n->flags & ZH_NETNS_F_V6)) {
		client[0] = n->addr6[0];
		client[1] = n->addr6[1];
		client[2] = n->addr6[2];
		client[3] = n->addr6[3];
		return;
	}
	client[2] = (__u32)ns;
	client[3] = (__u32)(ns >> 32) | 0x80000000U;
}

/* The Maglev slot's hash for a socket: its cookie, and the Service port
 * (one socket to two Services spreads over both as two flows would). */
static __always_inline __u32 zh_sock_hash(__u64 cookie,
					  const struct zh_sock_dst *d)
{
	__u32 h = d->proto;

	h = zh_mix(h, (__u32)cookie);
	h = zh_mix(h, (__u32)(cookie >> 32));
	return zh_mix(h, d->port);
}

/*
 * connect() or an unconnected UDP sendmsg() to a Service: the backend in
 * its place. 1: go on (translated or not ours); 0: refused (no backend),
 * with ECONNREFUSED where the kernel lets us say so (cgroup programs
 * otherwise fail the call with EPERM).
 */
static __always_inline int zh_sock_fwd(struct bpf_sock_addr *ctx, const int v6,
				       __u32 stat, const int sendmsg)
{
	struct zh_sock_rev_key rk = {};
	struct zh_sock_rev rv = {}, *old;
	struct zh_affinity_key ak = {};
	struct zh_sock_dst d = {};
	struct zh_config *cfg = zh_cfg();
	struct zh_backend *be;
	struct zh_svc *svc;
	__u64 cookie, now;
	__u32 bid = 0;

	if (!cfg || !cfg->services) /* zh_lb_on() */
		return 1;
	zh_sock_get(ctx, &d, v6);
	if (d.proto != IPPROTO_TCP && d.proto != IPPROTO_UDP)
		return 1;
	svc = zh_sock_svc(ctx, &d);
	if (!svc)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	/* The clock only for affinity's ages. */
	now = svc->affinity_s ? bpf_ktime_get_ns() : 0;
	ak.svc_id = svc->id;
	ak.family = d.family;
	be = NULL;
	if (svc->affinity_s) {
		zh_sock_client(ctx, ak.client, v6);
		be = zh_lb_affinity(svc, &ak, &bid, now);
	}
	if (!be)
		be = zh_lb_maglev(svc, &ak, zh_sock_hash(cookie, &d), &bid,
				  now);
	if (!be) {
		zh_sock_count(ZH_SOCK_STAT_REFUSED);
		if (zh_kernel_has(SOCK_SET_RETVAL))
			bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	rk.cookie = cookie;
	rk.family = d.family;
	rk.port = be->port;
	__builtin_memcpy(rk.addr, be->addr, sizeof(rk.addr));
	__builtin_memcpy(rv.vip, d.addr, sizeof(rv.vip));
	rv.vport = d.port;
	rv.svc_id = svc->id;
	rv.backend_id = bid;
	if (!sendmsg) {
		/* One peer: the socket's slot, no LRU insert. */
		zh_sock_conn_put(&rk, &rv,
				 !!(cfg->flags & ZH_CFG_F_SOCK_RELEASE));
		goto set;
	}
	/* An unconnected socket's next datagram to the same Service and
	 * backend finds its entry as it was: no write (an LRU insert is
	 * most of this program's time). */
	old = bpf_map_lookup_elem(&zh_sock_rev, &rk);
	if (!old || old->svc_id != rv.svc_id || old->vport != rv.vport ||
	    !zh_addr_eq(old->vip, rv.vip) || old->backend_id != bid)
		/* Full (LRU: never): recvmsg and getpeername would show
		 * the backend; the connection itself works all the
		 * same. */
		bpf_map_update_elem(&zh_sock_rev, &rk, &rv, BPF_ANY);
set:
	zh_sock_set(ctx, be->addr, be->port, v6);
	zh_sock_count(stat);
	return 1;
}

/* recvmsg() from, or getpeername() of, a backend this socket was sent
 * to in a Service's name: the Service's address instead. Always 1. */
static __always_inline int zh_sock_rev_nat(struct bpf_sock_addr *ctx,
					   const int v6, __u32 stat)
{
	struct zh_config *cfg = zh_cfg();
	struct zh_sock_rev_key rk = {};
	struct zh_sock_conn conn;
	struct zh_sock_dst d = {};
	struct zh_sock_rev *rv;

	if (!cfg || !cfg->services) /* zh_lb_on() */
		return 1;
	zh_sock_get(ctx, &d, v6);
	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.family = d.family;
	rk.port = d.port;
	__builtin_memcpy(rk.addr, d.addr, sizeof(rk.addr));
	if (cfg->flags & ZH_CFG_F_SOCK_RELEASE) {
		/* The slot stays the socket's until it closes, or until a
		 * colliding connect() moves the record to zh_sock_rev:
		 * read there, nothing copied. */
		if (zh_sock_conn_get(&rk, &conn)) {
			rv = &conn.rev;
			goto set;
		}
		rv = bpf_map_lookup_elem(&zh_sock_rev, &rk);
		if (!rv)
			return 1;
		goto set;
	}
	rv = bpf_map_lookup_elem(&zh_sock_rev, &rk);
	if (!rv) {
		/* connect()'s record: from now on in zh_sock_rev as well,
		 * where a socket that reads its peer keeps it once the slot
		 * is another socket's (no sock_release: a dead socket's
		 * slot is taken without a look). */
		if (!zh_sock_conn_get(&rk, &conn))
			return 1;
		bpf_map_update_elem(&zh_sock_rev, &rk, &conn.rev, BPF_ANY);
		rv = &conn.rev;
	}
set:
	zh_sock_set(ctx, rv->vip, rv->vport, v6);
	zh_sock_count(stat);
	return 1;
}

#endif /* ZH_SOCK_H */
