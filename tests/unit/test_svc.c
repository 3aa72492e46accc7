// SPDX-License-Identifier: Apache-2.0
/*
 * test_svc.c - the services file (user/lib/svc.c): our JSON and kubectl's,
 * the services and backends they give, and for each broken document the
 * message naming the entry and field, with nothing returned.
 *
 * Documents are written with single quotes (jq() turns them into double
 * quotes) so that they stay readable. tests/unit/data/k8s-services.json is
 * a realistic `kubectl get services,endpointslices -A -o json`; the tests
 * run from the repository root (tests/run-tier via make).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "maglev.h"
#include "svc.h"
#include "svc_text.h"
#include "util.h"

#define K8S_FIXTURE "tests/unit/data/k8s-services.json"

/* A document with ' for ", so that C literals stay readable. */
static char *jq(const char *s)
{
	char *d = strdup(s), *c;

	assert_non_null(d);
	for (c = d; *c; c++)
		if (*c == '\'')
			*c = '"';
	return d;
}

static void parse_ok(const char *doc, struct zh_svc_set *set)
{
	char *text = jq(doc), err[512];
	int rc = zh_svc_parse(text, strlen(text), set, err, sizeof(err));

	if (rc)
		fail_msg("rc %d: %s\n%s", rc, err, text);
	free(text);
}

