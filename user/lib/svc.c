// SPDX-License-Identifier: Apache-2.0
/*
 * svc.c - the service model (svc.h): address strings, validation of one
 * service, and building a set, which is validated entry by entry and then
 * as a whole (no two services on one VIP, port and protocol, or on one
 * node port). The formats that fill a set are svc_ours.c and svc_k8s.c;
 * svc_file.c reads a file and tells them apart.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "svc.h"

const char *zh_svc_proto_str(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	default:
		return "?";
	}
}

const char *zh_svc_addr_str(const struct zh_addr *a, uint16_t port,
			    uint8_t proto, char *buf, size_t len)
{
	char ip[64];
	int n;

	zh_addr_str(a, false, ip, sizeof(ip));
	n = snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		     port);
	if (proto && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "/%s",
			 zh_svc_proto_str(proto));
	return buf;
}

size_t zh_svc_backend_key(const struct zh_svc_backend *b,
			  uint8_t key[ZH_SVC_KEY_MAX])
{
	size_t alen = b->addr.family == AF_INET6 ? 16 : 4;

	key[0] = b->addr.family == AF_INET6 ? 6 : 4;
	memcpy(key + 1, b->addr.raw, alen);
	key[1 + alen] = (uint8_t)(b->port >> 8);
	key[2 + alen] = (uint8_t)b->port;
	return alen + 3;
}

void zh_svc_set_free(struct zh_svc_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->svcs[i].backends);
	free(s->svcs);
	s->svcs = NULL;
	s->n = 0;
}

/* --- addresses ------------------------------------------------------------ */

static int addr_cmp(const struct zh_addr *a, const struct zh_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->raw, b->raw, (size_t)zh_addr_len(a->family));
}

const char *zh_svc_family_str(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* A plain address, no "/prefix" (zh_addr_parse() would take one). */
int zh_svc_ip_parse(const char *s, struct zh_addr *a)
{
	if (!s || strchr(s, '/') || zh_addr_parse(s, false, a))
		return -EINVAL;
	return 0;
}

/* Unspecified (0.0.0.0, ::) or multicast: never a service or a backend. */
static bool addr_unusable(const struct zh_addr *a)
{
	static const unsigned char zero[16];

	if (!memcmp(a->raw, zero, (size_t)zh_addr_len(a->family)))
		return true;
	if (a->family == AF_INET)
		return (a->raw[0] & 0xf0) == 0xe0;
	return a->raw[0] == 0xff;
}

/* --- validation ----------------------------------------------------------- */

/*
 * Duplicates: sort references (the element and its index) so that equal
 * elements are adjacent in index order, then take the run whose second
 * element comes first: the earliest entry that repeats an earlier one.
 */
struct ref {
	const void *p;
	size_t i;
};

static int ref_idx(const struct ref *a, const struct ref *b)
{
	return (a->i > b->i) - (a->i < b->i);
}

/* 1 and *first, *dup (first < dup) when a duplicate exists, 0 when not. */
static int first_dup(struct ref *r, size_t n,
		     int (*sort_cmp)(const void *, const void *),
		     bool (*same)(const void *, const void *), size_t *first,
		     size_t *dup)
{
	size_t i, start = 0;
	int found = 0;

	qsort(r, n, sizeof(*r), sort_cmp);
	for (i = 1; i < n; i++) {
		if (!same(r[start].p, r[i].p)) {
			start = i;
			continue;
		}
		if (i == start + 1 && (!found || r[i].i < *dup)) {
			*first = r[start].i;
			*dup = r[i].i;
			found = 1;
		}
	}
	return found;
}

int zh_svc_backend_cmp(const struct zh_svc_backend *a,
		       const struct zh_svc_backend *b)
{
	int c = addr_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	return (a->port > b->port) - (a->port < b->port);
}

static int be_ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return zh_svc_backend_cmp(x->p, y->p) ?: ref_idx(x, y);
}

static bool be_same(const void *a, const void *b)
{
	return !zh_svc_backend_cmp(a, b);
}

