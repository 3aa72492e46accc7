// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_xsk.c - the AF_XDP handoff's wire format (user/xsk/zh_xsk_proto.c)
 * and the agent's reading of a pod's datagram (user/lib/xsk_srv.c,
 * zh_xsk_srv_decode()). Input: one datagram, as the agent's recvmsg()
 * into ZH_XSK_MSG_MAX + 1 bytes would see it.
 *
 * One encoding per message: what decodes, encoded again from its fields,
 * is the same bytes. What the agent takes is a request whose fields keep
 * the rules of zh_xsk_proto.h, and a refusal echoes the header's seq.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "xsk_srv.h"
#include "zh_xsk_proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

static int encode_again(const struct zh_xsk_msg *m, void *buf, size_t len)
{
	const struct zh_xsk_reply *r = &m->reply;
	struct zh_xsk_addrs a;

	switch (m->hdr.type) {
	case ZH_XSK_REGISTER:
		return zh_xsk_encode_register(buf, len, m->hdr.seq,
					      m->req.ifname, m->req.queue_id,
					      m->req.flags);
	case ZH_XSK_UNREGISTER:
		return zh_xsk_encode_unregister(buf, len, m->hdr.seq,
						m->req.ifname, m->req.queue_id);
	default:
		memcpy(a.mac, r->mac, sizeof(a.mac));
		memcpy(a.gw_mac, r->gw_mac, sizeof(a.gw_mac));
		a.addr_flags = r->addr_flags;
		a.ipv4 = r->ipv4;
		memcpy(a.ipv6, r->ipv6, sizeof(a.ipv6));
		return zh_xsk_encode_reply(buf, len, m->hdr.seq, r->status,
					   r->mode, r->xdp_mode, &a, r->reason);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ZH_XSK_REASON_LEN], out[ZH_XSK_MSG_MAX];
	bool truncated = size > ZH_XSK_MSG_MAX;
	size_t n = truncated ? ZH_XSK_MSG_MAX + 1 : size;
	struct zh_xsk_msg m;
	__u32 seq;
	int rc;

	rc = zh_xsk_decode(data, size, &m, err, sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)), "reason not terminated");
	if (!rc) {
		int len = encode_again(&m, out, sizeof(out));

		FUZZ_CHECK(len > 0, "a decoded %s cannot be encoded: %d",
			   zh_xsk_type_name(m.hdr.type), len);
		FUZZ_CHECK((size_t)len == size && !memcmp(out, data, size),
			   "a decoded %s encodes to other bytes",
			   zh_xsk_type_name(m.hdr.type));
	}

	rc = zh_xsk_srv_decode(data, n, truncated, &m, &seq, err, sizeof(err));
	if (n >= sizeof(struct zh_xsk_hdr))
		FUZZ_CHECK(!memcmp(&seq,
				   data + offsetof(struct zh_xsk_hdr, seq),
				   sizeof(seq)),
			   "seq %u is not the header's", seq);
	else
		FUZZ_CHECK(!seq, "seq %u without a header", seq);
	if (rc) {
		FUZZ_CHECK(rc < 0 && err[0], "refused with %d and no reason",
			   rc);
		return 0;
	}
	FUZZ_CHECK(m.hdr.type == ZH_XSK_REGISTER ||
			   m.hdr.type == ZH_XSK_UNREGISTER,
		   "the agent took a %s", zh_xsk_type_name(m.hdr.type));
	FUZZ_CHECK(m.req.ifname[0] &&
			   memchr(m.req.ifname, '\0', sizeof(m.req.ifname)),
		   "ifname not a string");
	FUZZ_CHECK(m.req.queue_id < ZH_XSK_QUEUE_MAX, "queue %u",
		   m.req.queue_id);
	FUZZ_CHECK(!(m.req.flags & ~ZH_XSK_F_ALL) &&
			   (m.hdr.type == ZH_XSK_REGISTER || !m.req.flags),
		   "flags 0x%x", m.req.flags);
	return 0;
}
