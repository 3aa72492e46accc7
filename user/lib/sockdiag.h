/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sockdiag.h - connected UDP sockets of a removed backend, destroyed.
 *
 * connect4/6 (bpf/lib/sock.h) rewrite a connected UDP socket's peer once,
 * and the kernel runs no hook for send() on a connected socket: when its
 * backend goes, the socket would keep sending to it forever. So, as
 * Cilium's socket-LB does, the agent terminates such sockets when their
 * backend is removed: NETLINK_SOCK_DIAG, a SOCK_DIAG_BY_FAMILY dump of the
 * connected (TCP_ESTABLISHED) UDP sockets whose peer is the backend
 * (inet_diag bytecode on the destination), then SOCK_DESTROY for each
 * (kernel CONFIG_INET_DIAG_DESTROY; `ss -K` is the same). The kernel's
 * udp_abort() sets the socket's error to ECONNABORTED and disconnects it:
 * the application's next recv() fails with ECONNABORTED (a send() without
 * an address, EDESTADDRREQ), and its new connect() is balanced to a live
 * backend.
 *
 * Only sockets that socket-LB translated: the socket's cookie
 * (idiag_cookie) and peer must be in zh_sock_conn (its slot) or
 * zh_sock_rev, with the removed backend's service. A socket connected to
 * the backend's address itself (no Service) and every TCP socket are left
 * alone.
 *
 * Where: the calling thread's network namespace (the node's, for the
 * agent) and every pod's the agent knows (zh_ifaces' netns paths),
 * entered with setns() on the calling thread (zh_netns_run()), one after
 * the other. Bounded: ZH_SOCKDIAG_MAX_DESTROY sockets a sweep, a receive
 * timeout on every netlink read, ZH_SOCKDIAG_MAX_NETNS namespaces and
 * ZH_SOCKDIAG_DEADLINE_MS for the whole sweep; an error is logged and
 * counted (zh_sock_stats udp_destroy_failed), never fatal.
 */
#ifndef ZH_SOCKDIAG_H
#define ZH_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/inet_diag.h>
#include <linux/types.h>

#include "zerohop.h"

#define ZH_SOCKDIAG_MAX_DESTROY 4096 /* sockets destroyed by one sweep */
#define ZH_SOCKDIAG_MAX_NETNS 8192 /* namespaces one sweep visits */
#define ZH_SOCKDIAG_DEADLINE_MS 10000 /* one sweep, all namespaces */
#define ZH_SOCKDIAG_RECV_TIMEOUT_MS 1000 /* one netlink read */
#define ZH_SOCKDIAG_BUF 32768 /* the netlink receive buffer */
/* Reads of ZH_SOCKDIAG_BUF one dump may take (~450 replies each): a
 * netns with more sockets to one backend is cut there (and says so). */
#define ZH_SOCKDIAG_MAX_READS 1024

/* A removed backend of a UDP service: the sockets connected to it. */
struct zh_sockdiag_target {
	__u8 family; /* enum zh_family */
	__u8 pad;
	__be16 port;
	__u32 addr[4]; /* network byte order; IPv4 uses [0] */
	__u32 svc_id; /* the service socket-LB translated them for */
};

struct zh_sockdiag_result {
	unsigned int netns; /* namespaces swept */
	unsigned int netns_failed; /* could not be entered or asked */
	unsigned int found; /* connected UDP sockets to a target */
	unsigned int untranslated; /* of those, not socket-LB's: left alone */
	unsigned int destroyed;
	unsigned int gone; /* closed before SOCK_DESTROY came */
	unsigned int failed; /* SOCK_DESTROY refused (other than gone) */
	bool capped; /* ZH_SOCKDIAG_MAX_DESTROY reached */
	bool late; /* ZH_SOCKDIAG_DEADLINE_MS passed: namespaces left */
	int err; /* the first error met (0: none), negative errno */
};

/* "off": zh_sockdiag_probe() says no (what a kernel without it does). */
#define ZH_SOCKDIAG_ENV "ZEROHOP_SOCK_DESTROY"

/*
 * Can this kernel destroy a UDP socket through sock_diag? A throwaway
 * socket of ours, connected to itself on 127.0.0.1 in the calling
 * thread's netns, destroyed: 0 when it was (and reads ECONNABORTED),
 * -EOPNOTSUPP when the kernel lacks CONFIG_INET_DIAG_DESTROY, another
 * negative errno when it could not tell; @why says it in words.
 * ZEROHOP_SOCK_DESTROY=off: -EOPNOTSUPP without asking the kernel.
 */
int zh_sockdiag_probe(char *why, size_t len);

/*
 * Sweep: destroy the connected UDP sockets of @t[0..n) that socket-LB
 * translated, in the calling thread's netns and every pod's of @o's
 * zh_ifaces. Blocks the calling thread for at most about
 * ZH_SOCKDIAG_DEADLINE_MS + ZH_SOCKDIAG_RECV_TIMEOUT_MS: call it from a
 * thread of its own, never from a loop that must answer. Adds
 * destroyed/failed to zh_sock_stats. Returns 0 or the first error (also
 * in @res->err).
 */
int zh_sockdiag_sweep(const struct zh_objs *o,
		      const struct zh_sockdiag_target *t, size_t n,
		      struct zh_sockdiag_result *res);

/* --- the messages (pure: unit-tested) ------------------------------------ */

/*
 * A SOCK_DIAG_BY_FAMILY dump request into @buf: UDP sockets of @t's
 * family in TCP_ESTABLISHED (connected) whose destination is @t's address
 * and port (inet_diag bytecode, one INET_DIAG_BC_D_COND). Returns its
 * length, or 0 when @len is too small.
 */
size_t zh_sockdiag_dump_req(void *buf, size_t len,
			    const struct zh_sockdiag_target *t, __u32 seq);

/*
 * A SOCK_DESTROY request for the UDP socket @m described (its family, id
 * and cookie) into @buf, asking for an ack. Its length, or 0.
 */
size_t zh_sockdiag_destroy_req(void *buf, size_t len,
			       const struct inet_diag_msg *m, __u32 seq);

/*
 * The netlink messages in @buf[0..len) of sequence @seq: @cb(msg, @arg)
 * for each SOCK_DIAG_BY_FAMILY reply long enough to hold an inet_diag_msg
 * (a non-zero return stops, and is returned). Returns 1 at NLMSG_DONE,
 * 0 when more is to come, the error of an NLMSG_ERROR (0 for an ack: then
 * 1), or -EBADMSG for a truncated or malformed message. Messages of other
 * sequences are skipped.
 */
int zh_sockdiag_parse(const void *buf, size_t len, __u32 seq,
		      int (*cb)(const struct inet_diag_msg *m, void *arg),
		      void *arg);

/* The socket cookie of a reply (idiag_cookie's two words). */
__u64 zh_sockdiag_cookie(const struct inet_diag_msg *m);

/* Does @m's peer (idiag_dst, idiag_dport) match @t's address and port? */
bool zh_sockdiag_peer_is(const struct inet_diag_msg *m,
			 const struct zh_sockdiag_target *t);

#endif /* ZH_SOCKDIAG_H */