/* Fails with exactly @want (a prefix when @want ends in '*'); set empty. */
static void parse_fails(const char *doc, const char *want)
{
	char *text = jq(doc), *w = jq(want), err[512];
	struct zh_svc_set set = { .n = 99 };
	size_t wl = strlen(w);
	int rc;

	rc = zh_svc_parse(text, strlen(text), &set, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("rc %d, want -EINVAL, for\n%s", rc, text);
	if (set.svcs || set.n)
		fail_msg("a failed parse returned %zu services", set.n);
	if (wl && w[wl - 1] == '*' ? strncmp(err, w, wl - 1) : strcmp(err, w))
		fail_msg("got  %s\nwant %s\nfor  %s", err, w, text);
	free(w);
	free(text);
}

/* --- our format ----------------------------------------------------------- */

static void test_ours_minimal(void **state)
{
	static const char *const want[] = {
		"10.96.0.10:80/tcp 10.96.0.10:80/tcp np=0 aff=0:"
	};
	struct zh_svc_set set;

	(void)state;
	parse_ok("{'services': [{'vip': '10.96.0.10', 'port': 80}]}", &set);
	expect_set(&set, want, ARRAY_SIZE(want));
	assert_int_equal(set.svcs[0].proto, IPPROTO_TCP);
	assert_int_equal(set.svcs[0].vip.family, AF_INET);
	zh_svc_set_free(&set);

	/* No services at all is a valid, empty file. */
	parse_ok("{'services': []}", &set);
	assert_int_equal(set.n, 0);
	assert_null(set.svcs);
	zh_svc_set_free(&set);
}

static void test_ours_full(void **state)
{
	static const char doc[] =
		"{'services': ["
		/* the example of svc.h */
		" {'name': 'web', 'vip': '10.96.0.10', 'port': 80,"
		"  'proto': 'tcp', 'nodePort': 30080,"
		"  'affinity': {'clientIP': 10800},"
		"  'backends': [{'ip': '10.1.0.5', 'port': 8080, 'weight': 1,"
		"                'state': 'ready'}]},"
		/* defaults: backend port, weight and state; derived name */
		" {'vip': 'fd00::a', 'port': 53, 'proto': 'UDP',"
		"  'affinity': 'clientIP',"
		"  'backends': [{'ip': 'fd00:1::5'},"
		"               {'ip': 'fd00:1::6', 'port': 5353, 'weight': 0},"
		"               {'ip': 'fd00:1::7', 'weight': 65535,"
		"                'state': 'terminating'}]},"
		/* the same VIP and port over UDP is another service */
		" {'name': 'web-udp', 'vip': '10.96.0.10', 'port': 80,"
		"  'proto': 'udp', 'affinity': 'none', 'nodePort': 30080,"
		"  'backends': []},"
		/* and the same node port in the other family too */
		" {'name': 'web6', 'vip': 'fd00::10', 'port': 80, 'nodePort': 30080,"
		"  'affinity': {'clientIP': 1},"
		"  'backends': [{'ip': 'fd00:1::5', 'port': 8080},"
		"               {'ip': 'fd00:1::5', 'port': 8081}]}"
		"]}";
	static const char *const want[] = {
		"web 10.96.0.10:80/tcp np=30080 aff=10800: 10.1.0.5:8080/1",
		"[fd00::a]:53/udp [fd00::a]:53/udp np=0 aff=10800: [fd00:1::5]:53/1 [fd00:1::6]:5353/0 [fd00:1::7]:53/65535/T",
		"web-udp 10.96.0.10:80/udp np=30080 aff=0:",
		"web6 [fd00::10]:80/tcp np=30080 aff=1: [fd00:1::5]:8080/1 [fd00:1::5]:8081/1",
	};
	struct zh_svc_set set;

	(void)state;
	parse_ok(doc, &set);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
	assert_int_equal(set.n, 0);
	assert_null(set.svcs);
	zh_svc_set_free(&set); /* freeing twice is fine */
	zh_svc_set_free(NULL);
}

struct bad_doc {
	const char *doc, *err;
};

static void run_bad(const struct bad_doc *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		parse_fails(t[i].doc, t[i].err);
}

#define SVC(fields) "{'services': [" fields "]}"
#define OK_SVC "{'vip': '10.96.0.1', 'port': 1}, "

/* externalTrafficPolicy "local": the node port's own table over the
 * "local" backends only, and the flag the datapath keeps the client by. */
static void test_ours_etp_local(void **state)
{
	struct zh_svc_set set;

	(void)state;
	parse_ok(
		"{'services': [{'vip': '10.96.0.10', 'port': 80, 'nodePort': 30080,"
		" 'externalTrafficPolicy': 'Local',"
		" 'backends': [{'ip': '10.1.0.5'}, {'ip': '10.1.0.6', 'local': true}]},"
		" {'vip': '10.96.0.11', 'port': 80, 'nodePort': 30081,"
		" 'externalTrafficPolicy': 'cluster',"
		" 'backends': [{'ip': '10.1.0.7', 'local': true}]}]}",
		&set);
	assert_int_equal(set.n, 2);
	assert_true(set.svcs[0].etp_local && set.svcs[0].np_own);
	assert_int_equal(set.svcs[0].n_backends, 2);
	assert_int_equal(set.svcs[0].backends[0].np_weight, 0);
	assert_int_equal(set.svcs[0].backends[1].np_weight, 1);
	assert_false(set.svcs[1].etp_local || set.svcs[1].np_own);
	zh_svc_set_free(&set);
	parse_fails("{'services': [{'vip': '10.96.0.10', 'port': 80,"
		    " 'externalTrafficPolicy': 'Nearby'}]}",
		    "services[0].externalTrafficPolicy: *");
	parse_fails("{'services': [{'vip': '10.96.0.10', 'port': 80,"
		    " 'backends': [{'ip': '10.1.0.5', 'local': 1}]}]}",
		    "services[0].backends[0].local: *");
}

static void test_ours_errors(void **state)
{
	static const struct bad_doc t[] = {
		/* the example of the brief: the third service, first backend */
		{ SVC(OK_SVC
		      "{'vip': '10.96.0.2', 'port': 2}, "
		      "{'vip': '10.96.0.3', 'port': 3,"
		      " 'backends': [{'ip': '10.1.0.1', 'port': 70000}]}"),
		  "services[2].backends[0].port: 70000 is not a port (1-65535)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 0}"),
		  "services[0].port: 0 is not a port (1-65535)" },
		{ SVC("{'vip': '10.96.0.1', 'port': '80'}"),
		  "services[0].port: '80' is not a port (1-65535)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80.5}"),
		  "services[0].port: 80.5 is not a port (1-65535)" },
		{ SVC("{'vip': '10.96.0.1'}"), "services[0].port: missing" },
		{ SVC("{'port': 80}"), "services[0].vip: missing" },
		{ SVC("{'vip': null, 'port': 80}"),
		  "services[0].vip: missing" },
		{ SVC("{'vip': '10.96.0.300', 'port': 80}"),
		  "services[0].vip: '10.96.0.300' is not an IP address" },
		{ SVC("{'vip': '10.96.0.1/32', 'port': 80}"),
		  "services[0].vip: '10.96.0.1/32' is not an IP address" },
		{ SVC("{'vip': 10, 'port': 80}"),
		  "services[0].vip: 10 is not a string" },
		{ SVC("{'vip': '0.0.0.0', 'port': 80}"),
		  "services[0].vip: 0.0.0.0 is not a unicast address" },
		{ SVC("{'vip': 'ff02::1', 'port': 80}"),
		  "services[0].vip: ff02::1 is not a unicast address" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'proto': 'sctp'}"),
		  "services[0].proto: 'sctp' is not tcp or udp" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'nodePort': 0}"),
		  "services[0].nodePort: 0 is not a port (1-65535)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'nodePort': 65536}"),
		  "services[0].nodePort: 65536 is not a port (1-65535)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'affinity': {'clientIP': 0}}"),
		  "services[0].affinity.clientIP: 0 is not a timeout (1-86400 s)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80,"
		      " 'affinity': {'clientIP': 86401}}"),
		  "services[0].affinity.clientIP: 86401 is not a timeout (1-86400 s)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'affinity': {}}"),
		  "services[0].affinity.clientIP: missing" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'affinity': {'clientIp': 5}}"),
		  "services[0].affinity: unknown field 'clientIp'" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'affinity': 'sticky'}"),
		  "services[0].affinity: 'sticky' is not 'clientIP', 'none' or {'clientIP': seconds}" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'nodeport': 30000}"),
		  "services[0]: unknown field 'nodeport'" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'name': ''}"),
		  "services[0].name: '' is not a name (1-143 bytes)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'name': "
		      "'0123456789012345678901234567890123456789012345678901234567890123456789"
		      "0123456789012345678901234567890123456789012345678901234567890123456789"
		      "0123'}"),
		  "services[0].name: '0123456789012345678901234567890123456789012...' is not a name (1-143 bytes)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'backends': {}}"),
		  "services[0].backends: {} is not an array" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'backends': ['10.1.0.1']}"),
		  "services[0].backends[0]: '10.1.0.1' is not an object" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'backends': [{}]}"),
		  "services[0].backends[0].ip: missing" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80,"
		      " 'backends': [{'ip': '10.1.0.1', 'addr': '10.1.0.2'}]}"),
		  "services[0].backends[0]: unknown field 'addr'" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80,"
		      " 'backends': [{'ip': '10.1.0.1', 'weight': -1}]}"),
		  "services[0].backends[0].weight: -1 is not a weight (0-65535)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80,"
		      " 'backends': [{'ip': '10.1.0.1', 'weight': 65536}]}"),
		  "services[0].backends[0].weight: 65536 is not a weight (0-65535)" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80,"
		      " 'backends': [{'ip': '10.1.0.1', 'state': 'draining'}]}"),
		  "services[0].backends[0].state: 'draining' is not 'ready' or 'terminating'" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80,"
		      " 'backends': [{'ip': '10.1.0.1'}, {'ip': 'fd00::5'}]}"),
		  "services[0].backends[1].ip: fd00::5 is IPv6, the VIP 10.96.0.1 is IPv4" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80,"
		      " 'backends': [{'ip': '224.0.0.5'}]}"),
		  "services[0].backends[0].ip: 224.0.0.5 is not a unicast address" },
		{ SVC("{'vip': '10.96.0.1', 'port': 80, 'backends': ["
		      " {'ip': '10.1.0.5', 'port': 8080}, {'ip': '10.1.0.6'},"
		      " {'ip': '10.1.0.5', 'port': 8080}, {'ip': '10.1.0.6', 'port': 80}]}"),
		  "services[0].backends[2]: 10.1.0.5:8080 is also backends[0]" },
		/* the clashes: the earliest repeat, naming both */
		{ SVC("{'name': 'a', 'vip': '10.96.0.10', 'port': 80}, "
		      "{'name': 'b', 'vip': '10.96.0.11', 'port': 80}, "
		      "{'name': 'c', 'vip': '10.96.0.11', 'port': 80, 'proto': 'udp'}, "
		      "{'name': 'd', 'vip': '10.96.0.10', 'port': 80, 'proto': 'TCP'}, "
		      "{'name': 'e', 'vip': '10.96.0.11', 'port': 80}"),
		  "services[3] ('d'): 10.96.0.10:80/tcp is also services[0] ('a')" },
		{ SVC("{'name': 'a', 'vip': 'fd00::a', 'port': 80, 'nodePort': 30080}, "
		      "{'name': 'b', 'vip': '10.96.0.11', 'port': 80, 'nodePort': 30080}, "
		      "{'name': 'c', 'vip': '10.96.0.12', 'port': 81, 'nodePort': 30080}"),
		  "services[2] ('c'): IPv4 nodePort 30080/tcp is also services[1] ('b')" },
		/* the shapes */
		{ "{'services': {}}", "services: not an array" },
		{ "{'services': [], 'version': 2}",
		  "the document: unknown field 'version'" },
		{ SVC("[]"), "services[0]: [] is not an object" },
		{ SVC(OK_SVC "7"), "services[1]: 7 is not an object" },
	};

	(void)state;
	run_bad(t, ARRAY_SIZE(t));
}

