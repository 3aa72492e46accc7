// SPDX-License-Identifier: Apache-2.0
/*
 * test_nodes.c - the node table (user/lib/nodes.c): our JSON and kubectl's
 * NodeList, one Kubernetes Node, what each broken document is refused for
 * (and that nothing is returned then), adding and removing nodes, the
 * VXLAN MAC of a node, and the state file round trip.
 *
 * Documents are written with single quotes (jq() turns them into double
 * quotes) so that they stay readable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "nodes.h"
#include "util.h"

static char *jq(const char *s)
{
	char *d = strdup(s), *c;

	assert_non_null(d);
	for (c = d; *c; c++)
		if (*c == '\'')
			*c = '"';
	return d;
}

static int parse(const char *doc, struct zh_node_set *set, char *err,
		 size_t len)
{
	char *t = jq(doc);
	int rc = zh_nodes_parse(t, strlen(t), set, err, len);

	free(t);
	return rc;
}

static void assert_addr(const struct zh_addr *a, const char *want, bool prefix)
{
	char buf[64];

	assert_string_equal(zh_addr_str(a, prefix, buf, sizeof(buf)), want);
}

static void test_ours(void **state)
{
	struct zh_node_set set;
	char err[256] = "";

	(void)state;
	assert_int_equal(
		parse("{'nodes': ["
		      "{'name': 'n1', 'addresses': ['192.168.50.1', 'fd50::1'],"
		      " 'podCIDRs': ['10.244.1.0/24', 'fd44:1::/64']},"
		      "{'name': 'n2', 'addresses': ['192.168.50.2']}]}",
		      &set, err, sizeof(err)),
		0);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.v[0].name, "n1");
	assert_int_equal(set.v[0].n_addrs, 2);
	assert_addr(&set.v[0].addrs[1], "fd50::1", false);
	assert_int_equal(set.v[0].addrs[0].prefix, 32);
	assert_int_equal(set.v[0].addrs[1].prefix, 128);
	assert_int_equal(set.v[0].n_cidrs, 2);
	assert_addr(&set.v[0].cidrs[0], "10.244.1.0/24", true);
	assert_addr(&set.v[0].cidrs[1], "fd44:1::/64", true);
	/* A node without pod CIDRs (not assigned yet) is a node. */
	assert_int_equal(set.v[1].n_cidrs, 0);
	assert_non_null(zh_node_set_find(&set, "n2"));
	assert_null(zh_node_set_find(&set, "n3"));
	zh_node_set_free(&set);
}

static void test_kubectl(void **state)
{
	struct zh_node_set set;
	char err[256] = "";

	(void)state;
	assert_int_equal(
		parse("{'apiVersion': 'v1', 'kind': 'List', 'items': ["
		      "{'kind': 'Node', 'metadata': {'name': 'kind-worker'},"
		      " 'spec': {'podCIDR': '10.244.1.0/24',"
		      "          'podCIDRs': ['10.244.1.0/24', 'fd00:10:244:1::/64']},"
		      " 'status': {'addresses': ["
		      "   {'type': 'InternalIP', 'address': '172.18.0.3'},"
		      "   {'type': 'InternalIP', 'address': 'fc00:f853:ccd:e793::3'},"
		      "   {'type': 'Hostname', 'address': 'kind-worker'}]}},"
		      "{'kind': 'Node', 'metadata': {'name': 'old'},"
		      " 'spec': {'podCIDR': '10.244.2.0/24'},"
		      " 'status': {'addresses': ["
		      "   {'type': 'InternalIP', 'address': '172.18.0.4'}]}}]}",
		      &set, err, sizeof(err)),
		0);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.v[0].name, "kind-worker");
	/* Only InternalIPs. */
	assert_int_equal(set.v[0].n_addrs, 2);
	assert_addr(&set.v[0].addrs[1], "fc00:f853:ccd:e793::3", false);
	assert_int_equal(set.v[0].n_cidrs, 2);
	assert_addr(&set.v[0].cidrs[1], "fd00:10:244:1::/64", true);
	/* spec.podCIDR alone (before dual-stack). */
	assert_int_equal(set.v[1].n_cidrs, 1);
	assert_addr(&set.v[1].cidrs[0], "10.244.2.0/24", true);
	zh_node_set_free(&set);
}

