// SPDX-License-Identifier: Apache-2.0
/*
 * zh_xsk_proto.c - encoder and strict decoder for the AF_XDP socket handoff
 * messages (the protocol is specified in zh_xsk_proto.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zh_xsk_int.h"

/* The reason only ever quotes numbers, never the peer's bytes: it is
 * meant for logs. */
#define FAIL(rc, ...) return xsk_fail(err, errlen, rc, __VA_ARGS__)

/* The kernel's own space test (isspace() in the C locale), without locale
 * surprises from <ctype.h>. */
static int xsk_is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * Check a NUL-terminated, zero-padded field of @size bytes. Returns the
 * string length, or -1 when no NUL is found or a byte after it is not zero.
 */
static int xsk_field_len(const char *f, size_t size)
{
	const char *nul = memchr(f, '\0', size);
	size_t i;

	if (!nul)
		return -1;
	for (i = (size_t)(nul - f); i < size; i++)
		if (f[i])
			return -1;
	return (int)(nul - f);
}

/* dev_valid_name(): what the kernel would accept as an interface name. */
static const char *xsk_ifname_problem(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return "empty";
	if (len >= ZH_XSK_IFNAMSIZ)
		return "longer than 15 characters";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "\".\" or \"..\"";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == ':' || xsk_is_space(c))
			return "contains '/', ':' or whitespace";
	}
	return NULL;
}

static int xsk_reply_modes_ok(__s32 status, __u32 mode, __u32 xdp_mode)
{
	if (status < 0)
		return mode == 0 && xdp_mode == 0;
	return (mode == ZH_XSK_MODE_COPY || mode == ZH_XSK_MODE_ZEROCOPY) &&
	       (xdp_mode == ZH_XSK_XDP_NATIVE ||
		xdp_mode == ZH_XSK_XDP_GENERIC);
}

static int xsk_is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

/*
 * The address rules, in offset order; NULL when @a may go with @status,
 * else which rule it breaks (the decoder's reason, the encoder's -EINVAL).
 */
static const char *xsk_addrs_problem(__s32 status, const struct zh_xsk_addrs *a)
{
	if (status < 0 && !xsk_is_zero(a->mac, sizeof(a->mac)))
		return "mac set on a failed reply";
	if (status < 0 && !xsk_is_zero(a->gw_mac, sizeof(a->gw_mac)))
		return "gw_mac set on a failed reply";
	if (a->addr_flags & ~ZH_XSK_ADDR_ALL)
		return "unknown addr_flags bits";
	if (status < 0 && a->addr_flags)
		return "addr_flags set on a failed reply";
	if (!(a->addr_flags & ZH_XSK_ADDR_V4) && a->ipv4)
		return "ipv4 set without ZH_XSK_ADDR_V4";
	if (!(a->addr_flags & ZH_XSK_ADDR_V6) &&
	    !xsk_is_zero(a->ipv6, sizeof(a->ipv6)))
		return "ipv6 set without ZH_XSK_ADDR_V6";
	return NULL;
}

static void xsk_put_hdr(void *buf, __u16 type, size_t len, __u32 seq)
{
	struct zh_xsk_hdr h = {
		.magic = ZH_XSK_MAGIC,
		.version = ZH_XSK_VERSION,
		.type = type,
		.len = (__u32)len,
		.seq = seq,
	};

	memcpy(buf, &h, sizeof(h));
}

static int xsk_encode_req(void *buf, size_t len, __u16 type, __u32 seq,
			  const char *ifname, __u32 queue, __u32 flags)
{
	struct zh_xsk_req r;
	size_t n;

	if (!buf || !ifname)
		return -EINVAL;
	n = strnlen(ifname, ZH_XSK_IFNAMSIZ);
	if (xsk_ifname_problem(ifname, n))
		return -EINVAL;
	if (queue >= ZH_XSK_QUEUE_MAX)
		return -EINVAL;
	if (flags & ~ZH_XSK_F_ALL)
		return -EINVAL;
	if (len < ZH_XSK_REQ_MSG_LEN)
		return -ENOSPC;

	/* memset, not an initialiser: the ifname tail must be zero bytes */
	memset(&r, 0, sizeof(r));
	memcpy(r.ifname, ifname, n);
	r.queue_id = queue;
	r.flags = flags;
	xsk_put_hdr(buf, type, ZH_XSK_REQ_MSG_LEN, seq);
	memcpy((char *)buf + sizeof(struct zh_xsk_hdr), &r, sizeof(r));
	return (int)ZH_XSK_REQ_MSG_LEN;
}

