// SPDX-License-Identifier: Apache-2.0
/*
 * test_k8s.c - the Kubernetes client's logic without a server: the watch
 * stream split anywhere, every event type, 410 inside a stream, lists in
 * pages replacing the store whole; kubeconfigs; rendering the stores one
 * object at a time (a bad object is left out, the rest served); the CNI
 * configuration a node gets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "k8s.h"
#include "k8s_watch.h"
#include "svc.h"
#include "svc_k8s.h"
#include "util.h"
#include "rng.h"
#include "svc_text.h"

#define SVC(ns, name, rv, ip, port)                                        \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name         \
	"\",\"resourceVersion\":\"" rv "\"},\"spec\":{\"clusterIP\":\"" ip \
	"\",\"ports\":[{\"port\":" #port "}]}}"
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"

static struct zh_k8s_res res(void)
{
	struct zh_k8s_res r;

	assert_int_equal(zh_k8s_res_init(&r, "Service", "/api/v1/services",
					 NULL, true),
			 0);
	return r;
}

static const char *clusterip(const struct zh_k8s_res *r, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(r->store, key), "spec"),
		"clusterIP"));
}

static const char stream[] =
	EV("ADDED", SVC("default", "web", "10", "10.96.0.10", 80))
		EV("ADDED", SVC("kube-system", "dns", "11", "10.96.0.53",
				53)) "\n" /* a keep-alive */
	EV("MODIFIED", SVC("default", "web", "12", "10.96.0.11", 80)) EV(
		"BOOKMARK",
		"{\"kind\":\"Service\",\"metadata\":{\"resourceVersion\":\"15\"}}")
		EV("DELETED",
		   SVC("kube-system", "dns", "16", "10.96.0.53", 53));

static void check_stream_result(struct zh_k8s_res *r)
{
	assert_int_equal(json_object_size(r->store), 1);
	assert_string_equal(clusterip(r, "default/web"), "10.96.0.11");
	assert_null(json_object_get(r->store, "kube-system/dns"));
	assert_string_equal(r->rv, "16");
	assert_int_equal(r->events, 4);
	assert_int_equal(r->bookmarks, 1);
	assert_true(r->changed);
}

/* The whole stream in one chunk, then cut at every byte. */
static void test_feed_split_anywhere(void **state)
{
	char err[ZH_K8S_ERR_MAX];
	size_t cut, len = strlen(stream);
	struct zh_k8s_res r;

	(void)state;
	r = res();
	assert_int_equal(zh_k8s_res_feed(&r, stream, len, err, sizeof(err)), 4);
	check_stream_result(&r);
	zh_k8s_res_free(&r);

	for (cut = 1; cut < len; cut++) {
		int a, b;

		r = res();
		a = zh_k8s_res_feed(&r, stream, cut, err, sizeof(err));
		b = zh_k8s_res_feed(&r, stream + cut, len - cut, err,
				    sizeof(err));
		assert_true(a >= 0 && b >= 0);
		assert_int_equal(a + b, 4);
		check_stream_result(&r);
		zh_k8s_res_free(&r);
	}
	/* And one byte at a time. */
	r = res();
	for (cut = 0; cut < len; cut++)
		assert_true(zh_k8s_res_feed(&r, stream + cut, 1, err,
					    sizeof(err)) >= 0);
	check_stream_result(&r);
	zh_k8s_res_free(&r);
}

