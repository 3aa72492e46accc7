// SPDX-License-Identifier: Apache-2.0
/*
 * svc_k8s.c - Kubernetes Services and EndpointSlices as services
 * (svc_k8s.h; the rules are in svc.h). An EndpointSlice is reduced to what
 * a service needs of it (its service, family, ports and endpoint
 * addresses and states); a Service becomes one service per cluster IP and
 * port, whose backends are found among the slices by namespace and name.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "svc_k8s.h"

#define ZH_IPPROTO_SCTP 132

#define PORT_RANGE 1, 65535, "a port (1-65535)"
#define TIMEOUT_RANGE 1, ZH_SVC_AFFINITY_MAX, "a timeout (1-86400 s)"

#define perr(e, ...) zh_errf((e)->buf, (e)->len, -EINVAL, __VA_ARGS__)

struct k8s_port {
	const char *name; /* "" when absent */
	uint8_t proto;
	uint16_t port; /* 0: absent */
};

struct k8s_ep {
	struct zh_addr addr;
	uint8_t state;
	bool local; /* on this node (zh_svc_k8s.node) */
};

/* An EndpointSlice of a service; strings point into the JSON document. */
struct zh_svc_k8s_slice {
	const char *ns, *svc;
	int family;
	struct k8s_port *ports;
	size_t n_ports;
	struct k8s_ep *eps;
	size_t n_eps;
};

void zh_svc_k8s_free(struct zh_svc_k8s *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		free(k->slices[i].ports);
		free(k->slices[i].eps);
	}
	free(k->slices);
	*k = (struct zh_svc_k8s){ 0 };
}

/* "TCP" (also when absent), "UDP", "SCTP"; Kubernetes spells them so. */
static int k8s_proto(const json_t *obj, const char *where, uint8_t *proto,
		     struct zh_json_err *e)
{
	static const char *const words[] = { "TCP", "UDP", "SCTP", NULL };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP,
					  ZH_IPPROTO_SCTP };
	int i = 0;
	int rc = zh_json_enum(obj, where, "protocol", 0, words,
			      "TCP, UDP or SCTP", &i, e);

	*proto = protos[i];
	return rc;
}

/* metadata.name and metadata.namespace ("default" when absent). */
static int k8s_meta(const json_t *item, const char *where, const char **ns,
		    const char **name, struct zh_json_err *e)
{
	char at[ZH_JSON_PATH_MAX];
	json_t *meta;
	int rc;

	rc = zh_json_object(item, where, "metadata", ZH_JSON_REQUIRED, &meta,
			    e);
	if (rc)
		return rc;
	zh_json_path(at, sizeof(at), where, "metadata");
	rc = zh_json_str(meta, at, "name", ZH_JSON_REQUIRED, name, e);
	if (!rc && !(*name)[0])
		rc = zh_json_bad(e, at, "name", zh_json_get(meta, "name"),
				 "a name");
	if (!rc)
		rc = zh_json_str(meta, at, "namespace", 0, ns, e);
	if (rc)
		return rc;
	if (!*ns || !(*ns)[0])
		*ns = "default";
	return 0;
}

static int k8s_slice_ports(const json_t *item, const char *where,
			   struct zh_svc_k8s_slice *sl, struct zh_json_err *e)
{
	char at[ZH_JSON_PATH_MAX];
	json_t *ports, *v;
	size_t i;
	int rc;

	rc = zh_json_array(item, where, "ports", 0, &ports, e);
	if (rc || !ports || !json_array_size(ports))
		return rc;
	sl->ports = calloc(json_array_size(ports), sizeof(*sl->ports));
	if (!sl->ports)
		return -ENOMEM;
	json_array_foreach (ports, i, v) {
		struct k8s_port *pt = &sl->ports[i];
		/* No port means all ports, of no use to kube-proxy either. */
		long long port = 0;

		zh_json_path(at, sizeof(at), where, "ports[%zu]", i);
		rc = zh_json_check(v, at, JSON_OBJECT, e);
		if (!rc)
			rc = zh_json_str(v, at, "name", 0, &pt->name, e);
		if (!rc)
			rc = k8s_proto(v, at, &pt->proto, e);
		if (!rc)
			rc = zh_json_int(v, at, "port", 0, PORT_RANGE, &port,
					 e);
		if (rc)
			return rc;
		if (!pt->name)
			pt->name = "";
		pt->port = (uint16_t)port;
		sl->n_ports++;
	}
	return 0;
}

