// SPDX-License-Identifier: Apache-2.0
/*
 * test_cni.c - unit tests for the CNI protocol side: environment, network
 * configuration, results, error/VERSION JSON and IPAM delegation (with
 * small /bin/sh scripts standing in for IPAM plugins).
 */
#define _GNU_SOURCE /* nftw(), mkdtemp() */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cni.h"
#include "util.h"

/* ------------------------------------------------------------------ env */

struct fake_env {
	const char *cmd, *cid, *netns, *ifname, *args, *path;
	const char *ipam_timeout;
};

static struct fake_env fenv;

static const char *fake_get(const char *name)
{
	if (!strcmp(name, "CNI_COMMAND"))
		return fenv.cmd;
	if (!strcmp(name, "CNI_CONTAINERID"))
		return fenv.cid;
	if (!strcmp(name, "CNI_NETNS"))
		return fenv.netns;
	if (!strcmp(name, "CNI_IFNAME"))
		return fenv.ifname;
	if (!strcmp(name, "CNI_ARGS"))
		return fenv.args;
	if (!strcmp(name, "CNI_PATH"))
		return fenv.path;
	if (!strcmp(name, "ZEROHOP_IPAM_TIMEOUT"))
		return fenv.ipam_timeout;
	return NULL;
}

static void fenv_full(const char *cmd)
{
	fenv = (struct fake_env){
		.cmd = cmd,
		.cid = "3f2a9c81d0e4b5a6",
		.netns = "/var/run/netns/cni-1234",
		.ifname = "eth0",
		.args = "IgnoreUnknown=1;K8S_POD_NAME=web-0",
		.path = "/opt/cni/bin:/usr/libexec/cni",
	};
}

static void test_env_each_command(void **state)
{
	static const struct {
		const char *name;
		enum zh_cni_cmd cmd;
	} cases[] = {
		{ "ADD", ZH_CNI_ADD },	     { "DEL", ZH_CNI_DEL },
		{ "CHECK", ZH_CNI_CHECK },   { "VERSION", ZH_CNI_VERSION },
		{ "STATUS", ZH_CNI_STATUS }, { "GC", ZH_CNI_GC },
	};
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fenv_full(cases[i].name);
		assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
		assert_int_equal(env.cmd, cases[i].cmd);
		assert_string_equal(env.container_id, "3f2a9c81d0e4b5a6");
		assert_string_equal(env.netns, "/var/run/netns/cni-1234");
		assert_string_equal(env.ifname, "eth0");
		assert_string_equal(env.args,
				    "IgnoreUnknown=1;K8S_POD_NAME=web-0");
		assert_string_equal(env.path, "/opt/cni/bin:/usr/libexec/cni");
		assert_string_equal(zh_cni_cmd_name(cases[i].cmd),
				    cases[i].name);
	}
}

static void test_env_version_needs_nothing(void **state)
{
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;

	(void)state;
	fenv = (struct fake_env){ .cmd = "VERSION" };
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_int_equal(env.cmd, ZH_CNI_VERSION);
	assert_null(env.container_id);
	assert_null(env.path);
}

static void test_env_all_missing_at_once(void **state)
{
	static const char *const cmds[] = { "ADD", "CHECK" };
	static const char *const names[] = { "CNI_CONTAINERID", "CNI_NETNS",
					     "CNI_IFNAME", "CNI_PATH" };
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		/* Empty counts as unset, like the reference does. */
		fenv = (struct fake_env){ .cmd = cmds[i], .ifname = "" };
		assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
		assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
		assert_contains(err.msg,
				"required environment variables missing");
		for (k = 0; k < ARRAY_SIZE(names); k++)
			assert_contains(err.details, names[k]);
		assert_null(strstr(err.details, "CNI_ARGS"));
	}

	/* DEL never needs CNI_NETNS. */
	fenv = (struct fake_env){ .cmd = "DEL" };
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
	assert_string_equal(err.details,
			    "CNI_CONTAINERID, CNI_IFNAME, CNI_PATH");

	/* Just one missing: just that one named. */
	fenv_full("ADD");
	fenv.path = NULL;
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
	assert_string_equal(err.details, "CNI_PATH");
}

static void test_env_del_without_netns(void **state)
{
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;

	(void)state;
	fenv_full("DEL");
	fenv.netns = NULL;
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_int_equal(env.cmd, ZH_CNI_DEL);
	assert_null(env.netns);

	fenv.netns = "";
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_null(env.netns);
}

/* STATUS and GC act on a network: no attachment variables needed. */
static void test_env_status_gc(void **state)
{
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;

	(void)state;
	fenv = (struct fake_env){ .cmd = "STATUS" };
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_int_equal(env.cmd, ZH_CNI_STATUS);
	assert_null(env.path);

	fenv = (struct fake_env){ .cmd = "STATUS", .path = "/opt/cni/bin" };
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_string_equal(env.path, "/opt/cni/bin");

	fenv = (struct fake_env){ .cmd = "GC", .path = "/opt/cni/bin" };
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_int_equal(env.cmd, ZH_CNI_GC);
	assert_null(env.container_id);
	assert_null(env.netns);
	assert_null(env.ifname);
	assert_string_equal(env.path, "/opt/cni/bin");

	/* GC needs CNI_PATH (the spec says so), and only that. */
	fenv = (struct fake_env){ .cmd = "GC" };
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
	assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
	assert_string_equal(err.details, "CNI_PATH");

	/* Attachment variables a runtime sets anyway are not judged. */
	fenv = (struct fake_env){
		.cmd = "GC", .cid = "-bad id", .ifname = "a/b", .path = "/x"
	};
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	fenv.cmd = "STATUS";
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);

	/* ADD still needs them all. */
	fenv = (struct fake_env){ .cmd = "ADD", .path = "/opt/cni/bin" };
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
	assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
	assert_string_equal(err.details,
			    "CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME");
}

static void test_env_bad_command(void **state)
{
	static const char *const bad[] = { "add",    "FOO", "ADD ", "DELETE",
					   "status", "gc",  "GC ",  "STATUSES" };
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fenv_full(bad[i]);
		assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
		assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
		assert_contains(err.msg, "CNI_COMMAND");
		assert_contains(err.details, bad[i]);
	}

	fenv_full(NULL);
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
	assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
	assert_string_equal(err.details, "CNI_COMMAND");
}

static void test_env_container_ids(void **state)
{
	static const struct {
		const char *id;
		bool ok;
	} cases[] = {
		{ "a", true },
		{ "0", true },
		{ "3f2a9c81d0e4b5a6c7d8e9f00112233445566778899aabbccddeeff0011223",
		  true },
		{ "pod_1.web-0", true },
		{ "Z.-_", true },
		{ "-abc", false },
		{ ".abc", false },
		{ "_abc", false },
		{ "ab c", false },
		{ "ab/c", false },
		{ "ab:c", false },
		{ "ab$c", false },
		{ "abc\n", false },
		{ "caf\xc3\xa9", false },
	};
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fenv_full("ADD");
		fenv.cid = cases[i].id;
		memset(&err, 0, sizeof(err));
		if (cases[i].ok) {
			assert_int_equal(zh_cni_env_parse(&env, fake_get, &err),
					 0);
			assert_string_equal(env.container_id, cases[i].id);
			continue;
		}
		assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
		assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
		assert_contains(err.msg, "containerID");
	}
}

/* A netns path the endpoint entry cannot keep whole is refused, never
 * cut (the agent enters it later). */
static void test_env_netns_length(void **state)
{
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;
	char path[ZH_NETNS_LEN + 8];

	(void)state;
	memset(path, 'n', sizeof(path));
	path[0] = '/';
	path[ZH_NETNS_LEN - 1] = '\0'; /* 127 bytes: fits */
	fenv_full("ADD");
	fenv.netns = path;
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	path[ZH_NETNS_LEN - 1] = 'n';
	path[ZH_NETNS_LEN] = '\0'; /* 128: does not */
	for (int c = 0; c < 2; c++) {
		fenv_full(c ? "CHECK" : "ADD");
		fenv.netns = path;
		assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
		assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
		assert_string_equal(err.msg, "CNI_NETNS too long");
		assert_contains(err.details, "128 bytes");
	}
}

/* The IPAM plugin's deadline: 30 s, or ZEROHOP_IPAM_TIMEOUT seconds. */
static void test_env_ipam_timeout(void **state)
{
	static const char *const bad[] = { "0", "601", "5s", "-1", "x" };
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;

	(void)state;
	fenv_full("ADD");
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_int_equal(env.ipam_timeout_s, ZH_IPAM_TIMEOUT_S);
	fenv.ipam_timeout = "4";
	assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), 0);
	assert_int_equal(env.ipam_timeout_s, 4);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		fenv.ipam_timeout = bad[i];
		assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
		assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
		assert_string_equal(err.msg, "bad ZEROHOP_IPAM_TIMEOUT");
	}
}

static void test_env_ifnames(void **state)
{
	static const struct {
		const char *ifname;
		const char *msg; /* NULL: valid */
	} cases[] = {
		{ "eth0", NULL },
		{ "e", NULL },
		{ "123456789012345", NULL },
		{ "...", NULL },
		{ ".a", NULL },
		{ "net-1_x.y", NULL },
		{ "1234567890123456", "too long" },
		{ ".", ". or .." },
		{ "..", ". or .." },
		{ "eth/0", "/ or :" },
		{ "eth:0", "/ or :" },
		{ "eth 0", "whitespace" },
		{ "eth\t0", "whitespace" },
		{ "eth0\n", "whitespace" },
	};
	struct zh_cni_err err = { 0 };
	struct zh_cni_env env;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fenv_full("CHECK");
		fenv.ifname = cases[i].ifname;
		if (!cases[i].msg) {
			assert_int_equal(zh_cni_env_parse(&env, fake_get, &err),
					 0);
			assert_string_equal(env.ifname, cases[i].ifname);
			continue;
		}
		assert_int_equal(zh_cni_env_parse(&env, fake_get, &err), -1);
		assert_int_equal(err.code, ZH_CNI_ERR_INVALID_ENV);
		assert_contains(err.msg, "interface name");
		assert_contains(err.msg, cases[i].msg);
	}
}