static void test_documents(void **state)
{
	static const struct bad_doc t[] = {
		{ "", "empty document" },
		{ "[]", "the document is not a JSON object" },
		{ "'services'", "line 1, column 10: *" },
		{ "{'apiVersion': 'v1'}",
		  "not a services file: neither {'services': [...]} nor Kubernetes objects (kubectl get services,endpointslices -A -o json)" },
		{ "{'kind': 'Pod', 'metadata': {'name': 'x'}}",
		  "kind 'Pod': not a List, Service or EndpointSlice (kubectl get services,endpointslices -A -o json)" },
		{ "{'kind': 7}", "kind: 7 is not a string" },
		{ "{'services': [{'vip': '10.0.0.1',\n 'port': 80,,\n}]}",
		  "line 2, column 13: *" },
		{ "{'services': [{'vip': '10.0.0.1', 'port': 80,\n"
		  " 'port': 81}]}",
		  "line 2, column 7: duplicate object key*" },
		{ "{'services': []} x",
		  "line 1, column 18: end of file expected*" },
	};
	struct zh_svc_set set = { 0 };
	char err[256], *big;

	(void)state;
	run_bad(t, ARRAY_SIZE(t));

	/* Too large, whatever it holds. */
	big = malloc(ZH_SVC_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', ZH_SVC_FILE_MAX + 1);
	memcpy(big, "{\"services\": []}", 16);
	assert_int_equal(zh_svc_parse(big, ZH_SVC_FILE_MAX + 1, &set, err,
				      sizeof(err)),
			 -EFBIG);
	assert_string_equal(err,
			    "67108865 bytes, more than the 64 MiB allowed");
	assert_int_equal(set.n, 0);
	/* Exactly the limit is fine. */
	assert_int_equal(
		zh_svc_parse(big, ZH_SVC_FILE_MAX, &set, err, sizeof(err)), 0);
	free(big);

	/* No room for a message is fine too. */
	assert_int_equal(zh_svc_parse("[]", 2, &set, NULL, 0), -EINVAL);
}

/* --- files ---------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_load_errors(void **state)
{
	char dir[] = "/tmp/zh-test-svc.XXXXXX", path[64], err[512];
	struct zh_svc_set set;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/missing.json", dir);
	assert_int_equal(zh_svc_load(path, &set, err, sizeof(err)), -ENOENT);
	assert_true(strstr(err, "missing.json: No such file or directory"));

	/* Messages start with the path. */
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	write_file(path,
		   "{\"services\": [{\"vip\": \"10.0.0.1\", \"port\": 0}]}");
	assert_int_equal(zh_svc_load(path, &set, err, sizeof(err)), -EINVAL);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_string_equal(err + strlen(path),
			    ": services[0].port: 0 is not a port (1-65535)");
	assert_int_equal(set.n, 0);
	assert_int_equal(unlink(path), 0);

	/* A sparse file past the limit is refused before it is read. */
	snprintf(path, sizeof(path), "%s/big.json", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)ZH_SVC_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(zh_svc_load(path, &set, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "67108865 bytes, more than the 64 MiB"));
	assert_int_equal(unlink(path), 0);

	/* A directory cannot be read. */
	assert_int_equal(zh_svc_load(dir, &set, err, sizeof(err)), -EISDIR);
	assert_int_equal(rmdir(dir), 0);
}

/* "-" reads stdin to its end: a pipe from kubectl. */
static void test_load_stdin(void **state)
{
	static const char doc[] =
		"{\"services\": [{\"vip\": \"10.96.0.10\", \"port\": 80}]}";
	struct zh_svc_set set;
	int fds[2], saved;
	char err[256];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], doc, strlen(doc)), (ssize_t)strlen(doc));
	close(fds[1]);
	saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
	close(fds[0]);
	assert_int_equal(zh_svc_load("-", &set, err, sizeof(err)), 0);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.svcs[0].name, "10.96.0.10:80/tcp");
	zh_svc_set_free(&set);
}

/* --- Kubernetes ----------------------------------------------------------- */

/*
 * The fixture: kubectl's List, Services first. Expected, in document order,
 * a service per cluster IP (inner) and port (outer):
 * - default/kubernetes: the API server, one port with a name;
 * - kube-system/kube-dns: dns over UDP and dns-tcp over TCP on one port
 *   number, and metrics; the slice lists its ports in another order;
 * - shop/cart: one port without a name;
 * - shop/db (headless) and shop/ext (ExternalName): nothing;
 * - shop/lb: LoadBalancer with a node port; its SCTP port skipped;
 * - shop/pending: no endpoints ("endpoints": null, "ports": null);
 * - shop/web: dual-stack NodePort, ClientIP for 3600 s; three slices: a
 *   ready, a terminating and a not serving endpoint in the first, the
 *   ready one again and another in the second, IPv6 in the third.
 */