int zh_svc_validate(const struct zh_service *s, char *err, size_t errlen)
{
	size_t i, first = 0, dup = 0;
	char a[64], b[64];
	struct ref *refs;
	int rc;

	if (!memchr(s->name, '\0', sizeof(s->name)))
		return zh_errf(err, errlen, -EINVAL,
			       "name: not NUL-terminated");
	if (!s->name[0])
		return zh_errf(err, errlen, -EINVAL, "name: empty");
	if (s->vip.family != AF_INET && s->vip.family != AF_INET6)
		return zh_errf(err, errlen, -EINVAL,
			       "vip: not an IPv4 or IPv6 address");
	if (addr_unusable(&s->vip))
		return zh_errf(err, errlen, -EINVAL,
			       "vip: %s is not a unicast address",
			       zh_addr_str(&s->vip, false, a, sizeof(a)));
	if (!s->port)
		return zh_errf(err, errlen, -EINVAL,
			       "port: 0 is not a port (1-65535)");
	if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
		return zh_errf(err, errlen, -EINVAL,
			       "proto: %u is not tcp or udp", s->proto);
	if (s->affinity_timeout > ZH_SVC_AFFINITY_MAX)
		return zh_errf(err, errlen, -EINVAL,
			       "affinity: %u is not a timeout (1-%u s)",
			       s->affinity_timeout, ZH_SVC_AFFINITY_MAX);
	if (s->n_backends && !s->backends)
		return zh_errf(err, errlen, -EINVAL, "backends: missing");

	for (i = 0; i < s->n_backends; i++) {
		const struct zh_svc_backend *be = &s->backends[i];

		if (be->addr.family != AF_INET && be->addr.family != AF_INET6)
			return zh_errf(
				err, errlen, -EINVAL,
				"backends[%zu].ip: not an IPv4 or IPv6 address",
				i);
		zh_addr_str(&be->addr, false, a, sizeof(a));
		if (be->addr.family != s->vip.family)
			return zh_errf(
				err, errlen, -EINVAL,
				"backends[%zu].ip: %s is %s, the VIP %s is %s",
				i, a, zh_svc_family_str(be->addr.family),
				zh_addr_str(&s->vip, false, b, sizeof(b)),
				zh_svc_family_str(s->vip.family));
		if (addr_unusable(&be->addr))
			return zh_errf(
				err, errlen, -EINVAL,
				"backends[%zu].ip: %s is not a unicast address",
				i, a);
		if (!be->port)
			return zh_errf(
				err, errlen, -EINVAL,
				"backends[%zu].port: 0 is not a port (1-65535)",
				i);
		if (be->state != ZH_EP_READY && be->state != ZH_EP_TERMINATING)
			return zh_errf(
				err, errlen, -EINVAL,
				"backends[%zu].state: %u is not ready or terminating",
				i, be->state);
	}
	if (s->n_backends < 2)
		return 0;
	refs = malloc(s->n_backends * sizeof(*refs));
	if (!refs) {
		return zh_errf(err, errlen, -ENOMEM, "backends: out of memory");
	}
	for (i = 0; i < s->n_backends; i++)
		refs[i] = (struct ref){ .p = &s->backends[i], .i = i };
	rc = first_dup(refs, s->n_backends, be_ref_cmp, be_same, &first, &dup);
	free(refs);
	if (rc)
		return zh_errf(err, errlen, -EINVAL,
			       "backends[%zu]: %s is also backends[%zu]", dup,
			       zh_svc_addr_str(&s->backends[dup].addr,
					       s->backends[dup].port, 0, a,
					       sizeof(a)),
			       first);
	return 0;
}

/* --- building the set ----------------------------------------------------- */

int zh_svc_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 8;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

