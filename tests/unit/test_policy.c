// SPDX-License-Identifier: Apache-2.0
/*
 * test_policy.c - the NetworkPolicy compiler (user/lib/policy*.c), judged
 * by the verdict of the maps it compiles (zh_pol_verdict(), the lookups
 * the datapath will do), on NETWORKPOLICY-NOTES section 7's cases (2-8,
 * 12, 16, 17) over a small cluster, and against an oracle that reads the
 * Kubernetes objects directly (policy_oracle.h) over a random corpus with
 * a fixed seed. The writes of zh_pol_diff() are replayed on a model of the
 * maps, checked after each one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <jansson.h>

#include "policy.h"
#include "policy_oracle.h"
#include "rng.h"
#include "util.h"

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define SCTP IPPROTO_SCTP
#define ICMP 1
#define NODE "n1"

struct world {
	json_t *pods, *nss, *pols;
};

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

static void ns_add(struct world *w, const char *name, const char *labels)
{
	json_t *o = json_pack("{s:s, s:{s:s, s:o}}", "kind", "Namespace",
			      "metadata", "name", name, "labels",
			      parse(labels));

	json_object_set_new(w->nss, name, o);
}

/* @ports: a JSON array of containerPorts; @ip6 may be NULL. */
static void pod_add(struct world *w, const char *ns, const char *name,
		    const char *labels, const char *ip4, const char *ip6,
		    const char *ports, const char *node, bool host)
{
	json_t *ips = json_array(), *o;
	char key[128];

	if (ip4)
		json_array_append_new(ips, json_pack("{s:s}", "ip", ip4));
	if (ip6)
		json_array_append_new(ips, json_pack("{s:s}", "ip", ip6));
	o = json_pack(
		"{s:s, s:{s:s, s:s, s:o}, s:{s:s, s:b, s:[{s:s, s:o}]}, s:{s:s, s:O, s:o}}",
		"kind", "Pod", "metadata", "name", name, "namespace", ns,
		"labels", parse(labels), "spec", "nodeName", node,
		"hostNetwork", host, "containers", "name", "c", "ports",
		parse(ports ? ports : "[]"), "status", "phase", "Running",
		"podIP", json_array_get(ips, 0), "podIPs", ips);
	assert_non_null(o);
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	json_object_set_new(w->pods, key, o);
}

static void pol_add(struct world *w, const char *ns, const char *name,
		    const char *spec)
{
	char key[128];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	json_object_set_new(w->pols, key,
			    json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "kind",
				      "NetworkPolicy", "apiVersion",
				      "networking.k8s.io/v1", "metadata",
				      "name", name, "namespace", ns, "spec",
				      parse(spec)));
}

static void world_init(struct world *w)
{
	w->pods = json_object();
	w->nss = json_object();
	w->pols = json_object();
}

static void world_free(struct world *w)
{
	json_decref(w->pods);
	json_decref(w->nss);
	json_decref(w->pols);
}

/*
 * The cluster of the named cases: namespaces x, y (team=blue), z
 * (team=red); pods a, b, c... on node n1 (z/b on n2); the node's
 * kubelet as a hostNetwork pod.
 */
static void world_base(struct world *w)
{
	world_init(w);
	ns_add(w, "x", "{\"ns\": \"x\"}");
	ns_add(w, "y", "{\"ns\": \"y\", \"team\": \"blue\"}");
	ns_add(w, "z", "{\"ns\": \"z\", \"team\": \"red\"}");
	pod_add(w, "x", "a", "{\"app\": \"a\"}", "10.0.0.1", "fd00::1",
		"[{\"name\": \"serve-80\", \"containerPort\": 80},"
		" {\"name\": \"serve-81-udp\", \"containerPort\": 81, \"protocol\": \"UDP\"},"
		" {\"name\": \"serve-82-sctp\", \"containerPort\": 82, \"protocol\": \"SCTP\"},"
		" {\"name\": \"http\", \"containerPort\": 8080, \"protocol\": \"TCP\"}]",
		NODE, false);
	pod_add(w, "x", "b", "{\"app\": \"b\"}", "10.0.0.2", "fd00::2",
		"[{\"name\": \"http\", \"containerPort\": 9090}]", NODE, false);
	pod_add(w, "x", "c", "{\"app\": \"c\"}", "10.0.0.3", NULL, NULL, NODE,
		false);
	pod_add(w, "y", "a", "{\"app\": \"a\"}", "10.0.1.1", "fd00::11",
		"[{\"name\": \"http\", \"containerPort\": 8080}]", NODE, false);
	pod_add(w, "y", "b", "{\"app\": \"b\"}", "10.0.1.2", NULL, NULL, NODE,
		false);
	pod_add(w, "z", "a", "{\"app\": \"a\"}", "10.0.2.1", NULL, NULL, NODE,
		false);
	pod_add(w, "z", "b", "{\"app\": \"b\"}", "10.0.2.2", NULL, NULL, "n2",
		false);
	pod_add(w, "kube-system", "kubelet-probe", "{}", "192.168.0.10", NULL,
		NULL, NODE, true);
}

/* The same maps, numbers and all. */
static bool models_equal(const struct zh_pol_model *a,
			 const struct zh_pol_model *b)
{
	if (a->n_cells != b->n_cells || a->n_ipc != b->n_ipc ||
	    a->n_lpm != b->n_lpm || a->n_eps != b->n_eps ||
	    a->n_ids != b->n_ids || a->n_classes != b->n_classes)
		return false;
	for (size_t i = 0; i < a->n_cells; i++)
		if (memcmp(&a->cells[i].key, &b->cells[i].key,
			   sizeof(a->cells[i].key)) ||
		    memcmp(&a->cells[i].val, &b->cells[i].val,
			   sizeof(a->cells[i].val)))
			return false;
	return (!a->n_ipc ||
		!memcmp(a->ipc, b->ipc, a->n_ipc * sizeof(*a->ipc))) &&
	       (!a->n_lpm ||
		!memcmp(a->lpm, b->lpm, a->n_lpm * sizeof(*a->lpm))) &&
	       (!a->n_eps ||
		!memcmp(a->eps, b->eps, a->n_eps * sizeof(*a->eps))) &&
	       (!a->n_ids ||
		!memcmp(a->ids, b->ids, a->n_ids * sizeof(*a->ids)));
}

/*
 * Every compile from a previous model is incremental (it reuses what
 * @prev cached): each one here is checked against a compile of the same
 * input from the same @prev with no cache, which must give the same
 * model. Every test that compiles a change checks incrementality so.
 */
static struct zh_pol_model *compile_opts(struct world *w,
					 const struct zh_pol_opts *o,
					 const struct zh_pol_model *prev)
{
	struct zh_pol_model *m = NULL, *full = NULL;
	struct zh_pol_opts fo = *o;

	assert_int_equal(zh_pol_compile(w->pods, w->nss, w->pols, o, prev, &m),
			 0);
	assert_non_null(m);
	if (prev && !o->no_cache) {
		fo.no_cache = true;
		assert_int_equal(zh_pol_compile(w->pods, w->nss, w->pols, &fo,
						prev, &full),
				 0);
		if (!models_equal(m, full))
			fail_msg(
				"an incremental compile differs from a full one");
		zh_pol_model_free(full);
	}
	return m;
}

static struct zh_pol_model *compile(struct world *w,
				    const struct zh_pol_model *prev)
{
	struct zh_pol_opts o = { .node = NODE };

	return compile_opts(w, &o, prev);
}

/* "x/a" is that pod's first address ("x/a6": its IPv6 one); else an
 * address. */
static const char *addr_of(struct world *w, const char *s, char *buf)
{
	char key[64];
	size_t n = strlen(s);
	bool v6 = n > 1 && s[n - 1] == '6' && strchr(s, '/');
	const json_t *ips;

	if (!strchr(s, '/'))
		return s;
	snprintf(key, sizeof(key), "%.*s", (int)(v6 ? n - 1 : n), s);
	ips = json_object_get(json_object_get(json_object_get(w->pods, key),
					      "status"),
			      "podIPs");
	if (!ips)
		fail_msg("no pod %s", key);
	snprintf(buf, 64, "%s",
		 json_string_value(json_object_get(
			 json_array_get(ips, v6 ? 1 : 0), "ip")));
	return buf;
}

struct expect {
	const char *src, *dst;
	int proto, port;
	bool allow;
};

#define A true
#define D false

/* Each row: the model's verdict, and the oracle's, as the row says. */
static void check_rows(struct world *w, const struct zh_pol_model *m,
		       const struct expect *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char b1[64], b2[64];
		const char *s = addr_of(w, rows[i].src, b1);
		const char *d = addr_of(w, rows[i].dst, b2);
		struct zh_ep_key ks, kd;
		enum zh_pol_verdict v;
		bool o;

		assert_int_equal(zh_pol_key_parse(s, &ks), 0);
		assert_int_equal(zh_pol_key_parse(d, &kd), 0);
		v = zh_pol_verdict(m, &ks, &kd, (uint8_t)rows[i].proto,
				   (uint16_t)rows[i].port);
		o = oracle_allowed(w->pods, w->nss, w->pols, NODE, s, d,
				   rows[i].proto, rows[i].port);
		if ((v == ZH_POL_ALLOW) != rows[i].allow || o != rows[i].allow)
			fail_msg(
				"row %zu: %s -> %s proto %d port %d: want %s, model %s, oracle %s",
				i, rows[i].src, rows[i].dst, rows[i].proto,
				rows[i].port, rows[i].allow ? "allow" : "deny",
				v == ZH_POL_ALLOW ? "allow" :
				v == ZH_POL_AUDIT ? "audit" :
						    "deny",
				o ? "allow" : "deny");
	}
}

/* A case: policies (namespace, name, spec) and rows. */
struct pcase {
	const char *name;
	struct {
		const char *ns, *name, *spec;
	} pols[4];
	struct expect rows[16];
};

static void run_cases(const struct pcase *cases, size_t n)
{
	for (size_t c = 0; c < n; c++) {
		struct world w;
		struct zh_pol_model *m;
		size_t rows = 0;

		world_base(&w);
		for (int p = 0; p < 4 && cases[c].pols[p].ns; p++)
			pol_add(&w, cases[c].pols[p].ns, cases[c].pols[p].name,
				cases[c].pols[p].spec);
		m = compile(&w, NULL);
		if (m->n_rejects)
			fail_msg("%s: rejected %s: %s", cases[c].name,
				 m->rejects[0].key, m->rejects[0].reason);
		while (rows < 16 && cases[c].rows[rows].src)
			rows++;
		print_message("case %s: %zu rows, %zu cells\n", cases[c].name,
			      rows, m->n_cells);
		check_rows(&w, m, cases[c].rows, rows);
		zh_pol_model_free(m);
		world_free(&w);
	}
}

/* --- section 7, item 2: default deny ------------------------------------ */

