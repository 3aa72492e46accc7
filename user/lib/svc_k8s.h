/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_k8s.h - Kubernetes Services (v1) and EndpointSlices
 * (discovery.k8s.io/v1) as services, read the way kube-proxy reads them;
 * svc.h lists the rules. Whole documents (what `kubectl get
 * services,endpointslices -A -o json` prints) or one object at a time:
 * first every EndpointSlice, then each Service, which takes its backends
 * from the slices read so far.
 *
 * Messages name the object and the field: "Service default/web:
 * spec.ports[1].protocol: "ICMP" is not TCP, UDP or SCTP"; before an
 * object's name is read, by the caller's @where ("items[3].metadata:
 * missing").
 */
#ifndef ZH_SVC_K8S_H
#define ZH_SVC_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "svc.h"

/*
 * A List, ServiceList or EndpointSliceList, or one Service or
 * EndpointSlice, added to @b (other kinds in a List are ignored). Returns
 * 0, -EINVAL with a message, or -ENOMEM.
 */
int zh_svc_k8s_parse(const json_t *root, struct zh_svc_build *b, char *err,
		     size_t errlen);

/*
 * Something of an object left out: @kind "Service" or "EndpointSlice",
 * @key "namespace/name", @reason one word for a metric's label ("invalid",
 * "conflict", "unsupported"), @msg the sentence for the log.
 */
typedef void zh_svc_k8s_note_fn(void *arg, const char *kind, const char *key,
				const char *reason, const char *msg);

/* The EndpointSlices of services; zero-initialise. */
struct zh_svc_k8s_slice;
struct zh_svc_k8s {
	struct zh_svc_k8s_slice *slices;
	size_t n, cap;
	bool sorted; /* by namespace and service, for zh_svc_k8s_service() */
	zh_svc_k8s_note_fn *note; /* optional: a port not served (SCTP) */
	void *note_arg;
	/* This node's name: traffic policies Local keep the endpoints whose
	 * nodeName it is. NULL: no node (a file): every endpoint is used. */
	const char *node;
};

/*
 * One EndpointSlice, checked whole; kept in @k when it belongs to a
 * service (the kubernetes.io/service-name label) and holds addresses (not
 * FQDN). Names in @k point into @slice's document, which must outlive it.
 */
int zh_svc_k8s_slice_add(struct zh_svc_k8s *k, const json_t *slice,
			 const char *where, char *err, size_t errlen);
/*
 * One Service: a service per cluster IP and port (none for a headless,
 * ExternalName or SCTP one, whose fields are still checked), backed by
 * the endpoints of @k's slices of it, added to @b. Sorts @k's slices by
 * namespace and service first when some were added since the last time.
 */
int zh_svc_k8s_service(struct zh_svc_k8s *k, const json_t *svc,
		       const char *where, struct zh_svc_build *b, char *err,
		       size_t errlen);
/* Free what @k holds; @k is then empty. */
void zh_svc_k8s_free(struct zh_svc_k8s *k);

/*
 * The stores of a watch (JSON objects of Services and of EndpointSlices,
 * keyed "namespace/name") as services, one object at a time: an object
 * that is invalid, or whose VIP, port and protocol (or node port) another
 * Service before it in name order has, is left out and told to @note, and
 * the others are served. So is a port that is not served (SCTP). Returns
 * 0 (and @out, freed by the caller), or -ENOMEM. A from-scratch
 * zh_svc_k8s_sync.
 */
int zh_svc_k8s_render(const json_t *services, const json_t *slices,
		      struct zh_svc_set *out, zh_svc_k8s_note_fn *note,
		      void *arg);

/*
 * The same kept between batches of watch events (svc_k8s_sync.c): tell it
 * which objects changed, render, and take what changed in the datapath's
 * terms. A Service is rendered again only when it or one of its slices
 * changed (or a clash it was part of did), so a batch costs what it
 * touches, not what the cluster holds. Notes are passed on once per
 * change of what is said about a Service.
 */
struct zh_svc_k8s_sync;
struct zh_svc_k8s_sync *zh_svc_k8s_sync_new(zh_svc_k8s_note_fn *note,
					    void *arg);
/* Render for node @node (not copied; NULL: none), see zh_svc_k8s.node. */
void zh_svc_k8s_sync_node(struct zh_svc_k8s_sync *s, const char *node);
void zh_svc_k8s_sync_free(struct zh_svc_k8s_sync *s);
/* The Service @key ("ns/name") was added, changed or deleted. */
int zh_svc_k8s_sync_service(struct zh_svc_k8s_sync *s, const char *key);
/* The EndpointSlice @key went from @old to @new (either NULL: absent). */
int zh_svc_k8s_sync_slice(struct zh_svc_k8s_sync *s, const char *key,
			  const json_t *old, const json_t *new);
/* Both stores were replaced (a list): every Service renders again. */
int zh_svc_k8s_sync_reset(struct zh_svc_k8s_sync *s, const json_t *services,
			  const json_t *slices);
/* Render what changed, from the stores. 0, -ENOMEM, or -ELOOP (a bug). */
int zh_svc_k8s_sync_render(struct zh_svc_k8s_sync *s, const json_t *services,
			   const json_t *slices);
/*
 * What changed since the last take (or all): the services to add or
 * replace (@put, freed by the caller) and those to remove (@del, by VIP,
 * port and protocol; free()d by the caller), for zh_svc_apply_changes().
 * Only services a take or an all handed out are ever in @del.
 */
int zh_svc_k8s_sync_take(struct zh_svc_k8s_sync *s, struct zh_svc_set *put,
			 struct zh_service **del, size_t *n_del);
/* Every service rendered, for a zh_svc_apply() of all of them. */
int zh_svc_k8s_sync_all(struct zh_svc_k8s_sync *s, struct zh_svc_set *out);

#endif /* ZH_SVC_K8S_H */
