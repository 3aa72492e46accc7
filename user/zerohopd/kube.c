// SPDX-License-Identifier: Apache-2.0
/*
 * kube.c - zerohopd's Kubernetes mode (kube.h): one thread owns the
 * watch client and its stores; the only things it shares are the
 * counters (under a mutex, for scrapes) and the BPF maps (under the pin
 * lock, as every writer takes it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include "agent.h"
#include "hcheck.h"
#include "hist.h"
#include "k8s_watch.h"
#include "kube.h"
#include "log.h"
#include "policy.h"
#include "pol_maps.h"
#include "svc.h"
#include "svc_k8s.h"

/* A batch ends after this long without events, or this long after its
 * first event however busy the stream. */
#define BATCH_MAX_MS 100
/* Arrival times kept for the latency histogram; more in one batch share
 * the last slot's time. */
#define ARRIVALS_MAX 1024

static const char *const kind_names[] = { "Service",   "EndpointSlice",
					  "Node",      "Pod",
					  "Namespace", "NetworkPolicy" };
static const char *const reason_names[] = { "invalid", "conflict",
					    "unsupported" };

const char *zh_kube_kind_name(int kind)
{
	return kind >= 0 && kind < ZH_KUBE_KINDS ? kind_names[kind] : "?";
}

const char *zh_kube_reason_name(int reason)
{
	return reason >= 0 && reason < ZH_KUBE_REASONS ? reason_names[reason] :
							 "?";
}

struct zh_kube {
	struct zh_kube_opts o;
	const struct zh_objs *objs;
	struct zh_k8s_conf conf;
	struct zh_k8s_res res[ZH_KUBE_KINDS];
	struct zh_k8s_res *resp[ZH_KUBE_KINDS];
	struct zh_k8s_client client;
	pthread_t thread;
	atomic_bool stop;

	/* The thread's. */
	struct zh_svc_k8s_sync *sync; /* the Services as rendered */
	bool reset; /* a list replaced a store: render everything */
	bool applied; /* the maps hold what sync handed out */
	struct zh_hc *hc; /* the health check node ports */
	struct {
		uint64_t t_ns;
		uint32_t n;
	} arrivals[ARRIVALS_MAX];
	size_t n_arrivals;
	uint64_t batch_first_ms, batch_last_ms;
	char *conflist; /* what we wrote last */
	struct zh_pol_model *pol; /* the last compile */
	bool pol_nodes; /* the Nodes changed: this node's addresses */
	uint64_t pol_first_ns; /* the first event of the policy batch */
	json_t *pol_index; /* zh_pol_index() of the maps' model (lock) */
	json_t *pol_retired; /* zh_pol_maps_retire()'s */

	pthread_mutex_t lock; /* guards st, pol_index */
	struct zh_kube_stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void zh_kube_stats(const struct zh_kube *k, struct zh_kube_stats *st)
{
	struct zh_kube *m = (struct zh_kube *)k;