static void test_k8s_fixture(void **state)
{
	static const char *const want[] = {
		"default/kubernetes:https 10.96.0.1:443/tcp np=0 aff=0: 172.18.0.2:6443/1",
		"kube-system/kube-dns:dns 10.96.0.10:53/udp np=0 aff=0: 10.244.0.2:53/1 10.244.0.3:53/1",
		"kube-system/kube-dns:dns-tcp 10.96.0.10:53/tcp np=0 aff=0: 10.244.0.2:53/1 10.244.0.3:53/1",
		"kube-system/kube-dns:metrics 10.96.0.10:9153/tcp np=0 aff=0: 10.244.0.2:9153/1 10.244.0.3:9153/1",
		"shop/cart 10.96.7.7:8080/tcp np=0 aff=0: 10.244.1.10:8080/1 10.244.2.11:8080/1",
		"shop/lb:http 10.96.50.5:80/tcp np=31234 aff=0: 10.244.1.30:8080/1 10.244.2.31:8080/1",
		/* Its load balancer's address: the ports, no node port. */
		"shop/lb:http 192.0.2.50:80/tcp np=0 aff=0: 10.244.1.30:8080/1 10.244.2.31:8080/1",
		"shop/pending:http 10.96.60.6:80/tcp np=0 aff=0:",
		"shop/web:http 10.96.100.20:80/tcp np=30080 aff=3600: 10.244.1.5:8080/1 10.244.1.6:8080/1/T 10.244.2.8:8080/1",
		"shop/web:http [fd00:10:96::4a2f]:80/tcp np=30080 aff=3600: [fd00:10:244:1::5]:8080/1 [fd00:10:244:1::6]:8080/1/T [fd00:10:244:2::8]:8080/1",
		"shop/web:https 10.96.100.20:443/tcp np=30443 aff=3600: 10.244.1.5:8443/1 10.244.1.6:8443/1/T 10.244.2.8:8443/1",
		"shop/web:https [fd00:10:96::4a2f]:443/tcp np=30443 aff=3600: [fd00:10:244:1::5]:8443/1 [fd00:10:244:1::6]:8443/1/T [fd00:10:244:2::8]:8443/1",
	};
	struct zh_svc_set set;
	char err[512];
	int rc;

	(void)state;
	rc = zh_svc_load(K8S_FIXTURE, &set, err, sizeof(err));
	if (rc)
		fail_msg("%s (run from the repository root)", err);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
}

/* One Service and its slices around it; @svc and @slices are fragments. */
#define K8S_LIST(items) \
	"{'apiVersion': 'v1', 'kind': 'List', 'items': [" items "]}"
#define K8S_SVC(spec)                                                          \
	"{'apiVersion': 'v1', 'kind': 'Service',"                              \
	" 'metadata': {'name': 'web', 'namespace': 'default'}, 'spec': {" spec \
	"}}"
#define K8S_SLICE(name, type, ports, eps)                                      \
	"{'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice',"       \
	" 'metadata': {'name': '" name "', 'namespace': 'default',"            \
	"  'labels': {'kubernetes.io/service-name': 'web'}},"                  \
	" 'addressType': '" type "', 'ports': [" ports "], 'endpoints': [" eps \
	"]}"
#define EP(addr, conds) "{'addresses': ['" addr "'], 'conditions': {" conds "}}"

static void test_k8s_shapes(void **state)
{
	static const char *const one[] = {
		"default/web 10.96.0.10:80/tcp np=0 aff=0:",
	};
	static const char *const none[] = { NULL };
	struct zh_svc_set set;

	(void)state;
	/* One Service alone (kubectl get service web -o json). */
	parse_ok(K8S_SVC("'clusterIP': '10.96.0.10', 'ports': [{'port': 80}]"),
		 &set);
	expect_set(&set, one, ARRAY_SIZE(one));
	zh_svc_set_free(&set);

	/* The API's ServiceList: items without kind. */
	parse_ok(
		"{'kind': 'ServiceList', 'apiVersion': 'v1', 'items': [{"
		" 'metadata': {'name': 'web', 'namespace': 'default'},"
		" 'spec': {'clusterIP': '10.96.0.10', 'ports': [{'port': 80}]}}]}",
		&set);
	expect_set(&set, one, ARRAY_SIZE(one));
	zh_svc_set_free(&set);

	/* Slices alone, other kinds, an empty List: no services. */
	parse_ok("{'kind': 'EndpointSliceList', 'items': [" K8S_SLICE(
			 "web-1", "IPv4", "{'port': 80}",
			 EP("10.1.0.1", "")) "]}",
		 &set);
	expect_set(&set, none, 0);
	parse_ok(K8S_LIST("{'kind': 'Pod', 'metadata': {'name': 'p'}},"
			  "{'kind': 'Endpoints', 'metadata': {'name': 'web'}}"),
		 &set);
	expect_set(&set, none, 0);
	parse_ok("{'kind': 'List', 'apiVersion': 'v1', 'items': [],"
		 " 'metadata': {'resourceVersion': ''}}",
		 &set);
	expect_set(&set, none, 0);
	parse_ok("{'kind': 'List'}", &set);
	expect_set(&set, none, 0);
}