static void test_default_deny(void **state)
{
	static const struct pcase cases[] = {
		{ "deny-ingress",
		  { { "x", "deny",
		      "{\"podSelector\": {}, \"policyTypes\": [\"Ingress\"]}" } },
		  { { "y/a", "x/a", TCP, 80, D },
		    { "x/b", "x/a", TCP, 80, D },
		    { "x/b", "x/a", ICMP, 0, D },
		    { "x/a", "y/a", TCP, 80, A },
		    { "8.8.8.8", "x/a", UDP, 53, D },
		    { "192.168.0.10", "x/a", TCP, 80, A }, /* the node */
		    { "y/a", "y/b", TCP, 80, A } } },
		{ "deny-egress",
		  { { "x", "deny",
		      "{\"podSelector\": {}, \"policyTypes\": [\"Egress\"]}" } },
		  { { "x/a", "y/a", TCP, 80, D },
		    { "x/a", "8.8.8.8", UDP, 53, D },
		    { "x/a6", "2001:db8::5", TCP, 443, D },
		    { "y/a", "x/a", TCP, 80, A },
		    { "x/a", "192.168.0.10", TCP, 10250, A } } },
		{ "deny-all",
		  { { "x", "deny",
		      "{\"podSelector\": {}, \"policyTypes\": [\"Ingress\", \"Egress\"]}" } },
		  { { "x/a", "x/b", TCP, 80, D },
		    { "y/a", "x/a", TCP, 80, D },
		    { "x/a", "y/a", TCP, 80, D },
		    { "y/a", "y/b", TCP, 80, A } } },
	};

	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

/* --- item 3: selectors --------------------------------------------------- */

static void test_selectors(void **state)
{
	static const struct pcase cases[] = {
		{ "podSelector",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}]}]}" } },
		  { { "x/b", "x/a", TCP, 80, A },
		    { "x/c", "x/a", TCP, 80, D },
		    { "y/b", "x/a", TCP, 80, D }, /* another namespace */
		    { "x/c", "x/b", TCP, 80, A }, /* x/b not selected */
		    { "x/b6", "x/a6", TCP, 80, A } } },
		{ "namespaceSelector",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"namespaceSelector\": {\"matchLabels\": {\"team\": \"blue\"}}}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, A },
		    { "y/b", "x/c", UDP, 53, A },
		    { "z/a", "x/a", TCP, 80, D },
		    { "x/b", "x/a", TCP, 80, D },
		    { "8.8.8.8", "x/a", TCP, 80, D } } },
		{ "and",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"namespaceSelector\": {\"matchLabels\": {\"team\": \"blue\"}}, \"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}]}]}" } },
		  { { "y/b", "x/a", TCP, 80, A },
		    { "y/a", "x/a", TCP, 80, D },
		    { "x/b", "x/a", TCP, 80, D },
		    { "z/b", "x/a", TCP, 80, D } } },
		{ "or",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"namespaceSelector\": {\"matchLabels\": {\"team\": \"blue\"}}}, {\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}]}]}" } },
		  { { "y/b", "x/a", TCP, 80, A },
		    { "y/a", "x/a", TCP, 80, A },
		    { "x/b", "x/a", TCP, 80, A },
		    { "x/c", "x/a", TCP, 80, D },
		    { "z/b", "x/a", TCP, 80, D } } },
		{ "empty-selectors",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"namespaceSelector\": {}}]}]}" },
		    { "x", "q",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {}}]}]}" } },
		  { { "z/a", "x/a", TCP, 80, A },
		    { "y/b", "x/a", TCP, 80, A },
		    { "8.8.8.8", "x/a", TCP, 80, D },
		    { "x/c", "x/b", TCP, 80, A },
		    { "y/a", "x/b", TCP, 80, D } } },
		{ "expressions",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"In\", \"values\": [\"a\"]}]}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"NotIn\", \"values\": [\"b\"]}]}}, {\"namespaceSelector\": {\"matchExpressions\": [{\"key\": \"kubernetes.io/metadata.name\", \"operator\": \"In\", \"values\": [\"z\"]}]}}]}]}" },
		    { "x", "q",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}, \"ingress\": [{\"from\": [{\"namespaceSelector\": {\"matchExpressions\": [{\"key\": \"team\", \"operator\": \"Exists\"}]}, \"podSelector\": {\"matchExpressions\": [{\"key\": \"tier\", \"operator\": \"DoesNotExist\"}]}}]}]}" } },
		  { { "x/c", "x/a", TCP, 80, A },
		    { "x/b", "x/a", TCP, 80, D },
		    { "z/a", "x/a", TCP, 80, A },
		    { "y/a", "x/a", TCP, 80, D },
		    { "y/a", "x/b", TCP, 80, A },
		    { "z/a", "x/b", TCP, 80, A },
		    { "x/a", "x/b", TCP, 80, D } } },
	};

	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

/* --- item 4: ports ------------------------------------------------------------ */

#define FROM_ALL "\"podSelector\": {}, \"ingress\": [{\"ports\": "

static void test_ports(void **state)
{
	static const struct pcase cases[] = {
		{ "tcp-default",
		  { { "x", "p", "{" FROM_ALL "[{\"port\": 80}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, A },
		    { "y/a", "x/a", UDP, 80, D },
		    { "y/a", "x/a", SCTP, 80, D },
		    { "y/a", "x/a", TCP, 81, D },
		    { "8.8.8.8", "x/a", TCP, 80, A } } },
		{ "protocol-only",
		  { { "x", "p", "{" FROM_ALL "[{\"protocol\": \"UDP\"}]}]}" } },
		  { { "y/a", "x/a", UDP, 53, A },
		    { "y/a", "x/a", UDP, 65535, A },
		    { "y/a", "x/a", TCP, 53, D },
		    { "y/a", "x/a", ICMP, 0, D } } },
		{ "sctp-never-tcp",
		  { { "x", "p",
		      "{" FROM_ALL
		      "[{\"protocol\": \"SCTP\", \"port\": 80}]}]}" } },
		  { { "y/a", "x/a", SCTP, 80, A },
		    { "y/a", "x/a", TCP, 80, D },
		    { "y/a", "x/a", UDP, 80, D } } },
		{ "endport-edges",
		  { { "x", "p",
		      "{" FROM_ALL
		      "[{\"port\": 32000, \"endPort\": 32768}]}]}" } },
		  { { "y/a", "x/a", TCP, 31999, D },
		    { "y/a", "x/a", TCP, 32000, A },
		    { "y/a", "x/a", TCP, 32768, A },
		    { "y/a", "x/a", TCP, 32769, D },
		    { "y/a", "x/a", UDP, 32000, D } } },
		{ "overlapping",
		  { { "x", "p",
		      "{" FROM_ALL
		      "[{\"port\": 100, \"endPort\": 200}, {\"port\": 150, \"endPort\": 300}]}]}" },
		    { "x", "q", "{" FROM_ALL "[{\"port\": 301}]}]}" } },
		  { { "y/a", "x/a", TCP, 99, D },
		    { "y/a", "x/a", TCP, 100, A },
		    { "y/a", "x/a", TCP, 250, A },
		    { "y/a", "x/a", TCP, 301, A },
		    { "y/a", "x/a", TCP, 302, D } } },
		{ "many-ports-bitmap",
		  { { "x", "p",
		      "{" FROM_ALL
		      "[{\"port\": 1}, {\"port\": 3}, {\"port\": 5}, {\"port\": 7}, {\"port\": 9}, {\"port\": 11}, {\"port\": 13}, {\"port\": 15}, {\"port\": 17}, {\"port\": 65535}]}]}" } },
		  { { "y/a", "x/a", TCP, 1, A },
		    { "y/a", "x/a", TCP, 2, D },
		    { "y/a", "x/a", TCP, 17, A },
		    { "y/a", "x/a", TCP, 18, D },
		    { "y/a", "x/a", TCP, 65535, A },
		    { "y/a", "x/a", UDP, 1, D } } },
		{ "no-ports-all-protocols",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"podSelector\": {}}], \"ports\": []}]}" } },
		  { { "x/b", "x/a", ICMP, 0, A },
		    { "x/b", "x/a", SCTP, 9, A },
		    { "y/b", "x/a", ICMP, 0, D } } },
	};

	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

/* --- item 5: named ports ----------------------------------------------- */

static void test_named_ports(void **state)
{
	static const struct pcase cases[] = {
		{ "ingress-per-pod",
		  { { "x", "p", "{" FROM_ALL "[{\"port\": \"http\"}]}]}" } },
		  { { "y/a", "x/a", TCP, 8080, A },
		    { "y/a", "x/a", TCP, 9090, D },
		    { "y/a", "x/b", TCP, 9090, A },
		    { "y/a", "x/b", TCP, 8080, D },
		    { "y/a", "x/c", TCP, 8080, D } } },
		{ "egress-clashing-numbers",
		  { { "y", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}, \"policyTypes\": [\"Egress\"], \"egress\": [{\"to\": [{\"namespaceSelector\": {}}], \"ports\": [{\"port\": \"http\"}]}]}" } },
		  { { "y/b", "x/a", TCP, 8080, A },
		    { "y/b", "x/a", TCP, 9090, D },
		    { "y/b", "x/b", TCP, 9090, A },
		    { "y/b", "x/b", TCP, 8080, D },
		    { "y/b", "x/c", TCP, 8080, D },
		    { "y/b", "y/a", TCP, 8080, A } } },
		{ "egress-named-to-anyone",
		  { { "y", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}, \"policyTypes\": [\"Egress\"], \"egress\": [{\"ports\": [{\"port\": \"http\"}]}]}" } },
		  { { "y/b", "x/a", TCP, 8080, A },
		    { "y/b", "x/b", TCP, 9090, A },
		    { "y/b", "x/b", TCP, 8080, D },
		    { "y/b", "8.8.8.8", TCP, 8080, D } } },
		{ "protocol-mismatch",
		  { { "x", "p",
		      "{" FROM_ALL
		      "[{\"port\": \"serve-80\", \"protocol\": \"UDP\"}, {\"port\": \"serve-81-udp\", \"protocol\": \"UDP\"}, {\"port\": \"serve-82-sctp\", \"protocol\": \"SCTP\"}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, D },
		    { "y/a", "x/a", UDP, 80, D },
		    { "y/a", "x/a", UDP, 81, A },
		    { "y/a", "x/a", TCP, 81, D },
		    { "y/a", "x/a", SCTP, 82, A },
		    { "y/a", "x/a", TCP, 82, D } } },
		{ "towards-ipblock",
		  { { "y", "p",
		      "{\"podSelector\": {}, \"policyTypes\": [\"Egress\"], \"egress\": [{\"to\": [{\"ipBlock\": {\"cidr\": \"8.8.8.0/24\"}}, {\"ipBlock\": {\"cidr\": \"10.0.0.0/24\"}}], \"ports\": [{\"port\": \"http\"}]}]}" } },
		  { { "y/b", "8.8.8.8", TCP, 8080, D },
		    { "y/b", "x/a", TCP, 8080, A }, /* a pod in the block */
		    { "y/b", "x/b", TCP, 8080, D } } },
	};

	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

/* --- item 6: ipBlock ------------------------------------------------------- */

static void test_ipblock(void **state)
{
	static const struct pcase cases[] = {
		{ "pod-32-128",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.1.1/32\"}}, {\"ipBlock\": {\"cidr\": \"fd00::2/128\"}}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, A },
		    { "y/a6", "x/a6", TCP, 80, D }, /* its IPv6 is not */
		    { "y/b", "x/a", TCP, 80, D },
		    { "x/b6", "x/a6", TCP, 80, A },
		    { "x/b", "x/a", TCP, 80, D } } },
		{ "except",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.0.0/16\", \"except\": [\"10.0.1.0/24\"]}}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, D },
		    { "z/a", "x/a", TCP, 80, A },
		    { "10.0.3.3", "x/a", TCP, 80, A },
		    { "10.1.0.5", "x/a", TCP, 80, D },
		    { "x/b6", "x/a6", TCP, 80, D } } },
		{ "except-allowed-by-another-policy",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.0.0/16\", \"except\": [\"10.0.1.0/24\"]}}]}]}" },
		    { "x", "q",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.1.0/24\"}}], \"ports\": [{\"port\": 80}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, A },
		    { "y/a", "x/a", TCP, 81, D },
		    { "10.0.1.99", "x/a", TCP, 80, A },
		    { "10.0.1.99", "x/a", UDP, 80, D } } },
		{ "per-peer-except",
		  { { "x", "p",
		      "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.0.0/16\", \"except\": [\"10.0.1.0/24\"]}}, {\"ipBlock\": {\"cidr\": \"10.0.1.0/25\"}}]}]}" } },
		  { { "10.0.1.1", "x/a", TCP, 80, A },
		    { "10.0.1.200", "x/a", TCP, 80, D },
		    { "10.0.5.5", "x/a", TCP, 80, A } } },
		{ "internet-not-rfc1918",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"policyTypes\": [\"Egress\"], \"egress\": [{\"to\": [{\"ipBlock\": {\"cidr\": \"0.0.0.0/0\", \"except\": [\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\"]}}]}]}" } },
		  { { "x/a", "8.8.8.8", TCP, 443, A },
		    { "x/a", "y/a", TCP, 80, D },
		    { "x/a", "172.16.5.5", TCP, 80, D },
		    { "x/a", "172.32.0.1", TCP, 80, A },
		    { "x/a", "192.168.0.10", TCP, 80, A }, /* the node */
		    { "x/a", "192.168.7.7", TCP, 80, D },
		    { "x/a6", "2001:db8::5", TCP, 80, D } } },
	};

	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