#define EP_LEFT_OUT (-1)

/*
 * ready (absent: true) -> ready; else serving (absent: true) and
 * terminating (absent: false) -> terminating; else EP_LEFT_OUT.
 */
static int k8s_ep_state(const json_t *ep, const char *where, int *state,
			struct zh_json_err *e)
{
	bool ready = true, serving = true, terminating = false;
	char at[ZH_JSON_PATH_MAX];
	json_t *conds;
	int rc;

	*state = ZH_EP_READY;
	rc = zh_json_object(ep, where, "conditions", 0, &conds, e);
	if (rc || !conds)
		return rc;
	zh_json_path(at, sizeof(at), where, "conditions");
	rc = zh_json_bool(conds, at, "ready", 0, &ready, e);
	if (!rc)
		rc = zh_json_bool(conds, at, "serving", 0, &serving, e);
	if (!rc)
		rc = zh_json_bool(conds, at, "terminating", 0, &terminating, e);
	if (rc)
		return rc;
	if (!ready)
		*state = serving && terminating ? ZH_EP_TERMINATING :
						  EP_LEFT_OUT;
	return 0;
}

static int k8s_slice_endpoints(const json_t *item, const char *where,
			       const char *node, struct zh_svc_k8s_slice *sl,
			       struct zh_json_err *e)
{
	char at[ZH_JSON_PATH_MAX], key[48], what[32];
	json_t *eps, *ep, *addrs, *a;
	size_t i, j, cap = 0;
	struct zh_addr addr;
	const char *on;
	int rc, state;

	/* kubectl prints "endpoints": null for an empty slice. */
	rc = zh_json_array(item, where, "endpoints", 0, &eps, e);
	if (rc || !eps)
		return rc;
	snprintf(what, sizeof(what), "an %s address",
		 zh_svc_family_str(sl->family));
	json_array_foreach (eps, i, ep) {
		zh_json_path(at, sizeof(at), where, "endpoints[%zu]", i);
		rc = zh_json_check(ep, at, JSON_OBJECT, e);
		if (!rc)
			rc = zh_json_array(ep, at, "addresses",
					   ZH_JSON_REQUIRED, &addrs, e);
		if (!rc)
			rc = k8s_ep_state(ep, at, &state, e);
		on = NULL;
		if (!rc)
			rc = zh_json_str(ep, at, "nodeName", 0, &on, e);
		if (rc)
			return rc;
		/* Every address is checked, also those left out. */
		json_array_foreach (addrs, j, a) {
			if (!json_is_string(a) ||
			    zh_svc_ip_parse(json_string_value(a), &addr) ||
			    addr.family != sl->family) {
				snprintf(key, sizeof(key), "addresses[%zu]", j);
				return zh_json_bad(e, at, key, a, what);
			}
			/* kube-proxy serves the first address only. */
			if (state == EP_LEFT_OUT || j)
				continue;
			if (zh_svc_grow((void **)&sl->eps, &cap, sl->n_eps + 1,
					sizeof(*sl->eps)))
				return -ENOMEM;
			sl->eps[sl->n_eps++] = (struct k8s_ep){
				.addr = addr,
				.state = (uint8_t)state,
				.local = node && on && !strcmp(node, on),
			};
		}
	}
	return 0;
}

static int slice_add(struct zh_svc_k8s *k, const json_t *item,
		     const char *item_where, struct zh_json_err *e)
{
	static const char *const types[] = { "IPv4", "IPv6", "FQDN", NULL };
	struct zh_svc_k8s_slice sl = { 0 };
	char where[160], at[ZH_JSON_PATH_MAX];
	const char *ns, *name;
	json_t *labels;
	int type, rc;

	rc = k8s_meta(item, item_where, &ns, &name, e);
	if (rc)
		return rc;
	snprintf(where, sizeof(where), "EndpointSlice %s/%s: ", ns, name);
	sl.ns = ns;
	zh_json_path(at, sizeof(at), where, "metadata");
	rc = zh_json_object(zh_json_get(item, "metadata"), at, "labels", 0,
			    &labels, e);
	if (rc)
		return rc;
	zh_json_path(at, sizeof(at), where, "metadata.labels");
	rc = zh_json_str(labels, at, "kubernetes.io/service-name", 0, &sl.svc,
			 e);
	if (!rc)
		rc = zh_json_enum(item, where, "addressType", ZH_JSON_REQUIRED,
				  types, "IPv4, IPv6 or FQDN", &type, e);
	if (rc)
		return rc;
	if (type == 2)
		return 0; /* FQDN: kube-proxy ignores them too */
	sl.family = type ? AF_INET6 : AF_INET;

	rc = k8s_slice_ports(item, where, &sl, e);
	if (!rc)
		rc = k8s_slice_endpoints(item, where, k->node, &sl, e);
	if (!rc && sl.svc &&
	    zh_svc_grow((void **)&k->slices, &k->cap, k->n + 1,
			sizeof(*k->slices)))
		rc = -ENOMEM;
	if (rc || !sl.svc) {
		free(sl.ports);
		free(sl.eps);
		return rc;
	}
	k->slices[k->n++] = sl;
	k->sorted = false;
	return 0;
}

