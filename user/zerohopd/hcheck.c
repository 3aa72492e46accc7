// SPDX-License-Identifier: Apache-2.0
/*
 * hcheck.c - health check node ports (hcheck.h): one libmicrohttpd daemon
 * per port, its answer read under one lock from an entry the caller
 * updates.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "hcheck.h"
#include "log.h"

struct hc_port {
	struct zh_hc *hc;
	struct zh_hc_svc svc;
	struct MHD_Daemon *d; /* NULL: could not bind */
	bool warned; /* that it could not, once */
	bool seen; /* still wanted, during zh_hc_set() */
};

struct zh_hc {
	pthread_mutex_t lock; /* the entries' svc, against the daemons */
	struct hc_port *ports[ZH_HC_MAX];
	size_t n;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct hc_port *p = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned int status;
	char body[512];
	long long n;
	int len;

	(void)url, (void)version, (void)upload_data, (void)upload_data_size,
		(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return MHD_NO;
	pthread_mutex_lock(&p->hc->lock);
	n = p->svc.local;
	len = snprintf(
		body, sizeof(body),
		"{\n\t\"service\": {\n\t\t\"namespace\": \"%s\",\n\t\t\"name\": \"%s\"\n\t},\n\t\"localEndpoints\": %lld,\n\t\"serviceProxyHealthy\": true\n}\n",
		p->svc.ns, p->svc.name, n);
	pthread_mutex_unlock(&p->hc->lock);
	if (len < 0 || (size_t)len >= sizeof(body))
		return MHD_NO;
	status = n > 0 ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
	r = MHD_create_response_from_buffer((size_t)len, body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Every address of the node: IPv6 and IPv4 on one socket, or IPv4 alone
 * where the node has no IPv6. */
static struct MHD_Daemon *listen_on(struct hc_port *p)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	struct MHD_Daemon *d;

	d = MHD_start_daemon(flags | MHD_USE_DUAL_STACK, p->svc.port, NULL,
			     NULL, answer, p, MHD_OPTION_CONNECTION_LIMIT, 16U,
			     MHD_OPTION_CONNECTION_TIMEOUT, 5U, MHD_OPTION_END);
	if (!d)
		d = MHD_start_daemon(flags, p->svc.port, NULL, NULL, answer, p,
				     MHD_OPTION_CONNECTION_LIMIT, 16U,
				     MHD_OPTION_CONNECTION_TIMEOUT, 5U,
				     MHD_OPTION_END);
	return d;
}

struct zh_hc *zh_hc_new(void)
{
	struct zh_hc *hc = calloc(1, sizeof(*hc));

	if (hc)
		pthread_mutex_init(&hc->lock, NULL);
	return hc;
}

static void port_close(struct hc_port *p)
{
	if (p->d) {
		MHD_stop_daemon(p->d);
		pr_info("health check node port %u (Service %s/%s) closed\n",
			p->svc.port, p->svc.ns, p->svc.name);
	}
	free(p);
}

int zh_hc_set(struct zh_hc *hc, const struct zh_hc_svc *svcs, size_t n)
{
	size_t i, j, served = 0;

	for (j = 0; j < hc->n; j++)
		hc->ports[j]->seen = false;
	for (i = 0; i < n; i++) {
		struct hc_port *p = NULL;

		for (j = 0; j < hc->n && !p; j++)
			if (hc->ports[j]->svc.port == svcs[i].port)
				p = hc->ports[j];
		if (p) {
			pthread_mutex_lock(&hc->lock);
			p->svc = svcs[i];
			pthread_mutex_unlock(&hc->lock);
		} else if (hc->n < ZH_HC_MAX) {
			p = calloc(1, sizeof(*p));
			if (!p)
				continue;
			*p = (struct hc_port){ .hc = hc, .svc = svcs[i] };
			hc->ports[hc->n++] = p;
		} else {
			pr_warn("health check node port %u (Service %s/%s): more than %d ports; not served\n",
				svcs[i].port, svcs[i].ns, svcs[i].name,
				ZH_HC_MAX);
			continue;
		}
		p->seen = true;
		if (!p->d) {
			errno = 0;
			p->d = listen_on(p);
			if (p->d)
				pr_info("health check node port %u for Service %s/%s\n",
					p->svc.port, p->svc.ns, p->svc.name);
			else if (!p->warned)
				pr_warn("health check node port %u (Service %s/%s): cannot listen: %s\n",
					p->svc.port, p->svc.ns, p->svc.name,
					strerror(errno ? errno : EADDRINUSE));
			p->warned = !p->d;
		}
		served += p->d != NULL;
	}
	/* What is no longer wanted: closed, the rest packed. */
	for (i = j = 0; i < hc->n; i++) {
		if (hc->ports[i]->seen)
			hc->ports[j++] = hc->ports[i];
		else
			port_close(hc->ports[i]);
	}
	hc->n = j;
	return (int)served;
}

void zh_hc_free(struct zh_hc *hc)
{
	if (!hc)
		return;
	for (size_t i = 0; i < hc->n; i++)
		port_close(hc->ports[i]);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}