/* --- item 7: policyTypes --------------------------------------------------- */

static void test_policy_types(void **state)
{
	static const struct pcase cases[] = {
		{ "egress-rules-imply-egress",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"egress\": [{\"to\": [{\"podSelector\": {}}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, D }, /* Ingress, no rules */
		    { "x/a", "x/b", TCP, 80, A },
		    { "x/a", "y/a", TCP, 80, D } } },
		{ "empty-egress-is-ingress-only",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"egress\": []}" } },
		  { { "y/a", "x/a", TCP, 80, D },
		    { "x/a", "8.8.8.8", TCP, 80, A } } },
		{ "types-win-over-rules",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"policyTypes\": [\"Egress\"], \"ingress\": [{}]}" },
		    { "x", "q",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}, \"policyTypes\": [\"Ingress\"], \"egress\": [{\"to\": [{\"ipBlock\": {\"cidr\": \"1.1.1.1/32\"}}]}]}" } },
		  { { "y/a", "x/a", TCP, 80, A }, /* ingress not isolated */
		    { "x/a", "y/a", TCP, 80, D },
		    { "x/b", "8.8.8.8", TCP, 80, A },
		    { "y/a", "x/b", TCP, 80, D } } },
	};

	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

/* --- item 8: union ------------------------------------------------------------ */

static void test_union(void **state)
{
	static const struct pcase cases[] = {
		{ "union",
		  { { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}], \"ports\": [{\"port\": 80}]}]}" },
		    { "x", "q",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"c\"}}}], \"ports\": [{\"port\": 81}]}]}" } },
		  { { "x/b", "x/a", TCP, 80, A },
		    { "x/b", "x/a", TCP, 81, D },
		    { "x/c", "x/a", TCP, 81, A },
		    { "x/c", "x/a", TCP, 80, D } } },
		{ "allow-all-wins",
		  { { "x", "deny",
		      "{\"podSelector\": {}, \"policyTypes\": [\"Ingress\"]}" },
		    { "x", "p",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}], \"ports\": [{\"port\": 80}]}]}" },
		    { "x", "all",
		      "{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{}]}" } },
		  { { "x/c", "x/a", UDP, 5353, A },
		    { "8.8.8.8", "x/a", TCP, 1, A },
		    { "x/a", "x/b", TCP, 80, D } } },
		{ "client-egress-denies",
		  { { "y", "deny-out",
		      "{\"podSelector\": {}, \"policyTypes\": [\"Egress\"]}" },
		    { "x", "all-in",
		      "{\"podSelector\": {}, \"ingress\": [{}]}" } },
		  { { "y/a", "x/a", TCP, 80, D },
		    { "z/a", "x/a", TCP, 80, A } } },
	};

	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

/* --- the oracle on a random corpus ------------------------------------------- */

static const char *pick(const char *const *v, size_t n)
{
	return v[rng_next() % n];
}

#define PICK(v) pick(v, ARRAY_SIZE(v))

static json_t *rand_selector(bool ns)
{
	static const char *const pkeys[] = { "app", "tier", "ver" };
	static const char *const nkeys[] = { "team", "env",
					     "kubernetes.io/metadata.name" };
	static const char *const pvals[] = { "a", "b", "c", "fe", "be", "1" };
	static const char *const nvals[] = { "blue", "red", "prod", "dev",
					     "n0",   "n1",  "n2" };
	static const char *const ops[] = { "In", "NotIn", "Exists",
					   "DoesNotExist" };
	json_t *s = json_object();
	unsigned int n = (unsigned int)(rng_next() % 3);

	if (n) {
		json_t *ml = json_object();

		for (unsigned int i = 0; i < n - 1 + rng_next() % 2; i++)
			json_object_set_new(ml, ns ? PICK(nkeys) : PICK(pkeys),
					    json_string(ns ? PICK(nvals) :
							     PICK(pvals)));
		json_object_set_new(s, "matchLabels", ml);
	}
	if (rng_next() % 2) {
		json_t *me = json_array();

		for (unsigned int i = 0; i < 1 + rng_next() % 2; i++) {
			const char *op = PICK(ops);
			json_t *e = json_pack("{s:s, s:s}", "key",
					      ns ? PICK(nkeys) : PICK(pkeys),
					      "operator", op);

			if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
				json_t *vals = json_array();

				for (unsigned int v = 0; v < 1 + rng_next() % 2;
				     v++)
					json_array_append_new(
						vals,
						json_string(ns ? PICK(nvals) :
								 PICK(pvals)));
				json_object_set_new(e, "values", vals);
			}
			json_array_append_new(me, e);
		}
		json_object_set_new(s, "matchExpressions", me);
	}
	return s;
}

static json_t *rand_peer(void)
{
	static const char *const cidrs[] = { "10.0.0.0/16", "10.0.1.0/24",
					     "0.0.0.0/0",   "10.0.2.5/32",
					     "fd00::/64",   "fd00::4/126" };
	json_t *p = json_object();

	switch (rng_next() % 4) {
	case 0:
		json_object_set_new(p, "podSelector", rand_selector(false));
		break;
	case 1:
		json_object_set_new(p, "namespaceSelector",
				    rand_selector(true));
		break;
	case 2:
		json_object_set_new(p, "podSelector", rand_selector(false));
		json_object_set_new(p, "namespaceSelector",
				    rand_selector(true));
		break;
	default: {
		const char *c = PICK(cidrs);
		json_t *ib = json_pack("{s:s}", "cidr", c);

		if (rng_next() % 2) {
			json_t *ex = json_array();

			if (!strcmp(c, "10.0.0.0/16") ||
			    !strcmp(c, "0.0.0.0/0"))
				json_array_append_new(
					ex, json_string("10.0.1.0/24"));
			if (!strcmp(c, "10.0.1.0/24") ||
			    !strcmp(c, "0.0.0.0/0"))
				json_array_append_new(
					ex, json_string("10.0.1.2/31"));
			if (!strcmp(c, "fd00::/64"))
				json_array_append_new(
					ex, json_string("fd00::4/126"));
			json_object_set_new(ib, "except", ex);
		}
		json_object_set_new(p, "ipBlock", ib);
	}
	}
	return p;
}

static json_t *rand_ports(void)
{
	static const char *const protos[] = { NULL, "TCP", "UDP", "SCTP" };
	static const char *const names[] = { "http", "dns", "metrics" };
	static const int nums[] = { 53, 80, 8080, 9090 };
	json_t *a = json_array();
	unsigned int n = (unsigned int)(rng_next() % 3);

	for (unsigned int i = 0; i < n; i++) {
		json_t *p = json_object();
		const char *proto = protos[rng_next() % 4];

		if (proto)
			json_object_set_new(p, "protocol", json_string(proto));
		switch (rng_next() % 4) {
		case 0:
			break;
		case 1:
			json_object_set_new(p, "port",
					    json_integer(nums[rng_next() % 4]));
			break;
		case 2:
			json_object_set_new(p, "port",
					    json_string(PICK(names)));
			break;
		default: {
			int lo = nums[rng_next() % 4];

			json_object_set_new(p, "port", json_integer(lo));
			json_object_set_new(
				p, "endPort",
				json_integer(lo + (int)(rng_next() % 1000)));
		}
		}
		json_array_append_new(a, p);
	}
	return a;
}

static json_t *rand_rules(const char *peers_key)
{
	json_t *rules = json_array();
	unsigned int n = (unsigned int)(rng_next() % 3);

	for (unsigned int i = 0; i < n; i++) {
		json_t *r = json_object();
		unsigned int np = (unsigned int)(rng_next() % 3);

		if (np || rng_next() % 2) {
			json_t *peers = json_array();

			for (unsigned int x = 0; x < np; x++)
				json_array_append_new(peers, rand_peer());
			json_object_set_new(r, peers_key, peers);
		}
		if (rng_next() % 3)
			json_object_set_new(r, "ports", rand_ports());
		json_array_append_new(rules, r);
	}
	return rules;
}

static void rand_world(struct world *w, unsigned int n_pods,
		       unsigned int n_pols)
{
	static const char *const teams[] = { "blue", "red" };
	static const char *const envs[] = { "prod", "dev" };
	static const char *const apps[] = { "a", "b", "c" };
	static const char *const tiers[] = { "fe", "be" };
	static const char *const pnames[] = { "http", "dns", "metrics" };
	static const int pnums[] = { 53, 80, 8080, 9090 };
	static const char *const types[] = { "Ingress", "Egress" };

	world_init(w);
	for (int i = 0; i < 3; i++) {
		char name[8], labels[96];

		snprintf(name, sizeof(name), "n%d", i);
		snprintf(labels, sizeof(labels), "{\"team\": \"%s\"%s%s%s}",
			 PICK(teams), rng_next() % 2 ? ", \"env\": \"" : "",
			 rng_next() % 2 ? PICK(envs) : "", "");
		/* (an "env" label without a value when the second draw
		 * says so is not JSON: keep it simple) */
		snprintf(labels, sizeof(labels),
			 "{\"team\": \"%s\", \"env\": \"%s\"}", PICK(teams),
			 PICK(envs));
		if (rng_next() % 3 == 0)
			snprintf(labels, sizeof(labels), "{\"env\": \"%s\"}",
				 PICK(envs));
		ns_add(w, name, labels);
	}
	for (unsigned int i = 0; i < n_pods; i++) {
		char ns[8], name[16], labels[128], ip4[32], ip6[32];
		char ports[256];
		int np = (int)(rng_next() % 3), at;

		snprintf(ns, sizeof(ns), "n%d", (int)(rng_next() % 3));
		snprintf(name, sizeof(name), "p%u", i);
		at = snprintf(labels, sizeof(labels), "{\"app\": \"%s\"",
			      PICK(apps));
		if (rng_next() % 2)
			at += snprintf(labels + at, sizeof(labels) - (size_t)at,
				       ", \"tier\": \"%s\"", PICK(tiers));
		if (rng_next() % 2)
			at += snprintf(labels + at, sizeof(labels) - (size_t)at,
				       ", \"ver\": \"1\"");
		snprintf(labels + at, sizeof(labels) - (size_t)at, "}");
		snprintf(ip4, sizeof(ip4), "10.0.%u.%u", i % 3, 1 + i);
		snprintf(ip6, sizeof(ip6), "fd00::%x", 1 + i);
		at = snprintf(ports, sizeof(ports), "[");
		for (int p = 0; p < np; p++)
			at += snprintf(
				ports + at, sizeof(ports) - (size_t)at,
				"%s{\"name\": \"%s\", \"containerPort\": %d, \"protocol\": \"%s\"}",
				p ? ", " : "", pnames[p], pnums[rng_next() % 4],
				rng_next() % 3 ? "TCP" : "UDP");
		snprintf(ports + at, sizeof(ports) - (size_t)at, "]");
		pod_add(w, ns, name, labels, ip4, rng_next() % 2 ? ip6 : NULL,
			ports, rng_next() % 5 ? NODE : "n2", false);
	}
	pod_add(w, "kube-system", "kubelet", "{}", "192.168.0.10", NULL, NULL,
		NODE, true);
	for (unsigned int i = 0; i < n_pols; i++) {
		json_t *spec = json_object();
		char ns[8], name[16], key[32];

		snprintf(ns, sizeof(ns), "n%d", (int)(rng_next() % 3));
		snprintf(name, sizeof(name), "pol%u", i);
		json_object_set_new(spec, "podSelector", rand_selector(false));
		switch (rng_next() % 4) {
		case 0:
			break;
		case 1:
			json_object_set_new(spec, "policyTypes",
					    json_pack("[s]", types[0]));
			break;
		case 2:
			json_object_set_new(spec, "policyTypes",
					    json_pack("[s]", types[1]));
			break;
		default:
			json_object_set_new(spec, "policyTypes",
					    json_pack("[s, s]", types[0],
						      types[1]));
		}
		if (rng_next() % 4)
			json_object_set_new(spec, "ingress",
					    rand_rules("from"));
		if (rng_next() % 2)
			json_object_set_new(spec, "egress", rand_rules("to"));
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		json_object_set_new(w->pols, key,
				    json_pack("{s:s, s:{s:s, s:s}, s:o}",
					      "kind", "NetworkPolicy",
					      "metadata", "name", name,
					      "namespace", ns, "spec", spec));
	}
}

