/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zh_xsk.h - libzerohop-xsk: AF_XDP for an unprivileged process in a pod on
 * a zerohop node. This header and zh_xsk_proto.h (the handoff's wire
 * format, which it includes) are the library's installed headers; they need
 * libc and the Linux UAPI headers, nothing else (no libbpf, no libxdp), and
 * the library never loads BPF: the node agent, zerohopd, owns the XDP
 * program and the XSKMAP.
 *
 * Lifecycle
 *   zh_xsk_open() creates the UMEM (frames * frame_size bytes), the four
 *   rings (fill, completion, RX, TX), an AF_XDP socket bound to the pod's
 *   interface and queue, and then hands the socket to the agent: it
 *   connects to the agent's Unix socket, sends one REGISTER with the socket
 *   attached (SCM_RIGHTS), and waits for the REPLY. The agent puts the
 *   socket into the pod's XSKMAP, so the steered UDP starts to arrive; the
 *   reply carries the pod's MAC, the gateway MAC and the pod's addresses
 *   (zh_xsk_info()->addrs), which is what zh_xsk_udp_build() needs.
 *   The registration lasts as long as that Unix connection stays open: it
 *   lives inside the handle, and zh_xsk_close() ends it (there is no
 *   separate unregister). If the agent goes away, the connection reports
 *   POLLHUP on zh_xsk_agent_fd(); the registration is gone and the process
 *   should open again.
 *
 *   Frames: every UMEM frame is owned by exactly one of the library's free
 *   list, the kernel (fill ring, RX, TX in flight) or the caller. A frame
 *   from zh_xsk_recv() or zh_xsk_alloc() is the caller's until it is given
 *   back with zh_xsk_release() or zh_xsk_send(); the library keeps the fill
 *   ring topped up from its free list (at most half of the frames, at most
 *   ring_size) and takes TX completions back into it.
 *
 * What an unprivileged pod process needs
 *   - CAP_NET_RAW (in the pod's user namespace) for socket(AF_XDP); no
 *     CAP_NET_ADMIN, no CAP_BPF, no root.
 *   - RLIMIT_MEMLOCK covering frames * frame_size (the kernel pins and
 *     accounts the UMEM; the rings are not charged). The defaults, 2048
 *     frames of 2048 bytes, are 4 MiB and fit the usual 8 MiB limit; the
 *     error says how much was asked and what the limit is. hugepages needs
 *     hugetlb pages available in the pod's cgroup.
 *   - The agent's socket mounted into the pod: ZH_XSK_AGENT_PATH by
 *     default, or $ZEROHOP_XSK_SOCKET, or opts->agent_path.
 *
 * Checksums on RX
 *   A frame sent by a kernel socket on the same node (another pod, the host)
 *   may arrive with the L4 checksum the sender left unfinished
 *   (CHECKSUM_PARTIAL: the pseudo-header sum only; the veth never completes
 *   it, and AF_XDP hands over the bytes as they are). Treat RX checksums as
 *   unverified, and always compute the checksum of what you send:
 *   zh_xsk_udp_swap() and zh_xsk_udp_build() do, zh_xsk_fix_csum() does it
 *   for a frame you edited yourself.
 *
 * Busy polling
 *   On a veth, as in a pod, there is no NAPI id to busy-poll: spinning on
 *   zh_xsk_recv() is the busy poll, and busy_poll_us only adds syscalls.
 *   On a NIC queue, busy_poll_us > 0 sets SO_BUSY_POLL, SO_PREFER_BUSY_POLL
 *   and (busy_poll_budget > 0) SO_BUSY_POLL_BUDGET, and an empty
 *   zh_xsk_recv() then makes the recvfrom() that drives it.
 *   SO_PREFER_BUSY_POLL and a budget above the socket's need CAP_NET_ADMIN
 *   (SO_BUSY_POLL itself does not on the 6.x kernels seen here; older
 *   ones wanted it above net.core.busy_read): each outcome is recorded in
 *   zh_xsk_info() (1 set, -EPERM refused) and none is fatal.
 *
 * Threads
 *   A handle is not thread-safe: use one per thread (one queue each), or
 *   serialise every call on it.
 */
#ifndef ZH_XSK_H
#define ZH_XSK_H

#include <stddef.h>
#include <linux/types.h>

#include "zh_xsk_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZH_XSK_AGENT_PATH "/run/zerohop/xsk.sock"
#define ZH_XSK_AGENT_ENV "ZEROHOP_XSK_SOCKET"

/* The handoff's constants and the pod's addressing (struct zh_xsk_addrs,
 * what the agent's reply carries) are the wire format's: zh_xsk_proto.h,
 * installed beside this header. */

enum zh_xsk_bind {
	ZH_XSK_BIND_AUTO = 0, /* zero-copy if the driver can, else copy */
	ZH_XSK_BIND_COPY,
	ZH_XSK_BIND_ZEROCOPY, /* zero-copy or fail */
};

/* Zero-initialise and set what you need; every 0 is a default. */
struct zh_xsk_opts {
	const char *ifname; /* NULL: "eth0" */
	__u32 queue; /* default 0 */
	const char *agent_path; /* NULL: $ZEROHOP_XSK_SOCKET or
				   ZH_XSK_AGENT_PATH */
	__u32 frame_size; /* 0: 2048; 2048 or 4096 */
	__u32 frames; /* UMEM frames, 0: 2048 (4 MiB: fits the default 8 MiB
			 memlock); at least 2 */
	__u32 ring_size; /* fill/comp/rx/tx, 0: 1024, power of two */
	int hugepages; /* UMEM on MAP_HUGETLB; an error (not a fallback) if
			  that fails */
	enum zh_xsk_bind bind; /* AUTO: try XDP_ZEROCOPY, then XDP_COPY, and
				  report which */
	int busy_poll_us; /* >0: SO_BUSY_POLL (+SO_PREFER_BUSY_POLL,
			     SO_BUSY_POLL_BUDGET below) */
	int busy_poll_budget; /* 0: kernel default */
	int timeout_ms; /* agent reply timeout, 0: 5000 */
};

struct zh_xsk_info {
	char ifname[16];
	__u32 ifindex;
	__u32 queue;
	__u32 mode; /* ZH_XSK_MODE_COPY / _ZEROCOPY (what the bind got) */
	__u32 xdp_mode; /* ZH_XSK_XDP_NATIVE / _GENERIC (the agent's reply) */
	/* 0 not asked, 1 set, -errno refused (e.g. -EPERM without
	 * CAP_NET_ADMIN); the same for the next two */
	int busy_poll;
	int prefer_busy_poll;
	int busy_poll_budget;
	struct zh_xsk_addrs addrs; /* from the agent's reply */
	char reason[128]; /* the agent's reply text (untrusted: print only) */
	__u32 frame_size; /* as opened, defaults applied */
	__u32 frames;
	__u32 ring_size;
};

struct zh_xsk;

/*
 * Create UMEM + rings, bind, hand off to the agent. 0, or -errno with a
 * one-line reason in @err (e.g. "agent refused: <reason> (errno text)" or
 * "bind eth0 queue 0: Operation not permitted"); @err may be NULL. @opts
 * may be NULL (all defaults). Every descriptor is close-on-exec; on error
 * nothing is left behind.
 */
int zh_xsk_open(const struct zh_xsk_opts *opts, struct zh_xsk **out, char *err,
		size_t errlen);
/* UNREGISTER is not needed: closing the connection ends the registration.
 * Releases everything; frames the caller still holds become invalid.
 * NULL is fine. */
void zh_xsk_close(struct zh_xsk *x);
const struct zh_xsk_info *zh_xsk_info(const struct zh_xsk *x);
/* The XSK fd, for poll() (POLLIN: RX ready). */
int zh_xsk_fd(const struct zh_xsk *x);
/* The agent connection: POLLHUP there means the registration is gone. Do
 * not read, write or close it. */
int zh_xsk_agent_fd(const struct zh_xsk *x);

struct zh_xsk_frame {
	void *data; /* the packet; may move within its frame (strip or
		       prepend headers) before zh_xsk_send() */
	__u32 len;
	__u64 addr; /* UMEM offset; identifies the frame; opaque */
};

/* Non-blocking: up to @n received frames into @f. They stay valid until
 * released or sent. */
unsigned zh_xsk_recv(struct zh_xsk *x, struct zh_xsk_frame *f, unsigned n);
/* Give frames back (received or allocated ones not sent): they refill the
 * fill ring. */
void zh_xsk_release(struct zh_xsk *x, const struct zh_xsk_frame *f, unsigned n);
/* A free frame to build a packet in (f->len = the frame's room); 0 or
 * -ENOBUFS (all frames are held by the caller, the kernel or in flight). */
int zh_xsk_alloc(struct zh_xsk *x, struct zh_xsk_frame *f);
/*
 * Queue @n frames for TX (received ones are sent in place, no copy: set
 * f->len) and kick the kernel when it needs it. Returns how many were
 * queued, from the front: it stops at a full TX ring or at a frame whose
 * data/len do not fit inside its frame (len 0 included). Queued frames go
 * back to the library when the kernel completes them; the caller keeps
 * f[ret..n-1] (send them later or release them). Reclaims completions.
 */
unsigned zh_xsk_send(struct zh_xsk *x, const struct zh_xsk_frame *f,
		     unsigned n);
/* Kick until the kernel has taken every queued TX frame and wait (up to
 * @timeout_ms) for their completions; 0, -ETIMEDOUT, or -errno. Call it
 * before zh_xsk_close() when the last frames sent must leave. */
int zh_xsk_flush(struct zh_xsk *x, int timeout_ms);
/* Poll for RX (kicks pending TX first): 1 ready, 0 timeout, -errno
 * (-EINTR when a signal arrived). @timeout_ms < 0 waits forever. */
int zh_xsk_wait(struct zh_xsk *x, int timeout_ms);

/*
 * Frame helpers: plain functions on bytes, no socket needed. They take
 * Ethernet (no VLAN tag) + IPv4 (options allowed, no fragments) or IPv6
 * (no extension headers); lengths come from the IP header, so trailing
 * Ethernet padding is fine, and nothing past @len is read.
 */
/* Recompute the IPv4 header checksum and the full UDP/TCP checksum; 0, or
 * -EINVAL if not parseable (UDP: its length must match the IP payload). */
int zh_xsk_fix_csum(void *frame, __u32 len);
/* Echo in place: swap MACs, IPs, UDP ports, reset TTL/hop limit to 64, fix
 * checksums; 0, or -EINVAL if not Ethernet+IPv4/IPv6+UDP with a sane
 * length. */
int zh_xsk_udp_swap(void *frame, __u32 len);
/* The UDP payload of a frame zh_xsk_udp_swap() would take (its length in
 * *@plen), or NULL. The payload keeps its offset through a swap. */
void *zh_xsk_udp_payload(void *frame, __u32 len, __u32 *plen);
/*
 * Build Ethernet (src self->mac, dst self->gw_mac), IPv4 (TTL 64, DF, id 0)
 * or IPv6 (hop limit 64), UDP with a full checksum, from self's address of
 * @family (4 or 6) to @dst_ip (4 or 16 bytes, network order), ports in
 * host order. @payload may point into @frame (it is moved, not copied
 * over). Returns the frame length, or -EINVAL (NULL pointers, family not
 * 4/6), -EADDRNOTAVAIL (self has no address of that family), -EMSGSIZE
 * (does not fit @room or an IP length).
 */
int zh_xsk_udp_build(void *frame, __u32 room, const struct zh_xsk_addrs *self,
		     const void *dst_ip, int family, __u16 sport, __u16 dport,
		     const void *payload, __u32 plen);

#ifdef __cplusplus
}
#endif

#endif /* ZH_XSK_H */
