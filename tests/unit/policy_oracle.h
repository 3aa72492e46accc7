/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_oracle.h - NetworkPolicy judged straight from the JSON objects,
 * rule by rule, as the Kubernetes documentation states it, with nothing
 * shared with the compiler (user/lib/policy*.c): its own selector
 * matching, CIDR test and port rules. Slow and obvious on purpose: the
 * unit test and the fuzz harness hold the compiled model to it.
 *
 * Scope, as the compiler's verdict has it: this node (@node) judges the
 * egress of its own pods and the ingress of its own pods; its own
 * hostNetwork pods' addresses (the node's) always pass. Objects must be
 * valid (the compiler's rejections are not modelled).
 */
#ifndef ZH_TEST_POLICY_ORACLE_H
#define ZH_TEST_POLICY_ORACLE_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

/* A field, null being absent (as the API server reads it). */
static inline const json_t *oracle_get(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_null(v) ? NULL : v;
}

struct oracle_ip {
	int family; /* AF_INET, AF_INET6 */
	uint8_t b[16];
};

static inline bool oracle_ip_parse(const char *s, struct oracle_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (s && inet_pton(AF_INET, s, ip->b) == 1) {
		ip->family = AF_INET;
		return true;
	}
	if (s && inet_pton(AF_INET6, s, ip->b) == 1) {
		ip->family = AF_INET6;
		return true;
	}
	return false;
}

/* "a.b.c.d/n" holds @ip: compare the first n bits one by one. */
static inline bool oracle_cidr_has(const char *cidr, const struct oracle_ip *ip)
{
	char addr[64];
	const char *slash = strchr(cidr, '/');
	struct oracle_ip net;
	int n;

	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return false;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = 0;
	n = atoi(slash + 1);
	if (!oracle_ip_parse(addr, &net) || net.family != ip->family)
		return false;
	for (int bit = 0; bit < n; bit++) {
		int byte = bit / 8, shift = 7 - bit % 8;

		if (((net.b[byte] >> shift) & 1) !=
		    ((ip->b[byte] >> shift) & 1))
			return false;
	}
	return true;
}

static inline bool oracle_sel_match(const json_t *sel, const json_t *labels)
{
	const json_t *ml = json_object_get(sel, "matchLabels");
	const json_t *me = json_object_get(sel, "matchExpressions");
	const char *k;
	json_t *v, *e;
	size_t i;

	json_object_foreach ((json_t *)ml, k, v) {
		json_t *have = json_object_get(labels, k);

		if (!have || !json_equal(have, v))
			return false;
	}
	json_array_foreach (me, i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *op =
			json_string_value(json_object_get(e, "operator"));
		json_t *have = json_object_get(labels, key);
		bool in_values = false;
		size_t x;
		json_t *val;

		json_array_foreach (json_object_get(e, "values"), x, val)
			if (have && json_equal(have, val))
				in_values = true;
		if (!strcmp(op, "In") && !in_values)
			return false;
		if (!strcmp(op, "NotIn") && in_values)
			return false;
		if (!strcmp(op, "Exists") && !have)
			return false;
		if (!strcmp(op, "DoesNotExist") && have)
			return false;
	}
	return true;
}

static inline const char *oracle_ns_of(const json_t *obj)
{
	const char *ns = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "namespace"));

	return ns ? ns : "default";
}

/* A namespace's labels, with kubernetes.io/metadata.name (new ref). */
static inline json_t *oracle_ns_labels(const json_t *namespaces, const char *ns)
{
	const char *k;
	json_t *o, *labels = NULL;

	json_object_foreach ((json_t *)namespaces, k, o) {
		const json_t *md = json_object_get(o, "metadata");
		const char *name =
			json_string_value(json_object_get(md, "name"));

		if (name && !strcmp(name, ns)) {
			const json_t *l = json_object_get(md, "labels");

			labels = json_is_object(l) ? json_deep_copy(l) : NULL;
		}
	}
	if (!labels)
		labels = json_object();
	json_object_set_new(labels, "kubernetes.io/metadata.name",
			    json_string(ns));
	return labels;
}