/* ----------------------------------------------------------------- conf */

static int conf_parse_str(const char *doc, struct zh_netconf *conf,
			  struct zh_cni_err *err)
{
	return zh_netconf_parse(doc, strlen(doc), conf, err);
}

static void test_conf_defaults(void **state)
{
	static const char doc[] =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"k8s-pod-network\","
		"\"type\":\"zerohop\",\"ipam\":{\"type\":\"host-local\","
		"\"subnet\":\"10.244.0.0/24\"}}";
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;

	(void)state;
	assert_int_equal(conf_parse_str(doc, &conf, &err), 0);
	assert_non_null(conf.root);
	assert_string_equal(conf.cni_version, "1.0.0");
	assert_string_equal(conf.name, "k8s-pod-network");
	assert_string_equal(conf.type, "zerohop");
	assert_int_equal(conf.mtu, 1500);
	assert_int_equal(conf.datapath, ZH_DATAPATH_TC);
	assert_string_equal(conf.ipam_type, "host-local");
	assert_null(conf.prev_result);
	assert_int_equal(conf.raw_len, strlen(doc));
	assert_memory_equal(conf.raw, doc, strlen(doc));
	assert_int_equal(conf.raw[conf.raw_len], '\0');
	zh_netconf_free(&conf);
	assert_null(conf.root);
	assert_null(conf.raw);
	zh_netconf_free(&conf); /* twice is harmless */
}

static void test_conf_full(void **state)
{
	static const char doc[] =
		"{\"cniVersion\":\"0.4.0\",\"name\":\"net.1_a-b\","
		"\"type\":\"zerohop\",\"mtu\":9000,\"datapath\":\"xdp\","
		"\"somethingElse\":[1,2,{\"x\":null}],"
		"\"ipam\":{\"type\":\"static\"},"
		"\"prevResult\":{\"cniVersion\":\"0.4.0\",\"ips\":[{"
		"\"version\":\"4\",\"address\":\"10.0.0.2/24\"}]}}";
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;
	struct zh_result res;

	(void)state;
	assert_int_equal(conf_parse_str(doc, &conf, &err), 0);
	assert_string_equal(conf.cni_version, "0.4.0");
	assert_string_equal(conf.name, "net.1_a-b");
	assert_int_equal(conf.mtu, 9000);
	assert_int_equal(conf.datapath, ZH_DATAPATH_XDP);
	assert_string_equal(conf.ipam_type, "static");
	assert_non_null(conf.prev_result);
	assert_true(json_is_object(conf.prev_result));
	assert_ptr_equal(conf.prev_result,
			 json_object_get(conf.root, "prevResult"));

	assert_int_equal(zh_result_parse(conf.prev_result, &res, &err), 0);
	assert_int_equal(res.n_ips, 1);
	assert_string_equal(res.ips[0].address, "10.0.0.2/24");
	zh_result_free(&res);
	zh_netconf_free(&conf);
}

static void test_conf_edges_ok(void **state)
{
	static const struct {
		const char *doc;
		unsigned int mtu;
		enum zh_datapath dp;
		enum zh_device dev;
	} cases[] = {
		{ "{\"cniVersion\":\"0.3.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"mtu\":68,\"ipam\":{\"type\":\"i\"}}",
		  68, ZH_DATAPATH_TC, ZH_DEVICE_VETH },
		{ "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"t\","
		  "\"mtu\":65535,\"datapath\":\"tc\","
		  "\"ipam\":{\"type\":\"i\"}}",
		  65535, ZH_DATAPATH_TC, ZH_DEVICE_VETH },
		/* null counts as absent for optional keys */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"mtu\":null,\"datapath\":null,\"prevResult\":null,"
		  "\"device\":null,\"ipam\":{\"type\":\"i\"}}",
		  1500, ZH_DATAPATH_TC, ZH_DEVICE_VETH },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"device\":\"netkit\",\"ipam\":{\"type\":\"i\"}}",
		  1500, ZH_DATAPATH_TC, ZH_DEVICE_NETKIT },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"device\":\"veth\",\"ipam\":{\"type\":\"i\"}}",
		  1500, ZH_DATAPATH_TC, ZH_DEVICE_VETH },
		/* auto with XDP: parsed; ADD gives such a pod a veth */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"device\":\"auto\",\"datapath\":\"xdp\","
		  "\"ipam\":{\"type\":\"i\"}}",
		  1500, ZH_DATAPATH_XDP, ZH_DEVICE_AUTO },
	};
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(conf_parse_str(cases[i].doc, &conf, &err), 0);
		assert_int_equal(conf.mtu, cases[i].mtu);
		assert_int_equal(conf.datapath, cases[i].dp);
		assert_int_equal(conf.device, cases[i].dev);
		assert_null(conf.prev_result);
		zh_netconf_free(&conf);
	}
}

#define GOOD_TAIL "\"type\":\"zerohop\",\"ipam\":{\"type\":\"host-local\"}"

static void test_conf_errors(void **state)
{
	static const struct {
		const char *doc;
		int code;
		const char *msg;
	} cases[] = {
		/* decode */
		{ "", ZH_CNI_ERR_DECODE, "empty" },
		{ "{\"cniVersion\":", ZH_CNI_ERR_DECODE, "line 1, column" },
		{ "{\n\"a\": 1,\n}", ZH_CNI_ERR_DECODE, "line 3" },
		{ "[1,2]", ZH_CNI_ERR_DECODE, "object" },
		/* cniVersion */
		{ "{\"name\":\"n\"," GOOD_TAIL "}", ZH_CNI_ERR_INVALID_CONFIG,
		  "cniVersion" },
		{ "{\"cniVersion\":\"\",\"name\":\"n\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "cniVersion" },
		{ "{\"cniVersion\":1,\"name\":\"n\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "cniVersion" },
		{ "{\"cniVersion\":\"0.2.0\",\"name\":\"n\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INCOMPATIBLE, "\"0.2.0\"" },
		{ "{\"cniVersion\":\"2.0.0\",\"name\":\"n\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INCOMPATIBLE,
		  "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0" },
		{ "{\"cniVersion\":\"1.1.1\",\"name\":\"n\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INCOMPATIBLE, "\"1.1.1\"" },
		{ "{\"cniVersion\":\"1.0\",\"name\":\"n\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INCOMPATIBLE, "\"1.0\"" },
		/* name */
		{ "{\"cniVersion\":\"1.0.0\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "name" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "name" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"-net\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "network name" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"my net\"," GOOD_TAIL
		  "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "network name" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "network name" },
		/* type */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"ipam\":{\"type\":\"x\"}}",
		  ZH_CNI_ERR_INVALID_CONFIG, "type" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"\","
		  "\"ipam\":{\"type\":\"x\"}}",
		  ZH_CNI_ERR_INVALID_CONFIG, "type" },
		/* mtu */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"mtu\":67," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "mtu" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"mtu\":65536," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "mtu" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"mtu\":-1," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "mtu" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"mtu\":\"1500\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "mtu" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"mtu\":1500.5," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "mtu" },
		/* datapath */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"datapath\":\"dpdk\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_UNSUPPORTED_FIELD, "\"datapath\"" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"datapath\":\"XDP\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_UNSUPPORTED_FIELD, "\"XDP\"" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"datapath\":1," GOOD_TAIL "}",
		  ZH_CNI_ERR_UNSUPPORTED_FIELD, "datapath" },
		/* device: netkit has no XDP */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"device\":\"bridge\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_UNSUPPORTED_FIELD, "\"device\"" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"device\":\"netkit\",\"datapath\":\"xdp\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "\"datapath\": \"xdp\"" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"device\":\"netkit\",\"afxdp\":{\"queues\":1,"
		  "\"steer\":[{\"proto\":\"udp\",\"port\":9}]}," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "AF_XDP" },
		/* ipam */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\"}",
		  ZH_CNI_ERR_INVALID_CONFIG, "ipam" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"ipam\":\"host-local\"}",
		  ZH_CNI_ERR_INVALID_CONFIG, "ipam" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"ipam\":{}}",
		  ZH_CNI_ERR_INVALID_CONFIG, "ipam.type" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"ipam\":{\"type\":\"\"}}",
		  ZH_CNI_ERR_INVALID_CONFIG, "ipam.type" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\","
		  "\"ipam\":{\"type\":7}}",
		  ZH_CNI_ERR_INVALID_CONFIG, "ipam.type" },
		/* prevResult */
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"prevResult\":[]," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "prevResult" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
		  "\"prevResult\":\"x\"," GOOD_TAIL "}",
		  ZH_CNI_ERR_INVALID_CONFIG, "prevResult" },
	};
	struct zh_cni_err err;
	struct zh_netconf conf;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&err, 0, sizeof(err));
		if (conf_parse_str(cases[i].doc, &conf, &err) != -1)
			fail_msg("case %zu parsed: %s", i, cases[i].doc);
		if (err.code != cases[i].code)
			fail_msg("case %zu: code %d, want %d (%s)", i, err.code,
				 cases[i].code, err.msg);
		assert_contains(err.msg, cases[i].msg);
		/* Nothing left behind on failure. */
		assert_null(conf.root);
		assert_null(conf.raw);
		zh_netconf_free(&conf);
	}
}