	pthread_mutex_lock(&m->lock);
	*st = k->st;
	pthread_mutex_unlock(&m->lock);
}

json_t *zh_kube_pol_index(const struct zh_kube *k)
{
	struct zh_kube *m = (struct zh_kube *)k;
	json_t *j;

	pthread_mutex_lock(&m->lock);
	j = json_incref(m->pol_index);
	pthread_mutex_unlock(&m->lock);
	return j;
}

/* --- rendering and programming ---------------------------------------------- */

static int kind_of(const char *kind)
{
	for (int i = 0; i < ZH_KUBE_KINDS; i++)
		if (!strcmp(kind, kind_names[i]))
			return i;
	return ZH_KUBE_SERVICES;
}

/* What the render left out: said (once per change: the sync sees to it)
 * and counted. */
static void note(void *arg, const char *kind, const char *key,
		 const char *reason, const char *msg)
{
	struct zh_kube *k = arg;
	int r;

	(void)key;
	pr_warn("k8s: %s\n", msg);
	for (r = 0; r < ZH_KUBE_REASONS; r++)
		if (!strcmp(reason, reason_names[r]))
			break;
	if (r == ZH_KUBE_REASONS)
		r = ZH_KUBE_INVALID;
	pthread_mutex_lock(&k->lock);
	k->st.rejected[kind_of(kind)][r]++;
	pthread_mutex_unlock(&k->lock);
}

static void svc_changed(void *arg, const char *key, const json_t *old,
			const json_t *new)
{
	struct zh_kube *k = arg;

	(void)old, (void)new;
	if (zh_svc_k8s_sync_service(k->sync, key))
		k->reset = true; /* out of memory: render all next time */
}

static void slice_changed(void *arg, const char *key, const json_t *old,
			  const json_t *new)
{
	struct zh_kube *k = arg;

	if (zh_svc_k8s_sync_slice(k->sync, key, old, new))
		k->reset = true;
}

static void store_replaced(void *arg)
{
	struct zh_kube *k = arg;

	k->reset = true;
}

/*
 * The Services that changed rendered again and their services programmed:
 * only those, once the maps hold the rest; everything the first time, or
 * when a partial apply failed. The batch's latencies recorded.
 */
static void services_sync(struct zh_kube *k)
{
	const json_t *svcs = k->res[ZH_KUBE_SERVICES].store;
	const json_t *slices = k->res[ZH_KUBE_SLICES].store;
	struct zh_svc_set set = { 0 };
	struct zh_service *del = NULL;
	uint64_t t0 = now_ns(), done;
	size_t n_del = 0;
	int rc = 0;

	if (k->reset) {
		k->reset = false;
		rc = zh_svc_k8s_sync_reset(k->sync, svcs, slices);
	}
	if (!rc)
		rc = zh_svc_k8s_sync_render(k->sync, svcs, slices);
	if (rc) {
		pr_warn("k8s: cannot render the Services: %s\n", strerror(-rc));
		k->reset = true;
		return;
	}
	pr_debug("k8s: rendered in %.3f s\n", (double)(now_ns() - t0) / 1e9);
	if (k->applied) {
		rc = zh_svc_k8s_sync_take(k->sync, &set, &del, &n_del);
		if (!rc && (set.n || n_del))
			rc = zh_agent_services_change(k->objs, "Kubernetes",
						      &set, del, n_del, true);
		free(del);
		if (rc)
			k->applied = false; /* all of them, now */
	}
	if (!k->applied) {
		rc = zh_svc_k8s_sync_all(k->sync, &set);
		if (!rc)
			rc = zh_agent_services_apply(k->objs, "Kubernetes",
						     &set);
		k->applied = !rc;
	}
	done = now_ns();
	pthread_mutex_lock(&k->lock);
	if (rc) {
		k->st.apply_failures++;
	} else {
		k->st.applies++;
		k->st.synced = true;
		for (size_t i = 0; i < k->n_arrivals; i++)
			for (uint32_t j = 0; j < k->arrivals[i].n; j++)
				zh_hist_add(&k->st.latency,
					    done - k->arrivals[i].t_ns);
	}
	pthread_mutex_unlock(&k->lock);
	/* Arrivals are in order: the first came first. */
	if (!rc && k->n_arrivals)
		pr_debug(
			"k8s: a batch programmed %.3f to %.3f ms after its events came\n",
			(double)(done - k->arrivals[k->n_arrivals - 1].t_ns) /
				1e6,
			(double)(done - k->arrivals[0].t_ns) / 1e6);
	k->n_arrivals = 0;
}

/* --- health check node ports ------------------------------------------------ */

/* An endpoint that counts for a health check: ready (or not said), on
 * this node. */
static bool ep_local_ready(const json_t *ep, const char *node)
{
	const char *on = json_string_value(json_object_get(ep, "nodeName"));
	const json_t *ready =
		json_object_get(json_object_get(ep, "conditions"), "ready");

	return on && !strcmp(on, node) && !json_is_false(ready) &&
	       json_is_string(
		       json_array_get(json_object_get(ep, "addresses"), 0));
}

/*
 * The LoadBalancer Services with externalTrafficPolicy Local and a
 * healthCheckNodePort, each with its ready endpoints on this node, served.
 */
static void health_sync(struct zh_kube *k)
{
	const json_t *svcs = k->res[ZH_KUBE_SERVICES].store;
	const json_t *slices = k->res[ZH_KUBE_SLICES].store;
	json_t *idx = json_object(), *svc, *sl, *ep;
	struct zh_hc_svc *hs = NULL;
	size_t n = 0, cap = 0, i;
	const char *key;

	json_object_foreach ((json_t *)svcs, key, svc) {
		const json_t *spec = json_object_get(svc, "spec");
		const json_t *md = json_object_get(svc, "metadata");
		const char *etp = json_string_value(
			json_object_get(spec, "externalTrafficPolicy"));
		json_int_t port = json_integer_value(
			json_object_get(spec, "healthCheckNodePort"));

		if (!idx || !etp || strcmp(etp, "Local") || port < 1 ||
		    port > 65535 ||
		    zh_svc_grow((void **)&hs, &cap, n + 1, sizeof(*hs)))
			continue;
		hs[n] = (struct zh_hc_svc){ .port = (uint16_t)port };
		snprintf(hs[n].ns, sizeof(hs[n].ns), "%s",
			 json_string_value(json_object_get(md, "namespace")) ?:
				 "default");
		snprintf(hs[n].name, sizeof(hs[n].name), "%s",
			 json_string_value(json_object_get(md, "name")) ?: "");
		json_object_set_new(idx, key, json_integer((json_int_t)n));
		n++;
	}
	json_object_foreach ((json_t *)slices, key, sl) {
		const json_t *md = json_object_get(sl, "metadata");
		const char *ns =
			json_string_value(json_object_get(md, "namespace"));
		const char *name = json_string_value(
			json_object_get(json_object_get(md, "labels"),
					"kubernetes.io/service-name"));
		char skey[320];
		json_t *at;

		if (!n || !name)
			break;
		snprintf(skey, sizeof(skey), "%s/%s",
			 ns && ns[0] ? ns : "default", name);
		at = json_object_get(idx, skey);
		if (!at)
			continue;
		json_array_foreach (json_object_get(sl, "endpoints"), i, ep)
			if (ep_local_ready(ep, k->o.node))
				hs[json_integer_value(at)].local++;
	}
	zh_hc_set(k->hc, hs, n);
	free(hs);
	json_decref(idx);
}

/* --- the CNI configuration ------------------------------------------------- */

/* Write @text as @dir/ZH_CNI_CONFLIST: a new file renamed over. */
static int conflist_write(const char *dir, const char *text)
{
	char path[4096], tmp[4096];
	size_t len = strlen(text);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/" ZH_CNI_CONFLIST, dir);
	snprintf(tmp, sizeof(tmp), "%s/." ZH_CNI_CONFLIST ".tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd))
		rc = -errno ? -errno : -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* @text (a conflist, freed) with "routing" set in our plugin's entry. */
static char *conflist_routing(char *text, const char *routing)
{
	json_t *c = json_loads(text, 0, NULL);
	json_t *plugin = json_array_get(json_object_get(c, "plugins"), 0);
	char *out = NULL;

	if (json_is_object(plugin) &&
	    !json_object_set_new(plugin, "routing", json_string(routing)))
		out = json_dumps(c, JSON_INDENT(2));
	json_decref(c);
	free(text);
	return out;
}

/*
 * Once the Services are programmed: this node's pod CIDRs as the CNI
 * configuration, written when it changes.
 */
static void cni_sync(struct zh_kube *k)
{
	const json_t *node, *spec, *cidrs;
	json_t *one = NULL;
	char *text;
	int rc;

	if (!k->o.cni_conf_dir || !k->st.synced)
		return;
	node = json_object_get(k->res[ZH_KUBE_NODES].store, k->o.node);
	spec = json_object_get(node, "spec");
	cidrs = json_object_get(spec, "podCIDRs");
	if (!json_array_size(cidrs) &&
	    json_is_string(json_object_get(spec, "podCIDR")))
		cidrs = one =
			json_pack("[O]", json_object_get(spec, "podCIDR"));
	text = zh_k8s_conflist(cidrs, k->o.cni_datapath, k->o.cni_mtu,
			       k->o.cni_afxdp);
	json_decref(one);
	/* Routing vxlan: the plugin gives pods the VXLAN device's MTU. */
	if (text && k->o.cluster && k->o.cluster->routing == ZH_ROUTING_VXLAN)
		text = conflist_routing(text, "vxlan");
	if (!text) {
		if (!k->conflist)
			pr_info("k8s: node %s has no pod CIDR yet: no CNI configuration\n",
				k->o.node);
		return;
	}
	if (k->conflist && !strcmp(k->conflist, text)) {
		free(text);
		return;
	}
	rc = conflist_write(k->o.cni_conf_dir, text);
	if (rc) {
		pr_warn("k8s: cannot write %s/" ZH_CNI_CONFLIST ": %s\n",
			k->o.cni_conf_dir, strerror(-rc));
		free(text);
		return;
	}
	pr_info("k8s: wrote %s/" ZH_CNI_CONFLIST " for node %s\n",
		k->o.cni_conf_dir, k->o.node);
	free(k->conflist);
	k->conflist = text;
}

/*
 * The Node objects as the node table (nodes.h): every usable Node, routes
 * and tunnel entries toward the others. A Node without an InternalIP or
 * pod CIDR is left out, logged once per change.
 */
static void nodes_sync(struct zh_kube *k)
{
	struct zh_node_set set = { 0 };
	struct zh_node_info n;
	const char *name;
	json_t *node;
	char err[256];

	if (!k->o.cluster)
		return;
	json_object_foreach (k->res[ZH_KUBE_NODES].store, name, node) {
		if (zh_node_from_k8s(node, &n, err, sizeof(err))) {
			pr_info("k8s: Node %s left out: %s\n", name, err);
			continue;
		}
		if (zh_node_set_put(&set, &n))
			break;
	}
	zh_agent_nodes_apply(k->objs, k->o.cluster, k->o.state_dir,
			     "Node objects", &set);
	zh_node_set_free(&set);
}

/* --- NetworkPolicy ------------------------------------------------------------ */

#define NODE_ADDRS_MAX 16

/* This node's own addresses, from its Node object. */
static size_t node_addrs(const struct zh_kube *k, struct zh_ep_key *out)
{
	const json_t *node =
		json_object_get(k->res[ZH_KUBE_NODES].store, k->o.node);
	const json_t *addrs =
		json_object_get(json_object_get(node, "status"), "addresses");
	const json_t *a;
	size_t i, n = 0;

	json_array_foreach (addrs, i, a)
		if (n < NODE_ADDRS_MAX &&
		    !zh_pol_key_parse(
			    json_string_value(json_object_get(a, "address")),
			    &out[n]))
			n++;
	return n;
}

static bool was_rejected(const struct zh_pol_model *m,
			 const struct zh_pol_reject *r)
{
	for (size_t i = 0; m && i < m->n_rejects; i++)
		if (!strcmp(m->rejects[i].key, r->key) &&
		    !strcmp(m->rejects[i].kind, r->kind) &&
		    !strcmp(m->rejects[i].reason, r->reason))
			return true;
	return false;
}

/*
 * The names behind the maps' numbers, for zerohopctl policy: each local
 * pod address with its pod and the policies of its classes. Written whole
 * into a temporary file, then renamed over the last.
 */
static void policy_names(struct zh_kube *k, const struct zh_pol_model *m)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	json_t *eps = json_object(), *j, *was;
	json_t *idx = zh_pol_index(m, k->pol_retired);

	/* The per-policy counters' names, for /metrics. */
	pthread_mutex_lock(&k->lock);
	was = k->pol_index;
	k->pol_index = json_incref(idx);
	pthread_mutex_unlock(&k->lock);
	json_decref(was);
	if (!k->o.state_dir || !eps)
		goto out;
	for (size_t i = 0; i < m->n_eps; i++) {
		const struct zh_pol_ep_ent *e = &m->eps[i];
		json_t *o = json_pack("{s:s, s:[], s:[]}", "pod", e->pod,
				      "ingress", "egress");
		char addr[64];

		if (!o)
			continue;
		for (size_t c = 0; c < m->n_classes; c++) {
			const struct zh_pol_class *cl = &m->classes[c];
			__u16 want = cl->dir == ZH_POL_EGRESS ?
					     e->val.class_eg :
					     e->val.class_in;

			if (!want || cl->id != want)
				continue;
			for (size_t p = 0; p < cl->n_policies; p++)
				json_array_append_new(
					json_object_get(o, cl->dir ? "egress" :
								     "ingress"),
					json_string(cl->policies[p]));
		}
		zh_addr_key_str(&e->key, addr, sizeof(addr));
		json_object_set_new(eps, addr, o);
	}
	snprintf(path, sizeof(path), "%s/" ZH_POL_NAMES_FILE, k->o.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	j = json_pack("{s:o, s:O}", "endpoints", eps, "policies",
		      idx ? idx : json_object());
	eps = NULL;
	if (j && !json_dump_file(j, tmp, JSON_COMPACT) && rename(tmp, path))
		unlink(tmp);
	json_decref(j);
out:
	json_decref(idx);
	json_decref(eps);
}

/*
 * The writes of a compile executed, under the pin lock. An agent's first
 * write (no model before: a start, or after a failure) makes the maps
 * hold @m exactly, whatever they held: the pins enforced the previous
 * agent's policy until this moment (the lists were all in before the
 * compile), and stale entries go only after the new ones are in. Later
 * ones also rewrite any endpoint the plugin made pending meanwhile.
 */
static int policy_write(struct zh_kube *k, const struct zh_pol_model *m,
			const struct zh_pol_op *ops, size_t n_ops,
			uint64_t *bumps, uint64_t *written)
{
	struct zh_pol_apply_stats st = { 0 };
	int lock, rc, rc2;
	uint64_t done;

	*written = now_ns();
	if (!k->objs || k->objs->pol_eps_fd < 0)
		return 0; /* compiled only (tests without pins) */
	lock = zh_pin_lock(k->objs->root);
	if (lock < 0) {
		pr_warn("policy: cannot lock %s: %s\n", k->objs->root,
			strerror(-lock));
		return lock;
	}
	rc = zh_pol_maps_apply(k->objs, ops, n_ops, &st);
	rc2 = k->pol ? zh_pol_maps_reconcile(k->objs, m, &st) :
		       zh_pol_maps_sweep(k->objs, m, &st);
	zh_pin_unlock(lock);
	done = now_ns();
	*written = done;
	if (!rc)
		rc = rc2;
	if (st.swept)
		pr_info("policy: %zu stale entries of a previous agent removed\n",
			st.swept);
	if (st.bumped && !*bumps)
		*bumps = 1;
	pthread_mutex_lock(&k->lock);
	if (k->pol_first_ns && !rc)
		zh_hist_add(&k->st.pol.latency, done - k->pol_first_ns);
	pthread_mutex_unlock(&k->lock);
	if (!rc) {
		k->pol_first_ns = 0;
		if (!k->pol_retired)
			k->pol_retired = json_object();
		if (k->pol_retired &&
		    zh_pol_maps_retire(k->objs, k->pol, m, k->pol_retired))
			pr_warn("policy: per-policy denial counts: out of memory\n");
		policy_names(k, m);
	}
	return rc;
}

/*
 * Pods, Namespaces and NetworkPolicies compiled again, from the last
 * model; the writes that take the maps there executed (policy_write());
 * what changed said.
 */
static void policy_sync(struct zh_kube *k)
{
	struct zh_ep_key addrs[NODE_ADDRS_MAX];
	struct zh_pol_opts o = {
		.node = k->o.node,
		.audit = k->o.network_policy == ZH_POL_MODE_AUDIT,
		.audit_ns = k->o.audit_ns,
		.node_addrs = addrs,
	};
	struct zh_pol_model *m = NULL;
	struct zh_pol_op *ops = NULL;
	size_t n_ops = 0, rej[3] = { 0 };
	uint64_t bumps = 0, first = k->pol_first_ns, t0, t1, t2, written;
	int rc;

	o.n_node_addrs = node_addrs(k, addrs);
	/* Incremental from the last model (policy.h: its cache). */
	t0 = now_ns();
	rc = zh_pol_compile(k->res[ZH_KUBE_PODS].store,
			    k->res[ZH_KUBE_NAMESPACES].store,
			    k->res[ZH_KUBE_NETPOLS].store, &o, k->pol, &m);
	t1 = now_ns();
	if (!rc)
		rc = zh_pol_diff(k->pol, m, &ops, &n_ops);
	t2 = now_ns();
	if (rc) {
		pr_warn("k8s: cannot compile the NetworkPolicies: %s\n",
			strerror(-rc));
		zh_pol_model_free(m);
		pthread_mutex_lock(&k->lock);
		k->st.pol.failures++;
		pthread_mutex_unlock(&k->lock);
		return;
	}
	for (size_t i = 0; i < n_ops; i++)
		bumps += ops[i].type == ZH_POL_OP_EPOCH_BUMP;
	rc = policy_write(k, m, ops, n_ops, &bumps, &written);
	free(ops);
	/* (scripts/bench-policy.sh reads this line.) The first figure is
	 * the histogram's: the batch's first event to the maps written;
	 * what follows (counters retired, the names file) is apart. */
	pr_debug(
		"policy: written %.3f ms after the batch's first event: compile %.3f ms, diff %.3f ms, maps %.3f ms, %zu writes; then %.3f ms of names and counters\n",
		first ? (double)(written - first) / 1e6 : 0.0,
		(double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6,
		(double)(written - t2) / 1e6, n_ops,
		(double)(now_ns() - written) / 1e6);
	if (rc) {
		/* The maps hold a mix: next time from nothing, swept. */
		zh_pol_model_free(m);
		zh_pol_model_free(k->pol);
		k->pol = NULL;
		pthread_mutex_lock(&k->lock);
		k->st.pol.failures++;
		pthread_mutex_unlock(&k->lock);
		return;
	}
	for (size_t i = 0; i < m->n_rejects; i++) {
		const struct zh_pol_reject *r = &m->rejects[i];
		int kind = !strcmp(r->kind, "NetworkPolicy") ? 0 :
			   !strcmp(r->kind, "Pod")	     ? 1 :
							       2;

		rej[kind]++;
		if (was_rejected(k->pol, r))
			continue;
		pr_warn("k8s: %s %s left out: %s%s\n", r->kind, r->key,
			r->reason,
			r->isolating ?
				" (its pods stay isolated, with none of its allows)" :
				"");
		pthread_mutex_lock(&k->lock);
		k->st.rejected[kind == 0 ? ZH_KUBE_NETPOLS :
			       kind == 1 ? ZH_KUBE_PODS :
					   ZH_KUBE_NAMESPACES]
			      [ZH_KUBE_INVALID]++;
		pthread_mutex_unlock(&k->lock);
	}
	if (!k->pol || memcmp(&k->pol->sum, &m->sum, sizeof(m->sum)) || n_ops)
		pr_info("k8s: NetworkPolicy compiled and written: %zu policies, %zu pods; %zu identities, %zu classes, %zu cells, %zu local endpoints, %zu ipcache + %zu prefixes; %zu rejected, %zu classes failed closed; %zu map writes%s\n",
			m->sum.policies, m->sum.pods, m->sum.identities,
			m->sum.classes, m->sum.cells, m->sum.endpoints,
			m->sum.ipcache, m->sum.lpm, m->sum.rejected,
			m->sum.failed_classes, n_ops,
			bumps ? ", access removed" : "");
	zh_pol_model_free(k->pol);
	k->pol = m;
	pthread_mutex_lock(&k->lock);
	k->st.pol.compiled = true;
	k->st.pol.sum = m->sum;
	memcpy(k->st.pol.rejected, rej, sizeof(rej));
	k->st.pol.compiles++;
	k->st.pol.writes += n_ops;
	k->st.pol.epoch_bumps += bumps;
	pthread_mutex_unlock(&k->lock);
}

/* --- the thread ---------------------------------------------------------- */

static void arrived(struct zh_kube *k, int n)
{
	if (n <= 0)
		return;
	if (k->n_arrivals < ARRIVALS_MAX)
		k->arrivals[k->n_arrivals++] = (typeof(k->arrivals[0])){
			.t_ns = now_ns(),
			.n = (uint32_t)n,
		};
	else
		k->arrivals[ARRIVALS_MAX - 1].n += (uint32_t)n;
}

static void stats_update(struct zh_kube *k)
{
	pthread_mutex_lock(&k->lock);
	for (int i = 0; i < k->st.kinds; i++) {
		const struct zh_k8s_res *r = &k->res[i];

		k->st.kind[i].objects = json_object_size(r->store);
		k->st.kind[i].lists = r->lists;
		k->st.kind[i].relists = r->relists;
		k->st.kind[i].restarts = r->restarts;
		k->st.kind[i].events = r->events;
	}
	pthread_mutex_unlock(&k->lock);
}

static void *kube_thread(void *arg)
{
	struct zh_kube *k = arg;
	struct zh_k8s_res *svc = &k->res[ZH_KUBE_SERVICES];
	struct zh_k8s_res *sl = &k->res[ZH_KUBE_SLICES];
	struct zh_k8s_res *nodes = &k->res[ZH_KUBE_NODES];
	struct zh_k8s_res *pods = &k->res[ZH_KUBE_PODS];
	struct zh_k8s_res *nss = &k->res[ZH_KUBE_NAMESPACES];
	struct zh_k8s_res *nps = &k->res[ZH_KUBE_NETPOLS];
	bool pol = k->o.network_policy != ZH_POL_MODE_OFF;

	while (!atomic_load(&k->stop)) {
		uint64_t now = now_ms();
		int timeout = 1000, n;
		/* (Only once the three lists are in: until then there is
		 * nothing to wait for, and a zero timeout would spin.) */
		bool pol_pending = pol && pods->synced && nss->synced &&
				   nps->synced &&
				   (pods->changed || nss->changed ||
				    nps->changed || k->pol_nodes);
		bool pending = svc->changed || sl->changed || pol_pending;

		if (pending) {
			uint64_t due = k->batch_last_ms + k->o.batch_ms;

			if (due > k->batch_first_ms + BATCH_MAX_MS)
				due = k->batch_first_ms + BATCH_MAX_MS;
			timeout = due > now ? (int)(due - now) : 0;
		}
		n = zh_k8s_client_step(&k->client, timeout, now);
		now = now_ms();
		if (n > 0 && pol && !k->pol_first_ns &&
		    (pods->changed || nss->changed || nps->changed))
			k->pol_first_ns = now_ns();
		if (n > 0) {
			arrived(k, n);
			if (!pending)
				k->batch_first_ms = now;
			k->batch_last_ms = now;
		}
		stats_update(k);
		/* Both lists first: Services without their slices would be
		 * programmed without backends for a moment. */
		if ((svc->changed || sl->changed) && svc->synced &&
		    sl->synced &&
		    (now >= k->batch_last_ms + k->o.batch_ms ||
		     now >= k->batch_first_ms + BATCH_MAX_MS)) {
			svc->changed = sl->changed = false;
			services_sync(k);
			health_sync(k);
			cni_sync(k);
		}
		if (nodes->changed && nodes->synced) {
			nodes->changed = false;
			nodes_sync(k);
			k->pol_nodes = pol;
			cni_sync(k);
		}
		/* All three lists first: a policy compiled without its pods
		 * would isolate them with none of their peers. */
		if (pol &&
		    (pods->changed || nss->changed || nps->changed ||
		     k->pol_nodes) &&
		    pods->synced && nss->synced && nps->synced &&
		    (now >= k->batch_last_ms + k->o.batch_ms ||
		     now >= k->batch_first_ms + BATCH_MAX_MS)) {
			pods->changed = nss->changed = nps->changed = false;
			k->pol_nodes = false;
			policy_sync(k);
		}
	}
	return NULL;
}

int zh_kube_start(struct zh_kube **out, const struct zh_kube_opts *o,
		  const struct zh_objs *objs)
{
	/* As kube-proxy: Services another proxy serves, and headless ones,
	 * are none of ours. */
	static const char svc_selector[] =
		"!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";
	char err[ZH_K8S_ERR_MAX];
	struct zh_kube *k;
	int rc;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->o = *o;
	k->objs = objs;
	if (!k->o.batch_ms)
		k->o.batch_ms = 5;
	pthread_mutex_init(&k->lock, NULL);
	rc = o->kubeconfig ? zh_k8s_conf_kubeconfig(&k->conf, o->kubeconfig,
						    o->api, err, sizeof(err)) :
			     zh_k8s_conf_incluster(&k->conf, o->api, NULL, err,
						   sizeof(err));
	if (rc) {
		pr_warn("k8s: %s\n", err);
		goto err_free;
	}
	k->sync = zh_svc_k8s_sync_new(note, k);
	k->hc = zh_hc_new();
	if (k->sync)
		zh_svc_k8s_sync_node(k->sync, k->o.node);
	rc = zh_k8s_res_init(&k->res[ZH_KUBE_SERVICES], "Service",
			     "/api/v1/services", svc_selector, true);
	if (!rc)
		rc = zh_k8s_res_init(&k->res[ZH_KUBE_SLICES], "EndpointSlice",
				     "/apis/discovery.k8s.io/v1/endpointslices",
				     NULL, true);
	if (!rc)
		rc = zh_k8s_res_init(&k->res[ZH_KUBE_NODES], "Node",
				     "/api/v1/nodes", NULL, false);
	k->st.kinds = ZH_KUBE_KINDS_BASE;
	k->st.pol.mode = o->network_policy;
	if (!rc && o->network_policy != ZH_POL_MODE_OFF) {
		k->st.kinds = ZH_KUBE_KINDS;
		rc = zh_k8s_res_init(&k->res[ZH_KUBE_PODS], "Pod",
				     "/api/v1/pods", NULL, true);
		if (!rc)
			rc = zh_k8s_res_init(&k->res[ZH_KUBE_NAMESPACES],
					     "Namespace", "/api/v1/namespaces",
					     NULL, false);
		if (!rc)
			rc = zh_k8s_res_init(
				&k->res[ZH_KUBE_NETPOLS], "NetworkPolicy",
				"/apis/networking.k8s.io/v1/networkpolicies",
				NULL, true);
	}
	for (int i = 0; i < ZH_KUBE_KINDS; i++) {
		k->resp[i] = &k->res[i];
		k->res[i].cb_arg = k;
	}
	k->res[ZH_KUBE_SERVICES].on_change = svc_changed;
	k->res[ZH_KUBE_SLICES].on_change = slice_changed;
	k->res[ZH_KUBE_SERVICES].on_reset = store_replaced;
	k->res[ZH_KUBE_SLICES].on_reset = store_replaced;
	if (!rc && (!k->sync || !k->hc))
		rc = -ENOMEM;
	if (!rc)
		rc = zh_k8s_client_init(&k->client, &k->conf, k->resp,
					(size_t)k->st.kinds);
	if (rc)
		goto err_res;
	rc = -pthread_create(&k->thread, NULL, kube_thread, k);
	if (rc) {
		pr_warn("k8s: cannot start the thread: %s\n", strerror(-rc));
		goto err_client;
	}
	pr_info("k8s: following %s as node %s%s%s%s\n", k->conf.server, o->node,
		o->cni_conf_dir ? "; CNI configuration into " : "",
		o->cni_conf_dir ? o->cni_conf_dir : "",
		o->network_policy != ZH_POL_MODE_OFF ?
			"; Pods, Namespaces and NetworkPolicies enforced" :
			"");
	*out = k;
	return 0;

err_client:
	zh_k8s_client_free(&k->client);
err_res:
	for (int i = 0; i < ZH_KUBE_KINDS; i++)
		zh_k8s_res_free(&k->res[i]);
	zh_svc_k8s_sync_free(k->sync);
	zh_hc_free(k->hc);
	zh_k8s_conf_free(&k->conf);
err_free:
	pthread_mutex_destroy(&k->lock);
	free(k);
	return rc;
}

void zh_kube_stop(struct zh_kube *k)
{
	if (!k)
		return;
	atomic_store(&k->stop, true);
	zh_k8s_client_wakeup(&k->client);
	pthread_join(k->thread, NULL);
	zh_k8s_client_free(&k->client);
	for (int i = 0; i < ZH_KUBE_KINDS; i++)
		zh_k8s_res_free(&k->res[i]);
	zh_svc_k8s_sync_free(k->sync);
	zh_hc_free(k->hc);
	free(k->conflist);
	zh_pol_model_free(k->pol);
	json_decref(k->pol_index);
	json_decref(k->pol_retired);
	zh_k8s_conf_free(&k->conf);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
