// SPDX-License-Identifier: Apache-2.0
/*
 * udpkill.c - connected UDP sockets of removed backends destroyed from a
 * thread of zerohopd's own (udpkill.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>

#include "log.h"
#include "sockdiag.h"
#include "svc_maps.h"
#include "udpkill.h"

/* Backends waiting for a sweep: more at once (a Service of thousands of
 * UDP backends deleted) are left to their sockets, and said. */
#define PENDING_MAX 4096

struct zh_udpkill {
	const struct zh_objs *o;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct zh_sockdiag_target q[PENDING_MAX];
	size_t n;
	unsigned long dropped; /* backends not queued: the queue was full */
};

/* The apply's hook (svc_maps.h): under the pin lock, so a copy only. */
static void gone_hook(const struct zh_svc_gone *g, size_t n, void *arg)
{
	struct zh_udpkill *k = arg;
	bool added = false;

	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < n; i++) {
		struct zh_sockdiag_target *t;

		if (g[i].proto != IPPROTO_UDP)
			continue; /* TCP connections are left alone */
		if (k->n == PENDING_MAX) {
			k->dropped++;
			continue;
		}
		t = &k->q[k->n++];
		memset(t, 0, sizeof(*t));
		t->family = g[i].be.family;
		t->port = g[i].be.port;
		memcpy(t->addr, g[i].be.addr, sizeof(t->addr));
		t->svc_id = g[i].be.svc_id;
		added = true;
	}
	if (added)
		pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void *udpkill_thread(void *arg)
{
	struct zh_udpkill *k = arg;
	struct zh_sockdiag_target *batch;

	batch = malloc(sizeof(k->q));
	if (!batch) {
		pr_warn("socket sweep: out of memory: connected UDP sockets keep removed backends\n");
		return NULL;
	}
	for (;;) {
		struct zh_sockdiag_result r;
		struct timespec t0;
		unsigned long dropped;
		size_t n;

		pthread_mutex_lock(&k->lock);
		while (!k->n && !k->stop)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stop) {
			pthread_mutex_unlock(&k->lock);
			break;
		}
		n = k->n;
		memcpy(batch, k->q, n * sizeof(*batch));
		k->n = 0;
		dropped = k->dropped;
		k->dropped = 0;
		pthread_mutex_unlock(&k->lock);

		if (dropped)
			pr_warn("socket sweep: %lu removed UDP backend(s) over the %d queued: their connected sockets are left alone\n",
				dropped, PENDING_MAX);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		zh_sockdiag_sweep(k->o, batch, n, &r);
		zh_log(r.destroyed || r.failed || r.err || r.capped || r.late ?
			       ZH_LOG_INFO :
			       ZH_LOG_DEBUG,
		       "socket sweep: %zu removed UDP backend(s), %u netns: %u connected socket(s) destroyed, %u not socket-LB's left alone, %u closed already, %u failed%s%s%s%s; %.3f s\n",
		       n, r.netns, r.destroyed, r.untranslated, r.gone,
		       r.failed, r.capped ? "; capped at " : "",
		       r.capped ? "the per-sweep maximum" : "",
		       r.late ? "; out of time, namespaces left" : "",
		       r.err ? (r.err == -EOPNOTSUPP ?
					"; SOCK_DESTROY unsupported" :
					"; errors (see -v)") :
			       "",
		       secs_since(&t0));
		if (r.err)
			pr_debug("socket sweep: first error: %s\n",
				 strerror(-r.err));
	}
	free(batch);
	return NULL;
}

struct zh_udpkill *zh_udpkill_start(const struct zh_objs *o)
{
	struct zh_udpkill *k;
	char why[256];
	int rc;

	rc = zh_sockdiag_probe(why, sizeof(why));
	if (rc) {
		pr_info("connected UDP sockets keep a removed backend until the application reconnects: %s\n",
			why);
		errno = 0;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->o = o;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	rc = pthread_create(&k->thread, NULL, udpkill_thread, k);
	if (rc) {
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		free(k);
		errno = rc;
		return NULL;
	}
	zh_svc_set_gone_hook(gone_hook, k);
	pr_info("connected UDP sockets of a removed backend are destroyed (%s): the application reconnects to a live one\n",
		why);
	return k;
}

void zh_udpkill_stop(struct zh_udpkill *k)
{
	if (!k)
		return;
	zh_svc_set_gone_hook(NULL, NULL);
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
