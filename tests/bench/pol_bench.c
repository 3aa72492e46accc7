// SPDX-License-Identifier: Apache-2.0
/*
 * pol_bench - the NetworkPolicy compiler at scale (issue 16), for
 * scripts/bench-policy.sh and by hand:
 *
 *   pol_bench gen PODS POLICIES     a generated cluster as a v1 List on
 *                                   stdout (Nodes, Namespaces, Pods,
 *                                   NetworkPolicies), for
 *                                   tests/k8s/apiserver.py --objects
 *   pol_bench compile PODS POLICIES [CHANGES]
 *                                   the same cluster compiled in process:
 *                                   the first compile, then CHANGES (default
 *                                   20) of each kind of single event - a
 *                                   local pod's label, a pod of another
 *                                   node's label, a NetworkPolicy added,
 *                                   a Namespace's label, a pod of this
 *                                   node added and removed, a
 *                                   NetworkPolicy changed and removed -
 *                                   each compiled from the last model and
 *                                   diffed, as zerohopd's policy_sync()
 *                                   does. Prints the times (p50, max;
 *                                   wall and the compile's CPU), and
 *                                   checks each
 *                                   result against a compile from nothing
 *                                   (exit 1 if one differs; not with
 *                                   --no-check, for profiling).
 *
 * The cluster: PODS/100 nodes (gen-node-0 is this node) and namespaces
 * (ns-NNN, labels team=tT (10 teams), env=prod|dev); pod i in namespace
 * (i / 7) % NS on node i % NODES, labels app=app-((i / 3) % 20), tier, a
 * pod-template-hash of its own (no selector reads it), a container port
 * "http" 8080, address 10.128.0.0 + i + 1; policy k in namespace k % NS
 * selects app-A, A = (k / NS) % 20, ingress from app-(A+1) (its
 * namespace) or from app-(A+2) in team t(k % 10), on 8080 and "http";
 * every 5th also from an ipBlock with an except, every 4th also isolates
 * egress (to every namespace on UDP 53, and to app-(A+3) on "http").
 *
 * A benchmark, not a test: it asserts nothing but that incremental and
 * full compiles agree.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "policy.h"

#define APPS 20
#define TEAMS 10
#define PODS_PER_NODE 100

struct cluster {
	size_t pods, policies, nodes, nss;
	json_t *pod_store, *ns_store, *pol_store, *node_list;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* This thread's CPU time: what a compile costs, less the waits for a
 * CPU that a shared machine adds to its wall time. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void ip_of(size_t i, char *buf, size_t len)
{
	uint32_t a = 0x0a800000u + (uint32_t)i + 1;

	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		 (a >> 8) & 255, a & 255);
}

static json_t *gen_pod(const struct cluster *c, size_t i, const char *app)
{
	char name[32], ns[32], ip[20], hash[16], node[32], appbuf[32];

	snprintf(name, sizeof(name), "p-%05zu", i);
	snprintf(ns, sizeof(ns), "ns-%03zu", (i / 7) % c->nss);
	snprintf(node, sizeof(node), "gen-node-%zu", i % c->nodes);
	snprintf(hash, sizeof(hash), "%08x",
		 (unsigned int)((i + 1) * 2654435761u));
	if (!app) {
		snprintf(appbuf, sizeof(appbuf), "app-%zu", (i / 3) % APPS);
		app = appbuf;
	}
	ip_of(i, ip, sizeof(ip));
	return json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{s:s, s:[{s:s, s:[{s:s, s:i}]}]}, s:{s:s, s:s, s:[{s:s}]}}",
		"apiVersion", "v1", "kind", "Pod", "metadata", "namespace", ns,
		"name", name, "labels", "app", app, "tier",
		i % 3 ? "backend" : "frontend", "pod-template-hash", hash,
		"spec", "nodeName", node, "containers", "name", "c", "ports",
		"name", "http", "containerPort", 8080, "status", "phase",
		"Running", "podIP", ip, "podIPs", "ip", ip);
}

static json_t *gen_ns(size_t i, size_t team)
{
	char name[32], t[32];

	snprintf(name, sizeof(name), "ns-%03zu", i);
	snprintf(t, sizeof(t), "t%zu", team);
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}}}", "apiVersion",
			 "v1", "kind", "Namespace", "metadata", "name", name,
			 "labels", "kubernetes.io/metadata.name", name, "team",
			 t, "env", i % 2 ? "prod" : "dev");
}

static json_t *sel_app(size_t a)
{
	char app[32];

	snprintf(app, sizeof(app), "app-%zu", a % APPS);
	return json_pack("{s:{s:s}}", "matchLabels", "app", app);
}

static json_t *gen_policy(const struct cluster *c, size_t k, const char *name)
{
	char ns[32], nbuf[32], team[32], cidr[48], exc[48];
	json_t *from, *ingress, *spec, *types;
	/* The policies of a namespace select apps 0, 1, 2...: about half
	 * the pods are selected, each by one or two. */
	size_t a = k / c->nss;

	snprintf(ns, sizeof(ns), "ns-%03zu", k % c->nss);
	snprintf(team, sizeof(team), "t%zu", k % TEAMS);
	if (!name) {
		snprintf(nbuf, sizeof(nbuf), "np-%04zu", k);
		name = nbuf;
	}
	from = json_pack("[{s:o}, {s:{s:{s:s}}, s:o}]", "podSelector",
			 sel_app(a + 1), "namespaceSelector", "matchLabels",
			 "team", team, "podSelector", sel_app(a + 2));
	if (k % 5 == 0) {
		snprintf(cidr, sizeof(cidr), "10.128.%zu.0/24", k % 256);
		snprintf(exc, sizeof(exc), "10.128.%zu.128/25", k % 256);
		json_array_append_new(from,
				      json_pack("{s:{s:s, s:[s]}}", "ipBlock",
						"cidr", cidr, "except", exc));
	}
	ingress = json_pack("[{s:o, s:[{s:i}, {s:s}]}]", "from", from, "ports",
			    "port", 8080, "port", "http");
	types = json_pack("[s]", "Ingress");
	spec = json_pack("{s:o, s:o, s:o}", "podSelector", sel_app(a),
			 "ingress", ingress, "policyTypes", types);
	if (k % 4 == 0) {
		json_array_append_new(types, json_string("Egress"));
		json_object_set_new(
			spec, "egress",
			json_pack(
				"[{s:[{s:{}}], s:[{s:s, s:i}]}, {s:[{s:o}], s:[{s:s}]}]",
				"to", "namespaceSelector", "ports", "protocol",
				"UDP", "port", 53, "to", "podSelector",
				sel_app(a + 3), "ports", "port", "http"));
	}
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion",
			 "networking.k8s.io/v1", "kind", "NetworkPolicy",
			 "metadata", "namespace", ns, "name", name, "spec",
			 spec);
}