int zh_svc_k8s_slice_add(struct zh_svc_k8s *k, const json_t *slice,
			 const char *where, char *err, size_t errlen)
{
	struct zh_json_err e = { .buf = err, .len = errlen };

	return slice_add(k, slice, where, &e);
}

static int slice_cmp(const char *ns_a, const char *svc_a, const char *ns_b,
		     const char *svc_b)
{
	int c = strcmp(ns_a, ns_b);

	return c ? c : strcmp(svc_a, svc_b);
}

static int slice_sort_cmp(const void *a, const void *b)
{
	const struct zh_svc_k8s_slice *x = a, *y = b;

	return slice_cmp(x->ns, x->svc, y->ns, y->svc);
}

/* Merge the backends of one address and port from several slices. */
static size_t dedup_backends(struct zh_svc_backend *b, size_t n)
{
	size_t i, out = 0;

	for (i = 0; i < n; i++) {
		if (out && !zh_svc_backend_cmp(&b[out - 1], &b[i])) {
			if (b[i].state == ZH_EP_READY)
				b[out - 1].state = ZH_EP_READY;
			continue;
		}
		b[out++] = b[i];
	}
	return out;
}

static int be_sort_cmp(const void *a, const void *b)
{
	return zh_svc_backend_cmp(a, b);
}

/*
 * The backends of service port @pname/@proto of @ns/@svc in @family: the
 * slices are sorted by namespace and service, so find the first of them
 * by bisection.
 */
static int k8s_backends(const struct zh_svc_k8s *k, const char *ns,
			const char *svc, int family, const char *pname,
			uint8_t proto, bool local_only, struct zh_service *s)
{
	size_t lo = 0, hi = k->n, i, j, e, cap = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (slice_cmp(k->slices[mid].ns, k->slices[mid].svc, ns, svc) <
		    0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo;
	     i < k->n && !slice_cmp(k->slices[i].ns, k->slices[i].svc, ns, svc);
	     i++) {
		const struct zh_svc_k8s_slice *sl = &k->slices[i];
		const struct k8s_port *pt = NULL;

		if (sl->family != family)
			continue;
		for (j = 0; j < sl->n_ports && !pt; j++)
			if (sl->ports[j].port && sl->ports[j].proto == proto &&
			    !strcmp(sl->ports[j].name, pname))
				pt = &sl->ports[j];
		if (!pt)
			continue;
		for (e = 0; e < sl->n_eps; e++) {
			if (local_only && !sl->eps[e].local)
				continue;
			if (zh_svc_grow((void **)&s->backends, &cap,
					s->n_backends + 1,
					sizeof(*s->backends)))
				return -ENOMEM;
			s->backends[s->n_backends++] = (struct zh_svc_backend){
				.addr = sl->eps[e].addr,
				.port = pt->port,
				.weight = 1,
				.state = sl->eps[e].state,
			};
		}
	}
	if (s->n_backends) {
		qsort(s->backends, s->n_backends, sizeof(*s->backends),
		      be_sort_cmp);
		s->n_backends = dedup_backends(s->backends, s->n_backends);
	}
	/*
	 * As kube-proxy's CategorizeEndpoints: when no endpoint is ready,
	 * the serving and terminating ones take new flows, rather than
	 * none at all while a rollout drains the last replicas.
	 */
	for (i = 0; i < s->n_backends; i++)
		if (s->backends[i].state == ZH_EP_READY)
			return 0;
	for (i = 0; i < s->n_backends; i++)
		s->backends[i].state = ZH_EP_READY;
	return 0;
}