/* The pod (not hostNetwork, not ended) with address @ip, or NULL. */
static inline const json_t *
oracle_pod_of(const json_t *pods, const struct oracle_ip *ip, bool host_network)
{
	const char *k;
	json_t *p;

	json_object_foreach ((json_t *)pods, k, p) {
		const json_t *st = json_object_get(p, "status");
		const char *phase =
			json_string_value(json_object_get(st, "phase"));
		size_t i;
		json_t *a;

		if (json_is_true(json_object_get(json_object_get(p, "spec"),
						 "hostNetwork")) !=
		    host_network)
			continue;
		if (phase &&
		    (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
			continue;
		json_array_foreach (json_object_get(st, "podIPs"), i, a) {
			struct oracle_ip x;

			if (oracle_ip_parse(
				    json_string_value(json_object_get(a, "ip")),
				    &x) &&
			    x.family == ip->family && !memcmp(x.b, ip->b, 16))
				return p;
		}
		/* The old single address, when there is no list. */
		if (!json_array_size(json_object_get(st, "podIPs"))) {
			struct oracle_ip x;

			if (oracle_ip_parse(json_string_value(json_object_get(
						    st, "podIP")),
					    &x) &&
			    x.family == ip->family && !memcmp(x.b, ip->b, 16))
				return p;
		}
	}
	return NULL;
}

static inline bool oracle_on_node(const json_t *pod, const char *node)
{
	const char *n = json_string_value(
		json_object_get(json_object_get(pod, "spec"), "nodeName"));

	return n && node && !strcmp(n, node);
}

/*
 * Is @ip this node's: the address of a hostNetwork pod of @node? Any such
 * pod, whatever other pods claim it too (another node's hostNetwork pod,
 * or one not scheduled yet, with the same address is not the node's, and
 * does not hide this node's).
 */
static inline bool oracle_node_addr(const json_t *pods,
				    const struct oracle_ip *ip,
				    const char *node)
{
	const char *k;
	json_t *p;

	json_object_foreach ((json_t *)pods, k, p) {
		json_t *one;
		const json_t *hit;
		bool on;

		if (!json_is_true(json_object_get(json_object_get(p, "spec"),
						  "hostNetwork")) ||
		    !oracle_on_node(p, node))
			continue;
		/* (oracle_pod_of() on this pod alone: its addresses as it
		 * reads them.) */
		one = json_object();
		json_object_set(one, k, p);
		hit = oracle_pod_of(one, ip, true);
		on = hit != NULL;
		json_decref(one);
		if (on)
			return true;
	}
	return false;
}

static inline int oracle_proto(const json_t *p)
{
	const char *s = json_string_value(p);

	if (!s || !strcmp(s, "TCP"))
		return IPPROTO_TCP;
	if (!strcmp(s, "UDP"))
		return IPPROTO_UDP;
	if (!strcmp(s, "SCTP"))
		return IPPROTO_SCTP;
	return -1;
}

/* A peer of a rule of a policy in @pol_ns matches the address @ip (of
 * @pod, NULL if no pod has it). */
static inline bool oracle_peer(const json_t *peer, const char *pol_ns,
			       const struct oracle_ip *ip, const json_t *pod,
			       const json_t *namespaces)
{
	const json_t *ib = oracle_get(peer, "ipBlock");
	const json_t *ps = oracle_get(peer, "podSelector");
	const json_t *nss = oracle_get(peer, "namespaceSelector");
	size_t i;
	json_t *ex;

	if (ib) {
		if (!oracle_cidr_has(
			    json_string_value(json_object_get(ib, "cidr")), ip))
			return false;
		json_array_foreach (json_object_get(ib, "except"), i, ex)
			if (oracle_cidr_has(json_string_value(ex), ip))
				return false;
		return true;
	}
	if (!pod)
		return false;
	if (nss) {
		json_t *l = oracle_ns_labels(namespaces, oracle_ns_of(pod));
		bool ok = oracle_sel_match(nss, l);

		json_decref(l);
		if (!ok)
			return false;
	} else if (strcmp(oracle_ns_of(pod), pol_ns)) {
		return false;
	}
	return !ps ||
	       oracle_sel_match(
		       ps, json_object_get(json_object_get(pod, "metadata"),
					   "labels"));
}

/* A rule's port list admits @proto/@port on destination pod @dst. */
static inline bool oracle_ports(const json_t *ports, int proto, int port,
				const json_t *dst)
{
	size_t i;
	json_t *p;

	if (!json_array_size(ports))
		return true;
	json_array_foreach (ports, i, p) {
		const json_t *num = oracle_get(p, "port");
		const json_t *end = oracle_get(p, "endPort");
		const json_t *c;
		size_t ci;

		if (oracle_proto(json_object_get(p, "protocol")) != proto)
			continue;
		if (!num)
			return true;
		if (json_is_integer(num)) {
			json_int_t lo = json_integer_value(num);
			json_int_t hi = end ? json_integer_value(end) : lo;

			if (port >= lo && port <= hi)
				return true;
			continue;
		}
		json_array_foreach (
			json_object_get(json_object_get(dst, "spec"),
					"containers"),
			ci, c) {
			size_t pi;
			json_t *cp;

			json_array_foreach (json_object_get(c, "ports"), pi,
					    cp) {
				const char *name = json_string_value(
					json_object_get(cp, "name"));

				if (name &&
				    !strcmp(name, json_string_value(num)) &&
				    oracle_proto(json_object_get(
					    cp, "protocol")) == proto &&
				    json_integer_value(json_object_get(
					    cp, "containerPort")) == port)
					return true;
			}
		}
	}
	return false;
}

static inline bool oracle_has_type(const json_t *spec, const char *type)
{
	const json_t *types = json_object_get(spec, "policyTypes");
	size_t i;
	json_t *t;

	if (!json_array_size(types))
		return !strcmp(type, "Ingress") ||
		       json_array_size(json_object_get(spec, "egress")) > 0;
	json_array_foreach (types, i, t)
		if (!strcmp(json_string_value(t), type))
			return true;
	return false;
}

/*
 * Direction @dir ("Ingress": the policies of @subject, rules "from"
 * matching @peer_ip; "Egress": "to" matching @peer_ip) allows the
 * connection; @dst is the destination pod (named ports).
 */
static inline bool oracle_dir(const json_t *policies, const json_t *namespaces,
			      const json_t *subject, const char *dir,
			      const struct oracle_ip *peer_ip,
			      const json_t *peer_pod, const json_t *dst,
			      int proto, int port)
{
	bool isolated = false;
	const char *k;
	json_t *pol;
	const char *rules_key = !strcmp(dir, "Ingress") ? "ingress" : "egress";
	const char *peers_key = !strcmp(dir, "Ingress") ? "from" : "to";

	json_object_foreach ((json_t *)policies, k, pol) {
		const json_t *spec = json_object_get(pol, "spec");
		const char *ns = oracle_ns_of(pol);
		size_t i;
		json_t *rule;

		if (strcmp(ns, oracle_ns_of(subject)) ||
		    !oracle_sel_match(
			    json_object_get(spec, "podSelector"),
			    json_object_get(json_object_get(subject, "metadata"),
					    "labels")) ||
		    !oracle_has_type(spec, dir))
			continue;
		isolated = true;
		json_array_foreach (json_object_get(spec, rules_key), i, rule) {
			const json_t *peers = json_object_get(rule, peers_key);
			bool peer_ok = !json_array_size(peers);
			size_t x;
			json_t *peer;

			json_array_foreach (peers, x, peer)
				if (oracle_peer(peer, ns, peer_ip, peer_pod,
						namespaces))
					peer_ok = true;
			if (peer_ok &&
			    oracle_ports(json_object_get(rule, "ports"), proto,
					 port, dst))
				return true;
		}
	}
	return !isolated;
}

/* @src -> @dst (@proto, destination @port) is allowed, as @node judges. */
static inline bool oracle_allowed(const json_t *pods, const json_t *namespaces,
				  const json_t *policies, const char *node,
				  const char *src, const char *dst, int proto,
				  int port)
{
	struct oracle_ip s, d;
	const json_t *sp, *dp;

	if (!oracle_ip_parse(src, &s) || !oracle_ip_parse(dst, &d))
		return false;
	if (oracle_node_addr(pods, &s, node) ||
	    oracle_node_addr(pods, &d, node))
		return true; /* this node itself */
	sp = oracle_pod_of(pods, &s, false);
	dp = oracle_pod_of(pods, &d, false);
	if (sp && oracle_on_node(sp, node) &&
	    !oracle_dir(policies, namespaces, sp, "Egress", &d, dp, dp, proto,
			port))
		return false;
	if (dp && oracle_on_node(dp, node) &&
	    !oracle_dir(policies, namespaces, dp, "Ingress", &s, sp, dp, proto,
			port))
		return false;
	return true;
}

#endif /* ZH_TEST_POLICY_ORACLE_H */