static const char *key_of(const json_t *o, char *buf, size_t len)
{
	const json_t *md = json_object_get(o, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));

	if (ns)
		snprintf(buf, len, "%s/%s", ns, name);
	else
		snprintf(buf, len, "%s", name);
	return buf;
}

static int cluster_gen(struct cluster *c, size_t pods, size_t policies)
{
	char key[128];

	c->pods = pods;
	c->policies = policies;
	c->nodes = pods / PODS_PER_NODE ? pods / PODS_PER_NODE : 1;
	c->nss = c->nodes;
	c->pod_store = json_object();
	c->ns_store = json_object();
	c->pol_store = json_object();
	c->node_list = json_array();
	if (!c->pod_store || !c->ns_store || !c->pol_store || !c->node_list)
		return -ENOMEM;
	for (size_t i = 0; i < c->nodes; i++) {
		char name[32], addr[32];

		snprintf(name, sizeof(name), "gen-node-%zu", i);
		snprintf(addr, sizeof(addr), "172.18.%zu.%zu", i / 250,
			 i % 250 + 2);
		json_array_append_new(
			c->node_list,
			json_pack("{s:s, s:s, s:{s:s}, s:{s:[{s:s, s:s}]}}",
				  "apiVersion", "v1", "kind", "Node",
				  "metadata", "name", name, "status",
				  "addresses", "type", "InternalIP", "address",
				  addr));
	}
	for (size_t i = 0; i < c->nss; i++) {
		json_t *o = gen_ns(i, i % TEAMS);

		if (!o || json_object_set_new(c->ns_store,
					      key_of(o, key, sizeof(key)), o))
			return -ENOMEM;
	}
	for (size_t i = 0; i < pods; i++) {
		json_t *o = gen_pod(c, i, NULL);

		if (!o || json_object_set_new(c->pod_store,
					      key_of(o, key, sizeof(key)), o))
			return -ENOMEM;
	}
	for (size_t k = 0; k < policies; k++) {
		json_t *o = gen_policy(c, k, NULL);

		if (!o || json_object_set_new(c->pol_store,
					      key_of(o, key, sizeof(key)), o))
			return -ENOMEM;
	}
	return 0;
}