static void test_k8s_services(void **state)
{
	static const char *const want[] = {
		/* no namespace: default; no type: ClusterIP; no protocol: TCP */
		"default/a:x 10.96.0.1:80/tcp np=0 aff=10800:",
		/* the clusterIP, no clusterIPs; nodePort ignored for ClusterIP */
		"default/b 10.96.0.2:81/udp np=0 aff=0:",
		/* LoadBalancer with node ports */
		"default/c:p 10.96.0.3:82/tcp np=30082 aff=0:",
		"default/c:q 10.96.0.3:83/udp np=30083 aff=0:",
	};
	static const char doc[] = K8S_LIST(
		"{'kind': 'Service', 'metadata': {'name': 'a'},"
		" 'spec': {'clusterIPs': ['10.96.0.1'], 'sessionAffinity': 'ClientIP',"
		"  'ports': [{'name': 'x', 'port': 80}]}},"
		"{'kind': 'Service', 'metadata': {'name': 'b', 'namespace': 'default'},"
		" 'spec': {'clusterIP': '10.96.0.2', 'type': 'ClusterIP',"
		"  'sessionAffinity': 'None', 'sessionAffinityConfig': {'clientIP': {'timeoutSeconds': 5}},"
		"  'ports': [{'port': 81, 'protocol': 'UDP', 'nodePort': 30081}]}},"
		"{'kind': 'Service', 'metadata': {'name': 'c', 'namespace': 'default'},"
		" 'spec': {'clusterIP': '10.96.0.3', 'clusterIPs': ['10.96.0.3'],"
		"  'type': 'LoadBalancer', 'ports': ["
		"   {'name': 'p', 'port': 82, 'nodePort': 30082},"
		"   {'name': 's', 'port': 84, 'protocol': 'SCTP', 'nodePort': 30084},"
		"   {'name': 'q', 'port': 83, 'protocol': 'UDP', 'nodePort': 30083}]}},"
		/* skipped: headless both ways, ExternalName, no cluster IP */
		"{'kind': 'Service', 'metadata': {'name': 'h1'},"
		" 'spec': {'clusterIP': 'None', 'ports': [{'port': 80}]}},"
		"{'kind': 'Service', 'metadata': {'name': 'h2'},"
		" 'spec': {'clusterIP': 'None', 'clusterIPs': ['None'], 'ports': [{'port': 80}]}},"
		"{'kind': 'Service', 'metadata': {'name': 'e'},"
		" 'spec': {'type': 'ExternalName', 'externalName': 'example.com',"
		"  'ports': [{'port': 443}]}},"
		"{'kind': 'Service', 'metadata': {'name': 'n'},"
		" 'spec': {'clusterIP': '', 'ports': [{'port': 80}]}},"
		"{'kind': 'Service', 'metadata': {'name': 'n2'}, 'spec': {}}");
	struct zh_svc_set set;

	(void)state;
	parse_ok(doc, &set);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
}

/* Backends: which slice port, which endpoints, deduplicated and sorted. */
static void test_k8s_backends(void **state)
{
	static const char *const want[] = {
		"default/web:http 10.96.0.10:80/tcp np=0 aff=0: 10.1.0.1:8080/1 10.1.0.2:8080/1 10.1.0.3:8080/1/T 10.1.0.4:8080/1 10.1.0.9:8081/1",
		"default/web:dns 10.96.0.10:53/udp np=0 aff=0: 10.1.0.1:5353/1 10.1.0.2:5353/1 10.1.0.3:5353/1/T 10.1.0.4:5353/1",
		/* no slice port named "metrics" over TCP */
		"default/web:metrics 10.96.0.10:9090/tcp np=0 aff=0:",
	};
	static const char doc[] = K8S_LIST(
		K8S_SVC("'clusterIP': '10.96.0.10', 'ports': ["
			" {'name': 'http', 'port': 80, 'targetPort': 'web'},"
			" {'name': 'dns', 'port': 53, 'protocol': 'UDP'},"
			" {'name': 'metrics', 'port': 9090}]") "," K8S_SLICE("web-1",
									     "IPv4",
									     "{'name': 'http', 'port': 8080, 'protocol': 'TCP'},"
									     "{'name': 'dns', 'port': 5353, 'protocol': 'UDP'},"
									     "{'name': 'dns', 'port': 6000, 'protocol': 'TCP'},"
									     "{'name': 'metrics', 'port': 9090, 'protocol': 'UDP'}",
									     /* no conditions, {}, nulls: ready */
									     "{'addresses': ['10.1.0.4']}," EP(
										     "10.1.0.2",
										     "") "," EP("10.1.0.1",
												"'ready': null, 'serving': null") ","
									     /* not ready, serving (absent: true), terminating */
									     EP("10.1.0.3",
										"'ready': false, 'terminating': true") ","
									     /* not ready and not terminating, or not serving: out */
									     EP("10.1.0.5", "'ready': false, 'serving': true, 'terminating': false") "," EP(
										     "10.1.0.6",
										     "'ready': false, 'serving': false, 'terminating': true") "," EP("10.1.0.7",
																		     "'ready': false")) ","
		/* the same endpoints again, 10.1.0.2 terminating here: ready wins */
		K8S_SLICE(
			"web-2", "IPv4",
			"{'name': 'dns', 'port': 5353, 'protocol': 'UDP'},"
			"{'name': 'http', 'port': 8080}",
			EP("10.1.0.2",
			   "'ready': false, 'serving': true, 'terminating': true") ","
										   "{'addresses': ['10.1.0.4'], 'conditions': {'ready': true}}") ","
		/*
		 * a port number of its own (a named targetPort mid-rollout):
		 * its endpoints at that port, as kube-proxy has them
		 */
		K8S_SLICE("web-3", "IPv4", "{'name': 'http', 'port': 8081}",
			  EP("10.1.0.9", "")) ","
		/* no port: all ports, which kube-proxy does not use */
		K8S_SLICE("web-4", "IPv4", "{'name': 'http'}",
			  EP("10.1.0.8", "")) ","
		/* IPv6 and FQDN slices: not for an IPv4 VIP */
		K8S_SLICE("web-5", "IPv6", "{'name': 'http', 'port': 8080}", EP("fd00::1", "")) "," K8S_SLICE(
			"web-6", "FQDN", "{'name': 'http', 'port': 8080}",
			EP("web.example.com",
			   "")) ","
				/* another namespace, another service, no label */
				"{'kind': 'EndpointSlice', 'metadata': {'name': 'x', 'namespace': 'other',"
				" 'labels': {'kubernetes.io/service-name': 'web'}}, 'addressType': 'IPv4',"
				" 'ports': [{'name': 'http', 'port': 8080}], 'endpoints': [{'addresses': ['10.2.0.1']}]},"
				"{'kind': 'EndpointSlice', 'metadata': {'name': 'y', 'namespace': 'default',"
				" 'labels': {'kubernetes.io/service-name': 'webb'}}, 'addressType': 'IPv4',"
				" 'ports': [{'name': 'http', 'port': 8080}], 'endpoints': [{'addresses': ['10.2.0.2']}]},"
				"{'kind': 'EndpointSlice', 'metadata': {'name': 'z', 'namespace': 'default'},"
				" 'addressType': 'IPv4',"
				" 'ports': [{'name': 'http', 'port': 8080}], 'endpoints': [{'addresses': ['10.2.0.3']}]}");
	struct zh_svc_set set;

	(void)state;
	parse_ok(doc, &set);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
}

