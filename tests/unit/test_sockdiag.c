// SPDX-License-Identifier: Apache-2.0
/*
 * test_sockdiag.c - the sock_diag messages of the connected-UDP sweep
 * (user/lib/sockdiag.c): the dump request's bytecode as the kernel's
 * inet_diag_bc_audit()/inet_diag_bc_run() read it, the SOCK_DESTROY
 * request, and the parsing of replies (good, foreign, malformed), each
 * reply in a buffer of exactly its size so that ASan sees a read past it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

#include <cmocka.h>

#include "sockdiag.h"

#define SOCK_DESTROY_TYPE 21

static struct zh_sockdiag_target target4(void)
{
	struct zh_sockdiag_target t = { .family = ZH_AF_INET,
					.port = htons(5353),
					.svc_id = 7 };

	t.addr[0] = htonl(0x0a5f0003); /* 10.95.0.3 */
	return t;
}

static struct zh_sockdiag_target target6(void)
{
	struct zh_sockdiag_target t = { .family = ZH_AF_INET6,
					.port = htons(53),
					.svc_id = 9 };

	inet_pton(AF_INET6, "fd00:95::3", t.addr);
	return t;
}

/*
 * The kernel's reading of one bytecode program (net/ipv4/inet_diag.c):
 * the audit's bounds on each op's yes/no, then the run over a socket
 * whose destination is @dst:@dport (host order): true where it matches.
 */
static bool bc_match(const unsigned char *bc, int len, int family,
		     const __u32 *dst, int dport)
{
	int alen = family == AF_INET6 ? 16 : 4;

	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		const struct inet_diag_hostcond *c = (const void *)(op + 1);
		int min = (int)(sizeof(*op) + sizeof(*c)) + alen;
		bool yes;

		/* inet_diag_bc_audit(): D_COND is the only op we send. */
		assert_int_equal(op->code, INET_DIAG_BC_D_COND);
		assert_true(op->yes >= min && op->yes <= len + 4 &&
			    !(op->yes & 3));
		assert_true(op->no >= min && op->no <= len + 4 &&
			    !(op->no & 3));
		assert_int_equal(c->family, family);
		assert_int_equal(c->prefix_len, alen * 8);
		yes = (c->port == -1 || c->port == dport) &&
		      !memcmp(c->addr, dst, (size_t)alen);
		bc += yes ? op->yes : op->no;
		len -= yes ? op->yes : op->no;
	}
	return len == 0;
}

static void check_dump(const struct zh_sockdiag_target *t, int af)
{
	unsigned char buf[256];
	size_t len = zh_sockdiag_dump_req(buf, sizeof(buf), t, 42);
	const struct nlmsghdr *nh = (const void *)buf;
	const struct inet_diag_req_v2 *req = NLMSG_DATA(nh);
	const struct rtattr *rta;
	__u32 other[4];
	int blen;

	assert_true(len > NLMSG_LENGTH(sizeof(*req)));
	assert_int_equal(nh->nlmsg_len, len);
	assert_int_equal(nh->nlmsg_type, SOCK_DIAG_BY_FAMILY);
	assert_int_equal(nh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(nh->nlmsg_seq, 42);
	assert_int_equal(req->sdiag_family, af);
	assert_int_equal(req->sdiag_protocol, IPPROTO_UDP);
	/* Connected UDP sockets only: TCP_ESTABLISHED. */
	assert_int_equal(req->idiag_states, 1U << 1);
	assert_int_equal(req->id.idiag_dport, t->port);
	rta = (const void *)(buf + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(*req))));
	assert_int_equal(rta->rta_type, INET_DIAG_REQ_BYTECODE);
	assert_int_equal((const unsigned char *)rta + RTA_ALIGN(rta->rta_len),
			 buf + len);
	blen = (int)RTA_PAYLOAD(rta);
	assert_true(bc_match(RTA_DATA(rta), blen, af, t->addr, ntohs(t->port)));
	/* Another port, another address: no match. */
	assert_false(
		bc_match(RTA_DATA(rta), blen, af, t->addr, ntohs(t->port) + 1));
	memcpy(other, t->addr, sizeof(other));
	other[0] ^= htonl(1);
	assert_false(bc_match(RTA_DATA(rta), blen, af, other, ntohs(t->port)));
	/* Too small a buffer: nothing. */
	assert_int_equal(zh_sockdiag_dump_req(buf, len - 1, t, 1), 0);
}

static void test_dump_v4(void **state)
{
	struct zh_sockdiag_target t = target4();

	(void)state;
	check_dump(&t, AF_INET);
}