static void cluster_free(struct cluster *c)
{
	json_decref(c->pod_store);
	json_decref(c->ns_store);
	json_decref(c->pol_store);
	json_decref(c->node_list);
}

static int cmd_gen(struct cluster *c)
{
	json_t *items = json_array(), *list;
	json_t *stores[] = { c->ns_store, c->pod_store, c->pol_store };

	for (size_t i = 0; i < json_array_size(c->node_list); i++)
		json_array_append(items, json_array_get(c->node_list, i));
	for (size_t i = 0; i < sizeof(stores) / sizeof(*stores); i++)
		for (void *it = json_object_iter(stores[i]); it;
		     it = json_object_iter_next(stores[i], it))
			json_array_append(items, json_object_iter_value(it));
	list = json_pack("{s:s, s:s, s:o}", "kind", "List", "apiVersion", "v1",
			 "items", items);
	if (!list || json_dumpf(list, stdout, JSON_COMPACT))
		return -EIO;
	putchar('\n');
	json_decref(list);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Two models that write the same maps: the same entries, numbers and all. */
static bool models_equal(const struct zh_pol_model *a,
			 const struct zh_pol_model *b)
{
	if (a->n_ipc != b->n_ipc || a->n_lpm != b->n_lpm ||
	    a->n_eps != b->n_eps || a->n_cells != b->n_cells ||
	    a->n_ids != b->n_ids || a->n_classes != b->n_classes)
		return false;
	if ((a->n_ipc && memcmp(a->ipc, b->ipc, a->n_ipc * sizeof(*a->ipc))) ||
	    (a->n_lpm && memcmp(a->lpm, b->lpm, a->n_lpm * sizeof(*a->lpm))))
		return false;
	for (size_t i = 0; i < a->n_eps; i++)
		if (memcmp(&a->eps[i].key, &b->eps[i].key,
			   sizeof(a->eps[i].key)) ||
		    memcmp(&a->eps[i].val, &b->eps[i].val,
			   sizeof(a->eps[i].val)))
			return false;
	for (size_t i = 0; i < a->n_cells; i++)
		if (memcmp(&a->cells[i].key, &b->cells[i].key,
			   sizeof(a->cells[i].key)) ||
		    memcmp(&a->cells[i].val, &b->cells[i].val,
			   sizeof(a->cells[i].val)))
			return false;
	return true;
}

struct timing {
	uint64_t *compile, *diff, *cpu;
	size_t n;
};

static void report(const char *what, struct timing *t)
{
	if (!t->n)
		return;
	qsort(t->compile, t->n, sizeof(uint64_t), cmp_u64);
	qsort(t->diff, t->n, sizeof(uint64_t), cmp_u64);
	qsort(t->cpu, t->n, sizeof(uint64_t), cmp_u64);
	printf("%-34s %6zu %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f\n", what,
	       t->n, (double)t->compile[t->n / 2] / 1e6,
	       (double)t->compile[t->n - 1] / 1e6,
	       (double)t->diff[t->n / 2] / 1e6, (double)t->diff[t->n - 1] / 1e6,
	       (double)t->cpu[t->n / 2] / 1e6, (double)t->cpu[t->n - 1] / 1e6);
}

/*
 * The stores as they are now compiled from *@m (which the new model then
 * replaces), and diffed, timed into @t; with @check, the result compared
 * with a compile of the same stores from the same *@m without its cache
 * (numbers keep their meaning from *@m, so both must be equal). Returns
 * 0, -EIO when they differ.
 */
static int step(struct cluster *c, const struct zh_pol_opts *o,
		struct zh_pol_model **m, struct timing *t, bool check)
{
	struct zh_pol_model *next = NULL, *full = NULL;
	struct zh_pol_op *ops = NULL;
	size_t n_ops = 0;
	uint64_t t0, t1, t2, c0;
	int rc;

	c0 = cpu_ns();
	t0 = now_ns();
	rc = zh_pol_compile(c->pod_store, c->ns_store, c->pol_store, o, *m,
			    &next);
	t1 = now_ns();
	t->cpu[t->n] = cpu_ns() - c0;
	if (!rc)
		rc = zh_pol_diff(*m, next, &ops, &n_ops);
	t2 = now_ns();
	free(ops);
	if (rc) {
		fprintf(stderr, "pol_bench: compile: %s\n", strerror(-rc));
		zh_pol_model_free(next);
		return rc;
	}
	t->compile[t->n] = t1 - t0;
	t->diff[t->n] = t2 - t1;
	t->n++;
	if (check) {
		struct zh_pol_opts fo = *o;

		fo.no_cache = true;
		rc = zh_pol_compile(c->pod_store, c->ns_store, c->pol_store,
				    &fo, *m, &full);
		if (!rc && !models_equal(next, full)) {
			fprintf(stderr,
				"pol_bench: the incremental compile differs from a full one\n");
			rc = -EIO;
		}
		zh_pol_model_free(full);
	}
	zh_pol_model_free(*m);
	*m = next;
	return rc;
}

static int cmd_compile(struct cluster *c, size_t changes, bool check)
{
	struct zh_pol_opts o = { .node = "gen-node-0" };
	struct zh_pol_model *m = NULL;
	struct timing t = { 0 };
	char key[128], name[32];
	int rc = 0;

	t.compile = calloc(changes + 2, sizeof(uint64_t));
	t.diff = calloc(changes + 2, sizeof(uint64_t));
	t.cpu = calloc(changes + 2, sizeof(uint64_t));
	if (!t.compile || !t.diff || !t.cpu) {
		free(t.compile);
		free(t.diff);
		free(t.cpu);
		return -ENOMEM;
	}
	printf("pol_bench: %zu pods on %zu nodes (%zu here), %zu namespaces, %zu NetworkPolicies\n",
	       c->pods, c->nodes, (c->pods + c->nodes - 1) / c->nodes, c->nss,
	       c->policies);
	printf("%-34s %6s %10s %10s %10s %10s %10s %10s\n", "EVENT", "N",
	       "compile50", "compile100", "diff50", "diff100", "cpu50",
	       "cpu100");
	rc = step(c, &o, &m, &t, false);
	if (rc)
		goto out;
	printf("(%zu identities, %zu classes, %zu cells, %zu ipcache, %zu endpoints)\n",
	       m->sum.identities, m->sum.classes, m->sum.cells, m->sum.ipcache,
	       m->sum.endpoints);
	report("first compile (ms)", &t);
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++)
		rc = step(c, &o, &m, &t, check);
	report("nothing changed", &t);
	/* A pod of this node (pod 0 is on gen-node-0): its app label. */
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		json_t *p = gen_pod(c, 0, i % 2 ? "app-0" : "app-7");

		json_object_set_new(c->pod_store, key_of(p, key, sizeof(key)),
				    p);
		rc = step(c, &o, &m, &t, check);
	}
	report("local pod label", &t);
	/* A pod of another node (pod 1 is on gen-node-1, if any). */
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		json_t *p = gen_pod(c, 1, i % 2 ? "app-1" : "app-9");

		json_object_set_new(c->pod_store, key_of(p, key, sizeof(key)),
				    p);
		rc = step(c, &o, &m, &t, check);
	}
	report("remote pod label", &t);
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		json_t *p;

		snprintf(name, sizeof(name), "np-new-%zu", i);
		p = gen_policy(c, i, name);
		json_object_set_new(c->pol_store, key_of(p, key, sizeof(key)),
				    p);
		rc = step(c, &o, &m, &t, check);
	}
	report("policy added", &t);
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		/* Namespace 1 between teams t1 and t2. */
		json_t *p = gen_ns(1 % c->nss, i % 2 ? 1 : 2);

		json_object_set_new(c->ns_store, key_of(p, key, sizeof(key)),
				    p);
		rc = step(c, &o, &m, &t, check);
	}
	report("namespace label", &t);
	/* A pod of this node added (the address of none), then removed. */
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		json_t *p = gen_pod(c, 0, "app-3");
		char ip[32];

		snprintf(name, sizeof(name), "p-new-%zu", i);
		snprintf(ip, sizeof(ip), "10.127.%zu.%zu", i / 250,
			 i % 250 + 1);
		json_object_set_new(json_object_get(p, "metadata"), "name",
				    json_string(name));
		json_object_set_new(json_object_get(p, "status"), "podIP",
				    json_string(ip));
		json_object_set_new(json_object_get(p, "status"), "podIPs",
				    json_pack("[{s:s}]", "ip", ip));
		json_object_set_new(c->pod_store, key_of(p, key, sizeof(key)),
				    p);
		rc = step(c, &o, &m, &t, check);
	}
	report("local pod added", &t);
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		snprintf(key, sizeof(key), "ns-000/p-new-%zu", i);
		json_object_del(c->pod_store, key);
		rc = step(c, &o, &m, &t, check);
	}
	report("local pod removed", &t);
	/* Policy 0 changed (its first port), then the added ones removed. */
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		json_t *p = gen_policy(c, 0, NULL);

		json_object_set_new(
			json_array_get(
				json_object_get(
					json_array_get(
						json_object_get(
							json_object_get(p,
									"spec"),
							"ingress"),
						0),
					"ports"),
				0),
			"port", json_integer(8080 + (json_int_t)(i % 2 + 1)));
		json_object_set_new(c->pol_store, key_of(p, key, sizeof(key)),
				    p);
		rc = step(c, &o, &m, &t, check);
	}
	report("policy changed", &t);
	t.n = 0;
	for (size_t i = 0; !rc && i < changes; i++) {
		snprintf(key, sizeof(key), "ns-%03zu/np-new-%zu", i % c->nss,
			 i);
		json_object_del(c->pol_store, key);
		rc = step(c, &o, &m, &t, check);
	}
	report("policy removed", &t);
	if (check && !rc)
		printf("every incremental compile equal to a full one\n");