/* The cluster IPs: spec.clusterIPs, else spec.clusterIP; none: skip. */
static int k8s_vips(const json_t *spec, const char *where,
		    struct zh_addr vips[2], size_t *n, struct zh_json_err *e)
{
	char at[ZH_JSON_PATH_MAX], key[48];
	json_t *ips, *v;
	const char *s;
	size_t i;
	int rc;

	*n = 0;
	rc = zh_json_array(spec, where, "clusterIPs", 0, &ips, e);
	if (rc)
		return rc;
	if (!ips || !json_array_size(ips)) {
		rc = zh_json_str(spec, where, "clusterIP", 0, &s, e);
		if (rc || !s || !s[0] || !strcmp(s, "None"))
			return rc;
		if (zh_svc_ip_parse(s, &vips[0]))
			return zh_json_bad(e, where, "clusterIP",
					   zh_json_get(spec, "clusterIP"),
					   "an IP address");
		*n = 1;
		return 0;
	}
	/* Headless: ["None"]. */
	v = json_array_get(ips, 0);
	if (json_is_string(v) && !strcmp(json_string_value(v), "None"))
		return 0;
	if (json_array_size(ips) > 2)
		return perr(e, "%s: %zu addresses, not one or one per family",
			    zh_json_path(at, sizeof(at), where, "clusterIPs"),
			    json_array_size(ips));
	json_array_foreach (ips, i, v) {
		if (!json_is_string(v) ||
		    zh_svc_ip_parse(json_string_value(v), &vips[i])) {
			snprintf(key, sizeof(key), "clusterIPs[%zu]", i);
			return zh_json_bad(e, where, key, v, "an IP address");
		}
	}
	*n = json_array_size(ips);
	return 0;
}

/* The cluster IPs (two at most), then external and load-balancer IPs. */
#define K8S_VIPS_MAX 18

/* What a Service has for all its ports. */
struct k8s_svc_info {
	const char *ns, *name;
	struct zh_addr vips[K8S_VIPS_MAX];
	size_t n_vips, n_cluster; /* the first n_cluster are cluster IPs */
	uint32_t affinity;
	bool has_nodeport;
	bool itp_local, etp_local; /* spec.{internal,external}TrafficPolicy */
};

/* One more VIP from @v (a string), unless the Service has it already. */
static int add_vip(struct k8s_svc_info *si, const json_t *v, const char *at,
		   const char *key, struct zh_json_err *e)
{
	struct zh_addr a;
	size_t i;

	if (!json_is_string(v) || zh_svc_ip_parse(json_string_value(v), &a))
		return zh_json_bad(e, at, key, v, "an IP address");
	for (i = 0; i < si->n_vips; i++)
		if (!memcmp(&si->vips[i], &a, sizeof(a)))
			return 0;
	if (si->n_vips == K8S_VIPS_MAX)
		return perr(e, "%s: more than %d addresses in all", at,
			    K8S_VIPS_MAX);
	si->vips[si->n_vips++] = a;
	return 0;
}

/*
 * spec.externalIPs, and for a LoadBalancer status.loadBalancer.ingress[].ip:
 * kube-proxy serves the service's ports on them too.
 */
static int k8s_extra_vips(const json_t *item, const char *where, bool lb,
			  struct k8s_svc_info *si, struct zh_json_err *e)
{
	char at[ZH_JSON_PATH_MAX], key[48];
	json_t *ips, *ing, *v;
	size_t i;
	int rc;

	rc = zh_json_array(zh_json_get(item, "spec"), where, "externalIPs", 0,
			   &ips, e);
	json_array_foreach (ips, i, v) {
		snprintf(key, sizeof(key), "externalIPs[%zu]", i);
		if (!rc)
			rc = add_vip(si, v, where, key, e);
	}
	if (rc || !lb)
		return rc;
	snprintf(at, sizeof(at), "Service %s/%s: status.loadBalancer", si->ns,
		 si->name);
	rc = zh_json_array(zh_json_get(zh_json_get(item, "status"),
				       "loadBalancer"),
			   at, "ingress", 0, &ing, e);
	json_array_foreach (ing, i, v) {
		json_t *ip = zh_json_get(v, "ip");

		/* An ingress may be a hostname only: nothing to serve. */
		snprintf(key, sizeof(key), "ingress[%zu].ip", i);
		if (!rc && ip)
			rc = add_vip(si, ip, at, key, e);
	}
	return rc;
}

