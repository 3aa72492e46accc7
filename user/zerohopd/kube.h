/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kube.h - zerohopd's Kubernetes mode: a thread that lists and watches
 * Services, EndpointSlices and Nodes (k8s_watch.h), renders the Services
 * as kube-proxy would (svc_k8s.h) and programs them (svc_maps.h) in
 * batches, and once that has happened writes this node's CNI
 * configuration, so that kubelet calls the node Ready only when a pod can
 * get a working network, DNS through the kube-dns ClusterIP included.
 *
 * While the API server is away the maps keep what they have. An object
 * that cannot be served is left out, logged once per version and counted;
 * the others are served.
 */
#ifndef ZH_KUBE_H
#define ZH_KUBE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "k8s.h"
#include "nodes.h"
#include "policy.h"
#include "zerohop.h"
#include "zh_hist.h"

/* The last three only with --network-policy other than off. */
enum zh_kube_kind {
	ZH_KUBE_SERVICES,
	ZH_KUBE_SLICES,
	ZH_KUBE_NODES,
	ZH_KUBE_PODS,
	ZH_KUBE_NAMESPACES,
	ZH_KUBE_NETPOLS,
	ZH_KUBE_KINDS
};
#define ZH_KUBE_KINDS_BASE (ZH_KUBE_NODES + 1)
enum zh_kube_reason {
	ZH_KUBE_INVALID,
	ZH_KUBE_CONFLICT,
	ZH_KUBE_UNSUPPORTED,
	ZH_KUBE_REASONS
};

/* "Service", "EndpointSlice", "Node"; "invalid", "conflict", ... */
const char *zh_kube_kind_name(int kind);
const char *zh_kube_reason_name(int reason);

struct zh_kube_opts {
	const char *api; /* https://HOST:PORT, or NULL */
	const char *kubeconfig; /* NULL: in-cluster */
	const char *node; /* this node's name */
	const char *cni_conf_dir; /* write the conflist here; NULL: don't */
	const char *cni_datapath; /* its "datapath": "tc" or "xdp" */
	unsigned int cni_mtu; /* its "mtu"; 0: the plugin's default */
	json_t *cni_afxdp; /* its "afxdp" (borrowed); NULL: none */
	unsigned int batch_ms; /* quiet time that ends a batch of events */
	/* How this node reaches the others (the Node objects give the
	 * table); NULL: the nodes are not followed. */
	const struct zh_cluster_conf *cluster;
	/* where the applied table is kept, and the policy's names
	 * (policy.json, for zerohopctl policy); NULL: nowhere */
	const char *state_dir;
	/* ZH_POL_MODE_*: not OFF, Pods (of every node), Namespaces and
	 * NetworkPolicies are followed too, compiled (policy.h) and written
	 * into the policy maps (pol_maps.h), which the datapath enforces. */
	int network_policy;
	/* Namespaces (comma-separated) whose pods' policy audits: counted
	 * and logged, not enforced (--network-policy-audit-ns); NULL: none. */
	const char *audit_ns;
};

struct zh_kube_stats {
	struct {
		uint64_t objects, lists, relists, restarts, events;
	} kind[ZH_KUBE_KINDS];
	uint64_t rejected[ZH_KUBE_KINDS][ZH_KUBE_REASONS];
	uint64_t applies, apply_failures;
	bool synced; /* the Services programmed once */
	struct zh_hist latency; /* an event's arrival to its map write */
	int kinds; /* the kinds followed: ZH_KUBE_KINDS_BASE or all */
	struct {
		int mode; /* ZH_POL_MODE_* */
		bool compiled; /* once, from complete lists */
		struct zh_pol_summary sum; /* of the last compile */
		size_t rejected[3]; /* now: NetworkPolicies, Pods, Namespaces */
		uint64_t compiles, failures, writes, epoch_bumps;
		/* the first event of a batch to its maps written */
		struct zh_hist latency;
	} pol;
};

struct zh_kube;

/*
 * Read the credentials and start following the API server; @objs must
 * outlive it. Returns 0, or a negative errno (said why).
 */
int zh_kube_start(struct zh_kube **out, const struct zh_kube_opts *o,
		  const struct zh_objs *objs);
/* Stop the thread and free @k (NULL is fine); the maps stay. */
void zh_kube_stop(struct zh_kube *k);
/* A copy of the counters, for a scrape (from any thread). */
void zh_kube_stats(const struct zh_kube *k, struct zh_kube_stats *st);
/* What names the per-policy counters (pol_maps.h zh_pol_index()), a
 * reference for the caller; NULL before the first policy write. */
json_t *zh_kube_pol_index(const struct zh_kube *k);

#endif /* ZH_KUBE_H */