int zh_xsk_encode_register(void *buf, size_t len, __u32 seq, const char *ifname,
			   __u32 queue, __u32 flags)
{
	return xsk_encode_req(buf, len, ZH_XSK_REGISTER, seq, ifname, queue,
			      flags);
}

int zh_xsk_encode_unregister(void *buf, size_t len, __u32 seq,
			     const char *ifname, __u32 queue)
{
	return xsk_encode_req(buf, len, ZH_XSK_UNREGISTER, seq, ifname, queue,
			      0);
}

int zh_xsk_encode_reply(void *buf, size_t len, __u32 seq, int status,
			__u32 mode, __u32 xdp_mode,
			const struct zh_xsk_addrs *addrs, const char *reason)
{
	static const struct zh_xsk_addrs none;
	struct zh_xsk_reply r;

	if (!addrs)
		addrs = &none;
	if (!buf || status > 0 || !xsk_reply_modes_ok(status, mode, xdp_mode) ||
	    xsk_addrs_problem(status, addrs))
		return -EINVAL;
	if (len < ZH_XSK_REPLY_MSG_LEN)
		return -ENOSPC;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.mode = mode;
	r.xdp_mode = xdp_mode;
	if (reason)
		memcpy(r.reason, reason, strnlen(reason, sizeof(r.reason) - 1));
	memcpy(r.mac, addrs->mac, sizeof(r.mac));
	memcpy(r.gw_mac, addrs->gw_mac, sizeof(r.gw_mac));
	r.addr_flags = addrs->addr_flags;
	r.ipv4 = addrs->ipv4;
	memcpy(r.ipv6, addrs->ipv6, sizeof(r.ipv6));
	xsk_put_hdr(buf, ZH_XSK_REPLY, ZH_XSK_REPLY_MSG_LEN, seq);
	memcpy((char *)buf + sizeof(struct zh_xsk_hdr), &r, sizeof(r));
	return (int)ZH_XSK_REPLY_MSG_LEN;
}

static int xsk_decode_req(const struct zh_xsk_msg *m, char *err, size_t errlen)
{
	const struct zh_xsk_req *r = &m->req;
	const char *why;
	int n;

	n = xsk_field_len(r->ifname, sizeof(r->ifname));
	if (n < 0)
		FAIL(-EINVAL,
		     "%s: ifname not NUL-terminated or not zero-padded",
		     zh_xsk_type_name(m->hdr.type));
	why = xsk_ifname_problem(r->ifname, (size_t)n);
	if (why)
		FAIL(-EINVAL, "%s: invalid ifname: %s",
		     zh_xsk_type_name(m->hdr.type), why);
	if (r->queue_id >= ZH_XSK_QUEUE_MAX)
		FAIL(-ERANGE, "%s: queue_id %u out of range (max %u)",
		     zh_xsk_type_name(m->hdr.type), r->queue_id,
		     ZH_XSK_QUEUE_MAX - 1);
	if (m->hdr.type == ZH_XSK_UNREGISTER && r->flags)
		FAIL(-EINVAL,
		     "unregister: unknown flag bits 0x%x (none allowed)",
		     r->flags);
	if (r->flags & ~ZH_XSK_F_ALL)
		FAIL(-EINVAL, "register: unknown flag bits 0x%x",
		     r->flags & ~ZH_XSK_F_ALL);
	return 0;
}