/* A traffic policy: Cluster (or absent) or Local. */
static int k8s_policy(const json_t *spec, const char *where, const char *key,
		      bool *local, struct zh_json_err *e)
{
	static const char *const words[] = { "Cluster", "Local", NULL };
	int i = 0;
	int rc = zh_json_enum(spec, where, key, 0, words, "Cluster or Local",
			      &i, e);

	*local = i == 1;
	return rc;
}

/* sessionAffinity: None (or absent), or ClientIP with its timeout. */
static int k8s_affinity(const json_t *spec, const char *where,
			uint32_t *timeout, struct zh_json_err *e)
{
	static const char *const words[] = { "None", "ClientIP", NULL };
	long long t = ZH_SVC_AFFINITY_DEFAULT;
	char at[ZH_JSON_PATH_MAX];
	const json_t *cfg;
	int client_ip = 0;
	int rc;

	*timeout = 0;
	rc = zh_json_enum(spec, where, "sessionAffinity", 0, words,
			  "None or ClientIP", &client_ip, e);
	if (rc || !client_ip)
		return rc;
	cfg = zh_json_get(zh_json_get(spec, "sessionAffinityConfig"),
			  "clientIP");
	zh_json_path(at, sizeof(at), where, "sessionAffinityConfig.clientIP");
	rc = zh_json_int(cfg, at, "timeoutSeconds", 0, TIMEOUT_RANGE, &t, e);
	if (rc)
		return rc;
	*timeout = (uint32_t)t;
	return 0;
}

/*
 * @s holds the cluster IP's backends; add the node port's (external
 * policy) and weigh each backend for the table it belongs to: weight for
 * the cluster IP's, np_weight for the node port's. One in neither keeps
 * its flows (terminating).
 */
static int k8s_np_backends(const struct zh_svc_k8s *k,
			   const struct k8s_svc_info *si, const char *pname,
			   uint8_t proto, struct zh_service *s)
{
	struct zh_service np = { .vip = s->vip };
	struct zh_svc_backend *u;
	size_t i = 0, j = 0, n = 0;
	int rc;

	rc = k8s_backends(k, si->ns, si->name, s->vip.family, pname, proto,
			  si->etp_local, &np);
	u = rc ? NULL : calloc(s->n_backends + np.n_backends + 1, sizeof(*u));
	if (!u) {
		free(np.backends);
		return rc ? rc : -ENOMEM;
	}
	while (i < s->n_backends || j < np.n_backends) {
		int c = i == s->n_backends ?
				1 :
			j == np.n_backends ?
				-1 :
				zh_svc_backend_cmp(&s->backends[i],
						   &np.backends[j]);
		const struct zh_svc_backend *in = c <= 0 ? &s->backends[i] :
							   &np.backends[j];
		bool a = c <= 0 && s->backends[i].state == ZH_EP_READY;
		bool b = c >= 0 && np.backends[j].state == ZH_EP_READY;

		u[n] = *in;
		u[n].weight = a;
		u[n].np_weight = b;
		u[n].state = a || b ? ZH_EP_READY : ZH_EP_TERMINATING;
		n++;
		i += c <= 0;
		j += c >= 0;
	}
	free(s->backends);
	free(np.backends);
	s->backends = u;
	s->n_backends = n;
	s->np_own = true;
	return 0;
}

/* One spec.ports entry: one service per cluster IP. */
static int k8s_service_port(const struct zh_svc_k8s *k,
			    const struct k8s_svc_info *si, const json_t *pv,
			    const char *where, size_t idx,
			    struct zh_svc_build *b, struct zh_json_err *e)
{
	char at[ZH_JSON_PATH_MAX], origin[ZH_SVC_ORIGIN_MAX];
	long long port, nodeport = 0;
	const char *pname;
	uint8_t proto;
	size_t j;
	int rc;