static void test_conf_incompatible_details(void **state)
{
	static const char doc[] =
		"{\"cniVersion\":\"0.2.0\",\"name\":\"n\"," GOOD_TAIL "}";
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;

	(void)state;
	assert_int_equal(conf_parse_str(doc, &conf, &err), -1);
	assert_int_equal(err.code, ZH_CNI_ERR_INCOMPATIBLE);
	assert_contains(err.details, "0.2.0");
	assert_contains(err.details, "1.0.0, 1.1.0");
}

/* STATUS and GC came with 1.1.0; the other commands take any version. */
static void test_conf_allows(void **state)
{
	static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0",
						"1.0.0", "1.1.0" };
	static const enum zh_cni_cmd cmds[] = { ZH_CNI_ADD, ZH_CNI_DEL,
						ZH_CNI_CHECK, ZH_CNI_STATUS,
						ZH_CNI_GC };
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;
	char doc[256];
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(versions); i++) {
		snprintf(doc, sizeof(doc),
			 "{\"cniVersion\":\"%s\",\"name\":\"n\"," GOOD_TAIL "}",
			 versions[i]);
		assert_int_equal(conf_parse_str(doc, &conf, &err), 0);
		for (k = 0; k < ARRAY_SIZE(cmds); k++) {
			bool ok = (cmds[k] != ZH_CNI_STATUS &&
				   cmds[k] != ZH_CNI_GC) ||
				  !strcmp(versions[i], "1.1.0");

			memset(&err, 0, sizeof(err));
			assert_int_equal(zh_netconf_allows(&conf, cmds[k],
							   &err),
					 ok ? 0 : -1);
			if (ok)
				continue;
			assert_int_equal(err.code, ZH_CNI_ERR_INCOMPATIBLE);
			assert_contains(err.msg, zh_cni_cmd_name(cmds[k]));
			assert_contains(err.details, versions[i]);
		}
		zh_netconf_free(&conf);
	}
}

/* ----------------------------------------------- GC's valid attachments */

#define GC_HEAD "{\"cniVersion\":\"1.1.0\",\"name\":\"n\"," GOOD_TAIL

static void attachments_of(const char *doc, struct zh_netconf *conf,
			   struct zh_attachments *a, struct zh_cni_err *err,
			   int want)
{
	if (conf_parse_str(doc, conf, err))
		fail_msg("config: %s (%s): %s", err->msg, err->details, doc);
	memset(err, 0, sizeof(*err));
	/* Filled with junk: the parser must reset it. */
	memset(a, 0x5a, sizeof(*a));
	if (zh_netconf_attachments(conf, a, err) != want)
		fail_msg("want %d: %s (%s): %s", want, err->msg, err->details,
			 doc);
}

static void test_gc_attachments_ok(void **state)
{
	static const struct {
		const char *doc;
		size_t n;
	} cases[] = {
		{ GC_HEAD "}", 0 },
		{ GC_HEAD ",\"cni.dev/valid-attachments\":[]}", 0 },
		/* libcni's nil slice */
		{ GC_HEAD ",\"cni.dev/valid-attachments\":null}", 0 },
		{ GC_HEAD ",\"cni.dev/valid-attachments\":["
			  "{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
			  "{\"containerID\":\"c2\",\"ifname\":\"net1\","
			  "\"extra\":[1]}]}",
		  2 },
		/* the name the tagged spec text used */
		{ GC_HEAD ",\"cni.dev/attachments\":["
			  "{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
			  "{\"containerID\":\"c2\",\"ifname\":\"net1\"}]}",
		  2 },
		/* both, as libcni sends them: the corrected name wins */
		{ GC_HEAD ",\"cni.dev/attachments\":[],"
			  "\"cni.dev/valid-attachments\":["
			  "{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
			  "{\"containerID\":\"c2\",\"ifname\":\"net1\"}]}",
		  2 },
		{ GC_HEAD ",\"cni.dev/valid-attachments\":null,"
			  "\"cni.dev/attachments\":["
			  "{\"containerID\":\"c1\",\"ifname\":\"eth0\"}]}",
		  0 },
	};
	struct zh_cni_err err;
	struct zh_netconf conf;
	struct zh_attachments a;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		attachments_of(cases[i].doc, &conf, &a, &err, 0);
		assert_int_equal(a.n, cases[i].n);
		if (!a.n)
			assert_null(a.v);
		if (a.n == 2) {
			assert_string_equal(a.v[0].container_id, "c1");
			assert_string_equal(a.v[0].ifname, "eth0");
			assert_string_equal(a.v[1].container_id, "c2");
			assert_string_equal(a.v[1].ifname, "net1");
		}
		zh_attachments_free(&a);
		assert_null(a.v);
		assert_int_equal(a.n, 0);
		zh_attachments_free(&a); /* twice is harmless */
		zh_netconf_free(&conf);
	}
}

static void test_gc_attachments_malformed(void **state)
{
	static const struct {
		const char *list;
		const char *msg;
	} cases[] = {
		{ "{}", "must be an array" },
		{ "\"c1/eth0\"", "must be an array" },
		{ "7", "must be an array" },
		{ "true", "must be an array" },
		{ "[\"c1\"]", "[0] must be an object" },
		{ "[[\"c1\",\"eth0\"]]", "[0] must be an object" },
		{ "[null]", "[0] must be an object" },
		{ "[{\"ifname\":\"eth0\"}]", "[0].containerID is missing" },
		{ "[{\"containerID\":\"c1\"}]", "[0].ifname is missing" },
		{ "[{\"containerID\":7,\"ifname\":\"eth0\"}]",
		  "[0].containerID must be a non-empty string" },
		{ "[{\"containerID\":\"\",\"ifname\":\"eth0\"}]",
		  "[0].containerID must be a non-empty string" },
		{ "[{\"containerID\":\"c1\",\"ifname\":null}]",
		  "[0].ifname must be a non-empty string" },
		{ "[{\"containerID\":\"c1\",\"ifname\":[\"eth0\"]}]",
		  "[0].ifname must be a non-empty string" },
		/* one bad entry spoils the list, wherever it is */
		{ "[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
		  "{\"containerID\":\"c2\",\"ifname\":\"\"}]",
		  "[1].ifname must be a non-empty string" },
		{ "[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},{}]",
		  "[1].containerID is missing" },
	};
	static const char *const keys[] = { "cni.dev/valid-attachments",
					    "cni.dev/attachments" };
	struct zh_cni_err err;
	struct zh_netconf conf;
	struct zh_attachments a;
	char doc[512];
	size_t i, k;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(keys); k++) {
		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			snprintf(doc, sizeof(doc), GC_HEAD ",\"%s\":%s}",
				 keys[k], cases[i].list);
			attachments_of(doc, &conf, &a, &err, -1);
			assert_int_equal(err.code, ZH_CNI_ERR_INVALID_CONFIG);
			/* The message names the key it read. */
			assert_contains(err.msg, keys[k]);
			assert_contains(err.msg, cases[i].msg);
			assert_null(a.v);
			assert_int_equal(a.n, 0);
			zh_netconf_free(&conf);
		}
	}
}

/* --------------------------------------------------------------- result */

static const char result_031[] =
	"{\"cniVersion\":\"0.3.1\","
	"\"interfaces\":[{\"name\":\"veth9a1b\",\"mac\":\"ce:3d:1a:00:11:22\"},"
	"{\"name\":\"eth0\",\"mac\":\"0a:58:0a:f4:00:05\","
	"\"sandbox\":\"/var/run/netns/cni-1234\"}],"
	"\"ips\":[{\"version\":\"4\",\"address\":\"10.244.0.5/24\","
	"\"gateway\":\"10.244.0.1\",\"interface\":1},"
	"{\"version\":\"6\",\"address\":\"fd00:10:244::5/64\"}],"
	"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.0.1\"},"
	"{\"dst\":\"::/0\"}],"
	"\"dns\":{\"nameservers\":[\"10.96.0.10\"],"
	"\"domain\":\"cluster.local\",\"search\":[\"svc.cluster.local\"]}}";

static const char result_100[] =
	"{\"cniVersion\":\"1.0.0\","
	"\"ips\":[{\"address\":\"192.168.1.7/32\",\"gateway\":\"192.168.1.1\"},"
	"{\"address\":\"2001:db8::7/128\",\"gateway\":\"2001:db8::1\"}],"
	"\"routes\":[{\"dst\":\"10.0.0.0/8\"}]}";

static void parse_str_result(const char *s, struct zh_result *res)
{
	struct zh_cni_err err = { 0 };
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	if (zh_result_parse(j, res, &err))
		fail_msg("result parse: %s (%s)", err.msg, err.details);
	json_decref(j);
}

static void test_result_parse_031(void **state)
{
	struct zh_result res;

	(void)state;
	parse_str_result(result_031, &res);
	assert_int_equal(res.n_ifaces, 2);
	assert_string_equal(res.ifaces[0].name, "veth9a1b");
	assert_string_equal(res.ifaces[0].mac, "ce:3d:1a:00:11:22");
	assert_string_equal(res.ifaces[0].sandbox, "");
	assert_string_equal(res.ifaces[1].name, "eth0");
	assert_string_equal(res.ifaces[1].sandbox, "/var/run/netns/cni-1234");

	assert_int_equal(res.n_ips, 2);
	assert_int_equal(res.ips[0].family, 4);
	assert_string_equal(res.ips[0].address, "10.244.0.5/24");
	assert_string_equal(res.ips[0].gateway, "10.244.0.1");
	assert_int_equal(res.ips[0].iface, 1);
	assert_int_equal(res.ips[1].family, 6);
	assert_string_equal(res.ips[1].address, "fd00:10:244::5/64");
	assert_string_equal(res.ips[1].gateway, "");
	assert_int_equal(res.ips[1].iface, -1);

	assert_int_equal(res.n_routes, 2);
	assert_string_equal(res.routes[0].dst, "0.0.0.0/0");
	assert_string_equal(res.routes[0].gw, "10.244.0.1");
	assert_string_equal(res.routes[1].dst, "::/0");
	assert_string_equal(res.routes[1].gw, "");

	assert_non_null(res.dns);
	assert_string_equal(
		json_string_value(json_object_get(res.dns, "domain")),
		"cluster.local");
	zh_result_free(&res);
	assert_null(res.dns);
	assert_int_equal(res.n_ips, 0);
}