static void test_refused(void **state)
{
	static const struct {
		const char *doc, *says;
	} cases[] = {
		{ "[]", "want {\"nodes\"" },
		{ "{'nodes': {}}", "want {\"nodes\"" },
		{ "{'nodes': [{'addresses': ['10.0.0.1']}]}", "name" },
		{ "{'nodes': [{'name': 'a b', 'addresses': ['10.0.0.1']}]}",
		  "name" },
		{ "{'nodes': [{'name': 'n1'}]}", "addresses" },
		{ "{'nodes': [{'name': 'n1', 'addresses': []}]}", "addresses" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['10.0.0.256']}]}",
		  "no IP address" },
		{ "{'nodes': [{'name': 'n1', 'addresses': [1]}]}", "strings" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['10.0.0.1'],"
		  " 'podCIDRs': ['10.244.1.1/24']}]}",
		  "host bits zero" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['10.0.0.1'],"
		  " 'podCIDRs': ['10.244.1.0']}]}",
		  "no CIDR" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['10.0.0.1'],"
		  " 'podCIDRs': ['0.0.0.0/0']}]}",
		  "no CIDR" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['10.0.0.1']},"
		  " {'name': 'n1', 'addresses': ['10.0.0.2']}]}",
		  "n1 is there twice" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['10.0.0.1'],"
		  " 'podCIDRs': ['10.244.0.0/16']},"
		  " {'name': 'n2', 'addresses': ['10.0.0.2'],"
		  " 'podCIDRs': ['10.244.2.0/24']}]}",
		  "overlap" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['10.0.0.1'],"
		  " 'podCIDRs': ['fd44:1::/64', 'fd44:1:0:0:8000::/65']}]}",
		  "nodes n1 and n1" },
		{ "{'nodes': [{'name': 'a', 'addresses': ['10.0.0.1'],"
		  " 'podCIDRs': ['10.244.2.0/24', '10.0.0.0/8']},"
		  " {'name': 'b', 'addresses': ['10.0.0.2'],"
		  " 'podCIDRs': ['10.245.0.0/16']}]}",
		  "overlap" },
		{ "{'nodes': [{'name': 'n1', 'addresses': ['1.1.1.1', '2.2.2.2',"
		  " '3.3.3.3', '4.4.4.4', '5.5.5.5']}]}",
		  "more than 4 addresses" },
		{ "{'items': [{'metadata': {'name': 'n1'}, 'status': {}}]}",
		  "no InternalIP" },
		{ "{'nodes': [", "line 1" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct zh_node_set set = { .n = 99 };
		char err[256] = "";

		if (parse(cases[i].doc, &set, err, sizeof(err)) != -EINVAL)
			fail_msg("case %zu accepted: %s", i, cases[i].doc);
		assert_contains(err, cases[i].says);
		assert_int_equal(set.n, 0);
		assert_null(set.v);
	}
}

/* Many nodes, neighbouring CIDRs of both families: accepted, quickly
 * (the overlap check sorts). */
static void test_many_adjacent(void **state)
{
	size_t len = 200 * 4096, off;
	struct zh_node_set set;
	char *doc = malloc(len), err[256] = "";

	(void)state;
	assert_non_null(doc);
	off = (size_t)snprintf(doc, len, "{\"nodes\": [");
	for (int i = 0; i < ZH_NODES_MAX; i++)
		off += (size_t)snprintf(
			doc + off, len - off,
			"%s{\"name\": \"n%d\", \"addresses\": [\"10.%d.%d.1\"], \"podCIDRs\": [\"10.%d.%d.0/24\", \"fd44:%x::/64\"]}",
			i ? "," : "", i, 128 + i / 256, i % 256, i / 256,
			i % 256, i);
	snprintf(doc + off, len - off, "]}");
	if (zh_nodes_parse(doc, strlen(doc), &set, err, sizeof(err)))
		fail_msg("refused: %s", err);
	assert_int_equal(set.n, ZH_NODES_MAX);
	zh_node_set_free(&set);
	free(doc);
}

static struct zh_node_info node(const char *name, const char *addr,
				const char *cidr)
{
	struct zh_node_info n;
	char err[256];
	char *doc, buf[256];
	json_t *o;

	snprintf(buf, sizeof(buf),
		 "{'name': '%s', 'addresses': ['%s'], 'podCIDRs': ['%s']}",
		 name, addr, cidr);
	doc = jq(buf);
	o = json_loads(doc, 0, NULL);
	assert_non_null(o);
	assert_int_equal(zh_node_from_json(o, &n, err, sizeof(err)), 0);
	json_decref(o);
	free(doc);
	return n;
}