	zh_json_path(at, sizeof(at), where, "ports[%zu]", idx);
	rc = zh_json_check(pv, at, JSON_OBJECT, e);
	if (!rc)
		rc = zh_json_str(pv, at, "name", 0, &pname, e);
	if (!rc)
		rc = k8s_proto(pv, at, &proto, e);
	if (!rc)
		rc = zh_json_int(pv, at, "port", ZH_JSON_REQUIRED, PORT_RANGE,
				 &port, e);
	if (!rc)
		rc = zh_json_int(pv, at, "nodePort", 0, PORT_RANGE, &nodeport,
				 e);
	if (rc)
		return rc;
	if (!si->has_nodeport)
		nodeport = 0;
	if (!pname)
		pname = "";
	if (proto == ZH_IPPROTO_SCTP) {
		/* kube-proxy balances SCTP; we do not (yet): say so. */
		char key[160], msg[320];

		snprintf(key, sizeof(key), "%s/%s", si->ns, si->name);
		snprintf(
			msg, sizeof(msg),
			"Service %s: spec.ports[%zu]: SCTP is not supported by zerohop; this port is not served",
			key, idx);
		if (k->note)
			k->note(k->note_arg, "Service", key, "unsupported",
				msg);
		return 0;
	}

	snprintf(origin, sizeof(origin), "Service %s/%s spec.ports[%zu]",
		 si->ns, si->name, idx);
	for (j = 0; j < si->n_vips; j++) {
		struct zh_service s = {
			.vip = si->vips[j],
			.port = (uint16_t)port,
			.proto = proto,
			/* The node port belongs to the cluster IPs. */
			.nodeport = j < si->n_cluster ? (uint16_t)nodeport : 0,
			.etp_local = k->node && si->etp_local,
			.affinity_timeout = si->affinity,
		};
		int len = snprintf(s.name, sizeof(s.name), "%s/%s%s%s", si->ns,
				   si->name, pname[0] ? ":" : "", pname);

		if (len < 0 || (size_t)len >= sizeof(s.name))
			return perr(e,
				    "Service %s/%s: name longer than %zu bytes",
				    si->ns, si->name, sizeof(s.name) - 1);
		/* Traffic policies Local: this node's endpoints only, for
		 * the cluster IPs (internal) or the others (external). */
		rc = k8s_backends(
			k, si->ns, si->name, s.vip.family, pname, proto,
			k->node && (j < si->n_cluster ? si->itp_local :
							si->etp_local),
			&s);
		/* A node port whose policy differs from the cluster IP's:
		 * a table of its own. */
		if (!rc && s.nodeport && k->node &&
		    si->itp_local != si->etp_local)
			rc = k8s_np_backends(k, si, pname, proto, &s);
		if (rc) {
			free(s.backends);
			return rc;
		}
		snprintf(at, sizeof(at), "Service %s/%s: ", si->ns, si->name);
		rc = zh_svc_build_add(b, &s, at, origin, e->buf, e->len);
		if (rc)
			return rc;
	}
	return 0;
}

static int service(struct zh_svc_k8s *k, const json_t *item,
		   const char *item_where, struct zh_svc_build *b,
		   struct zh_json_err *e)
{
	static const char *const types[] = { "ClusterIP", "NodePort",
					     "LoadBalancer", "ExternalName",
					     NULL };
	struct k8s_svc_info si = { 0 };
	json_t *spec, *ports = NULL, *pv;
	char where[160];
	int type = 0;
	size_t i;
	int rc;

	rc = k8s_meta(item, item_where, &si.ns, &si.name, e);
	if (rc)
		return rc;
	snprintf(where, sizeof(where), "Service %s/%s: ", si.ns, si.name);
	rc = zh_json_object(item, where, "spec", ZH_JSON_REQUIRED, &spec, e);
	if (rc)
		return rc;
	snprintf(where, sizeof(where), "Service %s/%s: spec", si.ns, si.name);

