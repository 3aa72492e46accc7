/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_doc.h - Service sets for the Service-map tests, from our services
 * JSON written with ' for " so that it reads in a C string, and DOC_ABC,
 * the set most of them start from. Used by the unit tier (test_svc_maps.c,
 * in-memory maps) and the kernel tier (tests/bpf/test_bpf_svc_maps.c, real
 * BPF maps). Include after <cmocka.h>.
 */
#ifndef ZH_TEST_SVC_DOC_H
#define ZH_TEST_SVC_DOC_H

#include <stdlib.h>
#include <string.h>

#include "svc.h"

/* a: TCP with a NodePort and affinity; b: UDP, one backend terminating;
 * c: IPv6, its one backend of weight 0. */
#define DOC_ABC                                                                        \
	"{'services': ["                                                               \
	"{'name': 'a', 'vip': '10.96.0.10', 'port': 80, 'nodePort': 30080,"            \
	" 'affinity': {'clientIP': 60}, 'backends': ["                                 \
	"  {'ip': '10.1.0.1', 'port': 8080}, {'ip': '10.1.0.2', 'port': 8080}]},"      \
	"{'name': 'b', 'vip': '10.96.0.11', 'port': 53, 'proto': 'udp', 'backends': [" \
	"  {'ip': '10.1.0.3'}, {'ip': '10.1.0.4', 'state': 'terminating'}]},"          \
	"{'name': 'c', 'vip': 'fd00::10', 'port': 443, 'backends': ["                  \
	"  {'ip': 'fd00::1', 'weight': 0}]}]}"

/* @set from @doc, our JSON with ' for ". */
static inline void set_from(struct zh_svc_set *set, const char *doc)
{
	char *text = strdup(doc), *c, err[512];

	assert_non_null(text);
	for (c = text; *c; c++)
		if (*c == '\'')
			*c = '"';
	if (zh_svc_parse(text, strlen(text), set, err, sizeof(err)))
		fail_msg("%s\n%s", err, text);
	free(text);
}

/* Service @i of @set, which has it. */
static inline struct zh_service *svc_at(struct zh_svc_set *set, size_t i)
{
	assert_true(i < set->n);
	return &set->svcs[i];
}

#endif /* ZH_TEST_SVC_DOC_H */