static void test_put_del(void **state)
{
	struct zh_node_set set = { 0 };
	struct zh_node_info n1 = node("n1", "10.0.0.1", "10.244.1.0/24");
	struct zh_node_info n2 = node("n2", "10.0.0.2", "10.244.2.0/24");
	struct zh_node_info n1b = node("n1", "10.0.0.11", "10.244.11.0/24");

	(void)state;
	assert_int_equal(zh_node_set_put(&set, &n1), 0);
	assert_int_equal(zh_node_set_put(&set, &n2), 0);
	/* The same name replaces. */
	assert_int_equal(zh_node_set_put(&set, &n1b), 0);
	assert_int_equal(set.n, 2);
	assert_addr(&zh_node_set_find(&set, "n1")->addrs[0], "10.0.0.11",
		    false);
	assert_int_equal(zh_node_set_del(&set, "n1"), 0);
	assert_int_equal(zh_node_set_del(&set, "n1"), -ENOENT);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.v[0].name, "n2");
	zh_node_set_free(&set);
}

static void test_vxlan_mac(void **state)
{
	struct zh_addr a, b;
	unsigned char m[6], m2[6];

	(void)state;
	assert_int_equal(zh_addr_parse("192.168.50.2", false, &a), 0);
	zh_vxlan_mac(&a, m);
	/* Locally administered unicast, the IPv4 address in it. */
	assert_int_equal(m[0], 0x02);
	assert_int_equal(m[1], 0x7a);
	assert_memory_equal(m + 2, a.raw, 4);
	assert_int_equal(zh_addr_parse("fd50::2", false, &a), 0);
	assert_int_equal(zh_addr_parse("fd50::3", false, &b), 0);
	zh_vxlan_mac(&a, m);
	zh_vxlan_mac(&b, m2);
	assert_int_equal(m[0] & 0x03, 0x02);
	assert_memory_not_equal(m, m2, 6);
}

static void test_state_round_trip(void **state)
{
	char dir[] = "/tmp/zh-test-nodes.XXXXXX", err[256] = "", path[64];
	struct zh_cluster_conf c, back;
	struct zh_node_set set = { 0 }, got;
	struct zh_node_info n1 = node("n1", "fd50::1", "fd44:1::/64");

	(void)state;
	assert_non_null(mkdtemp(dir));
	zh_cluster_conf_init(&c);
	snprintf(c.self, sizeof(c.self), "n1");
	c.routing = ZH_ROUTING_VXLAN;
	c.vxlan_port = 4789;
	c.vni = 42;
	assert_int_equal(zh_node_set_put(&set, &n1), 0);
	assert_int_equal(zh_cluster_state_load(dir, &back, &got, err,
					       sizeof(err)),
			 -ENOENT);
	assert_contains(err, "none");
	assert_int_equal(zh_cluster_state_save(dir, &c, &set), 0);
	assert_int_equal(
		zh_cluster_state_load(dir, &back, &got, err, sizeof(err)), 0);
	assert_string_equal(back.self, "n1");
	assert_int_equal(back.routing, ZH_ROUTING_VXLAN);
	assert_int_equal(back.vxlan_port, 4789);
	assert_int_equal(back.vni, 42);
	assert_string_equal(back.vxlan_dev, ZH_VXLAN_DEV);
	assert_int_equal(got.n, 1);
	assert_addr(&got.v[0].cidrs[0], "fd44:1::/64", true);
	zh_node_set_free(&set);
	zh_node_set_free(&got);
	snprintf(path, sizeof(path), "%s/%s", dir, ZH_CLUSTER_STATE);
	unlink(path);
	rmdir(dir);
}

static void test_routing_words(void **state)
{
	(void)state;
	assert_int_equal(zh_routing_parse("native"), ZH_ROUTING_NATIVE);
	assert_int_equal(zh_routing_parse("vxlan"), ZH_ROUTING_VXLAN);
	assert_int_equal(zh_routing_parse("geneve"), -EINVAL);
	assert_string_equal(zh_routing_name(ZH_ROUTING_VXLAN), "vxlan");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ours),
		cmocka_unit_test(test_kubectl),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_many_adjacent),
		cmocka_unit_test(test_put_del),
		cmocka_unit_test(test_vxlan_mac),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_routing_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