/* Every address of the world, and some outside it. */
static size_t world_addrs(const struct world *w, char (*out)[48], size_t max)
{
	static const char *const extra[] = { "8.8.8.8",	  "10.0.1.77",
					     "10.0.2.5",  "10.0.1.3",
					     "fd00::5",	  "2001:db8::1",
					     "172.16.0.1" };
	size_t n = 0;
	const char *k;
	json_t *p;

	json_object_foreach (w->pods, k, p) {
		size_t i;
		json_t *a;

		json_array_foreach (
			json_object_get(json_object_get(p, "status"), "podIPs"),
			i, a)
			if (n < max)
				snprintf(out[n++], 48, "%s",
					 json_string_value(
						 json_object_get(a, "ip")));
	}
	for (size_t i = 0; i < ARRAY_SIZE(extra) && n < max; i++)
		snprintf(out[n++], 48, "%s", extra[i]);
	return n;
}

static void dump_world(const struct world *w)
{
	char *s = json_dumps(w->pols, JSON_INDENT(1) | JSON_SORT_KEYS);

	print_message("policies: %s\n", s);
	free(s);
}

/* The model agrees with the oracle on every query; returns how many. */
static size_t oracle_compare(struct world *w, const struct zh_pol_model *m,
			     bool all)
{
	static const int protos[] = { TCP, UDP, SCTP, ICMP };
	static const int ports[] = { 53, 80, 81, 8080, 8500, 9090, 9999 };
	char addrs[128][48];
	size_t n = world_addrs(w, addrs, 128), checked = 0;

	for (size_t s = 0; s < n; s++) {
		for (size_t d = 0; d < n; d++) {
			struct zh_ep_key ks, kd;
			int proto, port;
			bool o;
			enum zh_pol_verdict v;

			if (s == d)
				continue;
			zh_pol_key_parse(addrs[s], &ks);
			zh_pol_key_parse(addrs[d], &kd);
			if (ks.family != kd.family)
				continue;
			for (size_t q = 0; q < (all ? 4 : 1); q++) {
				proto = all ? protos[q] :
					      protos[rng_next() % 4];
				port = ports[rng_next() % ARRAY_SIZE(ports)];
				o = oracle_allowed(w->pods, w->nss, w->pols,
						   NODE, addrs[s], addrs[d],
						   proto, port);
				v = zh_pol_verdict(m, &ks, &kd, (uint8_t)proto,
						   (uint16_t)port);
				if (o != (v == ZH_POL_ALLOW)) {
					dump_world(w);
					fail_msg(
						"%s -> %s proto %d port %d: oracle %s, model %s",
						addrs[s], addrs[d], proto, port,
						o ? "allow" : "deny",
						v == ZH_POL_ALLOW ? "allow" :
								    "deny");
				}
				checked++;
			}
		}
	}
	return checked;
}

static void test_oracle_random(void **state)
{
	size_t checked = 0, cells = 0, ids = 0;

	(void)state;
	rng_seed(16);
	for (int round = 0; round < 60; round++) {
		struct world w;
		struct zh_pol_model *m;

		rand_world(&w, 10 + (unsigned int)(rng_next() % 10),
			   1 + (unsigned int)(rng_next() % 6));
		m = compile(&w, NULL);
		if (m->n_rejects) {
			dump_world(&w);
			fail_msg("round %d: rejected %s: %s", round,
				 m->rejects[0].key, m->rejects[0].reason);
		}
		checked += oracle_compare(&w, m, round % 4 == 0);
		cells += m->n_cells;
		ids += m->n_ids;
		zh_pol_model_free(m);
		world_free(&w);
	}
	print_message(
		"oracle: %zu queries agree (%zu cells, %zu identities over 60 worlds)\n",
		checked, cells, ids);
	assert_true(checked > 10000);
}

/* --- diff: the writes replayed on a model of the maps ---------------------- */

/* The maps, as entries in sorted arrays (a zh_pol_model to look up). */
struct maps {
	struct zh_pol_model m;
	struct zh_pol_ports *ports[ZH_MAX_POL_PORTS];
	uint64_t epoch;
};

static int cmp_cellkey(const void *a, const void *b)
{
	const struct zh_pol_key *x = a, *y = b;

	if (x->class != y->class)
		return x->class < y->class ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return (x->identity > y->identity) - (x->identity < y->identity);
}

/* Insert or replace @e (of @size, key first, @klen bytes) in @arr. */
static void arr_put(void **arr, size_t *n, size_t size, const void *e,
		    size_t klen, int (*cmp)(const void *, const void *))
{
	char *a = *arr;
	size_t i = 0;

	while (i < *n &&
	       (cmp ? cmp(a + i * size, e) : memcmp(a + i * size, e, klen)) < 0)
		i++;
	if (i < *n &&
	    !(cmp ? cmp(a + i * size, e) : memcmp(a + i * size, e, klen))) {
		memcpy(a + i * size, e, size);
		return;
	}
	a = realloc(a, (*n + 1) * size);
	assert_non_null(a);
	memmove(a + (i + 1) * size, a + i * size, (*n - i) * size);
	memcpy(a + i * size, e, size);
	(*n)++;
	*arr = a;
}

static void arr_del(void *arr, size_t *n, size_t size, const void *key,
		    size_t klen, int (*cmp)(const void *, const void *))
{
	char *a = arr;

	for (size_t i = 0; i < *n; i++) {
		if (cmp ? cmp(a + i * size, key) :
			  memcmp(a + i * size, key, klen))
			continue;
		memmove(a + i * size, a + (i + 1) * size, (*n - i - 1) * size);
		(*n)--;
		return;
	}
	fail_msg("delete of an entry that is not there");
}

static void maps_apply(struct maps *mp, const struct zh_pol_op *op)
{
	struct zh_pol_model *m = &mp->m;

	switch (op->type) {
	case ZH_POL_OP_NPCTR_ZERO:
		assert_true(op->npctr > 0 && op->npctr < ZH_MAX_POL_NPS);
		break;
	case ZH_POL_OP_CLASSCTR_ZERO:
		assert_true(op->npctr > 0 && op->npctr < ZH_MAX_POL_CLASSES);
		break;
	case ZH_POL_OP_PORTS_PUT:
		assert_true(op->ports.idx < ZH_MAX_POL_PORTS);
		free(mp->ports[op->ports.idx]);
		mp->ports[op->ports.idx] = malloc(sizeof(struct zh_pol_ports));
		memcpy(mp->ports[op->ports.idx], op->ports.ports,
		       sizeof(struct zh_pol_ports));
		break;
	case ZH_POL_OP_PORTS_DEL:
		free(mp->ports[op->ports.idx]);
		mp->ports[op->ports.idx] = NULL;
		break;
	case ZH_POL_OP_CELL_PUT: {
		struct zh_pol_cell_ent e = { .key = op->cell.key,
					     .val = op->cell.val };

		if (e.val.flags & ZH_POL_CELL_F_BITMAP) {
			/* The bitmap must be there before the cell. */
			assert_non_null(mp->ports[e.val.bitmap]);
		}
		arr_put((void **)&m->cells, &m->n_cells, sizeof(e), &e,
			sizeof(e.key), cmp_cellkey);
		break;
	}
	case ZH_POL_OP_CELL_DEL:
		arr_del(m->cells, &m->n_cells, sizeof(*m->cells), &op->cell.key,
			sizeof(op->cell.key), cmp_cellkey);
		break;
	case ZH_POL_OP_IPC_PUT: {
		struct zh_pol_ipc_ent e = { .key = op->ipc.key,
					    .identity = op->ipc.val.identity };

		arr_put((void **)&m->ipc, &m->n_ipc, sizeof(e), &e,
			sizeof(e.key), NULL);
		break;
	}
	case ZH_POL_OP_IPC_DEL:
		arr_del(m->ipc, &m->n_ipc, sizeof(*m->ipc), &op->ipc.key,
			sizeof(op->ipc.key), NULL);
		break;
	case ZH_POL_OP_LPM_PUT: {
		struct zh_pol_lpm_ent e = { .key = op->lpm.key,
					    .identity = op->lpm.val.identity };

		arr_put((void **)&m->lpm, &m->n_lpm, sizeof(e), &e,
			sizeof(e.key), NULL);
		break;
	}
	case ZH_POL_OP_LPM_DEL:
		arr_del(m->lpm, &m->n_lpm, sizeof(*m->lpm), &op->lpm.key,
			sizeof(op->lpm.key), NULL);
		break;
	case ZH_POL_OP_EP_PUT: {
		struct zh_pol_ep_ent e = { .key = op->ep.key,
					   .val = op->ep.val };

		arr_put((void **)&m->eps, &m->n_eps, sizeof(e), &e,
			sizeof(e.key), NULL);
		break;
	}
	case ZH_POL_OP_EP_DEL:
		arr_del(m->eps, &m->n_eps, sizeof(*m->eps), &op->ep.key,
			sizeof(op->ep.key), NULL);
		break;
	case ZH_POL_OP_EPOCH_BUMP:
		mp->epoch++;
		break;
	}
	/* Cells read their bitmaps from the maps. */
	for (size_t i = 0; i < m->n_cells; i++)
		m->cells[i].ports =
			(m->cells[i].val.flags & ZH_POL_CELL_F_BITMAP) ?
				mp->ports[m->cells[i].val.bitmap] :
				NULL;
}

static void maps_free(struct maps *mp)
{
	free(mp->m.cells);
	free(mp->m.ipc);
	free(mp->m.lpm);
	free(mp->m.eps);
	for (int i = 0; i < ZH_MAX_POL_PORTS; i++)
		free(mp->ports[i]);
}

/* The maps hold exactly what @m describes. */
static void maps_equal(const struct maps *mp, const struct zh_pol_model *m)
{
	assert_int_equal(mp->m.n_cells, m->n_cells);
	assert_int_equal(mp->m.n_ipc, m->n_ipc);
	assert_int_equal(mp->m.n_lpm, m->n_lpm);
	assert_int_equal(mp->m.n_eps, m->n_eps);
	for (size_t i = 0; i < m->n_cells; i++) {
		assert_memory_equal(&mp->m.cells[i].key, &m->cells[i].key,
				    sizeof(m->cells[i].key));
		assert_memory_equal(&mp->m.cells[i].val, &m->cells[i].val,
				    sizeof(m->cells[i].val));
		if (m->cells[i].ports)
			assert_memory_equal(mp->m.cells[i].ports,
					    m->cells[i].ports,
					    sizeof(struct zh_pol_ports));
	}
	for (size_t i = 0; i < m->n_ipc; i++)
		assert_memory_equal(&mp->m.ipc[i], &m->ipc[i],
				    sizeof(m->ipc[i]));
	for (size_t i = 0; i < m->n_lpm; i++)
		assert_memory_equal(&mp->m.lpm[i], &m->lpm[i],
				    sizeof(m->lpm[i]));
	for (size_t i = 0; i < m->n_eps; i++) {
		assert_memory_equal(&mp->m.eps[i].key, &m->eps[i].key,
				    sizeof(m->eps[i].key));
		assert_memory_equal(&mp->m.eps[i].val, &m->eps[i].val,
				    sizeof(m->eps[i].val));
	}
	for (int i = 0, used = 0; i < ZH_MAX_POL_PORTS; i++, used = 0) {
		for (size_t c = 0; c < m->n_cells; c++)
			if ((m->cells[c].val.flags & ZH_POL_CELL_F_BITMAP) &&
			    m->cells[c].val.bitmap == (uint32_t)i)
				used = 1;
		if (!used && mp->ports[i])
			fail_msg("bitmap %d left behind", i);
	}
}