/*
 * Unnamed ports on both sides, dual-stack, and an endpoint of several
 * addresses: only the first is served, as kube-proxy does.
 */
static void test_k8s_unnamed_dual_stack(void **state)
{
	static const char *const want[] = {
		"default/web 10.96.0.10:80/tcp np=30080 aff=60: 10.1.0.2:8080/1",
		"default/web [fd00::10]:80/tcp np=30080 aff=60: [fd00::1]:8080/1",
	};
	static const char doc[] = K8S_LIST(K8S_SVC(
		"'clusterIP': '10.96.0.10',"
		" 'clusterIPs': ['10.96.0.10', 'fd00::10'], 'type': 'NodePort',"
		" 'sessionAffinity': 'ClientIP',"
		" 'sessionAffinityConfig': {'clientIP': {'timeoutSeconds': 60}},"
		" 'ports': [{'port': 80, 'nodePort': 30080}]") "," K8S_SLICE("web-v4",
									     "IPv4",
									     "{'name': '', 'port': 8080}",
									     "{'addresses': ['10.1.0.2', '10.1.0.1']}") "," K8S_SLICE("web-v6",
																      "IPv6",
																      "{'port': 8080, 'protocol': 'TCP'}",
																      EP("fd00::1",
																	 "'ready': true")));
	struct zh_svc_set set;

	(void)state;
	parse_ok(doc, &set);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
}

#define K8S_PORT80 "'clusterIP': '10.96.0.10', 'ports': [{'port': 80}]"