static void test_feed_errors(void **state)
{
	static const char gone[] = EV(
		"ERROR",
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"too old resource version: 5 (20)\",\"reason\":\"Expired\",\"code\":410}");
	static const char other[] = EV(
		"ERROR",
		"{\"kind\":\"Status\",\"message\":\"internal error\",\"code\":500}");
	char err[ZH_K8S_ERR_MAX], *big;
	struct zh_k8s_res r = res();

	(void)state;
	/* What came before the error stays applied. */
	assert_int_equal(
		zh_k8s_res_feed(
			&r,
			EV("ADDED", SVC("default", "a", "3", "10.96.0.1", 80)),
			strlen(EV("ADDED",
				  SVC("default", "a", "3", "10.96.0.1", 80))),
			err, sizeof(err)),
		1);
	assert_int_equal(zh_k8s_res_feed(&r, gone, strlen(gone), err,
					 sizeof(err)),
			 -ESTALE);
	assert_contains(err, "too old resource version");
	assert_non_null(json_object_get(r.store, "default/a"));
	assert_int_equal(zh_k8s_res_feed(&r, other, strlen(other), err,
					 sizeof(err)),
			 -EPROTO);
	assert_contains(err, "error 500: internal error");
	assert_int_equal(zh_k8s_res_feed(&r, "{not json\n", 10, err,
					 sizeof(err)),
			 -EPROTO);
	assert_contains(err, "not JSON");
	assert_int_equal(zh_k8s_res_feed(&r, "{\"type\":\"ADDED\"}\n", 17, err,
					 sizeof(err)),
			 -EPROTO);
	assert_int_equal(
		zh_k8s_res_feed(
			&r, EV("ADDED", "{\"metadata\":{\"namespace\":\"x\"}}"),
			strlen(EV("ADDED",
				  "{\"metadata\":{\"namespace\":\"x\"}}")),
			err, sizeof(err)),
		-EPROTO);
	assert_contains(err, "without a name");
	assert_int_equal(
		zh_k8s_res_feed(&r, EV("EXPLODED", "{\"metadata\":{}}"),
				strlen(EV("EXPLODED", "{\"metadata\":{}}")),
				err, sizeof(err)),
		-EPROTO);
	zh_k8s_res_free(&r);

	/* A line that never ends is bounded. */
	r = res();
	big = malloc(ZH_K8S_LINE_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', ZH_K8S_LINE_MAX + 1);
	assert_int_equal(zh_k8s_res_feed(&r, big, ZH_K8S_LINE_MAX + 1, err,
					 sizeof(err)),
			 -EFBIG);
	free(big);
	zh_k8s_res_free(&r);
}

/* Two pages replace the store after the second; the first alone not. */
static void test_pages_replace_store(void **state)
{
	static const char p1[] =
		"{\"kind\":\"ServiceList\",\"metadata\":{\"resourceVersion\":\"40\",\"continue\":\"tok\"},\"items\":[" SVC(
			"default", "a", "31", "10.96.0.1", 80) "]}";
	static const char p2[] =
		"{\"kind\":\"ServiceList\",\"metadata\":{\"resourceVersion\":\"40\"},\"items\":[" SVC(
			"default", "b", "33", "10.96.0.2", 80) "]}";
	char err[ZH_K8S_ERR_MAX];
	struct zh_k8s_res r = res();
	bool more;

	(void)state;
	/* What an earlier life held, deleted while we were away. */
	assert_int_equal(
		zh_k8s_res_feed(&r,
				EV("ADDED", SVC("default", "stale", "2",
						"10.96.0.9", 80)),
				strlen(EV("ADDED", SVC("default", "stale", "2",
						       "10.96.0.9", 80))),
				err, sizeof(err)),
		1);
	r.changed = false;
	assert_int_equal(zh_k8s_res_page(&r, p1, strlen(p1), &more, err,
					 sizeof(err)),
			 0);
	assert_true(more);
	assert_string_equal(r.cont, "tok");
	assert_false(r.synced);
	assert_false(r.changed);
	assert_non_null(json_object_get(r.store, "default/stale"));
	assert_int_equal(zh_k8s_res_page(&r, p2, strlen(p2), &more, err,
					 sizeof(err)),
			 0);
	assert_false(more);
	assert_true(r.synced);
	assert_true(r.changed);
	assert_string_equal(r.rv, "40");
	assert_string_equal(r.cont, "");
	assert_int_equal(json_object_size(r.store), 2);
	assert_null(json_object_get(r.store, "default/stale"));
	assert_string_equal(clusterip(&r, "default/b"), "10.96.0.2");

	/* Not a list. */
	assert_int_equal(zh_k8s_res_page(&r, "{\"items\":[]}", 12, &more, err,
					 sizeof(err)),
			 -EPROTO);
	assert_contains(err, "not a list");
	assert_int_equal(zh_k8s_res_page(&r, "[", 1, &more, err, sizeof(err)),
			 -EPROTO);
	/* An empty list empties the store. */
	assert_int_equal(
		zh_k8s_res_page(
			&r,
			"{\"metadata\":{\"resourceVersion\":\"41\"},\"items\":null}",
			50, &more, err, sizeof(err)),
		0);
	assert_int_equal(json_object_size(r.store), 0);
	zh_k8s_res_free(&r);
}

static void test_key(void **state)
{
	json_t *node = json_loads("{\"metadata\":{\"name\":\"n1\"}}", 0, NULL);
	json_t *svc = json_loads(SVC("ns", "s", "1", "10.96.0.1", 80), 0, NULL);
	char key[64];

	(void)state;
	assert_int_equal(zh_k8s_key(node, false, key, sizeof(key)), 0);
	assert_string_equal(key, "n1");
	assert_int_equal(zh_k8s_key(svc, true, key, sizeof(key)), 0);
	assert_string_equal(key, "ns/s");
	assert_int_equal(zh_k8s_key(svc, true, key, 3), -EPROTO);
	/* A namespaced kind without a namespace is in "default". */
	assert_int_equal(zh_k8s_key(node, true, key, sizeof(key)), 0);
	assert_string_equal(key, "default/n1");
	json_decref(node);
	json_decref(svc);
}

/* --- credentials ------------------------------------------------------------ */

/*
 * Aliases repeat their anchor's tree for a few bytes: a kubeconfig of 650
 * bytes whose "extra" doubles a list 20 times would expand to 4 million
 * values (and 2^30 at 30 lines, gigabytes: found by reading the YAML
 * conversion, confirmed with tests/fuzz's kubeconfig harness). Refused once
 * the expansion passes what any file of KUBECONFIG_MAX bytes could hold;
 * an alias used as kubeconfigs use them still works.
 */
static void test_kubeconfig_aliases(void **state)
{
	static const char head[] =
		"current-context: t\n"
		"contexts: [{name: t, context: {cluster: c, user: u}}]\n"
		"clusters: [{name: c, cluster: &cl {server: \"https://x:6443\"}}]\n"
		"users: [{name: u, user: {token: abc}}]\n"
		"copy: *cl\n";
	char text[2048], err[ZH_K8S_ERR_MAX];
	struct zh_k8s_conf c;
	size_t off;

	(void)state;
	assert_int_equal(zh_k8s_kubeconfig_parse(&c, head, strlen(head), NULL,
						 NULL, err, sizeof(err)),
			 0);
	assert_string_equal(c.server, "https://x:6443");
	assert_string_equal(c.token, "abc");
	zh_k8s_conf_free(&c);

	off = (size_t)snprintf(text, sizeof(text), "%sl0: &l0 [x, x]\n", head);
	for (int i = 1; i <= 20; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"l%d: &l%d [*l%d, *l%d]\n", i, i, i - 1,
					i - 1);
	assert_true(off < sizeof(text));
	assert_int_equal(zh_k8s_kubeconfig_parse(&c, text, off, NULL, NULL, err,
						 sizeof(err)),
			 -EINVAL);
	assert_contains(err, "aliases that expand past");
	assert_null(c.token);
}

static char *tmpdir(void)
{
	static char d[32];

	snprintf(d, sizeof(d), "/tmp/zh-k8s-XXXXXX");
	if (!mkdtemp(d))
		fail_msg("mkdtemp: %s", strerror(errno));
	return d;
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rmrf(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_kubeconfig(void **state)
{
	/* "-----BEGIN CERTIFICATE-----" in base64, folded as YAML allows. */
	static const char kc[] =
		"apiVersion: v1\n"
		"kind: Config\n"
		"current-context: test\n"
		"clusters:\n"
		"- name: other\n"
		"  cluster: {server: \"https://10.0.0.1:6443\"}\n"
		"- name: c1\n"
		"  cluster:\n"
		"    server: https://127.0.0.1:6443/\n"
		"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJU\n"
		"      SUZJQ0FURS0tLS0t\n"
		"contexts:\n"
		"- name: test\n"
		"  context: {cluster: c1, user: u1}\n"
		"users:\n"
		"- name: u1\n"
		"  user:\n"
		"    tokenFile: token\n"
		"    client-key: /abs/key.pem\n";
	char err[ZH_K8S_ERR_MAX], path[512];
	struct zh_k8s_conf c;
	char *dir = tmpdir();

	(void)state;
	put(dir, "kc", kc);
	snprintf(path, sizeof(path), "%s/kc", dir);
	assert_int_equal(
		zh_k8s_conf_kubeconfig(&c, path, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_int_equal(c.ca_len, 27);
	assert_memory_equal(c.ca_pem, "-----BEGIN CERTIFICATE-----", 27);
	assert_string_equal(c.token_file + strlen(dir), "/token");
	assert_string_equal(c.key_file, "/abs/key.pem");
	assert_null(c.token);
	zh_k8s_conf_free(&c);

	/* --k8s-api wins over the file's server. */
	assert_int_equal(zh_k8s_conf_kubeconfig(&c, path,
						"https://[fd00::1]:6443", err,
						sizeof(err)),
			 0);
	assert_string_equal(c.server, "https://[fd00::1]:6443");
	zh_k8s_conf_free(&c);

	put(dir, "kc", "current-context: nope\ncontexts: []\n");
	assert_int_equal(zh_k8s_conf_kubeconfig(&c, path, NULL, err,
						sizeof(err)),
			 -EINVAL);
	assert_contains(err, "context \"nope\": missing");
	put(dir, "kc", "a: [b\n");
	assert_int_equal(zh_k8s_conf_kubeconfig(&c, path, NULL, err,
						sizeof(err)),
			 -EINVAL);
	assert_contains(err, "line 2");
	put(dir, "kc",
	    "current-context: t\ncontexts: [{name: t, context: {cluster: c}}]\n"
	    "clusters: [{name: c, cluster: {server: \"http://x:80\"}}]\n");
	assert_int_equal(zh_k8s_conf_kubeconfig(&c, path, NULL, err,
						sizeof(err)),
			 -EINVAL);
	assert_contains(err, "not https://HOST[:PORT]");
	put(dir, "kc",
	    "current-context: t\ncontexts: [{name: t, context: {cluster: c}}]\n"
	    "clusters: [{name: c, cluster: {server: \"https://x\", certificate-authority-data: \"!!\"}}]\n");
	assert_int_equal(zh_k8s_conf_kubeconfig(&c, path, NULL, err,
						sizeof(err)),
			 -EINVAL);
	assert_contains(err, "not base64");
	snprintf(path, sizeof(path), "%s/absent", dir);
	assert_int_equal(zh_k8s_conf_kubeconfig(&c, path, NULL, err,
						sizeof(err)),
			 -ENOENT);
	rmrf(dir);
}

static void test_incluster(void **state)
{
	char err[ZH_K8S_ERR_MAX];
	struct zh_k8s_conf c;
	char *dir = tmpdir();

	(void)state;
	unsetenv(ZH_K8S_API_ENV);
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(zh_k8s_conf_incluster(&c, NULL, dir, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "--k8s-api");
	/* The token and CA must be there. */
	assert_int_equal(zh_k8s_conf_incluster(&c, "https://10.0.0.1:6443", dir,
					       err, sizeof(err)),
			 -ENOENT);
	assert_contains(err, "/token");
	put(dir, "token", "t0k3n\n");
	put(dir, "ca.crt", "x");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(zh_k8s_conf_incluster(&c, NULL, dir, err, sizeof(err)),
			 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	setenv(ZH_K8S_API_ENV, "https://192.0.2.1:6443", 1);
	assert_int_equal(zh_k8s_conf_incluster(&c, NULL, dir, err, sizeof(err)),
			 0);
	assert_string_equal(c.server, "https://192.0.2.1:6443");
	assert_int_equal(zh_k8s_set_server(&c, "https://a/b", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(zh_k8s_set_server(&c, "https://u@a", err, sizeof(err)),
			 -EINVAL);
	unsetenv(ZH_K8S_API_ENV);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	rmrf(dir);
}

/* --- rendering ------------------------------------------------------------- */

struct notes {
	char text[8][400];
	char reason[8][16];
	int n;
};

static void note(void *arg, const char *kind, const char *key,
		 const char *reason, const char *msg)
{
	struct notes *n = arg;

	assert_true(n->n < 8);
	snprintf(n->text[n->n], sizeof(n->text[0]), "%s %s: %s", kind, key,
		 msg);
	snprintf(n->reason[n->n], sizeof(n->reason[0]), "%s", reason);
	n->n++;
}

static json_t *store(const char *const *objs)
{
	json_t *s = json_object();
	char key[256];

	for (; *objs; objs++) {
		json_t *o = json_loads(*objs, 0, NULL);

		assert_non_null(o);
		assert_int_equal(zh_k8s_key(o, true, key, sizeof(key)), 0);
		json_object_set_new(s, key, o);
	}
	return s;
}

static const struct zh_service *find(const struct zh_svc_set *set,
				     const char *vip, uint16_t port)
{
	struct zh_addr a;

	assert_int_equal(zh_svc_ip_parse(vip, &a), 0);
	for (size_t i = 0; i < set->n; i++)
		if (!memcmp(&set->svcs[i].vip, &a, sizeof(a)) &&
		    set->svcs[i].port == port)
			return &set->svcs[i];
	return NULL;
}

#define SLICE(ns, name, svc, eps)                                                 \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name                \
	"\",\"labels\":{\"kubernetes.io/service-name\":\"" svc "\"}},"            \
	"\"addressType\":\"IPv4\",\"ports\":[{\"port\":8080}],\"endpoints\":" eps \
	"}"

static void test_render_skips_bad_objects(void **state)
{
	static const char *const svcs[] = {
		SVC("default", "good", "1", "10.96.0.10", 80),
		/* Bad: the port is out of range. */
		SVC("default", "bad", "2", "10.96.0.11", 70000),
		/* Takes good's address: left out whole. */
		"{\"metadata\":{\"namespace\":\"z\",\"name\":\"thief\"},\"spec\":{\"clusterIP\":\"10.96.0.10\",\"ports\":[{\"port\":80},{\"port\":81}]}}",
		/* One SCTP port, one TCP: the TCP one is served. */
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"mixed\"},\"spec\":{\"clusterIP\":\"10.96.0.12\",\"ports\":[{\"name\":\"s\",\"port\":9,\"protocol\":\"SCTP\"},{\"name\":\"t\",\"port\":90}]}}",
		/* A LoadBalancer with externalIPs and an ingress IP. */
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"lb\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.13\",\"externalIPs\":[\"192.0.2.7\"],\"ports\":[{\"port\":443,\"nodePort\":30443}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.51.100.1\"},{\"hostname\":\"lb.example\"}]}}}",
		NULL,
	};
	static const char *const slices[] = {
		SLICE("default", "good-1", "good",
		      "[{\"addresses\":[\"10.1.0.5\"],\"conditions\":{\"ready\":true}},"
		      "{\"addresses\":[\"10.1.0.6\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}}]"),
		/* No endpoint ready: the serving terminating ones take
		 * new flows. */
		SLICE("default", "lb-1", "lb",
		      "[{\"addresses\":[\"10.1.0.7\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
		      "{\"addresses\":[\"10.1.0.8\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}}]"),
		/* Bad: an address of the wrong family. */
		SLICE("default", "broken", "good",
		      "[{\"addresses\":[\"fd00::1\"]}]"),
		NULL,
	};
	json_t *s = store(svcs), *e = store(slices);
	struct notes n = { .n = 0 };
	const struct zh_service *sv;
	struct zh_svc_set set;

	(void)state;
	assert_int_equal(zh_svc_k8s_render(s, e, &set, note, &n), 0);
	/* good, mixed:t, lb on three addresses. */
	assert_int_equal(set.n, 5);
	sv = find(&set, "10.96.0.10", 80);
	assert_non_null(sv);
	assert_string_equal(sv->name, "default/good");
	assert_int_equal(sv->n_backends, 2);
	assert_int_equal(sv->backends[0].state, ZH_EP_READY);
	assert_int_equal(sv->backends[1].state, ZH_EP_TERMINATING);
	assert_null(find(&set, "10.96.0.10", 81));
	assert_null(find(&set, "10.96.0.11", 70000 & 0xffff));
	assert_non_null(find(&set, "10.96.0.12", 90));
	assert_null(find(&set, "10.96.0.12", 9));
	sv = find(&set, "10.96.0.13", 443);
	assert_non_null(sv);
	assert_int_equal(sv->nodeport, 30443);
	assert_int_equal(sv->n_backends, 1);
	assert_int_equal(sv->backends[0].state, ZH_EP_READY);
	sv = find(&set, "192.0.2.7", 443);
	assert_non_null(sv);
	assert_int_equal(sv->nodeport, 0);
	assert_int_equal(sv->n_backends, 1);
	assert_non_null(find(&set, "198.51.100.1", 443));

	assert_int_equal(n.n, 4);
	/* Said as each Service is rendered, in name order. */
	assert_contains(n.text[0], "Service default/bad");
	assert_contains(n.text[0], "70000");
	assert_string_equal(n.reason[0], "invalid");
	assert_contains(n.text[1], "EndpointSlice default/broken");
	assert_string_equal(n.reason[1], "invalid");
	assert_contains(n.text[2], "SCTP is not supported");
	assert_contains(n.text[2], "default/mixed");
	assert_string_equal(n.reason[2], "unsupported");
	assert_contains(n.text[3],
			"10.96.0.10:80/tcp is Service default/good's already");
	assert_string_equal(n.reason[3], "conflict");
	zh_svc_set_free(&set);
	json_decref(s);
	json_decref(e);
}

/* Traffic policies Local: this node's endpoints only, where they apply. */
static void test_traffic_policies(void **state)
{
	static const char *const svcs[] = {
		"{\"metadata\":{\"namespace\":\"p\",\"name\":\"in\"},\"spec\":{\"clusterIP\":\"10.96.1.1\",\"internalTrafficPolicy\":\"Local\",\"externalIPs\":[\"192.0.2.1\"],\"ports\":[{\"port\":80}]}}",
		"{\"metadata\":{\"namespace\":\"p\",\"name\":\"ex\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.1.2\",\"externalTrafficPolicy\":\"Local\",\"ports\":[{\"port\":80,\"nodePort\":30002}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.51.100.2\"}]}}}",
		"{\"metadata\":{\"namespace\":\"p\",\"name\":\"np\"},\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.1.4\",\"internalTrafficPolicy\":\"Local\",\"ports\":[{\"port\":80,\"nodePort\":30004}]}}",
		"{\"metadata\":{\"namespace\":\"p\",\"name\":\"bad\"},\"spec\":{\"clusterIP\":\"10.96.1.3\",\"internalTrafficPolicy\":\"Nearby\",\"ports\":[{\"port\":80}]}}",
		NULL,
	};
#define EPS                                                                 \
	"[{\"addresses\":[\"10.1.1.1\",\"10.1.1.9\"],\"nodeName\":\"n1\"}," \
	"{\"addresses\":[\"10.1.2.1\"],\"nodeName\":\"n2\"},{\"addresses\":[\"10.1.3.1\"]}]"
	static const char *const slices[] = {
		SLICE("p", "in-1", "in", EPS),
		SLICE("p", "ex-1", "ex", EPS),
		SLICE("p", "np-1", "np", EPS),
		NULL,
	};
#undef EPS
	json_t *s = store(svcs), *e = store(slices);
	struct notes n = { .n = 0 };
	struct zh_svc_k8s_sync *sy = zh_svc_k8s_sync_new(note, &n);
	const struct zh_service *sv;
	struct zh_svc_set set;
	char buf[512];

	(void)state;
	assert_non_null(sy);
	zh_svc_k8s_sync_node(sy, "n1");
	assert_int_equal(zh_svc_k8s_sync_reset(sy, s, e), 0);
	assert_int_equal(zh_svc_k8s_sync_render(sy, s, e), 0);
	assert_int_equal(zh_svc_k8s_sync_all(sy, &set), 0);
	/* Internal Local: the cluster IP has n1's endpoint (its first
	 * address only); the external IP all of them. */
	assert_string_equal(
		svc_text(find(&set, "10.96.1.1", 80), buf, sizeof(buf)),
		"p/in 10.96.1.1:80/tcp np=0 aff=0: 10.1.1.1:8080/1");
	assert_string_equal(
		svc_text(find(&set, "192.0.2.1", 80), buf, sizeof(buf)),
		"p/in 192.0.2.1:80/tcp np=0 aff=0: 10.1.1.1:8080/1 10.1.2.1:8080/1 10.1.3.1:8080/1");
	/* External Local: the reverse; the node port has a table of its
	 * own, over this node's endpoint (np_weight). */
	sv = find(&set, "10.96.1.2", 80);
	assert_string_equal(
		svc_text(sv, buf, sizeof(buf)),
		"p/ex 10.96.1.2:80/tcp np=30002 aff=0: 10.1.1.1:8080/1 10.1.2.1:8080/1 10.1.3.1:8080/1");
	assert_true(sv->np_own);
	assert_int_equal(sv->backends[0].np_weight, 1);
	assert_int_equal(sv->backends[1].np_weight, 0);
	assert_int_equal(sv->backends[2].np_weight, 0);
	/* Internal Local, external Cluster: the cluster IP's table is the
	 * local endpoint's (weight), the node port's all of them. */
	sv = find(&set, "10.96.1.4", 80);
	assert_true(sv->np_own);
	assert_int_equal(sv->n_backends, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(sv->backends[i].weight, i == 0);
		assert_int_equal(sv->backends[i].np_weight, 1);
		assert_int_equal(sv->backends[i].state, ZH_EP_READY);
	}
	/* Internal Local without a node port: nothing of the sort. */
	assert_false(find(&set, "10.96.1.1", 80)->np_own);
	assert_string_equal(
		svc_text(find(&set, "198.51.100.2", 80), buf, sizeof(buf)),
		"p/ex 198.51.100.2:80/tcp np=0 aff=0: 10.1.1.1:8080/1");
	assert_int_equal(n.n, 1);
	assert_contains(n.text[0], "internalTrafficPolicy");
	assert_contains(n.text[0], "Cluster or Local");
	zh_svc_set_free(&set);
	zh_svc_k8s_sync_free(sy);

	/* Without a node (a file), every endpoint. */
	n.n = 0;
	assert_int_equal(zh_svc_k8s_render(s, e, &set, note, &n), 0);
	assert_int_equal(find(&set, "10.96.1.1", 80)->n_backends, 3);
	assert_int_equal(find(&set, "198.51.100.2", 80)->n_backends, 3);
	zh_svc_set_free(&set);
	json_decref(s);
	json_decref(e);
}

/* --- kept between batches: the same as rendering everything -------------- */

static void quiet(void *arg, const char *kind, const char *key,
		  const char *reason, const char *msg)
{
	int *n = arg;

	(void)kind, (void)key, (void)reason, (void)msg;
	(*n)++;
}

#define N_SVCS 6

/* A random Service s<i>: a VIP, ports and a node port from small pools,
 * so that they clash often; now and then an invalid one. */
static json_t *rand_service(int i)
{
	char text[512];
	unsigned int vip = 1 + (unsigned int)(rng_next() % 4);
	unsigned int np = (unsigned int)(rng_next() % 3);
	unsigned int port = rng_next() % 8 ?
				    80 + (unsigned int)(rng_next() % 2) :
				    0; /* 0: invalid */

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"s%d\"},"
		 "\"spec\":{\"type\":\"%s\",\"clusterIP\":\"10.96.0.%u\","
		 "\"ports\":[{\"name\":\"p\",\"port\":%u%s}]}}",
		 i % 2 ? "a" : "b", i, np ? "NodePort" : "ClusterIP", vip, port,
		 np == 1 ? ",\"nodePort\":30001" :
		 np == 2 ? ",\"nodePort\":30002" :
			   "");
	return json_loads(text, 0, NULL);
}

/* A random EndpointSlice s<i>-<j> of Service s<i>; now and then invalid. */
static json_t *rand_slice(int i, int j)
{
	char text[1024], eps[512] = "";
	size_t off = 0;
	int n = (int)(rng_next() % 3);

	for (int e = 0; e < n; e++)
		off += (size_t)snprintf(
			eps + off, sizeof(eps) - off,
			"%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":%s,\"serving\":true,\"terminating\":%s}}",
			e ? "," : "",
			rng_next() % 10 ? (e ? "10.1.0.2" : "10.1.0.1") :
					  "fd00::1",
			rng_next() % 2 ? "true" : "false",
			rng_next() % 2 ? "true" : "false");
	snprintf(
		text, sizeof(text),
		"{\"metadata\":{\"namespace\":\"%s\",\"name\":\"s%d-%d\","
		"\"labels\":{\"kubernetes.io/service-name\":\"s%d\"}},"
		"\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"p\",\"port\":%d}],"
		"\"endpoints\":[%s]}",
		i % 2 ? "a" : "b", i, j, i, 8080 + j, eps);
	return json_loads(text, 0, NULL);
}

/* @set as "key -> text", to compare two sets whatever their order. */
static json_t *as_map(const struct zh_svc_set *set)
{
	json_t *m = json_object();
	char a[64], buf[1024];

	for (size_t i = 0; i < set->n; i++)
		json_object_set_new(
			m,
			zh_svc_addr_str(&set->svcs[i].vip, set->svcs[i].port,
					set->svcs[i].proto, a, sizeof(a)),
			json_string(svc_text(&set->svcs[i], buf, sizeof(buf))));
	return m;
}

static void test_sync_matches_full_render(void **state)
{
	json_t *svcs = json_object(), *slices = json_object(), *maps, *want;
	struct zh_svc_k8s_sync *s;
	struct zh_svc_set put, all;
	struct zh_service *del;
	int notes = 0, batches = 0, dels = 0;
	char key[64];
	size_t n_del;

	(void)state;
	rng_seed(42);
	s = zh_svc_k8s_sync_new(quiet, &notes);
	assert_non_null(s);
	maps = json_object(); /* what the datapath would hold */
	for (int step = 0; step < 3000; step++) {
		int i = (int)(rng_next() % N_SVCS), op = (int)(rng_next() % 10);

		if (op < 3) { /* a Service added, changed or deleted */
			snprintf(key, sizeof(key), "%s/s%d", i % 2 ? "a" : "b",
				 i);
			if (op == 0)
				json_object_del(svcs, key);
			else
				json_object_set_new(svcs, key, rand_service(i));
			assert_int_equal(zh_svc_k8s_sync_service(s, key), 0);
		} else if (op < 9) { /* one of its slices */
			int j = (int)(rng_next() % 2);
			json_t *old, *new = op == 3 ? NULL : rand_slice(i, j);

			snprintf(key, sizeof(key), "%s/s%d-%d",
				 i % 2 ? "a" : "b", i, j);
			old = json_incref(json_object_get(slices, key));
			if (new)
				json_object_set(slices, key, new);
			else
				json_object_del(slices, key);
			assert_int_equal(
				zh_svc_k8s_sync_slice(s, key, old, new), 0);
			json_decref(old);
			json_decref(new);
		} else if (rng_next() % 4 == 0) { /* a relist */
			assert_int_equal(zh_svc_k8s_sync_reset(s, svcs, slices),
					 0);
		}
		if (rng_next() % 3)
			continue;
		/* A batch: render, take, apply to the model. */
		batches++;
		assert_int_equal(zh_svc_k8s_sync_render(s, svcs, slices), 0);
		assert_int_equal(zh_svc_k8s_sync_take(s, &put, &del, &n_del),
				 0);
		for (size_t d = 0; d < n_del; d++) {
			char a[64];
			const char *k =
				zh_svc_addr_str(&del[d].vip, del[d].port,
						del[d].proto, a, sizeof(a));

			/* Only what the maps hold is deleted. */
			assert_non_null(json_object_get(maps, k));
			json_object_del(maps, k);
			dels++;
		}
		json_object_update(maps, want = as_map(&put));
		json_decref(want);
		zh_svc_set_free(&put);
		free(del);

		assert_int_equal(zh_svc_k8s_render(svcs, slices, &all, quiet,
						   &notes),
				 0);
		want = as_map(&all);
		if (!json_equal(maps, want)) {
			char *g = json_dumps(maps,
					     JSON_INDENT(1) | JSON_SORT_KEYS);
			char *w = json_dumps(want,
					     JSON_INDENT(1) | JSON_SORT_KEYS);

			fail_msg("step %d: incremental\n%s\nfull render\n%s",
				 step, g, w);
		}
		json_decref(want);
		zh_svc_set_free(&all);
	}
	/* The walk went through what matters. */
	assert_true(batches > 500);
	assert_true(dels > 50);
	assert_true(notes > 100);
	zh_svc_k8s_sync_free(s);
	json_decref(maps);
	json_decref(svcs);
	json_decref(slices);
}

/*
 * Kept between batches, as zerohopd's kube.c wires the stores to it: each
 * change told before the store takes it.
 */
static void sync_svc(void *arg, const char *key, const json_t *old,
		     const json_t *new)
{
	(void)old, (void)new;
	assert_int_equal(zh_svc_k8s_sync_service(arg, key), 0);
}

static void sync_slice(void *arg, const char *key, const json_t *old,
		       const json_t *new)
{
	assert_int_equal(zh_svc_k8s_sync_slice(arg, key, old, new), 0);
}

/*
 * Objects without metadata.namespace are in "default", through the watch
 * as in a services file: a Service meets its EndpointSlices whichever of
 * them says "default" and whichever leaves it out. (fuzz_svc_file found
 * such a Service served from the watch stores without backends: its key
 * had no namespace, its slices were filed under "default/".)
 */
#define NONS_SVC(name, ns, ip)                                              \
	"{\"kind\":\"Service\",\"metadata\":{" ns "\"name\":\"" name "\"}," \
	"\"spec\":{\"clusterIP\":\"" ip "\",\"ports\":[{\"port\":80}]}}"
#define NONS_SLICE(name, ns, svc, ip)                                      \
	"{\"kind\":\"EndpointSlice\",\"metadata\":{" ns "\"name\":\"" name \
	"\",\"labels\":{\"kubernetes.io/service-name\":\"" svc "\"}},"     \
	"\"addressType\":\"IPv4\",\"ports\":[{\"port\":8080}],"            \
	"\"endpoints\":[{\"addresses\":[\"" ip "\"]}]}"
#define DEFAULT_NS "\"namespace\":\"default\","

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct zh_service *)a)->name,
		      ((const struct zh_service *)b)->name);
}

static void test_no_namespace_is_default(void **state)
{
	static const char *const objs[] = {
		NONS_SVC("web", "", "10.96.0.10"),
		NONS_SLICE("web-1", "", "web", "10.1.0.1"),
		NONS_SVC("api", DEFAULT_NS, "10.96.0.11"),
		NONS_SLICE("api-1", "", "api", "10.1.0.2"),
		NONS_SVC("db", "", "10.96.0.12"),
		NONS_SLICE("db-1", DEFAULT_NS, "db", "10.1.0.3"),
	};
	/* In name order. */
	static const char *const want[] = {
		"default/api 10.96.0.11:80/tcp np=0 aff=0: 10.1.0.2:8080/1",
		"default/db 10.96.0.12:80/tcp np=0 aff=0: 10.1.0.3:8080/1",
		"default/web 10.96.0.10:80/tcp np=0 aff=0: 10.1.0.1:8080/1",
	};
	int notes = 0;
	struct zh_svc_k8s_sync *sync = zh_svc_k8s_sync_new(quiet, &notes);
	struct zh_k8s_res svcs = res(), slices = res();
	struct zh_svc_set set, file;
	char list[4096], ev[1024], err[256];
	size_t off;

	(void)state;
	assert_non_null(sync);
	slices.kind = "EndpointSlice";
	svcs.on_change = sync_svc;
	slices.on_change = sync_slice;
	svcs.cb_arg = slices.cb_arg = sync;
	off = (size_t)snprintf(list, sizeof(list),
			       "{\"kind\":\"List\",\"items\":[");
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		struct zh_k8s_res *r = i % 2 ? &slices : &svcs;

		snprintf(ev, sizeof(ev), EV("ADDED", "%s"), objs[i]);
		assert_int_equal(zh_k8s_res_feed(r, ev, strlen(ev), err,
						 sizeof(err)),
				 1);
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
					i ? "," : "", objs[i]);
	}
	snprintf(list + off, sizeof(list) - off, "]}");

	assert_int_equal(zh_svc_k8s_sync_render(sync, svcs.store, slices.store),
			 0);
	assert_int_equal(zh_svc_k8s_sync_all(sync, &set), 0);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
	/* A render from scratch, and the services file, agree. */
	assert_int_equal(zh_svc_k8s_render(svcs.store, slices.store, &set,
					   quiet, &notes),
			 0);
	expect_set(&set, want, ARRAY_SIZE(want));
	assert_int_equal(
		zh_svc_parse(list, strlen(list), &file, err, sizeof(err)), 0);
	qsort(file.svcs, file.n, sizeof(*file.svcs), by_name);
	expect_set(&file, want, ARRAY_SIZE(want));
	zh_svc_set_free(&file);
	zh_svc_set_free(&set);
	zh_svc_k8s_sync_free(sync);
	zh_k8s_res_free(&svcs);
	zh_k8s_res_free(&slices);
	assert_int_equal(notes, 0);
}

/*
 * A Service whose own ports share a VIP, port and protocol, or a node
 * port, is invalid, as in a services file: left out and said, the others
 * served. (fuzz_k8s_watch found two ports {"port": 53} rendered as two
 * services with one datapath key: the maps, written one key at a time,
 * held one of them, and a whole apply, which refuses such a set, would
 * have failed for every Service.)
 */
static void test_service_clashing_with_itself(void **state)
{
	static const char *const svcs[] = {
		SVC("default", "good", "1", "10.96.0.10", 80),
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"twice\"},\"spec\":{\"clusterIP\":\"10.96.0.53\",\"ports\":[{\"name\":\"a\",\"port\":53},{\"name\":\"b\",\"port\":53}]}}",
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"np\"},\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.54\",\"ports\":[{\"name\":\"a\",\"port\":80,\"nodePort\":30080},{\"name\":\"b\",\"port\":81,\"nodePort\":30080}]}}",
		NULL,
	};
	static const char *const want[] = {
		"default/good 10.96.0.10:80/tcp np=0 aff=0:",
	};
	json_t *s = store(svcs), *e = json_object();
	struct zh_svc_k8s_sync *sync;
	struct notes n = { .n = 0 };
	struct zh_svc_set set;
	const char *key;
	json_t *v;

	(void)state;
	assert_int_equal(zh_svc_k8s_render(s, e, &set, note, &n), 0);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
	assert_int_equal(n.n, 2);
	assert_contains(n.text[0], "Service default/np");
	assert_contains(n.text[0], "nodePort 30080/tcp is also");
	assert_string_equal(n.reason[0], "invalid");
	assert_contains(n.text[1], "Service default/twice");
	assert_contains(n.text[1], "10.96.0.53:53/tcp is also");

	/* Kept between batches: the same. */
	sync = zh_svc_k8s_sync_new(note, &n);
	assert_non_null(sync);
	json_object_foreach (s, key, v)
		assert_int_equal(zh_svc_k8s_sync_service(sync, key), 0);
	assert_int_equal(zh_svc_k8s_sync_render(sync, s, e), 0);
	assert_int_equal(zh_svc_k8s_sync_all(sync, &set), 0);
	expect_set(&set, want, ARRAY_SIZE(want));
	zh_svc_set_free(&set);
	zh_svc_k8s_sync_free(sync);
	json_decref(s);
	json_decref(e);
}

/*
 * Only CIDRs become ranges: not "+24", " 24" or "024" either, which
 * strtol() took and host-local refuses on every ADD (found with
 * fuzz_k8s_watch's check that the conflist's subnets are CIDRs).
 */
static void test_conflist(void **state)
{
	json_t *cidrs = json_loads(
		"[\"10.244.1.0/24\", \"fd00:10:244:1::/64\", \"junk\", \"10.0.0.0/33\", 7,"
		" \"10.244.2.0/+24\", \"10.244.3.0/ 24\", \"10.244.4.0/024\", \"10.244.5.0/\"]",
		0, NULL);
	json_t *none = json_loads("[\"x/8\"]", 0, NULL), *doc, *afxdp;
	char *text;

	(void)state;
	afxdp = json_loads("{\"steer\":[{\"proto\":\"udp\",\"port\":9000}]}", 0,
			   NULL);
	text = zh_k8s_conflist(cidrs, "xdp", 1400, afxdp);
	assert_non_null(text);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(
		json_array_size(json_object_get(
			json_object_get(
				json_array_get(json_object_get(doc, "plugins"),
					       0),
				"ipam"),
			"ranges")),
		2);
	assert_contains(text, "\"subnet\": \"10.244.1.0/24\"");
	assert_contains(text, "\"subnet\": \"fd00:10:244:1::/64\"");
	assert_contains(text, "\"datapath\": \"xdp\"");
	assert_contains(text, "\"mtu\": 1400");
	assert_contains(text, "\"type\": \"portmap\"");
	assert_true(json_equal(
		json_object_get(json_array_get(json_object_get(doc, "plugins"),
					       0),
				"afxdp"),
		afxdp));
	json_decref(afxdp);
	json_decref(doc);
	free(text);
	assert_null(zh_k8s_conflist(none, "tc", 0, NULL));
	assert_null(zh_k8s_conflist(NULL, "tc", 0, NULL));
	json_decref(cidrs);
	json_decref(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed_split_anywhere),
		cmocka_unit_test(test_feed_errors),
		cmocka_unit_test(test_pages_replace_store),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_kubeconfig),
		cmocka_unit_test(test_kubeconfig_aliases),
		cmocka_unit_test(test_incluster),
		cmocka_unit_test(test_render_skips_bad_objects),
		cmocka_unit_test(test_sync_matches_full_render),
		cmocka_unit_test(test_no_namespace_is_default),
		cmocka_unit_test(test_service_clashing_with_itself),
		cmocka_unit_test(test_traffic_policies),
		cmocka_unit_test(test_conflist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