static void test_result_parse_100(void **state)
{
	struct zh_result res;

	(void)state;
	parse_str_result(result_100, &res);
	assert_int_equal(res.n_ifaces, 0);
	assert_int_equal(res.n_ips, 2);
	assert_int_equal(res.ips[0].family, 4);
	assert_string_equal(res.ips[0].address, "192.168.1.7/32");
	assert_string_equal(res.ips[0].gateway, "192.168.1.1");
	assert_int_equal(res.ips[0].iface, -1);
	assert_int_equal(res.ips[1].family, 6);
	assert_string_equal(res.ips[1].gateway, "2001:db8::1");
	assert_int_equal(res.n_routes, 1);
	assert_string_equal(res.routes[0].dst, "10.0.0.0/8");
	assert_null(res.dns);
	zh_result_free(&res);
}

static void test_result_parse_errors(void **state)
{
	static const struct {
		const char *doc;
		const char *msg;
	} cases[] = {
		{ "[]", "object" },
		{ "{\"ips\":{}}", "ips must be an array" },
		{ "{\"ips\":[1]}", "ips[0] must be an object" },
		{ "{\"ips\":[{}]}", "ips[0].address is missing" },
		{ "{\"ips\":[{\"address\":5}]}",
		  "ips[0].address must be a string" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/33\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/-1\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/024\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/2x\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"/24\"}]}", "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.256/24\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"fd00::1/129\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"address\":\"fd00::g/64\"}]}",
		  "not a valid CIDR" },
		{ "{\"ips\":[{\"version\":\"6\",\"address\":\"10.0.0.1/24\"}]}",
		  "ips[0].version" },
		{ "{\"ips\":[{\"version\":\"5\",\"address\":\"10.0.0.1/24\"}]}",
		  "ips[0].version" },
		{ "{\"ips\":[{\"version\":4,\"address\":\"10.0.0.1/24\"}]}",
		  "ips[0].version must be a string" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\",\"gateway\":\"x\"}]}",
		  "ips[0].gateway is not a valid IP" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\","
		  "\"gateway\":\"10.0.0.1/24\"}]}",
		  "ips[0].gateway is not a valid IP" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\","
		  "\"gateway\":\"fd00::1\"}]}",
		  "ips[0].gateway is not IPv4" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\",\"interface\":0}]}",
		  "ips[0].interface 0 is out of range" },
		{ "{\"interfaces\":[{\"name\":\"eth0\"}],"
		  "\"ips\":[{\"address\":\"10.0.0.1/24\",\"interface\":-1}]}",
		  "ips[0].interface -1" },
		{ "{\"interfaces\":[{\"name\":\"eth0\"}],"
		  "\"ips\":[{\"address\":\"10.0.0.1/24\","
		  "\"interface\":\"0\"}]}",
		  "ips[0].interface must be an integer" },
		{ "{\"interfaces\":[{\"mac\":\"00:11:22:33:44:55\"}]}",
		  "interfaces[0].name is missing" },
		{ "{\"interfaces\":[{\"name\":\"abcdefghijklmnop\"}]}",
		  "interfaces[0].name is too long" },
		{ "{\"interfaces\":[{\"name\":\"e\","
		  "\"mac\":\"00:11:22:33:44:55:66\"}]}",
		  "interfaces[0].mac is too long" },
		{ "{\"routes\":[{\"gw\":\"10.0.0.1\"}]}",
		  "routes[0].dst is missing" },
		{ "{\"routes\":[{\"dst\":\"default\"}]}",
		  "routes[0].dst is not a valid CIDR" },
		{ "{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"x\"}]}",
		  "routes[0].gw is not a valid IP" },
		{ "{\"dns\":[]}", "dns must be an object" },
		{ "{\"dns\":{\"nameservers\":[1]}}", "dns.nameservers[0]" },
		{ "{\"dns\":{\"domain\":[]}}", "dns.domain must be a string" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/32\"},"
		  "{\"address\":\"10.0.0.2/32\"},"
		  "{\"address\":\"10.0.0.3/32\"},{\"address\":\"10.0.0.4/32\"},"
		  "{\"address\":\"10.0.0.5/32\"},{\"address\":\"10.0.0.6/32\"},"
		  "{\"address\":\"10.0.0.7/32\"},{\"address\":\"10.0.0.8/32\"},"
		  "{\"address\":\"10.0.0.9/32\"}]}",
		  "too many ips" },
		{ "{\"interfaces\":[{\"name\":\"a\"},{\"name\":\"b\"},"
		  "{\"name\":\"c\"},{\"name\":\"d\"},{\"name\":\"e\"}]}",
		  "too many interfaces" },
	};
	struct zh_cni_err err;
	struct zh_result res;
	size_t i;
	json_t *j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		j = json_loads(cases[i].doc, 0, NULL);
		if (!j)
			fail_msg("case %zu is not JSON: %s", i, cases[i].doc);
		memset(&err, 0, sizeof(err));
		if (zh_result_parse(j, &res, &err) != -1)
			fail_msg("case %zu parsed: %s", i, cases[i].doc);
		assert_int_equal(err.code, ZH_CNI_ERR_DECODE);
		assert_contains(err.msg, cases[i].msg);
		assert_null(res.dns);
		assert_int_equal(res.n_ips, 0);
		json_decref(j);
	}
}

static void test_result_too_many_routes(void **state)
{
	struct zh_cni_err err = { 0 };
	struct zh_result res;
	json_t *j, *routes;
	int i;

	(void)state;
	routes = json_array();
	for (i = 0; i <= ZH_CNI_MAX_ROUTES; i++)
		json_array_append_new(routes,
				      json_pack("{s:s}", "dst", "10.0.0.0/8"));
	j = json_pack("{s:o}", "routes", routes);
	assert_non_null(j);
	assert_int_equal(zh_result_parse(j, &res, &err), -1);
	assert_contains(err.msg, "too many routes");
	json_decref(j);

	/* Exactly the maximum fits. */
	j = json_pack("{s:[]}", "routes");
	for (i = 0; i < ZH_CNI_MAX_ROUTES; i++)
		json_array_append_new(json_object_get(j, "routes"),
				      json_pack("{s:s}", "dst", "::/0"));
	assert_int_equal(zh_result_parse(j, &res, &err), 0);
	assert_int_equal(res.n_routes, ZH_CNI_MAX_ROUTES);
	zh_result_free(&res);
	json_decref(j);
}

static void make_result(struct zh_result *res)
{
	memset(res, 0, sizeof(*res));
	res->ifaces[0] = (struct zh_cni_iface){ .name = "zh3f2a9c81" };
	res->ifaces[1] = (struct zh_cni_iface){
		.name = "eth0",
		.mac = "0a:58:0a:f4:00:05",
		.sandbox = "/var/run/netns/cni-1234",
	};
	res->n_ifaces = 2;
	res->ips[0] = (struct zh_cni_ip){ 4, "10.244.0.5/24", "10.244.0.1", 1 };
	res->ips[1] = (struct zh_cni_ip){ 6, "fd00::5/64", "", -1 };
	res->n_ips = 2;
	res->routes[0] = (struct zh_cni_route){ "0.0.0.0/0", "10.244.0.1" };
	res->routes[1] = (struct zh_cni_route){ "::/0", "" };
	res->n_routes = 2;
	res->dns = json_pack("{s:[s], s:s}", "nameservers", "10.96.0.10",
			     "domain", "cluster.local");
	assert_non_null(res->dns);
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void test_result_to_json_versions(void **state)
{
	static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0",
						"1.0.0", "1.1.0" };
	struct zh_cni_err err = { 0 };
	struct zh_result res, back;
	json_t *j, *re, *ips, *ifs, *ip0, *ip1, *routes;
	size_t i;
	char *s;

	(void)state;
	make_result(&res);
	for (i = 0; i < ARRAY_SIZE(versions); i++) {
		bool legacy = versions[i][0] == '0';

		j = zh_result_to_json(&res, versions[i]);
		assert_non_null(j);
		/* Through text and back, as a runtime would see it. */
		s = json_dumps(j, JSON_COMPACT);
		assert_non_null(s);
		json_decref(j);
		re = json_loads(s, 0, NULL);
		free(s);
		assert_non_null(re);

		assert_string_equal(jstr(re, "cniVersion"), versions[i]);
		ifs = json_object_get(re, "interfaces");
		assert_int_equal(json_array_size(ifs), 2);
		assert_string_equal(jstr(json_array_get(ifs, 0), "name"),
				    "zh3f2a9c81");
		/* Empty mac/sandbox are left out. */
		assert_null(json_object_get(json_array_get(ifs, 0), "mac"));
		assert_null(json_object_get(json_array_get(ifs, 0), "sandbox"));
		assert_string_equal(jstr(json_array_get(ifs, 1), "mac"),
				    "0a:58:0a:f4:00:05");
		assert_string_equal(jstr(json_array_get(ifs, 1), "sandbox"),
				    "/var/run/netns/cni-1234");
		/* No socket: no key, in any version. */
		assert_null(
			json_object_get(json_array_get(ifs, 1), "socketPath"));

		ips = json_object_get(re, "ips");
		assert_int_equal(json_array_size(ips), 2);
		ip0 = json_array_get(ips, 0);
		ip1 = json_array_get(ips, 1);
		if (legacy) {
			assert_string_equal(jstr(ip0, "version"), "4");
			assert_string_equal(jstr(ip1, "version"), "6");
		} else {
			assert_null(json_object_get(ip0, "version"));
			assert_null(json_object_get(ip1, "version"));
		}
		assert_string_equal(jstr(ip0, "address"), "10.244.0.5/24");
		assert_string_equal(jstr(ip0, "gateway"), "10.244.0.1");
		assert_true(json_is_integer(json_object_get(ip0, "interface")));
		assert_int_equal(
			json_integer_value(json_object_get(ip0, "interface")),
			1);
		assert_string_equal(jstr(ip1, "address"), "fd00::5/64");
		assert_null(json_object_get(ip1, "gateway"));
		assert_null(json_object_get(ip1, "interface"));

		routes = json_object_get(re, "routes");
		assert_int_equal(json_array_size(routes), 2);
		assert_string_equal(jstr(json_array_get(routes, 0), "gw"),
				    "10.244.0.1");
		assert_null(json_object_get(json_array_get(routes, 1), "gw"));

		assert_true(json_equal(json_object_get(re, "dns"), res.dns));

		/* And it parses back into the same thing. */
		assert_int_equal(zh_result_parse(re, &back, &err), 0);
		assert_int_equal(back.n_ifaces, res.n_ifaces);
		assert_memory_equal(back.ifaces, res.ifaces,
				    sizeof(res.ifaces));
		assert_int_equal(back.n_ips, res.n_ips);
		assert_memory_equal(back.ips, res.ips, sizeof(res.ips));
		assert_int_equal(back.n_routes, res.n_routes);
		assert_memory_equal(back.routes, res.routes,
				    sizeof(res.routes));
		assert_true(json_equal(back.dns, res.dns));
		zh_result_free(&back);
		json_decref(re);
	}
	zh_result_free(&res);
}