static void test_dump_v6(void **state)
{
	struct zh_sockdiag_target t = target6();

	(void)state;
	check_dump(&t, AF_INET6);
}

static void test_destroy_req(void **state)
{
	struct inet_diag_msg m = { .idiag_family = AF_INET6, .idiag_state = 1 };
	unsigned char buf[128];
	const struct nlmsghdr *nh = (const void *)buf;
	const struct inet_diag_req_v2 *req = NLMSG_DATA(nh);
	size_t len;

	(void)state;
	m.id.idiag_sport = htons(40000);
	m.id.idiag_dport = htons(53);
	inet_pton(AF_INET6, "fd00:95::2", m.id.idiag_src);
	inet_pton(AF_INET6, "fd00:95::3", m.id.idiag_dst);
	m.id.idiag_if = 3;
	m.id.idiag_cookie[0] = 0x89abcdef;
	m.id.idiag_cookie[1] = 0x01234567;
	len = zh_sockdiag_destroy_req(buf, sizeof(buf), &m, 5);
	assert_int_equal(len, NLMSG_LENGTH(sizeof(*req)));
	assert_int_equal(nh->nlmsg_len, len);
	assert_int_equal(nh->nlmsg_type, SOCK_DESTROY_TYPE);
	assert_int_equal(nh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(nh->nlmsg_seq, 5);
	assert_int_equal(req->sdiag_family, AF_INET6);
	assert_int_equal(req->sdiag_protocol, IPPROTO_UDP);
	/* The kernel looks it up by this id and checks the cookie. */
	assert_memory_equal(&req->id, &m.id, sizeof(m.id));
	assert_int_equal(zh_sockdiag_cookie(&m), 0x0123456789abcdefULL);
	assert_int_equal(zh_sockdiag_destroy_req(buf, len - 1, &m, 5), 0);
}

static void test_peer_is(void **state)
{
	struct zh_sockdiag_target t4 = target4(), t6 = target6();
	struct inet_diag_msg m = { .idiag_family = AF_INET };

	(void)state;
	m.id.idiag_dport = t4.port;
	m.id.idiag_dst[0] = t4.addr[0];
	m.id.idiag_dst[1] = 0xffffffff; /* not compared for IPv4 */
	assert_true(zh_sockdiag_peer_is(&m, &t4));
	m.id.idiag_dport = htons(5354);
	assert_false(zh_sockdiag_peer_is(&m, &t4));
	m.id.idiag_dport = t4.port;
	assert_false(zh_sockdiag_peer_is(&m, &t6));
	m.idiag_family = AF_INET6;
	assert_false(zh_sockdiag_peer_is(&m, &t4));
	memcpy(m.id.idiag_dst, t6.addr, 16);
	m.id.idiag_dport = t6.port;
	assert_true(zh_sockdiag_peer_is(&m, &t6));
}

/* --- replies --------------------------------------------------------------- */

struct seen {
	int n;
	__u64 cookies[8];
	int stop_at; /* return 1 at this call (1-based); 0: never */
};

static int seen_cb(const struct inet_diag_msg *m, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->cookies[s->n++] = zh_sockdiag_cookie(m);
	return s->stop_at && s->n == s->stop_at ? 77 : 0;
}

struct msgbuf {
	unsigned char b[1024];
	size_t len;
};

static void put_diag(struct msgbuf *mb, __u32 seq, __u64 cookie)
{
	struct nlmsghdr *nh = (void *)(mb->b + mb->len);
	struct inet_diag_msg *m = NLMSG_DATA(nh);

	memset(nh, 0, NLMSG_SPACE(sizeof(*m)));
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	nh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nh->nlmsg_flags = NLM_F_MULTI;
	nh->nlmsg_seq = seq;
	m->idiag_family = AF_INET;
	m->id.idiag_cookie[0] = (__u32)cookie;
	m->id.idiag_cookie[1] = (__u32)(cookie >> 32);
	mb->len += NLMSG_SPACE(sizeof(*m));
}

static void put_ctl(struct msgbuf *mb, __u32 seq, __u16 type, int error)
{
	struct nlmsghdr *nh = (void *)(mb->b + mb->len);
	size_t plen = type == NLMSG_ERROR ? sizeof(struct nlmsgerr) :
					    sizeof(int);

	memset(nh, 0, NLMSG_SPACE(plen));
	nh->nlmsg_len = NLMSG_LENGTH(plen);
	nh->nlmsg_type = type;
	nh->nlmsg_seq = seq;
	*(int *)NLMSG_DATA(nh) = error;
	mb->len += NLMSG_SPACE(plen);
}

/* zh_sockdiag_parse() over a copy of exactly @len bytes. */
static int parse_exact(const void *b, size_t len, __u32 seq, struct seen *s)
{
	void *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, b, len);
	rc = zh_sockdiag_parse(copy, len, seq, seen_cb, s);
	free(copy);
	return rc;
}

