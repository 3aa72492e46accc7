/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zh_xsk_proto.h - the wire format of the AF_XDP socket handoff between an
 * unprivileged pod process (the client) and zerohopd (the agent). Only the
 * bytes: no sockets, no BPF.
 *
 * The exchange
 *   The client creates an AF_XDP socket, binds it to its interface and
 *   queue, and sends one ZH_XSK_REGISTER message over a Unix SOCK_SEQPACKET
 *   socket with the XSK fd attached as SCM_RIGHTS ancillary data (the fd is
 *   never in the bytes). The agent checks the socket, inserts it into the
 *   pod's XSKMAP and answers with one ZH_XSK_REPLY carrying the same seq.
 *   ZH_XSK_UNREGISTER (no fd) removes the entry; it is answered the same
 *   way. One message per datagram: SOCK_SEQPACKET keeps the boundaries, so
 *   hdr.len must equal the datagram's length exactly.
 *
 * Byte order and layout
 *   Host byte order throughout: both ends run on the same machine (a Unix
 *   socket cannot leave it). Every field is fixed width, naturally aligned,
 *   with no implicit padding (checked by _Static_assert below); the decoder
 *   reads with memcpy, so the buffer needs no alignment.
 *
 *   offset size  field
 *   header (16 bytes, every message)
 *     0     4    magic    ZH_XSK_MAGIC, 0x6b78687a ("zhxk" read as bytes on
 *                         a little-endian host)
 *     4     2    version  ZH_XSK_VERSION (1)
 *     6     2    type     ZH_XSK_REGISTER / ZH_XSK_UNREGISTER / ZH_XSK_REPLY
 *     8     4    len      the whole message, header included, in bytes
 *    12     4    seq      chosen by the client; the reply echoes it
 *   REGISTER / UNREGISTER body (struct zh_xsk_req, 24 bytes; message 40)
 *    16    16    ifname   NUL-terminated, non-empty, at most 15 characters;
 *                         the kernel's dev_valid_name() rules: not "." or
 *                         "..", no '/', no ':', no whitespace. The bytes
 *                         after the NUL must be zero (one encoding per
 *                         message).
 *    32     4    queue_id < ZH_XSK_QUEUE_MAX (4096)
 *    36     4    flags    REGISTER: ZH_XSK_F_* bits only;
 *                         UNREGISTER: must be 0
 *   REPLY body (struct zh_xsk_reply, 176 bytes; message 192)
 *    16     4    status   0 or a negative errno
 *    20     4    mode     status 0: ZH_XSK_MODE_COPY (1) or _ZEROCOPY (2);
 *                         status < 0: 0
 *    24     4    xdp_mode status 0: ZH_XSK_XDP_NATIVE (1) or _GENERIC (2);
 *                         status < 0: 0
 *    28   128    reason   NUL-terminated human-readable text, may be empty;
 *                         zero after the NUL. Untrusted: print it, never
 *                         parse it.
 *   The pod's addressing (struct zh_xsk_addrs, same layout): what the client
 *   needs to build frames. All zero when status < 0.
 *   156     6    mac      the pod interface's MAC
 *   162     6    gw_mac   the gateway's MAC (the host-side veth): the
 *                         destination MAC of everything the pod sends
 *   168     4    addr_flags ZH_XSK_ADDR_V4 (1u<<0), ZH_XSK_ADDR_V6 (1u<<1);
 *                         no other bits
 *   172     4    ipv4     network byte order; 0 unless ZH_XSK_ADDR_V4
 *   176    16    ipv6     __u32[4], network byte order; all 0 unless
 *                         ZH_XSK_ADDR_V6
 *
 * Limits
 *   A message longer than ZH_XSK_MSG_MAX (512) bytes is refused before any
 *   field is read; receivers may size their buffer to it.
 *
 * Errors from zh_xsk_decode() (err gets a one-line reason)
 *   -EINVAL          NULL buf (with n > 0) or out; ifname empty, not
 *                    terminated, "."/"..", a '/', ':' or whitespace, or
 *                    non-zero bytes after its NUL; unknown flag bits (any
 *                    flag on UNREGISTER); status > 0; mode or xdp_mode out
 *                    of range or not matching status; unknown addr_flags
 *                    bits; ipv4/ipv6 non-zero without their addr_flags
 *                    bit; mac, gw_mac or addr_flags non-zero when
 *                    status < 0
 *   -EMSGSIZE        n > ZH_XSK_MSG_MAX
 *   -EBADMSG         n < the header (short read); unknown type; hdr.len !=
 *                    n; a body of the wrong size for the type; reason not
 *                    NUL-terminated or non-zero after its NUL
 *   -EPROTO          bad magic (not a zerohop XSK message)
 *   -EPROTONOSUPPORT version other than ZH_XSK_VERSION (the reason names
 *                    both)
 *   -ERANGE          queue_id >= ZH_XSK_QUEUE_MAX
 *   The checks run in this order, first failure wins: arguments, n >
 *   ZH_XSK_MSG_MAX, short read, magic, version, type, hdr.len, body size,
 *   then the body's fields in offset order (REGISTER/UNREGISTER: ifname,
 *   queue_id, flags; REPLY: reason, status, modes, then the address
 *   fields: mac and gw_mac (zero when status < 0), addr_flags (known bits;
 *   zero when status < 0), ipv4, ipv6).
 *   Nothing past buf[n - 1] is ever read.
 */