/* Addresses written a transitional identity (one neither model has). */
static size_t replay_trans;

static bool id_known(const struct zh_pol_model *m, uint32_t id)
{
	if (id < ZH_POL_ID_FIRST)
		return true;
	for (size_t i = 0; i < m->n_ids; i++)
		if (m->ids[i].id == id)
			return true;
	return false;
}

/* Whether @k's endpoint entry differs between @a and @b. */
static bool ep_changed(const struct zh_pol_model *a,
		       const struct zh_pol_model *b, const struct zh_ep_key *k)
{
	const struct zh_pol_ep *va = NULL, *vb = NULL;

	for (size_t i = 0; i < a->n_eps; i++)
		if (!memcmp(&a->eps[i].key, k, sizeof(*k)))
			va = &a->eps[i].val;
	for (size_t i = 0; i < b->n_eps; i++)
		if (!memcmp(&b->eps[i].key, k, sizeof(*k)))
			vb = &b->eps[i].val;
	if (!va || !vb)
		return va || vb;
	return memcmp(va, vb, sizeof(*va));
}

/* Every address pair, protocol and port of oracle_compare() after each
 * write, not a random sample. */
static bool replay_all;
static const int all_protos[] = { TCP, UDP, SCTP, ICMP };
static const uint16_t all_ports[] = { 53, 80, 81, 8080, 8500, 9090, 9999 };

/*
 * From @old's maps to @new's: the ops in their phases (puts, one bump at
 * most, deletes), every reference resolvable after each one, no query
 * that both models allow ever denied on the way; the maps end as @new.
 * Returns whether the epoch was bumped.
 */
static bool replay(struct world *w, const struct zh_pol_model *old,
		   const struct zh_pol_model *new, struct maps *mp)
{
	char addrs[128][48];
	size_t n_addr = world_addrs(w, addrs, 128), n_ops = 0;
	struct zh_pol_op *ops = NULL;
	uint64_t epoch0 = mp->epoch;
	static const struct zh_pol_model none;
	int phase = 0;

	assert_int_equal(zh_pol_diff(old, new, &ops, &n_ops), 0);
	if (!old)
		old = &none;
	for (size_t i = 0; i < n_ops; i++) {
		int ph = ops[i].type <= ZH_POL_OP_EP_PUT     ? 0 :
			 ops[i].type == ZH_POL_OP_EPOCH_BUMP ? 1 :
							       2;

		if (ph < phase)
			fail_msg("op %zu (%s) after a later phase", i,
				 zh_pol_op_name(ops[i].type));
		phase = ph;
		if (ops[i].type == ZH_POL_OP_IPC_PUT &&
		    !id_known(old, ops[i].ipc.val.identity) &&
		    !id_known(new, ops[i].ipc.val.identity))
			replay_trans++;
		maps_apply(mp, &ops[i]);
		/* Counters: no verdict changes (nor random draws spent). */
		if (ops[i].type == ZH_POL_OP_NPCTR_ZERO ||
		    ops[i].type == ZH_POL_OP_CLASSCTR_ZERO)
			continue;
		/* Every endpoint's class has its cells' number space; a
		 * sample of queries both models allow stays allowed. */
		for (size_t q = 0; q < (replay_all ? n_addr * n_addr * 28 : 40);
		     q++) {
			size_t s = replay_all ? q / 28 / n_addr :
						rng_next() % n_addr;
			size_t d = replay_all ? q / 28 % n_addr :
						rng_next() % n_addr;
			int proto = replay_all	   ? all_protos[q % 28 / 7] :
				    rng_next() % 2 ? TCP :
						     UDP;
			uint16_t port = replay_all     ? all_ports[q % 7] :
					rng_next() % 2 ? 80 :
							 8080;
			struct zh_ep_key ks, kd;
			bool vo, vn, vm;

			zh_pol_key_parse(addrs[s], &ks);
			zh_pol_key_parse(addrs[d], &kd);
			if (ks.family != kd.family)
				continue;
			vo = zh_pol_verdict(old, &ks, &kd, (uint8_t)proto,
					    port) == ZH_POL_ALLOW;
			vn = zh_pol_verdict(new, &ks, &kd, (uint8_t)proto,
					    port) == ZH_POL_ALLOW;
			vm = zh_pol_verdict(&mp->m, &ks, &kd, (uint8_t)proto,
					    port) == ZH_POL_ALLOW;
			if (vo && vn && !vm)
				fail_msg(
					"after op %zu (%s): %s -> %s %d/%u denied, allowed before and after",
					i, zh_pol_op_name(ops[i].type),
					addrs[s], addrs[d], proto, port);
			/* (Two local ends whose entries both change are
			 * two writes: between them one end's old state
			 * and the other's new one may allow what neither
			 * model does. Not checked.) */
			if (!vo && !vn && vm &&
			    !(ep_changed(old, new, &ks) &&
			      ep_changed(old, new, &kd)))
				fail_msg(
					"after op %zu (%s): %s -> %s %d/%u allowed, denied before and after",
					i, zh_pol_op_name(ops[i].type),
					addrs[s], addrs[d], proto, port);
		}
	}
	maps_equal(mp, new);
	free(ops);
	assert_true(mp->epoch - epoch0 <= 1);
	return mp->epoch != epoch0;
}

/* --- item 12: updates, through the diff ------------------------------------- */

/* A new version of the object, as the watch stores one: objects in a
 * store are never edited (the compiler's cache relies on it). */
static void set_labels(struct world *w, const char *kind_store, const char *key,
		       const char *labels)
{
	json_t *store = !strcmp(kind_store, "pod") ? w->pods : w->nss;
	json_t *o = json_deep_copy(json_object_get(store, key));
	json_t *md = json_object_get(o, "metadata");

	assert_non_null(md);
	json_object_set_new(md, "labels", parse(labels));
	json_object_set_new(store, key, o);
}

static void test_updates(void **state)
{
	struct world w;
	struct maps mp = { 0 };
	struct zh_pol_model *m0, *m1, *m2, *m3, *m4, *m5, *m6, *again;
	static const char *const allow_b =
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}, {\"namespaceSelector\": {\"matchLabels\": {\"team\": \"blue\"}}}], \"ports\": [{\"port\": 80}]}]}";
	const struct expect before[] = {
		{ "x/b", "x/a", TCP, 80, A },
		{ "x/c", "x/a", TCP, 80, D },
		{ "y/a", "x/a", TCP, 80, A },
		{ "z/a", "x/a", TCP, 80, D },
	};

	(void)state;
	rng_seed(12);
	world_base(&w);
	m0 = compile(&w, NULL);
	replay(&w, NULL, m0, &mp);
	pol_add(&w, "x", "allow-b", allow_b);
	m1 = compile(&w, m0);
	assert_true(replay(&w, m0, m1, &mp)); /* x/a became isolated */
	check_rows(&w, m1, before, ARRAY_SIZE(before));

	/* Deterministic: the same input and past, the same model. */
	again = compile(&w, m0);
	assert_true(models_equal(m1, again));
	zh_pol_model_free(again);

	/* A pod's labels: x/c becomes app=b (an identity change). */
	set_labels(&w, "pod", "x/c", "{\"app\": \"b\"}");
	m2 = compile(&w, m1);
	replay(&w, m1, m2, &mp);
	{
		const struct expect rows[] = { { "x/c", "x/a", TCP, 80, A },
					       { "x/b", "x/a", TCP, 80, A } };

		check_rows(&w, m2, rows, ARRAY_SIZE(rows));
	}
	/* A namespace's labels: z joins team blue, y leaves it. */
	set_labels(&w, "ns", "z", "{\"team\": \"blue\"}");
	set_labels(&w, "ns", "y", "{}");
	m3 = compile(&w, m2);
	assert_true(replay(&w, m2, m3, &mp)); /* y lost access */
	{
		const struct expect rows[] = { { "z/a", "x/a", TCP, 80, A },
					       { "y/a", "x/a", TCP, 80, D } };

		check_rows(&w, m3, rows, ARRAY_SIZE(rows));
	}
	/* The subject's labels: x/a no longer selected. */
	set_labels(&w, "pod", "x/a", "{\"app\": \"other\"}");
	m4 = compile(&w, m3);
	replay(&w, m3, m4, &mp);
	{
		const struct expect rows[] = { { "x/c", "x/a", TCP, 80, A },
					       { "y/a", "x/a", TCP, 9, A } };

		check_rows(&w, m4, rows, ARRAY_SIZE(rows));
	}
	/* The policy updated (port 81, subject every pod), then deleted. */
	pol_add(&w, "x", "allow-b",
		"{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}], \"ports\": [{\"port\": 81}]}]}");
	m5 = compile(&w, m4);
	assert_true(replay(&w, m4, m5, &mp));
	{
		const struct expect rows[] = { { "x/c", "x/a", TCP, 81, A },
					       { "x/c", "x/a", TCP, 80, D },
					       { "z/a", "x/a", TCP, 81, D } };

		check_rows(&w, m5, rows, ARRAY_SIZE(rows));
	}
	json_object_del(w.pols, "x/allow-b");
	m6 = compile(&w, m5);
	replay(&w, m5, m6, &mp);
	assert_int_equal(m6->n_cells, 0);
	{
		const struct expect rows[] = { { "z/a", "x/a", TCP, 80, A } };

		check_rows(&w, m6, rows, ARRAY_SIZE(rows));
	}
	/* Nothing changed: no write at all. */
	{
		struct zh_pol_model *same = compile(&w, m6);
		struct zh_pol_op *ops;
		size_t n;

		assert_int_equal(zh_pol_diff(m6, same, &ops, &n), 0);
		assert_int_equal(n, 0);
		free(ops);
		zh_pol_model_free(same);
	}
	zh_pol_model_free(m0);
	zh_pol_model_free(m1);
	zh_pol_model_free(m2);
	zh_pol_model_free(m3);
	zh_pol_model_free(m4);
	zh_pol_model_free(m5);
	zh_pol_model_free(m6);
	maps_free(&mp);
	world_free(&w);
}

/* Random worlds changing step by step, replayed (every address pair
 * after each write: ipBlock prefixes too), agreeing with the oracle at
 * each step. */
static void test_diff_random(void **state)
{
	struct world w;
	struct maps mp = { 0 };
	struct zh_pol_model *prev = NULL;
	size_t bumps = 0;

	(void)state;
	rng_seed(1616);
	rand_world(&w, 14, 4);
	for (int step = 0; step < 40; step++) {
		struct zh_pol_model *m = compile(&w, prev);
		const char *k;
		json_t *v;
		size_t i = 0, pick_at;

		assert_int_equal(m->n_rejects, 0);
		replay_all = true;
		bumps += replay(&w, prev, m, &mp);
		replay_all = false;
		oracle_compare(&w, m, false);
		zh_pol_model_free(prev);
		prev = m;
		/* One change: a policy replaced or removed, or a pod's labels. */
		switch (rng_next() % 3) {
		case 0: {
			struct world r;

			rand_world(&r, 1, 1);
			json_object_foreach (r.pols, k, v)
				json_object_set(w.pols, k, v);
			world_free(&r);
			break;
		}
		case 1:
			pick_at = rng_next() % (json_object_size(w.pols) + 1);
			json_object_foreach (w.pols, k, v)
				if (i++ == pick_at) {
					json_object_del(w.pols, k);
					break;
				}
			break;
		default:
			pick_at = rng_next() % json_object_size(w.pods);
			json_object_foreach (w.pods, k, v)
				if (i++ == pick_at) {
					set_labels(&w, "pod", k,
						   rng_next() % 2 ?
							   "{\"app\": \"a\"}" :
							   "{\"app\": \"b\"}");
					break;
				}
		}
	}
	print_message("40 steps replayed, %zu epoch bumps\n", bumps);
	zh_pol_model_free(prev);
	maps_free(&mp);
	world_free(&w);
}