int zh_svc_build_add(struct zh_svc_build *b, struct zh_service *s,
		     const char *where, const char *origin, char *err,
		     size_t errlen)
{
	size_t cap = b->cap; /* both arrays hold at least b->cap entries */
	char msg[256];
	int rc;

	rc = zh_svc_validate(s, msg, sizeof(msg));
	if (rc) {
		free(s->backends);
		return rc == -EINVAL ?
			       zh_errf(err, errlen, rc, "%s%s", where, msg) :
			       rc;
	}
	if (zh_svc_grow((void **)&b->set.svcs, &cap, b->set.n + 1,
			sizeof(*b->set.svcs)) ||
	    zh_svc_grow((void **)&b->origin, &b->cap, b->set.n + 1,
			sizeof(*b->origin))) {
		free(s->backends);
		return -ENOMEM;
	}
	b->set.svcs[b->set.n] = *s;
	snprintf(b->origin[b->set.n], sizeof(b->origin[b->set.n]), "%s",
		 origin);
	b->set.n++;
	return 0;
}

void zh_svc_build_free(struct zh_svc_build *b)
{
	zh_svc_set_free(&b->set);
	free(b->origin);
	b->origin = NULL;
	b->cap = 0;
}

/* The datapath's service key: VIP, port, protocol. */
static int svc_vip_cmp(const struct zh_service *a, const struct zh_service *b)
{
	int c = addr_cmp(&a->vip, &b->vip);

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return (a->proto > b->proto) - (a->proto < b->proto);
}

/* Node ports are per family: a dual-stack service has two services. */
static int svc_np_cmp(const struct zh_service *a, const struct zh_service *b)
{
	if (a->vip.family != b->vip.family)
		return a->vip.family < b->vip.family ? -1 : 1;
	if (a->nodeport != b->nodeport)
		return a->nodeport < b->nodeport ? -1 : 1;
	return (a->proto > b->proto) - (a->proto < b->proto);
}

static int svc_vip_ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return svc_vip_cmp(x->p, y->p) ?: ref_idx(x, y);
}

static int svc_np_ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return svc_np_cmp(x->p, y->p) ?: ref_idx(x, y);
}

static bool svc_vip_same(const void *a, const void *b)
{
	return !svc_vip_cmp(a, b);
}

static bool svc_np_same(const void *a, const void *b)
{
	const struct zh_service *x = a;

	return x->nodeport && !svc_np_cmp(a, b);
}

/*
 * No two services with one {VIP, port, proto}, nor of one family with one
 * {node port, proto}: an error naming both.
 */
static int check_clashes(const struct zh_svc_build *b, char *err, size_t errlen)
{
	const struct zh_service *svcs = b->set.svcs;
	size_t i, n = b->set.n, x = 0, y = 0;
	struct ref *refs;
	char what[96];
	int rc;

	if (n < 2)
		return 0;
	refs = malloc(n * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		refs[i] = (struct ref){ .p = &svcs[i], .i = i };
	rc = first_dup(refs, n, svc_vip_ref_cmp, svc_vip_same, &x, &y);
	if (rc) {
		zh_svc_addr_str(&svcs[y].vip, svcs[y].port, svcs[y].proto, what,
				sizeof(what));
	} else {
		for (i = 0; i < n; i++)
			refs[i] = (struct ref){ .p = &svcs[i], .i = i };
		rc = first_dup(refs, n, svc_np_ref_cmp, svc_np_same, &x, &y);
		if (rc)
			snprintf(what, sizeof(what), "%s nodePort %u/%s",
				 zh_svc_family_str(svcs[y].vip.family),
				 svcs[y].nodeport,
				 zh_svc_proto_str(svcs[y].proto));
	}
	free(refs);
	if (!rc)
		return 0;
	return zh_errf(err, errlen, -EINVAL, "%s: %s is also %s", b->origin[y],
		       what, b->origin[x]);
}

int zh_svc_build_finish(struct zh_svc_build *b, struct zh_svc_set *out,
			char *err, size_t errlen)
{
	int rc = check_clashes(b, err, errlen);

	if (rc)
		return rc;
	*out = b->set;
	b->set = (struct zh_svc_set){ 0 };
	zh_svc_build_free(b);
	return 0;
}