/* interfaces[].socketPath: a 1.1.0 key, emitted in 1.1.0 only. */
static void test_result_socket_path(void **state)
{
	static const char *const older[] = { "0.3.0", "0.3.1", "0.4.0",
					     "1.0.0" };
	static const char sock[] = "/run/zerohop/xsk/3f2a9c81-eth0.sock";
	struct zh_cni_err err = { 0 };
	struct zh_result res, back;
	json_t *j, *ifs;
	size_t i;
	char *s;

	(void)state;
	make_result(&res);
	snprintf(res.ifaces[1].socket_path, sizeof(res.ifaces[1].socket_path),
		 "%s", sock);

	j = zh_result_to_json(&res, "1.1.0");
	assert_non_null(j);
	ifs = json_object_get(j, "interfaces");
	assert_string_equal(jstr(json_array_get(ifs, 1), "socketPath"), sock);
	/* Only where it is set. */
	assert_null(json_object_get(json_array_get(ifs, 0), "socketPath"));
	/* Through text and back: the same interfaces. */
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_int_equal(zh_result_parse(j, &back, &err), 0);
	assert_int_equal(back.n_ifaces, 2);
	assert_string_equal(back.ifaces[1].socket_path, sock);
	assert_memory_equal(back.ifaces, res.ifaces, sizeof(res.ifaces));
	zh_result_free(&back);
	json_decref(j);

	/* The default version is 1.1.0 and carries it too. */
	j = zh_result_to_json(&res, NULL);
	ifs = json_object_get(j, "interfaces");
	assert_string_equal(jstr(json_array_get(ifs, 1), "socketPath"), sock);
	json_decref(j);

	for (i = 0; i < ARRAY_SIZE(older); i++) {
		j = zh_result_to_json(&res, older[i]);
		assert_non_null(j);
		ifs = json_object_get(j, "interfaces");
		assert_int_equal(json_array_size(ifs), 2);
		for (size_t k = 0; k < 2; k++)
			if (json_object_get(json_array_get(ifs, k),
					    "socketPath"))
				fail_msg("%s result carries socketPath",
					 older[i]);
		json_decref(j);
	}
	zh_result_free(&res);
}

static void test_result_socket_path_parse(void **state)
{
	struct zh_cni_err err;
	struct zh_result res;
	char path[200], doc[400];
	json_t *j;

	(void)state;
	/* The longest that fits sun_path with its NUL: 107 bytes. */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(doc, sizeof(doc),
		 "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\","
		 "\"socketPath\":\"%s\"}]}",
		 path);
	j = json_loads(doc, 0, NULL);
	assert_non_null(j);
	assert_int_equal(zh_result_parse(j, &res, &err), 0);
	assert_string_equal(res.ifaces[0].socket_path, path);
	json_decref(j);

	path[107] = 'a';
	path[108] = '\0';
	snprintf(doc, sizeof(doc),
		 "{\"interfaces\":[{\"name\":\"eth0\",\"socketPath\":\"%s\"}]}",
		 path);
	j = json_loads(doc, 0, NULL);
	memset(&err, 0, sizeof(err));
	assert_int_equal(zh_result_parse(j, &res, &err), -1);
	assert_int_equal(err.code, ZH_CNI_ERR_DECODE);
	assert_contains(err.msg, "interfaces[0].socketPath is too long");
	assert_int_equal(res.n_ifaces, 0);
	json_decref(j);

	j = json_loads(
		"{\"interfaces\":[{\"name\":\"eth0\",\"socketPath\":1}]}", 0,
		NULL);
	assert_int_equal(zh_result_parse(j, &res, &err), -1);
	assert_contains(err.msg, "interfaces[0].socketPath must be a string");
	json_decref(j);

	/* null is absent, as for the other optional keys. */
	j = json_loads(
		"{\"interfaces\":[{\"name\":\"eth0\",\"socketPath\":null}]}", 0,
		NULL);
	assert_int_equal(zh_result_parse(j, &res, &err), 0);
	assert_string_equal(res.ifaces[0].socket_path, "");
	json_decref(j);
}

static void test_result_to_json_empty(void **state)
{
	struct zh_result res;
	json_t *j;

	(void)state;
	memset(&res, 0, sizeof(res));
	j = zh_result_to_json(&res, NULL);
	assert_non_null(j);
	/* Only cniVersion: empty arrays and dns are left out. */
	assert_int_equal(json_object_size(j), 1);
	assert_string_equal(jstr(j, "cniVersion"), ZH_CNI_SPEC_VERSION);
	json_decref(j);

	res.dns = json_object();
	j = zh_result_to_json(&res, "0.4.0");
	assert_null(json_object_get(j, "dns"));
	json_decref(j);
	zh_result_free(&res);

	errno = 0;
	assert_null(zh_result_to_json(&res, "0.2.0"));
	assert_int_equal(errno, EINVAL);
	res.n_ips = ZH_CNI_MAX_IPS + 1;
	assert_null(zh_result_to_json(&res, "1.0.0"));
}

/* ------------------------------------------------- error and VERSION JSON */

static void test_err_set(void **state)
{
	struct zh_cni_err err;
	char big[600];

	(void)state;
	assert_int_equal(zh_cni_err_set(&err, ZH_CNI_ERR_LINK, "veth failed",
					"%s: %d", "eth0", 17),
			 -1);
	assert_int_equal(err.code, ZH_CNI_ERR_LINK);
	assert_string_equal(err.msg, "veth failed");
	assert_string_equal(err.details, "eth0: 17");

	assert_int_equal(zh_cni_err_set(&err, 3, "m", NULL), -1);
	assert_string_equal(err.details, "");

	/* Long messages are cut, never overflow. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	zh_cni_err_set(&err, 5, big, "%s%s", big, big);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_int_equal(strlen(err.details), sizeof(err.details) - 1);

	assert_int_equal(zh_cni_err_set(NULL, 5, "m", NULL), -1);
}

static void test_err_json(void **state)
{
	struct zh_cni_err err;
	json_t *j;
	char *s;

	(void)state;
	zh_cni_err_set(&err, ZH_CNI_ERR_IPAM, "IPAM plugin failed",
		       "host-local: exit status %d", 1);
	s = zh_cni_err_to_json(&err, "0.4.0");
	assert_non_null(s);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 4);
	assert_string_equal(jstr(j, "cniVersion"), "0.4.0");
	assert_true(json_is_integer(json_object_get(j, "code")));
	assert_int_equal(json_integer_value(json_object_get(j, "code")),
			 ZH_CNI_ERR_IPAM);
	assert_string_equal(jstr(j, "msg"), "IPAM plugin failed");
	assert_string_equal(jstr(j, "details"), "host-local: exit status 1");
	json_decref(j);

	/* No details: the key is left out; NULL version: ours. */
	zh_cni_err_set(&err, ZH_CNI_ERR_INVALID_CONFIG, "bad \"quote\"\n",
		       NULL);
	s = zh_cni_err_to_json(&err, NULL);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 3);
	assert_null(json_object_get(j, "details"));
	assert_string_equal(jstr(j, "cniVersion"), ZH_CNI_SPEC_VERSION);
	assert_string_equal(jstr(j, "msg"), "bad \"quote\"\n");
	json_decref(j);

	/* Bytes that are not UTF-8 still give a valid error object. */
	zh_cni_err_set(&err, ZH_CNI_ERR_INVALID_ENV, "bad \xff id", "id \"%s\"",
		       "\xc3");
	s = zh_cni_err_to_json(&err, NULL);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	assert_string_equal(jstr(j, "msg"), "bad ? id");
	assert_string_equal(jstr(j, "details"), "id \"?\"");
	json_decref(j);
}

static void test_version_json(void **state)
{
	static const char *const want[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0",
					    "1.1.0" };
	json_t *j, *list;
	size_t i;
	char *s;

	(void)state;
	s = zh_cni_version_json("0.3.1");
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 2);
	assert_string_equal(jstr(j, "cniVersion"), "0.3.1");
	list = json_object_get(j, "supportedVersions");
	assert_int_equal(json_array_size(list), ARRAY_SIZE(want));
	for (i = 0; i < ARRAY_SIZE(want); i++)
		assert_string_equal(json_string_value(json_array_get(list, i)),
				    want[i]);
	json_decref(j);

	s = zh_cni_version_json(NULL);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_string_equal(jstr(j, "cniVersion"), ZH_CNI_SPEC_VERSION);
	json_decref(j);
}