#ifndef ZH_XSK_PROTO_H
#define ZH_XSK_PROTO_H

#include <stddef.h>
#include <linux/types.h>

#define ZH_XSK_MAGIC 0x6b78687aU /* "zhxk" */
#define ZH_XSK_VERSION 1
#define ZH_XSK_MSG_MAX 512

#define ZH_XSK_IFNAMSIZ 16 /* IFNAMSIZ, without pulling in net/if.h */
#define ZH_XSK_QUEUE_MAX 4096U
#define ZH_XSK_REASON_LEN 128

enum {
	ZH_XSK_REGISTER = 1, /* client -> agent, XSK fd in SCM_RIGHTS */
	ZH_XSK_UNREGISTER = 2, /* client -> agent, no fd */
	ZH_XSK_REPLY = 3, /* agent -> client */
};

/* REGISTER flags: what the client asks for. */
#define ZH_XSK_F_ZEROCOPY_WANTED (1U << 0)
#define ZH_XSK_F_NEED_WAKEUP (1U << 1)
#define ZH_XSK_F_ALL (ZH_XSK_F_ZEROCOPY_WANTED | ZH_XSK_F_NEED_WAKEUP)

/* REPLY mode: how the socket ended up bound; 0 when status < 0. */
#define ZH_XSK_MODE_COPY 1U
#define ZH_XSK_MODE_ZEROCOPY 2U

/* REPLY xdp_mode: how the redirecting XDP program is attached; 0 on error. */
#define ZH_XSK_XDP_NATIVE 1U
#define ZH_XSK_XDP_GENERIC 2U

/* REPLY addr_flags: which of ipv4 / ipv6 hold the pod's address. */
#define ZH_XSK_ADDR_V4 (1U << 0)
#define ZH_XSK_ADDR_V6 (1U << 1)
#define ZH_XSK_ADDR_ALL (ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6)

/* The pod's addressing as the REPLY carries it (the same bytes, offset 140
 * of the reply body). */
struct zh_xsk_addrs {
	__u8 mac[6]; /* the pod interface's MAC */
	__u8 gw_mac[6]; /* the gateway's MAC: destination of every frame */
	__u32 addr_flags; /* ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6 */
	__u32 ipv4; /* network byte order */
	__u32 ipv6[4]; /* network byte order */
};

struct zh_xsk_hdr {
	__u32 magic;
	__u16 version;
	__u16 type;
	__u32 len; /* whole message, header included */
	__u32 seq;
};

/* The body of REGISTER and UNREGISTER (flags 0 on UNREGISTER). */
struct zh_xsk_req {
	char ifname[ZH_XSK_IFNAMSIZ];
	__u32 queue_id;
	__u32 flags;
};