	/* The index of the word: absent is ClusterIP. */
	rc = zh_json_enum(spec, where, "type", 0, types,
			  "ClusterIP, NodePort, LoadBalancer or ExternalName",
			  &type, e);
	if (rc)
		return rc;
	si.has_nodeport = type == 1 || type == 2;
	/*
	 * ExternalName (a DNS alias), headless and IP-less services get no
	 * VIP: their ports are checked, nothing more.
	 */
	if (type != 3)
		rc = k8s_vips(spec, where, si.vips, &si.n_vips, e);
	si.n_cluster = si.n_vips;
	if (!rc && si.n_vips)
		rc = k8s_extra_vips(item, where, type == 2, &si, e);
	if (!rc)
		rc = k8s_affinity(spec, where, &si.affinity, e);
	if (!rc)
		rc = k8s_policy(spec, where, "internalTrafficPolicy",
				&si.itp_local, e);
	if (!rc)
		rc = k8s_policy(spec, where, "externalTrafficPolicy",
				&si.etp_local, e);
	if (!rc)
		rc = zh_json_array(spec, where, "ports", 0, &ports, e);
	if (rc || !ports)
		return rc;
	if (!k->sorted && k->n)
		qsort(k->slices, k->n, sizeof(*k->slices), slice_sort_cmp);
	k->sorted = true;
	json_array_foreach (ports, i, pv) {
		rc = k8s_service_port(k, &si, pv, where, i, b, e);
		if (rc)
			return rc;
	}
	return 0;
}

int zh_svc_k8s_service(struct zh_svc_k8s *k, const json_t *svc,
		       const char *where, struct zh_svc_build *b, char *err,
		       size_t errlen)
{
	struct zh_json_err e = { .buf = err, .len = errlen };

	return service(k, svc, where, b, &e);
}

/*
 * A List (kubectl's, whose items say their kind), a ServiceList or an
 * EndpointSliceList (the API's, whose items may not), or one object.
 */
int zh_svc_k8s_parse(const json_t *root, struct zh_svc_build *b, char *err,
		     size_t errlen)
{
	struct zh_json_err e = { .buf = err, .len = errlen };
	const char *kind, *item_kind = NULL;
	struct zh_svc_k8s k = { 0 };
	json_t *items, *item;
	char where[32];
	size_t i, n;
	int rc;

	rc = zh_json_str(root, "", "kind", ZH_JSON_REQUIRED, &kind, &e);
	if (rc)
		return rc;
	if (!strcmp(kind, "List") || !strcmp(kind, "ServiceList") ||
	    !strcmp(kind, "EndpointSliceList")) {
		if (strcmp(kind, "List"))
			item_kind = !strcmp(kind, "ServiceList") ?
					    "Service" :
					    "EndpointSlice";
		rc = zh_json_array(root, "", "items", 0, &items, &e);
		if (rc)
			return rc;
		n = json_array_size(items);
	} else if (!strcmp(kind, "Service") || !strcmp(kind, "EndpointSlice")) {
		items = NULL;
		n = 1;
	} else {
		return perr(
			&e,
			"kind \"%s\": not a List, Service or EndpointSlice (kubectl get services,endpointslices -A -o json)",
			kind);
	}

	/* The slices first: a Service needs all of them. */
	for (i = 0; i < n && !rc; i++) {
		item = items ? json_array_get(items, i) : (json_t *)root;
		snprintf(where, sizeof(where), "items[%zu]", i);
		rc = zh_json_check(item, where, JSON_OBJECT, &e);
		if (!rc)
			rc = zh_json_str(item, where, "kind",
					 item_kind ? 0 : ZH_JSON_REQUIRED,
					 &kind, &e);
		if (rc)
			break;
		if (!kind)
			kind = item_kind;
		if (!strcmp(kind, "EndpointSlice"))
			rc = slice_add(&k, item, where, &e);
	}
	for (i = 0; i < n && !rc; i++) {
		item = items ? json_array_get(items, i) : (json_t *)root;
		kind = json_string_value(zh_json_get(item, "kind"));
		if (!kind)
			kind = item_kind;
		snprintf(where, sizeof(where), "items[%zu]", i);
		if (!strcmp(kind, "Service"))
			rc = service(&k, item, where, b, &e);
	}
	zh_svc_k8s_free(&k);
	return rc;
}

int zh_svc_k8s_render(const json_t *services, const json_t *slices,
		      struct zh_svc_set *out, zh_svc_k8s_note_fn *note,
		      void *arg)
{
	struct zh_svc_k8s_sync *s = zh_svc_k8s_sync_new(note, arg);
	int rc = s ? 0 : -ENOMEM;

	*out = (struct zh_svc_set){ 0 };
	if (!rc)
		rc = zh_svc_k8s_sync_reset(s, services, slices);
	if (!rc)
		rc = zh_svc_k8s_sync_render(s, services, slices);
	if (!rc)
		rc = zh_svc_k8s_sync_all(s, out);
	zh_svc_k8s_sync_free(s);
	return rc;
}
