/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hcheck.h - health check node ports, as kube-proxy serves them: for a
 * LoadBalancer Service with externalTrafficPolicy Local, an HTTP server on
 * its spec.healthCheckNodePort, every address of the node, that answers
 * any GET with
 *
 *	{"service":{"namespace":"NS","name":"NAME"},"localEndpoints":N,
 *	 "serviceProxyHealthy":true}
 *
 * and 200 when N > 0, 503 when not: the load balancer sends traffic only
 * to nodes that have an endpoint of the Service.
 *
 * Bounds: at most ZH_HC_MAX ports, 16 connections and 5 s of idleness
 * each.
 */
#ifndef ZH_HCHECK_H
#define ZH_HCHECK_H

#include <stddef.h>
#include <stdint.h>

#define ZH_HC_MAX 256

struct zh_hc_svc {
	uint16_t port;
	char ns[64];
	char name[254];
	uint32_t local; /* ready endpoints on this node */
};

struct zh_hc;

struct zh_hc *zh_hc_new(void);
/*
 * Serve exactly @svcs: ports no longer there close, new ones open (one
 * that cannot be bound is logged once and tried again at the next call),
 * the others answer with the new counts. Returns how many are served.
 */
int zh_hc_set(struct zh_hc *hc, const struct zh_hc_svc *svcs, size_t n);
/* Close every port and free @hc (NULL is fine). */
void zh_hc_free(struct zh_hc *hc);

#endif /* ZH_HCHECK_H */