/*
 * One random single event of kind @kind (0..8) on @w, at step @step: a
 * pod added or replaced whole, deleted, relabelled (1 and 2), stored
 * again unchanged (a new object); a namespace relabelled or added,
 * deleted; a policy added or replaced, deleted.
 */
static void random_event(struct world *w, unsigned int step, unsigned int kind)
{
	static const char *const apps[] = { "a", "b", "c" };
	static const char *const teams[] = { "blue", "red" };
	static const char *const ports[] = {
		"[]", "[{\"name\": \"http\", \"containerPort\": 80}]",
		"[{\"name\": \"http\", \"containerPort\": 8080}, {\"name\": \"dns\", \"containerPort\": 53, \"protocol\": \"UDP\"}]"
	};
	char key[64], name[16], ns[8], labels[96], ip4[32], ip6[32];
	const char *k;
	json_t *v, *store;
	size_t i = 0, at;

	store = kind <= 4 ? w->pods : kind <= 6 ? w->nss : w->pols;
	at = rng_next() % (json_object_size(store) + 1);
	key[0] = 0;
	json_object_foreach (store, k, v)
		if (i++ == at)
			snprintf(key, sizeof(key), "%s", k);
	snprintf(ns, sizeof(ns), "n%d", (int)(rng_next() % 4));
	switch (kind) {
	case 0: /* a pod added, or replaced whole */
		if (key[0] && strchr(key, '/') &&
		    strncmp(key, "kube-system/", 12)) {
			snprintf(ns, sizeof(ns), "%.*s",
				 (int)(strchr(key, '/') - key), key);
			snprintf(name, sizeof(name), "%s",
				 strchr(key, '/') + 1);
		} else {
			snprintf(name, sizeof(name), "q%u", step);
		}
		snprintf(labels, sizeof(labels), "{\"app\": \"%s\"%s}",
			 PICK(apps),
			 rng_next() % 2 ? ", \"tier\": \"fe\"" : "");
		snprintf(ip4, sizeof(ip4), "10.1.%u.%u", step / 200,
			 step % 200 + 1);
		snprintf(ip6, sizeof(ip6), "fd01::%x", step + 1);
		pod_add(w, ns, name, labels, ip4, rng_next() % 2 ? ip6 : NULL,
			PICK(ports), rng_next() % 4 ? NODE : "n2", false);
		break;
	case 1: /* a pod deleted */
		if (key[0])
			json_object_del(w->pods, key);
		break;
	case 2: /* a pod relabelled */
	case 3:
		if (!key[0])
			break;
		snprintf(labels, sizeof(labels), "{\"app\": \"%s\"}",
			 PICK(apps));
		set_labels(w, "pod", key, labels);
		break;
	case 4: /* stored again, unchanged: a new object */
		if (key[0])
			json_object_set_new(
				w->pods, key,
				json_deep_copy(json_object_get(w->pods, key)));
		break;
	case 5: /* a namespace relabelled, or added */
		snprintf(labels, sizeof(labels), "{\"team\": \"%s\"}",
			 PICK(teams));
		if (key[0] && rng_next() % 3)
			set_labels(w, "ns", key, labels);
		else
			ns_add(w, ns, labels);
		break;
	case 6: /* a namespace deleted */
		if (key[0])
			json_object_del(w->nss, key);
		break;
	case 7: { /* a policy added or replaced */
		struct world r;

		rand_world(&r, 1, 1);
		json_object_foreach (r.pols, k, v) {
			json_t *o = json_deep_copy(v), *md;
			const char *slash;
			char at_key[64];

			snprintf(at_key, sizeof(at_key), "%s",
				 key[0] && rng_next() % 2 ? key : k);
			/* Stored under its own namespace and name, as the
			 * watch does (the oracle reads them from the
			 * object, the compiler from the key; a replacement
			 * under another policy's key once stored a policy
			 * of n0 as n1's: the two disagreed). */
			slash = strchr(at_key, '/');
			md = json_object_get(o, "metadata");
			json_object_set_new(
				md, "namespace",
				json_stringn(at_key, (size_t)(slash - at_key)));
			json_object_set_new(md, "name", json_string(slash + 1));
			json_object_set_new(w->pols, at_key, o);
		}
		world_free(&r);
		break;
	}
	default: /* a policy deleted */
		if (key[0])
			json_object_del(w->pols, key);
	}
}

/*
 * Incremental compiles (the cache each model carries for the next one):
 * a random world through every kind of single event (random_event()),
 * each compiled from the last model. compile() checks every one against
 * a compile of the same input with no cache; the oracle checks the
 * verdicts.
 */
static void test_incremental_random(void **state)
{
	struct world w;
	struct maps mp = { 0 };
	struct zh_pol_model *prev = NULL;
	size_t kinds[9] = { 0 }, bumps = 0;
	uint64_t saved;

	(void)state;
	rng_seed(4242);
	replay_trans = 0;
	rand_world(&w, 14, 5);
	for (unsigned int step = 0; step < 120; step++) {
		struct zh_pol_model *m = compile(&w, prev);
		unsigned int kind = (unsigned int)(rng_next() % 9);

		/* The writes between them replayed too, every address
		 * pair checked after each write (on a random stream of
		 * their own, so that the events stay those of seed 4242;
		 * test_diff_renumbered has the case this once let
		 * through unchecked). */
		saved = rng_state;
		rng_seed(step);
		replay_all = true;
		bumps += replay(&w, prev, m, &mp);
		replay_all = false;
		rng_state = saved;
		oracle_compare(&w, m, false);
		zh_pol_model_free(prev);
		prev = m;
		kinds[kind]++;
		random_event(&w, step, kind);
	}
	print_message(
		"120 incremental compiles equal to full ones, replayed (%zu epoch bumps, %zu transitional addresses); events %zu %zu %zu %zu %zu %zu %zu %zu %zu\n",
		bumps, replay_trans, kinds[0], kinds[1], kinds[2], kinds[3],
		kinds[4], kinds[5], kinds[6], kinds[7], kinds[8]);
	for (size_t x = 0; x < 9; x++)
		assert_true(kinds[x] > 0);
	zh_pol_model_free(prev);
	maps_free(&mp);
	world_free(&w);
}

/*
 * The incremental compile's reuse pinned to the full compile over longer
 * runs: the decoded policies shared while the policy store holds the
 * same objects, pods' cache entries shared between consecutive models
 * while nothing they depend on changed, the stores' keys merged from
 * their insertion order. Three seeds, a larger world, 300 random single
 * events each (random_event()), sometimes several before one compile (a
 * batch); every incremental compile checked equal to a full one
 * (compile()), and a second incremental compile from the same model
 * made, checked equal and freed first (a model freed must leave the
 * entries it shares with its siblings and its successor intact: the
 * sanitizer tier runs this too).
 */
static void test_incremental_long(void **state)
{
	static const uint64_t seeds[] = { 7, 99, 2026 };
	size_t kinds[9] = { 0 };

	(void)state;
	for (size_t s = 0; s < ARRAY_SIZE(seeds); s++) {
		struct world w;
		struct zh_pol_model *prev = NULL;

		rng_seed(seeds[s]);
		rand_world(&w, 40, 10);
		for (unsigned int step = 0; step < 300; step++) {
			struct zh_pol_model *m = compile(&w, prev), *twin;
			unsigned int burst = rng_next() % 4 ? 1 : 3;

			twin = compile(&w, prev);
			if (!models_equal(m, twin))
				fail_msg("two compiles from one model differ");
			zh_pol_model_free(twin);
			zh_pol_model_free(prev);
			prev = m;
			for (unsigned int b = 0; b < burst; b++) {
				unsigned int kind =
					(unsigned int)(rng_next() % 9);

				kinds[kind]++;
				random_event(&w, 1000 * (unsigned int)s + step,
					     kind);
			}
		}
		{
			struct zh_pol_model *m = compile(&w, prev);

			oracle_compare(&w, m, true);
			zh_pol_model_free(m);
		}
		zh_pol_model_free(prev);
		world_free(&w);
	}
	print_message(
		"900 incremental compiles equal to full ones; events %zu %zu %zu %zu %zu %zu %zu %zu %zu\n",
		kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5],
		kinds[6], kinds[7], kinds[8]);
	for (size_t x = 0; x < 9; x++)
		assert_true(kinds[x] > 0);
}

/*
 * One policy change that gives both a destination pod's class and a peer's
 * identity new numbers: x/p2 selects x/a too (its ingress class becomes
 * {p1, p2}) and its peer "app in (b, c)" matches x/b too (a new
 * signature). x/b -> x/a TCP 80 is allowed before and after; written
 * ipcache first, endpoints second, the old class was asked about the new
 * identity in between, had no cell for it and denied.
 */
static void test_diff_renumbered(void **state)
{
	struct world w;
	struct maps mp = { 0 };
	struct zh_pol_model *m0, *m1;
	struct zh_ep_key xa, xb;
	const struct expect rows[] = { { "x/b", "x/a", TCP, 80, A },
				       { "x/b", "x/a", TCP, 81, A },
				       { "x/c", "x/a", TCP, 81, A },
				       { "x/c", "x/a", TCP, 80, D },
				       { "y/b", "x/a", TCP, 80, D } };

	(void)state;
	rng_seed(16);
	world_base(&w);
	pol_add(&w, "x", "p1",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}], \"ports\": [{\"port\": 80}]}]}");
	m0 = compile(&w, NULL);
	replay(&w, NULL, m0, &mp);
	pol_add(&w, "x", "p2",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"In\", \"values\": [\"b\", \"c\"]}]}}], \"ports\": [{\"port\": 81}]}]}");
	m1 = compile(&w, m0);
	check_rows(&w, m1, rows, ARRAY_SIZE(rows));
	/* The situation: both numbers new. */
	assert_int_equal(zh_pol_key_parse("10.0.0.1", &xa), 0);
	assert_int_equal(zh_pol_key_parse("10.0.0.2", &xb), 0);
	assert_int_not_equal(zh_pol_identity_of(m0, &xb, false),
			     zh_pol_identity_of(m1, &xb, false));
	{
		const struct zh_pol_ep_ent *e0 = NULL, *e1 = NULL;

		for (size_t i = 0; i < m0->n_eps; i++)
			if (!memcmp(&m0->eps[i].key, &xa, sizeof(xa)))
				e0 = &m0->eps[i];
		for (size_t i = 0; i < m1->n_eps; i++)
			if (!memcmp(&m1->eps[i].key, &xa, sizeof(xa)))
				e1 = &m1->eps[i];
		assert_non_null(e0);
		assert_non_null(e1);
		assert_int_not_equal(e0->val.class_in, e1->val.class_in);
	}
	replay_all = true;
	replay_trans = 0;
	replay(&w, m0, m1, &mp);
	assert_true(replay_trans > 0); /* x/b (both families) through a T */
	/* And back: the classes and identities of m0 come again under
	 * numbers m1 did not use. */
	json_object_del(w.pols, "x/p2");
	zh_pol_model_free(m0);
	m0 = compile(&w, m1);
	replay(&w, m1, m0, &mp);
	replay_all = false;
	zh_pol_model_free(m0);
	zh_pol_model_free(m1);
	maps_free(&mp);
	world_free(&w);
}

