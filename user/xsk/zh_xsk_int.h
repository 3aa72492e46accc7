/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zh_xsk_int.h - libzerohop-xsk's internals, shared by its three parts
 * (xsk_sock.c: UMEM, rings and the data path; xsk_handoff.c: the socket's
 * handoff to the agent; xsk_frame.c: frame helpers) and reached by the unit
 * tests (the handoff on its own). Not installed.
 */
#ifndef ZH_XSK_INT_H
#define ZH_XSK_INT_H

#include "zh_xsk.h"
#include "zh_xsk_proto.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

_Static_assert(sizeof(((struct zh_xsk_info *)0)->ifname) == ZH_XSK_IFNAMSIZ &&
		       sizeof(((struct zh_xsk_info *)0)->reason) ==
			       ZH_XSK_REASON_LEN,
	       "zh_xsk_info holds an ifname and a reason of the wire's size");

#define XSK_DEF_IFNAME "eth0"
#define XSK_DEF_FRAME_SIZE 2048U
#define XSK_DEF_FRAMES 2048U
#define XSK_DEF_RING 1024U
#define XSK_RING_MAX (1U << 20)
#define XSK_DEF_TIMEOUT_MS 5000
/* Copy-mode TX moves at most 32 descriptors per sendto() (the kernel's
 * TX batch, then -EAGAIN): a full 1024-entry ring takes 32 kicks. Past this
 * many without draining, the next send or wait carries on. */
#define XSK_KICK_MAX 64

/*
 * One ring as the kernel shares it. Producer rings (fill, TX): we own
 * *producer; cached_cons is the kernel's consumer as last read. Consumer
 * rings (RX, completion): we own *consumer; cached_prod is the kernel's
 * producer as last read. The kernel's side of the protocol (xsk_queue.h):
 * a producer reads the consumer with acquire before writing entries and
 * publishes them with a release store of the producer; a consumer reads
 * the producer with acquire before reading entries and hands the slots
 * back with a release store of the consumer.
 */
struct xsk_ring {
	__u32 *producer;
	__u32 *consumer;
	__u32 *flags;
	void *desc; /* __u64[] (fill, completion) or struct xdp_desc[] */
	__u32 size;
	__u32 mask;
	__u32 cached_prod;
	__u32 cached_cons;
	void *map;
	size_t map_len;
};

struct zh_xsk {
	int fd; /* the AF_XDP socket */
	int conn_fd; /* the agent connection: the registration */
	void *umem;
	size_t umem_map_len; /* rounded up to the huge page size */
	__u64 umem_len; /* frames * frame_size, what the kernel knows */
	__u64 frame_mask; /* frame_size - 1 */
	struct xsk_ring fill, comp, rx, tx;
	__u64 *free_addrs; /* the free stack: frame base addresses */
	__u32 nfree;
	__u32 fill_out; /* frames the kernel holds for RX (fill ring + RX) */
	__u32 fill_target; /* keep that many there: min(ring, frames / 2) */
	__u32 tx_out; /* queued for TX, completion not yet reaped */
	struct zh_xsk_info info;
};

/* Say why in @err (may be NULL), return @rc: the library's one error
 * helper (it builds without libzerohop, whose zh_errf is the same). */
int xsk_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* CLOCK_MONOTONIC in ms, for deadlines. */
long long xsk_now_ms(void);

/*
 * Connect to the agent at @agent_path, send one REGISTER (@ifname, @queue,
 * ZH_XSK_F_* @flags) with @xsk_fd attached as SCM_RIGHTS, and wait up to
 * @timeout_ms (connect, send and reply together) for the REPLY, decoded
 * strictly: its type and seq must match. On success returns 0, the open
 * connection in *@conn_fd (close-on-exec; closing it ends the
 * registration) and the reply in *@reply. Otherwise *@conn_fd is -1, @err
 * (may be NULL) says why, and the return is:
 *   the agent's status    it refused ("agent refused: <reason> (<errno
 *                         text>)"); *@reply holds its reply
 *   -ENOENT, -ECONNREFUSED, ... connect failed (the message names the path)
 *   -ETIMEDOUT            no reply in time
 *   -ECONNRESET           the agent closed the connection without a reply
 *   the decoder's -errno  a malformed reply (EBADMSG, EPROTO, ...)
 *   -EPROTO               a valid message that is not our reply (type,
 *                         seq)
 *   -EMSGSIZE             a reply longer than ZH_XSK_MSG_MAX
 *   -EINVAL, -ENAMETOOLONG bad arguments
 */
int zh_xsk_handoff(const char *agent_path, int xsk_fd, const char *ifname,
		   __u32 queue, __u32 flags, int timeout_ms, int *conn_fd,
		   struct zh_xsk_msg *reply, char *err, size_t errlen);

#endif /* ZH_XSK_INT_H */