out:
	zh_pol_model_free(m);
	free(t.compile);
	free(t.diff);
	free(t.cpu);
	return rc;
}

int main(int argc, char **argv)
{
	struct cluster c = { 0 };
	size_t pods, pols, changes = 20;
	bool check;
	int rc;

	if (argc < 4 ||
	    (strcmp(argv[1], "gen") && strcmp(argv[1], "compile"))) {
		fprintf(stderr,
			"usage: pol_bench gen PODS POLICIES\n"
			"       pol_bench compile PODS POLICIES [CHANGES [--no-check]]\n");
		return 2;
	}
	pods = strtoul(argv[2], NULL, 10);
	pols = strtoul(argv[3], NULL, 10);
	if (argc > 4)
		changes = strtoul(argv[4], NULL, 10);
	/* (Profiling the incremental compiles alone.) */
	check = !(argc > 5 && !strcmp(argv[5], "--no-check"));
	if (!pods || pods > 1000000 || pols > 100000 || changes > 100000) {
		fprintf(stderr, "pol_bench: out of range\n");
		return 2;
	}
	rc = cluster_gen(&c, pods, pols);
	if (!rc)
		rc = !strcmp(argv[1], "gen") ? cmd_gen(&c) :
					       cmd_compile(&c, changes, check);
	cluster_free(&c);
	if (rc)
		fprintf(stderr, "pol_bench: %s\n", strerror(-rc));
	return rc ? 1 : 0;
}