struct zh_xsk_reply {
	__s32 status;
	__u32 mode;
	__u32 xdp_mode;
	char reason[ZH_XSK_REASON_LEN];
	/* the pod's addressing, laid out as struct zh_xsk_addrs */
	__u8 mac[6];
	__u8 gw_mac[6];
	__u32 addr_flags;
	__u32 ipv4;
	__u32 ipv6[4];
};

_Static_assert(sizeof(struct zh_xsk_hdr) == 16, "zh_xsk_hdr is 16 bytes");
_Static_assert(sizeof(struct zh_xsk_req) == 24, "zh_xsk_req is 24 bytes");
_Static_assert(sizeof(struct zh_xsk_reply) == 176, "zh_xsk_reply is 176 bytes");
_Static_assert(sizeof(struct zh_xsk_addrs) == 36, "zh_xsk_addrs is 36 bytes");
_Static_assert(offsetof(struct zh_xsk_reply, mac) == 140 &&
		       offsetof(struct zh_xsk_reply, gw_mac) ==
			       140 + offsetof(struct zh_xsk_addrs, gw_mac) &&
		       offsetof(struct zh_xsk_reply, addr_flags) ==
			       140 + offsetof(struct zh_xsk_addrs,
					      addr_flags) &&
		       offsetof(struct zh_xsk_reply, ipv4) ==
			       140 + offsetof(struct zh_xsk_addrs, ipv4) &&
		       offsetof(struct zh_xsk_reply, ipv6) ==
			       140 + offsetof(struct zh_xsk_addrs, ipv6),
	       "the reply's address fields are laid out as zh_xsk_addrs");
_Static_assert(sizeof(struct zh_xsk_hdr) + sizeof(struct zh_xsk_reply) <=
		       ZH_XSK_MSG_MAX,
	       "every message fits ZH_XSK_MSG_MAX");

#define ZH_XSK_REQ_MSG_LEN \
	(sizeof(struct zh_xsk_hdr) + sizeof(struct zh_xsk_req))
#define ZH_XSK_REPLY_MSG_LEN \
	(sizeof(struct zh_xsk_hdr) + sizeof(struct zh_xsk_reply))

/* A decoded message: hdr.type says which member of the union is valid. */
struct zh_xsk_msg {
	struct zh_xsk_hdr hdr;
	union {
		struct zh_xsk_req req; /* ZH_XSK_REGISTER, ZH_XSK_UNREGISTER */
		struct zh_xsk_reply reply; /* ZH_XSK_REPLY */
	};
};

/*
 * Encoders: write one message into @buf (@len bytes available). Return the
 * bytes written (the message length), -EINVAL for an argument the decoder
 * would refuse (NULL buf or ifname, a bad ifname, queue out of range,
 * unknown flags, status > 0, mode/xdp_mode not matching status), or
 * -ENOSPC when @len is too small. Nothing is written on error.
 */
int zh_xsk_encode_register(void *buf, size_t len, __u32 seq, const char *ifname,
			   __u32 queue, __u32 flags);
int zh_xsk_encode_unregister(void *buf, size_t len, __u32 seq,
			     const char *ifname, __u32 queue);
/*
 * A NULL @reason is empty; a longer one than 127 bytes is truncated. A NULL
 * @addrs is all zero; with status < 0 a non-NULL @addrs must be all zero
 * too, and otherwise its addr_flags, ipv4 and ipv6 must follow the rules
 * above (-EINVAL).
 */
int zh_xsk_encode_reply(void *buf, size_t len, __u32 seq, int status,
			__u32 mode, __u32 xdp_mode,
			const struct zh_xsk_addrs *addrs, const char *reason);

/*
 * Strictly decode the @n bytes at @buf into @out. Returns 0, or a negative
 * errno (see the table at the top) with a reason in @err (may be NULL; the
 * text is truncated to @errlen, always NUL-terminated when @errlen > 0).
 * @out is only meaningful on success.
 */
int zh_xsk_decode(const void *buf, size_t n, struct zh_xsk_msg *out, char *err,
		  size_t errlen);

/* "register", "unregister", "reply", or "unknown". */
const char *zh_xsk_type_name(int type);

#endif /* ZH_XSK_PROTO_H */
