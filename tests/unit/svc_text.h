/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_text.h - a service set as text, one line a service, for the unit
 * tests to compare against what they expect:
 *   "[name ]vip:port/proto np=N aff=N: ip:port/weight[/T] ..."
 * The name is left out when the test leaves SVC_TEXT_NAMES at 0 (sets read
 * back from the maps, whose names are made up).
 */
#ifndef ZH_TEST_SVC_TEXT_H
#define ZH_TEST_SVC_TEXT_H

#include <stdio.h>
#include <string.h>

#include "svc.h"

#ifndef SVC_TEXT_NAMES
#define SVC_TEXT_NAMES 1
#endif

static inline char *svc_text(const struct zh_service *s, char *buf, size_t len)
{
	char a[64];
	size_t off = 0, i;

	if (SVC_TEXT_NAMES)
		off = (size_t)snprintf(buf, len, "%s ", s->name);
	off += (size_t)snprintf(buf + off, len - off, "%s np=%u aff=%u:",
				zh_svc_addr_str(&s->vip, s->port, s->proto, a,
						sizeof(a)),
				s->nodeport, s->affinity_timeout);
	for (i = 0; i < s->n_backends && off < len; i++) {
		const struct zh_svc_backend *b = &s->backends[i];

		off += (size_t)snprintf(
			buf + off, len - off, " %s/%u%s",
			zh_svc_addr_str(&b->addr, b->port, 0, a, sizeof(a)),
			b->weight, b->state == ZH_EP_TERMINATING ? "/T" : "");
	}
	return buf;
}

/* The set against @want, printing it all when the counts differ. */
static inline void expect_set(const struct zh_svc_set *set,
			      const char *const *want, size_t n)
{
	char buf[1024];
	size_t i;

	for (i = 0; i < set->n && i < n; i++)
		if (strcmp(svc_text(&set->svcs[i], buf, sizeof(buf)), want[i]))
			fail_msg("service %zu:\ngot  %s\nwant %s", i, buf,
				 want[i]);
	if (set->n != n) {
		for (i = 0; i < set->n; i++)
			print_message("%s\n", svc_text(&set->svcs[i], buf,
						       sizeof(buf)));
		fail_msg("%zu services, want %zu", set->n, n);
	}
}

#endif /* ZH_TEST_SVC_TEXT_H */
