/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_watch.h - following Kubernetes objects the way client-go's
 * reflector does: list (paginated), then watch from the list's
 * resourceVersion with bookmarks; relist when the server says the version
 * is gone (HTTP 410 on a list, or an ERROR event with code 410 inside a
 * 200 watch stream); reconnect with backoff and jitter after anything
 * else. A relist replaces the whole store, so an object deleted while we
 * were away leaves no stale entry.
 *
 * Two layers. The store and the stream (zh_k8s_res_*) are plain logic on
 * bytes and JSON, tested alone. The client (zh_k8s_client_*) drives every
 * resource's requests on one libcurl multi handle from the caller's
 * thread; nothing blocks longer than the timeout it is given.
 *
 * Bounds: a watch event line at most ZH_K8S_LINE_MAX bytes, a list page
 * ZH_K8S_PAGE_MAX (pages of ZH_K8S_PAGE_LIMIT objects); past either the
 * request fails and is retried after the backoff.
 */
#ifndef ZH_K8S_WATCH_H
#define ZH_K8S_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "k8s.h"

#define ZH_K8S_LINE_MAX (8u << 20)
#define ZH_K8S_PAGE_MAX (128u << 20)
#define ZH_K8S_PAGE_LIMIT 500u
#define ZH_K8S_RV_MAX 64
#define ZH_K8S_CONTINUE_MAX 4096
#define ZH_K8S_BACKOFF_MIN_MS 250
#define ZH_K8S_BACKOFF_MAX_MS 30000

enum zh_k8s_phase {
	ZH_K8S_IDLE, /* waiting to (re)start: retry_at */
	ZH_K8S_LISTING,
	ZH_K8S_WATCHING,
};

/* One kind of object, listed and watched. */
struct zh_k8s_res {
	const char *kind; /* "Service": for messages and metrics */
	const char *path; /* "/api/v1/services" */
	const char *selector; /* a labelSelector, or NULL */
	bool namespaced; /* a namespaced kind: keys are "namespace/name" */
	json_t *store; /* zh_k8s_key() -> the object */
	json_t *next; /* the store a list in progress builds */
	char rv[ZH_K8S_RV_MAX]; /* where the watch resumes; "": list */
	char cont[ZH_K8S_CONTINUE_MAX]; /* the next page's token */
	bool synced; /* a list completed at least once */
	bool changed; /* the store changed; the caller clears it */
	/* Optional: told of each change before the store takes it (@old,
	 * @new NULL when absent), and after a list replaced the store. */
	void (*on_change)(void *arg, const char *key, const json_t *old,
			  const json_t *new);
	void (*on_reset)(void *arg);
	void *cb_arg;
	/* The bytes of the request in flight. */
	char *buf;
	size_t len, cap;
	/* Counters, for metrics. */
	uint64_t lists, relists, watches, restarts, events, bookmarks;
	/* The client's. */
	enum zh_k8s_phase phase;
	void *h; /* CURL * */
	struct curl_slist *hdrs;
	uint64_t retry_at_ms;
	unsigned int backoff_ms;
	int fault; /* what ended the request: 0, or a negative errno */
	char err[ZH_K8S_ERR_MAX]; /* and why, for the log */
};

/*
 * A resource with an empty store; zh_k8s_res_free() frees it. @namespaced:
 * the kind lives in namespaces (Services, EndpointSlices; not Nodes).
 */
int zh_k8s_res_init(struct zh_k8s_res *r, const char *kind, const char *path,
		    const char *selector, bool namespaced);
void zh_k8s_res_free(struct zh_k8s_res *r);

/*
 * The store's key of @obj: "namespace/name". An object without a
 * namespace is in "default" when its kind is @namespaced, as kubectl and
 * the Services' rendering (svc_k8s.c) read it, so that a Service and its
 * EndpointSlices meet under one key; otherwise (Nodes) the key is "name".
 * 0, or -EPROTO without a name or when the key does not fit.
 */
int zh_k8s_key(const json_t *obj, bool namespaced, char *buf, size_t len);

/*
 * One watch event ({"type": ..., "object": {...}}) applied to the store.
 * Returns 1 when the store changed, 0 when not (a bookmark), -ESTALE for
 * an ERROR with code 410 (relist), -EPROTO for another ERROR or a
 * malformed event; @err says why.
 */
int zh_k8s_res_event(struct zh_k8s_res *r, const json_t *ev, char *err,
		     size_t errlen);
/*
 * Bytes of a watch stream: each complete line is an event, applied as
 * above; a partial line waits for the rest. Returns how many events
 * changed the store, or the first error (what came before it stays
 * applied).
 */
int zh_k8s_res_feed(struct zh_k8s_res *r, const char *data, size_t len,
		    char *err, size_t errlen);
/*
 * One page of a list response (a *List object): its items go to the
 * store being built, its metadata.continue decides whether another page
 * follows (*@more), and after the last page the new store replaces the
 * old one and watching resumes at the list's resourceVersion. Returns 0
 * or -EPROTO.
 */
int zh_k8s_res_page(struct zh_k8s_res *r, const char *body, size_t len,
		    bool *more, char *err, size_t errlen);

/* --- the client ------------------------------------------------------------ */

struct zh_k8s_client {
	const struct zh_k8s_conf *conf;
	void *multi; /* CURLM * */
	struct zh_k8s_res **res;
	size_t n_res;
	unsigned int watch_timeout_s; /* per watch, randomised up to 2x */
};

/*
 * Follow @n resources of @conf (both must outlive the client). Returns 0
 * or -ENOMEM.
 */
int zh_k8s_client_init(struct zh_k8s_client *c, const struct zh_k8s_conf *conf,
		       struct zh_k8s_res **res, size_t n);
void zh_k8s_client_free(struct zh_k8s_client *c);
/*
 * Start what is due, wait at most @timeout_ms for traffic (or
 * zh_k8s_client_wakeup()), and take it in: the stores change here and
 * only here. Failures are logged and retried; returns how many events
 * and list pages changed a store.
 */
int zh_k8s_client_step(struct zh_k8s_client *c, int timeout_ms,
		       uint64_t now_ms);
/* Make a zh_k8s_client_step() in another thread return now. */
void zh_k8s_client_wakeup(struct zh_k8s_client *c);

#endif /* ZH_K8S_WATCH_H */