static void test_version_supported(void **state)
{
	static const struct {
		const char *v;
		bool ok;
	} cases[] = {
		{ "0.3.0", true },  { "0.3.1", true },	{ "0.4.0", true },
		{ "1.0.0", true },  { "1.1.0", true },	{ "0.1.0", false },
		{ "0.2.0", false }, { "1.1.1", false }, { "1.2.0", false },
		{ "2.0.0", false }, { "1.0", false },	{ "1.1", false },
		{ "", false },	    { NULL, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(zh_cni_version_supported(cases[i].v),
				 cases[i].ok);
}

/* ----------------------------------------------------------------- ipam */

static char tmpdir[64];
static char bin1[128], bin2[128], search_path[512];

static const char ipam_conf[] =
	"{\"cniVersion\":\"1.0.0\",\"name\":\"testnet\",\"type\":\"zerohop\","
	"\"ipam\":{\"type\":\"fake-ok\",\"subnet\":\"10.22.0.0/16\"}}\n";

/* Checks what the spec promises a delegated plugin, then answers. */
static const char script_ok[] =
	"#!/bin/sh\n"
	"cat > \"$0.stdin\"\n"
	"[ \"$CNI_COMMAND\" = ADD ] ||\n"
	"  { echo \"want ADD: $CNI_COMMAND\"; exit 3; }\n"
	"grep -q '\"name\":\"testnet\"' \"$0.stdin\" ||\n"
	"  { echo no config; exit 4; }\n"
	"[ \"$CNI_CONTAINERID\" = ctr1 ] || { echo bad id; exit 5; }\n"
	"[ \"$CNI_IFNAME\" = eth0 ] || { echo bad ifname; exit 6; }\n"
	"[ \"$CNI_NETNS\" = /var/run/netns/t ] || { echo bad netns; exit 7; }\n"
	"[ \"$ZH_TEST_INHERITED\" = yes ] ||\n"
	"  { echo env not inherited; exit 8; }\n"
	"echo '{\"cniVersion\":\"1.0.0\",'\n"
	"echo ' \"ips\":[{\"address\":\"10.22.0.5/16\",'\n"
	"echo '   \"gateway\":\"10.22.0.1\"}],'\n"
	"echo ' \"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.22.0.1\"}],'\n"
	"echo ' \"dns\":{\"nameservers\":[\"10.22.0.1\"]}}'\n";

static const char script_cni_error[] =
	"#!/bin/sh\n"
	"cat >/dev/null\n"
	"echo '{\"cniVersion\":\"1.0.0\",\"code\":11,"
	"\"msg\":\"no addresses left\","
	"\"details\":\"pool 10.22.0.0/16 exhausted\"}'\n"
	"exit 1\n";

static const char script_garbage[] = "#!/bin/sh\n"
				     "echo 'this is not json'\n"
				     "exit 2\n";

static const char script_del[] = "#!/bin/sh\n"
				 "printf %s \"$CNI_COMMAND\" > \"$0.ran\"\n";

static const char script_bad_result[] =
	"#!/bin/sh\n"
	"echo '{\"cniVersion\":\"1.0.0\",'\n"
	"echo '\"ips\":[{\"address\":\"10.22.0.5\"}]}'\n";

static const char script_not_json_ok[] = "#!/bin/sh\n"
					 "echo 'ok'\n";

static const char script_signal[] = "#!/bin/sh\n"
				    "kill -9 $$\n";

static const char script_big[] = "#!/bin/sh\n"
				 "yes '0123456789abcdef' | head -c 2000000\n";

static const char script_first_a[] =
	"#!/bin/sh\n"
	"echo '{\"cniVersion\":\"1.0.0\",'\n"
	"echo '\"ips\":[{\"address\":\"10.1.1.1/32\"}]}'\n";

static const char script_first_b[] =
	"#!/bin/sh\n"
	"echo '{\"cniVersion\":\"1.0.0\",'\n"
	"echo '\"ips\":[{\"address\":\"10.2.2.2/32\"}]}'\n";

/* Answers at once, and leaves a process of its behind for a second (as
 * an IPAM plugin queued on its store's lock would be). */
static const char script_linger[] = "#!/bin/sh\n"
				    "sleep 1 </dev/null >/dev/null 2>&1 &\n"
				    "printf %s \"$CNI_COMMAND\" > \"$0.ran\"\n";

/* An IPAM plugin that speaks up to 1.0.0, as Debian's host-local 1.1.1. */
static const char script_old[] =
	"#!/bin/sh\n"
	"printf '%s\\n' \"$CNI_COMMAND\" >> \"$0.log\"\n"
	"cat > \"$0.$CNI_COMMAND.stdin\"\n"
	"if [ \"$CNI_COMMAND\" = VERSION ]; then\n"
	"  echo '{\"cniVersion\":\"1.0.0\",'\n"
	"  echo '\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]}'\n"
	"  exit 0\n"
	"fi\n"
	"if grep -q '1[.]1[.]0' \"$0.$CNI_COMMAND.stdin\"; then\n"
	"  echo '{\"code\":1,\"msg\":\"incompatible CNI versions\"}'\n"
	"  exit 1\n"
	"fi\n"
	"[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
	"echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.22.0.7/16\"}]}'\n";

/* One that speaks 1.1.0; logs which attachment variables it was given. */
static const char script_new[] =
	"#!/bin/sh\n"
	"printf '%s %s %s %s\\n' \"$CNI_COMMAND\" \"${CNI_CONTAINERID-unset}\" "
	"\"${CNI_IFNAME-unset}\" \"${CNI_NETNS-unset}\" >> \"$0.log\"\n"
	"cat > \"$0.$CNI_COMMAND.stdin\"\n"
	"case \"$CNI_COMMAND\" in\n"
	"VERSION) echo '{\"cniVersion\":\"1.1.0\",'\n"
	"  echo '\"supportedVersions\":[\"1.0.0\",\"1.1.0\"]}';;\n"
	"ADD) echo '{\"cniVersion\":\"1.1.0\",\"ips\":[{\"address\":\"10.22.0.8/16\"}]}';;\n"
	"STATUS) echo '{\"code\":50,\"msg\":\"pool exhausted\"}'; exit 1;;\n"
	"esac\n";

static void write_file(const char *dir, const char *name, const char *body,
		       mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(body, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int ipam_setup(void **state)
{
	char path[256];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/zh-test-cni.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(bin1, sizeof(bin1), "%s/bin1", tmpdir);
	snprintf(bin2, sizeof(bin2), "%s/bin2", tmpdir);
	if (mkdir(bin1, 0755) || mkdir(bin2, 0755))
		return -1;
	/* Empty and missing entries are skipped. */
	snprintf(search_path, sizeof(search_path), "%s/none::%s:%s", tmpdir,
		 bin1, bin2);

	write_file(bin2, "fake-ok", script_ok, 0755);
	write_file(bin2, "fake-cni-error", script_cni_error, 0755);
	write_file(bin2, "fake-garbage", script_garbage, 0755);
	write_file(bin2, "fake-del", script_del, 0755);
	write_file(bin2, "fake-bad-result", script_bad_result, 0755);
	write_file(bin2, "fake-not-json", script_not_json_ok, 0755);
	write_file(bin2, "fake-signal", script_signal, 0755);
	write_file(bin2, "fake-big", script_big, 0755);
	write_file(bin2, "fake-old", script_old, 0755);
	write_file(bin2, "fake-old-100", script_old, 0755);
	write_file(bin2, "fake-new", script_new, 0755);
	write_file(bin2, "fake-linger", script_linger, 0755);
	write_file(bin1, "fake-first", script_first_a, 0755);
	write_file(bin2, "fake-first", script_first_b, 0755);
	/* Executable, but execve() cannot run it: no #! line. */
	write_file(bin2, "fake-no-shebang", "echo hi\n", 0755);
	/* Not executable, or a directory: the search goes on past them. */
	write_file(bin1, "fake-ok", script_garbage, 0644);
	snprintf(path, sizeof(path), "%s/fake-garbage", bin1);
	if (mkdir(path, 0755))
		return -1;
	write_file(bin1, "fake-only-noexec", script_garbage, 0644);

	setenv("ZH_TEST_INHERITED", "yes", 1);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int ipam_teardown(void **state)
{
	(void)state;
	unsetenv("ZH_TEST_INHERITED");
	if (!tmpdir[0])
		return 0;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct zh_cni_env ipam_env(void)
{
	return (struct zh_cni_env){
		.cmd = ZH_CNI_ADD,
		.container_id = "ctr1",
		.netns = "/var/run/netns/t",
		.ifname = "eth0",
		.args = "K8S_POD_NAME=p",
		.path = search_path,
	};
}

static int ipam_run(enum zh_cni_cmd cmd, const char *type,
		    struct zh_result *res, struct zh_cni_err *err)
{
	struct zh_cni_env env = ipam_env();

	memset(err, 0, sizeof(*err));
	return zh_ipam_exec(&env, cmd, type, ipam_conf, strlen(ipam_conf), res,
			    err);
}

static char *slurp(const char *dir, const char *name)
{
	char path[256], *buf;
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	buf = calloc(1, 4096);
	assert_non_null(buf);
	n = (long)fread(buf, 1, 4095, f);
	fclose(f);
	assert_true(n >= 0);
	return buf;
}

static void test_ipam_add_ok(void **state)
{
	struct zh_cni_err err;
	struct zh_result res;
	char *in;

	(void)state;
	/* The child's CNI_COMMAND comes from cmd, not from ours. */
	setenv("CNI_COMMAND", "VERSION", 1);
	if (ipam_run(ZH_CNI_ADD, "fake-ok", &res, &err))
		fail_msg("ipam: %d %s (%s)", err.code, err.msg, err.details);
	unsetenv("CNI_COMMAND");

	assert_int_equal(res.n_ips, 1);
	assert_int_equal(res.ips[0].family, 4);
	assert_string_equal(res.ips[0].address, "10.22.0.5/16");
	assert_string_equal(res.ips[0].gateway, "10.22.0.1");
	assert_int_equal(res.n_routes, 1);
	assert_string_equal(res.routes[0].gw, "10.22.0.1");
	assert_non_null(res.dns);
	zh_result_free(&res);

	/* stdin carried the configuration byte for byte. */
	in = slurp(bin2, "fake-ok.stdin");
	assert_non_null(in);
	assert_string_equal(in, ipam_conf);
	free(in);
}

static void test_ipam_del(void **state)
{
	struct zh_cni_err err;
	char *ran;

	(void)state;
	assert_int_equal(ipam_run(ZH_CNI_DEL, "fake-del", NULL, &err), 0);
	ran = slurp(bin2, "fake-del.ran");
	assert_non_null(ran);
	assert_string_equal(ran, "DEL");
	free(ran);

	/* DEL/CHECK ignore stdout, even when it is no result. */
	assert_int_equal(ipam_run(ZH_CNI_CHECK, "fake-not-json", NULL, &err),
			 0);
}

static void test_ipam_cni_error(void **state)
{
	struct zh_cni_err err;
	struct zh_result res;

	(void)state;
	assert_int_equal(ipam_run(ZH_CNI_ADD, "fake-cni-error", &res, &err),
			 -1);
	assert_int_equal(err.code, 11);
	assert_string_equal(err.msg, "no addresses left");
	assert_string_equal(err.details, "pool 10.22.0.0/16 exhausted");
	assert_int_equal(res.n_ips, 0);
	assert_null(res.dns);
}

static void test_ipam_garbage_exit(void **state)
{
	struct zh_cni_err err;
	struct zh_result res;

	(void)state;
	assert_int_equal(ipam_run(ZH_CNI_ADD, "fake-garbage", &res, &err), -1);
	assert_int_equal(err.code, ZH_CNI_ERR_IPAM);
	assert_contains(err.msg, "IPAM plugin failed");
	assert_contains(err.details, "fake-garbage");
	assert_contains(err.details, "exit status 2");
	assert_contains(err.details, "this is not json");

	assert_int_equal(ipam_run(ZH_CNI_DEL, "fake-signal", NULL, &err), -1);
	assert_int_equal(err.code, ZH_CNI_ERR_IPAM);
	assert_contains(err.msg, "signal");
}

static void test_ipam_bad_output(void **state)
{
	static const struct {
		const char *type;
		int code;
		const char *msg;
	} cases[] = {
		{ "fake-bad-result", ZH_CNI_ERR_DECODE, "not a valid CIDR" },
		{ "fake-not-json", ZH_CNI_ERR_DECODE, "invalid result" },
		{ "fake-big", ZH_CNI_ERR_IPAM, "too large" },
		{ "fake-no-shebang", ZH_CNI_ERR_IPAM, "cannot execute" },
	};
	struct zh_cni_err err;
	struct zh_result res;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(
			ipam_run(ZH_CNI_ADD, cases[i].type, &res, &err), -1);
		if (err.code != cases[i].code)
			fail_msg("%s: code %d, want %d (%s: %s)", cases[i].type,
				 err.code, cases[i].code, err.msg, err.details);
		assert_contains(err.msg, cases[i].msg);
		assert_int_equal(res.n_ips, 0);
	}
}

static void test_ipam_not_found(void **state)
{
	static const char *const types[] = { "host-local", "fake-only-noexec",
					     "../bin2/fake-ok", "/bin/true",
					     "" };
	struct zh_cni_err err;
	struct zh_result res;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		assert_int_equal(ipam_run(ZH_CNI_ADD, types[i], &res, &err),
				 -1);
		assert_int_equal(err.code, ZH_CNI_ERR_IPAM);
		assert_contains(err.details, types[i]);
		assert_contains(err.details, search_path);
	}
}

static void test_ipam_search_path(void **state)
{
	struct zh_cni_env env = ipam_env();
	struct zh_cni_err err;
	struct zh_result res;
	char path[512];

	(void)state;
	/* First executable match wins. */
	assert_int_equal(ipam_run(ZH_CNI_ADD, "fake-first", &res, &err), 0);
	assert_string_equal(res.ips[0].address, "10.1.1.1/32");
	zh_result_free(&res);

	/* Non-executable file and directory named fake-ok/garbage in bin1
	 * are passed over for bin2's.
	 */
	assert_int_equal(ipam_run(ZH_CNI_ADD, "fake-garbage", &res, &err), -1);
	assert_contains(err.details, "exit status 2");

	/* Order matters: bin2 first. */
	snprintf(path, sizeof(path), "%s:%s", bin2, bin1);
	env.path = path;
	assert_int_equal(zh_ipam_exec(&env, ZH_CNI_ADD, "fake-first", ipam_conf,
				      strlen(ipam_conf), &res, &err),
			 0);
	assert_string_equal(res.ips[0].address, "10.2.2.2/32");
	zh_result_free(&res);

	/* No CNI_PATH at all. */
	env.path = NULL;
	assert_int_equal(zh_ipam_exec(&env, ZH_CNI_ADD, "fake-first", ipam_conf,
				      strlen(ipam_conf), &res, &err),
			 -1);
	assert_int_equal(err.code, ZH_CNI_ERR_IPAM);
	assert_contains(err.details, "fake-first");
}

/* ------------------------------------------------ IPAM and CNI 1.1.0 */

static const char conf_old_110[] =
	"{\"cniVersion\":\"1.1.0\",\"name\":\"testnet\",\"type\":\"zerohop\","
	"\"ipam\":{\"type\":\"fake-old\",\"subnet\":\"10.22.0.0/16\"}}";
static const char conf_old_110_prev[] =
	"{\"cniVersion\":\"1.1.0\",\"name\":\"testnet\",\"type\":\"zerohop\","
	"\"ipam\":{\"type\":\"fake-old\",\"subnet\":\"10.22.0.0/16\"},"
	"\"prevResult\":{\"cniVersion\":\"1.1.0\",\"interfaces\":[{"
	"\"name\":\"eth0\",\"socketPath\":\"/run/x.sock\"}],"
	"\"ips\":[{\"address\":\"10.22.0.7/16\",\"interface\":0}]}}";

static json_t *slurp_json(const char *dir, const char *name)
{
	char *s = slurp(dir, name);
	json_t *j;

	if (!s)
		fail_msg("%s/%s is missing", dir, name);
	j = json_loads(s, 0, NULL);
	if (!j)
		fail_msg("%s/%s is not JSON: %s", dir, name, s);
	free(s);
	return j;
}

/* j equals doc once cniVersion (and prevResult's) say 1.0.0. */
static void assert_as_100(json_t *j, const char *doc)
{
	json_t *want = json_loads(doc, 0, NULL), *prev;

	assert_non_null(want);
	json_object_set_new(want, "cniVersion", json_string("1.0.0"));
	prev = json_object_get(want, "prevResult");
	if (prev)
		json_object_set_new(prev, "cniVersion", json_string("1.0.0"));
	if (!json_equal(j, want)) {
		char *a = json_dumps(j, JSON_COMPACT);
		char *b = json_dumps(want, JSON_COMPACT);

		fail_msg("IPAM got %s, want %s", a, b);
	}
	json_decref(want);
}

static void test_ipam_delegate_downgrade(void **state)
{
	struct zh_cni_env env = ipam_env();
	struct zh_netconf conf, prev_conf, conf100;
	struct zh_cni_err err = { 0 };
	struct zh_result res;
	json_t *in;
	char *log;

	(void)state;
	assert_int_equal(conf_parse_str(conf_old_110, &conf, &err), 0);
	if (zh_ipam_delegate(&env, ZH_CNI_ADD, &conf, &res, &err))
		fail_msg("ADD: %d %s (%s)", err.code, err.msg, err.details);
	assert_int_equal(res.n_ips, 1);
	assert_string_equal(res.ips[0].address, "10.22.0.7/16");
	zh_result_free(&res);
	in = slurp_json(bin2, "fake-old.ADD.stdin");
	assert_as_100(in, conf_old_110);
	json_decref(in);
	/* It was asked with a 1.1.0 question. */
	in = slurp_json(bin2, "fake-old.VERSION.stdin");
	assert_string_equal(jstr(in, "cniVersion"), "1.1.0");
	json_decref(in);

	assert_int_equal(zh_ipam_delegate(&env, ZH_CNI_DEL, &conf, NULL, &err),
			 0);
	assert_int_equal(zh_ipam_speaks(&env, "fake-old", "1.1.0", &err), 0);

	/* prevResult goes down to 1.0.0 with the rest. */
	assert_int_equal(conf_parse_str(conf_old_110_prev, &prev_conf, &err),
			 0);
	if (zh_ipam_delegate(&env, ZH_CNI_CHECK, &prev_conf, NULL, &err))
		fail_msg("CHECK: %d %s (%s)", err.code, err.msg, err.details);
	in = slurp_json(bin2, "fake-old.CHECK.stdin");
	assert_as_100(in, conf_old_110_prev);
	json_decref(in);

	/* VERSION was asked once for all of that. */
	log = slurp(bin2, "fake-old.log");
	assert_string_equal(log, "VERSION\nADD\nDEL\nCHECK\n");
	free(log);

	/* A 1.0.0 configuration goes as it is, without asking. */
	assert_int_equal(conf_parse_str(ipam_conf, &conf100, &err), 0);
	json_object_set_new(json_object_get(conf100.root, "ipam"), "type",
			    json_string("fake-old-100"));
	conf100.ipam_type = "fake-old-100";
	assert_int_equal(
		zh_ipam_delegate(&env, ZH_CNI_ADD, &conf100, &res, &err), 0);
	zh_result_free(&res);
	log = slurp(bin2, "fake-old-100.log");
	assert_string_equal(log, "ADD\n");
	free(log);
	log = slurp(bin2, "fake-old-100.ADD.stdin");
	assert_string_equal(log, ipam_conf);
	free(log);

	zh_netconf_free(&conf100);
	zh_netconf_free(&prev_conf);
	zh_netconf_free(&conf);
}

static void test_ipam_delegate_speaks_110(void **state)
{
	static const char doc[] =
		"{\"cniVersion\":\"1.1.0\",\"name\":\"testnet\","
		"\"type\":\"zerohop\",\"ipam\":{\"type\":\"fake-new\"}}\n";
	struct zh_cni_env env = ipam_env();
	struct zh_cni_env netenv = { .path = search_path };
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;
	struct zh_result res;
	char *got;

	(void)state;
	assert_int_equal(conf_parse_str(doc, &conf, &err), 0);
	if (zh_ipam_delegate(&env, ZH_CNI_ADD, &conf, &res, &err))
		fail_msg("ADD: %d %s (%s)", err.code, err.msg, err.details);
	assert_string_equal(res.ips[0].address, "10.22.0.8/16");
	zh_result_free(&res);
	/* It speaks 1.1.0: the configuration byte for byte. */
	got = slurp(bin2, "fake-new.ADD.stdin");
	assert_string_equal(got, doc);
	free(got);
	assert_int_equal(zh_ipam_speaks(&env, "fake-new", "1.1.0", &err), 1);

	/* GC and STATUS: no attachment variables, not even inherited ones. */
	setenv("CNI_CONTAINERID", "inherited", 1);
	assert_int_equal(zh_ipam_exec(&netenv, ZH_CNI_GC, "fake-new", conf.raw,
				      conf.raw_len, NULL, &err),
			 0);
	assert_int_equal(zh_ipam_exec(&netenv, ZH_CNI_STATUS, "fake-new",
				      conf.raw, conf.raw_len, NULL, &err),
			 -1);
	unsetenv("CNI_CONTAINERID");
	/* Its STATUS error is passed on as it is. */
	assert_int_equal(err.code, ZH_CNI_ERR_NOT_AVAILABLE);
	assert_string_equal(err.msg, "pool exhausted");
	got = slurp(bin2, "fake-new.GC.stdin");
	assert_string_equal(got, doc);
	free(got);

	got = slurp(bin2, "fake-new.log");
	assert_string_equal(got, "VERSION ctr1 eth0 /var/run/netns/t\n"
				 "ADD ctr1 eth0 /var/run/netns/t\n"
				 "GC unset unset unset\n"
				 "STATUS unset unset unset\n");
	free(got);
	zh_netconf_free(&conf);
}

static void test_ipam_speaks_answers(void **state)
{
	static const struct {
		const char *type;
		int want, code;
		const char *msg;
	} cases[] = {
		/* ran, but no usable answer: taken as "no" */
		{ "fake-garbage", 0, 0, NULL },
		{ "fake-not-json", 0, 0, NULL },
		{ "fake-ok", 0, 0, NULL }, /* exits 3 on anything but ADD */
		{ "fake-signal", 0, 0, NULL },
		/* cannot be found or run */
		{ "no-such-plugin", -1, ZH_CNI_ERR_IPAM, "not found" },
		{ "fake-no-shebang", -1, ZH_CNI_ERR_IPAM, "cannot execute" },
		{ "../bin2/fake-new", -1, ZH_CNI_ERR_IPAM, "invalid" },
	};
	struct zh_cni_env env = ipam_env();
	struct zh_cni_err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&err, 0, sizeof(err));
		if (zh_ipam_speaks(&env, cases[i].type, "1.1.0", &err) !=
		    cases[i].want)
			fail_msg("%s: want %d", cases[i].type, cases[i].want);
		if (!cases[i].msg)
			continue;
		assert_int_equal(err.code, cases[i].code);
		assert_contains(err.msg, cases[i].msg);
	}
	/* The question is asked per version. */
	assert_int_equal(zh_ipam_speaks(&env, "fake-old", "1.0.0", &err), 1);
	assert_int_equal(zh_ipam_speaks(&env, "fake-old", "1.1.0", &err), 0);
}

/* The attachment's IPAM lock: one holder at a time, per attachment (and
 * pin root: tmpdir, so that another run of this test does not meet ours). */
static void test_ipam_lock(void **state)
{
	struct zh_cni_env env = ipam_env(), other = ipam_env();
	int fd, fd2;

	(void)state;
	env.pin_root = other.pin_root = tmpdir;
	fd = zh_ipam_lock(&env, 0);
	assert_true(fd >= 0);
	assert_int_equal(zh_ipam_lock(&env, 0), -ETIMEDOUT);
	/* Another attachment, or the same under another pin root: free. */
	other.ifname = "eth1";
	fd2 = zh_ipam_lock(&other, 0);
	assert_true(fd2 >= 0);
	close(fd2);
	other.ifname = env.ifname;
	other.pin_root = bin1;
	fd2 = zh_ipam_lock(&other, 0);
	assert_true(fd2 >= 0);
	close(fd2);
	close(fd);
	fd = zh_ipam_lock(&env, 0);
	assert_true(fd >= 0);
	close(fd);
}

/*
 * The IPAM plugin we run holds the lock too, so that it stays held while
 * anything of the plugin's runs, after we are gone (a killed ADD): the DEL
 * that follows waits for it, then runs.
 */
static void test_ipam_lock_outlives_us(void **state)
{
	static const char doc[] =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"testnet\","
		"\"type\":\"zerohop\",\"ipam\":{\"type\":\"fake-del\"}}\n";
	struct zh_cni_env env = ipam_env();
	struct zh_cni_err err = { 0 };
	struct zh_netconf conf;
	struct timespec t0, t1;
	char path[256], *ran;
	int fd;

	(void)state;
	env.pin_root = tmpdir;
	fd = zh_ipam_lock(&env, 0);
	assert_true(fd >= 0);
	assert_int_equal(zh_ipam_exec(&env, ZH_CNI_ADD, "fake-linger",
				      ipam_conf, strlen(ipam_conf), NULL, &err),
			 0);
	close(fd);
	/* What the plugin left still holds it. */
	assert_int_equal(zh_ipam_lock(&env, 0), -ETIMEDOUT);

	/* DEL waits for it. */
	assert_int_equal(conf_parse_str(doc, &conf, &err), 0);
	env.ipam_timeout_s = 10;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (zh_ipam_release(&env, &conf, &err))
		fail_msg("DEL: %d %s (%s)", err.code, err.msg, err.details);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000000 >=
		    500);
	ran = slurp(bin2, "fake-del.ran");
	assert_string_equal(ran, "DEL");
	free(ran);

	/* One that runs past the deadline is waited for no longer. */
	fd = zh_ipam_lock(&env, 0);
	assert_true(fd >= 0);
	env.ipam_timeout_s = 1;
	snprintf(path, sizeof(path), "%s/fake-del.ran", bin2);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(zh_ipam_release(&env, &conf, &err), 0);
	ran = slurp(bin2, "fake-del.ran");
	assert_string_equal(ran, "DEL");
	free(ran);
	close(fd);
	zh_netconf_free(&conf);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_env_each_command),
		cmocka_unit_test(test_env_version_needs_nothing),
		cmocka_unit_test(test_env_all_missing_at_once),
		cmocka_unit_test(test_env_netns_length),
		cmocka_unit_test(test_env_ipam_timeout),
		cmocka_unit_test(test_env_del_without_netns),
		cmocka_unit_test(test_env_status_gc),
		cmocka_unit_test(test_env_bad_command),
		cmocka_unit_test(test_env_container_ids),
		cmocka_unit_test(test_env_ifnames),
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_full),
		cmocka_unit_test(test_conf_edges_ok),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_conf_incompatible_details),
		cmocka_unit_test(test_conf_allows),
		cmocka_unit_test(test_gc_attachments_ok),
		cmocka_unit_test(test_gc_attachments_malformed),
		cmocka_unit_test(test_result_parse_031),
		cmocka_unit_test(test_result_parse_100),
		cmocka_unit_test(test_result_parse_errors),
		cmocka_unit_test(test_result_too_many_routes),
		cmocka_unit_test(test_result_to_json_versions),
		cmocka_unit_test(test_result_socket_path),
		cmocka_unit_test(test_result_socket_path_parse),
		cmocka_unit_test(test_result_to_json_empty),
		cmocka_unit_test(test_err_set),
		cmocka_unit_test(test_err_json),
		cmocka_unit_test(test_version_json),
		cmocka_unit_test(test_version_supported),
	};
	const struct CMUnitTest ipam[] = {
		cmocka_unit_test(test_ipam_add_ok),
		cmocka_unit_test(test_ipam_del),
		cmocka_unit_test(test_ipam_cni_error),
		cmocka_unit_test(test_ipam_garbage_exit),
		cmocka_unit_test(test_ipam_bad_output),
		cmocka_unit_test(test_ipam_not_found),
		cmocka_unit_test(test_ipam_search_path),
		cmocka_unit_test(test_ipam_delegate_downgrade),
		cmocka_unit_test(test_ipam_delegate_speaks_110),
		cmocka_unit_test(test_ipam_speaks_answers),
		cmocka_unit_test(test_ipam_lock),
		cmocka_unit_test(test_ipam_lock_outlives_us),
	};
	int failed;

	failed = cmocka_run_group_tests_name("cni", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("cni_ipam", ipam, ipam_setup,
					      ipam_teardown);
	return failed ? 1 : 0;
}
