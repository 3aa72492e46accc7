/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xsk_srv.h - the agent's end of the AF_XDP socket handoff (the protocol:
 * xsk_proto.h). Pods connect to a Unix SOCK_SEQPACKET socket and hand over
 * the AF_XDP sockets they made; each one is checked and goes into the
 * pod's zh_xsks slot. Single-threaded: the owner polls zh_xsk_srv_fd()
 * and calls zh_xsk_srv_process() when it is readable.
 *
 * What a REGISTER must pass, in this order (the reply names the first
 * failure; each has its own counter):
 *   a well-formed message of a version we speak       malformed, version
 *   exactly one fd, an AF_XDP socket, bound            no_socket, not_xsk,
 *                                                      unbound
 *   the peer (SO_PEERCRED) is in the network
 *   namespace of a zerohop pod with that interface     no_pod
 *   which opted in to AF_XDP, the queue in range       not_opted_in, queue
 *   the socket lives in that same namespace            foreign_socket
 *   nobody else holds that queue                       busy
 *   the map update works                               map
 * The kernel cannot tell us which queue a socket is bound to (no
 * XDP_SOCKETS_DIAG here): a socket bound to another queue of its own pod's
 * interface only ever loses that pod's own frames.
 *
 * A registration lasts as long as its connection: when the pod's process
 * exits or closes it, the slot is emptied. The agent keeps no reference to
 * the socket itself.
 */
#ifndef ZH_XSK_SRV_H
#define ZH_XSK_SRV_H

#include <linux/types.h>

#include "zerohop.h"

/* Where zerohopd listens, and what the CNI result names, by default;
 * $ZEROHOP_XSK_SOCKET overrides it (tests), as it does for the client
 * library. */
#define ZH_XSK_SOCKET_DEFAULT "/run/zerohop/xsk.sock"
#define ZH_XSK_SOCKET_ENV "ZEROHOP_XSK_SOCKET"
const char *zh_xsk_socket_default(void);

enum zh_xsk_result {
	ZH_XSK_R_REGISTERED = 0,
	ZH_XSK_R_UNREGISTERED,
	ZH_XSK_R_MALFORMED,
	ZH_XSK_R_VERSION,
	ZH_XSK_R_NO_SOCKET,
	ZH_XSK_R_NOT_XSK,
	ZH_XSK_R_UNBOUND,
	ZH_XSK_R_NO_POD,
	ZH_XSK_R_NOT_OPTED_IN,
	ZH_XSK_R_QUEUE,
	ZH_XSK_R_FOREIGN_SOCKET,
	ZH_XSK_R_BUSY,
	ZH_XSK_R_NOT_REGISTERED,
	ZH_XSK_R_MAP,
	ZH_XSK_R_MAX,
};

/* "registered", "malformed", ...: the metrics' result label. */
const char *zh_xsk_result_name(int r);

struct zh_xsk_srv_stats {
	__u64 results[ZH_XSK_R_MAX];
	__u64 connections; /* accepted so far */
	__u64 refused; /* closed at once: their namespace had its share */
	__u64 idle_closed; /* closed for registering nothing in time */
	__u64 live; /* registrations now */
};

struct zh_xsk_srv;

/*
 * Listen on @path (its directory is made; a stale socket file replaced;
 * mode 0666: pods connect as any user, the checks above decide). @objs
 * must stay open while the server lives; the server takes the lock of
 * their pin root when it writes. -EOPNOTSUPP where the kernel has no
 * AF_XDP (zh_use_missing(ZH_USE_AFXDP)).
 */
int zh_xsk_srv_open(struct zh_xsk_srv **out, const char *path,
		    const struct zh_objs *objs);
/* An fd that polls readable when there is work for zh_xsk_srv_process(). */
int zh_xsk_srv_fd(const struct zh_xsk_srv *s);
/* Accept, read and answer whatever is pending; never blocks. */
void zh_xsk_srv_process(struct zh_xsk_srv *s);
/* Safe from any thread (relaxed atomic reads). */
void zh_xsk_srv_stats(const struct zh_xsk_srv *s, struct zh_xsk_srv_stats *out);
/* Close every connection (emptying their slots) and remove the socket. */
void zh_xsk_srv_close(struct zh_xsk_srv *s);

/*
 * One datagram of @n bytes from a pod, as the server reads it before it
 * looks at fds (@truncated: the bytes or the fds did not fit): a REGISTER
 * or UNREGISTER into @msg, 0; or the negative errno its reply carries
 * (zh_xsk_decode()'s, -EMSGSIZE when truncated, -EBADMSG for a REPLY)
 * with @err saying why, and the server hangs up. @seq gets the header's
 * seq whenever there are bytes for one, so that a refusal echoes it.
 */
struct zh_xsk_msg;
int zh_xsk_srv_decode(const void *buf, size_t n, bool truncated,
		      struct zh_xsk_msg *msg, __u32 *seq, char *err,
		      size_t errlen);

#endif /* ZH_XSK_SRV_H */