static void test_parse_dump(void **state)
{
	struct msgbuf mb = { .len = 0 };
	struct seen s = { 0 };

	(void)state;
	put_diag(&mb, 9, 0x100000001ULL);
	put_diag(&mb, 8, 0xdead); /* another request's: skipped */
	put_diag(&mb, 9, 0x2);
	put_ctl(&mb, 9, NLMSG_DONE, 0);
	put_diag(&mb, 9, 0x3); /* after DONE: not read */
	assert_int_equal(parse_exact(mb.b, mb.len, 9, &s), 1);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.cookies[0], 0x100000001ULL);
	assert_int_equal(s.cookies[1], 0x2);
}

static void test_parse_more(void **state)
{
	struct msgbuf mb = { .len = 0 };
	struct seen s = { 0 };

	(void)state;
	/* A datagram of replies without DONE: more to read. */
	put_diag(&mb, 3, 1);
	put_diag(&mb, 3, 2);
	assert_int_equal(parse_exact(mb.b, mb.len, 3, &s), 0);
	assert_int_equal(s.n, 2);
	/* The callback's non-zero stops the reading, and is returned. */
	s = (struct seen){ .stop_at = 1 };
	assert_int_equal(parse_exact(mb.b, mb.len, 3, &s), 77);
	assert_int_equal(s.n, 1);
	/* Nothing at all: more to read. */
	assert_int_equal(parse_exact(mb.b, 0, 3, &s), 0);
}

static void test_parse_errors(void **state)
{
	struct msgbuf mb = { .len = 0 };
	struct seen s = { 0 };

	(void)state;
	put_ctl(&mb, 4, NLMSG_ERROR, -EOPNOTSUPP);
	assert_int_equal(parse_exact(mb.b, mb.len, 4, &s), -EOPNOTSUPP);
	mb.len = 0;
	put_ctl(&mb, 4, NLMSG_ERROR, -ENOENT);
	assert_int_equal(parse_exact(mb.b, mb.len, 4, &s), -ENOENT);
	/* An ack ends a request. */
	mb.len = 0;
	put_ctl(&mb, 4, NLMSG_ERROR, 0);
	assert_int_equal(parse_exact(mb.b, mb.len, 4, &s), 1);
	/* A positive "error" is no errno: a protocol error. */
	mb.len = 0;
	put_ctl(&mb, 4, NLMSG_ERROR, 5);
	assert_int_equal(parse_exact(mb.b, mb.len, 4, &s), -EPROTO);
	/* Another sequence's error is not ours. */
	mb.len = 0;
	put_ctl(&mb, 3, NLMSG_ERROR, -EPERM);
	put_ctl(&mb, 4, NLMSG_DONE, 0);
	assert_int_equal(parse_exact(mb.b, mb.len, 4, &s), 1);
	assert_int_equal(s.n, 0);
}

static void test_parse_malformed(void **state)
{
	struct msgbuf mb = { .len = 0 };
	struct nlmsghdr *nh = (void *)mb.b;
	struct seen s = { 0 };

	(void)state;
	put_diag(&mb, 1, 1);
	/* Cut inside the message: its length says more than there is. */
	assert_int_equal(parse_exact(mb.b, mb.len - 4, 1, &s), -EBADMSG);
	/* Cut inside the header. */
	assert_int_equal(parse_exact(mb.b, NLMSG_HDRLEN - 1, 1, &s), -EBADMSG);
	/* A length below the header's own. */
	nh->nlmsg_len = NLMSG_HDRLEN - 1;
	assert_int_equal(parse_exact(mb.b, mb.len, 1, &s), -EBADMSG);
	/* A reply too short to be an inet_diag_msg. */
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct inet_diag_msg) - 1);
	assert_int_equal(parse_exact(mb.b, mb.len, 1, &s), -EBADMSG);
	/* An error message without its error. */
	mb.len = 0;
	put_ctl(&mb, 1, NLMSG_ERROR, -EPERM);
	nh->nlmsg_len = NLMSG_HDRLEN + 2;
	assert_int_equal(parse_exact(mb.b, NLMSG_HDRLEN + 2, 1, &s), -EBADMSG);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_v4),
		cmocka_unit_test(test_dump_v6),
		cmocka_unit_test(test_destroy_req),
		cmocka_unit_test(test_peer_is),
		cmocka_unit_test(test_parse_dump),
		cmocka_unit_test(test_parse_more),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