static int xsk_decode_reply(const struct zh_xsk_reply *r, char *err,
			    size_t errlen)
{
	struct zh_xsk_addrs a;
	const char *why;

	if (xsk_field_len(r->reason, sizeof(r->reason)) < 0)
		FAIL(-EBADMSG,
		     "reply: reason not NUL-terminated or not zero-padded");
	if (r->status > 0)
		FAIL(-EINVAL, "reply: status %d positive (0 or -errno)",
		     r->status);
	if (!xsk_reply_modes_ok(r->status, r->mode, r->xdp_mode))
		FAIL(-EINVAL,
		     "reply: mode %u / xdp_mode %u out of range for status %d",
		     r->mode, r->xdp_mode, r->status);
	memcpy(a.mac, r->mac, sizeof(a.mac));
	memcpy(a.gw_mac, r->gw_mac, sizeof(a.gw_mac));
	a.addr_flags = r->addr_flags;
	a.ipv4 = r->ipv4;
	memcpy(a.ipv6, r->ipv6, sizeof(a.ipv6));
	why = xsk_addrs_problem(r->status, &a);
	if (why)
		FAIL(-EINVAL, "reply: %s (status %d, addr_flags 0x%x)", why,
		     r->status, r->addr_flags);
	return 0;
}

int zh_xsk_decode(const void *buf, size_t n, struct zh_xsk_msg *out, char *err,
		  size_t errlen)
{
	const size_t hlen = sizeof(struct zh_xsk_hdr);
	struct zh_xsk_msg m;
	size_t want;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out || (!buf && n))
		FAIL(-EINVAL, "invalid arguments");
	if (n > ZH_XSK_MSG_MAX)
		FAIL(-EMSGSIZE, "message of %zu bytes exceeds %d", n,
		     ZH_XSK_MSG_MAX);
	if (n < hlen)
		FAIL(-EBADMSG, "short message: %zu bytes, header is %zu", n,
		     hlen);

	memset(&m, 0, sizeof(m));
	memcpy(&m.hdr, buf, hlen);
	if (m.hdr.magic != ZH_XSK_MAGIC)
		FAIL(-EPROTO, "bad magic 0x%08x (want 0x%08x)", m.hdr.magic,
		     ZH_XSK_MAGIC);
	if (m.hdr.version != ZH_XSK_VERSION)
		FAIL(-EPROTONOSUPPORT,
		     "unsupported protocol version %u (this side speaks %d)",
		     m.hdr.version, ZH_XSK_VERSION);
	switch (m.hdr.type) {
	case ZH_XSK_REGISTER:
	case ZH_XSK_UNREGISTER:
		want = ZH_XSK_REQ_MSG_LEN;
		break;
	case ZH_XSK_REPLY:
		want = ZH_XSK_REPLY_MSG_LEN;
		break;
	default:
		FAIL(-EBADMSG, "unknown message type %u", m.hdr.type);
	}
	if (m.hdr.len != n)
		FAIL(-EBADMSG, "header len %u does not match message size %zu",
		     m.hdr.len, n);
	if (n != want)
		FAIL(-EBADMSG, "%s: body of %zu bytes, want %zu",
		     zh_xsk_type_name(m.hdr.type), n - hlen, want - hlen);

	/* n == want here: the body copy stays inside buf and the member */
	if (m.hdr.type == ZH_XSK_REPLY) {
		memcpy(&m.reply, (const char *)buf + hlen, sizeof(m.reply));
		rc = xsk_decode_reply(&m.reply, err, errlen);
	} else {
		memcpy(&m.req, (const char *)buf + hlen, sizeof(m.req));
		rc = xsk_decode_req(&m, err, errlen);
	}
	if (rc)
		return rc;
	*out = m;
	return 0;
}

const char *zh_xsk_type_name(int type)
{
	switch (type) {
	case ZH_XSK_REGISTER:
		return "register";
	case ZH_XSK_UNREGISTER:
		return "unregister";
	case ZH_XSK_REPLY:
		return "reply";
	default:
		return "unknown";
	}
}