/*
 * A cached pod's results are those of its object: one replaced by an
 * object of other content is read again (here its labels, so its
 * identity, change) though nothing else moved.
 */
static void test_incremental_replaced(void **state)
{
	struct world w;
	struct zh_pol_model *m0, *m1;
	const struct expect before[] = { { "x/b", "x/a", TCP, 80, A } };
	const struct expect after[] = { { "x/b", "x/a", TCP, 80, D } };

	(void)state;
	world_base(&w);
	pol_add(&w, "x", "from-b",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}]}]}");
	m0 = compile(&w, NULL);
	assert_non_null(m0->cache);
	check_rows(&w, m0, before, ARRAY_SIZE(before));
	set_labels(&w, "pod", "x/b", "{\"app\": \"z\"}");
	m1 = compile(&w, m0);
	check_rows(&w, m1, after, ARRAY_SIZE(after));
	zh_pol_model_free(m0);
	zh_pol_model_free(m1);
	world_free(&w);
}

/* --- item 16: hash-like labels ------------------------------------------------ */

static void test_hash_labels_one_identity(void **state)
{
	struct world w;
	struct zh_pol_model *m;
	uint32_t id = 0;
	size_t n = 0;

	(void)state;
	rng_seed(1000);
	world_init(&w);
	ns_add(&w, "x", "{}");
	for (int i = 0; i < 1000; i++) {
		char name[32], labels[160], ip[32];

		snprintf(name, sizeof(name), "web-%d", i);
		snprintf(
			labels, sizeof(labels),
			"{\"app\": \"web\", \"pod-template-hash\": \"%08llx\", \"controller-revision-hash\": \"%llx\"}",
			(unsigned long long)(rng_next() & 0xffffffff),
			(unsigned long long)rng_next());
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, 1 + i % 250);
		pod_add(&w, "x", name, labels, ip, NULL, NULL,
			i % 2 ? NODE : "n2", false);
	}
	pol_add(&w, "x", "web",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"web\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"web\"}}}]}]}");
	m = compile(&w, NULL);
	for (size_t i = 0; i < m->n_ipc; i++) {
		if (!id)
			id = m->ipc[i].identity;
		assert_int_equal(m->ipc[i].identity, id);
		n++;
	}
	assert_int_equal(n, 1000);
	assert_true(id >= ZH_POL_ID_FIRST);
	/* That identity, and WORLD for the rest of the world. */
	assert_int_equal(m->n_ids, 2);
	/* 500 local pods, one class; no wildcard cell (it would be empty)
	 * and the identity's cell allows all of TCP, UDP, SCTP and the
	 * other protocols: 4 cells. */
	assert_int_equal(m->n_classes, 1);
	assert_int_equal(m->n_eps, 500);
	assert_int_equal(m->n_cells, 4);
	zh_pol_model_free(m);
	world_free(&w);
}

/* --- item 17: bounds, and rejected objects -------------------------------- */

/* The index of @k in @m's ipcache; m->n_ipc: none. */
static size_t ipc_at(const struct zh_pol_model *m, const struct zh_ep_key *k)
{
	for (size_t i = 0; i < m->n_ipc; i++)
		if (!memcmp(&m->ipc[i].key, k, sizeof(*k)))
			return i;
	return m->n_ipc;
}

static void test_bounds_fail_closed(void **state)
{
	struct world w;
	struct zh_pol_model *m;
	struct zh_pol_opts o = { .node = NODE };
	const struct expect rows[] = {
		{ "x/b", "x/a", TCP, 80, D }, /* allowed, but did not fit */
		{ "x/a", "z/a", TCP, 80, A }, /* not isolated */
		{ "192.168.0.10", "x/a", TCP, 80, A },
	};

	(void)state;
	world_base(&w);
	pol_add(&w, "x", "p",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}]}]}");
	pol_add(&w, "y", "q",
		"{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}]}]}");
	/* Room for one class's cells only: the second fails closed. */
	o.lim.cells = 5;
	m = compile_opts(&w, &o, NULL);
	assert_int_equal(m->sum.failed_classes, 1);
	assert_int_equal(m->n_classes, 2);
	assert_false(m->classes[0].failed);
	assert_true(m->classes[1].failed);
	{
		/* x's class came first (by number); y's failed. */
		struct zh_ep_key k;
		enum zh_pol_verdict v;
		struct zh_ep_key kb;

		zh_pol_key_parse("10.0.1.2", &kb); /* y/b */
		zh_pol_key_parse("10.0.1.1", &k); /* y/a */
		v = zh_pol_verdict(m, &kb, &k, TCP, 80);
		assert_int_equal(v, ZH_POL_DENY);
		zh_pol_key_parse("10.0.0.2", &kb); /* x/b */
		zh_pol_key_parse("10.0.0.1", &k); /* x/a */
		assert_int_equal(zh_pol_verdict(m, &kb, &k, TCP, 80),
				 ZH_POL_ALLOW);
		for (size_t i = 0; i < m->n_eps; i++)
			if (!strncmp(m->eps[i].pod, "y/", 2))
				assert_true(m->eps[i].val.flags &
					    ZH_POL_EP_F_FAILED_IN);
	}
	zh_pol_model_free(m);

	/* The ipcache: room for 4 addresses. The first claims keep theirs
	 * (the node's, then pods in key order: the probe's, x/a's two,
	 * x/b's first), the other 7 are counted and left out (they
	 * resolve to WORLD); the entries in key order, as the maps'
	 * lookups (zh_pol_identity_of()) and the diff read them. */
	o.lim.cells = 0;
	o.lim.ipcache = 4;
	m = compile_opts(&w, &o, NULL);
	assert_int_equal(m->n_ipc, 4);
	assert_int_equal(m->sum.identity_overflow, 7);
	for (size_t i = 1; i < m->n_ipc; i++)
		assert_true(memcmp(&m->ipc[i - 1].key, &m->ipc[i].key,
				   sizeof(m->ipc[i].key)) < 0);
	{
		static const char *const kept[] = { "192.168.0.10", "10.0.0.1",
						    "fd00::1", "10.0.0.2" };
		static const char *const out[] = { "fd00::2", "10.0.0.3",
						   "10.0.1.1", "10.0.2.2" };
		struct zh_ep_key k;

		for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
			zh_pol_key_parse(kept[i], &k);
			assert_true(ipc_at(m, &k) < m->n_ipc);
		}
		for (size_t i = 0; i < ARRAY_SIZE(out); i++) {
			zh_pol_key_parse(out[i], &k);
			assert_int_equal(ipc_at(m, &k), m->n_ipc);
			assert_int_equal(zh_pol_identity_of(m, &k, false),
					 ZH_POL_ID_WORLD);
		}
	}
	zh_pol_model_free(m);
	o.lim.ipcache = 0;

	/* Identities: one allowed; the app=b pods lose theirs (WORLD),
	 * and with it their allow: closed, never open. */
	o.lim.cells = 0;
	o.lim.identities = 1;
	m = compile_opts(&w, &o, NULL);
	assert_true(m->sum.identity_overflow > 0);
	check_rows(&w, m, rows + 1, 2);
	{
		struct zh_ep_key ks, kd;
		size_t allowed = 0;
		static const char *const srcs[] = { "10.0.0.2", "10.0.1.2" };
		static const char *const dsts[] = { "10.0.0.1", "10.0.1.1" };

		for (int s = 0; s < 2; s++)
			for (int d = 0; d < 2; d++) {
				zh_pol_key_parse(srcs[s], &ks);
				zh_pol_key_parse(dsts[d], &kd);
				if (zh_pol_verdict(m, &ks, &kd, TCP, 80) ==
				    ZH_POL_ALLOW) {
					allowed++;
					/* only what the rules allow */
					assert_true(oracle_allowed(
						w.pods, w.nss, w.pols, NODE,
						srcs[s], dsts[d], TCP, 80));
				}
			}
		assert_true(allowed < 4);
	}
	zh_pol_model_free(m);

	/* Policies: past the bound, rejected with a reason. */
	o.lim.identities = 0;
	o.lim.policies = 1;
	m = compile_opts(&w, &o, NULL);
	assert_int_equal(m->n_rejects, 1);
	assert_string_equal(m->rejects[0].key, "y/q");
	assert_contains(m->rejects[0].reason, "more than 1");
	zh_pol_model_free(m);
	world_free(&w);
}

static void test_rejects_alone(void **state)
{
	static const struct {
		const char *spec, *reason;
		bool isolating;
	} bad[] = {
		{ "{\"podSelector\": {\"matchExpressions\": [{\"key\": \"app\", \"operator\": \"Near\"}]}}",
		  "operator", false },
		{ "{\"podSelector\": {}, \"policyTypes\": [\"Sideways\"]}",
		  "policyTypes[0]", false },
		{ "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.0.0/33\"}}]}]}",
		  "not a CIDR", true },
		{ "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.0.0/16\", \"except\": [\"10.1.0.0/24\"]}}]}]}",
		  "not within", true },
		{ "{\"podSelector\": {}, \"ingress\": [{\"ports\": [{\"port\": 70000}]}]}",
		  "1-65535", true },
		{ "{\"podSelector\": {}, \"ingress\": [{\"ports\": [{\"port\": 80, \"endPort\": 79}]}]}",
		  "endPort", true },
		{ "{\"podSelector\": {}, \"ingress\": [{\"ports\": [{\"protocol\": \"ICMP\"}]}]}",
		  "protocol", true },
		{ "{\"podSelector\": {}, \"ingress\": [{\"ports\": [{\"port\": \"Not_A_Name\"}]}]}",
		  "port name", true },
		{ "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"ipBlock\": {\"cidr\": \"10.0.0.0/8\"}, \"podSelector\": {}}]}]}",
		  "ipBlock with", true },
		{ "{\"podSelector\": {}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\"}]}}]}]}",
		  "need values", true },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct world w;
		struct zh_pol_model *m;
		const struct expect good[] = {
			{ "x/b", "x/a", TCP, 80, A }, /* the good policy */
			{ "x/c", "x/a", TCP, 80, D },
		};
		struct zh_ep_key ks, kd;

		world_base(&w);
		pol_add(&w, "x", "good",
			"{\"podSelector\": {\"matchLabels\": {\"app\": \"a\"}}, \"ingress\": [{\"from\": [{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}}}]}]}");
		pol_add(&w, "y", "bad", bad[i].spec);
		m = compile(&w, NULL);
		assert_int_equal(m->n_rejects, 1);
		assert_string_equal(m->rejects[0].key, "y/bad");
		assert_contains(m->rejects[0].reason, bad[i].reason);
		assert_int_equal(m->rejects[0].isolating, bad[i].isolating);
		json_object_del(w.pols, "y/bad");
		check_rows(&w, m, good, ARRAY_SIZE(good));
		/* y/a: denied (closed) when the bad policy still isolates,
		 * else untouched. */
		zh_pol_key_parse("10.0.1.2", &ks);
		zh_pol_key_parse("10.0.1.1", &kd);
		assert_int_equal(zh_pol_verdict(m, &ks, &kd, TCP, 80),
				 bad[i].isolating ? ZH_POL_DENY : ZH_POL_ALLOW);
		zh_pol_model_free(m);
		world_free(&w);
	}
}

/* Two pods claiming one address (a stale pod): the first by key has it,
 * one endpoint only, and a compile from itself writes nothing (found by
 * fuzz_policy: two endpoints with one key). */