static void test_k8s_errors(void **state)
{
	static const struct bad_doc t[] = {
		/* the example of the brief */
		{ K8S_LIST(K8S_SVC(
			  "'clusterIP': '10.96.0.10', 'ports': ["
			  "{'name': 'a', 'port': 80},"
			  "{'name': 'b', 'port': 81, 'protocol': 'ICMP'}]")),
		  "Service default/web: spec.ports[1].protocol: 'ICMP' is not TCP, UDP or SCTP" },
		{ K8S_SVC("'clusterIP': '10.96.0.10', 'ports': [{'port': 0}]"),
		  "Service default/web: spec.ports[0].port: 0 is not a port (1-65535)" },
		{ K8S_SVC("'clusterIP': '10.96.0.10', 'ports': [{'name': 'x'}]"),
		  "Service default/web: spec.ports[0].port: missing" },
		{ K8S_SVC("'clusterIP': '10.96.0.10', 'type': 'NodePort',"
			  " 'ports': [{'port': 80, 'nodePort': 70000}]"),
		  "Service default/web: spec.ports[0].nodePort: 70000 is not a port (1-65535)" },
		{ K8S_SVC("'clusterIP': '10.96.0.10', 'ports': [80]"),
		  "Service default/web: spec.ports[0]: 80 is not an object" },
		{ K8S_SVC("'clusterIP': '10.96.0.10', 'ports': {}"),
		  "Service default/web: spec.ports: {} is not an array" },
		{ K8S_SVC("'clusterIP': '10.96.0.1000', 'ports': [{'port': 80}]"),
		  "Service default/web: spec.clusterIP: '10.96.0.1000' is not an IP address" },
		{ K8S_SVC("'clusterIPs': ['10.96.0.10', 'fd00::x'], 'ports': [{'port': 80}]"),
		  "Service default/web: spec.clusterIPs[1]: 'fd00::x' is not an IP address" },
		{ K8S_SVC("'clusterIPs': ['10.96.0.10', 'fd00::1', '10.96.0.11']"),
		  "Service default/web: spec.clusterIPs: 3 addresses, not one or one per family" },
		{ K8S_SVC("'clusterIP': '0.0.0.0', 'ports': [{'port': 80}]"),
		  "Service default/web: vip: 0.0.0.0 is not a unicast address" },
		{ K8S_SVC(K8S_PORT80 ", 'type': 'Cluster'"),
		  "Service default/web: spec.type: 'Cluster' is not ClusterIP, NodePort, LoadBalancer or ExternalName" },
		{ K8S_SVC(K8S_PORT80 ", 'sessionAffinity': 'Cookie'"),
		  "Service default/web: spec.sessionAffinity: 'Cookie' is not None or ClientIP" },
		{ K8S_SVC(K8S_PORT80
			  ", 'sessionAffinity': 'ClientIP',"
			  " 'sessionAffinityConfig': {'clientIP': {'timeoutSeconds': 0}}"),
		  "Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is not a timeout (1-86400 s)" },
		{ K8S_SVC(K8S_PORT80
			  ", 'sessionAffinity': 'ClientIP',"
			  " 'sessionAffinityConfig': {'clientIP': {'timeoutSeconds': 86401}}"),
		  "Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 86401 is not a timeout (1-86400 s)" },
		/* checked even where nothing is balanced */
		{ K8S_SVC("'clusterIP': 'None', 'ports': [{'port': 80, 'protocol': 'tcp'}]"),
		  "Service default/web: spec.ports[0].protocol: 'tcp' is not TCP, UDP or SCTP" },
		{ "{'kind': 'Service', 'metadata': {'name': 'web'}}",
		  "Service default/web: spec: missing" },
		{ K8S_LIST("{'kind': 'Service', 'spec': {}}"),
		  "items[0].metadata: missing" },
		{ K8S_LIST(
			  "{'kind': 'Service', 'metadata': {'namespace': 'a'}, 'spec': {}}"),
		  "items[0].metadata.name: missing" },
		{ K8S_LIST(
			  "{'kind': 'Service', 'metadata': {'name': ''}, 'spec': {}}"),
		  "items[0].metadata.name: '' is not a name" },
		{ K8S_LIST("{'metadata': {'name': 'web'}}"),
		  "items[0].kind: missing" },
		{ K8S_LIST("[]"), "items[0]: [] is not an object" },
		{ "{'kind': 'List', 'items': {}}",
		  "items: {} is not an array" },
		/* slices, also those of no service */
		{ K8S_LIST(K8S_SLICE("web-1", "IPv4", "{'port': 80}",
				     EP("10.1.0.300", ""))),
		  "EndpointSlice default/web-1: endpoints[0].addresses[0]: '10.1.0.300' is not an IPv4 address" },
		{ K8S_LIST(K8S_SLICE("web-1", "IPv4", "{'port': 80}",
				     EP("10.1.0.1", "") "," EP("fd00::1", ""))),
		  "EndpointSlice default/web-1: endpoints[1].addresses[0]: 'fd00::1' is not an IPv4 address" },
		{ K8S_LIST(K8S_SLICE(
			  "web-1", "IPv6", "{'port': 80}",
			  EP("fd00::1",
			     "'ready': false")) "," K8S_SLICE("web-2", "IPv6",
							      "{'port': 80}",
							      "{'addresses': ['10.1.0.1']}")),
		  "EndpointSlice default/web-2: endpoints[0].addresses[0]: '10.1.0.1' is not an IPv6 address" },
		{ K8S_LIST(K8S_SLICE("web-1", "IPv4", "{'port': 80}",
				     "{'addresses': [7]}")),
		  "EndpointSlice default/web-1: endpoints[0].addresses[0]: 7 is not an IPv4 address" },
		{ K8S_LIST(K8S_SLICE("web-1", "IPv4", "{'port': 80}",
				     "{'conditions': {}}")),
		  "EndpointSlice default/web-1: endpoints[0].addresses: missing" },
		{ K8S_LIST(K8S_SLICE("web-1", "IPv4", "{'port': 80}",
				     EP("10.1.0.1", "'ready': 'yes'"))),
		  "EndpointSlice default/web-1: endpoints[0].conditions.ready: 'yes' is not true or false" },
		{ K8S_LIST(K8S_SLICE(
			  "web-1", "IPv4", "{'port': 80}",
			  "{'addresses': ['10.1.0.1'], 'conditions': []}")),
		  "EndpointSlice default/web-1: endpoints[0].conditions: [] is not an object" },
		{ K8S_LIST(K8S_SLICE("web-1", "IPv4", "{'port': 70000}", "")),
		  "EndpointSlice default/web-1: ports[0].port: 70000 is not a port (1-65535)" },
		{ K8S_LIST(K8S_SLICE("web-1", "IPv4",
				     "{'port': 80, 'protocol': 'ICMP'}", "")),
		  "EndpointSlice default/web-1: ports[0].protocol: 'ICMP' is not TCP, UDP or SCTP" },
		{ K8S_LIST(K8S_SLICE("web-1", "IPX", "", "")),
		  "EndpointSlice default/web-1: addressType: 'IPX' is not IPv4, IPv6 or FQDN" },
		{ K8S_LIST(
			  "{'kind': 'EndpointSlice', 'metadata': {'name': 's'}}"),
		  "EndpointSlice default/s: addressType: missing" },
		{ K8S_LIST(
			  "{'kind': 'EndpointSlice', 'metadata': {'name': 's',"
			  " 'labels': {'kubernetes.io/service-name': 5}}, 'addressType': 'IPv4'}"),
		  "EndpointSlice default/s: metadata.labels.kubernetes.io/service-name: 5 is not a string" },
		/* two Services on one VIP and port: both named */
		{ K8S_LIST(
			  "{'kind': 'Service', 'metadata': {'name': 'a', 'namespace': 'x'},"
			  " 'spec': {'clusterIP': '10.96.0.10', 'ports': [{'port': 53, 'protocol': 'UDP'},"
			  "  {'port': 80, 'name': 'http'}]}},"
			  "{'kind': 'Service', 'metadata': {'name': 'b', 'namespace': 'x'},"
			  " 'spec': {'clusterIP': '10.96.0.10', 'ports': [{'port': 53}, {'port': 80}]}}"),
		  "Service x/b spec.ports[1]: 10.96.0.10:80/tcp is also Service x/a spec.ports[1]" },
		{ K8S_LIST(
			  "{'kind': 'Service', 'metadata': {'name': 'a'},"
			  " 'spec': {'clusterIP': '10.96.0.10', 'type': 'NodePort',"
			  "  'ports': [{'port': 80, 'nodePort': 30080}]}},"
			  "{'kind': 'Service', 'metadata': {'name': 'b'},"
			  " 'spec': {'clusterIP': '10.96.0.11', 'type': 'NodePort',"
			  "  'ports': [{'port': 80, 'nodePort': 30080}]}}"),
		  "Service default/b spec.ports[0]: IPv4 nodePort 30080/tcp is also Service default/a spec.ports[0]" },
	};

	(void)state;
	run_bad(t, ARRAY_SIZE(t));
}

/* --- the model ------------------------------------------------------------ */

static struct zh_service make_svc(struct zh_svc_backend *b, size_t n)
{
	struct zh_service s = { .name = "web",
				.port = 80,
				.proto = IPPROTO_TCP };

	assert_int_equal(zh_addr_parse("10.96.0.10", false, &s.vip), 0);
	s.backends = b;
	s.n_backends = n;
	return s;
}

