/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_svc.h - service sets compared whole, for the harnesses that get one
 * set two ways (a services file and the same objects through the watch
 * stores; a render kept between batches and one from scratch).
 */
#ifndef ZH_FUZZ_SVC_H
#define ZH_FUZZ_SVC_H

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "svc.h"

/* Addresses of one family, by the bytes that family has. */
static inline int fuzz_addr_cmp(const struct zh_addr *a,
				const struct zh_addr *b)
{
	if (a->family != b->family)
		return a->family - b->family;
	return memcmp(a->raw, b->raw, (size_t)zh_addr_len(a->family));
}

/* Datapath key order: VIP (family first), port, protocol. */
static inline int fuzz_svc_key_cmp(const void *a, const void *b)
{
	const struct zh_service *x = a, *y = b;
	int c = fuzz_addr_cmp(&x->vip, &y->vip);

	if (!c)
		c = (int)x->port - (int)y->port;
	if (!c)
		c = (int)x->proto - (int)y->proto;
	return c;
}

static inline void fuzz_svc_sort(struct zh_svc_set *s)
{
	if (s->n > 1)
		qsort(s->svcs, s->n, sizeof(*s->svcs), fuzz_svc_key_cmp);
}

/* Every field the datapath is written from, and the name. */
static inline bool fuzz_svc_equal(const struct zh_service *a,
				  const struct zh_service *b)
{
	if (strcmp(a->name, b->name) || fuzz_svc_key_cmp(a, b) ||
	    a->nodeport != b->nodeport || a->np_own != b->np_own ||
	    a->affinity_timeout != b->affinity_timeout ||
	    a->n_backends != b->n_backends)
		return false;
	for (size_t i = 0; i < a->n_backends; i++) {
		const struct zh_svc_backend *x = &a->backends[i],
					    *y = &b->backends[i];

		if (fuzz_addr_cmp(&x->addr, &y->addr) || x->port != y->port ||
		    x->weight != y->weight || x->np_weight != y->np_weight ||
		    x->state != y->state)
			return false;
	}
	return true;
}

static inline void fuzz_svc_print(const char *label, const struct zh_svc_set *s)
{
	char a[64];

	fprintf(stderr, "%s: %zu services\n", label, s->n);
	for (size_t i = 0; i < s->n; i++) {
		const struct zh_service *v = &s->svcs[i];

		fprintf(stderr, "  %s %s np=%u%s aff=%u:", v->name,
			zh_svc_addr_str(&v->vip, v->port, v->proto, a,
					sizeof(a)),
			v->nodeport, v->np_own ? "/own" : "",
			v->affinity_timeout);
		for (size_t j = 0; j < v->n_backends; j++) {
			const struct zh_svc_backend *b = &v->backends[j];

			fprintf(stderr, " %s/%u/%u%s",
				zh_svc_addr_str(&b->addr, b->port, 0, a,
						sizeof(a)),
				b->weight, b->np_weight,
				b->state == ZH_EP_TERMINATING ? "/T" : "");
		}
		fputc('\n', stderr);
	}
}

/* Both sorted (fuzz_svc_sort()); prints both and stops when they differ. */
static inline void fuzz_svc_expect_same(const char *what,
					const struct zh_svc_set *got,
					const struct zh_svc_set *want)
{
	bool same = got->n == want->n;

	for (size_t i = 0; same && i < got->n; i++)
		same = fuzz_svc_equal(&got->svcs[i], &want->svcs[i]);
	if (same)
		return;
	fuzz_svc_print("got", got);
	fuzz_svc_print("want", want);
	FUZZ_CHECK(same, "%s: the two sets differ", what);
}

#endif /* ZH_FUZZ_SVC_H */