static void test_address_conflict(void **state)
{
	struct world w;
	struct zh_pol_model *m, *again;
	struct zh_pol_op *ops;
	size_t n, found = 0;
	struct zh_ep_key k;

	(void)state;
	world_base(&w);
	pod_add(&w, "x", "stale", "{\"app\": \"b\"}", "10.0.0.1", NULL, NULL,
		NODE, false);
	pol_add(&w, "x", "p", "{\"podSelector\": {}}");
	m = compile(&w, NULL);
	assert_int_equal(m->sum.ip_conflicts, 1);
	zh_pol_key_parse("10.0.0.1", &k);
	for (size_t i = 0; i < m->n_eps; i++)
		if (!memcmp(&m->eps[i].key, &k, sizeof(k))) {
			found++;
			assert_string_equal(m->eps[i].pod, "x/a");
		}
	assert_int_equal(found, 1);
	again = compile(&w, m);
	assert_int_equal(zh_pol_diff(m, again, &ops, &n), 0);
	assert_int_equal(n, 0);
	free(ops);
	zh_pol_model_free(again);
	zh_pol_model_free(m);
	world_free(&w);
}

/* A namespace that is not a DNS label ("x/" would read as "x"): the
 * object is rejected, not judged in another namespace (fuzz_policy). */
static void test_bad_namespace(void **state)
{
	struct world w;
	struct zh_pol_model *m;

	(void)state;
	world_base(&w);
	json_object_set_new(w.pols, "x//q",
			    json_pack("{s:s, s:{s:s, s:s}, s:{s:{}}}", "kind",
				      "NetworkPolicy", "metadata", "name", "q",
				      "namespace", "x/", "spec",
				      "podSelector"));
	m = compile(&w, NULL);
	assert_int_equal(m->n_rejects, 1);
	assert_contains(m->rejects[0].reason, "DNS label");
	assert_int_equal(m->n_classes, 0);
	zh_pol_model_free(m);
	world_free(&w);
}

/* Audit: a namespace annotated, or every pod; the verdict says AUDIT. */
static void test_audit(void **state)
{
	struct world w;
	struct zh_pol_model *m;
	struct zh_pol_opts o = { .node = NODE };
	struct zh_ep_key ks, kd;

	(void)state;
	world_base(&w);
	pol_add(&w, "x", "deny", "{\"podSelector\": {}}");
	pol_add(&w, "y", "deny", "{\"podSelector\": {}}");
	json_object_set_new(
		json_object_get(json_object_get(w.nss, "y"), "metadata"),
		"annotations",
		json_pack("{s:s}", ZH_POL_AUDIT_ANNOTATION, "true"));
	m = compile(&w, NULL);
	zh_pol_key_parse("10.0.2.1", &ks);
	zh_pol_key_parse("10.0.1.1", &kd);
	assert_int_equal(zh_pol_verdict(m, &ks, &kd, TCP, 80), ZH_POL_AUDIT);
	zh_pol_key_parse("10.0.0.1", &kd);
	assert_int_equal(zh_pol_verdict(m, &ks, &kd, TCP, 80), ZH_POL_DENY);
	zh_pol_model_free(m);
	o.audit = true;
	m = compile_opts(&w, &o, NULL);
	assert_int_equal(zh_pol_verdict(m, &ks, &kd, TCP, 80), ZH_POL_AUDIT);
	zh_pol_model_free(m);
	world_free(&w);
}

/* The agent's list of audited namespaces: x audits (and "later", no
 * Namespace yet), y still enforces; the list's syntax. */
static void test_audit_ns(void **state)
{
	struct world w;
	struct zh_pol_model *m;
	struct zh_pol_opts o = { .node = NODE, .audit_ns = "later,x" };
	struct zh_ep_key ks, kx, ky;
	char why[160];

	(void)state;
	world_base(&w);
	pol_add(&w, "x", "deny", "{\"podSelector\": {}}");
	pol_add(&w, "y", "deny", "{\"podSelector\": {}}");
	zh_pol_key_parse("10.0.2.1", &ks);
	zh_pol_key_parse("10.0.0.1", &kx);
	zh_pol_key_parse("10.0.1.1", &ky);
	m = compile_opts(&w, &o, NULL);
	assert_int_equal(zh_pol_verdict(m, &ks, &kx, TCP, 80), ZH_POL_AUDIT);
	assert_int_equal(zh_pol_verdict(m, &ks, &ky, TCP, 80), ZH_POL_DENY);
	for (size_t i = 0; i < m->n_eps; i++) {
		if (!strcmp(m->eps[i].pod, "x/a"))
			assert_true(m->eps[i].val.flags & ZH_POL_EP_F_AUDIT);
		if (!strcmp(m->eps[i].pod, "y/a"))
			assert_false(m->eps[i].val.flags & ZH_POL_EP_F_AUDIT);
	}
	zh_pol_model_free(m);
	/* A pod of a namespace listed before its Namespace object came. */
	pod_add(&w, "later", "p", "{}", "10.0.3.1", NULL, NULL, NODE, false);
	pol_add(&w, "later", "deny", "{\"podSelector\": {}}");
	m = compile_opts(&w, &o, NULL);
	zh_pol_key_parse("10.0.3.1", &kx);
	assert_int_equal(zh_pol_verdict(m, &ks, &kx, TCP, 80), ZH_POL_AUDIT);
	zh_pol_model_free(m);
	world_free(&w);

	assert_int_equal(zh_pol_audit_ns_check("x", why, sizeof(why)), 0);
	assert_int_equal(zh_pol_audit_ns_check("x,team-a,b2", why, sizeof(why)),
			 0);
	assert_int_equal(zh_pol_audit_ns_check("", why, sizeof(why)), -EINVAL);
	assert_int_equal(zh_pol_audit_ns_check("x,", why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(zh_pol_audit_ns_check("x,,y", why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(zh_pol_audit_ns_check("X", why, sizeof(why)), -EINVAL);
	assert_int_equal(zh_pol_audit_ns_check("-x", why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(zh_pol_audit_ns_check("x y", why, sizeof(why)),
			 -EINVAL);
}

/* The cell of {class of @pod's ingress, TCP, ANY} in @m. */
static const struct zh_pol_cell_ent *any_cell_in(const struct zh_pol_model *m,
						 const char *pod)
{
	uint16_t cls = 0;

	for (size_t i = 0; i < m->n_eps; i++)
		if (!strcmp(m->eps[i].pod, pod))
			cls = m->eps[i].val.class_in;
	assert_true(cls);
	for (size_t i = 0; i < m->n_cells; i++)
		if (m->cells[i].key.class == cls &&
		    m->cells[i].key.dir == ZH_POL_INGRESS &&
		    m->cells[i].key.proto == TCP &&
		    m->cells[i].key.identity == ZH_POL_ID_ANY)
			return &m->cells[i];
	fail_msg("no wildcard TCP cell for %s", pod);
	return NULL;
}

/* The policy credited with @port in @e (its interval's np). */
static uint16_t credited(const struct zh_pol_cell_ent *e, uint16_t port)
{
	for (int i = 0; i < e->val.n; i++)
		if (port >= e->val.iv[i].lo && port <= e->val.iv[i].hi)
			return e->val.np[i];
	fail_msg("port %u in no interval", port);
	return 0;
}

/*
 * Per-policy counters: every policy numbered, numbers kept from the
 * previous model, a new policy never given a number the previous model
 * used (and its counter zeroed first); each interval credits the first
 * policy by name that allows a port of it.
 */
static void test_counter_numbers(void **state)
{
	struct world w;
	struct zh_pol_model *m1, *m2, *m3;
	const struct zh_pol_cell_ent *e;
	struct zh_pol_op *ops;
	size_t n_ops, zeroed;
	uint16_t web, tls, wide, late;

	(void)state;
	world_base(&w);
	pol_add(&w, "x", "web",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}},"
		" \"ingress\": [{\"ports\": [{\"port\": 80},"
		" {\"port\": 8000, \"endPort\": 8010}]}]}");
	pol_add(&w, "x", "wide",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}},"
		" \"ingress\": [{\"ports\": [{\"port\": 8005, \"endPort\": 8020},"
		" {\"port\": 9000}]}]}");
	pol_add(&w, "x", "tls",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}},"
		" \"ingress\": [{\"ports\": [{\"port\": 443}]}]}");
	m1 = compile(&w, NULL);
	web = zh_pol_num_of(m1, "x/web");
	tls = zh_pol_num_of(m1, "x/tls");
	wide = zh_pol_num_of(m1, "x/wide");
	assert_true(web && tls && wide);
	assert_true(web != tls && tls != wide && web != wide);
	assert_int_equal(zh_pol_num_of(m1, "x/nope"), 0);
	e = any_cell_in(m1, "x/b");
	assert_int_equal(credited(e, 80), web);
	assert_int_equal(credited(e, 443), tls);
	assert_int_equal(credited(e, 9000), wide);
	/* 8000-8010 and 8005-8020 merge into one interval: "web" < "wide"
	 * by name, so web is credited for all of it. */
	assert_int_equal(credited(e, 8015), web);
	/* First write: every number's counter zeroed, before any cell. */
	assert_int_equal(zh_pol_diff(NULL, m1, &ops, &n_ops), 0);
	zeroed = 0;
	for (size_t i = 0; i < n_ops; i++) {
		if (ops[i].type == ZH_POL_OP_NPCTR_ZERO) {
			assert_int_equal(zeroed, i);
			zeroed++;
		}
	}
	assert_int_equal(zeroed, 3);
	free(ops);

	/* tls goes, "late" comes: numbers kept; late gets none m1 used;
	 * only late's counter is zeroed. */
	json_object_del(w.pols, "x/tls");
	pol_add(&w, "x", "late",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}},"
		" \"ingress\": [{\"ports\": [{\"port\": 443}]}]}");
	m2 = compile(&w, m1);
	late = zh_pol_num_of(m2, "x/late");
	assert_int_equal(zh_pol_num_of(m2, "x/web"), web);
	assert_int_equal(zh_pol_num_of(m2, "x/wide"), wide);
	assert_int_equal(zh_pol_num_of(m2, "x/tls"), 0);
	assert_true(late && late != web && late != wide && late != tls);
	assert_int_equal(credited(any_cell_in(m2, "x/b"), 443), late);
	assert_int_equal(zh_pol_diff(m1, m2, &ops, &n_ops), 0);
	zeroed = 0;
	for (size_t i = 0; i < n_ops; i++)
		if (ops[i].type == ZH_POL_OP_NPCTR_ZERO) {
			assert_int_equal(ops[i].npctr, late);
			zeroed++;
		}
	assert_int_equal(zeroed, 1);
	free(ops);
	/* tls back: not late's number, nor one m2 used. */
	pol_add(&w, "x", "tls",
		"{\"podSelector\": {\"matchLabels\": {\"app\": \"b\"}},"
		" \"ingress\": [{\"ports\": [{\"port\": 444}]}]}");
	m3 = compile(&w, m2);
	assert_int_equal(zh_pol_num_of(m3, "x/late"), late);
	assert_true(zh_pol_num_of(m3, "x/tls") != late &&
		    zh_pol_num_of(m3, "x/tls") != web &&
		    zh_pol_num_of(m3, "x/tls") != wide);
	zh_pol_model_free(m1);
	zh_pol_model_free(m2);
	zh_pol_model_free(m3);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_ns),
		cmocka_unit_test(test_counter_numbers),
		cmocka_unit_test(test_default_deny),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_named_ports),
		cmocka_unit_test(test_ipblock),
		cmocka_unit_test(test_policy_types),
		cmocka_unit_test(test_union),
		cmocka_unit_test(test_oracle_random),
		cmocka_unit_test(test_updates),
		cmocka_unit_test(test_diff_random),
		cmocka_unit_test(test_incremental_random),
		cmocka_unit_test(test_diff_renumbered),
		cmocka_unit_test(test_incremental_replaced),
		cmocka_unit_test(test_hash_labels_one_identity),
		cmocka_unit_test(test_bounds_fail_closed),
		cmocka_unit_test(test_rejects_alone),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_address_conflict),
		cmocka_unit_test(test_bad_namespace),
		cmocka_unit_test(test_incremental_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