static void test_validate(void **state)
{
	struct zh_svc_backend b[3] = { 0 };
	struct zh_service s;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.1.0.%zu", i + 1);
		assert_int_equal(zh_addr_parse(ip, false, &b[i].addr), 0);
		b[i].port = 8080;
		b[i].weight = 1;
	}
	s = make_svc(b, 3);
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), 0);
	assert_int_equal(zh_svc_validate(&s, NULL, 0), 0);

	memset(s.name, 'x', sizeof(s.name));
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "name: not NUL-terminated");
	s = make_svc(b, 3);
	s.name[0] = '\0';
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "name: empty");

	s = make_svc(b, 3);
	s.vip.family = AF_UNIX;
	assert_int_equal(zh_svc_validate(&s, NULL, 0), -EINVAL);
	s = make_svc(b, 3);
	s.port = 0;
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "port: 0 is not a port (1-65535)");
	s = make_svc(b, 3);
	s.proto = IPPROTO_ICMP;
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "proto: 1 is not tcp or udp");
	s = make_svc(b, 3);
	s.affinity_timeout = 86401;
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "affinity: 86401 is not a timeout (1-86400 s)");
	s = make_svc(NULL, 3);
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "backends: missing");
	s = make_svc(NULL, 0);
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), 0);

	s = make_svc(b, 3);
	b[1].state = 7;
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "backends[1].state: 7 is not ready or terminating");
	b[1].state = ZH_EP_TERMINATING;
	b[2].port = 0;
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "backends[2].port: 0 is not a port (1-65535)");
	b[2].port = 8080;
	assert_int_equal(zh_addr_parse("fd00::2", false, &b[2].addr), 0);
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(
		err,
		"backends[2].ip: fd00::2 is IPv6, the VIP 10.96.0.10 is IPv4");
	b[2].addr = b[0].addr;
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "backends[2]: 10.1.0.1:8080 is also backends[0]");
	b[2].port = 8081; /* another port: another backend */
	assert_int_equal(zh_svc_validate(&s, err, sizeof(err)), 0);
}

static void test_strings_and_keys(void **state)
{
	struct zh_svc_backend b = { .port = 8080 };
	uint8_t key[ZH_SVC_KEY_MAX];
	char buf[64];

	(void)state;
	assert_int_equal(zh_addr_parse("10.1.0.5", false, &b.addr), 0);
	assert_string_equal(zh_svc_addr_str(&b.addr, 80, IPPROTO_TCP, buf,
					    sizeof(buf)),
			    "10.1.0.5:80/tcp");
	assert_string_equal(zh_svc_addr_str(&b.addr, 8080, 0, buf, sizeof(buf)),
			    "10.1.0.5:8080");
	assert_int_equal(zh_svc_backend_key(&b, key), 7);
	assert_memory_equal(key, "\x04\x0a\x01\x00\x05\x1f\x90", 7);

	assert_int_equal(zh_addr_parse("fd00::a", false, &b.addr), 0);
	b.port = 53;
	assert_string_equal(zh_svc_addr_str(&b.addr, 53, IPPROTO_UDP, buf,
					    sizeof(buf)),
			    "[fd00::a]:53/udp");
	assert_int_equal(zh_svc_backend_key(&b, key), 19);
	assert_memory_equal(key,
			    "\x06\xfd\x00\x00\x00\x00\x00\x00\x00"
			    "\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x35",
			    19);
	assert_string_equal(zh_svc_proto_str(IPPROTO_UDP), "udp");
	assert_string_equal(zh_svc_proto_str(IPPROTO_ICMP), "?");
}

/*
 * A service's backends through Maglev by their keys: the table is the same
 * whichever order the document lists them in.
 */
static void test_maglev_from_file(void **state)
{
	static const char fwd[] = SVC(
		"{'vip': '10.96.0.10', 'port': 80, 'backends': ["
		" {'ip': '10.1.0.1', 'port': 8080}, {'ip': '10.1.0.2', 'port': 8080},"
		" {'ip': '10.1.0.3', 'port': 8080, 'weight': 2},"
		" {'ip': '10.1.0.1', 'port': 8081, 'weight': 0}]}");
	static const char rev[] = SVC(
		"{'vip': '10.96.0.10', 'port': 80, 'backends': ["
		" {'ip': '10.1.0.1', 'port': 8081, 'weight': 0},"
		" {'ip': '10.1.0.3', 'port': 8080, 'weight': 2},"
		" {'ip': '10.1.0.2', 'port': 8080}, {'ip': '10.1.0.1', 'port': 8080}]}");
	const char *docs[2] = { fwd, rev };
	uint8_t keys[2][4][ZH_SVC_KEY_MAX];
	struct zh_maglev_backend mb[2][4];
	uint32_t table[2][251];
	struct zh_svc_set set[2];
	size_t d, i;
	uint32_t s;

	(void)state;
	for (d = 0; d < 2; d++) {
		parse_ok(docs[d], &set[d]);
		assert_int_equal(set[d].svcs[0].n_backends, 4);
		for (i = 0; i < 4; i++) {
			const struct zh_svc_backend *b =
				&set[d].svcs[0].backends[i];

			mb[d][i] = (struct zh_maglev_backend){
				.key = keys[d][i],
				.key_len = zh_svc_backend_key(b, keys[d][i]),
				.weight = b->weight,
			};
		}
		assert_int_equal(zh_maglev_build(mb[d], 4, 251, table[d]), 0);
	}
	for (s = 0; s < 251; s++) {
		const struct zh_svc_backend *a =
			&set[0].svcs[0].backends[table[0][s]];
		const struct zh_svc_backend *b =
			&set[1].svcs[0].backends[table[1][s]];

		assert_memory_equal(&a->addr.raw, &b->addr.raw, 4);
		assert_int_equal(a->port, b->port);
		assert_int_not_equal(a->weight, 0);
	}
	zh_svc_set_free(&set[0]);
	zh_svc_set_free(&set[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ours_minimal),
		cmocka_unit_test(test_ours_full),
		cmocka_unit_test(test_ours_etp_local),
		cmocka_unit_test(test_ours_errors),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_stdin),
		cmocka_unit_test(test_k8s_fixture),
		cmocka_unit_test(test_k8s_shapes),
		cmocka_unit_test(test_k8s_services),
		cmocka_unit_test(test_k8s_backends),
		cmocka_unit_test(test_k8s_unnamed_dual_stack),
		cmocka_unit_test(test_k8s_errors),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_strings_and_keys),
		cmocka_unit_test(test_maglev_from_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
